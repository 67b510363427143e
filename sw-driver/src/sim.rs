//! The Verilator model of `tessera_top` as a [`Transport`].
//!
//! [`build_model`] builds a Verilator executable once per input hash (RTL files of
//! `rtl/files.f`, extra sources, the C++ bench, top, flags, parameters and the Verilator
//! version) under [`cache_dir`], `target/tessera-verilated/` of the repository by default,
//! guarded by a file lock so concurrent test processes build it once. [`SimTransport`] runs the
//! model of a named configuration with the bench `sw-driver/bench/tessera_sim.cpp`, a line
//! protocol with binary payloads for stream beats and weight backdoor writes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{repo_root, ChipConfig};
use crate::error::{Error, Result};
use crate::transport::{Received, SimControl, Transport};

/// The bench that drives `tessera_top` for [`SimTransport`], relative to the repository root.
pub const BENCH: &str = "sw-driver/bench/tessera_sim.cpp";

/// Headers shared by the C++ benches (such as `axil_manager.h`): this folder is on every model's
/// include path, and each `*.h` in it is part of every model's cache key.
pub const BENCH_INCLUDE: &str = "sw-driver/bench";

/// Where built models are cached: `$TESSERA_VERILATED_DIR`, else
/// `<repository>/target/tessera-verilated`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TESSERA_VERILATED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/tessera-verilated"))
}

/// True when `verilator` runs. Tests skip (with a message) when it does not.
pub fn have_verilator() -> bool {
    Command::new("verilator")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// For tests: [`have_verilator`], printing why a test skips when it is missing; with
/// `CI=true` a missing Verilator is a failure (panic), never a skip.
pub fn require_verilator() -> bool {
    let ok = have_verilator();
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("verilator is required in CI");
    }
    if !ok {
        eprintln!("skipped: verilator not found");
    }
    ok
}

/// What to build: a Verilator `--exe` model of `top` from `rtl/files.f` plus `extra_sv`, with
/// the C++ driver `cpp` (paths relative to the repository root).
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// A name for the cache directory (usually the configuration).
    pub tag: String,
    pub top: String,
    pub extra_sv: Vec<String>,
    pub cpp: String,
    /// `-CFLAGS` values (defines such as `-DSTREAM_WIDTH=64`).
    pub cflags: Vec<String>,
    /// `-G<key>=<value>` parameters.
    pub params: Vec<(String, String)>,
    /// `OPT_FAST` of the model's make (`-O3` for [`ModelSpec::chip`]).
    pub opt: String,
    /// Extra Verilator options (such as `--trace-fst`).
    pub verilator_args: Vec<String>,
}

impl ModelSpec {
    /// `tessera_top` of configuration `cfg` driven by `cpp`.
    pub fn chip(cfg: &ChipConfig, cpp: &str) -> ModelSpec {
        ModelSpec {
            tag: cfg.name.clone(),
            top: "tessera_top".into(),
            extra_sv: Vec::new(),
            cpp: cpp.into(),
            // -march=native roughly doubles the speed of the MAC arrays (docs/driver.md); the
            // cache key includes the host CPU, so a cached model never meets another CPU.
            cflags: vec![
                format!("-DSTREAM_WIDTH={}", cfg.stream_width),
                "-march=native".into(),
            ],
            params: cfg
                .params()
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
            opt: "-O3".into(),
            verilator_args: Vec::new(),
        }
    }
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// 64-bit FNV-1a, stable across Rust versions (the cache key must not change with the compiler).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Separator, so concatenations of different splits differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

/// Input files of `rtl/files.f` (include directories expanded), in order.
fn rtl_inputs(root: &Path) -> Result<(String, Vec<PathBuf>)> {
    let files_f = std::fs::read_to_string(root.join("rtl/files.f"))
        .map_err(|e| Error::io("read rtl/files.f", e))?;
    let mut inputs = Vec::new();
    for line in files_f.lines().map(str::trim) {
        if let Some(dir) = line.strip_prefix("+incdir+") {
            if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
                let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                names.sort();
                inputs.extend(names);
            }
        } else if !line.is_empty() && !line.starts_with("//") {
            inputs.push(root.join(line));
        }
    }
    Ok((files_f, inputs))
}

