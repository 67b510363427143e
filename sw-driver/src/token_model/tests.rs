//! The cycle model against counts measured in RTL (`chip_token_cycles_model` traced them on
//! `tiny` and `grid4x4`), the stage grouping of a compiled program, and the `t1-8b` projection.

use tessera_golden::model::Precision;

use super::*;
use crate::models::{small_llama, SmallShape};

fn tiny() -> ChipConfig {
    ChipConfig::named("tiny").unwrap()
}

fn at(pos: u32) -> Run {
    Run {
        pos,
        logits: false,
        trace: true,
    }
}

#[test]
fn engine_counts_equal_the_rtls_traces() {
    let cfg = tiny();
    // (instruction, POS, logits, cycles traced on tiny).
    let cases = [
        (
            Instr::Embed {
                dst: 0,
                table: 0,
                n: 32,
                rows: 64,
            },
            0,
            false,
            87,
        ),
        (
            Instr::RmsNorm {
                dst: 32,
                src: 0,
                gamma: 4096,
                n: 32,
                eps: 0x3727_c5ac,
            },
            0,
            false,
            334,
        ),
        (
            Instr::Quant {
                src: 32,
                n: 32,
                abuf: 0,
                chunks: 4,
            },
            0,
            false,
            273,
        ),
        (
            Instr::Quant {
                src: 192,
                n: 48,
                abuf: 0,
                chunks: 6,
            },
            0,
            false,
            369,
        ),
        (
            Instr::Rope {
                vec: 64,
                heads: 4,
                head_dim: 8,
                table: 0,
                context: 8,
            },
            0,
            false,
            167,
        ),
        (
            Instr::Rope {
                vec: 96,
                heads: 2,
                head_dim: 8,
                table: 0,
                context: 8,
            },
            0,
            false,
            95,
        ),
        (
            Instr::KvAppend {
                k: 96,
                v: 112,
                kv_heads: 2,
                head_dim: 8,
                cache: 0,
                context: 8,
            },
            0,
            false,
            461,
        ),
        (
            Instr::SiluMul {
                dst: 192,
                gate: 192,
                up: 240,
                n: 48,
            },
            0,
            false,
            1990,
        ),
        (
            Instr::Add {
                dst: 0,
                a: 0,
                b: 160,
                n: 32,
            },
            0,
            false,
            118,
        ),
        (Instr::Argmax { src: 288, n: 64 }, 0, false, 150),
        (Instr::Logits { src: 288, n: 64 }, 0, false, 22),
        // 64 words: 128 read states and 32 beats of two words.
        (Instr::Logits { src: 288, n: 64 }, 0, true, 182),
        // DEQUANT with results already in: one wait state.
        (
            Instr::Dequant {
                dst: 64,
                rbuf: 0,
                rows: 32,
                scales: 0,
            },
            0,
            false,
            151,
        ),
    ];
    for (i, pos, logits, want) in cases {
        assert_eq!(
            engine_cycles(&i, &cfg, pos, logits).unwrap(),
            Some(want),
            "{i:?} at {pos}"
        );
    }
    let attend = |pos| {
        let i = Instr::Attend {
            dst: 128,
            q: 64,
            heads: 4,
            kv_heads: 2,
            head_dim: 8,
            cache: 0,
            context: 8,
        };
        engine_cycles(&i, &cfg, pos, false).unwrap().unwrap()
    };
    // Traced at positions 0, 1, 2: each position adds heads·(4·head_dim + 35).
    assert_eq!([attend(0), attend(1), attend(2)], [1272, 1540, 1808]);
    assert_eq!(attend(3) - attend(2), 4 * (4 * 8 + 35));
    assert_eq!(
        engine_cycles(&Instr::Nop, &cfg, 0, false).unwrap(),
        Some(OVERHEAD)
    );
    assert_eq!(
        engine_cycles(&Instr::End, &cfg, 0, false).unwrap(),
        Some(22)
    );
    // A 32-bit stream: END's two beats (the board's stream, on single-cycle units).
    let ulx3s = ChipConfig {
        fp_stages: 0,
        ..ChipConfig::named("ulx3s").unwrap()
    };
    assert_eq!(
        engine_cycles(&Instr::End, &ulx3s, 0, false).unwrap(),
        Some(23)
    );
    let mv = Instr::Matvec {
        base: 0,
        groups: 1,
        chunks: 1,
        lg_pk: 0,
        input: 0,
        out: 0,
    };
    assert_eq!(engine_cycles(&mv, &cfg, 0, false).unwrap(), None);
}

