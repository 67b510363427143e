//! `tessera run` on the token engine (the default engine) on the `tiny` chip: a bit-exact run
//! of a small Llama-shaped model with the JSON figures present and consistent (cycles per token,
//! token utilisation, host bytes per token as the runtime counted them, the per-stage profile of
//! a traced token), a prompt then greedy decoding, `--no-logits`, a Hugging Face checkpoint
//! folder held whole, the mismatch path (exit 1, replay file, waveform), checkpoints and
//! contexts that do not fit (exit 2, the memory named on one line) and hostile options.
//!
//! `*_nightly_*`: one decoder layer of Llama 3.1 8B's shapes on `sim` (its vocabulary cut to
//! what the data memory holds), with the wall time of a token.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{scratch, tessera};
use serde_json::Value;
use tessera_sim::require_verilator;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}\nstderr: {}", stderr(out)))
}

fn ok_json(args: &[&str]) -> Value {
    let out = tessera(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

/// Exit status 2 and stderr holding every `needle`: one line from the command, or the usage
/// error of the argument parser.
fn refused(args: &[&str], needles: &[&str]) {
    let out = tessera(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    if err.starts_with("tessera: error:") {
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    } else {
        assert!(err.starts_with("error: "), "{args:?}: a usage error: {err}");
    }
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The figures every token-engine run reports, consistent with each other: `tiny` (64-bit
/// stream), a vocabulary of 64 (32 beats of logits).
fn check_figures(v: &Value, tokens: usize, logits: bool) {
    assert_eq!(v["engine"], "token", "{v}");
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["quant"], "chip");
    assert_eq!(v["config"], "tiny");
    assert_eq!(v["tokens"], tokens);
    let per = v["per_token"].as_array().unwrap();
    assert_eq!(per.len(), tokens);
    let cycles = v["cycles_per_token"]["per_token"].as_array().unwrap();
    assert_eq!(cycles.len(), tokens);
    assert!(cycles.iter().all(|c| u64_of(c) > 0), "{v}");
    let median = u64_of(&v["cycles_per_token"]["median"]);
    assert!(cycles.iter().any(|c| u64_of(c) == median));
    // Utilisation: weight MACs over MACs per cycle times the median cycles.
    let u = v["token_utilization"].as_f64().unwrap();
    let want = u64_of(&v["weight_macs_per_token"]) as f64
        / (u64_of(&v["macs_per_cycle"]) as f64 * median as f64);
    assert!(u > 0.0 && u <= 1.0, "utilisation {u}");
    assert!((u - want).abs() < 1e-12, "{u} vs {want}");
    assert_eq!(v["macs_per_cycle"], 128);
    // Host bytes: one TOKEN header in, one 64-bit final beat out, no register access (a
    // fault is seen on the interrupt line); the logits apart.
    let check = if logits { 32 * 8 } else { 0 };
    for t in per {
        assert_eq!(t["stream_to_chip"], 32, "{t}");
        assert_eq!(u64_of(&t["stream_from_chip"]), 8 + check, "{t}");
        assert_eq!(t["check_bytes"], check);
        assert_eq!(t["register_accesses"], 0, "{t}");
        assert_eq!(u64_of(&t["host_bytes"]), 32 + 8, "{t}");
    }
    let hb = u64_of(&v["host_bytes_per_token"]);
    assert!(per.iter().any(|t| u64_of(&t["host_bytes"]) == hb));
    assert_eq!(v["check_bytes_per_token"], check);
    // The traced token: every stage, adding up to less than the token's own cycles (END and
    // the descriptor's intake are not traced), most of them.
    let st = &v["per_stage_cycles"];
    let names = [
        "norm",
        "qkv",
        "rope",
        "attention",
        "o",
        "mlp",
        "lm_head",
        "other",
    ];
    let sum: u64 = names.iter().map(|n| u64_of(&st["cycles"][n])).sum();
    assert!(names.iter().all(|n| u64_of(&st["cycles"][n]) > 0), "{st}");
    assert_eq!(sum, u64_of(&st["traced_cycles"]));
    let token = u64_of(&st["token_cycles"]);
    assert!(sum < token && sum > token / 2, "{sum} of {token}");
    assert_eq!(st["token"], tokens - 1);
    assert!(
        v["projection"].is_null(),
        "no projection before its cycle model"
    );
}

#[test]
fn cli_run_token_tiny_bit_exact_with_figures() {
    if !require_verilator() {
        return;
    }
    let v = ok_json(&[
        "run",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--layers",
        "2",
        "--tokens",
        "5",
        "--json",
    ]);
    check_figures(&v, 5, true);
    assert_eq!(v["vocab"], 64);
    assert!(v["vocab_full"].is_null());
    assert_eq!(v["layers"], 2);
    assert_eq!(v["context"], 256);
    // One prompt id, then greedy: each token fed is the NEXT of the one before.
    let ids = v["token_ids"].as_array().unwrap();
    let per = v["per_token"].as_array().unwrap();
    assert_eq!(v["prompt"].as_array().unwrap().len(), 1);
    for i in 1..ids.len() {
        assert_eq!(ids[i], per[i - 1]["next"], "{v}");
    }
}

#[test]
fn cli_run_token_tiny_prompt_and_no_logits() {
    if !require_verilator() {
        return;
    }
    let v = ok_json(&[
        "run",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--tokens",
        "4",
        "--prompt",
        "7,8,9",
        "--context",
        "16",
        "--no-logits",
        "--json",
    ]);
    check_figures(&v, 4, false);
    assert_eq!(v["logits_checked"], false);
    assert_eq!(v["context"], 16);
    let ids: Vec<u64> = v["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(u64_of)
        .collect();
    assert_eq!(&ids[..3], &[7, 8, 9]);
    assert_eq!(
        ids[3],
        u64_of(&v["per_token"][2]["next"]),
        "greedy after the prompt"
    );
    // The human report carries the same figures.
    let out = tessera(&[
        "run",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--tokens",
        "2",
        "--context",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "cycles per token",
        "token utilisation",
        "host bytes per token",
        "logits read back",
        "cycles per stage",
        "attention",
        "lm_head",
        "projection (t1-8b by context): none yet",
        "BIT-EXACT",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
}

/// A Hugging Face checkpoint folder (2 layers, GQA, tied embeddings, vocabulary 256) that the
/// `tiny` chip holds whole, and one of Llama 3.1 8B's structure at the test preset's sizes
/// that it does not.
#[test]
fn cli_run_token_tiny_checkpoints_that_fit_and_do_not() {
    let dir = scratch("run-token-ckpt");
    let small = dir.join("small");
    let s = small.to_str().unwrap();
    let out = tessera(&[
        "synth-weights",
        "--preset",
        "tiny",
        "--layers",
        "1",
        "--out",
        s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The preset's one layer is 43,008 weights; `tiny` has 32 KiB of weight memory.
    refused(
        &[
            "run",
            "--config",
            "tiny",
            "--checkpoint",
            s,
            "--tokens",
            "2",
        ],
        &[
            "does not fit the token engine of `tiny`",
            "weight words per tile",
        ],
    );
    // A context past the configuration's, and past the KV-cache positions.
    refused(
        &[
            "run",
            "--config",
            "tiny",
            "--synthetic",
            "small",
            "--context",
            "300",
        ],
        &["context 300", "1 to 256"],
    );
    if !require_verilator() {
        return;
    }
    let fits = write_checkpoint(&dir.join("fits"));
    let f = fits.to_str().unwrap();
    let v = ok_json(&[
        "run",
        "--config",
        "tiny",
        "--checkpoint",
        f,
        "--tokens",
        "3",
        "--prompt",
        "72,105",
        "--json",
    ]);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["layers"], 2, "every layer of a checkpoint by default");
    assert_eq!(v["vocab"], 256);
    assert_eq!(v["context"], 256);
}

/// A Llama checkpoint folder (config.json and f32 safetensors): hidden 32, 4 heads, 2 KV heads,
/// FFN 48, 2 layers, vocabulary 256, tied embeddings.
fn write_checkpoint(dir: &std::path::Path) -> PathBuf {
    use tessera_golden::synth::{write_f32_safetensors, SplitMix};
    std::fs::create_dir_all(dir).unwrap();
    let (hidden, inter, heads, kv, vocab, layers) = (32usize, 48, 4, 2, 256, 2);
    let hd = hidden / heads;
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": vocab,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true,
        "max_position_embeddings": 512, "hidden_act": "silu",
    });
    let mut rng = SplitMix(5);
    let sc = |fan: usize| 1.7 / (fan as f32).sqrt();
    let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = vec![(
        "model.embed_tokens.weight".into(),
        vec![vocab, hidden],
        rng.values(vocab * hidden, 1.0, 0.0),
    )];
    for l in 0..layers {
        for (n, r, c) in [
            ("self_attn.q_proj", heads * hd, hidden),
            ("self_attn.k_proj", kv * hd, hidden),
            ("self_attn.v_proj", kv * hd, hidden),
            ("self_attn.o_proj", hidden, heads * hd),
            ("mlp.gate_proj", inter, hidden),
            ("mlp.up_proj", inter, hidden),
            ("mlp.down_proj", hidden, inter),
        ] {
            let v = rng.values(r * c, sc(c), 0.0);
            t.push((format!("model.layers.{l}.{n}.weight"), vec![r, c], v));
        }
        for n in ["input_layernorm", "post_attention_layernorm"] {
            let v = rng.values(hidden, 0.1, 1.0);
            t.push((format!("model.layers.{l}.{n}.weight"), vec![hidden], v));
        }
    }
    t.push((
        "model.norm.weight".into(),
        vec![hidden],
        rng.values(hidden, 0.1, 1.0),
    ));
    let refs: Vec<(&str, &[usize], &[f32])> = t
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.as_slice(), v.as_slice()))
        .collect();
    write_f32_safetensors(&dir.join("model.safetensors"), &refs).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir.to_path_buf()
}

#[test]
fn cli_run_token_tiny_mismatch_leaves_replay_and_waveform() {
    if !require_verilator() {
        return;
    }
    let dir = scratch("run-token-mismatch");
    let out = tessera(&[
        "run",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--tokens",
        "3",
        "--inject-fault",
        "--artifacts",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["bit_exact"], false);
    let d = &v["first_difference"];
    // The corrupted word is layer 0's q_proj: at position 0 attention returns v whatever q is,
    // so the second token is the first to differ.
    assert_eq!(d["token"], 1, "{d}");
    assert_ne!(d["chip"], d["interpreter"]);
    assert!(
        v["per_stage_cycles"].is_null(),
        "no traced token after a mismatch"
    );
    let replay = PathBuf::from(v["replay"].as_str().unwrap());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&replay).unwrap()).unwrap();
    let cmd = r["command"].as_str().unwrap();
    assert!(
        cmd.contains("--engine token") && cmd.contains("--inject-fault"),
        "{cmd}"
    );
    let fst = PathBuf::from(v["waveform"].as_str().expect("a waveform"));
    assert!(std::fs::metadata(&fst).unwrap().len() > 0);
}

#[test]
fn cli_run_token_hostile_options_are_refused() {
    let small = ["run", "--config", "tiny", "--synthetic", "small"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&small[..], extra].concat() };
    refused(
        &with(&["--prompt", "64"]),
        &["--prompt", "token 64", "64 ids"],
    );
    refused(&with(&["--prompt", ",,"]), &["--prompt", "no token ids"]);
    refused(&with(&["--prompt", "1,x"]), &["--prompt", "`x`"]);
    refused(
        &with(&["--prompt", "1,2,3,4", "--tokens", "3"]),
        &["--prompt", "4 ids", "--tokens 3"],
    );
    refused(
        &with(&["--tokens", "20", "--context", "16"]),
        &["--tokens 20", "context 16"],
    );
    refused(
        &with(&["--tokens", "300"]),
        &["--tokens 300", "context 256"],
    );
    refused(&with(&["--context", "0"]), &["--context", "from 1"]);
    refused(
        &with(&["--context", "99999999999999999999999"]),
        &["--context"],
    );
    refused(
        &with(&["--quant", "w8a8"]),
        &["--quant w8a8", "--engine matvec"],
    );
    refused(&with(&["--quant", "none"]), &["--quant none"]);
    refused(&with(&["--engine", "tpu"]), &["--engine", "tpu"]);
    for opt in [
        &["--no-logits"][..],
        &["--context", "8"],
        &["--prompt", "1"],
    ] {
        let mut args = with(&["--engine", "matvec"]);
        args.extend_from_slice(opt);
        refused(&args, &[opt[0], "token engine"]);
    }
    refused(
        &with(&["--layers", "3", "--checkpoint", "/nonexistent/ckpt"]),
        &["/nonexistent/ckpt"],
    );
}

/// One decoder layer of Llama 3.1 8B's shapes (synthetic weights) on `sim`: every layer shape
/// whole, the vocabulary cut to what the data memory holds beside the KV cache; bit-exact, and
/// the wall time of a token through the RTL printed.
#[test]
fn cli_run_token_nightly_llama_8b_layer_on_sim() {
    if !require_verilator() {
        return;
    }
    let v = ok_json(&["run", "--tokens", "3", "--json"]);
    eprintln!(
        "8B layer on sim: vocab {} of {}, cycles per token {}, utilisation {}, host bytes {}, \
         {} s per token, stages {}",
        v["vocab"],
        v["vocab_full"],
        v["cycles_per_token"],
        v["token_utilization"],
        v["host_bytes_per_token"],
        v["seconds_per_token"],
        v["per_stage_cycles"]
    );
    assert_eq!(v["engine"], "token");
    assert_eq!(v["bit_exact"], true);
    assert_eq!(v["vocab_full"], 128256);
    let vocab = u64_of(&v["vocab"]);
    assert!(vocab > 0 && vocab < 128256 && vocab % 128 == 0, "{vocab}");
    let u = v["token_utilization"].as_f64().unwrap();
    assert!(u > 0.0 && u <= 1.0);
}
