//! verif-bench: simulated cycles per second of one tile and of a 16-tile array (`sim`
//! configuration), and the harness's overhead against a plain C++ loop over the same model,
//! measured in one run (medians of interleaved repeats, in CPU time of the thread that runs
//! both, so that other work on a shared machine does not count).

mod common;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tessera_verif::model::MonitorLog;
use tessera_verif::reference::{chunk_acts, pack_matrix};
use tessera_verif::{Tile, TileConfig};

/// Simulation speed of the Verilated tile models and the harness overhead.
///
/// For each model (tile_sim, and tile_array16_sim with --array) the same products run, taking
/// turns product by product, (a) through the harness: Rust drivers queue one product's beats
/// into the C++ transactors, the C++ loop clocks the model until the product is done and the
/// monitors record every handshake, Rust takes the records; and (b) through a plain C++ loop
/// that drives the ports directly. Both present one product at a time, so the model sees the
/// same stimulus and only the driving differs. Times are CPU seconds of the thread running the
/// model (both loops run on it); wall-clock rates are printed beside them. Overhead = harness
/// CPU time per cycle / plain CPU time per cycle - 1.
#[derive(Debug, Parser)]
#[command(name = "verif-bench", long_about)]
struct Args {
    /// Interleaved repeats of each measurement, the two loops in alternating order; medians are
    /// printed, the overhead is the median of the repeats' ratios.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 11,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    repeats: u32,
    /// Back-to-back matrix-vector products per repeat of the 16-tile array; the single tile,
    /// 16 times cheaper per cycle, runs 16 N.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    ops: u32,
    /// Rows per product (must fit the weight memory with K).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    rows: u32,
    /// Reduction length (at most ActWords x KWidth of the model).
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    k: u32,
    /// Also measure the 16-tile array (tile_array16_sim; its first run builds the model, which
    /// takes many minutes). TESSERA_BUILD_ARRAY=1 does the same.
    #[arg(long)]
    array: bool,
}

