//! `tessera run` on the token engine (the default engine): the model compiled once for the
//! chip, then one TOKEN descriptor per token, a prompt then greedy, each token's `NEXT` (and
//! logits, unless `--no-logits`) checked bit for bit against the reference interpreter. The
//! report: cycles per token from the chip's performance counters, host bytes per token, token
//! utilisation, and the cycles per stage of one traced token (the TOKEN trace flag), all
//! measured in RTL.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tessera_driver::models::{fit_vocab, load_cut, small_llama, SmallShape};
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::{Plan, Stage};
use tessera_driver::token_model::{llama31_8b_on, TokenProjection};
use tessera_driver::transport::{Counting, Traffic};
use tessera_driver::uart::{LinkStats, UartTransport};
use tessera_driver::{ChipConfig, Device, Transport};
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{Llama, Precision};
use tessera_sim::SimTransport;

use super::bringup::Link;
use super::run::{bar, chip_label, on_sim, synthesize, tokens, Args, Outcome, Synthetic};
use super::token::{compile, context, median, median_f64, Difference, Step, TokenChip, Traced};
use super::{link_summary, Quant};
use crate::out::{errln, outln};

/// The model of a token-engine run, compiled.
struct Prepared {
    model: Llama,
    /// What the model is, for the report.
    source: String,
    /// The vocabulary of the checkpoint when the run's is cut to fit the chip.
    vocab_full: Option<usize>,
    context: usize,
    plan: Plan,
    prompt: Vec<u32>,
    /// Llama 3.1 8B on `--project` by context, from the token engine's cycle model.
    projection: TokenProjection,
}

/// Rows of the vocabulary a cut keeps a multiple of: whole row groups on every tile.
fn vocab_granule(cfg: &ChipConfig) -> usize {
    cfg.tiles() * cfg.lanes
}

/// Builds the model (`--synthetic`, `--checkpoint`, `--layers`) in the chip's numerics, sizes it
/// for `cfg` (the context; the synthetic Llama 3.1 8B's vocabulary) and compiles it.
fn prepare(a: &Args, cfg: &ChipConfig, projection: TokenProjection) -> Result<Prepared> {
    let chip = Precision::Chip;
    let (model, source, vocab_full) = match (&a.checkpoint, a.synthetic) {
        (Some(dir), _) => {
            if !dir.is_dir() {
                bail!("{}: not a directory", dir.display());
            }
            let mut ckpt =
                Checkpoint::open(dir).with_context(|| format!("loading {}", dir.display()))?;
            ckpt.allow_nonfinite(a.allow_nonfinite);
            let full = ckpt.config.num_hidden_layers;
            let layers = a.layers.unwrap_or(full);
            if layers > full {
                bail!("--layers {layers}: {} has {full} layer(s)", dir.display());
            }
            ckpt.config.num_hidden_layers = layers;
            let ctx = context(cfg, ckpt.config(), a.context);
            // Compiled from config.json first: a model that does not fit is said before its
            // weights load.
            tessera_driver::token::plan(cfg, ckpt.config(), ctx).with_context(|| {
                format!(
                    "{}: does not fit the token engine of `{}` at context {ctx}",
                    dir.display(),
                    cfg.name
                )
            })?;
            let m =
                Llama::load(&ckpt, chip).with_context(|| format!("loading {}", dir.display()))?;
            (m, dir.display().to_string(), None)
        }
        (None, Synthetic::Small) => {
            let shape = SmallShape {
                layers: a.layers(),
                ..SmallShape::tiny()
            };
            let m = small_llama(&shape, a.seed, chip)?;
            (
                m,
                format!("small synthetic Llama ({} layers)", a.layers()),
                None,
            )
        }
        (None, Synthetic::Llama8b) => {
            let cache = a.cache.clone().unwrap_or_else(super::synth_cache);
            let dir = synthesize(&cache, a.layers(), a.seed)?;
            let ckpt =
                Checkpoint::open(&dir).with_context(|| format!("loading {}", dir.display()))?;
            let mut mcfg = ckpt.config().clone();
            mcfg.num_hidden_layers = a.layers();
            let ctx = context(cfg, &mcfg, a.context);
            let full = mcfg.vocab_size;
            let vocab = fit_vocab(cfg, &mcfg, ctx, vocab_granule(cfg)).with_context(|| {
                format!(
                    "Llama 3.1 8B, {} layer(s), does not fit the token engine of `{}` at context \
                     {ctx} with any vocabulary",
                    a.layers(),
                    cfg.name
                )
            })?;
            let m = load_cut(&ckpt, a.layers(), vocab, chip)
                .with_context(|| format!("loading {}", dir.display()))?;
            let source = format!("synthetic Llama 3.1 8B ({} layer(s))", a.layers());
            (m, source, (vocab < full).then_some(full))
        }
    };
    let mcfg = model.config();
    let ctx = context(cfg, mcfg, a.context);
    if a.tokens > ctx {
        bail!(
            "--tokens {}: more than the context {ctx} the model is compiled for (see --context)",
            a.tokens
        );
    }
    let vocab = mcfg.vocab_size;
    let prompt = match &a.prompt {
        Some(ids) => {
            if let Some(t) = ids.0.iter().find(|&&t| t as usize >= vocab) {
                bail!("--prompt: token {t} is past the vocabulary ({vocab} ids)");
            }
            if ids.0.len() > a.tokens {
                bail!(
                    "--prompt: {} ids, more than --tokens {}",
                    ids.0.len(),
                    a.tokens
                );
            }
            ids.0.clone()
        }
        None => tokens(1, vocab, a.seed),
    };
    let plan = compile(cfg, &model, ctx)?;
    Ok(Prepared {
        model,
        source,
        vocab_full,
        context: ctx,
        plan,
        prompt,
        projection,
    })
}

