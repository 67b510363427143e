//! Illegal programs on `tiny`: every class of bad descriptor gets its documented error code,
//! STATUS.error, INTR_STATUS.error and the interrupt; the chip keeps taking (and dropping) input
//! so nothing hangs; no weight changes; a soft reset recovers and the next product is exact.
//! Also the driver's register view of a chip right after reset.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::{ChipConfig, Descriptor, ErrorCode, Opcode};
use tessera_driver::device::supported_version;
use tessera_regs::peakrdl_rust::reg::Register;
use tessera_regs::tessera_regs::{id, intr_enable::IntrEnable, scratch::Scratch};
use tessera_regs::TesseraRegs;

use crate::env::*;

/// One illegal program: its packets (stream words, `tlast` on the last beat of each) or
/// CMD_FIFO words, and the error code it must raise.
struct Bad {
    what: String,
    packets: Vec<Vec<u32>>,
    fifo_words: usize,
    code: ErrorCode,
}

/// Words the command FIFO holds (`CmdFifoDepth` of `rtl/host/host_csr.sv`).
const CMD_FIFO_DEPTH: usize = 16;

/// A byte that is no opcode of the programming interface.
fn bad_opcode(rng: &mut ChaCha8Rng) -> u32 {
    loop {
        let o = rng.gen_range(0..=255u32);
        if !Opcode::ALL.iter().any(|op| *op as u32 == o) {
            return o;
        }
    }
}

/// A descriptor with opcode `op` and no fields.
fn bare(op: u32) -> Descriptor {
    let mut d = Descriptor::nop();
    d.header[0] = op;
    d
}

