//! Latency calibration: the cycles of matrix-vector products on grids of 4 to 256 tiles
//! (`tiny`, `grid4x4`, `grid8x8`, `grid16x16` of `rtl/top/configs.toml`), measured between two
//! PERF_SNAPSHOTs, next to the cycle model of `tessera_driver::projection` that the `t1-8b`
//! projection uses, with the model's error. `chip_latency_model` checks `tiny` in the quick set;
//! `chip_latency_calibration` (ignored) prints every grid.
//!
//! Run: cargo test --release -p tessera-verif --test chip -- --ignored --nocapture chip_latency

use tessera_abi::{ChipConfig, Descriptor};
use tessera_driver::projection::LatencyModel;

use crate::env::*;

/// Cycles of `program` between a PERF_SNAPSHOT before it and one after it.
fn measure(chip: &mut Chip, program: &[Descriptor]) -> u64 {
    chip.send(&[Descriptor::perf_snapshot()]);
    chip.wait_idle();
    let c0 = chip.dev.perf().unwrap().cycles;
    let mut p = program.to_vec();
    p.push(Descriptor::perf_snapshot());
    chip.send(&p);
    chip.wait_idle();
    chip.dev.perf().unwrap().cycles - c0
}

/// (G, C, log2 P_k) cases legal on `cfg`.
fn shapes(cfg: &ChipConfig) -> Vec<(usize, usize, u32)> {
    let mut v = Vec::new();
    for (g, c) in [(1, 1), (1, 8), (2, 16), (4, 4), (4, 32), (8, 16), (2, 64)] {
        for lg_pk in [0, 2, cfg.lg_tiles()] {
            let pk = 1usize << lg_pk;
            let pr = cfg.tiles() / pk;
            if g * c <= cfg.weight_words
                && c <= cfg.act_words
                && pk * c <= cfg.abuf_words
                && pr * g <= cfg.rbuf_words
                && !v.contains(&(g, c, lg_pk))
            {
                v.push((g, c, lg_pk));
            }
        }
    }
    v
}

/// Cycles of one dependent product (MATVEC then FENCE): the difference between chains of 4 and
/// of 1, divided by 3, so the snapshots' own cycles cancel.
fn dependent_cycles(chip: &mut Chip, g: usize, c: usize, lg_pk: u32) -> f64 {
    let chain = |n: usize| -> Vec<Descriptor> {
        (0..n)
            .flat_map(|_| {
                [
                    Descriptor::matvec(0, g as u32, c as u32, lg_pk, 0, 0),
                    Descriptor::fence(),
                ]
            })
            .collect()
    };
    let one = measure(chip, &chain(1));
    let four = measure(chip, &chain(4));
    (four - one) as f64 / 3.0
}

/// Runs every shape on configuration `name`; returns (shape, measured, model) rows.
fn calibrate(name: &str) -> Vec<((usize, usize, u32), f64, f64)> {
    let mut chip = Chip::open(name);
    let cfg = chip.cfg.clone();
    let x: Vec<i8> = (0..cfg.abuf_words * cfg.kwidth)
        .map(|i| (i % 251) as i8)
        .collect();
    chip.send(&[Descriptor::vbuf_load(&cfg, 0, cfg.abuf_words as u32, &x)]);
    shapes(&cfg)
        .into_iter()
        .map(|(g, c, lg_pk)| {
            let got = dependent_cycles(&mut chip, g, c, lg_pk);
            let model = LatencyModel::RTL.dependent_cycles(cfg.tiles(), 1 << lg_pk, g, c);
            ((g, c, lg_pk), got, model)
        })
        .collect()
}

fn print_rows(name: &str, tiles: usize, rows: &[((usize, usize, u32), f64, f64)]) -> f64 {
    let mut worst: f64 = 0.0;
    for &((g, c, lg_pk), got, model) in rows {
        let err = 100.0 * (model - got) / got;
        worst = worst.max(err.abs());
        println!(
            "{name:<10} {tiles:>5} {g:>4} {c:>4} {:>5} | {got:>9.1} {model:>9.1} {err:>7.2} | {:>6.1}",
            1usize << lg_pk,
            got - LatencyModel::span(tiles, 1 << lg_pk, g, c)
        );
    }
    worst
}

#[test]
#[ignore = "benchmark: builds chip models of 4 to 256 tiles"]
fn chip_latency_calibration() {
    if !have_verilator() {
        return;
    }
    println!(
        "{:<10} {:>5} {:>4} {:>4} {:>5} | {:>9} {:>9} {:>7} | {:>6}",
        "config", "tiles", "G", "C", "P_k", "cycles", "model", "err%", "L"
    );
    let mut worst: f64 = 0.0;
    for name in ["tiny", "grid4x4", "grid8x8", "grid16x16"] {
        let tiles = ChipConfig::named(name).unwrap().tiles();
        worst = worst.max(print_rows(name, tiles, &calibrate(name)));
    }
    println!("largest model error: {worst:.2} %");
}

/// The cycle model behind the `t1-8b` projection agrees with the simulated `tiny` chip within
/// the error stated in docs/architecture.md (the larger grids run in the calibration).
#[test]
fn chip_latency_model() {
    if !have_verilator() {
        return;
    }
    let rows = calibrate("tiny");
    let worst = print_rows("tiny", 4, &rows);
    assert!(
        worst <= 5.0,
        "the cycle model is off by {worst:.2} % on tiny (stated bound 5 %)"
    );
}
