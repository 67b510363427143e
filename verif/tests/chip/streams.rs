//! Random command streams on `tiny`, legal and illegal mixed, against a reference model of the
//! command processor.
//!
//! A case is a short stream of legal descriptors (WEIGHT_LOAD of random words to random tile
//! ranges, VBUF_LOAD, MATVEC of random legal shapes, bases and addresses, VBUF_READ, FENCE, NOP,
//! PERF_SNAPSHOT, ENG_LOAD of random words into program memory or DMEM; unused header words and
//! bits filled with garbage now and then) with at most one illegal descriptor at a random
//! position: a field that breaks one rule of the checks table (`docs/architecture.md`, checks
//! and error codes; every rule of every descriptor, other fields random so the checks' order
//! matters), a header or payload cut short by `tlast`, a missing `tlast`, a packet longer than
//! its descriptor, or a CMD_FIFO overflow. Each descriptor goes over the AXI4-Stream port or
//! through CMD_FIFO (its header; a payload then follows on the stream as a packet of its own),
//! under random stream gaps and output backpressure.
//!
//! The oracle is [`Model`]: tile weights, the activation buffer and the result buffer, every
//! VBUF_READ word predicted with the golden integer kernel (`tessera_golden::quant::matvec_i32`),
//! the first error's code and descriptor index by the checks in the chip's order
//! (`Descriptor::check_engine` for ENG_LOAD and TOKEN), the writes a refused payload still made,
//! and nothing run after the error. Per case the chip must agree on every output beat and its
//! `tlast`, `ERROR.code` and `ERROR.descriptor`, `STATUS.done_count`, the FENCE and error
//! interrupts, whether a PERF_SNAPSHOT ran, and, after a soft reset, on a short legal stream, the
//! whole result buffer, a product over the whole activation buffer and every tile's weights
//! (backdoor). Every case starts from its own state (backdoor weights, a VBUF_LOAD and a MATVEC
//! that fill the buffers), so a case fails or passes alone and shrinks.
//!
//! The cases run kind by kind (legal streams, each of the 22 rules, five framing faults, the
//! overflow), two of each by default, 56 in all (`PROPTEST_CASES` or `TESSERA_CASES` set the
//! total), each kind a proptest run of its own, so every check is exercised on every run and a
//! failure shrinks within its kind. The seed prints and replays with `TESSERA_SEED`; a failure
//! prints the shrunk case and its stream descriptor by descriptor.

use std::cell::RefCell;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::{ChipConfig, Descriptor, ErrorCode, Opcode};
use tessera_driver::{SimControl, Transport};
use tessera_golden::quant::matvec_i32;

use crate::env::*;

const TEST: &str = "chip_random_command_streams";

/// Cases of a run unless `PROPTEST_CASES` or `TESSERA_CASES` says otherwise.
const CASES: u32 = 56;

/// Cycle budget of any one wait: far above what a case needs, far below a hang.
const BUDGET: u64 = 400_000;

/// Words `CMD_FIFO` holds (`CmdFifoDepth` of `rtl/host/host_csr.sv`).
const CMD_FIFO_DEPTH: usize = 16;

/// Largest legal sizes the generator draws, to keep streams short: weight words per tile of a
/// WEIGHT_LOAD, chunks of a VBUF_LOAD, words of a VBUF_READ, row groups of a MATVEC, beats of
/// an ENG_LOAD.
const MAX_WL_WORDS: u32 = 16;
const MAX_VL_CHUNKS: u32 = 32;
const MAX_VR_WORDS: u32 = 32;
const MAX_GROUPS: u32 = 32;
const MAX_EL_BEATS: u32 = 8;

fn tiny() -> ChipConfig {
    ChipConfig::named("tiny").expect("the tiny configuration")
}

// ---------------------------------------------------------------------------------------------
// Generation: raw random numbers, mapped onto legal (or, for `Rule`, illegal) fields, so that
// shrinking a number towards 0 never turns a legal descriptor illegal or an illegal one legal.
// ---------------------------------------------------------------------------------------------

/// A legal descriptor, as raw numbers ([`Op::descriptor`] maps them into range).
#[derive(Clone, Debug)]
enum Op {
    Nop,
    Fence,
    PerfSnapshot,
    WeightLoad {
        first: u32,
        span: u32,
        base: u32,
        words: u32,
        data: u64,
    },
    VbufLoad {
        addr: u32,
        chunks: u32,
        data: u64,
    },
    Matvec {
        lg_pk: u32,
        chunks: u32,
        groups: u32,
        base: u32,
        input: u32,
        out: u32,
    },
    VbufRead {
        addr: u32,
        words: u32,
    },
    EngLoad {
        dmem: bool,
        addr: u32,
        beats: u32,
        data: u64,
    },
}

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen()).collect()
}

fn random_words(seed: u64, n: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen()).collect()
}

impl Op {
    /// The legal descriptor these numbers stand for on `cfg`.
    fn descriptor(&self, cfg: &ChipConfig) -> Descriptor {
        let n = cfg.tiles() as u32;
        let ww = cfg.weight_words as u32;
        let ab = cfg.abuf_words as u32;
        let rb = cfg.rbuf_words as u32;
        match *self {
            Op::Nop => Descriptor::nop(),
            Op::Fence => Descriptor::fence(),
            Op::PerfSnapshot => Descriptor::perf_snapshot(),
            Op::WeightLoad {
                first,
                span,
                base,
                words,
                data,
            } => {
                let first = first % n;
                let last = first + span % (n - first);
                let words = 1 + words % MAX_WL_WORDS.min(ww);
                let base = base % (ww - words + 1);
                let bytes = (last - first + 1) as usize * words as usize * cfg.word_bytes();
                Descriptor::weight_load(first, last, base, words, &random_bytes(data, bytes))
            }
            Op::VbufLoad { addr, chunks, data } => {
                let chunks = 1 + chunks % MAX_VL_CHUNKS.min(ab);
                let addr = addr % (ab - chunks + 1);
                let x: Vec<i8> = random_bytes(data, chunks as usize * cfg.kwidth)
                    .into_iter()
                    .map(|b| b as i8)
                    .collect();
                Descriptor::vbuf_load(cfg, addr, chunks, &x)
            }
            Op::Matvec {
                lg_pk,
                chunks,
                groups,
                base,
                input,
                out,
            } => {
                let lg_pk = lg_pk % (cfg.lg_tiles() + 1);
                let (pk, pr) = (1u32 << lg_pk, n >> lg_pk);
                let c = 1 + chunks % (cfg.act_words as u32).min(ab / pk).min(ww);
                let g = 1 + groups % (ww / c).min(rb / pr).min(MAX_GROUPS);
                let base = base % (ww - g * c + 1);
                let input = input % (ab - pk * c + 1);
                let out = out % (rb - pr * g + 1);
                Descriptor::matvec(base, g, c, lg_pk, input, out)
            }
            Op::VbufRead { addr, words } => {
                let words = 1 + words % MAX_VR_WORDS.min(rb);
                Descriptor::vbuf_read(addr % (rb - words + 1), words)
            }
            Op::EngLoad {
                dmem,
                addr,
                beats,
                data,
            } => {
                let bw = cfg.beat_words() as u64;
                let space = if dmem {
                    cfg.dmem_words as u64
                } else {
                    cfg.prog_words()
                };
                let words = bw * u64::from(1 + beats % MAX_EL_BEATS);
                let addr = bw * (u64::from(addr) % ((space - words) / bw + 1));
                let mut d = Descriptor::nop();
                d.header[..4].copy_from_slice(&[
                    Opcode::EngLoad as u32,
                    u32::from(dmem),
                    addr as u32,
                    words as u32,
                ]);
                d.payload = random_words(data, words as usize);
                d
            }
        }
    }
}

