//! Weights in ROM (`docs/architecture.md`, "Weights in ROM"): the image a ROM chip's weight
//! memories are built from, and its digest.
//!
//! A ROM chip (`tessera_top` with `WeightRom = 1`) reads tile `t`'s weight memory from
//! `WeightRomDir/tile<t>.hex` ([`tile_file`]) with `$readmemh`: `WeightWords` lines, word 0
//! first, each the stored code word of `rtl/prim/prim_ram_1r1w_ecc.sv` in hexadecimal, most
//! significant digit first: the data bits `[Width-1:0]` (byte `b` of the weight word at bits
//! `8b+7:8b`), then the check byte of 64-bit segment `s` at `[Width+8s+7:Width+8s]`
//! ([`crate::ecc::stored_word`] without its padding). Words past the model's are zero (whose
//! check bits are zero too).
//!
//! The digest ([`digest`]) is FNV-1a (32 bits) over the data bytes of every tile's
//! `WeightWords` words, tile 0 first; the chip reports the one it was built with in
//! `WEIGHT_ROM_DIGEST`, and the driver refuses a model whose weights give another.

use crate::config::ChipConfig;
use crate::ecc;
use crate::error::{Error, Result};

/// The image file of tile `tile` inside the image folder.
pub fn tile_file(tile: usize) -> String {
    format!("tile{tile}.hex")
}

/// The name of the digest file `tessera rom-image` writes beside the tile images: one line,
/// the digest in hexadecimal (`0x` and eight digits).
pub const DIGEST_FILE: &str = "digest.txt";

/// Checks that `tiles` are `cfg.tiles()` images of whole weight words that fit the memory, and
/// that the stored word has whole 64-bit segments (the layout [`crate::ecc::stored_word`]
/// knows).
fn check(cfg: &ChipConfig, tiles: &[Vec<u8>]) -> Result<()> {
    let wb = cfg.word_bytes();
    if wb % 8 != 0 {
        return Err(Error::Unsupported(format!(
            "weight words of {wb} bytes: a ROM image needs whole 64-bit ECC segments"
        )));
    }
    if tiles.len() != cfg.tiles() {
        return Err(Error::Config(format!(
            "{} tile images for {} tiles",
            tiles.len(),
            cfg.tiles()
        )));
    }
    for (t, img) in tiles.iter().enumerate() {
        if img.len() % wb != 0 || img.len() / wb > cfg.weight_words {
            return Err(Error::Config(format!(
                "tile {t}: {} bytes is not at most {} whole {wb}-byte words",
                img.len(),
                cfg.weight_words
            )));
        }
    }
    Ok(())
}

