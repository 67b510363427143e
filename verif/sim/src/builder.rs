//! The one Verilator model builder and cache of the project.
//!
//! [`build_model`] builds a Verilator executable once per input hash (RTL files of
//! `rtl/files.f`, extra sources, the C++ bench and the headers of [`BENCH_INCLUDE`], top, flags,
//! parameters and the Verilator version) under [`cache_dir`], guarded by a file lock so
//! concurrent test processes build it once.

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use fs4::fs_std::FileExt;
use sha2::{Digest, Sha256};
use tessera_abi::{ChipConfig, FileList};
use tessera_driver::{Error, Result};

use crate::rtl_root;

/// Headers shared by the C++ benches (such as `axil_manager.h`): this folder is on every model's
/// include path, and each `*.h` in it is part of every model's cache key.
pub const BENCH_INCLUDE: &str = "verif/sim/csrc";

/// Where built models are cached: `$TESSERA_VERILATED_DIR`, else `target/tessera-verilated`
/// of the RTL root ([`rtl_root`]).
pub fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os("TESSERA_VERILATED_DIR") {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(rtl_root()?.join("target/tessera-verilated")),
    }
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

/// The cache key: SHA-256 of every input, each prefixed by its length so that different splits
/// of the same bytes differ.
struct Key(Sha256);

impl Key {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    /// The first 64 bits, in hex.
    fn hex(self) -> String {
        self.0.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Builds (or reuses) the model; returns the path of its executable. Prints one line to stderr
/// when it builds.
pub fn build_model(spec: &ModelSpec) -> Result<PathBuf> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = rtl_root()?;
    let list = FileList::read(&root)?;
    let mut inputs = list.inputs(&root);
    let mut h = Key(Sha256::new());
    h.bytes(list.text.as_bytes());
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

    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache)
        .map_err(|e| Error::io(format!("create {}", cache.display()), e))?;
    let name = format!("{}-{}-{}", spec.top, spec.tag, h.hex());
    let dir = cache.join(&name);
    let exe = dir.join(format!("V{}", spec.top));
    if exe.exists() {
        return Ok(exe);
    }
    // Other processes (parallel test binaries) wait here while one builds.
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| Error::io(format!("create {}", lock_path.display()), e))?;
    lock.lock_exclusive()
        .map_err(|e| Error::io(format!("lock {}", lock_path.display()), e))?;
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
