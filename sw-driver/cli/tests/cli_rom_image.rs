//! `tessera rom-image`: the image files, their digest against the token runtime's images, and
//! the checks of `--out`.

mod common;
use common::{ok, scratch, tessera};

use tessera_driver::models::{small_llama, SmallShape};
use tessera_driver::token::plan;
use tessera_driver::ChipConfig;
use tessera_golden::model::Precision;

#[test]
fn cli_rom_image_writes_the_runtime_images_and_their_digest() {
    let dir = scratch("rom-image");
    let out = dir.join("rom");
    let o = out.to_str().unwrap();
    let args = [
        "rom-image",
        "--config",
        "tiny",
        "--synthetic",
        "small",
        "--layers",
        "2",
        "--seed",
        "3",
        "--context",
        "8",
        "--out",
        o,
        "--json",
    ];
    let r = ok(&args);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("one JSON object");
    assert_eq!(v["rom_bits_per_tile"], 256 * 288);
    assert_eq!(v["tiles"], 4);
    assert!(
        v["synth"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--config tiny --rom {o}")),
        "{v}"
    );

    // The images are the token runtime's for the same model, code words with check bits.
    let cfg = ChipConfig::named("tiny").unwrap();
    let shape = SmallShape {
        layers: 2,
        ..SmallShape::tiny()
    };
    let model = small_llama(&shape, 3, Precision::Chip).unwrap();
    let image = plan(&cfg, model.config(), 8)
        .unwrap()
        .image(&model)
        .unwrap();
    let digest = tessera_abi::rom::digest(&cfg, &image.tiles).unwrap();
    assert_eq!(v["digest"], format!("{digest:#010x}"));
    assert_eq!(tessera_driver::rom::read_digest(&out).unwrap(), digest);
    // The package for synthesis holds the same words (tessera_abi::rom::package_sv).
    let pkg = out.join(tessera_abi::rom::PACKAGE_FILE);
    assert_eq!(v["package"], pkg.display().to_string());
    assert_eq!(
        std::fs::read_to_string(&pkg).unwrap(),
        tessera_abi::rom::package_sv(&cfg, &image.tiles).unwrap()
    );
    for (t, img) in image.tiles.iter().enumerate() {
        let text = std::fs::read_to_string(out.join(tessera_abi::rom::tile_file(t))).unwrap();
        let back = tessera_abi::rom::parse_tile_hex(&cfg, &text).unwrap();
        assert_eq!(&back[..img.len()], &img[..], "tile {t}");
        assert!(
            back[img.len()..].iter().all(|&b| b == 0),
            "tile {t}: padding"
        );
    }

    // A folder that holds something is refused, then replaced with --force.
    let again = tessera(&args);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    forced[8] = "4"; // another seed: another digest
    let r = ok(&forced);
    let v2: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_ne!(v2["digest"], v["digest"]);
    assert_eq!(
        format!("{:#010x}", tessera_driver::rom::read_digest(&out).unwrap()),
        v2["digest"].as_str().unwrap()
    );

    // --force never replaces a folder that is not an image.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep"), "x").unwrap();
    let r = tessera(&["rom-image", "--out", other.to_str().unwrap(), "--force"]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a ROM image folder"));
    assert!(other.join("keep").is_file());

    // A file is no folder; a model that does not fit is an error, and nothing is left behind.
    let r = tessera(&["rom-image", "--out", "/dev/full"]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a folder"));
    let r = tessera(&[
        "rom-image",
        "--config",
        "nope",
        "--out",
        dir.join("x").to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    assert!(!dir.join("x").exists());

    // `run --rom` takes an image folder, and only on the token engine of a simulated chip.
    let r = tessera(&[
        "run",
        "--config",
        "tiny",
        "--rom",
        dir.join("x").to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("digest.txt"));
    let r = tessera(&["run", "--config", "tiny", "--engine", "matvec", "--rom", o]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--rom: the token engine"));
}