#[test]
fn quant_pads_to_whole_chunks_two_states_a_byte() {
    let cfg = tiny();
    let q = |n, chunks| {
        engine_cycles(
            &Instr::Quant {
                src: 0,
                n,
                abuf: 0,
                chunks,
            },
            &cfg,
            0,
            false,
        )
        .unwrap()
        .unwrap()
    };
    // 18 elements in 3 chunks of 8: 6 zero bytes, 2 cycles each.
    assert_eq!(q(18, 3), OVERHEAD + requant(18) + 2 * 6);
    assert_eq!(q(18, 4) - q(18, 3), 2 * 8);
}

/// A product program as the chip tests run it: EMBED, QUANT, `m` MATVECs, their DEQUANTs.
fn products(cfg: &ChipConfig, g: u32, c: u32, lg_pk: u32, m: u32) -> Vec<Instr> {
    let (pk, pr) = (1u32 << lg_pk, (cfg.tiles() as u32) >> lg_pk);
    let n = pk * c * cfg.kwidth as u32;
    let mut p = vec![
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
            chunks: pk * c,
        },
    ];
    for k in 0..m {
        p.push(Instr::Matvec {
            base: k * g * c,
            groups: g,
            chunks: c,
            lg_pk,
            input: 0,
            out: k * pr * g,
        });
    }
    for k in 0..m {
        p.push(Instr::Dequant {
            dst: n,
            rbuf: k * pr * g,
            rows: pr * g * cfg.lanes as u32,
            scales: 0,
        });
    }
    p.push(Instr::End);
    p
}

fn product_cycles(cfg: &ChipConfig, g: u32, c: u32, lg_pk: u32, m: u32) -> Vec<f64> {
    let p = products(cfg, g, c, lg_pk, m);
    let t = token_cycles(&p, cfg, at(0), &LatencyModel::RTL).unwrap();
    t.instrs[2..p.len() - 1].iter().map(|i| i.cycles).collect()
}

#[test]
fn products_follow_the_rtls_timeline() {
    let tiny = tiny();
    let g4 = ChipConfig::named("grid4x4").unwrap();
    // MATVECs, then DEQUANTs, as traced on the chips (chip_token_cycles_model).
    // One product: MATVEC 28 + P_k·C, the DEQUANT waits span + L(N) − 5 after the MATVEC
    // state starts.
    assert_eq!(product_cycles(&tiny, 8, 16, 0, 1), [44.0, 638.0]);
    assert_eq!(product_cycles(&tiny, 2, 64, 2, 1), [284.0, 107.0]);
    assert_eq!(product_cycles(&g4, 16, 4, 0, 1), [32.0, 4366.0]);
    // Compute-bound products back to back: the second waits for the tiles to issue the
    // first one's steps, its chunks do not fit the tree.
    assert_eq!(
        product_cycles(&tiny, 32, 2, 2, 3),
        [36.0, 71.0, 71.0, 585.0, 535.0, 535.0]
    );
    assert_eq!(
        product_cycles(&g4, 16, 4, 2, 3),
        [44.0, 77.0, 77.0, 1102.0, 1047.0, 1047.0]
    );
    // Gather-bound ones: the tiles are free early, the results queue one word per cycle.
    assert_eq!(
        product_cycles(&g4, 2, 16, 0, 3),
        [44.0, 44.0, 44.0, 558.0, 535.0, 535.0]
    );
    assert_eq!(
        product_cycles(&g4, 4, 4, 0, 3),
        [32.0, 32.0, 32.0, 1164.0, 1047.0, 1047.0]
    );
    // The third product's beats wait for room in the tree behind the second's (traced: 55
    // and 1187; the group's total is the same).
    assert_eq!(
        product_cycles(&tiny, 16, 5, 0, 3),
        [33.0, 33.0, 54.0, 1188.0, 1047.0, 1047.0]
    );
    // Exactness: only the MATVECs and the waiting DEQUANT are modelled.
    let p = products(&tiny, 8, 16, 0, 1);
    let t = token_cycles(&p, &tiny, at(0), &LatencyModel::RTL).unwrap();
    let flags: Vec<bool> = t.instrs.iter().map(|i| i.exact).collect();
    assert_eq!(flags, [true, true, false, false, true]);
}

#[test]
fn a_trace_beat_shortens_only_the_wait() {
    let cfg = tiny();
    let p = products(&cfg, 8, 16, 0, 1);
    let run = |trace| Run {
        pos: 0,
        logits: false,
        trace,
    };
    let traced = token_cycles(&p, &cfg, run(true), &LatencyModel::RTL).unwrap();
    let plain = token_cycles(&p, &cfg, run(false), &LatencyModel::RTL).unwrap();
    // The trace beat after the MATVEC passes while the product runs.
    assert_eq!(plain.instrs[3].cycles, traced.instrs[3].cycles + 1.0);
    assert_eq!(plain.total(), traced.total() + 1.0);
}

