//! Chip configurations: the named ones of `rtl/top/configs.toml`, compiled into this crate, or
//! what a chip reports in its `CFG_*` registers (the driver's `Device::open`).

use crate::error::{Error, Result};

/// The text of `rtl/top/configs.toml`, the one source of the named chip configurations (lint,
/// simulation builds and synthesis pass each key of a section as a `-G` parameter).
pub const CHIP_CONFIGS_TOML: &str = include_str!("../../../rtl/top/configs.toml");

/// The text of `rtl/configs.toml`: the named parameter sets of the tile alone.
pub const TILE_CONFIGS_TOML: &str = include_str!("../../../rtl/configs.toml");

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
    /// Token engine: words of the vector memory (binary32).
    pub vmem_words: usize,
    /// Token engine: 32-bit words of the data memory (constants and KV caches).
    pub dmem_words: usize,
    /// Token engine: instructions of the program memory.
    pub prog_instrs: usize,
    /// Token engine: the largest context a ROPE, KV_APPEND or ATTEND may name.
    pub context: usize,
    /// Token engine: the largest head_dim of an ATTEND.
    pub head_dim_max: usize,
    /// Token engine: registers inside its arithmetic units (`FpStages`, 0 or 1; optional in a
    /// section, 0 when absent). With 1 a state that takes a unit's result runs two cycles and
    /// the sequenced `vec_fn` two per step.
    pub fp_stages: usize,
}

/// Largest `Lanes` and `KWidth` (`StreamWidth`: 32 times this).
const MAX_WIDTH: usize = 1 << 12;
/// Largest `WeightWords`, `ActWords`, `AbufWords` and `RbufWords`.
const MAX_WORDS: usize = 1 << 23;
/// The token engine's ranges (`rtl/tok/tok_engine.sv`, elaboration-time assertions): largest
/// `VmemWords`, `DmemWords` (2 GiB), `ProgInstrs` (its words, 8 per instruction, below 2^32),
/// `Context` (ours: a bound far above any real chip) and `HeadDimMax`.
const MAX_VMEM_WORDS: usize = 1 << 24;
const MAX_DMEM_WORDS: usize = 1 << 29;
const MAX_PROG_INSTRS: usize = 1 << 24;
const MAX_CONTEXT: usize = 1 << 24;
const MAX_HEAD_DIM: usize = 4096;

/// The keys of a chip configuration section, in the order of [`ChipConfig::params`]: the nine
/// of the descriptor machine ([`CHIP_KEYS`] of them, which a chip reports in its `CFG_*`
/// registers), then the five of the token engine, then the optional [`FP_STAGES`].
const KEYS: [&str; 15] = [
    "GridRows",
    "GridCols",
    "Lanes",
    "KWidth",
    "WeightWords",
    "ActWords",
    "AbufWords",
    "RbufWords",
    "StreamWidth",
    "VmemWords",
    "DmemWords",
    "ProgInstrs",
    "Context",
    "HeadDimMax",
    FP_STAGES,
];

/// The optional key of the token engine's unit registers: 0 when a section leaves it out, and
/// left out of [`ChipConfig::params`] when 0.
const FP_STAGES: &str = "FpStages";

/// How many of [`KEYS`] a chip reports in its `CFG_*` registers (the first ones).
pub const CHIP_KEYS: usize = 9;

/// The sections of a configurations text, in file order, each as a TOML table.
fn tables(text: &str, what: &str) -> Result<toml::Table> {
    toml::from_str(text).map_err(|e| Error::Config(format!("{what}: {}", e.message())))
}

/// The `-G` parameters of one configuration, `(key, value)` in file order.
pub type Params = Vec<(String, u64)>;

/// `(name, [(key, value)])` of every section of a configurations text, in file order: the
/// parameters each tool passes as `-G<key>=<value>`.
pub fn sections(text: &str, what: &str) -> Result<Vec<(String, Params)>> {
    let mut out = Vec::new();
    for (name, section) in tables(text, what)? {
        let toml::Value::Table(t) = section else {
            return Err(Error::Config(format!("{what}: `{name}` is not a section")));
        };
        let mut params = Vec::new();
        for (k, v) in t {
            let v = v
                .as_integer()
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| {
                    Error::Config(format!("{what}: [{name}] {k}: not a whole number >= 0"))
                })?;
            params.push((k, v));
        }
        out.push((name, params));
    }
    Ok(out)
}

