//! The simulated chip: the Verilator model of `tessera_top` as a driver [`Transport`].
//!
//! [`SimTransport`] runs the model of a named configuration with the bench [`BENCH`], a line
//! protocol with binary payloads for stream beats and weight backdoor writes. Its stream ports
//! run back to back unless [`SimTransport::set_stream_timing`] gives them seeded random gaps
//! and backpressure ([`StreamTiming`]).

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use tessera_abi::ecc;
use tessera_abi::ChipConfig;
use tessera_driver::transport::{Received, SimControl, Transport};
use tessera_driver::{Device, Error, Result};

use crate::builder::{build_model, ModelSpec};

/// The bench that drives `tessera_top` for [`SimTransport`], relative to the repository root.
pub const BENCH: &str = "verif/sim/csrc/tessera_sim.cpp";

/// Verilator control file of [`BENCH`]: makes the weight memories public so backdoor loads are
/// memory copies.
pub const BENCH_VLT: &str = "verif/sim/csrc/tessera_sim.vlt";

/// Builds (or reuses) the model of `tessera_top` in configuration `cfg` with [`BENCH`]; with
/// `trace`, a model that can write FST waveforms ([`SimTransport::trace`]), slower to build
/// and to run.
pub fn chip_model(cfg: &ChipConfig, trace: bool) -> Result<PathBuf> {
    let mut spec = ModelSpec::chip(cfg, BENCH);
    spec.extra_sv.push(BENCH_VLT.into());
    if trace {
        spec.tag = format!("{}-trace", cfg.name);
        spec.verilator_args.push("--trace-fst".into());
        spec.cflags.push("-DTRACE".into());
    }
    build_model(&spec)
}

/// The weight ROM of a chip built with its weights in ROM (docs/architecture.md, "Weights in
/// ROM"): the image folder `tessera rom-image` wrote and the digest of its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightRom {
    /// The folder holding `tile<t>.hex` for every tile (made absolute when the model is built:
    /// the Verilator model reads the images when it starts).
    pub dir: PathBuf,
    pub digest: u32,
}

/// Builds (or reuses) the model of `tessera_top` in configuration `cfg` with its weights in
/// ROM: the parameters `WeightRom = 1`, `WeightRomDir` and `WeightRomDigest`; the images are
/// part of the model's cache key.
pub fn rom_chip_model(cfg: &ChipConfig, rom: &WeightRom) -> Result<PathBuf> {
    let dir = rom
        .dir
        .canonicalize()
        .map_err(|e| Error::io(format!("ROM image folder {}", rom.dir.display()), e))?;
    let shown = dir.display().to_string();
    if shown.contains(['"', '\\']) || shown.contains(char::is_whitespace) {
        return Err(Error::Config(format!(
            "ROM image folder '{shown}': no quotes, backslashes or white space allowed"
        )));
    }
    let mut spec = ModelSpec::chip(cfg, BENCH);
    spec.extra_sv.push(BENCH_VLT.into());
    spec.tag = format!("{}-rom", cfg.name);
    spec.params.push(("WeightRom".into(), "1'b1".into()));
    spec.params
        .push(("WeightRomDir".into(), format!("\"{shown}\"")));
    spec.params
        .push(("WeightRomDigest".into(), format!("32'd{}", rom.digest)));
    for t in 0..cfg.tiles() {
        let f = dir.join(tessera_abi::rom::tile_file(t));
        if !f.is_file() {
            return Err(Error::Config(format!(
                "ROM image folder {shown}: no {}",
                tessera_abi::rom::tile_file(t)
            )));
        }
        spec.key_files.push(f);
    }
    build_model(&spec)
}

/// Timing of the simulated stream ports: random idle cycles before input beats and random
/// backpressure on the output, drawn from a seeded generator in the bench, so a run replays
/// cycle for cycle. [`StreamTiming::NONE`] (the default) is back to back: every input beat
/// presented at once, output always ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamTiming {
    /// Probability, per mille, of an idle cycle before each input beat (0 to 999).
    pub in_gap_permille: u32,
    /// Probability, per mille, of TREADY high in a cycle on the output (1 to 1000).
    pub out_ready_permille: u32,
    pub seed: u64,
}

impl StreamTiming {
    /// Back-to-back streams (no draws).
    pub const NONE: StreamTiming = StreamTiming {
        in_gap_permille: 0,
        out_ready_permille: 1000,
        seed: 0,
    };
}

impl Default for StreamTiming {
    fn default() -> Self {
        StreamTiming::NONE
    }
}

/// A running Verilator model of `tessera_top`.
pub struct SimTransport {
    cfg: ChipConfig,
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    dead: bool,
    /// Wall time spent waiting for the model's replies.
    waited: std::time::Duration,
}

