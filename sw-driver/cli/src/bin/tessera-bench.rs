//! `tessera-bench`: wall time of one Llama 3.1 8B decoder-layer token through the simulated chip.
//!
//! Runs the main job's model (one decoder layer of Llama 3.1 8B's exact shapes with the
//! deterministic synthetic weights of `tessera run`, plus `lm_head`) on a simulated
//! configuration, one token per forward pass, every product checked against the golden integer
//! product, and prints per token the wall time of the layer's four operation groups (`qkv`, `o`,
//! `gate_up`, `down`: sending the programs, simulating, reading back, checking) with their
//! simulated cycles, then the median. The one-time costs (starting the model, loading the
//! weights) and `lm_head` are reported separately.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::models::{synthetic_checkpoint, synthetic_dir};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_driver::{ChipConfig, Device};
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::synth::Preset;
use tessera_sim::{open_device, SimTransport};

#[path = "../out.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
mod out;
use crate::out::{errln, outln};

/// Wall time of one Llama 3.1 8B decoder-layer token on the simulated chip.
///
/// The layer-token time is the sum of the wall times of the qkv, o, gate_up and down programs of
/// one token; starting the model, the weight load and lm_head are reported separately.
#[derive(Debug, Parser)]
#[command(name = "tessera-bench", version, about, long_about)]
struct Args {
    /// Configuration of rtl/top/configs.toml.
    #[arg(long, default_value = "sim")]
    config: String,
    /// Tokens, one forward pass each; the median is printed.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    tokens: u32,
    /// Seed of the synthetic weights (0: the weights of `tessera run`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder of synthetic checkpoints [default: target/tessera-synth of the RTL checkout].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// An already built model executable of the configuration (to compare builds: other flags,
    /// --threads); default: build or reuse the cached model.
    #[arg(long, value_name = "EXE")]
    model: Option<PathBuf>,
    /// Skip the golden check of each product (the main job always checks).
    #[arg(long = "no-check", action = clap::ArgAction::SetFalse)]
    check: bool,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// The one-layer model of `tessera run`, written on first use.
fn model(a: &Args) -> Result<Llama> {
    let cache = a
        .cache
        .clone()
        .unwrap_or_else(|| tessera_sim::work_dir().join("tessera-synth"));
    let cache = cache.as_path();
    let mut announced = false;
    let dir = synthetic_checkpoint(cache, Preset::Llama31_8b, 1, a.seed, &mut |_| {
        if !announced {
            errln!(
                "tessera-bench: writing synthetic Llama 3.1 8B weights (1 layer) to {}",
                synthetic_dir(cache, Preset::Llama31_8b, 1, a.seed).display()
            );
            announced = true;
        }
    })?;
    let mut ckpt = Checkpoint::open(&dir).with_context(|| format!("loading {}", dir.display()))?;
    ckpt.config.num_hidden_layers = 1;
    Llama::load(&ckpt, Precision::W8A8).with_context(|| format!("loading {}", dir.display()))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// User plus system CPU seconds of process `pid` so far (Linux `/proc`), if readable.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

struct TokenRow {
    /// CPU time of the simulator process during the token (layer and lm_head).
    sim_cpu_s: f64,
    layer_s: f64,
    layer_cycles: u64,
    lm_head_s: f64,
    lm_head_cycles: u64,
}

fn run(a: &Args) -> Result<()> {
    let load_before = loadavg();
    let t0 = Instant::now();
    let dev = match &a.model {
        Some(exe) => {
            let cfg = ChipConfig::named(&a.config)?;
            Device::open_expecting(SimTransport::spawn(cfg.clone(), exe)?, &cfg)?
        }
        None => open_device(&a.config)?,
    };
    let open_s = t0.elapsed().as_secs_f64();
    let model = model(a)?;
    let cfg = dev.config().clone();
    let map = Mapping::for_model(&cfg, &model, &MapOptions::default())?;
    let mut eng = RtlEngine::new(dev, map)?;
    eng.check = a.check;
    let load = eng.load_model(&model, LoadMode::Auto)?;
    let mut cache = KvCache::new(model.config());
    let vocab = model.config().vocab_size as u64;
    let mut rows = Vec::with_capacity(a.tokens as usize);
    for i in 0..a.tokens as u64 {
        let tok = ((i * 104_729 + 1) % vocab) as u32;
        eng.reset_stats();
        let pid = eng.device().transport().pid();
        let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
        eng.forward(&model, &[tok], &mut cache)?;
        let sim_cpu_s = cpu_seconds(pid).unwrap_or(0.0) - cpu0;
        let st = eng.stats();
        if st.mismatches() != 0 {
            bail!(
                "token {i}: {} products differ from the golden kernel",
                st.mismatches()
            );
        }
        let mut r = TokenRow {
            sim_cpu_s,
            layer_s: 0.0,
            layer_cycles: 0,
            lm_head_s: 0.0,
            lm_head_cycles: 0,
        };
        for op in &st.ops {
            if op.name == "lm_head" {
                r.lm_head_s += op.seconds;
                r.lm_head_cycles += op.perf.cycles;
            } else {
                r.layer_s += op.seconds;
                r.layer_cycles += op.perf.cycles;
            }
        }
        rows.push(r);
    }
    let layer: Vec<f64> = rows.iter().map(|r| r.layer_s).collect();
    let rate: Vec<f64> = rows
        .iter()
        .map(|r| r.layer_cycles as f64 / r.layer_s)
        .collect();
    let lm: Vec<f64> = rows.iter().map(|r| r.lm_head_s).collect();
    // Simulator CPU seconds per layer token: the token's CPU time shared by cycles.
    let cpu: Vec<f64> = rows
        .iter()
        .map(|r| {
            let all = (r.layer_cycles + r.lm_head_cycles).max(1) as f64;
            r.sim_cpu_s * r.layer_cycles as f64 / all
        })
        .collect();
    let med = median(&layer);
    let load_after = loadavg();
    if a.json {
        let j = serde_json::json!({
            "config": a.config,
            "tokens": a.tokens,
            "checked": a.check,
            "model_start_seconds": open_s,
            "weight_load": {
                "mode": format!("{:?}", load.mode),
                "weights": load.weights,
                "seconds": load.seconds,
            },
            "layer_token_seconds": layer,
            "layer_token_cycles": rows.iter().map(|r| r.layer_cycles).collect::<Vec<_>>(),
            "lm_head_seconds": lm,
            "median_layer_token_seconds": med,
            "median_layer_cycles_per_second": median(&rate),
            "median_lm_head_seconds": median(&lm),
            "layer_token_simulator_cpu_seconds": cpu,
            "median_layer_token_simulator_cpu_seconds": median(&cpu),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        });
        outln!("{j}");
        return Ok(());
    }
    outln!(
        "`{}` chip ({} tiles x {}x{} MACs), Llama 3.1 8B shapes, 1 decoder layer + lm_head, \
         products {}checked",
        a.config,
        cfg.tiles(),
        cfg.lanes,
        cfg.kwidth,
        if a.check { "" } else { "not " }
    );
    outln!("model start (build or cache, process): {open_s:.2} s");
    outln!(
        "weight load, once ({:?}): {:.1} M weights in {:.2} s",
        load.mode,
        load.weights as f64 / 1e6,
        load.seconds
    );
    outln!(
        "token  layer cycles  layer wall s  cycles/s  simulator CPU s  lm_head cycles  lm_head wall s"
    );
    for (i, r) in rows.iter().enumerate() {
        outln!(
            "{i:5}  {:12}  {:12.3}  {:8.0}  {:15.3}  {:14}  {:14.3}",
            r.layer_cycles,
            r.layer_s,
            r.layer_cycles as f64 / r.layer_s,
            cpu[i],
            r.lm_head_cycles,
            r.lm_head_s
        );
    }
    outln!(
        "median layer-token wall time: {med:.3} s over {} tokens ({:.0} simulated cycles/s); \
         lm_head {:.3} s; target <= 1 s",
        a.tokens,
        median(&rate),
        median(&lm)
    );
    outln!(
        "simulator CPU time per layer token (median, shared by cycles): {:.3} s",
        median(&cpu)
    );
    outln!("load average before {load_before}, after {load_after}");
    Ok(())
}

fn main() -> ExitCode {
    tessera_driver::quiet_on_closed_pipe();
    let a = match out::parse_args::<Args>("tessera-bench") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let ended = run(&a).and_then(|()| out::finish().context("writing to stdout"));
    match ended {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("tessera-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
