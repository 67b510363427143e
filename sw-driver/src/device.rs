//! A Tessera chip behind a [`Transport`]: discovery, reset, errors, interrupts and performance
//! counters. Every register access goes through the generated register layer `tessera-regs`;
//! this module holds no register offset or bit position.

use std::cell::RefCell;

use num_traits::NumCast;
use tessera_regs::peakrdl_rust::io::RawRegisterIO;
use tessera_regs::peakrdl_rust::reg::RegInt;
use tessera_regs::tessera_regs::{id, version};
use tessera_regs::TesseraRegs;

use crate::config::ChipConfig;
use crate::error::{Error, Result};
use crate::program::{Descriptor, ErrorCode};
use crate::transport::Transport;

/// The programming-interface version this driver was generated against (the reset value of
/// `VERSION` in the register description): `(major, minor)`. A chip is supported when its major
/// version matches and, while the major version is 0, its minor version too.
pub fn supported_version() -> (u8, u8) {
    let v = version::Version::default();
    (v.major(), v.minor())
}

/// The `VERSION` register word of a chip of the [`supported_version`] (patch 0): what a
/// simulated or fake chip reports.
pub fn supported_version_word() -> u32 {
    let (major, minor) = supported_version();
    (major as u32) << 16 | (minor as u32) << 8
}

/// Whether a chip reporting `v` speaks the interface of [`supported_version`].
pub fn version_supported(v: &Version) -> bool {
    let (major, minor) = supported_version();
    v.major == major && (major != 0 || v.minor == minor)
}

/// Cycle budget for one descriptor's stream transfer or completion, beyond its own length.
pub const DEFAULT_TIMEOUT_CYCLES: u64 = 20_000_000;

/// The register layer on a [`Transport`]: the block sits at base 0, so the pointer the generated
/// accessors hand over is the register offset.
struct Bus<'a> {
    t: RefCell<&'a mut dyn Transport>,
}

impl RawRegisterIO for Bus<'_> {
    type Error = Error;

    unsafe fn try_read<T: RegInt>(&self, ptr: *const T) -> Result<T> {
        let v = self.t.borrow_mut().reg_read(ptr as usize as u32)?;
        <T as NumCast>::from(v).ok_or_else(|| Error::Sim("register wider than 32 bits".into()))
    }

    unsafe fn try_write<T: RegInt>(&self, ptr: *mut T, value: T) -> Result<()> {
        let v = num_traits::ToPrimitive::to_u32(&value)
            .ok_or_else(|| Error::Sim("register wider than 32 bits".into()))?;
        self.t.borrow_mut().reg_write(ptr as usize as u32, v)
    }
}

/// Version of the programming interface (`VERSION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
}

/// The ECC registers (`ECC_CORRECTED`, `ECC_FAIL`, `ECC_FAIL_ADDR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccStatus {
    /// Single-bit errors corrected (saturating).
    pub corrected: u32,
    /// The first double-bit (uncorrectable) error since power-on (a soft reset keeps it).
    pub first_double: Option<EccFail>,
}

/// Where a double-bit error was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccFail {
    pub memory: EccMemory,
    /// Word address in that memory.
    pub addr: u32,
}

/// A memory with ECC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EccMemory {
    /// A tile's weight memory.
    Weights { tile: u16 },
    /// The token engine's data memory.
    Dmem,
}

/// `STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub busy: bool,
    pub error: bool,
    pub done_count: u16,
}

/// The 64-bit performance counters (a snapshot, `PERF_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerfCounters {
    pub cycles: u64,
    /// Sum over tiles of MAC-busy cycles.
    pub mac_busy: u64,
    /// Cycles waiting for an input beat or `CMD_FIFO` word in the middle of a descriptor.
    pub stall_input: u64,
    /// Cycles with output valid and not ready.
    pub stall_output: u64,
    /// Cycles idle without a descriptor.
    pub stall_cmd: u64,
}

impl PerfCounters {
    /// `self − earlier`, counter by counter.
    pub fn since(&self, earlier: &PerfCounters) -> PerfCounters {
        PerfCounters {
            cycles: self.cycles.wrapping_sub(earlier.cycles),
            mac_busy: self.mac_busy.wrapping_sub(earlier.mac_busy),
            stall_input: self.stall_input.wrapping_sub(earlier.stall_input),
            stall_output: self.stall_output.wrapping_sub(earlier.stall_output),
            stall_cmd: self.stall_cmd.wrapping_sub(earlier.stall_cmd),
        }
    }
}

