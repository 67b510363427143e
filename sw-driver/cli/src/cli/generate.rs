//! `tessera generate`: prefill a prompt, then decode token by token through the KV cache.
//!
//! Without `--rtl` the loop is the golden model's [`generate`] with the golden kernel. With
//! `--rtl` every token runs on the simulated chip's token engine ([`run_on_engine`]): one TOKEN
//! descriptor per prompt and generated token, `NEXT` fed back, each token checked against the
//! reference interpreter, so the tokens are those of `--quant chip`. With `--rtl --engine
//! matvec` the loop is [`generate`] again with the simulated chip ([`RtlEngine`]) computing the
//! int8 products, each checked against the golden kernel: the tokens of `--quant w8a8`.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_golden::generate::{
    check_context, generate, stop_ids_from_dir, GenerateOptions, Generation, Sampler, Sampling,
    StopReason,
};
use tessera_golden::model::{KvCache, Llama};
use tessera_golden::quant::{GoldenEngine, MatVecEngine};
use tessera_golden::tokenizer::{Message, TextStream, Tokenizer};
use tessera_sim::{open_device, SimTransport};

use super::run::Engine;
use super::token::{compile, median, median_f64, TokenChip};
use super::{inject_fault, load_model, parse_tokens, ModelArgs, Quant, TokenIds};
use crate::out::{errln, outln};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tessera generate --model build/smollm2-hf --prompt \"The capital of France is\" --quant w8a8
  tessera generate --model build/smollm2-hf --prompt \"The capital of France is\" --rtl
  tessera generate --model build/smollm2-hf --prompt \"Hi\" --rtl --engine matvec

With --rtl every token runs on the simulated chip's token engine (the model compiled once, one
TOKEN descriptor per token, NEXT fed back; with --temperature the next id is sampled on the
host from the logits), each token's logits and NEXT checked against the reference interpreter;
the tokens are those of --quant chip. A token that differs stops the run with exit status 2. A
summary (tokens, cycles per token, wall time per token) ends stderr.

With --rtl --engine matvec only the matrix-vector products run on the chip, each checked
against the golden integer kernel; the tokens are those of --quant w8a8 (or --quant chip). A
product that differs stops the run with its location (layer, matrix, tile, row) and exit status
2. A summary (products checked, mismatches, chip cycles, wall time per token) ends stderr.")]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt text (needs tokenizer.json in the model folder).
    #[arg(long, conflicts_with = "tokens", required_unless_present = "tokens")]
    pub prompt: Option<String>,
    /// Prompt as token ids, comma-separated.
    #[arg(long, value_name = "IDS", value_parser = parse_tokens)]
    pub tokens: Option<TokenIds>,
    /// Most new tokens to generate.
    #[arg(long, default_value_t = 32)]
    pub max_new: usize,
    /// Wrap --prompt as a user turn in the model's chat template.
    #[arg(long, requires = "prompt")]
    pub chat: bool,
    /// Print one JSON object {"prompt_tokens":[...],"tokens":[...],"text":"..."} (tokens: new ones only).
    #[arg(long)]
    pub json: bool,
    /// Sampling temperature, 0 to 100; 0 (the default) is greedy.
    #[arg(long, default_value_t = 0.0, value_parser = super::parse_temperature)]
    pub temperature: f64,
    /// Nucleus sampling: keep the most likely tokens holding this much probability, in (0, 1].
    #[arg(long, default_value_t = 1.0, value_parser = super::parse_top_p)]
    pub top_p: f64,
    /// Seed of the sampler (runs with the same seed are identical).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not stop at the model's end-of-sequence tokens.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Run every token on the simulated chip's token engine (numerics v2, the tokens of
    /// --quant chip); with --engine matvec only the products (implies --quant w8a8 unless
    /// --quant chip is given).
    #[arg(long)]
    pub rtl: bool,
    /// With --rtl: the whole token on the chip (`token`) or only the products (`matvec`).
    #[arg(long, value_enum, requires = "rtl")]
    pub engine: Option<Engine>,
    /// Chip configuration of rtl/top/configs.toml to simulate with --rtl [default: sim].
    #[arg(long, requires = "rtl")]
    pub config: Option<String>,
    /// Corrupt one weight word after loading (simulation only), to exercise the mismatch path.
    #[arg(long, hide = true, requires = "rtl")]
    pub inject_fault: bool,
}

/// The chip, its configuration name and how the model was placed on it.
struct Chip {
    eng: RtlEngine<SimTransport>,
    config: String,
}

