//! `tessera run`: the main job. With the token engine (the default, [`super::run_token`]) a
//! whole Llama decode step per TOKEN on the simulated chip (or a board behind
//! `--transport uart:...`), every token checked bit for bit against the reference interpreter,
//! with cycles per token measured in RTL, host bytes per token, utilisation and a per-stage
//! profile. With `--engine matvec` (this module) a forward pass with every matrix-vector
//! product on the chip, each checked against the golden integer product, the final logits
//! against the golden W8A8 pass, and a report of cycles, utilisation and the `t1-8b`
//! projection.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tessera_driver::mapper::{id_name, MapOptions, Mapping};
use tessera_driver::models::{small_llama, synthetic_checkpoint, synthetic_dir, SmallShape};
use tessera_driver::projection::{project, LatencyModel, Projection};
use tessera_driver::runtime::{LoadMode, LoadReport, RtlEngine, RunStats};
use tessera_driver::uart::{LinkStats, UartTransport};
use tessera_driver::{ChipConfig, Device, Transport};
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::config::Config as ModelConfig;
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::Preset;
use tessera_sim::{open_device, SimTransport};

use super::bringup::{parse_transport, Link};
use super::{inject_fault, link_summary, Quant};
use crate::out::{errln, outln};

/// What runs on the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The token engine: the whole decode step on chip, one TOKEN descriptor per token.
    Token,
    /// Only the matrix-vector products on chip, the rest of the forward pass on the host.
    Matvec,
}

/// Synthetic model used when no checkpoint is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Synthetic {
    /// Llama 3.1 8B's exact shapes (hidden 4096, 32/8 heads, FFN 14336, vocab 128256).
    #[value(name = "llama3.1-8b")]
    Llama8b,
    /// A Llama-shaped model small enough for the `tiny` chip (GQA, tied embeddings).
    Small,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tessera run                                  # 1 layer of Llama 3.1 8B shapes on `sim`
  tessera run --layers 2 --tokens 3 --json
  tessera run --config tiny --synthetic small  # seconds, for a quick check
  tessera run --checkpoint build/smollm2-hf --tokens 16
  tessera run --engine matvec --checkpoint ~/Llama-3.1-8B --layers 1
  tessera run --transport uart:/dev/ttyUSB0 --config ulx3s --synthetic small --layers 2

Engines (--engine):
  token    (default) the model compiled once for the chip's token engine; each token is one
           TOKEN descriptor (token id and position in, NEXT and on request the logits out), its
           outcome checked against the reference interpreter bit for bit. The tokens are a
           prompt (--prompt, default one id drawn from --seed) then greedy (each NEXT fed
           back). Reports cycles per token (performance counters), host bytes per token, token
           utilisation and the cycles per stage of one traced token. Numerics v2 (--quant chip).
           The synthetic Llama 3.1 8B keeps every decoder-layer shape and cuts its vocabulary
           (embedding and lm_head rows) to what the chip's data memory holds beside the KV
           cache; the output says to how many ids.
  matvec   only the matrix-vector products on the chip, each checked against the golden
           integer kernel, the rest of the forward pass on the host; --tokens deterministic ids
           from --seed; the t1-8b projection of the products' cycle model.

Transports (--transport):
  sim[:CONFIG]     the Verilator model of --config (the default); weights by simulation backdoor
  uart:PATH[,OPTION=VALUE...]
                   a board's UART bridge on a serial device or pseudo-terminal (docs/fpga.md):
                   weights through the front door (WEIGHT_LOAD); --config, when given, is the
                   configuration the chip must report. Options: baud (default 1000000), tries
                   (default 4), margin-ms (default 200), board-hz (board clock cycles per second
                   of wall time, for a simulated board)

