//! Tessera verification harness: Verilator models of the RTL driven from Rust.
//!
//! - [`model`]: safe handles on the Verilated models ([`Tile`], [`Probe`]): ports, reset,
//!   clocking, C++-side stream transactors, backdoor memory access, FST tracing, SV errors as
//!   [`Error`]s.
//! - [`tb`]: testbench pieces shaped like cocotb/UVM: stream drivers with random gaps, sinks
//!   with backpressure, monitors, an in-order scoreboard, seeds and failure artefacts.
//! - [`reference`](mod@reference): the tile's transaction-level reference model.

mod ffi;
pub mod model;
pub mod reference;
pub mod tb;

pub use model::{Error, Probe, Result, Tile, TileConfig, TILE_MODELS};
