//! Builds the Verilator models of the verified tops and the C++ bridge.
//!
//! For every verified top (table [`TOPS`]) and each of its named configurations (sections of
//! `rtl/configs.toml`), this script runs `verilator --cc` over the ordered file list
//! `rtl/files.f` with the configuration's parameters as `-G` overrides, then runs the generated
//! makefile itself (so optimisation flags with spaces reach the compiler intact) to produce
//! `V<model>__ALL.a`. The Verilator runtime (which 5.006 does not package as a library) is
//! compiled once into `libtessera_vlrt.a`. A model is rebuilt only when a hash of its inputs
//! (RTL text, parameters, flags) changes.
//!
//! Environment:
//! - `TESSERA_RTL_ROOT`: directory holding `rtl/files.f` and `rtl/configs.toml` (default: the
//!   repository root).
//! - `TESSERA_VERILATOR_OPT`: C++ optimisation flags for the models and the bridge (default
//!   `-O3 -march=native`).

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// How the bridge drives a model.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The tile port contract (`tile`, and bench arrays that mirror it).
    Tile,
    /// The assertion probe under `verif/bench/`.
    Probe,
}

/// A verified top: one entry per top-level module.
struct TopSpec {
    /// SV module name.
    top: &'static str,
    /// Read `rtl/files.f` first.
    use_file_list: bool,
    /// Further SV files, relative to the repository root.
    extra_files: &'static [&'static str],
    /// Named configurations; empty = one unparameterised model named after the top.
    configs: &'static [&'static str],
    kind: Kind,
    /// DPI scope of the weight memory, below the model name, if it has a backdoor.
    backdoor_scope: Option<&'static str>,
    /// Extra Verilator arguments.
    verilator_args: &'static [&'static str],
    /// Built only when this environment variable is set to 1 (slow bench models).
    opt_in: Option<&'static str>,
}

/// The verified tops. Adding a top is one entry here.
const TOPS: &[TopSpec] = &[
    TopSpec {
        top: "tile",
        use_file_list: true,
        extra_files: &[],
        configs: &["tiny", "sim"],
        kind: Kind::Tile,
        backdoor_scope: Some("tile.u_weight_ram"),
        verilator_args: &[],
        opt_in: None,
    },
    TopSpec {
        top: "tile_array16",
        use_file_list: true,
        extra_files: &[
            "verif/bench/tile_array16.vlt",
            "verif/bench/tile_array16.sv",
        ],
        configs: &["sim"],
        kind: Kind::Tile,
        backdoor_scope: None,
        verilator_args: &[],
        opt_in: Some("TESSERA_BUILD_ARRAY"),
    },
    TopSpec {
        top: "assert_probe",
        use_file_list: false,
        extra_files: &["verif/bench/assert_probe.sv"],
        configs: &[],
        kind: Kind::Probe,
        backdoor_scope: None,
        verilator_args: &[],
        opt_in: None,
    },
];

const VERILATOR_INCLUDE: &str = "/usr/share/verilator/include";
const RUNTIME_FILES: &[&str] = &[
    "verilated.cpp",
    "verilated_dpi.cpp",
    "verilated_threads.cpp",
    "verilated_fst_c.cpp",
];

/// One model to build.
struct Job {
    model: String,
    prefix: String,
    top: &'static str,
    kind: Kind,
    files: Vec<String>,
    params: Vec<(String, String)>,
    backdoor_scope: Option<&'static str>,
    verilator_args: Vec<String>,
    /// Cache directory, fixed from the inputs as they were when the build started.
    dir: PathBuf,
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest.parent().unwrap().to_path_buf();
    let rtl_root = std::env::var("TESSERA_RTL_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.clone());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=TESSERA_RTL_ROOT");
    println!("cargo:rerun-if-env-changed=TESSERA_VERILATOR_OPT");
    println!("cargo:rerun-if-changed=build.rs");

    let opt = std::env::var("TESSERA_VERILATOR_OPT").unwrap_or_else(|_| "-O3 -march=native".into());
    // Models are cached beside the profiles (<target>/tessera-verilated/<model>-<hash>), so
    // debug and release builds share them.
    let cache = out
        .ancestors()
        .nth(4)
        .map(|t| t.join("tessera-verilated"))
        .unwrap_or_else(|| out.join("tessera-verilated"));

