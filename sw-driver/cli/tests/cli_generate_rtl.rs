//! `tessera generate --rtl --engine matvec`: text generation with every matrix-vector product
//! on the simulated chip gives the tokens of `tessera generate --quant w8a8` (the golden model).
//!
//! On the `tiny` chip (CI): a small Llama-shaped checkpoint folder (GQA, tied embeddings,
//! llama3 RoPE scaling, byte-level tokenizer) written into `CARGO_TARGET_TMPDIR`; identical JSON
//! token lists, identical streamed text, the mismatch path (exit 2 with the location) and a
//! model too big for the chip (shared layers). The tiny tests skip with a message when
//! `verilator` is missing (and fail when `CI=true`).
//!
//! On `sim` (nightly): SmolLM2-135M from `build/smollm2-hf` (`scripts/fetch-smollm2`).
//!
//! The token engine (`--rtl`, the default engine): every token one TOKEN on the chip, checked
//! against the reference interpreter; the JSON, sampled tokens and streamed text of `--quant
//! chip`; a token that differs, `--quant w8a8` and a context past the engine's are errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{json, Value};
use tessera_golden::synth::{byte_level_tokenizer_json, write_f32_safetensors, SplitMix};
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

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

fn json_of(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}\nstderr: {}", stderr(out)))
}

