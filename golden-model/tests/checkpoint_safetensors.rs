//! The safetensors reader and writers: headers parsed and validated by the `safetensors`
//! crate over the memory map, one-line errors naming the file (and the tensor where one is at
//! fault), f32 files written through the crate, synthetic checkpoints read back exactly.

mod model_util;

use std::path::{Path, PathBuf};

use model_util::temp_dir;
use tessera_golden::checkpoint::{Checkpoint, SafetensorsFile};
use tessera_golden::synth::{self, Preset, SynthSpec};
use tessera_golden::Error;

/// A safetensors file: the 8-byte header length, `header`, then `data` zero bytes.
fn raw(header: &str, data: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.resize(v.len() + data, 0);
    v
}

/// Writes `bytes` as `tag.safetensors` in a fresh folder.
fn file(tag: &str, bytes: &[u8]) -> PathBuf {
    let p = temp_dir(tag).join(format!("{tag}.safetensors"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Opens `bytes` as a file that must be rejected; checks the message is one line naming it.
fn rejected(tag: &str, bytes: &[u8]) -> Error {
    let p = file(tag, bytes);
    let e = SafetensorsFile::open(&p).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&p.display().to_string()), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    e
}

fn message(e: &Error) -> &str {
    match e {
        Error::SafeTensors { message, .. } => message,
        other => panic!("not a header error: {other}"),
    }
}

#[test]
fn checkpoint_reads_header_and_data_in_any_key_order() {
    // Header keys in name order, data in another order, with metadata.
    let header = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#;
    let mut bytes = raw(header, 0);
    bytes.extend_from_slice(&1.5f32.to_le_bytes());
    bytes.extend_from_slice(&(-2.0f32).to_le_bytes());
    bytes.extend_from_slice(&half::bf16::from_f32(0.25).to_le_bytes());
    bytes.extend_from_slice(&half::bf16::from_f32(-3.0).to_le_bytes());
    let f = SafetensorsFile::open(file("order", &bytes)).unwrap();
    let names: Vec<&str> = f.tensors.keys().map(String::as_str).collect();
    assert_eq!(names, ["a", "b"]);
    let a = &f.tensors["a"];
    assert_eq!((a.dtype.as_str(), a.begin, a.end), ("BF16", 8, 12));
    assert_eq!(a.shape, [2]);
    assert_eq!(f.bytes(a), &bytes[bytes.len() - 4..]);
    let b = f.tensor_f32("b", &[1, 2]).unwrap();
    assert_eq!(b.iter().copied().collect::<Vec<_>>(), [1.5, -2.0]);
    let a = f.tensor_f32("a", &[2]).unwrap();
    assert_eq!(a.iter().copied().collect::<Vec<_>>(), [0.25, -3.0]);
    // An empty header is a valid file with no tensors.
    let f = SafetensorsFile::open(file("empty", &raw("{}", 0))).unwrap();
    assert!(f.tensors.is_empty());
}

#[test]
fn checkpoint_malformed_header_names_file() {
    let e = rejected("badjson", &raw("{not json", 0));
    assert!(message(&e).contains("JSON"), "{e}");
    let mut bytes = raw("{\"a\":1}", 0);
    bytes[10] = 0xFF;
    let e = rejected("utf8", &bytes);
    assert!(message(&e).contains("UTF-8"), "{e}");
    let e = rejected("entry", &raw(r#"{"a":{"dtype":"F32","shape":[1]}}"#, 4));
    assert!(message(&e).contains("data_offsets"), "{e}");
    // A dtype the format does not know is rejected when the file is opened.
    let e = rejected(
        "q4",
        &raw(
            r#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#,
            1,
        ),
    );
    assert!(message(&e).contains("Q4"), "{e}");
    // Header length beyond the format's limit.
    let mut bytes = 200_000_000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let e = rejected("huge", &bytes);
    assert!(message(&e).contains("200000000 is implausible"), "{e}");
}

#[test]
fn checkpoint_wrong_dtype_size_names_tensor() {
    // `b` holds 3 BF16 values (6 bytes) in a 4-byte range.
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,12]}}"#;
    let e = rejected("size", &raw(header, 12));
    let m = message(&e);
    assert_eq!(
        m, "tensor `b`: data_offsets [8, 12] (4 bytes) do not hold BF16 [3]",
        "{e}"
    );
    // A shape whose byte size overflows.
    let header = r#"{"big":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#;
    let e = rejected("overflow", &raw(header, 8));
    assert!(message(&e).starts_with("tensor `big`: F64 ["), "{e}");
    assert!(message(&e).contains("overflow"), "{e}");
}

#[test]
fn checkpoint_overlapping_or_gapped_ranges_name_tensor() {
    let overlap = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    let e = rejected("overlap", &raw(overlap, 12));
    assert!(
        message(&e).contains("tensor `b`: data_offsets [4, 12] do not follow"),
        "{e}"
    );
    let gap = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    let e = rejected("gap", &raw(gap, 12));
    assert!(
        message(&e).contains("tensor `b`: data_offsets [8, 12]"),
        "{e}"
    );
    let backwards = r#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#;
    let e = rejected("backwards", &raw(backwards, 4));
    assert!(
        message(&e).contains("tensor `a`: data_offsets [4, 0]"),
        "{e}"
    );
}

#[test]
fn checkpoint_data_out_of_range_is_truncated() {
    let header = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let full = raw(header, 16);
    let e = rejected("short", &full[..full.len() - 5]);
    match e {
        Error::Truncated {
            expected, found, ..
        } => assert_eq!((expected, found), (full.len(), full.len() - 5)),
        other => panic!("unexpected {other}"),
    }
    // No data at all; the header cut short; the length prefix cut short.
    let header_end = 8 + header.len();
    for (cut, expected) in [(header_end, full.len()), (20, header_end), (5, 8)] {
        match rejected("cut", &full[..cut]) {
            Error::Truncated {
                expected: e, found, ..
            } => assert_eq!((e, found), (expected, cut), "cut at {cut}"),
            other => panic!("cut at {cut}: unexpected {other}"),
        }
    }
}

#[test]
fn checkpoint_trailing_bytes_rejected() {
    let header = r#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let e = rejected("trailing", &raw(header, 7));
    let want = format!(
        "3 bytes follow the last tensor (the header describes {} bytes, the file holds {})",
        8 + header.len() + 4,
        8 + header.len() + 7
    );
    assert_eq!(message(&e), want);
}

#[test]
fn checkpoint_shard_error_names_the_shard() {
    let dir = model_util::write_sharded_checkpoint("badshard");
    let shard = dir.join("model-00002-of-00002.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes.push(0);
    std::fs::write(&shard, bytes).unwrap();
    let e = Checkpoint::open(&dir).unwrap_err();
    assert!(
        matches!(&e, Error::SafeTensors { path, .. } if *path == shard),
        "{e}"
    );
}

fn read_back(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let f = SafetensorsFile::open(path).unwrap();
    f.tensors
        .iter()
        .map(|(name, info)| {
            assert_eq!(info.dtype, "F32");
            let v = f.tensor_f32(name, &info.shape).unwrap();
            (
                name.clone(),
                info.shape.clone(),
                v.iter().copied().collect(),
            )
        })
        .collect()
}

#[test]
fn checkpoint_f32_writer_reads_back() {
    let dir = temp_dir("f32");
    let p = dir.join("x.safetensors");
    let z: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    let a = [f32::MIN_POSITIVE, -0.0, f32::MAX];
    synth::write_f32_safetensors(&p, &[("z", &[2, 3], &z), ("a", &[3], &a)]).unwrap();
    assert_eq!(
        read_back(&p),
        [
            ("a".to_string(), vec![3], a.to_vec()),
            ("z".to_string(), vec![2, 3], z.clone())
        ]
    );
    // The other safetensors readers see the same file.
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("z").unwrap().data().len(), 24);
    // Written like any other output: not restricted to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        let probe = dir.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let plain = std::fs::metadata(&probe).unwrap().permissions().mode();
        assert_eq!(mode, plain);
    }

    let e = synth::write_f32_safetensors(&p, &[("z", &[4], &z)]).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
    let e = synth::write_f32_safetensors(&p, &[("z", &[6], &z), ("z", &[3], &a)]).unwrap_err();
    assert!(e.to_string().contains("`z` given twice"), "{e}");
    // A rejected call leaves the earlier file alone.
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
}

#[test]
fn checkpoint_synthetic_shards_read_back_exactly() {
    let spec = SynthSpec {
        preset: Preset::Tiny,
        layers: 2,
        seed: 3,
    };
    for (tag, shard_bytes, sharded) in [("one", u64::MAX, false), ("shards", 40_000, true)] {
        let dir = temp_dir(tag);
        synth::write_checkpoint_sharded(&spec, &dir, shard_bytes, &mut |_| {}).unwrap();
        let ckpt = Checkpoint::open(&dir).unwrap();
        assert_eq!(
            ckpt.files.len() > 1,
            sharded,
            "{tag}: {} files",
            ckpt.files.len()
        );
        let plan = synth::plan(&spec);
        assert_eq!(ckpt.tensor_names().len(), plan.len());
        for t in &plan {
            let got = ckpt.tensor_f32(&t.name, &t.shape).unwrap();
            let want = synth::tensor_values(&spec, &t.name).unwrap();
            assert!(
                got.iter().copied().eq(want.iter().copied()),
                "{tag}: {}",
                t.name
            );
        }
    }
}
