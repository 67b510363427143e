//! The `tessera` command line, end to end on the tiny synthetic checkpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;
use common::{ok, scratch, tessera};

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

// Hostile input: every case ends with exit status 2 and one line naming the file or option and
// the rule, before any work, and writes nothing.

/// Runs tessera and checks it refused: status 2, no panic, stderr holding every `needle`.
fn refused(args: &[&str], needles: &[&str]) -> String {
    let o = tessera(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    if err.starts_with("tessera: error:") {
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    err
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A copy of the tiny checkpoint with `edit` applied to its folder.
fn variant(name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = scratch(name);
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny().join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    dir
}

/// A copy of the tiny checkpoint whose config.json has `key` set to `value` (raw JSON).
fn with_config(name: &str, key: &str, value: &str) -> PathBuf {
    variant(name, |d| {
        let p = d.join("config.json");
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v.insert(key.into(), serde_json::Value::Null);
        let text = serde_json::to_string(&v)
            .unwrap()
            .replace(&format!("\"{key}\":null"), &format!("\"{key}\":{value}"));
        std::fs::write(&p, text).unwrap();
    })
}

/// The header of a safetensors file as JSON, and where its data starts.
fn header(path: &Path) -> (serde_json::Value, usize) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), 8 + n)
}

#[test]
fn cli_hostile_numbers_are_refused() {
    let m = tiny().to_str().unwrap();
    let gen = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = ["generate", "--model", m, "--tokens", "1,2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    for max_new in ["18446744073709551615", "1000000000000"] {
        refused(
            &strs(&gen(&["--max-new", max_new])),
            &[
                "max_new",
                "max_position_embeddings 1024",
                "at most 1022 new tokens fit",
            ],
        );
    }
    refused(
        &strs(&gen(&["--temperature", "nan"])),
        &["--temperature", "finite number"],
    );
    refused(
        &strs(&gen(&["--temperature", "inf"])),
        &["--temperature", "finite number"],
    );
    refused(
        &strs(&gen(&["--top-p", "nan"])),
        &["--top-p", "finite number"],
    );
    refused(
        &strs(&gen(&["--top-p", "0"])),
        &["--top-p", "greater than 0"],
    );
    for hz in ["inf", "nan", "-5", "0"] {
        let opt = format!("--clock-hz={hz}");
        for cmd in ["report", "run"] {
            refused(&[cmd, &opt], &["--clock-hz", "finite number from 1"]);
        }
    }
    refused(&["run", "--tokens", "0"], &["--tokens", "from 1"]);
    refused(&["run", "--layers", "0"], &["--layers", "from 1"]);
    refused(&["bringup", "--clock-hz", "0"], &["--clock-hz"]);
    refused(
        &["synth-weights", "--layers", "0", "--out", "x"],
        &["--layers", "from 1"],
    );
}

#[test]
fn cli_hostile_transport_strings_are_refused() {
    for (opt, rule) in [
        (
            "margin-ms=1e300",
            "margin-ms=1e300: must be a number from 0 to 60000",
        ),
        ("margin-ms=inf", "margin-ms=inf: must be a number"),
        ("tries=1e12", "tries=1e12: must be an integer from 1 to 100"),
        ("baud=1.5", "baud=1.5: must be an integer"),
    ] {
        let t = format!("uart:/dev/null,{opt}");
        refused(&["bringup", "--transport", &t], &[rule]);
        refused(&["run", "--synthetic", "small", "--transport", &t], &[rule]);
    }
}

