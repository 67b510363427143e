//! Small Llama-shaped models built in memory (tests, bring-up): the golden model's own layers
//! with seeded random weights, so any shape (GQA, tied or untied embeddings, llama3 RoPE
//! scaling) can be placed on a small chip.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use serde_json::json;
use tessera_golden::config::Config;
use tessera_golden::model::{DecoderLayer, LayerWeights, Llama, Precision};
use tessera_golden::synth::{write_checkpoint, Preset, Progress, SplitMix, SynthSpec};

use crate::error::{Error, Result};

/// Shape of a small model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmallShape {
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub vocab: usize,
    pub tied: bool,
}

impl SmallShape {
    /// A Llama 3.1-like model scaled down to fit the `tiny` chip: GQA (4 heads, 2 KV heads,
    /// head_dim 8), tied embeddings, 2 layers, llama3 RoPE scaling.
    pub fn tiny() -> SmallShape {
        SmallShape {
            hidden: 32,
            intermediate: 48,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            vocab: 64,
            tied: true,
        }
    }

    /// int8 weights of every matrix (with `lm_head`).
    pub fn weights(&self) -> usize {
        let hd = self.hidden / self.heads;
        let per_layer = self.hidden * hd * (2 * self.heads + 2 * self.kv_heads)
            + 3 * self.hidden * self.intermediate;
        self.layers * per_layer + self.vocab * self.hidden
    }

    /// The `config.json` of the shape.
    pub fn config(&self) -> Result<Config> {
        let v = json!({
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "vocab_size": self.vocab,
            "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64
            },
            "tie_word_embeddings": self.tied,
            "max_position_embeddings": 512,
            "hidden_act": "silu",
        });
        Ok(Config::from_json(&v.to_string())?)
    }
}

fn matrix(rng: &mut SplitMix, rows: usize, cols: usize, scale: f32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |_| rng.uniform() * scale)
}

fn norm(rng: &mut SplitMix, n: usize) -> Array1<f32> {
    Array1::from_shape_fn(n, |_| 1.0 + 0.1 * rng.uniform())
}

/// A model of shape `s` with seeded uniform weights (std ≈ 1/√fan-in), in `precision`.
pub fn small_llama(s: &SmallShape, seed: u64, precision: Precision) -> Result<Llama> {
    let cfg = s.config()?;
    let mut rng = SplitMix(seed);
    let hd = cfg.head_dim();
    let (h, i) = (s.hidden, s.intermediate);
    let sc = |fan: usize| 1.7 / (fan as f32).sqrt();
    let embed = matrix(&mut rng, s.vocab, h, 1.0);
    let mut layers = Vec::with_capacity(s.layers);
    for l in 0..s.layers {
        let w = LayerWeights {
            q_proj: matrix(&mut rng, s.heads * hd, h, sc(h)),
            k_proj: matrix(&mut rng, s.kv_heads * hd, h, sc(h)),
            v_proj: matrix(&mut rng, s.kv_heads * hd, h, sc(h)),
            o_proj: matrix(&mut rng, h, s.heads * hd, sc(s.heads * hd)),
            gate_proj: matrix(&mut rng, i, h, sc(h)),
            up_proj: matrix(&mut rng, i, h, sc(h)),
            down_proj: matrix(&mut rng, h, i, sc(i)),
            input_layernorm: norm(&mut rng, h),
            post_attention_layernorm: norm(&mut rng, h),
        };
        layers.push(DecoderLayer::from_weights(&cfg, l, w, precision)?);
    }
    let norm = norm(&mut rng, h);
    let head = if s.tied {
        None
    } else {
        Some(matrix(&mut rng, s.vocab, h, sc(h)))
    };
    Ok(Llama::from_parts(
        cfg, embed, layers, norm, head, precision,
    )?)
}

/// Where [`synthetic_checkpoint`] keeps the checkpoint of `preset`, `layers` and `seed`:
/// `<cache>/<preset>-l<layers>-s<seed>`.
pub fn synthetic_dir(cache: &Path, preset: Preset, layers: usize, seed: u64) -> PathBuf {
    cache.join(format!("{}-l{layers}-s{seed}", preset.name()))
}

