//! The whole-token cycle model (`tessera_driver::token_model`) against tokens traced in RTL:
//! with the TOKEN trace flag the engine reports the cycles of every instruction it runs
//! (`TokenRuntime::step_traced`), and each is compared with the model's count for the same
//! instruction, configuration and position.
//!
//! Two kinds of token per configuration:
//! - product programs: EMBED, QUANT, one to three MATVECs of one shape, their DEQUANTs, END,
//!   for shapes from one chunk to hundreds of cycles of products, `P_k` from 1 to `N`, so the
//!   products model is checked where the engine waits for it;
//! - a small Llama compiled for the chip (widths that are not multiples of `KWidth`, GQA),
//!   decoded from position 0 to the end of its context, each token also equal to the
//!   reference interpreter's.
//!
//! Checks: every instruction the model counts exactly (all but MATVEC and a DEQUANT that waits
//! for results) equal to the cycle; every MATVEC, waiting DEQUANT and product group within the
//! products model's tolerance ([`PRODUCT_TOLERANCE`]); every token's cycles within 5 % and
//! within [`MODEL_MAX_ERROR`], the figure the `t1-8b` projection states.
//!
//! `chip_token_cycles_model` runs `tiny` and `grid4x4` in the quick set;
//! `chip_token_cycles_calibration` (ignored: the 64- and 256-tile models take many minutes to
//! build) runs all four grids of the latency calibration and prints the table of
//! `docs/architecture.md`:
//!
//!     cargo test --release -p tessera-verif --test chip -- --ignored --nocapture chip_token_cycles

use tessera_abi::token::{encode_program, Instr, TokOp};
use tessera_abi::ChipConfig;
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::projection::LatencyModel;
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::interp::{Engine, Fault, TokenOut};
use tessera_driver::token::plan;
use tessera_driver::token_model::{
    token_cycles, Run, TokenCycles, MODEL_MAX_ERROR, PRODUCT_TOLERANCE,
};
use tessera_driver::token_runtime::{TokenRuntime, TracedToken};
use tessera_golden::model::Precision;
use tessera_sim::SimTransport;

use crate::env::*;

/// Cycle budget of any one wait.
const WAIT_CYCLES: u64 = 4_000_000;

/// The bound on a token's error (docs/architecture.md, "Cycle model of the whole token").
const TOKEN_TOLERANCE: f64 = 0.05;

/// One traced token beside the model.
struct Row {
    config: String,
    tiles: usize,
    what: String,
    pos: u32,
    /// Instructions traced (END excluded).
    instrs: usize,
    measured: u64,
    model: f64,
    /// Instructions the model counts exactly, and how many of them matched.
    exact: (usize, usize),
    /// Largest relative error of a MATVEC, a waiting DEQUANT, a product group.
    product_err: f64,
}

impl Row {
    fn err(&self) -> f64 {
        (self.model - self.measured as f64) / self.measured as f64
    }
}

/// Compares one traced token with the model; panics with the instruction on an exact
/// mismatch or a product past its tolerance.
fn compare(cfg: &ChipConfig, program: &[Instr], tr: &TracedToken, run: Run, what: &str) -> Row {
    let m: TokenCycles = token_cycles(program, cfg, run, &LatencyModel::RTL).unwrap();
    let end = program.iter().position(|i| *i == Instr::End).unwrap();
    assert_eq!(
        tr.cycles.len(),
        end,
        "{what}: one trace beat per instruction but END"
    );
    let mut exact = (0, 0);
    let mut product_err: f64 = 0.0;
    let rel = |model: f64, got: u64| (model - got as f64).abs() / got as f64;
    // Product groups: from a QUANT's first MATVEC to the DEQUANT after the last one.
    let mut group: Option<(f64, u64)> = None;
    for (pc, (&got, mi)) in tr.cycles.iter().zip(&m.instrs).enumerate() {
        let (i, got) = (&program[pc], u64::from(got));
        if mi.exact {
            exact.0 += 1;
            assert_eq!(
                got as f64, mi.cycles,
                "{what}: instruction {pc} {i:?}: measured (left) against the model (right)"
            );
            exact.1 += 1;
        } else {
            let e = rel(mi.cycles, got);
            product_err = product_err.max(e);
            assert!(
                e <= PRODUCT_TOLERANCE,
                "{what}: instruction {pc} {i:?}: {got} cycles measured, {} modelled ({:.1} %)",
                mi.cycles,
                100.0 * e
            );
        }
        match mi.op {
            TokOp::Matvec => {
                let g = group.get_or_insert((0.0, 0));
                g.0 += mi.cycles;
                g.1 += got;
            }
            TokOp::Dequant => {
                if let Some((model, measured)) = group.take() {
                    let e = rel(model + mi.cycles, measured + got);
                    product_err = product_err.max(e);
                    assert!(
                        e <= PRODUCT_TOLERANCE,
                        "{what}: the product group ending at {pc}: {} measured, {} modelled",
                        measured + got,
                        model + mi.cycles
                    );
                }
            }
            _ => {}
        }
    }
    let measured: u64 = tr.cycles.iter().map(|&c| u64::from(c)).sum();
    let model: f64 = m.instrs[..end].iter().map(|i| i.cycles).sum();
    Row {
        config: cfg.name.clone(),
        tiles: cfg.tiles(),
        what: what.to_string(),
        pos: run.pos,
        instrs: end,
        measured,
        model,
        exact,
        product_err,
    }
}

