//! `tessera area`: the silicon area of a chip configuration at a process node, per block and in
//! total, against one reticle (docs/area.md).
//!
//! Logic comes from Yosys: the scaled synthesis estimate of `scripts/synth-estimate`
//! (`build/synth/estimate/estimate.json`: the tile, network and control fits and the token
//! engine, each with the generic cells by type of its largest real synthesis). Every generic
//! cell type has a weight in NAND2 equivalents (its transistor count in static CMOS over the
//! NAND2's four, [`nand2_per_cell`]); a NAND2 equivalent takes `4 / density` of the node's
//! published logic density (MTr/mm²), over a placement utilisation. Memories are bits from the
//! configuration's parameters (ECC check bits included) times a published bit-cell area over an
//! array efficiency. Every constant and its source is in [`NODES`] and docs/area.md.
//!
//! Left out: wiring beyond the utilisation, clock and reset trees, I/O, pads, power grid, scan,
//! and SRAM periphery beyond the array efficiency.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tessera_abi::config::ChipConfig;
use tessera_golden::synth::Preset;

use crate::out::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chip configuration (rtl/top/configs.toml): t1-8b, sim, tiny, ulx3s, ...
    #[arg(long, default_value = "t1-8b")]
    pub config: String,
    /// Process node: n7, n6, n5 or n3e (TSMC; constants and sources in docs/area.md).
    #[arg(long, default_value = "n5")]
    pub node: String,
    /// Stored bits per weight element: 8 for int8 (today), 4.25 for MXFP4 (4 bits and one E8M0
    /// scale per 32), 8.25 for MXINT8.
    #[arg(
        long,
        default_value = "8",
        allow_hyphen_values = true,
        value_name = "BITS"
    )]
    pub weight_bits: String,
    /// Weight memory: `sram` (loadable, with the RTL's SECDED check bits) or `rom` (a via or
    /// contact mask ROM, weights fixed at manufacture, no check bits).
    #[arg(long, default_value = "sram", value_name = "KIND")]
    pub weight_mem: String,
    /// Token engine data memory: `config` (DmemWords of the configuration) or `kv` (only Llama
    /// 3.1 8B's KV cache at the configuration's Context and its small constants; the embedding
    /// table moves to the weight memory at --weight-bits).
    #[arg(long, default_value = "config", value_name = "WHAT")]
    pub dmem: String,
    /// The synthesis estimate to read [default: build/synth/estimate/estimate.json of the
    /// checkout when scripts/synth-estimate has written one, else the recorded
    /// docs/synth-estimate.json].
    #[arg(long, value_name = "FILE")]
    pub estimate: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The largest field one exposure prints: 26 mm × 33 mm.
pub const RETICLE_MM2: f64 = 858.0;

/// Standard cells placed per unit of row area: the rest is left to routing, buffers inserted
/// by timing closure and filler (an assumption of this model, not a measured figure).
pub const UTILIZATION: f64 = 0.70;

/// Bits of a high-density SRAM macro over its area in bit cells, derived from TSMC's IEDM 2022
/// figures: 31.8 Mib/mm² of macro with the 0.021 µm² bit cell, whose cells alone would give
/// 1/0.021 µm² = 45.41 Mib/mm² (31.8 / 45.41 = 0.700). Also taken for ROM arrays (assumption).
pub const ARRAY_EFFICIENCY: f64 = 0.70;

/// A process node's published figures.
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub name: &'static str,
    /// Logic density, MTr/mm² (the NAND2 / scan-flop weighted metric).
    pub logic_mtr_per_mm2: f64,
    /// High-density 6T SRAM bit cell, µm².
    pub sram_cell_um2: f64,
    /// Contacted poly pitch and minimum metal pitch, nm (for the ROM cell).
    pub cpp_nm: f64,
    pub mmp_nm: f64,
    pub source: &'static str,
}

impl Node {
    /// Area of one NAND2 equivalent (four transistors) at the logic density, µm².
    pub fn nand2_um2(&self) -> f64 {
        4.0 / self.logic_mtr_per_mm2
    }

    /// A one-transistor via/contact ROM bit: one poly pitch along the column (source and drain
    /// shared with the neighbours) by two metal tracks across it (bit line and reference line),
    /// µm².
    pub fn rom_cell_um2(&self) -> f64 {
        self.cpp_nm * 2.0 * self.mmp_nm * 1e-6
    }
}

