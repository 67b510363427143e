//! Every vector operation of the token engine, and attention over the KV cache, on `tiny`
//! against the reference interpreter (`tessera_driver::token::interp::Engine`, the executable
//! form of numerics v2, which the golden model's chip mode equals), bit for bit.
//!
//! A case is a program of its own, loaded by ENG_LOAD with its DMEM tables. Its inputs reach
//! VMEM as a model's do, by EMBED of bfloat16 rows, and take full binary32 precision through an
//! ADD of two rows (a value and a correction 2⁻⁸ … 2⁻¹⁶ of it). Each element is one of: ±0, the
//! largest finite magnitudes (bfloat16 `0x7f7f`, 3.39·10³⁸), values a few binades above the
//! flush-to-zero boundary, ordinary values (binades −8 … 7), or any finite binade. Then the
//! operation under test, its result sent by LOGITS, END. Chip and interpreter must agree on
//! every output word's bits, on NEXT and on the instruction count.
//!
//! - ADD and SILU_MUL: n 1 … 1,024; the destination apart from the sources or equal to one.
//! - RMSNORM: n 1 … 1,024, γ of the same kinds (binary32), ε of 0 (a zero vector then gives
//!   rsqrt(0) = ∞ and ∞·0), 10⁻⁶, 10⁻⁵, 1 or 10³⁰.
//! - ROPE: head_dim 2, 8, 64 and 128, 1 … 8 heads, a table of the cos and sin of random angles
//!   (some entries 0, ±1 or any finite value), at the first position, the last of the context
//!   or a random one.
//! - ARGMAX: values from a palette of four (ties: the lowest index wins), the maximum at the
//!   first or the last element, or all zeros.
//! - Attention: KV_APPEND at every position 0 … P (q, k and v of the same kinds), ATTEND at the
//!   first position, the last of the context and a random one between, for GQA ratios 1, 3, 4
//!   and 8 and head_dim 64 and 128 (and 2 and 8), with one or two KV heads; contexts of 256
//!   (the chip's `Context`) for GQA 3 and 8 at head_dim 128, 64 for 1 and 4, 2 … 24 at 64.
//!
//! QUANT, MATVEC and DEQUANT are checked in whole models by `token.rs` (their inputs come from a
//! product). The element-operation cases are proptest cases, six per operation by default
//! (`PROPTEST_CASES` or `TESSERA_CASES` set the count per operation), so a failure shrinks to a
//! short vector; the attention cases are a fixed grid with seeded random contents. The seed
//! prints and replays with `TESSERA_SEED`.

use std::cell::{Cell, RefCell};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::token::{encode_program, kv_region_bytes, EngineLimits, Instr};
use tessera_driver::token::interp::Engine;

use crate::env::*;
use crate::token::{Bench, Outcome};

const TEST: &str = "chip_token_vector_ops_match_the_interpreter";
const ATTEND_TEST: &str = "chip_token_attention_matches_the_interpreter";

/// Proptest cases per operation unless `PROPTEST_CASES` or `TESSERA_CASES` says otherwise.
const CASES: u32 = 6;

/// DMEM tables start on this byte boundary (a whole beat of every configuration).
const ALIGN: usize = 64;

/// VMEM regions of a case (`tiny` has 4,096 words): inputs at `A` and `B`, the correction rows
/// of the inputs at `T`, results at `D`.
const A: u32 = 0;
const T: u32 = 1024;
const B: u32 = 2048;
const D: u32 = 3072;
const MAX_N: usize = 1024;

/// The kinds of element a case draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zero,
    Largest,
    NearFlush,
    Ordinary,
    AnyBinade,
}

/// One input element: its kind and the random bits that fill it in.
type Elem = (Kind, u64);

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        1 => Just(Kind::Zero),
        1 => Just(Kind::Largest),
        1 => Just(Kind::NearFlush),
        5 => Just(Kind::Ordinary),
        2 => Just(Kind::AnyBinade),
    ]
}

