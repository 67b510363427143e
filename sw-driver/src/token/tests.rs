//! The token engine's program against the golden chip mode, bit for bit, token after token.

use std::path::PathBuf;

use tessera_abi::token::{Instr, INSTR_WORDS};
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::Preset;

use super::interp::{Engine, Fault};
use super::*;
use crate::models::{small_llama, SmallShape};
use crate::program::ErrorCode;

/// Decodes `prompt` then `gen` greedy tokens one at a time on the interpreter and in the golden
/// chip mode; every token's logits must have the same bits and the same argmax. Returns the
/// tokens fed.
fn decode_bit_exact(
    model: &Llama,
    cfg: &ChipConfig,
    context: usize,
    prompt: &[u32],
    gen: usize,
) -> Vec<u32> {
    let plan = plan(cfg, model.config(), context).unwrap();
    let image = plan.image(model).unwrap();
    let mut engine = Engine::load(&plan, image);
    let mut cache = KvCache::new(model.config());
    let mut fed = Vec::new();
    let mut tok = prompt[0];
    for pos in 0..prompt.len() + gen {
        if pos < prompt.len() {
            tok = prompt[pos];
        }
        fed.push(tok);
        let golden = model
            .forward(&[tok], &mut cache, &mut GoldenEngine)
            .unwrap();
        let want: Vec<f32> = golden.row(0).to_vec();
        let out = engine.step(tok, pos as u32, true).unwrap();
        let got = out.logits.unwrap();
        assert_eq!(got.len(), want.len());
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "position {pos}, token {tok}, logit {r}: engine {g}, golden chip mode {w}"
            );
        }
        assert_eq!(out.next, tessera_golden::chip::argmax(&want));
        assert_eq!(out.instrs, plan.program.len());
        tok = out.next;
    }
    fed
}

#[test]
fn token_engine_small_models_bit_exact() {
    let tiny = ChipConfig::named("tiny").unwrap();
    let model = small_llama(&SmallShape::tiny(), 11, Precision::Chip).unwrap();
    let fed = decode_bit_exact(&model, &tiny, 32, &[3, 17, 42, 5, 9], 11);
    assert_eq!(fed.len(), 16);
    // Untied, GQA ratio 3, widths that are not multiples of KWidth, on 16 tiles (K partitions).
    let g4 = ChipConfig::named("grid4x4").unwrap();
    let shape = SmallShape {
        hidden: 48,
        intermediate: 44,
        layers: 3,
        heads: 6,
        kv_heads: 2,
        vocab: 50,
        tied: false,
    };
    let model = small_llama(&shape, 5, Precision::Chip).unwrap();
    let p = plan(&g4, model.config(), 24).unwrap();
    assert!(p.mapping.placements.iter().any(|m| m.lg_pk > 0));
    decode_bit_exact(&model, &g4, 24, &[1, 49, 0], 21);
    // Plain multi-head attention.
    let shape = SmallShape {
        kv_heads: 6,
        layers: 1,
        ..shape
    };
    let model = small_llama(&shape, 6, Precision::Chip).unwrap();
    decode_bit_exact(&model, &g4, 8, &[7, 7, 7, 7], 4);
}

fn smollm2_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TESSERA_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/smollm2-hf"));
    if dir.join("config.json").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no converted SmolLM2 folder at {} (run scripts/fetch-smollm2, or set \
             TESSERA_SMOLLM2)",
            dir.display()
        );
        None
    }
}

#[test]
fn token_engine_smollm2_bit_exact() {
    let Some(dir) = smollm2_dir() else { return };
    let model = Llama::load(&Checkpoint::open(&dir).unwrap(), Precision::Chip).unwrap();
    let sim = ChipConfig::named("sim").unwrap();
    // "<|im_start|>user\nThe capital of France is" in SmolLM2's tokenizer.
    let prompt = [1, 4093, 198, 504, 3575, 282, 4649, 314];
    let fed = decode_bit_exact(&model, &sim, 2048, &prompt, 8);
    eprintln!(
        "SmolLM2-135M on sim: {} tokens bit-exact: {fed:?}",
        fed.len()
    );
}

