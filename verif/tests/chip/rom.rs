//! A chip whose weights are in ROM (`tessera_top` with `WeightRom = 1`, docs/architecture.md,
//! "Weights in ROM") against the SRAM chip and the reference interpreter: `tiny` built with the
//! ROM image of a small two-layer model (written by `tessera_driver::rom::write_image`, the code
//! of `tessera rom-image`), once per image and reused through the model cache.
//!
//! - The token runtime skips the weight load on it (the digest in `WEIGHT_ROM_DIGEST` matches)
//!   and its tokens equal the SRAM chip's, loaded by WEIGHT_LOAD, and the interpreter's, logits
//!   bit for bit.
//! - A WEIGHT_LOAD on it stops the command processor with `ErrWeightRom` and leaves the ROM's
//!   contents as built.
//! - Another model (other weights, same shape) is refused with `Error::RomMismatch` before
//!   anything is sent.

use std::path::PathBuf;
use std::sync::OnceLock;

use tessera_abi::{ChipConfig, Descriptor, ErrorCode};
use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::interp::Engine;
use tessera_driver::token::{plan, Image, Plan};
use tessera_driver::token_runtime::TokenRuntime;
use tessera_driver::{Device, Error, Transport};
use tessera_golden::model::{Llama, Precision};
use tessera_sim::{SimTransport, WeightRom};

use crate::env::have_verilator;

/// Cycle budget of any one wait.
const WAIT_CYCLES: u64 = 4_000_000;

/// Seed of the weights the ROM holds.
const ROM_SEED: u64 = 11;

/// Positions each KV cache holds, and the tokens each test runs.
const CONTEXT: usize = 8;

/// The model the ROM is built from: `SmallShape::tiny` (two layers, GQA 2, vocab 64).
fn rom_model(seed: u64) -> Llama {
    small_llama(&SmallShape::tiny(), seed, Precision::Chip).expect("small model")
}

fn tiny() -> ChipConfig {
    ChipConfig::named("tiny").expect("tiny")
}

/// The plan and images of `model` on `tiny`.
fn compiled(model: &Llama) -> (Plan, Image) {
    let p = plan(&tiny(), model.config(), CONTEXT).expect("plan for tiny");
    let image = p.image(model).expect("images");
    (p, image)
}

/// The ROM image of [`rom_model`] on `tiny`, written once per process into a folder named by
/// its digest (so the model cache reuses the chip from one run to the next).
fn rom() -> &'static WeightRom {
    static ROM: OnceLock<WeightRom> = OnceLock::new();
    ROM.get_or_init(|| {
        let cfg = tiny();
        let (_, image) = compiled(&rom_model(ROM_SEED));
        let digest = tessera_abi::rom::digest(&cfg, &image.tiles).expect("digest");
        let dir: PathBuf = tessera_sim::work_dir()
            .join("tessera-rom")
            .join(format!("tiny-{digest:08x}"));
        std::fs::create_dir_all(&dir).expect("image folder");
        let written = tessera_driver::rom::write_image(&cfg, &image.tiles, &dir).expect("image");
        assert_eq!(written.digest, digest);
        eprintln!(
            "ROM image in {} (digest {digest:#010x}, {} bits per tile)",
            dir.display(),
            written.bits_per_tile
        );
        WeightRom { dir, digest }
    })
}

/// A token runtime on a fresh chip: the ROM chip of [`rom`], or the SRAM chip of `tiny`.
fn runtime(rom_chip: bool) -> TokenRuntime<SimTransport> {
    let t = if rom_chip {
        SimTransport::open_rom("tiny", rom())
    } else {
        SimTransport::open("tiny")
    }
    .unwrap_or_else(|e| panic!("chip model (ROM {rom_chip}): {e}"));
    let mut dev = Device::open_expecting(t, &tiny()).expect("open the chip");
    dev.timeout_cycles = WAIT_CYCLES;
    let mut rt = TokenRuntime::new(dev).expect("soft reset of a fresh chip");
    rt.timeout_cycles = WAIT_CYCLES;
    rt
}

