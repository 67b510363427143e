//! `tessera rom-image`: the image a chip with its weights in ROM is built from
//! (docs/architecture.md, "Weights in ROM"). The model is compiled for the token engine of
//! `--config` as `tessera run` compiles it, its tile weight images are encoded as stored code
//! words (data and ECC check bits), one `$readmemh` file per tile for simulation and the
//! SystemVerilog package `tessera_weight_rom_pkg.sv` of the same words for synthesis, and their
//! digest is written beside them for the build parameter `WeightRomDigest`.
//!
//! The folder is written beside `--out` and renamed into place: a folder that holds anything is
//! never touched without `--force`, and even then only when it is a ROM image (`digest.txt`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::ChipConfig;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{Llama, Precision};

use super::synth::{beside, swap_in};
use super::token::{compile, context};
use crate::out::{errln, outln};

/// The model of an image: a checkpoint or the small synthetic Llama.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Synthetic {
    /// A Llama-shaped model small enough for the `tiny` chip (GQA, tied embeddings), as
    /// `tessera run --synthetic small` builds it.
    Small,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tessera rom-image --config tiny --synthetic small --layers 2 --out build/rom-tiny
  tessera rom-image --config sim --checkpoint build/smollm2-hf --layers 1 --out build/rom-sim

Then build the chip with -GWeightRom=\"1'b1\" -GWeightRomDir='\"DIR\"' -GWeightRomDigest=\"32'dN\" (the
command prints them); the driver skips the weight load on it and refuses a model whose digest
differs. Synthesis reads the package instead of the $readmemh files:
  scripts/synth --top tessera_top --configs rtl/top/configs.toml --config tiny --rom DIR")]
pub struct Args {
    /// Chip configuration (rtl/top/configs.toml) the image is for.
    #[arg(long, default_value = "tiny")]
    pub config: String,
    /// A Hugging Face checkpoint folder instead of the synthetic model.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Synthetic model when no --checkpoint is given.
    #[arg(long, value_enum, default_value_t = Synthetic::Small)]
    pub synthetic: Synthetic,
    /// Decoder layers (the model is cut to its first N; lm_head always) [default: 1 for the
    /// synthetic model, every layer of a --checkpoint].
    #[arg(long, value_parser = |s: &str| super::parse_count(s, 1, 4096))]
    pub layers: Option<usize>,
    /// Seed of the synthetic weights (as `tessera run --seed`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Context the model is compiled for (as `tessera run --context`) [default: the
    /// configuration's largest, at most the model's max_position_embeddings].
    #[arg(long, value_parser = |s: &str| super::parse_count(s, 1, 1 << 20))]
    pub context: Option<usize>,
    /// Output folder (created if needed; must be empty or absent unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing ROM image folder (one holding digest.txt).
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// The model in the chip's numerics.
fn model(a: &Args) -> Result<(Llama, String)> {
    if let Some(dir) = &a.checkpoint {
        if !dir.is_dir() {
            bail!("--checkpoint {}: not a directory", dir.display());
        }
        let mut ckpt =
            Checkpoint::open(dir).with_context(|| format!("loading {}", dir.display()))?;
        let full = ckpt.config.num_hidden_layers;
        let layers = a.layers.unwrap_or(full);
        if layers > full {
            bail!("--layers {layers}: {} has {full} layer(s)", dir.display());
        }
        ckpt.config.num_hidden_layers = layers;
        let m = Llama::load(&ckpt, Precision::Chip)
            .with_context(|| format!("loading {}", dir.display()))?;
        return Ok((m, format!("{} ({layers} layers)", dir.display())));
    }
    match a.synthetic {
        Synthetic::Small => {
            let layers = a.layers.unwrap_or(1);
            let shape = SmallShape {
                layers,
                ..SmallShape::tiny()
            };
            let m = small_llama(&shape, a.seed, Precision::Chip)?;
            Ok((m, format!("small synthetic Llama ({layers} layers)")))
        }
    }
}

/// Checks what `--out` holds now: nothing, an empty folder or (with `--force`) a ROM image.
/// Returns whether something is to be replaced.
fn check_out(out: &Path, force: bool) -> Result<bool> {
    if out.file_name().is_none() {
        bail!("--out {}: name a folder", out.display());
    }
    super::synth::check_out(out, force, tessera_abi::rom::DIGEST_FILE, "ROM image")
}

pub fn run(a: Args) -> Result<()> {
    let cfg = ChipConfig::named(&a.config).with_context(|| format!("--config {}", a.config))?;
    let replace = check_out(&a.out, a.force)?;
    let (model, source) = model(&a)?;
    let ctx = context(&cfg, model.config(), a.context);
    let plan = compile(&cfg, &model, ctx)?;
    let image = plan.image(&model).context("the model's tile images")?;

    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("--out {}: creating {}", a.out.display(), parent.display()))?;
    }
    let tmp = beside(&a.out, "tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp)
        .with_context(|| format!("--out {}: creating {}", a.out.display(), tmp.display()))?;
    let written = match tessera_driver::rom::write_image(&cfg, &image.tiles, &tmp) {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e).with_context(|| format!("--out {}", a.out.display()));
        }
    };
    swap_in(&tmp, &a.out, replace, "image")?;

    let used = image.tiles.iter().map(|t| t.len()).max().unwrap_or(0) / cfg.word_bytes();
    let dir = a.out.display().to_string();
    // The model reads the images when it starts, wherever it runs: name them absolutely.
    let abs = a.out.canonicalize().unwrap_or_else(|_| a.out.clone());
    let params = format!(
        "-GWeightRom=\"1'b1\" -GWeightRomDir='\"{}\"' -GWeightRomDigest=\"32'd{}\"",
        abs.display(),
        written.digest
    );
    let synth = format!(
        "scripts/synth --top tessera_top --configs rtl/top/configs.toml --config {} --rom {dir}",
        cfg.name
    );
    if a.json {
        outln!(
            "{}",
            json!({
                "config": cfg.name,
                "model": source,
                "context": ctx,
                "out": dir,
                "digest": format!("{:#010x}", written.digest),
                "tiles": cfg.tiles(),
                "words_used": used,
                "weight_words": cfg.weight_words,
                "rom_bits_per_tile": written.bits_per_tile,
                "bytes": written.bytes,
                "params": params,
                "package": a.out.join(tessera_abi::rom::PACKAGE_FILE).display().to_string(),
                "synth": synth,
            })
        );
    } else {
        outln!(
            "ROM image of {source} for `{}` (context {ctx}) in {dir}",
            cfg.name
        );
        outln!(
            "  {} tiles, {used} of {} weight words used, {} ROM bits per tile (data and ECC)",
            cfg.tiles(),
            cfg.weight_words,
            written.bits_per_tile
        );
        outln!("  digest {:#010x}", written.digest);
        outln!("  build parameters: {params}");
        outln!("  synthesis: {synth}");
    }
    errln!(
        "tessera: wrote {} files, {} bytes",
        written.files,
        written.bytes
    );
    Ok(())
}