impl SimTransport {
    /// Builds (or reuses) the model of the named configuration of `rtl/top/configs.toml` and
    /// starts it.
    pub fn open(config: &str) -> Result<SimTransport> {
        let cfg = ChipConfig::named(config)?;
        let exe = chip_model(&cfg, false)?;
        Self::spawn(cfg, &exe)
    }

    /// Like [`SimTransport::open`], with the chip's weights in ROM ([`rom_chip_model`]).
    pub fn open_rom(config: &str, rom: &WeightRom) -> Result<SimTransport> {
        let cfg = ChipConfig::named(config)?;
        let exe = rom_chip_model(&cfg, rom)?;
        Self::spawn(cfg, &exe)
    }

    /// Like [`SimTransport::open`], with a model that can write FST waveforms.
    pub fn open_traced(config: &str) -> Result<SimTransport> {
        let cfg = ChipConfig::named(config)?;
        let exe = chip_model(&cfg, true)?;
        Self::spawn(cfg, &exe)
    }

    /// Starts (or restarts) an FST waveform into `path`, or stops it with `None`. Needs a model
    /// from [`SimTransport::open_traced`].
    pub fn trace(&mut self, path: Option<&Path>) -> Result<()> {
        let arg = match path {
            Some(p) => p.display().to_string(),
            None => "off".into(),
        };
        if arg.contains(char::is_whitespace) {
            return Err(Error::Sim(format!(
                "trace path '{arg}' contains white space"
            )));
        }
        self.req_ok(&format!("trace {arg}"), &[]).map(|_| ())
    }

    /// Starts an already built model executable of configuration `cfg`.
    pub fn spawn(cfg: ChipConfig, exe: &Path) -> Result<SimTransport> {
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("start {}", exe.display()), e))?;
        let stdin = BufWriter::with_capacity(1 << 20, child.stdin.take().expect("piped stdin"));
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped stdout"));
        Ok(SimTransport {
            cfg,
            child,
            stdin,
            stdout,
            dead: false,
            waited: std::time::Duration::ZERO,
        })
    }

    /// The configuration the model was built for.
    pub fn config(&self) -> &ChipConfig {
        &self.cfg
    }

    /// Process id of the running model (for CPU-time accounting by benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn fail(&mut self, what: String) -> Error {
        self.dead = true;
        let status = self.child.try_wait().ok().flatten();
        match status {
            Some(s) => Error::Sim(format!(
                "{what}: the model exited ({s}); an assertion may have failed (see stderr)"
            )),
            None => Error::Sim(what),
        }
    }

    fn send_line(&mut self, line: &str, payload: &[u8]) -> Result<()> {
        if self.dead {
            return Err(Error::Sim("the model has stopped".into()));
        }
        let r = writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.write_all(payload))
            .and_then(|_| self.stdin.flush());
        if let Err(e) = r {
            return Err(self.fail(format!("'{line}': write: {e}")));
        }
        Ok(())
    }

    /// Wall time spent waiting for the model's replies since the start (the simulator's share
    /// of a run; the rest is the host's).
    pub fn wait_seconds(&self) -> f64 {
        self.waited.as_secs_f64()
    }

    fn reply(&mut self, line: &str) -> Result<Vec<String>> {
        let mut reply = String::new();
        let t0 = Instant::now();
        let r = self.stdout.read_line(&mut reply);
        self.waited += t0.elapsed();
        match r {
            Ok(0) | Err(_) => Err(self.fail(format!("'{line}': no reply"))),
            Ok(_) => Ok(reply.split_whitespace().map(str::to_string).collect()),
        }
    }

    /// One request; the reply's fields after `ok`, or `None` on `timeout`.
    fn req(&mut self, line: &str, payload: &[u8]) -> Result<Option<Vec<String>>> {
        self.send_line(line, payload)?;
        let parts = self.reply(line)?;
        match parts.first().map(String::as_str) {
            Some("ok") => Ok(Some(parts[1..].to_vec())),
            Some("timeout") => Ok(None),
            _ => Err(self.fail(format!("'{line}' -> '{}'", parts.join(" ")))),
        }
    }

    fn req_ok(&mut self, line: &str, payload: &[u8]) -> Result<Vec<String>> {
        match self.req(line, payload)? {
            Some(p) => Ok(p),
            None => Err(Error::Timeout {
                what: format!("simulator request '{line}'"),
                cycles: 0,
            }),
        }
    }

    fn read_bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        if let Err(e) = self.stdout.read_exact(&mut buf) {
            return Err(self.fail(format!("{what}: {e}")));
        }
        Ok(buf)
    }

    /// Runs `n` cycles.
    pub fn run(&mut self, n: u64) -> Result<()> {
        self.req_ok(&format!("run {n}"), &[]).map(|_| ())
    }

    /// Sets the timing of the stream ports from the next cycle on ([`StreamTiming`]); the
    /// generator restarts from `timing.seed`.
    pub fn set_stream_timing(&mut self, timing: StreamTiming) -> Result<()> {
        let StreamTiming {
            in_gap_permille: gap,
            out_ready_permille: ready,
            seed,
        } = timing;
        if gap >= 1000 || ready == 0 || ready > 1000 {
            return Err(Error::Sim(format!(
                "stream timing: input gap {gap} per mille must be below 1000 and output ready \
                 {ready} per mille within 1..=1000"
            )));
        }
        self.req_ok(&format!("g {gap} {ready} {seed}"), &[])
            .map(|_| ())
    }

    /// Fault injection: flips stored bit `bit` (data or ECC check bit) of word `addr` of the
    /// memory in `scope`, e.g. [`weight_scope`] or [`dmem_bank_scope`].
    pub fn flip_bit(&mut self, scope: &str, addr: usize, bit: usize) -> Result<()> {
        if scope.contains(char::is_whitespace) {
            return Err(Error::Sim(format!("flip: scope `{scope}` has white space")));
        }
        self.req_ok(&format!("F {scope} {addr} {bit}"), &[])
            .map(|_| ())
    }

    /// Writes stored words of `entry_bytes` bytes each (the size of one entry of the array, as
    /// Verilator holds it) into the memory array of the named scope from word `addr` on,
    /// bypassing its ports.
    pub fn mem_write(
        &mut self,
        scope: &str,
        addr: usize,
        entry_bytes: usize,
        data: &[u8],
    ) -> Result<()> {
        if scope.contains(char::is_whitespace) {
            return Err(Error::Sim(format!(
                "memory write: scope `{scope}` has white space"
            )));
        }
        if entry_bytes == 0 || data.len() % entry_bytes != 0 {
            return Err(Error::Sim(format!(
                "memory write of {} bytes in entries of {entry_bytes}",
                data.len()
            )));
        }
        // Bounded requests keep the bench's buffer small.
        let per = ((16 << 20) / entry_bytes).max(1);
        for (i, part) in data.chunks(per * entry_bytes).enumerate() {
            let n = part.len() / entry_bytes;
            let line = format!("M {scope} {} {n} {entry_bytes}", addr + i * per);
            self.req_ok(&line, part)?;
        }
        Ok(())
    }

    /// The interrupt line now.
    pub fn irq(&mut self) -> Result<bool> {
        let r = self.req_ok("irq", &[])?;
        Ok(r.first().map(String::as_str) == Some("1"))
    }
}

