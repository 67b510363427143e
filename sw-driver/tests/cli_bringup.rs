//! `tessera bringup` on the `tiny` chip model: every step passes and the JSON names them; an
//! unknown or unimplemented transport is refused with exit status 2.

use std::process::{Command, Output};

use tessera_driver::sim::have_verilator;

fn verilator() -> bool {
    let ok = have_verilator();
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("verilator is required in CI");
    }
    if !ok {
        eprintln!("skipped: verilator not found");
    }
    ok
}

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

#[test]
fn cli_bringup_tiny_all_steps_pass_json() {
    if !verilator() {
        return;
    }
    let out = tessera(&["bringup", "--transport", "sim", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}\nstderr: {stderr}"));
    assert_eq!(v["passed"], true);
    assert_eq!(v["transport"], "sim");
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, tessera_driver::bringup::STEPS);
    for s in steps {
        assert_eq!(s["result"], "PASS", "{s}");
    }
    let id = &steps[0]["values"];
    assert!(id["version"].as_str().unwrap().starts_with("0."), "{id}");
    let cfg = &steps[2]["values"]["read"];
    assert_eq!(
        (cfg["grid_rows"].as_u64(), cfg["lanes"].as_u64()),
        (Some(2), Some(4))
    );
    let mem = &steps[3]["values"];
    assert_eq!(mem["mismatched_bytes"], 0);
    assert_eq!(mem["backdoor_mismatched_bytes"], 0);
    // tiny: 4 tiles × 2 ranges × 64 words × 32 bytes × 3 patterns.
    assert_eq!(mem["bytes_written"], 4 * 2 * 64 * 32 * 3);
    assert_eq!(steps[4]["values"]["mismatched_rows"], 0);
    let layer = &steps[5]["values"];
    assert_eq!(layer["logits_bit_exact"], true);
    assert_eq!(layer["mismatches"], 0);
    // 4 tokens × (7 matrices + lm_head).
    assert_eq!(layer["products"], 32);
}

#[test]
fn cli_bringup_bad_transport_exits_2() {
    for t in ["uart:/dev/ttyUSB0", "pcie:0000:01:00.0", "sim:nonesuch"] {
        let out = tessera(&["bringup", "--transport", t]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{t}: {stderr}");
        assert!(stderr.contains(t), "{t}: {stderr}");
    }
}
