//! A `model.safetensors.index.json` into `Checkpoint::open`, beside a valid config and two
//! small shards: errors, never a panic, and only plain file names in the folder are opened.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_golden::checkpoint::Checkpoint;

/// A safetensors file holding one F32 tensor `name` of two values.
fn shard(name: &str) -> Vec<u8> {
    let mut header =
        format!(r#"{{"{name}":{{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}}}"#).into_bytes();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&header);
    f.extend_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]);
    f
}

fn folder() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tessera_fuzz::scratch().join("ckpt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            include_str!("../seeds/config/tiny.json"),
        )
        .unwrap();
        std::fs::write(
            dir.join("model-00001-of-00002.safetensors"),
            shard("a.weight"),
        )
        .unwrap();
        std::fs::write(
            dir.join("model-00002-of-00002.safetensors"),
            shard("b.weight"),
        )
        .unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = folder();
    std::fs::write(dir.join("model.safetensors.index.json"), data).unwrap();
    if let Ok(c) = Checkpoint::open(dir) {
        for name in c.tensor_names() {
            assert!(c.tensor_info(name).is_some());
            let _ = c.tensor1(name, 2);
        }
    }
});