Exit status: 0 when every token (token engine) or every product and the logits (matvec) are
bit-exact, 1 on a mismatch (the first difference is printed, a replay file and an FST waveform
window are written), 2 on any other error (bad input, a model that does not fit, a device
error, a timeout).")]
pub struct Args {
    /// What runs on the chip: the whole token (`token`) or only the products (`matvec`).
    #[arg(long, value_enum, default_value_t = Engine::Token)]
    pub engine: Engine,
    /// Chip configuration of rtl/top/configs.toml to simulate (default `sim`); with a board
    /// transport, the configuration the chip must report (default: whatever it reports).
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<String>,
    /// The link to the chip: sim[:CONFIG] (default) or uart:/dev/ttyUSB0[,baud=N].
    #[arg(long, value_name = "TRANSPORT")]
    pub transport: Option<String>,
    /// Decoder layers to run (the model is cut to its first N layers; lm_head always runs)
    /// [default: 1; every layer of a --checkpoint on the token engine].
    #[arg(long, value_parser = |s: &str| super::parse_count(s, 1, 4096))]
    pub layers: Option<usize>,
    /// Tokens to run, one forward pass each with the KV cache (decode steps).
    #[arg(long, default_value_t = 3, value_parser = |s: &str| super::parse_count(s, 1, 1 << 20))]
    pub tokens: usize,
    /// Token engine: the prompt, token ids comma-separated (the rest of --tokens is greedy)
    /// [default: one id drawn from --seed].
    #[arg(long, value_name = "IDS", value_parser = super::parse_tokens)]
    pub prompt: Option<super::TokenIds>,
    /// Token engine: positions each KV cache holds, the context the model is compiled for
    /// [default: the configuration's largest, at most the model's max_position_embeddings].
    #[arg(long, value_parser = |s: &str| super::parse_count(s, 1, 1 << 20))]
    pub context: Option<usize>,
    /// Token engine: read back only NEXT, not the logits (the check compares NEXT alone).
    #[arg(long)]
    pub no_logits: bool,
    /// A Hugging Face checkpoint folder instead of synthetic weights.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Synthetic model when no --checkpoint is given.
    #[arg(long, value_enum, default_value_t = Synthetic::Llama8b)]
    pub synthetic: Synthetic,
    /// Seed of the synthetic weights and of the token ids.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for synthetic checkpoints (reused between runs).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Configuration the Llama 3.1 8B tokens/s projection is made for (with --engine token: the
    /// whole token at contexts 1,024 and 4,096; with --engine matvec: the products).
    #[arg(long, default_value = "t1-8b")]
    pub project: String,
    /// Clock of the projection in Hz (1 to 1e12).
    #[arg(long, default_value_t = 1e9, value_parser = super::parse_clock_hz)]
    pub clock_hz: f64,
    /// Where a mismatch leaves its replay file and waveform [default: target/tessera-run of the
    /// RTL checkout].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Token engine, simulated chip: the chip with its weights in ROM, built from the image in
    /// DIR (`tessera rom-image` of the same model); no weight is loaded, and a model whose
    /// weights are not the image's is refused.
    #[arg(long, value_name = "DIR")]
    pub rom: Option<PathBuf>,
    /// Corrupt one weight word after loading (simulation only), to exercise the mismatch path.
    #[arg(long, hide = true)]
    pub inject_fault: bool,
    /// Accept NaN and infinite weights in --checkpoint (refused by default).
    #[arg(long)]
    pub allow_nonfinite: bool,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Numerics of the forward pass: `chip` (v2, the token engine's and its default) or, with
    /// --engine matvec, `w8a8` (v1, its default) or `chip` (the products on the chip, the rest
    /// in the golden model's chip mode on the host).
    #[arg(long, value_parser = super::parse_quant)]
    pub quant: Option<Quant>,
}

impl Args {
    /// Decoder layers of the products-only run (`--layers`, default 1).
    pub(super) fn layers(&self) -> usize {
        self.layers.unwrap_or(1)
    }

