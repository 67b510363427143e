//! Soak test of the token engine on `tiny`: many random small models and many tokens through
//! the RTL, each token compared with the reference interpreter
//! (`tessera_driver::token::interp::Engine`), under everything the driver must live with at
//! once.
//!
//! - **Models and programs.** A new random model (GQA 1 to 4, head_dim 2 to 8, 1 to 3 layers,
//!   tied or untied, vocabulary 2 to 96, context 2 to 12) every 2 to 6 contexts' worth of
//!   tokens, compiled for `tiny` and loaded over whatever was there: weights by WEIGHT_LOAD or
//!   the backdoor, program and constants by ENG_LOAD.
//! - **Tokens.** Positions drawn from those whose KV entries are all written (the next one most
//!   often, so the cache fills, then the last one again and again), greedy or random tokens,
//!   logits asked for at random.
//! - **Backpressure.** Random input gaps and output `TREADY` per model, changed now and then
//!   in the middle of one.
//! - **Legal faults**, whose code and instruction index must equal the interpreter's: a full KV
//!   cache (`ErrKvFull`), a token past the vocabulary (`ErrToken`), illegal instructions patched
//!   into the program at random places (unknown opcode, reserved bit, reserved word, MATVEC
//!   past the weight memory or with no row group, ADD past VMEM); the runtime soft-resets the
//!   chip and the next token must be bit-exact again.
//! - **Soft resets** between tokens, and in the middle of a token (the position is then run
//!   again).
//! - **The UART path.** Part of the time the driver reaches the chip through the UART transport
//!   (`UartTransport`, the board protocol's frames with CRC, sequence numbers and retries) over
//!   a link with injected faults (`FaultyLink`: bytes dropped and bits flipped both ways,
//!   periodically and one at a time) in front of the board side of the protocol
//!   (`testing::Board`), which drives this same RTL chip. The link's faults are spaced so that
//!   [`UART_TRIES`] tries of a request always get through: any link error is a driver failure.
//!
//! Oracle: the interpreter, bit for bit (`NEXT`, the instruction count, the logits when asked
//! for), or the same fault code and pc. No wait is unbounded: the runtime's waits are counted in
//! cycles ([`WAIT_CYCLES`]), and a watchdog thread ends a run that makes no progress for
//! [`HANG_SECONDS`] of wall time (it kills the chip model, so the stuck call returns an error
//! and the test fails naming the hang). The first mismatch, hang or driver error stops the run
//! with the summary, the event that failed and the replay command.
//!
//! `chip_soak_nightly_random_tokens` runs `TESSERA_SOAK_TOKENS` tokens (default
//! [`NIGHTLY_TOKENS`]) or until `TESSERA_SOAK_SECONDS` have passed; `chip_soak_short` runs 48
//! tokens with every kind of event, in the quick set. Both print the seed (replay with
//! `TESSERA_SEED`: the same seed runs the same events, whatever the budget) and one summary line
//! (`soak: …`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::token::{Instr, INSTR_WORDS};
use tessera_abi::{ChipConfig, ErrorCode};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::runtime::LoadMode;
use tessera_driver::testing::{Board, BoardLink, Fault as LinkFault, Faults, FaultyLink};
use tessera_driver::token::interp::{Engine, Fault, TokenOut};
use tessera_driver::token::{plan, Plan};
use tessera_driver::token_runtime::TokenRuntime;
use tessera_driver::transport::Received;
use tessera_driver::uart::{UartOptions, UartTransport};
use tessera_driver::{Device, Result, SimControl, Transport};
use tessera_golden::model::Precision;
use tessera_sim::{SimTransport, StreamTiming};

use crate::env::*;

/// Cycle budget of any one wait of the driver (an output beat, an idle chip, a stream
/// transfer): far above what a token of these models takes under the heaviest backpressure
/// drawn here, far below a hang.
const WAIT_CYCLES: u64 = 4_000_000;

/// Wall time without a finished event after which the run is a hang.
const HANG_SECONDS: u64 = 180;

/// Tokens of the nightly run when `TESSERA_SOAK_TOKENS` is not set.
const NIGHTLY_TOKENS: u64 = 5000;

/// Tokens of the short run in the quick set.
const SHORT_TOKENS: u64 = 48;

/// Tries of a UART request. The largest frame is about 1,040 bytes, and only one direction of a
/// request carries large frames (a STREAM_SEND's request; the runtime receives a beat per
/// STREAM_RECV): 8 tries span at most 8,320 bytes of that direction and a few hundred of the
/// other. Every periodic fault has a period of at least [`MIN_FAULT_PERIOD`], so each of the two
/// periodic faults per direction hits at most 2 tries in the large direction and 1 in the small
/// one, and one single fault is pending at a time: at most 7 of 8 tries can fail.
const UART_TRIES: u32 = 8;

