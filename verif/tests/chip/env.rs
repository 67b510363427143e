//! The chip environment: the `tessera_top` model behind the driver, with a scoreboard.
//!
//! - [`Chip`]: the model of a named configuration on [`SimTransport`] (the one bench,
//!   `verif/sim/csrc/tessera_sim.cpp`, with seeded stream gaps and backpressure), discovered by
//!   the driver's [`Device`]; descriptors from `tessera_abi`, register offsets from the generated
//!   register layer ([`reg!`]), placements from the driver's mapper.
//! - [`Product`]: a matrix-vector product the test generated, placed by the mapper; its expected
//!   results come from the golden model's integer kernel on the test's own inputs, never from
//!   the chip.
//! - The scoreboard ([`tessera_verif::tb::Scoreboard`], in order): [`Chip::expect`] posts a
//!   product's expected results, [`Chip::check_results`] reads the result buffer back through
//!   the driver and posts what the chip returned; [`Chip::finish`] checks that nothing is left
//!   over (no stray output beat, no device error, every expected read-back observed).
//! - [`Ports`]: the model driven cycle by cycle (`port_sim.cpp`) for the AXI corner cases that
//!   a transactor cannot produce.
//!
//! Models are built once per input hash in the model cache (`tessera_sim::build_model`).
//! Tests skip when `verilator` is missing and `CI` is not `true`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use tessera_abi::{ChipConfig, Descriptor};
use tessera_driver::mapper::{partition, MapOptions, Placement};
use tessera_driver::{Device, Error, SimControl, Transport};
use tessera_golden::quant::{matvec_i32_scalar, MatrixId, MatrixKind, QuantMatrix};
use tessera_sim::{build_model, ModelSpec, SimTransport, StreamTiming};
use tessera_verif::tb::Scoreboard;

/// True when `verilator` runs; tests skip (with a message) when it does not, except under
/// `CI=true`, where a missing Verilator fails.
pub use tessera_sim::require_verilator as have_verilator;

/// The byte offset of a register, from the generated register layer (`tessera-regs`).
macro_rules! reg {
    ($f:ident) => {{
        // SAFETY: only forms a pointer from base 0; nothing is dereferenced.
        let r = unsafe { tessera_regs::TesseraRegs::from_ptr(core::ptr::null_mut()) };
        r.$f().as_ptr() as usize as u32
    }};
}
pub(crate) use reg;

/// AXI response codes (AMBA AXI4-Lite).
pub const OKAY: u32 = 0;
pub const SLVERR: u32 = 2;

/// The seed of a randomized chip test: `TESSERA_SEED` when set, else a fixed default (the
/// chip tests run the same cases every time unless asked otherwise). Printed for replay.
pub fn seed(test: &str) -> u64 {
    const DEFAULT: u64 = 0x7e55_e7a0;
    if std::env::var_os("TESSERA_SEED").is_some() {
        return tessera_verif::tb::test_seed(test);
    }
    eprintln!("[{test}] seed {DEFAULT} (replay: TESSERA_SEED={DEFAULT})");
    DEFAULT
}

/// The proptest runner of part `k` of a chip test (a kind of case, an operation): its random
/// stream from the test's seed and `k`, `cases` cases, no failure file, at most `shrink`
/// shrinking steps (each a simulation).
pub fn proptest_runner(
    seed: u64,
    k: usize,
    cases: u32,
    shrink: u32,
) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(k as u64).to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: shrink,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// One result-buffer read-back: where, and the int32 words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readback {
    pub addr: usize,
    pub words: Vec<i32>,
}

/// A running chip model behind the driver, with the scoreboard of its read-backs.
pub struct Chip {
    pub dev: Device<SimTransport>,
    pub cfg: ChipConfig,
    results: Scoreboard<Readback>,
}

impl Chip {
    /// Builds (or reuses) and starts the model of the named configuration of
    /// `rtl/top/configs.toml`; the driver discovers it and checks it reports that configuration.
    pub fn open(name: &str) -> Chip {
        let dev =
            tessera_sim::open_device(name).unwrap_or_else(|e| panic!("chip model `{name}`: {e}"));
        let cfg = dev.config().clone();
        Chip {
            dev,
            cfg,
            results: Scoreboard::default(),
        }
    }

