//! The `tessera` command line, end to end on the tiny synthetic checkpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

fn ok(args: &[&str]) -> Output {
    let out = tessera(args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(name: &str) -> PathBuf {
    // One folder per process: test runners may run this file's tests in parallel processes.
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One tiny 2-layer checkpoint shared by the tests of this file.
fn tiny() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("tiny-shared");
        let d = dir.to_str().unwrap();
        ok(&[
            "synth-weights",
            "--preset",
            "tiny",
            "--layers",
            "2",
            "--seed",
            "7",
            "--out",
            d,
        ]);
        dir
    })
}

fn read_logits(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("logits").unwrap();
    assert_eq!(t.dtype(), safetensors::Dtype::F32);
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn cli_help_explains_every_command() {
    let out = ok(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["logits", "generate", "synth-weights", "eval"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
}

#[test]
fn cli_synth_is_deterministic_per_seed() {
    let a = scratch("synth-a");
    let b = scratch("synth-b");
    let c = scratch("synth-c");
    for (dir, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
        ok(&[
            "synth-weights",
            "--preset",
            "tiny",
            "--layers",
            "3",
            "--seed",
            seed,
            "--out",
            dir.to_str().unwrap(),
        ]);
    }
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["num_hidden_layers"], 3);
    assert_eq!(cfg["rope_scaling"]["rope_type"], "llama3");
    assert_eq!(cfg["torch_dtype"], "bfloat16");
}

#[test]
fn cli_logits_writes_tokens_by_vocab() {
    let dir = scratch("logits");
    let f32_path = dir.join("f32.safetensors");
    let q_path = dir.join("q.safetensors");
    let model = tiny().to_str().unwrap();
    ok(&[
        "logits",
        "--model",
        model,
        "--tokens",
        "1,2,3,200",
        "--out",
        f32_path.to_str().unwrap(),
    ]);
    ok(&[
        "logits",
        "--model",
        model,
        "--tokens",
        "1,2,3,200",
        "--quant",
        "w8a8",
        "--out",
        q_path.to_str().unwrap(),
    ]);
    let (shape, f) = read_logits(&f32_path);
    let (qshape, q) = read_logits(&q_path);
    assert_eq!(shape, vec![4, 256]);
    assert_eq!(qshape, shape);
    assert!(f.iter().chain(&q).all(|x| x.is_finite()));
    // w8a8 differs from FP32, but only by quantization noise.
    let scale = f.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let diff = f
        .iter()
        .zip(&q)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff > 0.0 && diff < 0.2 * scale,
        "diff {diff}, scale {scale}"
    );
}

#[test]
fn cli_generate_json_greedy_and_seeded_sampling() {
    let model = tiny().to_str().unwrap();
    let base = [
        "generate",
        "--model",
        model,
        "--tokens",
        "5,6,7",
        "--max-new",
        "6",
        "--json",
        "--ignore-eos",
    ];
    let a = json(&ok(&base));
    let b = json(&ok(&base));
    assert_eq!(u32s(&a["prompt_tokens"]), vec![5, 6, 7]);
    assert_eq!(u32s(&a["tokens"]).len(), 6);
    assert_eq!(a, b, "greedy must be deterministic");
    let sample = |seed: &str| {
        let mut args = base.to_vec();
        args.extend(["--temperature", "1.5", "--top-p", "0.95", "--seed", seed]);
        json(&ok(&args))
    };
    assert_eq!(sample("11"), sample("11"));
    let distinct: std::collections::HashSet<Vec<u32>> = ["1", "2", "3", "4"]
        .iter()
        .map(|s| u32s(&sample(s)["tokens"]))
        .collect();
    assert!(
        distinct.len() > 1,
        "different seeds all gave the same tokens"
    );
}

#[test]
fn cli_generate_streams_text_and_matches_json() {
    let model = tiny().to_str().unwrap();
    let args = [
        "generate",
        "--model",
        model,
        "--prompt",
        "héllo ✓",
        "--max-new",
        "8",
        "--ignore-eos",
    ];
    let streamed = ok(&args);
    let mut jargs = args.to_vec();
    jargs.push("--json");
    let j = json(&ok(&jargs));
    // The byte-level tiny tokenizer: one token per UTF-8 byte.
    assert_eq!(
        u32s(&j["prompt_tokens"]),
        "héllo ✓".bytes().map(u32::from).collect::<Vec<_>>()
    );
    let text = String::from_utf8(streamed.stdout).expect("streamed text is valid UTF-8");
    assert_eq!(text.trim_end_matches('\n'), j["text"].as_str().unwrap());
}

#[test]
fn cli_eval_reports_perplexity_and_agreement() {
    let dir = scratch("eval");
    let text = dir.join("text.txt");
    std::fs::write(
        &text,
        "The quick brown fox jumps over the lazy dog. ".repeat(6),
    )
    .unwrap();
    let out = ok(&[
        "eval",
        "--model",
        tiny().to_str().unwrap(),
        "--text",
        text.to_str().unwrap(),
        "--quant",
        "w8a8",
        "--context",
        "100",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    let grab = |key: &str| -> f64 {
        let line = s
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{s}"));
        line[key.len()..]
            .trim()
            .split(['%', ' '])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let ppl = grab("fp32 perplexity:");
    let qppl = grab("w8a8 perplexity:");
    let agree = grab("w8a8 top-1 agreement with fp32:");
    // A random byte model: perplexity finite and of the order of the vocabulary.
    assert!(ppl > 1.0 && ppl < 10_000.0, "{s}");
    assert!((qppl / ppl - 1.0).abs() < 0.2, "{s}");
    assert!(agree > 50.0, "{s}");
}

#[test]
fn cli_errors_are_one_line_and_nonzero() {
    let dir = scratch("errors");
    let out_file = dir.join("x.safetensors");
    let out = out_file.to_str().unwrap();
    let model = tiny().to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "logits",
            "--model",
            "/nonexistent",
            "--tokens",
            "1",
            "--out",
            out,
        ],
        vec![
            "logits", "--model", model, "--tokens", "1,99999", "--out", out,
        ],
        vec!["logits", "--model", model, "--tokens", "1,x", "--out", out],
        vec![
            "generate",
            "--model",
            model,
            "--tokens",
            "1",
            "--temperature",
            "-2",
            "--max-new",
            "2",
        ],
        vec!["synth-weights", "--preset", "nope", "--out", out],
    ];
    for args in cases {
        let o = tessera(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{args:?}: no message");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // Our own errors: exactly one line. clap's usage errors carry a usage hint too.
        if err.starts_with("tessera: error:") {
            assert_eq!(lines.len(), 1, "{args:?}: {err}");
        }
    }
}

/// As an installed tool: the golden-model commands run from any folder with no RTL at hand;
/// a simulated chip without RTL is one clear line naming the way to give it, and exit 2.
#[test]
fn cli_runs_outside_the_checkout_and_names_the_missing_rtl() {
    let elsewhere = scratch("elsewhere");
    let no_rtl = elsewhere.join("no-rtl");
    let model = tiny().to_str().unwrap().to_string();
    let run_in = |args: &[&str], rtl: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .current_dir(&elsewhere)
            .env("TESSERA_RTL_ROOT", rtl)
            .output()
            .expect("run tessera")
    };
    let out = run_in(
        &[
            "generate",
            "--model",
            &model,
            "--tokens",
            "1,2",
            "--max-new",
            "2",
            "--json",
        ],
        &no_rtl,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(u32s(&json(&out)["tokens"]).len(), 2);

    let out = run_in(
        &["run", "--config", "tiny", "--synthetic", "small"],
        &no_rtl,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("TESSERA_RTL_ROOT") && err.contains("rtl/files.f"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let here = elsewhere.to_str().unwrap();
    let out = run_in(&["--rtl-root", here, "run", "--config", "tiny"], &no_rtl);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--rtl-root") && err.contains("not a Tessera checkout"),
        "{err}"
    );
}