fn bad_case(rng: &mut ChaCha8Rng, cfg: &ChipConfig) -> Bad {
    let n = cfg.tiles() as u32;
    let ww = cfg.weight_words as u32;
    let ab = cfg.abuf_words as u32;
    let rb = cfg.rbuf_words as u32;
    let lg = cfg.lg_tiles();
    let bw = cfg.beat_words();
    let big = |rng: &mut ChaCha8Rng| -> u32 {
        if rng.gen_bool(0.3) {
            u32::MAX - rng.gen_range(0..4)
        } else {
            rng.gen_range(0..4 * ww.max(ab).max(rb))
        }
    };
    let pkt = |d: Descriptor| vec![d.packet(cfg)];
    let mv = |w: [u32; 6]| pkt(Descriptor::matvec(w[0], w[1], w[2], w[3], w[4], w[5]));
    let kind = rng.gen_range(0..13);
    let (what, packets, fifo_words, code) = match kind {
        0 => {
            let o = bad_opcode(rng);
            (format!("opcode {o:#x}"), pkt(bare(o)), 0, ErrorCode::Opcode)
        }
        1 => {
            // Zero, too many chunks or too large a K-partition count.
            let (g, c, l) = match rng.gen_range(0..4) {
                0 => (0, 1, 0),
                1 => (1, 0, 0),
                2 => (1, cfg.act_words as u32 + rng.gen_range(1..100), 0),
                _ => (1, 1, lg + rng.gen_range(1..40)),
            };
            (
                format!("matvec shape g {g} c {c} lg {l}"),
                mv([0, g, c, l, 0, 0]),
                0,
                ErrorCode::Shape,
            )
        }
        2 => {
            // Past the weight memory by a little, or by a base or a group count up to 2^32 - 1
            // (the products of which wrap 32 and 64-bit arithmetic alike).
            let c = rng.gen_range(1..=cfg.act_words as u32);
            let (base, g) = match rng.gen_range(0..3) {
                0 => {
                    let g = rng.gen_range(1..=ww);
                    let base = if (g as u64) * (c as u64) > ww as u64 {
                        rng.gen_range(0..ww)
                    } else {
                        ww - g * c + 1 + rng.gen_range(0..ww)
                    };
                    (base, g)
                }
                1 => (rng.gen_range(0..=ww), ww + 1 + big(rng) % (u32::MAX - ww)),
                _ => (ww + 1 + big(rng) % (u32::MAX - ww), rng.gen_range(1..=ww)),
            };
            (
                format!("matvec weights base {base} g {g} c {c}"),
                mv([base, g, c, 0, 0, 0]),
                0,
                ErrorCode::WeightRange,
            )
        }
        3 => {
            let c = rng.gen_range(1..=8u32);
            let in_addr = ab - c * n + 1 + rng.gen_range(0..ab + 5);
            (
                format!("matvec abuf in {in_addr}"),
                mv([0, 1, c, lg, in_addr, 0]),
                0,
                ErrorCode::AbufRange,
            )
        }
        4 => {
            let out = rb - n + 1 + big(rng) % (rb + 3);
            (
                format!("matvec rbuf out {out}"),
                mv([0, 1, 1, 0, 0, out]),
                0,
                ErrorCode::RbufRange,
            )
        }
        5 => {
            let (f, l) = if rng.gen_bool(0.5) {
                (rng.gen_range(1..n), 0)
            } else {
                (0, n + rng.gen_range(0..100))
            };
            let mut d = Descriptor::weight_load(f, l, 0, 1, &[]);
            d.payload = vec![0; bw];
            (
                format!("weight load tiles {f}..{l}"),
                pkt(d),
                0,
                ErrorCode::TileRange,
            )
        }
        6 => {
            let base = rng.gen_range(0..ww);
            let count = ww - base + 1 + big(rng) % 8;
            let mut d = Descriptor::weight_load(0, n - 1, base, count, &[]);
            d.payload = vec![0x5a5a_5a5a; 64];
            (
                format!("weight load past memory base {base} count {count}"),
                pkt(d),
                0,
                ErrorCode::WeightRange,
            )
        }
        7 => {
            let addr = rng.gen_range(0..ab);
            let count = ab - addr + 1 + rng.gen_range(0..4);
            let mut d = Descriptor::vbuf_load(cfg, addr, 0, &[]);
            d.header[2] = count;
            d.payload = vec![0; bw * 2];
            (
                format!("vbuf load addr {addr} count {count}"),
                pkt(d),
                0,
                ErrorCode::AbufRange,
            )
        }
        8 => {
            let addr = big(rng) % (2 * rb) + 1;
            let count = rb.saturating_sub(addr) + 1;
            (
                format!("vbuf read addr {addr} count {count}"),
                pkt(Descriptor::vbuf_read(addr, count)),
                0,
                ErrorCode::RbufRange,
            )
        }
        9 => {
            // Payload shorter than the descriptor: tlast early.
            let count = rng.gen_range(2..8u32);
            let mut d = Descriptor::vbuf_load(cfg, 0, count, &[]);
            d.payload = vec![0x0101_0101; cfg.kwidth / 4 * (count as usize - 1)];
            (
                format!("vbuf load short {count}"),
                pkt(d),
                0,
                ErrorCode::StreamShort,
            )
        }
        10 => {
            // Packet longer than its descriptor: no tlast where expected.
            let count = rng.gen_range(1..4u32);
            let d = if rng.gen_bool(0.5) {
                let mut d = Descriptor::vbuf_load(cfg, 0, count, &[]);
                d.payload = vec![0x0202_0202; cfg.kwidth / 4 * (count as usize + 1)];
                d
            } else {
                let mut d = Descriptor::fence();
                d.payload = vec![0; bw];
                d
            };
            (
                format!("long packet {count}"),
                pkt(d),
                0,
                ErrorCode::StreamLong,
            )
        }
        11 => {
            // tlast inside a header (headers span several beats when the stream is narrow).
            let mut p = Descriptor::fence().packet(cfg);
            if p.len() > bw {
                p.truncate(bw);
                (
                    "header cut short".to_string(),
                    vec![p],
                    0,
                    ErrorCode::StreamShort,
                )
            } else {
                let o = bad_opcode(rng);
                (format!("opcode {o:#x}"), pkt(bare(o)), 0, ErrorCode::Opcode)
            }
        }
        _ => (
            "CMD_FIFO overflow".to_string(),
            vec![],
            CMD_FIFO_DEPTH + 1 + rng.gen_range(0..8),
            ErrorCode::CmdOverflow,
        ),
    };
    Bad {
        what,
        packets,
        fifo_words,
        code,
    }
}

