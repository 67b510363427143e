//! Illegal programs on `tiny`: every class of bad descriptor gets its documented error code,
//! STATUS.error, INTR_STATUS.error and the interrupt; the chip keeps taking (and dropping) input
//! so nothing hangs; no weight changes; a soft reset recovers and the next product is exact.

mod chip_common;

use chip_common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One illegal program: its packets (or CMD_FIFO words) and the error code it must raise.
struct Bad {
    what: String,
    packets: Vec<Vec<Beat>>,
    fifo_words: usize,
    code: u32,
}

fn bad_case(rng: &mut ChaCha8Rng, cfg: &Config) -> Bad {
    let n = cfg.tiles as u32;
    let ww = cfg.weight_words as u32;
    let ab = cfg.abuf_words as u32;
    let rb = cfg.rbuf_words as u32;
    let lg = cfg.lg_tiles();
    let big = |rng: &mut ChaCha8Rng| -> u32 {
        if rng.gen_bool(0.3) {
            u32::MAX - rng.gen_range(0..4)
        } else {
            rng.gen_range(0..4 * ww.max(ab).max(rb))
        }
    };
    let kind = rng.gen_range(0..13);
    let mv = |w: [u32; 6]| packet(cfg, &[op::MATVEC, w[0], w[1], w[2], w[3], w[4], w[5]], &[]);
    let (what, packets, fifo_words, code) = match kind {
        0 => {
            let o = rng.gen_range(7..=255);
            (
                format!("opcode {o:#x}"),
                vec![packet(cfg, &[o], &[])],
                0,
                err::OPCODE,
            )
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
                vec![mv([0, g, c, l, 0, 0])],
                0,
                err::SHAPE,
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
                vec![mv([base, g, c, 0, 0, 0])],
                0,
                err::WEIGHT_RANGE,
            )
        }
        3 => {
            let c = rng.gen_range(1..=8u32);
            let in_addr = ab - c * n + 1 + rng.gen_range(0..ab + 5);
            (
                format!("matvec abuf in {in_addr}"),
                vec![mv([0, 1, c, lg, in_addr, 0])],
                0,
                err::ABUF_RANGE,
            )
        }
        4 => {
            let out = rb - n + 1 + big(rng) % (rb + 3);
            (
                format!("matvec rbuf out {out}"),
                vec![mv([0, 1, 1, 0, 0, out])],
                0,
                err::RBUF_RANGE,
            )
        }
        5 => {
            let (f, l) = if rng.gen_bool(0.5) {
                (rng.gen_range(1..n), 0)
            } else {
                (0, n + rng.gen_range(0..100))
            };
            let p = packet(
                cfg,
                &[op::WEIGHT_LOAD, f, l, 0, 1],
                &vec![0; cfg.beat_words()],
            );
            (
                format!("weight load tiles {f}..{l}"),
                vec![p],
                0,
                err::TILE_RANGE,
            )
        }
        6 => {
            let base = rng.gen_range(0..ww);
            let count = ww - base + 1 + big(rng) % 8;
            let p = packet(
                cfg,
                &[op::WEIGHT_LOAD, 0, n - 1, base, count],
                &vec![0x5a5a_5a5a; 64],
            );
            (
                format!("weight load past memory base {base} count {count}"),
                vec![p],
                0,
                err::WEIGHT_RANGE,
            )
        }
        7 => {
            let addr = rng.gen_range(0..ab);
            let count = ab - addr + 1 + rng.gen_range(0..4);
            let p = packet(
                cfg,
                &[op::VBUF_LOAD, addr, count],
                &vec![0; cfg.beat_words() * 2],
            );
            (
                format!("vbuf load addr {addr} count {count}"),
                vec![p],
                0,
                err::ABUF_RANGE,
            )
        }
        8 => {
            let addr = big(rng) % (2 * rb) + 1;
            let count = rb.saturating_sub(addr) + 1;
            (
                format!("vbuf read addr {addr} count {count}"),
                vec![packet(cfg, &[op::VBUF_READ, addr, count], &[])],
                0,
                err::RBUF_RANGE,
            )
        }
        9 => {
            // Payload shorter than the descriptor: tlast early.
            let count = rng.gen_range(2..8u32);
            let chunk_words = cfg.kwidth / 4;
            let p = packet(
                cfg,
                &[op::VBUF_LOAD, 0, count],
                &vec![0x0101_0101; chunk_words * (count as usize - 1)],
            );
            (
                format!("vbuf load short {count}"),
                vec![p],
                0,
                err::STREAM_SHORT,
            )
        }
        10 => {
            // Packet longer than its descriptor: no tlast where expected.
            let count = rng.gen_range(1..4u32);
            let chunk_words = cfg.kwidth / 4;
            let p = if rng.gen_bool(0.5) {
                packet(
                    cfg,
                    &[op::VBUF_LOAD, 0, count],
                    &vec![0x0202_0202; chunk_words * (count as usize + 1)],
                )
            } else {
                packet(cfg, &[op::FENCE], &vec![0; cfg.beat_words()])
            };
            (format!("long packet {count}"), vec![p], 0, err::STREAM_LONG)
        }
        11 => {
            // tlast inside a header (headers span several beats when the stream is narrow).
            let mut p = packet(cfg, &[op::FENCE], &[]);
            if p.len() > 1 {
                p.truncate(1);
                p[0].0 = true;
                (
                    "header cut short".to_string(),
                    vec![p],
                    0,
                    err::STREAM_SHORT,
                )
            } else {
                (
                    "opcode 0x99".to_string(),
                    vec![packet(cfg, &[0x99], &[])],
                    0,
                    err::OPCODE,
                )
            }
        }
        _ => (
            "CMD_FIFO overflow".to_string(),
            vec![],
            17 + rng.gen_range(0..8),
            err::CMD_OVERFLOW,
        ),
    };
    Bad {
        what,
        packets,
        fifo_words,
        code,
    }
}

