//! `tessera-abi`: the facts of the Tessera chip's programming interface, each defined once, for
//! the driver, the simulation and verification crates and (generated) the RTL package.
//!
//! - [`config`]: the named chip configurations of `rtl/top/configs.toml` (compiled in) and the
//!   weight-word layout.
//! - [`descriptor`]: descriptor opcodes, device error codes and the packet encoding; the SV
//!   enums of `rtl/pkg/tessera_pkg.sv` are generated from here (`scripts/gen-abi`).
//! - [`ecc`]: the SECDED code of the chip's memories (for backdoor writes of whole code words).
//! - [`token`]: the token engine's instruction set (encoding, operand checks, memories).
//! - [`rom`]: the image and digest of a chip whose weights are in ROM.
//! - [`rtl`]: the RTL file list `rtl/files.f`, read once for every tool, and the generated parts of
//!   `tessera.core`.
//!
//! The register map has its own single source (`rtl/regs/tessera_regs.rdl`, crate
//! `tessera-regs`).

pub mod config;
pub mod descriptor;
pub mod ecc;
pub mod error;
pub mod rom;
pub mod rtl;
pub mod token;

pub use config::{weight_byte, ChipConfig};
pub use descriptor::{
    bytes_to_words, decode_program, encode_program, Descriptor, EngSpace, ErrorCode, Opcode,
};
pub use error::{Error, Result};
pub use rtl::FileList;
