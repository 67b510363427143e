//! Config parsing, checkpoint loading (single file, shards, f32/bf16/f16) and the typed errors
//! for bad input.

mod model_util;

use model_util::*;
use safetensors::Dtype;
use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::config::{Config, EosTokenId};
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::Error;

#[test]
fn model_config_parses_hf_fields() {
    let c = Config::from_json(CONFIG_JSON).unwrap();
    assert_eq!(c.hidden_size, 64);
    assert_eq!(c.num_key_value_heads, 2);
    assert_eq!(c.head_dim(), 16);
    assert_eq!(c.eos_token_id, Some(EosTokenId::Multiple(vec![2, 3])));
    assert_eq!(c.eos_token_ids(), vec![2, 3]);
    let rs = c.rope_scaling.as_ref().unwrap();
    assert_eq!(rs.rope_type, "llama3");
    assert_eq!(rs.factor, 8.0);
    assert_eq!(rs.original_max_position_embeddings, 32);
    assert!(c.llama3_scaling().unwrap().is_some());
    // Unknown fields survive a round trip.
    assert_eq!(c.extra["model_type"], "llama");
    let back = Config::from_json(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn model_config_defaults_and_single_eos() {
    let c = Config::from_json(
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10, "eos_token_id": 2,
            "rope_scaling": {"type": "default"}}"#,
    )
    .unwrap();
    assert_eq!(c.num_key_value_heads, 4);
    assert_eq!(c.head_dim(), 8);
    assert!(!c.tie_word_embeddings);
    assert_eq!(c.eos_token_ids(), vec![2]);
    assert!(c.llama3_scaling().unwrap().is_none());
}

#[test]
fn model_config_reads_transformers5_rope_parameters() {
    // transformers 5 writes one `rope_parameters` object in place of rope_theta + rope_scaling.
    let c = Config::from_json(
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10,
            "rope_parameters": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
                "rope_theta": 500000.0}}"#,
    )
    .unwrap();
    assert_eq!(c.rope_theta, 500000.0);
    let rs = c.llama3_scaling().unwrap().expect("llama3 scaling");
    assert_eq!(
        (rs.factor, rs.low_freq_factor, rs.high_freq_factor),
        (8.0, 1.0, 4.0)
    );
    assert_eq!(rs.original_max_position_embeddings, 8192);
    let plain = Config::from_json(
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10,
            "rope_parameters": {"rope_theta": 20000.0, "rope_type": "default"}}"#,
    )
    .unwrap();
    assert_eq!(plain.rope_theta, 20000.0);
    assert!(plain.llama3_scaling().unwrap().is_none());
    let e = Config::from_json(
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10,
            "rope_parameters": {"rope_type": "yarn", "factor": 4.0}}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedRope { rope_type } if rope_type == "yarn"),
        "{e}"
    );
}

#[test]
fn model_config_rejects_bad_input() {
    let e = Config::from_json(&CONFIG_JSON.replace("\"llama3\"", "\"yarn\"")).unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedRope { rope_type } if rope_type == "yarn"),
        "{e}"
    );
    let e = Config::from_json(
        &CONFIG_JSON.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = Config::from_json("{\"hidden_size\": ").unwrap_err();
    assert!(matches!(e, Error::Json { .. }), "{e}");
    // Read from a file, an inconsistent config names that file.
    let path = temp_dir("config_bad").join("config.json");
    std::fs::write(
        &path,
        CONFIG_JSON.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
    )
    .unwrap();
    let e = Config::from_file(&path).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert!(e.to_string().contains("`num_key_value_heads` is 3"), "{e}");
}

#[test]
fn model_checkpoint_bad_json_names_file() {
    let dir = write_checkpoint("badjson", Dtype::F32, true, |_| {});
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let e = Checkpoint::open(&dir).unwrap_err();
    match &e {
        Error::Json { path, .. } => assert!(path.ends_with("config.json")),
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().contains("config.json"));
}

#[test]
fn model_checkpoint_unsupported_rope_type() {
    let dir = write_checkpoint("rope", Dtype::F32, true, |c| {
        c["rope_scaling"]["rope_type"] = "dynamic".into();
    });
    let e = Checkpoint::open(&dir).unwrap_err();
    assert!(matches!(e, Error::UnsupportedRope { .. }), "{e}");
}

