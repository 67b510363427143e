//! Model configuration, read straight from a Hugging Face `config.json`
//! (the fields of transformers' `LlamaConfig`, as candle's `llama.rs` reads them).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `eos_token_id` is an integer or a list of integers in HF configs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum EosTokenId {
    Single(u32),
    Multiple(Vec<u32>),
}

impl EosTokenId {
    /// All end-of-sequence ids.
    pub fn ids(&self) -> Vec<u32> {
        match self {
            EosTokenId::Single(id) => vec![*id],
            EosTokenId::Multiple(ids) => ids.clone(),
        }
    }
}

/// `rope_scaling` of a Llama config. Only `llama3` changes the frequencies; `default` (or no
/// `rope_scaling` at all) means plain RoPE.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
pub struct RopeScaling {
    /// `rope_type` (older configs spell it `type`).
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default = "one")]
    pub factor: f64,
    #[serde(default = "one")]
    pub low_freq_factor: f64,
    #[serde(default = "four")]
    pub high_freq_factor: f64,
    #[serde(default = "original_max")]
    pub original_max_position_embeddings: usize,
}

fn one() -> f64 {
    1.0
}
fn four() -> f64 {
    4.0
}
fn original_max() -> usize {
    8192
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_eps() -> f64 {
    1e-6
}
fn default_max_positions() -> usize {
    2048
}
fn default_act() -> String {
    "silu".to_string()
}

/// A Llama configuration as found in `config.json`. Unknown fields are kept in `extra` so a
/// config written back is the one read.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
pub struct Config {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Defaults to `num_attention_heads` when absent (filled in by [`Config::from_json`]).
    #[serde(default)]
    pub num_key_value_heads: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<EosTokenId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    /// Every other field of `config.json`, preserved verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Config {
    /// Read and validate `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Json { source, .. } => Error::Json {
                path: path.to_path_buf(),
                source,
            },
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parse and validate a config from JSON text.
    pub fn from_json(text: &str) -> Result<Config> {
        let mut c: Config = serde_json::from_str(text).map_err(|source| Error::Json {
            path: "config.json".into(),
            source,
        })?;
        if c.num_key_value_heads == 0 {
            c.num_key_value_heads = c.num_attention_heads;
        }
        c.apply_rope_parameters()?;
        c.validate()?;
        Ok(c)
    }

    /// transformers 5 writes RoPE settings as one `rope_parameters` object (`rope_type`,
    /// `rope_theta` and the scaling fields) instead of `rope_theta` + `rope_scaling`. When present
    /// it takes precedence, as it does in transformers; it stays in `extra` for round trips.
    fn apply_rope_parameters(&mut self) -> Result<()> {
        let Some(params) = self.extra.get("rope_parameters") else {
            return Ok(());
        };
        let bad = |m: &str| Error::Config(format!("rope_parameters: {m}"));
        let obj = params
            .as_object()
            .ok_or_else(|| bad("expected an object"))?;
        if let Some(theta) = obj.get("rope_theta") {
            self.rope_theta = theta
                .as_f64()
                .ok_or_else(|| bad("rope_theta must be a number"))?;
        }
        let rope_type = match obj.get("rope_type").or_else(|| obj.get("type")) {
            None => "default",
            Some(t) => t
                .as_str()
                .ok_or_else(|| bad("rope_type must be a string"))?,
        };
        self.rope_scaling = if rope_type == "default" {
            None
        } else {
            Some(
                serde_json::from_value::<RopeScaling>(params.clone())
                    .map_err(|e| bad(&e.to_string()))?,
            )
        };
        Ok(())
    }

    /// Per-head dimension: `head_dim` when given, else `hidden_size / num_attention_heads`.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Number of key/value heads (`num_attention_heads` when unset).
    pub fn num_kv_heads(&self) -> usize {
        if self.num_key_value_heads == 0 {
            self.num_attention_heads
        } else {
            self.num_key_value_heads
        }
    }

    /// End-of-sequence ids (empty when the config has none).
    pub fn eos_token_ids(&self) -> Vec<u32> {
        self.eos_token_id
            .as_ref()
            .map(|e| e.ids())
            .unwrap_or_default()
    }

    /// The llama3 rope scaling in effect, if any. `Err` for a type this model does not know.
    pub fn llama3_scaling(&self) -> Result<Option<&RopeScaling>> {
        match &self.rope_scaling {
            None => Ok(None),
            Some(s) if s.rope_type == "default" => Ok(None),
            Some(s) if s.rope_type == "llama3" => Ok(Some(s)),
            Some(s) => Err(Error::UnsupportedRope {
                rope_type: s.rope_type.clone(),
            }),
        }
    }

    /// Check the config describes a model this crate can run.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hidden_size == 0
            || self.intermediate_size == 0
            || self.num_attention_heads == 0
            || self.vocab_size == 0
        {
            return bad(
                "hidden_size, intermediate_size, num_attention_heads and vocab_size must be > 0"
                    .into(),
            );
        }
        let kv = self.num_kv_heads();
        if self.num_attention_heads % kv != 0 {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {kv}",
                self.num_attention_heads
            ));
        }
        let hd = self.head_dim();
        if hd == 0 || hd % 2 != 0 {
            return bad(format!("head_dim {hd} must be even and > 0"));
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.hidden_act != "silu" {
            return bad(format!("hidden_act `{}` (only silu)", self.hidden_act));
        }
        if self.attention_bias || self.mlp_bias {
            return bad("attention_bias / mlp_bias are not supported".into());
        }
        if self.rope_theta.is_nan() || self.rope_theta <= 0.0 {
            return bad(format!("rope_theta {} must be > 0", self.rope_theta));
        }
        if let Some(s) = self.llama3_scaling()? {
            if s.factor.is_nan()
                || s.factor <= 0.0
                || s.high_freq_factor == s.low_freq_factor
                || s.low_freq_factor <= 0.0
            {
                return bad(format!("llama3 rope_scaling {s:?} is degenerate"));
            }
        }
        Ok(())
    }
}