    // Inputs: the file list and the configurations.
    let files_f = rtl_root.join("rtl/files.f");
    let configs_toml = rtl_root.join("rtl/configs.toml");
    println!("cargo:rerun-if-changed={}", files_f.display());
    println!("cargo:rerun-if-changed={}", configs_toml.display());
    let list = tessera_abi::FileList::read(&rtl_root).unwrap_or_else(|e| panic!("{e}"));
    let rtl_files: Vec<String> = list
        .sources
        .iter()
        .map(|f| rtl_root.join(f).display().to_string())
        .collect();
    let incdirs: Vec<String> = list
        .incdirs
        .iter()
        .map(|d| rtl_root.join(d).display().to_string())
        .collect();
    let configs_text = std::fs::read_to_string(&configs_toml)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", configs_toml.display()));
    let configs: BTreeMap<String, Vec<(String, String)>> =
        tessera_abi::config::sections(&configs_text, "rtl/configs.toml")
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(name, params)| {
                let params = params
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect();
                (name, params)
            })
            .collect();
    for f in &rtl_files {
        println!("cargo:rerun-if-changed={f}");
    }
    for d in &incdirs {
        println!("cargo:rerun-if-changed={d}");
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                println!("cargo:rerun-if-changed={}", e.path().display());
            }
        }
    }

    let mut jobs = Vec::new();
    for spec in TOPS {
        if let Some(var) = spec.opt_in {
            println!("cargo:rerun-if-env-changed={var}");
            if std::env::var(var).ok().as_deref() != Some("1") {
                continue;
            }
        }
        let mut files = Vec::new();
        if spec.use_file_list {
            files.extend(incdirs.iter().map(|d| format!("+incdir+{d}")));
            files.extend(rtl_files.iter().cloned());
        }
        for f in spec.extra_files {
            let p = repo.join(f);
            println!("cargo:rerun-if-changed={}", p.display());
            files.push(p.display().to_string());
        }
        let names: Vec<Option<&str>> = if spec.configs.is_empty() {
            vec![None]
        } else {
            spec.configs.iter().map(|c| Some(*c)).collect()
        };
        for cfg in names {
            let (model, params) = match cfg {
                Some(c) => {
                    let params = configs
                        .get(c)
                        .unwrap_or_else(|| panic!("configuration [{c}] missing in configs.toml"))
                        .clone();
                    (format!("{}_{c}", spec.top), params)
                }
                None => (spec.top.to_string(), Vec::new()),
            };
            jobs.push(Job {
                prefix: format!("V{model}"),
                model,
                top: spec.top,
                kind: spec.kind,
                files: files.clone(),
                params,
                backdoor_scope: spec.backdoor_scope,
                verilator_args: spec.verilator_args.iter().map(|s| s.to_string()).collect(),
                dir: PathBuf::new(),
            });
        }
    }

    for job in &mut jobs {
        job.dir = model_dir(job, &cache, &opt);
    }

    // Models in parallel (two workers: the machines have two cores), the runtime alongside.
    let queue = Mutex::new(jobs.iter().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let job = queue.lock().unwrap().pop();
                let Some(job) = job else { break };
                if let Err(e) = build_model(job, &cache, &opt) {
                    failures.lock().unwrap().push(format!("{}: {e}", job.model));
                }
            });
        }
        build_runtime(&cache, &manifest);
    });
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        panic!("Verilator build failed:\n{}", failures.join("\n"));
    }
    for job in &jobs {
        println!("cargo:rustc-link-search=native={}", job.dir.display());
        println!(
            "cargo:rustc-link-lib=static:+verbatim={}__ALL.a",
            job.prefix
        );
    }
    println!(
        "cargo:rustc-link-search=native={}",
        runtime_dir(&cache, &manifest).display()
    );
    println!("cargo:rustc-link-lib=static=tessera_vlrt");

    write_generated(&out, &jobs);

    // The bridge.
    println!("cargo:rerun-if-changed=src/ffi.rs");
    for f in [
        "csrc/bridge.h",
        "csrc/bridge.cpp",
        "csrc/tile_sim.h",
        "csrc/vl_hooks.h",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let mut b = cxx_build::bridge("src/ffi.rs");
    b.file("csrc/bridge.cpp")
        .std("c++17")
        .include(VERILATOR_INCLUDE)
        .include(format!("{VERILATOR_INCLUDE}/vltstd"))
        .include(out.join("gen"))
        .include(&manifest)
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .opt_level(2);
    // The bridge's clock loops run once per simulated cycle beside the model's code: the same
    // optimisation flags as the models.
    for f in opt.split_whitespace() {
        b.flag_if_supported(f);
    }
    for job in &jobs {
        b.include(&job.dir);
    }
    b.compile("tessera_bridge");
    println!("cargo:rustc-link-lib=z");
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:rustc-link-lib=atomic");
}

