//! Cycle model of a whole token on the token engine (`rtl/tok/tok_engine.sv`): the cycles of
//! every instruction of a program as a function of its operands, the chip configuration and
//! `POS`, and the token's cycles as their sum (`docs/architecture.md`, "Cycle model of the
//! whole token").
//!
//! Everything the engine does on its own is deterministic and counted exactly from its state
//! machine: the fetch (eight program words, two cycles each), decode, ATTEND's 32-step divider,
//! the three check products, the check, the body of each opcode one state per cycle, the step
//! to the next instruction; the sequenced units take a fixed number of cycles per request
//! (`vec_fp_divsqrt`: 28 for a division, 55 for 1/√x; `vec_fn`: 22 for exp, 37 for SiLU), one
//! more in the engine's state that sees the result. What the engine waits for is the tile
//! array: a MATVEC instruction ends once the command processor has sent its chunks, and the
//! first DEQUANT after a product group waits until every result is in the result buffer. Those
//! two come from the products model of [`crate::projection`] (span and grid latency), placed
//! on a timeline of the token so that products overlap the engine's own work as in the RTL.
//!
//! Data-dependent exceptions (the model takes the common case): a zero vector skips QUANT's
//! and KV_APPEND's two scale divisions (57 cycles fewer per vector) and RMSNORM's second pass;
//! an exp argument below −104 or above 89 and a SiLU input below −89 take the units' short
//! paths. None of them occurs in a forward pass of a trained or randomly initialised model.

use serde_json::{json, Value};
use tessera_abi::token::{Instr, TokOp};
use tessera_golden::config::Config as ModelConfig;

use crate::config::ChipConfig;
use crate::error::{Error, Result};
use crate::projection::LatencyModel;
pub use crate::token::Stage;

/// Relative error of a product the products model allows (`chip_latency_model` checks it on
/// descriptors; `chip_token_cycles_model` on the engine's MATVECs, the DEQUANTs that wait for
/// them and each product group).
pub const PRODUCT_TOLERANCE: f64 = 0.05;

/// The largest relative error of the model's whole-token cycles against every token traced
/// in RTL by `chip_token_cycles_calibration` (`tiny`, `grid4x4`, `grid8x8`, `grid16x16`: 94
/// product programs and a small Llama at 12 positions on each grid, 142 tokens): none, every
/// token equal to the cycle. The chip tests fail above it.
pub const MODEL_MAX_ERROR: f64 = 0.0;

/// Fetch: eight program words, one read and one write state each.
pub const FETCH: u64 = 16;
/// Decode, the three products of the range checks, the check.
pub const DECODE_CHECK: u64 = 1 + 3 + 1;
/// The state after an instruction's body (`TokNext`).
pub const NEXT: u64 = 1;
/// Every instruction's fixed cycles: fetch, decode, products, check, next.
pub const OVERHEAD: u64 = FETCH + DECODE_CHECK + NEXT;
/// ATTEND's `heads / kv_heads`: a 32-step restoring divider.
pub const HEADS_DIV: u64 = 32;
/// Cycles of the engine state that requests a division and takes its result.
pub const DIV: u64 = 29;
/// The same for 1/√x (a square root, then a division).
pub const RSQRT: u64 = 56;
/// The same for exp.
pub const EXP: u64 = 23;
/// The same for SiLU (exp, 1 + e, the reciprocal, the product).
pub const SILU: u64 = 38;
/// The requantization of one vector of `n`: max |x| (two states per element), the two scale
/// divisions, the end state; then four states per element.
fn requant(n: u64) -> u64 {
    2 * n + 2 * DIV + 1 + 4 * n
}

/// Whether the model describes the token engine of `cfg`: it counts the engine whose
/// arithmetic units take one cycle (`FpStages` 0). With `FpStages` 1 (`ulx3s`) a state that
/// takes a unit's result runs two cycles and `vec_fn` takes two per step, which the model does
/// not count: an [`Error::UnsupportedConfig`] rather than wrong figures.
pub fn modelled(cfg: &ChipConfig) -> Result<()> {
    if cfg.fp_stages != 0 {
        return Err(Error::UnsupportedConfig(format!(
            "the token cycle model counts an engine with single-cycle arithmetic units \
             (FpStages 0); configuration `{}` has FpStages {}",
            cfg.name, cfg.fp_stages
        )));
    }
    Ok(())
}

