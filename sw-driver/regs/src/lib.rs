//! Register layer of the Tessera chip.
//!
//! Everything under `gen/` is generated from `rtl/regs/tessera_regs.rdl` by `scripts/gen-regs`
//! (PeakRDL-rust); the same source generates the SV register block and `docs/registers.md`.
//! Registers sit on any bus through [`peakrdl_rust::io::RawRegisterIO`]: the generated accessors
//! turn each access into a pointer whose address, relative to the block's base, is the register's
//! offset, so a transport that maps the block at base 0 reads the offset straight from it.
#![no_std]

#[path = "gen/mod.rs"]
#[allow(clippy::all, clippy::pedantic, missing_docs, unused)]
mod generated;

// The generated module hides its registers from doctest builds (`cfg(not(doctest))`).
#[cfg(not(doctest))]
pub use generated::components::tessera_regs;
#[cfg(not(doctest))]
pub use generated::TesseraRegs;
pub use peakrdl_rust;
