//! The chip's networks under random traffic and random backpressure at every port
//! (`verif/bench/chip_noc_bench.sv` driven by `verif/bench/chip_noc.cpp`): multicast beats reach
//! every leaf exactly once and in order; reduction beats of random operations with random K
//! partitions come out exactly once per row group, with the exact int32 sum, in order per row
//! partition. At least 10^6 flits per run, summed over the cases.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use tessera_sim::{build_model, ModelSpec};

use crate::env::{have_verilator, seed};

/// Builds (or reuses) the network bench of `leaves` leaves and `lanes` lanes.
fn bench(leaves: usize, lanes: usize) -> std::path::PathBuf {
    let spec = ModelSpec {
        tag: format!("n{leaves}-l{lanes}"),
        top: "chip_noc_bench".into(),
        extra_sv: vec!["verif/bench/chip_noc_bench.sv".into()],
        cpp: "verif/bench/chip_noc.cpp".into(),
        cflags: vec![format!("-DNUM_LEAVES={leaves}"), format!("-DLANES={lanes}")],
        params: vec![
            ("NumLeaves".into(), leaves.to_string()),
            ("Width".into(), "32".into()),
            ("Lanes".into(), lanes.to_string()),
        ],
        opt: "-O2".into(),
        verilator_args: Vec::new(),
        key_files: Vec::new(),
    };
    build_model(&spec).unwrap_or_else(|e| panic!("network bench ({leaves} leaves): {e}"))
}

/// Runs one traffic case; returns the flits moved.
fn traffic(exe: &std::path::Path, seed: u64, beats: u64, ops: u64, gap: u32, stall: u32) -> u64 {
    let out = Command::new(exe)
        .args([
            seed.to_string(),
            beats.to_string(),
            ops.to_string(),
            gap.to_string(),
            stall.to_string(),
        ])
        .output()
        .expect("run the network bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("ok"),
        "seed {seed} beats {beats} ops {ops} gap {gap} stall {stall}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn noc_backpressure_no_loss() {
    if !have_verilator() {
        return;
    }
    let base = seed("noc_backpressure_no_loss");
    let total = AtomicU64::new(0);
    for (leaves, lanes) in [(8usize, 2usize), (16, 1)] {
        let exe = bench(leaves, lanes);
        let mut runner = TestRunner::new(PtConfig {
            cases: 12,
            failure_persistence: None,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..PtConfig::default()
        });
        runner
            .run(
                &(
                    any::<u32>(),
                    1000u64..12_000,
                    100u64..1200,
                    0u32..70,
                    0u32..70,
                ),
                |(s, beats, ops, gap, stall)| {
                    let seed = base ^ u64::from(s);
                    let flits = traffic(&exe, seed, beats, ops, gap, stall);
                    total.fetch_add(flits, Ordering::Relaxed);
                    Ok(())
                },
            )
            .unwrap();
    }
    let flits = total.load(Ordering::Relaxed);
    eprintln!("noc_backpressure_no_loss: {flits} flits");
    assert!(flits >= 1_000_000, "only {flits} flits");
}