fn hash_inputs(job: &Job, opt: &str) -> u64 {
    let mut h = DefaultHasher::new();
    job.model.hash(&mut h);
    job.params.hash(&mut h);
    job.verilator_args.hash(&mut h);
    opt.hash(&mut h);
    for f in &job.files {
        f.hash(&mut h);
        if let Ok(t) = std::fs::read(f) {
            t.hash(&mut h);
        }
        if let Some(d) = f.strip_prefix("+incdir+") {
            if let Ok(rd) = std::fs::read_dir(d) {
                let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                paths.sort();
                for p in paths {
                    std::fs::read(&p).unwrap_or_default().hash(&mut h);
                }
            }
        }
    }
    h.finish()
}

fn run(cmd: &mut Command, what: &str, log: &Path) -> Result<(), String> {
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    std::fs::write(log, &text).ok();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({}):\n{text}", log.display()))
    }
}

fn model_dir(job: &Job, cache: &Path, opt: &str) -> PathBuf {
    cache.join(format!("{}-{:016x}", job.model, hash_inputs(job, opt)))
}

fn build_model(job: &Job, cache: &Path, opt: &str) -> Result<(), String> {
    let _ = opt;
    let done = job.dir.clone();
    if done.join(format!("{}__ALL.a", job.prefix)).exists() {
        return Ok(());
    }
    let dir = done.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;

    let mut v = Command::new("verilator");
    v.arg("--cc")
        .args(["--top-module", job.top, "--prefix", &job.prefix])
        .arg("--Mdir")
        .arg(&dir)
        .args(["--assert", "--trace-fst", "-O3", "--x-assign", "fast"])
        .args(["-Wno-fatal", "-Wno-lint", "-Wno-style"]);
    for (k, val) in &job.params {
        v.arg(format!("-G{k}={val}"));
    }
    v.args(&job.verilator_args).args(&job.files);
    run(&mut v, "verilator", &dir.join("verilator.log"))?;

    // Each model defines its DPI exports under the same global C names; keep only the
    // per-model `V<prefix>::name` forms so that several models link into one binary.
    let dpi_h =
        std::fs::read_to_string(dir.join(format!("{}__Dpi.h", job.prefix))).unwrap_or_default();
    let mut defines = String::new();
    for line in dpi_h.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("extern ") {
            if let Some(name) = rest
                .split('(')
                .next()
                .and_then(|s| s.split_whitespace().last())
            {
                let name = name.trim_start_matches('*');
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                write!(defines, "-DVL_DPIDECL_{name}_ ").unwrap();
            }
        }
    }
    let mut m = Command::new("make");
    m.arg("-C")
        .arg(&dir)
        .args([
            "-j2",
            "-f",
            &format!("{}.mk", job.prefix),
            &format!("{}__ALL.a", job.prefix),
        ])
        .arg(format!("OPT_FAST={opt}"))
        .arg("OPT_SLOW=-O1")
        .arg(format!("OPT_GLOBAL={opt}"))
        .arg(format!("USER_CPPFLAGS={defines}"));
    run(&mut m, "make", &dir.join("make.log"))?;
    // Another build may have finished the same model meanwhile: either copy serves.
    if std::fs::rename(&dir, &done).is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Drop builds of older RTL.
    let keep = done.file_name().unwrap().to_string_lossy().into_owned();
    if let Ok(rd) = std::fs::read_dir(cache) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let old = name
                .strip_prefix(&job.model)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()));
            if old && name != keep {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

fn runtime_dir(cache: &Path, manifest: &Path) -> PathBuf {
    let mut h = DefaultHasher::new();
    std::fs::read(manifest.join("csrc/vl_hooks.h"))
        .unwrap_or_default()
        .hash(&mut h);
    for f in RUNTIME_FILES {
        std::fs::read(Path::new(VERILATOR_INCLUDE).join(f))
            .unwrap_or_default()
            .hash(&mut h);
    }
    cache.join(format!("vlrt-{:016x}", h.finish()))
}

/// Compiles the Verilator runtime once per content of its sources.
fn build_runtime(cache: &Path, manifest: &Path) {
    let done = runtime_dir(cache, manifest);
    let hooks = manifest.join("csrc/vl_hooks.h");
    if done.join("libtessera_vlrt.a").exists() {
        return;
    }
    let dir = done.with_extension(format!("tmp{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .out_dir(&dir)
        .cargo_metadata(false)
        .include(VERILATOR_INCLUDE)
        .include(format!("{VERILATOR_INCLUDE}/vltstd"))
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .define("VL_USER_STOP", None)
        .define("VL_USER_FATAL", None)
        .define("VL_USER_FINISH", None)
        .flag("-include")
        .flag(hooks.to_str().unwrap())
        .opt_level(2)
        .warnings(false)
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter");
    for f in RUNTIME_FILES {
        b.file(Path::new(VERILATOR_INCLUDE).join(f));
    }
    b.compile("tessera_vlrt");
    if std::fs::rename(&dir, &done).is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Writes the model table for C++ (`models_gen.h`) and Rust (`models.rs`).
fn write_generated(out: &Path, jobs: &[Job]) {
    let gen = out.join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let param = |job: &Job, k: &str| -> u32 {
        job.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.parse().unwrap_or(0))
            .unwrap_or(0)
    };
    let mut h = String::from("// Generated by verif/build.rs.\n#pragma once\n");
    for job in jobs {
        writeln!(h, "#include \"{}.h\"", job.prefix).unwrap();
    }
    h.push_str("namespace tessera {\n");
    h.push_str("inline std::unique_ptr<TileSim> make_tile_model(const std::string& name) {\n");
    for job in jobs.iter().filter(|j| j.kind == Kind::Tile) {
        let scope = job
            .backdoor_scope
            .map(|s| format!("\"TOP.{s}\""))
            .unwrap_or_else(|| "nullptr".into());
        writeln!(
            h,
            "  if (name == \"{m}\") return std::unique_ptr<TileSim>(new TileSimImpl<{p}, {l}, {k}, {w}, {a}, {bd}>({scope}));",
            m = job.model,
            p = job.prefix,
            l = param(job, "Lanes"),
            k = param(job, "KWidth"),
            w = param(job, "WeightWords"),
            a = param(job, "ActWords"),
            bd = job.backdoor_scope.is_some(),
        )
        .unwrap();
    }
    h.push_str("  return nullptr;\n}\n");
    h.push_str("inline std::unique_ptr<ProbeSim> make_probe_model(const std::string& name) {\n");
    for job in jobs.iter().filter(|j| j.kind == Kind::Probe) {
        writeln!(
            h,
            "  if (name == \"{m}\") return std::unique_ptr<ProbeSim>(new ProbeSimImpl<{p}>());",
            m = job.model,
            p = job.prefix
        )
        .unwrap();
    }
    h.push_str("  return nullptr;\n}\n}  // namespace tessera\n");
    std::fs::write(gen.join("models_gen.h"), h).unwrap();

    let mut r = String::from("// Generated by verif/build.rs.\n");
    r.push_str("/// Every tile-shaped model built into this crate.\npub const TILE_MODELS: &[TileConfig] = &[\n");
    for job in jobs.iter().filter(|j| j.kind == Kind::Tile) {
        let params: Vec<String> = job
            .params
            .iter()
            .map(|(k, v)| format!("({k:?}, {:?})", v))
            .collect();
        writeln!(
            r,
            "    TileConfig {{ model: {:?}, top: {:?}, lanes: {}, k_width: {}, weight_words: {}, act_words: {}, backdoor: {}, params: &[{}] }},",
            job.model,
            job.top,
            param(job, "Lanes"),
            param(job, "KWidth"),
            param(job, "WeightWords"),
            param(job, "ActWords"),
            job.backdoor_scope.is_some(),
            params.join(", ")
        )
        .unwrap();
    }
    r.push_str("];\n");
    std::fs::write(gen.join("models.rs"), r).unwrap();
}