fn elems(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<Elem>> {
    prop::collection::vec((kind(), any::<u64>()), n)
}

fn bf16(sign: bool, exp: u32, frac: u32) -> u16 {
    (u16::from(sign) << 15) | ((exp as u16) << 7) | (frac as u16 & 0x7f)
}

/// An element as two bfloat16 values, `hi` and a correction `lo`, whose binary32 sum is the
/// input (`lo` is 2⁻⁸ … 2⁻¹⁶ of `hi`, or zero).
fn split(e: Elem) -> (u16, u16) {
    let (k, r) = e;
    let sign = r & 1 != 0;
    let frac = (r >> 1) as u32 & 0x7f;
    let exp = match k {
        Kind::Zero => return (bf16(sign, 0, 0), 0),
        Kind::Largest => 254,
        Kind::NearFlush => 1 + (r >> 8) as u32 % 8,
        Kind::Ordinary => 119 + (r >> 8) as u32 % 16,
        Kind::AnyBinade => 1 + (r >> 8) as u32 % 254,
    };
    let frac = if k == Kind::Largest { 0x7f } else { frac };
    let hi = bf16(sign, exp, frac);
    let drop = 8 + (r >> 16) as u32 % 9;
    let lo = if exp > drop && k != Kind::Largest {
        bf16((r >> 24) & 1 != 0, exp - drop, (r >> 25) as u32)
    } else {
        0
    };
    (hi, lo)
}

/// A binary32 constant of a DMEM table (γ of RMSNORM): the element's value, rounded.
fn value(e: Elem) -> f32 {
    let (hi, lo) = split(e);
    let f = |b: u16| f32::from_bits(u32::from(b) << 16);
    f(hi) + f(lo)
}

/// A case's program and DMEM image, built up instruction by instruction.
#[derive(Default)]
struct Prog {
    instrs: Vec<Instr>,
    dmem: Vec<u8>,
}

impl Prog {
    /// Appends `bytes` as a table on an [`ALIGN`] boundary; its byte address.
    fn table(&mut self, bytes: &[u8]) -> u32 {
        let at = self.dmem.len().div_ceil(ALIGN) * ALIGN;
        self.dmem.resize(at, 0);
        self.dmem.extend_from_slice(bytes);
        at as u32
    }

    fn table_f32(&mut self, v: &[f32]) -> u32 {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.table(&bytes)
    }

    /// Puts `rows[TOKEN]` at `dst`: EMBED of the `hi` table, EMBED of the `lo` table at `tmp`,
    /// ADD in place.
    fn input(&mut self, dst: u32, tmp: u32, rows: &[Vec<Elem>]) {
        let n = rows[0].len() as u32;
        let (mut his, mut los) = (Vec::new(), Vec::new());
        for row in rows {
            assert_eq!(row.len(), n as usize, "rows of one table have one length");
            for &e in row {
                let (h, l) = split(e);
                his.extend(h.to_le_bytes());
                los.extend(l.to_le_bytes());
            }
        }
        let rows = rows.len() as u32;
        let hi = self.table(&his);
        let lo = self.table(&los);
        self.instrs.extend([
            Instr::Embed {
                dst,
                table: hi,
                n,
                rows,
            },
            Instr::Embed {
                dst: tmp,
                table: lo,
                n,
                rows,
            },
            Instr::Add {
                dst,
                a: dst,
                b: tmp,
                n,
            },
        ]);
    }

    /// Ends the program: LOGITS of `n` words at `src`, END.
    fn finish(mut self, src: u32, n: u32) -> Prog {
        self.instrs.extend([Instr::Logits { src, n }, Instr::End]);
        self
    }
}

/// The chip and the interpreter, loaded with one program and one DMEM image.
struct Pair<'a> {
    bench: &'a mut Bench,
    engine: Engine,
}

