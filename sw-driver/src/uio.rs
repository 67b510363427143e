//! Linux UIO transport for boards: the register window and a DMA buffer mapped from
//! `/dev/uioN`, the interrupt through the UIO file.
//!
//! - Map 0 is the AXI4-Lite register window of `tessera_top` (512 bytes used).
//! - Map 1 is a DMA buffer shared with the FPGA shell's stream DMA engine (an AXI DMA or
//!   a PCIe DMA IP in streaming mode). Its first 64 bytes are a control block of
//!   little-endian 32-bit words; the layout ([`dma`]) is documented in `docs/driver.md`:
//!
//! | offset | name | written by | meaning |
//! | ------ | ---- | ---------- | ------- |
//! | 0x00 | `MAGIC` | shell | `0x414d4454` ("TDMA") |
//! | 0x04 | `TX_OFFSET` | shell | byte offset of the TX area (host → chip beats) |
//! | 0x08 | `TX_SIZE` | shell | its size in bytes |
//! | 0x0c | `RX_OFFSET` | shell | byte offset of the RX area (chip → host beats) |
//! | 0x10 | `RX_SIZE` | shell | its size in bytes |
//! | 0x14 | `TX_LEN` | host | bytes to send from the TX area (whole beats) |
//! | 0x18 | `TX_FLAGS` | host | bit 0: `tlast` on the last beat |
//! | 0x1c | `TX_SEQ` | host | incremented to start a send |
//! | 0x20 | `TX_DONE` | shell | set to `TX_SEQ` once the chip took every beat |
//! | 0x24 | `RX_LEN` | host | bytes to receive into the RX area (whole beats) |
//! | 0x28 | `RX_SEQ` | host | incremented to start a receive |
//! | 0x2c | `RX_DONE` | shell | set to `RX_SEQ` once `RX_LEN` bytes are in the RX area |
//! | 0x30 | `RX_LAST` | shell | 1 + index of the first received beat with `tlast`, 0 if none |
//!
//! A send larger than the TX area goes in pieces, `tlast` only with the last piece. Timeouts in
//! cycles become wall-clock time at [`UioTransport::clock_hz`]. The interrupt is UIO's: write
//! 1 to the file to unmask, `poll` and read the 4-byte event count to wait. A bus error on a
//! board is a SIGBUS rather than a response the CPU sees, so register accesses fail only
//! outside the window. The logic runs against any [`MemMap`], so it is tested on memory.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::transport::{Received, Transport};

/// Word offsets of the DMA control block, in bytes.
pub mod dma {
    pub const MAGIC: usize = 0x00;
    pub const TX_OFFSET: usize = 0x04;
    pub const TX_SIZE: usize = 0x08;
    pub const RX_OFFSET: usize = 0x0c;
    pub const RX_SIZE: usize = 0x10;
    pub const TX_LEN: usize = 0x14;
    pub const TX_FLAGS: usize = 0x18;
    pub const TX_SEQ: usize = 0x1c;
    pub const TX_DONE: usize = 0x20;
    pub const RX_LEN: usize = 0x24;
    pub const RX_SEQ: usize = 0x28;
    pub const RX_DONE: usize = 0x2c;
    pub const RX_LAST: usize = 0x30;
    /// Size of the control block.
    pub const CONTROL_BYTES: usize = 0x40;
    /// `MAGIC` value: "TDMA".
    pub const MAGIC_VALUE: u32 = 0x414d_4454;
}

/// Bytes of the register window of `tessera_top` (`s_axil_*addr` is 9 bits).
pub const REG_WINDOW: usize = 512;

/// A region of 32-bit words: an mmap of a UIO map, or memory in tests.
pub trait MemMap {
    /// Size in bytes.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads the word at byte offset `off` (4-aligned, inside the region).
    fn read32(&mut self, off: usize) -> u32;
    fn write32(&mut self, off: usize, value: u32);
}

/// An mmap of one UIO map.
pub struct UioMap {
    map: memmap2::MmapRaw,
}

