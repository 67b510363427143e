//! Autoregressive generation on top of [`Llama::forward`] and its KV cache.
//!
//! The prompt is prefilled in one forward pass; then each new token is fed alone, at the next
//! position of the cache. Token choice follows transformers' `generate`: greedy (argmax, first
//! index on ties) unless sampling is asked for, in which case the logits are divided by the
//! temperature, softmaxed, cut to the smallest set of most likely tokens whose probability
//! reaches `top_p` (always at least one), and sampled with a ChaCha8 generator seeded from
//! `seed`, so a run is reproducible from its seed.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{KvCache, Llama};
use crate::quant::MatVecEngine;

/// Sampling parameters; `temperature == 0` means greedy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

impl Sampling {
    fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "temperature must be a finite number ≥ 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::InvalidArgument(format!(
                "top_p must lie in (0, 1], got {}",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// What to generate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerateOptions {
    /// Upper bound on new tokens.
    pub max_new: usize,
    /// `None`: greedy.
    pub sampling: Option<Sampling>,
    /// Generation stops after producing any of these (the stop token is included in the output).
    pub stop_ids: Vec<u32>,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// A stop id was produced.
    Eos,
    /// `max_new` tokens were produced.
    MaxNew,
}

/// The result of [`generate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    pub prompt_tokens: Vec<u32>,
    /// New tokens only.
    pub tokens: Vec<u32>,
    pub stop: StopReason,
}

/// Chooses the next token from one row of logits.
#[derive(Debug)]
pub struct Sampler {
    sampling: Option<Sampling>,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(sampling: Option<Sampling>) -> Result<Self> {
        if let Some(s) = &sampling {
            s.validate()?;
        }
        let seed = sampling.map(|s| s.seed).unwrap_or(0);
        Ok(Sampler {
            sampling,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Picks a token id from `logits` (length = vocabulary).
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(Error::InvalidArgument("empty logits row".into()));
        }
        if logits.iter().any(|x| x.is_nan()) {
            return Err(Error::InvalidArgument("logits contain NaN".into()));
        }
        match self.sampling {
            Some(s) if s.temperature > 0.0 => Ok(self.sample_top_p(logits, s)),
            _ => Ok(argmax(logits)),
        }
    }

    fn sample_top_p(&mut self, logits: &[f32], s: Sampling) -> u32 {
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut probs: Vec<(u32, f64)> = logits
            .iter()
            .enumerate()
            .map(|(i, &x)| (i as u32, f64::from((x - max) / s.temperature).exp()))
            .collect();
        let total: f64 = probs.iter().map(|p| p.1).sum();
        // Most likely first; ties by id, so the order is fully determined.
        probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = 0;
        let mut cum = 0.0;
        for p in &probs {
            kept += 1;
            cum += p.1 / total;
            if cum >= f64::from(s.top_p) {
                break;
            }
        }
        let probs = &probs[..kept];
        let mass: f64 = probs.iter().map(|p| p.1).sum();
        let mut u = self.rng.gen::<f64>() * mass;
        for p in probs {
            if u < p.1 {
                return p.0;
            }
            u -= p.1;
        }
        probs[kept - 1].0
    }
}

/// Index of the largest value, the first one on ties (as `torch.argmax`).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Generates up to `opts.max_new` tokens after `prompt`.
///
/// `cache` must be empty or hold exactly the context that `prompt` continues.
/// `on_token` is called with every new token as soon as it is chosen; an error from it stops
/// generation and is returned.
pub fn generate(
    model: &Llama,
    cache: &mut KvCache,
    prompt: &[u32],
    opts: &GenerateOptions,
    engine: &mut dyn MatVecEngine,
    on_token: &mut dyn FnMut(u32) -> Result<()>,
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(Error::InvalidArgument("the prompt has no tokens".into()));
    }
    let mut sampler = Sampler::new(opts.sampling)?;
    check_context(model.config(), cache.len(), prompt.len(), opts.max_new)?;
    let mut tokens = Vec::with_capacity(opts.max_new);
    let mut stop = StopReason::MaxNew;
    if opts.max_new > 0 {
        let logits = model.forward(prompt, cache, engine)?;
        let mut next = sampler.sample(last_row(&logits)?)?;
        loop {
            tokens.push(next);
            on_token(next)?;
            if opts.stop_ids.contains(&next) {
                stop = StopReason::Eos;
                break;
            }
            if tokens.len() >= opts.max_new {
                break;
            }
            let logits = model.forward(&[next], cache, engine)?;
            next = sampler.sample(last_row(&logits)?)?;
        }
    }
    Ok(Generation {
        prompt_tokens: prompt.to_vec(),
        tokens,
        stop,
    })
}