/// The nodes the model knows (docs/area.md, "Constants", cites each figure).
pub const NODES: [Node; 4] = [
    Node {
        name: "n7",
        logic_mtr_per_mm2: 96.27,
        sram_cell_um2: 0.027,
        cpp_nm: 54.0,
        mmp_nm: 40.0,
        source: "logic, CPP, MMP: WikiChip Fuse, TSMC Announces 6-Nanometer Process (2019), \
                 table; SRAM: TSMC, ISSCC 2017 paper 12.1 (7nm 256Mb SRAM, 0.027 um2 cell)",
    },
    Node {
        name: "n6",
        logic_mtr_per_mm2: 114.2,
        sram_cell_um2: 0.027,
        cpp_nm: 54.0,
        mmp_nm: 40.0,
        source: "logic, CPP, MMP: WikiChip Fuse, TSMC Announces 6-Nanometer Process (2019): \
                 114.2 MTr/mm2, 18% over N7, N7 design rules; SRAM: N7's 0.027 um2 cell (N6 \
                 keeps N7's design rules; no smaller N6 HD cell is published)",
    },
    Node {
        name: "n5",
        logic_mtr_per_mm2: 171.3,
        sram_cell_um2: 0.021,
        cpp_nm: 48.0,
        mmp_nm: 30.0,
        source: "logic, CPP, MMP: WikiChip Fuse, TSMC Details 5 nm (2020): 171.3 MTr/mm2 at \
                 48 nm CPP, 30 nm MMP; SRAM: TSMC, IEDM 2019 (0.021 um2 HD cell)",
    },
    Node {
        name: "n3e",
        logic_mtr_per_mm2: 274.1,
        sram_cell_um2: 0.021,
        cpp_nm: 48.0,
        mmp_nm: 30.0,
        source: "logic: N5's 171.3 MTr/mm2 x 1.6 (TSMC: N3 has 60-70% more logic density than \
                 N5, the low end for N3E); SRAM: TSMC, IEDM 2022 (N3E HD cell 0.021 um2, as \
                 N5); ROM pitches: N5's (N3E's are not in these sources; an upper bound)",
    },
];

/// The node named `name`.
pub fn node(name: &str) -> Result<Node> {
    NODES
        .iter()
        .find(|n| n.name == name.trim().to_ascii_lowercase())
        .copied()
        .with_context(|| {
            format!(
                "--node {name}: unknown node (expected {})",
                NODES.map(|n| n.name).join(", ")
            )
        })
}

/// NAND2 equivalents of one Yosys generic cell: its transistor count as a static CMOS cell over
/// the NAND2's 4. `Some(0.0)` for cells that are not logic (memories, scope markers: memories
/// are counted as bits); `None` for a type the model does not know.
///
/// - NOT 2 T (0.5); BUF 4 T (1.0); NAND2, NOR2 4 T (1.0); AND2, OR2 6 T (a NAND2 or NOR2 and an
///   inverter, 1.5); ANDNOT, ORNOT 6 T (a NOR2 or NAND2 with one input inverted, 1.5); AOI3,
///   OAI3 6 T (1.5); AOI4, OAI4 8 T (2.0); XOR2, XNOR2 12 T (a complex gate with both input
///   polarities, 3.0); MUX2 12 T (two transmission gates, the select and output inverters and
///   input buffers, 3.0); NMUX 10 T (2.5); MUX4/8/16 as trees of MUX2.
/// - D flip-flop 24 T (6.0): a static master-slave flip-flop, two latches of a transmission
///   gate, an inverter and a clocked feedback inverter, with clock and input/output inverters.
///   An asynchronous reset or set turns a loop inverter of each latch into a NAND2 or NOR2
///   (+4 T, +1.0 each); a clock enable is a MUX2 in front (+3.0); a synchronous reset an AND2
///   or OR2 in front (+1.5). A latch is 12 T (3.0).
pub fn nand2_per_cell(cell_type: &str) -> Option<f64> {
    let t = cell_type;
    let gate = match t {
        "$_NOT_" => Some(0.5),
        "$_BUF_" => Some(1.0),
        "$_NAND_" | "$_NOR_" => Some(1.0),
        "$_AND_" | "$_OR_" | "$_ANDNOT_" | "$_ORNOT_" => Some(1.5),
        "$_AOI3_" | "$_OAI3_" => Some(1.5),
        "$_AOI4_" | "$_OAI4_" => Some(2.0),
        "$_XOR_" | "$_XNOR_" => Some(3.0),
        "$_MUX_" => Some(3.0),
        "$_NMUX_" => Some(2.5),
        "$_MUX4_" => Some(9.0),
        "$_MUX8_" => Some(21.0),
        "$_MUX16_" => Some(45.0),
        "$mem_v2" | "$mem" | "$scopeinfo" => Some(0.0),
        _ => None,
    };
    if gate.is_some() {
        return gate;
    }
    // Flip-flops and latches: `$_<KIND>_<polarities>_`.
    let body = t.strip_prefix("$_")?.strip_suffix('_')?;
    let (kind, pol) = body.split_once('_')?;
    if pol.is_empty() || !pol.chars().all(|c| matches!(c, 'P' | 'N' | '0' | '1')) {
        return None;
    }
    let base = 6.0;
    let w = match (kind, pol.len()) {
        ("DFF", 1) => base,
        ("DFF", 3) => base + 1.0,
        ("DFFE", 2) => base + 3.0,
        ("DFFE", 4) => base + 1.0 + 3.0,
        ("SDFF", 3) => base + 1.5,
        ("SDFFE" | "SDFFCE", 4) => base + 1.5 + 3.0,
        ("DFFSR", 3) => base + 2.0,
        ("DFFSRE", 4) => base + 2.0 + 3.0,
        ("ALDFF", 2) => base + 2.0,
        ("ALDFFE", 3) => base + 2.0 + 3.0,
        ("DLATCH", 1) => 3.0,
        ("DLATCH", 3) => 4.0,
        ("DLATCHSR", 3) => 5.0,
        _ => return None,
    };
    Some(w)
}

