//! The coverage plumbing end to end on the smallest model with cover points: with
//! `TESSERA_COVERAGE` set, the network bench (`verif/bench/chip_noc_bench.sv`, two leaves) is
//! built as a coverage variant (its own cache folder), and a run writes a coverage file there
//! holding line and toggle points of the RTL and the cover points of
//! `verif/bench/cover_points.sv` bound into the trees, the backpressure ones hit under random
//! stalls.
//!
//! A separate Verilator build of a minute or more: `*_nightly_*`, so only the nightly profile
//! runs it. Skips with a message when `verilator` is missing (fails in CI).

use std::process::Command;

use tessera_sim::builder::COVERAGE_ENV;
use tessera_sim::coverage::{parse, Summary};
use tessera_sim::{build_model, require_verilator, rtl_root, ModelSpec};

#[test]
fn sim_nightly_coverage_build_writes_cover_points() {
    if !require_verilator() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-coverage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Each test runs in a process of its own (nextest), and this binary has one test.
    std::env::set_var(COVERAGE_ENV, &dir);

    let spec = ModelSpec {
        tag: "n2-l1".into(),
        top: "chip_noc_bench".into(),
        extra_sv: vec!["verif/bench/chip_noc_bench.sv".into()],
        cpp: "verif/bench/chip_noc.cpp".into(),
        cflags: vec!["-DNUM_LEAVES=2".into(), "-DLANES=1".into()],
        params: vec![
            ("NumLeaves".into(), "2".into()),
            ("Width".into(), "32".into()),
            ("Lanes".into(), "1".into()),
        ],
        opt: "-O1".into(),
        verilator_args: Vec::new(),
        key_files: Vec::new(),
    };
    let exe = build_model(&spec).expect("coverage build of the network bench");
    let folder = exe.parent().unwrap().file_name().unwrap().to_string_lossy();
    assert!(
        folder.starts_with("chip_noc_bench-n2-l1-cov-"),
        "coverage builds are cached apart: {folder}"
    );

    // seed, multicast beats, reduction operations, input gap %, output stall %.
    let out = Command::new(&exe)
        .args(["7", "300", "40", "30", "40"])
        .current_dir(rtl_root().unwrap())
        .output()
        .expect("run the network bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.starts_with("ok"), "{text}");

    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one coverage file per model and process: {files:?}"
    );
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("chip_noc_bench-") && name.ends_with(".dat"),
        "{name}"
    );
    let points = parse(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let s = Summary::from_points(&points, |f| f.starts_with("rtl/"));
    for f in ["rtl/noc/noc_mcast_tree.sv", "rtl/noc/noc_reduce_tree.sv"] {
        let fig = &s.files[f];
        assert!(fig.line.total > 0 && fig.line.hit > 0, "{f}: {fig:?}");
        assert!(fig.toggle.total > 0 && fig.toggle.hit > 0, "{f}: {fig:?}");
    }
    let hit = |module: &str, label: &str| {
        s.cover_points
            .iter()
            .find(|c| c.module == module && c.label == label)
            .unwrap_or_else(|| panic!("no cover point {module}.{label}: {:?}", s.cover_points))
            .instances_hit
            > 0
    };
    assert!(hit("cover_noc_mcast_tree", "gen_leaf[0].LeafStall_C"));
    assert!(hit("cover_noc_reduce_tree", "gen_leaf[1].LeafStall_C"));
    assert!(hit("cover_noc_reduce_tree", "gen_pk[0].Partition_C"));
    assert!(hit("cover_noc_reduce_tree", "gen_pk[1].Partition_C"));
    let _ = std::fs::remove_dir_all(&dir);
}
