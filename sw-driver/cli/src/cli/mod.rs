//! Command-line interface: argument definitions and the shared model-loading helpers.

mod area;
mod bringup;
mod eval;
mod generate;
mod logits;
mod report;
mod rom;
mod run;
mod run_token;
mod synth;
mod token;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tessera_driver::runtime::RtlEngine;
use tessera_driver::Transport;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{Llama, Precision};
use tessera_golden::mx::MxRecipe;
use tessera_sim::SimTransport;

/// Tessera: a weight-stationary compute-in-memory inference chip for Llama-3.1-class models.
///
/// These commands run the golden model, the reference the chip is verified against: an FP32
/// path equal to Hugging Face transformers, and `w8a8`, the chip's exact integer arithmetic
/// (int8 weights with per-row scales, int8 activations with per-token scales, int32 sums).
/// MODEL folders are Hugging Face checkpoint folders (config.json, safetensors weights,
/// optionally tokenizer.json and tokenizer_config.json).
///
/// The golden-model commands run anywhere. Commands on a simulated chip (`run`, `report`,
/// `bringup --transport sim:...`, `generate --rtl`) build its Verilator model from the RTL of a
/// Tessera checkout: the one this tool was built from, or the one `--rtl-root` or the
/// environment variable TESSERA_RTL_ROOT names.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about)]
pub struct Cli {
    /// Tessera checkout whose RTL simulated chips are built from (the folder holding
    /// rtl/files.f) [env: TESSERA_RTL_ROOT; default: the checkout this tool was built from].
    #[arg(long, global = true, value_name = "DIR")]
    pub rtl_root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a full-sequence forward pass and write the logits to a safetensors file.
    Logits(logits::Args),
    /// Generate text or tokens after a prompt (greedy unless --temperature is given).
    Generate(generate::Args),
    /// Write a deterministic synthetic checkpoint (Llama 3.1 8B shapes, or a tiny test model).
    SynthWeights(synth::Args),
    /// Measure perplexity on a text file, and how often each --quant arithmetic (w8a8, chip,
    /// chip:mx8, chip:mx4, …) picks FP32's top-1 token.
    Eval(eval::Args),
    /// The main job: a Llama model's tokens on the simulated chip's token engine, every token
    /// checked bit for bit against the reference interpreter, with cycles per token, host bytes
    /// per token, utilisation and a per-stage profile (--engine matvec: the products alone).
    Run(run::Args),
    /// Plot (PNG) the per-operation cycles of simulated grids, and MAC utilisation and projected
    /// tokens/s against tile count, model beside simulation; the numbers as a table or JSON.
    Report(report::Args),
    /// The board bring-up sequence on a chip: ID and version, scratch, configuration, weight
    /// memory, one matrix-vector product, one layer; each step PASS or FAIL with what it read.
    Bringup(bringup::Args),
    /// Silicon area of a chip configuration at a process node, per block and in total, against
    /// one reticle: logic from the synthesis estimate in NAND2 equivalents, memories as bits
    /// times a published bit cell (docs/area.md).
    Area(area::Args),
    /// Write the weight ROM image of a model for a chip whose weights are in ROM: one
    /// `$readmemh` file of ECC code words per tile and the digest the driver checks.
    RomImage(rom::Args),
}

/// How a command ended, for the exit status.
pub enum Ended {
    Ok,
    /// The chip's results differ from the golden model.
    Mismatch,
}

/// Which arithmetic runs the linear layers (`--quant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quant {
    /// `none`: FP32 everywhere, the reference equal to transformers.
    None,
    /// `w8a8`: the chip's int8 × int8 → int32 matrix-vector products (numerics v1).
    W8a8,
    /// `chip`: the whole decode step as the chip computes it (numerics v2): the w8a8 products,
    /// the vector unit's binary32 arithmetic (flush-to-zero, no libm) and an int8 KV cache.
    Chip,
    /// `chip:mx8`, `chip:mx4` (and their `+modifier` variants): the chip mode with OCP MX
    /// block-format products (numerics v3), in the golden model only.
    Mx(MxRecipe),
}

