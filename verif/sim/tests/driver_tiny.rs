//! The driver on the `tiny` chip model: scaled-down Llama models through the RTL, bit-exact
//! against the golden W8A8 pass; discovery; a located device error.
//!
//! The Verilator model is built once (cached under `target/tessera-verilated/`) and shared by
//! every test. Tests skip with a message when `verilator` is missing (and fail in CI).

use tessera_driver::mapper::{MapOptions, Mapping};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::program::{Descriptor, ErrorCode};
use tessera_driver::runtime::{LoadMode, RtlEngine};
use tessera_driver::{Device, Error, SimControl, Transport};
use tessera_golden::model::{KvCache, Llama, Precision};
use tessera_golden::quant::{GoldenEngine, MatrixKind};
use tessera_sim::{open_device, require_verilator, SimTransport, StreamTiming};

/// Golden W8A8 logits of `tokens` (prefill) then each of `decode` one by one.
fn golden(model: &Llama, prefill: &[u32], decode: &[u32]) -> Vec<ndarray::Array2<f32>> {
    let mut cache = KvCache::new(model.config());
    let mut out = vec![model
        .forward(prefill, &mut cache, &mut GoldenEngine)
        .unwrap()];
    for &t in decode {
        out.push(model.forward(&[t], &mut cache, &mut GoldenEngine).unwrap());
    }
    out
}

fn run_on_chip(
    model: &Llama,
    opts: &MapOptions,
    mode: LoadMode,
    prefill: &[u32],
    decode: &[u32],
) -> RtlEngine<SimTransport> {
    let dev = open_device("tiny").unwrap();
    let map = Mapping::for_model(dev.config(), model, opts).unwrap();
    let mut eng = RtlEngine::new(dev, map).unwrap();
    let load = eng.load_model(model, mode).unwrap();
    eprintln!("weight load: {load:?}");
    let want = golden(model, prefill, decode);
    let mut cache = KvCache::new(model.config());
    let mut got = vec![eng.forward(model, prefill, &mut cache).unwrap()];
    for &t in decode {
        got.push(eng.forward(model, &[t], &mut cache).unwrap());
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.dim(), w.dim());
        let gb: Vec<u32> = g.iter().map(|v| v.to_bits()).collect();
        let wb: Vec<u32> = w.iter().map(|v| v.to_bits()).collect();
        assert!(
            gb == wb,
            "step {i}: logits differ from the golden W8A8 pass"
        );
    }
    eng
}

#[test]
fn driver_tiny_gqa_tied_llama_bit_exact() {
    if !require_verilator() {
        return;
    }
    let shape = SmallShape::tiny();
    let model = small_llama(&shape, 7, Precision::W8A8).unwrap();
    let prefill = [1u32, 5, 9, 63, 0];
    let decode = [17u32, 42];
    let eng = run_on_chip(
        &model,
        &MapOptions::default(),
        LoadMode::Auto,
        &prefill,
        &decode,
    );
    let s = eng.stats();
    let tokens = (prefill.len() + decode.len()) as u64;
    assert_eq!(s.mismatches(), 0);
    assert_eq!(s.products(), tokens * (7 * shape.layers as u64 + 1));
    for m in &s.matrices {
        assert_eq!(m.products, tokens, "{:?}", m.id);
        assert_eq!(m.matches, tokens, "{:?}", m.id);
    }
    let names: Vec<&str> = s.ops.iter().map(|o| o.name).collect();
    assert_eq!(names, ["qkv", "o", "gate_up", "down", "lm_head"]);
    assert!(s.total.cycles > 0 && s.total.mac_busy > 0);
    let u = s.mac_busy_utilization(eng.mapping().cfg.tiles());
    assert!(u > 0.0 && u <= 1.0, "utilisation {u}");
    eprintln!(
        "tiny: {} products, {} cycles, MAC-busy {}, utilisation {u:.3}, host {:.2} s",
        s.products(),
        s.total.cycles,
        s.total.mac_busy,
        s.seconds
    );
}

#[test]
fn driver_tiny_untied_k_partitions_front_door_bit_exact() {
    if !require_verilator() {
        return;
    }
    let shape = SmallShape {
        tied: false,
        kv_heads: 1,
        ..SmallShape::tiny()
    };
    let model = small_llama(&shape, 11, Precision::W8A8).unwrap();
    let opts = MapOptions {
        prefer_lg_pk: Some(1),
        ..MapOptions::default()
    };
    let eng = run_on_chip(&model, &opts, LoadMode::FrontDoor, &[3, 4, 5], &[6]);
    assert!(eng.mapping().placements.iter().all(|p| p.lg_pk == 1));
    assert_eq!(eng.stats().mismatches(), 0);
}

