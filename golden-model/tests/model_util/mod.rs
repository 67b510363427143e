//! Shared helpers for the model tests: small random checkpoints written with the
//! `safetensors` crate into a fresh temporary directory.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("tessera-golden-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub const CONFIG_JSON: &str = r#"{
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": 64,
  "intermediate_size": 96,
  "num_hidden_layers": 2,
  "num_attention_heads": 4,
  "num_key_value_heads": 2,
  "head_dim": 16,
  "vocab_size": 100,
  "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0,
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
  "tie_word_embeddings": false,
  "max_position_embeddings": 256,
  "bos_token_id": 1,
  "eos_token_id": [2, 3],
  "torch_dtype": "float32"
}"#;

/// Tensor names and shapes of a checkpoint for `CONFIG_JSON` (with `lm_head` when `untied`).
pub fn tensor_shapes(untied: bool) -> Vec<(String, Vec<usize>)> {
    let (h, i, nh, nkv, hd, v) = (64, 96, 4, 2, 16, 100);
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, h])];
    for l in 0..2 {
        let p = format!("model.layers.{l}");
        t.push((format!("{p}.self_attn.q_proj.weight"), vec![nh * hd, h]));
        t.push((format!("{p}.self_attn.k_proj.weight"), vec![nkv * hd, h]));
        t.push((format!("{p}.self_attn.v_proj.weight"), vec![nkv * hd, h]));
        t.push((format!("{p}.self_attn.o_proj.weight"), vec![h, nh * hd]));
        t.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
        t.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
        t.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
        t.push((format!("{p}.input_layernorm.weight"), vec![h]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
    }
    t.push(("model.norm.weight".to_string(), vec![h]));
    if untied {
        t.push(("lm_head.weight".to_string(), vec![v, h]));
    }
    t
}

/// Deterministic random values for a tensor: norms near 1, embeddings ±1, linears ±0.15.
pub fn random_values(name: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let salt: u64 = name
        .bytes()
        .fold(seed, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    let mut rng = ChaCha8Rng::seed_from_u64(salt);
    let amp = if name.contains("norm") {
        return (0..n).map(|_| 1.0 + rng.gen_range(-0.1f32..0.1)).collect();
    } else if name.contains("embed") {
        1.0
    } else {
        0.15
    };
    (0..n).map(|_| rng.gen_range(-amp..amp)).collect()
}

/// Encode f32 values in a safetensors dtype.
pub fn encode(values: &[f32], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Dtype::BF16 => values
            .iter()
            .flat_map(|&v| half::bf16::from_f32(v).to_bits().to_le_bytes())
            .collect(),
        Dtype::F16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_bits().to_le_bytes())
            .collect(),
        _ => panic!("test helper encodes only float dtypes"),
    }
}

/// Write `tensors` (name, shape, bytes, dtype) to a safetensors file.
pub fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<u8>, Dtype)]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, b, d)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::tensor::serialize_to_file(views, None, path).unwrap();
}

/// All tensors of a random checkpoint in `dtype`.
pub fn random_tensors(
    untied: bool,
    dtype: Dtype,
    seed: u64,
) -> Vec<(String, Vec<usize>, Vec<u8>, Dtype)> {
    tensor_shapes(untied)
        .into_iter()
        .map(|(n, s)| {
            let v = random_values(&n, &s, seed);
            let b = encode(&v, dtype);
            (n, s, b, dtype)
        })
        .collect()
}

/// A complete random checkpoint folder (`model.safetensors`), config patched by `patch`.
pub fn write_checkpoint(
    tag: &str,
    dtype: Dtype,
    untied: bool,
    patch: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let dir = temp_dir(tag);
    let mut cfg: serde_json::Value = serde_json::from_str(CONFIG_JSON).unwrap();
    cfg["tie_word_embeddings"] = serde_json::Value::Bool(!untied);
    patch(&mut cfg);
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    write_safetensors(
        &dir.join("model.safetensors"),
        &random_tensors(untied, dtype, 7),
    );
    dir
}

/// Split a checkpoint's tensors over two shards with an index file.
pub fn write_sharded_checkpoint(tag: &str) -> PathBuf {
    let dir = temp_dir(tag);
    std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
    let tensors = random_tensors(true, Dtype::F32, 7);
    let (a, b) = tensors.split_at(tensors.len() / 2);
    let names = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
    let mut map = HashMap::new();
    for (part, file) in [a, b].iter().zip(names) {
        write_safetensors(&dir.join(file), part);
        for t in part.iter() {
            map.insert(t.0.clone(), file.to_string());
        }
    }
    let index = serde_json::json!({"metadata": {"total_size": 0}, "weight_map": map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    dir
}