/// Shortest period of a periodic link fault, bytes.
const MIN_FAULT_PERIOD: u64 = 4200;

/// The link between the UART transport and the board that drives the RTL chip.
type BoardSide = FaultyLink<BoardLink<SimTransport>>;

/// The chip as the soak's driver sees it: the RTL chip either straight behind the simulator's
/// transport, or behind the UART transport, the faulty link and the board (`via_uart`). The
/// simulation controls (backdoor, cycle count, stream timing, running the clock) always go
/// straight to the simulator; `idle` runs the chip's clock on either path (a board's clock runs
/// while the host waits).
struct SoakTransport {
    uart: UartTransport<BoardSide>,
    via_uart: bool,
    width: usize,
}

impl SoakTransport {
    fn chip(&mut self) -> &mut SimTransport {
        &mut self.uart.link().link.board.chip
    }

    fn link(&mut self) -> &mut BoardSide {
        self.uart.link()
    }
}

impl Transport for SoakTransport {
    fn stream_width(&self) -> usize {
        self.width
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        if self.via_uart {
            self.uart.reg_read(addr)
        } else {
            self.chip().reg_read(addr)
        }
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        if self.via_uart {
            self.uart.reg_write(addr, value)
        } else {
            self.chip().reg_write(addr, value)
        }
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        if self.via_uart {
            self.uart.stream_send(words, tlast, timeout_cycles)
        } else {
            self.chip().stream_send(words, tlast, timeout_cycles)
        }
    }

    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        if self.via_uart {
            self.uart.stream_recv(beats, timeout_cycles)
        } else {
            self.chip().stream_recv(beats, timeout_cycles)
        }
    }

    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        if self.via_uart {
            self.uart.wait_irq(timeout_cycles)
        } else {
            self.chip().wait_irq(timeout_cycles)
        }
    }

    fn idle(&mut self, cycles: u64) -> Result<()> {
        self.chip().run(cycles)
    }

    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(self.chip())
    }
}

/// How long a run goes.
#[derive(Clone, Copy, Debug)]
struct Budget {
    tokens: u64,
    seconds: Option<f64>,
    /// Every kind of event in every model (the short run), rather than at random.
    every_event: bool,
    /// A fresh seed unless `TESSERA_SEED` is set (the nightly run); else the chip tests'
    /// fixed default.
    fresh_seed: bool,
}

/// The events of a token slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Token,
    KvFull,
    BadToken,
    IllegalProgram,
    ResetMidToken,
    ResetIdle,
}

const SPECIAL: [Event; 5] = [
    Event::KvFull,
    Event::BadToken,
    Event::IllegalProgram,
    Event::ResetMidToken,
    Event::ResetIdle,
];

/// Running totals.
#[derive(Debug, Default)]
struct Totals {
    /// Tokens run on the chip and the interpreter and compared.
    tokens: u64,
    /// ... of which ended in a fault (compared code and pc).
    faults: u64,
    models: u64,
    front_door: u64,
    kv_full: u64,
    bad_token: u64,
    illegal: u64,
    reset_mid: u64,
    reset_after: u64,
    reset_idle: u64,
    /// Tokens whose every request went over the UART path.
    uart_tokens: u64,
    /// Bytes dropped and flipped on the link (both directions).
    link_dropped: u64,
    link_flipped: u64,
    /// Retried UART requests, and why.
    retries: u64,
    board_bad_crc: u64,
    bad_responses: u64,
    no_response: u64,
    requests: u64,
    timing_changes: u64,
    last_positions: u64,
    cycles: u64,
    mismatches: u64,
    hangs: u64,
}

/// What the watchdog watches: a beat per finished event, and what the run is doing.
struct Watch {
    beat: AtomicU64,
    done: AtomicBool,
    hung: AtomicBool,
    doing: Mutex<String>,
    /// The chip model's process, killed on a hang (0: none yet).
    pid: AtomicU64,
}

/// The soak: chip, interpreter, generator and totals.
struct Soak {
    test: &'static str,
    seed: u64,
    budget: Budget,
    rng: ChaCha8Rng,
    rt: TokenRuntime<SoakTransport>,
    cfg: ChipConfig,
    t: Totals,
    t0: Instant,
    watch: Arc<Watch>,
    /// When the last progress line was printed.
    last_progress: Instant,
}

type Outcome = std::result::Result<TokenOut, Fault>;
type Bits = std::result::Result<(u32, usize, Option<Vec<u32>>), Fault>;

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

/// A model loaded on the chip and in the interpreter.
struct Loaded {
    /// The model's index in the run.
    index: u64,
    shape: SmallShape,
    context: u32,
    plan: Plan,
    engine: Engine,
    /// Positions `0 .. filled` hold KV entries of completed tokens in the chip and the
    /// interpreter alike; a token may run at any position up to `filled`.
    filled: u32,
    /// The next prompt token.
    token: u32,
    /// Cycles of the last completed token (for soft resets in the middle of one).
    token_cycles: u64,
}

