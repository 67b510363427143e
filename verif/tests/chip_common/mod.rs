//! Shared pieces of the chip tests: configurations from `rtl/top/configs.toml`, the Verilator
//! model of `tessera_top` driven through `verif/bench/chip_sim.cpp` (AXI4-Lite master, AXI4-Stream
//! source and sink with random backpressure, weight backdoor), descriptor encoders and the
//! mapper that places a matrix on the tiles (`docs/architecture.md`).
//!
//! The model is built once per configuration and input hash in the driver's model cache
//! (`target/tessera-verilated/`, see `tessera_sim`). Tests skip when `verilator` is
//! missing and `CI` is not `true`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Register offsets (docs/registers.md).
pub mod reg {
    pub const ID: u32 = 0x000;
    pub const VERSION: u32 = 0x004;
    pub const CFG_GRID: u32 = 0x010;
    pub const CFG_TILE: u32 = 0x014;
    pub const CFG_WEIGHT_WORDS: u32 = 0x018;
    pub const CFG_ACT_WORDS: u32 = 0x01c;
    pub const CFG_VBUF_WORDS: u32 = 0x020;
    pub const CFG_ABUF_WORDS: u32 = 0x024;
    pub const CFG_RBUF_WORDS: u32 = 0x028;
    pub const CFG_STREAM: u32 = 0x02c;
    pub const CTRL: u32 = 0x040;
    pub const STATUS: u32 = 0x044;
    pub const ERROR: u32 = 0x048;
    pub const INTR_STATUS: u32 = 0x050;
    pub const INTR_ENABLE: u32 = 0x054;
    pub const SCRATCH: u32 = 0x060;
    pub const CMD_FIFO: u32 = 0x070;
    pub const PERF_CYCLES_LO: u32 = 0x100;
    pub const PERF_MAC_BUSY_LO: u32 = 0x108;
    pub const PERF_STALL_INPUT_LO: u32 = 0x110;
    pub const PERF_STALL_OUTPUT_LO: u32 = 0x118;
    pub const PERF_STALL_CMD_LO: u32 = 0x120;
}

/// Opcodes and error codes (`tessera_pkg`).
pub mod op {
    pub const NOP: u32 = 0x00;
    pub const MATVEC: u32 = 0x01;
    pub const WEIGHT_LOAD: u32 = 0x02;
    pub const VBUF_LOAD: u32 = 0x03;
    pub const VBUF_READ: u32 = 0x04;
    pub const FENCE: u32 = 0x05;
    pub const PERF_SNAPSHOT: u32 = 0x06;
}

pub mod err {
    pub const NONE: u32 = 0x00;
    pub const OPCODE: u32 = 0x01;
    pub const SHAPE: u32 = 0x02;
    pub const WEIGHT_RANGE: u32 = 0x03;
    pub const ABUF_RANGE: u32 = 0x04;
    pub const RBUF_RANGE: u32 = 0x05;
    pub const TILE_RANGE: u32 = 0x06;
    pub const STREAM_SHORT: u32 = 0x07;
    pub const STREAM_LONG: u32 = 0x08;
    pub const CMD_OVERFLOW: u32 = 0x09;
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// A named chip configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub name: String,
    pub params: Vec<(String, u64)>,
    pub tiles: usize,
    pub lanes: usize,
    pub kwidth: usize,
    pub weight_words: usize,
    pub act_words: usize,
    pub abuf_words: usize,
    pub rbuf_words: usize,
    pub stream_width: usize,
}

impl Config {
    pub fn load(name: &str) -> Config {
        let text = std::fs::read_to_string(repo_root().join("rtl/top/configs.toml"))
            .expect("rtl/top/configs.toml");
        let mut sections: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        let mut cur = String::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                cur = line.trim_matches(|c| c == '[' || c == ']').to_string();
                sections.entry(cur.clone()).or_default();
            } else if let Some((k, v)) = line.split_once('=') {
                let v: u64 = v.trim().parse().expect("integer parameter");
                sections
                    .entry(cur.clone())
                    .or_default()
                    .push((k.trim().to_string(), v));
            }
        }
        let params = sections
            .remove(name)
            .unwrap_or_else(|| panic!("no configuration {name}"));
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| *v as usize)
                .unwrap_or_else(|| panic!("{name}: no {k}"))
        };
        Config {
            name: name.to_string(),
            tiles: get("GridRows") * get("GridCols"),
            lanes: get("Lanes"),
            kwidth: get("KWidth"),
            weight_words: get("WeightWords"),
            act_words: get("ActWords"),
            abuf_words: get("AbufWords"),
            rbuf_words: get("RbufWords"),
            stream_width: get("StreamWidth"),
            params,
        }
    }

    /// 32-bit words per stream beat.
    pub fn beat_words(&self) -> usize {
        self.stream_width / 32
    }

    /// log2 of the tile count.
    pub fn lg_tiles(&self) -> u32 {
        self.tiles.trailing_zeros()
    }
}