impl<'a> Pair<'a> {
    fn load(bench: &'a mut Bench, p: &Prog) -> Pair<'a> {
        let cfg = bench.cfg.clone();
        let lim = EngineLimits::for_config(&cfg);
        for (pc, i) in p.instrs.iter().enumerate() {
            i.check(&cfg, &lim)
                .unwrap_or_else(|c| panic!("instruction {pc} {i:?} of a case breaks {c:?}"));
        }
        let words = encode_program(&p.instrs);
        bench.rt.load_program(&words).expect("program load");
        bench.rt.load_dmem(0, &p.dmem).expect("DMEM load");
        let engine = Engine::new(
            &cfg,
            lim,
            words,
            vec![Vec::new(); cfg.tiles()],
            p.dmem.clone(),
        );
        Pair { bench, engine }
    }

    /// A new program on both sides (DMEM kept).
    fn program(&mut self, instrs: &[Instr]) {
        let words = encode_program(instrs);
        self.bench.rt.load_program(&words).expect("program load");
        self.engine.program = words;
    }

    /// One token on both; their outcomes, the chip's first.
    fn run(&mut self, token: u32, pos: u32) -> (Outcome, Outcome) {
        let chip = self.bench.step(token, pos, true, "case");
        let want = self.engine.step(token, pos, true);
        (chip, want)
    }
}

/// Chip (left) against interpreter (right): NEXT, instruction count and every output word's
/// bits; the first differing word is named.
fn compare(chip: &Outcome, want: &Outcome) -> Result<(), String> {
    match (chip, want) {
        (Ok(c), Ok(w)) => {
            if (c.next, c.instrs) != (w.next, w.instrs) {
                return Err(format!(
                    "NEXT, instructions: chip {:?}, interpreter {:?}",
                    (c.next, c.instrs),
                    (w.next, w.instrs)
                ));
            }
            let (cl, wl) = (c.logits.as_deref(), w.logits.as_deref());
            let (cl, wl) = (cl.unwrap_or(&[]), wl.unwrap_or(&[]));
            if cl.len() != wl.len() {
                return Err(format!("{} output words, want {}", cl.len(), wl.len()));
            }
            match cl
                .iter()
                .zip(wl)
                .position(|(a, b)| a.to_bits() != b.to_bits())
            {
                None => Ok(()),
                Some(i) => Err(format!(
                    "output word {i}: chip {:#010x} ({:e}), interpreter {:#010x} ({:e})",
                    cl[i].to_bits(),
                    cl[i],
                    wl[i].to_bits(),
                    wl[i]
                )),
            }
        }
        (c, w) => {
            if c.as_ref().err() == w.as_ref().err() {
                Ok(())
            } else {
                Err(format!(
                    "chip {:?}, interpreter {:?}",
                    c.as_ref().map(|o| o.next),
                    w.as_ref().map(|o| o.next)
                ))
            }
        }
    }
}

/// A case of one operation.
#[derive(Clone, Debug)]
enum Case {
    Add {
        a: Vec<Elem>,
        b: Vec<Elem>,
        in_place: bool,
    },
    SiluMul {
        gate: Vec<Elem>,
        up: Vec<Elem>,
        in_place: bool,
    },
    RmsNorm {
        x: Vec<Elem>,
        gamma: Vec<Elem>,
        eps: f32,
    },
    Rope {
        heads: u32,
        head_dim: u32,
        context: u32,
        pos: u32,
        x: Vec<Elem>,
        /// Per table entry: `None` for the cos or sin of a random angle, else a value.
        table: Vec<(Option<Elem>, u64)>,
    },
    Argmax {
        palette: [Elem; 4],
        /// Indices into the palette; `None` is ±0.
        pick: Vec<Option<u8>>,
        max_at: u8,
    },
}

/// Two vectors of one length `1 ..= MAX_N`.
fn two() -> impl Strategy<Value = (Vec<Elem>, Vec<Elem>)> {
    (1..=MAX_N).prop_flat_map(|n| (elems(n..=n), elems(n..=n)))
}

fn case(op: usize) -> BoxedStrategy<Case> {
    match op {
        0 => (two(), any::<bool>())
            .prop_map(|((a, b), in_place)| Case::Add { a, b, in_place })
            .boxed(),
        1 => (two(), any::<bool>())
            .prop_map(|((gate, up), in_place)| Case::SiluMul { gate, up, in_place })
            .boxed(),
        2 => (
            two(),
            prop::sample::select(vec![0.0f32, 1e-6, 1e-5, 1.0, 1e30]),
        )
            .prop_map(|((x, gamma), eps)| Case::RmsNorm { x, gamma, eps })
            .boxed(),
        3 => (
            prop::sample::select(vec![2u32, 8, 64, 128]),
            1u32..=8,
            1u32..=256,
            0u8..3,
            any::<u32>(),
        )
            .prop_flat_map(|(head_dim, heads, context, at, r)| {
                let heads = heads.min(MAX_N as u32 / head_dim);
                let pos = match at {
                    0 => 0,
                    1 => context - 1,
                    _ => r % context,
                };
                let n = (heads * head_dim) as usize;
                let entry = (
                    prop::option::weighted(0.1, (kind(), any::<u64>())),
                    any::<u64>(),
                );
                (
                    elems(n..=n),
                    prop::collection::vec(entry, head_dim as usize),
                )
                    .prop_map(move |(x, table)| Case::Rope {
                        heads,
                        head_dim,
                        context,
                        pos,
                        x,
                        table,
                    })
            })
            .boxed(),
        _ => (
            prop::array::uniform4((kind(), any::<u64>())),
            prop::collection::vec(prop::option::weighted(0.9, 0u8..4), 1..=MAX_N),
            0u8..3,
        )
            .prop_map(|(palette, pick, max_at)| Case::Argmax {
                palette,
                pick,
                max_at,
            })
            .boxed(),
    }
}

const OPS: [&str; 5] = ["ADD", "SILU_MUL", "RMSNORM", "ROPE", "ARGMAX"];

/// The program of a case, the token and position it runs at.
fn build(c: &Case) -> (Prog, u32) {
    let mut p = Prog::default();
    match c {
        Case::Add { a, b, in_place }
        | Case::SiluMul {
            gate: a,
            up: b,
            in_place,
        } => {
            let n = a.len() as u32;
            p.input(A, T, std::slice::from_ref(a));
            p.input(B, T, std::slice::from_ref(b));
            let dst = if *in_place { A } else { D };
            p.instrs.push(match c {
                Case::Add { .. } => Instr::Add { dst, a: A, b: B, n },
                _ => Instr::SiluMul {
                    dst,
                    gate: A,
                    up: B,
                    n,
                },
            });
            (p.finish(dst, n), 0)
        }
        Case::RmsNorm { x, gamma, eps } => {
            let n = x.len() as u32;
            p.input(A, T, std::slice::from_ref(x));
            let g: Vec<f32> = gamma.iter().map(|&e| value(e)).collect();
            let gamma = p.table_f32(&g);
            p.instrs.push(Instr::RmsNorm {
                dst: D,
                src: A,
                gamma,
                n,
                eps: eps.to_bits(),
            });
            (p.finish(D, n), 0)
        }
        Case::Rope {
            heads,
            head_dim,
            context,
            pos,
            x,
            table,
        } => {
            // Only row `pos` is read; the other rows are the same row rotated (any values).
            let half = *head_dim as usize / 2;
            let mut row = vec![0f32; *head_dim as usize];
            for (k, (fixed, r)) in table.iter().enumerate() {
                let angle = (*r >> 11) as f64 / (1u64 << 53) as f64 * std::f64::consts::TAU;
                let trig = if k < half { angle.cos() } else { angle.sin() };
                row[k] = match fixed {
                    Some(e) if e.1 % 3 == 0 => 0.0,
                    Some(e) if e.1 % 3 == 1 => {
                        if e.1 & 8 != 0 {
                            1.0
                        } else {
                            -1.0
                        }
                    }
                    Some(e) => value(*e),
                    None => trig as f32,
                };
            }
            let mut t = Vec::with_capacity(*context as usize * row.len());
            for r in 0..*context as usize {
                t.extend(row.iter().cycle().skip(r % row.len()).take(row.len()));
            }
            // Row `pos` must be exactly `row`.
            let at = *pos as usize * row.len();
            t[at..at + row.len()].copy_from_slice(&row);
            p.input(A, T, std::slice::from_ref(x));
            let table = p.table_f32(&t);
            p.instrs.push(Instr::Rope {
                vec: A,
                heads: *heads,
                head_dim: *head_dim,
                table,
                context: *context,
            });
            (p.finish(A, heads * head_dim), *pos)
        }
        Case::Argmax {
            palette,
            pick,
            max_at,
        } => {
            let mut x: Vec<Elem> = pick
                .iter()
                .map(|k| k.map_or((Kind::Zero, 0), |i| palette[i as usize]))
                .collect();
            // The largest of the palette (or +largest itself) at the first or the last element.
            let top = (Kind::Largest, 0);
            match max_at {
                0 => x[0] = top,
                1 => *x.last_mut().expect("n ≥ 1") = top,
                _ => {}
            }
            let n = x.len() as u32;
            p.input(A, T, &[x]);
            p.instrs.push(Instr::Argmax { src: A, n });
            (p.finish(A, n), 0)
        }
    }
}

#[test]
fn chip_token_vector_ops_match_the_interpreter() {
    if !have_verilator() {
        return;
    }
    let seed = seed(TEST);
    let per_op = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| tessera_verif::tb::case_count(CASES));
    // One chip for every case; a failing case leaves it behind and the next opens a fresh one.
    let slot: RefCell<Option<Bench>> = RefCell::new(None);
    let (cases, words) = (Cell::new(0u64), Cell::new(0u64));
    let t0 = std::time::Instant::now();
    for (k, op) in OPS.iter().enumerate() {
        let result = proptest_runner(seed, k, per_op, 200).run(&case(k), |c| {
            let mut bench = slot
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Bench::open("tiny", TEST, seed));
            let (p, pos) = build(&c);
            let n = p.instrs.len();
            let mut pair = Pair::load(&mut bench, &p);
            let (chip, want) = pair.run(0, pos);
            compare(&chip, &want).map_err(TestCaseError::fail)?;
            let out = chip.map_err(|f| TestCaseError::fail(format!("fault {f}")))?;
            prop_assert_eq!(out.instrs, n, "END reached");
            cases.set(cases.get() + 1);
            words.set(words.get() + out.logits.map_or(0, |l| l.len() as u64));
            *slot.borrow_mut() = Some(bench);
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, c)) => panic!(
                "[{TEST}] {op}: {reason}\nshrunk case: {c:?}\nreplay: TESSERA_SEED={seed} \
                 cargo test -p tessera-verif --test chip -- token_ops::{TEST} --exact"
            ),
            Err(TestError::Abort(reason)) => panic!("[{TEST}] {op}: aborted: {reason}"),
        }
    }
    if let Some(mut bench) = slot.into_inner() {
        bench.finish();
    }
    eprintln!(
        "[{TEST}] {} cases ({per_op} per operation), {} output words bit-exact in {:.1} s",
        cases.get(),
        words.get(),
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(cases.get(), u64::from(per_op) * OPS.len() as u64);
}

