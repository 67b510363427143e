//! `tessera-sim`: the Verilator models of the Tessera RTL.
//!
//! - [`builder`]: the one model builder and cache (`rtl/files.f`, a top, parameters, a C++
//!   bench from `verif/sim/csrc/`), shared and locked between processes: executables run as
//!   child processes ([`build_model`]) and shared libraries loaded in-process
//!   ([`build_library`], the tile models of `tessera-verif`).
//! - [`chip`]: [`SimTransport`], the model of `tessera_top` as a driver transport (AXI4-Lite
//!   manager, AXI4-Stream source and sink with seeded random gaps and backpressure
//!   ([`StreamTiming`]), weight backdoor, FST traces).
//! - [`coverage`]: Verilator coverage data read and summed up per RTL file (`scripts/coverage`,
//!   with the coverage builds of [`builder::COVERAGE_ENV`]).
//! - [`uart_sim`]: [`uart_sim::UartSim`], the model of the ULX3S board top behind a
//!   pseudo-terminal, for the driver's UART transport.
//!
//! The RTL is read at run time from [`rtl_root`]: `$TESSERA_RTL_ROOT`, else the source tree
//! this crate was built from.

use std::path::PathBuf;

use tessera_driver::{Error, Result};

pub mod builder;
pub mod chip;
pub mod coverage;
pub mod uart_sim;

pub use builder::{
    build_library, build_model, cache_dir, have_verilator, require_verilator, LibSpec, ModelSpec,
};
pub use chip::{chip_model, open_device, rom_chip_model, SimTransport, StreamTiming, WeightRom};

/// The environment variable naming the Tessera checkout whose RTL the simulated chips are built
/// from (the folder that holds `rtl/files.f`).
pub const RTL_ROOT_ENV: &str = "TESSERA_RTL_ROOT";

/// The checkout whose RTL simulated chips are built from: `$TESSERA_RTL_ROOT`, else the source
/// tree this crate was built from. An error, naming the variable, when neither holds
/// `rtl/files.f` (an installed tool run after its checkout moved).
pub fn rtl_root() -> Result<PathBuf> {
    let (root, how) = match std::env::var_os(RTL_ROOT_ENV) {
        Some(r) => (PathBuf::from(r), RTL_ROOT_ENV.to_string()),
        None => (
            PathBuf::from(tessera_abi::rtl::SOURCE_TREE),
            "the source tree of this build".to_string(),
        ),
    };
    if root.join("rtl/files.f").is_file() {
        Ok(root.canonicalize().unwrap_or(root))
    } else {
        Err(Error::Config(format!(
            "no Tessera RTL at {} ({how}): set {RTL_ROOT_ENV} (or pass --rtl-root) to a \
             checkout that holds rtl/files.f",
            root.display()
        )))
    }
}

/// Where tools put what they generate by default (synthetic checkpoints, run artefacts):
/// `target/` of the RTL root when there is one ([`rtl_root`]), else `tessera/` in the user's
/// cache folder (`$XDG_CACHE_HOME`, else `~/.cache`), else `tessera-work` of the current folder.
pub fn work_dir() -> PathBuf {
    if let Ok(root) = rtl_root() {
        return root.join("target");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match cache {
        Some(c) => c.join("tessera"),
        None => PathBuf::from("tessera-work"),
    }
}