#[test]
fn cli_hostile_configs_are_refused() {
    let text = scratch("hostile-text").join("t.txt");
    std::fs::write(&text, "some words to score ".repeat(20)).unwrap();
    let t = text.to_str().unwrap();
    let d = with_config("maxpos0", "max_position_embeddings", "0");
    refused(
        &["eval", "--model", d.to_str().unwrap(), "--text", t],
        &[
            "config.json",
            "`max_position_embeddings` is 0",
            "between 1 and",
        ],
    );
    for (name, key, value, rule) in [
        (
            "eps",
            "rms_norm_eps",
            "-1",
            "`rms_norm_eps` is -1: must be a finite number > 0",
        ),
        (
            "layers0",
            "num_hidden_layers",
            "0",
            "`num_hidden_layers` is 0",
        ),
        (
            "gpt2",
            "model_type",
            "\"gpt2\"",
            "`model_type` is \"gpt2\": only Llama",
        ),
        ("rope", "rope_theta", "1e999", "number out of range"),
        (
            "arch",
            "architectures",
            "[\"GPT2LMHeadModel\"]",
            "only LlamaForCausalLM",
        ),
    ] {
        let d = with_config(name, key, value);
        let m = d.to_str().unwrap();
        refused(
            &["generate", "--model", m, "--tokens", "1", "--max-new", "1"],
            &["config.json", rule],
        );
    }
    // An infinite rope factor: JSON has no infinity, and 1e999 is out of f64's range.
    let d = variant("rope-factor", |d| {
        let p = d.join("config.json");
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, s.replace("\"factor\": 8.0", "\"factor\": 1e999")).unwrap();
    });
    refused(
        &[
            "logits",
            "--model",
            d.to_str().unwrap(),
            "--tokens",
            "1",
            "--out",
            "/dev/null",
        ],
        &["config.json", "out of range"],
    );
    // /dev/zero as the config, or as the text: refused at once, not read for ever.
    let d = variant("zero-config", |d| {
        std::fs::remove_file(d.join("config.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.join("config.json")).unwrap();
    });
    refused(
        &["generate", "--model", d.to_str().unwrap(), "--tokens", "1"],
        &["config.json: is a device, expected a regular file"],
    );
    let m = tiny().to_str().unwrap();
    refused(
        &["eval", "--model", m, "--text", "/dev/zero"],
        &["/dev/zero: is a device"],
    );
    let d = variant("zero-tokenizer", |d| {
        std::fs::remove_file(d.join("tokenizer.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.join("tokenizer.json")).unwrap();
    });
    refused(
        &["generate", "--model", d.to_str().unwrap(), "--tokens", "1"],
        &["tokenizer.json: is a device"],
    );
    // A file where the checkpoint folder belongs.
    let cfg = tiny().join("config.json");
    for cmd in [
        vec!["generate", "--tokens", "1"],
        vec!["eval", "--text", t],
        vec!["logits", "--tokens", "1", "--out", "/dev/null"],
    ] {
        let args = [&cmd[..], &["--model", cfg.to_str().unwrap()]].concat();
        refused(&args, &["--model", "config.json: not a directory"]);
    }
    // A prompt longer than max_position_embeddings.
    let d = with_config("maxpos4", "max_position_embeddings", "4");
    let m = d.to_str().unwrap();
    refused(
        &[
            "generate",
            "--model",
            m,
            "--tokens",
            "1,2,3,4,5",
            "--max-new",
            "0",
        ],
        &["the prompt ends at position 5, beyond max_position_embeddings 4"],
    );
    refused(
        &[
            "generate",
            "--model",
            m,
            "--tokens",
            "1,2,3",
            "--max-new",
            "2",
        ],
        &["at most 1 new tokens fit"],
    );
    let out = scratch("maxpos4-out").join("l.safetensors");
    refused(
        &[
            "logits",
            "--model",
            m,
            "--tokens",
            "1,2,3,4,5",
            "--out",
            out.to_str().unwrap(),
        ],
        &["token position 4 is not below max_position_embeddings 4"],
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn cli_hostile_checkpoints_are_refused() {
    let gen = |d: &Path, needles: &[&str]| {
        let m = d.to_str().unwrap().to_owned();
        refused(
            &[
                "generate",
                "--model",
                &m,
                "--tokens",
                "1,2",
                "--max-new",
                "1",
            ],
            needles,
        )
    };
    // Non-finite weights: refused unless --allow-nonfinite.
    for (name, bits) in [("nan", [0xc0u8, 0x7f]), ("inf", [0x80, 0x7f])] {
        let d = variant(name, |d| {
            let p = d.join("model.safetensors");
            let (h, start) = header(&p);
            let begin = h["model.norm.weight"]["data_offsets"][0].as_u64().unwrap() as usize;
            let mut bytes = std::fs::read(&p).unwrap();
            bytes[start + begin + 6..start + begin + 8].copy_from_slice(&bits);
            std::fs::write(&p, bytes).unwrap();
        });
        gen(
            &d,
            &[
                "tensor `model.norm.weight`: element 3 is",
                "non-finite weights are refused",
            ],
        );
        let out = scratch(&format!("{name}-logits")).join("l.safetensors");
        let m = d.to_str().unwrap();
        let o = ["logits", "--model", m, "--tokens", "1", "--allow-nonfinite"];
        ok(&[&o[..], &["--out", out.to_str().unwrap()]].concat());
    }
    // Bytes after the last tensor.
    let d = variant("trailing", |d| {
        let p = d.join("model.safetensors");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(b"tail");
        std::fs::write(&p, bytes).unwrap();
    });
    gen(&d, &["model.safetensors", "4 bytes follow the last tensor"]);
    // A tensor name twice in the header (the second entry a copy of the first).
    let d = variant("repeated", |d| {
        let p = d.join("model.safetensors");
        let bytes = std::fs::read(&p).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let text = std::str::from_utf8(&bytes[8..8 + n]).unwrap().trim_end();
        let (h, _) = header(&p);
        let entry = h["model.norm.weight"].to_string();
        let doubled = format!(
            "{},\"model.norm.weight\":{entry}}}",
            &text[..text.len() - 1]
        );
        let mut out = (doubled.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(doubled.as_bytes());
        out.extend_from_slice(&bytes[8 + n..]);
        std::fs::write(&p, out).unwrap();
    });
    gen(&d, &["tensor `model.norm.weight` appears twice"]);
    // A folder where the weights file belongs.
    let d = variant("weights-dir", |d| {
        std::fs::remove_file(d.join("model.safetensors")).unwrap();
        std::fs::create_dir(d.join("model.safetensors")).unwrap();
    });
    gen(
        &d,
        &["model.safetensors: is a directory, expected a regular file"],
    );
    // A sharded index naming a file outside the folder.
    let d = variant("index-outside", |d| {
        let (h, _) = header(&d.join("model.safetensors"));
        std::fs::rename(d.join("model.safetensors"), d.with_extension("safetensors")).unwrap();
        let outside = format!(
            "../{}",
            d.with_extension("safetensors")
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        );
        let map: serde_json::Map<String, serde_json::Value> = h
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "__metadata__")
            .map(|k| (k.clone(), outside.clone().into()))
            .collect();
        let index = serde_json::json!({ "weight_map": map });
        std::fs::write(d.join("model.safetensors.index.json"), index.to_string()).unwrap();
    });
    gen(
        &d,
        &[
            "model.safetensors.index.json",
            "must be files in the checkpoint folder",
        ],
    );
}

#[test]
fn cli_output_that_cannot_be_written_is_an_error() {
    let m = tiny().to_str().unwrap();
    let text = scratch("full-text").join("t.txt");
    std::fs::write(&text, "some words to score ".repeat(20)).unwrap();
    let t = text.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "generate",
            "--model",
            m,
            "--tokens",
            "1,2",
            "--max-new",
            "2",
        ],
        vec![
            "generate",
            "--model",
            m,
            "--tokens",
            "1,2",
            "--max-new",
            "2",
            "--json",
        ],
        vec!["eval", "--model", m, "--text", t, "--context", "16"],
        vec!["--help"],
        vec!["generate", "--help"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
    }
    // A stderr that cannot be written loses the messages, not the exit status: a bad input is
    // still 2 (a panic would be 101), a good run still 0.
    let stderr_full = |args: &[&str]| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .stderr(full)
            .output()
            .unwrap()
    };
    let o = stderr_full(&["logits", "--model", "/nonexistent", "--tokens", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = stderr_full(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1,2",
        "--max-new",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!o.stdout.is_empty());
}

#[test]
fn cli_outputs_and_names_are_checked_before_the_work() {
    // Each would build a Verilator model or load a checkpoint first if not checked at once.
    refused(
        &["run", "--config", "nope", "--checkpoint", "/nonexistent"],
        &["--config nope"],
    );
    refused(
        &["run", "--project", "nope", "--checkpoint", "/nonexistent"],
        &["--project nope"],
    );
    refused(
        &["report", "--out", "/nonexistent/r.png", "--configs", "tiny"],
        &["--out /nonexistent/r.png: cannot be written"],
    );
    let png = scratch("font-zero").join("r.png");
    refused(
        &[
            "report",
            "--font",
            "/dev/zero",
            "--out",
            png.to_str().unwrap(),
        ],
        &["/dev/zero: is a device"],
    );
    assert!(!png.exists());
    let m = tiny().to_str().unwrap();
    refused(
        &[
            "logits",
            "--model",
            m,
            "--tokens",
            "1",
            "--out",
            "/nonexistent/l.safetensors",
        ],
        &["--out /nonexistent/l.safetensors: cannot be written"],
    );
}

#[test]
fn cli_synth_weights_never_overwrites_without_force() {
    let d = variant("victim", |d| {
        std::fs::write(d.join("notes.txt"), "keep").unwrap()
    });
    let before = std::fs::read(d.join("model.safetensors")).unwrap();
    let o = d.to_str().unwrap();
    let args = [
        "synth-weights",
        "--preset",
        "tiny",
        "--seed",
        "3",
        "--out",
        o,
    ];
    refused(
        &args,
        &["already exists and is not empty; --force replaces it"],
    );
    assert_eq!(std::fs::read(d.join("model.safetensors")).unwrap(), before);
    assert!(d.join("notes.txt").is_file());
    // With --force the folder is replaced as a whole, and nothing is left beside it.
    ok(&[&args[..], &["--force"]].concat());
    assert_ne!(std::fs::read(d.join("model.safetensors")).unwrap(), before);
    assert!(!d.join("notes.txt").exists());
    let parent = d.parent().unwrap();
    let name = d.file_name().unwrap().to_str().unwrap();
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .unwrap()
                .starts_with(&format!(".{name}."))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A folder that is not a checkpoint is never replaced, even with --force.
    let other = scratch("not-a-checkpoint");
    std::fs::write(other.join("a.txt"), "precious").unwrap();
    let o = other.to_str().unwrap();
    refused(
        &["synth-weights", "--preset", "tiny", "--out", o, "--force"],
        &["not a checkpoint folder (no config.json); refusing to replace it"],
    );
    assert!(other.join("a.txt").is_file());
    refused(
        &[
            "synth-weights",
            "--preset",
            "tiny",
            "--out",
            other.join("a.txt").to_str().unwrap(),
        ],
        &["exists and is not a folder"],
    );
}
