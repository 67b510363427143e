//! The token engine of `tessera_top` on `tiny` against the reference interpreter
//! (`tessera_driver::token::interp::Engine`, the engine's executable specification): random small
//! models compiled for `tiny` are loaded into the chip by the driver's `TokenRuntime` (tile
//! weights by WEIGHT_LOAD or the backdoor, program and DMEM by ENG_LOAD) and into the
//! interpreter, and every token's `NEXT`, logits bits and instruction count must agree, with and
//! without logits, the token at position 1 and one in five of the others with the trace flag
//! (its beats under the same output backpressure). Faults must agree too, code and instruction index: a full KV cache
//! (`ErrKvFull`), a token past the vocabulary (`ErrToken`), illegal instructions (`ErrInstr`)
//! and a MATVEC past the weight memory, each followed by a correct token after the soft reset;
//! every operand check of every opcode, by a sweep of each operand word over breaking values.
//! A soft reset in the middle of a token leaves the chip ready and its memories intact; ENG_LOAD
//! and TOKEN descriptors that break their checks raise the codes of `Descriptor::check_engine`.
//!
//! Every wait is bounded (`TokenRuntime::timeout_cycles`, `Device::timeout_cycles`), so a chip
//! without the engine fails with a device error or a timeout, never hangs. Seeds print and
//! replay with `TESSERA_SEED`; `TESSERA_FST=1` writes a waveform of each test's chip to
//! `target/tessera-chip-token/`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::descriptor::EngSpace;
use tessera_abi::token::{Instr, INSTR_WORDS};
use tessera_abi::{ChipConfig, Descriptor, ErrorCode};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::interp::{Engine, Fault, TokenOut};
use tessera_driver::token::{plan, Plan};
use tessera_driver::token_runtime::TokenRuntime;
use tessera_driver::{Device, SimControl, Transport};
use tessera_golden::model::Precision;
use tessera_sim::{SimTransport, StreamTiming};

use crate::env::*;

/// Cycle budget of any one wait (an output beat, an idle chip, a stream transfer): far above
/// what a token of these models takes, far below a hang.
const WAIT_CYCLES: u64 = 4_000_000;

pub(crate) type Outcome = Result<TokenOut, Fault>;

/// The chip's token engine behind the driver, and the interpreter loaded alike.
pub(crate) struct Bench {
    pub(crate) rt: TokenRuntime<SimTransport>,
    pub(crate) cfg: ChipConfig,
}

impl Bench {
    /// Starts the chip model of configuration `name` (a waveform when `TESSERA_FST` is set).
    pub(crate) fn open(name: &str, test: &str, seed: u64) -> Bench {
        let mut dev: Device<SimTransport> =
            tessera_sim::open_device(name).unwrap_or_else(|e| panic!("chip model `{name}`: {e}"));
        dev.timeout_cycles = WAIT_CYCLES;
        if std::env::var_os("TESSERA_FST").is_some() {
            let dir = std::path::Path::new(tessera_abi::rtl::SOURCE_TREE)
                .join("target/tessera-chip-token");
            std::fs::create_dir_all(&dir).expect("waveform folder");
            let path = dir.join(format!("{test}-{seed}.fst"));
            dev.transport()
                .trace(Some(&path))
                .expect("start the waveform");
            eprintln!("[{test}] waveform: {}", path.display());
        }
        let cfg = dev.config().clone();
        let mut rt = TokenRuntime::new(dev).expect("soft reset of a fresh chip");
        rt.timeout_cycles = WAIT_CYCLES;
        Bench { rt, cfg }
    }

    /// Loads `plan` with `image` into the chip (`mode`) and returns the interpreter loaded
    /// with the same.
    fn load(&mut self, p: &Plan, image: tessera_driver::token::Image, mode: LoadMode) -> Engine {
        let r = self
            .rt
            .load(p, &image, mode)
            .unwrap_or_else(|e| panic!("load of the plan into the chip: {e}"));
        eprintln!(
            "load: {:?}, {} weight bytes, {} program words, {} DMEM words, {} descriptors, \
             {} stream bytes, {:?} cycles",
            r.mode,
            r.weight_bytes,
            r.program_words,
            r.dmem_words,
            r.descriptors,
            r.stream_bytes,
            r.cycles
        );
        assert_eq!(
            r.dmem_backdoor,
            mode != LoadMode::FrontDoor,
            "DMEM by the backdoor exactly when the load mode is the backdoor"
        );
        Engine::load(p, image)
    }