/// A discovered chip.
pub struct Device<T: Transport> {
    t: T,
    cfg: ChipConfig,
    version: Version,
    /// Cycle budget for waits.
    pub timeout_cycles: u64,
    sent: u32,
}

/// Reads `ID`, `VERSION` and the `CFG_*` registers; refuses anything but a Tessera chip of a
/// supported version and a configuration the driver can drive.
pub fn discover(t: &mut dyn Transport) -> Result<(Version, ChipConfig)> {
    let bus = Bus { t: RefCell::new(t) };
    // SAFETY: the generated accessors only form pointers (offsets from base 0) that the bus
    // turns into transport accesses; nothing is dereferenced.
    let regs = unsafe { TesseraRegs::from_ptr_with(core::ptr::null_mut(), &bus) };
    let expected = id::Id::default().magic();
    let found = regs.id().try_read()?.magic();
    if found != expected {
        return Err(Error::BadId { found, expected });
    }
    let v = regs.version().try_read()?;
    let version = Version {
        major: v.major(),
        minor: v.minor(),
        patch: v.patch(),
    };
    if !version_supported(&version) {
        return Err(Error::UnsupportedVersion {
            found: (version.major, version.minor, version.patch),
            supported: supported_version(),
        });
    }
    let grid = regs.cfg_grid().try_read()?;
    let tile = regs.cfg_tile().try_read()?;
    let cfg = ChipConfig {
        name: "chip".into(),
        grid_rows: grid.rows() as usize,
        grid_cols: grid.cols() as usize,
        lanes: tile.lanes() as usize,
        kwidth: tile.k_width() as usize,
        weight_words: regs.cfg_weight_words().try_read()?.words() as usize,
        act_words: regs.cfg_act_words().try_read()?.chunks() as usize,
        abuf_words: regs.cfg_abuf_words().try_read()?.chunks() as usize,
        rbuf_words: regs.cfg_rbuf_words().try_read()?.words() as usize,
        stream_width: regs.cfg_stream().try_read()?.bits() as usize,
        vmem_words: 0,
        dmem_words: 0,
        prog_instrs: 0,
        context: 0,
        head_dim_max: 0,
        fp_stages: 0,
    };
    // The registers do not report the token engine's sizes: take them from the named
    // configuration whose nine reported parameters match, else from `tiny`'s.
    let engine = match cfg.named_match() {
        Some(named) => named,
        None => ChipConfig::named("tiny")?,
    };
    let cfg = cfg.with_engine_of(&engine);
    cfg.check()?;
    Ok((version, cfg))
}

impl<T: Transport> Device<T> {
    /// Discovers the chip behind `t` ([`discover`]).
    pub fn open(mut t: T) -> Result<Device<T>> {
        let (version, cfg) = discover(&mut t)?;
        if cfg.stream_width != t.stream_width() {
            return Err(Error::UnsupportedConfig(format!(
                "chip streams are {} bits wide, the transport's {}",
                cfg.stream_width,
                t.stream_width()
            )));
        }
        Ok(Device {
            t,
            cfg,
            version,
            timeout_cycles: DEFAULT_TIMEOUT_CYCLES,
            sent: 0,
        })
    }

    /// Like [`Device::open`], and refuses a chip whose build configuration differs from
    /// `expected` (its name is kept).
    pub fn open_expecting(t: T, expected: &ChipConfig) -> Result<Device<T>> {
        let mut d = Self::open(t)?;
        let mut found = d.cfg.clone();
        found.name = expected.name.clone();
        if &found != expected {
            return Err(Error::UnsupportedConfig(format!(
                "the chip reports {found:?}, expected configuration `{}`: {expected:?}",
                expected.name
            )));
        }
        d.cfg = found;
        Ok(d)
    }

    pub fn config(&self) -> &ChipConfig {
        &self.cfg
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }

    pub fn into_transport(self) -> T {
        self.t
    }

    fn regs<R>(&mut self, f: impl FnOnce(&TesseraRegs<'_, Bus<'_>>) -> Result<R>) -> Result<R> {
        let bus = Bus {
            t: RefCell::new(&mut self.t),
        };
        // SAFETY: as in `discover`.
        let regs = unsafe { TesseraRegs::from_ptr_with(core::ptr::null_mut(), &bus) };
        f(&regs)
    }

    /// `STATUS`.
    pub fn status(&mut self) -> Result<Status> {
        self.regs(|r| {
            let s = r.status().try_read()?;
            Ok(Status {
                busy: s.busy(),
                error: s.error(),
                done_count: s.done_count(),
            })
        })
    }