fn small_engine(context: usize) -> (Plan, Engine) {
    let tiny = ChipConfig::named("tiny").unwrap();
    let model = small_llama(&SmallShape::tiny(), 3, Precision::Chip).unwrap();
    let p = plan(&tiny, model.config(), context).unwrap();
    let image = p.image(&model).unwrap();
    let e = Engine::load(&p, image);
    (p, e)
}

#[test]
fn token_engine_full_kv_cache_is_an_error() {
    let (p, mut e) = small_engine(4);
    for pos in 0..4 {
        e.step(1, pos, false).unwrap();
    }
    let first_rope = p
        .program
        .iter()
        .position(|i| matches!(i, Instr::Rope { .. }))
        .unwrap();
    assert_eq!(
        e.step(1, 4, false),
        Err(Fault {
            code: ErrorCode::KvFull,
            pc: first_rope
        })
    );
    assert_eq!(
        e.step(1, u32::MAX, false).unwrap_err().code,
        ErrorCode::KvFull
    );
    // The cache is intact: the last position again gives the same token.
    let a = e.step(2, 3, true).unwrap();
    let b = e.step(2, 3, true).unwrap();
    assert_eq!(a, b);
}

#[test]
fn token_engine_illegal_programs_and_operands() {
    let (p, e0) = small_engine(8);
    let run = |edit: &dyn Fn(&mut Vec<u32>)| {
        let mut e = Engine::new(
            &e0.cfg,
            e0.limits,
            e0.program.clone(),
            e0.tiles.clone(),
            e0.dmem.clone(),
        );
        edit(&mut e.program);
        e.step(1, 0, false).map(|_| ()).unwrap_err()
    };
    let w = INSTR_WORDS;
    // Unknown opcode, reserved bits.
    assert_eq!(
        run(&|prog| prog[3 * w] = 0x7f),
        Fault {
            code: ErrorCode::Instr,
            pc: 3
        }
    );
    assert_eq!(
        run(&|prog| prog[2 * w] |= 0x100),
        Fault {
            code: ErrorCode::Instr,
            pc: 2
        }
    );
    // No END: the program runs off its end.
    let n = p.program.len();
    assert_eq!(
        run(&|prog| prog.truncate((n - 1) * w)),
        Fault {
            code: ErrorCode::ProgRange,
            pc: n - 1
        }
    );
    // Out-of-range operands.
    let at = |i: Instr, pc: usize| {
        move |prog: &mut Vec<u32>| prog[pc * w..(pc + 1) * w].copy_from_slice(&i.encode())
    };
    let vm = e0.limits.vmem_words as u32;
    assert_eq!(
        run(&at(
            Instr::Add {
                dst: vm - 1,
                a: 0,
                b: 0,
                n: 2
            },
            1
        )),
        Fault {
            code: ErrorCode::VmemRange,
            pc: 1
        }
    );
    assert_eq!(
        run(&at(Instr::Argmax { src: 0, n: 0 }, 0)),
        Fault {
            code: ErrorCode::Shape,
            pc: 0
        }
    );
    let dm = e0.limits.dmem_bytes as u32;
    assert_eq!(
        run(&at(
            Instr::RmsNorm {
                dst: 0,
                src: 0,
                gamma: dm - 4,
                n: 2,
                eps: 0
            },
            0
        )),
        Fault {
            code: ErrorCode::DmemRange,
            pc: 0
        }
    );
    assert_eq!(
        run(&at(
            Instr::Matvec {
                base: 250,
                groups: 2,
                chunks: 4,
                lg_pk: 0,
                input: 0,
                out: 0
            },
            0
        )),
        Fault {
            code: ErrorCode::WeightRange,
            pc: 0
        }
    );
    // A token past the embedding table.
    let mut e = Engine::new(
        &e0.cfg,
        e0.limits,
        e0.program.clone(),
        e0.tiles.clone(),
        e0.dmem.clone(),
    );
    assert_eq!(
        e.step(64, 0, false),
        Err(Fault {
            code: ErrorCode::Token,
            pc: 0
        })
    );
    assert!(e.step(63, 0, false).is_ok());
}