impl Loaded {
    /// The highest position a token may run at now.
    fn frontier(&self) -> u32 {
        self.filled.min(self.context - 1)
    }
}

/// A random small model that compiles for `cfg`, with a context of 2 to `max_context`.
fn random_model(
    rng: &mut ChaCha8Rng,
    cfg: &ChipConfig,
    max_context: usize,
) -> (SmallShape, u32, Plan) {
    loop {
        let kv_heads = rng.gen_range(1..=2);
        let heads = kv_heads * [1, 2, 3, 4][rng.gen_range(0..4)];
        let head_dim = [2, 4, 8][rng.gen_range(0..3)];
        let shape = SmallShape {
            hidden: heads * head_dim,
            intermediate: rng.gen_range(4..=48),
            layers: rng.gen_range(1..=3),
            heads,
            kv_heads,
            vocab: rng.gen_range(2..=96),
            tied: rng.gen_bool(0.5),
        };
        let context = rng.gen_range(2..=max_context);
        let Ok(config) = shape.config() else { continue };
        if let Ok(p) = plan(cfg, &config, context) {
            return (shape, context as u32, p);
        }
    }
}

impl Soak {
    fn open(test: &'static str, budget: Budget, watch: Arc<Watch>) -> Soak {
        let seed = if budget.fresh_seed {
            tessera_verif::tb::test_seed(test)
        } else {
            seed(test)
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sim = SimTransport::open("tiny").unwrap_or_else(|e| panic!("chip model `tiny`: {e}"));
        let cfg = sim.config().clone();
        let width = cfg.stream_width;
        watch.pid.store(sim.pid() as u64, Ordering::Relaxed);
        let opts = UartOptions {
            tries: UART_TRIES,
            // Frames of 64 bytes to the board's 1,024: streams split into few or many frames.
            max_payload: Some(rng.gen_range(64..=1024)),
            ..UartOptions::default()
        };
        eprintln!("[{test}] UART: {opts:?}");
        let link = FaultyLink::new(BoardLink::new(Board::new(sim)));
        let uart = UartTransport::new(link, opts).unwrap_or_else(|e| panic!("HELLO: {e}"));
        let t = SoakTransport {
            uart,
            via_uart: false,
            width,
        };
        let mut dev = Device::open_expecting(t, &cfg).unwrap_or_else(|e| panic!("discovery: {e}"));
        dev.timeout_cycles = WAIT_CYCLES;
        let mut rt = TokenRuntime::new(dev).expect("soft reset of a fresh chip");
        rt.timeout_cycles = WAIT_CYCLES;
        eprintln!(
            "[{test}] budget: {} tokens{} (replay: TESSERA_SEED={seed} with a budget at least \
             as large as the failing token's index)",
            budget.tokens,
            budget
                .seconds
                .map(|s| format!(" or {s} s"))
                .unwrap_or_default()
        );
        Soak {
            test,
            seed,
            budget,
            rng,
            rt,
            cfg,
            t: Totals::default(),
            t0: Instant::now(),
            watch,
            last_progress: Instant::now(),
        }
    }

    fn transport(&mut self) -> &mut SoakTransport {
        self.rt.device().transport()
    }

    fn done(&self) -> bool {
        self.t.tokens >= self.budget.tokens
            || self
                .budget
                .seconds
                .is_some_and(|s| self.t0.elapsed().as_secs_f64() >= s)
    }

    /// Says what the run is doing (for the watchdog and for failures).
    fn doing(&self, what: String) {
        *self.watch.doing.lock().unwrap() = what;
    }

    /// One finished event.
    fn beat(&mut self) {
        self.watch.beat.fetch_add(1, Ordering::Relaxed);
        if self.last_progress.elapsed() >= Duration::from_secs(60) {
            self.last_progress = Instant::now();
            self.collect_link();
            eprintln!("[{}] progress: {}", self.test, self.summary());
        }
    }

    /// Adds the link's counters to the totals and clears the link's faults.
    fn collect_link(&mut self) {
        let link = self.transport().link();
        let mut out = (0, 0);
        for f in [&mut link.to_board, &mut link.to_host] {
            out.0 += f.dropped;
            out.1 += f.flipped;
            f.dropped = 0;
            f.flipped = 0;
        }
        self.t.link_dropped += out.0;
        self.t.link_flipped += out.1;
        let s = self.transport().uart.stats().clone();
        self.t.retries = s.retries;
        self.t.board_bad_crc = s.board_bad_crc;
        self.t.bad_responses = s.bad_responses;
        self.t.no_response = s.no_response;
        self.t.requests = s.requests;
    }

    fn summary(&self) -> String {
        let t = &self.t;
        format!(
            "soak: seed {}, {} tokens ({} faults compared, {} over UART, {} at the last \
             position), {} models ({} front-door loads), legal faults injected: {} KV full, {} \
             bad token, {} illegal program; soft resets: {} mid-token, {} after a token, {} \
             idle; link faults injected: {} bytes dropped, {} flipped; recoveries: {} UART \
             retries of {} requests ({} BAD_CRC, {} bad responses, {} no response), {} soft \
             resets after a fault; {} stream timing changes; {} chip cycles; mismatches {}, \
             hangs {}; {:.4} h",
            self.seed,
            t.tokens,
            t.faults,
            t.uart_tokens,
            t.last_positions,
            t.models,
            t.front_door,
            t.kv_full,
            t.bad_token,
            t.illegal,
            t.reset_mid,
            t.reset_after,
            t.reset_idle,
            t.link_dropped,
            t.link_flipped,
            t.retries,
            t.requests,
            t.board_bad_crc,
            t.bad_responses,
            t.no_response,
            t.faults,
            t.timing_changes,
            t.cycles,
            t.mismatches,
            t.hangs,
            self.t0.elapsed().as_secs_f64() / 3600.0
        )
    }

    /// Ends the run with what failed ([`soak`] adds the summary and the replay command).
    fn fail(&mut self, what: String) -> ! {
        // The run is over: the watchdog stands down (printing the panic's backtrace can take
        // long on a loaded machine).
        self.watch.done.store(true, Ordering::Relaxed);
        panic!("[{}] {what}", self.test);
    }

    /// After a failure: the totals, what the run was doing, how to replay it.
    fn report_failure(&mut self) {
        self.watch.done.store(true, Ordering::Relaxed);
        if self.watch.hung.load(Ordering::Relaxed) {
            self.t.hangs += 1;
        }
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.collect_link()));
        let doing = self
            .watch
            .doing
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default();
        eprintln!(
            "[{}] FAILED {}\n  while: {doing}\n  replay: TESSERA_SEED={} TESSERA_SOAK_TOKENS={} \
             cargo test -p tessera-verif --test chip soak::{} -- --nocapture",
            self.test,
            self.summary(),
            self.seed,
            self.t.tokens + 1,
            self.test
        );
    }

    fn cycles(&mut self) -> u64 {
        match self.transport().chip().cycles() {
            Ok(c) => c,
            Err(e) => self.fail(format!("cycle count: {e}")),
        }
    }

    /// One token on the chip and on the interpreter; the outcomes must be identical.
    fn token(&mut self, m: &mut Loaded, token: u32, pos: u32, logits: bool, what: &str) -> Outcome {
        let via = if self.transport().via_uart {
            "UART"
        } else {
            "direct"
        };
        self.doing(format!(
            "model {} ({:?}, context {}): {what}: token {token} at position {pos}, logits \
             {logits}, {via}",
            m.index, m.shape, m.context
        ));
        let c0 = self.cycles();
        let chip = match self.rt.step(token, pos, logits) {
            Ok(o) => o,
            Err(e) => self.fail(format!("{what}: the driver failed: {e}")),
        };
        let c1 = self.cycles();
        let want = m.engine.step(token, pos, logits);
        self.t.tokens += 1;
        self.t.cycles += c1 - c0;
        if self.transport().via_uart {
            self.t.uart_tokens += 1;
        }
        if pos == m.context - 1 {
            self.t.last_positions += 1;
        }
        if bits(&chip) != bits(&want) {
            self.t.mismatches += 1;
            self.fail(format!(
                "{what}: token {token} at position {pos}, logits {logits}: the chip gave \
                 {:?}, the interpreter {:?}",
                bits(&chip),
                bits(&want)
            ));
        }
        match &chip {
            Ok(_) => {
                if pos == m.filled {
                    m.filled += 1;
                }
                m.token_cycles = c1 - c0;
            }
            Err(_) => self.t.faults += 1,
        }
        self.beat();
        chip
    }

    /// Loads a new random model (the previous one's memories are overwritten or left as they
    /// are; nothing of them may show).
    fn load_model(&mut self, k: u64) -> Loaded {
        // The short run's contexts fill within a model's plain tokens.
        let max_context = if self.budget.every_event { 6 } else { 12 };
        let (shape, context, p) = random_model(&mut self.rng, &self.cfg, max_context);
        let model = small_llama(&shape, self.rng.gen(), Precision::Chip).expect("small model");
        let image = p.image(&model).expect("images");
        let mode = if self.rng.gen_bool(0.5) {
            LoadMode::FrontDoor
        } else {
            LoadMode::Backdoor
        };
        self.t.models += 1;
        if mode == LoadMode::FrontDoor {
            self.t.front_door += 1;
        }
        let via = self.transport().via_uart;
        self.doing(format!(
            "model {k}: load of {shape:?}, context {context}, {mode:?}, UART {via}"
        ));
        if let Err(e) = self.rt.load(&p, &image, mode) {
            self.fail(format!("model {k}: load: {e}"));
        }
        self.beat();
        eprintln!(
            "[{}] model {k}: {shape:?}, context {context}, {} instructions, {mode:?} weights, \
             {}",
            self.test,
            p.program.len(),
            if via { "UART" } else { "direct" }
        );
        let engine = Engine::load(&p, image);
        let token = self.rng.gen_range(0..shape.vocab as u32);
        Loaded {
            index: k,
            shape,
            context,
            plan: p,
            engine,
            filled: 0,
            token,
            token_cycles: 0,
        }
    }

    /// Random input gaps and output backpressure (none a quarter of the time).
    fn new_timing(&mut self) {
        let timing = if self.rng.gen_bool(0.25) {
            StreamTiming::NONE
        } else {
            StreamTiming {
                in_gap_permille: self.rng.gen_range(0..=900),
                out_ready_permille: self.rng.gen_range(100..=1000),
                seed: self.rng.gen(),
            }
        };
        self.t.timing_changes += 1;
        if let Err(e) = self.transport().chip().set_stream_timing(timing) {
            self.fail(format!("stream timing {timing:?}: {e}"));
        }
    }

    /// The path of the next tokens: straight to the simulator, or over the UART link with a
    /// new set of faults (none a quarter of the time).
    fn new_path(&mut self, uart: bool) {
        self.collect_link();
        // New faults from the byte each direction has reached (a pending single fault goes).
        let link = self.transport().link();
        let mut faults = [link.to_board.bytes, link.to_host.bytes].map(|bytes| {
            let mut f = Faults::default();
            f.bytes = bytes;
            f
        });
        if uart && self.rng.gen_bool(0.75) {
            for f in &mut faults {
                if self.rng.gen_bool(0.8) {
                    f.every(
                        self.rng.gen_range(MIN_FAULT_PERIOD..=6 * MIN_FAULT_PERIOD),
                        LinkFault::Drop,
                    );
                }
                if self.rng.gen_bool(0.8) {
                    let mask = self.rng.gen_range(1..=255u8);
                    f.every(
                        self.rng.gen_range(MIN_FAULT_PERIOD..=6 * MIN_FAULT_PERIOD),
                        LinkFault::Flip(mask),
                    );
                }
            }
        }
        let t = self.transport();
        t.via_uart = uart;
        let link = t.link();
        [link.to_board, link.to_host] = faults;
    }

    /// A single fault a few bytes ahead on the link, one direction, unless the last one
    /// (`pending`: its direction, toward the board or not, and its byte) has not passed yet.
    fn one_fault(&mut self, pending: &mut Option<(bool, u64)>) {
        let (d_board, d_host) = {
            let l = self.transport().link();
            (l.to_board.bytes, l.to_host.bytes)
        };
        if let Some((to_board, at)) = *pending {
            if (if to_board { d_board } else { d_host }) <= at {
                return;
            }
        }
        let k = self.rng.gen_range(0..48);
        let f = if self.rng.gen_bool(0.5) {
            LinkFault::Drop
        } else {
            LinkFault::Flip(1 << self.rng.gen_range(0..8))
        };
        let to_board = self.rng.gen_bool(0.5);
        let link = self.transport().link();
        if to_board {
            link.to_board.after(k, f);
        } else {
            link.to_host.after(k, f);
        }
        *pending = Some(if to_board {
            (true, d_board + k)
        } else {
            (false, d_host + k)
        });
    }

    /// A position a token may run at: the next one to fill most of the time.
    fn position(&mut self, m: &Loaded) -> u32 {
        if self.budget.every_event || self.rng.gen_bool(0.65) {
            m.frontier()
        } else {
            self.rng.gen_range(0..=m.frontier())
        }
    }

    /// A normal token; the next prompt token is the chip's NEXT or a random one.
    fn plain(&mut self, m: &mut Loaded, what: &str) {
        let pos = self.position(m);
        let logits = self.rng.gen_bool(0.5);
        let out = self.token(m, m.token, pos, logits, what);
        m.token = match out {
            Ok(o) if self.rng.gen_bool(0.7) => o.next,
            _ => self.rng.gen_range(0..m.shape.vocab as u32),
        };
    }

    /// An expected fault: the interpreter must agree it is `code` (else the test itself is
    /// wrong), the chip must match it.
    fn expect_fault(&mut self, out: &Outcome, code: ErrorCode, what: &str) {
        match out {
            Err(f) if f.code == code => {}
            other => self.fail(format!("{what}: expected {code:?}, both gave {other:?}")),
        }
    }

    fn kv_full(&mut self, m: &mut Loaded) {
        self.t.kv_full += 1;
        // The short run takes each kind in turn (so `u32::MAX` runs on every CI pass).
        let kind = if self.budget.every_event {
            (self.t.kv_full - 1) % 3
        } else {
            self.rng.gen_range(0..3)
        };
        let pos = match kind {
            0 => m.context,
            1 => m.context + self.rng.gen_range(1..1000),
            _ => u32::MAX - self.rng.gen_range(0..2),
        };
        let logits = self.rng.gen_bool(0.5);
        let out = self.token(m, m.token, pos, logits, "full KV cache");
        self.expect_fault(&out, ErrorCode::KvFull, "full KV cache");
    }

    fn bad_token(&mut self, m: &mut Loaded) {
        self.t.bad_token += 1;
        let vocab = m.shape.vocab as u32;
        let kind = if self.budget.every_event {
            (self.t.bad_token - 1) % 3
        } else {
            self.rng.gen_range(0..3)
        };
        let token = match kind {
            0 => vocab,
            1 => vocab + self.rng.gen_range(1..1000),
            _ => u32::MAX,
        };
        let pos = self.position(m);
        let logits = self.rng.gen_bool(0.5);
        let out = self.token(m, token, pos, logits, "token past the vocabulary");
        self.expect_fault(&out, ErrorCode::Token, "token past the vocabulary");
    }

    /// An illegal instruction at a random place of the program, on the chip and in the
    /// interpreter; one or two tokens; the program restored.
    fn illegal_program(&mut self, m: &mut Loaded) {
        self.t.illegal += 1;
        let w = INSTR_WORDS;
        let prog = &m.plan.program;
        let n = prog.len();
        let good = self.rt.program()[..n * w].to_vec();
        let pcs = |f: &dyn Fn(&Instr) -> bool| -> Vec<usize> {
            (0..n).filter(|&pc| f(&prog[pc])).collect()
        };
        let matvecs = pcs(&|i| matches!(i, Instr::Matvec { .. }));
        let mv = |base: u32, groups: u32| Instr::Matvec {
            base,
            groups,
            chunks: 1,
            lg_pk: 0,
            input: 0,
            out: 0,
        };
        let (kind, pc, word, code) = loop {
            let pc = self.rng.gen_range(0..n);
            let mut word = good[pc * w..(pc + 1) * w].to_vec();
            match self.rng.gen_range(0..6) {
                0 => {
                    word[0] = self.rng.gen_range(0x0e..=0xff);
                    break ("unknown opcode", pc, word, ErrorCode::Instr);
                }
                1 => {
                    word[0] |= 1 << self.rng.gen_range(8..32);
                    break ("reserved bit of w0", pc, word, ErrorCode::Instr);
                }
                2 => {
                    // A word the instruction does not use: decoding and encoding drops it.
                    let k = self.rng.gen_range(1..w);
                    word[k] = self.rng.gen_range(1..=u32::MAX);
                    let arr: [u32; INSTR_WORDS] = word.clone().try_into().unwrap();
                    let kept = Instr::decode(&arr).map(|i| i.encode()) == Ok(arr);
                    if kept {
                        continue;
                    }
                    break ("reserved word", pc, word, ErrorCode::Instr);
                }
                3 => {
                    let Some(&pc) = matvecs.choose(&mut self.rng) else {
                        continue;
                    };
                    let ww = self.cfg.weight_words as u32;
                    let base = ww + self.rng.gen_range(0..4);
                    let word = mv(base, 1).encode().to_vec();
                    break (
                        "MATVEC past the weight memory",
                        pc,
                        word,
                        ErrorCode::WeightRange,
                    );
                }
                4 => {
                    let Some(&pc) = matvecs.choose(&mut self.rng) else {
                        continue;
                    };
                    break (
                        "MATVEC with no row group",
                        pc,
                        mv(0, 0).encode().to_vec(),
                        ErrorCode::Shape,
                    );
                }
                _ => {
                    let add = Instr::Add {
                        dst: self.cfg.vmem_words as u32 - self.rng.gen_range(1..3),
                        a: 0,
                        b: 0,
                        n: 3,
                    };
                    break (
                        "ADD past the vector memory",
                        pc,
                        add.encode().to_vec(),
                        ErrorCode::VmemRange,
                    );
                }
            }
        };
        let what = format!("illegal program: {kind} at pc {pc}");
        self.doing(what.clone());
        if let Err(e) = self.rt.write_program(pc * w, &word) {
            self.fail(format!("{what}: program write: {e}"));
        }
        m.engine.program[pc * w..(pc + 1) * w].copy_from_slice(&word);
        for _ in 0..self.rng.gen_range(1..=2) {
            let pos = self.position(m);
            let logits = self.rng.gen_bool(0.5);
            let out = self.token(m, m.token, pos, logits, &what);
            match out {
                Err(f) if f.code == code && f.pc == pc => {}
                // An earlier instruction may fault first only if the test is wrong.
                other => self.fail(format!(
                    "{what}: expected {code:?} at pc {pc}, got {other:?}"
                )),
            }
        }
        if let Err(e) = self.rt.write_program(pc * w, &good[pc * w..(pc + 1) * w]) {
            self.fail(format!("{what}: program restore: {e}"));
        }
        m.engine.program[pc * w..(pc + 1) * w].copy_from_slice(&good[pc * w..(pc + 1) * w]);
    }

    /// A soft reset part way through a token (or just after it, when the token was quicker
    /// than the cut), then the same position again (its KV entries were partly written).
    fn reset_mid_token(&mut self, m: &mut Loaded) {
        let pos = self.position(m);
        let token = m.token;
        let logits = self.rng.gen_bool(0.5);
        let tc = m.token_cycles.max(64);
        let cut = self.rng.gen_range(1..=tc * 3 / 4);
        let what = format!("soft reset {cut} cycles into token {token} at position {pos}");
        self.doing(what.clone());
        if let Err(e) = self.rt.start_token(token, pos, logits) {
            self.fail(format!("{what}: send: {e}"));
        }
        let r = (|| -> Result<bool> {
            self.transport().chip().run(cut)?;
            let dev = self.rt.device();
            let busy = dev.status()?.busy;
            dev.soft_reset()?;
            dev.drain_output()?;
            let s = dev.status()?;
            if s.busy || s.error {
                return Err(tessera_driver::Error::Sim(format!(
                    "after the soft reset: {s:?}"
                )));
            }
            Ok(busy)
        })();
        match r {
            Ok(true) => self.t.reset_mid += 1,
            Ok(false) => self.t.reset_after += 1,
            Err(e) => self.fail(format!("{what}: {e}")),
        }
        self.beat();
        // The interpreter never saw the stopped token; the chip's rerun must match it.
        let logits = self.rng.gen_bool(0.5);
        let out = self.token(m, token, pos, logits, &format!("rerun after a {what}"));
        if let Ok(o) = out {
            m.token = o.next;
        }
    }

    fn reset_idle(&mut self) {
        self.t.reset_idle += 1;
        self.doing("soft reset between tokens".into());
        let dev = self.rt.device();
        let r = dev.soft_reset().and_then(|()| dev.drain_output());
        match r {
            Ok(0) => {}
            Ok(n) => self.fail(format!("{n} output beats nobody asked for")),
            Err(e) => self.fail(format!("soft reset between tokens: {e}")),
        }
        self.beat();
    }

    /// Nothing left over: no output beat nobody asked for, no error, nothing busy.
    fn settle(&mut self, what: &str) {
        self.doing(format!("{what}: drain and idle"));
        let dev = self.rt.device();
        match dev.drain_output() {
            Ok(0) => {}
            Ok(n) => self.fail(format!("{what}: {n} output beats nobody asked for")),
            Err(e) => self.fail(format!("{what}: drain: {e}")),
        }
        if let Err(e) = dev.wait_idle() {
            self.fail(format!("{what}: the chip does not go idle: {e}"));
        }
    }

    fn run(&mut self) {
        let mut k = 0u64;
        let mut pending = None;
        while !self.done() {
            // The path and the timing of the load and the first tokens; the short run takes
            // every path in turn.
            let uart = if self.budget.every_event {
                k % 2 == 1
            } else {
                self.rng.gen_bool(0.5)
            };
            self.new_path(uart);
            self.new_timing();
            let mut m = self.load_model(k);
            let slots: u64 = if self.budget.every_event {
                12
            } else {
                self.rng
                    .gen_range(m.context as u64 * 2..=m.context as u64 * 6)
            };
            // Special events at random slots: every kind once in the short run, each kind
            // with even odds otherwise, plus a few more at random.
            let mut events = vec![Event::Token; slots as usize];
            let mut free: Vec<usize> = (1..slots as usize).collect();
            free.shuffle(&mut self.rng);
            for e in SPECIAL {
                if self.budget.every_event || self.rng.gen_bool(0.5) {
                    if let Some(i) = free.pop() {
                        events[i] = e;
                    }
                }
            }
            for ev in events.iter_mut().skip(1) {
                if *ev == Event::Token && self.rng.gen_bool(0.05) {
                    *ev = *SPECIAL.choose(&mut self.rng).unwrap();
                }
            }
            for (i, ev) in events.into_iter().enumerate() {
                if self.done() {
                    break;
                }
                if i > 0 && self.rng.gen_bool(0.05) {
                    self.new_timing();
                }
                if i > 0 && self.rng.gen_bool(0.04) {
                    let uart = !self.transport().via_uart;
                    self.new_path(uart);
                }
                if self.transport().via_uart && self.rng.gen_bool(0.15) {
                    self.one_fault(&mut pending);
                }
                match ev {
                    Event::Token => self.plain(&mut m, "token"),
                    Event::KvFull => self.kv_full(&mut m),
                    Event::BadToken => self.bad_token(&mut m),
                    Event::IllegalProgram => self.illegal_program(&mut m),
                    Event::ResetMidToken => self.reset_mid_token(&mut m),
                    Event::ResetIdle => self.reset_idle(),
                }
            }
            self.settle(&format!("model {k}"));
            k += 1;
        }
        self.collect_link();
        self.watch.done.store(true, Ordering::Relaxed);
        eprintln!("[{}] {}", self.test, self.summary());
    }
}

