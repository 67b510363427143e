//! `tessera run --engine matvec` on the `tiny` chip: the JSON contract, a bit-exact run of a
//! small Llama-shaped model (GQA, tied embeddings), the mismatch path (exit 1, replay file,
//! waveform) and bad input (exit 2 with a message). The token engine's run: `cli_run_token.rs`.

use std::path::PathBuf;
use std::process::{Command, Output};

use tessera_sim::require_verilator;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn cli_run_matvec_tiny_bit_exact_json() {
    if !require_verilator() {
        return;
    }
    let out = tessera(&[
        "run",
        "--engine",
        "matvec",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--layers",
        "2",
        "--tokens",
        "3",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["bit_exact"], true);
    assert_eq!(v["engine"], "matvec");
    assert_eq!(v["config"], "tiny");
    // 3 tokens × (2 layers × 7 matrices + lm_head).
    assert_eq!(v["matvecs"], 45);
    assert_eq!(v["mismatches"], 0);
    assert!(v["cycles"].as_u64().unwrap() > 0);
    let u = v["mac_utilization"].as_f64().unwrap();
    assert!(u > 0.0 && u <= 1.0, "utilisation {u}");
    let p = v["projected_tokens_per_s"].as_f64().unwrap();
    let ideal = 1e9 * 262_144.0 / v["projection"]["macs_per_token"].as_f64().unwrap();
    assert!(
        p > 0.0 && p <= ideal,
        "projection {p} beyond the physical limit {ideal}"
    );
    let per_matrix = v["per_matrix"].as_array().unwrap();
    assert_eq!(per_matrix.len(), 15);
    assert!(per_matrix.iter().all(|m| m["matches"] == 3));
}

#[test]
fn cli_run_matvec_tiny_mismatch_leaves_replay_and_waveform() {
    if !require_verilator() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-run-mismatch");
    let _ = std::fs::remove_dir_all(&dir);
    let out = tessera(&[
        "run",
        "--engine",
        "matvec",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--tokens",
        "2",
        "--inject-fault",
        "--artifacts",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["bit_exact"], false);
    assert!(v["mismatches"].as_u64().unwrap() > 0);
    let first = &v["first_mismatch"];
    assert!(
        first["location"].as_str().unwrap().contains("layer 0"),
        "{first}"
    );
    assert_ne!(first["chip"], first["golden"]);
    let replay = PathBuf::from(v["replay"].as_str().unwrap());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&replay).unwrap()).unwrap();
    assert!(r["command"].as_str().unwrap().contains("--inject-fault"));
    let fst = PathBuf::from(v["waveform"].as_str().expect("a waveform"));
    let meta = std::fs::metadata(&fst).unwrap();
    assert!(meta.len() > 0, "{} is empty", fst.display());
}

#[test]
fn cli_run_bad_input_exits_2_with_a_message() {
    let out = tessera(&["run", "--tokens", "0", "--config", "tiny"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tokens"));
    let out = tessera(&[
        "run",
        "--config",
        "tiny",
        "--checkpoint",
        "/nonexistent/checkpoint",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/checkpoint"));
    let out = tessera(&["run", "--config", "no-such-config", "--synthetic", "small"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-config"));
}
