//! Testbench pieces shaped like cocotb/UVM.
//!
//! - [`TileDriver`]: valid/ready stream drivers for the set-up, weight-write and activation
//!   streams, inserting random idle cycles ([`GapPattern`]) before beats; the beats go to the
//!   C++ transactors so the clock loop stays in C++.
//! - [`Sink`]: the result stream's random backpressure.
//! - [`InputMonitor`] / [`OutputMonitor`]: read what the DUT really accepted and emitted (the
//!   C++ monitors' cycle-stamped records); the input monitor feeds the reference model
//!   ([`crate::reference::TileRef`]), whose beats go to the in-order [`Scoreboard`].
//! - [`TileEnv`]: all of the above around one [`Tile`].
//! - Seeds and replay: [`test_seed`] prints the seed and takes `TESSERA_SEED`;
//!   [`run_property`] runs a proptest property from that seed and, on failure, writes the
//!   shrunk case (JSON) and an FST waveform of it under [`failure_dir`], printing both paths.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{MonitorLog, Records, ResRecord, Tile};
use crate::reference::{Beat, TileRef};

/// The seed of a randomized test: `TESSERA_SEED` (decimal or `0x` hex) if set, else fresh.
/// Printed with the line that replays it.
pub fn test_seed(test: &str) -> u64 {
    let seed = env_or_fresh_seed();
    print_seed(test, seed);
    seed
}

fn print_seed(test: &str, seed: u64) {
    eprintln!("[{test}] seed {seed} (replay: TESSERA_SEED={seed})");
}

/// `TESSERA_SEED` if set, else a fresh seed.
fn env_or_fresh_seed() -> u64 {
    std::env::var("TESSERA_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        })
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let mut r = ChaCha8Rng::seed_from_u64(t ^ (u64::from(std::process::id()) << 32));
            r.gen::<u64>() >> 16
        })
}

/// Proptest cases for a test whose default is `default`: `TESSERA_CASES` overrides it,
/// `TESSERA_CASE_SCALE` multiplies it (the nightly profile sets it).
pub fn case_count(default: u32) -> u32 {
    if let Some(n) = std::env::var("TESSERA_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return n;
    }
    let scale: u32 = std::env::var("TESSERA_CASE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    default.saturating_mul(scale.max(1))
}

/// Where failing cases leave their JSON and FST: `TESSERA_FAILURE_DIR`, else
/// `target/verif-failures` in the repository.
pub fn failure_dir() -> PathBuf {
    std::env::var_os("TESSERA_FAILURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/verif-failures")
        })
}

/// Runs a proptest property over `strategy` from the test's seed ([`test_seed`]) for
/// [`case_count`]`(default_cases)` cases. On failure the shrunk case is written to
/// `<failure_dir>/<test>-<seed>.json`, re-run with a waveform to `<test>-<seed>.fst`, and the
/// test panics naming both files and the replay seed.
pub fn run_property<S>(
    test: &str,
    default_cases: u32,
    strategy: S,
    body: impl Fn(&S::Value) -> Result<(), String>,
) where
    S: Strategy,
    S::Value: serde::Serialize + Debug,
{
    let seed = env_or_fresh_seed();
    run_property_in(test, seed, &failure_dir(), default_cases, strategy, body);
}

/// [`run_property`] from the given seed, failures written under `dir`: for tests of the
/// harness itself, which must not set `TESSERA_SEED` or `TESSERA_FAILURE_DIR` in a process
/// whose other tests read them.
pub fn run_property_in<S>(
    test: &str,
    seed: u64,
    dir: &Path,
    default_cases: u32,
    strategy: S,
    body: impl Fn(&S::Value) -> Result<(), String>,
) where
    S: Strategy,
    S::Value: serde::Serialize + Debug,
{
    print_seed(test, seed);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let config = ProptestConfig {
        cases: case_count(default_cases),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&strategy, |v| body(&v).map_err(TestCaseError::fail));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, value)) => {
            let _ = std::fs::create_dir_all(dir);
            let json = dir.join(format!("{test}-{seed}.json"));
            let fst = dir.join(format!("{test}-{seed}.fst"));
            let text = serde_json::to_string_pretty(&value).unwrap_or_else(|e| e.to_string());
            let _ = std::fs::write(&json, text);
            let rerun = crate::model::with_trace(&fst, || body(&value));
            panic!(
                "[{test}] failed: {reason}\n  shrunk case: {}\n  waveform:    {}\n  re-run: {}\n  replay: TESSERA_SEED={seed}",
                json.display(),
                fst.display(),
                match rerun {
                    Ok(()) => "passed (the failure depends on state before the case)".into(),
                    Err(e) => format!("failed again: {e}"),
                }
            );
        }
        Err(TestError::Abort(reason)) => panic!("[{test}] aborted: {reason} (TESSERA_SEED={seed})"),
    }
}

