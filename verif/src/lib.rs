//! Tessera verification harness: Verilator models of the RTL driven from Rust.
//!
//! - [`model`]: safe handles on the Verilated models ([`Tile`], [`Probe`], [`VecPrims`]): ports, reset,
//!   clocking, C++-side stream transactors, backdoor memory access, FST tracing, SV errors as
//!   [`Error`]s. Each model is a shared library built at run time by `tessera_sim`'s model
//!   builder and loaded on first use (`library`); no Verilator runs when this crate builds.
//! - [`tb`]: testbench pieces shaped like cocotb/UVM: stream drivers with random gaps, sinks
//!   with backpressure, monitors, an in-order scoreboard, seeds and failure artefacts.
//! - [`reference`](mod@reference): the tile's transaction-level reference model.

mod ffi;
mod library;
pub mod model;
pub mod reference;
pub mod tb;

pub use model::{
    Error, Probe, Result, Tile, TileConfig, VecOut, VecPrims, VecUnitOp, VecUnitOut, TILE_MODELS,
};
