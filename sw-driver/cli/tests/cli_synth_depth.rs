//! Synthetic checkpoints: activations stay in range through many layers, and a sharded
//! checkpoint reads back exactly like the single-file one.

use std::path::PathBuf;

use tessera_golden::checkpoint::Checkpoint;
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::GoldenEngine;
use tessera_golden::synth::{write_checkpoint_sharded, Preset, SynthSpec};

fn scratch(name: &str) -> PathBuf {
    // One folder per process: test runners may run this file's tests in parallel processes.
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn synth_hidden_rms_stays_order_one_over_32_layers() {
    let spec = SynthSpec {
        preset: Preset::Tiny,
        layers: 32,
        seed: 5,
    };
    let single = scratch("synth-depth-single");
    let sharded = scratch("synth-depth-sharded");
    let s1 = write_checkpoint_sharded(&spec, &single, u64::MAX, &mut |_| {}).unwrap();
    let s2 = write_checkpoint_sharded(&spec, &sharded, 100_000, &mut |_| {}).unwrap();
    assert!(single.join("model.safetensors").is_file());
    assert!(sharded.join("model.safetensors.index.json").is_file());
    assert!(s2.files.len() > s1.files.len() + 2, "{:?}", s2.files);

    let tokens = [1u32, 40, 41, 200, 7, 99, 13, 250];
    let run = |dir: &PathBuf| {
        let ckpt = Checkpoint::open(dir).unwrap();
        let model = Llama::load(&ckpt, Precision::F32).unwrap();
        let mut cache = KvCache::new(ckpt.config());
        model
            .forward_traced(&tokens, &mut cache, &mut GoldenEngine)
            .unwrap()
    };
    let (logits, hidden) = run(&single);
    let (logits2, _) = run(&sharded);
    assert_eq!(
        logits, logits2,
        "sharded checkpoint differs from single file"
    );
    assert_eq!(hidden.len(), 33);
    for (i, h) in hidden.iter().enumerate() {
        let rms = (h.iter().map(|x| x * x).sum::<f32>() / h.len() as f32).sqrt();
        assert!((0.3..10.0).contains(&rms), "hidden state {i}: RMS {rms}");
    }
    assert!(logits.iter().all(|x| x.is_finite()));
    let std = (logits.iter().map(|x| x * x).sum::<f32>() / logits.len() as f32).sqrt();
    assert!((0.3..20.0).contains(&std), "logit RMS {std}");
}