impl UioMap {
    /// Maps map `index` of `/dev/uioN` (`uio` = `uioN`), its size from sysfs.
    pub fn open(uio: &str, index: usize) -> Result<UioMap> {
        let size_path = format!("/sys/class/uio/{uio}/maps/map{index}/size");
        let size = std::fs::read_to_string(&size_path)
            .map_err(|e| Error::io(format!("read {size_path}"), e))?;
        let size = usize::from_str_radix(size.trim().trim_start_matches("0x"), 16)
            .map_err(|_| Error::Config(format!("{size_path}: not a hex size")))?;
        let dev = format!("/dev/{uio}");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dev)
            .map_err(|e| Error::io(format!("open {dev}"), e))?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let map = memmap2::MmapOptions::new()
            .offset(index as u64 * page)
            .len(size)
            .map_raw(&file)
            .map_err(|e| Error::io(format!("mmap {dev} map{index}"), e))?;
        Ok(UioMap { map })
    }
}

impl MemMap for UioMap {
    fn len(&self) -> usize {
        self.map.len()
    }

    fn read32(&mut self, off: usize) -> u32 {
        assert!(off % 4 == 0 && off + 4 <= self.map.len());
        // SAFETY: aligned and inside the mapping (checked above); device memory needs volatile.
        unsafe { std::ptr::read_volatile(self.map.as_ptr().add(off) as *const u32) }
    }

    fn write32(&mut self, off: usize, value: u32) {
        assert!(off % 4 == 0 && off + 4 <= self.map.len());
        // SAFETY: as in `read32`.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(off) as *mut u32, value) }
    }
}

/// The interrupt of a device.
pub trait IrqSource {
    /// Unmasks the interrupt.
    fn enable(&mut self) -> Result<()>;
    /// Waits for an interrupt event; `Ok(false)` on timeout.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// The UIO file's interrupt: write 1 to unmask, poll + read the event count to wait.
pub struct UioIrq {
    file: File,
}

impl UioIrq {
    pub fn open(uio: &str) -> Result<UioIrq> {
        let dev = format!("/dev/{uio}");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dev)
            .map_err(|e| Error::io(format!("open {dev}"), e))?;
        Ok(UioIrq { file })
    }
}

impl IrqSource for UioIrq {
    fn enable(&mut self) -> Result<()> {
        use std::io::Write;
        self.file
            .write_all(&1u32.to_ne_bytes())
            .map_err(|e| Error::io("unmask the UIO interrupt", e))
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        use std::io::Read;
        use std::os::unix::io::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            return Err(Error::io(
                "poll the UIO interrupt",
                std::io::Error::last_os_error(),
            ));
        }
        if r == 0 {
            return Ok(false);
        }
        let mut count = [0u8; 4];
        self.file
            .read_exact(&mut count)
            .map_err(|e| Error::io("read the UIO interrupt count", e))?;
        Ok(true)
    }
}

/// A chip on a board through UIO: registers in one mapping, streams through a DMA buffer.
pub struct UioTransport<R: MemMap, D: MemMap, I: IrqSource> {
    regs: R,
    dma: D,
    irq: I,
    stream_width: usize,
    /// Device clock used to turn cycle timeouts into wall-clock time.
    pub clock_hz: u64,
    tx: (usize, usize),
    rx: (usize, usize),
    tx_seq: u32,
    rx_seq: u32,
}

impl UioTransport<UioMap, UioMap, UioIrq> {
    /// Opens `/dev/uioN` (`uio` = `uioN`): map 0 registers, map 1 DMA buffer. The stream width
    /// is read from the chip (`CFG_STREAM`, through the register layer).
    pub fn open(uio: &str, clock_hz: u64) -> Result<Self> {
        if !Path::new(&format!("/dev/{uio}")).exists() {
            return Err(Error::Config(format!("/dev/{uio} does not exist")));
        }
        Self::new(
            UioMap::open(uio, 0)?,
            UioMap::open(uio, 1)?,
            UioIrq::open(uio)?,
            clock_hz,
        )
    }
}

