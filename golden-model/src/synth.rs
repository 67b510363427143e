//! Synthetic, deterministic Llama checkpoints in Hugging Face layout.
//!
//! [`write_checkpoint`] writes `config.json` and bf16 safetensors: one `model.safetensors`, or
//! shards `model-0000k-of-0000n.safetensors` of at most [`SHARD_BYTES`] with
//! `model.safetensors.index.json`, as transformers' `save_pretrained` does. Tensors are generated
//! and written chunk by chunk, so memory use is independent of model size. (The `safetensors`
//! crate's serializer takes each tensor's bytes whole, 1 GB for the 8B embedding, so the
//! header and data are written here; the crate's reader checks the result in the tests.)
//!
//! Values come from a counter-based generator: element `i` of tensor `name` is a function of
//! `(seed, name, i)` alone (splitmix64 of the three, four 16-bit uniforms summed: an
//! Irwin–Hall approximation of a standard normal), so any chunk can be computed in parallel and
//! the bytes do not depend on chunking or thread count.
//!
//! Magnitudes (`std` per tensor) keep the residual stream at RMS O(1) through any depth:
//! embeddings N(0, 1); q/k/v/gate/up N(0, 1/fan_in); o/down N(0, 1/(2·L·fan_in)) (the
//! GPT-2 residual scaling), norm weights 1 + N(0, 0.05²), lm_head N(0, 4/hidden) so logits have
//! a spread of a few units.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use half::bf16;
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Largest shard written (bytes of tensor data).
pub const SHARD_BYTES: u64 = 2_000_000_000;

/// Elements generated per parallel chunk.
const CHUNK: usize = 1 << 20;

/// Which model shape to synthesize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Llama 3.1 8B's exact configuration.
    Llama31_8b,
    /// A few-hundred-KB model with the same structure (GQA, llama3 rope scaling) for tests.
    Tiny,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 2] = [Preset::Llama31_8b, Preset::Tiny];

    /// The name `tessera synth-weights --preset` takes.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Llama31_8b => "llama3.1-8b",
            Preset::Tiny => "tiny",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown preset `{s}` (expected {})",
                    Preset::ALL.map(Preset::name).join(" or ")
                ))
            })
    }
}

/// Shape numbers of a preset.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
}

impl Preset {
    pub fn shape(self) -> Shape {
        match self {
            Preset::Llama31_8b => Shape {
                hidden: 4096,
                intermediate: 14336,
                heads: 32,
                kv_heads: 8,
                head_dim: 128,
                vocab: 128256,
            },
            Preset::Tiny => Shape {
                hidden: 64,
                intermediate: 160,
                heads: 4,
                kv_heads: 2,
                head_dim: 16,
                vocab: 256,
            },
        }
    }

    /// `config.json` of the preset with `layers` decoder layers.
    pub fn config_json(self, layers: usize) -> Value {
        match self {
            Preset::Llama31_8b => json!({
                "architectures": ["LlamaForCausalLM"],
                "attention_bias": false,
                "attention_dropout": 0.0,
                "bos_token_id": 128000,
                "eos_token_id": [128001, 128008, 128009],
                "head_dim": 128,
                "hidden_act": "silu",
                "hidden_size": 4096,
                "initializer_range": 0.02,
                "intermediate_size": 14336,
                "max_position_embeddings": 131072,
                "mlp_bias": false,
                "model_type": "llama",
                "num_attention_heads": 32,
                "num_hidden_layers": layers,
                "num_key_value_heads": 8,
                "pretraining_tp": 1,
                "rms_norm_eps": 1e-5,
                "rope_scaling": {
                    "factor": 8.0,
                    "high_freq_factor": 4.0,
                    "low_freq_factor": 1.0,
                    "original_max_position_embeddings": 8192,
                    "rope_type": "llama3"
                },
                "rope_theta": 500000.0,
                "tie_word_embeddings": false,
                "torch_dtype": "bfloat16",
                "use_cache": true,
                "vocab_size": 128256
            }),
            Preset::Tiny => json!({
                "architectures": ["LlamaForCausalLM"],
                "attention_bias": false,
                "attention_dropout": 0.0,
                "bos_token_id": 1,
                "eos_token_id": 2,
                "head_dim": 16,
                "hidden_act": "silu",
                "hidden_size": 64,
                "initializer_range": 0.02,
                "intermediate_size": 160,
                "max_position_embeddings": 1024,
                "mlp_bias": false,
                "model_type": "llama",
                "num_attention_heads": 4,
                "num_hidden_layers": layers,
                "num_key_value_heads": 2,
                "pretraining_tp": 1,
                "rms_norm_eps": 1e-5,
                "rope_scaling": {
                    "factor": 8.0,
                    "high_freq_factor": 4.0,
                    "low_freq_factor": 1.0,
                    "original_max_position_embeddings": 128,
                    "rope_type": "llama3"
                },
                "rope_theta": 10000.0,
                "tie_word_embeddings": false,
                "torch_dtype": "bfloat16",
                "use_cache": true,
                "vocab_size": 256
            }),
        }
    }
}

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    pub preset: Preset,
    pub layers: usize,
    pub seed: u64,
}