/// The scope of tile `tile`'s weight memory (stored words: [`tessera_abi::ecc::stored_word`]).
pub fn weight_scope(tile: usize) -> String {
    format!("TOP.tessera_top.gen_tile[{tile}].u_tile.u_weight_ram")
}

/// The scope of bank `bank` of the token engine's DMEM: DMEM word `a` is row `a / banks` of
/// bank `a % banks` (`banks` = `StreamWidth / 32`); a stored word is 32 data bits, then 7 check
/// bits.
pub fn dmem_bank_scope(bank: usize) -> String {
    format!("TOP.tessera_top.gen_tok.u_tok.u_dmem.gen_bank[{bank}]")
}

fn parse<T: std::str::FromStr>(s: Option<&String>, what: &str) -> Result<T> {
    s.and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Sim(format!("malformed reply to {what}")))
}

impl Transport for SimTransport {
    fn stream_width(&self) -> usize {
        self.cfg.stream_width
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        let r = self.req_ok(&format!("r {addr:x}"), &[])?;
        let data = r
            .first()
            .and_then(|v| u32::from_str_radix(v, 16).ok())
            .ok_or_else(|| Error::Sim("malformed read reply".into()))?;
        let resp: u32 = parse(r.get(1), "r")?;
        if resp != 0 {
            return Err(Error::Bus {
                op: "read",
                addr,
                resp,
            });
        }
        Ok(data)
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        let r = self.req_ok(&format!("w {addr:x} {value:x}"), &[])?;
        let resp: u32 = parse(r.first(), "w")?;
        if resp != 0 {
            return Err(Error::Bus {
                op: "write",
                addr,
                resp,
            });
        }
        Ok(())
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        let bw = self.cfg.beat_words();
        if words.is_empty() || words.len() % bw != 0 {
            return Err(Error::Sim(format!(
                "stream_send: {} words is not a whole number of {bw}-word beats",
                words.len()
            )));
        }
        let beats = words.len() / bw;
        let mut bytes = Vec::with_capacity(words.len() * 4);
        for w in words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        let max = timeout_cycles.saturating_add(beats as u64);
        let line = format!("S {beats} {} {max}", u8::from(tlast));
        match self.req(&line, &bytes)? {
            Some(_) => Ok(()),
            None => Err(Error::Timeout {
                what: format!("the chip stopped taking stream input ({beats} beats queued)"),
                cycles: max,
            }),
        }
    }

    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        let line = format!("R {beats} {timeout_cycles}");
        let r = self.req_ok(&line, &[])?;
        let got: usize = parse(r.first(), "R")?;
        let bb = self.cfg.stream_width / 8;
        let data = self.read_bytes(got * (bb + 1), "R")?;
        let words = data[..got * bb]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let last = data[got * bb..].iter().map(|&b| b != 0).collect();
        if got < beats {
            return Err(Error::Timeout {
                what: format!("received {got} of {beats} output beats"),
                cycles: timeout_cycles,
            });
        }
        Ok(Received { words, last })
    }

    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        Ok(self.req(&format!("I {timeout_cycles}"), &[])?.is_some())
    }

    fn idle(&mut self, cycles: u64) -> Result<()> {
        self.run(cycles)
    }

    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(self)
    }
}

