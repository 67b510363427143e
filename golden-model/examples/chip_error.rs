//! Logit error of the chip mode (numerics v2) and of w8a8 (v1) against FP32 on a
//! Llama-3.1-8B-shaped model with one decoder layer (hidden 4096, intermediate 14336, 32
//! heads, 8 KV heads, head_dim 128, llama3 RoPE, vocab 128256, untied `lm_head`): the config of
//! the synthetic checkpoint `tessera run` uses, with deterministic pseudo-random weights built
//! in memory (uniform, variance 1/fan-in; norms 1 ± 0.1; embeddings uniform in [-1, 1)).
//!
//! For token `t` and logit `j`: `err[t, j] = |l[t, j] − l_fp32[t, j]| / max_j |l_fp32[t, j]|`
//! (relative to the token's largest FP32 logit); prints the largest and the mean over all `t, j`
//! and the share of tokens whose top-1 equals FP32's.
//!
//! `cargo run --release -p tessera-golden --example chip_error [-- --tokens N --vocab V]`

use clap::Parser;
use ndarray::{Array1, Array2};
use tessera_golden::chip;
use tessera_golden::config::Config;
use tessera_golden::model::{DecoderLayer, KvCache, LayerWeights, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::{Preset, SplitMix};

#[derive(Debug, Parser)]
struct Args {
    /// Tokens of the sequence (positions 0 .. N-1, one prefill; every token is compared).
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Vocabulary size (default: Llama 3.1's 128256).
    #[arg(long)]
    vocab: Option<usize>,
    /// Seed of the weights.
    #[arg(long, default_value_t = 0x7E55_E7A0)]
    seed: u64,
}

fn matrix(rng: &mut SplitMix, rows: usize, cols: usize) -> Array2<f32> {
    let amp = (3.0 / cols as f32).sqrt();
    Array2::from_shape_simple_fn((rows, cols), || rng.uniform() * amp)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let mut cfg = Config::from_json(&Preset::Llama31_8b.config_json(1).to_string())?;
    if let Some(v) = a.vocab {
        cfg.vocab_size = v;
    }
    cfg.validate()?;
    let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    let (nh, nkv, hd) = (cfg.num_attention_heads, cfg.num_kv_heads(), cfg.head_dim());
    let mut rng = SplitMix(a.seed);
    let weights = LayerWeights {
        q_proj: matrix(&mut rng, nh * hd, h),
        k_proj: matrix(&mut rng, nkv * hd, h),
        v_proj: matrix(&mut rng, nkv * hd, h),
        o_proj: matrix(&mut rng, h, nh * hd),
        gate_proj: matrix(&mut rng, i, h),
        up_proj: matrix(&mut rng, i, h),
        down_proj: matrix(&mut rng, h, i),
        input_layernorm: Array1::from_shape_simple_fn(h, || 1.0 + 0.1 * rng.uniform()),
        post_attention_layernorm: Array1::from_shape_simple_fn(h, || 1.0 + 0.1 * rng.uniform()),
    };
    let embed = Array2::from_shape_simple_fn((v, h), || rng.uniform());
    let head = matrix(&mut rng, v, h);
    let norm = Array1::from_shape_simple_fn(h, || 1.0 + 0.1 * rng.uniform());
    let tokens: Vec<u32> = (0..a.tokens as u64)
        .map(|t| ((t * 104_729 + 1) % v as u64) as u32)
        .collect();

    let logits = |p: Precision| -> Result<Array2<f32>, Box<dyn std::error::Error>> {
        let layer = DecoderLayer::from_weights(&cfg, 0, weights.clone(), p)?;
        let m = Llama::from_parts(
            cfg.clone(),
            embed.clone(),
            vec![layer],
            norm.clone(),
            Some(head.clone()),
            p,
        )?;
        Ok(m.forward(&tokens, &mut KvCache::new(&cfg), &mut GoldenEngine)?)
    };
    let lf = logits(Precision::F32)?;
    println!(
        "Llama-3.1-8B-shaped model, 1 decoder layer, vocab {v}, {} tokens (positions 0-{})",
        a.tokens,
        a.tokens.saturating_sub(1)
    );
    for (name, p) in [("w8a8", Precision::W8A8), ("chip", Precision::Chip)] {
        let l = logits(p)?;
        let (mut worst, mut sum, mut n, mut top) = (0f64, 0f64, 0usize, 0usize);
        for (rf, rq) in lf.outer_iter().zip(l.outer_iter()) {
            let mx = rf.iter().fold(0f64, |m, &x| m.max(f64::from(x).abs()));
            for (&x, &y) in rf.iter().zip(rq.iter()) {
                let e = (f64::from(y) - f64::from(x)).abs() / mx;
                worst = worst.max(e);
                sum += e;
                n += 1;
            }
            let (rf, rq) = (rf.to_vec(), rq.to_vec());
            top += usize::from(chip::argmax(&rf) == chip::argmax(&rq));
        }
        println!(
            "{name}: relative logit error vs fp32: largest {worst:.3e}, mean {:.3e}; top-1 equal \
             to fp32 for {top}/{} tokens",
            sum / n as f64,
            a.tokens
        );
    }
    Ok(())
}
