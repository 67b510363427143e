//! verif-bench: simulated cycles per second of one tile and of a 16-tile array (`sim`
//! configuration), and the harness's overhead against a plain C++ loop over the same model,
//! measured in one run (medians of interleaved repeats).

use std::process::ExitCode;
use std::time::Instant;

use tessera_verif::reference::{chunk_acts, pack_matrix};
use tessera_verif::{Tile, TileConfig};

const HELP: &str = "\
verif-bench: simulation speed of the Verilated tile models and the harness overhead.

USAGE: verif-bench [--repeats N] [--ops N] [--k N] [--rows N]

  --repeats N   interleaved repeats of each measurement; medians are printed (default 5)
  --ops N       back-to-back matrix-vector products per repeat (default 8)
  --rows N      rows per product (default 64)
  --k N         reduction length (default 4096)

For each model (tile_sim, tile_array16_sim) the same products run (a) through the harness:
Rust drivers queue one product's beats into the C++ transactors, the C++ loop clocks the model
until the product is done and the monitors record every handshake, Rust takes the records; and
(b) through a plain C++ loop that drives the ports directly. Both present one product at a time,
so the model sees the same stimulus and only the driving differs. Overhead = harness time per cycle / plain time per cycle - 1.";

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Args {
    repeats: usize,
    ops: u32,
    rows: u32,
    k: u32,
}

fn bench(model: &str, a: &Args) -> Result<(f64, f64, f64), String> {
    let e = |e: tessera_verif::Error| e.to_string();
    let cfg = *TileConfig::get(model).ok_or("model not built")?;
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
    for _ in 0..a.repeats {
        // Harness.
        let t0 = Instant::now();
        let c0 = tile.counters().cycles;
        let mut log = tile.take_log();
        for _ in 0..a.ops {
            tile.push_cfg(0, a.rows, a.k, 0);
            for c in &chunks {
                tile.push_act(c, 0);
            }
            tile.run_until(groups, u64::MAX / 2, true).map_err(e)?;
            log.res.extend(tile.take_log().res);
        }
        let dt = t0.elapsed().as_secs_f64();
        let cycles = tile.counters().cycles - c0;
        if log.res.len() as u64 != groups * u64::from(a.ops) {
            return Err("harness run lost results".into());
        }
        harness.push(cycles as f64 / dt);
        // Plain C++ loop, same products.
        let t0 = Instant::now();
        let cycles = tile
            .bare_matvec_loop(0, a.rows, a.k, &flat, a.ops)
            .map_err(e)?;
        let dt = t0.elapsed().as_secs_f64();
        bare.push(cycles as f64 / dt);
        tile.take_log();
    }
    let h = median(&mut harness);
    let b = median(&mut bare);
    Ok((h, b, b / h - 1.0))
}

fn main() -> ExitCode {
    let mut a = Args {
        repeats: 5,
        ops: 8,
        rows: 64,
        k: 4096,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok());
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--repeats" => a.repeats = num().unwrap_or(5).max(1) as usize,
            "--ops" => a.ops = num().unwrap_or(8).max(1) as u32,
            "--rows" => a.rows = num().unwrap_or(64).max(1) as u32,
            "--k" => a.k = num().unwrap_or(4096).max(1) as u32,
            other => {
                eprintln!("verif-bench: unknown option {other} (see --help)");
                return ExitCode::from(2);
            }
        }
    }
    println!(
        "products: {} x (rows {}, K {}), {} repeats, medians",
        a.ops, a.rows, a.k, a.repeats
    );
    let mut worst = f64::NEG_INFINITY;
    for model in ["tile_sim", "tile_array16_sim"] {
        if TileConfig::get(model).is_none() {
            println!("{model:18} not built (build with TESSERA_BUILD_ARRAY=1)");
            continue;
        }
        match bench(model, &a) {
            Ok((h, b, o)) => {
                worst = worst.max(o);
                println!(
                    "{model:18} harness {:>10.0} cycles/s   plain C++ loop {:>10.0} cycles/s   harness overhead {:+.2} %",
                    h,
                    b,
                    100.0 * o
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