#[test]
fn chip_illegal_programs() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_illegal_programs");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    chip.dev.enable_interrupts(true, true).unwrap();

    // A legal product whose weights must survive every illegal program.
    let (rows, k) = (cfg.tiles() * cfg.lanes * 2, cfg.kwidth * 3);
    let w: Vec<i8> = (0..rows * k)
        .map(|_| rng.gen_range(-127i32..=127) as i8)
        .collect();
    let x: Vec<i8> = (0..k).map(|_| rng.gen_range(-127i32..=127) as i8).collect();
    let p = Product::new(&cfg, w, rows, k, x, 0, 0).expect("a legal product");
    chip.send(&[p.weight_load(&cfg), p.vbuf_load(&cfg, 0)]);
    let words = p.words() + 4;
    let before = chip.weight_snapshot(words);

    for case_no in 0..60u64 {
        chip.stream_timing(rng.gen_range(0..400), 1000, seed ^ case_no);
        let bad = bad_case(&mut rng, &cfg);
        let what = format!("case {case_no} ({}), seed {seed}", bad.what);
        for _ in 0..bad.fifo_words {
            chip.dev
                .cmd_fifo_push(Opcode::Nop as u32)
                .unwrap_or_else(|e| panic!("{what}: CMD_FIFO write: {e}"));
        }
        // Nothing hangs: every beat is taken even after the error.
        for words in &bad.packets {
            assert!(chip.send_words(words, 1_000_000), "{what}: input blocked");
        }
        chip.run(20);
        let (code, _) = chip.dev.error().unwrap();
        assert_eq!(code, bad.code, "{what}");
        assert!(chip.dev.status().unwrap().error, "{what}: STATUS.error");
        assert!(
            chip.dev.interrupts().unwrap().1,
            "{what}: INTR_STATUS.error"
        );
        assert!(chip.irq(), "{what}: interrupt line");
        // More input is dropped, not blocked.
        let fence = Descriptor::fence().packet(&cfg);
        assert!(
            chip.send_words(&fence, 10_000),
            "{what}: input after the error"
        );
        chip.dev.soft_reset().unwrap();
        assert_eq!(
            chip.dev.error().unwrap().0,
            ErrorCode::None,
            "soft reset clears the error"
        );
        let status = chip.dev.status().unwrap();
        assert!(!status.busy && !status.error, "{what}: {status:?}");
        chip.dev.clear_interrupts().unwrap();
        assert!(!chip.irq());
        if case_no % 10 == 9 {
            assert_eq!(chip.weight_snapshot(words), before, "weights unchanged");
            // The chip still computes exactly after recovery.
            chip.send(&[p.vbuf_load(&cfg, 0), p.matvec(0, 0), Descriptor::fence()]);
            chip.expect(&p, 0);
            chip.check_results(0, p.out_words(&cfg), &format!("after case {case_no}"));
        }
    }
    assert_eq!(chip.weight_snapshot(words), before, "weights unchanged");
    chip.finish();
}

/// The driver's view of a chip right after reset: discovery (identity, version, the build
/// configuration), the scratch register, the interrupt enables, bus errors on read-only and
/// unmapped addresses, and the counter snapshot. `regs::chip_regs_reset_and_access_from_rdl`
/// checks every register and field; this is the short check through the driver's API.
#[test]
fn chip_registers_reset_and_access() {
    if !have_verilator() {
        return;
    }
    // Opening discovers the chip: ID, VERSION and the CFG_* registers must match `tiny`.
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    assert_eq!(
        chip.read(reg!(cfg_vbuf_words)) as usize,
        cfg.abuf_words * cfg.kwidth / 4 + cfg.rbuf_words * cfg.lanes
    );
    let v = chip.dev.version();
    assert_eq!((v.major, v.minor), supported_version());
    let status = chip.dev.status().unwrap();
    assert_eq!(
        (status.busy, status.error, status.done_count),
        (false, false, 0)
    );
    assert_eq!(chip.dev.error().unwrap(), (ErrorCode::None, 0));
    assert_eq!(chip.dev.interrupts().unwrap(), (false, false));
    assert_eq!(chip.dev.scratch().unwrap(), Scratch::default().value());
    chip.dev.set_scratch(0xdead_beef).unwrap();
    assert_eq!(chip.dev.scratch().unwrap(), 0xdead_beef);
    assert_eq!(chip.read(reg!(intr_enable)), IntrEnable::default().to_raw());
    chip.dev.enable_interrupts(true, true).unwrap();
    let both = (IntrEnable::DONE_MASK << IntrEnable::DONE_OFFSET)
        | (IntrEnable::ERROR_MASK << IntrEnable::ERROR_OFFSET);
    assert_eq!(chip.read(reg!(intr_enable)), both);
    // A read-only register answers SLVERR to a write and keeps its value; so does an address
    // past the map; CMD_FIFO is write-only.
    let magic = id::Id::default().magic();
    assert_eq!(chip.write(reg!(id), 0), SLVERR);
    assert_eq!(chip.read(reg!(id)), magic);
    let past = <TesseraRegs>::SIZE as u32;
    assert_eq!(chip.read_resp(past).1, SLVERR);
    assert_eq!(chip.write(past, 1), SLVERR);
    assert_eq!(
        chip.read_resp(reg!(cmd_fifo)).1,
        SLVERR,
        "CMD_FIFO is write-only"
    );
    // Counters run and snapshot together.
    let c0 = chip.dev.perf_snapshot().unwrap();
    chip.run(100);
    assert_eq!(chip.dev.perf().unwrap(), c0, "held until the next snapshot");
    let c1 = chip.dev.perf_snapshot().unwrap();
    assert!(c1.cycles > c0.cycles + 100);
    assert!(c1.stall_cmd > 100, "idle cycles without a descriptor");
}