#[test]
fn token_engine_models_that_do_not_fit_name_the_memory() {
    let tiny = ChipConfig::named("tiny").unwrap();
    let big = SmallShape {
        hidden: 64,
        intermediate: 128,
        layers: 4,
        heads: 4,
        kv_heads: 2,
        vocab: 512,
        tied: true,
    };
    let e = plan(&tiny, &big.config().unwrap(), 16)
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight words per tile"), "{e}");
    let small = SmallShape::tiny().config().unwrap();
    let e = plan(&tiny, &small, 257).unwrap_err().to_string();
    assert!(e.contains("context 257") && e.contains("1 to 256"), "{e}");
    let sim = ChipConfig::named("sim").unwrap();
    let l8b = Config::from_json(&Preset::Llama31_8b.config_json(2).to_string()).unwrap();
    let e = plan(&sim, &l8b, 2048).unwrap_err().to_string();
    assert!(e.contains("weight words per tile"), "{e}");
    // Heads wider than the configuration's ATTEND takes.
    let wide = SmallShape {
        hidden: 256,
        heads: 1,
        kv_heads: 1,
        ..SmallShape::tiny()
    };
    let e = plan(&tiny, &wide.config().unwrap(), 16)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("head_dim 256") && e.contains("at most 128"),
        "{e}"
    );
}

/// The sizes the documentation quotes (`docs/architecture.md`, token engine program).
#[test]
fn token_engine_sizes_of_sim_and_t1_8b() {
    let sim = ChipConfig::named("sim").unwrap();
    let t1 = ChipConfig::named("t1-8b").unwrap();
    let l8b = |layers| Config::from_json(&Preset::Llama31_8b.config_json(layers).to_string());
    let show = |what: &str, p: &Plan| {
        let s = p.sizes;
        eprintln!(
            "{what}: weight words {}/{} per tile; DMEM constants {} B, KV cache {} B \
             ({} B per layer), of {} B; VMEM {}/{} words; program {} instructions ({} B)",
            s.weight_words,
            s.weight_words_max,
            s.const_bytes,
            s.kv_bytes,
            p.dmem.kv_layer_bytes,
            s.dmem_max,
            s.vmem_words,
            s.vmem_max,
            s.instrs,
            s.program_bytes
        );
    };
    let p = plan(&t1, &l8b(32).unwrap(), 4096).unwrap();
    show("Llama 3.1 8B on t1-8b at 4096", &p);
    assert_eq!(p.dmem.kv_layer_bytes, 4096 * 8 * (2 * 128 + 8));
    // The bfloat16 embedding table comes first, 2 bytes per value.
    assert_eq!(p.dmem.embed, 0);
    assert_eq!(p.dmem.layers[0].input_norm, 2 * 128_256 * 4096);
    assert_eq!(p.sizes.const_bytes, 1_059_853_312);
    assert_eq!(p.sizes.kv_bytes, 32 * 8_650_752);
    assert_eq!(p.sizes.instrs, 1 + 32 * 27 + 7);
    assert_eq!(p.sizes.dmem_max, 2 << 30);
    // sim's 128 MiB of DMEM no longer hold Llama 3.1 8B's bfloat16 embedding table (1 GB):
    // one 8B layer with lm_head does not compile for sim, and says by how much.
    let e = plan(&sim, &l8b(1).unwrap(), 2048).unwrap_err().to_string();
    eprintln!("one Llama 3.1 8B layer on sim at 2048: {e}");
    assert!(
        e.contains("data memory: 1052455936 bytes of constants and 4325376 bytes of KV cache")
            && e.contains("configuration `sim` has 134217728"),
        "{e}"
    );
    let smol = Config::from_json(
        r#"{"architectures":["LlamaForCausalLM"],"hidden_size":576,"intermediate_size":1536,
            "num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,
            "vocab_size":49152,"rms_norm_eps":1e-5,"rope_theta":100000.0,
            "tie_word_embeddings":true,"max_position_embeddings":8192,"hidden_act":"silu"}"#,
    )
    .unwrap();
    let p = plan(&sim, &smol, 2048).unwrap();
    show("SmolLM2-135M on sim at 2048", &p);
    assert_eq!(p.sizes.kv_bytes, 30 * 2048 * 3 * (2 * 64 + 8));
    assert_eq!(p.sizes.const_bytes, 58_106_624);
    // The whole model at context 2048 fits sim's 128 MiB.
    assert_eq!(p.dmem.bytes, 83_174_144);
    assert!(p.dmem.bytes <= sim.dmem_bytes());
}