/// The exact cycles of an instruction that does not wait for the tile array (every opcode but
/// MATVEC; DEQUANT without its wait for results, which [`token_cycles`] adds), at position
/// `pos`, with the logits sent when `logits` (LOGITS sends `ceil(n / (StreamWidth/32))` beats,
/// one cycle each on a stream that is ready). END counts its final beat; an instruction's trace
/// beat is not counted. `None` for MATVEC; an error for an engine the model does not describe
/// ([`modelled`]).
pub fn engine_cycles(i: &Instr, cfg: &ChipConfig, pos: u32, logits: bool) -> Result<Option<u64>> {
    modelled(cfg)?;
    let pos = u64::from(pos);
    let c = match *i {
        Instr::Nop => OVERHEAD,
        // The final beat (two on a 32-bit stream); no step to a next instruction.
        Instr::End => FETCH + DECODE_CHECK + if cfg.beat_words() == 1 { 2 } else { 1 },
        // The row address, then a DMEM read and a VMEM write per element.
        Instr::Embed { n, .. } => OVERHEAD + 1 + 2 * u64::from(n),
        // Largest exponent (2 per element), shifted squares (2), to binary32 (1), n (1), the
        // division, + eps (1), 1/√x, then 3 per element.
        Instr::RmsNorm { n, .. } => {
            let n = u64::from(n);
            OVERHEAD + 2 * n + 2 * n + 2 + DIV + 1 + RSQRT + 3 * n
        }
        // The requantization, padded with zeros (2 states each) to whole chunks.
        Instr::Quant { n, chunks, .. } => {
            let (n, lim) = (u64::from(n), u64::from(chunks) * cfg.kwidth as u64);
            OVERHEAD + requant(n) + 2 * lim.saturating_sub(n)
        }
        Instr::Matvec { .. } => return Ok(None),
        // Without the wait: the wait state once, then 4 per row.
        Instr::Dequant { rows, .. } => OVERHEAD + 1 + 4 * u64::from(rows),
        // The table row address, then 9 per pair of elements.
        Instr::Rope {
            heads, head_dim, ..
        } => OVERHEAD + 1 + 9 * u64::from(heads) * u64::from(head_dim / 2),
        // Three address products; per K and V head: set-up, requantization, the scale.
        Instr::KvAppend {
            kv_heads, head_dim, ..
        } => OVERHEAD + 3 + 2 * u64::from(kv_heads) * (1 + requant(u64::from(head_dim)) + 1),
        Instr::Attend {
            heads, head_dim, ..
        } => {
            let (h, d, p) = (u64::from(heads), u64::from(head_dim), pos + 1);
            // Per head: the query's requantization (set-up, requant, c); per position the
            // score (2 per element and 5), m (1), exp and the sums (27 per position); the
            // sum (1), the softmax weights' requantization without its elements (2 DIV + 1),
            // su / sum (DIV), the weights (3 per position); per element of the output two
            // int8 passes over the positions (2 per position) and 3.
            let head = 1
                + requant(d)
                + 1
                + p * (2 * d + 5)
                + 1
                + p * (EXP + 4)
                + 1
                + 2 * DIV
                + 1
                + DIV
                + 3 * p
                + d * (2 * p + 3);
            OVERHEAD + HEADS_DIV + 2 + RSQRT + h * head
        }
        // Two reads, SiLU, the product.
        Instr::SiluMul { n, .. } => OVERHEAD + u64::from(n) * (2 + SILU + 1),
        Instr::Add { n, .. } => OVERHEAD + 3 * u64::from(n),
        Instr::Argmax { n, .. } => OVERHEAD + 2 * u64::from(n),
        Instr::Logits { n, .. } if logits => {
            let beats = u64::from(n).div_ceil(cfg.beat_words().max(1) as u64);
            OVERHEAD + 2 * u64::from(n) + beats
        }
        Instr::Logits { .. } => OVERHEAD,
    };
    Ok(Some(c))
}