impl<R: MemMap, D: MemMap, I: IrqSource> UioTransport<R, D, I> {
    /// A transport over the given mappings; checks the DMA control block and discovers the
    /// stream width.
    pub fn new(regs: R, mut dma: D, irq: I, clock_hz: u64) -> Result<Self> {
        if regs.len() < REG_WINDOW {
            return Err(Error::Config(format!(
                "register mapping of {} bytes, need {REG_WINDOW}",
                regs.len()
            )));
        }
        if dma.len() < dma::CONTROL_BYTES || dma.read32(dma::MAGIC) != dma::MAGIC_VALUE {
            return Err(Error::Config(
                "DMA buffer has no Tessera control block (MAGIC \"TDMA\")".into(),
            ));
        }
        let area = |dma: &mut D, o: usize, s: usize| -> Result<(usize, usize)> {
            let (off, size) = (dma.read32(o) as usize, dma.read32(s) as usize);
            if off < dma::CONTROL_BYTES || off % 4 != 0 || size == 0 || off + size > dma.len() {
                return Err(Error::Config(format!(
                    "DMA area at {off:#x}, {size} bytes, outside the {}-byte buffer",
                    dma.len()
                )));
            }
            Ok((off, size))
        };
        let tx = area(&mut dma, dma::TX_OFFSET, dma::TX_SIZE)?;
        let rx = area(&mut dma, dma::RX_OFFSET, dma::RX_SIZE)?;
        let tx_seq = dma.read32(dma::TX_SEQ);
        let rx_seq = dma.read32(dma::RX_SEQ);
        let mut t = UioTransport {
            regs,
            dma,
            irq,
            stream_width: 32,
            clock_hz: clock_hz.max(1),
            tx,
            rx,
            tx_seq,
            rx_seq,
        };
        let (_, cfg) = crate::device::discover(&mut t)?;
        t.stream_width = cfg.stream_width;
        let beat = t.stream_width / 8;
        if t.tx.1 < beat || t.rx.1 < beat {
            return Err(Error::Config("DMA areas smaller than one beat".into()));
        }
        Ok(t)
    }

    fn deadline(&self, cycles: u64) -> Instant {
        let ns = (cycles as u128 * 1_000_000_000 / self.clock_hz as u128).max(1_000_000);
        Instant::now() + Duration::from_nanos(ns.min(u64::MAX as u128) as u64)
    }

