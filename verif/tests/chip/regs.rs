//! Every register of the map, checked through the chip's AXI4-Lite port on `tiny`.
//!
//! Offsets, access types, reset values and field positions come from the generated register
//! layer (`tessera-regs`, generated from `rtl/regs/tessera_regs.rdl`; its freshness and its
//! offsets against `docs/registers.md` are tested in `sw-driver/regs`). How each register
//! behaves (what hardware drives into it, which bits are write-1-to-clear and which event sets
//! them, what each single-pulse control does) is written out below ([`table`]): the layer has no
//! such facts, and the chip has to show them.
//!
//! - reset value of every readable register (constants and storage from the layer,
//!   hardware-driven registers from the build configuration and an idle chip), unused bits 0;
//! - read-only registers answer SLVERR to a write and keep their value; write-only registers
//!   answer SLVERR to a read;
//! - storage reads back what was written (random patterns, all ones, zero), only its own bits,
//!   and no other register moves;
//! - write-1-to-clear bits: set by their hardware event, kept by writing 0, cleared by 1;
//! - single-pulse controls: their effect happens (start, soft reset, snapshot), nothing stays;
//! - 64-bit counter pairs (`*_LO` / `*_HI` at +4): held between snapshots, the cycle counter
//!   advances by exactly the cycles between two snapshots;
//! - every other word address of the 512-byte window answers SLVERR to reads and writes and
//!   changes nothing (so a register missing from the table fails here).

use std::any::TypeId;
use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::{ChipConfig, Descriptor, Opcode};
use tessera_regs::peakrdl_rust::access;
use tessera_regs::peakrdl_rust::reg::{Reg, Register};
use tessera_regs::tessera_regs::{
    cfg_grid::CfgGrid, cfg_tile::CfgTile, ctrl::Ctrl, intr_enable::IntrEnable,
    intr_status::IntrStatus, scratch::Scratch, status::Status,
};
use tessera_regs::TesseraRegs;

use crate::env::*;

/// The AXI4-Lite slave decodes 9 address bits (`rtl/host/host_csr.sv`).
const WINDOW: u32 = 0x200;

/// Software access of a register, as the layer types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    R,
    W,
    RW,
}

fn access_of<A: 'static>() -> Access {
    let t = TypeId::of::<A>();
    if t == TypeId::of::<access::R>() {
        Access::R
    } else if t == TypeId::of::<access::W>() {
        Access::W
    } else if t == TypeId::of::<access::RW>() {
        Access::RW
    } else {
        panic!("unknown access type {}", std::any::type_name::<A>())
    }
}

/// What sets a write-1-to-clear bit.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A FENCE descriptor completes.
    Fence,
    /// A descriptor with an unknown opcode stops the command processor.
    BadOpcode,
}

/// What a single-pulse control does.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// Runs the descriptors queued in CMD_FIFO.
    Start,
    /// Clears the status (and the error).
    SoftReset,
    /// Copies the running counters into the PERF_* registers.
    Snapshot,
}

/// How a register behaves.
#[derive(Clone, Debug)]
enum Kind {
    /// A constant: reads its reset value.
    Constant,
    /// The build configuration: reads this value of the chip's configuration.
    Config(fn(&ChipConfig) -> u32),
    /// Driven by hardware: 0 on an idle chip after reset.
    Status,
    /// Storage the host writes: reads back what was written within these bits.
    Storage(u32),
    /// Write-1-to-clear bits, each set by its event.
    W1c(Vec<(u32, Event)>),
    /// Write-only single-pulse controls, each with its effect.
    Pulse(Vec<(u32, Effect)>),
    /// A write-only data port (CMD_FIFO).
    Port,
    /// One half of a 64-bit counter snapshot: 0 after reset.
    Counter,
}

/// One register: its facts from the layer and its behaviour.
#[derive(Clone, Debug)]
struct RegSpec {
    name: &'static str,
    addr: u32,
    access: Access,
    /// The layer's reset value (`Default` of the register type).
    reset: u32,
    kind: Kind,
}