    /// The ECC registers: single-bit errors corrected since power-on, and where the
    /// first double-bit error was found.
    pub fn ecc(&mut self) -> Result<EccStatus> {
        self.regs(|r| {
            let corrected = r.ecc_corrected().try_read()?.count();
            let f = r.ecc_fail().try_read()?;
            let addr = r.ecc_fail_addr().try_read()?.addr();
            let first_double = f.valid().then(|| EccFail {
                memory: if f.dmem() {
                    EccMemory::Dmem
                } else {
                    EccMemory::Weights { tile: f.tile() }
                },
                addr,
            });
            Ok(EccStatus {
                corrected,
                first_double,
            })
        })
    }

    /// `CFG_WEIGHT_ROM` and `WEIGHT_ROM_DIGEST`: `Some(digest)` when the chip's weights are in
    /// ROM (docs/architecture.md, "Weights in ROM"), `None` when they are loaded.
    pub fn weight_rom(&mut self) -> Result<Option<u32>> {
        self.regs(|r| {
            if !r.cfg_weight_rom().try_read()?.rom() {
                return Ok(None);
            }
            Ok(Some(r.weight_rom_digest().try_read()?.value()))
        })
    }

    /// `ERROR`: the code and the index of the failing descriptor.
    pub fn error(&mut self) -> Result<(ErrorCode, u32)> {
        self.regs(|r| {
            let e = r.error().try_read()?;
            Ok((ErrorCode::from_u8(e.code()), e.descriptor()))
        })
    }

    /// `Err(Error::Device)` when the chip has stopped on an error.
    pub fn check(&mut self) -> Result<()> {
        if self.status()?.error {
            let (code, descriptor) = self.error()?;
            return Err(Error::Device { code, descriptor });
        }
        Ok(())
    }

    /// `SCRATCH` read and write.
    pub fn scratch(&mut self) -> Result<u32> {
        self.regs(|r| Ok(r.scratch().try_read()?.value()))
    }

    pub fn set_scratch(&mut self, v: u32) -> Result<()> {
        self.regs(|r| r.scratch().try_write(|s| s.set_value(v)))
    }

    /// `CTRL.soft_reset`: clears the error, queues, networks and counters; weights and buffers
    /// keep their contents.
    pub fn soft_reset(&mut self) -> Result<()> {
        self.regs(|r| r.ctrl().try_write(|c| c.set_soft_reset(true)))?;
        self.sent = 0;
        self.t.idle(4)
    }

    /// Enables the interrupt sources.
    pub fn enable_interrupts(&mut self, done: bool, error: bool) -> Result<()> {
        self.regs(|r| {
            r.intr_enable().try_write(|e| {
                e.set_done(done);
                e.set_error(error);
            })
        })
    }

    /// `INTR_STATUS` as (done, error).
    pub fn interrupts(&mut self) -> Result<(bool, bool)> {
        self.regs(|r| {
            let s = r.intr_status().try_read()?;
            Ok((s.done(), s.error()))
        })
    }

    /// Clears both interrupt sources (write-1-to-clear, so a plain write).
    pub fn clear_interrupts(&mut self) -> Result<()> {
        self.regs(|r| {
            r.intr_status().try_write(|s| {
                s.set_done(true);
                s.set_error(true);
            })
        })
    }

    /// Pushes one word into `CMD_FIFO`.
    pub fn cmd_fifo_push(&mut self, word: u32) -> Result<()> {
        self.regs(|r| r.cmd_fifo().try_write(|c| c.set_word(word)))
    }

    /// `CTRL.start`: runs the descriptors queued in `CMD_FIFO`.
    pub fn start(&mut self) -> Result<()> {
        self.regs(|r| r.ctrl().try_write(|c| c.set_start(true)))
    }

    /// `CTRL.snapshot` and the 64-bit counters it copied.
    pub fn perf_snapshot(&mut self) -> Result<PerfCounters> {
        self.regs(|r| r.ctrl().try_write(|c| c.set_snapshot(true)))?;
        self.perf()
    }