/// What `--quant` accepts, for help texts and errors.
pub const QUANT_NAMES: &str = "none, w8a8, chip, chip:mx8, chip:mx4 (MX modifiers: chip:mx8 \
                               +rtn +mse; chip:mx4 +rot +int4 +head4 +down8 +edge8 +mse)";

impl std::str::FromStr for Quant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Quant, String> {
        match s {
            "none" => Ok(Quant::None),
            "w8a8" => Ok(Quant::W8a8),
            "chip" => Ok(Quant::Chip),
            _ if s.starts_with("chip:") => MxRecipe::from_name(s)
                .map(Quant::Mx)
                .map_err(|e| e.to_string()),
            _ => Err(format!("unknown arithmetic `{s}`: expected {QUANT_NAMES}")),
        }
    }
}

impl std::fmt::Display for Quant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quant::None => f.write_str("none"),
            Quant::W8a8 => f.write_str("w8a8"),
            Quant::Chip => f.write_str("chip"),
            Quant::Mx(r) => f.write_str(&r.name()),
        }
    }
}

/// The `--quant` value parser.
pub fn parse_quant(s: &str) -> std::result::Result<Quant, String> {
    s.parse()
}

impl From<Quant> for Precision {
    fn from(q: Quant) -> Self {
        match q {
            Quant::None => Precision::F32,
            Quant::W8a8 => Precision::W8A8,
            Quant::Chip => Precision::Chip,
            Quant::Mx(r) => Precision::Mx(r),
        }
    }
}

/// Where synthetic checkpoints are kept by default ([`tessera_sim::work_dir`]).
pub fn synth_cache() -> PathBuf {
    tessera_sim::work_dir().join("tessera-synth")
}

/// Makes `--rtl-root` the RTL root of this process (through TESSERA_RTL_ROOT). Called at the
/// start of `main`, while the process has one thread.
pub fn apply_rtl_root(cli: &Cli) -> Result<()> {
    if let Some(root) = &cli.rtl_root {
        if !root.join("rtl/files.f").is_file() {
            bail!(
                "--rtl-root {}: not a Tessera checkout (no rtl/files.f)",
                root.display()
            );
        }
        // SAFETY: the process has one thread (see above), so nothing reads the environment
        // while it changes.
        unsafe { std::env::set_var(tessera_sim::RTL_ROOT_ENV, root) };
    }
    Ok(())
}

pub fn run(cli: Cli) -> Result<Ended> {
    match cli.command {
        Command::Logits(a) => logits::run(a).map(|_| Ended::Ok),
        Command::Generate(a) => generate::run(a).map(|_| Ended::Ok),
        Command::SynthWeights(a) => synth::run(a).map(|_| Ended::Ok),
        Command::Eval(a) => eval::run(a).map(|_| Ended::Ok),
        Command::Run(a) => run::run(a).map(|o| match o {
            run::Outcome::BitExact => Ended::Ok,
            run::Outcome::Mismatch => Ended::Mismatch,
        }),
        Command::Report(a) => report::run(a).map(|_| Ended::Ok),
        Command::Bringup(a) => bringup::run(a),
        Command::Area(a) => area::run(a).map(|_| Ended::Ok),
        Command::RomImage(a) => rom::run(a).map(|_| Ended::Ok),
    }
}

/// One line on a UART link's traffic: requests, bytes both ways, throughput and retries.
pub fn link_summary(s: &tessera_driver::uart::LinkStats) -> String {
    let secs = s.seconds().max(1e-9);
    format!(
        "UART link: {} requests in {} frames, {} bytes sent, {} received in {:.2} s ({:.0} \
         bytes/s); {} retries ({} BAD_CRC from the board, {} bad response CRCs, {} without a \
         response, {} late responses skipped)",
        s.requests,
        s.frames,
        s.bytes_sent,
        s.bytes_received,
        secs,
        (s.bytes_sent + s.bytes_received) as f64 / secs,
        s.retries,
        s.board_bad_crc,
        s.bad_responses,
        s.no_response,
        s.stale
    )
}

/// Token ids given on the command line as `1,2,3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenIds(pub Vec<u32>);