    pub(crate) fn cycles(&mut self) -> u64 {
        self.rt.device().transport().cycles().expect("cycle count")
    }

    /// One token on the chip; a transport error, broken framing or a timeout fails the test.
    pub(crate) fn step(&mut self, token: u32, pos: u32, logits: bool, what: &str) -> Outcome {
        self.rt
            .step(token, pos, logits)
            .unwrap_or_else(|e| panic!("{what}: token {token} at position {pos}: {e}"))
    }

    /// Chip and interpreter run the same token; their outcomes must be identical (logits bit
    /// for bit). Returns the outcome.
    pub(crate) fn same(
        &mut self,
        engine: &mut Engine,
        token: u32,
        pos: u32,
        logits: bool,
        what: &str,
    ) -> Outcome {
        let chip = self.step(token, pos, logits, what);
        let want = engine.step(token, pos, logits);
        assert_eq!(
            bits(&chip),
            bits(&want),
            "{what}: token {token} at position {pos}, logits {logits}: chip (left) against the \
             interpreter (right)"
        );
        chip
    }

    /// As [`Self::same`], with the TOKEN trace flag: a trace beat after every instruction but
    /// END (under output backpressure its payload must hold while it waits: the stream
    /// assertions of the RTL check it), each a nonzero cycle count.
    pub(crate) fn same_traced(
        &mut self,
        engine: &mut Engine,
        token: u32,
        pos: u32,
        logits: bool,
        what: &str,
    ) -> Outcome {
        let chip = self
            .rt
            .step_traced(token, pos, logits)
            .unwrap_or_else(|e| panic!("{what}: traced token {token} at position {pos}: {e}"))
            .map(|t| {
                assert_eq!(
                    t.cycles.len() + 1,
                    t.out.instrs,
                    "{what}: a trace beat each"
                );
                assert!(t.cycles.iter().all(|&c| c > 0), "{what}: {:?}", t.cycles);
                t.out
            });
        let want = engine.step(token, pos, logits);
        assert_eq!(
            bits(&chip),
            bits(&want),
            "{what}: traced token {token} at position {pos}, logits {logits}: chip (left) \
             against the interpreter (right)"
        );
        chip
    }

    /// No error left, nothing busy, no output beat nobody asked for.
    pub(crate) fn finish(&mut self) {
        let dev = self.rt.device();
        let stray = dev.drain_output().expect("drain the output stream");
        assert_eq!(stray, 0, "output beats nobody asked for");
        dev.wait_idle()
            .expect("the chip goes idle without an error");
    }
}

type Bits = Result<(u32, usize, Option<Vec<u32>>), Fault>;

/// An outcome with the logits as bit patterns.
fn bits(r: &Outcome) -> Bits {
    r.as_ref().map_err(|f| *f).map(|o| {
        let l = o
            .logits
            .as_ref()
            .map(|v| v.iter().map(|x| x.to_bits()).collect());
        (o.next, o.instrs, l)
    })
}

/// A random small model that compiles for `cfg` at `context`: GQA ratios 1 to 4, head_dim 2
/// to 8, tied or untied, widths that are not multiples of `KWidth`.
fn random_model(rng: &mut ChaCha8Rng, cfg: &ChipConfig) -> (SmallShape, usize, Plan) {
    loop {
        let kv_heads = rng.gen_range(1..=2);
        let heads = kv_heads * [1, 2, 3, 4][rng.gen_range(0..4)];
        let head_dim = [2, 4, 8][rng.gen_range(0..3)];
        let shape = SmallShape {
            hidden: heads * head_dim,
            intermediate: rng.gen_range(8..=40),
            layers: rng.gen_range(1..=2),
            heads,
            kv_heads,
            vocab: rng.gen_range(8..=64),
            tied: rng.gen_bool(0.5),
        };
        let context = rng.gen_range(4..=10);
        let Ok(config) = shape.config() else { continue };
        if let Ok(p) = plan(cfg, &config, context) {
            return (shape, context, p);
        }
    }
}