/// Builds (or reuses) the model; returns the path of its executable. Prints one line to stderr
/// when it builds.
pub fn build_model(spec: &ModelSpec) -> Result<PathBuf> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let (files_f, mut inputs) = rtl_inputs(&root)?;
    let mut h = Fnv::new();
    h.bytes(files_f.as_bytes());
    inputs.extend(spec.extra_sv.iter().map(|f| root.join(f)));
    inputs.push(root.join(&spec.cpp));
    let include = root.join(BENCH_INCLUDE);
    let mut headers: Vec<PathBuf> = std::fs::read_dir(&include)
        .map_err(|e| Error::io(format!("read {}", include.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h"))
        .collect();
    headers.sort();
    inputs.extend(headers);
    for p in &inputs {
        let data = std::fs::read(p).map_err(|e| Error::io(format!("read {}", p.display()), e))?;
        h.bytes(&data);
    }
    h.bytes(spec.top.as_bytes());
    for f in &spec.cflags {
        h.bytes(f.as_bytes());
    }
    for (k, v) in &spec.params {
        h.bytes(k.as_bytes());
        h.bytes(v.as_bytes());
    }
    h.bytes(spec.opt.as_bytes());
    for a in &spec.verilator_args {
        h.bytes(a.as_bytes());
    }
    let version = Command::new("verilator")
        .arg("--version")
        .output()
        .map_err(|e| Error::Build(format!("cannot run verilator: {e}")))?;
    h.bytes(&version.stdout);
    if spec.cflags.iter().any(|f| f.contains("native")) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpu
            .lines()
            .find(|l| l.starts_with("model name"))
            .unwrap_or("");
        let flags = cpu.lines().find(|l| l.starts_with("flags")).unwrap_or("");
        h.bytes(model.as_bytes());
        h.bytes(flags.as_bytes());
    }

    let cache = cache_dir();
    std::fs::create_dir_all(&cache)
        .map_err(|e| Error::io(format!("create {}", cache.display()), e))?;
    let name = format!("{}-{}-{:016x}", spec.top, spec.tag, h.0);
    let dir = cache.join(&name);
    let exe = dir.join(format!("V{}", spec.top));
    if exe.exists() {
        return Ok(exe);
    }
    // Other processes (parallel test binaries) wait here while one builds.
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| Error::io(format!("create {}", lock_path.display()), e))?;
    flock(&lock)?;
    if exe.exists() {
        return Ok(exe);
    }
    let t0 = Instant::now();
    eprintln!(
        "tessera: building the Verilator model of {} ({}) in {} (once per RTL change; minutes for large configurations)",
        spec.top,
        spec.tag,
        dir.display()
    );
    let tmp = cache.join(format!("{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create model directory", e))?;
    let mut cmd = Command::new("verilator");
    cmd.current_dir(&root)
        .args(["--cc", "--exe", "--build", "-j", "2", "--assert"])
        .args([
            "-Wno-fatal",
            "-Wno-lint",
            "--top-module",
            &spec.top,
            "-Mdir",
        ])
        .arg(&tmp)
        .args(["-f", "rtl/files.f"])
        .args(&spec.verilator_args)
        .args(&spec.extra_sv)
        .arg("-MAKEFLAGS")
        .arg(format!("OPT_FAST={}", spec.opt))
        .arg(root.join(&spec.cpp));
    cmd.arg("-CFLAGS").arg(format!("-I{}", include.display()));
    for f in &spec.cflags {
        cmd.args(["-CFLAGS", f]);
    }
    for (k, v) in &spec.params {
        cmd.arg(format!("-G{k}={v}"));
    }
    let out = cmd
        .output()
        .map_err(|e| Error::Build(format!("cannot run verilator: {e}")))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::Build(format!(
            "{} ({}):\n{}",
            spec.top,
            spec.tag,
            tail.join("\n")
        )));
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    eprintln!(
        "tessera: built {} in {:.1} s",
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(exe)
}

fn flock(f: &File) -> Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a valid open descriptor; released when the file is closed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if r != 0 {
        return Err(Error::io(
            "lock the model cache",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Verilator control file of [`BENCH`]: makes the weight memories public so backdoor loads are
/// memory copies.
pub const BENCH_VLT: &str = "sw-driver/bench/tessera_sim.vlt";

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

    /// The interrupt line now.
    pub fn irq(&mut self) -> Result<bool> {
        let r = self.req_ok("irq", &[])?;
        Ok(r.first().map(String::as_str) == Some("1"))
    }
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
        // Bounded requests keep the bench's buffer small.
        let per = ((16 << 20) / word_bytes).max(1);
        for (i, part) in data.chunks(per * word_bytes).enumerate() {
            let n = part.len() / word_bytes;
            let line = format!("B {tile} {} {n} {word_bytes}", addr + i * per);
            self.req_ok(&line, part)?;
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
        self.req_ok(&format!("Q {tile} {addr} {words} {word_bytes}"), &[])?;
        self.read_bytes(words * word_bytes, "Q")
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
pub fn open_device(config: &str) -> Result<crate::Device<SimTransport>> {
    let t = SimTransport::open(config)?;
    let cfg = t.config().clone();
    crate::Device::open_expecting(t, &cfg)
}
