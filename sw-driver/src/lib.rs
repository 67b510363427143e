//! `tessera-driver`: the host driver of the Tessera compute-in-memory inference chip.
//!
//! Layers, bottom up (`docs/driver.md`):
//!
//! - [`config`] and [`program`]: the chip configurations and the descriptor encoding, defined
//!   once in `tessera-abi` and re-exported here.
//! - [`transport`]: the [`transport::Transport`] trait (32-bit registers, AXI4-Stream in and
//!   out, interrupt wait, optional simulation control) and its implementations for boards:
//!   [`uio::UioTransport`] (a Linux UIO mapping) and [`uart::UartTransport`] (a board's UART
//!   bridge). The simulated chip and board are transports of the `tessera-sim` crate.
//! - [`device`]: [`device::Device`], discovery, reset, errors, interrupts and counters, through
//!   the generated register layer `tessera-regs` only.
//! - [`program`]: descriptor encoding (`docs/architecture.md`, descriptor format).
//! - [`mapper`]: places every matrix of a model on the tiles (partition rule, decision 1) and
//!   emits per-tile weight images and command programs.
//! - [`runtime`]: [`runtime::RtlEngine`], the golden model's `MatVecEngine` on the chip, checked
//!   product by product against the golden integer kernel.
//! - [`token`]: the token-engine compiler (program and memory layout of a model, once per
//!   model) and its reference interpreter ([`token::interp`]).
//! - [`token_runtime`]: [`token_runtime::TokenRuntime`], a compiled model on a chip: loads
//!   the tiles, the program and the DMEM image, runs one token per TOKEN descriptor.
//! - [`token_model`]: the cycle model of a whole token on the engine, instruction by
//!   instruction, and its `t1-8b` projection.
//! - [`rom`]: the image folder of a chip whose weights are in ROM (`tessera rom-image`).
//! - [`bringup`]: the board bring-up sequence, step by step, on any transport.
//! - [`models`]: small and synthetic Llama models for runs and tests.
//! - [`testing`]: test doubles of the UART transport (a chip and a board in memory, a fault
//!   injector), shared by the driver's tests and others.
//!
//! Command-line tools live in `tessera-cli`; this library has no command-line dependencies.

pub mod bringup;
pub mod device;
pub mod error;
pub mod mapper;
pub mod models;
pub mod projection;
pub mod rom;
pub mod runtime;
pub mod testing;
pub mod token;
pub mod token_model;
pub mod token_runtime;
pub mod transport;
pub mod uart;
pub mod uio;

pub use tessera_abi::config;
pub use tessera_abi::descriptor as program;

pub use config::ChipConfig;
pub use device::{supported_version_word, Device, EccFail, EccMemory, EccStatus};
pub use error::{Error, Location, Result};
pub use mapper::Mapping;
pub use runtime::RtlEngine;
pub use transport::{SimControl, Transport};

/// Lets a command-line tool end quietly when the reader of its output goes away (`| head`), as
/// other Unix tools do, instead of panicking on its next print: restores the default action of
/// SIGPIPE, which the Rust runtime sets to "ignore".
pub fn quiet_on_closed_pipe() {
    // SAFETY: called at the start of `main`, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