impl RegSpec {
    fn readable(&self) -> bool {
        self.access != Access::W
    }

    fn writable(&self) -> bool {
        self.access != Access::R
    }
}

fn spec<R>(name: &'static str, reg: Reg<'static, R>, kind: Kind) -> RegSpec
where
    R: Register<Regwidth = u32> + Default,
    R::Access: 'static,
{
    RegSpec {
        name,
        addr: reg.as_ptr() as usize as u32,
        access: access_of::<R::Access>(),
        reset: R::default().to_raw(),
        kind,
    }
}

/// Field bits from the layer's mask and offset.
fn bits(mask: u32, offset: usize) -> u32 {
    mask << offset
}

/// Every register of the map.
fn table() -> Vec<RegSpec> {
    // SAFETY: only forms pointers from base 0; nothing is dereferenced.
    let r = unsafe { TesseraRegs::from_ptr(core::ptr::null_mut()) };
    let cfg = |f: fn(&ChipConfig) -> u32| Kind::Config(f);
    vec![
        spec("ID", r.id(), Kind::Constant),
        spec("VERSION", r.version(), Kind::Constant),
        spec(
            "CFG_GRID",
            r.cfg_grid(),
            cfg(|c| {
                ((c.grid_rows << CfgGrid::ROWS_OFFSET) | (c.grid_cols << CfgGrid::COLS_OFFSET))
                    as u32
            }),
        ),
        spec(
            "CFG_TILE",
            r.cfg_tile(),
            cfg(|c| {
                ((c.lanes << CfgTile::LANES_OFFSET) | (c.kwidth << CfgTile::K_WIDTH_OFFSET)) as u32
            }),
        ),
        spec(
            "CFG_WEIGHT_WORDS",
            r.cfg_weight_words(),
            cfg(|c| c.weight_words as u32),
        ),
        spec(
            "CFG_ACT_WORDS",
            r.cfg_act_words(),
            cfg(|c| c.act_words as u32),
        ),
        spec(
            "CFG_VBUF_WORDS",
            r.cfg_vbuf_words(),
            cfg(|c| (c.abuf_words * c.kwidth / 4 + c.rbuf_words * c.lanes) as u32),
        ),
        spec(
            "CFG_ABUF_WORDS",
            r.cfg_abuf_words(),
            cfg(|c| c.abuf_words as u32),
        ),
        spec(
            "CFG_RBUF_WORDS",
            r.cfg_rbuf_words(),
            cfg(|c| c.rbuf_words as u32),
        ),
        spec("CFG_STREAM", r.cfg_stream(), cfg(|c| c.stream_width as u32)),
        // The chips of these tests keep their weights in RAM (verif/tests/chip/rom.rs builds one
        // with its weights in ROM): no ROM, no digest.
        spec("CFG_WEIGHT_ROM", r.cfg_weight_rom(), cfg(|_| 0)),
        spec("WEIGHT_ROM_DIGEST", r.weight_rom_digest(), cfg(|_| 0)),
        spec(
            "CTRL",
            r.ctrl(),
            Kind::Pulse(vec![
                (bits(Ctrl::START_MASK, Ctrl::START_OFFSET), Effect::Start),
                (
                    bits(Ctrl::SOFT_RESET_MASK, Ctrl::SOFT_RESET_OFFSET),
                    Effect::SoftReset,
                ),
                (
                    bits(Ctrl::SNAPSHOT_MASK, Ctrl::SNAPSHOT_OFFSET),
                    Effect::Snapshot,
                ),
            ]),
        ),
        spec("STATUS", r.status(), Kind::Status),
        spec("ERROR", r.error(), Kind::Status),
        spec(
            "INTR_STATUS",
            r.intr_status(),
            Kind::W1c(vec![
                (
                    bits(IntrStatus::DONE_MASK, IntrStatus::DONE_OFFSET),
                    Event::Fence,
                ),
                (
                    bits(IntrStatus::ERROR_MASK, IntrStatus::ERROR_OFFSET),
                    Event::BadOpcode,
                ),
            ]),
        ),
        spec(
            "INTR_ENABLE",
            r.intr_enable(),
            Kind::Storage(
                bits(IntrEnable::DONE_MASK, IntrEnable::DONE_OFFSET)
                    | bits(IntrEnable::ERROR_MASK, IntrEnable::ERROR_OFFSET),
            ),
        ),
        spec(
            "SCRATCH",
            r.scratch(),
            Kind::Storage(bits(Scratch::VALUE_MASK, Scratch::VALUE_OFFSET)),
        ),
        spec("CMD_FIFO", r.cmd_fifo(), Kind::Port),
        spec("ECC_CORRECTED", r.ecc_corrected(), Kind::Status),
        spec("ECC_FAIL", r.ecc_fail(), Kind::Status),
        spec("ECC_FAIL_ADDR", r.ecc_fail_addr(), Kind::Status),
        spec("PERF_CYCLES_LO", r.perf_cycles_lo(), Kind::Counter),
        spec("PERF_CYCLES_HI", r.perf_cycles_hi(), Kind::Counter),
        spec("PERF_MAC_BUSY_LO", r.perf_mac_busy_lo(), Kind::Counter),
        spec("PERF_MAC_BUSY_HI", r.perf_mac_busy_hi(), Kind::Counter),
        spec(
            "PERF_STALL_INPUT_LO",
            r.perf_stall_input_lo(),
            Kind::Counter,
        ),
        spec(
            "PERF_STALL_INPUT_HI",
            r.perf_stall_input_hi(),
            Kind::Counter,
        ),
        spec(
            "PERF_STALL_OUTPUT_LO",
            r.perf_stall_output_lo(),
            Kind::Counter,
        ),
        spec(
            "PERF_STALL_OUTPUT_HI",
            r.perf_stall_output_hi(),
            Kind::Counter,
        ),
        spec("PERF_STALL_CMD_LO", r.perf_stall_cmd_lo(), Kind::Counter),
        spec("PERF_STALL_CMD_HI", r.perf_stall_cmd_hi(), Kind::Counter),
    ]
}