/// (G, C, log2 P_k, products) of the product programs legal on `cfg`: short and long
/// products, compute- and gather-bound, one product or three back to back.
fn product_shapes(cfg: &ChipConfig) -> Vec<(usize, usize, u32, usize)> {
    let mut v = Vec::new();
    for (g, c) in [
        (1, 1),
        (2, 16),
        (4, 4),
        (8, 16),
        (2, 64),
        (16, 4),
        (16, 5),
        (32, 2),
    ] {
        for lg_pk in [0, 2, cfg.lg_tiles()] {
            for m in [1, 3] {
                let pk = 1usize << lg_pk;
                let pr = cfg.tiles() / pk;
                if m * g * c <= cfg.weight_words
                    && c <= cfg.act_words
                    && pk * c <= cfg.abuf_words
                    && m * pr * g <= cfg.rbuf_words
                    && !v.contains(&(g, c, lg_pk, m))
                {
                    v.push((g, c, lg_pk, m));
                }
            }
        }
    }
    v
}

/// Runs the product programs on `rt`: a bfloat16 row in DMEM feeds EMBED, so QUANT sees a
/// nonzero vector as in a forward pass.
fn product_rows(rt: &mut TokenRuntime<SimTransport>, rows: &mut Vec<Row>) {
    let cfg = rt.config().clone();
    let n_max = cfg.abuf_words * cfg.kwidth;
    let table: Vec<u8> = (0..n_max)
        .flat_map(|i| (0x3f80u16 + (i % 97) as u16).to_le_bytes())
        .collect();
    rt.load_dmem(0, &table).expect("the EMBED row");
    let vmem = tessera_abi::token::EngineLimits::for_config(&cfg).vmem_words;
    for (g, c, lg_pk, m) in product_shapes(&cfg) {
        let (pk, pr) = (1usize << lg_pk, cfg.tiles() >> lg_pk);
        let n = (pk * c * cfg.kwidth) as u32;
        let mut prog = vec![
            Instr::Embed {
                dst: 0,
                table: 0,
                n,
                rows: 1,
            },
            Instr::Quant {
                src: 0,
                n,
                abuf: 0,
                chunks: (pk * c) as u32,
            },
        ];
        for k in 0..m {
            prog.push(Instr::Matvec {
                base: (k * g * c) as u32,
                groups: g as u32,
                chunks: c as u32,
                lg_pk,
                input: 0,
                out: (k * pr * g) as u32,
            });
        }
        let out_rows = (pr * g * cfg.lanes).min(vmem - n as usize) as u32;
        for k in 0..m {
            prog.push(Instr::Dequant {
                dst: n,
                rbuf: (k * pr * g) as u32,
                rows: out_rows,
                scales: 0,
            });
        }
        prog.push(Instr::End);
        rt.load_program(&encode_program(&prog))
            .expect("load a product program");
        let what = format!("{m}x G{g} C{c} Pk{pk}");
        let tr = rt
            .step_traced(0, 0, false)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|f| panic!("{what}: {f}"));
        let run = Run {
            pos: 0,
            logits: false,
            trace: true,
        };
        rows.push(compare(&cfg, &prog, &tr, run, &what));
    }
}

/// The small model of a configuration: a hidden width of 18 and an FFN of 20 (not multiples
/// of `KWidth`, so QUANT pads), three query heads on one KV head, two layers.
fn model_shape() -> SmallShape {
    SmallShape {
        hidden: 18,
        intermediate: 20,
        layers: 2,
        heads: 3,
        kv_heads: 1,
        vocab: 40,
        tied: false,
    }
}

type Bits = Result<(u32, usize, Option<Vec<u32>>), Fault>;