/// Starts the watchdog: when no event finishes for [`HANG_SECONDS`], it says what the run was
/// doing and kills the chip model, so the call that waits on it returns an error.
fn watchdog(test: &'static str) -> Arc<Watch> {
    let watch = Arc::new(Watch {
        beat: AtomicU64::new(0),
        done: AtomicBool::new(false),
        hung: AtomicBool::new(false),
        doing: Mutex::new("starting".into()),
        pid: AtomicU64::new(0),
    });
    let w = watch.clone();
    std::thread::spawn(move || {
        let mut last = (w.beat.load(Ordering::Relaxed), Instant::now());
        while !w.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500));
            let b = w.beat.load(Ordering::Relaxed);
            if b != last.0 {
                last = (b, Instant::now());
                continue;
            }
            if last.1.elapsed() < Duration::from_secs(HANG_SECONDS) {
                continue;
            }
            w.hung.store(true, Ordering::Relaxed);
            let pid = w.pid.load(Ordering::Relaxed) as libc::pid_t;
            eprintln!(
                "[{test}] hang: no progress for {HANG_SECONDS} s while {}; killing the chip model \
                 (pid {pid})",
                w.doing.lock().unwrap()
            );
            if pid > 0 {
                // SAFETY: kill(2) of the chip model this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            // The stuck call should fail now; if even that does not happen, end the process.
            std::thread::sleep(Duration::from_secs(30));
            if !w.done.load(Ordering::Relaxed) {
                eprintln!("[{test}] hang: still stuck 30 s after the kill; exiting");
                std::process::exit(101);
            }
            return;
        }
    });
    watch
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().replace('_', "").parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v}: not a whole number"),
    }
}

