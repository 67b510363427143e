//! Errors of the interface definitions: a configuration that is missing, malformed or breaks a
//! rule the chip relies on.

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A named configuration is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// A configuration breaks a rule the chip and the driver rely on.
    #[error("unsupported chip configuration: {0}")]
    Unsupported(String),
}