/// Random elements of one row.
fn row(rng: &mut ChaCha8Rng, n: usize) -> Vec<Elem> {
    let kinds = [
        Kind::Zero,
        Kind::Largest,
        Kind::NearFlush,
        Kind::Ordinary,
        Kind::Ordinary,
        Kind::Ordinary,
        Kind::Ordinary,
        Kind::AnyBinade,
    ];
    (0..n)
        .map(|_| (kinds[rng.gen_range(0..kinds.len())], rng.gen()))
        .collect()
}

#[test]
fn chip_token_attention_matches_the_interpreter() {
    if !have_verilator() {
        return;
    }
    let seed = seed(ATTEND_TEST);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bench = Bench::open("tiny", ATTEND_TEST, seed);
    let t0 = std::time::Instant::now();
    let mut attended = 0;
    // (GQA ratio, head_dim, KV heads, context): the grid of the specification, and small heads.
    let mut grid = Vec::new();
    for gqa in [1u32, 3, 4, 8] {
        for hd in [64u32, 128] {
            let kv = if gqa * 2 * hd <= MAX_N as u32 && rng.gen_bool(0.5) {
                2
            } else {
                1
            };
            let context = if hd == 128 {
                if gqa == 3 || gqa == 8 {
                    256
                } else {
                    64
                }
            } else {
                rng.gen_range(2..=24)
            };
            grid.push((gqa, hd, kv, context));
        }
    }
    grid.push((2, 2, 2, 5));
    grid.push((3, 8, 1, 1));
    for (gqa, hd, kv, context) in grid {
        let heads = gqa * kv;
        let (nq, nkv) = ((heads * hd) as usize, (kv * hd) as usize);
        let rows = |rng: &mut ChaCha8Rng, n| -> Vec<Vec<Elem>> {
            (0..context).map(|_| row(rng, n)).collect()
        };
        // Regions: q at A (≤ 1,024), corrections at T, then the results at T; k at B, v at D.
        let mut p = Prog::default();
        p.input(B, T, &rows(&mut rng, nkv));
        p.input(D, T, &rows(&mut rng, nkv));
        let cache = p.table(&vec![0u8; kv_region_bytes(context, kv, hd) as usize]);
        p.instrs.push(Instr::KvAppend {
            k: B,
            v: D,
            kv_heads: kv,
            head_dim: hd,
            cache,
            context,
        });
        let fill = {
            let mut f = p.instrs.clone();
            f.push(Instr::End);
            f
        };
        p.input(A, T, &rows(&mut rng, nq));
        p.instrs.push(Instr::Attend {
            dst: T,
            q: A,
            heads,
            kv_heads: kv,
            head_dim: hd,
            cache,
            context,
        });
        let p = p.finish(T, heads * hd);
        let full = p.instrs.clone();
        let mut at = vec![0, context - 1, rng.gen_range(0..context)];
        at.sort_unstable();
        at.dedup();
        let what =
            format!("GQA {gqa}, head_dim {hd}, {kv} KV head(s), context {context} (seed {seed})");
        let mut pair = Pair::load(&mut bench, &p);
        let mut current_full = true;
        for pos in 0..=*at.last().expect("a position") {
            let attend = at.contains(&pos);
            if attend != current_full {
                pair.program(if attend { &full } else { &fill });
                current_full = attend;
            }
            // Token `pos`: row `pos` of each table.
            let (chip, want) = pair.run(pos, pos);
            if let Err(e) = compare(&chip, &want) {
                panic!("{what}: position {pos}: {e}");
            }
            let out = chip.unwrap_or_else(|f| panic!("{what}: position {pos}: fault {f}"));
            if attend {
                attended += 1;
                assert_eq!(out.instrs, full.len(), "{what}: END reached");
                assert_eq!(
                    out.logits.map(|l| l.len()),
                    Some(nq),
                    "{what}: the heads' outputs"
                );
            }
        }
        eprintln!("[{ATTEND_TEST}] {what}: positions {at:?} bit-exact");
    }
    bench.finish();
    eprintln!(
        "[{ATTEND_TEST}] {attended} attentions bit-exact in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