/// The folder of the synthetic checkpoint of `tessera synth-weights --preset P --layers N --seed
/// S` ([`synthetic_dir`]). Written on first use, into a folder of this process that is renamed
/// into place when complete, so an interrupted or concurrent writer never leaves a partial
/// checkpoint where a reader looks; `progress` sees every tensor written.
pub fn synthetic_checkpoint(
    cache: &Path,
    preset: Preset,
    layers: usize,
    seed: u64,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf> {
    let dir = synthetic_dir(cache, preset, layers, seed);
    if dir.join("config.json").is_file() {
        return Ok(dir);
    }
    let cache = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(cache)
        .map_err(|e| Error::io(format!("create {}", cache.display()), e))?;
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let spec = SynthSpec {
        preset,
        layers,
        seed,
    };
    if let Err(e) = write_checkpoint(&spec, &tmp, progress) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.into());
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process finished first; its checkpoint is the same.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join("config.json").is_file() {
            return Err(Error::io(
                format!("rename {} to {}", tmp.display(), dir.display()),
                std::io::Error::other("rename failed"),
            ));
        }
    }
    Ok(dir)
}

/// A Hugging Face checkpoint directory loaded for the chip (`Precision::W8A8`).
pub fn load_checkpoint(dir: impl AsRef<std::path::Path>) -> Result<Llama> {
    let ckpt = tessera_golden::checkpoint::Checkpoint::open(dir)?;
    Ok(Llama::load(&ckpt, Precision::W8A8)?)
}

/// The largest vocabulary, a multiple of `granule` and at most `m.vocab_size` (which is
/// tried first), with which the model of config `m` compiles for the token engine of `cfg` at
/// `context` ([`crate::token::plan`]). A model that does not compile even with `granule`
/// rows has another memory too small: that plan's error, which names it.
pub fn fit_vocab(
    cfg: &crate::ChipConfig,
    m: &Config,
    context: usize,
    granule: usize,
) -> Result<usize> {
    let with = |vocab: usize| {
        let mut c = m.clone();
        c.vocab_size = vocab;
        crate::token::plan(cfg, &c, context)
    };
    let err = match with(m.vocab_size) {
        Ok(_) => return Ok(m.vocab_size),
        Err(e @ Error::DoesNotFit(_)) => e,
        Err(e) => return Err(e),
    };
    let granule = granule.max(1);
    // The memory a plan needs grows with the vocabulary: bisect over multiples of `granule`.
    let (mut lo, mut hi) = (0usize, (m.vocab_size - 1) / granule);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if with(mid * granule).is_ok() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return match with(granule) {
            Err(e) => Err(e),
            Ok(_) => Err(err),
        };
    }
    Ok(lo * granule)
}