/// Cycles of one instruction in the model of a token.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrCycles {
    pub pc: usize,
    pub op: TokOp,
    pub stage: Stage,
    /// The decoder layer, `None` before the first and after the last.
    pub layer: Option<usize>,
    pub cycles: f64,
    /// Counted exactly from the engine's states (false: MATVEC, and the DEQUANT that waits
    /// for a product group's results).
    pub exact: bool,
}

/// The model of one token: every instruction executed, END included.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenCycles {
    pub instrs: Vec<InstrCycles>,
}

impl TokenCycles {
    /// Cycles of the whole token.
    pub fn total(&self) -> f64 {
        self.instrs.iter().fold(0.0, |a, i| a + i.cycles)
    }

    /// Cycles per stage, over the whole token, in [`Stage::ALL`] order.
    pub fn stages(&self) -> Vec<(Stage, f64)> {
        self.stages_where(|_| true)
    }

    /// Cycles per stage of decoder layer `layer`.
    pub fn layer_stages(&self, layer: usize) -> Vec<(Stage, f64)> {
        self.stages_where(|i| i.layer == Some(layer))
    }

    fn stages_where(&self, keep: impl Fn(&InstrCycles) -> bool) -> Vec<(Stage, f64)> {
        Stage::ALL
            .iter()
            .map(|&s| {
                let c = self
                    .instrs
                    .iter()
                    .filter(|i| i.stage == s && keep(i))
                    .fold(0.0, |a, i| a + i.cycles);
                (s, c)
            })
            .collect()
    }
}

/// How a token runs: its position, whether it sends logits, and whether it is traced (a trace
/// beat after every instruction but END: one more cycle between instructions, which the
/// instruction's own count leaves out but products in flight see).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub pos: u32,
    pub logits: bool,
    pub trace: bool,
}

/// Stage and layer of every instruction of a program in the compiler's layer order
/// (`docs/architecture.md`, "Layers unrolled"), read from the program alone (the compiler's
/// [`crate::token::Plan::stages`] gives the same stages, and no layers): layer `l` starts at
/// its first RMSNORM (the `2l`-th), and there are as many layers as ATTENDs; product groups
/// start at a QUANT and are, within a layer, q|k|v, o, gate|up, down; the group after the last
/// layer is `lm_head`.
pub fn stages(program: &[Instr]) -> Vec<(Stage, Option<usize>)> {
    let layers = program
        .iter()
        .filter(|i| matches!(i, Instr::Attend { .. }))
        .count();
    let (mut norms, mut groups) = (0usize, 0usize);
    let mut layer = None;
    let mut group = Stage::Other;
    let mut out = Vec::with_capacity(program.len());
    for i in program {
        let stage = match i {
            Instr::RmsNorm { .. } => {
                layer = (norms / 2 < layers).then_some(norms / 2);
                norms += 1;
                Stage::Norm
            }
            Instr::Quant { .. } => {
                group = match (layer, groups % 4) {
                    (None, _) => Stage::LmHead,
                    (_, 0) => Stage::Qkv,
                    (_, 1) => Stage::O,
                    _ => Stage::Mlp,
                };
                groups += 1;
                group
            }
            Instr::Matvec { .. } | Instr::Dequant { .. } => group,
            Instr::Rope { .. } => Stage::Rope,
            Instr::KvAppend { .. } | Instr::Attend { .. } => Stage::Attention,
            Instr::SiluMul { .. } => Stage::Mlp,
            Instr::Logits { .. } | Instr::Argmax { .. } => Stage::LmHead,
            Instr::Embed { .. } | Instr::Add { .. } | Instr::Nop | Instr::End => Stage::Other,
        };
        out.push((stage, layer));
    }
    out
}

/// Cycles of the engine's MATVEC state when the tiles take the chunks at once: the command
/// processor's decode (1), the operation beat (1), `P_k·C` chunk reads one per cycle, the
/// chunk FIFO's two stages and the cycle that sees it empty, the acknowledgement (1).
pub fn matvec_issue(lg_pk: u32, chunks: u32) -> u64 {
    MV_FIXED + (u64::from(chunks) << lg_pk)
}

