//! `tessera generate`: prefill a prompt, then decode token by token through the KV cache.
//!
//! The loop is the golden model's [`generate`]; only the engine that computes the int8
//! matrix-vector products changes. Without `--rtl` it is the golden kernel; with `--rtl` it is
//! the simulated chip ([`RtlEngine`]), which checks every product against the golden kernel,
//! so the tokens equal those of `--quant w8a8` whenever no product differs.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_golden::generate::{
    check_context, generate, stop_ids_from_dir, GenerateOptions, Sampling,
};
use tessera_golden::model::{KvCache, Llama};
use tessera_golden::quant::{GoldenEngine, MatVecEngine};
use tessera_golden::tokenizer::{Message, TextStream, Tokenizer};
use tessera_sim::{open_device, SimTransport};

use super::{inject_fault, load_model, parse_tokens, ModelArgs, Quant, TokenIds};
use crate::out::{errln, outln};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tessera generate --model build/smollm2-hf --prompt \"The capital of France is\" --quant w8a8
  tessera generate --model build/smollm2-hf --prompt \"The capital of France is\" --rtl

With --rtl every matrix-vector product runs on the simulated chip and is checked against the
golden integer kernel; the tokens are those of --quant w8a8. A product that differs stops the
run with its location (layer, matrix, tile, row) and exit status 2. A summary (products
checked, mismatches, chip cycles, wall time per token) ends stderr.")]
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
    /// Run every matrix-vector product on the simulated chip (implies --quant w8a8 unless
    /// --quant chip is given).
    #[arg(long)]
    pub rtl: bool,
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
