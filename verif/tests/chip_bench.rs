//! Benchmark (prints figures; not a timed test, ignored by default): streams of matrix-vector
//! products with Llama 3.1 8B's shapes on the `sim` chip, through the AXI ports. Utilisation =
//! MAC-busy tile-cycles / (tiles x cycles) between two PERF_SNAPSHOT descriptors that enclose
//! the products and a FENCE. Weight values do not change the timing, so the products run on
//! whatever the weight memories hold.
//!
//! Run: cargo test --release -p tessera-verif --test chip_bench -- --ignored --nocapture

mod chip_common;

use chip_common::*;

#[test]
#[ignore = "benchmark: builds the sim chip (16 tiles, 746 MB of weight memory)"]
fn chip_bench_sim_llama_shapes() {
    if !have_verilator() {
        return;
    }
    let mut chip = Chip::new("sim");
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
        let groups = rows / (cfg.tiles * cfg.lanes);
        let chunks = k / cfg.kwidth;
        assert_eq!(groups * cfg.tiles * cfg.lanes, rows);
        assert!(groups * chunks <= cfg.weight_words);
        chip.send(&[vbuf_load(&cfg, &x[..k], chunks, 0)]);
        let mut program = vec![packet(&cfg, &[op::PERF_SNAPSHOT], &[])];
        chip.send(&program);
        chip.run(20);
        let c0 = chip.read64(reg::PERF_CYCLES_LO);
        let m0 = chip.read64(reg::PERF_MAC_BUSY_LO);
        program.clear();
        for _ in 0..count {
            program.push(packet(
                &cfg,
                &[op::MATVEC, 0, groups as u32, chunks as u32, 0, 0, 0],
                &[],
            ));
        }
        program.push(fence(&cfg));
        program.push(packet(&cfg, &[op::PERF_SNAPSHOT], &[]));
        chip.send(&program);
        assert!(chip.wait_idle(100_000));
        let cycles = chip.read64(reg::PERF_CYCLES_LO) - c0;
        let busy = chip.read64(reg::PERF_MAC_BUSY_LO) - m0;
        let util = busy as f64 / (cfg.tiles as f64 * cycles as f64);
        assert_eq!(busy, (count * groups * chunks * cfg.tiles) as u64);
        println!("{name:<22} {count:>6} {cycles:>10} {busy:>12} {util:>8.4}");
        assert_eq!(chip.read(reg::ERROR), 0);
    }
}