/// Fixed cycles of [`matvec_issue`].
pub const MV_FIXED: u64 = 6;

/// The engine's path to a product is shorter than a descriptor's. The products model's
/// latency `L(N)` was measured on chains of MATVEC and FENCE descriptors on the 64-bit command
/// streams of the calibration grids: per product it counts the processor's idle cycle, the
/// MATVEC's four header beats and the cycle from the FENCE back to idle, where the engine's
/// request spends one cycle reaching the decoder. So the last result of a product whose
/// chunks start at once is in the result buffer `span + L(N) − 5` cycles after the engine's
/// MATVEC state starts, whatever the stream width.
pub const ENGINE_PATH_SAVES: f64 = 5.0;

/// Cycles between the tiles' last step of one product and the first of the next one queued
/// behind it.
pub const PRODUCT_GAP: f64 = 2.0;

/// Beats the multicast tree of `tiles` leaves holds: `log2 N + 1` stages of two-entry FIFOs.
/// A MATVEC whose operation beat and chunks fit goes on at once even while the tiles still run
/// the previous product.
pub fn mcast_beats(tiles: usize) -> u64 {
    2 * (u64::from(tiles.max(1).ilog2()) + 1)
}

/// Cycles from the moment the tiles take a product whose beats wait in the multicast tree to
/// the end of the next MATVEC state, when that one's beats needed the room they held, less
/// the beats they had to free (fitted: the tree frees room one beat per cycle, a level per
/// cycle up from the leaves).
pub const QUEUE_DRAIN: f64 = 12.0;

/// Cycles the tiles spend issuing a product's steps: `G·C` each, the last K-partition's
/// tile starting `(P_k − 1)·C` after the first. A tile takes the next product once it has
/// issued its last step, while its results still drain.
pub fn tile_issue(lg_pk: u32, groups: u32, chunks: u32) -> f64 {
    ((u64::from(groups) + (1u64 << lg_pk) - 1) * u64::from(chunks)) as f64
}

/// The products of a token on the tile array, in the order the engine issues them.
#[derive(Clone, Copy, Debug, Default)]
struct Products {
    /// When the tiles took the last product issued.
    start: f64,
    /// The cycles they need to issue its steps ([`tile_issue`]).
    issue: f64,
    /// First cycle at which every result issued so far is in the result buffer.
    done: f64,
    /// Beats of the last product that wait in the multicast tree for the tiles from `start`
    /// on (0 when they went straight in).
    queued: u64,
}

impl Products {
    /// A MATVEC whose engine state starts at `s`; returns the cycles of that state.
    fn issue(
        &mut self,
        s: f64,
        tiles: usize,
        lat: &LatencyModel,
        lg_pk: u32,
        g: u32,
        c: u32,
    ) -> f64 {
        let pk = 1usize << lg_pk;
        let pr = (tiles / pk).max(1) as f64;
        let span = LatencyModel::span(tiles, pk, g as usize, c as usize);
        let beats = (u64::from(c) << lg_pk) + 1;
        let start = s.max(self.start + self.issue + PRODUCT_GAP);
        let state = matvec_issue(lg_pk, c) as f64;
        let tree = mcast_beats(tiles);
        // Beats that fit the tree leave the engine at once, once the previous product's
        // beats that still wait there make room; the others wait for the tiles.
        let cycles = if beats <= tree {
            let room = self.queued + beats;
            let after = if room > tree {
                self.start + (room - tree) as f64 + QUEUE_DRAIN - s
            } else {
                0.0
            };
            state.max(after)
        } else {
            start - s + state
        };
        self.done = (start + span + lat.grid_latency(tiles) - ENGINE_PATH_SAVES)
            .max(self.done + pr * f64::from(g));
        self.queued = if beats <= tree && start > s { beats } else { 0 };
        self.start = start;
        self.issue = tile_issue(lg_pk, g, c);
        cycles
    }
}

