//! Forward-pass behaviour: KV-cache decoding equals the full sequence, llama3 rotary bands,
//! the w8a8 path's engine calls and dequantization, and traced hidden states.

mod model_util;

use model_util::*;
use ndarray::{Array2, ArrayView2};
use safetensors::Dtype;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::config::Config;
use tessera_golden::model::{linear_group, KvCache, Linear, Llama, Precision, Rope};
use tessera_golden::quant::{
    matvec_i32_scalar, quantize_vector, GoldenEngine, MatVecEngine, MatrixId, MatrixKind,
    QuantMatrix,
};
use tessera_golden::Result;

fn load(precision: Precision, untied: bool) -> Llama {
    let dir = write_checkpoint("fwd", Dtype::F32, untied, |_| {});
    Llama::load(&Checkpoint::open(&dir).unwrap(), precision).unwrap()
}

const TOKENS: [u32; 7] = [1, 17, 42, 99, 0, 63, 8];

fn max_abs_diff(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn model_kv_cache_incremental_equals_full_sequence() {
    for precision in [Precision::F32, Precision::W8A8] {
        for untied in [false, true] {
            let m = load(precision, untied);
            let full = m
                .forward(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
                .unwrap();
            // Token by token.
            let mut cache = KvCache::new(m.config());
            for (i, &t) in TOKENS.iter().enumerate() {
                let l = m.forward(&[t], &mut cache, &mut GoldenEngine).unwrap();
                assert_eq!(cache.len(), i + 1);
                let d = max_abs_diff(l.view(), full.slice(ndarray::s![i..i + 1, ..]));
                assert!(
                    d <= 1e-5,
                    "{precision:?} untied={untied} token {i}: diff {d}"
                );
            }
            // Prefill then decode.
            let mut cache = KvCache::new(m.config());
            let a = m
                .forward(&TOKENS[..4], &mut cache, &mut GoldenEngine)
                .unwrap();
            let b = m
                .forward(&TOKENS[4..], &mut cache, &mut GoldenEngine)
                .unwrap();
            assert!(max_abs_diff(a.view(), full.slice(ndarray::s![..4, ..])) <= 1e-5);
            assert!(max_abs_diff(b.view(), full.slice(ndarray::s![4.., ..])) <= 1e-5);
            // Truncating the cache replays the same logits.
            cache.truncate(4);
            let b2 = m
                .forward(&TOKENS[4..], &mut cache, &mut GoldenEngine)
                .unwrap();
            assert_eq!(b, b2);
        }
    }
}

#[test]
fn model_logits_depend_on_context_and_are_deterministic() {
    let m = load(Precision::F32, true);
    let a = m
        .forward(&[5, 9], &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    let b = m
        .forward(&[6, 9], &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    let a2 = m
        .forward(&[5, 9], &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    assert_eq!(a, a2);
    // Same last token, different history: attention must see the past.
    assert!(
        max_abs_diff(
            a.row(1).insert_axis(ndarray::Axis(0)),
            b.row(1).insert_axis(ndarray::Axis(0))
        ) > 1e-3
    );
}

#[test]
fn model_w8a8_tracks_fp32() {
    let f = load(Precision::F32, true);
    let q = load(Precision::W8A8, true);
    let lf = f
        .forward(&TOKENS, &mut KvCache::new(f.config()), &mut GoldenEngine)
        .unwrap();
    let lq = q
        .forward(&TOKENS, &mut KvCache::new(q.config()), &mut GoldenEngine)
        .unwrap();
    let range = lf.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(lf.view(), lq.view());
    assert!(d > 0.0, "w8a8 must differ from fp32 somewhere");
    assert!(
        d < 0.1 * range,
        "w8a8 drifted: diff {d}, logit range {range}"
    );
}

#[test]
fn model_forward_traced_hidden_states() {
    let m = load(Precision::F32, false);
    let (logits, hs) = m
        .forward_traced(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    assert_eq!(hs.len(), 3);
    for h in &hs {
        assert_eq!(h.dim(), (TOKENS.len(), 64));
    }
    // The first entry is the embedding lookup itself.
    assert_eq!(hs[0].row(2), m.embed_tokens.row(42));
    let plain = m
        .forward(&TOKENS, &mut KvCache::new(m.config()), &mut GoldenEngine)
        .unwrap();
    assert_eq!(logits, plain);
}

#[test]
fn model_rope_llama3_covers_three_bands() {
    let c = Config::from_json(CONFIG_JSON).unwrap();
    let rope = Rope::new(&c).unwrap();
    let mut plain_cfg = c.clone();
    plain_cfg.rope_scaling = None;
    let plain = Rope::new(&plain_cfg).unwrap();
    assert_eq!(rope.inv_freq.len(), 8);
    let (factor, low, high, old) = (8.0f64, 1.0f64, 4.0f64, 32.0f64);
    let mut bands = [0usize; 3];
    for (i, (&got, &base)) in rope.inv_freq.iter().zip(&plain.inv_freq).enumerate() {
        let f = 1.0 / 10000f64.powf(2.0 * i as f64 / 16.0);
        assert!(((base as f64) - f).abs() <= 1e-6 * f, "inv_freq[{i}]");
        let wavelen = 2.0 * std::f64::consts::PI / f;
        let want = if wavelen < old / high {
            bands[0] += 1;
            f
        } else if wavelen > old / low {
            bands[1] += 1;
            f / factor
        } else {
            bands[2] += 1;
            let s = (old / wavelen - low) / (high - low);
            (1.0 - s) * f / factor + s * f
        };
        assert!(
            ((got as f64) - want).abs() <= 1e-5 * want,
            "band value {i}: {got} vs {want}"
        );
    }
    assert!(bands.iter().all(|&n| n > 0), "bands {bands:?}");
    // Position 0 is the identity rotation; angles grow linearly with position.
    let t = rope.tables(0, 3);
    assert!(t.cos.row(0).iter().all(|&v| v == 1.0));
    assert!(t.sin.row(0).iter().all(|&v| v == 0.0));
    assert_eq!(t.sin[[2, 0]], (rope.inv_freq[0] * 2.0).sin());
    let t5 = rope.tables(5, 1);
    assert_eq!(t5.cos[[0, 3]], (rope.inv_freq[3] * 5.0).cos());
}

/// Records every call and forwards it to the golden engine.
#[derive(Default)]
struct Recorder {
    calls: Vec<Vec<MatrixId>>,
}

impl MatVecEngine for Recorder {
    fn matvec(
        &mut self,
        mats: &[(MatrixId, &QuantMatrix)],
        xs: ArrayView2<i8>,
    ) -> Result<Vec<Array2<i32>>> {
        self.calls.push(mats.iter().map(|m| m.0).collect());
        GoldenEngine.matvec(mats, xs)
    }
}

#[test]
fn model_w8a8_engine_sees_fused_groups_in_order() {
    let m = load(Precision::W8A8, false);
    let mut rec = Recorder::default();
    let with_rec = m
        .forward(&TOKENS[..3], &mut KvCache::new(m.config()), &mut rec)
        .unwrap();
    let golden = m
        .forward(
            &TOKENS[..3],
            &mut KvCache::new(m.config()),
            &mut GoldenEngine,
        )
        .unwrap();
    assert_eq!(with_rec, golden);
    let id = |layer, kind| MatrixId { layer, kind };
    let mut want = Vec::new();
    for l in 0..2 {
        let l = Some(l);
        want.push(vec![
            id(l, MatrixKind::Q),
            id(l, MatrixKind::K),
            id(l, MatrixKind::V),
        ]);
        want.push(vec![id(l, MatrixKind::O)]);
        want.push(vec![id(l, MatrixKind::Gate), id(l, MatrixKind::Up)]);
        want.push(vec![id(l, MatrixKind::Down)]);
    }
    want.push(vec![id(None, MatrixKind::LmHead)]);
    assert_eq!(rec.calls, want);
}

#[test]
fn model_w8a8_dequantization_order() {
    let w = Array2::from_shape_fn((5, 40), |(r, k)| {
        ((r * 40 + k) as f32 * 0.37).sin() * (r + 1) as f32
    });
    let x = Array2::from_shape_fn((2, 40), |(t, k)| ((t * 40 + k) as f32 * 0.91).cos() * 3.0);
    let id = MatrixId {
        layer: Some(0),
        kind: MatrixKind::O,
    };
    let lin = Linear::from_f32(id, w.clone(), Precision::W8A8);
    let y = linear_group(&[&lin], x.view(), &mut GoldenEngine)
        .unwrap()
        .pop()
        .unwrap();
    let qm = QuantMatrix::quantize(w.view());
    for t in 0..2 {
        let (xq, xs) = quantize_vector(&x.row(t).to_vec());
        let acc = matvec_i32_scalar(&qm.q, 5, 40, &xq);
        for r in 0..5 {
            assert_eq!(
                y[[t, r]].to_bits(),
                ((acc[r] as f32) * (xs * qm.scales[r])).to_bits()
            );
        }
    }
    // And the f32 twin is close to it.
    let lf = Linear::from_f32(id, w, Precision::F32);
    let yf = linear_group(&[&lf], x.view(), &mut GoldenEngine)
        .unwrap()
        .pop()
        .unwrap();
    assert!(max_abs_diff(y.view(), yf.view()) < 0.5);
}

#[test]
fn model_long_prefill_matches_token_by_token() {
    // More than 8 tokens: the FP32 prefill takes the matrix-product path.
    let toks: Vec<u32> = (0..21).map(|i| (i * 37 + 5) % 100).collect();
    for precision in [Precision::F32, Precision::W8A8] {
        let m = load(precision, false);
        let full = m
            .forward(&toks, &mut KvCache::new(m.config()), &mut GoldenEngine)
            .unwrap();
        let mut cache = KvCache::new(m.config());
        for (i, &t) in toks.iter().enumerate() {
            let l = m.forward(&[t], &mut cache, &mut GoldenEngine).unwrap();
            // Every reduction has a fixed order per token: the bits are the same.
            assert_eq!(l.row(0), full.row(i), "{precision:?} token {i}");
        }
    }
}