/// How a tensor's values are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Init {
    /// N(0, std²).
    Normal(f32),
    /// 1 + N(0, std²).
    OnePlus(f32),
}

/// One tensor of the checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorPlan {
    pub name: String,
    pub shape: Vec<usize>,
    init: Init,
}

impl TensorPlan {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn bytes(&self) -> u64 {
        self.numel() as u64 * 2
    }
}

/// The tensors of a checkpoint, in `save_pretrained` order (embeddings, layers, norm, head).
pub fn plan(spec: &SynthSpec) -> Vec<TensorPlan> {
    let s = spec.preset.shape();
    let h = s.hidden;
    let l = spec.layers.max(1) as f32;
    let q = s.heads * s.head_dim;
    let kv = s.kv_heads * s.head_dim;
    let std_in = |fan_in: usize| (1.0 / fan_in as f32).sqrt();
    let std_res = |fan_in: usize| (1.0 / (2.0 * l * fan_in as f32)).sqrt();
    let t = |name: String, shape: Vec<usize>, init| TensorPlan { name, shape, init };
    let mut v = vec![t(
        "model.embed_tokens.weight".into(),
        vec![s.vocab, h],
        Init::Normal(1.0),
    )];
    for i in 0..spec.layers {
        let p = format!("model.layers.{i}");
        v.push(t(
            format!("{p}.input_layernorm.weight"),
            vec![h],
            Init::OnePlus(0.05),
        ));
        v.push(t(
            format!("{p}.self_attn.q_proj.weight"),
            vec![q, h],
            Init::Normal(std_in(h)),
        ));
        v.push(t(
            format!("{p}.self_attn.k_proj.weight"),
            vec![kv, h],
            Init::Normal(std_in(h)),
        ));
        v.push(t(
            format!("{p}.self_attn.v_proj.weight"),
            vec![kv, h],
            Init::Normal(std_in(h)),
        ));
        v.push(t(
            format!("{p}.self_attn.o_proj.weight"),
            vec![h, q],
            Init::Normal(std_res(q)),
        ));
        v.push(t(
            format!("{p}.post_attention_layernorm.weight"),
            vec![h],
            Init::OnePlus(0.05),
        ));
        v.push(t(
            format!("{p}.mlp.gate_proj.weight"),
            vec![s.intermediate, h],
            Init::Normal(std_in(h)),
        ));
        v.push(t(
            format!("{p}.mlp.up_proj.weight"),
            vec![s.intermediate, h],
            Init::Normal(std_in(h)),
        ));
        v.push(t(
            format!("{p}.mlp.down_proj.weight"),
            vec![h, s.intermediate],
            Init::Normal(std_res(s.intermediate)),
        ));
    }
    v.push(t("model.norm.weight".into(), vec![h], Init::OnePlus(0.05)));
    v.push(t(
        "lm_head.weight".into(),
        vec![s.vocab, h],
        Init::Normal(2.0 * std_in(h)),
    ));
    v
}

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// the mixing step of every seeded stream of the project.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A splitmix64 stream of values uniform in [-1, 1) (24-bit resolution): the seeded weights of
/// small test models and benches.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next value, uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        let z = splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` values `offset + u × scale`.
    pub fn values(&mut self, n: usize, scale: f32, offset: f32) -> Vec<f32> {
        (0..n).map(|_| offset + self.uniform() * scale).collect()
    }
}

/// FNV-1a of the tensor name: the per-tensor stream key.
fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Approximately standard-normal value number `i` of stream `key`.
#[inline]
fn gauss(key: u64, i: u64) -> f32 {
    let r = splitmix64(key ^ splitmix64(i));
    let sum = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
    // Four U(0,1): mean 2, variance 1/3.
    let u = sum as f32 / 65536.0;
    (u - 2.0) * 3.0f32.sqrt()
}

/// Fills `out` with elements `start..start + out.len()` of tensor `t` as bf16 bytes.
fn fill_chunk(t: &TensorPlan, key: u64, start: usize, out: &mut [u8]) {
    for (j, b) in out.chunks_exact_mut(2).enumerate() {
        let g = gauss(key, (start + j) as u64);
        let v = match t.init {
            Init::Normal(std) => g * std,
            Init::OnePlus(std) => 1.0 + g * std,
        };
        b.copy_from_slice(&bf16::from_f32(v).to_le_bytes());
    }
}