/// Idle cycles before beats: with probability `permille`/1000 a gap of 1..=`max_gap` cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GapPattern {
    pub permille: u32,
    pub max_gap: u32,
}

impl GapPattern {
    /// Back-to-back beats.
    pub const NONE: GapPattern = GapPattern {
        permille: 0,
        max_gap: 0,
    };
    fn draw(&self, rng: &mut ChaCha8Rng) -> u32 {
        if self.permille == 0 || self.max_gap == 0 || rng.gen_range(0..1000) >= self.permille {
            0
        } else {
            rng.gen_range(1..=self.max_gap)
        }
    }
}

/// Drivers of the tile's three input streams.
#[derive(Clone, Debug)]
pub struct TileDriver {
    rng: ChaCha8Rng,
    pub gaps: GapPattern,
}

impl TileDriver {
    /// Drivers drawing gaps from `seed`.
    pub fn new(seed: u64, gaps: GapPattern) -> Self {
        TileDriver {
            rng: ChaCha8Rng::seed_from_u64(seed),
            gaps,
        }
    }
    /// Queues a weight write.
    pub fn write(&mut self, tile: &mut Tile, addr: u32, word: &[u8]) {
        let g = self.gaps.draw(&mut self.rng);
        tile.push_wr(addr, word, g);
    }
    /// Queues consecutive weight words from `base`.
    pub fn write_words(&mut self, tile: &mut Tile, base: u32, words: &[Vec<u8>]) {
        for (i, w) in words.iter().enumerate() {
            self.write(tile, base + i as u32, w);
        }
    }
    /// Queues a set-up.
    pub fn setup(&mut self, tile: &mut Tile, base: u32, rows: u32, k: u32) {
        let g = self.gaps.draw(&mut self.rng);
        tile.push_cfg(base, rows, k, g);
    }
    /// Queues activation chunks.
    pub fn acts(&mut self, tile: &mut Tile, chunks: &[Vec<u8>]) {
        for c in chunks {
            let g = self.gaps.draw(&mut self.rng);
            tile.push_act(c, g);
        }
    }
}

/// The result stream's sink: ready in `ready_permille`/1000 of cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Sink {
    pub ready_permille: u32,
    pub seed: u64,
}

impl Sink {
    /// Applies the pattern to the tile's C++ sink.
    pub fn apply(&self, tile: &mut Tile) {
        tile.set_sink(self.ready_permille, self.seed);
    }
}

/// In-order scoreboard.
#[derive(Clone, Debug)]
pub struct Scoreboard<T> {
    expected: VecDeque<T>,
    /// Items that matched.
    pub matched: u64,
    /// One line per mismatch or unexpected item.
    pub errors: Vec<String>,
}

impl<T> Default for Scoreboard<T> {
    fn default() -> Self {
        Scoreboard {
            expected: VecDeque::new(),
            matched: 0,
            errors: Vec::new(),
        }
    }
}

impl<T: PartialEq + Debug> Scoreboard<T> {
    /// Adds the next expected item.
    pub fn expect(&mut self, item: T) {
        self.expected.push_back(item);
    }
    /// Compares an observed item with the oldest expected one.
    pub fn observe(&mut self, item: T, cycle: u64) {
        match self.expected.pop_front() {
            Some(e) if e == item => self.matched += 1,
            Some(e) => self
                .errors
                .push(format!("cycle {cycle}: expected {e:?}, observed {item:?}")),
            None => self
                .errors
                .push(format!("cycle {cycle}: unexpected {item:?}")),
        }
    }
    /// Items still expected.
    pub fn outstanding(&self) -> usize {
        self.expected.len()
    }
    /// Drained and error-free, or the first errors.
    pub fn finish(&self) -> Result<(), String> {
        if !self.errors.is_empty() {
            let n = self.errors.len();
            let first: Vec<_> = self.errors.iter().take(4).cloned().collect();
            return Err(format!(
                "{n} scoreboard errors, first: {}",
                first.join("; ")
            ));
        }
        if !self.expected.is_empty() {
            return Err(format!(
                "{} expected items never observed, first {:?}",
                self.expected.len(),
                self.expected.front()
            ));
        }
        Ok(())
    }
}

