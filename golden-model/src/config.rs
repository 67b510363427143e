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

/// For JSON that parses but does not fit [`Config`] (a field of the wrong type), the field at
/// fault: each field alone is tried in a minimal valid config.
fn field_at_fault(text: &str, e: &serde_json::Error) -> Option<Error> {
    if !e.is_data() {
        return None;
    }
    let serde_json::Value::Object(fields) = serde_json::from_str(text).ok()? else {
        return None;
    };
    let minimal = serde_json::json!({"hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 16});
    fields.into_iter().find_map(|(k, v)| {
        let mut one = minimal.clone();
        one[&k] = v.clone();
        let err = serde_json::from_value::<Config>(one).err()?;
        Some(Error::Config(format!("`{k}` is {v}: {err}")))
    })
}

impl Config {
    /// Read and validate `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = crate::limits::read_text(path, crate::limits::CONFIG_BYTES)?;
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
        let mut c: Config = serde_json::from_str(text).map_err(|source| {
            field_at_fault(text, &source).unwrap_or(Error::Json {
                path: "config.json".into(),
                source,
            })
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

    /// Check the config describes a model this crate can run: a Llama (`model_type` and
    /// `architectures`, when given), every size within its range, the fields consistent with
    /// each other, every float finite. Each error names the field and the rule.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, rule: String| Err(Error::Config(format!("`{field}` {rule}")));
        match self.extra.get("model_type") {
            None => {}
            Some(serde_json::Value::String(t)) if t == "llama" => {}
            Some(t) => {
                return bad(
                    "model_type",
                    format!("is {t}: only Llama models (\"llama\") are supported"),
                )
            }
        }
        if let Some(a) = self.extra.get("architectures") {
            let llama = a
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == "LlamaForCausalLM"));
            if !llama {
                return bad(
                    "architectures",
                    format!("is {a}: only LlamaForCausalLM is supported"),
                );
            }
        }
        // Upper bounds keep every product of sizes far from wrapping; the largest published
        // Llama-class models are well inside them.
        let sizes: [(&str, usize, usize); 8] = [
            ("hidden_size", self.hidden_size, 1 << 20),
            ("intermediate_size", self.intermediate_size, 1 << 22),
            ("num_hidden_layers", self.num_hidden_layers, 1 << 12),
            ("num_attention_heads", self.num_attention_heads, 1 << 14),
            ("num_key_value_heads", self.num_kv_heads(), 1 << 14),
            ("head_dim", self.head_dim(), 1 << 16),
            ("vocab_size", self.vocab_size, u32::MAX as usize),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                1 << 28,
            ),
        ];
        for (field, v, max) in sizes {
            if v == 0 || v > max {
                return bad(field, format!("is {v}: must be between 1 and {max}"));
            }
        }
        let kv = self.num_kv_heads();
        if self.num_attention_heads % kv != 0 {
            return bad(
                "num_key_value_heads",
                format!(
                    "is {kv}: must divide num_attention_heads {}",
                    self.num_attention_heads
                ),
            );
        }
        let hd = self.head_dim();
        if hd % 2 != 0 {
            return bad("head_dim", format!("is {hd}: must be even"));
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return bad(
                "hidden_size",
                format!(
                    "is {}: must be a multiple of num_attention_heads {} (or give head_dim)",
                    self.hidden_size, self.num_attention_heads
                ),
            );
        }
        if self.hidden_act != "silu" {
            return bad(
                "hidden_act",
                format!("is \"{}\": only silu is supported", self.hidden_act),
            );
        }
        if self.attention_bias {
            return bad("attention_bias", "is true: biases are not supported".into());
        }
        if self.mlp_bias {
            return bad("mlp_bias", "is true: biases are not supported".into());
        }
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                bad(field, format!("is {v}: must be a finite number > 0"))
            }
        };
        positive("rms_norm_eps", self.rms_norm_eps)?;
        positive("rope_theta", self.rope_theta)?;
        if let Some(s) = self.llama3_scaling()? {
            if !(s.factor.is_finite() && s.factor >= 1.0) {
                return bad(
                    "rope_scaling.factor",
                    format!("is {}: must be a finite number >= 1", s.factor),
                );
            }
            positive("rope_scaling.low_freq_factor", s.low_freq_factor)?;
            if !(s.high_freq_factor.is_finite() && s.high_freq_factor > s.low_freq_factor) {
                return bad(
                    "rope_scaling.high_freq_factor",
                    format!(
                        "is {}: must be finite and > low_freq_factor {}",
                        s.high_freq_factor, s.low_freq_factor
                    ),
                );
            }
            if s.original_max_position_embeddings == 0 {
                return bad(
                    "rope_scaling.original_max_position_embeddings",
                    "is 0: must be > 0".into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Preset;

    /// The tiny preset's config with `edit` applied, parsed.
    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Config> {
        let mut v = Preset::Tiny.config_json(2);
        edit(&mut v);
        Config::from_json(&v.to_string())
    }

    fn refused(edit: impl FnOnce(&mut serde_json::Value), field: &str, rule: &str) {
        let e = with(edit).unwrap_err().to_string();
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(rule),
            "expected `{field}` and `{rule}` in: {e}"
        );
    }

    #[test]
    fn config_presets_and_real_configs_load() {
        with(|_| {}).unwrap();
        Config::from_json(&Preset::Llama31_8b.config_json(32).to_string()).unwrap();
        // SmolLM2's config as published (rope_scaling null, tied embeddings).
        let smol = r#"{"architectures":["LlamaForCausalLM"],"bos_token_id":1,"eos_token_id":2,
            "head_dim":64,"hidden_act":"silu","hidden_size":576,"intermediate_size":1536,
            "max_position_embeddings":8192,"model_type":"llama","num_attention_heads":9,
            "num_hidden_layers":30,"num_key_value_heads":3,"rms_norm_eps":1e-05,
            "rope_scaling":null,"rope_theta":100000.0,"tie_word_embeddings":true,
            "vocab_size":49152}"#;
        let c = Config::from_json(smol).unwrap();
        assert!(c.tie_word_embeddings && c.rope_scaling.is_none());
    }

    #[test]
    fn config_fields_out_of_range_are_refused() {
        refused(
            |v| v["max_position_embeddings"] = 0.into(),
            "max_position_embeddings",
            "between 1 and",
        );
        refused(
            |v| v["num_hidden_layers"] = 0.into(),
            "num_hidden_layers",
            "between 1 and",
        );
        refused(
            |v| v["vocab_size"] = (1u64 << 40).into(),
            "vocab_size",
            "between 1 and",
        );
        refused(
            |v| v["hidden_size"] = (1u64 << 62).into(),
            "hidden_size",
            "between 1 and",
        );
        refused(
            |v| v["rms_norm_eps"] = (-1.0).into(),
            "rms_norm_eps",
            "finite number > 0",
        );
        refused(
            |v| v["rms_norm_eps"] = 0.0.into(),
            "rms_norm_eps",
            "finite number > 0",
        );
        refused(
            |v| v["rope_theta"] = (-1.0).into(),
            "rope_theta",
            "finite number > 0",
        );
        refused(
            |v| v["rope_scaling"]["factor"] = 0.5.into(),
            "rope_scaling.factor",
            ">= 1",
        );
        refused(
            |v| v["rope_scaling"]["high_freq_factor"] = 1.0.into(),
            "rope_scaling.high_freq_factor",
            "> low_freq_factor",
        );
        refused(
            |v| v["num_key_value_heads"] = 3.into(),
            "num_key_value_heads",
            "must divide",
        );
        refused(
            |v| v["hidden_act"] = "gelu".into(),
            "hidden_act",
            "only silu",
        );
        refused(|v| v["mlp_bias"] = true.into(), "mlp_bias", "not supported");
        // A field of the wrong type is named.
        let e = with(|v| v["hidden_size"] = "64".into())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`hidden_size` is \"64\": invalid type: string"),
            "{e}"
        );
        let e = with(|v| v["eos_token_id"] = (1u64 << 40).into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`eos_token_id` is 1099511627776"), "{e}");
        // JSON has no infinity: a literal too large for f64 is a JSON error.
        let inf = Preset::Tiny
            .config_json(1)
            .to_string()
            .replace("\"factor\":8.0", "\"factor\":1e999");
        assert!(matches!(Config::from_json(&inf), Err(Error::Json { .. })));
    }

    #[test]
    fn config_other_architectures_are_refused() {
        refused(
            |v| v["model_type"] = "gpt2".into(),
            "model_type",
            "only Llama",
        );
        refused(
            |v| v["architectures"] = serde_json::json!(["MistralForCausalLM"]),
            "architectures",
            "only LlamaForCausalLM",
        );
        // Neither field is required.
        with(|v| {
            let o = v.as_object_mut().unwrap();
            o.remove("model_type");
            o.remove("architectures");
        })
        .unwrap();
    }

    #[test]
    fn config_file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("tessera-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("config.json")).unwrap();
        let e = Config::from_file(dir.join("config.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.json: is a directory"), "{e}");
        let e = Config::from_file("/dev/zero").unwrap_err().to_string();
        assert!(e.contains("/dev/zero: is a device"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        let f = dir.with_extension("json");
        std::fs::write(
            &f,
            Preset::Tiny
                .config_json(1)
                .to_string()
                .replace("\"llama\"", "\"gpt2\""),
        )
        .unwrap();
        let e = Config::from_file(&f).unwrap_err().to_string();
        assert!(
            e.contains(&f.display().to_string()) && e.contains("`model_type`"),
            "{e}"
        );
        std::fs::remove_file(&f).unwrap();
    }
}