/// The small model every fault test uses (SmallShape::tiny: 2 layers, GQA 2, vocab 64).
fn fixed_model(bench: &mut Bench, context: usize) -> (Plan, Engine, SmallShape) {
    let shape = SmallShape::tiny();
    let model = small_llama(&shape, 3, Precision::Chip).expect("small model");
    let p = plan(&bench.cfg, model.config(), context).expect("plan for tiny");
    let image = p.image(&model).expect("images");
    let engine = bench.load(&p, image, LoadMode::FrontDoor);
    (p, engine, shape)
}

#[test]
fn chip_token_random_models_match_the_interpreter() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_random_models_match_the_interpreter";
    let seed = seed(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bench = Bench::open("tiny", test, seed);
    let cfg = bench.cfg.clone();
    let mut tokens = 0u64;
    let mut cycles = 0u64;
    // One chip for every model: each load replaces the tiles, the program and the constants.
    for case in 0..6u64 {
        let (shape, context, p) = random_model(&mut rng, &cfg);
        let model = small_llama(&shape, seed ^ case, Precision::Chip).expect("model");
        let image = p.image(&model).expect("images");
        let mode = if case % 2 == 0 {
            LoadMode::FrontDoor
        } else {
            LoadMode::Backdoor
        };
        // Every other model under random input gaps and output backpressure.
        let (gap, ready) = if case % 2 == 1 {
            (rng.gen_range(0..600), rng.gen_range(300..=1000))
        } else {
            (0, 1000)
        };
        bench
            .rt
            .device()
            .transport()
            .set_stream_timing(StreamTiming {
                in_gap_permille: gap,
                out_ready_permille: ready,
                seed: seed ^ case,
            })
            .expect("stream timing");
        eprintln!(
            "case {case}: {shape:?}, context {context}, {} instructions, {mode:?} weights, \
             input gaps {gap}/1000, output ready {ready}/1000 (seed {seed})",
            p.program.len()
        );
        let mut engine = bench.load(&p, image, mode);
        let what = format!("case {case} (seed {seed})");
        // Positions 0 .. context - 1, logits asked for at random, the first and last always.
        let mut tok = rng.gen_range(0..shape.vocab as u32);
        for pos in 0..context as u32 {
            let logits = pos == 0 || pos + 1 == context as u32 || rng.gen_bool(0.5);
            let c0 = bench.cycles();
            // The trace flag at position 1 and now and then (its beats under the same
            // backpressure).
            let out = if pos == 1 || rng.gen_bool(0.2) {
                bench.same_traced(&mut engine, tok, pos, logits, &what)
            } else {
                bench.same(&mut engine, tok, pos, logits, &what)
            };
            cycles += bench.cycles() - c0;
            tokens += 1;
            let out = out.unwrap_or_else(|f| panic!("{what}: position {pos}: {f}"));
            assert_eq!(out.instrs, p.program.len(), "{what}: END reached");
            let io = bench.rt.last_host_bytes();
            assert_eq!(io.to_chip, 32, "{what}: a TOKEN is one 32-byte header");
            // Greedy after the prompt token, a random token now and then.
            tok = if rng.gen_bool(0.3) {
                rng.gen_range(0..shape.vocab as u32)
            } else {
                out.next
            };
        }
    }
    let (io, n) = bench.rt.total_host_bytes();
    eprintln!(
        "{tokens} tokens bit-exact, {} cycles per token on average (host side included); \
         stream bytes per token: {} in, {} out",
        cycles / tokens.max(1),
        io.to_chip / n.max(1),
        io.from_chip / n.max(1)
    );
    bench.finish();
}

/// The 32-bit stream of `ulx3s`: ENG_LOAD one word per beat, NEXT and the count in two final
/// beats, logits one word per beat.
#[test]
fn chip_token_dmem_backdoor_refuses_partial_rows_and_words_past_the_end() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_dmem_backdoor_refuses_partial_rows_and_words_past_the_end";
    let mut bench = Bench::open("tiny", test, 0);
    let (banks, words) = (bench.cfg.beat_words(), bench.cfg.dmem_words);
    assert!(banks > 1, "`tiny` has a banked DMEM");
    let sim = bench.rt.device().transport();
    let row = vec![7u32; banks];
    let e = sim.dmem_backdoor_write(1, &row).unwrap_err().to_string();
    assert!(e.contains("not whole rows"), "{e}");
    let e = sim
        .dmem_backdoor_write(0, &row[1..])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not whole rows"), "{e}");
    let e = sim
        .dmem_backdoor_write(words, &row)
        .unwrap_err()
        .to_string();
    assert!(e.contains("data memory"), "{e}");
    // The last row is writable, and the model still answers.
    sim.dmem_backdoor_write(words - banks, &row)
        .expect("the last row");
    assert!(sim.cycles().expect("cycles") > 0);
}

