//! harness_failure_artifacts: a failing property leaves its shrunk case (JSON) and an FST
//! waveform of the shrunk case, named by test and seed, and the panic names both.

use tessera_verif::Tile;

#[test]
fn harness_failure_artifacts() {
    let dir = std::env::temp_dir().join(format!("tessera-failures-{}", std::process::id()));
    // The seed and the folder are given directly, not through TESSERA_SEED and
    // TESSERA_FAILURE_DIR: the other tests of this binary may run on other threads meanwhile.
    let r = std::panic::catch_unwind(|| {
        tessera_verif::tb::run_property_in(
            "harness_demo_failure",
            4242,
            &dir,
            16,
            0u32..1000,
            |&n| {
                let mut t = Tile::tiny().map_err(|e| e.to_string())?;
                t.tick(u64::from(n % 50) + 1).map_err(|e| e.to_string())?;
                if n >= 10 {
                    Err(format!("{n} is too large"))
                } else {
                    Ok(())
                }
            },
        )
    });
    let msg = match r {
        Ok(()) => panic!("the property should have failed"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    let json = dir.join("harness_demo_failure-4242.json");
    let fst = dir.join("harness_demo_failure-4242.fst");
    assert!(msg.contains(&json.display().to_string()), "{msg}");
    assert!(msg.contains(&fst.display().to_string()), "{msg}");
    assert!(msg.contains("TESSERA_SEED=4242"), "{msg}");
    // Shrunk to the smallest failing value.
    assert_eq!(std::fs::read_to_string(&json).unwrap().trim(), "10");
    assert!(std::fs::metadata(&fst).unwrap().len() > 0);
    std::fs::remove_dir_all(&dir).ok();
}