/// Expected read value of every readable register of an idle `cfg` chip right after reset.
fn reset_values(cfg: &ChipConfig, regs: &[RegSpec]) -> BTreeMap<u32, u32> {
    regs.iter()
        .filter(|r| r.readable())
        .map(|r| {
            let v = match &r.kind {
                Kind::Config(f) => f(cfg),
                Kind::Status | Kind::Counter => 0,
                _ => r.reset,
            };
            (r.addr, v)
        })
        .collect()
}

fn read_all(chip: &mut Chip, regs: &[RegSpec]) -> BTreeMap<u32, u32> {
    regs.iter()
        .filter(|r| r.readable())
        .map(|r| {
            let (d, resp) = chip.read_resp(r.addr);
            assert_eq!(resp, OKAY, "read of {} ({:#x})", r.name, r.addr);
            (r.addr, d)
        })
        .collect()
}

/// Every register but the counter snapshots reads `expect`.
fn assert_unmoved(chip: &mut Chip, regs: &[RegSpec], expect: &BTreeMap<u32, u32>, when: &str) {
    let now = read_all(chip, regs);
    for r in regs.iter().filter(|r| r.readable()) {
        if !matches!(r.kind, Kind::Counter) {
            assert_eq!(now[&r.addr], expect[&r.addr], "{} {when}", r.name);
        }
    }
}

