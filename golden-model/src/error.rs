//! Typed errors of the golden model.
//!
//! Every variant names the file and the tensor involved and what was expected, so a bad
//! checkpoint is diagnosed from the message alone.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while loading a checkpoint or running the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, mapped or read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A path that must be a regular file is a folder, a device or a pipe.
    #[error("{}: is {found}, expected a regular file", path.display())]
    NotAFile { path: PathBuf, found: &'static str },
    /// A file is larger than the limit for its kind ([`crate::limits`]).
    #[error("{}: larger than the limit of {limit} bytes for this file", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    /// A text file is not UTF-8.
    #[error("{}: not UTF-8 (byte {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    /// A JSON file (config.json, model.safetensors.index.json) did not parse.
    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A safetensors file is malformed: its header, a tensor's byte range, or bytes after the
    /// last tensor.
    #[error("{}: invalid safetensors file: {message}", path.display())]
    SafeTensors { path: PathBuf, message: String },
    /// A safetensors file is shorter than its header says.
    #[error("{}: truncated: the file holds {found} bytes where its header calls for {expected}", path.display())]
    Truncated {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    /// Neither `model.safetensors` nor `model.safetensors.index.json` is present.
    #[error("{}: no model.safetensors or model.safetensors.index.json", dir.display())]
    NoWeights { dir: PathBuf },
    /// A tensor the model needs is absent.
    #[error("tensor `{name}` not found{}", file.as_ref().map(|f| format!(" in {}", f.display())).unwrap_or_default())]
    MissingTensor { file: Option<PathBuf>, name: String },
    /// A tensor has the wrong shape.
    #[error("{}: tensor `{name}`: expected shape {expected:?}, found {found:?}", file.display())]
    Shape {
        file: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype the model cannot read (f32, bf16 and f16 are supported).
    #[error("{}: tensor `{name}`: unsupported dtype {found} (expected F32, BF16 or F16)", file.display())]
    Dtype {
        file: PathBuf,
        name: String,
        found: String,
    },
    /// A tensor holds NaN or infinity (refused unless the checkpoint allows non-finite values).
    #[error("{}: tensor `{name}`: element {index} is {value}; non-finite weights are refused (--allow-nonfinite accepts them)", file.display())]
    NonFinite {
        file: PathBuf,
        name: String,
        index: usize,
        value: f32,
    },
    /// The config asks for a rope scaling this model does not implement.
    #[error("unsupported rope_scaling type `{rope_type}` (supported: llama3, default)")]
    UnsupportedRope { rope_type: String },
    /// The config is inconsistent (e.g. heads not divisible by kv heads).
    #[error("invalid config: {0}")]
    Config(String),
    /// A token id is not below the vocabulary size.
    #[error("token id {id} out of range for vocabulary of {vocab}")]
    TokenOutOfRange { id: u32, vocab: usize },
    /// The sequence would exceed the configured maximum number of positions.
    #[error("token position {position} is not below max_position_embeddings {max}")]
    PositionOutOfRange { position: usize, max: usize },
    /// Shapes passed to a kernel or engine do not agree.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A matrix-vector engine (e.g. the RTL harness) failed.
    #[error("matvec engine: {0}")]
    Engine(String),
    /// A tokenizer file is missing or malformed, or encoding/decoding failed.
    #[error("{}: tokenizer: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },
    /// A chat template failed to compile or render.
    #[error("chat template: {0}")]
    Template(String),
    /// An MX block holds NaN or infinity, or a shape is beyond the MX accumulator's bound.
    #[error("MX block format: {0}")]
    Mx(String),
    /// An argument is out of its legal range (e.g. a sampling parameter, an empty prompt).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