/// Values of one tensor as f32 (for tests and inspection; allocates the whole tensor).
pub fn tensor_values(spec: &SynthSpec, name: &str) -> Option<Vec<f32>> {
    let t = plan(spec).into_iter().find(|t| t.name == name)?;
    let mut bytes = vec![0u8; t.numel() * 2];
    fill_chunk(&t, name_key(&t.name) ^ spec.seed, 0, &mut bytes);
    Some(
        bytes
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    )
}

/// Progress report while writing.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress<'a> {
    pub tensor: &'a str,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSummary {
    pub files: Vec<PathBuf>,
    pub tensors: usize,
    pub parameters: u64,
    pub bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Splits the plan into shards of at most `shard_bytes` (a larger tensor gets its own).
fn shards(plan: &[TensorPlan], shard_bytes: u64) -> Vec<Vec<&TensorPlan>> {
    let mut out: Vec<Vec<&TensorPlan>> = vec![Vec::new()];
    let mut size = 0u64;
    for t in plan {
        let last = out.last_mut().expect("out starts non-empty");
        if !last.is_empty() && size + t.bytes() > shard_bytes {
            out.push(vec![t]);
            size = t.bytes();
        } else {
            last.push(t);
            size += t.bytes();
        }
    }
    out
}

/// The safetensors header for `tensors` laid out in order, padded to 8 bytes.
fn header(tensors: &[&TensorPlan]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    map.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut off = 0u64;
    for t in tensors {
        map.insert(
            t.name.clone(),
            json!({"dtype": "BF16", "shape": t.shape, "data_offsets": [off, off + t.bytes()]}),
        );
        off += t.bytes();
    }
    let mut h = Value::Object(map).to_string().into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out
}

/// Writes the checkpoint into `out` (created if needed), in shards of at most [`SHARD_BYTES`].
pub fn write_checkpoint(
    spec: &SynthSpec,
    out: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<SynthSummary> {
    write_checkpoint_sharded(spec, out, SHARD_BYTES, progress)
}

/// [`write_checkpoint`] with a chosen shard size (one file when everything fits).
///
/// The tiny preset also gets a `tokenizer.json`: byte-level BPE whose 256 ids are the 256
/// bytes (no merges), so text commands work on it and every multi-byte character spans tokens.
pub fn write_checkpoint_sharded(
    spec: &SynthSpec,
    out: &Path,
    shard_bytes: u64,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<SynthSummary> {
    if spec.layers == 0 {
        return Err(Error::InvalidArgument("--layers must be at least 1".into()));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let cfg_path = out.join("config.json");
    let cfg =
        serde_json::to_string_pretty(&spec.preset.config_json(spec.layers)).map_err(|source| {
            Error::Json {
                path: cfg_path.clone(),
                source,
            }
        })?;
    std::fs::write(&cfg_path, cfg + "\n").map_err(io(&cfg_path))?;

    let mut extra = Vec::new();
    if spec.preset == Preset::Tiny {
        let tok_path = out.join("tokenizer.json");
        let text =
            serde_json::to_string_pretty(&byte_level_tokenizer_json()).map_err(|source| {
                Error::Json {
                    path: tok_path.clone(),
                    source,
                }
            })?;
        std::fs::write(&tok_path, text + "\n").map_err(io(&tok_path))?;
        extra.push(tok_path);
    }

    let plan = plan(spec);
    let groups = shards(&plan, shard_bytes);
    let total: u64 = plan.iter().map(TensorPlan::bytes).sum();
    let n = groups.len();
    let names: Vec<String> = if n == 1 {
        vec!["model.safetensors".into()]
    } else {
        (1..=n)
            .map(|k| format!("model-{k:05}-of-{n:05}.safetensors"))
            .collect()
    };
    // Remove the other layout's leftovers so the folder is unambiguous.
    if n == 1 {
        let _ = std::fs::remove_file(out.join("model.safetensors.index.json"));
    } else {
        let _ = std::fs::remove_file(out.join("model.safetensors"));
    }

    let mut done = 0u64;
    let mut files = Vec::new();
    let mut weight_map = serde_json::Map::new();
    let mut buf = vec![0u8; CHUNK * 2];
    for (group, fname) in groups.iter().zip(&names) {
        let path = out.join(fname);
        let file = File::create(&path).map_err(io(&path))?;
        let mut w = BufWriter::with_capacity(1 << 22, file);
        w.write_all(&header(group)).map_err(io(&path))?;
        for t in group {
            weight_map.insert(t.name.clone(), Value::String(fname.clone()));
            let key = name_key(&t.name) ^ spec.seed;
            let numel = t.numel();
            let mut start = 0;
            while start < numel {
                let len = CHUNK.min(numel - start);
                let bytes = &mut buf[..len * 2];
                bytes
                    .par_chunks_mut(1 << 14)
                    .enumerate()
                    .for_each(|(c, b)| fill_chunk(t, key, start + c * (1 << 13), b));
                w.write_all(bytes).map_err(io(&path))?;
                start += len;
                done += len as u64 * 2;
                progress(Progress {
                    tensor: &t.name,
                    bytes_done: done,
                    bytes_total: total,
                });
            }
        }
        w.flush().map_err(io(&path))?;
        files.push(path);
    }
    if n > 1 {
        let idx_path = out.join("model.safetensors.index.json");
        let idx = json!({"metadata": {"total_size": total}, "weight_map": weight_map});
        let text = serde_json::to_string_pretty(&idx).map_err(|source| Error::Json {
            path: idx_path.clone(),
            source,
        })?;
        std::fs::write(&idx_path, text + "\n").map_err(io(&idx_path))?;
        files.push(idx_path);
    }
    files.insert(0, cfg_path);
    files.extend(extra);
    Ok(SynthSummary {
        files,
        tensors: plan.len(),
        parameters: total / 2,
        bytes: total,
    })
}

/// GPT-2's reversible map from bytes to printable characters (byte-level BPE alphabet).
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| {
        (u32::from(b'!')..=u32::from(b'~')).contains(&b)
            || (0xA1..=0xAC).contains(&b)
            || (0xAE..=0xFF).contains(&b)
    };
    let mut next = 256u32;
    (0u32..256)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                next += 1;
                next - 1
            };
            char::from_u32(c).unwrap_or('?')
        })
        .collect()
}