#[test]
fn driver_tiny_discovery_reads_the_configuration() {
    if !require_verilator() {
        return;
    }
    let mut dev = open_device("tiny").unwrap();
    assert!(tessera_driver::device::version_supported(&dev.version()));
    assert_eq!(dev.config().tiles(), 4);
    dev.set_scratch(0xa5a5_1234).unwrap();
    assert_eq!(dev.scratch().unwrap(), 0xa5a5_1234);
    // An unmapped address answers SLVERR: a typed bus error (the last word of the window lies
    // past the register map's 0x128 bytes).
    match dev.transport().reg_read(0x1fc) {
        Err(Error::Bus { op, addr, resp }) => assert_eq!((op, addr, resp), ("read", 0x1fc, 2)),
        other => panic!("expected SLVERR, got {other:?}"),
    }
    assert!(matches!(
        dev.transport().reg_write(0x1fc, 1),
        Err(Error::Bus { .. })
    ));
    dev.check().unwrap();
    // A different expected configuration is refused.
    let t = dev.into_transport();
    let mut other = tessera_driver::ChipConfig::named("tiny").unwrap();
    other.weight_words *= 2;
    match Device::open_expecting(t, &other) {
        Err(Error::UnsupportedConfig(m)) => assert!(m.contains("tiny"), "{m}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a wrong configuration was accepted"),
    }
}

#[test]
fn driver_tiny_device_error_is_located() {
    if !require_verilator() {
        return;
    }
    let model = small_llama(&SmallShape::tiny(), 3, Precision::W8A8).unwrap();
    let dev = open_device("tiny").unwrap();
    let map = Mapping::for_model(dev.config(), &model, &MapOptions::default()).unwrap();
    let mut eng = RtlEngine::new(dev, map).unwrap();
    eng.load_model(&model, LoadMode::Backdoor).unwrap();
    // Fault injection: layer 1's v_proj now reads past the weight memory.
    let ww = eng.mapping().cfg.weight_words;
    let p = eng
        .mapping_mut()
        .placements
        .iter_mut()
        .find(|p| p.id.layer == Some(1) && p.id.kind == MatrixKind::V)
        .unwrap();
    p.base = ww - 1;
    let mut cache = KvCache::new(model.config());
    let e = eng.forward(&model, &[1, 2], &mut cache).unwrap_err();
    eprintln!("reported: {e}");
    let loc = e.location().expect("a location");
    assert_eq!(loc.layer, Some(1));
    assert_eq!(loc.matrix, MatrixKind::V);
    match e {
        Error::At { source, .. } => match *source {
            Error::Device { code, .. } => assert_eq!(code, ErrorCode::WeightRange),
            other => panic!("expected a device error, got {other}"),
        },
        other => panic!("expected a located error, got {other}"),
    }
    // The engine soft-reset the chip: a fresh run works again.
    let ww_ok = eng
        .mapping()
        .placements
        .iter()
        .find(|p| p.id.layer == Some(1) && p.id.kind == MatrixKind::K)
        .map(|p| p.base + p.words())
        .unwrap();
    eng.mapping_mut()
        .placements
        .iter_mut()
        .find(|p| p.id.layer == Some(1) && p.id.kind == MatrixKind::V)
        .unwrap()
        .base = ww_ok;
    let mut cache = KvCache::new(model.config());
    eng.forward(&model, &[1, 2], &mut cache).unwrap();
}