/// Whether a generic cell type is a flip-flop.
pub fn is_ff(cell_type: &str) -> bool {
    ["$_DFF", "$_SDFF", "$_ALDFF", "$_DFFSR"]
        .iter()
        .any(|p| cell_type.starts_with(p))
}

/// NAND2 equivalents per cell of a mix (cells by type of a real synthesis), for its
/// combinational cells and its flip-flops apart. Memory cells are left out of both.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixWeights {
    pub comb: f64,
    pub ff: f64,
}

pub fn mix_weights<'a>(mix: impl IntoIterator<Item = (&'a str, f64)>) -> Result<MixWeights> {
    let (mut comb_n, mut comb_w, mut ff_n, mut ff_w) = (0.0, 0.0, 0.0, 0.0);
    for (t, n) in mix {
        let w = nand2_per_cell(t)
            .with_context(|| format!("generic cell type {t}: no NAND2 weight in the model"))?;
        if w == 0.0 {
            continue;
        }
        if is_ff(t) {
            ff_n += n;
            ff_w += n * w;
        } else {
            comb_n += n;
            comb_w += n * w;
        }
    }
    Ok(MixWeights {
        comb: if comb_n > 0.0 { comb_w / comb_n } else { 0.0 },
        // A part without flip-flops in its sample: an enable flip-flop with reset.
        ff: if ff_n > 0.0 { ff_w / ff_n } else { 10.0 },
    })
}

/// NAND2 equivalents of `cells` generic cells of which `ffs` are flip-flops, with a mix's
/// weights.
pub fn nand2_of(cells: f64, ffs: f64, w: MixWeights) -> f64 {
    (cells - ffs).max(0.0) * w.comb + ffs * w.ff
}

/// Area of `nand2` NAND2 equivalents placed at [`UTILIZATION`], mm².
pub fn logic_mm2(nand2: f64, node: &Node) -> f64 {
    nand2 * node.nand2_um2() / UTILIZATION * 1e-6
}

/// Area of `bits` in arrays of `cell_um2` bit cells at [`ARRAY_EFFICIENCY`], mm².
pub fn memory_mm2(bits: f64, cell_um2: f64) -> f64 {
    bits * cell_um2 / ARRAY_EFFICIENCY * 1e-6
}

/// Llama 3.1 8B, the model `t1-8b` is sized for (golden model preset `llama3.1-8b`).
pub const LLAMA_LAYERS: u64 = 32;

/// Bytes of Llama 3.1 8B's KV cache in the token engine's data memory at `context` positions:
/// per layer, K and V, per KV head and position `head_dim` int8 values and one binary32 scale
/// (the layout of docs/architecture.md; rtl/top/configs.toml states 276,824,064 B at 4,096).
pub fn llama_kv_bytes(context: u64) -> u64 {
    let s = Preset::Llama31_8b.shape();
    LLAMA_LAYERS * 2 * s.kv_heads as u64 * context * (s.head_dim as u64 + 4)
}

/// Bytes of Llama 3.1 8B's constants in the data memory of `t1-8b` (rtl/top/configs.toml),
/// and of the bfloat16 embedding table among them.
pub const LLAMA_DMEM_CONSTANTS: u64 = 1_059_853_312;

pub fn llama_embedding_elems() -> u64 {
    let s = Preset::Llama31_8b.shape();
    s.vocab as u64 * s.hidden as u64
}