    pub fn sim(&mut self) -> &mut SimTransport {
        self.dev.transport()
    }

    /// Seeded random timing of the stream ports from now on: an idle cycle before each input
    /// beat with probability `in_gap_permille`/1000, output TREADY with probability
    /// `out_ready_permille`/1000 per cycle.
    pub fn stream_timing(&mut self, in_gap_permille: u32, out_ready_permille: u32, seed: u64) {
        self.sim()
            .set_stream_timing(StreamTiming {
                in_gap_permille,
                out_ready_permille,
                seed,
            })
            .expect("stream timing");
    }

    /// AXI4-Lite read: (data, RRESP); the data is 0 when the response is an error.
    pub fn read_resp(&mut self, addr: u32) -> (u32, u32) {
        match self.sim().reg_read(addr) {
            Ok(d) => (d, OKAY),
            Err(Error::Bus { resp, .. }) => (0, resp),
            Err(e) => panic!("read of {addr:#x}: {e}"),
        }
    }

    /// AXI4-Lite read that must answer OKAY.
    pub fn read(&mut self, addr: u32) -> u32 {
        let (d, resp) = self.read_resp(addr);
        assert_eq!(resp, OKAY, "read of {addr:#x} answered {resp}");
        d
    }

    /// AXI4-Lite write; returns BRESP.
    pub fn write(&mut self, addr: u32, value: u32) -> u32 {
        match self.sim().reg_write(addr, value) {
            Ok(()) => OKAY,
            Err(Error::Bus { resp, .. }) => resp,
            Err(e) => panic!("write of {value:#x} to {addr:#x}: {e}"),
        }
    }

    /// A 64-bit counter pair: `lo` and the word above it.
    pub fn read64(&mut self, lo: u32) -> u64 {
        u64::from(self.read(lo)) | (u64::from(self.read(lo + 4)) << 32)
    }

    pub fn run(&mut self, cycles: u64) {
        self.sim().run(cycles).expect("run the model");
    }

    /// Clock cycles since power-on.
    pub fn cycles(&mut self) -> u64 {
        self.sim().cycles().expect("cycle count")
    }

    /// The interrupt line.
    pub fn irq(&mut self) -> bool {
        self.sim().irq().expect("interrupt line")
    }

    /// Sends descriptors on the command stream and waits until the chip has taken them.
    pub fn send(&mut self, descriptors: &[Descriptor]) {
        self.dev
            .send(descriptors)
            .unwrap_or_else(|e| panic!("send {} descriptors: {e}", descriptors.len()));
    }

    /// Sends raw stream words, `tlast` on the last beat; `false` when the chip stopped taking
    /// them within `max_cycles`.
    pub fn send_words(&mut self, words: &[u32], max_cycles: u64) -> bool {
        match self.sim().stream_send(words, true, max_cycles) {
            Ok(()) => true,
            Err(Error::Timeout { .. }) => false,
            Err(e) => panic!("stream send: {e}"),
        }
    }

    /// Waits until `STATUS.busy` clears; panics on a device error or a timeout.
    pub fn wait_idle(&mut self) {
        self.dev
            .wait_idle()
            .expect("the chip went idle without an error");
    }

    /// Weight words `0 .. words` of every tile, read through the backdoor.
    pub fn weight_snapshot(&mut self, words: usize) -> Vec<u8> {
        let (tiles, bytes) = (self.cfg.tiles(), self.cfg.word_bytes());
        let mut v = Vec::with_capacity(tiles * words * bytes);
        for t in 0..tiles {
            v.extend(
                self.sim()
                    .backdoor_read(t, 0, words, bytes)
                    .expect("backdoor read"),
            );
        }
        v
    }

    /// Posts the expected read-back of `p`'s results at result word `out` (golden model).
    pub fn expect(&mut self, p: &Product, out: usize) {
        let words = p.expected(&self.cfg);
        self.results.expect(Readback { addr: out, words });
    }