/// Checks that `prompt` tokens after `cached` ones, and `max_new` more, fit the model's
/// `max_position_embeddings` (the positions the model was trained for).
pub fn check_context(
    cfg: &crate::config::Config,
    cached: usize,
    prompt: usize,
    max_new: usize,
) -> Result<()> {
    let max = cfg.max_position_embeddings;
    let prompt_end = cached.saturating_add(prompt);
    if prompt_end > max {
        return Err(Error::InvalidArgument(format!(
            "the prompt ends at position {prompt_end}, beyond max_position_embeddings {max}"
        )));
    }
    if max_new > max - prompt_end {
        return Err(Error::InvalidArgument(format!(
            "max_new {max_new}: {prompt_end} prompt tokens and {max_new} new ones exceed \
             max_position_embeddings {max} (at most {} new tokens fit)",
            max - prompt_end
        )));
    }
    Ok(())
}

fn last_row(logits: &ndarray::Array2<f32>) -> Result<&[f32]> {
    let t = logits.nrows();
    if t == 0 {
        return Err(Error::ShapeMismatch("forward returned no logits".into()));
    }
    logits
        .row(t - 1)
        .to_slice()
        .ok_or_else(|| Error::ShapeMismatch("logits row not contiguous".into()))
}

/// The stop ids a checkpoint declares: `eos_token_id` (a number or a list) of
/// `generation_config.json` when present, else of `config.json`.
pub fn stop_ids_from_dir(dir: impl AsRef<Path>) -> Result<Vec<u32>> {
    let dir = dir.as_ref();
    for name in ["generation_config.json", "config.json"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let text = crate::limits::read_text(&path, crate::limits::CONFIG_BYTES)?;
        let v: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        let as_id = |x: &Value| {
            x.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{}: `eos_token_id` holds {x}: token ids are integers from 0 to {}",
                        path.display(),
                        u32::MAX
                    ))
                })
        };
        let ids: Vec<u32> = match v.get("eos_token_id") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().map(as_id).collect::<Result<_>>()?,
            Some(x) => vec![as_id(x)?],
        };
        if !ids.is_empty() {
            return Ok(ids);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_argmax_first_on_ties() {
        assert_eq!(argmax(&[0.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[5.0]), 0);
    }

    #[test]
    fn generate_sampling_is_deterministic_per_seed() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let s = Sampling {
            temperature: 1.0,
            top_p: 0.9,
            seed: 7,
        };
        let run = |s: Sampling| {
            let mut smp = Sampler::new(Some(s)).unwrap();
            (0..40)
                .map(|_| smp.sample(&logits).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(s), run(s));
        assert_ne!(run(s), run(Sampling { seed: 8, ..s }));
        // Sampling spreads over several tokens, not only the argmax.
        let mut distinct = run(s);
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn generate_top_p_keeps_only_the_nucleus() {
        // One token holds ~99.99 % of the mass; top_p 0.5 must always pick it.
        let mut logits = vec![0.0f32; 100];
        logits[42] = 20.0;
        let mut smp = Sampler::new(Some(Sampling {
            temperature: 1.0,
            top_p: 0.5,
            seed: 1,
        }))
        .unwrap();
        for _ in 0..100 {
            assert_eq!(smp.sample(&logits).unwrap(), 42);
        }
    }

    #[test]
    fn generate_rejects_bad_sampling() {
        for (t, p) in [(-1.0, 0.9), (f32::NAN, 0.9), (1.0, 0.0), (1.0, 1.5)] {
            let err = Sampler::new(Some(Sampling {
                temperature: t,
                top_p: p,
                seed: 0,
            }))
            .unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        }
    }

    #[test]
    fn generate_context_must_fit_max_position_embeddings() {
        let cfg = crate::config::Config::from_json(
            &crate::synth::Preset::Tiny.config_json(1).to_string(),
        )
        .unwrap();
        assert_eq!(cfg.max_position_embeddings, 1024);
        check_context(&cfg, 0, 1000, 24).unwrap();
        check_context(&cfg, 1000, 24, 0).unwrap();
        for (cached, prompt, max_new, rule) in [
            (0, 1025, 0, "beyond max_position_embeddings 1024"),
            (1000, 30, 0, "beyond max_position_embeddings 1024"),
            (0, 2, usize::MAX, "at most 1022 new tokens fit"),
            (0, 2, 1_000_000_000_000, "at most 1022 new tokens fit"),
            (usize::MAX, 2, 1, "beyond max_position_embeddings 1024"),
        ] {
            let e = check_context(&cfg, cached, prompt, max_new).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
            assert!(e.to_string().contains(rule), "{e}");
        }
    }

    #[test]
    fn generate_stop_ids_out_of_range_are_refused() {
        let dir = std::env::temp_dir().join(format!("tessera-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("generation_config.json");
        std::fs::write(&p, r#"{"eos_token_id": [2, 3]}"#).unwrap();
        assert_eq!(stop_ids_from_dir(&dir).unwrap(), vec![2, 3]);
        // 2^32 + 2 must not wrap to 2.
        std::fs::write(&p, r#"{"eos_token_id": 4294967298}"#).unwrap();
        let e = stop_ids_from_dir(&dir).unwrap_err().to_string();
        assert!(
            e.contains("generation_config.json: `eos_token_id` holds 4294967298"),
            "{e}"
        );
        std::fs::write(&p, r#"{"eos_token_id": [1, -1]}"#).unwrap();
        assert!(stop_ids_from_dir(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