/// Writes a Llama checkpoint folder (config.json, model.safetensors with tied embeddings,
/// byte-level tokenizer.json with 256 tokens) with hidden 32, 4 heads, 2 KV heads, FFN 48,
/// vocabulary 256 and `layers` layers, unless it is already there.
fn write_small_checkpoint(name: &str, layers: usize, seed: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.join("model.safetensors").is_file() {
        return dir;
    }
    let (hidden, inter, heads, kv_heads, vocab) = (32usize, 48usize, 4usize, 2usize, 256usize);
    let hd = hidden / heads;
    let config = json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "vocab_size": vocab,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "rope_scaling": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64
        },
        "tie_word_embeddings": true,
        "max_position_embeddings": 512,
        "hidden_act": "silu",
        "torch_dtype": "float32",
    });
    // Tests run in parallel (threads or processes): each writes its own folder, the first
    // rename wins and the others drop theirs (the contents are the same).
    let tmp = dir.with_extension(format!(
        "tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mut rng = SplitMix(seed);
    let sc = |fan: usize| 1.7 / (fan as f32).sqrt();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = vec![(
        "model.embed_tokens.weight".into(),
        vec![vocab, hidden],
        rng.values(vocab * hidden, 1.0, 0.0),
    )];
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        for (n, rows, cols) in [
            ("self_attn.q_proj", heads * hd, hidden),
            ("self_attn.k_proj", kv_heads * hd, hidden),
            ("self_attn.v_proj", kv_heads * hd, hidden),
            ("self_attn.o_proj", hidden, heads * hd),
            ("mlp.gate_proj", inter, hidden),
            ("mlp.up_proj", inter, hidden),
            ("mlp.down_proj", hidden, inter),
        ] {
            let v = rng.values(rows * cols, sc(cols), 0.0);
            tensors.push((format!("{p}.{n}.weight"), vec![rows, cols], v));
        }
        for n in ["input_layernorm", "post_attention_layernorm"] {
            let v = rng.values(hidden, 0.1, 1.0);
            tensors.push((format!("{p}.{n}.weight"), vec![hidden], v));
        }
    }
    let norm = rng.values(hidden, 0.1, 1.0);
    tensors.push(("model.norm.weight".into(), vec![hidden], norm));
    let refs: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.as_slice(), v.as_slice()))
        .collect();
    write_f32_safetensors(&tmp.join("model.safetensors"), &refs).unwrap();
    std::fs::write(tmp.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        tmp.join("tokenizer.json"),
        byte_level_tokenizer_json().to_string(),
    )
    .unwrap();
    if std::fs::rename(&tmp, &dir).is_err() {
        assert!(dir.join("model.safetensors").is_file());
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

fn generate_json(dir: &Path, engine: &[&str], extra: &[&str]) -> (Value, Output) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["generate", "--model", d, "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(engine);
    let out = tessera(&args);
    ok(&out);
    (json_of(&out), out)
}

const RTL_TINY: &[&str] = &["--rtl", "--engine", "matvec", "--config", "tiny"];
const GOLDEN: &[&str] = &["--quant", "w8a8"];

/// The stderr summary line of a chip run: (products checked, mismatches, cycles).
fn summary(out: &Output) -> (u64, u64, u64) {
    let err = stderr(out);
    let line = err
        .lines()
        .rev()
        .find(|l| l.contains("products checked"))
        .unwrap_or_else(|| panic!("no summary line in stderr: {err}"));
    let num = |before: &str| -> u64 {
        let head = line.split(before).next().unwrap();
        head.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert!(line.contains("per new token"), "{line}");
    (
        num(" products checked"),
        num(" mismatches"),
        num(" chip cycles"),
    )
}

#[test]
fn cli_generate_rtl_tiny_tokens_equal_golden_w8a8() {
    if !require_verilator() {
        return;
    }
    let dir = write_small_checkpoint("generate-rtl-v1-l2", 2, 7);
    let extra = ["--tokens", "1,2,3", "--max-new", "4"];
    let (chip, out) = generate_json(&dir, RTL_TINY, &extra);
    let (gold, _) = generate_json(&dir, GOLDEN, &extra);
    assert_eq!(chip["prompt_tokens"], json!([1, 2, 3]));
    assert_eq!(chip["tokens"].as_array().unwrap().len(), 4, "{chip}");
    assert_eq!(chip["tokens"], gold["tokens"]);
    assert_eq!(chip, gold);
    // Prefill of 3 tokens, then 3 decode steps: 6 token rows × (2 layers × 7 matrices + lm_head).
    let (products, mismatches, cycles) = summary(&out);
    assert_eq!(products, 6 * 15, "{}", stderr(&out));
    assert_eq!(mismatches, 0);
    assert!(cycles > 0);
}

#[test]
fn cli_generate_rtl_tiny_streamed_text_equals_golden() {
    if !require_verilator() {
        return;
    }
    let dir = write_small_checkpoint("generate-rtl-v1-l2", 2, 7);
    let d = dir.to_str().unwrap();
    let args = [
        "generate",
        "--model",
        d,
        "--prompt",
        "Hi!",
        "--max-new",
        "5",
    ];
    let chip = tessera(&[&args[..], RTL_TINY].concat());
    let gold = tessera(&[&args[..], GOLDEN].concat());
    ok(&chip);
    ok(&gold);
    assert!(!chip.stdout.is_empty());
    assert_eq!(chip.stdout, gold.stdout);
    assert_eq!(summary(&chip).1, 0);
}

#[test]
fn cli_generate_rtl_tiny_mismatch_is_an_error_with_its_location() {
    if !require_verilator() {
        return;
    }
    let dir = write_small_checkpoint("generate-rtl-v1-l2", 2, 7);
    let d = dir.to_str().unwrap();
    let out = tessera(&[
        "generate",
        "--model",
        d,
        "--tokens",
        "1,2,3",
        "--max-new",
        "2",
        "--json",
        "--rtl",
        "--engine",
        "matvec",
        "--config",
        "tiny",
        "--inject-fault",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("differs from the golden kernel"), "{err}");
    // The corrupted word belongs to the first matrix placed: layer 0's q_proj, tile 0.
    assert!(err.contains("layer 0 Q, tile 0, row"), "{err}");
    assert!(err.contains("chip") && err.contains("golden"), "{err}");
    assert!(out.stdout.is_empty(), "no JSON after a mismatch");
}

#[test]
fn cli_generate_rtl_tiny_model_larger_than_the_chip_shares_layers() {
    if !require_verilator() {
        return;
    }
    // 5 layers do not fit `tiny`'s weight memory: the layers share one slot.
    let dir = write_small_checkpoint("generate-rtl-v1-l5", 5, 3);
    let extra = ["--tokens", "4,5", "--max-new", "3"];
    let (chip, out) = generate_json(&dir, RTL_TINY, &extra);
    let (gold, _) = generate_json(&dir, GOLDEN, &extra);
    assert_eq!(chip["tokens"], gold["tokens"]);
    let err = stderr(&out);
    assert!(err.contains("share one slot"), "{err}");
    assert!(err.contains("layer reloads"), "{err}");
    assert_eq!(summary(&out).1, 0);
}

#[test]
fn cli_generate_config_needs_rtl() {
    let out = tessera(&[
        "generate", "--model", ".", "--tokens", "1", "--config", "tiny",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--rtl"), "{}", stderr(&out));
}

/// SmolLM2-135M on `sim` (nightly: minutes): the first 8 tokens after a prompt through the RTL
/// equal those of the golden W8A8 model.
#[test]
fn cli_generate_rtl_nightly_smollm2_sim_tokens_equal_golden_w8a8() {
    let dir = tessera_sim::rtl_root().unwrap().join("build/smollm2-hf");
    if !dir.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} is missing (scripts/fetch-smollm2 writes it)",
            dir.display()
        );
        return;
    }
    if !require_verilator() {
        return;
    }
    let extra = ["--prompt", "The capital of France is", "--max-new", "8"];
    let t0 = Instant::now();
    let (chip, out) = generate_json(
        &dir,
        &["--rtl", "--engine", "matvec", "--config", "sim"],
        &extra,
    );
    let chip_s = t0.elapsed().as_secs_f64();
    let (gold, _) = generate_json(&dir, GOLDEN, &extra);
    eprintln!(
        "smollm2 on sim: {} in {chip_s:.1} s; {}",
        chip["text"],
        stderr(&out).trim()
    );
    assert!(!chip["tokens"].as_array().unwrap().is_empty());
    assert_eq!(chip["tokens"], gold["tokens"]);
    assert_eq!(chip["text"], gold["text"]);
    assert_eq!(summary(&out).1, 0);
}

const ENGINE_TINY: &[&str] = &["--rtl", "--config", "tiny"];
const CHIP: &[&str] = &["--quant", "chip"];

/// The stderr summary of a token-engine run: (tokens checked, cycles per token).
fn engine_summary(out: &Output) -> (u64, u64) {
    let err = stderr(out);
    let line = err
        .lines()
        .rev()
        .find(|l| l.contains("token engine:"))
        .unwrap_or_else(|| panic!("no summary line in stderr: {err}"));
    let num = |before: &str| -> u64 {
        let head = line.split(before).next().unwrap();
        head.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert!(line.contains("0 differ"), "{line}");
    assert!(line.contains("per new token"), "{line}");
    (num(" tokens checked"), num(" cycles per token"))
}

#[test]
fn cli_generate_rtl_token_engine_tiny_equals_quant_chip() {
    if !require_verilator() {
        return;
    }
    let dir = write_small_checkpoint("generate-rtl-v1-l2", 2, 7);
    let extra = ["--tokens", "1,2,3", "--max-new", "4"];
    let (chip, out) = generate_json(&dir, ENGINE_TINY, &extra);
    let (gold, _) = generate_json(&dir, CHIP, &extra);
    assert_eq!(chip["tokens"].as_array().unwrap().len(), 4, "{chip}");
    assert_eq!(chip, gold);
    // 3 prompt tokens and 3 decode steps, each one TOKEN checked.
    let (checked, cycles) = engine_summary(&out);
    assert_eq!(checked, 6);
    assert!(cycles > 0);
    // Sampling reads the logits back and samples them on the host as the golden loop does.
    let sampled = ["--tokens", "5,6", "--max-new", "5", "--temperature", "0.9"];
    let seed = ["--seed", "11"];
    let (chip, _) = generate_json(&dir, ENGINE_TINY, &[&sampled[..], &seed].concat());
    let (gold, _) = generate_json(&dir, CHIP, &[&sampled[..], &seed].concat());
    assert_eq!(chip, gold);
    // Streamed text, byte for byte.
    let d = dir.to_str().unwrap();
    let args = [
        "generate",
        "--model",
        d,
        "--prompt",
        "Hi!",
        "--max-new",
        "5",
    ];
    let chip = tessera(&[&args[..], ENGINE_TINY].concat());
    let gold = tessera(&[&args[..], CHIP].concat());
    ok(&chip);
    ok(&gold);
    assert!(!chip.stdout.is_empty());
    assert_eq!(chip.stdout, gold.stdout);
}

#[test]
fn cli_generate_rtl_token_engine_tiny_errors() {
    let dir = write_small_checkpoint("generate-rtl-v1-l2", 2, 7);
    let d = dir.to_str().unwrap();
    let base = ["generate", "--model", d, "--tokens", "1,2,3", "--json"];
    let refused = |extra: &[&str], needles: &[&str]| {
        let out = tessera(&[&base[..], ENGINE_TINY, extra].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: one line: {err}");
        for n in needles {
            assert!(err.contains(n), "{extra:?}: `{n}` not in: {err}");
        }
        assert!(out.stdout.is_empty());
    };
    refused(&["--quant", "w8a8"], &["--quant w8a8", "--engine matvec"]);
    // 3 + 300 positions fit the model's 512, not the `tiny` engine's 256.
    refused(&["--max-new", "300"], &["302 positions", "holds 256"]);
    if !require_verilator() {
        return;
    }
    let out = tessera(
        &[
            &base[..],
            ENGINE_TINY,
            &["--inject-fault", "--max-new", "3"],
        ]
        .concat(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("differs from the reference interpreter"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no JSON after a difference");
}

/// SmolLM2-135M on `sim`'s token engine (nightly: minutes per token): the tokens of
/// `--quant chip` after a prompt, and the wall time per generated token printed.
#[test]
fn cli_generate_rtl_nightly_smollm2_token_engine_equals_quant_chip() {
    let dir = tessera_sim::rtl_root().unwrap().join("build/smollm2-hf");
    if !dir.join("model.safetensors").is_file() {
        eprintln!(
            "skipped: {} is missing (scripts/fetch-smollm2 writes it)",
            dir.display()
        );
        return;
    }
    if !require_verilator() {
        return;
    }
    let extra = ["--prompt", "The capital of France is", "--max-new", "4"];
    let (chip, out) = generate_json(&dir, &["--rtl", "--config", "sim"], &extra);
    let (gold, _) = generate_json(&dir, CHIP, &extra);
    eprintln!("smollm2 on sim's token engine: {}", stderr(&out).trim());
    assert_eq!(chip, gold);
    engine_summary(&out);
}