/// The first `layers` decoder layers of `ckpt` with only the first `vocab` rows of its
/// embedding table and `lm_head` (token ids below `vocab`), in `precision`: every decoder
/// layer as the checkpoint has it, a smaller vocabulary.
pub fn load_cut(
    ckpt: &tessera_golden::checkpoint::Checkpoint,
    layers: usize,
    vocab: usize,
    precision: Precision,
) -> Result<Llama> {
    let full = ckpt.config().clone();
    if layers == 0 || layers > full.num_hidden_layers || vocab == 0 || vocab > full.vocab_size {
        return Err(Error::Config(format!(
            "a cut to {layers} layer(s) and vocabulary {vocab}: the checkpoint has {} layer(s) \
             and {} ids",
            full.num_hidden_layers, full.vocab_size
        )));
    }
    let h = full.hidden_size;
    let rows = |name: &str| -> Result<Array2<f32>> {
        let t = ckpt.tensor2(name, full.vocab_size, h)?;
        Ok(t.slice(ndarray::s![..vocab, ..]).to_owned())
    };
    let embed = rows("model.embed_tokens.weight")?;
    let head = if full.tie_word_embeddings || !ckpt.has_tensor("lm_head.weight") {
        None
    } else {
        Some(rows("lm_head.weight")?)
    };
    let decoder = (0..layers)
        .map(|l| DecoderLayer::load(ckpt, l, precision))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let norm = ckpt.tensor1("model.norm.weight", h)?;
    let mut cfg = full;
    cfg.num_hidden_layers = layers;
    cfg.vocab_size = vocab;
    Ok(Llama::from_parts(
        cfg, embed, decoder, norm, head, precision,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_checkpoint_is_written_once_and_reused() {
        let cache = std::env::temp_dir().join(format!("tessera-models-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let mut tensors = 0;
        let dir = synthetic_checkpoint(&cache, Preset::Tiny, 2, 7, &mut |_| tensors += 1).unwrap();
        assert_eq!(dir, synthetic_dir(&cache, Preset::Tiny, 2, 7));
        assert_eq!(dir.file_name().unwrap(), "tiny-l2-s7");
        assert!(tensors > 0, "no progress reported");
        // Nothing but the checkpoint is left in the cache: the temporary folder was renamed.
        let names: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("tiny-l2-s7")]);
        let ckpt = tessera_golden::checkpoint::Checkpoint::open(&dir).unwrap();
        assert_eq!(ckpt.config.num_hidden_layers, 2);
        let written = std::fs::read(dir.join("model.safetensors")).unwrap();

        // Found again: not rewritten (no progress), the same bytes.
        let mut again = 0;
        let dir2 = synthetic_checkpoint(&cache, Preset::Tiny, 2, 7, &mut |_| again += 1).unwrap();
        assert_eq!((dir2, again), (dir.clone(), 0));
        assert_eq!(
            std::fs::read(dir.join("model.safetensors")).unwrap(),
            written
        );

        // Another seed is another checkpoint with other weights.
        let other = synthetic_checkpoint(&cache, Preset::Tiny, 2, 8, &mut |_| {}).unwrap();
        assert_ne!(other, dir);
        assert_ne!(
            std::fs::read(other.join("model.safetensors")).unwrap(),
            written
        );
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn fit_vocab_finds_the_largest_vocabulary_that_compiles() {
        let sim = crate::ChipConfig::named("sim").unwrap();
        let l8b = Config::from_json(&Preset::Llama31_8b.config_json(1).to_string()).unwrap();
        let v = fit_vocab(&sim, &l8b, 2048, 128).unwrap();
        assert!(v > 0 && v < l8b.vocab_size && v % 128 == 0, "{v}");
        let with = |vocab| {
            let mut c = l8b.clone();
            c.vocab_size = vocab;
            crate::token::plan(&sim, &c, 2048)
        };
        with(v).unwrap();
        let e = with(v + 128).unwrap_err().to_string();
        assert!(e.contains("data memory"), "{e}");
        // A model that compiles keeps its vocabulary.
        let tiny = crate::ChipConfig::named("tiny").unwrap();
        let small = SmallShape::tiny().config().unwrap();
        assert_eq!(fit_vocab(&tiny, &small, 16, 8).unwrap(), 64);
        // No vocabulary saves a model whose layers do not fit: the plan's error names them.
        let l8b2 = Config::from_json(&Preset::Llama31_8b.config_json(4).to_string()).unwrap();
        let e = fit_vocab(&sim, &l8b2, 2048, 128).unwrap_err().to_string();
        assert!(e.contains("weight words per tile"), "{e}");
    }

    #[test]
    fn load_cut_keeps_the_layers_and_the_first_rows() {
        let cache = std::env::temp_dir().join(format!("tessera-cut-{}", std::process::id()));
        let dir = synthetic_checkpoint(&cache, Preset::Tiny, 2, 3, &mut |_| {}).unwrap();
        let ckpt = tessera_golden::checkpoint::Checkpoint::open(&dir).unwrap();
        let whole = Llama::load(&ckpt, Precision::Chip).unwrap();
        let cut = load_cut(&ckpt, 1, 100, Precision::Chip).unwrap();
        assert_eq!(cut.config().vocab_size, 100);
        assert_eq!(cut.config().num_hidden_layers, 1);
        assert_eq!(
            cut.embed_tokens,
            whole.embed_tokens.slice(ndarray::s![..100, ..])
        );
        let scales = |l: &tessera_golden::model::Linear| match &l.weight {
            tessera_golden::model::Weight::Quant(q) => q.scales.clone(),
            _ => panic!("int8 expected"),
        };
        assert_eq!(scales(&cut.lm_head), scales(&whole.lm_head)[..100].to_vec());
        assert_eq!(
            scales(&cut.layers[0].mlp.down_proj),
            scales(&whole.layers[0].mlp.down_proj)
        );
        assert!(load_cut(&ckpt, 3, 100, Precision::Chip).is_err());
        assert!(load_cut(&ckpt, 1, 257, Precision::Chip).is_err());
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