pub fn run(a: &Args, link: Link) -> Result<Outcome> {
    match a.quant {
        None | Some(Quant::Chip) => {}
        Some(Quant::None) => bail!("--quant none: the chip multiplies int8 (use chip)"),
        Some(Quant::Mx(r)) => bail!(
            "--quant {}: MX block formats run in the golden model only; the token engine \
             computes numerics v2 (use chip)",
            r.name()
        ),
        Some(Quant::W8a8) => bail!(
            "--quant w8a8: the token engine computes numerics v2 (--quant chip); products-only \
             runs in w8a8 take --engine matvec"
        ),
    }
    // The projection is priced before any work: a `--project` that cannot hold the model is
    // said at the door.
    let project =
        ChipConfig::named(&a.project).with_context(|| format!("--project {}", a.project))?;
    let projection = llama31_8b_on(&project, a.clock_hz)
        .with_context(|| format!("--project {}: Llama 3.1 8B on the token engine", a.project))?;
    let t0 = Instant::now();
    match link {
        Link::Sim(c) => {
            let cfg = ChipConfig::named(&c).with_context(|| format!("--config {c}"))?;
            let prep = prepare(a, &cfg, projection)?;
            announce(a, &prep, &cfg);
            let t = match &a.rom {
                Some(dir) => {
                    let rom = tessera_sim::WeightRom {
                        dir: dir.clone(),
                        digest: tessera_driver::rom::read_digest(dir)?,
                    };
                    SimTransport::open_rom(&c, &rom)
                }
                None => SimTransport::open(&c),
            }
            .with_context(|| format!("opening the `{c}` chip"))?;
            let mut dev = Device::open_expecting(Counting::new(t), &cfg)
                .with_context(|| format!("opening the `{c}` chip"))?;
            let pid = dev.transport().inner.pid();
            let mut chip = TokenChip::load(dev, prep.plan.clone(), &prep.model, LoadMode::Auto)?;
            chip.sim_pid = Some(pid);
            if a.inject_fault {
                chip.inject_fault()?;
            }
            job(a, &prep, chip, t0, |_| None)
        }
        Link::Uart(spec) => {
            if a.inject_fault {
                bail!("--inject-fault needs the simulator (a sim transport)");
            }
            let what = a.transport.clone().unwrap_or_default();
            let t =
                UartTransport::open_spec(&spec).with_context(|| format!("transport `{what}`"))?;
            let dev = match &a.config {
                Some(c) => Device::open_expecting(Counting::new(t), &ChipConfig::named(c)?),
                None => Device::open(Counting::new(t)),
            }
            .with_context(|| format!("opening the chip behind `{what}`"))?;
            let cfg = dev.config().clone();
            let prep = prepare(a, &cfg, projection)?;
            announce(a, &prep, &cfg);
            let chip = TokenChip::load(dev, prep.plan.clone(), &prep.model, LoadMode::Auto)?;
            job(a, &prep, chip, t0, |t| Some(t.inner.stats().clone()))
        }
        Link::Uio(_) => {
            bail!("tessera run: the uio transport is not supported here (use sim or uart)")
        }
    }
}

