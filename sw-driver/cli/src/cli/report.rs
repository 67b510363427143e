//! `tessera report`: a PNG of the per-operation cycle breakdown measured on simulated chips, and
//! of MAC utilisation and projected tokens/s against tile count (the cycle model of
//! `docs/architecture.md` for Llama 3.1 8B on grids of `t1-8b` tiles), with the simulated
//! points and the model's prediction for the same products overlaid; the numbers as a table or
//! one JSON object, with the whole-token projection of Llama 3.1 8B on the token engine
//! (`"token_projection"`: contexts 1,024 and 4,096, stages of one layer).
//!
//! Text is drawn with `ab_glyph` from a TrueType file read at run time (DejaVu Sans of the
//! Debian package `fonts-dejavu-core`), so the tool needs no system font library.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::out::{errln, out, outln};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::json;
use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::projection::{project, LatencyModel, Projection};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_driver::token_model::{project_token, TokenProjection, PROJECTED_CONTEXTS};
use tessera_driver::ChipConfig;
use tessera_golden::config::Config as ModelConfig;
use tessera_golden::model::{KvCache, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::Preset;
use tessera_sim::open_device;

/// DejaVu Sans as Debian's `fonts-dejavu-core` installs it.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Operation groups in the order of a forward pass (the runtime's names).
const OPS: [&str; 5] = ["qkv", "o", "gate_up", "down", "lm_head"];

/// Tile counts of the projection curve.
const PROJECTED_TILES: [usize; 9] = [4, 8, 16, 32, 64, 128, 256, 512, 1024];

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tessera report                          # 4 simulated grids (a first build of the 256-tile
                                          # model takes several minutes), report.png
  tessera report --configs tiny,grid4x4 --out /tmp/r.png --json

The simulated runs use a small Llama-shaped model (hidden 32, FFN 48, 4/2 heads, vocab 64,
2 layers) that fits the tiny tiles of every grid configuration; every product is checked
against the golden model.")]
pub struct Args {
    /// PNG file to write.
    #[arg(long, value_name = "FILE", default_value = "report.png")]
    pub out: PathBuf,
    /// Chip configurations of rtl/top/configs.toml to simulate, comma-separated (add grid16x16
    /// for t1-8b's grid: its Verilator model takes the better part of an hour to build on 2 cores).
    #[arg(long, value_delimiter = ',', default_value = "tiny,grid4x4,grid8x8")]
    pub configs: Vec<String>,
    /// Decode tokens per simulated run (1 to 512).
    #[arg(long, default_value_t = 2, value_parser = |s: &str| super::parse_count(s, 1, 512))]
    pub tokens: usize,
    /// Seed of the small model's weights and of the token ids.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Configuration whose tiles the projection curve uses (its grid varies from 4 to 1024).
    #[arg(long, default_value = "t1-8b")]
    pub project: String,
    /// Clock of the projection in Hz (1 to 1e12).
    #[arg(long, default_value_t = 1e9, value_parser = super::parse_clock_hz)]
    pub clock_hz: f64,
    /// TrueType font of the plot's text.
    #[arg(long, value_name = "TTF", default_value = DEFAULT_FONT)]
    pub font: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One simulated configuration.
struct Simulated {
    chip: ChipConfig,
    /// Cycles per token of each of [`OPS`], measured.
    op_cycles: Vec<f64>,
    /// Programs run per operation group.
    op_programs: Vec<u64>,
    cycles_per_token: f64,
    utilization: f64,
    mac_busy: f64,
    products: u64,
    mismatches: u64,
    /// The cycle model for the same model on the same grid.
    model: Projection,
    open_seconds: f64,
    run_seconds: f64,
}

/// One point of the projection curve.
struct Projected {
    chip: ChipConfig,
    p: Projection,
}

/// Registers the TrueType file `path` as the plot's `sans-serif` font.
fn load_font(path: &Path) -> Result<()> {
    // A font is a few hundred KB; 64 MiB bounds a device or a wrong file given as --font.
    let bytes = tessera_golden::limits::read_bytes(path, 64 << 20).map_err(|e| {
        anyhow!(
            "cannot read the font ({e}): install the Debian package fonts-dejavu-core \
             (scripts/setup does) or give another TrueType file with --font"
        )
    })?;
    // The font table keeps `'static` references; one font per process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{}: not a TrueType font", path.display()))
}

fn small_shape() -> SmallShape {
    SmallShape::tiny()
}

/// `tessera_golden` name of a projection op → the runtime's group name.
fn op_key(projection_name: &str) -> &str {
    match projection_name {
        "q|k|v" => "qkv",
        "gate|up" => "gate_up",
        n => n,
    }
}

/// Cycles per token of each of [`OPS`] in a projection.
fn model_op_cycles(p: &Projection) -> Vec<f64> {
    OPS.iter()
        .map(|&name| {
            p.ops
                .iter()
                .filter(|o| op_key(o.name) == name)
                .map(|o| o.count as f64 * o.cycles)
                .sum()
        })
        .collect()
}

/// `target`'s tiles on a grid of `tiles` tiles, with the same total weight memory.
fn regrid(target: &ChipConfig, tiles: usize) -> ChipConfig {
    let lg = tiles.trailing_zeros();
    let rows = 1usize << (lg / 2);
    let mut c = target.clone();
    c.name = format!("{}@{tiles}", target.name);
    c.grid_rows = rows;
    c.grid_cols = tiles / rows;
    c.weight_words = (target.weight_words * target.tiles()).div_ceil(tiles);
    c
}

fn simulate(
    name: &str,
    shape: &SmallShape,
    a: &Args,
    step: (usize, usize),
    clock_hz: f64,
) -> Result<Simulated> {
    let pb = ProgressBar::new_spinner();
    if let Ok(s) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        pb.set_style(s);
    }
    pb.enable_steady_tick(Duration::from_millis(250));
    let tiles = ChipConfig::named(name)?.tiles();
    pb.set_message(format!(
        "[{}/{}] `{name}` ({tiles} tiles): building or opening the chip model (a first \
         build takes minutes on large grids)",
        step.0, step.1
    ));
    let t0 = Instant::now();
    let dev = open_device(name).with_context(|| format!("opening the `{name}` chip"))?;
    let open_seconds = t0.elapsed().as_secs_f64();
    let chip = dev.config().clone();
    let model = small_llama(shape, a.seed, Precision::W8A8)?;
    let mcfg = model.config().clone();
    let map = Mapping::for_model(&chip, &model, &MapOptions::default())
        .with_context(|| format!("mapping the small model on `{name}`"))?;
    let mut eng = RtlEngine::new(dev, map)?;
    eng.load_model(&model, LoadMode::Auto)?;
    let t1 = Instant::now();
    let mut chip_cache = KvCache::new(&mcfg);
    let mut gold_cache = KvCache::new(&mcfg);
    for i in 0..a.tokens {
        pb.set_message(format!(
            "[{}/{}] `{name}` ({tiles} tiles): token {}/{}",
            step.0,
            step.1,
            i + 1,
            a.tokens
        ));
        let t =
            ((a.seed.wrapping_mul(7919) + i as u64 * 104_729 + 1) % mcfg.vocab_size as u64) as u32;
        let got = eng.forward(&model, &[t], &mut chip_cache)?;
        let want = model.forward(&[t], &mut gold_cache, &mut GoldenEngine)?;
        if got
            .iter()
            .zip(want.iter())
            .any(|(x, y)| x.to_bits() != y.to_bits())
        {
            bail!("`{name}`: token {i}: the chip's logits differ from the golden W8A8 pass");
        }
    }
    let run_seconds = t1.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let s = eng.stats().clone();
    let n = a.tokens as f64;
    let op_of = |name: &str| s.ops.iter().find(|o| o.name == name);
    let op_cycles = OPS
        .iter()
        .map(|&o| op_of(o).map_or(0.0, |o| o.perf.cycles as f64 / n))
        .collect();
    let op_programs = OPS
        .iter()
        .map(|&o| op_of(o).map_or(0, |o| o.programs))
        .collect();
    let model_proj = project(&chip, &mcfg, clock_hz, &LatencyModel::RTL)
        .map_err(|e| anyhow!("cycle model of the small model on `{name}`: {e}"))?;
    let sim = Simulated {
        op_cycles,
        op_programs,
        cycles_per_token: s.total.cycles as f64 / n,
        utilization: s.mac_utilization(chip.macs_per_cycle()),
        mac_busy: s.mac_busy_utilization(chip.tiles()),
        products: s.products(),
        mismatches: s.mismatches(),
        model: model_proj,
        open_seconds,
        run_seconds,
        chip,
    };
    errln!(
        "tessera report: [{}/{}] `{name}` ({tiles} tiles): {} products bit-exact, {:.0} cycles \
         per token, utilisation {:.4} (model {:.4}); model {:.1} s, run {:.1} s",
        step.0,
        step.1,
        sim.products,
        sim.cycles_per_token,
        sim.utilization,
        sim.model.utilization,
        open_seconds,
        run_seconds
    );
    Ok(sim)
}

pub fn run(a: Args) -> Result<()> {
    let t0 = Instant::now();
    if a.tokens == 0 {
        bail!("--tokens must be at least 1");
    }
    if a.configs.is_empty() {
        bail!("--configs: no configuration given");
    }
    // Everything that can fail without the simulator fails first.
    super::check_writable(&a.out, "--out")?;
    load_font(&a.font)?;
    for c in &a.configs {
        ChipConfig::named(c).with_context(|| format!("--configs {c}"))?;
    }
    let target = ChipConfig::named(&a.project)?;
    let full = ModelConfig::from_json(&Preset::Llama31_8b.config_json(32).to_string())?;
    let projected = PROJECTED_TILES
        .iter()
        .map(|&n| {
            let chip = regrid(&target, n);
            project(&chip, &full, a.clock_hz, &LatencyModel::RTL)
                .map(|p| Projected { chip, p })
                .map_err(|e| anyhow!("projection on {n} tiles of `{}`: {e}", a.project))
        })
        .collect::<Result<Vec<_>>>()?;

    // The whole token on the token engine, from its cycle model checked against traced
    // tokens in RTL (docs/architecture.md, "Cycle model of the whole token").
    let token = project_token(
        &target,
        &full,
        "Llama 3.1 8B",
        &PROJECTED_CONTEXTS,
        a.clock_hz,
        &LatencyModel::RTL,
    )
    .map_err(|e| anyhow!("whole-token projection on `{}`: {e}", a.project))?;

    let shape = small_shape();
    let mut sims = Vec::new();
    for (i, c) in a.configs.iter().enumerate() {
        sims.push(simulate(
            c,
            &shape,
            &a,
            (i + 1, a.configs.len()),
            a.clock_hz,
        )?);
    }
    draw(&a.out, &sims, &projected, &a).map_err(|e| anyhow!("drawing {}: {e}", a.out.display()))?;
    let seconds = t0.elapsed().as_secs_f64();
    if a.json {
        print_json(&a, &shape, &sims, &projected, &token, seconds);
    } else {
        print_table(&a, &shape, &sims, &projected, &token, seconds);
    }
    Ok(())
}

fn err_pct(model: f64, measured: f64) -> f64 {
    if measured == 0.0 {
        0.0
    } else {
        100.0 * (model - measured) / measured
    }
}

fn print_table(
    a: &Args,
    shape: &SmallShape,
    sims: &[Simulated],
    proj: &[Projected],
    token: &TokenProjection,
    seconds: f64,
) {
    outln!(
        "simulated: small Llama (hidden {}, FFN {}, {}/{} heads, vocab {}, {} layers), {} token(s); \
         cycles per token",
        shape.hidden,
        shape.intermediate,
        shape.heads,
        shape.kv_heads,
        shape.vocab,
        shape.layers,
        a.tokens
    );
    out!("{:<10} {:>5}", "config", "tiles");
    for o in OPS {
        out!(" {o:>8}");
    }
    outln!(
        " {:>8} {:>8} {:>7} {:>8} {:>8} {:>8}",
        "total",
        "model",
        "err%",
        "util",
        "model",
        "wall s"
    );
    for s in sims {
        out!("{:<10} {:>5}", s.chip.name, s.chip.tiles());
        for c in &s.op_cycles {
            out!(" {c:>8.0}");
        }
        outln!(
            " {:>8.0} {:>8.0} {:>7.1} {:>8.4} {:>8.4} {:>8.1}",
            s.cycles_per_token,
            s.model.cycles_per_token,
            err_pct(s.model.cycles_per_token, s.cycles_per_token),
            s.utilization,
            s.model.utilization,
            s.open_seconds + s.run_seconds
        );
    }
    outln!(
        "model: the projection's cycle model for the same model on the same grid (fused q|k|v and \
         gate|up, each product waiting for the previous one, no stream I/O); simulated: the \
         runtime's programs (VBUF_LOAD of the input, one MATVEC per matrix, PERF_SNAPSHOT)"
    );
    outln!();
    outln!(
        "projection: Llama 3.1 8B (32 layers) at batch 1 on `{}` tiles ({}x{} MACs) at {:.2} GHz",
        a.project,
        proj[0].chip.lanes,
        proj[0].chip.kwidth,
        a.clock_hz / 1e9
    );
    outln!(
        "{:>6} {:>7} {:>11} {:>13} {:>11} {:>10}",
        "tiles",
        "grid",
        "MACs/cycle",
        "cycles/token",
        "utilisation",
        "tokens/s"
    );
    for p in proj {
        outln!(
            "{:>6} {:>7} {:>11} {:>13.0} {:>11.4} {:>10.0}",
            p.chip.tiles(),
            format!("{}x{}", p.chip.grid_rows, p.chip.grid_cols),
            p.p.macs_per_cycle,
            p.p.cycles_per_token,
            p.p.utilization,
            p.p.tokens_per_s
        );
    }
    outln!();
    print_token_projection(token);
    outln!();
    outln!("wrote {} in {:.1} s", a.out.display(), seconds);
}

/// The whole-token projection as a table: tokens/s by context and one layer's cycles by stage.
pub(super) fn print_token_projection(token: &TokenProjection) {
    outln!(
        "whole token on the token engine: {} on `{}` at {:.2} GHz, last position of the context \
         (model error against RTL at most {:.2} %)",
        token.model,
        token.config,
        token.clock_hz / 1e9,
        100.0 * token.model_max_error
    );
    outln!(
        "{:>8} {:>15} {:>10} {:>12}  cycles of one layer by stage",
        "context",
        "cycles/token",
        "tokens/s",
        "products"
    );
    for p in &token.by_context {
        let stages: Vec<String> = p
            .layer_stages
            .iter()
            .map(|(s, c)| format!("{} {c:.0}", s.name()))
            .collect();
        outln!(
            "{:>8} {:>15.0} {:>10.3} {:>12.0}  {}",
            p.context,
            p.cycles_per_token,
            p.tokens_per_s,
            p.product_cycles,
            stages.join(", ")
        );
    }
}

fn print_json(
    a: &Args,
    shape: &SmallShape,
    sims: &[Simulated],
    proj: &[Projected],
    token: &TokenProjection,
    seconds: f64,
) {
    let v = json!({
        "out": a.out.display().to_string(),
        "clock_hz": a.clock_hz,
        "seconds": seconds,
        "small_model": {
            "hidden": shape.hidden, "intermediate": shape.intermediate, "layers": shape.layers,
            "heads": shape.heads, "kv_heads": shape.kv_heads, "vocab": shape.vocab,
            "tied": shape.tied, "tokens": a.tokens, "seed": a.seed,
        },
        "simulated": sims.iter().map(|s| {
            let model = model_op_cycles(&s.model);
            json!({
                "config": s.chip.name,
                "tiles": s.chip.tiles(),
                "macs_per_cycle": s.chip.macs_per_cycle(),
                "products": s.products,
                "mismatches": s.mismatches,
                "per_operation": OPS.iter().enumerate().map(|(i, o)| json!({
                    "name": o,
                    "programs": s.op_programs[i],
                    "cycles_per_token": s.op_cycles[i],
                    "model_cycles_per_token": model[i],
                })).collect::<Vec<_>>(),
                "cycles_per_token": s.cycles_per_token,
                "model_cycles_per_token": s.model.cycles_per_token,
                "mac_utilization": s.utilization,
                "model_mac_utilization": s.model.utilization,
                "mac_busy_utilization": s.mac_busy,
                "model_open_seconds": s.open_seconds,
                "run_seconds": s.run_seconds,
            })
        }).collect::<Vec<_>>(),
        "projection": {
            "config": a.project,
            "model": "Llama 3.1 8B",
            "points": proj.iter().map(|p| json!({
                "tiles": p.chip.tiles(),
                "grid_rows": p.chip.grid_rows,
                "grid_cols": p.chip.grid_cols,
                "macs_per_cycle": p.p.macs_per_cycle,
                "cycles_per_token": p.p.cycles_per_token,
                "mac_utilization": p.p.utilization,
                "tokens_per_s": p.p.tokens_per_s,
            })).collect::<Vec<_>>(),
        },
        "token_projection": token.to_json(),
    });
    outln!("{v}");
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Colours of [`OPS`].
const OP_COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn draw(out: &Path, sims: &[Simulated], proj: &[Projected], a: &Args) -> DrawResult {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let root = BitMapBackend::new(out, (1600, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Tessera: simulated cycles per operation, and the cycle model against tile count",
        ("sans-serif", 26),
    )?;
    let (left, right) = root.split_horizontally(760);
    draw_breakdown(&left, sims)?;
    draw_scaling(&right, sims, proj, a)?;
    root.present()?;
    Ok(())
}

/// Panel (a): cycles per token of each operation group, one bar group per configuration, with
/// the cycle model's figure for the same products as a black mark on each bar.
fn draw_breakdown<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sims: &[Simulated],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let top = sims
        .iter()
        .flat_map(|s| s.op_cycles.iter().copied().chain(model_op_cycles(&s.model)))
        .fold(1.0f64, f64::max)
        * 1.45;
    let n = sims.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "(a) cycles per token by operation, simulated (small Llama)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n, 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("chip configuration (tiles)")
        .y_desc("cycles per token")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    let width = 0.8 / OPS.len() as f64;
    for (j, op) in OPS.iter().enumerate() {
        let color = OP_COLORS[j];
        chart
            .draw_series(sims.iter().enumerate().map(|(i, s)| {
                let x0 = i as f64 + 0.1 + j as f64 * width;
                Rectangle::new(
                    [(x0 + 0.01, 0.0), (x0 + width - 0.01, s.op_cycles[j])],
                    color.filled(),
                )
            }))?
            .label(*op)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .draw_series(sims.iter().enumerate().flat_map(|(i, s)| {
            model_op_cycles(&s.model)
                .into_iter()
                .enumerate()
                .map(move |(j, c)| {
                    let x0 = i as f64 + 0.1 + j as f64 * width;
                    PathElement::new(vec![(x0, c), (x0 + width, c)], BLACK.stroke_width(3))
                })
        }))?
        .label("cycle model, same products")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(3)));
    let label = ("sans-serif", 15)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    chart.draw_series(sims.iter().enumerate().map(|(i, s)| {
        EmptyElement::at((i as f64 + 0.5, 0.0))
            + Text::new(
                format!("{} ({})", s.chip.name, s.chip.tiles()),
                (0, 8),
                label.clone(),
            )
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Panel (b): the model's utilisation and tokens/s of Llama 3.1 8B against tile count, with the
/// simulated utilisation of the small model and the model's prediction for it.
fn draw_scaling<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sims: &[Simulated],
    proj: &[Projected],
    a: &Args,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let max_tiles = proj
        .iter()
        .map(|p| p.chip.tiles())
        .chain(sims.iter().map(|s| s.chip.tiles()))
        .max()
        .unwrap_or(1024) as f64;
    let max_tps = proj.iter().map(|p| p.p.tokens_per_s).fold(1.0, f64::max) * 1.4;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "(b) MAC utilisation and tokens/s vs tiles (Llama 3.1 8B, `{}` tiles, {:.0} GHz)",
                a.project,
                a.clock_hz / 1e9
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .right_y_label_area_size(80)
        .build_cartesian_2d((3f64..max_tiles * 1.35).log_scale(), 0f64..1.4f64)?
        .set_secondary_coord((3f64..max_tiles * 1.35).log_scale(), 0f64..max_tps);
    chart
        .configure_mesh()
        .x_desc("tiles")
        .y_desc("MAC utilisation")
        // The range above 1.0 only makes room for the legend.
        .y_label_formatter(&|v| {
            if *v <= 1.0 {
                format!("{v:.1}")
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("projected tokens/s")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    let green = RGBColor(44, 160, 44);
    let util: Vec<(f64, f64)> = proj
        .iter()
        .map(|p| (p.chip.tiles() as f64, p.p.utilization))
        .collect();
    chart
        .draw_series(LineSeries::new(util.clone(), blue.stroke_width(2)))?
        .label("model: utilisation, Llama 3.1 8B")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], blue.stroke_width(2)));
    chart.draw_series(util.iter().map(|&p| Circle::new(p, 4, blue.filled())))?;
    let tps: Vec<(f64, f64)> = proj
        .iter()
        .map(|p| (p.chip.tiles() as f64, p.p.tokens_per_s))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(tps.clone(), red.stroke_width(2)))?
        .label("model: tokens/s, Llama 3.1 8B (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], red.stroke_width(2)));
    chart.draw_secondary_series(tps.iter().map(|&p| TriangleMarker::new(p, 5, red.filled())))?;
    chart
        .draw_series(
            sims.iter()
                .map(|s| Circle::new((s.chip.tiles() as f64, s.utilization), 6, green.filled())),
        )?
        .label("simulated: small Llama, measured")
        .legend(move |(x, y)| Circle::new((x + 7, y), 6, green.filled()));
    chart
        .draw_series(sims.iter().map(|s| {
            Cross::new(
                (s.chip.tiles() as f64, s.model.utilization),
                7,
                BLACK.stroke_width(2),
            )
        }))?
        .label("model: small Llama, same products")
        .legend(move |(x, y)| Cross::new((x + 7, y), 6, BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regrid_keeps_the_tiles_and_the_weight_memory() {
        let t1 = ChipConfig {
            name: "t1-8b".into(),
            grid_rows: 16,
            grid_cols: 16,
            lanes: 32,
            kwidth: 32,
            weight_words: 28672,
            act_words: 512,
            abuf_words: 1024,
            rbuf_words: 4096,
            stream_width: 256,
            vmem_words: 262_144,
            dmem_words: 536_870_912,
            prog_instrs: 4096,
            context: 4096,
            head_dim_max: 128,
            fp_stages: 0,
        };
        for n in PROJECTED_TILES {
            let c = regrid(&t1, n);
            assert_eq!(c.tiles(), n);
            assert!(c.check().is_ok(), "{n} tiles");
            assert_eq!((c.lanes, c.kwidth), (32, 32));
            assert!(c.weight_bytes() >= t1.weight_bytes());
        }
        assert_eq!(regrid(&t1, 256).weight_words, t1.weight_words);
        assert_eq!((regrid(&t1, 8).grid_rows, regrid(&t1, 8).grid_cols), (2, 4));
    }

    /// The small model maps and the cycle model applies on every default grid, so a report
    /// never builds a large simulator to fail afterwards.
    #[test]
    fn small_model_maps_on_every_default_grid() {
        let model = small_llama(&small_shape(), 0, Precision::W8A8).unwrap();
        for name in ["tiny", "grid4x4", "grid8x8", "grid16x16"] {
            let chip = ChipConfig::named(name).unwrap();
            Mapping::for_model(&chip, &model, &MapOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let p = project(&chip, model.config(), 1e9, &LatencyModel::RTL).unwrap();
            assert!(p.utilization > 0.0 && p.utilization <= 1.0, "{name}");
        }
    }
}
