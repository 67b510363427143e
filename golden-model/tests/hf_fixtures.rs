//! The golden model against Hugging Face transformers on small random Llama checkpoints.
//!
//! Fixtures: `tests/fixtures/hf/<model>/`, made by `scripts/fixtures/make_hf_fixtures.py`
//! (versions in `tests/fixtures/hf/versions.json`). Each model is checked for full-sequence
//! logits, token-by-token logits through the KV cache, hidden states after the embeddings and
//! after every decoder layer, greedy continuation, and that w8a8 runs and mostly agrees on top-1.

use std::path::PathBuf;

use ndarray::Array2;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::generate::{argmax, generate, GenerateOptions};
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;

/// Absolute tolerance on logits (the acceptance bound).
const LOGIT_TOL: f32 = 2e-4;

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

struct Expected {
    ids: Vec<u32>,
    full: Array2<f32>,
    incremental: Array2<f32>,
    /// `hidden[0]`: embeddings; `hidden[i]`: output of decoder layer `i - 1`.
    hidden: Vec<Array2<f32>>,
    greedy: Vec<u32>,
}

fn load_expected(name: &str) -> Expected {
    let dir = fixture_dir(name);
    let bytes = std::fs::read(dir.join("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |n: &str| -> Array2<f32> {
        let t = st.tensor(n).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{n}");
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Array2::from_shape_vec((t.shape()[0], t.shape()[1]), v).unwrap()
    };
    let ids_t = st.tensor("input_ids").unwrap();
    let ids: Vec<u32> = ids_t
        .data()
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u32)
        .collect();
    let mut hidden = Vec::new();
    while st.tensor(&format!("hidden.{}", hidden.len())).is_ok() {
        hidden.push(f32s(&format!("hidden.{}", hidden.len())));
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let greedy = meta["greedy_new_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let json_ids: Vec<u32> = meta["prompt_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        ids, json_ids,
        "{name}: expected.json and expected.safetensors disagree"
    );
    Expected {
        ids,
        full: f32s("logits_full"),
        incremental: f32s("logits_incremental"),
        hidden,
        greedy,
    }
}

fn load(name: &str, precision: Precision) -> (Checkpoint, Llama) {
    let ckpt = Checkpoint::open(fixture_dir(name)).unwrap();
    let model = Llama::load(&ckpt, precision).unwrap();
    (ckpt, model)
}

/// Max |a - b| and where; a shape mismatch is an error.
fn max_diff(got: &Array2<f32>, want: &Array2<f32>) -> Result<(f32, (usize, usize)), String> {
    if got.dim() != want.dim() {
        return Err(format!("shape {:?}, expected {:?}", got.dim(), want.dim()));
    }
    let mut worst = (0.0f32, (0, 0));
    for ((idx, &g), &w) in got.indexed_iter().zip(want.iter()) {
        let d = (g - w).abs();
        if d > worst.0 || d.is_nan() {
            worst = (if d.is_nan() { f32::INFINITY } else { d }, idx);
        }
    }
    Ok(worst)
}

fn layer_name(i: usize) -> String {
    if i == 0 {
        "embeddings (hidden.0)".into()
    } else {
        format!("output of decoder layer {} (hidden.{i})", i - 1)
    }
}

/// Compares hidden states layer by layer; the error names the first layer that differs.
/// The tolerance scales with the layer's magnitude (the residual stream grows with depth).
fn compare_hidden(got: &[Array2<f32>], want: &[Array2<f32>]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{} hidden states, expected {} (embeddings + one per layer)",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let scale = w.iter().fold(1.0f32, |m, &x| m.max(x.abs()));
        let tol = 1e-5 * scale.max(10.0);
        let (d, (t, k)) = max_diff(g, w).map_err(|e| format!("{}: {e}", layer_name(i)))?;
        if d > tol {
            return Err(format!(
                "{}: max |diff| {d:.3e} at token {t}, index {k} (got {}, expected {}), tolerance {tol:.1e}",
                layer_name(i),
                g[[t, k]],
                w[[t, k]]
            ));
        }
    }
    Ok(())
}

fn check_full_logits(name: &str) {
    let exp = load_expected(name);
    let (ckpt, model) = load(name, Precision::F32);
    let mut cache = KvCache::new(ckpt.config());
    let logits = model
        .forward(&exp.ids, &mut cache, &mut GoldenEngine)
        .unwrap();
    let (d, at) = max_diff(&logits, &exp.full).unwrap();
    assert!(
        d <= LOGIT_TOL,
        "{name}: full logits max |diff| {d:.3e} at {at:?}"
    );
}