/// The register table is consistent with the layer: distinct word addresses inside the layer's
/// block and the AXI4-Lite window, access types that fit each behaviour, no reset value in the
/// map for what hardware drives, and counter halves in `_LO`/`_HI` pairs on 8-byte boundaries.
#[test]
fn chip_regs_table_agrees_with_the_layer() {
    let regs = table();
    let size = <TesseraRegs>::SIZE as u32;
    assert!(
        size <= WINDOW,
        "the register block is larger than the window"
    );
    let mut seen = BTreeMap::new();
    for r in &regs {
        assert_eq!(r.addr % 4, 0, "{}: unaligned", r.name);
        assert!(r.addr < size, "{}: {:#x} outside the block", r.name, r.addr);
        if let Some(other) = seen.insert(r.addr, r.name) {
            panic!("{} and {other} share {:#x}", r.name, r.addr);
        }
        let want = match &r.kind {
            Kind::Constant | Kind::Config(_) | Kind::Status | Kind::Counter => Access::R,
            Kind::Storage(_) | Kind::W1c(_) => Access::RW,
            Kind::Pulse(_) | Kind::Port => Access::W,
        };
        assert_eq!(r.access, want, "{}: access for {:?}", r.name, r.kind);
        match &r.kind {
            Kind::Config(_) | Kind::Status | Kind::Counter => {
                assert_eq!(r.reset, 0, "{}: hardware-driven, no reset value", r.name)
            }
            Kind::Constant => assert_ne!(r.reset, 0, "{}: a constant 0", r.name),
            Kind::Storage(mask) => assert_eq!(r.reset & !mask, 0, "{}: reset bits", r.name),
            Kind::W1c(fields) => assert!(!fields.is_empty(), "{}: no bits", r.name),
            Kind::Pulse(fields) => assert!(!fields.is_empty(), "{}: no controls", r.name),
            Kind::Port => {}
        }
    }
    let pairs: Vec<&RegSpec> = regs.iter().filter(|r| r.name.ends_with("_LO")).collect();
    assert!(!pairs.is_empty(), "no counter pairs");
    for lo in pairs {
        let base = lo.name.trim_end_matches("_LO");
        let hi = regs
            .iter()
            .find(|r| r.name == format!("{base}_HI"))
            .unwrap_or_else(|| panic!("{base}_LO without {base}_HI"));
        assert_eq!(hi.addr, lo.addr + 4, "{base}_HI follows {base}_LO");
        assert_eq!(lo.addr % 8, 0, "{base}_LO on an 8-byte boundary");
        assert!(matches!(
            (&lo.kind, &hi.kind),
            (Kind::Counter, Kind::Counter)
        ));
    }
}