/// The `-G` parameters of the tile configuration `name` (`rtl/configs.toml`).
pub fn tile_params(name: &str) -> Result<Params> {
    sections(TILE_CONFIGS_TOML, "rtl/configs.toml")?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            Error::Config(format!(
                "no tile configuration `{name}` in rtl/configs.toml"
            ))
        })
}

impl ChipConfig {
    /// The configuration `name` of `rtl/top/configs.toml`.
    pub fn named(name: &str) -> Result<ChipConfig> {
        Self::from_toml(CHIP_CONFIGS_TOML, name)
    }

    /// Names of the configurations in `rtl/top/configs.toml`, in file order.
    pub fn names() -> Vec<String> {
        // The compiled-in text parses (the crate's tests read every section).
        tables(CHIP_CONFIGS_TOML, "rtl/top/configs.toml")
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Parses section `name` of a `configs.toml` text.
    pub fn from_toml(text: &str, name: &str) -> Result<ChipConfig> {
        let (_, params) = sections(text, "configs.toml")?
            .into_iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Config(format!("no configuration `{name}` in configs.toml")))?;
        if let Some((k, _)) = params.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
            return Err(Error::Config(format!("[{name}] {k}: not a chip parameter")));
        }
        let get = |key: &str| -> Result<usize> {
            let (_, v) = params
                .iter()
                .find(|(k, _)| k == key)
                .ok_or_else(|| Error::Config(format!("[{name}] has no {key}")))?;
            usize::try_from(*v)
                .map_err(|_| Error::Config(format!("[{name}] {key}: {v} is too large")))
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
            vmem_words: get("VmemWords")?,
            dmem_words: get("DmemWords")?,
            prog_instrs: get("ProgInstrs")?,
            context: get("Context")?,
            head_dim_max: get("HeadDimMax")?,
            fp_stages: if params.iter().any(|(k, _)| k == FP_STAGES) {
                get(FP_STAGES)?
            } else {
                0
            },
        };
        c.check()?;
        Ok(c)
    }

    /// The named configuration whose [`CHIP_KEYS`] parameters (those a chip reports in its
    /// `CFG_*` registers) equal `self`'s, in file order; `None` when none does.
    pub fn named_match(&self) -> Option<ChipConfig> {
        let mine = self.params();
        Self::names()
            .iter()
            .filter_map(|n| Self::named(n).ok())
            .find(|c| c.params()[..CHIP_KEYS] == mine[..CHIP_KEYS])
    }

    /// `self` with the token engine's parameters of `other`.
    pub fn with_engine_of(mut self, other: &ChipConfig) -> ChipConfig {
        self.vmem_words = other.vmem_words;
        self.dmem_words = other.dmem_words;
        self.prog_instrs = other.prog_instrs;
        self.context = other.context;
        self.head_dim_max = other.head_dim_max;
        self.fp_stages = other.fp_stages;
        self
    }

    /// The Verilator `-G` parameters of this configuration.
    pub fn params(&self) -> Params {
        let values = [
            self.grid_rows,
            self.grid_cols,
            self.lanes,
            self.kwidth,
            self.weight_words,
            self.act_words,
            self.abuf_words,
            self.rbuf_words,
            self.stream_width,
            self.vmem_words,
            self.dmem_words,
            self.prog_instrs,
            self.context,
            self.head_dim_max,
            self.fp_stages,
        ];
        KEYS.iter()
            .zip(values)
            .filter(|&(k, v)| *k != FP_STAGES || v != 0)
            .map(|(k, v)| (k.to_string(), v as u64))
            .collect()
    }

    /// Checks the rules the driver relies on (the RTL's elaboration-time ranges).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Unsupported(m));
        let n = self.grid_rows.checked_mul(self.grid_cols).unwrap_or(0);
        if n == 0 || !n.is_power_of_two() || n > 65536 {
            return bad(format!("{n} tiles: must be a power of two up to 65536"));
        }
        if self.lanes == 0 || self.kwidth == 0 || self.weight_words == 0 || self.act_words == 0 {
            return bad("zero Lanes, KWidth, WeightWords or ActWords".into());
        }
        // Bounds far above any real chip that keep every derived size (bytes of the weight
        // memory, MACs per cycle, beats of a read-back) from overflowing.
        for (key, v, max) in [
            ("Lanes", self.lanes, MAX_WIDTH),
            ("KWidth", self.kwidth, MAX_WIDTH),
            ("StreamWidth", self.stream_width, MAX_WIDTH * 32),
            ("WeightWords", self.weight_words, MAX_WORDS),
            ("ActWords", self.act_words, MAX_WORDS),
            ("AbufWords", self.abuf_words, MAX_WORDS),
            ("RbufWords", self.rbuf_words, MAX_WORDS),
            ("VmemWords", self.vmem_words, MAX_VMEM_WORDS),
            ("DmemWords", self.dmem_words, MAX_DMEM_WORDS),
            ("ProgInstrs", self.prog_instrs, MAX_PROG_INSTRS),
            ("Context", self.context, MAX_CONTEXT),
            ("HeadDimMax", self.head_dim_max, MAX_HEAD_DIM),
            (FP_STAGES, self.fp_stages, 1),
        ] {
            if v > max {
                return bad(format!("{key} {v}: must be at most {max}"));
            }
        }
        for (key, v, min) in [
            ("VmemWords", self.vmem_words, 2),
            ("DmemWords", self.dmem_words, 2 * self.beat_words().max(1)),
            ("ProgInstrs", self.prog_instrs, 2),
            ("Context", self.context, 2),
            ("HeadDimMax", self.head_dim_max, 2),
        ] {
            if v < min {
                return bad(format!("{key} {v}: must be at least {min}"));
            }
        }
        for (key, v) in [
            ("DmemWords", self.dmem_words),
            ("ProgInstrs", self.prog_instrs),
        ] {
            if !v.is_power_of_two() {
                return bad(format!("{key} {v}: must be a power of two"));
            }
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

    /// Bytes of the token engine's data memory (`4 · DmemWords`).
    pub fn dmem_bytes(&self) -> u64 {
        4 * self.dmem_words as u64
    }

    /// 32-bit words of the token engine's program memory (`8 · ProgInstrs`).
    pub fn prog_words(&self) -> u64 {
        8 * self.prog_instrs as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_named_configs_parse() {
        let tiny = ChipConfig::named("tiny").unwrap();
        assert_eq!(tiny.tiles(), 4);
        assert_eq!(tiny.word_bytes(), 32);
        assert_eq!(tiny.beat_words(), 2);
        let sim = ChipConfig::named("sim").unwrap();
        assert_eq!(sim.macs_per_cycle(), 4096);
        assert!(ChipConfig::named("nonesuch").is_err());
        // The token engine's sizes.
        assert_eq!(tiny.dmem_bytes(), 4 << 20);
        assert_eq!(tiny.prog_words(), 8 * 1024);
        assert_eq!((tiny.context, tiny.head_dim_max), (256, 128));
        assert_eq!(sim.dmem_bytes(), 128 << 20);
        assert_eq!((sim.vmem_words, sim.context), (262_144, 2048));
        let t1 = ChipConfig::named("t1-8b").unwrap();
        assert_eq!(t1.dmem_bytes(), 2 << 30);
        assert_eq!(t1.context, 4096);
        // The unit registers: the board's engine only; 0 stays out of the -G parameters.
        assert_eq!((tiny.fp_stages, sim.fp_stages, t1.fp_stages), (0, 0, 0));
        let ulx3s = ChipConfig::named("ulx3s").unwrap();
        assert_eq!(ulx3s.fp_stages, 1);
        assert_eq!(ulx3s.params().last().unwrap(), &("FpStages".to_string(), 1));
        assert!(tiny.params().iter().all(|(k, _)| k != "FpStages"));
    }

    #[test]
    fn abi_chip_read_from_registers_takes_the_engine_of_its_match() {
        // What a chip reports: the nine CFG_* parameters, no engine sizes.
        let ulx3s = ChipConfig::named("ulx3s").unwrap();
        let blank = ChipConfig {
            name: "chip".into(),
            vmem_words: 0,
            dmem_words: 0,
            prog_instrs: 0,
            context: 0,
            head_dim_max: 0,
            fp_stages: 0,
            ..ulx3s.clone()
        };
        let m = blank.named_match().unwrap();
        assert_eq!(m.name, "ulx3s");
        let found = blank.clone().with_engine_of(&m);
        assert_eq!(found.params(), ulx3s.params());
        assert_eq!(found.name, "chip");
        // grid4x4 shares tiny's tiles but not its grid.
        let g4 = ChipConfig::named("grid4x4").unwrap();
        assert_eq!(g4.named_match().unwrap().name, "grid4x4");
        let other = ChipConfig {
            weight_words: 123,
            ..g4
        };
        assert_eq!(other.named_match(), None);
    }

    #[test]
    fn abi_every_section_is_a_legal_chip_in_file_order() {
        let names = ChipConfig::names();
        assert_eq!(&names[..2], ["tiny", "sim"]);
        assert!(names.iter().any(|n| n == "t1-8b"));
        for n in &names {
            let c = ChipConfig::named(n).unwrap();
            let from_sections = sections(CHIP_CONFIGS_TOML, "chip").unwrap();
            let (_, params) = from_sections.iter().find(|(s, _)| s == n).unwrap();
            assert_eq!(&c.params(), params, "{n}: -G parameters in file order");
        }
        assert_eq!(tile_params("tiny").unwrap()[0], ("Lanes".to_string(), 4));
        assert!(tile_params("nonesuch").is_err());
    }

    #[test]
    fn abi_malformed_configs_are_refused_with_the_field() {
        let good = "[c]\nGridRows = 2\nGridCols = 2\nLanes = 4\nKWidth = 8\nWeightWords = 8\n\
                    ActWords = 8\nAbufWords = 8\nRbufWords = 8\nStreamWidth = 64\n\
                    VmemWords = 64\nDmemWords = 256\nProgInstrs = 16\nContext = 8\n\
                    HeadDimMax = 8\n";
        assert!(ChipConfig::from_toml(good, "c").is_ok());
        let cases = [
            (good.replace("Lanes = 4", "Lanes = -4"), "Lanes"),
            (good.replace("Lanes = 4\n", ""), "Lanes"),
            (good.replace("Lanes = 4", "Lanes = 4\nLanez = 4"), "Lanez"),
            (good.replace("GridRows = 2", "GridRows = 3"), "tiles"),
            (
                good.replace("StreamWidth = 64", "StreamWidth = 48"),
                "stream width",
            ),
            (good.replace("[c]", "[c"), "configs.toml"),
            // Found by fuzzing: sizes whose products overflowed in the checks.
            (
                good.replace("KWidth = 8", "KWidth = 4611686018427387904"),
                "KWidth",
            ),
            (good.replace("Lanes = 4", "Lanes = 8192"), "Lanes"),
            (
                good.replace("WeightWords = 8", "WeightWords = 9223372036854775807"),
                "WeightWords",
            ),
            (
                good.replace("StreamWidth = 64", "StreamWidth = 1099511627776"),
                "StreamWidth",
            ),
            // The token engine's sizes: missing, zero, past their bounds.
            (good.replace("Context = 8\n", ""), "Context"),
            (good.replace("VmemWords = 64", "VmemWords = 0"), "VmemWords"),
            (
                good.replace("ProgInstrs = 16", "ProgInstrs = 0"),
                "ProgInstrs",
            ),
            (
                good.replace("HeadDimMax = 8", "HeadDimMax = 1"),
                "HeadDimMax",
            ),
            (
                good.replace("HeadDimMax = 8", "HeadDimMax = 4098"),
                "HeadDimMax",
            ),
            (
                good.replace("HeadDimMax = 8", "HeadDimMax = 8\nFpStages = 2"),
                "FpStages",
            ),
            (
                good.replace("DmemWords = 256", "DmemWords = 1073741824"),
                "DmemWords",
            ),
            (
                good.replace("DmemWords = 256", "DmemWords = 384"),
                "DmemWords",
            ),
            (
                good.replace("ProgInstrs = 16", "ProgInstrs = 12"),
                "ProgInstrs",
            ),
            (good.replace("Context = 8", "Context = 1"), "Context"),
            (
                good.replace("Context = 8", "Context = 9223372036854775807"),
                "Context",
            ),
        ];
        for (text, needle) in cases {
            let e = ChipConfig::from_toml(&text, "c").unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should name {needle}");
        }
    }
}