/// FNV-1a, 32 bits, continued from `h` over `bytes`.
fn fnv1a(mut h: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The digest of the weight images `tiles` (tile `t`'s weight words from word 0, as
/// [`crate::descriptor`]'s WEIGHT_LOAD or a backdoor load would write them), each padded with
/// zero words to `cfg.weight_words`.
pub fn digest(cfg: &ChipConfig, tiles: &[Vec<u8>]) -> Result<u32> {
    check(cfg, tiles)?;
    let full = cfg.weight_words * cfg.word_bytes();
    let zeros = vec![0u8; cfg.word_bytes() * 1024];
    let mut h = 0x811c_9dc5u32;
    for img in tiles {
        h = fnv1a(h, img);
        let mut left = full - img.len();
        while left > 0 {
            let n = left.min(zeros.len());
            h = fnv1a(h, &zeros[..n]);
            left -= n;
        }
    }
    Ok(h)
}

/// The `$readmemh` text of one tile's image `img` (whole weight words, at most
/// `cfg.weight_words`): `cfg.weight_words` lines of stored code words.
pub fn tile_hex(cfg: &ChipConfig, img: &[u8]) -> Result<String> {
    check(cfg, &vec![img.to_vec(); cfg.tiles()])?;
    let wb = cfg.word_bytes();
    let stored = wb + wb / 8;
    let mut out = String::with_capacity(cfg.weight_words * (2 * stored + 1));
    let zero = vec![0u8; wb];
    for w in 0..cfg.weight_words {
        let data = img.get(w * wb..(w + 1) * wb).unwrap_or(&zero);
        let code = ecc::stored_word(data);
        for b in code[..stored].iter().rev() {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The data bytes of a tile image read back from its `$readmemh` text (the check bits are
/// verified): `cfg.weight_words` words.
pub fn parse_tile_hex(cfg: &ChipConfig, text: &str) -> Result<Vec<u8>> {
    let wb = cfg.word_bytes();
    let stored = wb + wb / 8;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != cfg.weight_words {
        return Err(Error::Config(format!(
            "ROM image of {} words, the configuration's tiles hold {}",
            lines.len(),
            cfg.weight_words
        )));
    }
    let mut out = Vec::with_capacity(cfg.weight_words * wb);
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim();
        let bad = || {
            Error::Config(format!(
                "ROM image word {i}: not {stored} hexadecimal bytes"
            ))
        };
        if l.len() != 2 * stored || !l.is_ascii() {
            return Err(bad());
        }
        let mut code = Vec::with_capacity(stored);
        for k in (0..stored).rev() {
            let b = u8::from_str_radix(&l[2 * k..2 * k + 2], 16).map_err(|_| bad())?;
            code.push(b);
        }
        let data = &code[..wb];
        if ecc::stored_word(data)[..stored] != code[..] {
            return Err(Error::Config(format!(
                "ROM image word {i}: check bits do not match the data"
            )));
        }
        out.extend_from_slice(data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ChipConfig {
        ChipConfig::named("tiny").unwrap()
    }

    #[test]
    fn abi_rom_hex_round_trips_and_pads() {
        let cfg = tiny();
        let img: Vec<u8> = (0..3 * cfg.word_bytes())
            .map(|i| (i * 7 + 1) as u8)
            .collect();
        let text = tile_hex(&cfg, &img).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), cfg.weight_words);
        // 256 data bits and four check bytes: 288 bits, 72 digits.
        assert!(lines.iter().all(|l| l.len() == 72));
        // Byte 0 of word 0 is the last two digits of its line; the check bytes lead.
        assert_eq!(&lines[0][70..], "01");
        assert_eq!(&lines[0][..8], {
            let c = ecc::stored_word(&img[..32]);
            format!("{:02x}{:02x}{:02x}{:02x}", c[35], c[34], c[33], c[32])
        });
        assert!(lines[3..].iter().all(|l| l.chars().all(|c| c == '0')));
        let back = parse_tile_hex(&cfg, &text).unwrap();
        assert_eq!(&back[..img.len()], &img[..]);
        assert!(back[img.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn abi_rom_parse_refuses_bad_check_bits() {
        let cfg = tiny();
        let img = vec![5u8; cfg.word_bytes()];
        let mut text = tile_hex(&cfg, &img).unwrap();
        // The first digit is in the last check byte.
        let first = if text.starts_with('0') { "1" } else { "0" };
        text.replace_range(0..1, first);
        let e = parse_tile_hex(&cfg, &text).unwrap_err().to_string();
        assert!(e.contains("check bits"), "{e}");
    }

    #[test]
    fn abi_rom_digest_covers_every_byte_and_the_padding() {
        let cfg = tiny();
        let wb = cfg.word_bytes();
        let tiles: Vec<Vec<u8>> = (0..cfg.tiles()).map(|t| vec![t as u8; 2 * wb]).collect();
        let d = digest(&cfg, &tiles).unwrap();
        // Explicit zero padding gives the same digest as none.
        let padded: Vec<Vec<u8>> = tiles
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.resize(cfg.weight_words * wb, 0);
                t
            })
            .collect();
        assert_eq!(digest(&cfg, &padded).unwrap(), d);
        let mut other = tiles.clone();
        other[3][wb + 5] ^= 0x10;
        assert_ne!(digest(&cfg, &other).unwrap(), d);
        // Swapping two tiles changes it too.
        let mut swapped = tiles.clone();
        swapped.swap(1, 2);
        assert_ne!(digest(&cfg, &swapped).unwrap(), d);
        // FNV-1a of no bytes is its offset basis; of "a", the published value.
        assert_eq!(fnv1a(0x811c_9dc5, b"a"), 0xe40c_292c);
        assert!(digest(&cfg, &tiles[..2]).is_err());
        assert!(tile_hex(&cfg, &vec![0u8; (cfg.weight_words + 1) * wb]).is_err());
    }
}