#[test]
fn chip_rom_tokens_match_the_sram_chip_and_the_interpreter() {
    if !have_verilator() {
        return;
    }
    let model = rom_model(ROM_SEED);
    let (p, image) = compiled(&model);
    let mut rom_rt = runtime(true);
    let mut sram_rt = runtime(false);
    assert_eq!(
        rom_rt.device().weight_rom().expect("CFG_WEIGHT_ROM"),
        Some(rom().digest)
    );
    assert_eq!(sram_rt.device().weight_rom().expect("CFG_WEIGHT_ROM"), None);

    let r = rom_rt
        .load(&p, &image, LoadMode::Auto)
        .expect("ROM chip load");
    assert_eq!(r.mode, LoadMode::Rom);
    assert_eq!(r.weight_bytes, 0, "nothing written to the tiles");
    let s = sram_rt
        .load(&p, &image, LoadMode::FrontDoor)
        .expect("SRAM chip load");
    assert_eq!(s.mode, LoadMode::FrontDoor);
    assert!(s.weight_bytes > 0);
    let mut engine = Engine::load(&p, image);

    // Greedy from token 5: every token's NEXT, instruction count and logits bits agree.
    let mut tok = 5u32;
    let mut nexts = Vec::new();
    for pos in 0..CONTEXT as u32 {
        let a = rom_rt.step(tok, pos, true).expect("ROM chip token");
        let b = sram_rt.step(tok, pos, true).expect("SRAM chip token");
        let want = engine.step(tok, pos, true);
        let a = a.unwrap_or_else(|f| panic!("ROM chip: token {tok} at {pos}: fault {f:?}"));
        let b = b.unwrap_or_else(|f| panic!("SRAM chip: token {tok} at {pos}: fault {f:?}"));
        let want = want.unwrap_or_else(|f| panic!("interpreter: token {tok} at {pos}: {f:?}"));
        let bits = |o: &tessera_driver::token::interp::TokenOut| {
            let l: Vec<u32> = o.logits.iter().flatten().map(|x| x.to_bits()).collect();
            (o.next, o.instrs, l)
        };
        assert_eq!(
            bits(&a),
            bits(&b),
            "token {tok} at {pos}: ROM chip against SRAM chip"
        );
        assert_eq!(
            bits(&a),
            bits(&want),
            "token {tok} at {pos}: ROM chip against interpreter"
        );
        assert!(!bits(&a).2.is_empty(), "logits came back");
        nexts.push(a.next);
        tok = a.next;
    }
    eprintln!("tokens of the ROM chip: {nexts:?}");
    // No correction was needed: the image's check bits are right.
    assert_eq!(rom_rt.device().ecc().expect("ECC").corrected, 0);
    for rt in [&mut rom_rt, &mut sram_rt] {
        let dev = rt.device();
        assert_eq!(dev.drain_output().expect("drain"), 0, "stray output beats");
        dev.wait_idle().expect("idle without an error");
    }
}

#[test]
fn chip_rom_weight_load_fails_with_err_weight_rom() {
    if !have_verilator() {
        return;
    }
    let cfg = tiny();
    let (_, image) = compiled(&rom_model(ROM_SEED));
    let mut rt = runtime(true);
    let wb = cfg.word_bytes();
    let dev = rt.device();
    // A legal WEIGHT_LOAD of two words into every tile, after a NOP.
    let data = vec![0x5au8; cfg.tiles() * 2 * wb];
    let nop = Descriptor::nop();
    let load = Descriptor::weight_load(0, cfg.tiles() as u32 - 1, 0, 2, &data);
    dev.send(&[nop, load]).expect("send");
    let e = dev
        .wait_idle()
        .expect_err("a WEIGHT_LOAD on a ROM chip fails");
    match e {
        Error::Device { code, descriptor } => {
            assert_eq!(code, ErrorCode::WeightRom, "{e}");
            assert_eq!(code.code(), 0x13);
            assert_eq!(descriptor, 1, "the WEIGHT_LOAD is descriptor 1");
        }
        other => panic!("expected ErrWeightRom, got {other}"),
    }
    assert_eq!(dev.error().expect("ERROR").0, ErrorCode::WeightRom);
    // The ROM holds what it was built with.
    let sim = dev.transport().sim().expect("simulator");
    for (t, img) in image.tiles.iter().enumerate() {
        let got = sim
            .backdoor_read(t, 0, img.len() / wb, wb)
            .expect("backdoor read");
        assert_eq!(&got, img, "tile {t}: ROM contents after the refused load");
    }
    // A soft reset clears the error; the chip runs the model's tokens again.
    dev.soft_reset().expect("soft reset");
    dev.check().expect("no error after the soft reset");
}

#[test]
fn chip_rom_refuses_another_model() {
    if !have_verilator() {
        return;
    }
    let mut rt = runtime(true);
    // Same shape, other weights: the plan is the same, the images differ.
    let other = rom_model(ROM_SEED + 1);
    let (p, image) = compiled(&other);
    let want = tessera_abi::rom::digest(&tiny(), &image.tiles).expect("digest");
    assert_ne!(want, rom().digest);
    let c0 = rt.device().descriptors_sent();
    match rt.load(&p, &image, LoadMode::Auto) {
        Err(Error::RomMismatch { chip, model }) => {
            assert_eq!(chip, rom().digest);
            assert_eq!(model, want);
        }
        Err(e) => panic!("expected RomMismatch, got {e}"),
        Ok(r) => panic!("a model that is not the ROM's loaded: {r:?}"),
    }
    assert_eq!(rt.device().descriptors_sent(), c0, "nothing sent");
    // The ROM's own model still loads (a one-word change of the image is refused too).
    let (p, mut image) = compiled(&rom_model(ROM_SEED));
    image.tiles[2][3] ^= 1;
    assert!(matches!(
        rt.load(&p, &image, LoadMode::Auto),
        Err(Error::RomMismatch { .. })
    ));
    image.tiles[2][3] ^= 1;
    let r = rt
        .load(&p, &image, LoadMode::Auto)
        .expect("the ROM's model");
    assert_eq!(r.mode, LoadMode::Rom);
}