/// Weight words of every tile as loaded, read back through the backdoor.
fn weight_snapshot(chip: &mut Chip, words: usize) -> Vec<u32> {
    let pieces = chip.cfg.lanes * chip.cfg.kwidth / 4;
    let mut v = Vec::new();
    for t in 0..chip.cfg.tiles {
        for a in 0..words {
            for p in 0..pieces {
                v.push(chip.backdoor_read(t, a, p));
            }
        }
    }
    v
}

#[test]
fn chip_illegal_programs() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_illegal_programs");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    assert_eq!(chip.write(reg::INTR_ENABLE, 3), 0);

    // A legal product whose weights must survive every illegal program.
    let (rows, k) = (cfg.tiles * cfg.lanes * 2, cfg.kwidth * 3);
    let w: Vec<i8> = (0..rows * k)
        .map(|_| rng.gen_range(-127i32..=127) as i8)
        .collect();
    let x: Vec<i8> = (0..k).map(|_| rng.gen_range(-127i32..=127) as i8).collect();
    let place = Placement::new(&cfg, &w, rows, k, 0);
    chip.send(&[
        place.weight_load(&cfg, 0),
        vbuf_load(&cfg, &x, place.in_chunks(), 0),
    ]);
    let words = place.groups * place.chunks;
    let before = weight_snapshot(&mut chip, words + 4);

    for case_no in 0..60u64 {
        chip.backpressure(rng.gen_range(0..40), 0, seed ^ case_no);
        let bad = bad_case(&mut rng, &cfg);
        for _ in 0..bad.fifo_words {
            assert_eq!(chip.write(reg::CMD_FIFO, op::NOP), 0);
        }
        for p in &bad.packets {
            chip.queue(p);
        }
        // Nothing hangs: every beat is taken even after the error.
        assert!(
            chip.flush(1_000_000).is_some(),
            "case {case_no} ({}): input blocked",
            bad.what
        );
        chip.run(20);
        let error = chip.read(reg::ERROR);
        assert_eq!(
            error & 0xff,
            bad.code,
            "case {case_no} ({}), seed {seed}",
            bad.what
        );
        assert_eq!(chip.read(reg::STATUS) & 2, 2, "STATUS.error");
        assert_eq!(chip.read(reg::INTR_STATUS) & 2, 2, "INTR_STATUS.error");
        assert!(chip.irq(), "interrupt line");
        // More input is dropped, not blocked.
        chip.queue(&fence(&cfg));
        assert!(chip.flush(10_000).is_some());
        chip.soft_reset();
        assert_eq!(chip.read(reg::ERROR), 0, "soft reset clears the error");
        assert_eq!(chip.read(reg::STATUS) & 3, 0);
        assert_eq!(chip.write(reg::INTR_STATUS, 3), 0);
        assert!(!chip.irq());
        if case_no % 10 == 9 {
            assert_eq!(
                weight_snapshot(&mut chip, words + 4),
                before,
                "weights unchanged"
            );
            // The chip still computes exactly after recovery.
            chip.send(&[
                vbuf_load(&cfg, &x, place.in_chunks(), 0),
                place.matvec(&cfg, 0, 0, 0),
                fence(&cfg),
            ]);
            let y = read_results(&mut chip, 0, place.out_words(&cfg));
            let want: Vec<i32> = (0..rows)
                .map(|r| {
                    (0..k)
                        .map(|j| i32::from(w[r * k + j]) * i32::from(x[j]))
                        .sum()
                })
                .collect();
            assert_eq!(&y[..rows], &want[..], "after case {case_no}");
        }
    }
    assert_eq!(
        weight_snapshot(&mut chip, words + 4),
        before,
        "weights unchanged"
    );
}

