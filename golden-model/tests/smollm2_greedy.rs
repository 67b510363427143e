//! SmolLM2-135M-Instruct, converted from its GGUF by `scripts/fetch-smollm2`, against
//! transformers' own tokenization and greedy continuations
//! (`tests/fixtures/smollm2_greedy.json`, made by `scripts/fixtures/make_hf_fixtures.py`).
//!
//! The folder is taken from `$TESSERA_SMOLLM2`, else `build/smollm2-hf` at the workspace root.
//! Without it the tests print why they skip and pass.

use std::path::PathBuf;

use serde_json::Value;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::generate::{generate, stop_ids_from_dir, GenerateOptions};
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::tokenizer::{Message, TextStream, Tokenizer};

fn smollm2_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TESSERA_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/smollm2-hf"));
    if dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no converted SmolLM2 folder at {} (run scripts/fetch-smollm2, or set \
             TESSERA_SMOLLM2)",
            dir.display()
        );
        None
    }
}

struct Case {
    chat: bool,
    prompt: String,
    rendered: String,
    prompt_tokens: Vec<u32>,
    greedy: Vec<u32>,
    greedy_text: String,
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn cases() -> (usize, Vec<Case>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2_greedy.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            chat: c["chat"].as_bool().unwrap(),
            prompt: c["prompt"].as_str().unwrap().to_owned(),
            rendered: c["rendered"].as_str().unwrap().to_owned(),
            prompt_tokens: ids(&c["prompt_tokens"]),
            greedy: ids(&c["greedy_new_tokens"]),
            greedy_text: c["greedy_text"].as_str().unwrap().to_owned(),
        })
        .collect();
    (doc["max_new_tokens"].as_u64().unwrap() as usize, cases)
}

fn encode(tok: &Tokenizer, c: &Case) -> (String, Vec<u32>) {
    if c.chat {
        let text = tok
            .apply_chat_template(&[Message::new("user", c.prompt.as_str())], true)
            .unwrap();
        let ids = tok.encode(&text, false).unwrap();
        (text, ids)
    } else {
        (c.prompt.clone(), tok.encode(&c.prompt, true).unwrap())
    }
}

#[test]
fn smollm2_tokenizer_matches_transformers() {
    let Some(dir) = smollm2_dir() else { return };
    let tok = Tokenizer::from_dir(&dir).unwrap();
    for c in cases().1 {
        let (text, ids) = encode(&tok, &c);
        assert_eq!(
            text, c.rendered,
            "chat template rendering of {:?}",
            c.prompt
        );
        assert_eq!(ids, c.prompt_tokens, "token ids of {:?}", c.prompt);
        assert_eq!(
            tok.decode(&c.greedy, false).unwrap(),
            c.greedy_text,
            "decoding of the continuation of {:?}",
            c.prompt
        );
        // Streaming decode, token by token, gives the same text.
        let mut s = TextStream::new(&tok, false);
        let mut streamed = String::new();
        for &id in &c.greedy {
            streamed += &s.push(id).unwrap();
        }
        streamed += &s.finish().unwrap();
        assert_eq!(streamed, c.greedy_text);
    }
}

#[test]
fn smollm2_greedy_matches_transformers() {
    let Some(dir) = smollm2_dir() else { return };
    let ckpt = Checkpoint::open(&dir).unwrap();
    let model = Llama::load(&ckpt, Precision::F32).unwrap();
    let stop_ids = stop_ids_from_dir(&dir).unwrap();
    assert_eq!(stop_ids, vec![2]);
    let (max_new, cases) = cases();
    for c in cases {
        let mut cache = KvCache::new(ckpt.config());
        let opts = GenerateOptions {
            max_new,
            sampling: None,
            stop_ids: stop_ids.clone(),
        };
        let g = generate(
            &model,
            &mut cache,
            &c.prompt_tokens,
            &opts,
            &mut GoldenEngine,
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(g.tokens, c.greedy, "greedy continuation of {:?}", c.prompt);
    }
}
