//! Benchmark (prints figures; not a timed test, ignored by default): streams of matrix-vector
//! products with Llama 3.1 8B's shapes on the `sim` chip, through the AXI ports. Utilisation =
//! MAC-busy tile-cycles / (tiles x cycles) between two PERF_SNAPSHOT descriptors that enclose
//! the products and a FENCE. Weight values do not change the timing, so the products run on
//! whatever the weight memories hold.
//!
//! Run: cargo test --release -p tessera-verif --test chip -- --ignored --nocapture chip_bench

use tessera_abi::Descriptor;

use crate::env::*;

#[test]
#[ignore = "benchmark: builds the sim chip (16 tiles, 746 MB of weight memory)"]
fn chip_bench_sim_llama_shapes() {
    if !have_verilator() {
        return;
    }
    let mut chip = Chip::open("sim");
    let cfg = chip.cfg.clone();
    let shapes: [(&str, usize, usize, usize); 5] = [
        ("q/o 4096x4096", 4096, 4096, 4),
        ("k/v 1024x4096", 1024, 4096, 8),
        ("gate/up 14336x4096", 14336, 4096, 2),
        ("down 4096x14336", 4096, 14336, 2),
        ("lm_head 128256x4096", 128256, 4096, 1),
    ];
    let x: Vec<i8> = (0..16384).map(|i| ((i * 37) % 255) as i8).collect();
    println!(
        "{:<22} {:>6} {:>10} {:>12} {:>8}",
        "shape", "count", "cycles", "MAC-busy", "util"
    );
    for (name, rows, k, count) in shapes {
        let groups = rows / (cfg.tiles() * cfg.lanes);
        let chunks = k / cfg.kwidth;
        assert_eq!(groups * cfg.tiles() * cfg.lanes, rows);
        assert!(groups * chunks <= cfg.weight_words);
        chip.send(&[Descriptor::vbuf_load(&cfg, 0, chunks as u32, &x[..k])]);
        chip.send(&[Descriptor::perf_snapshot()]);
        chip.run(20);
        let p0 = chip.dev.perf().unwrap();
        let mut program: Vec<Descriptor> = (0..count)
            .map(|_| Descriptor::matvec(0, groups as u32, chunks as u32, 0, 0, 0))
            .collect();
        program.push(Descriptor::fence());
        program.push(Descriptor::perf_snapshot());
        chip.send(&program);
        chip.wait_idle();
        let d = chip.dev.perf().unwrap().since(&p0);
        let util = d.mac_busy as f64 / (cfg.tiles() as f64 * d.cycles as f64);
        assert_eq!(d.mac_busy, (count * groups * chunks * cfg.tiles()) as u64);
        println!(
            "{name:<22} {count:>6} {:>10} {:>12} {util:>8.4}",
            d.cycles, d.mac_busy
        );
    }
    chip.finish();
}