/// Header words each opcode uses after `w0` (the rest, and `w0[31:8]`, are ignored).
fn used_words(op: u8) -> usize {
    match op {
        o if o == Opcode::Matvec as u8 => 6,
        o if o == Opcode::WeightLoad as u8 => 4,
        o if o == Opcode::EngLoad as u8 || o == Opcode::Token as u8 => 3,
        o if o == Opcode::VbufLoad as u8 || o == Opcode::VbufRead as u8 => 2,
        _ => 0,
    }
}

/// Fills the header bits the chip ignores with garbage (`seed` 0: leaves them 0).
fn junk(header: &mut [u32; 8], seed: u64) {
    if seed == 0 {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let used = used_words((header[0] & 0xff) as u8);
    header[0] = (header[0] & 0xff) | (rng.gen::<u32>() & !0xff);
    for w in header.iter_mut().skip(used + 1) {
        *w = rng.gen();
    }
}

/// A legal descriptor of the stream and the port it prefers.
#[derive(Clone, Debug)]
struct Item {
    op: Op,
    /// Seed of garbage in the ignored header bits, 0 for none.
    junk: u64,
    /// Header through CMD_FIFO when the case's mode lets each descriptor choose.
    fifo: bool,
}

/// One rule of the checks table, broken on purpose: [`Rule::header`] makes a header that
/// breaks it for any raw numbers, with every field the rule does not constrain random (in range
/// or not), so a check that comes later in the chip's order must not win.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    UnknownOpcode,
    MatvecGroupsZero,
    MatvecChunksZero,
    MatvecChunksPastAct,
    MatvecLgPkPastTiles,
    MatvecWeights,
    MatvecAbuf,
    MatvecRbuf,
    WeightLoadTiles,
    WeightLoadWordsZero,
    WeightLoadWeights,
    VbufLoadChunksZero,
    VbufLoadAbuf,
    VbufReadWordsZero,
    VbufReadRbuf,
    EngLoadSpace,
    EngLoadWordsZero,
    EngLoadAddrAlign,
    EngLoadWordsAlign,
    EngLoadProgram,
    EngLoadDmem,
    TokenFlags,
}

impl Rule {
    const ALL: [Rule; 22] = [
        Rule::UnknownOpcode,
        Rule::MatvecGroupsZero,
        Rule::MatvecChunksZero,
        Rule::MatvecChunksPastAct,
        Rule::MatvecLgPkPastTiles,
        Rule::MatvecWeights,
        Rule::MatvecAbuf,
        Rule::MatvecRbuf,
        Rule::WeightLoadTiles,
        Rule::WeightLoadWordsZero,
        Rule::WeightLoadWeights,
        Rule::VbufLoadChunksZero,
        Rule::VbufLoadAbuf,
        Rule::VbufReadWordsZero,
        Rule::VbufReadRbuf,
        Rule::EngLoadSpace,
        Rule::EngLoadWordsZero,
        Rule::EngLoadAddrAlign,
        Rule::EngLoadWordsAlign,
        Rule::EngLoadProgram,
        Rule::EngLoadDmem,
        Rule::TokenFlags,
    ];

    /// The code the rule is documented to raise.
    fn code(self) -> ErrorCode {
        use Rule::*;
        match self {
            UnknownOpcode => ErrorCode::Opcode,
            MatvecGroupsZero | MatvecChunksZero | MatvecChunksPastAct | MatvecLgPkPastTiles
            | WeightLoadWordsZero | VbufLoadChunksZero | VbufReadWordsZero | EngLoadSpace
            | EngLoadWordsZero | EngLoadAddrAlign | EngLoadWordsAlign | TokenFlags => {
                ErrorCode::Shape
            }
            MatvecWeights | WeightLoadWeights => ErrorCode::WeightRange,
            MatvecAbuf | VbufLoadAbuf => ErrorCode::AbufRange,
            MatvecRbuf | VbufReadRbuf => ErrorCode::RbufRange,
            WeightLoadTiles => ErrorCode::TileRange,
            EngLoadProgram => ErrorCode::ProgRange,
            EngLoadDmem => ErrorCode::DmemRange,
        }
    }