/// The model and what it was compiled into, on stderr (human output only).
fn announce(a: &Args, p: &Prepared, cfg: &ChipConfig) {
    if a.json {
        return;
    }
    let m = p.model.config();
    let vocab = match p.vocab_full {
        Some(full) => format!(
            "vocabulary cut from {full} to {} ids (embedding and lm_head rows) to fit the data \
             memory of `{}`",
            m.vocab_size, cfg.name
        ),
        None => format!("vocabulary {}", m.vocab_size),
    };
    errln!(
        "tessera run: {}, {} layer(s), {vocab}; {} token(s) on the token engine of `{}`",
        p.source,
        m.num_hidden_layers,
        a.tokens,
        a.transport.clone().unwrap_or_else(|| cfg.name.clone())
    );
    let s = p.plan.sizes;
    errln!(
        "tessera run: compiled at context {}: {} instructions of {}, weight words {} of {} per \
         tile, DMEM {} B of constants + {} B of KV cache of {} B, VMEM {} of {} words",
        p.context,
        s.instrs,
        s.instrs_max,
        s.weight_words,
        s.weight_words_max,
        s.const_bytes,
        s.kv_bytes,
        s.dmem_max,
        s.vmem_words,
        s.vmem_max
    );
    if on_sim(a) {
        errln!(
            "tessera run: writing the weights and {:.1} MB of DMEM constants into the simulated \
             memories (backdoor), the program by ENG_LOAD",
            s.const_bytes as f64 / 1e6
        );
    } else {
        errln!(
            "tessera run: loading {:.1} MB of DMEM constants by ENG_LOAD and the weights",
            s.const_bytes as f64 / 1e6
        );
    }
}

/// The figures of a run, for both outputs.
struct Figures {
    steps: Vec<Step>,
    fed: Vec<u32>,
    first: Option<(usize, Difference)>,
    traced: Option<(usize, Traced)>,
    macs_per_cycle: u64,
    weight_macs: u64,
    tokens_seconds: f64,
    link: Option<LinkStats>,
}

impl Figures {
    fn cycles(&self) -> Vec<u64> {
        self.steps.iter().map(|s| s.cycles).collect()
    }

    fn median_cycles(&self) -> u64 {
        median(&self.cycles())
    }

    /// Weight MACs of a token ÷ (MACs per cycle × median cycles per token).
    fn utilization(&self) -> f64 {
        let c = self.median_cycles().max(1);
        self.weight_macs as f64 / (self.macs_per_cycle as f64 * c as f64)
    }

    fn host_bytes(&self) -> u64 {
        median(&self.steps.iter().map(Step::host_bytes).collect::<Vec<_>>())
    }

    fn check_bytes(&self) -> u64 {
        median(&self.steps.iter().map(|s| s.check_bytes).collect::<Vec<_>>())
    }

    fn seconds(&self) -> f64 {
        median_f64(
            &self
                .steps
                .iter()
                .map(|s| s.chip_seconds)
                .collect::<Vec<_>>(),
        )
    }

    /// Median CPU time of the simulator per token (a simulated chip).
    fn sim_cpu(&self) -> Option<f64> {
        let v: Option<Vec<f64>> = self.steps.iter().map(|s| s.sim_cpu_seconds).collect();
        v.filter(|v| !v.is_empty()).map(|v| median_f64(&v))
    }
}

