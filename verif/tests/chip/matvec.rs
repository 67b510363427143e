//! Matrix-vector products through the chip's AXI ports on `tiny` (and `sim`): random shapes and
//! partitions under random stream gaps and backpressure, programs of back-to-back products with
//! mixed K partitions, descriptors through CMD_FIFO, and the MAC-busy counter. Every read-back
//! goes to the scoreboard against the golden model's exact int32 product of the test's inputs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::{ChipConfig, Descriptor};

use crate::env::*;

fn random_i8(rng: &mut ChaCha8Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.gen_range(-127i32..=127) as i8).collect()
}

/// A random legal product for `cfg` at weight word `base` with at most `max_words` weight
/// words per tile, a quarter of the result buffer and half of the activation buffer.
fn random_product(
    rng: &mut ChaCha8Rng,
    cfg: &ChipConfig,
    max_words: usize,
    base: usize,
) -> Product {
    loop {
        let lg_pk = rng.gen_range(0..=cfg.lg_tiles());
        let pk = 1usize << lg_pk;
        let pr = cfg.tiles() / pk;
        let rows = rng.gen_range(1..=pr * cfg.lanes * 6);
        let k = rng.gen_range(1..=(pk * cfg.kwidth * 12).min(pk * cfg.act_words * cfg.kwidth));
        let w = random_i8(rng, rows * k);
        let x = random_i8(rng, k);
        let Some(p) = Product::new(cfg, w, rows, k, x, lg_pk, base) else {
            continue;
        };
        if p.words() <= max_words
            && p.in_chunks() <= cfg.abuf_words / 2
            && p.out_words(cfg) <= cfg.rbuf_words / 4
        {
            return p;
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
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    for case_no in 0..40u64 {
        // Every other case with random input gaps and output backpressure.
        let (gap, ready) = if case_no % 2 == 1 {
            (rng.gen_range(0..600), rng.gen_range(400..=1000))
        } else {
            (0, 1000)
        };
        chip.stream_timing(gap, ready, seed ^ case_no);
        let base = rng.gen_range(0..=cfg.weight_words / 2);
        let p = random_product(&mut rng, &cfg, cfg.weight_words / 2, base);
        let in_addr = rng.gen_range(0..=cfg.abuf_words - p.in_chunks());
        let out = rng.gen_range(0..=cfg.rbuf_words - p.out_words(&cfg));
        chip.send(&[
            p.weight_load(&cfg),
            p.vbuf_load(&cfg, in_addr),
            p.matvec(in_addr, out),
            Descriptor::fence(),
        ]);
        chip.expect(&p, out);
        let what = format!(
            "case {case_no}: {}x{} lg_pk {} (seed {seed})",
            p.rows(),
            p.k(),
            p.place.lg_pk
        );
        chip.check_results(out, p.out_words(&cfg), &what);
    }
    let status = chip.dev.status().unwrap();
    assert!(!status.busy && !status.error, "idle, no error: {status:?}");
    assert_eq!(
        status.done_count,
        40 * 5,
        "five descriptors per case completed"
    );
    chip.finish();
}

#[test]
fn chip_matvec_program_mixed_partitions() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_matvec_program_mixed_partitions");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    for round in 0..4u64 {
        chip.stream_timing(300, 600, seed + round);
        // Several matrices side by side in weight memory, one input vector each.
        let (mut base, mut in_addr, mut out) = (0usize, 0usize, 0usize);
        let mut loads = Vec::new();
        let mut program = Vec::new();
        let mut reads = Vec::new();
        let mut steps = 0u64;
        for _ in 0..6 {
            let p = random_product(&mut rng, &cfg, cfg.weight_words / 6, base);
            loads.push(p.weight_load(&cfg));
            loads.push(p.vbuf_load(&cfg, in_addr));
            program.push(p.matvec(in_addr, out));
            steps += (p.words() * cfg.tiles()) as u64;
            base += p.words();
            in_addr += p.in_chunks();
            reads.push((p, out));
            out += reads.last().unwrap().0.out_words(&cfg);
        }
        chip.send(&loads);
        chip.send(&[Descriptor::perf_snapshot()]);
        chip.run(20);
        let mac0 = chip.dev.perf().unwrap().mac_busy;
        // Back-to-back products with different K partitions, one fence at the end.
        program.push(Descriptor::fence());
        program.push(Descriptor::perf_snapshot());
        chip.send(&program);
        chip.wait_idle();
        let mac1 = chip.dev.perf().unwrap().mac_busy;
        assert_eq!(
            mac1 - mac0,
            steps,
            "MAC-busy tile-cycles = MAC steps of the program"
        );
        let (done, _) = chip.dev.interrupts().unwrap();
        assert!(done, "fence raised done");
        chip.dev.clear_interrupts().unwrap();
        for (i, (p, out)) in reads.iter().enumerate() {
            chip.expect(p, *out);
            let what = format!(
                "round {round} product {i} (lg_pk {}, seed {seed})",
                p.place.lg_pk
            );
            chip.check_results(*out, p.out_words(&cfg), &what);
        }
    }
    chip.finish();
}

#[test]
fn chip_cmd_fifo_program() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_cmd_fifo_program");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::open("tiny");
    let cfg = chip.cfg.clone();
    let p = random_product(&mut rng, &cfg, 64, 0);
    chip.send(&[p.weight_load(&cfg), p.vbuf_load(&cfg, 0)]);
    // MATVEC and FENCE through CMD_FIFO (eight header words each), run with CTRL.start.
    for d in [p.matvec(0, 0), Descriptor::fence()] {
        for w in d.header {
            chip.dev.cmd_fifo_push(w).unwrap();
        }
    }
    assert_eq!(
        chip.dev.status().unwrap().done_count,
        2,
        "nothing runs before start"
    );
    chip.dev.enable_interrupts(true, false).unwrap();
    assert!(!chip.irq());
    chip.dev.start().unwrap();
    chip.wait_idle();
    assert!(chip.irq(), "fence interrupt");
    assert_eq!(chip.dev.status().unwrap().done_count, 4);
    chip.expect(&p, 0);
    chip.check_results(0, p.out_words(&cfg), "CMD_FIFO product");
    chip.dev.clear_interrupts().unwrap();
    assert!(!chip.irq());
    chip.finish();
}

#[test]
fn chip_sim_random_matvec() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_sim_random_matvec");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chip = Chip::open("sim");
    let cfg = chip.cfg.clone();
    chip.stream_timing(200, 800, seed);
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
        let base = rng.gen_range(0..1000);
        let p = Product::new(&cfg, w, rows, k, x, lg_pk, base)
            .unwrap_or_else(|| panic!("{rows}x{k} lg_pk {lg_pk} is legal on sim"));
        chip.send(&[
            p.weight_load(&cfg),
            p.vbuf_load(&cfg, 0),
            p.matvec(0, 0),
            Descriptor::fence(),
        ]);
        chip.expect(&p, 0);
        let what = format!("sim product {i}: {rows}x{k} lg_pk {lg_pk} (seed {seed})");
        chip.check_results(0, p.out_words(&cfg), &what);
    }
    chip.finish();
}