    /// `--quant` of the products-only run (default `w8a8`).
    fn quant(&self) -> Quant {
        self.quant.unwrap_or(Quant::W8a8)
    }
}

/// The precision `--quant` names; the chip computes int8 products, so never FP32.
fn precision(a: &Args) -> Result<Precision> {
    match a.quant() {
        Quant::None => bail!("--quant none: the chip multiplies int8 (use w8a8 or chip)"),
        Quant::Mx(r) => bail!(
            "--quant {}: MX block formats run in the golden model only (tessera eval, logits, \
             generate); the chip multiplies int8 (use w8a8 or chip)",
            r.name()
        ),
        q => Ok(q.into()),
    }
}

/// Outcome of the job, for the exit status.
pub enum Outcome {
    BitExact,
    Mismatch,
}

/// The model to run, cut to `layers` decoder layers, in W8A8 or the chip mode (`--quant`).
fn model(a: &Args) -> Result<(Llama, String)> {
    let dir = match (&a.checkpoint, a.synthetic) {
        (Some(d), _) => d.clone(),
        (None, Synthetic::Small) => {
            let shape = SmallShape {
                layers: a.layers(),
                ..SmallShape::tiny()
            };
            let m = small_llama(&shape, a.seed, precision(a)?)?;
            return Ok((m, format!("small synthetic Llama ({} layers)", a.layers())));
        }
        (None, Synthetic::Llama8b) => {
            let cache = a.cache.clone().unwrap_or_else(super::synth_cache);
            synthesize(&cache, a.layers(), a.seed)?
        }
    };
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut ckpt = Checkpoint::open(&dir).with_context(|| format!("loading {}", dir.display()))?;
    ckpt.allow_nonfinite(a.allow_nonfinite);
    let full = ckpt.config.num_hidden_layers;
    if a.layers() > full {
        bail!(
            "--layers {}: {} has {full} layer(s)",
            a.layers(),
            dir.display()
        );
    }
    // The first N layers, then the final norm and lm_head.
    ckpt.config.num_hidden_layers = a.layers();
    let m =
        Llama::load(&ckpt, precision(a)?).with_context(|| format!("loading {}", dir.display()))?;
    Ok((m, dir.display().to_string()))
}

/// The synthetic checkpoint of `--layers` and `--seed`, written on first use with a progress bar.
pub(super) fn synthesize(cache: &Path, layers: usize, seed: u64) -> Result<PathBuf> {
    let bar = bar(0, "{msg:32} [{bar:30}] {bytes}/{total_bytes} eta {eta}");
    let mut announced = false;
    let dir = synthetic_checkpoint(cache, Preset::Llama31_8b, layers, seed, &mut |p| {
        if !announced {
            bar.suspend(|| {
                errln!(
                    "tessera: writing synthetic Llama 3.1 8B weights ({layers} layer(s)) to {}",
                    synthetic_dir(cache, Preset::Llama31_8b, layers, seed).display()
                )
            });
            announced = true;
        }
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(p.tensor.to_owned());
    })?;
    bar.finish_and_clear();
    Ok(dir)
}

pub(super) fn bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(s) = ProgressStyle::with_template(template) {
        b.set_style(s.progress_chars("=> "));
    }
    b
}

/// Deterministic token ids below the vocabulary size.
pub(super) fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    (0..n as u64)
        .map(|i| ((seed.wrapping_mul(7919) + i * 104_729 + 1) % vocab as u64) as u32)
        .collect()
}

