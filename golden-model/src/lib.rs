//! Tessera golden model: Llama-3.1-class inference as Hugging Face transformers'
//! `LlamaForCausalLM` computes it (FP32 path), and the chip's exact w8a8 arithmetic
//! (numerics v1, `docs/numerics.md`), the whole decode step as the chip computes it (v2,
//! [`chip`]) and its OCP MX block-format products (v3, [`mx`], with the offline transforms of
//! [`rotate`]).
//!
//! Layout follows candle's `llama.rs`: a serde [`config::Config`] read from `config.json`,
//! a memory-mapped [`checkpoint::Checkpoint`], and [`model`] layers with `load` and `forward`.

pub mod checkpoint;
pub mod chip;
pub mod config;
pub mod error;
pub mod generate;
pub mod limits;
pub mod model;
pub mod mx;
pub mod quant;
pub mod rotate;
pub mod synth;
pub mod tokenizer;

pub use error::{Error, Result};
