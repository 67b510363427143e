//! Numerics v2 (`Precision::Chip`) as a whole: deterministic across thread counts, prefill
//! equal to token-by-token decoding bit for bit, close to FP32, and the attention close to an
//! f64 reference.

mod model_util;

use model_util::*;
use ndarray::ArrayView2;
use proptest::prelude::*;
use safetensors::Dtype;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::chip::{self, Fz};
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;

fn load(precision: Precision, untied: bool) -> Llama {
    let dir = write_checkpoint("chip", Dtype::F32, untied, |_| {});
    Llama::load(&Checkpoint::open(&dir).unwrap(), precision).unwrap()
}

const TOKENS: [u32; 9] = [1, 17, 42, 99, 0, 63, 8, 8, 77];

fn bits(a: ArrayView2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn logits_in_pool(m: &Llama, threads: usize) -> Vec<u32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let l = m
            .forward(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
            .unwrap();
        bits(l.view())
    })
}

#[test]
fn chip_mode_same_bits_for_any_thread_count() {
    for untied in [false, true] {
        let m = load(Precision::Chip, untied);
        let one = logits_in_pool(&m, 1);
        for threads in [2, 3, 8] {
            assert_eq!(one, logits_in_pool(&m, threads), "{threads} threads");
        }
    }
}

#[test]
fn chip_mode_prefill_equals_decode_bit_for_bit() {
    let m = load(Precision::Chip, false);
    let full = m
        .forward(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    let mut cache = KvCache::new(m.config());
    for (i, &t) in TOKENS.iter().enumerate() {
        let l = m.forward(&[t], &mut cache, &mut GoldenEngine).unwrap();
        assert_eq!(
            bits(l.view()),
            bits(full.slice(ndarray::s![i..i + 1, ..])),
            "token {i}"
        );
    }
    // A truncated cache replays the same bits.
    cache.truncate(4);
    let again = m
        .forward(&TOKENS[4..], &mut cache, &mut GoldenEngine)
        .unwrap();
    assert_eq!(bits(again.view()), bits(full.slice(ndarray::s![4.., ..])));
}

#[test]
fn chip_mode_tracks_fp32_and_differs_from_w8a8() {
    let f = load(Precision::F32, true);
    let c = load(Precision::Chip, true);
    let q = load(Precision::W8A8, true);
    let run = |m: &Llama| {
        m.forward(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
            .unwrap()
    };
    let (lf, lc, lq) = (run(&f), run(&c), run(&q));
    let range = lf.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = |a: &ndarray::Array2<f32>| {
        a.iter()
            .zip(lf.iter())
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
    };
    let (dc, dq) = (diff(&lc), diff(&lq));
    assert!(dc > 0.0 && lc != lq, "chip mode must be its own arithmetic");
    // The chip mode's error is of the order of w8a8's (both are int8 products).
    assert!(
        dc < 0.1 * range && dc < 3.0 * dq,
        "chip drifted: {dc} (w8a8 {dq}), range {range}"
    );
    // Every logit is a normal binary32 or zero (flush-to-zero).
    assert!(lc.iter().all(|v| v.is_finite() && !v.is_subnormal()));
}

/// The chip's softmax weights and attention output for one head against f64, given int8
/// keys and values with per-position scales (what the cache holds).
fn attention_case(q: &[f32], keys: &[Vec<f32>], vals: &[Vec<f32>]) -> (Vec<f64>, Vec<f64>) {
    let hd = q.len();
    let fz = |v: &[f32]| v.iter().map(|&a| Fz::new(a)).collect::<Vec<_>>();
    let (qq, sq) = chip::quantize_activation(&fz(q));
    let scale = chip::rsqrt(Fz::new(hd as f32));
    let c = sq * scale;
    let kq: Vec<(Vec<i8>, Fz)> = keys
        .iter()
        .map(|k| chip::quantize_activation(&fz(k)))
        .collect();
    let vq: Vec<(Vec<i8>, Fz)> = vals
        .iter()
        .map(|v| chip::quantize_activation(&fz(v)))
        .collect();
    let scores: Vec<Fz> = kq
        .iter()
        .map(|(k, s)| {
            let acc: i32 = qq
                .iter()
                .zip(k)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            Fz::from_i32(acc) * (c * *s)
        })
        .collect();
    let m = chip::max_of(&scores);
    let e: Vec<Fz> = scores.iter().map(|&s| chip::exp(s - m)).collect();
    let sum = chip::q31_sum(&e.iter().map(|&x| chip::Q31::from_fz(x)).collect::<Vec<_>>());
    let u: Vec<Fz> = e.iter().zip(&vq).map(|(&x, (_, s))| x * *s).collect();
    let (pq, su) = chip::quantize_softmax(&u);
    let so = su / sum;
    let chip_out: Vec<f64> = (0..hd)
        .map(|i| {
            let (mut hi, mut lo) = (0i32, 0i32);
            for (&p, (v, _)) in pq.iter().zip(&vq) {
                let (ph, pl) = chip::split_p14(p);
                hi += i32::from(ph) * i32::from(v[i]);
                lo += i32::from(pl) * i32::from(v[i]);
            }
            f64::from((chip::combine_p14(hi, lo) * so).get())
        })
        .collect();
    // f64 reference on the unquantized inputs.
    let sc: Vec<f64> = keys
        .iter()
        .map(|k| {
            q.iter()
                .zip(k)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum::<f64>()
                / (hd as f64).sqrt()
        })
        .collect();
    let mx = sc.iter().cloned().fold(f64::MIN, f64::max);
    let z: f64 = sc.iter().map(|s| (s - mx).exp()).sum();
    let want: Vec<f64> = (0..hd)
        .map(|i| {
            sc.iter()
                .zip(vals)
                .map(|(s, v)| (s - mx).exp() / z * f64::from(v[i]))
                .sum()
        })
        .collect();
    (chip_out, want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Attention of one head, head_dim 64 or 128, 1 to 300 positions, values of any scale:
    /// the int8 cache and int8 softmax weights stay within a few percent of the output range.
    #[test]
    fn chip_attention_close_to_f64(
        hd in prop::sample::select(vec![64usize, 128]),
        n in 1usize..300,
        qscale in 0.1f32..8.0,
        seed in any::<u64>(),
    ) {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let q: Vec<f32> = (0..hd).map(|_| next() * qscale).collect();
        let keys: Vec<Vec<f32>> = (0..n).map(|_| (0..hd).map(|_| next()).collect()).collect();
        let vals: Vec<Vec<f32>> = (0..n).map(|_| (0..hd).map(|_| next() * 3.0).collect()).collect();
        let (got, want) = attention_case(&q, &keys, &vals);
        let range = vals.iter().flatten().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= 0.04 * range, "{g} vs {w} (range {range})");
        }
    }

    /// `Σ x²` does not depend on the order of the terms.
    #[test]
    fn chip_sum_squares_order_free(v in prop::collection::vec(-1e4f32..1e4, 0..600), rot in 0usize..600) {
        let x: Vec<Fz> = v.iter().map(|&a| Fz::new(a)).collect();
        let mut y = x.clone();
        if !y.is_empty() {
            let r = rot % y.len();
            y.rotate_left(r);
        }
        y.reverse();
        prop_assert_eq!(chip::sum_squares(&x).to_bits(), chip::sum_squares(&y).to_bits());
    }
}
