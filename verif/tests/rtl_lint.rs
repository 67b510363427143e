//! Lint of the RTL: runs `scripts/lint` (Verilator `--lint-only -Wall` over `rtl/files.f` for
//! every configuration of `rtl/configs.toml`) and requires it to be clean.
//!
//! Without Verilator the test is skipped with a printed reason, except under CI (`CI=true`),
//! where a missing tool is a failure.

mod tool_common;

use std::process::Command;

use tool_common::{repo_root, require, run, verilator_available};

#[test]
fn rtl_lint_all_configs_clean() {
    if !require(
        "rtl_lint",
        verilator_available(),
        "verilator not found on PATH (apt-get install verilator)",
    ) {
        return;
    }
    let root = repo_root();
    let stdout = run(
        Command::new("bash")
            .arg(root.join("scripts/lint"))
            .current_dir(&root),
        "scripts/lint",
    );
    assert!(
        stdout.contains("lint: tiny clean") && stdout.contains("lint: sim clean"),
        "scripts/lint did not report the tiny and sim configurations:\n{stdout}"
    );
}