fn bits(a: &ndarray::Array2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// The configuration named by `--config` or a `sim:CONFIG` transport (`sim` by default).
fn sim_config(a: &Args) -> String {
    a.config.clone().unwrap_or_else(|| "sim".into())
}

/// Whether the chip is the simulator (no `--transport`, or a `sim` one).
pub(super) fn on_sim(a: &Args) -> bool {
    a.transport
        .as_deref()
        .map_or(true, |t| t.starts_with("sim"))
}

/// The name of the chip in file names and messages.
pub(super) fn chip_label(a: &Args) -> String {
    if !on_sim(a) && a.config.is_none() {
        "board".into()
    } else {
        sim_config(a)
    }
}

pub fn run(a: Args) -> Result<Outcome> {
    let mut a = a;
    let link = match a.transport.as_deref() {
        None | Some("sim") => Link::Sim(sim_config(&a)),
        Some(t) => parse_transport(t)?,
    };
    if let Link::Sim(c) = &link {
        match &a.config {
            Some(cfg) if cfg != c => bail!(
                "--transport {} and --config {cfg} name different configurations",
                a.transport.as_deref().unwrap_or_default()
            ),
            _ => a.config = Some(c.clone()),
        }
        // The simulated chip is built from the RTL: a missing checkout is said before any work.
        tessera_sim::rtl_root()?;
    }
    // Every name is checked before the model loads.
    if let Some(c) = &a.config {
        ChipConfig::named(c).with_context(|| format!("--config {c}"))?;
    }
    ChipConfig::named(&a.project).with_context(|| format!("--project {}", a.project))?;
    if let Some(dir) = &a.rom {
        if a.engine != Engine::Token || !matches!(link, Link::Sim(_)) {
            bail!("--rom: the token engine on a simulated chip only");
        }
        if a.inject_fault {
            bail!("--rom and --inject-fault: a ROM is not written");
        }
        tessera_driver::rom::read_digest(dir)
            .with_context(|| format!("--rom {}", dir.display()))?;
    }
    if a.engine == Engine::Token {
        return super::run_token::run(&a, link);
    }
    for (given, opt) in [
        (a.prompt.is_some(), "--prompt"),
        (a.context.is_some(), "--context"),
        (a.no_logits, "--no-logits"),
    ] {
        if given {
            bail!("{opt}: an option of the token engine (not --engine matvec)");
        }
    }
    let t0 = Instant::now();
    let (model, source) = model(&a)?;
    let max = model.config().max_position_embeddings;
    if a.tokens > max {
        bail!(
            "--tokens {}: more than the model's max_position_embeddings {max}",
            a.tokens
        );
    }
    let toks = tokens(a.tokens, model.config().vocab_size, a.seed);
    if !a.json {
        errln!(
            "tessera run: {source}, {} layer(s), {} token(s) on `{}`",
            model.config().num_hidden_layers,
            a.tokens,
            a.transport.clone().unwrap_or_else(|| sim_config(&a))
        );
    }
    match link {
        Link::Sim(c) => {
            let dev = open_device(&c).with_context(|| format!("opening the `{c}` chip"))?;
            let (mut eng, load) = engine(&model, dev)?;
            if a.inject_fault {
                inject_fault(&mut eng)?;
            }
            finish(&a, &model, &toks, eng, load, t0, |_| None)
        }
        Link::Uart(spec) => {
            if a.inject_fault {
                bail!("--inject-fault needs the simulator (a sim transport)");
            }
            let what = a.transport.clone().unwrap_or_default();
            let t =
                UartTransport::open_spec(&spec).with_context(|| format!("transport `{what}`"))?;
            let dev = match &a.config {
                Some(c) => Device::open_expecting(t, &ChipConfig::named(c)?),
                None => Device::open(t),
            }
            .with_context(|| format!("opening the chip behind `{what}`"))?;
            let (eng, load) = engine(&model, dev)?;
            finish(&a, &model, &toks, eng, load, t0, |t| {
                Some(t.stats().clone())
            })
        }
        Link::Uio(_) => {
            bail!("tessera run: the uio transport is not supported here (use sim or uart)")
        }
    }
}

/// The chip's pass beside the golden pass, the projection and the report.
fn finish<T: Transport>(
    a: &Args,
    model: &Llama,
    toks: &[u32],
    mut eng: RtlEngine<T>,
    load: LoadReport,
    t0: Instant,
    link: impl Fn(&mut T) -> Option<LinkStats>,
) -> Result<Outcome> {
    let mcfg = model.config().clone();
    let chip = eng.device().config().clone();
    if !a.json {
        errln!(
            "tessera run: loaded {:.1} M weights ({:?}) in {:.1} s",
            load.weights as f64 / 1e6,
            load.mode,
            load.seconds
        );
    }
    // The chip's pass, token by token, beside the golden pass (W8A8 or chip mode).
    let pb = bar(
        a.tokens as u64,
        "{msg:24} [{bar:30}] {pos}/{len} tokens, {elapsed}",
    );
    if a.json {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    pb.set_message("forward on the chip");
    let t_fwd = Instant::now();
    let mut chip_cache = KvCache::new(&mcfg);
    let mut gold_cache = KvCache::new(&mcfg);
    let mut logits_equal = true;
    let mut first_logit_diff = None;
    for (i, &t) in toks.iter().enumerate() {
        let got = eng.forward(model, &[t], &mut chip_cache)?;
        let want = model.forward(&[t], &mut gold_cache, &mut GoldenEngine)?;
        if bits(&got) != bits(&want) {
            logits_equal = false;
            if first_logit_diff.is_none() {
                let j = got
                    .iter()
                    .zip(want.iter())
                    .position(|(x, y)| x.to_bits() != y.to_bits())
                    .unwrap_or(0);
                first_logit_diff = Some((
                    i,
                    j,
                    got.iter().nth(j).copied(),
                    want.iter().nth(j).copied(),
                ));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let forward_seconds = t_fwd.elapsed().as_secs_f64();
    let stats = eng.stats().clone();
    let link = link(eng.device().transport());
    drop(eng);
    let bit_exact = logits_equal && stats.mismatches() == 0;

    let target = ChipConfig::named(&a.project)?;
    // The projection is always for the whole Llama 3.1 8B, whatever model the run used.
    let full = ModelConfig::from_json(&Preset::Llama31_8b.config_json(32).to_string())?;
    let proj = project(&target, &full, a.clock_hz, &LatencyModel::RTL)
        .map_err(|e| anyhow::anyhow!("projection on `{}`: {e}", a.project))?;

    let mut artifacts = None;
    if !bit_exact {
        artifacts = Some(leave_artifacts(a, model, toks, &stats, first_logit_diff)?);
    }
    if a.json {
        let run = RunFigures {
            load: &load,
            forward_seconds,
            link: link.as_ref(),
        };
        print_json(a, &chip, &stats, bit_exact, &proj, &artifacts, &run);
    } else {
        print_report(&chip, &stats, bit_exact, logits_equal, &proj, t0);
        if let Some((replay, fst)) = &artifacts {
            errln!("replay file: {}", replay.display());
            match fst {
                Some(f) => errln!("waveform:    {}", f.display()),
                None if !on_sim(a) => errln!("waveform:    none (a board has no waveform)"),
                None => errln!("waveform:    none (the traced model could not be built)"),
            }
        }
    }
    if let Some(l) = &link {
        errln!("tessera run: {}", link_summary(l));
    }
    Ok(if bit_exact {
        Outcome::BitExact
    } else {
        Outcome::Mismatch
    })
}

/// Maps `model` on `dev` (all layers stationary, else one shared layer slot) and loads its
/// weights (simulation backdoor on a simulator, WEIGHT_LOAD through the front door on a board);
/// mismatches are counted, not fatal.
fn engine<T: Transport>(model: &Llama, dev: Device<T>) -> Result<(RtlEngine<T>, LoadReport)> {
    let opts = MapOptions::default();
    let map = match Mapping::for_model(dev.config(), model, &opts) {
        Ok(m) => m,
        Err(_) if model.config().num_hidden_layers > 1 => {
            let shared = MapOptions {
                share_layers: true,
                ..opts
            };
            Mapping::for_model(dev.config(), model, &shared).context("mapping the model")?
        }
        Err(e) => return Err(e).context("mapping the model"),
    };
    let mut eng = RtlEngine::new(dev, map)?;
    eng.fail_on_mismatch = false;
    let load = eng.load_model(model, LoadMode::Auto)?;
    Ok((eng, load))
}

type Artifacts = (PathBuf, Option<PathBuf>);

/// Wall-clock figures of a run and the link's counts (a UART transport).
struct RunFigures<'a> {
    load: &'a LoadReport,
    forward_seconds: f64,
    link: Option<&'a LinkStats>,
}

/// Writes the replay file and re-runs the tokens on a traced model, recording the waveform of
/// the token with the first mismatch.
fn leave_artifacts(
    a: &Args,
    model: &Llama,
    toks: &[u32],
    stats: &RunStats,
    logit_diff: Option<(usize, usize, Option<f32>, Option<f32>)>,
) -> Result<Artifacts> {
    let dir = a
        .artifacts
        .clone()
        .unwrap_or_else(|| tessera_sim::work_dir().join("tessera-run"));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let stamp = format!("{}-s{}-l{}", chip_label(a), a.seed, a.layers());
    let replay = dir.join(format!("run-{stamp}.json"));
    let first = stats.first_mismatch.as_ref();
    let token = first
        .map(|m| m.token)
        .or(logit_diff.map(|d| d.0))
        .unwrap_or(0);
    let mut cmd = String::from("tessera run --engine matvec");
    if let Some(t) = &a.transport {
        cmd.push_str(&format!(" --transport {t}"));
    }
    if let Some(c) = &a.config {
        cmd.push_str(&format!(" --config {c}"));
    }
    cmd.push_str(&format!(
        " --layers {} --tokens {} --seed {}",
        a.layers(),
        a.tokens,
        a.seed
    ));
    if let Some(c) = &a.checkpoint {
        cmd.push_str(&format!(" --checkpoint {}", c.display()));
    } else if a.synthetic == Synthetic::Small {
        cmd.push_str(" --synthetic small");
    }
    if a.inject_fault {
        cmd.push_str(" --inject-fault");
    }
    if a.quant() == Quant::Chip {
        cmd.push_str(" --quant chip");
    }
    let v = json!({
        "command": cmd,
        "config": chip_label(a),
        "tokens": toks,
        "first_mismatch": first.map(|m| json!({
            "location": m.loc.to_string(),
            "token": m.token,
            "chip": m.chip,
            "golden": m.golden,
        })),
        "first_logit_difference": logit_diff.map(|(t, j, g, w)| json!({
            "token": t, "index": j, "chip": g, "golden": w,
        })),
    });
    std::fs::write(&replay, serde_json::to_string_pretty(&v)? + "\n")
        .with_context(|| format!("write {}", replay.display()))?;
    let fst = dir.join(format!("run-{stamp}-token{token}.fst"));
    if !on_sim(a) {
        return Ok((replay, None));
    }
    let traced = trace_token(a, model, token, &fst);
    Ok((replay, traced.ok().map(|_| fst)))
}

/// Runs tokens `0..=token` again on a traced model, dumping only token `token`'s cycles.
fn trace_token(a: &Args, model: &Llama, token: usize, fst: &Path) -> Result<()> {
    errln!("tessera run: re-running token {token} on a traced model for its waveform");
    let mcfg = model.config();
    let toks = tokens(token + 1, mcfg.vocab_size, a.seed);
    let dev = Device::open(SimTransport::open_traced(&sim_config(a))?)?;
    let (mut eng, _) = engine(model, dev)?;
    if a.inject_fault {
        inject_fault(&mut eng)?;
    }
    let mut cache = KvCache::new(mcfg);
    for (i, &tk) in toks.iter().enumerate() {
        if i == token {
            eng.device().transport().trace(Some(fst))?;
        }
        eng.forward(model, &[tk], &mut cache)?;
    }
    eng.device().transport().trace(None)?;
    Ok(())
}

fn print_report(
    chip: &ChipConfig,
    s: &RunStats,
    bit_exact: bool,
    logits_equal: bool,
    p: &Projection,
    t0: Instant,
) {
    let mpc = chip.tiles() * chip.lanes * chip.kwidth;
    outln!(
        "chip `{}`: {}x{} tiles x {}x{} MACs = {} MACs/cycle",
        chip.name,
        chip.grid_rows,
        chip.grid_cols,
        chip.lanes,
        chip.kwidth,
        mpc
    );
    outln!();
    outln!(
        "{:<22} {:>11} {:>9} {:>9} {:>11} {:>5}",
        "matrix",
        "shape",
        "products",
        "matches",
        "mismatches",
        "P_k"
    );
    for m in &s.matrices {
        let name = m.id.as_ref().map(id_name).unwrap_or_default();
        outln!(
            "{name:<22} {:>11} {:>9} {:>9} {:>11} {:>5}",
            format!("{}x{}", m.rows, m.cols),
            m.products,
            m.matches,
            m.mismatches,
            1u32 << m.lg_pk
        );
    }
    outln!();
    outln!(
        "{:<10} {:>9} {:>12} {:>14} {:>8} {:>12} {:>12}",
        "operation",
        "programs",
        "cycles",
        "MAC-busy",
        "busy",
        "input stall",
        "output stall"
    );
    for o in &s.ops {
        let busy = o.perf.mac_busy as f64 / (chip.tiles() as f64 * o.perf.cycles.max(1) as f64);
        outln!(
            "{:<10} {:>9} {:>12} {:>14} {:>7.1}% {:>12} {:>12}",
            o.name,
            o.programs,
            o.perf.cycles,
            o.perf.mac_busy,
            100.0 * busy,
            o.perf.stall_input,
            o.perf.stall_output
        );
    }
    let util = s.mac_utilization(mpc);
    outln!(
        "{:<10} {:>9} {:>12} {:>14}",
        "total",
        s.ops.iter().map(|o| o.programs).sum::<u64>(),
        s.total.cycles,
        s.total.mac_busy
    );
    outln!();
    outln!(
        "products: {} checked, {} mismatched; logits {} the golden pass",
        s.products(),
        s.mismatches(),
        if logits_equal {
            "bit-identical to"
        } else {
            "DIFFERENT from"
        }
    );
    outln!(
        "MAC utilisation (useful MACs / (MACs per cycle x cycles)): {:.4}; MAC-busy {:.4}",
        util,
        s.mac_busy_utilization(chip.tiles())
    );
    if let Some(m) = &s.first_mismatch {
        outln!(
            "first mismatch: {} token {}: chip {} golden {}",
            m.loc,
            m.token,
            m.chip,
            m.golden
        );
    }
    outln!();
    outln!(
        "projection, `{}` ({} tiles, {} MACs/cycle) at {:.2} GHz, Llama 3.1 8B ({} layers), batch 1:",
        p.config,
        p.tiles,
        p.macs_per_cycle,
        p.clock_hz / 1e9,
        p.ops.first().map(|o| o.count).unwrap_or(0)
    );
    outln!(
        "  {:<8} {:>6} {:>13} {:>4} {:>4} {:>5} {:>9}",
        "op",
        "count",
        "shape",
        "G",
        "C",
        "P_k",
        "cycles"
    );
    for o in &p.ops {
        outln!(
            "  {:<8} {:>6} {:>13} {:>4} {:>4} {:>5} {:>9.0}",
            o.name,
            o.count,
            format!("{}x{}", o.rows, o.k),
            o.groups,
            o.chunks,
            o.pk,
            o.cycles
        );
    }
    outln!(
        "  cycles per token {:.0} (cycle model of docs/architecture.md, each product waiting for \
         the previous one)",
        p.cycles_per_token
    );
    outln!(
        "  tokens/s = f_clk x MACs/cycle x utilisation / MACs per token = {:.3e} x {} x {:.4} / \
         {:.4e} = {:.0}",
        p.clock_hz,
        p.macs_per_cycle,
        p.utilization,
        p.macs_per_token,
        p.tokens_per_s
    );
    outln!(
        "  with each product's vectors also crossing the host stream: {:.0} tokens/s",
        p.tokens_per_s_with_host_io
    );
    outln!();
    outln!(
        "{} in {:.1} s",
        if bit_exact { "BIT-EXACT" } else { "MISMATCH" },
        t0.elapsed().as_secs_f64()
    );
}

fn print_json(
    a: &Args,
    chip: &ChipConfig,
    s: &RunStats,
    bit_exact: bool,
    p: &Projection,
    artifacts: &Option<Artifacts>,
    run: &RunFigures,
) {
    let link = run.link;
    let mpc = chip.tiles() * chip.lanes * chip.kwidth;
    let v = json!({
        "engine": "matvec",
        "bit_exact": bit_exact,
        "quant": if a.quant() == Quant::Chip { "chip" } else { "w8a8" },
        "config": chip.name,
        "layers": a.layers(),
        "tokens": a.tokens,
        "matvecs": s.products(),
        "mismatches": s.mismatches(),
        "cycles": s.total.cycles,
        "mac_busy_cycles": s.total.mac_busy,
        "mac_utilization": s.mac_utilization(mpc),
        "per_matrix": s.matrices.iter().map(|m| json!({
            "matrix": m.id.as_ref().map(id_name),
            "rows": m.rows, "cols": m.cols, "products": m.products,
            "matches": m.matches, "mismatches": m.mismatches,
        })).collect::<Vec<_>>(),
        "per_operation": s.ops.iter().map(|o| json!({
            "name": o.name, "programs": o.programs, "cycles": o.perf.cycles,
            "mac_busy": o.perf.mac_busy, "stall_input": o.perf.stall_input,
            "stall_output": o.perf.stall_output,
        })).collect::<Vec<_>>(),
        "projected_tokens_per_s": p.tokens_per_s,
        "projection": {
            "config": p.config, "clock_hz": p.clock_hz, "macs_per_cycle": p.macs_per_cycle,
            "macs_per_token": p.macs_per_token, "cycles_per_token": p.cycles_per_token,
            "utilization": p.utilization,
            "tokens_per_s_with_host_io": p.tokens_per_s_with_host_io,
        },
        "first_mismatch": s.first_mismatch.as_ref().map(|m| json!({
            "location": m.loc.to_string(), "token": m.token, "chip": m.chip, "golden": m.golden,
        })),
        "replay": artifacts.as_ref().map(|(r, _)| r.display().to_string()),
        "waveform": artifacts.as_ref().and_then(|(_, f)| f.as_ref().map(|f| f.display().to_string())),
        "load": {
            "mode": format!("{:?}", run.load.mode), "weights": run.load.weights,
            "image_bytes": run.load.image_bytes, "seconds": run.load.seconds,
        },
        "forward_seconds": run.forward_seconds,
        "transport": a.transport.clone().unwrap_or_else(|| format!("sim:{}", chip.name)),
        "link": link.map(|l| json!({
            "requests": l.requests, "frames": l.frames, "bytes_sent": l.bytes_sent,
            "bytes_received": l.bytes_received, "seconds": l.seconds(), "retries": l.retries,
            "board_bad_crc": l.board_bad_crc, "bad_responses": l.bad_responses,
            "no_response": l.no_response, "stale": l.stale,
        })),
    });
    outln!("{v}");
}
