//! The one Verilator model builder and cache of the project.
//!
//! Two kinds of build, each once per input hash under [`cache_dir`], guarded by a file lock so
//! that concurrent test processes build a model once:
//!
//! - [`build_model`]: a Verilator executable (`--exe`) that runs as a child process (the chip,
//!   the board). The key covers the RTL files of `rtl/files.f`, extra sources, the C++ bench and
//!   the headers of [`BENCH_INCLUDE`], the files the model reads ([`ModelSpec::key_files`]), top,
//!   flags, parameters and the Verilator version.
//! - [`build_library`]: a shared library holding the model (`--cc`), the Verilator runtime, C++
//!   sources of the caller and a generated entry file, loaded into the calling process (the
//!   in-process tile models of `tessera-verif`). The key covers the RTL, the extra sources, every
//!   file of the caller's C++ folder, the entry, top, flags, parameters and the Verilator version.
//!
//! With [`COVERAGE_ENV`] set, both build coverage variants instead ([`coverage_dir`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
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

/// Environment variable naming a folder: when set (and not empty), every model is built with
/// Verilator coverage ([`COVERAGE_ARGS`], plus the cover points of [`COVER_POINTS`] where the
/// model holds the RTL of `rtl/files.f`), cached apart from the normal models (the flags are part
/// of the key, and the cache folder's name ends in `-cov`), and each model writes its counters
/// into that folder when it is torn down, one file per model and process
/// (`<model>-<pid>-<n>.dat`, written by the C++ benches and wrappers; `scripts/coverage`).
/// Coverage models are compiled with [`COVERAGE_OPT`] whatever the spec asks: their counters
/// make the generated C++ larger, and at `-O3` the first coverage build of the `tiny` chip had
/// compiled 12 of its 135 files after 6 minutes on a loaded two-core machine.
pub const COVERAGE_ENV: &str = "TESSERA_COVERAGE";

/// The Verilator options of a coverage build: statement and branch (line), toggle and the
/// design's cover points (user).
pub const COVERAGE_ARGS: [&str; 3] = ["--coverage-line", "--coverage-toggle", "--coverage-user"];

/// The C++ optimisation of coverage builds (`OPT_FAST`).
pub const COVERAGE_OPT: &str = "-O1";

/// The bind file of the design's cover points (`verif/bench/cover_points.sv`, from this crate's
/// checkout), compiled only into coverage builds.
pub const COVER_POINTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/cover_points.sv");

/// The Verilator control file of coverage builds (`verif/bench/coverage.vlt`): what is left out
/// of coverage, and why. It comes before the RTL on the command line (a `coverage_off` applies
/// to the files read after it).
pub const COVERAGE_VLT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/coverage.vlt");