#[test]
fn driver_tiny_mismatch_is_located() {
    if !require_verilator() {
        return;
    }
    let model = small_llama(&SmallShape::tiny(), 5, Precision::W8A8).unwrap();
    let dev = open_device("tiny").unwrap();
    let map = Mapping::for_model(dev.config(), &model, &MapOptions::default()).unwrap();
    let mut eng = RtlEngine::new(dev, map).unwrap();
    eng.load_model(&model, LoadMode::Backdoor).unwrap();
    // Corrupt lane 1 of the first word of layer 0's gate_proj in the last tile.
    let cfg = eng.mapping().cfg.clone();
    let p = eng
        .mapping()
        .placements
        .iter()
        .find(|p| p.id.layer == Some(0) && p.id.kind == MatrixKind::Gate)
        .unwrap()
        .clone();
    assert_eq!(p.lg_pk, 0);
    let tile = cfg.tiles() - 1;
    let sim = eng.device().transport().sim().unwrap();
    let mut word = sim
        .backdoor_read(tile, p.base, 1, cfg.word_bytes())
        .unwrap();
    for j in 0..cfg.kwidth {
        let b = &mut word[cfg.weight_byte(1, j)];
        *b = (*b as i8).wrapping_add(1) as u8;
    }
    sim.backdoor_write(tile, p.base, cfg.word_bytes(), &word)
        .unwrap();
    let mut cache = KvCache::new(model.config());
    let e = eng.forward(&model, &[9], &mut cache).unwrap_err();
    eprintln!("reported: {e}");
    match e {
        Error::Mismatch { loc, token, .. } => {
            assert_eq!(token, 0);
            assert_eq!(loc.layer, Some(0));
            assert_eq!(loc.matrix, MatrixKind::Gate);
            assert_eq!(loc.tile, Some(tile));
            assert_eq!(loc.row, Some(tile * p.groups * cfg.lanes + 1));
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    let s = eng.stats();
    assert_eq!(s.mismatches(), 1);
    assert!(s.first_mismatch.is_some());
}

/// A second model build (with FST tracing), so ignored by default.
#[test]
#[ignore]
fn driver_tiny_trace_writes_a_waveform() {
    if !require_verilator() {
        return;
    }
    let t = SimTransport::open_traced("tiny").unwrap();
    let cfg = t.config().clone();
    let mut dev = Device::open_expecting(t, &cfg).unwrap();
    let dir = std::env::temp_dir().join(format!("tessera-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fst = dir.join("window.fst");
    dev.transport().trace(Some(&fst)).unwrap();
    dev.fence().unwrap();
    dev.transport().trace(None).unwrap();
    let len = std::fs::metadata(&fst).unwrap().len();
    assert!(len > 100, "waveform of {len} bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn driver_tiny_model_larger_than_the_chip_runs_with_shared_layers() {
    if !require_verilator() {
        return;
    }
    let shape = SmallShape {
        layers: 5,
        ..SmallShape::tiny()
    };
    let model = small_llama(&shape, 21, Precision::W8A8).unwrap();
    let cfg = tessera_driver::ChipConfig::named("tiny").unwrap();
    match Mapping::for_model(&cfg, &model, &MapOptions::default()) {
        Err(Error::DoesNotFit(m)) => eprintln!("refused as expected: {m}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a model larger than the chip was mapped"),
    }
    let opts = MapOptions {
        share_layers: true,
        ..MapOptions::default()
    };
    let eng = run_on_chip(&model, &opts, LoadMode::Auto, &[2, 7, 1], &[30]);
    let s = eng.stats();
    assert_eq!(s.mismatches(), 0);
    // Layers 1..4 load on the prefill, then every layer reloads on the decode step.
    assert_eq!(s.reloads, 7 * 4 + 7 * 5);
}

/// Seeded stream timing: gaps on the input and backpressure on the output slow an exchange down
/// without changing its data, the same seed replays it cycle for cycle, and out-of-range
/// probabilities are refused without disturbing the model.
#[test]
fn driver_tiny_stream_timing_replays() {
    if !require_verilator() {
        return;
    }
    // A VBUF_LOAD (68 input beats) then a VBUF_READ of 64 result words (128 output beats) on a
    // fresh chip: its cycles and the words read.
    let exchange = |timing: StreamTiming| -> (u64, Vec<i32>) {
        let mut dev = open_device("tiny").unwrap();
        dev.transport().set_stream_timing(timing).unwrap();
        let cfg = dev.config().clone();
        let x: Vec<i8> = (0..64 * cfg.kwidth).map(|i| (i % 97) as i8 - 48).collect();
        let t0 = dev.transport().cycles().unwrap();
        dev.send(&[Descriptor::vbuf_load(&cfg, 0, 64, &x)]).unwrap();
        let y = dev.read_results(0, 64).unwrap();
        dev.check().unwrap();
        (dev.transport().cycles().unwrap() - t0, y)
    };
    let slow = StreamTiming {
        in_gap_permille: 300,
        out_ready_permille: 500,
        seed: 7,
    };
    let (fast_cycles, fast) = exchange(StreamTiming::NONE);
    let (slow_cycles, data) = exchange(slow);
    let (again_cycles, again) = exchange(slow);
    eprintln!("back to back {fast_cycles} cycles, with gaps and backpressure {slow_cycles}");
    assert_eq!(data, fast, "the timing changed the data");
    assert_eq!(again, fast);
    assert!(
        slow_cycles > fast_cycles + 64,
        "gaps and backpressure cost {slow_cycles} vs {fast_cycles} cycles"
    );
    assert_eq!(
        again_cycles, slow_cycles,
        "the same seed replays the same cycles"
    );

    let mut dev = open_device("tiny").unwrap();
    for bad in [
        StreamTiming {
            in_gap_permille: 1000,
            ..StreamTiming::NONE
        },
        StreamTiming {
            out_ready_permille: 0,
            ..StreamTiming::NONE
        },
        StreamTiming {
            out_ready_permille: 1001,
            ..StreamTiming::NONE
        },
    ] {
        assert!(
            matches!(dev.transport().set_stream_timing(bad), Err(Error::Sim(_))),
            "{bad:?} accepted"
        );
    }
    dev.set_scratch(0x600d).unwrap();
    assert_eq!(dev.scratch().unwrap(), 0x600d, "the model still answers");
}
