//! `tessera eval`: perplexity on a text, FP32 and (with `--quant`) the chip's arithmetic.
//!
//! The text is tokenized once (with the tokenizer's special tokens, e.g. BOS) and cut into
//! consecutive windows of `--context` tokens; each window is one forward pass from position 0,
//! and every token after the first of a window is scored. Perplexity is
//! `exp(mean negative log-likelihood)`. Top-1 agreement is the share of scored positions where
//! the quantized model's most likely next token equals FP32's. `--quant` takes a
//! comma-separated list, so several arithmetics are scored against one FP32 pass.
//!
//! The same pass also reports the figures over the second half of each window only (the
//! positions `i ≥ context/2` whose logits predict token `i + 1`): llama.cpp's
//! `llama-perplexity` scores that way, so every token scored there has at least `context/2`
//! tokens before it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use tessera_golden::generate::argmax;
use tessera_golden::model::{KvCache, Llama};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::tokenizer::Tokenizer;

use super::{load_model, Quant};
use crate::out::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Hugging Face checkpoint folder (with tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// UTF-8 text file to score.
    #[arg(long, value_name = "FILE")]
    pub text: PathBuf,
    /// Also score these arithmetics (comma-separated) and compare their top-1 with FP32's:
    /// `w8a8`, `chip` (numerics v2), `chip:mx8` (MXINT8 weights and activations) or
    /// `chip:mx4` (MXFP4 weights except lm_head, MXINT8 activations). chip:mx8 is rotated
    /// (QuaRot, folded), chip:mx4 plain round-to-nearest. Modifiers: `+rtn` (chip:mx8 without
    /// the rotation); for chip:mx4 `+rot` (with it), `+int4` (MXINT4 instead of MXFP4),
    /// `+head4` (lm_head 4-bit too), `+down8` (down_proj MXINT8), `+edge8` (first and last
    /// layer MXINT8); for both `+mse` (each weight block's exponent chosen for the least
    /// squared error). Example: `--quant chip:mx8,chip:mx4,chip:mx4+rot`.
    #[arg(long, default_value = "none", value_parser = super::parse_quant, value_delimiter = ',')]
    pub quant: Vec<Quant>,
    /// Tokens per forward window (at least 2; at most the model's max_position_embeddings).
    #[arg(long, default_value_t = 512, value_parser = |s: &str| super::parse_count(s, 2, 1 << 28))]
    pub context: usize,
    /// Score at most this many tokens of the text (0: all).
    #[arg(long, default_value_t = 0)]
    pub max_tokens: usize,
    /// Accept NaN and infinite weights (refused by default).
    #[arg(long)]
    pub allow_nonfinite: bool,
}

/// Negative log-likelihood of `targets[t]` under `logits[t]`, and the argmax per row.
fn score(logits: &Array2<f32>, targets: &[u32]) -> Result<(Vec<f64>, Vec<u32>)> {
    let mut nll = Vec::with_capacity(targets.len());
    let mut top = Vec::with_capacity(targets.len());
    for (row, &y) in logits.outer_iter().zip(targets) {
        let row = row.to_vec();
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let lse = f64::from(max)
            + row
                .iter()
                .map(|&x| f64::from(x - max).exp())
                .sum::<f64>()
                .ln();
        let ly = f64::from(
            *row.get(y as usize)
                .context("target token beyond vocabulary")?,
        );
        nll.push(lse - ly);
        top.push(argmax(&row));
    }
    Ok((nll, top))
}

fn window_logits(
    model: &Llama,
    cfg: &tessera_golden::config::Config,
    w: &[u32],
) -> Result<Array2<f32>> {
    let mut cache = KvCache::new(cfg);
    Ok(model.forward(w, &mut cache, &mut GoldenEngine)?)
}