/// A byte-level BPE `tokenizer.json` with 256 tokens, id = byte value, no merges.
pub fn byte_level_tokenizer_json() -> Value {
    let vocab: serde_json::Map<String, Value> = byte_chars()
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), json!(i)))
        .collect();
    let bl = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": bl,
        "post_processor": null,
        "decoder": bl,
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": []
        }
    })
}

/// Writes f32 tensors to a safetensors file (e.g. logits for other tools) with the
/// `safetensors` crate's serializer, which lays the tensors out in name order.
///
/// The file is assembled in memory and then written like any other output: the crate's
/// `serialize_to_file` would stream it, but through a temporary file created readable by its
/// owner only.
pub fn write_f32_safetensors(path: &Path, tensors: &[(&str, &[usize], &[f32])]) -> Result<()> {
    let mut views = Vec::with_capacity(tensors.len());
    for (i, &(name, shape, data)) in tensors.iter().enumerate() {
        let numel: usize = shape.iter().product();
        if numel != data.len() {
            return Err(Error::ShapeMismatch(format!(
                "tensor `{name}`: shape {shape:?} holds {numel} values, got {}",
                data.len()
            )));
        }
        if tensors[..i].iter().any(|t| t.0 == name) {
            return Err(Error::InvalidArgument(format!(
                "tensor `{name}` given twice for {}",
                path.display()
            )));
        }
        views.push((name, F32View { shape, data }));
    }
    let bytes = safetensors::serialize(views, None).map_err(|e| Error::SafeTensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, bytes).map_err(io(path))
}

/// An f32 tensor borrowed for the `safetensors` serializer.
struct F32View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl safetensors::View for F32View<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        // safetensors stores little-endian values.
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(self.data))
        } else {
            Cow::Owned(self.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }
    fn data_len(&self) -> usize {
        std::mem::size_of_val(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_gauss_has_unit_variance() {
        let n = 200_000;
        let key = name_key("x");
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let g = f64::from(gauss(key, i));
            s += g;
            s2 += g * g;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
    }

    #[test]
    fn synth_8b_plan_matches_llama31() {
        let spec = SynthSpec {
            preset: Preset::Llama31_8b,
            layers: 32,
            seed: 0,
        };
        let params: usize = plan(&spec).iter().map(TensorPlan::numel).sum();
        // Llama 3.1 8B: 8,030,261,248 parameters.
        assert_eq!(params, 8_030_261_248);
        let p = plan(&spec);
        let groups = shards(&p, SHARD_BYTES);
        assert!(groups
            .iter()
            .all(|g| g.iter().map(|t| t.bytes()).sum::<u64>() <= SHARD_BYTES));
        assert_eq!(groups.len(), 9);
    }

    #[test]
    fn synth_chunking_does_not_change_values() {
        let t = TensorPlan {
            name: "a".into(),
            shape: vec![1000],
            init: Init::Normal(0.5),
        };
        let mut whole = vec![0u8; 2000];
        fill_chunk(&t, 9, 0, &mut whole);
        let mut parts = vec![0u8; 2000];
        fill_chunk(&t, 9, 0, &mut parts[..600]);
        fill_chunk(&t, 9, 300, &mut parts[600..]);
        assert_eq!(whole, parts);
    }
}