/// Opens the simulated chip, maps `model` on it (sharing one layer slot between the decoder
/// layers when they do not all fit) and loads the weights.
fn open_chip(a: &Args, model: &Llama) -> Result<Chip> {
    let config = a.config.clone().unwrap_or_else(|| "sim".to_owned());
    let dev = open_device(&config).with_context(|| format!("opening the `{config}` chip"))?;
    let chip = dev.config().clone();
    let opts = MapOptions::default();
    let layers = model.config().num_hidden_layers;
    let map = match Mapping::for_model(&chip, model, &opts) {
        Ok(m) => m,
        Err(e) if layers > 1 => {
            let shared = MapOptions {
                share_layers: true,
                ..opts
            };
            let m = Mapping::for_model(&chip, model, &shared).with_context(|| {
                format!("the model does not fit the `{config}` chip, even with shared layers")
            })?;
            errln!("tessera: {e}; the {layers} layers share one slot and are reloaded as they run");
            m
        }
        Err(e) => {
            return Err(anyhow!(e)).with_context(|| format!("mapping the model on `{config}`"))
        }
    };
    let mut eng = RtlEngine::new(dev, map)?;
    let load = eng.load_model(model, LoadMode::Auto)?;
    errln!(
        "tessera: `{config}` chip ({} tiles): loaded {:.1} M weights ({:?}) in {:.1} s",
        chip.tiles(),
        load.weights as f64 / 1e6,
        load.mode,
        load.seconds
    );
    if a.inject_fault {
        inject_fault(&mut eng)?;
    }
    Ok(Chip { eng, config })
}

pub fn run(a: Args) -> Result<()> {
    let dir = &a.model.model;
    super::check_model_dir(dir)?;
    let has_tokenizer = dir.join("tokenizer.json").exists();
    let tok = if has_tokenizer {
        Some(Tokenizer::from_dir(dir)?)
    } else {
        None
    };
    let prompt_ids = match (&a.prompt, &a.tokens) {
        (_, Some(ids)) => ids.0.clone(),
        (Some(text), None) => {
            let tok = tok.as_ref().with_context(|| {
                format!(
                    "{}: --prompt needs tokenizer.json (or use --tokens)",
                    dir.display()
                )
            })?;
            if a.chat {
                tok.encode_chat(&[Message::new("user", text.as_str())], true)?
            } else {
                tok.encode(text, true)?
            }
        }
        (None, None) => bail!("give --prompt or --tokens"),
    };
    let mut stop_ids = if a.ignore_eos {
        Vec::new()
    } else {
        stop_ids_from_dir(dir)?
    };
    if let (false, Some(id)) = (a.ignore_eos, tok.as_ref().and_then(Tokenizer::eos_token_id)) {
        if !stop_ids.contains(&id) {
            stop_ids.push(id);
        }
    }
    let opts = GenerateOptions {
        max_new: a.max_new,
        sampling: (a.temperature > 0.0 || a.top_p < 1.0).then_some(Sampling {
            temperature: a.temperature as f32,
            top_p: a.top_p as f32,
            seed: a.seed,
        }),
        stop_ids,
    };

    // The context must fit the model before it loads.
    let cfg = tessera_golden::config::Config::from_file(dir.join("config.json"))?;
    check_context(&cfg, 0, prompt_ids.len(), opts.max_new).context("--max-new / prompt")?;
    if let (true, Quant::Mx(r)) = (a.rtl, a.model.quant) {
        bail!(
            "--quant {}: MX block formats run in the golden model only (drop --rtl)",
            r.name()
        );
    }
    if a.rtl && a.engine.unwrap_or(Engine::Token) == Engine::Token {
        return run_on_engine(&a, &cfg, tok.as_ref(), &prompt_ids, &opts);
    }
    let quant = if a.rtl && a.model.quant != Quant::Chip {
        Quant::W8a8
    } else {
        a.model.quant
    };
    let (ckpt, model) = load_model(dir, quant, a.model.allow_nonfinite)?;
    let mut chip = if a.rtl {
        Some(open_chip(&a, &model)?)
    } else {
        None
    };
    let mut golden = GoldenEngine;
    let engine: &mut dyn MatVecEngine = match chip.as_mut() {
        Some(c) => &mut c.eng,
        None => &mut golden,
    };
    let mut cache = KvCache::new(ckpt.config());
    let mut stream = tok.as_ref().map(|t| TextStream::new(t, true));
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let json = a.json;
    let result = generate(&model, &mut cache, &prompt_ids, &opts, engine, &mut |id| {
        first.get_or_insert_with(Instant::now);
        if json {
            return Ok(());
        }
        let text = match stream.as_mut() {
            Some(s) => s.push(id)?,
            None => format!("{id} "),
        };
        // Output that cannot be written stops the generation (a closed pipe ends the process
        // through SIGPIPE).
        crate::out::write(format_args!("{text}"));
        crate::out::flush().map_err(|source| tessera_golden::Error::Io {
            path: "standard output".into(),
            source,
        })
    });
    let end = Instant::now();
    let result = match (result, chip.as_mut()) {
        (Ok(r), _) => r,
        (Err(e), Some(c)) => {
            if !json {
                outln!();
            }
            let typed = c.eng.take_error();
            errln!("{}", chip_summary(c, None, start, end));
            return Err(match typed {
                Some(t @ tessera_driver::Error::Mismatch { .. }) => {
                    anyhow!(t).context("a product on the chip differs from the golden kernel")
                }
                Some(t) => anyhow!(t).context("on the chip"),
                None => anyhow!(e),
            });
        }
        (Err(e), None) => return Err(e.into()),
    };

    if json {
        let text = match &tok {
            Some(t) => t.decode(&result.tokens, true)?,
            None => String::new(),
        };
        let obj = serde_json::json!({
            "prompt_tokens": result.prompt_tokens,
            "tokens": result.tokens,
            "text": text,
        });
        outln!("{obj}");
    } else {
        let rest = match stream.as_mut() {
            Some(s) => s.finish()?,
            None => String::new(),
        };
        outln!("{rest}");
    }
    let n = result.tokens.len();
    if let Some(c) = &chip {
        let timing = first.map(|f| (prompt_ids.len(), n, f));
        errln!("{}", chip_summary(c, timing, start, end));
    } else if let Some(first) = first {
        let prefill = first - start;
        let decode = end - first;
        let rate = if n > 1 {
            format!(
                ", decode {:.1} tok/s",
                (n - 1) as f64 / decode.as_secs_f64()
            )
        } else {
            String::new()
        };
        errln!(
            "tessera: {} prompt + {n} new tokens; prefill {:.3} s{rate}",
            prompt_ids.len(),
            prefill.as_secs_f64()
        );
    }
    Ok(())
}

