//! Matrix-vector products through the chip's AXI ports on `tiny`: random shapes and partitions
//! under random stream backpressure, programs of back-to-back products with mixed K partitions,
//! descriptors through CMD_FIFO, and the MAC-busy counter. Every result is compared with the
//! golden model's exact int32 product.

mod chip_common;

use chip_common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The golden model's exact int32 product: `y[r] = sum_k w[r,k] x[k]`.
fn reference(w: &[i8], rows: usize, k: usize, x: &[i8]) -> Vec<i32> {
    tessera_golden::quant::matvec_i32_scalar(w, rows, k, x)
}

fn random_i8(rng: &mut ChaCha8Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.gen_range(-127i32..=127) as i8).collect()
}

struct Case {
    rows: usize,
    k: usize,
    w: Vec<i8>,
    x: Vec<i8>,
    place: Placement,
}

/// A random legal product for `cfg` with at most `max_words` weight words per tile.
fn random_case(rng: &mut ChaCha8Rng, cfg: &Config, max_words: usize) -> Case {
    loop {
        let lg_pk = rng.gen_range(0..=cfg.lg_tiles());
        let pk = 1usize << lg_pk;
        let pr = cfg.tiles / pk;
        let rows = rng.gen_range(1..=pr * cfg.lanes * 6);
        let k = rng.gen_range(1..=(pk * cfg.kwidth * 12).min(pk * cfg.act_words * cfg.kwidth));
        let w = random_i8(rng, rows * k);
        let x = random_i8(rng, k);
        let place = Placement::new(cfg, &w, rows, k, lg_pk);
        if place.groups * place.chunks <= max_words
            && place.in_chunks() <= cfg.abuf_words / 2
            && place.out_words(cfg) <= cfg.rbuf_words / 4
        {
            return Case {
                rows,
                k,
                w,
                x,
                place,
            };
        }
    }
}

#[test]
fn chip_random_matvec() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_random_matvec");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    assert_eq!(chip.read(reg::ID), 0x5445_5353);
    for case_no in 0..40 {
        let (gap, stall) = if case_no % 2 == 1 {
            (rng.gen_range(0..60), rng.gen_range(0..60))
        } else {
            (0, 0)
        };
        chip.backpressure(gap, stall, seed ^ case_no);
        let c = random_case(&mut rng, &cfg, cfg.weight_words / 2);
        let base = rng.gen_range(0..=cfg.weight_words - c.place.groups * c.place.chunks);
        let in_addr = rng.gen_range(0..=cfg.abuf_words - c.place.in_chunks());
        let out = rng.gen_range(0..=cfg.rbuf_words - c.place.out_words(&cfg));
        chip.send(&[
            c.place.weight_load(&cfg, base),
            vbuf_load(&cfg, &c.x, c.place.in_chunks(), in_addr),
            c.place.matvec(&cfg, base, in_addr, out),
            fence(&cfg),
        ]);
        let y = read_results(&mut chip, out, c.place.out_words(&cfg));
        let want = reference(&c.w, c.rows, c.k, &c.x);
        assert_eq!(
            &y[..c.rows],
            &want[..],
            "case {case_no}: {}x{} lg_pk {} (seed {seed})",
            c.rows,
            c.k,
            c.place.lg_pk
        );
        assert!(y[c.rows..].iter().all(|&v| v == 0), "padding rows are zero");
        assert_eq!(chip.read(reg::ERROR), 0);
    }
    let status = chip.read(reg::STATUS);
    assert_eq!(status & 3, 0, "idle, no error");
    assert_eq!(status >> 16, 40 * 5, "five descriptors per case completed");
}

