//! `--quant chip:mx8` / `chip:mx4` (numerics v3, MX block formats): `logits` and `eval` on a
//! tiny synthetic checkpoint, clear errors for unknown names and for commands that run on the
//! chip.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use common::{ok, scratch, tessera};

fn tiny() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("mx-tiny");
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

fn logits(quant: &str) -> Vec<u8> {
    let dir = scratch("mx-logits");
    let path = dir.join("l.safetensors");
    ok(&[
        "logits",
        "--model",
        tiny().to_str().unwrap(),
        "--tokens",
        "1,2,3,200",
        "--quant",
        quant,
        "--out",
        path.to_str().unwrap(),
    ]);
    std::fs::read(&path).unwrap()
}

#[test]
fn cli_quant_mx_logits_and_eval() {
    let mx8 = logits("chip:mx8");
    assert_eq!(mx8, logits("chip:mx8"), "reproducible");
    assert_ne!(mx8, logits("chip:mx4"));
    assert_ne!(mx8, logits("chip"));

    let dir = scratch("mx-eval");
    let text = dir.join("text.txt");
    std::fs::write(
        &text,
        "The quick brown fox jumps over the lazy dog. ".repeat(4),
    )
    .unwrap();
    let out = ok(&[
        "eval",
        "--model",
        tiny().to_str().unwrap(),
        "--text",
        text.to_str().unwrap(),
        "--quant",
        "chip:mx8,chip:mx4+rot+int4",
        "--context",
        "24",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("chip:mx8 perplexity:"), "{s}");
    assert!(
        s.contains("chip:mx4+rot+int4 top-1 agreement with fp32:"),
        "{s}"
    );
    // The same pass scores the second half of each window (positions 12 to 22 of 24) apart:
    // fewer tokens than all, but more than none.
    let count = |prefix: &str| -> usize {
        let line = s.lines().find(|l| l.starts_with(prefix)).expect(prefix);
        let (_, rest) = line.split_once('(').unwrap();
        let (_, n) = rest.trim_end_matches(')').split_once('/').unwrap();
        n.parse().unwrap()
    };
    let all = count("chip:mx8 top-1 agreement with fp32:");
    let half = count("chip:mx8 top-1 agreement with fp32 (second half):");
    assert!(half > 0 && half < all, "{s}");
    assert!(s.contains("fp32 perplexity (second half):"), "{s}");
    assert!(
        s.contains("chip:mx4+rot+int4 perplexity (second half):"),
        "{s}"
    );
}

#[test]
fn cli_quant_mx_unknown_names_and_chip_commands_fail_clearly() {
    let model = tiny().to_str().unwrap();
    for (q, want) in [
        ("chip:mx6", "unknown MX recipe"),
        ("chip:mx8+int4", "unknown modifier"),
        ("mx4", "unknown arithmetic"),
    ] {
        let out = tessera(&[
            "logits", "--model", model, "--tokens", "1,2", "--quant", q, "--out", "x",
        ]);
        assert_eq!(out.status.code(), Some(2), "{q}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(want), "{q}: {e}");
    }
    let out = tessera(&[
        "generate", "--model", model, "--tokens", "1,2", "--rtl", "--quant", "chip:mx4",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("golden model only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