/// The one-line summary of a run on the chip: products checked, mismatches, chip cycles and
/// wall time per token. `timing`: prompt tokens, new tokens and the time the first one came.
fn chip_summary(
    c: &Chip,
    timing: Option<(usize, usize, Instant)>,
    start: Instant,
    end: Instant,
) -> String {
    let s = c.eng.stats();
    let mut line = format!(
        "tessera: `{}` chip: {} products checked, {} mismatches, {} chip cycles",
        c.config,
        s.products(),
        s.mismatches(),
        s.total.cycles
    );
    if s.reloads > 0 {
        line.push_str(&format!(
            ", {} layer reloads ({:.1} s)",
            s.reloads, s.reload_seconds
        ));
    }
    if let Some((prompt, n, first)) = timing {
        let wall = (end - start).as_secs_f64();
        line.push_str(&format!(
            "; {prompt} prompt + {n} new tokens in {wall:.1} s: {:.2} s per new token (prefill {:.2} s",
            wall / n as f64,
            (first - start).as_secs_f64()
        ));
        if n > 1 {
            line.push_str(&format!(
                ", decode {:.2} s per token",
                (end - first).as_secs_f64() / (n - 1) as f64
            ));
        }
        line.push(')');
    }
    line
}

/// `generate --rtl` on the token engine: the model (numerics v2) compiled for the chip of
/// `--config`, then the prompt and every new token one TOKEN each, `NEXT` fed back (or, with
/// `--temperature`, an id sampled on the host from the logits); each token's logits and `NEXT`
/// checked against the reference interpreter. The output is that of `--quant chip`.
fn run_on_engine(
    a: &Args,
    mcfg: &tessera_golden::config::Config,
    tok: Option<&Tokenizer>,
    prompt: &[u32],
    opts: &GenerateOptions,
) -> Result<()> {
    if a.model.quant == Quant::W8a8 {
        bail!(
            "--quant w8a8: the token engine computes numerics v2 (--quant chip); products-only \
             runs in w8a8 take --engine matvec"
        );
    }
    let config = a.config.clone().unwrap_or_else(|| "sim".to_owned());
    let chip_cfg =
        tessera_driver::ChipConfig::named(&config).with_context(|| format!("--config {config}"))?;
    let context = chip_cfg.context.min(mcfg.max_position_embeddings);
    let positions = prompt.len() + opts.max_new.saturating_sub(1);
    if positions > context {
        bail!(
            "--max-new / prompt: {} prompt and {} new tokens need {positions} positions, the \
             token engine of `{config}` holds {context}",
            prompt.len(),
            opts.max_new
        );
    }
    // Compiled from config.json first: a model that does not fit is said before it loads.
    tessera_driver::token::plan(&chip_cfg, mcfg, context)
        .with_context(|| format!("compiling the model for the token engine of `{config}`"))?;
    let (_, model) = load_model(&a.model.model, Quant::Chip, a.model.allow_nonfinite)?;
    let plan = compile(&chip_cfg, &model, context)?;
    let t = SimTransport::open(&config).with_context(|| format!("opening the `{config}` chip"))?;
    let dev = tessera_driver::Device::open_expecting(
        tessera_driver::transport::Counting::new(t),
        &chip_cfg,
    )
    .with_context(|| format!("opening the `{config}` chip"))?;
    let mut chip = TokenChip::load(dev, plan, &model, LoadMode::Auto)?;
    errln!(
        "tessera: `{config}` chip, token engine ({} instructions, context {context}): loaded \
         {:.1} MB of weights ({:?}) and {} DMEM words in {:.1} s",
        chip.plan.program.len(),
        chip.load.weight_bytes as f64 / 1e6,
        chip.load.mode,
        chip.load.dmem_words,
        chip.load.seconds
    );
    if a.inject_fault {
        chip.inject_fault()?;
    }
    let mut sampler = Sampler::new(opts.sampling)?;
    let sample = opts.sampling.is_some_and(|s| s.temperature > 0.0);
    let mut stream = tok.map(|t| TextStream::new(t, true));
    let mut steps = Vec::new();
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    // One token on the chip, its logits and NEXT checked; its NEXT, or with sampling the id
    // drawn from its logits (only for the tokens whose output picks the next one, so the
    // sampler draws as often as the golden loop's).
    let mut step = |chip: &mut TokenChip<SimTransport>, id: u32, pos: usize, pick: bool| {
        let s = chip.step(id, pos as u32, true)?;
        if let Some(d) = s.difference() {
            bail!(
                "token {id} at position {pos} on the chip differs from the reference \
                 interpreter: {}: chip {}, interpreter {}",
                d.what,
                d.chip,
                d.interpreter
            );
        }
        let out = match &s.chip {
            Ok(o) => o.clone(),
            Err(f) => bail!("token {id} at position {pos}: {f} (the interpreter stops alike)"),
        };
        steps.push(s);
        match (&out.logits, sample && pick) {
            (Some(l), true) => Ok::<u32, anyhow::Error>(sampler.sample(l)?),
            _ => Ok(out.next),
        }
    };
    let mut tokens = Vec::with_capacity(opts.max_new);
    let mut stop = StopReason::MaxNew;
    let mut next = 0;
    let n = prompt.len();
    for (i, &id) in prompt.iter().enumerate() {
        next = step(&mut chip, id, i, i + 1 == n)?;
    }
    if opts.max_new > 0 {
        loop {
            first.get_or_insert_with(Instant::now);
            tokens.push(next);
            if !a.json {
                let text = match stream.as_mut() {
                    Some(s) => s.push(next)?,
                    None => format!("{next} "),
                };
                crate::out::write(format_args!("{text}"));
                crate::out::flush().context("writing to stdout")?;
            }
            if opts.stop_ids.contains(&next) {
                stop = StopReason::Eos;
                break;
            }
            if tokens.len() >= opts.max_new {
                break;
            }
            next = step(&mut chip, next, n + tokens.len() - 1, true)?;
        }
    }
    let end = Instant::now();
    let result = Generation {
        prompt_tokens: prompt.to_vec(),
        tokens,
        stop,
    };
    if a.json {
        let text = match tok {
            Some(t) => t.decode(&result.tokens, true)?,
            None => String::new(),
        };
        let obj = serde_json::json!({
            "prompt_tokens": result.prompt_tokens,
            "tokens": result.tokens,
            "text": text,
        });
        outln!("{obj}");
    } else {
        let rest = match stream.as_mut() {
            Some(s) => s.finish()?,
            None => String::new(),
        };
        outln!("{rest}");
    }
    let new = result.tokens.len();
    let cycles: Vec<u64> = steps.iter().map(|s| s.cycles).collect();
    let secs: Vec<f64> = steps.iter().map(|s| s.chip_seconds).collect();
    let wall = (end - start).as_secs_f64();
    let mut line = format!(
        "tessera: `{config}` chip, token engine: {} tokens checked against the reference \
         interpreter, 0 differ; {} cycles per token (median); {n} prompt + {new} new tokens in \
         {wall:.1} s: {:.2} s per new token",
        steps.len(),
        median(&cycles),
        wall / new.max(1) as f64
    );
    if let Some(f) = first {
        line.push_str(&format!(" (prefill {:.2} s", (f - start).as_secs_f64()));
        if new > 1 {
            line.push_str(&format!(
                ", decode {:.2} s per token",
                (end - f).as_secs_f64() / (new - 1) as f64
            ));
        }
        line.push(')');
    }
    line.push_str(&format!(
        "; {:.3} s per token on the chip (median)",
        median_f64(&secs)
    ));
    errln!("{line}");
    Ok(())
}