#[test]
fn chip_token_ulx3s_stream_of_one_word() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_ulx3s_stream_of_one_word";
    let seed = seed(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bench = Bench::open("ulx3s", test, seed);
    assert_eq!(bench.cfg.beat_words(), 1);
    let (p, mut engine, shape) = fixed_model(&mut bench, 6);
    for pos in 0..6u32 {
        let token = rng.gen_range(0..shape.vocab as u32);
        let logits = pos % 2 == 0;
        let out = bench.same(&mut engine, token, pos, logits, "ulx3s");
        assert_eq!(out.map(|o| o.instrs), Ok(p.program.len()));
        let io = bench.rt.last_host_bytes();
        let beats = if logits { shape.vocab as u64 + 2 } else { 2 };
        assert_eq!(io.from_chip, 4 * beats, "position {pos}: one word per beat");
    }
    bench.finish();
}

#[test]
fn chip_token_faults_name_the_instruction() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_faults_name_the_instruction";
    let seed = seed(test);
    let mut bench = Bench::open("tiny", test, seed);
    let cfg = bench.cfg.clone();
    let context = 4u32;
    let (p, mut engine, shape) = fixed_model(&mut bench, context as usize);
    let vocab = shape.vocab as u32;
    for pos in 0..context {
        let out = bench.same(&mut engine, pos + 1, pos, pos % 2 == 0, "filling the cache");
        assert!(out.is_ok(), "position {pos}: {out:?}");
    }
    // A full KV cache: the first ROPE faults, at any position past the context.
    let rope = p
        .program
        .iter()
        .position(|i| matches!(i, Instr::Rope { .. }))
        .expect("a ROPE");
    for pos in [context, context + 1, u32::MAX] {
        let out = bench.same(&mut engine, 1, pos, true, "full KV cache");
        assert_eq!(
            out,
            Err(Fault {
                code: ErrorCode::KvFull,
                pc: rope
            }),
            "position {pos}"
        );
    }
    // The cache is intact: the last position again.
    assert!(bench
        .same(&mut engine, 5, context - 1, true, "after ErrKvFull")
        .is_ok());
    // A token past the vocabulary: EMBED, instruction 0.
    for token in [vocab, vocab + 1, u32::MAX] {
        let out = bench.same(&mut engine, token, 0, false, "token past the vocabulary");
        assert_eq!(
            out,
            Err(Fault {
                code: ErrorCode::Token,
                pc: 0
            })
        );
    }
    assert!(bench
        .same(&mut engine, vocab - 1, 0, true, "after ErrToken")
        .is_ok());

    // Illegal programs: each patch is written into the chip's program memory and the
    // interpreter's, run, and undone.
    let good = bench.rt.program().to_vec();
    let w = INSTR_WORDS;
    let pc_of = |f: &dyn Fn(&Instr) -> bool| p.program.iter().position(f).expect("instruction");
    let argmax = pc_of(&|i| matches!(i, Instr::Argmax { .. }));
    let matvec = pc_of(&|i| matches!(i, Instr::Matvec { .. }));
    let last_matvec = p
        .program
        .iter()
        .rposition(|i| matches!(i, Instr::Matvec { .. }))
        .expect("a MATVEC");
    let end = pc_of(&|i| matches!(i, Instr::End));
    let mut patches: Vec<(String, usize, Vec<u32>, ErrorCode)> = Vec::new();
    for (pc, op) in [(3usize, 0x7fu32), (5, 0x0e), (end, 0xff)] {
        let mut word = good[pc * w..(pc + 1) * w].to_vec();
        word[0] = op;
        patches.push((format!("opcode {op:#x}"), pc, word, ErrorCode::Instr));
    }
    let mut word = good[2 * w..3 * w].to_vec();
    word[0] |= 1 << 8;
    patches.push(("reserved bit of w0".into(), 2, word, ErrorCode::Instr));
    let mut word = good[argmax * w..(argmax + 1) * w].to_vec();
    word[7] = 1;
    patches.push((
        "reserved word of ARGMAX".into(),
        argmax,
        word,
        ErrorCode::Instr,
    ));
    let mv = |base: u32, groups: u32| Instr::Matvec {
        base,
        groups,
        chunks: 1,
        lg_pk: 0,
        input: 0,
        out: 0,
    };
    let ww = cfg.weight_words as u32;
    patches.push((
        "MATVEC past the weight memory".into(),
        matvec,
        mv(ww, 1).encode().to_vec(),
        ErrorCode::WeightRange,
    ));
    patches.push((
        "MATVEC with G = 0".into(),
        last_matvec,
        mv(0, 0).encode().to_vec(),
        ErrorCode::Shape,
    ));
    patches.push((
        "ADD past the vector memory".into(),
        1,
        Instr::Add {
            dst: cfg.vmem_words as u32 - 1,
            a: 0,
            b: 0,
            n: 2,
        }
        .encode()
        .to_vec(),
        ErrorCode::VmemRange,
    ));
    for (what, pc, word, code) in patches {
        bench
            .rt
            .write_program(pc * w, &word)
            .unwrap_or_else(|e| panic!("{what}: program write: {e}"));
        engine.program[pc * w..(pc + 1) * w].copy_from_slice(&word);
        for logits in [false, true] {
            let out = bench.same(&mut engine, 1, 0, logits, &what);
            assert_eq!(out, Err(Fault { code, pc }), "{what}");
        }
        bench
            .rt
            .write_program(pc * w, &good[pc * w..(pc + 1) * w])
            .unwrap_or_else(|e| panic!("{what}: program restore: {e}"));
        engine.program[pc * w..(pc + 1) * w].copy_from_slice(&good[pc * w..(pc + 1) * w]);
        let out = bench.same(&mut engine, 2, 0, true, &format!("after {what}"));
        assert!(out.is_ok(), "after {what}: {out:?}");
    }
    bench.finish();
}

