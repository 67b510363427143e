//! `tessera area`: the JSON shape, the figures of a small synthetic estimate, and bad input
//! refused on one line with status 2.

mod common;

use common::{ok, scratch, tessera};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// A synthesis estimate in the shape `scripts/synth-estimate` writes, with round numbers: a tile
/// of 500·L·K + 1,000 cells (20·L·K + 100 flip-flops), one network block of 1,000·N cells, a
/// token engine of 50,000 cells.
fn estimate(test: &str) -> PathBuf {
    let dir = scratch(test);
    let path = dir.join("estimate.json");
    let mix = json!({"by_type": {"$_NAND_": 300, "$_XOR_": 100, "$_DFFE_PN0P_": 40}});
    let v = json!({
        "target": "t1-8b",
        "tile_fit": {
            "cells": {"coef": [500.0, 0.0, 0.0, 1000.0]},
            "ffs": {"coef": [20.0, 0.0, 0.0, 100.0]},
            "muls": {"coef": [1.0, 0.0, 0.0, 1.0]}
        },
        "tile_mix": mix,
        "network": {
            "reduction tree": {
                "model": "a + b·N",
                "fit": {
                    "cells": {"coef": [0.0, 1000.0]},
                    "ffs": {"coef": [0.0, 100.0]},
                    "rf_bits": {"coef": [0.0, 64.0]}
                },
                "mix": mix
            }
        },
        "token_engine": {"estimate": {"cells": 50000.0, "ffs": 2000.0, "muls": 12.0}, "mix": mix}
    });
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

fn json_of(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn block<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("no block {name}: {v}"))
}

#[test]
fn cli_area_json_shape_and_figures() {
    let est = estimate("cli_area_json");
    let e = est.to_str().unwrap();
    let v = json_of(&["area", "--config", "t1-8b", "--estimate", e, "--json"]);
    assert_eq!(v["config"], "t1-8b");
    assert_eq!(v["node"], "n5");
    let blocks = v["blocks"].as_array().unwrap();
    assert!(blocks.len() >= 6, "{v}");
    let mut sum = 0.0;
    for b in blocks {
        assert!(b["name"].is_string(), "{b}");
        let mm2 = b["mm2"].as_f64().unwrap();
        assert!(mm2.is_finite() && mm2 >= 0.0, "{b}");
        sum += mm2;
    }
    let total = v["total_mm2"].as_f64().unwrap();
    assert!((total - sum).abs() < 1e-9 * total, "{total} {sum}");
    assert_eq!(v["reticle_mm2"], 858.0);
    assert!((v["margin_mm2"].as_f64().unwrap() - (858.0 - total)).abs() < 1e-9);

    // Mix: comb (300·1 + 100·3) / 400 = 1.5, flip-flops 10. Tile at 32 x 32: 513,000 cells,
    // 20,580 flip-flops; 256 tiles.
    let tile = block(&v, "tile logic (MAC arrays, accumulators, control)");
    let nand2 = 256.0 * ((513_000.0 - 20_580.0) * 1.5 + 20_580.0 * 10.0);
    assert_eq!(tile["nand2"].as_f64().unwrap(), nand2);
    let mm2 = nand2 * (4.0 / 171.3) / 0.7 * 1e-6;
    assert!((tile["mm2"].as_f64().unwrap() - mm2).abs() < 1e-9 * mm2);
    // The network fit at N = 256.
    assert_eq!(block(&v, "reduction tree")["cells"], 256_000.0);
    assert_eq!(block(&v, "link FIFO storage")["nand2"], 256.0 * 64.0 * 9.0);
    // int8 weights with 8 check bits per 64, 0.021 µm² cells at 70 % efficiency.
    let w = block(&v, "weights (tile memories)");
    let bits = 256.0 * 28672.0 * 1024.0 * 8.0 * 1.125;
    assert_eq!(w["bits"].as_f64().unwrap(), bits);
    assert!((w["mm2"].as_f64().unwrap() - bits * 0.021e-6 / 0.7).abs() < 1e-6);
    assert_eq!(v["fits_reticle"], false);

    // 4-bit MX weights, DMEM holding the KV cache: the weight memory shrinks by 4.25 / 8 and
    // the data memory holds 276,824,064 B of KV cache plus the small constants.
    let v4 = json_of(&[
        "area",
        "--estimate",
        e,
        "--json",
        "--weight-bits",
        "4.25",
        "--dmem",
        "kv",
    ]);
    let w4 = block(&v4, "weights (tile memories)");
    assert_eq!(w4["bits"].as_f64().unwrap(), bits * 4.25 / 8.0);
    let dmem = block(&v4, "token engine data memory (DMEM)");
    assert!(
        dmem["note"].as_str().unwrap().contains("276824064 B"),
        "{dmem}"
    );
    assert!(v4["total_mm2"].as_f64().unwrap() < total);

    // The table names the verdict.
    let out = ok(&["area", "--estimate", e]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("does not fit"), "{text}");
    assert!(text.contains("| **total** |"), "{text}");
}

#[test]
fn cli_area_bad_input_is_one_line_and_status_2() {
    let est = estimate("cli_area_bad");
    let e = est.to_str().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (&["--config", "nosuch"], "--config nosuch"),
        (&["--weight-bits", "nan"], "--weight-bits nan"),
        (&["--weight-bits", "inf"], "--weight-bits inf"),
        (&["--weight-bits", "-1"], "--weight-bits -1"),
        (&["--node", "n9"], "--node n9"),
        (&["--weight-mem", "flash"], "--weight-mem flash"),
        (&["--dmem", "half"], "--dmem half"),
        (
            &["--estimate", "/nonexistent/estimate.json"],
            "/nonexistent/estimate.json",
        ),
        // A device is refused, not read without end; a folder is not a file.
        (&["--estimate", "/dev/zero"], "is a device"),
        (&["--estimate", "/tmp"], "is a directory"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["area"];
        if extra[0] != "--estimate" {
            args.extend_from_slice(&["--estimate", e]);
        }
        args.extend_from_slice(extra);
        let out = tessera(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn cli_area_to_dev_full_is_an_error_not_a_panic() {
    let est = estimate("cli_area_full");
    for json in [false, true] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut args = vec!["area", "--estimate", est.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("No space left on device"), "{err}");
    }
}

/// Without `--estimate`, a clean checkout uses the recorded estimate (or a local run's): int8
/// weights in SRAM do not fit one reticle at N5, 4-bit weights in mask ROM do.
#[test]
fn cli_area_default_estimate_answers_the_reticle_question() {
    let int8 = json_of(&["area", "--json"]);
    assert_eq!(int8["config"], "t1-8b");
    assert_eq!(int8["fits_reticle"], false, "{int8}");
    assert!(int8["total_mm2"].as_f64().unwrap() > 858.0);
    assert!(int8["estimate"].as_str().unwrap().ends_with(".json"));
    let rom = json_of(&[
        "area",
        "--json",
        "--weight-bits",
        "4.25",
        "--weight-mem",
        "rom",
        "--dmem",
        "kv",
    ]);
    assert_eq!(rom["fits_reticle"], true, "{rom}");
    assert!(rom["total_mm2"].as_f64().unwrap() < int8["total_mm2"].as_f64().unwrap() / 4.0);
}
