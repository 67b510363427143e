//! Chip configurations: the named ones of `rtl/top/configs.toml`, or what a chip reports in its
//! `CFG_*` registers ([`crate::Device::open`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The repository root: `$TESSERA_ROOT`, else the workspace this crate was built in.
pub fn repo_root() -> PathBuf {
    if let Some(r) = std::env::var_os("TESSERA_ROOT") {
        return PathBuf::from(r);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Byte of a weight word that holds lane `lane`, element `elem` in a tile of `lanes` lanes:
/// words are element-major, the `Lanes` weights of element 0, then of element 1, and so on
/// (docs/architecture.md). The one definition of the layout, for the driver and the verification
/// models alike.
pub fn weight_byte(lanes: usize, lane: usize, elem: usize) -> usize {
    elem * lanes + lane
}

/// Build parameters of a chip (`docs/architecture.md`, parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChipConfig {
    /// Configuration name (`tiny`, `sim`, `t1-8b`), or `chip` when read from registers.
    pub name: String,
    pub grid_rows: usize,
    pub grid_cols: usize,
    pub lanes: usize,
    pub kwidth: usize,
    pub weight_words: usize,
    pub act_words: usize,
    pub abuf_words: usize,
    pub rbuf_words: usize,
    pub stream_width: usize,
}

impl ChipConfig {
    /// The configuration `name` from `rtl/top/configs.toml` of [`repo_root`].
    pub fn named(name: &str) -> Result<ChipConfig> {
        let path = repo_root().join("rtl/top/configs.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Self::from_toml(&text, name)
    }

    /// Names of the configurations in `rtl/top/configs.toml`.
    pub fn names() -> Result<Vec<String>> {
        let path = repo_root().join("rtl/top/configs.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Ok(sections(&text).into_iter().map(|(n, _)| n).collect())
    }

    /// Parses section `name` of a `configs.toml` text (integer keys only).
    pub fn from_toml(text: &str, name: &str) -> Result<ChipConfig> {
        let (_, params) = sections(text)
            .into_iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Config(format!("no configuration `{name}` in configs.toml")))?;
        let get = |k: &str| -> Result<usize> {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| *v as usize)
                .ok_or_else(|| Error::Config(format!("`{name}` has no {k}")))
        };
        let c = ChipConfig {
            name: name.to_string(),
            grid_rows: get("GridRows")?,
            grid_cols: get("GridCols")?,
            lanes: get("Lanes")?,
            kwidth: get("KWidth")?,
            weight_words: get("WeightWords")?,
            act_words: get("ActWords")?,
            abuf_words: get("AbufWords")?,
            rbuf_words: get("RbufWords")?,
            stream_width: get("StreamWidth")?,
        };
        c.check()?;
        Ok(c)
    }

    /// The Verilator `-G` parameters of this configuration.
    pub fn params(&self) -> Vec<(String, u64)> {
        [
            ("GridRows", self.grid_rows),
            ("GridCols", self.grid_cols),
            ("Lanes", self.lanes),
            ("KWidth", self.kwidth),
            ("WeightWords", self.weight_words),
            ("ActWords", self.act_words),
            ("AbufWords", self.abuf_words),
            ("RbufWords", self.rbuf_words),
            ("StreamWidth", self.stream_width),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v as u64))
        .collect()
    }

    /// Checks the rules the driver relies on (the RTL's elaboration-time ranges).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::UnsupportedConfig(m));
        let n = self.tiles();
        if n == 0 || !n.is_power_of_two() || n > 65536 {
            return bad(format!("{n} tiles: must be a power of two up to 65536"));
        }
        if self.lanes == 0 || self.kwidth == 0 || self.weight_words == 0 || self.act_words == 0 {
            return bad("zero Lanes, KWidth, WeightWords or ActWords".into());
        }
        if self.abuf_words < 2 || self.rbuf_words < 2 {
            return bad("AbufWords and RbufWords must be at least 2".into());
        }
        let sw = self.stream_width;
        if !sw.is_power_of_two()
            || sw < 32
            || sw > (self.kwidth * 8).min(self.lanes * 32)
            || (self.kwidth * 8) % sw != 0
            || (self.lanes * 32) % sw != 0
        {
            return bad(format!(
                "stream width {sw}: must be a power of two, 32 <= width <= min(KWidth*8, Lanes*32)"
            ));
        }
        Ok(())
    }

    pub fn tiles(&self) -> usize {
        self.grid_rows * self.grid_cols
    }

    /// log2 of the tile count.
    pub fn lg_tiles(&self) -> u32 {
        self.tiles().trailing_zeros()
    }

    /// Bytes of one tile weight word (`Lanes × KWidth` int8).
    pub fn word_bytes(&self) -> usize {
        self.lanes * self.kwidth
    }

    /// Byte of a weight word that holds lane `lane`, element `elem` ([`weight_byte`]).
    pub fn weight_byte(&self, lane: usize, elem: usize) -> usize {
        weight_byte(self.lanes, lane, elem)
    }

    /// 32-bit words per stream beat.
    pub fn beat_words(&self) -> usize {
        self.stream_width / 32
    }

    /// MACs per cycle of the whole chip.
    pub fn macs_per_cycle(&self) -> usize {
        self.tiles() * self.lanes * self.kwidth
    }

    /// Weight bytes the chip holds.
    pub fn weight_bytes(&self) -> u64 {
        self.tiles() as u64 * self.weight_words as u64 * self.word_bytes() as u64
    }
}

/// `(section, [(key, value)])` of a `configs.toml` text, in order.
fn sections(text: &str) -> Vec<(String, Vec<(String, u64)>)> {
    let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            let name = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            out.push((name, Vec::new()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once('='), out.last_mut()) {
            if let Ok(v) = v.trim().parse::<u64>() {
                last.1.push((k.trim().to_string(), v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_configs_parse() {
        let tiny = ChipConfig::named("tiny").unwrap();
        assert_eq!(tiny.tiles(), 4);
        assert_eq!(tiny.word_bytes(), 32);
        assert_eq!(tiny.beat_words(), 2);
        let sim = ChipConfig::named("sim").unwrap();
        assert_eq!(sim.macs_per_cycle(), 4096);
        assert!(ChipConfig::named("nonesuch").is_err());
    }
}