#[test]
fn chip_token_soft_reset_in_the_middle_of_a_token() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_soft_reset_in_the_middle_of_a_token";
    let seed = seed(test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bench = Bench::open("tiny", test, seed);
    let (_, mut engine, shape) = fixed_model(&mut bench, 8);
    let c0 = bench.cycles();
    assert!(bench.same(&mut engine, 7, 0, true, "position 0").is_ok());
    let token_cycles = bench.cycles() - c0;
    eprintln!("one token: {token_cycles} cycles (host side included)");
    for pos in 1..4u32 {
        // Start a token, stop it part way with a soft reset, then run the position again.
        let cut = rng.gen_range(token_cycles / 8..token_cycles * 3 / 4).max(1);
        let token = rng.gen_range(0..shape.vocab as u32);
        bench
            .rt
            .start_token(token, pos, true)
            .expect("send the TOKEN");
        bench.rt.device().transport().run(cut).expect("run");
        let dev = bench.rt.device();
        let s = dev.status().expect("STATUS");
        assert!(
            s.busy && !s.error,
            "position {pos}: the token is still running {cut} cycles in: {s:?}"
        );
        dev.soft_reset().expect("soft reset");
        dev.drain_output().expect("drain");
        let s = dev.status().expect("STATUS");
        assert!(
            !s.error && !s.busy,
            "position {pos}: after a soft reset {cut} cycles into a token: {s:?} (seed {seed})"
        );
        // The interpreter never saw the stopped token: the chip's rerun must match it.
        let what = format!("position {pos} after a reset at cycle {cut} (seed {seed})");
        let out = bench.same(&mut engine, token, pos, pos % 2 == 1, &what);
        assert!(out.is_ok(), "{what}: {out:?}");
    }
    bench.finish();
}