#[test]
fn chip_registers_reset_and_access() {
    if !have_verilator() {
        return;
    }
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    assert_eq!(chip.read(reg::ID), 0x5445_5353);
    assert_eq!(chip.read(reg::VERSION), 0x0000_0100);
    let grid = chip.read(reg::CFG_GRID);
    assert_eq!(((grid & 0xffff) * (grid >> 16)) as usize, cfg.tiles);
    assert_eq!(
        chip.read(reg::CFG_TILE),
        ((cfg.kwidth << 16) | cfg.lanes) as u32
    );
    assert_eq!(chip.read(reg::CFG_WEIGHT_WORDS) as usize, cfg.weight_words);
    assert_eq!(chip.read(reg::CFG_ACT_WORDS) as usize, cfg.act_words);
    assert_eq!(chip.read(reg::CFG_ABUF_WORDS) as usize, cfg.abuf_words);
    assert_eq!(chip.read(reg::CFG_RBUF_WORDS) as usize, cfg.rbuf_words);
    assert_eq!(chip.read(reg::CFG_STREAM) as usize, cfg.stream_width);
    assert_eq!(
        chip.read(reg::CFG_VBUF_WORDS) as usize,
        cfg.abuf_words * cfg.kwidth / 4 + cfg.rbuf_words * cfg.lanes
    );
    for r in [
        reg::STATUS,
        reg::ERROR,
        reg::INTR_STATUS,
        reg::INTR_ENABLE,
        reg::SCRATCH,
    ] {
        assert_eq!(chip.read(r), 0, "reset value of {r:#x}");
    }
    assert_eq!(chip.write(reg::SCRATCH, 0xdead_beef), 0);
    assert_eq!(chip.read(reg::SCRATCH), 0xdead_beef);
    assert_eq!(chip.write(reg::INTR_ENABLE, 3), 0);
    assert_eq!(chip.read(reg::INTR_ENABLE), 3);
    // Read-only registers and unmapped addresses answer SLVERR.
    assert_eq!(chip.write(reg::ID, 0), 2);
    assert_eq!(chip.read(reg::ID), 0x5445_5353);
    assert_eq!(chip.read_resp(0x1fc).1, 2);
    assert_eq!(chip.write(0x1fc, 1), 2);
    assert_eq!(chip.read_resp(reg::CMD_FIFO).1, 2, "CMD_FIFO is write-only");
    // Counters run and snapshot together.
    assert_eq!(chip.write(reg::CTRL, 4), 0);
    let c0 = chip.read64(reg::PERF_CYCLES_LO);
    chip.run(100);
    assert_eq!(
        chip.read64(reg::PERF_CYCLES_LO),
        c0,
        "held until the next snapshot"
    );
    assert_eq!(chip.write(reg::CTRL, 4), 0);
    assert!(chip.read64(reg::PERF_CYCLES_LO) > c0 + 100);
    assert!(
        chip.read64(reg::PERF_STALL_CMD_LO) > 100,
        "idle cycles without a descriptor"
    );
}