/// Feeds the reference model with what the DUT accepted, in cycle order (within a cycle:
/// writes, then set-ups, then activations), and posts the expected beats.
#[derive(Clone, Debug)]
pub struct InputMonitor {
    pub reference: TileRef,
    /// Cycle of the first accepted set-up.
    pub first_setup_cycle: Option<u64>,
}

impl InputMonitor {
    /// Processes one batch of monitor records.
    pub fn observe(&mut self, log: &MonitorLog, sb: &mut Scoreboard<Beat>) {
        // Each stream's records are in cycle order: merge them by cycle.
        let mut wr = log.wr.iter().peekable();
        let mut cfg = log.cfg.iter().peekable();
        let mut act = log.act.iter().peekable();
        loop {
            let next = [
                wr.peek().map(|e| e.cycle),
                cfg.peek().map(|e| e.cycle),
                act.peek().map(|e| e.cycle),
            ];
            let Some(cycle) = next.into_iter().flatten().min() else {
                break;
            };
            if let Some(w) = wr.next_if(|e| e.cycle == cycle) {
                self.reference.write(w.addr, w.data);
            } else if let Some(c) = cfg.next_if(|e| e.cycle == cycle) {
                self.first_setup_cycle.get_or_insert(c.cycle);
                self.reference.setup(c.base, c.rows, c.k);
            } else if let Some(a) = act.next_if(|e| e.cycle == cycle) {
                if let Some(beats) = self.reference.act(a.data) {
                    for b in beats {
                        sb.expect(b);
                    }
                }
            }
        }
    }
}

/// Posts the result beats the DUT emitted to the scoreboard.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputMonitor;

impl OutputMonitor {
    /// Processes one batch of monitor records.
    pub fn observe(&self, log: &MonitorLog, sb: &mut Scoreboard<Beat>) {
        for r in &log.res {
            sb.observe(
                Beat {
                    lanes: r.lanes.to_vec(),
                    last: r.last,
                },
                r.cycle,
            );
        }
    }
}

/// A tile with its drivers, sink, monitors, reference and scoreboard.
#[derive(Debug)]
pub struct TileEnv {
    pub tile: Tile,
    pub driver: TileDriver,
    pub input: InputMonitor,
    pub output: OutputMonitor,
    pub scoreboard: Scoreboard<Beat>,
    /// Every result beat emitted, in order.
    pub observed: Records<ResRecord>,
    /// The batch of records being processed (its storage reused from batch to batch).
    log: MonitorLog,
}

impl TileEnv {
    /// Wraps `tile`; gaps and backpressure drawn from `seed`.
    pub fn new(mut tile: Tile, seed: u64, gaps: GapPattern, ready_permille: u32) -> Self {
        Sink {
            ready_permille,
            seed: seed ^ 0x5DEE_CE66_D1CE_4E5B,
        }
        .apply(&mut tile);
        let reference = TileRef::new(tile.config());
        TileEnv {
            tile,
            driver: TileDriver::new(seed, gaps),
            input: InputMonitor {
                reference,
                first_setup_cycle: None,
            },
            output: OutputMonitor,
            scoreboard: Scoreboard::default(),
            observed: Records::new(),
            log: MonitorLog::new(),
        }
    }
    /// Writes a word through the backdoor, and into the reference.
    pub fn backdoor_write(&mut self, addr: u32, word: &[u8]) -> crate::Result<()> {
        self.tile.backdoor_write(addr, word)?;
        self.input.reference.write(addr, word);
        Ok(())
    }
    /// Moves the monitors' records into the reference and the scoreboard.
    pub fn sync(&mut self) {
        self.log.clear();
        self.tile.take_log_into(&mut self.log);
        self.input.observe(&self.log, &mut self.scoreboard);
        self.output.observe(&self.log, &mut self.scoreboard);
        self.observed.append(&mut self.log.res);
    }
    /// Runs until every queued beat was accepted, every expected beat emitted and the tile is
    /// idle; then checks the scoreboard.
    pub fn drain(&mut self, max_cycles: u64) -> Result<u64, String> {
        let n = self
            .tile
            .run_until_idle(max_cycles)
            .map_err(|e| e.to_string())?;
        self.sync();
        self.scoreboard.finish()?;
        Ok(n)
    }
}