fn check_incremental_logits(name: &str) {
    let exp = load_expected(name);
    let (ckpt, model) = load(name, Precision::F32);
    let mut cache = KvCache::new(ckpt.config());
    let vocab = exp.incremental.ncols();
    let mut got = Array2::<f32>::zeros((exp.ids.len(), vocab));
    for (t, &id) in exp.ids.iter().enumerate() {
        let l = model.forward(&[id], &mut cache, &mut GoldenEngine).unwrap();
        assert_eq!(l.dim(), (1, vocab), "{name}: step {t}");
        got.row_mut(t).assign(&l.row(0));
    }
    let (d, at) = max_diff(&got, &exp.incremental).unwrap();
    assert!(
        d <= LOGIT_TOL,
        "{name}: incremental logits max |diff| {d:.3e} at {at:?}"
    );
}

fn check_hidden(name: &str) {
    let exp = load_expected(name);
    let (ckpt, model) = load(name, Precision::F32);
    let mut cache = KvCache::new(ckpt.config());
    let (logits, hidden) = model
        .forward_traced(&exp.ids, &mut cache, &mut GoldenEngine)
        .unwrap();
    if let Err(e) = compare_hidden(&hidden, &exp.hidden) {
        panic!("{name}: {e}");
    }
    let (d, _) = max_diff(&logits, &exp.full).unwrap();
    assert!(d <= LOGIT_TOL, "{name}: traced logits max |diff| {d:.3e}");
}

fn check_greedy(name: &str) {
    let exp = load_expected(name);
    let (ckpt, model) = load(name, Precision::F32);
    let mut cache = KvCache::new(ckpt.config());
    let opts = GenerateOptions {
        max_new: exp.greedy.len(),
        sampling: None,
        stop_ids: Vec::new(),
    };
    let mut streamed = Vec::new();
    let g = generate(
        &model,
        &mut cache,
        &exp.ids,
        &opts,
        &mut GoldenEngine,
        &mut |id| {
            streamed.push(id);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(g.tokens, exp.greedy, "{name}: greedy continuation");
    assert_eq!(streamed, exp.greedy, "{name}: streamed tokens");
    assert_eq!(g.prompt_tokens, exp.ids);
}

fn check_w8a8(name: &str) {
    let exp = load_expected(name);
    let (ckpt, model) = load(name, Precision::W8A8);
    let mut cache = KvCache::new(ckpt.config());
    let logits = model
        .forward(&exp.ids, &mut cache, &mut GoldenEngine)
        .unwrap();
    assert_eq!(logits.dim(), exp.full.dim());
    assert!(
        logits.iter().all(|x| x.is_finite()),
        "{name}: w8a8 logits not finite"
    );
    let agree = logits
        .outer_iter()
        .zip(exp.full.outer_iter())
        .filter(|(q, f)| argmax(&q.to_vec()) == argmax(&f.to_vec()))
        .count();
    let n = exp.ids.len();
    assert!(
        agree * 10 >= n * 7,
        "{name}: w8a8 top-1 agrees with transformers on only {agree}/{n} positions"
    );
    // The quantized logits stay close to FP32 in scale: no gross error.
    let (d, _) = max_diff(&logits, &exp.full).unwrap();
    let scale = exp.full.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    assert!(
        d < 0.25 * scale,
        "{name}: w8a8 max |diff| {d} vs logit scale {scale}"
    );
}

macro_rules! hf_tests {
    ($($model:ident),*) => {
        $(
            mod $model {
                #[test]
                fn hf_full_logits() {
                    super::check_full_logits(stringify!($model));
                }
                #[test]
                fn hf_incremental_logits() {
                    super::check_incremental_logits(stringify!($model));
                }
                #[test]
                fn hf_hidden_states_per_layer() {
                    super::check_hidden(stringify!($model));
                }
                #[test]
                fn hf_greedy_continuation() {
                    super::check_greedy(stringify!($model));
                }
                #[test]
                fn hf_w8a8_top1_mostly_agrees() {
                    super::check_w8a8(stringify!($model));
                }
            }
        )*
    };
}

hf_tests!(llama3_gqa, mha_plain, tied, bf16);

#[test]
fn hf_hidden_state_mismatch_names_the_layer() {
    let exp = load_expected("llama3_gqa");
    let mut perturbed = exp.hidden.clone();
    perturbed[2][[3, 5]] += 0.5;
    let err = compare_hidden(&perturbed, &exp.hidden).unwrap_err();
    assert!(err.contains("decoder layer 1"), "{err}");
    assert!(err.contains("token 3, index 5"), "{err}");
    assert!(compare_hidden(&exp.hidden, &exp.hidden).is_ok());
}

#[test]
fn hf_fixture_versions_recorded() {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir("versions.json")).unwrap())
            .unwrap();
    for k in ["python", "torch", "transformers"] {
        assert!(v[k].is_string(), "versions.json lacks {k}");
    }
}