/// A token's outcome with the logits as bit patterns.
fn bits(r: &Result<TokenOut, Fault>) -> Bits {
    r.as_ref().map_err(|f| *f).map(|o| {
        let l = o
            .logits
            .as_ref()
            .map(|v| v.iter().map(|x| x.to_bits()).collect());
        (o.next, o.instrs, l)
    })
}

/// Decodes the small model over its whole context with traced tokens (logits on every third),
/// each equal to the interpreter's.
fn model_rows(rt: &mut TokenRuntime<SimTransport>, context: usize, rows: &mut Vec<Row>) {
    let cfg = rt.config().clone();
    let shape = model_shape();
    let model = small_llama(&shape, 11, Precision::Chip).expect("small model");
    let p = plan(&cfg, model.config(), context)
        .unwrap_or_else(|e| panic!("the small model on `{}`: {e}", cfg.name));
    let image = p.image(&model).expect("images");
    rt.load(&p, &image, LoadMode::Backdoor)
        .expect("load the small model");
    let mut engine = Engine::load(&p, image);
    let mut tok = 1u32;
    for pos in 0..context as u32 {
        let logits = pos % 3 == 0;
        let what = format!("small Llama, position {pos}");
        let tr = rt
            .step_traced(tok, pos, logits)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|f| panic!("{what}: {f}"));
        let want = engine.step(tok, pos, logits);
        assert_eq!(
            bits(&Ok(tr.out.clone())),
            bits(&want),
            "{what}: chip (left) against the interpreter (right)"
        );
        tok = tr.out.next;
        let run = Run {
            pos,
            logits,
            trace: true,
        };
        rows.push(compare(&cfg, &p.program, &tr, run, "small Llama"));
    }
}

/// Every check on configuration `name`; returns its rows.
fn measure(name: &str, context: usize) -> Vec<Row> {
    let mut dev = tessera_sim::open_device(name).unwrap_or_else(|e| panic!("`{name}`: {e}"));
    dev.timeout_cycles = WAIT_CYCLES;
    let mut rt = TokenRuntime::new(dev).expect("soft reset of a fresh chip");
    rt.timeout_cycles = WAIT_CYCLES;
    let mut rows = Vec::new();
    product_rows(&mut rt, &mut rows);
    model_rows(&mut rt, context, &mut rows);
    let stray = rt.device().drain_output().expect("drain");
    assert_eq!(stray, 0, "`{name}`: output beats nobody asked for");
    rows
}

/// Prints the rows (product programs one per shape, the model's tokens at their positions)
/// and returns the largest whole-token error.
fn print_rows(rows: &[Row]) -> f64 {
    println!(
        "{:<10} {:>5} {:<24} {:>4} {:>6} | {:>9} {:>11} {:>8} | {:>9} {:>9}",
        "config",
        "tiles",
        "token",
        "POS",
        "instrs",
        "measured",
        "model",
        "err %",
        "exact",
        "prod err%"
    );
    let mut worst: f64 = 0.0;
    for r in rows {
        worst = worst.max(r.err().abs());
        println!(
            "{:<10} {:>5} {:<24} {:>4} {:>6} | {:>9} {:>11.0} {:>8.3} | {:>4}/{:<4} {:>9.2}",
            r.config,
            r.tiles,
            r.what,
            r.pos,
            r.instrs,
            r.measured,
            r.model,
            100.0 * r.err(),
            r.exact.1,
            r.exact.0,
            100.0 * r.product_err
        );
    }
    println!("largest whole-token error: {:.4} %", 100.0 * worst);
    worst
}

fn check(rows: &[Row]) {
    let worst = print_rows(rows);
    assert!(
        worst <= TOKEN_TOLERANCE,
        "a token is off by {:.2} % (bound {} %)",
        100.0 * worst,
        100.0 * TOKEN_TOLERANCE
    );
    assert!(
        worst <= MODEL_MAX_ERROR,
        "a token is off by {:.4} %, more than the {:.4} % the projection states \
         (token_model::MODEL_MAX_ERROR)",
        100.0 * worst,
        100.0 * MODEL_MAX_ERROR
    );
}

#[test]
fn chip_token_cycles_model() {
    if !have_verilator() {
        return;
    }
    let mut rows = Vec::new();
    for name in ["tiny", "grid4x4"] {
        rows.extend(measure(name, 6));
    }
    check(&rows);
}

#[test]
#[ignore = "calibration: builds chip models of 64 and 256 tiles"]
fn chip_token_cycles_calibration() {
    if !have_verilator() {
        return;
    }
    let mut rows = Vec::new();
    for name in ["tiny", "grid4x4", "grid8x8", "grid16x16"] {
        rows.extend(measure(name, 12));
    }
    check(&rows);
}