    /// A header breaking the rule, from seven raw numbers.
    fn header(self, cfg: &ChipConfig, r: [u32; 7]) -> [u32; 8] {
        let n = cfg.tiles() as u64;
        let lgn = u64::from(cfg.lg_tiles());
        let ww = cfg.weight_words as u64;
        let act = cfg.act_words as u64;
        let ab = cfg.abuf_words as u64;
        let rb = cfg.rbuf_words as u64;
        let bw = cfg.beat_words() as u64;
        // Any value: in range `0 .. lim` or any 32-bit number, by the low bit.
        let any = |x: u32, lim: u64| -> u32 {
            if x & 1 == 1 {
                x
            } else {
                (u64::from(x >> 1) % lim) as u32
            }
        };
        // A value at least `min` (at most 2^32 - 4): a little past it, or near 2^32.
        let past = |x: u32, min: u64| -> u32 {
            assert!(min <= u64::from(u32::MAX - 3));
            if x & 1 == 1 {
                u32::MAX - (x >> 1) % 4
            } else {
                (min + u64::from(x >> 1) % 300).min(u64::from(u32::MAX)) as u32
            }
        };
        // Whole beats at least `min`, below 2^32.
        let past_aligned = |x: u32, min: u64| -> u32 {
            let lo = min.div_ceil(bw) * bw;
            let top = (u64::from(u32::MAX) + 1 - bw) / bw * bw;
            if x & 1 == 1 {
                (top - bw * u64::from((x >> 1) % 4)).max(lo) as u32
            } else {
                (lo + bw * u64::from((x >> 1) % 300)).min(top) as u32
            }
        };
        let op = |o: Opcode| o as u32;
        use Rule::*;
        let w: [u32; 7] = match self {
            UnknownOpcode => {
                let ops = Opcode::ALL.len() as u32;
                [ops + r[0] % (256 - ops), r[1], r[2], r[3], r[4], r[5], r[6]]
            }
            MatvecGroupsZero | MatvecChunksZero | MatvecChunksPastAct | MatvecLgPkPastTiles => {
                let mut w = [
                    op(Opcode::Matvec),
                    any(r[0], ww),
                    any(r[1], ww + 1),
                    any(r[2], act + 1),
                    any(r[3], lgn + 1),
                    any(r[4], ab),
                    any(r[5], rb),
                ];
                match self {
                    MatvecGroupsZero => w[2] = 0,
                    MatvecChunksZero => w[3] = 0,
                    MatvecChunksPastAct => w[3] = past(r[2], act + 1),
                    _ => w[4] = past(r[3], lgn + 1),
                }
                w
            }
            MatvecWeights | MatvecAbuf | MatvecRbuf => {
                let lg = u64::from(r[3]) % (lgn + 1);
                let (pk, pr) = (1u64 << lg, n >> lg);
                let c = 1 + u64::from(r[2]) % act.min(ab / pk);
                let (base, g, input, out);
                if self == MatvecWeights {
                    if r[1] & 1 == 1 {
                        g = u64::from(past(r[1] >> 1, ww + 1));
                        base = u64::from(any(r[0], ww));
                    } else {
                        g = 1 + u64::from(r[1] >> 1) % ww;
                        base = u64::from(past(r[0], (ww + 1).saturating_sub(g * c)));
                    }
                    input = u64::from(any(r[4], ab));
                    out = u64::from(any(r[5], rb));
                } else {
                    g = 1 + u64::from(r[1]) % (ww / c);
                    base = u64::from(r[0]) % (ww - g * c + 1);
                    if self == MatvecAbuf {
                        input = u64::from(past(r[4], (ab + 1).saturating_sub(pk * c)));
                        out = u64::from(any(r[5], rb));
                    } else {
                        input = u64::from(r[4]) % (ab - pk * c + 1);
                        out = u64::from(past(r[5], (rb + 1).saturating_sub(pr * g)));
                    }
                }
                [
                    op(Opcode::Matvec),
                    base as u32,
                    g as u32,
                    c as u32,
                    lg as u32,
                    input as u32,
                    out as u32,
                ]
            }
            WeightLoadTiles => {
                let (first, last) = if r[0] & 1 == 1 {
                    let last = u64::from(r[1]) % n;
                    (past(r[2], last + 1), last as u32)
                } else {
                    (any(r[2], n), past(r[1], n))
                };
                [
                    op(Opcode::WeightLoad),
                    first,
                    last,
                    any(r[3], ww),
                    any(r[4], ww + 1),
                    r[5],
                    r[6],
                ]
            }
            WeightLoadWordsZero | WeightLoadWeights => {
                let first = r[0] % n as u32;
                let last = first + r[1] % (n as u32 - first);
                let (base, words) = if self == WeightLoadWordsZero {
                    (any(r[2], ww), 0)
                } else {
                    let words = if r[3] & 1 == 1 {
                        past(r[3] >> 1, ww + 1)
                    } else {
                        1 + (r[3] >> 1) % ww as u32
                    };
                    (past(r[2], (ww + 1).saturating_sub(u64::from(words))), words)
                };
                [op(Opcode::WeightLoad), first, last, base, words, r[4], r[5]]
            }
            VbufLoadChunksZero | VbufReadWordsZero => {
                let (o, lim) = if self == VbufLoadChunksZero {
                    (Opcode::VbufLoad, ab)
                } else {
                    (Opcode::VbufRead, rb)
                };
                [op(o), any(r[0], lim), 0, r[2], r[3], r[4], r[5]]
            }
            VbufLoadAbuf | VbufReadRbuf => {
                let (o, lim) = if self == VbufLoadAbuf {
                    (Opcode::VbufLoad, ab)
                } else {
                    (Opcode::VbufRead, rb)
                };
                let count = if r[1] & 1 == 1 {
                    past(r[1] >> 1, lim + 1)
                } else {
                    1 + (r[1] >> 1) % lim as u32
                };
                let addr = past(r[0], (lim + 1).saturating_sub(u64::from(count)));
                [op(o), addr, count, r[2], r[3], r[4], r[5]]
            }
            EngLoadSpace => [
                op(Opcode::EngLoad),
                past(r[0], 2),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
            ],
            EngLoadWordsZero | EngLoadAddrAlign | EngLoadWordsAlign => {
                let space = r[0] & 1;
                let (addr, words) = match self {
                    EngLoadWordsZero => (r[1], 0),
                    EngLoadAddrAlign => {
                        let a = r[1] - r[1] % bw as u32 + 1 + (r[3] % (bw as u32 - 1));
                        (a, r[2])
                    }
                    _ => {
                        let w = r[2] - r[2] % bw as u32 + 1 + (r[3] % (bw as u32 - 1));
                        (r[1], w)
                    }
                };
                [op(Opcode::EngLoad), space, addr, words, r[4], r[5], r[6]]
            }
            EngLoadProgram | EngLoadDmem => {
                let (space, size) = if self == EngLoadProgram {
                    (0, cfg.prog_words())
                } else {
                    (1, cfg.dmem_words as u64)
                };
                let words = if r[2] & 1 == 1 {
                    past_aligned(r[2] >> 1, size + 1)
                } else {
                    (bw * (1 + u64::from(r[2] >> 1) % 64)) as u32
                };
                let addr = past_aligned(r[1], (size + 1).saturating_sub(u64::from(words)));
                [op(Opcode::EngLoad), space, addr, words, r[4], r[5], r[6]]
            }
            TokenFlags => [
                op(Opcode::Token),
                r[0],
                r[1],
                r[2] | (4 << (r[3] % 30)),
                r[4],
                r[5],
                r[6],
            ],
        };
        let mut h = [0u32; 8];
        h[..7].copy_from_slice(&w);
        h[7] = r[6];
        h
    }
}

/// The illegal descriptor of a case.
#[derive(Clone, Debug)]
enum Bad {
    /// A header that breaks `rule`, then `extra` beats of garbage on the stream (a payload for
    /// a payload opcode: at least one beat when the header went through CMD_FIFO).
    Fields {
        rule: Rule,
        raw: [u32; 7],
        extra: u32,
    },
    /// `tlast` on header beat `beats` (of `1 ..` the header's beats) of a legal descriptor.
    HeaderCut { op: Op, beats: u32 },
    /// A payload cut short by `tlast` after `keep` beats (0: on the header's last beat).
    PayloadCut { op: Op, keep: u32 },
    /// No `tlast` on the packet's last beat.
    NoTlast { op: Op },
    /// `extra` beats of garbage after the payload, `tlast` on the last.
    PayloadLong { op: Op, extra: u32 },
    /// More CMD_FIFO words than it holds, without `CTRL.start`.
    Overflow { words: u32, data: u64 },
}

#[derive(Clone, Debug)]
struct BadItem {
    bad: Bad,
    junk: u64,
    fifo: bool,
    /// Where it goes: `at % (legal items + 1)`.
    at: u32,
}

/// Which port the descriptors of a case take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Stream,
    CmdFifo,
    /// Each descriptor by its own choice.
    Mixed,
}

#[derive(Clone, Debug)]
struct Case {
    /// Seed of the weights every tile starts with, and of the first buffers' contents.
    init: u64,
    mode: Mode,
    /// Stream timing: input gap and output ready, per mille, and the bench's seed.
    timing: (u32, u32, u64),
    items: Vec<Item>,
    bad: Option<BadItem>,
    /// The short legal stream after the soft reset.
    after: Vec<Item>,
    /// Weight base and result word of the product over the whole activation buffer.
    probe: (u32, u32),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let u = any::<u32>;
    prop_oneof![
        1 => Just(Op::Nop),
        1 => Just(Op::Fence),
        1 => Just(Op::PerfSnapshot),
        3 => (u(), u(), u(), u(), any::<u64>()).prop_map(|(first, span, base, words, data)| {
            Op::WeightLoad { first, span, base, words, data }
        }),
        3 => (u(), u(), any::<u64>())
            .prop_map(|(addr, chunks, data)| Op::VbufLoad { addr, chunks, data }),
        4 => (u(), u(), u(), u(), u(), u()).prop_map(
            |(lg_pk, chunks, groups, base, input, out)| Op::Matvec {
                lg_pk, chunks, groups, base, input, out,
            }
        ),
        3 => (u(), u()).prop_map(|(addr, words)| Op::VbufRead { addr, words }),
        2 => (any::<bool>(), u(), u(), any::<u64>())
            .prop_map(|(dmem, addr, beats, data)| Op::EngLoad { dmem, addr, beats, data }),
    ]
}