    /// Reads `words` result words at `addr` back through the driver (VBUF_READ, framing checked)
    /// and posts them to the scoreboard; panics with `what` on the first mismatch.
    pub fn check_results(&mut self, addr: usize, words: usize, what: &str) {
        let got = self
            .dev
            .read_results(addr as u32, words as u32)
            .unwrap_or_else(|e| panic!("{what}: read-back of {words} words at {addr}: {e}"));
        let cycle = self.cycles();
        self.results.observe(Readback { addr, words: got }, cycle);
        if let Some(e) = self.results.errors.first() {
            panic!("{what}: {e}");
        }
    }

    /// Drains: no output beat left over, no device error, every expected read-back observed.
    pub fn finish(&mut self) {
        let stray = self.dev.drain_output().expect("drain the output stream");
        assert_eq!(stray, 0, "output beats nobody asked for");
        self.dev.check().expect("no device error");
        self.results
            .finish()
            .unwrap_or_else(|e| panic!("scoreboard: {e}"));
        eprintln!("scoreboard: {} read-backs matched", self.results.matched);
    }
}

/// A matrix-vector product the test generated: int8 weights `rows × k` and an input vector,
/// placed on the tiles by the driver's mapper.
pub struct Product {
    pub q: QuantMatrix,
    pub x: Vec<i8>,
    pub place: Placement,
}

impl Product {
    /// `w` (row-major `rows × k`) and `x` with `2^lg_pk` K-partitions at weight word `base`;
    /// `None` when that partition is not legal on `cfg`.
    pub fn new(
        cfg: &ChipConfig,
        w: Vec<i8>,
        rows: usize,
        k: usize,
        x: Vec<i8>,
        lg_pk: u32,
        base: usize,
    ) -> Option<Product> {
        assert_eq!((w.len(), x.len()), (rows * k, k));
        let opts = MapOptions {
            prefer_lg_pk: Some(lg_pk),
            ..MapOptions::default()
        };
        let (lg, groups, chunks) = partition(cfg, rows, k, &opts).ok()?;
        if lg != lg_pk {
            return None;
        }
        // The mapper's placement of one matrix; the id only names it (no model is involved).
        let place = Placement {
            id: MatrixId {
                layer: None,
                kind: MatrixKind::LmHead,
            },
            rows,
            cols: k,
            lg_pk,
            groups,
            chunks,
            base,
        };
        let q = QuantMatrix {
            rows,
            cols: k,
            q: w,
            scales: vec![1.0; rows],
        };
        Some(Product { q, x, place })
    }

    pub fn rows(&self) -> usize {
        self.q.rows
    }

    pub fn k(&self) -> usize {
        self.q.cols
    }

    /// Result words the product writes.
    pub fn out_words(&self, cfg: &ChipConfig) -> usize {
        self.place.out_words(cfg)
    }

    /// Input chunks the product reads.
    pub fn in_chunks(&self) -> usize {
        self.place.in_chunks()
    }

    /// Weight words per tile.
    pub fn words(&self) -> usize {
        self.place.words()
    }

    /// WEIGHT_LOAD of the product's matrix to every tile.
    pub fn weight_load(&self, cfg: &ChipConfig) -> Descriptor {
        self.place.weight_load(cfg, &self.q)
    }

    /// VBUF_LOAD of the input at activation chunk `addr`.
    pub fn vbuf_load(&self, cfg: &ChipConfig, addr: usize) -> Descriptor {
        Descriptor::vbuf_load(cfg, addr as u32, self.in_chunks() as u32, &self.x)
    }

    /// MATVEC reading the input at chunk `input`, writing the results at result word `out`.
    pub fn matvec(&self, input: usize, out: usize) -> Descriptor {
        self.place.matvec(input, out)
    }

    /// The expected read-back of the product's result words: the golden model's exact int32
    /// product, then zeros for the padding rows of the last row group of each partition.
    pub fn expected(&self, cfg: &ChipConfig) -> Vec<i32> {
        let mut y = matvec_i32_scalar(&self.q.q, self.rows(), self.k(), &self.x);
        y.resize(self.out_words(cfg) * cfg.lanes, 0);
        y
    }
}