/// One row of the result.
#[derive(Clone, Debug)]
pub struct Block {
    pub name: String,
    /// `logic`, `sram`, `rom` or `regfile` (link FIFO storage, as enable flip-flops).
    pub kind: &'static str,
    pub mm2: f64,
    pub bits: Option<f64>,
    pub cells: Option<f64>,
    pub ffs: Option<f64>,
    pub nand2: Option<f64>,
    pub note: String,
}

impl Block {
    fn mem(name: &str, kind: &'static str, bits: f64, cell_um2: f64, note: String) -> Block {
        Block {
            name: name.into(),
            kind,
            mm2: memory_mm2(bits, cell_um2),
            bits: Some(bits),
            cells: None,
            ffs: None,
            nand2: None,
            note,
        }
    }

    fn logic(name: &str, cells: f64, ffs: f64, w: MixWeights, node: &Node, note: String) -> Block {
        let nand2 = nand2_of(cells, ffs, w);
        Block {
            name: name.into(),
            kind: "logic",
            mm2: logic_mm2(nand2, node),
            bits: None,
            cells: Some(cells),
            ffs: Some(ffs),
            nand2: Some(nand2),
            note,
        }
    }

    /// Transistors: 4 per NAND2 equivalent, 6 per SRAM bit, 1 per ROM bit.
    pub fn transistors(&self) -> f64 {
        match self.kind {
            "sram" => 6.0 * self.bits.unwrap_or(0.0),
            "rom" => self.bits.unwrap_or(0.0),
            _ => 4.0 * self.nand2.unwrap_or(0.0),
        }
    }
}

/// What the model is asked.
#[derive(Clone, Debug)]
pub struct Query {
    pub config: ChipConfig,
    pub node: Node,
    pub weight_bits: f64,
    pub weight_rom: bool,
    pub dmem_kv: bool,
}

/// Parses `--weight-bits`: a finite number from 1 to 32.
pub fn parse_weight_bits(s: &str) -> Result<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--weight-bits {s}: not a number"))?;
    if !(v.is_finite() && (1.0..=32.0).contains(&v)) {
        bail!("--weight-bits {s}: must be a finite number from 1 to 32 (bits per weight)");
    }
    Ok(v)
}

/// The memories of a configuration (bits from its parameters).
pub fn memory_blocks(q: &Query) -> Vec<Block> {
    let c = &q.config;
    let n = &q.node;
    let tiles = c.tiles() as f64;
    let sram = n.sram_cell_um2;
    let mut out = Vec::new();
    // Tile weight memory: SECDED over 64-bit segments (prim_ram_1r1w_ecc), 8 check bits each.
    let elems = tiles * (c.weight_words * c.lanes * c.kwidth) as f64;
    let data = elems * q.weight_bits;
    let secded64 = tessera_abi::ecc::check_bits(64) as f64 / 64.0;
    if q.weight_rom {
        out.push(Block::mem(
            "weights (tile memories)",
            "rom",
            data,
            n.rom_cell_um2(),
            format!(
                "{:.3} G elements x {} bits, mask ROM, no check bits",
                elems / 1e9,
                q.weight_bits
            ),
        ));
    } else {
        out.push(Block::mem(
            "weights (tile memories)",
            "sram",
            data * (1.0 + secded64),
            sram,
            format!(
                "{:.3} G elements x {} bits + 8 check bits per 64",
                elems / 1e9,
                q.weight_bits
            ),
        ));
    }
    if q.dmem_kv {
        let emb = llama_embedding_elems() as f64;
        let bits = emb * q.weight_bits;
        let (kind, cell, bits, ecc) = if q.weight_rom {
            ("rom", n.rom_cell_um2(), bits, "")
        } else {
            (
                "sram",
                sram,
                bits * (1.0 + secded64),
                " + 8 check bits per 64",
            )
        };
        out.push(Block::mem(
            "embedding table (weight memory)",
            kind,
            bits,
            cell,
            format!(
                "Llama 3.1 8B's {:.3} G elements x {} bits{ecc}",
                emb / 1e9,
                q.weight_bits
            ),
        ));
    }
    out.push(Block::mem(
        "activation buffers (tiles)",
        "sram",
        tiles * (c.act_words * c.kwidth * 8) as f64,
        sram,
        format!(
            "{} tiles x {} x {} bits",
            c.tiles(),
            c.act_words,
            c.kwidth * 8
        ),
    ));
    out.push(Block::mem(
        "vector buffer (ABUF, RBUF)",
        "sram",
        (c.abuf_words * c.kwidth * 8 + c.rbuf_words * c.lanes * 32) as f64,
        sram,
        format!(
            "{} x {} + {} x {} bits",
            c.abuf_words,
            c.kwidth * 8,
            c.rbuf_words,
            c.lanes * 32
        ),
    ));
    // Token engine: DMEM and program memory store 32-bit words with 7 check bits each.
    let w39 = 32.0 + tessera_abi::ecc::check_bits(32) as f64;
    let (dmem_words, dmem_note) = if q.dmem_kv {
        let kv = llama_kv_bytes(c.context as u64);
        let other = LLAMA_DMEM_CONSTANTS - 2 * llama_embedding_elems();
        (
            (kv + other).div_ceil(4) as f64,
            format!(
                "KV cache {kv} B (Llama 3.1 8B, 32 layers, context {}) + {other} B of other \
                 constants, 39 bits per 32-bit word",
                c.context
            ),
        )
    } else {
        (
            c.dmem_words as f64,
            format!("{} words x 39 bits (32 + 7 check bits)", c.dmem_words),
        )
    };
    out.push(Block::mem(
        "token engine data memory (DMEM)",
        "sram",
        dmem_words * w39,
        sram,
        dmem_note,
    ));
    out.push(Block::mem(
        "token engine program, vector and scratch memories",
        "sram",
        c.prog_words() as f64 * w39
            + (c.vmem_words * 32 + c.context * 32 + c.head_dim_max * 8) as f64,
        sram,
        format!(
            "PMEM {} x 39, VMEM {} x 32, scores {} x 32, query {} x 8 bits",
            c.prog_words(),
            c.vmem_words,
            c.context,
            c.head_dim_max
        ),
    ));
    out
}