/// A legal descriptor with a payload.
fn payload_op_strategy() -> impl Strategy<Value = Op> {
    let u = any::<u32>;
    prop_oneof![
        (u(), u(), u(), u(), any::<u64>()).prop_map(|(first, span, base, words, data)| {
            Op::WeightLoad {
                first,
                span,
                base,
                words,
                data,
            }
        }),
        (u(), u(), any::<u64>()).prop_map(|(addr, chunks, data)| Op::VbufLoad {
            addr,
            chunks,
            data
        }),
        (any::<bool>(), u(), u(), any::<u64>()).prop_map(|(dmem, addr, beats, data)| Op::EngLoad {
            dmem,
            addr,
            beats,
            data
        }),
    ]
}

fn junk_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 1 => 1..u64::MAX]
}

fn item_strategy() -> impl Strategy<Value = Item> {
    (op_strategy(), junk_strategy(), any::<bool>()).prop_map(|(op, junk, fifo)| Item {
        op,
        junk,
        fifo,
    })
}

/// The fault a run of cases puts in every stream, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Legal,
    Fields(Rule),
    HeaderCut,
    PayloadCut,
    NoTlast,
    PayloadLong,
    Overflow,
}

impl Kind {
    /// Every kind: legal streams, each rule of the checks table, each framing fault, overflow.
    fn all() -> Vec<Kind> {
        let mut v = vec![Kind::Legal];
        v.extend(Rule::ALL.iter().map(|r| Kind::Fields(*r)));
        v.extend([
            Kind::HeaderCut,
            Kind::PayloadCut,
            Kind::NoTlast,
            Kind::PayloadLong,
            Kind::Overflow,
        ]);
        v
    }

    /// The code a fault of this kind raises.
    fn code(self) -> Option<ErrorCode> {
        match self {
            Kind::Legal => None,
            Kind::Fields(rule) => Some(rule.code()),
            Kind::HeaderCut | Kind::PayloadCut => Some(ErrorCode::StreamShort),
            Kind::NoTlast | Kind::PayloadLong => Some(ErrorCode::StreamLong),
            Kind::Overflow => Some(ErrorCode::CmdOverflow),
        }
    }
}

/// The illegal descriptor of a kind (none for [`Kind::Legal`]).
fn bad_strategy(kind: Kind) -> BoxedStrategy<Bad> {
    match kind {
        Kind::Legal => unreachable!("legal streams have no illegal descriptor"),
        Kind::Fields(rule) => (prop::array::uniform7(any::<u32>()), 0u32..4)
            .prop_map(move |(raw, extra)| Bad::Fields { rule, raw, extra })
            .boxed(),
        Kind::HeaderCut => (op_strategy(), any::<u32>())
            .prop_map(|(op, beats)| Bad::HeaderCut { op, beats })
            .boxed(),
        Kind::PayloadCut => (payload_op_strategy(), any::<u32>())
            .prop_map(|(op, keep)| Bad::PayloadCut { op, keep })
            .boxed(),
        Kind::NoTlast => op_strategy().prop_map(|op| Bad::NoTlast { op }).boxed(),
        Kind::PayloadLong => (payload_op_strategy(), 1u32..4)
            .prop_map(|(op, extra)| Bad::PayloadLong { op, extra })
            .boxed(),
        Kind::Overflow => (0u32..8, any::<u64>())
            .prop_map(|(words, data)| Bad::Overflow { words, data })
            .boxed(),
    }
}

