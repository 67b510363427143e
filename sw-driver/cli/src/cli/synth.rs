//! `tessera synth-weights`: a deterministic synthetic checkpoint in HF layout.
//!
//! The checkpoint is written to a temporary folder beside `--out` and renamed into place, so an
//! interrupted run leaves no half-written checkpoint. A folder `--out` that holds anything is
//! never touched without `--force`, and even then only when it is a checkpoint (config.json).

use crate::out::errln;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tessera_golden::synth::{write_checkpoint, Preset, SynthSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model shape: `llama3.1-8b` (Llama 3.1 8B's exact config) or `tiny` (hidden 64, for tests).
    #[arg(long, default_value = "llama3.1-8b")]
    pub preset: Preset,
    /// Number of decoder layers (Llama 3.1 8B has 32).
    #[arg(long, default_value_t = 1, value_parser = |s: &str| super::parse_count(s, 1, 4096))]
    pub layers: usize,
    /// Seed: the same seed, preset and layers give the same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (created if needed; must be empty or absent unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing checkpoint folder (atomically: the new one is written beside it).
    #[arg(long)]
    pub force: bool,
}

/// Checks what `--out` holds now: nothing, an empty folder or (with `--force`) a `kind` of
/// folder, known by its file `marker`. Returns whether something is to be replaced.
pub(super) fn check_out(out: &Path, force: bool, marker: &str, kind: &str) -> Result<bool> {
    let shown = out.display();
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("--out {shown}")),
    };
    if !meta.is_dir() {
        bail!("--out {shown}: exists and is not a folder");
    }
    let mut entries = std::fs::read_dir(out).with_context(|| format!("--out {shown}"))?;
    if entries.next().is_none() {
        return Ok(true);
    }
    if !force {
        bail!("--out {shown}: already exists and is not empty; --force replaces it");
    }
    if !out.join(marker).is_file() {
        bail!("--out {shown}: not a {kind} folder (no {marker}); refusing to replace it");
    }
    Ok(true)
}

/// `dir` beside `out` with a name that marks it as this process's (`.NAME.SUFFIX-PID`).
pub(super) fn beside(out: &Path, suffix: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    out.with_file_name(format!(".{name}.{suffix}-{}", std::process::id()))
}

/// Puts the finished folder `tmp` (written [`beside`] `out`) in place of `out`: the folder being
/// replaced (`replace`: a `what` that `--force` allows to go) is moved aside, `tmp` renamed in,
/// then the old one deleted; on a failure `out` is left as it was and `tmp` removed.
pub(super) fn swap_in(tmp: &Path, out: &Path, replace: bool, what: &str) -> Result<()> {
    let old = beside(out, "old");
    if replace {
        if let Err(e) = std::fs::rename(out, &old) {
            let _ = std::fs::remove_dir_all(tmp);
            return Err(e).with_context(|| format!("--out {}: moving it aside", out.display()));
        }
    }
    if let Err(e) = std::fs::rename(tmp, out) {
        if replace {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(tmp);
        return Err(e).with_context(|| format!("--out {}", out.display()));
    }
    if replace {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("removing the replaced {what} {}", old.display()))?;
    }
    Ok(())
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
    let replace = check_out(&a.out, a.force, "config.json", "checkpoint")?;
    if a.out.file_name().is_none() {
        bail!("--out {}: name a folder", a.out.display());
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("--out {}: creating {}", a.out.display(), parent.display()))?;
    }
    let tmp = beside(&a.out, "tmp");
    let written = write_checkpoint(&spec, &tmp, &mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(p.tensor.to_owned());
    });
    bar.finish_and_clear();
    let summary = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.into());
        }
    };
    swap_in(&tmp, &a.out, replace, "checkpoint")?;
    errln!(
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