fn soak(test: &'static str, budget: Budget) {
    let watch = watchdog(test);
    let mut s = Soak::open(test, budget, watch);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run()));
    if let Err(panic) = run {
        s.report_failure();
        std::panic::resume_unwind(panic);
    }
    assert_eq!(s.t.mismatches, 0);
    assert_eq!(s.t.hangs, 0);
    assert!(s.t.tokens >= budget.tokens.min(1), "no token ran");
    if budget.every_event {
        // Every kind of event happened (a change that skips one fails here, not silently).
        let t = &s.t;
        let seen = [
            ("models", t.models >= 4),
            ("KV full", t.kv_full > 0),
            ("bad token", t.bad_token > 0),
            ("illegal program", t.illegal > 0),
            ("soft reset during a token", t.reset_mid + t.reset_after > 0),
            ("soft reset between tokens", t.reset_idle > 0),
            ("tokens over UART", t.uart_tokens > 0),
            ("the last position", t.last_positions > 0),
        ];
        for (what, ok) in seen {
            assert!(ok, "the short soak had no {what}: {t:?}");
        }
    }
}

/// The quick-set soak: 48 tokens, twelve events per model (four or five models), every kind of
/// event in each, the direct and the UART path in turn; the chip tests' fixed seed.
#[test]
fn chip_soak_short() {
    if !have_verilator() {
        return;
    }
    soak(
        "chip_soak_short",
        Budget {
            tokens: SHORT_TOKENS,
            seconds: None,
            every_event: true,
            fresh_seed: false,
        },
    );
}

/// The nightly soak: `TESSERA_SOAK_TOKENS` tokens (default [`NIGHTLY_TOKENS`]), or fewer when
/// `TESSERA_SOAK_SECONDS` run out first.
#[test]
fn chip_soak_nightly_random_tokens() {
    if !have_verilator() {
        return;
    }
    let tokens = env_u64("TESSERA_SOAK_TOKENS").unwrap_or(NIGHTLY_TOKENS);
    let seconds = env_u64("TESSERA_SOAK_SECONDS").map(|s| s as f64);
    soak(
        "chip_soak_nightly_random_tokens",
        Budget {
            tokens,
            seconds,
            every_event: false,
            fresh_seed: true,
        },
    );
}