#[test]
fn chip_matvec_program_mixed_partitions() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_matvec_program_mixed_partitions");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    for round in 0..4u64 {
        chip.backpressure(30, 40, seed + round);
        // Several matrices side by side in weight memory, one input vector each.
        let mut cases = Vec::new();
        let (mut base, mut in_addr, mut out) = (0usize, 0usize, 0usize);
        let mut packets = Vec::new();
        let mut program = Vec::new();
        let mut steps = 0u64;
        for _ in 0..6 {
            let c = random_case(&mut rng, &cfg, cfg.weight_words / 6);
            packets.push(c.place.weight_load(&cfg, base));
            packets.push(vbuf_load(&cfg, &c.x, c.place.in_chunks(), in_addr));
            program.push(c.place.matvec(&cfg, base, in_addr, out));
            steps += (c.place.groups * c.place.chunks * cfg.tiles) as u64;
            cases.push((c, out));
            base += cases.last().unwrap().0.place.groups * cases.last().unwrap().0.place.chunks;
            in_addr += cases.last().unwrap().0.place.in_chunks();
            out += cases.last().unwrap().0.place.out_words(&cfg);
        }
        chip.send(&packets);
        chip.send(&[packet(&cfg, &[op::PERF_SNAPSHOT], &[])]);
        chip.run(20);
        let mac0 = chip.read64(reg::PERF_MAC_BUSY_LO);
        // Back-to-back products with different K partitions, one fence at the end.
        program.push(fence(&cfg));
        program.push(packet(&cfg, &[op::PERF_SNAPSHOT], &[]));
        chip.send(&program);
        assert!(chip.wait_idle(1000), "program finished");
        let mac1 = chip.read64(reg::PERF_MAC_BUSY_LO);
        assert_eq!(
            mac1 - mac0,
            steps,
            "MAC-busy tile-cycles = MAC steps of the program"
        );
        assert_eq!(chip.read(reg::INTR_STATUS) & 1, 1, "fence raised done");
        assert_eq!(chip.write(reg::INTR_STATUS, 1), 0);
        for (i, (c, out)) in cases.iter().enumerate() {
            let y = read_results(&mut chip, *out, c.place.out_words(&cfg));
            assert_eq!(
                &y[..c.rows],
                &reference(&c.w, c.rows, c.k, &c.x)[..],
                "round {round} product {i} (lg_pk {}, seed {seed})",
                c.place.lg_pk
            );
        }
    }
}

#[test]
fn chip_cmd_fifo_program() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_cmd_fifo_program");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    let c = random_case(&mut rng, &cfg, 64);
    chip.send(&[
        c.place.weight_load(&cfg, 0),
        vbuf_load(&cfg, &c.x, c.place.in_chunks(), 0),
    ]);
    // MATVEC and FENCE through CMD_FIFO, run with CTRL.start.
    let words = [
        op::MATVEC,
        0,
        c.place.groups as u32,
        c.place.chunks as u32,
        c.place.lg_pk,
        0,
        0,
        0,
        op::FENCE,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    for w in words {
        assert_eq!(chip.write(reg::CMD_FIFO, w), 0);
    }
    assert_eq!(chip.read(reg::STATUS) >> 16, 2, "nothing runs before start");
    assert_eq!(chip.write(reg::INTR_ENABLE, 1), 0);
    assert!(!chip.irq());
    assert_eq!(chip.write(reg::CTRL, 1), 0);
    assert!(chip.wait_idle(1000));
    assert!(chip.irq(), "fence interrupt");
    assert_eq!(chip.read(reg::STATUS) >> 16, 4);
    let y = read_results(&mut chip, 0, c.place.out_words(&cfg));
    assert_eq!(&y[..c.rows], &reference(&c.w, c.rows, c.k, &c.x)[..]);
    assert_eq!(chip.write(reg::INTR_STATUS, 1), 0);
    assert!(!chip.irq());
}

#[test]
fn chip_sim_random_matvec() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_sim_random_matvec");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::new("sim");
    let cfg = chip.cfg.clone();
    chip.backpressure(20, 20, seed);
    // A Llama 3.1 8B shape (k/v projection) and random shapes with random K partitions.
    let mut shapes = vec![(1024usize, 4096usize, 0u32)];
    for _ in 0..3 {
        shapes.push((
            rng.gen_range(1..=2048),
            rng.gen_range(1..=4096),
            rng.gen_range(0..=cfg.lg_tiles()),
        ));
    }
    for (i, (rows, k, lg_pk)) in shapes.into_iter().enumerate() {
        let w = random_i8(&mut rng, rows * k);
        let x = random_i8(&mut rng, k);
        let place = Placement::new(&cfg, &w, rows, k, lg_pk);
        let base = rng.gen_range(0..1000);
        chip.send(&[
            place.weight_load(&cfg, base),
            vbuf_load(&cfg, &x, place.in_chunks(), 0),
            place.matvec(&cfg, base, 0, 0),
            fence(&cfg),
        ]);
        let y = read_results(&mut chip, 0, place.out_words(&cfg));
        assert_eq!(
            &y[..rows],
            &reference(&w, rows, k, &x)[..],
            "sim product {i}: {rows}x{k} lg_pk {lg_pk} (seed {seed})"
        );
    }
    assert_eq!(chip.read(reg::ERROR), 0);
}