pub fn run(a: Args) -> Result<()> {
    if a.context < 2 {
        bail!("--context must be at least 2");
    }
    super::check_model_dir(&a.model)?;
    let text = tessera_golden::limits::read_text(&a.text, tessera_golden::limits::TEXT_BYTES)?;
    let tok = Tokenizer::from_dir(&a.model)?;
    let mut ids = tok.encode(&text, true)?;
    if a.max_tokens > 0 {
        ids.truncate(a.max_tokens);
    }
    if ids.len() < 2 {
        bail!("{}: fewer than 2 tokens to score", a.text.display());
    }
    let (ckpt, f32_model) = load_model(&a.model, Quant::None, a.allow_nonfinite)?;
    let mut q_models = Vec::new();
    for &q in &a.quant {
        if q != Quant::None && !q_models.iter().any(|(p, _)| *p == q) {
            q_models.push((q, load_model(&a.model, q, a.allow_nonfinite)?.1));
        }
    }
    let cfg = ckpt.config();
    let context = a.context.min(cfg.max_position_embeddings);

    let scored_total = ids.len() - ids.len().div_ceil(context);
    let bar = ProgressBar::new(scored_total as u64);
    bar.set_style(ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} tokens, {per_sec}, eta {eta}",
    )?);
    bar.set_message("eval");
    let start = Instant::now();
    let (mut nll_f, mut n) = (0.0f64, 0usize);
    let mut nll_q = vec![0.0f64; q_models.len()];
    let mut agree = vec![0usize; q_models.len()];
    // Second half of each window: rows `half..` of its logits.
    let half = context / 2;
    let (mut nll_f2, mut n2) = (0.0f64, 0usize);
    let mut nll_q2 = vec![0.0f64; q_models.len()];
    let mut agree2 = vec![0usize; q_models.len()];
    for w in ids.chunks(context) {
        if w.len() < 2 {
            continue;
        }
        let targets = &w[1..];
        let lf = window_logits(&f32_model, cfg, w)?;
        let (nf, tf) = score(&lf, targets)?;
        nll_f += nf.iter().sum::<f64>();
        let h = half.min(targets.len());
        nll_f2 += nf[h..].iter().sum::<f64>();
        for (i, (_, qm)) in q_models.iter().enumerate() {
            let lq = window_logits(qm, cfg, w)?;
            let (nq, tq) = score(&lq, targets)?;
            nll_q[i] += nq.iter().sum::<f64>();
            nll_q2[i] += nq[h..].iter().sum::<f64>();
            let same: Vec<bool> = tf.iter().zip(&tq).map(|(a, b)| a == b).collect();
            agree[i] += same.iter().filter(|&&s| s).count();
            agree2[i] += same[h..].iter().filter(|&&s| s).count();
        }
        n += targets.len();
        n2 += targets.len() - h;
        bar.set_position(n as u64);
    }
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    outln!(
        "tokens: {} ({n} scored, windows of {context}), {:.1} s",
        ids.len(),
        secs
    );
    outln!("fp32 perplexity: {:.4}", (nll_f / n as f64).exp());
    for (i, (q, _)) in q_models.iter().enumerate() {
        outln!("{q} perplexity: {:.4}", (nll_q[i] / n as f64).exp());
        outln!(
            "{q} top-1 agreement with fp32: {:.2}% ({}/{n})",
            100.0 * agree[i] as f64 / n as f64,
            agree[i]
        );
    }
    if n2 > 0 {
        outln!("second half of each window (positions >= {half}): {n2} scored");
        outln!(
            "fp32 perplexity (second half): {:.4}",
            (nll_f2 / n2 as f64).exp()
        );
        for (i, (q, _)) in q_models.iter().enumerate() {
            outln!(
                "{q} perplexity (second half): {:.4}",
                (nll_q2[i] / n2 as f64).exp()
            );
            outln!(
                "{q} top-1 agreement with fp32 (second half): {:.2}% ({}/{n2})",
                100.0 * agree2[i] as f64 / n2 as f64,
                agree2[i]
            );
        }
    }
    Ok(())
}