/// The folder of [`COVERAGE_ENV`] when coverage builds are asked for.
pub fn coverage_dir() -> Option<PathBuf> {
    std::env::var_os(COVERAGE_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// The Verilator arguments and extra sources a coverage build adds, with `rtl` telling whether
/// the model holds the RTL (the cover points bind into its modules).
fn coverage_additions(rtl: bool) -> (Vec<String>, Vec<String>) {
    let args = COVERAGE_ARGS.map(String::from).into();
    let sv = if rtl {
        vec![COVER_POINTS.to_string()]
    } else {
        Vec::new()
    };
    (args, sv)
}

/// What a coverage build passes before `rtl/files.f` ([`COVERAGE_VLT`]); nothing otherwise.
fn coverage_pre() -> Vec<&'static str> {
    match coverage_dir() {
        Some(_) => vec![COVERAGE_VLT],
        None => Vec::new(),
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
    /// Files the model reads that are no sources (such as the `$readmemh` images of a chip whose
    /// weights are in ROM): part of the cache key only.
    pub key_files: Vec<PathBuf>,
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
            key_files: Vec::new(),
        }
    }
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The cache key: SHA-256 of every input, each prefixed by its length so that different splits
/// of the same bytes differ.
struct Key(Sha256);

impl Key {
    fn new() -> Key {
        Key(Sha256::new())
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    /// The contents of each file.
    fn files(&mut self, paths: &[PathBuf]) -> Result<()> {
        for p in paths {
            let data =
                std::fs::read(p).map_err(|e| Error::io(format!("read {}", p.display()), e))?;
            self.bytes(&data);
        }
        Ok(())
    }

    /// The Verilator version, and the host CPU when the C++ flags target it (`-march=native`),
    /// so that a cached model never meets another CPU.
    fn tools(&mut self, native: bool) -> Result<()> {
        self.bytes(verilator_version()?);
        if native {
            let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let model = cpu
                .lines()
                .find(|l| l.starts_with("model name"))
                .unwrap_or("");
            let flags = cpu.lines().find(|l| l.starts_with("flags")).unwrap_or("");
            self.bytes(model.as_bytes());
            self.bytes(flags.as_bytes());
        }
        Ok(())
    }

    /// The first 64 bits, in hex.
    fn hex(self) -> String {
        self.0.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The output of `verilator --version`, read once per process. `verilator` is a Perl script
/// that runs `verilator_bin --version` for it; when `verilator_bin` sits beside it on `PATH`
/// (and `VERILATOR_ROOT` does not point elsewhere) it is run directly, which saves starting
/// Perl (most of the time a test process spends on a cached model).
fn verilator_version() -> Result<&'static [u8]> {
    static VERSION: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(v);
    }
    let direct = std::env::var_os("VERILATOR_ROOT")
        .is_none()
        .then(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .find(|d| d.join("verilator").is_file())
                .map(|d| d.join("verilator_bin"))
                .filter(|b| b.is_file())
        })
        .flatten();
    let out = Command::new(direct.as_deref().unwrap_or(Path::new("verilator")))
        .arg("--version")
        .output()
        .map_err(|e| Error::Build(format!("cannot run verilator: {e}")))?;
    if !out.status.success() {
        return Err(Error::Build(format!(
            "verilator --version failed ({})",
            out.status
        )));
    }
    Ok(VERSION.get_or_init(|| out.stdout))
}

/// The files of a folder (not its subfolders) whose names end in one of `exts`, sorted.
fn files_in(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("read {}", dir.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)))
        .collect();
    out.sort();
    Ok(out)
}

/// Builds (or reuses) the model; returns the path of its executable. Prints one line to stderr
/// when it builds.
pub fn build_model(spec: &ModelSpec) -> Result<PathBuf> {
    let mut covered;
    let spec = if coverage_dir().is_some() {
        covered = spec.clone();
        let (args, sv) = coverage_additions(true);
        covered.tag.push_str("-cov");
        covered.verilator_args.extend(args);
        covered.extra_sv.extend(sv);
        covered.opt = COVERAGE_OPT.into();
        &covered
    } else {
        spec
    };
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = rtl_root()?;
    let list = FileList::read(&root)?;
    let mut inputs = list.inputs(&root);
    let mut h = Key::new();
    h.bytes(list.text.as_bytes());
    inputs.extend(spec.extra_sv.iter().map(|f| root.join(f)));
    inputs.push(root.join(&spec.cpp));
    let include = root.join(BENCH_INCLUDE);
    inputs.extend(files_in(&include, &["h"])?);
    let pre = coverage_pre();
    inputs.extend(pre.iter().map(PathBuf::from));
    inputs.extend(spec.key_files.iter().cloned());
    h.files(&inputs)?;
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
    h.tools(spec.cflags.iter().any(|f| f.contains("native")))?;

    let name = format!("{}-{}-{}", spec.top, spec.tag, h.hex());
    let what = format!("the Verilator model of {} ({})", spec.top, spec.tag);
    cached(&name, &format!("V{}", spec.top), &what, |tmp| {
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
            .arg(tmp)
            .args(&pre)
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
        run(&mut cmd, &format!("verilator ({} {})", spec.top, spec.tag))
    })
}

