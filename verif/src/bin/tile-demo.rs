//! tile-demo: runs a few random matrix-vector products on the tile models, checks each against
//! the golden model's integer product and prints cycle counts and MAC utilization.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

/// Random matrix-vector products on the Verilated tile, checked bit for bit against the golden
/// model (tessera_golden::quant::matvec_i32_scalar).
///
/// Prints one line per check (PASS/FAIL) with cycles, MAC-busy cycles and MAC utilization
/// (useful MACs / (MACs per cycle x cycles)); exits 1 if any check fails, 2 on bad arguments
/// or when a model cannot be built or run.
#[derive(Debug, Parser)]
#[command(name = "tile-demo", long_about)]
struct Opts {
    /// Random seed, decimal or 0x hex [default: TESSERA_SEED if set, else 1].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Tile configurations to run.
    #[arg(long, value_name = "NAME", value_enum, default_value_t = Configs::All)]
    config: Configs,
    /// Output rows per matrix [default: tiny 13, sim 64].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    rows: Option<u32>,
    /// Reduction length [default: tiny 100, sim 4096].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    k: Option<u32>,
    /// Matrix-vector products per configuration.
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    ops: u32,
    /// Write an FST waveform of the first configuration run to PATH.
    #[arg(long, value_name = "PATH")]
    fst: Option<PathBuf>,
}

/// The `--config` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Configs {
    /// tile_tiny
    Tiny,
    /// tile_sim
    Sim,
    /// tile_tiny, then tile_sim
    All,
}

impl Configs {
    fn models(self) -> &'static [&'static str] {
        match self {
            Configs::Tiny => &["tile_tiny"],
            Configs::Sim => &["tile_sim"],
            Configs::All => &["tile_tiny", "tile_sim"],
        }
    }
}

/// A seed: decimal, or hexadecimal after `0x`.
fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    }
    .map_err(|e| format!("not a seed (decimal or 0x hex, 0 to 2^64-1): {e}"))
}

/// The seed: `--seed`, else `TESSERA_SEED`, else 1.
fn seed(o: &Opts) -> Result<u64, String> {
    match (o.seed, std::env::var("TESSERA_SEED")) {
        (Some(s), _) => Ok(s),
        (None, Ok(v)) => parse_seed(&v).map_err(|e| format!("TESSERA_SEED={v}: {e}")),
        (None, Err(_)) => Ok(1),
    }
}

fn demo(o: &Opts, seed: u64, model: &str, first: bool) -> Result<bool, String> {
    let cfg: TileConfig = *TileConfig::get(model).ok_or("model not built")?;
    let tiny = model == "tile_tiny";
    let rows = o.rows.unwrap_or(if tiny { 13 } else { 64 });
    let k = o.k.unwrap_or(if tiny { 100 } else { 4096 });
    if !cfg.is_legal(0, rows, k) {
        return Err(format!(
            "{model}: rows {rows} K {k} do not fit (K <= {}, {} weight words)",
            cfg.max_k(),
            cfg.weight_words
        ));
    }
    let mut tile = Tile::new(model).map_err(|e| e.to_string())?;
    if let (true, Some(p)) = (first, &o.fst) {
        tile.trace(p, 0, u64::MAX).map_err(|e| e.to_string())?;
        println!("waveform: {}", p.display());
    }
    println!(
        "== {model}: Lanes {} KWidth {} WeightWords {} ActWords {} ({} MACs/cycle); rows {rows}, K {k}, seed {seed}",
        cfg.lanes,
        cfg.k_width,
        cfg.weight_words,
        cfg.act_words,
        cfg.lanes * cfg.k_width,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ u64::from(cfg.lanes));
    let mut env = TileEnv::new(tile, seed, GapPattern::NONE, 1000);
    let w: Vec<i8> = (0..rows * k).map(|_| rng.gen_range(-127..=127)).collect();
    for (i, word) in pack_matrix(&cfg, &w, rows, k).iter().enumerate() {
        env.backdoor_write(i as u32, word)
            .map_err(|e| e.to_string())?;
    }
    let mut ok = true;
    for op in 0..o.ops {
        let x: Vec<i8> = (0..k).map(|_| rng.gen_range(-127..=127)).collect();
        let before = env.tile.counters();
        let seen = env.observed.len();
        env.driver.setup(&mut env.tile, 0, rows, k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &x));
        let res = env.drain(10_000_000);
        let used = env.tile.counters() - before;
        let got: Vec<_> = env
            .observed
            .iter()
            .skip(seen)
            .map(|r| (r.lanes.to_vec(), r.last))
            .collect();
        let want: Vec<_> = expected_beats(&cfg, &w, rows, k, &x)
            .into_iter()
            .map(|b| (b.lanes, b.last))
            .collect();
        let pass = res.is_ok() && got == want;
        ok &= pass;
        let util = (rows as f64 * k as f64)
            / (f64::from(cfg.lanes * cfg.k_width) * used.cycles.max(1) as f64);
        println!(
            "  matvec {op}: {}  {} cycles, {} MAC-busy ({:.1} %), MAC utilization {:.3}{}",
            if pass { "PASS" } else { "FAIL" },
            used.cycles,
            used.mac_busy,
            100.0 * used.mac_busy as f64 / used.cycles.max(1) as f64,
            util,
            match res {
                Err(e) => format!("  [{e}]"),
                Ok(_) => String::new(),
            }
        );
    }
    Ok(ok)
}

fn main() -> ExitCode {
    tessera_driver::quiet_on_closed_pipe();
    let o: Opts = match common::parse_args("tile-demo") {
        Ok(o) => o,
        Err(code) => return code,
    };
    let seed = match seed(&o) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tile-demo: {e}");
            return ExitCode::from(2);
        }
    };
    let mut all = true;
    for (i, m) in o.config.models().iter().enumerate() {
        match demo(&o, seed, m, i == 0) {
            Ok(ok) => all &= ok,
            Err(e) => {
                eprintln!("tile-demo: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!(
        "{}",
        if all {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        }
    );
    if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
