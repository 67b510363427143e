//! `tessera report` on the `tiny` chip: a valid PNG of the expected size, the JSON numbers
//! (per-operation cycles, utilisation beside the cycle model, the projection curve through
//! the `t1-8b` figure), and bad input refused before any simulation.

use std::path::PathBuf;
use std::process::{Command, Output};

use tessera_driver::projection::{project, LatencyModel};
use tessera_driver::ChipConfig;
use tessera_golden::config::Config as ModelConfig;
use tessera_golden::synth::Preset;
use tessera_sim::require_verilator;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn out_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[test]
fn cli_report_tiny_png_and_json() {
    if !require_verilator() {
        return;
    }
    let dir = out_dir("cli_report_tiny");
    let png = dir.join("r.png");
    let out = tessera(&[
        "report",
        "--configs",
        "tiny",
        "--out",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The PNG: signature, IHDR with the plot's dimensions, more than a blank canvas.
    let bytes = std::fs::read(&png).expect("the PNG was written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!((be32(&bytes[16..20]), be32(&bytes[20..24])), (1600, 720));
    assert!(bytes.len() > 30_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");

    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"));
    let sims = v["simulated"].as_array().unwrap();
    assert_eq!(sims.len(), 1);
    let s = &sims[0];
    assert_eq!(s["config"], "tiny");
    assert_eq!(s["tiles"], 4);
    assert_eq!(s["macs_per_cycle"], 4 * 4 * 8);
    // 2 tokens × (2 layers × 7 matrices + lm_head), all exact.
    assert_eq!(s["products"], 30);
    assert_eq!(s["mismatches"], 0);
    let ops = s["per_operation"].as_array().unwrap();
    let names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["qkv", "o", "gate_up", "down", "lm_head"]);
    let mut sum = 0.0;
    for o in ops {
        let c = o["cycles_per_token"].as_f64().unwrap();
        let m = o["model_cycles_per_token"].as_f64().unwrap();
        assert!(c > 0.0 && m > 0.0, "{o}");
        sum += c;
    }
    // One program per group and token (2 per layer group, 1 for lm_head, per token).
    assert_eq!(ops[0]["programs"], 4);
    assert_eq!(ops[4]["programs"], 2);
    let total = s["cycles_per_token"].as_f64().unwrap();
    assert!((sum - total).abs() < 1e-6, "{sum} vs {total}");
    for k in ["mac_utilization", "model_mac_utilization"] {
        let u = s[k].as_f64().unwrap();
        assert!(u > 0.0 && u <= 1.0, "{k} {u}");
    }

    // The projection curve: 4 to 1024 tiles, through the t1-8b projection at 256.
    let points = v["projection"]["points"].as_array().unwrap();
    let tiles: Vec<u64> = points
        .iter()
        .map(|p| p["tiles"].as_u64().unwrap())
        .collect();
    assert_eq!(tiles, [4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    for p in points {
        let u = p["mac_utilization"].as_f64().unwrap();
        assert!(u > 0.0 && u <= 1.0, "{p}");
        assert_eq!(
            p["macs_per_cycle"].as_u64().unwrap(),
            p["tiles"].as_u64().unwrap() * 1024
        );
    }
    let full = ModelConfig::from_json(&Preset::Llama31_8b.config_json(32).to_string()).unwrap();
    let t1 = project(
        &ChipConfig::named("t1-8b").unwrap(),
        &full,
        1e9,
        &LatencyModel::RTL,
    )
    .unwrap();
    let at256 = points[6]["tokens_per_s"].as_f64().unwrap();
    assert!(
        (at256 - t1.tokens_per_s).abs() < 1e-6 * t1.tokens_per_s,
        "{at256} vs {}",
        t1.tokens_per_s
    );

    // The whole token on the engine: the driver's projection, contexts 1,024 and 4,096.
    let want = tessera_driver::token_model::llama31_8b_on_t1_8b(1e9).unwrap();
    let tp = &v["token_projection"];
    assert_eq!(tp["config"], "t1-8b");
    assert_eq!(tp["instructions"], 872);
    let by = tp["by_context"].as_array().unwrap();
    assert_eq!(by.len(), want.by_context.len());
    for (p, w) in by.iter().zip(&want.by_context) {
        assert_eq!(p["context"].as_u64().unwrap() as usize, w.context);
        let c = p["cycles_per_token"].as_f64().unwrap();
        assert!((c - w.cycles_per_token).abs() <= 1e-9 * c, "{p}");
        let tps = p["tokens_per_s"].as_f64().unwrap();
        assert!((tps - 1e9 / c).abs() <= 1e-9 * tps, "{p}");
    }
    let e = tp["model_max_error"].as_f64().unwrap();
    assert!((0.0..=0.05).contains(&e), "{e}");
    assert!(
        v["token_projection"]["stages"]["4096"]["attention"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn cli_report_bad_input_is_refused_before_simulating() {
    let dir = out_dir("cli_report_bad");
    let png = dir.join("r.png");
    let out = tessera(&[
        "report",
        "--configs",
        "tiny,nosuch",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
    let out = tessera(&[
        "report",
        "--font",
        dir.join("missing.ttf").to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("fonts-dejavu-core"),
        "{}",
        stderr(&out)
    );
    assert!(!png.exists());
}