#[test]
fn stages_follow_the_compilers_layer_order() {
    let cfg = tiny();
    let shape = SmallShape::tiny();
    let model = small_llama(&shape, 1, Precision::Chip).unwrap();
    let p = crate::token::plan(&cfg, model.config(), 8).unwrap();
    let st = stages(&p.program);
    // The compiler's own stages agree.
    let only: Vec<Stage> = st.iter().map(|s| s.0).collect();
    assert_eq!(only, p.stages);
    let count = |s: Stage, l: Option<usize>| st.iter().filter(|x| **x == (s, l)).count();
    for l in 0..2 {
        let l = Some(l);
        assert_eq!(count(Stage::Norm, l), 2);
        assert_eq!(count(Stage::Qkv, l), 7);
        assert_eq!(count(Stage::Rope, l), 2);
        assert_eq!(count(Stage::Attention, l), 2);
        assert_eq!(count(Stage::O, l), 3);
        // gate|up (QUANT, 2 MATVEC, 2 DEQUANT), SILU_MUL, down (3).
        assert_eq!(count(Stage::Mlp, l), 9);
        assert_eq!(count(Stage::Other, l), 2);
    }
    // EMBED before the layers; the final norm, lm_head, LOGITS, ARGMAX, END after.
    assert_eq!(st[0], (Stage::Other, None));
    assert_eq!(count(Stage::Norm, None), 1);
    assert_eq!(count(Stage::LmHead, None), 5);
    assert_eq!(count(Stage::Other, None), 2);
    let t = token_cycles(&p.program, &cfg, at(5), &LatencyModel::RTL).unwrap();
    let whole: f64 = t.stages().iter().map(|s| s.1).sum();
    assert_eq!(whole, t.total());
    assert_eq!(t.instrs.len(), p.program.len());
    // Both layers alike but for nothing: same shapes, same position.
    assert_eq!(t.layer_stages(0), t.layer_stages(1));
}

#[test]
fn llama_8b_on_t1_8b_is_bound_by_the_scalar_engine() {
    let p = llama31_8b_on_t1_8b(2e9).unwrap();
    assert_eq!(p.config, "t1-8b");
    assert_eq!((p.layers, p.instrs), (32, 872));
    assert_eq!(p.by_context.len(), 2);
    let (c1, c4) = (&p.by_context[0], &p.by_context[1]);
    assert_eq!(
        (c1.context, c1.pos, c4.context, c4.pos),
        (1024, 1023, 4096, 4095)
    );
    for c in [c1, c4] {
        assert_eq!(c.tokens_per_s, 2e9 / c.cycles_per_token);
        assert_eq!(c.tokens_per_s_1ghz, 1e9 / c.cycles_per_token);
        let sum: f64 = c.stages.iter().map(|s| s.1).sum();
        assert!((sum - c.cycles_per_token).abs() < 1e-6 * sum);
        let layer: f64 = c.layer_stages.iter().map(|s| s.1).sum();
        assert!(32.0 * layer < c.cycles_per_token);
        // Attention on the scalar datapath is most of the token; the products a sliver.
        let attn = c.stages.iter().find(|s| s.0 == Stage::Attention).unwrap().1;
        assert!(attn > 0.9 * c.cycles_per_token, "{c:?}");
        assert!(c.product_cycles < 0.01 * c.cycles_per_token, "{c:?}");
    }
    // Attention's positions: four times the context, nearly four times the token.
    let r = c4.cycles_per_token / c1.cycles_per_token;
    assert!(r > 3.5 && r < 4.0, "{r}");
    let v = p.to_json();
    assert_eq!(v["by_context"][1]["context"], 4096);
    assert_eq!(v["model_max_error"], MODEL_MAX_ERROR);
    assert!(v["stages"]["1024"]["attention"].as_f64().unwrap() > 0.0);
    for hz in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        let chip = ChipConfig::named("t1-8b").unwrap();
        let m = SmallShape::tiny().config().unwrap();
        let e = project_token(&chip, &m, "x", &[8], hz, &LatencyModel::RTL)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be a finite number > 0"), "{e}");
    }
}

#[test]
fn an_engine_with_registered_units_is_refused_not_mispredicted() {
    // `ulx3s` registers the middle of its units (FpStages 1): the model does not count that
    // engine, so every entry point says so.
    let ulx3s = ChipConfig::named("ulx3s").unwrap();
    assert_eq!(ulx3s.fp_stages, 1);
    let e = modelled(&ulx3s).unwrap_err().to_string();
    assert!(e.contains("FpStages 1") && e.contains("ulx3s"), "{e}");
    assert!(engine_cycles(&Instr::Nop, &ulx3s, 0, false).is_err());
    let run = Run {
        pos: 0,
        logits: false,
        trace: false,
    };
    assert!(token_cycles(&[Instr::End], &ulx3s, run, &LatencyModel::RTL).is_err());
    assert!(llama31_8b_on(&ulx3s, 25e6).is_err());
    assert!(modelled(&tiny()).is_ok());
}