#[test]
fn chip_token_descriptor_checks() {
    if !have_verilator() {
        return;
    }
    let test = "chip_token_descriptor_checks";
    let seed = seed(test);
    let mut bench = Bench::open("tiny", test, seed);
    let cfg = bench.cfg.clone();
    let (_, mut engine, _) = fixed_model(&mut bench, 8);
    assert!(bench.same(&mut engine, 3, 0, true, "before").is_ok());
    let bw = cfg.beat_words() as u32;
    let pw = cfg.prog_words() as u32;
    let dw = cfg.dmem_words as u32;
    let eng = |space: u32, addr: u32, words: u32| {
        let mut d = Descriptor::eng_load(EngSpace::Dmem, 0, &[]);
        d.header[1..4].copy_from_slice(&[space, addr, words]);
        // A payload of garbage, whole beats, at most four: refused descriptors write nothing.
        d.payload = vec![0xdead_beef; (words.min(4 * bw).div_ceil(bw) * bw) as usize];
        d
    };
    let mut token = Descriptor::token(1, 1, false);
    token.header[3] = 1 << 4;
    let bad = [
        ("ENG_LOAD space 2", eng(2, 0, bw)),
        ("ENG_LOAD zero words", eng(1, 0, 0)),
        ("ENG_LOAD address not a whole beat", eng(0, 1, bw)),
        ("ENG_LOAD words not whole beats", eng(1, 0, bw + 1)),
        ("ENG_LOAD past the program memory", eng(0, pw - bw, 2 * bw)),
        ("ENG_LOAD past DMEM", eng(1, dw - bw, 2 * bw)),
        (
            "ENG_LOAD at the end of the address space",
            eng(1, u32::MAX - bw + 1, bw),
        ),
        ("TOKEN with flag bit 4", token),
    ];
    for (what, d) in bad {
        let code = d.check_engine(&cfg).expect_err(what);
        let dev = bench.rt.device();
        let index = dev.descriptors_sent();
        let p = d.packet(&cfg);
        dev.transport()
            .stream_send(&p, true, WAIT_CYCLES)
            .unwrap_or_else(|e| panic!("{what}: send: {e}"));
        let mut waited = 0;
        while !dev.status().expect("STATUS").error {
            assert!(waited < WAIT_CYCLES, "{what}: no error raised");
            dev.transport().run(256).expect("run");
            waited += 256;
        }
        let (got, at) = dev.error().expect("ERROR");
        assert_eq!(got, code, "{what}");
        assert_eq!(at, index, "{what}: ERROR.descriptor");
        dev.soft_reset().expect("soft reset");
        dev.drain_output().expect("drain");
    }
    // Nothing refused was written: the program and the constants are intact.
    assert!(bench.same(&mut engine, 4, 1, true, "after").is_ok());
    bench.finish();
}

/// Every operand check of every instruction, in the chip against the interpreter: for the first
/// instruction of each opcode in a compiled program, each operand word in turn takes values
/// chosen to break one check or to pass it (zero, one, odd, the last and first address past the
/// vector memory, the data memory's size, past the context, its neighbours for partial
/// overlaps, the largest word), and each word past the operands a nonzero value. A token then
/// runs on both: a fault must agree in code and instruction index, a legal program in every
/// output bit. The memories stay in step (the interpreter writes what the chip writes), so the
/// variants run one after the other on one chip; the program is restored after each.
#[test]
fn chip_token_every_operand_check_matches_the_interpreter() {
    operand_sweep(
        "tiny",
        "chip_token_every_operand_check_matches_the_interpreter",
    );
}

/// The same sweep on `ulx3s`, whose engine registers its units and its check codes
/// (`FpStages = 1`): every check still raises the interpreter's code at the same instruction.
#[test]
fn chip_token_ulx3s_every_operand_check_matches_the_interpreter() {
    operand_sweep(
        "ulx3s",
        "chip_token_ulx3s_every_operand_check_matches_the_interpreter",
    );
}

