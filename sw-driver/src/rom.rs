//! Weights in ROM (`docs/architecture.md`, "Weights in ROM"): the image folder a ROM chip is
//! built from. The file format and the digest are defined in [`tessera_abi::rom`].

use std::path::Path;

use crate::config::ChipConfig;
use crate::error::{Error, Result};

/// What [`write_image`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RomImage {
    /// The digest of the image ([`tessera_abi::rom::digest`]), the chip's `WeightRomDigest`.
    pub digest: u32,
    /// Files written: one per tile, the package and the digest file.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Stored bits of one tile's ROM: `WeightWords` code words of data and check bits.
    pub bits_per_tile: u64,
}

/// Stored bits of one tile's weight ROM of configuration `cfg`: `WeightWords` words of
/// `Lanes · KWidth · 8` data bits and 8 check bits per 64.
pub fn bits_per_tile(cfg: &ChipConfig) -> u64 {
    let data = cfg.word_bytes() as u64 * 8;
    cfg.weight_words as u64 * (data + data / 64 * 8)
}

/// Writes the ROM image of the weight images `tiles` into the existing folder `dir`: one
/// `tile<t>.hex` per tile, the SystemVerilog package [`tessera_abi::rom::PACKAGE_FILE`] of the
/// same words (for synthesis) and [`tessera_abi::rom::DIGEST_FILE`]. Files of those names are
/// replaced; nothing else in `dir` is touched.
pub fn write_image(cfg: &ChipConfig, tiles: &[Vec<u8>], dir: &Path) -> Result<RomImage> {
    let cfg_err = |e: tessera_abi::Error| Error::Config(format!("ROM image: {e}"));
    let digest = tessera_abi::rom::digest(cfg, tiles).map_err(cfg_err)?;
    let mut bytes = 0u64;
    let write = |name: &str, text: &str| -> Result<u64> {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        Ok(text.len() as u64)
    };
    for (t, img) in tiles.iter().enumerate() {
        let text = tessera_abi::rom::tile_hex(cfg, img).map_err(cfg_err)?;
        bytes += write(&tessera_abi::rom::tile_file(t), &text)?;
    }
    let pkg = tessera_abi::rom::package_sv(cfg, tiles).map_err(cfg_err)?;
    bytes += write(tessera_abi::rom::PACKAGE_FILE, &pkg)?;
    bytes += write(tessera_abi::rom::DIGEST_FILE, &format!("{digest:#010x}\n"))?;
    Ok(RomImage {
        digest,
        files: tiles.len() + 2,
        bytes,
        bits_per_tile: bits_per_tile(cfg),
    })
}

/// The digest recorded in an image folder's [`tessera_abi::rom::DIGEST_FILE`].
pub fn read_digest(dir: &Path) -> Result<u32> {
    let path = dir.join(tessera_abi::rom::DIGEST_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let t = text.trim();
    t.strip_prefix("0x")
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| Error::Config(format!("{}: not a digest ({t:?})", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_image_files_read_back() {
        let cfg = ChipConfig::named("tiny").unwrap();
        let wb = cfg.word_bytes();
        let tiles: Vec<Vec<u8>> = (0..cfg.tiles())
            .map(|t| (0..5 * wb).map(|i| (i * 3 + t) as u8).collect())
            .collect();
        let dir = std::env::temp_dir().join(format!("tessera-rom-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = write_image(&cfg, &tiles, &dir).unwrap();
        assert_eq!(r.files, 6);
        let pkg = std::fs::read_to_string(dir.join(tessera_abi::rom::PACKAGE_FILE)).unwrap();
        assert_eq!(pkg, tessera_abi::rom::package_sv(&cfg, &tiles).unwrap());
        assert_eq!(r.bits_per_tile, 256 * 288);
        assert_eq!(read_digest(&dir).unwrap(), r.digest);
        for (t, img) in tiles.iter().enumerate() {
            let text = std::fs::read_to_string(dir.join(tessera_abi::rom::tile_file(t))).unwrap();
            let back = tessera_abi::rom::parse_tile_hex(&cfg, &text).unwrap();
            assert_eq!(&back[..img.len()], &img[..]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