/// Random shapes within `grid4x4`'s limits, random prompts; replay with `TESSERA_SEED`.
#[test]
fn token_engine_random_small_models_bit_exact() {
    let seed: u64 = std::env::var("TESSERA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x70_6b);
    eprintln!("token_engine_random_small_models_bit_exact: TESSERA_SEED={seed}");
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = |n: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n) as usize
    };
    let g4 = ChipConfig::named("grid4x4").unwrap();
    for case in 0..6 {
        let kv_heads = 1 + next(3);
        let ratio = [1, 2, 3, 4][next(4)];
        let heads = kv_heads * ratio;
        let head_dim = [2, 4, 8][next(3)];
        let shape = SmallShape {
            hidden: heads * head_dim,
            intermediate: 8 + next(40),
            layers: 1 + next(2),
            heads,
            kv_heads,
            vocab: 8 + next(60),
            tied: next(2) == 0,
        };
        let context = 4 + next(12);
        let prompt: Vec<u32> = (0..1 + next(3))
            .map(|_| next(shape.vocab as u64) as u32)
            .collect();
        let gen = context - prompt.len();
        eprintln!("case {case}: {shape:?}, context {context}, prompt {prompt:?}");
        let model = small_llama(&shape, seed + case, Precision::Chip).unwrap();
        decode_bit_exact(&model, &g4, context, &prompt, gen);
    }
}

#[test]
fn token_engine_stages_name_every_instruction() {
    let g4 = ChipConfig::named("grid4x4").unwrap();
    let shape = SmallShape {
        tied: false,
        ..SmallShape::tiny()
    };
    let p = plan(&g4, &shape.config().unwrap(), 16).unwrap();
    assert_eq!(p.stages.len(), p.program.len());
    assert_eq!(p.weight_macs(), shape.weights() as u64);
    // Each product's stage from the matrix it reads.
    let stage_of = |kind| match kind {
        MatrixKind::Q | MatrixKind::K | MatrixKind::V => Stage::Qkv,
        MatrixKind::O => Stage::O,
        MatrixKind::Gate | MatrixKind::Up | MatrixKind::Down => Stage::Mlp,
        MatrixKind::LmHead => Stage::LmHead,
    };
    let mut seen = std::collections::HashSet::new();
    for (pc, (i, &s)) in p.program.iter().zip(&p.stages).enumerate() {
        seen.insert(s);
        let want = match i {
            Instr::Embed { .. } | Instr::Add { .. } | Instr::End => Stage::Other,
            Instr::RmsNorm { .. } => Stage::Norm,
            Instr::Rope { .. } => Stage::Rope,
            Instr::KvAppend { .. } | Instr::Attend { .. } => Stage::Attention,
            Instr::SiluMul { .. } => Stage::Mlp,
            Instr::Logits { .. } | Instr::Argmax { .. } => Stage::LmHead,
            Instr::Matvec { base, .. } => {
                let m = p
                    .mapping
                    .placements
                    .iter()
                    .find(|m| m.base == *base as usize)
                    .unwrap();
                stage_of(m.id.kind)
            }
            // QUANT and DEQUANT belong to the product group around them.
            Instr::Quant { .. } => p.stages[pc + 1],
            Instr::Dequant { .. } => p.stages[pc - 1],
            Instr::Nop => panic!("no NOP in a compiled program"),
        };
        assert_eq!(s, want, "instruction {pc} {i:?}");
    }
    assert_eq!(seen.len(), Stage::ALL.len(), "every stage occurs");
    let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "norm",
            "qkv",
            "rope",
            "attention",
            "o",
            "mlp",
            "lm_head",
            "other"
        ]
    );
}