/// Builds (or reuses) the per-cycle port driver of configuration `cfg` (`port_sim.cpp` beside
/// this file); returns the executable.
fn port_model(cfg: &ChipConfig) -> std::path::PathBuf {
    let mut spec = ModelSpec::chip(cfg, "verif/tests/chip/port_sim.cpp");
    spec.tag = format!("{}-ports", cfg.name);
    spec.cflags.push("-DVL_USER_STOP".into());
    build_model(&spec).unwrap_or_else(|e| panic!("port model of {}: {e}", cfg.name))
}

/// Outcome of a request to the port driver.
#[derive(Debug)]
pub enum PortReply {
    /// The request ran; the words after "ok".
    Ok(Vec<String>),
    /// An SV assertion failed: the messages the model printed (lines holding "%Error").
    SvError(Vec<String>),
}

/// A `tessera_top` model whose ports the test drives cycle by cycle (no transactors), for
/// protocol checks: every input is set explicitly and stays until changed.
pub struct Ports {
    pub cfg: ChipConfig,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Messages of a failed assertion, once one has failed.
    pub sv_error: Option<Vec<String>>,
}

impl Ports {
    /// Starts the model and holds it in reset for four cycles.
    pub fn new(name: &str) -> Ports {
        let cfg = ChipConfig::named(name).expect("named configuration");
        let exe = port_model(&cfg);
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start chip port model");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut p = Ports {
            cfg,
            child,
            stdin,
            stdout,
            sv_error: None,
        };
        p.expect_ok("reset 4");
        p
    }

    /// Sends one request; collects "%Error" lines printed before its reply.
    pub fn request(&mut self, line: &str) -> PortReply {
        assert!(
            self.sv_error.is_none(),
            "port model: '{line}' after an assertion failed"
        );
        writeln!(self.stdin, "{line}").expect("port model stdin");
        self.stdin.flush().expect("port model stdin");
        let mut errors = Vec::new();
        loop {
            let mut reply = String::new();
            let n = self
                .stdout
                .read_line(&mut reply)
                .expect("port model stdout");
            let reply = reply.trim().to_string();
            if n == 0 {
                panic!("port model: '{line}': the model exited; messages: {errors:?}");
            }
            if reply.contains("%Error") {
                errors.push(reply);
            } else if reply.starts_with("sverror") {
                self.sv_error = Some(errors.clone());
                return PortReply::SvError(errors);
            } else if let Some(rest) = reply.strip_prefix("ok") {
                assert!(errors.is_empty(), "port model: '{line}': {errors:?}");
                return PortReply::Ok(rest.split_whitespace().map(str::to_string).collect());
            } else if !reply.is_empty() {
                panic!("port model: '{line}' -> '{reply}'");
            }
        }
    }

    fn expect_ok(&mut self, line: &str) -> Vec<String> {
        match self.request(line) {
            PortReply::Ok(v) => v,
            PortReply::SvError(e) => panic!("port model: '{line}': assertion failed: {e:?}"),
        }
    }

    /// Sets an input port (any but `s_axis_tdata_i`).
    pub fn set(&mut self, port: &str, value: u64) {
        self.expect_ok(&format!("set {port} {value:x}"));
    }

    /// Sets `s_axis_tdata_i` from `StreamWidth / 32` words.
    pub fn set_tdata(&mut self, words: &[u32]) {
        assert_eq!(words.len(), self.cfg.beat_words());
        let mut s = String::from("data");
        for w in words {
            s.push_str(&format!(" {w:x}"));
        }
        self.expect_ok(&s);
    }

    /// Reads a scalar port after evaluating the model.
    pub fn get(&mut self, port: &str) -> u64 {
        let r = self.expect_ok(&format!("get {port}"));
        u64::from_str_radix(&r[0], 16).expect("hex value")
    }

    /// Clocks `n` cycles; `Err` with the messages when an assertion fails on the way.
    pub fn step(&mut self, n: u64) -> Result<u64, Vec<String>> {
        match self.request(&format!("step {n}")) {
            PortReply::Ok(v) => Ok(v[0].parse().expect("cycle count")),
            PortReply::SvError(e) => Err(e),
        }
    }
}

impl Drop for Ports {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}