#[test]
fn model_checkpoint_missing_weights_and_tensor() {
    let dir = temp_dir("noweights");
    std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
    assert!(matches!(
        Checkpoint::open(&dir).unwrap_err(),
        Error::NoWeights { .. }
    ));

    let mut tensors = random_tensors(true, Dtype::F32, 1);
    tensors.retain(|t| t.0 != "model.layers.1.mlp.up_proj.weight");
    write_safetensors(&dir.join("model.safetensors"), &tensors);
    let ckpt = Checkpoint::open(&dir).unwrap();
    assert!(!ckpt.has_tensor("model.layers.1.mlp.up_proj.weight"));
    let e = Llama::load(&ckpt, Precision::F32).unwrap_err();
    match &e {
        Error::MissingTensor { file, name } => {
            assert_eq!(name, "model.layers.1.mlp.up_proj.weight");
            assert!(file.as_ref().unwrap().ends_with("model.safetensors"));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn model_checkpoint_untied_without_lm_head_is_an_error() {
    let dir = write_checkpoint("nohead", Dtype::F32, false, |c| {
        c["tie_word_embeddings"] = false.into();
    });
    let ckpt = Checkpoint::open(&dir).unwrap();
    let e = Llama::load(&ckpt, Precision::F32).unwrap_err();
    assert!(
        matches!(&e, Error::MissingTensor { name, .. } if name == "lm_head.weight"),
        "{e}"
    );
}

#[test]
fn model_checkpoint_wrong_shape() {
    let dir = temp_dir("shape");
    std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
    let mut tensors = random_tensors(true, Dtype::F32, 1);
    for t in tensors.iter_mut() {
        if t.0 == "model.layers.0.self_attn.k_proj.weight" {
            t.1 = vec![16, 128];
        }
    }
    write_safetensors(&dir.join("model.safetensors"), &tensors);
    let ckpt = Checkpoint::open(&dir).unwrap();
    let e = Llama::load(&ckpt, Precision::F32).unwrap_err();
    match &e {
        Error::Shape {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "model.layers.0.self_attn.k_proj.weight");
            assert_eq!(expected, &vec![32, 64]);
            assert_eq!(found, &vec![16, 128]);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn model_checkpoint_wrong_dtype() {
    let dir = temp_dir("dtype");
    std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
    let mut tensors = random_tensors(true, Dtype::F32, 1);
    for t in tensors.iter_mut() {
        if t.0 == "model.norm.weight" {
            t.2 = vec![1u8; 64];
            t.3 = Dtype::I8;
        }
    }
    write_safetensors(&dir.join("model.safetensors"), &tensors);
    let ckpt = Checkpoint::open(&dir).unwrap();
    let e = Llama::load(&ckpt, Precision::F32).unwrap_err();
    assert!(
        matches!(&e, Error::Dtype { name, found, .. } if name == "model.norm.weight" && found == "I8"),
        "{e}"
    );
}

#[test]
fn model_checkpoint_truncated_file() {
    let dir = write_checkpoint("trunc", Dtype::F32, true, |_| {});
    let p = dir.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let e = Checkpoint::open(&dir).unwrap_err();
    match &e {
        Error::Truncated {
            path,
            expected,
            found,
        } => {
            assert!(path.ends_with("model.safetensors"));
            assert_eq!(*expected, bytes.len());
            assert_eq!(*found, bytes.len() - 100);
        }
        other => panic!("unexpected {other}"),
    }
    // Cut inside the header, and below the 8-byte length prefix.
    std::fs::write(&p, &bytes[..20]).unwrap();
    assert!(matches!(
        Checkpoint::open(&dir).unwrap_err(),
        Error::Truncated { .. }
    ));
    std::fs::write(&p, &bytes[..3]).unwrap();
    assert!(matches!(
        Checkpoint::open(&dir).unwrap_err(),
        Error::Truncated { .. }
    ));
}

#[test]
fn model_checkpoint_token_out_of_range() {
    let dir = write_checkpoint("tok", Dtype::F32, true, |_| {});
    let ckpt = Checkpoint::open(&dir).unwrap();
    let model = Llama::load(&ckpt, Precision::F32).unwrap();
    let mut cache = KvCache::new(model.config());
    let e = model
        .forward(&[1, 100], &mut cache, &mut GoldenEngine)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::TokenOutOfRange {
                id: 100,
                vocab: 100
            }
        ),
        "{e}"
    );
    assert_eq!(cache.len(), 0);
}

#[test]
fn model_checkpoint_half_precision_weights_convert_exactly() {
    for dtype in [Dtype::BF16, Dtype::F16] {
        let dir = write_checkpoint("half", dtype, true, |_| {});
        let ckpt = Checkpoint::open(&dir).unwrap();
        let name = "model.layers.1.mlp.down_proj.weight";
        let got = ckpt.tensor2(name, 64, 96).unwrap();
        let want = random_values(name, &[64, 96], 7);
        for (g, w) in got.iter().zip(&want) {
            let r = match dtype {
                Dtype::BF16 => half::bf16::from_f32(*w).to_f32(),
                _ => half::f16::from_f32(*w).to_f32(),
            };
            assert_eq!(*g, r);
        }
        // The whole model loads and runs from half-precision weights.
        let model = Llama::load(&ckpt, Precision::F32).unwrap();
        let mut cache = KvCache::new(model.config());
        let logits = model
            .forward(&[5, 6], &mut cache, &mut GoldenEngine)
            .unwrap();
        assert_eq!(logits.dim(), (2, 100));
        assert!(logits.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn model_checkpoint_sharded_equals_single_file() {
    let single = write_checkpoint("single", Dtype::F32, true, |_| {});
    let sharded = write_sharded_checkpoint("sharded");
    let a = Checkpoint::open(&single).unwrap();
    let b = Checkpoint::open(&sharded).unwrap();
    assert_eq!(b.files.len(), 2);
    assert_eq!(a.tensor_names(), b.tensor_names());
    let ma = Llama::load(&a, Precision::F32).unwrap();
    let mb = Llama::load(&b, Precision::F32).unwrap();
    let toks = [3u32, 14, 15, 92];
    let la = ma
        .forward(&toks, &mut KvCache::new(ma.config()), &mut GoldenEngine)
        .unwrap();
    let lb = mb
        .forward(&toks, &mut KvCache::new(mb.config()), &mut GoldenEngine)
        .unwrap();
    assert_eq!(la, lb);
}

#[test]
fn model_checkpoint_nonfinite_weights_refused_unless_allowed() {
    for (tag, bad) in [("nan", f32::NAN), ("inf", f32::INFINITY)] {
        let dir = temp_dir(&format!("nonfinite_{tag}"));
        std::fs::write(dir.join("config.json"), CONFIG_JSON).unwrap();
        let mut tensors = random_tensors(true, Dtype::F32, 1);
        let name = "model.layers.0.mlp.down_proj.weight";
        let t = tensors.iter_mut().find(|t| t.0 == name).unwrap();
        t.2[40..44].copy_from_slice(&bad.to_le_bytes());
        write_safetensors(&dir.join("model.safetensors"), &tensors);
        let mut ckpt = Checkpoint::open(&dir).unwrap();
        let e = Llama::load(&ckpt, Precision::W8A8).unwrap_err();
        assert!(
            matches!(&e, Error::NonFinite { name: n, index: 10, .. } if n == name),
            "{e}"
        );
        assert!(
            e.to_string().contains("non-finite weights are refused"),
            "{e}"
        );
        ckpt.allow_nonfinite(true);
        Llama::load(&ckpt, Precision::F32).unwrap();
    }
}

#[test]
fn model_checkpoint_repeated_tensor_name_refused() {
    let dir = write_checkpoint("repeated", Dtype::F32, true, |_| {});
    let p = dir.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    // Rename the second tensor in the header to the first one's name (same length as JSON).
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(header).unwrap();
    let names: Vec<&String> = v.keys().filter(|k| *k != "__metadata__").collect();
    let (a, b) = names
        .iter()
        .flat_map(|a| names.iter().map(move |b| (*a, *b)))
        .find(|(a, b)| a != b && a.len() == b.len())
        .unwrap();
    let renamed = header.replacen(&format!("\"{b}\""), &format!("\"{a}\""), 1);
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(renamed.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(&p, out).unwrap();
    let e = Checkpoint::open(&dir).unwrap_err();
    assert!(matches!(e, Error::SafeTensors { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("tensor `{a}` appears twice")),
        "{e}"
    );
}

#[test]
fn model_checkpoint_index_outside_the_folder_refused() {
    for (tag, shard) in [
        (
            "index_parent",
            "../model-00001-of-00002.safetensors".to_string(),
        ),
        ("index_sub", "sub/model.safetensors".to_string()),
        ("index_abs", "/etc/passwd".to_string()),
    ] {
        let dir = write_sharded_checkpoint(tag);
        let p = dir.join("model.safetensors.index.json");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("model-00001-of-00002.safetensors", &shard);
        std::fs::write(&p, text).unwrap();
        let e = Checkpoint::open(&dir).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors.index.json")
                && e.contains("weight_map")
                && e.contains("must be files in the checkpoint folder"),
            "{e}"
        );
    }
}

#[test]
fn model_checkpoint_folder_or_device_where_a_file_belongs() {
    let dir = write_checkpoint("weights_dir", Dtype::F32, true, |_| {});
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    std::fs::create_dir(dir.join("model.safetensors")).unwrap();
    let e = Checkpoint::open(&dir).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors: is a directory, expected a regular file"),
        "{e}"
    );
    let dir = write_sharded_checkpoint("index_zero");
    let p = dir.join("model.safetensors.index.json");
    std::fs::remove_file(&p).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    let e = Checkpoint::open(&dir).unwrap_err().to_string();
    assert!(e.contains("index.json: is a device"), "{e}");
}

#[test]
fn model_checkpoint_positions_beyond_the_config_refused() {
    let dir = write_checkpoint("positions", Dtype::F32, true, |c| {
        c["max_position_embeddings"] = 4.into();
    });
    let model = Llama::load(&Checkpoint::open(&dir).unwrap(), Precision::F32).unwrap();
    let mut cache = KvCache::new(model.config());
    let e = model
        .forward(&[1, 2, 3, 4, 5], &mut cache, &mut GoldenEngine)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::PositionOutOfRange {
                position: 4,
                max: 4
            }
        ),
        "{e}"
    );
    model
        .forward(&[1, 2, 3], &mut cache, &mut GoldenEngine)
        .unwrap();
    model.forward(&[4], &mut cache, &mut GoldenEngine).unwrap();
    assert!(model.forward(&[5], &mut cache, &mut GoldenEngine).is_err());
    assert_eq!(cache.len(), 4);
}