use tessera_driver::config::weight_byte;
/// True when `verilator` runs; tests skip (with a message) when it does not, except under
/// `CI=true`, where a missing Verilator fails.
pub use tessera_sim::require_verilator as have_verilator;
use tessera_sim::{build_model, ModelSpec};

/// Builds (or reuses) the chip model of configuration `cfg`; returns the executable.
pub fn model(cfg: &Config) -> PathBuf {
    let params: Vec<(String, String)> = cfg
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    build(
        &cfg.name,
        "tessera_top",
        &[],
        "verif/bench/chip_sim.cpp",
        &[format!("-DSTREAM_WIDTH={}", cfg.stream_width)],
        &params,
    )
}

/// Builds (or reuses) a Verilator executable of `top` from `rtl/files.f` plus `extra_sv`, with
/// the C++ driver `cpp` (paths relative to the repository root), through the driver's model
/// cache ([`tessera_sim::build_model`]: one build per input hash, shared by test
/// processes under a file lock).
pub fn build(
    tag: &str,
    top: &str,
    extra_sv: &[&str],
    cpp: &str,
    cflags: &[String],
    params: &[(String, String)],
) -> PathBuf {
    let spec = ModelSpec {
        tag: tag.into(),
        top: top.into(),
        extra_sv: extra_sv.iter().map(|s| s.to_string()).collect(),
        cpp: cpp.into(),
        cflags: cflags.to_vec(),
        params: params.to_vec(),
        opt: "-O2".into(),
        verilator_args: Vec::new(),
    };
    build_model(&spec).unwrap_or_else(|e| panic!("verilator build of {top} ({tag}) failed: {e}"))
}

/// One beat of a stream: (tlast, 32-bit words).
pub type Beat = (bool, Vec<u32>);

/// A running chip model.
pub struct Chip {
    pub cfg: Config,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Chip {
    pub fn new(name: &str) -> Chip {
        let cfg = Config::load(name);
        let exe = model(&cfg);
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start chip model");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Chip {
            cfg,
            child,
            stdin,
            stdout,
        }
    }

    fn req(&mut self, line: &str) -> Vec<String> {
        writeln!(self.stdin, "{line}").expect("model stdin");
        self.stdin.flush().expect("model stdin");
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("model stdout");
        let parts: Vec<String> = reply.split_whitespace().map(str::to_string).collect();
        assert!(
            parts.first().map(String::as_str) == Some("ok"),
            "model: '{line}' -> '{}' (an assertion may have failed)",
            reply.trim()
        );
        parts[1..].to_vec()
    }

    /// AXI4-Lite write; returns BRESP.
    pub fn write(&mut self, addr: u32, data: u32) -> u32 {
        self.req(&format!("w {addr:x} {data:x}"))[0]
            .parse()
            .unwrap()
    }

    /// AXI4-Lite read; returns (data, RRESP).
    pub fn read_resp(&mut self, addr: u32) -> (u32, u32) {
        let r = self.req(&format!("r {addr:x}"));
        (
            u32::from_str_radix(&r[0], 16).unwrap(),
            r[1].parse().unwrap(),
        )
    }

    pub fn read(&mut self, addr: u32) -> u32 {
        let (d, resp) = self.read_resp(addr);
        assert_eq!(resp, 0, "read of {addr:#x} answered {resp}");
        d
    }

    /// Queues beats on the input stream (sent while the model runs).
    pub fn queue(&mut self, beats: &[Beat]) {
        let mut s = String::new();
        for (last, words) in beats {
            assert_eq!(words.len(), self.cfg.beat_words());
            s.push_str(if *last { "s 1" } else { "s 0" });
            for w in words {
                s.push_str(&format!(" {w:x}"));
            }
            s.push('\n');
        }
        self.stdin.write_all(s.as_bytes()).expect("model stdin");
    }

    /// Runs until every queued beat is taken; None on timeout.
    pub fn flush(&mut self, max_cycles: u64) -> Option<u64> {
        writeln!(self.stdin, "flush {max_cycles}").expect("model stdin");
        self.stdin.flush().expect("model stdin");
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("model stdout");
        let parts: Vec<&str> = reply.split_whitespace().collect();
        match parts.first() {
            Some(&"ok") => Some(parts[1].parse().unwrap()),
            Some(&"timeout") => None,
            _ => panic!("model: flush -> '{}'", reply.trim()),
        }
    }

    pub fn run(&mut self, cycles: u64) {
        self.req(&format!("run {cycles}"));
    }