    /// Polls `off` until it equals `want`; false at `deadline`.
    fn poll_eq(&mut self, off: usize, want: u32, deadline: Instant) -> bool {
        let mut spins = 0u32;
        loop {
            if self.dma.read32(off) == want {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            spins += 1;
            if spins > 1000 {
                std::thread::yield_now();
            }
        }
    }

    fn reg_offset(&self, addr: u32, op: &'static str) -> Result<usize> {
        let off = addr as usize;
        if off % 4 != 0 || off + 4 > REG_WINDOW.min(self.regs.len()) {
            return Err(Error::Bus { op, addr, resp: 2 });
        }
        Ok(off)
    }
}

impl<R: MemMap, D: MemMap, I: IrqSource> Transport for UioTransport<R, D, I> {
    fn stream_width(&self) -> usize {
        self.stream_width
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        let off = self.reg_offset(addr, "read")?;
        Ok(self.regs.read32(off))
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        let off = self.reg_offset(addr, "write")?;
        self.regs.write32(off, value);
        Ok(())
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        let bw = self.stream_width / 32;
        if words.is_empty() || words.len() % bw != 0 {
            return Err(Error::Config(format!(
                "stream_send: {} words is not a whole number of {bw}-word beats",
                words.len()
            )));
        }
        let (off, size) = self.tx;
        let per = (size / 4) / bw * bw;
        let pieces = words.len().div_ceil(per);
        for (i, piece) in words.chunks(per).enumerate() {
            for (j, w) in piece.iter().enumerate() {
                self.dma.write32(off + 4 * j, *w);
            }
            self.dma.write32(dma::TX_LEN, (piece.len() * 4) as u32);
            self.dma
                .write32(dma::TX_FLAGS, u32::from(tlast && i + 1 == pieces));
            self.tx_seq = self.tx_seq.wrapping_add(1);
            self.dma.write32(dma::TX_SEQ, self.tx_seq);
            let deadline = self.deadline(timeout_cycles + (piece.len() / bw) as u64);
            if !self.poll_eq(dma::TX_DONE, self.tx_seq, deadline) {
                return Err(Error::Timeout {
                    what: format!("DMA send of piece {i} of {pieces}"),
                    cycles: timeout_cycles,
                });
            }
        }
        Ok(())
    }

    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        let bw = self.stream_width / 32;
        let (off, size) = self.rx;
        let per_beats = (size / 4) / bw;
        let mut out = Received::default();
        let mut left = beats;
        while left > 0 {
            let n = left.min(per_beats);
            self.dma.write32(dma::RX_LEN, (n * bw * 4) as u32);
            self.rx_seq = self.rx_seq.wrapping_add(1);
            self.dma.write32(dma::RX_SEQ, self.rx_seq);
            let deadline = self.deadline(timeout_cycles + n as u64);
            if !self.poll_eq(dma::RX_DONE, self.rx_seq, deadline) {
                return Err(Error::Timeout {
                    what: format!("received {} of {beats} output beats", beats - left),
                    cycles: timeout_cycles,
                });
            }
            for j in 0..n * bw {
                out.words.push(self.dma.read32(off + 4 * j));
            }
            let last = self.dma.read32(dma::RX_LAST) as usize;
            out.last.extend((0..n).map(|b| last == b + 1));
            left -= n;
        }
        Ok(out)
    }

    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        self.irq.enable()?;
        let timeout = self.deadline(timeout_cycles) - Instant::now();
        self.irq.wait(timeout)
    }

    fn idle(&mut self, cycles: u64) -> Result<()> {
        let ns = cycles as u128 * 1_000_000_000 / self.clock_hz as u128;
        std::thread::sleep(Duration::from_nanos(ns.min(u64::MAX as u128) as u64));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tessera_regs::TesseraRegs;

    use super::*;
    use crate::device::Device;

    /// Register offsets from the register layer (no literals here either).
    fn offsets() -> (usize, usize, usize, usize) {
        // SAFETY: only forms pointers from base 0; nothing is dereferenced.
        let r = unsafe { TesseraRegs::from_ptr(core::ptr::null_mut()) };
        (
            r.id().as_ptr() as usize,
            r.version().as_ptr() as usize,
            r.cfg_stream().as_ptr() as usize,
            r.scratch().as_ptr() as usize,
        )
    }

    struct Mem(Vec<u32>);

    impl MemMap for Mem {
        fn len(&self) -> usize {
            self.0.len() * 4
        }
        fn read32(&mut self, off: usize) -> u32 {
            self.0[off / 4]
        }
        fn write32(&mut self, off: usize, v: u32) {
            self.0[off / 4] = v;
        }
    }

    /// A register window holding the reset values of the `tiny` chip.
    fn tiny_regs() -> Mem {
        let chip = crate::ChipConfig::named("tiny").unwrap();
        let mut m = Mem(vec![0; REG_WINDOW / 4]);
        let r = unsafe { TesseraRegs::from_ptr(core::ptr::null_mut()) };
        let (id, ver, stream, _) = offsets();
        m.write32(id, 0x5445_5353);
        m.write32(ver, crate::device::supported_version_word());
        m.write32(stream, chip.stream_width as u32);
        m.write32(
            r.cfg_grid().as_ptr() as usize,
            chip.grid_rows as u32 | (chip.grid_cols as u32) << 16,
        );
        m.write32(
            r.cfg_tile().as_ptr() as usize,
            chip.lanes as u32 | (chip.kwidth as u32) << 16,
        );
        m.write32(
            r.cfg_weight_words().as_ptr() as usize,
            chip.weight_words as u32,
        );
        m.write32(r.cfg_act_words().as_ptr() as usize, chip.act_words as u32);
        m.write32(r.cfg_abuf_words().as_ptr() as usize, chip.abuf_words as u32);
        m.write32(r.cfg_rbuf_words().as_ptr() as usize, chip.rbuf_words as u32);
        m
    }

    /// A DMA buffer whose shell side runs on every doorbell write: sends are recorded, receives
    /// are served from a queue of beats.
    struct FakeDma {
        mem: Vec<u32>,
        sent: Vec<(Vec<u32>, bool)>,
        to_host: VecDeque<(Vec<u32>, bool)>,
    }

    const TX_AT: usize = 0x40;
    const TX_BYTES: usize = 32; // 4 beats of 64 bits: forces pieces
    const RX_AT: usize = 0x80;
    const RX_BYTES: usize = 24; // 3 beats

    impl FakeDma {
        fn new() -> FakeDma {
            let mut mem = vec![0u32; 0x100 / 4];
            mem[dma::MAGIC / 4] = dma::MAGIC_VALUE;
            mem[dma::TX_OFFSET / 4] = TX_AT as u32;
            mem[dma::TX_SIZE / 4] = TX_BYTES as u32;
            mem[dma::RX_OFFSET / 4] = RX_AT as u32;
            mem[dma::RX_SIZE / 4] = RX_BYTES as u32;
            FakeDma {
                mem,
                sent: Vec::new(),
                to_host: VecDeque::new(),
            }
        }
    }

    impl MemMap for FakeDma {
        fn len(&self) -> usize {
            self.mem.len() * 4
        }
        fn read32(&mut self, off: usize) -> u32 {
            self.mem[off / 4]
        }
        fn write32(&mut self, off: usize, v: u32) {
            self.mem[off / 4] = v;
            if off == dma::TX_SEQ {
                let n = self.mem[dma::TX_LEN / 4] as usize / 4;
                let words = self.mem[TX_AT / 4..TX_AT / 4 + n].to_vec();
                let last = self.mem[dma::TX_FLAGS / 4] & 1 == 1;
                self.sent.push((words, last));
                self.mem[dma::TX_DONE / 4] = v;
            }
            if off == dma::RX_SEQ {
                let n = self.mem[dma::RX_LEN / 4] as usize / 8; // beats of 64 bits
                let mut last = 0;
                for b in 0..n {
                    let Some((w, l)) = self.to_host.pop_front() else {
                        return; // not enough data: never done
                    };
                    self.mem[RX_AT / 4 + 2 * b] = w[0];
                    self.mem[RX_AT / 4 + 2 * b + 1] = w[1];
                    if l && last == 0 {
                        last = b + 1;
                    }
                }
                self.mem[dma::RX_LAST / 4] = last as u32;
                self.mem[dma::RX_DONE / 4] = v;
            }
        }
    }

    struct NoIrq(bool);

    impl IrqSource for NoIrq {
        fn enable(&mut self) -> Result<()> {
            Ok(())
        }
        fn wait(&mut self, _timeout: Duration) -> Result<bool> {
            Ok(self.0)
        }
    }

    fn transport() -> UioTransport<Mem, FakeDma, NoIrq> {
        UioTransport::new(tiny_regs(), FakeDma::new(), NoIrq(true), 100_000_000).unwrap()
    }

    #[test]
    fn uio_discovery_and_registers_on_a_fake_mapping() {
        let t = transport();
        assert_eq!(t.stream_width(), 64);
        let mut dev = Device::open(t).unwrap();
        assert_eq!(dev.config().tiles(), 4);
        dev.set_scratch(0x1234_5678).unwrap();
        assert_eq!(dev.scratch().unwrap(), 0x1234_5678);
        let (.., scratch) = offsets();
        let t = dev.transport();
        assert_eq!(t.regs.0[scratch / 4], 0x1234_5678);
        assert!(matches!(
            t.reg_read(REG_WINDOW as u32),
            Err(Error::Bus { .. })
        ));
        assert!(t.wait_irq(1000).unwrap());
    }

    #[test]
    fn uio_refuses_a_buffer_without_control_block() {
        let mut d = FakeDma::new();
        d.mem[0] = 0;
        assert!(UioTransport::new(tiny_regs(), d, NoIrq(false), 1).is_err());
        let mut regs = tiny_regs();
        let (_, ver, ..) = offsets();
        regs.0[ver / 4] = 0x0002_0000;
        match UioTransport::new(regs, FakeDma::new(), NoIrq(false), 1) {
            Err(Error::UnsupportedVersion { found, .. }) => assert_eq!(found, (2, 0, 0)),
            Err(e) => panic!("unexpected {e}"),
            Ok(_) => panic!("version 2 accepted"),
        }
    }

    #[test]
    fn uio_streams_go_in_pieces_with_tlast_at_the_end() {
        let mut t = transport();
        let words: Vec<u32> = (0..20).collect(); // 10 beats: pieces of 4, 4, 2
        t.stream_send(&words, true, 1000).unwrap();
        let sent = &t.dma.sent;
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent.iter().map(|s| s.0.len()).collect::<Vec<_>>(),
            [8, 8, 4]
        );
        assert_eq!(
            sent.iter().map(|s| s.1).collect::<Vec<_>>(),
            [false, false, true]
        );
        let all: Vec<u32> = sent.iter().flat_map(|s| s.0.clone()).collect();
        assert_eq!(all, words);
        assert!(t.stream_send(&[1, 2, 3], false, 10).is_err());

        for b in 0..5u32 {
            t.dma.to_host.push_back((vec![b, 100 + b], b == 4));
        }
        let rx = t.stream_recv(5, 1000).unwrap();
        assert_eq!(rx.words, [0, 100, 1, 101, 2, 102, 3, 103, 4, 104]);
        assert_eq!(rx.last, [false, false, false, false, true]);
        // Nothing more to receive: a timeout, not a hang.
        match t.stream_recv(1, 1000) {
            Err(Error::Timeout { .. }) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