    /// The counters of the last snapshot (`CTRL.snapshot` or PERF_SNAPSHOT).
    pub fn perf(&mut self) -> Result<PerfCounters> {
        self.regs(|r| {
            let w = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
            Ok(PerfCounters {
                cycles: w(
                    r.perf_cycles_lo().try_read()?.value(),
                    r.perf_cycles_hi().try_read()?.value(),
                ),
                mac_busy: w(
                    r.perf_mac_busy_lo().try_read()?.value(),
                    r.perf_mac_busy_hi().try_read()?.value(),
                ),
                stall_input: w(
                    r.perf_stall_input_lo().try_read()?.value(),
                    r.perf_stall_input_hi().try_read()?.value(),
                ),
                stall_output: w(
                    r.perf_stall_output_lo().try_read()?.value(),
                    r.perf_stall_output_hi().try_read()?.value(),
                ),
                stall_cmd: w(
                    r.perf_stall_cmd_lo().try_read()?.value(),
                    r.perf_stall_cmd_hi().try_read()?.value(),
                ),
            })
        })
    }

    /// Sends descriptors on the command stream, each as one packet with `tlast` on its last
    /// beat.
    pub fn send(&mut self, descriptors: &[Descriptor]) -> Result<()> {
        for d in descriptors {
            let p = d.packet(&self.cfg);
            let budget = self.timeout_cycles + p.len() as u64;
            self.t.stream_send(&p, true, budget)?;
            self.sent = self.sent.wrapping_add(1);
        }
        Ok(())
    }

    /// Reads `words` result words at RBUF word `addr` (VBUF_READ), checking the output framing.
    pub fn read_results(&mut self, addr: u32, words: u32) -> Result<Vec<i32>> {
        let d = Descriptor::vbuf_read(addr, words);
        let beats = d.output_beats(&self.cfg);
        self.send(std::slice::from_ref(&d))?;
        let rx = match self.t.stream_recv(beats, self.timeout_cycles) {
            Ok(rx) => rx,
            Err(e @ Error::Timeout { .. }) => {
                self.check()?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        for (i, &l) in rx.last.iter().enumerate() {
            if l != (i + 1 == beats) {
                return Err(Error::Sim(format!(
                    "VBUF_READ framing: tlast {l} on beat {i} of {beats}"
                )));
            }
        }
        Ok(rx.words.into_iter().map(|w| w as i32).collect())
    }

    /// Discards output beats already waiting (after a fault); returns how many.
    pub fn drain_output(&mut self) -> Result<usize> {
        let mut n = 0;
        while n < (1 << 24) {
            match self.t.stream_recv(1, 0) {
                Ok(rx) if !rx.last.is_empty() => n += 1,
                Ok(_) | Err(Error::Timeout { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// FENCE and wait for its interrupt; a device error is returned as [`Error::Device`].
    pub fn fence(&mut self) -> Result<()> {
        self.clear_interrupts()?;
        self.enable_interrupts(true, true)?;
        self.send(&[Descriptor::fence()])?;
        let fired = self.t.wait_irq(self.timeout_cycles)?;
        let (done, error) = self.interrupts()?;
        if error || self.status()?.error {
            let (code, descriptor) = self.error()?;
            return Err(Error::Device { code, descriptor });
        }
        if !fired || !done {
            return Err(Error::Timeout {
                what: "FENCE did not complete".into(),
                cycles: self.timeout_cycles,
            });
        }
        self.clear_interrupts()
    }

    /// Waits until `STATUS.busy` clears (polling), then checks for an error.
    pub fn wait_idle(&mut self) -> Result<()> {
        let mut waited = 0u64;
        loop {
            let s = self.status()?;
            if s.error {
                return self.check();
            }
            if !s.busy {
                return Ok(());
            }
            if waited > self.timeout_cycles {
                return Err(Error::Timeout {
                    what: "STATUS.busy stayed set".into(),
                    cycles: waited,
                });
            }
            self.t.idle(64)?;
            waited += 64;
        }
    }

    /// Front-door weight load: WEIGHT_LOAD of tiles `first ..= last` at `base`, `words` words
    /// per tile, `data` the tiles' words in order.
    pub fn weight_load(
        &mut self,
        first: u32,
        last: u32,
        base: u32,
        words: u32,
        data: &[u8],
    ) -> Result<()> {
        let d = Descriptor::weight_load(first, last, base, words, data);
        let p = d.packet(&self.cfg);
        let budget = self.timeout_cycles + p.len() as u64;
        self.t.stream_send(&p, true, budget)?;
        self.sent = self.sent.wrapping_add(1);
        Ok(())
    }

    /// Descriptors sent on the stream since the last soft reset (the index `ERROR.descriptor`
    /// counts in, when nothing else fed the chip since its reset).
    pub fn descriptors_sent(&self) -> u32 {
        self.sent
    }
}