/// The artefact `artifact` of the cached build `name` under [`cache_dir`]: reused when present,
/// else built by `build` into a fresh folder, which replaces the cached one when `build`
/// succeeds. One process builds at a time (a file lock per build); the others wait and reuse.
fn cached(
    name: &str,
    artifact: &str,
    what: &str,
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache)
        .map_err(|e| Error::io(format!("create {}", cache.display()), e))?;
    let dir = cache.join(name);
    let out = dir.join(artifact);
    if out.exists() {
        return Ok(out);
    }
    // Other processes (parallel test binaries) wait here while one builds.
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| Error::io(format!("create {}", lock_path.display()), e))?;
    lock.lock_exclusive()
        .map_err(|e| Error::io(format!("lock {}", lock_path.display()), e))?;
    if out.exists() {
        return Ok(out);
    }
    let t0 = Instant::now();
    eprintln!(
        "tessera: building {what} in {} (once per RTL change; minutes for large configurations)",
        dir.display()
    );
    let tmp = cache.join(format!("{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create model directory", e))?;
    if let Err(e) = build(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    eprintln!(
        "tessera: built {} in {:.1} s",
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// Runs a build step; on failure the error holds the last 30 lines of its output.
fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| Error::Build(format!("cannot run {what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(30)..];
    Err(Error::Build(format!(
        "{what} failed ({}):\n{}",
        out.status,
        tail.join("\n")
    )))
}

/// What to build as a shared library loaded into the calling process ([`build_library`]): the
/// Verilated model of `top` (`verilator --cc --assert`), the Verilator runtime, the C++
/// `sources` and the `entry` file, all compiled position-independent with hidden symbols. The
/// library exports only the functions named in `exports` (defined by `entry`), so several such
/// libraries, each with its own runtime, live in one process when loaded with `RTLD_LOCAL`.
#[derive(Clone, Debug)]
pub struct LibSpec {
    /// A name for the cache directory (usually the configuration).
    pub tag: String,
    pub top: String,
    /// Whether the sources of `rtl/files.f` come first.
    pub file_list: bool,
    /// Further SV files and Verilator control files, relative to the RTL root or absolute.
    pub extra_sv: Vec<String>,
    /// `-G<key>=<value>` parameters.
    pub params: Vec<(String, String)>,
    /// Extra Verilator options (such as `--trace-fst`).
    pub verilator_args: Vec<String>,
    /// C++ optimisation flags of the model, the entry and `sources` (`OPT_FAST`; the runtime
    /// gets `-O2`). Flags with spaces are fine: the builder runs the model's make itself.
    pub opt: String,
    /// The caller's C++ folder (absolute): on the include path of every C++ file, and each of
    /// its files is part of the key.
    pub include_dir: PathBuf,
    /// A header of `include_dir` forced into every C++ file (`-include`), such as hooks of the
    /// runtime's console output.
    pub force_include: Option<String>,
    /// C++ files of `include_dir` compiled into the library.
    pub sources: Vec<String>,
    /// The text of the entry file: includes `V<top>.h` and defines the exported functions.
    pub entry: String,
    /// The symbols the library exports.
    pub exports: Vec<String>,
}

/// Builds (or reuses) a model as a shared library (see [`LibSpec`]); returns its path. Prints
/// one line to stderr when it builds.
pub fn build_library(spec: &LibSpec) -> Result<PathBuf> {
    let mut covered;
    let spec = if coverage_dir().is_some() {
        covered = spec.clone();
        let (args, sv) = coverage_additions(spec.file_list);
        covered.tag.push_str("-cov");
        covered.verilator_args.extend(args);
        covered.extra_sv.extend(sv);
        covered.opt = COVERAGE_OPT.into();
        &covered
    } else {
        spec
    };
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = rtl_root()?;
    let mut h = Key::new();
    let mut inputs = Vec::new();
    if spec.file_list {
        let list = FileList::read(&root)?;
        h.bytes(list.text.as_bytes());
        inputs.extend(list.inputs(&root));
        inputs.extend(coverage_pre().iter().map(PathBuf::from));
    }
    inputs.extend(spec.extra_sv.iter().map(|f| root.join(f)));
    inputs.extend(files_in(&spec.include_dir, &["h", "hpp", "cpp", "cc"])?);
    h.files(&inputs)?;
    h.bytes(spec.top.as_bytes());
    for (k, v) in &spec.params {
        h.bytes(k.as_bytes());
        h.bytes(v.as_bytes());
    }
    for a in &spec.verilator_args {
        h.bytes(a.as_bytes());
    }
    h.bytes(spec.opt.as_bytes());
    h.bytes(spec.force_include.as_deref().unwrap_or("").as_bytes());
    for s in spec.sources.iter().chain(&spec.exports) {
        h.bytes(s.as_bytes());
    }
    h.bytes(spec.entry.as_bytes());
    h.tools(spec.opt.contains("native"))?;

    let name = format!("{}-{}-{}", spec.top, spec.tag, h.hex());
    let lib = format!("libV{}.so", spec.top);
    let what = format!("the Verilator library of {} ({})", spec.top, spec.tag);
    cached(&name, &lib, &what, |tmp| build_lib(spec, &root, tmp, &lib))
}

/// The steps of [`build_library`] in the fresh folder `tmp`.
fn build_lib(spec: &LibSpec, root: &Path, tmp: &Path, lib: &str) -> Result<()> {
    let label = format!("{} {}", spec.top, spec.tag);
    let prefix = format!("V{}", spec.top);
    let mut v = Command::new("verilator");
    v.current_dir(root)
        .args(["--cc", "--assert", "-Wno-fatal", "-Wno-lint"])
        .args(["--top-module", &spec.top, "--Mdir"])
        .arg(tmp);
    if spec.file_list {
        v.args(coverage_pre());
        v.args(["-f", "rtl/files.f"]);
    }
    v.args(&spec.verilator_args);
    v.args(spec.extra_sv.iter().map(|f| root.join(f)));
    for (k, val) in &spec.params {
        v.arg(format!("-G{k}={val}"));
    }
    run(&mut v, &format!("verilator ({label})"))?;

    // The runtime files this model needs, from its class list.
    let classes = tmp.join(format!("{prefix}_classes.mk"));
    let classes = std::fs::read_to_string(&classes)
        .map_err(|e| Error::io(format!("read {}", classes.display()), e))?;
    let runtime = make_list(&classes, &["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"]);

    let entry = "tessera_entry";
    std::fs::write(tmp.join(format!("{entry}.cpp")), &spec.entry)
        .map_err(|e| Error::io("write the entry file", e))?;
    let mut objects = vec![format!("{entry}.o")];
    for src in &spec.sources {
        let from = spec.include_dir.join(src);
        let stem = Path::new(src)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::fs::copy(&from, tmp.join(format!("tessera_{stem}.cpp")))
            .map_err(|e| Error::io(format!("copy {}", from.display()), e))?;
        objects.push(format!("tessera_{stem}.o"));
    }
    objects.extend(runtime.iter().map(|r| format!("{r}.o")));

    let mut cppflags = format!(
        "-fPIC -fvisibility=hidden -fvisibility-inlines-hidden -I{}",
        spec.include_dir.display()
    );
    if let Some(f) = &spec.force_include {
        cppflags.push_str(&format!(" -include {}", spec.include_dir.join(f).display()));
    }
    let mut m = Command::new("make");
    m.current_dir(tmp)
        .args(["-j2", "-f", &format!("{prefix}.mk")])
        .arg(format!("{prefix}__ALL.a"))
        .args(&objects)
        .arg(format!("OPT_FAST={}", spec.opt))
        .arg("OPT_SLOW=-O1")
        .arg("OPT_GLOBAL=-O2")
        .arg(format!("USER_CPPFLAGS={cppflags}"));
    run(&mut m, &format!("make ({label})"))?;

    let mut script = String::from("{\n  global:\n");
    for e in &spec.exports {
        script.push_str(&format!("    {e};\n"));
    }
    script.push_str("  local: *;\n};\n");
    std::fs::write(tmp.join("exports.map"), script)
        .map_err(|e| Error::io("write the export list", e))?;
    let mut link = Command::new("g++");
    link.current_dir(tmp)
        .args(["-shared", "-o", lib])
        .args(&objects)
        .arg(format!("{prefix}__ALL.a"))
        .args([
            "-Wl,--no-undefined",
            "-Wl,--version-script=exports.map",
            "-pthread",
            "-latomic",
            "-lz",
        ]);
    run(&mut link, &format!("link ({label})"))
}

/// The words of the make variables `vars` (`NAME += \` lines and their continuations).
fn make_list(text: &str, vars: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some((name, rest)) = t.split_once("+=") {
            inside = vars.contains(&name.trim());
            if inside {
                out.extend(
                    rest.split_whitespace()
                        .filter(|w| *w != "\\")
                        .map(String::from),
                );
                inside = t.ends_with('\\');
            }
            continue;
        }
        if inside {
            out.extend(
                t.split_whitespace()
                    .filter(|w| *w != "\\")
                    .map(String::from),
            );
            inside = t.ends_with('\\');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_make_list_reads_continued_variables() {
        let text = "VM_GLOBAL_FAST += \\\n\tverilated \\\n\tverilated_fst_c \\\n\n\
                    VM_GLOBAL_SLOW += \\\n\nVM_OTHER += \\\n\tnot_this \\\n";
        assert_eq!(
            make_list(text, &["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"]),
            ["verilated", "verilated_fst_c"]
        );
    }
}