    /// Output beats collected since the last call.
    pub fn take_out(&mut self) -> Vec<Beat> {
        let r = self.req("out");
        let n: usize = r[0].parse().unwrap();
        let bw = self.cfg.beat_words();
        (0..n)
            .map(|i| {
                let base = 1 + i * (bw + 1);
                let last = r[base] == "1";
                let words = (0..bw)
                    .map(|j| u32::from_str_radix(&r[base + 1 + j], 16).unwrap())
                    .collect();
                (last, words)
            })
            .collect()
    }

    /// Random input gaps and output stalls, in percent.
    pub fn backpressure(&mut self, in_gap: u32, out_stall: u32, seed: u64) {
        self.req(&format!("bp {in_gap} {out_stall} {seed}"));
    }

    pub fn backdoor_write(&mut self, tile: usize, addr: usize, piece: usize, value: u32) {
        self.req(&format!("bdw {tile} {addr} {piece} {value:x}"));
    }

    pub fn backdoor_read(&mut self, tile: usize, addr: usize, piece: usize) -> u32 {
        u32::from_str_radix(&self.req(&format!("bdr {tile} {addr} {piece}"))[0], 16).unwrap()
    }

    pub fn irq(&mut self) -> bool {
        self.req("irq")[0] == "1"
    }

    pub fn cycles(&mut self) -> u64 {
        self.req("cycles")[0].parse().unwrap()
    }

    /// Reads a 64-bit counter pair.
    pub fn read64(&mut self, lo: u32) -> u64 {
        let l = self.read(lo) as u64;
        let h = self.read(lo + 4) as u64;
        l | (h << 32)
    }

    /// Sends descriptor packets and waits until the chip has taken them all.
    pub fn send(&mut self, packets: &[Vec<Beat>]) {
        for p in packets {
            self.queue(p);
        }
        self.flush(50_000_000)
            .expect("the chip stopped taking input");
    }

    /// Waits until STATUS.busy is clear; returns false after `max_polls` reads.
    pub fn wait_idle(&mut self, max_polls: usize) -> bool {
        for _ in 0..max_polls {
            if self.read(reg::STATUS) & 1 == 0 {
                return true;
            }
            self.run(50);
        }
        false
    }

    pub fn soft_reset(&mut self) {
        assert_eq!(self.write(reg::CTRL, 2), 0);
        self.run(4);
    }
}

impl Drop for Chip {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Little-endian packing of bytes into 32-bit words.
pub fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect()
}

/// Splits words into beats; tlast on the last beat when `last` is set.
pub fn words_to_beats(cfg: &Config, words: &[u32], last: bool) -> Vec<Beat> {
    let bw = cfg.beat_words();
    assert_eq!(words.len() % bw, 0, "payload is not whole beats");
    let n = words.len() / bw;
    words
        .chunks(bw)
        .enumerate()
        .map(|(i, c)| (last && i + 1 == n, c.to_vec()))
        .collect()
}

/// Header beats of a descriptor (eight words, zero-padded to whole beats).
pub fn header_words(cfg: &Config, words: &[u32]) -> Vec<u32> {
    let mut w = words.to_vec();
    w.resize(8, 0);
    let bw = cfg.beat_words();
    let total = 8usize.div_ceil(bw) * bw;
    w.resize(total, 0);
    w
}

/// A whole descriptor packet: header then payload, tlast on the last beat.
pub fn packet(cfg: &Config, header: &[u32], payload: &[u32]) -> Vec<Beat> {
    let mut w = header_words(cfg, header);
    w.extend_from_slice(payload);
    words_to_beats(cfg, &w, true)
}

/// A matrix placed on the tiles (`docs/architecture.md`, partition of a matrix).
pub struct Placement {
    pub lg_pk: u32,
    pub groups: usize,
    pub chunks: usize,
    /// Weight words per tile, `groups * chunks` words of `lanes * kwidth` bytes each.
    pub tile_words: Vec<Vec<u8>>,
}

impl Placement {
    pub fn new(cfg: &Config, w: &[i8], rows: usize, k: usize, lg_pk: u32) -> Placement {
        let pk = 1usize << lg_pk;
        let pr = cfg.tiles / pk;
        let groups = rows.div_ceil(pr * cfg.lanes).max(1);
        let chunks = k.div_ceil(pk * cfg.kwidth).max(1);
        let word = cfg.lanes * cfg.kwidth;
        let mut tile_words = vec![vec![0u8; groups * chunks * word]; cfg.tiles];
        for (t, tw) in tile_words.iter_mut().enumerate() {
            let (rp, kp) = (t >> lg_pk, t & (pk - 1));
            for g in 0..groups {
                for c in 0..chunks {
                    for l in 0..cfg.lanes {
                        let r = (rp * groups + g) * cfg.lanes + l;
                        for j in 0..cfg.kwidth {
                            let col = (kp * chunks + c) * cfg.kwidth + j;
                            if r < rows && col < k {
                                let at = (g * chunks + c) * word;
                                tw[at + weight_byte(cfg.lanes, l, j)] = w[r * k + col] as u8;
                            }
                        }
                    }
                }
            }
        }
        Placement {
            lg_pk,
            groups,
            chunks,
            tile_words,
        }
    }

