//! Lint of the RTL: runs `scripts/lint` (Verilator `--lint-only -Wall` over `rtl/files.f` for
//! every configuration of `rtl/configs.toml`) and requires it to be clean.
//!
//! Without Verilator the test is skipped with a printed reason, except under CI (`CI=true`),
//! where a missing tool is a failure.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("verif/ sits in the repository root")
        .to_path_buf()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn verilator_available() -> bool {
    Command::new("verilator")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn rtl_lint_all_configs_clean() {
    if !verilator_available() {
        let reason = "verilator not found on PATH (apt-get install verilator)";
        if in_ci() {
            panic!("rtl_lint: {reason}");
        }
        eprintln!("rtl_lint: skipped: {reason}");
        return;
    }
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/lint"))
        .current_dir(&root)
        .output()
        .expect("run scripts/lint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "scripts/lint failed ({}):\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("lint: tiny clean") && stdout.contains("lint: sim clean"),
        "scripts/lint did not report the tiny and sim configurations:\n{stdout}"
    );
}