/// The model of a token: the program from instruction 0 to the first END (as the engine runs
/// it), on chip `cfg` with products priced by `lat`.
///
/// Products run on a timeline beside the engine. The tiles take a product when its MATVEC
/// state starts, or [`PRODUCT_GAP`] after they have issued the previous product's steps
/// ([`tile_issue`]) if that is later. Its MATVEC ends once its operation beat and chunks are
/// in the multicast tree: at once when they fit it ([`mcast_beats`]), else as the tiles take
/// them. Its last result is in the result buffer its span and the grid's latency (less
/// [`ENGINE_PATH_SAVES`]) after the tiles took it, and not before the previous product's
/// results and its own `P_r·G` words, one per cycle. The first DEQUANT after a group waits
/// for that.
pub fn token_cycles(
    program: &[Instr],
    cfg: &ChipConfig,
    run: Run,
    lat: &LatencyModel,
) -> Result<TokenCycles> {
    modelled(cfg)?;
    let tiles = cfg.tiles();
    let stages = stages(program);
    let gap = u64::from(run.trace) as f64;
    let head = (FETCH + DECODE_CHECK) as f64;
    let mut t = 0.0f64; // start of the instruction's fetch
    let mut prod = Products::default();
    let mut instrs = Vec::new();
    for (pc, i) in program.iter().enumerate() {
        let (stage, layer) = stages[pc];
        let (cycles, exact) = match *i {
            Instr::Matvec {
                groups,
                chunks,
                lg_pk,
                ..
            } => {
                let state = prod.issue(t + head, tiles, lat, lg_pk, groups, chunks);
                (head + state + NEXT as f64, false)
            }
            Instr::Dequant { .. } => {
                let base = engine_cycles(i, cfg, run.pos, run.logits)?.unwrap_or(0) as f64;
                let wait = (prod.done - (t + head)).max(0.0);
                (base + wait, wait == 0.0)
            }
            _ => (
                engine_cycles(i, cfg, run.pos, run.logits)?.unwrap_or(0) as f64,
                true,
            ),
        };
        instrs.push(InstrCycles {
            pc,
            op: i.op(),
            stage,
            layer,
            cycles,
            exact,
        });
        if i.op() == TokOp::End {
            break;
        }
        t += cycles + gap;
    }
    Ok(TokenCycles { instrs })
}

/// The whole token at one context: the last token of a full context (`POS = context − 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContextPoint {
    pub context: usize,
    pub pos: u32,
    pub cycles_per_token: f64,
    /// At the projection's clock.
    pub tokens_per_s: f64,
    /// At 1 GHz.
    pub tokens_per_s_1ghz: f64,
    /// Cycles per stage of the whole token, [`Stage::ALL`] order.
    pub stages: Vec<(Stage, f64)>,
    /// Cycles per stage of one decoder layer (the first), [`Stage::ALL`] order.
    pub layer_stages: Vec<(Stage, f64)>,
    /// Cycles of the MATVEC instructions and of the DEQUANTs' waits for results.
    pub product_cycles: f64,
}

/// The whole-token projection of a model on a configuration: the program the compiler makes
/// for it, priced by [`token_cycles`] at the last position of each context.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenProjection {
    pub config: String,
    pub model: String,
    pub layers: usize,
    pub instrs: usize,
    pub clock_hz: f64,
    pub by_context: Vec<ContextPoint>,
    /// [`MODEL_MAX_ERROR`]: the model's largest error against the RTL.
    pub model_max_error: f64,
}