/// CPU seconds used by the calling thread.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Medians of one model's measurements.
struct Figures {
    harness_cpu: f64,
    bare_cpu: f64,
    harness_wall: f64,
    bare_wall: f64,
    overhead: f64,
    /// Cycles clocked by each loop over all repeats (equal when the stimulus is the same).
    harness_cycles: u64,
    bare_cycles: u64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn err(e: tessera_verif::Error) -> String {
    e.to_string()
}

/// Cycles, CPU seconds and wall seconds of a run.
#[derive(Clone, Copy, Default)]
struct Run {
    cycles: u64,
    cpu: f64,
    wall: f64,
}

impl std::ops::AddAssign for Run {
    fn add_assign(&mut self, o: Run) {
        self.cycles += o.cycles;
        self.cpu += o.cpu;
        self.wall += o.wall;
    }
}

/// `ops` products through the harness: Rust queues each product's beats, the C++ loop clocks
/// the model until the product is done, the monitors record, Rust takes the records (into
/// `log`, whose storage is reused from call to call, as [`tessera_verif::tb::TileEnv`] does).
fn harness_run(
    tile: &mut Tile,
    a: &Args,
    ops: u32,
    flat: &[u8],
    groups: u64,
    log: &mut MonitorLog,
) -> Result<Run, String> {
    let t0 = Instant::now();
    let u0 = thread_cpu();
    let c0 = tile.counters().cycles;
    log.clear();
    for _ in 0..ops {
        tile.push_cfg(0, a.rows, a.k, 0);
        tile.push_acts(flat, 0);
        tile.run_until(groups, u64::MAX / 2, true).map_err(err)?;
        tile.take_log_into(log);
    }
    let du = thread_cpu() - u0;
    let dt = t0.elapsed().as_secs_f64();
    let cycles = tile.counters().cycles - c0;
    if log.res.len() as u64 != groups * u64::from(ops) {
        return Err("harness run lost results".into());
    }
    Ok(Run {
        cycles,
        cpu: du,
        wall: dt,
    })
}

/// The same products through the plain C++ loop over the same model.
fn bare_run(tile: &mut Tile, a: &Args, ops: u32, flat: &[u8]) -> Result<Run, String> {
    let t0 = Instant::now();
    let u0 = thread_cpu();
    let cycles = tile
        .bare_matvec_loop(0, a.rows, a.k, flat, ops)
        .map_err(err)?;
    let du = thread_cpu() - u0;
    let dt = t0.elapsed().as_secs_f64();
    tile.take_log();
    Ok(Run {
        cycles,
        cpu: du,
        wall: dt,
    })
}

fn bench(model: &str, a: &Args, ops: u32) -> Result<Figures, String> {
    let e = err;
    let cfg = *TileConfig::get(model).ok_or("no such model")?;
    let mut tile = Tile::new(model).map_err(e)?;
    let w: Vec<i8> = (0..a.rows * a.k).map(|i| (i * 37 % 255) as i8).collect();
    let x: Vec<i8> = (0..a.k).map(|i| (i * 11 % 253) as i8).collect();
    let words = pack_matrix(&cfg, &w, a.rows, a.k);
    // Front door: the array has no backdoor (its writes are broadcast).
    for (i, word) in words.iter().enumerate() {
        tile.push_wr(i as u32, word, 0);
    }
    tile.run_until_idle(1_000_000).map_err(e)?;
    tile.take_log();
    tile.set_sink(1000, 1);
    let chunks = chunk_acts(&cfg, &x);
    let flat: Vec<u8> = chunks.concat();
    let groups = u64::from(cfg.groups(a.rows));
    let (mut harness, mut bare) = (Vec::new(), Vec::new());
    let (mut harness_wall, mut bare_wall) = (Vec::new(), Vec::new());
    let mut overhead = Vec::new();
    let mut log = MonitorLog::new();
    let (mut harness_cycles, mut bare_cycles) = (0, 0);
    for r in 0..a.repeats as usize {
        // Product by product, the two loops take turns (in alternating order), so that changes
        // in the machine's load fall on both alike.
        let (mut h, mut b) = (Run::default(), Run::default());
        for op in 0..ops {
            if (op as usize + r) % 2 == 0 {
                h += harness_run(&mut tile, a, 1, &flat, groups, &mut log)?;
                b += bare_run(&mut tile, a, 1, &flat)?;
            } else {
                b += bare_run(&mut tile, a, 1, &flat)?;
                h += harness_run(&mut tile, a, 1, &flat, groups, &mut log)?;
            }
        }
        harness_cycles += h.cycles;
        bare_cycles += b.cycles;
        let (hc, bc) = (h.cycles as f64 / h.cpu, b.cycles as f64 / b.cpu);
        harness.push(hc);
        harness_wall.push(h.cycles as f64 / h.wall);
        bare.push(bc);
        bare_wall.push(b.cycles as f64 / b.wall);
        overhead.push(bc / hc - 1.0);
    }
    Ok(Figures {
        harness_cpu: median(&mut harness),
        bare_cpu: median(&mut bare),
        harness_wall: median(&mut harness_wall),
        bare_wall: median(&mut bare_wall),
        overhead: median(&mut overhead),
        harness_cycles,
        bare_cycles,
    })
}

fn main() -> ExitCode {
    tessera_driver::quiet_on_closed_pipe();
    let mut a: Args = match common::parse_args("verif-bench") {
        Ok(a) => a,
        Err(code) => return code,
    };
    a.array |= std::env::var("TESSERA_BUILD_ARRAY").as_deref() == Ok("1");
    // Both models have the `sim` tile's memories.
    if let Some(cfg) = TileConfig::get("tile_sim") {
        if !cfg.is_legal(0, a.rows, a.k) {
            eprintln!(
                "verif-bench: rows {} K {} do not fit the sim tile (K <= {}, rows/Lanes x K/KWidth <= {} weight words) (see --help)",
                a.rows,
                a.k,
                cfg.max_k(),
                cfg.weight_words
            );
            return ExitCode::from(2);
        }
    }
    println!(
        "products: rows {}, K {}; {} x per repeat on tile_sim, {} x on tile_array16_sim; {} repeats, medians",
        a.rows,
        a.k,
        16 * a.ops,
        a.ops,
        a.repeats
    );
    let mut worst = f64::NEG_INFINITY;
    for model in ["tile_sim", "tile_array16_sim"] {
        if model == "tile_array16_sim" && !a.array {
            println!("{model:18} not measured (--array, or TESSERA_BUILD_ARRAY=1)");
            continue;
        }
        let ops = if model == "tile_sim" {
            16 * a.ops
        } else {
            a.ops
        };
        match bench(model, &a, ops) {
            Ok(f) => {
                worst = worst.max(f.overhead);
                println!(
                    "{model:18} harness {:>10.0} cycles/CPU-s   plain C++ loop {:>10.0} cycles/CPU-s   harness overhead {:+.2} %   (wall: {:.0} / {:.0} cycles/s)",
                    f.harness_cpu,
                    f.bare_cpu,
                    100.0 * f.overhead,
                    f.harness_wall,
                    f.bare_wall
                );
                println!(
                    "{:18} cycles clocked: harness {}, plain C++ loop {}{}",
                    "",
                    f.harness_cycles,
                    f.bare_cycles,
                    if f.harness_cycles == f.bare_cycles {
                        " (the same stimulus)"
                    } else {
                        " (stimulus differs)"
                    }
                );
            }
            Err(err) => {
                eprintln!("verif-bench: {model}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    if worst.is_finite() {
        println!(
            "worst harness overhead {:+.2} % (target <= 3 %)",
            100.0 * worst
        );
    }
    ExitCode::SUCCESS
}
