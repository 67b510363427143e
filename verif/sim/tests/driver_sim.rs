//! The driver on the `sim` chip model with Llama 3.1 8B shapes (ignored by default: the model
//! build takes minutes and a layer needs several GB of memory). Run with
//! `cargo test -p tessera-driver --release --test driver_sim -- --ignored --nocapture`.

use std::time::Instant;

use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_driver::Transport;
use tessera_golden::model::{KvCache, Precision};
use tessera_golden::quant::{GoldenEngine, MatrixKind};
use tessera_sim::{have_verilator, open_device};

fn llama_8b_one_layer() -> SmallShape {
    SmallShape {
        hidden: 4096,
        intermediate: 14336,
        layers: 1,
        heads: 32,
        kv_heads: 8,
        vocab: 128256,
        tied: true,
    }
}

#[test]
#[ignore]
fn driver_sim_llama_8b_layer() {
    if !have_verilator() {
        eprintln!("skipped: verilator not found");
        return;
    }
    let t0 = Instant::now();
    let dev = open_device("sim").unwrap();
    eprintln!("model ready in {:.1} s", t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let model = small_llama(&llama_8b_one_layer(), 1, Precision::W8A8).unwrap();
    eprintln!("weights made in {:.1} s", t0.elapsed().as_secs_f64());
    let map = Mapping::for_model(dev.config(), &model, &MapOptions::default()).unwrap();
    eprintln!(
        "mapped: {} words of {} per tile",
        map.words_used, map.cfg.weight_words
    );
    let mut eng = RtlEngine::new(dev, map).unwrap();

    // Front door for one matrix (q, 16.8 M weights), checked against the images by backdoor.
    let q = &model.layers[0].self_attn.q_proj;
    let qm = match &q.weight {
        tessera_golden::model::Weight::Quant(m) => m,
        _ => unreachable!(),
    };
    let front = eng
        .load_weights(&[(q.id, qm)], LoadMode::FrontDoor)
        .unwrap();
    eprintln!(
        "front door, q_proj: {} weights in {:.2} s, {:?} cycles ({:.1} MB/s)",
        front.weights,
        front.seconds,
        front.cycles,
        front.image_bytes as f64 / front.seconds / 1e6
    );
    let p = eng.mapping().get(&q.id).unwrap().clone();
    let cfg = eng.mapping().cfg.clone();
    for t in [0, cfg.tiles() - 1] {
        let img = p.tile_image(&cfg, qm, t);
        let sim = eng.device().transport().sim().unwrap();
        let back = sim
            .backdoor_read(t, p.base, p.words(), cfg.word_bytes())
            .unwrap();
        assert!(
            back == img,
            "tile {t}: front-door load differs from the image"
        );
    }

    let load = eng.load_model(&model, LoadMode::Backdoor).unwrap();
    eprintln!(
        "backdoor, layer + lm_head: {} weights ({} image bytes) in {:.2} s ({:.1} MB/s)",
        load.weights,
        load.image_bytes,
        load.seconds,
        load.image_bytes as f64 / load.seconds / 1e6
    );

    let tokens = [128000u32];
    let mut cache = KvCache::new(model.config());
    let want = model
        .forward(&tokens, &mut cache, &mut GoldenEngine)
        .unwrap();
    let mut cache = KvCache::new(model.config());
    let w0 = eng.device().transport().wait_seconds();
    let t0 = Instant::now();
    let got = eng.forward(&model, &tokens, &mut cache).unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let in_sim = eng.device().transport().wait_seconds() - w0;
    eprintln!(
        "of the {wall:.2} s, {in_sim:.2} s waiting for the simulator: host share {:.1} %",
        100.0 * (1.0 - in_sim / wall)
    );
    let gb: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
    let wb: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
    assert!(gb == wb, "logits differ from the golden W8A8 pass");
    let s = eng.stats();
    assert_eq!(s.mismatches(), 0);
    eprintln!(
        "one token, 1 layer + lm_head: {wall:.2} s wall, {} cycles, MAC-busy {}, utilisation {:.4} (busy) {:.4} (useful)",
        s.total.cycles,
        s.total.mac_busy,
        s.mac_busy_utilization(cfg.tiles()),
        s.mac_utilization(cfg.macs_per_cycle())
    );
    // The model clocked for as many cycles with the chip idle (no protocol, no MACs): a busy chip
    // simulates slower, so this bounds the simulator's own speed rather than the host's share.
    let cycles = s.total.cycles;
    let t0 = Instant::now();
    eng.device().transport().run(cycles).unwrap();
    let bare = t0.elapsed().as_secs_f64();
    let s = eng.stats();
    eprintln!(
        "idle model: {cycles} cycles in {bare:.2} s ({:.0} cycles/s); the run took {:.2} s in the engine ({:.1} x)",
        cycles as f64 / bare,
        s.seconds,
        s.seconds / bare
    );
    // What the golden check costs on the host.
    let t0 = Instant::now();
    for (_, q) in tessera_driver::mapper::model_matrices(&model).unwrap() {
        let x: Vec<i8> = (0..q.cols).map(|i| (i % 200) as i8 - 100).collect();
        let mut out = vec![0i32; q.rows];
        tessera_golden::quant::matvec_i32(&q.q, q.rows, q.cols, &x, &mut out);
    }
    eprintln!(
        "golden integer products of the token: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    for o in &s.ops {
        eprintln!(
            "  {:8} cycles {:8} MAC-busy {:9} stall-in {:6} idle {:6}",
            o.name, o.perf.cycles, o.perf.mac_busy, o.perf.stall_input, o.perf.stall_cmd
        );
    }
    for k in [
        MatrixKind::Q,
        MatrixKind::K,
        MatrixKind::V,
        MatrixKind::O,
        MatrixKind::Gate,
        MatrixKind::Up,
        MatrixKind::Down,
        MatrixKind::LmHead,
    ] {
        let m = s.by_kind(k);
        eprintln!(
            "  {k:?}: {}x{} P_k={} products {} matches {} cycles {:.0}",
            m.rows,
            m.cols,
            1 << m.lg_pk,
            m.products,
            m.matches,
            m.cycles
        );
    }
}
