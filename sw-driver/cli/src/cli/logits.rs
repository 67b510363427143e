//! `tessera logits`: one full-sequence forward pass, logits to safetensors.

use crate::out::errln;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tessera_golden::model::KvCache;
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::write_f32_safetensors;

use super::{load_model, parse_tokens, ModelArgs, TokenIds};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input token ids, comma-separated (positions start at 0).
    #[arg(long, value_name = "IDS", value_parser = parse_tokens)]
    pub tokens: TokenIds,
    /// Output file: an f32 tensor `logits` of shape [tokens, vocab].
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    super::check_writable(&a.out, "--out")?;
    let (ckpt, model) = load_model(&a.model.model, a.model.quant, a.model.allow_nonfinite)?;
    let mut cache = KvCache::new(ckpt.config());
    let logits = model.forward(&a.tokens.0, &mut cache, &mut GoldenEngine)?;
    let (t, v) = logits.dim();
    let data = logits.as_standard_layout();
    let data = data.as_slice().context("logits are not contiguous")?;
    write_f32_safetensors(&a.out, &[("logits", &[t, v], data)])?;
    errln!("tessera: wrote logits [{t}, {v}] to {}", a.out.display());
    Ok(())
}
