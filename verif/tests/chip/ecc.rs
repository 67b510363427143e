//! SECDED ECC of the chip's memories under fault injection (docs/verification.md, "ECC"): bits
//! of the tiles' weight words and of the token engine's DMEM (the KV cache and the constants)
//! are flipped through the simulation bench (`SimTransport::flip_bit`) before and in the middle
//! of tokens of a small model on `tiny`.
//!
//! - One flipped bit per word, anywhere in the stored word (data or check bits): every token
//!   stays bit-exact with the reference interpreter, `ECC_CORRECTED` counts the corrections and
//!   no uncorrectable error is reported.
//! - Two flipped bits in one code word (a DMEM word, or one 64-bit segment of a weight word
//!   with its check byte): the chip stops with `ErrEccWeight` (a weight word) or the
//!   instruction fails with `ErrEccData` (a DMEM word), and `ECC_FAIL` / `ECC_FAIL_ADDR` name
//!   the memory and the word. Nothing passes silently.
//!
//! Seeds print and replay with `TESSERA_SEED`.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::ecc;
use tessera_abi::token::TokOp;
use tessera_abi::ErrorCode;
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::interp::Engine;
use tessera_driver::token::{plan, Image, Plan};
use tessera_driver::token_runtime::TokenRuntime;
use tessera_driver::{Device, EccMemory};
use tessera_golden::model::Precision;
use tessera_sim::chip::{dmem_bank_scope, weight_scope};
use tessera_sim::SimTransport;

use crate::env::*;

const WAIT_CYCLES: u64 = 4_000_000;

/// Stored bits of a DMEM word: 32 data bits and 7 check bits.
const DMEM_BITS: usize = 32 + ecc::check_bits(32) as usize;

struct Rig {
    rt: TokenRuntime<SimTransport>,
    plan: Plan,
    image: Image,
    engine: Engine,
    word_bytes: usize,
    banks: usize,
}

impl Rig {
    fn open(context: usize) -> Rig {
        let mut dev: Device<SimTransport> =
            tessera_sim::open_device("tiny").expect("chip model `tiny`");
        dev.timeout_cycles = WAIT_CYCLES;
        let cfg = dev.config().clone();
        let mut rt = TokenRuntime::new(dev).expect("soft reset of a fresh chip");
        rt.timeout_cycles = WAIT_CYCLES;
        let model = small_llama(&SmallShape::tiny(), 5, Precision::Chip).expect("small model");
        let plan = plan(&cfg, model.config(), context).expect("plan for tiny");
        let image = plan.image(&model).expect("images");
        rt.load(&plan, &image, LoadMode::FrontDoor)
            .expect("load the plan");
        let engine = Engine::load(&plan, image.clone());
        Rig {
            rt,
            plan,
            image,
            engine,
            word_bytes: cfg.word_bytes(),
            banks: cfg.beat_words().max(1),
        }
    }

    fn sim(&mut self) -> &mut SimTransport {
        self.rt.device().transport()
    }

    /// Flips stored bit `bit` of weight word `addr` of tile `tile`.
    fn flip_weight(&mut self, tile: usize, addr: usize, bit: usize) {
        self.sim()
            .flip_bit(&weight_scope(tile), addr, bit)
            .expect("flip a weight bit");
    }

    /// Flips stored bit `bit` of DMEM word `word`.
    fn flip_dmem(&mut self, word: usize, bit: usize) {
        let banks = self.banks;
        self.sim()
            .flip_bit(&dmem_bank_scope(word % banks), word / banks, bit)
            .expect("flip a DMEM bit");
    }

    /// Weight words the model occupies in tile `t`.
    fn weight_words(&self, t: usize) -> usize {
        self.image.tiles[t].len() / self.word_bytes
    }

    /// Stored bits of a weight word.
    fn weight_bits(&self) -> usize {
        8 * self.word_bytes + ecc::check_bits(64) as usize * (self.word_bytes / 8)
    }

    /// DMEM words of the KV caches that positions `0 ..= pos` have written (of every layer).
    fn kv_words(&self, pos: usize) -> Vec<usize> {
        let d = &self.plan.dmem;
        let mut out = Vec::new();
        for l in &d.layers {
            let base = l.kv as u64;
            // Keys and values of positions 0 ..= pos are the first bytes of each part.
            let m = self.plan.config_kv();
            let slots = (self.plan.context * m.0) as u64;
            let vals = slots * m.1 as u64;
            for part in [0, vals] {
                let end = base + part + ((pos as u64 + 1) * (m.0 * m.1) as u64);
                let (a, b) = ((base + part) / 4, end.div_ceil(4));
                out.extend(a as usize..b as usize);
            }
        }
        out
    }
}

trait KvShape {
    /// `(kv_heads, head_dim)` of the compiled model.
    fn config_kv(&self) -> (usize, usize);
}

impl KvShape for Plan {
    fn config_kv(&self) -> (usize, usize) {
        self.program
            .iter()
            .find_map(|i| match *i {
                tessera_abi::token::Instr::KvAppend {
                    kv_heads, head_dim, ..
                } => Some((kv_heads as usize, head_dim as usize)),
                _ => None,
            })
            .expect("a KV_APPEND in the program")
    }
}