/// The tokens on the chip beside the interpreter, the traced token, the report.
fn job<T: Transport>(
    a: &Args,
    p: &Prepared,
    mut chip: TokenChip<T>,
    t0: Instant,
    link: impl Fn(&mut Counting<T>) -> Option<LinkStats>,
) -> Result<Outcome> {
    if !a.json {
        errln!(
            "tessera run: loaded {:.1} MB of weights ({:?}), {} program words and {} DMEM words \
             ({}) in {:.1} s",
            chip.load.weight_bytes as f64 / 1e6,
            chip.load.mode,
            chip.load.program_words,
            chip.load.dmem_words,
            if chip.load.dmem_backdoor {
                "Backdoor"
            } else {
                "ENG_LOAD"
            },
            chip.load.seconds
        );
    }
    let logits = !a.no_logits;
    let pb = bar(
        a.tokens as u64,
        "{msg:24} [{bar:30}] {pos}/{len} tokens, {elapsed}, eta {eta}",
    );
    if a.json {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    pb.set_message("tokens on the engine");
    let t_tokens = Instant::now();
    let mut steps: Vec<Step> = Vec::with_capacity(a.tokens);
    let mut fed = Vec::with_capacity(a.tokens);
    let mut first = None;
    let mut tok = p.prompt[0];
    for i in 0..a.tokens {
        if let Some(&t) = p.prompt.get(i) {
            tok = t;
        }
        let s = chip
            .step(tok, i as u32, logits)
            .with_context(|| format!("token {i} (id {tok}, position {i})"))?;
        fed.push(tok);
        pb.inc(1);
        if let Some(d) = s.difference() {
            first = Some((i, d));
            steps.push(s);
            break;
        }
        match &s.chip {
            Ok(o) => tok = o.next,
            Err(f) => {
                pb.finish_and_clear();
                bail!("token {i} (id {tok}, position {i}): {f} (the interpreter stops alike)")
            }
        }
        steps.push(s);
    }
    pb.finish_and_clear();
    let tokens_seconds = t_tokens.elapsed().as_secs_f64();
    // The per-stage profile: the last token again, traced (its position's KV entries are
    // rewritten with the same values, so it repeats exactly).
    let mut traced = None;
    if first.is_none() {
        let last = steps.len() - 1;
        let (t, pos) = (steps[last].token, steps[last].pos);
        let tr = chip.trace(t, pos, logits).context("the traced token")?;
        let again = Step {
            chip: Ok(tr.out.clone()),
            ..steps[last].clone()
        };
        if let Some(d) = again.difference() {
            first = Some((
                last,
                Difference {
                    what: format!("traced re-run: {}", d.what),
                    ..d
                },
            ));
        }
        traced = Some((last, tr));
    }
    let mut f = Figures {
        macs_per_cycle: chip.macs_per_cycle(),
        weight_macs: chip.plan.weight_macs(),
        steps,
        fed,
        first,
        traced,
        tokens_seconds,
        link: None,
    };
    f.link = link(chip.rt.device().transport());
    let load = chip.load.clone();
    drop(chip);
    let bit_exact = f.first.is_none();
    let artifacts = match &f.first {
        Some((i, d)) => Some(leave_artifacts(a, p, &f.fed, *i, d)?),
        None => None,
    };
    if a.json {
        print_json(a, p, &f, &load, bit_exact, &artifacts);
    } else {
        print_report(a, p, &f, bit_exact, t0);
        if let Some((replay, fst)) = &artifacts {
            errln!("replay file: {}", replay.display());
            match fst {
                Some(w) => errln!("waveform:    {}", w.display()),
                None if !on_sim(a) => errln!("waveform:    none (a board has no waveform)"),
                None => errln!("waveform:    none (the traced model could not be built)"),
            }
        }
    }
    if let Some(l) = &f.link {
        errln!("tessera run: {}", link_summary(l));
    }
    Ok(if bit_exact {
        Outcome::BitExact
    } else {
        Outcome::Mismatch
    })
}

fn stage_json(p: &Prepared, f: &Figures) -> Value {
    match &f.traced {
        None => Value::Null,
        Some((i, t)) => {
            let mut cycles = serde_json::Map::new();
            for (s, c) in Stage::ALL.iter().zip(t.stages) {
                cycles.insert(s.name().into(), json!(c));
            }
            let instrs: Vec<Value> = t
                .instr_cycles
                .iter()
                .enumerate()
                .map(|(pc, c)| {
                    json!({
                        "pc": pc,
                        "op": format!("{:?}", p.plan.program[pc].op()),
                        "stage": p.plan.stages[pc].name(),
                        "cycles": c,
                    })
                })
                .collect();
            json!({
                "token": i,
                "position": f.steps[*i].pos,
                "cycles": cycles,
                "per_instruction": instrs,
                "traced_cycles": t.stages.iter().sum::<u64>(),
                "token_cycles": f.steps[*i].cycles,
                "instructions": t.instr_cycles.len() + 1,
            })
        }
    }
}

fn print_json(
    a: &Args,
    p: &Prepared,
    f: &Figures,
    load: &tessera_driver::token_runtime::EngineLoadReport,
    bit_exact: bool,
    artifacts: &Option<(PathBuf, Option<PathBuf>)>,
) {
    let cfg = &p.plan.cfg;
    let m = p.model.config();
    let per_token: Vec<Value> = f
        .steps
        .iter()
        .map(|s| {
            json!({
                "token": s.token,
                "position": s.pos,
                "next": s.chip.as_ref().ok().map(|o| o.next),
                "cycles": s.cycles,
                "mac_busy": s.mac_busy,
                "host_bytes": s.host_bytes(),
                "check_bytes": s.check_bytes,
                "stream_to_chip": s.stream_to_chip,
                "stream_from_chip": s.stream_from_chip,
                "register_accesses": s.reg_accesses,
                "seconds": s.chip_seconds,
                "sim_cpu_seconds": s.sim_cpu_seconds,
                "check_seconds": s.check_seconds,
            })
        })
        .collect();
    let mac_busy: u64 = f.steps.iter().map(|s| s.mac_busy).sum();
    let cycles: u64 = f.steps.iter().map(|s| s.cycles).sum();
    let mut v = json!({
        "engine": "token",
        "bit_exact": bit_exact,
        "quant": "chip",
        "config": cfg.name,
        "model": p.source,
        "layers": m.num_hidden_layers,
        "vocab": m.vocab_size,
        "vocab_full": p.vocab_full,
        "context": p.context,
        "tokens": f.steps.len(),
        "prompt": p.prompt,
        "token_ids": f.fed,
        "logits_checked": !a.no_logits,
        "instructions": p.plan.program.len(),
        "cycles_per_token": {
            "median": f.median_cycles(),
            "per_token": f.cycles(),
        },
        "macs_per_cycle": f.macs_per_cycle,
        "weight_macs_per_token": f.weight_macs,
        "token_utilization": f.utilization(),
        "mac_busy_utilization": mac_busy as f64 / (cfg.tiles() as f64 * cycles.max(1) as f64),
        "host_bytes_per_token": f.host_bytes(),
        "check_bytes_per_token": f.check_bytes(),
        "register_access_bytes": Traffic::REG_ACCESS_BYTES,
        "per_stage_cycles": stage_json(p, f),
        "seconds_per_token": f.seconds(),
        "sim_cpu_seconds_per_token": f.sim_cpu(),
        "load_average": super::token::load_average(),
        "tokens_seconds": f.tokens_seconds,
        "per_token": per_token,
        "first_difference": f.first.as_ref().map(|(i, d)| json!({
            "token": i, "position": i, "what": d.what, "chip": d.chip,
            "interpreter": d.interpreter,
        })),
        "replay": artifacts.as_ref().map(|(r, _)| r.display().to_string()),
        "waveform": artifacts.as_ref().and_then(|(_, w)| w.as_ref().map(|w| w.display().to_string())),
        "projection": p.projection.to_json(),
        "transport": a.transport.clone().unwrap_or_else(|| format!("sim:{}", cfg.name)),
    });
    let sz = &p.plan.sizes;
    v["load"] = json!({
        "mode": format!("{:?}", load.mode), "weight_bytes": load.weight_bytes,
        "program_words": load.program_words, "dmem_words": load.dmem_words,
        "dmem_backdoor": load.dmem_backdoor,
        "descriptors": load.descriptors, "stream_bytes": load.stream_bytes,
        "seconds": load.seconds, "cycles": load.cycles,
    });
    v["sizes"] = json!({
        "weight_words": sz.weight_words, "weight_words_max": sz.weight_words_max,
        "const_bytes": sz.const_bytes, "kv_bytes": sz.kv_bytes,
        "dmem_bytes_max": sz.dmem_max, "vmem_words": sz.vmem_words,
        "vmem_words_max": sz.vmem_max,
    });
    v["link"] = json!(f.link.as_ref().map(|l| json!({
        "requests": l.requests, "frames": l.frames, "bytes_sent": l.bytes_sent,
        "bytes_received": l.bytes_received, "seconds": l.seconds(), "retries": l.retries,
    })));
    outln!("{v}");
}

fn print_report(a: &Args, p: &Prepared, f: &Figures, bit_exact: bool, t0: Instant) {
    let cfg = &p.plan.cfg;
    outln!(
        "chip `{}`: {}x{} tiles x {}x{} MACs = {} MACs/cycle; token engine, context {}",
        cfg.name,
        cfg.grid_rows,
        cfg.grid_cols,
        cfg.lanes,
        cfg.kwidth,
        f.macs_per_cycle,
        p.context
    );
    if let Some(full) = p.vocab_full {
        outln!(
            "vocabulary: {} ids of {full} (embedding and lm_head rows cut to fit the data memory; \
             every decoder layer whole)",
            p.model.config().vocab_size
        );
    }
    outln!();
    let show = f.steps.len() <= 24;
    if show {
        outln!(
            "{:>5} {:>7} {:>7} {:>12} {:>11} {:>12} {:>9}",
            "pos",
            "token",
            "next",
            "cycles",
            "host bytes",
            "check bytes",
            "seconds"
        );
        for s in &f.steps {
            let next = s
                .chip
                .as_ref()
                .map(|o| o.next.to_string())
                .unwrap_or_else(|e| e.to_string());
            outln!(
                "{:>5} {:>7} {:>7} {:>12} {:>11} {:>12} {:>9.3}",
                s.pos,
                s.token,
                next,
                s.cycles,
                s.host_bytes(),
                s.check_bytes,
                s.chip_seconds
            );
        }
        outln!();
    }
    let cycles = f.cycles();
    outln!(
        "cycles per token (performance counters): median {} (min {}, max {}) over {} token(s)",
        f.median_cycles(),
        cycles.iter().min().copied().unwrap_or(0),
        cycles.iter().max().copied().unwrap_or(0),
        cycles.len()
    );
    outln!(
        "token utilisation (weight MACs / (MACs per cycle x cycles)): {} / ({} x {}) = {:.4}",
        f.weight_macs,
        f.macs_per_cycle,
        f.median_cycles(),
        f.utilization()
    );
    if let Some(s) = f.steps.first() {
        let regs = median(&f.steps.iter().map(|s| s.reg_accesses).collect::<Vec<_>>());
        outln!(
            "host bytes per token, NEXT only: {} (TOKEN {} B in, {} B out, {} register accesses \
             x {} B)",
            f.host_bytes(),
            s.stream_to_chip,
            s.stream_from_chip - s.check_bytes,
            regs,
            Traffic::REG_ACCESS_BYTES
        );
    }
    if a.no_logits {
        outln!("logits: not read back (--no-logits); NEXT checked");
    } else {
        outln!(
            "logits read back for the check: {} bytes per token (apart)",
            f.check_bytes()
        );
    }
    if let Some((i, t)) = &f.traced {
        let total: u64 = t.stages.iter().sum();
        outln!();
        outln!(
            "cycles per stage, token {i} (position {}) traced:",
            f.steps[*i].pos
        );
        for (s, c) in Stage::ALL.iter().zip(t.stages) {
            outln!(
                "  {:<10} {:>12} {:>6.1}%",
                s.name(),
                c,
                100.0 * c as f64 / total.max(1) as f64
            );
        }
        outln!(
            "  {:<10} {:>12} in {} instructions (the token untraced: {} cycles)",
            "total",
            total,
            t.instr_cycles.len() + 1,
            f.steps[*i].cycles
        );
    }
    outln!();
    super::report::print_token_projection(&p.projection);
    let cpu = match f.sim_cpu() {
        Some(c) => format!(" (simulator CPU {c:.3} s)"),
        None => String::new(),
    };
    let load = super::token::load_average()
        .map(|l| format!("; load average {l}"))
        .unwrap_or_default();
    outln!(
        "wall time per token on the chip: median {:.3} s{cpu}; {} token(s) with the checks in \
         {:.1} s{load}",
        f.seconds(),
        f.steps.len(),
        f.tokens_seconds
    );
    if let Some((i, d)) = &f.first {
        outln!(
            "first difference: token {i} (position {i}): {}: chip {}, interpreter {}",
            d.what,
            d.chip,
            d.interpreter
        );
    }
    outln!(
        "{} in {:.1} s",
        if bit_exact { "BIT-EXACT" } else { "MISMATCH" },
        t0.elapsed().as_secs_f64()
    );
}

/// Writes the replay file and, on the simulator, re-runs the tokens up to the first difference
/// on a traced model, recording that token's waveform.
fn leave_artifacts(
    a: &Args,
    p: &Prepared,
    fed: &[u32],
    token: usize,
    d: &Difference,
) -> Result<(PathBuf, Option<PathBuf>)> {
    let dir = a
        .artifacts
        .clone()
        .unwrap_or_else(|| tessera_sim::work_dir().join("tessera-run"));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let layers = p.model.config().num_hidden_layers;
    let stamp = format!("token-{}-s{}-l{layers}", chip_label(a), a.seed);
    let replay = dir.join(format!("run-{stamp}.json"));
    let mut cmd = String::from("tessera run --engine token");
    if let Some(t) = &a.transport {
        cmd.push_str(&format!(" --transport {t}"));
    }
    if let Some(c) = &a.config {
        cmd.push_str(&format!(" --config {c}"));
    }
    if let Some(r) = &a.rom {
        cmd.push_str(&format!(" --rom {}", r.display()));
    }
    cmd.push_str(&format!(
        " --layers {layers} --tokens {} --seed {} --context {}",
        a.tokens, a.seed, p.context
    ));
    let ids: Vec<String> = p.prompt.iter().map(u32::to_string).collect();
    cmd.push_str(&format!(" --prompt {}", ids.join(",")));
    if let Some(c) = &a.checkpoint {
        cmd.push_str(&format!(" --checkpoint {}", c.display()));
    } else if a.synthetic == Synthetic::Small {
        cmd.push_str(" --synthetic small");
    }
    if a.no_logits {
        cmd.push_str(" --no-logits");
    }
    if a.inject_fault {
        cmd.push_str(" --inject-fault");
    }
    let v = json!({
        "command": cmd,
        "config": chip_label(a),
        "tokens": fed,
        "first_difference": {
            "token": token, "position": token, "what": d.what, "chip": d.chip,
            "interpreter": d.interpreter,
        },
    });
    std::fs::write(&replay, serde_json::to_string_pretty(&v)? + "\n")
        .with_context(|| format!("write {}", replay.display()))?;
    if !on_sim(a) {
        return Ok((replay, None));
    }
    let fst = dir.join(format!("run-{stamp}-token{token}.fst"));
    match trace_token(a, p, fed, token, &fst) {
        Ok(()) => Ok((replay, Some(fst))),
        Err(e) => {
            errln!("tessera run: no waveform: {e:#}");
            Ok((replay, None))
        }
    }
}

/// Runs tokens `0..=token` again on a traced model, dumping only token `token`'s cycles.
fn trace_token(a: &Args, p: &Prepared, fed: &[u32], token: usize, fst: &Path) -> Result<()> {
    if a.rom.is_some() {
        bail!("the weight-ROM chip has no traced model; rerun the replay command without --rom for the SRAM chip's waveform");
    }
    errln!("tessera run: re-running token {token} on a traced model for its waveform");
    let cfg = &p.plan.cfg;
    let t = SimTransport::open_traced(&cfg.name)?;
    let dev = Device::open_expecting(Counting::new(t), cfg)?;
    let mut chip = TokenChip::load(dev, p.plan.clone(), &p.model, LoadMode::Auto)?;
    if a.inject_fault {
        chip.inject_fault()?;
    }
    for (i, &tk) in fed.iter().enumerate().take(token + 1) {
        if i == token {
            chip.rt.device().transport().inner.trace(Some(fst))?;
        }
        // The outcome was compared already: a fault here only ends the waveform.
        let _ = chip.rt.step(tk, i as u32, !a.no_logits)?;
    }
    chip.rt.device().transport().inner.trace(None)?;
    Ok(())
}
