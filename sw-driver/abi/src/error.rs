//! Errors of the interface definitions: a configuration that is missing, malformed or breaks a
//! rule the chip relies on, and a descriptor packet that does not decode.

use crate::descriptor::ErrorCode;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A named configuration is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// A configuration breaks a rule the chip and the driver rely on.
    #[error("unsupported chip configuration: {0}")]
    Unsupported(String),
    /// A packet or program that does not decode into descriptors: `code` is the error the
    /// command processor would raise for it, `index` the descriptor's place in the program.
    #[error("descriptor {index}: {code}: {detail}")]
    Descriptor {
        index: usize,
        code: ErrorCode,
        detail: String,
    },
}