/// Parses `1,2,3` (spaces allowed) into token ids.
pub fn parse_tokens(s: &str) -> std::result::Result<TokenIds, String> {
    let ids: std::result::Result<Vec<u32>, _> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| format!("`{t}` is not a token id (expected e.g. 1,2,3)"))
        })
        .collect();
    let ids = ids?;
    if ids.is_empty() {
        return Err("no token ids given".into());
    }
    Ok(TokenIds(ids))
}

/// A clock frequency in Hz: a finite number from 1 Hz to 1 THz.
pub fn parse_clock_hz(s: &str) -> std::result::Result<f64, String> {
    parse_f64_in(s, 1.0, 1e12)
}

/// A sampling temperature: a finite number from 0 (greedy) to 100.
pub fn parse_temperature(s: &str) -> std::result::Result<f64, String> {
    parse_f64_in(s, 0.0, 100.0)
}

/// A nucleus probability: a number in (0, 1].
pub fn parse_top_p(s: &str) -> std::result::Result<f64, String> {
    let p = parse_f64_in(s, 0.0, 1.0)?;
    if p == 0.0 {
        return Err("must be greater than 0".into());
    }
    Ok(p)
}

/// A whole number from `lo` to `hi`.
pub fn parse_count(s: &str, lo: usize, hi: usize) -> std::result::Result<usize, String> {
    let v: u128 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if v < lo as u128 || v > hi as u128 {
        return Err(format!("{v} is out of range: must be from {lo} to {hi}"));
    }
    Ok(v as usize)
}

/// A number from `lo` to `hi` (NaN and infinities are not numbers here).
fn parse_f64_in(s: &str, lo: f64, hi: f64) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !(v.is_finite() && v >= lo && v <= hi) {
        return Err(format!(
            "{v} is out of range: must be a finite number from {lo} to {hi}"
        ));
    }
    Ok(v)
}

/// Checks before any work that `path` can be written: its folder exists and a file can be
/// created there (a file that did not exist is removed again).
pub fn check_writable(path: &Path, option: &str) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{option} {}: is a directory, expected a file",
            path.display()
        );
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("{option} {}: cannot be written", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Checks that a `--model` folder is a folder (before anything is read from it).
pub fn check_model_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "--model {}: not a directory (a checkpoint is a folder holding config.json)",
            dir.display()
        );
    }
    Ok(())
}

/// Opens a checkpoint folder and loads the model at the given precision. Non-finite weights
/// are refused unless `allow_nonfinite`.
pub fn load_model(dir: &Path, quant: Quant, allow_nonfinite: bool) -> Result<(Checkpoint, Llama)> {
    check_model_dir(dir)?;
    let mut ckpt = Checkpoint::open(dir).with_context(|| format!("loading {}", dir.display()))?;
    ckpt.allow_nonfinite(allow_nonfinite);
    let model =
        Llama::load(&ckpt, quant.into()).with_context(|| format!("loading {}", dir.display()))?;
    Ok((ckpt, model))
}

/// The model folder argument shared by the commands.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Hugging Face checkpoint folder.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Arithmetic: none, w8a8, chip (numerics v2), chip:mx8 or chip:mx4 (v3, MX block
    /// formats; modifiers in `tessera eval --help`).
    #[arg(long, default_value = "none", value_parser = parse_quant)]
    pub quant: Quant,
    /// Accept NaN and infinite weights (refused by default).
    #[arg(long)]
    pub allow_nonfinite: bool,
}

/// Flips one weight word of the first matrix in tile 0 (simulation backdoor): the hidden
/// `--inject-fault` of `run` and `generate --rtl`, which exercises their mismatch paths.
pub fn inject_fault(eng: &mut RtlEngine<SimTransport>) -> Result<()> {
    let base = eng
        .mapping()
        .placements
        .first()
        .map(|p| p.base)
        .context("nothing mapped")?;
    let wb = eng.mapping().cfg.word_bytes();
    let sim = eng
        .device()
        .transport()
        .sim()
        .context("--inject-fault needs the simulator")?;
    let mut word = sim.backdoor_read(0, base, 1, wb)?;
    word[0] = word[0].wrapping_add(1);
    sim.backdoor_write(0, base, wb, &word)?;
    Ok(())
}