#[test]
fn chip_regs_reset_and_access_from_rdl() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_regs_reset_and_access_from_rdl");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let regs = table();
    let a = |name: &str| {
        regs.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the table"))
            .addr
    };
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    let mut expect = reset_values(&cfg, &regs);

    // Reset values of every readable register (all fields, unused bits 0).
    let got = read_all(&mut chip, &regs);
    for r in regs.iter().filter(|r| r.readable()) {
        assert_eq!(
            got[&r.addr], expect[&r.addr],
            "reset value of {} ({:#x})",
            r.name, r.addr
        );
    }
    let mut checked = BTreeMap::<&str, usize>::new();

    // Read-only registers: a write answers SLVERR and changes nothing. Write-only registers:
    // a read answers SLVERR.
    for r in &regs {
        if !r.writable() {
            for v in [u32::MAX, 0, rng.gen()] {
                assert_eq!(
                    chip.write(r.addr, v),
                    SLVERR,
                    "write to read-only {}",
                    r.name
                );
            }
            *checked.entry("read-only").or_default() += 1;
        }
        if !r.readable() {
            assert_eq!(
                chip.read_resp(r.addr).1,
                SLVERR,
                "read of write-only {}",
                r.name
            );
            *checked.entry("write-only").or_default() += 1;
        }
    }
    assert_eq!(
        read_all(&mut chip, &regs),
        expect,
        "after the SLVERR writes"
    );

    // Storage: random patterns, all ones and zero read back within the register's bits, and no
    // other register moves (the interrupt enables only matter with a status bit).
    for r in &regs {
        let Kind::Storage(mask) = r.kind else {
            continue;
        };
        let mut patterns = vec![u32::MAX, 0, 0xa5a5_a5a5, 0x5a5a_5a5a];
        patterns.extend((0..4).map(|_| rng.gen::<u32>()));
        for v in patterns {
            assert_eq!(chip.write(r.addr, v), OKAY, "write {v:#x} to {}", r.name);
            assert_eq!(
                chip.read(r.addr),
                v & mask,
                "{} read-back of {v:#x} (mask {mask:#x})",
                r.name
            );
            let mut want = expect.clone();
            want.insert(r.addr, v & mask);
            assert_eq!(read_all(&mut chip, &regs), want, "after writing {}", r.name);
        }
        assert_eq!(chip.write(r.addr, expect[&r.addr]), OKAY);
        *checked.entry("storage").or_default() += 1;
    }
    assert_eq!(
        read_all(&mut chip, &regs),
        expect,
        "after the storage checks"
    );

    // Write-1-to-clear bits: each is set by its hardware event, survives writes of 0 (and of
    // 1 to the other bits), and clears on a write of 1.
    let status_error = bits(Status::ERROR_MASK, Status::ERROR_OFFSET);
    let no_opcode = (0..=255u32)
        .find(|o| !Opcode::ALL.iter().any(|op| *op as u32 == *o))
        .expect("a byte that is no opcode");
    for r in &regs {
        let Kind::W1c(fields) = &r.kind else {
            continue;
        };
        for &(mask, event) in fields {
            match event {
                Event::Fence => chip.send(&[Descriptor::fence()]),
                Event::BadOpcode => {
                    let mut d = Descriptor::nop();
                    d.header[0] = no_opcode;
                    chip.send(&[d]);
                }
            }
            chip.run(20);
            let what = format!("{} bits {mask:#x} ({event:?})", r.name);
            assert_ne!(chip.read(r.addr) & mask, 0, "{what}: set by the event");
            assert_eq!(chip.write(r.addr, 0), OKAY);
            assert_eq!(chip.read(r.addr) & mask, mask, "{what}: kept by writing 0");
            assert_eq!(chip.write(r.addr, !mask), OKAY);
            assert_eq!(
                chip.read(r.addr) & mask,
                mask,
                "{what}: kept by writing 1 to the other bits"
            );
            assert_eq!(chip.write(r.addr, mask), OKAY);
            assert_eq!(chip.read(r.addr) & mask, 0, "{what}: cleared");
            if let Event::BadOpcode = event {
                // Leave the chip as after reset: soft reset clears the error state.
                assert_ne!(chip.read(a("STATUS")) & status_error, 0);
                chip.dev.soft_reset().unwrap();
            }
            *checked.entry("write-1-to-clear").or_default() += 1;
        }
    }
    // The FENCE counted as a completed descriptor before the soft reset; nothing else moved.
    assert_unmoved(
        &mut chip,
        &regs,
        &expect,
        "after the write-1-to-clear checks",
    );

    // Single-pulse controls: each write of 1 has its effect once; the register stays
    // write-only.
    let done = bits(IntrStatus::DONE_MASK, IntrStatus::DONE_OFFSET);
    for r in &regs {
        let Kind::Pulse(fields) = &r.kind else {
            continue;
        };
        for &(mask, effect) in fields {
            match effect {
                Effect::Snapshot => {
                    let lo = a("PERF_CYCLES_LO");
                    let c0 = chip.read(lo);
                    assert_eq!(chip.write(r.addr, mask), OKAY);
                    let c1 = chip.read(lo);
                    assert!(c1 > c0, "snapshot copies the running cycle count");
                    chip.run(50);
                    assert_eq!(chip.read(lo), c1, "one snapshot per write");
                }
                Effect::Start => {
                    // A FENCE queued word by word in the command FIFO runs on start.
                    for w in Descriptor::fence().header {
                        assert_eq!(chip.write(a("CMD_FIFO"), w), OKAY);
                    }
                    chip.run(20);
                    assert_eq!(
                        chip.read(a("INTR_STATUS")) & done,
                        0,
                        "nothing runs before start"
                    );
                    assert_eq!(chip.write(r.addr, mask), OKAY);
                    chip.run(50);
                    assert_ne!(chip.read(a("INTR_STATUS")) & done, 0, "the FENCE ran");
                    assert_eq!(chip.write(a("INTR_STATUS"), done), OKAY);
                }
                Effect::SoftReset => {
                    let status = a("STATUS");
                    let count = bits(Status::DONE_COUNT_MASK, Status::DONE_COUNT_OFFSET);
                    assert_ne!(chip.read(status) & count, 0, "descriptors were counted");
                    assert_eq!(chip.write(r.addr, mask), OKAY);
                    chip.run(4);
                    assert_eq!(chip.read(status), 0, "soft reset clears the status");
                }
            }
            assert_eq!(
                chip.read_resp(r.addr).1,
                SLVERR,
                "{} stays write-only",
                r.name
            );
            *checked.entry("single-pulse").or_default() += 1;
        }
    }
    // After the soft reset every register but the counter snapshots is at its reset value.
    assert_unmoved(&mut chip, &regs, &expect, "after the single-pulse checks");

    // 64-bit counter pairs: held between snapshots; the cycle counter advances by the cycles
    // between the snapshots.
    let ctrl = a("CTRL");
    let snapshot = bits(Ctrl::SNAPSHOT_MASK, Ctrl::SNAPSHOT_OFFSET);
    let pairs: Vec<(&str, u32)> = regs
        .iter()
        .filter_map(|r| r.name.strip_suffix("_LO").map(|b| (b, r.addr)))
        .collect();
    assert_eq!(chip.write(ctrl, snapshot), OKAY);
    let t0 = chip.cycles();
    let before: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    chip.run(1000);
    let held: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    assert_eq!(before, held, "counter pairs hold their snapshot");
    assert_eq!(chip.write(ctrl, snapshot), OKAY);
    let t1_end = chip.cycles();
    let after: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    for (i, (base, _)) in pairs.iter().enumerate() {
        assert!(after[i] >= before[i], "{base} went backwards");
        assert!(
            after[i] >> 32 == 0,
            "{base}: no carry expected in a short run"
        );
    }
    let cyc = pairs
        .iter()
        .position(|(b, _)| *b == "PERF_CYCLES")
        .expect("PERF_CYCLES pair");
    // Both snapshots are taken the same number of cycles into their write transaction, so
    // they are as far apart as the ends of the two writes.
    let sim = t1_end - t0;
    let snap = after[cyc] - before[cyc];
    assert!(
        snap.abs_diff(sim) <= 2,
        "PERF_CYCLES advanced {snap}, the model ran {sim} cycles between the snapshots"
    );
    *checked.entry("64-bit pairs").or_default() += pairs.len();

    // Every other word address of the window: SLVERR both ways, nothing changes.
    let scratch = a("SCRATCH");
    let marker = rng.gen::<u32>();
    assert_eq!(chip.write(scratch, marker), OKAY);
    let mapped: Vec<u32> = regs.iter().map(|r| r.addr).collect();
    let mut unmapped = 0;
    for addr in (0..WINDOW).step_by(4).filter(|x| !mapped.contains(x)) {
        assert_eq!(chip.read_resp(addr).1, SLVERR, "read of unmapped {addr:#x}");
        assert_eq!(
            chip.write(addr, rng.gen()),
            SLVERR,
            "write to unmapped {addr:#x}"
        );
        unmapped += 1;
    }
    assert_eq!(
        chip.read(scratch),
        marker,
        "unmapped writes changed SCRATCH"
    );
    expect.insert(scratch, marker);
    assert_unmoved(&mut chip, &regs, &expect, "after the unmapped sweep");
    *checked.entry("unmapped addresses").or_default() += unmapped;
    eprintln!("chip_regs: {} registers; checked {checked:?}", regs.len());
}