fn num(v: &Value, what: &str) -> Result<f64> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .with_context(|| format!("{what}: not a number"))
}

fn mix_of(v: &Value, what: &str) -> Result<MixWeights> {
    let by_type = v
        .get("by_type")
        .and_then(Value::as_object)
        .with_context(|| format!("{what}: no cells by type (rerun scripts/synth-estimate)"))?;
    let mut pairs = Vec::new();
    for (t, n) in by_type {
        pairs.push((t.as_str(), num(n, &format!("{what} {t}"))?));
    }
    mix_weights(pairs).with_context(|| what.to_string())
}

/// The logic of a configuration from a synthesis estimate: the tile fit at the configuration's
/// Lanes × KWidth, each network block's fit at its tile count, the token engine as synthesized,
/// the link FIFO storage as enable flip-flops.
pub fn logic_blocks(q: &Query, est: &Value) -> Result<Vec<Block>> {
    let c = &q.config;
    let n = &q.node;
    let tiles = c.tiles() as f64;
    let (l, k) = (c.lanes as f64, c.kwidth as f64);
    let target = est
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let shape_note = if target == c.name {
        String::new()
    } else {
        format!(" ({target}'s fit evaluated at {})", c.name)
    };
    let mut out = Vec::new();

    let tile_fit = &est["tile_fit"];
    let eval_tile = |key: &str| -> Result<f64> {
        let coef = tile_fit[key]["coef"]
            .as_array()
            .filter(|a| a.len() == 4)
            .with_context(|| format!("estimate: tile_fit.{key}.coef: expected 4 numbers"))?;
        let row = [l * k, l, k, 1.0];
        let mut s = 0.0;
        for (cf, x) in coef.iter().zip(row) {
            s += num(cf, "estimate: tile_fit coefficient")? * x;
        }
        Ok(s.max(0.0))
    };
    let tw = mix_of(&est["tile_mix"], "estimate: tile_mix")?;
    let (tc, tf) = (eval_tile("cells")?, eval_tile("ffs")?);
    out.push(Block::logic(
        "tile logic (MAC arrays, accumulators, control)",
        tiles * tc,
        tiles * tf,
        tw,
        n,
        format!(
            "{} tiles x {:.0} cells, {:.0} flip-flops{shape_note}",
            c.tiles(),
            tc,
            tf
        ),
    ));

    let net = est["network"]
        .as_object()
        .context("estimate: no network section")?;
    let mut rf_bits = 0.0;
    for (name, b) in net {
        let model = b["model"].as_str().unwrap_or("");
        let eval = |key: &str| -> Result<f64> {
            let coef = b["fit"][key]["coef"]
                .as_array()
                .filter(|a| a.len() == 2)
                .with_context(|| format!("estimate: {name}: fit.{key}.coef"))?;
            let (a0, a1) = (
                num(&coef[0], "estimate: fit")?,
                num(&coef[1], "estimate: fit")?,
            );
            Ok(if model.starts_with("b·(2N−1)") {
                (a1 * (2.0 * tiles - 1.0)).max(0.0)
            } else {
                (a0 + a1 * tiles).max(0.0)
            })
        };
        rf_bits += eval("rf_bits").unwrap_or(0.0);
        let (cells, ffs) = (eval("cells")?, eval("ffs")?);
        if cells == 0.0 && ffs == 0.0 {
            continue;
        }
        let w = mix_of(&b["mix"], &format!("estimate: {name}"))?;
        out.push(Block::logic(
            name,
            cells,
            ffs,
            w,
            n,
            format!("fit {model} at N = {}", c.tiles()),
        ));
    }
    let tok = &est["token_engine"];
    if tok.is_null() {
        bail!("estimate: no token_engine section (rerun scripts/synth-estimate)");
    }
    let tw = mix_of(&tok["mix"], "estimate: token_engine")?;
    out.push(Block::logic(
        "token engine logic",
        num(&tok["estimate"]["cells"], "estimate: token_engine cells")?,
        num(&tok["estimate"]["ffs"], "estimate: token_engine ffs")?,
        tw,
        n,
        format!("synthesized with {target}'s parameters (DMEM depth capped)"),
    ));
    // The 2-entry link FIFOs: register files, each bit an enable flip-flop.
    let w = MixWeights { comb: 0.0, ff: 9.0 };
    let mut rf = Block::logic("link FIFO storage", rf_bits, rf_bits, w, n, String::new());
    rf.kind = "regfile";
    rf.note = format!("{rf_bits:.0} bits as enable flip-flops (9 NAND2 each)");
    out.push(rf);
    Ok(out)
}

