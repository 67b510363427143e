//! One Llama-3.1-8B-shaped decoder layer (hidden 4096, intermediate 14336, 32 heads, 8 KV
//! heads, head_dim 128, llama3 rope), one decode token, in w8a8 and in FP32. Weights are
//! deterministic pseudo-random values built in memory. Prints the median of several runs.
//!
//! `cargo run --release -p tessera-golden --example layer_bench [-- RUNS CONTEXT]`
//! (`-- --help` for the options).

use std::num::NonZeroUsize;
use std::time::Instant;

use clap::Parser;
use ndarray::{Array1, Array2};
use tessera_golden::config::{Config, RopeScaling};
use tessera_golden::model::{DecoderLayer, LayerKvCache, LayerWeights, Precision, Rope};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::SplitMix;

fn matrix(rng: &mut SplitMix, rows: usize, cols: usize) -> Array2<f32> {
    // Uniform with variance 1/cols keeps activations in a realistic range.
    let amp = (3.0 / cols as f32).sqrt();
    Array2::from_shape_simple_fn((rows, cols), || rng.uniform() * amp)
}

fn config() -> Config {
    Config {
        hidden_size: 4096,
        intermediate_size: 14336,
        num_hidden_layers: 1,
        num_attention_heads: 32,
        num_key_value_heads: 8,
        head_dim: Some(128),
        vocab_size: 128_256,
        rms_norm_eps: 1e-5,
        rope_theta: 500_000.0,
        rope_scaling: Some(RopeScaling {
            rope_type: "llama3".into(),
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        }),
        max_position_embeddings: 131_072,
        hidden_act: "silu".into(),
        ..Config::default()
    }
}

/// Times one Llama-3.1-8B-shaped decoder layer on one decode token, in w8a8 and in FP32, with
/// deterministic pseudo-random weights built in memory.
#[derive(Debug, Parser)]
struct Args {
    /// Timed runs per precision, after one untimed warm-up run; the median, minimum and
    /// maximum are printed.
    #[arg(value_name = "RUNS", default_value = "7")]
    runs: NonZeroUsize,
    /// Earlier positions already in the KV cache: the decode token sits at this position and
    /// attends to all of them.
    #[arg(value_name = "CONTEXT", default_value_t = 128)]
    context: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args { runs, context } = Args::parse();
    let runs = runs.get();
    let cfg = config();
    cfg.validate()?;
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let (nh, nkv, hd) = (cfg.num_attention_heads, cfg.num_kv_heads(), cfg.head_dim());

    let t0 = Instant::now();
    let mut rng = SplitMix(0x7E55_E7A0);
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
    let w8 = DecoderLayer::from_weights(&cfg, 0, weights.clone(), Precision::W8A8)?;
    let f32l = DecoderLayer::from_weights(&cfg, 0, weights, Precision::F32)?;
    println!(
        "built layer (218.1 M weights; w8a8 {:.0} MB, fp32 {:.0} MB) in {:.1} s; threads {}",
        218.1e6 / 1e6,
        218.1e6 * 4.0 / 1e6,
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );

    // A cache of `context` earlier positions, then one decode token at position `context`.
    let kv = nkv * hd;
    let base = LayerKvCache {
        k: (0..context * kv).map(|_| rng.uniform()).collect(),
        v: (0..context * kv).map(|_| rng.uniform()).collect(),
        ..LayerKvCache::default()
    };
    let x = Array2::from_shape_simple_fn((1, h), || rng.uniform());
    let rope = Rope::new(&cfg)?.tables(context, 1);

    for (name, layer) in [("w8a8", &w8), ("fp32", &f32l)] {
        let mut times = Vec::new();
        let mut out = None;
        for _ in 0..runs + 1 {
            let mut cache = base.clone();
            let t = Instant::now();
            let y = layer.forward(x.view(), &mut cache, &rope, &mut GoldenEngine)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            out = Some(y);
        }
        times.remove(0); // warm-up
        let y = out.ok_or("no run")?;
        let norm = (y.iter().map(|v| v * v).sum::<f32>() / h as f32).sqrt();
        println!(
            "{name}: one decode token, context {context}: median {:.1} ms (min {:.1}, max {:.1}, {runs} runs); output rms {norm:.4}",
            median(times.clone()),
            times.iter().cloned().fold(f64::INFINITY, f64::min),
            times.iter().cloned().fold(0.0, f64::max),
        );
    }
    Ok(())
}