/// Projects `model` (named `name` in the output) on `chip` at `clock_hz` for each context of
/// `contexts`: compiles it ([`crate::token::plan`], which checks it fits), then models one
/// token at `POS = context − 1` without logits or trace.
pub fn project_token(
    chip: &ChipConfig,
    model: &ModelConfig,
    name: &str,
    contexts: &[usize],
    clock_hz: f64,
    lat: &LatencyModel,
) -> Result<TokenProjection> {
    if !(clock_hz.is_finite() && clock_hz > 0.0) {
        return Err(Error::Config(format!(
            "clock {clock_hz} Hz: must be a finite number > 0"
        )));
    }
    modelled(chip)?;
    let mut by_context = Vec::new();
    let mut instrs = 0;
    for &context in contexts {
        let plan = crate::token::plan(chip, model, context)?;
        instrs = plan.program.len();
        let pos = u32::try_from(context.saturating_sub(1))
            .map_err(|_| Error::Config(format!("context {context}: past 2^32 positions")))?;
        let run = Run {
            pos,
            logits: false,
            trace: false,
        };
        let m = token_cycles(&plan.program, chip, run, lat)?;
        let cycles = m.total();
        let mut product_cycles = 0.0;
        for i in &m.instrs {
            product_cycles += match i.op {
                TokOp::Matvec => i.cycles,
                TokOp::Dequant => {
                    let at = &plan.program[i.pc];
                    i.cycles - engine_cycles(at, chip, pos, false)?.unwrap_or(0) as f64
                }
                _ => 0.0,
            };
        }
        by_context.push(ContextPoint {
            context,
            pos,
            cycles_per_token: cycles,
            tokens_per_s: clock_hz / cycles,
            tokens_per_s_1ghz: 1e9 / cycles,
            stages: m.stages(),
            layer_stages: m.layer_stages(0),
            product_cycles,
        });
    }
    Ok(TokenProjection {
        config: chip.name.clone(),
        model: name.to_string(),
        layers: model.num_hidden_layers,
        instrs,
        clock_hz,
        by_context,
        model_max_error: MODEL_MAX_ERROR,
    })
}

/// Contexts of the `t1-8b` projection.
pub const PROJECTED_CONTEXTS: [usize; 2] = [1024, 4096];

/// The whole-token projection of Llama 3.1 8B on `t1-8b` at contexts 1,024 and 4,096, at
/// `clock_hz` (what `tessera run --json` and `tessera report --json` print under
/// `"projection"` and `"token_projection"`; [`TokenProjection::to_json`]).
pub fn llama31_8b_on_t1_8b(clock_hz: f64) -> Result<TokenProjection> {
    llama31_8b_on(&ChipConfig::named("t1-8b")?, clock_hz)
}

/// The whole-token projection of Llama 3.1 8B (32 layers) on `chip` at contexts 1,024 and
/// 4,096 ([`PROJECTED_CONTEXTS`]), at `clock_hz`; an error when the model or a context does
/// not fit `chip`.
pub fn llama31_8b_on(chip: &ChipConfig, clock_hz: f64) -> Result<TokenProjection> {
    let json = tessera_golden::synth::Preset::Llama31_8b
        .config_json(32)
        .to_string();
    let model = ModelConfig::from_json(&json)
        .map_err(|e| Error::Config(format!("Llama 3.1 8B config: {e}")))?;
    project_token(
        chip,
        &model,
        "Llama 3.1 8B",
        &PROJECTED_CONTEXTS,
        clock_hz,
        &LatencyModel::RTL,
    )
}

fn stage_map(stages: &[(Stage, f64)]) -> Value {
    let m: serde_json::Map<String, Value> = stages
        .iter()
        .map(|(s, c)| (s.name().to_string(), json!(c)))
        .collect();
    Value::Object(m)
}

impl TokenProjection {
    /// `{"config", "model", "layers", "instructions", "clock_hz", "by_context": [{"context",
    /// "pos", "cycles_per_token", "tokens_per_s", "tokens_per_s_at_1ghz", "product_cycles",
    /// "stages": {stage: cycles of the whole token}}], "model_max_error", "stages": {context:
    /// {stage: cycles of one layer}}}`.
    pub fn to_json(&self) -> Value {
        let layer: serde_json::Map<String, Value> = self
            .by_context
            .iter()
            .map(|p| (p.context.to_string(), stage_map(&p.layer_stages)))
            .collect();
        json!({
            "config": self.config,
            "model": self.model,
            "layers": self.layers,
            "instructions": self.instrs,
            "clock_hz": self.clock_hz,
            "by_context": self.by_context.iter().map(|p| json!({
                "context": p.context,
                "pos": p.pos,
                "cycles_per_token": p.cycles_per_token,
                "tokens_per_s": p.tokens_per_s,
                "tokens_per_s_at_1ghz": p.tokens_per_s_1ghz,
                "product_cycles": p.product_cycles,
                "stages": stage_map(&p.stages),
            })).collect::<Vec<_>>(),
            "model_max_error": self.model_max_error,
            "stages": Value::Object(layer),
        })
    }
}

#[cfg(test)]
mod tests;