impl SimControl for SimTransport {
    fn backdoor_write(
        &mut self,
        tile: usize,
        addr: usize,
        word_bytes: usize,
        data: &[u8],
    ) -> Result<()> {
        if word_bytes % 4 != 0 || data.len() % word_bytes != 0 {
            return Err(Error::Sim(format!(
                "backdoor write of {} bytes in words of {word_bytes}",
                data.len()
            )));
        }
        // The memory stores code words (data, then ECC check bytes): the bench copies them.
        let stored = ecc::stored_word_bytes(word_bytes);
        // Bounded requests keep the bench's buffer small.
        let per = ((16 << 20) / stored).max(1);
        for (i, part) in data.chunks(per * word_bytes).enumerate() {
            let n = part.len() / word_bytes;
            let raw: Vec<u8> = part
                .chunks_exact(word_bytes)
                .flat_map(ecc::stored_word)
                .collect();
            let line = format!("B {tile} {} {n} {stored}", addr + i * per);
            self.req_ok(&line, &raw)?;
        }
        Ok(())
    }

    fn backdoor_read(
        &mut self,
        tile: usize,
        addr: usize,
        words: usize,
        word_bytes: usize,
    ) -> Result<Vec<u8>> {
        let stored = ecc::stored_word_bytes(word_bytes);
        self.req_ok(&format!("Q {tile} {addr} {words} {stored}"), &[])?;
        let raw = self.read_bytes(words * stored, "Q")?;
        Ok(raw
            .chunks_exact(stored)
            .flat_map(|w| w[..word_bytes].to_vec())
            .collect())
    }

    fn dmem_backdoor_write(&mut self, word: usize, words: &[u32]) -> Result<()> {
        let banks = self.cfg.beat_words().max(1);
        if word % banks != 0 || words.len() % banks != 0 {
            return Err(Error::Sim(format!(
                "DMEM backdoor write of {} words at word {word}: not whole rows of {banks} banks",
                words.len()
            )));
        }
        if (word + words.len()) as u64 > self.cfg.dmem_words as u64 {
            return Err(Error::DoesNotFit(format!(
                "data memory: {} words from word {word}, configuration `{}` has {}",
                words.len(),
                self.cfg.name,
                self.cfg.dmem_words
            )));
        }
        // A stored word is 32 data bits, then 7 check bits: one 64-bit entry.
        for b in 0..banks {
            let raw: Vec<u8> = words
                .iter()
                .skip(b)
                .step_by(banks)
                .flat_map(|&w| {
                    let check = u64::from(ecc::encode(u64::from(w), 32));
                    (u64::from(w) | check << 32).to_le_bytes()
                })
                .collect();
            self.mem_write(&dmem_bank_scope(b), word / banks, 8, &raw)?;
        }
        Ok(())
    }

    fn cycles(&mut self) -> Result<u64> {
        let r = self.req_ok("cycles", &[])?;
        parse(r.first(), "cycles")
    }
}

impl Drop for SimTransport {
    fn drop(&mut self) {
        if !self.dead {
            let _ = writeln!(self.stdin, "quit");
            let _ = self.stdin.flush();
        }
        if self.dead {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Builds (or reuses) and starts the model of the named configuration and discovers it: the
/// chip must report exactly that configuration.
pub fn open_device(config: &str) -> Result<Device<SimTransport>> {
    let t = SimTransport::open(config)?;
    let cfg = t.config().clone();
    Device::open_expecting(t, &cfg)
}
