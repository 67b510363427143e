//! `tessera generate`: prefill a prompt, then decode token by token through the KV cache.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tessera_golden::generate::{generate, stop_ids_from_dir, GenerateOptions, Sampling};
use tessera_golden::model::KvCache;
use tessera_golden::quant::GoldenEngine;
use tessera_golden::tokenizer::{Message, TextStream, Tokenizer};

use super::{load_model, parse_tokens, ModelArgs, TokenIds};

#[derive(Debug, clap::Args)]
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
    /// Sampling temperature; 0 (the default) is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens holding this much probability.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Seed of the sampler (runs with the same seed are identical).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not stop at the model's end-of-sequence tokens.
    #[arg(long)]
    pub ignore_eos: bool,
}

pub fn run(a: Args) -> Result<()> {
    let dir = &a.model.model;
    let has_tokenizer = dir.join("tokenizer.json").is_file();
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
            temperature: a.temperature,
            top_p: a.top_p,
            seed: a.seed,
        }),
        stop_ids,
    };

    let (ckpt, model) = load_model(dir, a.model.quant)?;
    let mut cache = KvCache::new(ckpt.config());
    let mut stream = tok.as_ref().map(|t| TextStream::new(t, true));
    let stdout = std::io::stdout();
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let json = a.json;
    let result = generate(
        &model,
        &mut cache,
        &prompt_ids,
        &opts,
        &mut GoldenEngine,
        &mut |id| {
            first.get_or_insert_with(Instant::now);
            if json {
                return Ok(());
            }
            let mut out = stdout.lock();
            let text = match stream.as_mut() {
                Some(s) => s.push(id)?,
                None => format!("{id} "),
            };
            // A closed stdout (e.g. `| head`) is not an error of the model.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            Ok(())
        },
    )?;
    let end = Instant::now();

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
        println!("{obj}");
    } else {
        let rest = match stream.as_mut() {
            Some(s) => s.finish()?,
            None => String::new(),
        };
        println!("{rest}");
    }
    let n = result.tokens.len();
    if let Some(first) = first {
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
        eprintln!(
            "tessera: {} prompt + {n} new tokens; prefill {:.3} s{rate}",
            prompt_ids.len(),
            prefill.as_secs_f64()
        );
    }
    Ok(())
}