/// Cases whose stream holds a fault of `kind` at a random place.
fn case_strategy(kind: Kind) -> impl Strategy<Value = Case> {
    let bad = if kind == Kind::Legal {
        Just(None).boxed()
    } else {
        (
            bad_strategy(kind),
            junk_strategy(),
            any::<bool>(),
            any::<u32>(),
        )
            .prop_map(|(bad, junk, fifo, at)| {
                Some(BadItem {
                    bad,
                    junk,
                    fifo,
                    at,
                })
            })
            .boxed()
    };
    let timing = prop_oneof![Just((0u32, 1000u32)), (0u32..700, 100u32..=1000),];
    (
        any::<u64>(),
        prop_oneof![
            2 => Just(Mode::Stream),
            1 => Just(Mode::CmdFifo),
            1 => Just(Mode::Mixed),
        ],
        (timing, any::<u64>()),
        prop::collection::vec(item_strategy(), 0..=10),
        bad,
        prop::collection::vec(item_strategy(), 1..=3),
        (any::<u32>(), any::<u32>()),
    )
        .prop_map(
            |(init, mode, ((gap, ready), seed), items, bad, after, probe)| Case {
                init,
                mode,
                timing: (gap, ready, seed),
                items,
                bad,
                after,
                probe,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Transmissions: what the host puts on the ports, descriptor by descriptor.
// ---------------------------------------------------------------------------------------------

/// One descriptor as the host sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tx {
    /// A packet on the command stream: header words (possibly cut) and payload words, `tlast`
    /// on the last beat when `tlast`.
    Stream { words: Vec<u32>, tlast: bool },
    /// The header through CMD_FIFO and `CTRL.start`; a payload descriptor's payload follows on
    /// the stream as a packet of its own.
    Fifo {
        header: [u32; 8],
        payload: Option<(Vec<u32>, bool)>,
    },
    /// Words pushed into CMD_FIFO without `CTRL.start`, more than it holds.
    Overflow { words: Vec<u32> },
}

fn has_payload(op: u8) -> bool {
    [Opcode::WeightLoad, Opcode::VbufLoad, Opcode::EngLoad]
        .iter()
        .any(|o| *o as u8 == op)
}

/// The transmission of descriptor `d` through the port chosen (`fifo`), `tlast` on the last
/// beat of its stream packet when `tlast`.
fn tx_of(cfg: &ChipConfig, d: &Descriptor, fifo: bool, tlast: bool) -> Tx {
    if fifo {
        let payload = (!d.payload.is_empty()).then(|| (d.payload.clone(), tlast));
        Tx::Fifo {
            header: d.header,
            payload,
        }
    } else {
        Tx::Stream {
            words: d.packet(cfg),
            tlast,
        }
    }
}

impl Case {
    fn fifo(&self, prefers: bool) -> bool {
        match self.mode {
            Mode::Stream => false,
            Mode::CmdFifo => true,
            Mode::Mixed => prefers,
        }
    }

    fn item_tx(&self, cfg: &ChipConfig, it: &Item) -> Tx {
        let mut d = it.op.descriptor(cfg);
        junk(&mut d.header, it.junk);
        tx_of(cfg, &d, self.fifo(it.fifo), true)
    }

    fn bad_tx(&self, cfg: &ChipConfig, b: &BadItem) -> Tx {
        let bw = cfg.beat_words();
        let hl = Descriptor::header_len(cfg);
        let fifo = self.fifo(b.fifo);
        let legal = |op: &Op| {
            let mut d = op.descriptor(cfg);
            junk(&mut d.header, b.junk);
            d
        };
        match &b.bad {
            Bad::Fields { rule, raw, extra } => {
                let mut header = rule.header(cfg, *raw);
                junk(&mut header, b.junk);
                let garbage = |beats: u32| random_words(u64::from(raw[6]), beats as usize * bw);
                if fifo {
                    let payload = has_payload((header[0] & 0xff) as u8)
                        .then(|| (garbage(1 + extra % 3), true));
                    Tx::Fifo { header, payload }
                } else {
                    let mut words = header.to_vec();
                    words.resize(hl, 0);
                    words.extend(garbage(*extra));
                    Tx::Stream { words, tlast: true }
                }
            }
            Bad::HeaderCut { op, beats } => {
                let hb = (hl / bw) as u32;
                let mut words = legal(op).packet(cfg);
                if hb < 2 {
                    // A header of one beat cannot be cut: drop the payload instead.
                    words.truncate(hl);
                } else {
                    words.truncate((1 + beats % (hb - 1)) as usize * bw);
                }
                Tx::Stream { words, tlast: true }
            }
            Bad::PayloadCut { op, keep } => {
                let d = legal(op);
                let beats = d.payload.len() / bw;
                let keep = *keep as usize % beats.max(1);
                if fifo && keep > 0 {
                    Tx::Fifo {
                        header: d.header,
                        payload: Some((d.payload[..keep * bw].to_vec(), true)),
                    }
                } else {
                    let mut words = d.packet(cfg);
                    words.truncate(hl + keep * bw);
                    Tx::Stream { words, tlast: true }
                }
            }
            Bad::NoTlast { op } => {
                // Through CMD_FIFO only a payload packet has a tlast to leave out.
                let d = legal(op);
                let fifo = fifo && !d.payload.is_empty();
                tx_of(cfg, &d, fifo, false)
            }
            Bad::PayloadLong { op, extra } => {
                let mut d = legal(op);
                d.payload
                    .extend(random_words(b.junk ^ 0x5eed, *extra as usize * bw));
                tx_of(cfg, &d, fifo, true)
            }
            Bad::Overflow { words, data } => Tx::Overflow {
                words: random_words(*data, CMD_FIFO_DEPTH + 1 + *words as usize),
            },
        }
    }

    /// The case's stream: the legal items with the illegal one at its place.
    fn main_txs(&self, cfg: &ChipConfig) -> Vec<Tx> {
        let mut txs: Vec<Tx> = self.items.iter().map(|it| self.item_tx(cfg, it)).collect();
        if let Some(b) = &self.bad {
            let at = b.at as usize % (txs.len() + 1);
            txs.insert(at, self.bad_tx(cfg, b));
        }
        txs
    }

    /// After the soft reset: the short legal stream, then a product over the whole activation
    /// buffer (every chunk, every tile's weights at the probe's base), a read-back of the whole
    /// result buffer and a FENCE, all on the stream.
    fn after_txs(&self, cfg: &ChipConfig) -> Vec<Tx> {
        let mut txs: Vec<Tx> = self.after.iter().map(|it| self.item_tx(cfg, it)).collect();
        let c = (cfg.abuf_words / cfg.tiles()).min(cfg.act_words) as u32;
        let (base, out) = (
            self.probe.0 % (cfg.weight_words as u32 - c + 1),
            self.probe.1 % cfg.rbuf_words as u32,
        );
        for d in [
            Descriptor::matvec(base, 1, c, cfg.lg_tiles(), 0, out),
            Descriptor::vbuf_read(0, cfg.rbuf_words as u32),
            Descriptor::fence(),
        ] {
            txs.push(tx_of(cfg, &d, false, true));
        }
        txs
    }
}

/// The initial state of a case: the weights of every tile (written by the backdoor) and the
/// stream that fills both buffers.
fn init_state(cfg: &ChipConfig, seed: u64) -> (Vec<Vec<u8>>, Vec<Tx>) {
    let wb = cfg.word_bytes();
    let weights: Vec<Vec<u8>> = (0..cfg.tiles())
        .map(|t| random_bytes(seed ^ (t as u64 + 1), cfg.weight_words * wb))
        .collect();
    let x: Vec<i8> = random_bytes(seed, cfg.abuf_words * cfg.kwidth)
        .into_iter()
        .map(|b| b as i8)
        .collect();
    // One MATVEC writes every result word: P_k 1, `RbufWords / N` row groups of one chunk.
    let groups = (cfg.rbuf_words / cfg.tiles()) as u32;
    let txs = [
        Descriptor::vbuf_load(cfg, 0, cfg.abuf_words as u32, &x),
        Descriptor::matvec(0, groups, 1, 0, 0, 0),
        Descriptor::fence(),
    ]
    .iter()
    .map(|d| tx_of(cfg, d, false, true))
    .collect();
    (weights, txs)
}

fn opcode_name(op: u8) -> String {
    Opcode::ALL
        .iter()
        .find(|o| **o as u8 == op)
        .map(|o| o.pkg_name().to_string())
        .unwrap_or_else(|| format!("opcode {op:#04x}"))
}

fn header_text(h: &[u32]) -> String {
    let mut s = opcode_name((h[0] & 0xff) as u8);
    for w in h {
        let _ = write!(s, " {w:#x}");
    }
    s
}

/// One line per transmission, for failure messages.
fn describe(cfg: &ChipConfig, txs: &[Tx]) -> String {
    let bw = cfg.beat_words();
    let hl = Descriptor::header_len(cfg);
    let mut s = String::new();
    for (i, tx) in txs.iter().enumerate() {
        let _ = match tx {
            Tx::Stream { words, tlast } => {
                let h = &words[..words.len().min(8)];
                writeln!(
                    s,
                    "  #{i} stream: {} | {} beats ({} payload words){}",
                    header_text(h),
                    words.len() / bw,
                    words.len().saturating_sub(hl),
                    if *tlast { "" } else { ", no tlast" }
                )
            }
            Tx::Fifo { header, payload } => writeln!(
                s,
                "  #{i} CMD_FIFO: {}{}",
                header_text(header),
                match payload {
                    None => String::new(),
                    Some((w, t)) => format!(
                        " | payload packet of {} beats{}",
                        w.len() / bw,
                        if *t { "" } else { ", no tlast" }
                    ),
                }
            ),
            Tx::Overflow { words } => {
                writeln!(s, "  #{i} CMD_FIFO: {} words without start", words.len())
            }
        };
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------------

/// What the chip must do with a list of transmissions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Prediction {
    /// Output beats (`beat_words` words each) and their `tlast`.
    out: Vec<u32>,
    last: Vec<bool>,
    /// The first error: code and descriptor index.
    stop: Option<(ErrorCode, u32)>,
    /// Descriptors completed.
    done: u32,
    fence: bool,
    snapshot: bool,
}

/// The command processor's state the host can observe: weights, activation buffer, result
/// buffer (the token engine's memories are written but never read back here).
struct Model {
    cfg: ChipConfig,
    weights: Vec<Vec<u8>>,
    abuf: Vec<u8>,
    rbuf: Vec<i32>,
}

impl Model {
    fn new(cfg: &ChipConfig, weights: Vec<Vec<u8>>) -> Model {
        Model {
            cfg: cfg.clone(),
            weights,
            abuf: vec![0; cfg.abuf_words * cfg.kwidth],
            rbuf: vec![0; cfg.rbuf_words * cfg.lanes],
        }
    }

    /// The checks of `docs/architecture.md` in the chip's order: the first broken rule's code.
    fn check(&self, h: &[u32; 8]) -> Option<ErrorCode> {
        let c = &self.cfg;
        let w = |i: usize| u64::from(h[i]);
        let (n, lgn) = (c.tiles() as u64, u64::from(c.lg_tiles()));
        let (ww, ab, rb) = (
            c.weight_words as u64,
            c.abuf_words as u64,
            c.rbuf_words as u64,
        );
        let op = (h[0] & 0xff) as u8;
        let is = |o: Opcode| op == o as u8;
        if is(Opcode::Nop) || is(Opcode::Fence) || is(Opcode::PerfSnapshot) {
            None
        } else if is(Opcode::Matvec) {
            if w(2) == 0 || w(3) == 0 || w(3) > c.act_words as u64 || w(4) > lgn {
                Some(ErrorCode::Shape)
            } else if w(1) + w(2) * w(3) > ww {
                Some(ErrorCode::WeightRange)
            } else if w(5) + (w(3) << w(4)) > ab {
                Some(ErrorCode::AbufRange)
            } else if w(6) + (w(2) << (lgn - w(4))) > rb {
                Some(ErrorCode::RbufRange)
            } else {
                None
            }
        } else if is(Opcode::WeightLoad) {
            if w(1) > w(2) || w(2) >= n {
                Some(ErrorCode::TileRange)
            } else if w(4) == 0 {
                Some(ErrorCode::Shape)
            } else if w(3) + w(4) > ww {
                Some(ErrorCode::WeightRange)
            } else {
                None
            }
        } else if is(Opcode::VbufLoad) || is(Opcode::VbufRead) {
            let lim = if is(Opcode::VbufLoad) { ab } else { rb };
            if w(2) == 0 {
                Some(ErrorCode::Shape)
            } else if w(1) + w(2) > lim {
                Some(if is(Opcode::VbufLoad) {
                    ErrorCode::AbufRange
                } else {
                    ErrorCode::RbufRange
                })
            } else {
                None
            }
        } else if is(Opcode::EngLoad) || is(Opcode::Token) {
            let d = Descriptor {
                header: *h,
                payload: Vec::new(),
            };
            d.check_engine(c).err()
        } else {
            Some(ErrorCode::Opcode)
        }
    }

    /// Payload words of a header that passed the checks.
    fn payload_words(&self, h: &[u32; 8]) -> usize {
        let c = &self.cfg;
        match (h[0] & 0xff) as u8 {
            o if o == Opcode::WeightLoad as u8 => {
                (h[2] - h[1] + 1) as usize * h[4] as usize * c.word_bytes() / 4
            }
            o if o == Opcode::VbufLoad as u8 => h[2] as usize * c.kwidth / 4,
            o if o == Opcode::EngLoad as u8 => h[3] as usize,
            _ => 0,
        }
    }

    /// Writes the whole units (weight words, chunks) of `words`, a payload or the part of it
    /// that arrived.
    fn write(&mut self, h: &[u32; 8], words: &[u32]) {
        let c = &self.cfg;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        match (h[0] & 0xff) as u8 {
            o if o == Opcode::WeightLoad as u8 => {
                let wb = c.word_bytes();
                let (first, base, per) = (h[1] as usize, h[3] as usize, h[4] as usize);
                for (u, word) in bytes.chunks_exact(wb).enumerate() {
                    let (t, a) = (first + u / per, base + u % per);
                    self.weights[t][a * wb..(a + 1) * wb].copy_from_slice(word);
                }
            }
            o if o == Opcode::VbufLoad as u8 => {
                let kw = c.kwidth;
                let addr = h[1] as usize;
                for (u, chunk) in bytes.chunks_exact(kw).enumerate() {
                    let a = addr + u;
                    self.abuf[a * kw..(a + 1) * kw].copy_from_slice(chunk);
                }
            }
            // ENG_LOAD: the token engine's memories, not modelled.
            _ => {}
        }
    }

    /// MATVEC: for tile `t` (row partition `t >> lg_pk`, K partition `t & (P_k - 1)`), weight
    /// word `base + g·C + c`, byte `j·Lanes + l` = row `(rp·G + g)·Lanes + l`, column
    /// `(kp·C + c)·KWidth + j`; the input is chunks `in … in + P_k·C − 1`; row `r` lands in
    /// result word `out + r / Lanes`, lane `r mod Lanes`.
    fn matvec(&mut self, h: &[u32; 8]) {
        let c = &self.cfg;
        let (base, g, ch, lg) = (h[1] as usize, h[2] as usize, h[3] as usize, h[4]);
        let (input, out) = (h[5] as usize, h[6] as usize);
        let (lanes, kw, wb) = (c.lanes, c.kwidth, c.word_bytes());
        let pk = 1usize << lg;
        let pr = c.tiles() >> lg;
        let rows = pr * g * lanes;
        let k = pk * ch * kw;
        let mut w = vec![0i8; rows * k];
        for t in 0..c.tiles() {
            let (rp, kp) = (t >> lg, t & (pk - 1));
            for gi in 0..g {
                for ci in 0..ch {
                    let a = base + gi * ch + ci;
                    let word = &self.weights[t][a * wb..(a + 1) * wb];
                    for l in 0..lanes {
                        let r = (rp * g + gi) * lanes + l;
                        for j in 0..kw {
                            let col = (kp * ch + ci) * kw + j;
                            w[r * k + col] = word[c.weight_byte(l, j)] as i8;
                        }
                    }
                }
            }
        }
        let x: Vec<i8> = self.abuf[input * kw..input * kw + k]
            .iter()
            .map(|b| *b as i8)
            .collect();
        let mut y = vec![0i32; rows];
        matvec_i32(&w, rows, k, &x, &mut y);
        self.rbuf[out * lanes..out * lanes + rows].copy_from_slice(&y);
    }

    /// Runs a legal descriptor whose payload (if any) arrived whole.
    fn execute(&mut self, h: &[u32; 8], payload: &[u32], p: &mut Prediction) {
        let c = self.cfg.clone();
        match (h[0] & 0xff) as u8 {
            o if o == Opcode::Matvec as u8 => self.matvec(h),
            o if o == Opcode::VbufRead as u8 => {
                let (addr, n) = (h[1] as usize, h[2] as usize);
                let words = &self.rbuf[addr * c.lanes..(addr + n) * c.lanes];
                let beats = words.len() / c.beat_words();
                p.out.extend(words.iter().map(|v| *v as u32));
                p.last.extend((0..beats).map(|b| b + 1 == beats));
            }
            o if o == Opcode::Fence as u8 => p.fence = true,
            o if o == Opcode::PerfSnapshot as u8 => p.snapshot = true,
            o if o == Opcode::Token as u8 => panic!("a legal TOKEN is not modelled"),
            _ => self.write(h, payload),
        }
    }

    /// A payload that arrived as `words` with `tlast` on its last beat or not.
    fn payload(
        &mut self,
        h: &[u32; 8],
        words: &[u32],
        tlast: bool,
        p: &mut Prediction,
    ) -> Result<(), ErrorCode> {
        let need = self.payload_words(h);
        if words.len() < need {
            // Generated packets shorter than their descriptor always end with tlast.
            assert!(tlast, "a short packet without tlast runs into the next one");
            self.write(h, words);
            Err(ErrorCode::StreamShort)
        } else if words.len() == need && tlast {
            self.execute(h, words, p);
            Ok(())
        } else {
            // No tlast on the payload's last beat: every word is written, then the error.
            self.write(h, &words[..need]);
            Err(ErrorCode::StreamLong)
        }
    }

    fn step(&mut self, tx: &Tx, p: &mut Prediction) -> Result<(), ErrorCode> {
        let hl = Descriptor::header_len(&self.cfg);
        match tx {
            Tx::Overflow { .. } => Err(ErrorCode::CmdOverflow),
            Tx::Stream { words, tlast } => {
                if words.len() < hl {
                    assert!(
                        tlast,
                        "a cut header without tlast runs into the next packet"
                    );
                    return Err(ErrorCode::StreamShort);
                }
                let h: [u32; 8] = words[..8].try_into().expect("eight words");
                if let Some(code) = self.check(&h) {
                    return Err(code);
                }
                let rest = &words[hl..];
                if self.payload_words(&h) == 0 {
                    if !rest.is_empty() || !tlast {
                        return Err(ErrorCode::StreamLong);
                    }
                    self.execute(&h, &[], p);
                    Ok(())
                } else if rest.is_empty() {
                    assert!(tlast, "a header without tlast runs into the next packet");
                    Err(ErrorCode::StreamShort)
                } else {
                    self.payload(&h, rest, *tlast, p)
                }
            }
            Tx::Fifo { header, payload } => {
                if let Some(code) = self.check(header) {
                    return Err(code);
                }
                match payload {
                    None => {
                        assert_eq!(self.payload_words(header), 0, "a payload is missing");
                        self.execute(header, &[], p);
                        Ok(())
                    }
                    Some((words, tlast)) => self.payload(header, words, *tlast, p),
                }
            }
        }
    }

    /// Runs the transmissions in order, as the command processor does: up to the first error.
    fn run(&mut self, txs: &[Tx]) -> Prediction {
        let mut p = Prediction::default();
        for (i, tx) in txs.iter().enumerate() {
            if let Err(code) = self.step(tx, &mut p) {
                p.stop = Some((code, i as u32));
                break;
            }
            p.done += 1;
        }
        p
    }
}

// ---------------------------------------------------------------------------------------------
// The chip side.
// ---------------------------------------------------------------------------------------------

type R<T> = Result<T, String>;

fn dev_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Waits until `STATUS.done_count` reaches `n` or the chip stops on an error.
fn wait_done(chip: &mut Chip, n: u32) -> R<()> {
    let mut waited = 0;
    loop {
        let s = chip.dev.status().map_err(dev_err("STATUS"))?;
        if s.error || u32::from(s.done_count) >= n {
            return Ok(());
        }
        if waited > BUDGET {
            return Err(format!(
                "{waited} cycles waiting for {n} descriptors to complete ({} did)",
                s.done_count
            ));
        }
        chip.run(32);
        waited += 32;
    }
}

/// Puts the transmissions on the ports. A CMD_FIFO header waits for nothing unless a stream
/// packet must follow it (a payload, or the next descriptor): the stream is taken before
/// CMD_FIFO whenever both have something, so the host orders them by waiting for
/// `STATUS.done_count`.
fn send(chip: &mut Chip, txs: &[Tx]) -> R<()> {
    let mut i = 0;
    while i < txs.len() {
        match &txs[i] {
            Tx::Stream { words, tlast } => {
                chip.sim()
                    .stream_send(words, *tlast, BUDGET)
                    .map_err(dev_err(&format!("descriptor {i}: stream")))?;
                i += 1;
            }
            Tx::Fifo { payload: None, .. } => {
                // Up to two headers at a time (the FIFO holds 16 words), then start and wait.
                let mut j = i;
                while j < txs.len() && j < i + CMD_FIFO_DEPTH / 8 {
                    let Tx::Fifo {
                        header,
                        payload: None,
                    } = &txs[j]
                    else {
                        break;
                    };
                    for w in header {
                        chip.dev
                            .cmd_fifo_push(*w)
                            .map_err(dev_err(&format!("descriptor {j}: CMD_FIFO")))?;
                    }
                    j += 1;
                }
                chip.dev.start().map_err(dev_err("CTRL.start"))?;
                wait_done(chip, j as u32)?;
                i = j;
            }
            Tx::Fifo {
                header,
                payload: Some((words, tlast)),
            } => {
                // Every earlier descriptor completed and the header taken before the payload
                // appears on the stream (which would otherwise be read as a header).
                wait_done(chip, i as u32)?;
                for w in header {
                    chip.dev
                        .cmd_fifo_push(*w)
                        .map_err(dev_err(&format!("descriptor {i}: CMD_FIFO")))?;
                }
                chip.dev.start().map_err(dev_err("CTRL.start"))?;
                chip.run(32);
                chip.sim()
                    .stream_send(words, *tlast, BUDGET)
                    .map_err(dev_err(&format!("descriptor {i}: payload packet")))?;
                i += 1;
            }
            Tx::Overflow { words } => {
                wait_done(chip, i as u32)?;
                for w in words {
                    chip.dev
                        .cmd_fifo_push(*w)
                        .map_err(dev_err(&format!("descriptor {i}: CMD_FIFO")))?;
                }
                i += 1;
            }
        }
    }
    Ok(())
}

/// Soft reset, the output drained, interrupts cleared, a counter snapshot taken: descriptor
/// indices count from 0 again. Returns the snapshot's cycle count.
fn fresh(chip: &mut Chip) -> R<u64> {
    chip.dev.soft_reset().map_err(dev_err("soft reset"))?;
    let stray = chip.dev.drain_output().map_err(dev_err("drain"))?;
    if stray != 0 {
        return Err(format!("{stray} output beats left before a soft reset"));
    }
    chip.dev
        .clear_interrupts()
        .map_err(dev_err("INTR_STATUS"))?;
    let s = chip.dev.status().map_err(dev_err("STATUS"))?;
    if s.busy || s.error || s.done_count != 0 {
        return Err(format!("after a soft reset: {s:?}"));
    }
    Ok(chip
        .dev
        .perf_snapshot()
        .map_err(dev_err("CTRL.snapshot"))?
        .cycles)
}

/// Sends `txs` from a fresh chip and compares everything observable with the model's
/// prediction; leaves the chip idle (results written), possibly stopped on the error.
fn exchange(chip: &mut Chip, model: &mut Model, txs: &[Tx]) -> R<Prediction> {
    let want = model.run(txs);
    let snap0 = fresh(chip)?;
    send(chip, txs)?;
    let bw = chip.cfg.beat_words();
    // Stopped on the error, or idle with every descriptor completed.
    let mut waited = 0;
    let status = loop {
        let s = chip.dev.status().map_err(dev_err("STATUS"))?;
        let settled = if want.stop.is_some() {
            s.error && !s.busy
        } else {
            s.error || (!s.busy && u32::from(s.done_count) >= want.done)
        };
        if settled {
            break s;
        }
        if waited > BUDGET {
            return Err(format!("no end after {waited} cycles: {s:?}"));
        }
        chip.run(32);
        waited += 32;
    };
    let (code, index) = chip.dev.error().map_err(dev_err("ERROR"))?;
    let got_stop = status.error.then_some((code, index));
    if got_stop != want.stop {
        return Err(format!(
            "ERROR (code, descriptor): chip {got_stop:?}, model {:?}",
            want.stop
        ));
    }
    if u32::from(status.done_count) != want.done {
        return Err(format!(
            "STATUS.done_count: chip {}, model {}",
            status.done_count, want.done
        ));
    }
    // Output: exactly the predicted beats, then nothing.
    let beats = want.last.len();
    let rx = if beats > 0 {
        chip.sim()
            .stream_recv(beats, BUDGET)
            .map_err(dev_err("output"))?
    } else {
        Default::default()
    };
    for b in 0..beats {
        let (g, w) = (
            &rx.words[b * bw..(b + 1) * bw],
            &want.out[b * bw..(b + 1) * bw],
        );
        if g != w || rx.last[b] != want.last[b] {
            return Err(format!(
                "output beat {b} of {beats}: chip {g:x?} tlast {}, model {w:x?} tlast {}",
                rx.last[b], want.last[b]
            ));
        }
    }
    chip.run(64);
    let stray = chip.dev.drain_output().map_err(dev_err("drain"))?;
    if stray != 0 {
        return Err(format!("{stray} output beats past the {beats} predicted"));
    }
    let (done, error) = chip.dev.interrupts().map_err(dev_err("INTR_STATUS"))?;
    if (done, error) != (want.fence, want.stop.is_some()) {
        return Err(format!(
            "INTR_STATUS (done, error): chip {:?}, model {:?}",
            (done, error),
            (want.fence, want.stop.is_some())
        ));
    }
    let snap = chip.dev.perf().map_err(dev_err("PERF"))?.cycles != snap0;
    if snap != want.snapshot {
        return Err(format!(
            "PERF_SNAPSHOT: chip {}, model {}",
            if snap {
                "copied the counters"
            } else {
                "did not"
            },
            if want.snapshot { "ran one" } else { "ran none" }
        ));
    }
    Ok(want)
}

/// Every tile's weights (backdoor) against the model.
fn check_weights(chip: &mut Chip, model: &Model) -> R<()> {
    let (ww, wb) = (chip.cfg.weight_words, chip.cfg.word_bytes());
    for (t, want) in model.weights.iter().enumerate() {
        let got = chip
            .sim()
            .backdoor_read(t, 0, ww, wb)
            .map_err(dev_err("backdoor read"))?;
        if let Some(a) = (0..ww).find(|a| got[a * wb..(a + 1) * wb] != want[a * wb..(a + 1) * wb]) {
            return Err(format!(
                "weights of tile {t}, word {a}: chip {:02x?}, model {:02x?}",
                &got[a * wb..(a + 1) * wb],
                &want[a * wb..(a + 1) * wb]
            ));
        }
    }
    Ok(())
}

/// What a run exercised, summed over its cases.
#[derive(Debug, Default)]
struct Tally {
    cases: u32,
    /// Descriptors of the cases' streams, and those that went through CMD_FIFO.
    descriptors: u32,
    fifo: u32,
    /// Output beats compared, cycles simulated.
    beats: usize,
    cycles: u64,
    /// Streams stopped, by error code.
    stops: Vec<(ErrorCode, u32)>,
}

impl Tally {
    fn stop(&mut self, code: ErrorCode) {
        match self.stops.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.stops.push((code, 1)),
        }
    }
}

/// One case on `chip`: its initial state, its stream, then a soft reset and the stream after.
fn run_case(chip: &mut Chip, case: &Case, tally: &mut Tally) -> R<()> {
    let c0 = chip.cycles();
    let cfg = chip.cfg.clone();
    let (gap, ready, seed) = case.timing;
    chip.stream_timing(gap, ready, seed);
    let (weights, init) = init_state(&cfg, case.init);
    for (t, w) in weights.iter().enumerate() {
        chip.sim()
            .backdoor_write(t, 0, cfg.word_bytes(), w)
            .map_err(dev_err("backdoor write"))?;
    }
    let mut model = Model::new(&cfg, weights);
    exchange(chip, &mut model, &init).map_err(|e| format!("initial state: {e}"))?;
    let main = case.main_txs(&cfg);
    let p = exchange(chip, &mut model, &main).map_err(|e| format!("stream: {e}"))?;
    tally.descriptors += main.len() as u32;
    tally.fifo += main
        .iter()
        .filter(|t| !matches!(t, Tx::Stream { .. }))
        .count() as u32;
    tally.beats += p.last.len();
    if let Some((code, _)) = p.stop {
        tally.stop(code);
    }
    let after = case.after_txs(&cfg);
    let p = exchange(chip, &mut model, &after).map_err(|e| format!("after the soft reset: {e}"))?;
    if p.stop.is_some() {
        return Err(format!(
            "the stream after the soft reset stopped: {:?}",
            p.stop
        ));
    }
    tally.beats += p.last.len();
    check_weights(chip, &model).map_err(|e| format!("at the end: {e}"))?;
    tally.cases += 1;
    tally.cycles += chip.cycles() - c0;
    Ok(())
}

fn open_chip() -> Chip {
    let mut chip = Chip::open("tiny");
    chip.dev.timeout_cycles = BUDGET;
    chip.dev
        .enable_interrupts(true, true)
        .expect("interrupt enables");
    chip
}

/// Cases of this run: `PROPTEST_CASES`, else `TESSERA_CASES` (and the scale), else [`CASES`];
/// spread evenly over the kinds of fault, at least one each.
fn cases_per_kind(kinds: usize) -> u32 {
    let total = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| tessera_verif::tb::case_count(CASES));
    total.div_ceil(kinds as u32).max(1)
}

#[test]
fn chip_random_command_streams() {
    if !have_verilator() {
        return;
    }
    let seed = seed(TEST);
    let cfg = tiny();
    let kinds = Kind::all();
    let per_kind = cases_per_kind(kinds.len());
    // One model for every case; a failing case leaves it behind and the next opens a fresh one.
    let slot: RefCell<Option<Chip>> = RefCell::new(None);
    let tally = RefCell::new(Tally::default());
    let t0 = std::time::Instant::now();
    for (k, kind) in kinds.iter().enumerate() {
        let result = proptest_runner(seed, k, per_kind, 1000).run(&case_strategy(*kind), |case| {
            let mut chip = slot.borrow_mut().take().unwrap_or_else(open_chip);
            run_case(&mut chip, &case, &mut tally.borrow_mut()).map_err(TestCaseError::fail)?;
            *slot.borrow_mut() = Some(chip);
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, case)) => {
                let mut s = format!(
                    "[{TEST}] {kind:?}: failed: {reason}\nshrunk case: {case:#?}\nits stream:\n"
                );
                s.push_str(&describe(&cfg, &case.main_txs(&cfg)));
                s.push_str("then, after the soft reset:\n");
                s.push_str(&describe(&cfg, &case.after_txs(&cfg)));
                let _ = write!(
                    s,
                    "replay: TESSERA_SEED={seed} cargo test -p tessera-verif --test chip -- \
                     streams::{TEST} --exact (PROPTEST_CASES sets the number of cases)"
                );
                panic!("{s}");
            }
            Err(TestError::Abort(reason)) => {
                panic!("[{TEST}] {kind:?}: aborted: {reason} (TESSERA_SEED={seed})")
            }
        }
    }
    let t = tally.borrow();
    eprintln!(
        "[{TEST}] {} cases ({per_kind} per kind of fault) in {:.1} s: {} descriptors ({} through \
         CMD_FIFO), {} output beats compared, {} cycles; stopped by {:?}",
        t.cases,
        t0.elapsed().as_secs_f64(),
        t.descriptors,
        t.fifo,
        t.beats,
        t.cycles,
        t.stops
    );
}

/// The generator against the model, without a chip: a fault of each kind (every rule of the
/// checks table with random other fields, through either port; each framing fault; a
/// CMD_FIFO overflow) raises its documented code at its place, nothing completes after it, and
/// legal streams run to the end. Keeps the random cases honest (a broken rule always breaks)
/// and the model's order of checks where the documentation puts it.
#[test]
fn chip_random_command_streams_cover_every_check() {
    let cfg = tiny();
    for (k, kind) in Kind::all().into_iter().enumerate() {
        proptest_runner(1, k, 40, 1000)
            .run(&case_strategy(kind), |case| {
                let (weights, _) = init_state(&cfg, case.init);
                let mut model = Model::new(&cfg, weights);
                let txs = case.main_txs(&cfg);
                let p = model.run(&txs);
                let at = case
                    .bad
                    .as_ref()
                    .map(|b| b.at % (case.items.len() as u32 + 1));
                let want = kind.code().zip(at);
                prop_assert_eq!(p.stop, want, "{:?}\n{}", kind, describe(&cfg, &txs));
                prop_assert_eq!(p.done, at.unwrap_or(txs.len() as u32));
                let after = model.run(&case.after_txs(&cfg));
                prop_assert_eq!(after.stop, None);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
}
