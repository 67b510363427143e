//! Typed errors of the driver. Faults met while running a model carry their [`Location`].

use std::fmt;
use std::path::PathBuf;

use tessera_golden::quant::MatrixKind;

use crate::program::ErrorCode;

pub type Result<T> = std::result::Result<T, Error>;

/// Where in a model a fault happened: layer (`None` for `lm_head`), matrix, and when known the
/// tile and the output row of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub layer: Option<usize>,
    pub matrix: MatrixKind,
    pub tile: Option<usize>,
    pub row: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some(l) => write!(f, "layer {l} {:?}", self.matrix)?,
            None => write!(f, "{:?}", self.matrix)?,
        }
        if let Some(t) = self.tile {
            write!(f, ", tile {t}")?;
        }
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system call failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// An AXI4-Lite access answered SLVERR (or the transport could not complete it).
    #[error("register {op} at {addr:#05x} failed (response {resp})")]
    Bus {
        op: &'static str,
        addr: u32,
        resp: u32,
    },
    /// The link to a board failed: no valid response after the bounded retries, the link
    /// closed, or the board broke the protocol. The message names the operation.
    #[error("link: {0}")]
    Link(String),
    /// The board's UART bridge speaks another protocol version.
    #[error(
        "UART protocol version mismatch: the board speaks version {found}, this driver speaks \
         version {supported}"
    )]
    UnsupportedProtocol { found: u8, supported: u8 },
    /// The device did not finish within the allowed cycles.
    #[error("timeout after {cycles} cycles: {what}")]
    Timeout { what: String, cycles: u64 },
    /// The simulator process misbehaved (crashed, an assertion failed, a protocol error).
    #[error("simulator: {0}")]
    Sim(String),
    /// Building the Verilator model failed.
    #[error("building the Verilator model failed: {0}")]
    Build(String),
    /// A named configuration is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// The ID register does not hold the Tessera magic number.
    #[error("not a Tessera chip: ID register reads {found:#010x}, expected {expected:#010x}")]
    BadId { found: u32, expected: u32 },
    /// The chip's programming-interface version is not one this driver speaks.
    #[error(
        "unsupported chip version {}.{}.{}: this driver speaks version {}.{}.x",
        found.0, found.1, found.2, supported.0, supported.1
    )]
    UnsupportedVersion {
        found: (u8, u8, u8),
        supported: (u8, u8),
    },
    /// The chip's build configuration breaks a rule the driver relies on.
    #[error("unsupported chip configuration: {0}")]
    UnsupportedConfig(String),
    /// The chip's output stream broke the framing the programming interface specifies.
    #[error("output framing: {0}")]
    Framing(String),
    /// The chip stopped with an error code.
    #[error("device error {code} at descriptor {descriptor}")]
    Device { code: ErrorCode, descriptor: u32 },
    /// The chip's weights are in ROM and its image is not the model's: the digest the chip
    /// reports (`WEIGHT_ROM_DIGEST`) differs from the digest of the model's weight images.
    #[error(
        "the chip's weights are in ROM, built from another model: image digest {chip:#010x}, \
         the model's {model:#010x}"
    )]
    RomMismatch { chip: u32, model: u32 },
    /// The model does not fit the chip.
    #[error("the model does not fit the chip: {0}")]
    DoesNotFit(String),
    /// An on-chip product differs from the golden integer product.
    #[error("{loc}: token {token}: chip {chip}, golden {golden}")]
    Mismatch {
        loc: Location,
        token: usize,
        chip: i32,
        golden: i32,
    },
    /// A fault while running a matrix of a model.
    #[error("{loc}: {source}")]
    At {
        loc: Location,
        #[source]
        source: Box<Error>,
    },
    /// The golden model reported an error.
    #[error(transparent)]
    Golden(#[from] tessera_golden::Error),
    /// A weight image file is malformed.
    #[error("{}: {message}", path.display())]
    Image { path: PathBuf, message: String },
    /// Words that do not decode into descriptors (`tessera_abi::decode_program`).
    #[error(transparent)]
    Program(tessera_abi::Error),
}

impl From<tessera_abi::Error> for Error {
    fn from(e: tessera_abi::Error) -> Error {
        match e {
            tessera_abi::Error::Config(m) => Error::Config(m),
            tessera_abi::Error::Unsupported(m) => Error::UnsupportedConfig(m),
            e @ tessera_abi::Error::Descriptor { .. } => Error::Program(e),
        }
    }
}

impl Error {
    /// An operating-system call `what` failed.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Wraps the error with a location unless it already carries one.
    pub fn at(self, loc: Location) -> Error {
        match self {
            e @ (Error::At { .. } | Error::Mismatch { .. }) => e,
            e => Error::At {
                loc,
                source: Box::new(e),
            },
        }
    }

    /// The location of a fault, when it has one.
    pub fn location(&self) -> Option<Location> {
        match self {
            Error::At { loc, .. } | Error::Mismatch { loc, .. } => Some(*loc),
            _ => None,
        }
    }
}