/// The estimate file: `--estimate`; else the checkout's build/synth/estimate/estimate.json when
/// a local run of scripts/synth-estimate wrote one; else the recorded docs/synth-estimate.json
/// (the run docs/area.md's tables come from).
fn estimate_path(a: &Args) -> Result<PathBuf> {
    if let Some(p) = &a.estimate {
        return Ok(p.clone());
    }
    let root = tessera_sim::rtl_root()?;
    let local = root.join("build/synth/estimate/estimate.json");
    Ok(if local.is_file() {
        local
    } else {
        root.join("docs/synth-estimate.json")
    })
}

fn read_estimate(path: &Path) -> Result<Value> {
    // A regular file of at most the config limit (the recorded estimate is 17 KB).
    let text = tessera_golden::limits::read_text(path, tessera_golden::limits::CONFIG_BYTES)
        .with_context(|| {
            format!(
                "--estimate {}: the synthesis estimate (scripts/synth-estimate writes one in \
                 about 40 minutes of Yosys)",
                path.display()
            )
        })?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// The whole result as JSON.
pub fn to_json(q: &Query, blocks: &[Block], estimate: &str) -> Value {
    // Sums start at +0.0 (an empty `f64` sum is -0.0).
    let total = blocks.iter().fold(0.0, |s, b| s + b.mm2);
    let transistors = blocks.iter().fold(0.0, |s, b| s + b.transistors());
    let rows: Vec<Value> = blocks
        .iter()
        .map(|b| {
            let mut v = json!({"name": b.name, "kind": b.kind, "mm2": b.mm2, "note": b.note,
                               "transistors": b.transistors()});
            if let Some(x) = b.bits {
                v["bits"] = json!(x);
            }
            if let Some(x) = b.cells {
                v["cells"] = json!(x);
            }
            if let Some(x) = b.ffs {
                v["ffs"] = json!(x);
            }
            if let Some(x) = b.nand2 {
                v["nand2"] = json!(x);
            }
            v
        })
        .collect();
    let sum = |kinds: &[&str]| -> f64 {
        blocks
            .iter()
            .filter(|b| kinds.contains(&b.kind))
            .fold(0.0, |s, b| s + b.mm2)
    };
    json!({
        "config": q.config.name,
        "node": q.node.name,
        "total_mm2": total,
        "blocks": rows,
        "logic_mm2": sum(&["logic", "regfile"]),
        "sram_mm2": sum(&["sram"]),
        "rom_mm2": sum(&["rom"]),
        "transistors": transistors,
        "reticle_mm2": RETICLE_MM2,
        "margin_mm2": RETICLE_MM2 - total,
        "fits_reticle": total <= RETICLE_MM2,
        "weight_bits": q.weight_bits,
        "weight_mem": if q.weight_rom { "rom" } else { "sram" },
        "dmem": if q.dmem_kv { "kv" } else { "config" },
        "estimate": estimate,
        "constants": {
            "logic_mtr_per_mm2": q.node.logic_mtr_per_mm2,
            "nand2_um2": q.node.nand2_um2(),
            "utilization": UTILIZATION,
            "sram_cell_um2": q.node.sram_cell_um2,
            "rom_cell_um2": q.node.rom_cell_um2(),
            "array_efficiency": ARRAY_EFFICIENCY,
            "source": q.node.source,
        },
    })
}

fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

pub fn run(a: Args) -> Result<()> {
    let config = ChipConfig::named(&a.config).map_err(|_| {
        anyhow::anyhow!(
            "--config {}: unknown configuration (expected one of {})",
            a.config,
            ChipConfig::names().join(", ")
        )
    })?;
    let node = node(&a.node)?;
    let weight_bits = parse_weight_bits(&a.weight_bits)?;
    let weight_rom = match a.weight_mem.as_str() {
        "sram" => false,
        "rom" => true,
        o => bail!("--weight-mem {o}: expected sram or rom"),
    };
    let dmem_kv = match a.dmem.as_str() {
        "config" => false,
        "kv" => true,
        o => bail!("--dmem {o}: expected config or kv"),
    };
    let q = Query {
        config,
        node,
        weight_bits,
        weight_rom,
        dmem_kv,
    };
    let path = estimate_path(&a)?;
    let est = read_estimate(&path)?;
    let mut blocks = logic_blocks(&q, &est).with_context(|| path.display().to_string())?;
    blocks.extend(memory_blocks(&q));
    let v = to_json(&q, &blocks, &path.display().to_string());
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let total = v["total_mm2"].as_f64().unwrap_or(0.0);
    outln!(
        "Area of `{}` at TSMC {} ({} bits per weight, weights in {}, DMEM {}):",
        q.config.name,
        q.node.name.to_uppercase(),
        q.weight_bits,
        if q.weight_rom { "ROM" } else { "SRAM" },
        if q.dmem_kv {
            "KV cache only"
        } else {
            "as configured"
        }
    );
    outln!();
    outln!("| block | kind | bits | NAND2 eq. | mm² | note |");
    outln!("| --- | --- | ---: | ---: | ---: | --- |");
    for b in &blocks {
        outln!(
            "| {} | {} | {} | {} | {:.2} | {} |",
            b.name,
            b.kind,
            b.bits.map(si).unwrap_or_else(|| "-".into()),
            b.nand2.map(si).unwrap_or_else(|| "-".into()),
            b.mm2,
            b.note
        );
    }
    outln!("| **total** | | | | **{total:.1}** | |");
    outln!();
    outln!(
        "Logic {:.1} mm², SRAM {:.1} mm², ROM {:.1} mm²; about {} transistors.",
        v["logic_mm2"].as_f64().unwrap_or(0.0),
        v["sram_mm2"].as_f64().unwrap_or(0.0),
        v["rom_mm2"].as_f64().unwrap_or(0.0),
        si(v["transistors"].as_f64().unwrap_or(0.0))
    );
    let margin = RETICLE_MM2 - total;
    if margin >= 0.0 {
        outln!(
            "One reticle is {RETICLE_MM2:.0} mm²: fits, with a margin of {margin:.1} mm² \
             ({:.1} % of the reticle).",
            100.0 * margin / RETICLE_MM2
        );
    } else {
        outln!(
            "One reticle is {RETICLE_MM2:.0} mm²: does not fit, {:.1} mm² over ({:.2} \
             reticles).",
            -margin,
            total / RETICLE_MM2
        );
    }
    outln!(
        "Constants: {} MTr/mm² logic (NAND2 eq. {:.4} µm²) at {:.0} % utilisation; SRAM cell \
         {} µm², ROM cell {:.5} µm², array efficiency {:.0} %. {}",
        q.node.logic_mtr_per_mm2,
        q.node.nand2_um2(),
        100.0 * UTILIZATION,
        q.node.sram_cell_um2,
        q.node.rom_cell_um2(),
        100.0 * ARRAY_EFFICIENCY,
        q.node.source
    );
    outln!("Logic from {}.", path.display());
    outln!(
        "Not in the figures: wiring beyond the utilisation, clock and reset trees, I/O and pads, \
         power grid, scan, and memory periphery beyond the array efficiency."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n5() -> Node {
        node("n5").unwrap()
    }

    #[test]
    fn area_cell_weights_follow_transistor_counts() {
        assert_eq!(nand2_per_cell("$_NAND_"), Some(1.0));
        assert_eq!(nand2_per_cell("$_NOT_"), Some(0.5));
        assert_eq!(nand2_per_cell("$_AND_"), Some(1.5));
        assert_eq!(nand2_per_cell("$_XOR_"), Some(3.0));
        assert_eq!(nand2_per_cell("$_MUX_"), Some(3.0));
        assert_eq!(nand2_per_cell("$_DFF_P_"), Some(6.0));
        assert_eq!(nand2_per_cell("$_DFF_PN0_"), Some(7.0));
        assert_eq!(nand2_per_cell("$_DFFE_PP_"), Some(9.0));
        assert_eq!(nand2_per_cell("$_DFFE_PN0P_"), Some(10.0));
        assert_eq!(nand2_per_cell("$_SDFFE_PP0P_"), Some(10.5));
        assert_eq!(nand2_per_cell("$mem_v2"), Some(0.0));
        assert_eq!(nand2_per_cell("$_DFF_X_"), None);
        assert_eq!(nand2_per_cell("$_FOO_"), None);
        assert_eq!(nand2_per_cell("\\tile"), None);
        assert!(is_ff("$_DFFE_PN0P_") && is_ff("$_SDFF_PP0_") && !is_ff("$_MUX_"));
        // An unknown type is an error, never a silent zero.
        assert!(mix_weights([("$_NAND_", 1.0), ("$_WHAT_", 1.0)]).is_err());
    }

    #[test]
    fn area_known_cells_give_known_nand2_and_mm2() {
        // 1,000 NAND2 + 1,000 XOR + 500 enable flip-flops with reset: 1,000 + 3,000 + 5,000.
        let w = mix_weights([
            ("$_NAND_", 1000.0),
            ("$_XOR_", 1000.0),
            ("$_DFFE_PN0P_", 500.0),
            ("$mem_v2", 3.0),
        ])
        .unwrap();
        assert_eq!(
            w,
            MixWeights {
                comb: 2.0,
                ff: 10.0
            }
        );
        let nand2 = nand2_of(2500.0, 500.0, w);
        assert_eq!(nand2, 9000.0);
        // N5: 4 / 171.3 µm² per NAND2, at 70 % utilisation.
        let mm2 = logic_mm2(nand2, &n5());
        let want = 9000.0 * (4.0 / 171.3) / 0.70 * 1e-6;
        assert!((mm2 - want).abs() < 1e-15, "{mm2} {want}");
        // One million NAND2 equivalents at N5: 0.0334 mm².
        assert!((logic_mm2(1e6, &n5()) - 0.033_358).abs() < 1e-5);
    }

    #[test]
    fn area_memory_is_bits_times_cell_over_efficiency() {
        // 1 Gbit of 0.021 µm² cells: 21 mm² of cells, 30 mm² at 70 % efficiency.
        assert!((memory_mm2(1e9, 0.021) - 30.0).abs() < 1e-9);
        assert!((memory_mm2(1e9, n5().sram_cell_um2) - 30.0).abs() < 1e-9);
        // ROM cell: one poly pitch by two metal pitches.
        assert!((node("n6").unwrap().rom_cell_um2() - 0.054 * 0.080).abs() < 1e-12);
        assert!((n5().rom_cell_um2() - 0.048 * 0.060).abs() < 1e-12);
    }

    #[test]
    fn area_kv_cache_matches_the_configuration_comment() {
        // rtl/top/configs.toml: KV caches at context 4096 are 276,824,064 B.
        assert_eq!(llama_kv_bytes(4096), 276_824_064);
        assert_eq!(llama_embedding_elems(), 128_256 * 4096);
    }

    #[test]
    fn area_t1_8b_weights_at_n5() {
        let q = Query {
            config: ChipConfig::named("t1-8b").unwrap(),
            node: n5(),
            weight_bits: 8.0,
            weight_rom: false,
            dmem_kv: false,
        };
        let m = memory_blocks(&q);
        let w = &m[0];
        // 256 tiles x 28,672 words x 1,024 int8: 60.13 Gbit, x 1.125 with ECC.
        let bits = 256.0 * 28672.0 * 1024.0 * 8.0;
        assert_eq!(w.bits, Some(bits * 1.125));
        // Bit cells alone (no ECC, no periphery): ~1,263 mm².
        assert!((bits * 0.021e-6 - 1262.7).abs() < 1.0);
        assert!((w.mm2 - bits * 1.125 * 0.021e-6 / 0.7).abs() < 1e-6);
        // MXFP4 weights halve it and a bit more; ROM drops the check bits.
        let q4 = Query {
            weight_bits: 4.25,
            ..q.clone()
        };
        assert!((memory_blocks(&q4)[0].mm2 / w.mm2 - 4.25 / 8.0).abs() < 1e-12);
        let rom = Query {
            weight_rom: true,
            ..q
        };
        let r = &memory_blocks(&rom)[0];
        assert_eq!((r.kind, r.bits), ("rom", Some(bits)));
    }

    #[test]
    fn area_bad_options_are_refused() {
        for bad in ["nan", "inf", "-1", "0", "0.5", "33", "x", ""] {
            assert!(parse_weight_bits(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_weight_bits("4.25").unwrap(), 4.25);
        assert!(node("n9").is_err());
        assert_eq!(node("N6").unwrap().name, "n6");
    }
}
