//! `--quant chip` (numerics v2) in every command that takes `--quant`: `logits`, `generate`,
//! `eval` on a tiny synthetic checkpoint, and `run` on the `tiny` chip (bit-exact against the
//! golden chip mode).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use common::{ok, scratch, tessera};

use tessera_sim::require_verilator;

fn tiny() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("chip-tiny");
        let d = dir.to_str().unwrap();
        ok(&[
            "synth-weights",
            "--preset",
            "tiny",
            "--layers",
            "2",
            "--seed",
            "3",
            "--out",
            d,
        ]);
        dir
    })
}

fn logits(quant: &str, dir: &Path) -> Vec<u32> {
    let path = dir.join(format!("{quant}.safetensors"));
    let model = tiny().to_str().unwrap();
    ok(&[
        "logits",
        "--model",
        model,
        "--tokens",
        "1,2,3,200",
        "--quant",
        quant,
        "--out",
        path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor("logits")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn cli_quant_chip_logits_are_their_own_and_reproducible() {
    let dir = scratch("chip-logits");
    let chip = logits("chip", &dir);
    let w8 = logits("w8a8", &dir);
    let f = logits("none", &dir);
    assert_eq!(chip.len(), 4 * 256);
    assert_ne!(chip, w8, "chip mode must not be w8a8");
    assert_eq!(chip, logits("chip", &dir), "chip mode must be reproducible");
    let f: Vec<f32> = f.into_iter().map(f32::from_bits).collect();
    let c: Vec<f32> = chip.into_iter().map(f32::from_bits).collect();
    let scale = f.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = f
        .iter()
        .zip(&c)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 0.2 * scale, "diff {diff}, scale {scale}");
}

#[test]
fn cli_quant_chip_generate_and_eval() {
    let model = tiny().to_str().unwrap();
    let args = [
        "generate",
        "--model",
        model,
        "--tokens",
        "5,6,7",
        "--max-new",
        "5",
        "--json",
        "--ignore-eos",
        "--quant",
        "chip",
    ];
    let a = String::from_utf8(ok(&args).stdout).unwrap();
    assert_eq!(a, String::from_utf8(ok(&args).stdout).unwrap());
    let v: serde_json::Value = serde_json::from_str(a.trim()).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 5);

    let dir = scratch("chip-eval");
    let text = dir.join("text.txt");
    std::fs::write(
        &text,
        "The quick brown fox jumps over the lazy dog. ".repeat(4),
    )
    .unwrap();
    let out = ok(&[
        "eval",
        "--model",
        model,
        "--text",
        text.to_str().unwrap(),
        "--quant",
        "chip",
        "--context",
        "100",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("chip perplexity:"), "{s}");
    assert!(s.contains("chip top-1 agreement with fp32:"), "{s}");
}

#[test]
fn cli_quant_chip_run_is_bit_exact_on_tiny() {
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
        "--quant",
        "chip",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(v["bit_exact"], true);
    assert_eq!(v["quant"], "chip");
    assert_eq!(v["mismatches"], 0);
    assert_eq!(v["matvecs"], 45);
    // FP32 cannot run on an int8 chip.
    let out = tessera(&[
        "run",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--quant",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--quant none"));
}
