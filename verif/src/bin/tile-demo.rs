//! tile-demo: runs a few random matrix-vector products on the tile models, checks each against
//! the golden model's integer product and prints cycle counts and MAC utilization.

use std::process::ExitCode;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

const HELP: &str = "\
tile-demo: random matrix-vector products on the Verilated tile, checked bit for bit against
the golden model (tessera_golden::quant::matvec_i32_scalar).

USAGE: tile-demo [OPTIONS]

OPTIONS:
  --seed N        random seed (default: 1; TESSERA_SEED also works)
  --config NAME   tiny, sim or all (default: all)
  --rows N        output rows per matrix (default: tiny 13, sim 64)
  --k N           reduction length (default: tiny 100, sim 4096)
  --ops N         matrix-vector products per configuration (default: 3)
  --fst PATH      write an FST waveform of the first configuration run
  -h, --help      this text

Prints one line per check (PASS/FAIL) with cycles, MAC-busy cycles and MAC utilization
(useful MACs / (MACs per cycle x cycles)); exits non-zero if any check fails.";

struct Opts {
    seed: u64,
    configs: Vec<&'static str>,
    rows: Option<u32>,
    k: Option<u32>,
    ops: u32,
    fst: Option<String>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        seed: std::env::var("TESSERA_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
        configs: vec!["tile_tiny", "tile_sim"],
        rows: None,
        k: None,
        ops: 3,
        fst: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            "--seed" => o.seed = num(val("--seed")?)?,
            "--rows" => o.rows = Some(num(val("--rows")?)? as u32),
            "--k" => o.k = Some(num(val("--k")?)? as u32),
            "--ops" => o.ops = num(val("--ops")?)? as u32,
            "--fst" => o.fst = Some(val("--fst")?),
            "--config" => {
                o.configs = match val("--config")?.as_str() {
                    "tiny" => vec!["tile_tiny"],
                    "sim" => vec!["tile_sim"],
                    "all" => vec!["tile_tiny", "tile_sim"],
                    c => return Err(format!("unknown configuration {c} (tiny, sim, all)")),
                }
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    Ok(o)
}

fn demo(o: &Opts, model: &str, first: bool) -> Result<bool, String> {
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
        tile.trace(std::path::Path::new(p), 0, u64::MAX)
            .map_err(|e| e.to_string())?;
        println!("waveform: {p}");
    }
    println!(
        "== {model}: Lanes {} KWidth {} WeightWords {} ActWords {} ({} MACs/cycle); rows {rows}, K {k}, seed {}",
        cfg.lanes,
        cfg.k_width,
        cfg.weight_words,
        cfg.act_words,
        cfg.lanes * cfg.k_width,
        o.seed
    );
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ u64::from(cfg.lanes));
    let mut env = TileEnv::new(tile, o.seed, GapPattern::NONE, 1000);
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
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tile-demo: {e}");
            return ExitCode::from(2);
        }
    };
    let mut all = true;
    for (i, m) in o.configs.iter().enumerate() {
        match demo(&o, m, i == 0) {
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