/// Each operand word of the first instruction of every opcode over breaking values on chip
/// `name`: chip and interpreter agree on every outcome, every opcode faults on some variant,
/// every check code is reached, and the restored program runs on.
fn operand_sweep(name: &str, test: &str) {
    if !have_verilator() {
        return;
    }
    let seed = seed(test);
    let mut bench = Bench::open(name, test, seed);
    let cfg = bench.cfg.clone();
    let context = 4u32;
    let (p, mut engine, _) = fixed_model(&mut bench, context as usize);
    let good = bench.rt.program().to_vec();
    let w = INSTR_WORDS;
    let (vm, dm) = (cfg.vmem_words as u32, cfg.dmem_words as u32);
    let mut faults: Vec<(tessera_abi::token::TokOp, ErrorCode)> = Vec::new();
    let mut legal = 0usize;
    let mut seen_ops = Vec::new();
    for (pc, instr) in p.program.iter().enumerate() {
        let op = instr.op();
        if seen_ops.contains(&op) {
            continue;
        }
        seen_ops.push(op);
        let fields = instr.fields();
        let orig = &good[pc * w..(pc + 1) * w];
        for k in 1..w {
            let values: Vec<u32> = if k <= fields.len() {
                let o = orig[k];
                vec![
                    0,
                    1,
                    3,
                    vm - 1,
                    vm,
                    4 * dm,
                    cfg.context as u32 + 1,
                    o.wrapping_add(1),
                    o.wrapping_sub(1),
                    u32::MAX,
                ]
            } else {
                vec![1]
            };
            for v in values {
                if v == orig[k] {
                    continue;
                }
                let mut word = orig.to_vec();
                word[k] = v;
                let what = format!("{op:?} at pc {pc}, word {k} = {v:#x}");
                bench
                    .rt
                    .write_program(pc * w, &word)
                    .unwrap_or_else(|e| panic!("{what}: program write: {e}"));
                engine.program[pc * w..(pc + 1) * w].copy_from_slice(&word);
                match bench.same(&mut engine, 1, 0, false, &what) {
                    Err(f) => {
                        assert!(f.pc <= pc, "{what}: a fault after the patch: {f:?}");
                        if f.pc == pc && !faults.contains(&(op, f.code)) {
                            faults.push((op, f.code));
                        }
                    }
                    Ok(_) => legal += 1,
                }
                bench
                    .rt
                    .write_program(pc * w, orig)
                    .unwrap_or_else(|e| panic!("{what}: program restore: {e}"));
                engine.program[pc * w..(pc + 1) * w].copy_from_slice(orig);
            }
        }
    }
    eprintln!(
        "[{test}] {} opcodes; faults (opcode, code): {faults:?}; {legal} legal variants",
        seen_ops.len()
    );
    // Every opcode with operands fails some check, and every check code of the engine and of
    // MATVEC's descriptor is reached.
    for op in &seen_ops {
        let operands = p.program.iter().find(|i| i.op() == *op).unwrap().fields();
        assert!(
            faults.iter().any(|(o, _)| o == op),
            "{op:?} ({} operands): no variant faulted",
            operands.len()
        );
    }
    for code in [
        ErrorCode::Instr,
        ErrorCode::Shape,
        ErrorCode::VmemRange,
        ErrorCode::DmemRange,
        ErrorCode::AbufRange,
        ErrorCode::RbufRange,
        ErrorCode::WeightRange,
    ] {
        assert!(
            faults.iter().any(|(_, c)| *c == code),
            "no variant raised {code:?}: {faults:?}"
        );
    }
    // END made a NOP: the engine runs on through NOPs (written over the rest of the program
    // memory, as the interpreter's program memory holds them) and stops with ErrProgRange at
    // the end of the program memory.
    let end = p.program.len() - 1;
    assert_eq!(p.program[end], Instr::End);
    let rest = vec![0u32; (cfg.prog_instrs - end) * w];
    bench
        .rt
        .write_program(end * w, &rest)
        .unwrap_or_else(|e| panic!("NOPs from END on: {e}"));
    engine.program.resize(end * w, 0);
    engine.program.extend_from_slice(&rest);
    let out = bench.same(&mut engine, 1, 0, false, "END made a NOP");
    assert_eq!(
        out,
        Err(Fault {
            code: ErrorCode::ProgRange,
            pc: cfg.prog_instrs
        })
    );
    bench
        .rt
        .write_program(end * w, &good[end * w..])
        .unwrap_or_else(|e| panic!("END restored: {e}"));
    engine.program.truncate(end * w);
    engine.program.extend_from_slice(&good[end * w..]);
    // The restored program still runs, in step with the interpreter.
    for pos in 0..context {
        let out = bench.same(&mut engine, 2 + pos, pos, true, "the restored program");
        assert!(out.is_ok(), "position {pos}: {out:?}");
    }
    bench.finish();
}
