//! Shared pieces of the tests that run the project's scripts and tools (lint, synthesis, the
//! FPGA flow): CI detection, skipping a test when a tool is missing (a failure under CI), the
//! pinned tools of `.venv`, running a command with its output shown, and scratch folders.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository root (the tests run in the checkout).
pub fn repo_root() -> PathBuf {
    PathBuf::from(tessera_abi::rtl::SOURCE_TREE)
}

/// Whether the tests run in CI (`CI=true` or `CI=1`), where a missing tool is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `true` when `found`; otherwise the test `test` is skipped with `reason` printed (`false`),
/// or fails with it under CI.
pub fn require(test: &str, found: bool, reason: &str) -> bool {
    if found {
        return true;
    }
    if in_ci() {
        panic!("{test}: {reason}");
    }
    eprintln!("{test}: skipped: {reason}");
    false
}

/// Whether `verilator` runs.
pub fn verilator_available() -> bool {
    Command::new("verilator")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `.venv/bin/<tool>` (made by `scripts/setup`), or None when it is missing and the test `test`
/// is skipped ([`require`]).
pub fn venv_tool(test: &str, tool: &str) -> Option<PathBuf> {
    let path = repo_root().join(".venv/bin").join(tool);
    let reason = format!("{} not found (run scripts/setup)", path.display());
    require(test, path.exists(), &reason).then_some(path)
}

/// Runs `cmd`, shows its stdout and stderr, requires it to succeed (`what` names it in the
/// failure) and returns its stdout.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// `<target>/<name>`, with the target folder of `CARGO_TARGET_DIR` (default `target/` of the
/// repository).
pub fn target_path(name: &str) -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"))
        .join(name)
}
