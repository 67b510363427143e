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
//! The same words also go into a SystemVerilog package, [`PACKAGE_FILE`] ([`package_sv`]): the
//! synthesizable form of the image (Yosys has no `$readmemh`), which `tessera_top` compiles in
//! when `TESSERA_WEIGHT_ROM_PKG` is defined.
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

/// The name of the package file `tessera rom-image` writes beside the tile images.
pub const PACKAGE_FILE: &str = "tessera_weight_rom_pkg.sv";

/// The name of the package in [`PACKAGE_FILE`].
pub const PACKAGE_NAME: &str = "tessera_weight_rom_pkg";

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

/// The stored code word of weight word `data` in hexadecimal, most significant digit first.
fn code_hex(data: &[u8]) -> String {
    let stored = data.len() + data.len() / 8;
    let code = ecc::stored_word(data);
    code[..stored]
        .iter()
        .rev()
        .map(|b| format!("{b:02x}"))
        .collect()
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
        out.push_str(&code_hex(data));
        out.push('\n');
    }
    Ok(out)
}

/// The SystemVerilog package [`PACKAGE_NAME`] of the weight images `tiles` (as for [`digest`]):
/// `Tiles`, `Words` (`cfg.weight_words`), `WordBits` (data bits of a weight word), `StoredBits`
/// (with the check bits), `Digest`, and `Image`, the stored code words of every tile as
/// [`tile_hex`] writes them: word `w` of tile `t` in `Image[t][w]`, one packed value per tile
/// (the form both Verilator and Yosys's read_slang pass down as a parameter).
///
/// Each tile is a concatenation, word `Words - 1` first, so that no tool's reading of indexed
/// assignment patterns of packed arrays matters (read_slang and Verilator 5.006 disagree on
/// which element `'{0: ...}` names). Zero words are written `'h0`.
pub fn package_sv(cfg: &ChipConfig, tiles: &[Vec<u8>]) -> Result<String> {
    let digest = digest(cfg, tiles)?;
    let wb = cfg.word_bytes();
    let stored_bits = 8 * (wb + wb / 8);
    let mut out = format!(
        "// Weight ROM image of configuration `{name}` (docs/architecture.md, \"Weights in ROM\"),\n\
         // written by `tessera rom-image`: the stored code words (data and ECC check bits) of\n\
         // every tile's weight memory, as in tile<t>.hex. Compile it ahead of the design with\n\
         // TESSERA_WEIGHT_ROM_PKG defined. Word w of tile t is Image[t][w]; each tile is a\n\
         // concatenation, its last word first.\n\
         package {PACKAGE_NAME};\n\
         \x20 localparam int unsigned Tiles      = {tiles};\n\
         \x20 localparam int unsigned Words      = {words};\n\
         \x20 localparam int unsigned WordBits   = {word_bits};\n\
         \x20 localparam int unsigned StoredBits = {stored_bits};\n\
         \x20 localparam int unsigned Digest     = 32'h{digest:08x};\n\
         \x20 localparam logic [Words-1:0][StoredBits-1:0] Image [Tiles] = '{{\n",
        name = cfg.name,
        tiles = cfg.tiles(),
        words = cfg.weight_words,
        word_bits = 8 * wb,
    );
    let zero = vec![0u8; wb];
    for (t, img) in tiles.iter().enumerate() {
        out.push_str(&format!("    // tile {t}\n    {{\n"));
        for w in (0..cfg.weight_words).rev() {
            let data = img.get(w * wb..(w + 1) * wb).unwrap_or(&zero);
            let code = if data.iter().all(|&b| b == 0) {
                "0".to_string()
            } else {
                code_hex(data)
            };
            let sep = if w > 0 { "," } else { "" };
            out.push_str(&format!("      {stored_bits}'h{code}{sep} // {w}\n"));
        }
        let sep = if t + 1 < tiles.len() { "," } else { "" };
        out.push_str(&format!("    }}{sep}\n"));
    }
    out.push_str("  };\nendpackage\n");
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

    /// The stored code words of every tile read back from a [`package_sv`] text: for each tile,
    /// `words` hexadecimal words as [`tile_hex`] writes them. Reads only the layout
    /// [`package_sv`] writes (a check of the generator, not a SystemVerilog parser): in each
    /// tile, one `<StoredBits>'h<digits>` per line, last word first, each line's comment its
    /// index.
    fn parse_package_sv(text: &str, tiles: usize, words: usize) -> Vec<Vec<String>> {
        let width: usize = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("localparam int unsigned StoredBits = ")
            })
            .and_then(|v| v.trim_end_matches(';').parse().ok())
            .expect("StoredBits");
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut next = 0usize;
        for line in text.lines().map(str::trim) {
            if line == "{" {
                out.push(vec![String::new(); words]);
                next = words;
            } else if let Some(rest) = line.strip_prefix(&format!("{width}'h")) {
                let (v, idx) = rest.split_once(" // ").expect("index comment");
                let v = v.trim_end_matches(',');
                assert!(next > 0, "more than {words} words");
                next -= 1;
                assert_eq!(idx.parse::<usize>().unwrap(), next, "word order");
                assert!(v.len() == width / 4 || v == "0", "word {next}: {v}");
                let cur = out.last_mut().expect("a word outside a tile");
                cur[next] = format!("{:0>w$}", v, w = width / 4);
            }
        }
        assert_eq!(out.len(), tiles);
        assert_eq!(next, 0, "a tile short of words");
        out
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
    fn abi_rom_package_holds_the_hex_images_word_for_word() {
        let cfg = tiny();
        let wb = cfg.word_bytes();
        // Tile t: 3 + t words, word 1 of tile 2 zero, the bytes all different.
        let mut tiles: Vec<Vec<u8>> = (0..cfg.tiles())
            .map(|t| {
                (0..(3 + t) * wb)
                    .map(|i| (i * 13 + t * 7 + 1) as u8)
                    .collect()
            })
            .collect();
        tiles[2][wb..2 * wb].fill(0);
        let text = package_sv(&cfg, &tiles).unwrap();
        let d = digest(&cfg, &tiles).unwrap();
        assert!(
            text.contains(&format!("Digest     = 32'h{d:08x};")),
            "{text}"
        );
        assert!(text.contains("localparam int unsigned Tiles      = 4;"));
        assert!(text.contains("localparam int unsigned Words      = 256;"));
        assert!(text.contains("localparam int unsigned WordBits   = 256;"));
        let words = parse_package_sv(&text, cfg.tiles(), cfg.weight_words);
        for (t, img) in tiles.iter().enumerate() {
            let hex = tile_hex(&cfg, img).unwrap();
            let lines: Vec<&str> = hex.lines().collect();
            assert_eq!(words[t], lines, "tile {t}");
        }
        // Zero words (word 1 of tile 2, the padding) are written short.
        assert!(text.contains("      288'h0, // 1\n"));
        assert!(text.contains("      288'h0, // 255\n"));
        assert!(package_sv(&cfg, &tiles[..3]).is_err());
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