    /// Result words the product writes (`P_r * G`).
    pub fn out_words(&self, cfg: &Config) -> usize {
        (cfg.tiles >> self.lg_pk) * self.groups
    }

    /// Activation chunks the product reads (`P_k * C`).
    pub fn in_chunks(&self) -> usize {
        (1usize << self.lg_pk) * self.chunks
    }

    /// WEIGHT_LOAD packet to every tile at `base`.
    pub fn weight_load(&self, cfg: &Config, base: usize) -> Vec<Beat> {
        let mut payload = Vec::new();
        for tw in &self.tile_words {
            payload.extend(bytes_to_words(tw));
        }
        packet(
            cfg,
            &[
                op::WEIGHT_LOAD,
                0,
                cfg.tiles as u32 - 1,
                base as u32,
                (self.groups * self.chunks) as u32,
            ],
            &payload,
        )
    }

    pub fn matvec(&self, cfg: &Config, base: usize, in_addr: usize, out: usize) -> Vec<Beat> {
        packet(
            cfg,
            &[
                op::MATVEC,
                base as u32,
                self.groups as u32,
                self.chunks as u32,
                self.lg_pk,
                in_addr as u32,
                out as u32,
            ],
            &[],
        )
    }
}

/// VBUF_LOAD packet of `x` (zero-padded to `chunks` chunks) at chunk address `addr`.
pub fn vbuf_load(cfg: &Config, x: &[i8], chunks: usize, addr: usize) -> Vec<Beat> {
    let mut bytes = vec![0u8; chunks * cfg.kwidth];
    for (i, v) in x.iter().enumerate() {
        bytes[i] = *v as u8;
    }
    packet(
        cfg,
        &[op::VBUF_LOAD, addr as u32, chunks as u32],
        &bytes_to_words(&bytes),
    )
}

pub fn vbuf_read(cfg: &Config, addr: usize, words: usize) -> Vec<Beat> {
    packet(cfg, &[op::VBUF_READ, addr as u32, words as u32], &[])
}

pub fn fence(cfg: &Config) -> Vec<Beat> {
    packet(cfg, &[op::FENCE], &[])
}

/// int32 results carried by output beats, in order.
pub fn beats_to_i32(beats: &[Beat]) -> Vec<i32> {
    beats
        .iter()
        .flat_map(|(_, w)| w.iter().map(|v| *v as i32))
        .collect()
}

/// Reads `words` result words at `addr` and checks the framing of the output stream.
pub fn read_results(chip: &mut Chip, addr: usize, words: usize) -> Vec<i32> {
    let cfg = chip.cfg.clone();
    chip.send(&[vbuf_read(&cfg, addr, words)]);
    let want = words * cfg.lanes * 32 / cfg.stream_width;
    let mut beats = Vec::new();
    for _ in 0..10_000 {
        beats.extend(chip.take_out());
        if beats.len() >= want {
            break;
        }
        chip.run(200);
    }
    assert_eq!(beats.len(), want, "read-back beats");
    for (i, (last, _)) in beats.iter().enumerate() {
        assert_eq!(*last, i + 1 == want, "tlast on beat {i} of {want}");
    }
    beats_to_i32(&beats)
}

/// Seed for a randomized test: `TESSERA_SEED` or a fixed default, printed for replay.
pub fn seed(test: &str) -> u64 {
    let s = std::env::var("TESSERA_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7e55_e7a0);
    eprintln!("{test}: seed {s} (replay with TESSERA_SEED={s})");
    s
}

/// Builds (or reuses) the per-cycle port driver of configuration `cfg`
/// (`verif/tests/chip_common/port_sim.cpp`); returns the executable.
pub fn port_model(cfg: &Config) -> PathBuf {
    let params: Vec<(String, String)> = cfg
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    build(
        &format!("{}-ports", cfg.name),
        "tessera_top",
        &[],
        "verif/tests/chip_common/port_sim.cpp",
        &[
            format!("-DSTREAM_WIDTH={}", cfg.stream_width),
            "-DVL_USER_STOP".to_string(),
        ],
        &params,
    )
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
    pub cfg: Config,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Messages of a failed assertion, once one has failed.
    pub sv_error: Option<Vec<String>>,
}

impl Ports {
    /// Starts the model and holds it in reset for four cycles.
    pub fn new(name: &str) -> Ports {
        let cfg = Config::load(name);
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
