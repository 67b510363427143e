//! `tessera synth-weights`: a deterministic synthetic checkpoint in HF layout.

use std::path::PathBuf;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tessera_golden::synth::{write_checkpoint, Preset, SynthSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model shape: `llama3.1-8b` (Llama 3.1 8B's exact config) or `tiny` (hidden 64, for tests).
    #[arg(long, default_value = "llama3.1-8b")]
    pub preset: Preset,
    /// Number of decoder layers (Llama 3.1 8B has 32).
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Seed: the same seed, preset and layers give the same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let spec = SynthSpec {
        preset: a.preset,
        layers: a.layers,
        seed: a.seed,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let start = std::time::Instant::now();
    let summary = write_checkpoint(&spec, &a.out, &mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(p.tensor.to_owned());
    })?;
    bar.finish_and_clear();
    eprintln!(
        "tessera: wrote {} tensors, {} parameters ({:.2} GB bf16) in {} file(s) to {} in {:.1} s",
        summary.tensors,
        summary.parameters,
        summary.bytes as f64 / 1e9,
        summary.files.len(),
        a.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