#[test]
fn chip_ecc_single_flips_are_corrected_and_counted() {
    if !have_verilator() {
        return;
    }
    let test = "chip_ecc_single_flips_are_corrected_and_counted";
    let seed = seed(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let context = 6;
    let mut rig = Rig::open(context);
    let tiles = rig.image.tiles.len();
    // One flip per word at most: a second one in the same word would be a double error.
    let mut flipped_w: HashSet<(usize, usize)> = HashSet::new();
    let mut flipped_d: HashSet<usize> = HashSet::new();
    let mut tok = 1u32;
    for pos in 0..context as u32 {
        // Before the token: a weight word and, once the cache holds something, a KV word.
        for _ in 0..2 {
            let t = rng.gen_range(0..tiles);
            let a = rng.gen_range(0..rig.weight_words(t));
            if flipped_w.insert((t, a)) {
                let b = rng.gen_range(0..rig.weight_bits());
                rig.flip_weight(t, a, b);
            }
        }
        if pos > 0 {
            let kv = rig.kv_words(pos as usize - 1);
            let w = kv[rng.gen_range(0..kv.len())];
            if flipped_d.insert(w) {
                rig.flip_dmem(w, rng.gen_range(0..DMEM_BITS));
            }
        }
        // In the middle of the token: one more weight word.
        rig.rt.start_token(tok, pos, true).expect("start the token");
        rig.sim().run(rng.gen_range(50..400)).expect("run");
        let t = rng.gen_range(0..tiles);
        let a = rng.gen_range(0..rig.weight_words(t));
        if flipped_w.insert((t, a)) {
            let b = rng.gen_range(0..rig.weight_bits());
            rig.flip_weight(t, a, b);
        }
        let chip = rig
            .rt
            .finish_token(true)
            .expect("token output")
            .unwrap_or_else(|f| panic!("seed {seed}: position {pos}: {f}"));
        let want = rig.engine.step(tok, pos, true).expect("interpreter");
        assert_eq!(chip.next, want.next, "seed {seed}: position {pos}: NEXT");
        let bits = |v: &Option<Vec<f32>>| {
            v.as_ref()
                .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        };
        assert_eq!(
            bits(&chip.logits),
            bits(&want.logits),
            "seed {seed}: position {pos}: logits"
        );
        tok = chip.next;
    }
    let e = rig.rt.device().ecc().expect("ECC registers");
    eprintln!(
        "[{test}] seed {seed}: {} weight words and {} KV words with one flipped bit, \
         {context} tokens bit-exact, ECC_CORRECTED {}",
        flipped_w.len(),
        flipped_d.len(),
        e.corrected
    );
    assert!(e.corrected > 0, "seed {seed}: corrections were counted");
    assert_eq!(e.first_double, None, "seed {seed}: no uncorrectable error");
}

#[test]
fn chip_ecc_double_flips_are_detected_and_located() {
    if !have_verilator() {
        return;
    }
    let test = "chip_ecc_double_flips_are_detected_and_located";
    let seed = seed(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rig = Rig::open(4);

    // A KV word of position 0, two bits: the token at position 1 reads it in ATTEND.
    let out = rig.rt.step(3, 0, false).expect("token 0");
    assert!(out.is_ok(), "seed {seed}: a clean token runs");
    rig.engine.step(3, 0, false).expect("interpreter");
    let kv = rig.kv_words(0);
    let w = kv[rng.gen_range(0..kv.len())];
    let b0 = rng.gen_range(0..DMEM_BITS);
    let b1 = (b0 + rng.gen_range(1..DMEM_BITS)) % DMEM_BITS;
    rig.flip_dmem(w, b0);
    rig.flip_dmem(w, b1);
    let f = rig
        .rt
        .step(4, 1, false)
        .expect("token output")
        .expect_err("a double-bit DMEM error fails the token");
    assert_eq!(f.code, ErrorCode::EccData, "seed {seed}: code");
    // ATTEND reads the cached word; KV_APPEND of position 1 reads it first when position 1's
    // bytes share it (a byte is written into the word it reads).
    let op = rig.plan.program[f.pc].op();
    assert!(
        matches!(op, TokOp::Attend | TokOp::KvAppend),
        "seed {seed}: the KV word is first read by ATTEND or KV_APPEND, not {op:?} (pc {})",
        f.pc
    );
    let e = rig.rt.device().ecc().expect("ECC registers");
    let fail = e.first_double.expect("ECC_FAIL is valid");
    assert_eq!(fail.memory, EccMemory::Dmem, "seed {seed}: memory");
    assert_eq!(fail.addr as usize, w, "seed {seed}: word");

    // A weight word of tile 0 that the model uses, two bits: the product stops the chip.
    let mut rig = Rig::open(4);
    // SECDED covers each 64-bit segment on its own: both bits in one segment (its data bits and
    // its check byte), else each is a single error and is corrected.
    let a = rng.gen_range(0..rig.weight_words(0));
    let segs = rig.word_bytes / 8;
    let seg = rng.gen_range(0..segs);
    let cb = ecc::check_bits(64) as usize;
    let bit_of = |k: usize| {
        if k < 64 {
            64 * seg + k
        } else {
            64 * segs + cb * seg + (k - 64)
        }
    };
    let k0 = rng.gen_range(0..64 + cb);
    let k1 = (k0 + rng.gen_range(1..64 + cb)) % (64 + cb);
    rig.flip_weight(0, a, bit_of(k0));
    rig.flip_weight(0, a, bit_of(k1));
    let f = rig
        .rt
        .step(1, 0, false)
        .expect("token output")
        .expect_err("a double-bit weight error stops the chip");
    assert_eq!(f.code, ErrorCode::EccWeight, "seed {seed}: code");
    let e = rig.rt.device().ecc().expect("ECC registers");
    let fail = e.first_double.expect("ECC_FAIL is valid");
    assert_eq!(
        fail.memory,
        EccMemory::Weights { tile: 0 },
        "seed {seed}: memory"
    );
    assert_eq!(fail.addr as usize, a, "seed {seed}: word");
    eprintln!(
        "[{test}] seed {seed}: DMEM word {w} and weight word {a} of tile 0 detected, \
         {} single-bit corrections counted",
        e.corrected
    );
}
