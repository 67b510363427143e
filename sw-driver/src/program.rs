//! Descriptors (`docs/architecture.md`, descriptor format): opcodes, error codes and their
//! encoding into stream packets. The opcode and error-code numbers live here only; a unit test
//! checks them against `rtl/pkg/tessera_pkg.sv`.

use std::fmt;

use crate::config::ChipConfig;
use crate::transport::bytes_to_words;

/// Descriptor opcodes (`tessera_pkg::opcode_e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Nop = 0x00,
    Matvec = 0x01,
    WeightLoad = 0x02,
    VbufLoad = 0x03,
    VbufRead = 0x04,
    Fence = 0x05,
    PerfSnapshot = 0x06,
}

impl Opcode {
    pub const ALL: [Opcode; 7] = [
        Opcode::Nop,
        Opcode::Matvec,
        Opcode::WeightLoad,
        Opcode::VbufLoad,
        Opcode::VbufRead,
        Opcode::Fence,
        Opcode::PerfSnapshot,
    ];

    /// The name in `tessera_pkg` (`OpMatvec`, ...) without the `Op` prefix.
    pub fn pkg_name(self) -> &'static str {
        match self {
            Opcode::Nop => "Nop",
            Opcode::Matvec => "Matvec",
            Opcode::WeightLoad => "WeightLoad",
            Opcode::VbufLoad => "VbufLoad",
            Opcode::VbufRead => "VbufRead",
            Opcode::Fence => "Fence",
            Opcode::PerfSnapshot => "PerfSnapshot",
        }
    }
}

/// Device error codes (`ERROR.code`, `tessera_pkg::err_code_e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    None,
    Opcode,
    Shape,
    WeightRange,
    AbufRange,
    RbufRange,
    TileRange,
    StreamShort,
    StreamLong,
    CmdOverflow,
    Tile,
    /// A code this driver does not know.
    Unknown(u8),
}

impl ErrorCode {
    pub const KNOWN: [ErrorCode; 11] = [
        ErrorCode::None,
        ErrorCode::Opcode,
        ErrorCode::Shape,
        ErrorCode::WeightRange,
        ErrorCode::AbufRange,
        ErrorCode::RbufRange,
        ErrorCode::TileRange,
        ErrorCode::StreamShort,
        ErrorCode::StreamLong,
        ErrorCode::CmdOverflow,
        ErrorCode::Tile,
    ];

    pub fn from_u8(v: u8) -> ErrorCode {
        ErrorCode::KNOWN
            .iter()
            .copied()
            .find(|c| c.code() == v)
            .unwrap_or(ErrorCode::Unknown(v))
    }

    pub fn code(self) -> u8 {
        match self {
            ErrorCode::None => 0x00,
            ErrorCode::Opcode => 0x01,
            ErrorCode::Shape => 0x02,
            ErrorCode::WeightRange => 0x03,
            ErrorCode::AbufRange => 0x04,
            ErrorCode::RbufRange => 0x05,
            ErrorCode::TileRange => 0x06,
            ErrorCode::StreamShort => 0x07,
            ErrorCode::StreamLong => 0x08,
            ErrorCode::CmdOverflow => 0x09,
            ErrorCode::Tile => 0x0a,
            ErrorCode::Unknown(v) => v,
        }
    }

    /// The name in `tessera_pkg` (`ErrShape`, ...).
    pub fn pkg_name(self) -> String {
        match self {
            ErrorCode::None => "ErrNone".into(),
            ErrorCode::Unknown(v) => format!("unknown {v:#04x}"),
            c => format!("Err{c:?}"),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} ({})", self.code(), self.pkg_name())
    }
}

/// One descriptor: a header of eight words (`w0[7:0]` the opcode) and a payload of whole beats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub header: [u32; 8],
    pub payload: Vec<u32>,
}

impl Descriptor {
    fn new(op: Opcode, fields: &[u32]) -> Descriptor {
        let mut header = [0u32; 8];
        header[0] = op as u32;
        header[1..=fields.len()].copy_from_slice(fields);
        Descriptor {
            header,
            payload: Vec::new(),
        }
    }

    pub fn opcode(&self) -> u8 {
        (self.header[0] & 0xff) as u8
    }

    pub fn nop() -> Descriptor {
        Self::new(Opcode::Nop, &[])
    }

    /// MATVEC: weight `base`, `groups` (G) and `chunks` (C) per tile, `lg_pk`, ABUF chunk
    /// `input`, RBUF word `out`.
    pub fn matvec(
        base: u32,
        groups: u32,
        chunks: u32,
        lg_pk: u32,
        input: u32,
        out: u32,
    ) -> Descriptor {
        Self::new(Opcode::Matvec, &[base, groups, chunks, lg_pk, input, out])
    }

    /// WEIGHT_LOAD of tiles `first ..= last` at `base`, `words` per tile; `data` holds the
    /// weight words of the tiles in order (`(last − first + 1) × words × Lanes·KWidth` bytes).
    pub fn weight_load(first: u32, last: u32, base: u32, words: u32, data: &[u8]) -> Descriptor {
        let mut d = Self::new(Opcode::WeightLoad, &[first, last, base, words]);
        d.payload = bytes_to_words(data);
        d
    }

    /// VBUF_LOAD of `x` at ABUF chunk `addr`, zero-padded to `chunks` chunks.
    pub fn vbuf_load(cfg: &ChipConfig, addr: u32, chunks: u32, x: &[i8]) -> Descriptor {
        let mut bytes = vec![0u8; chunks as usize * cfg.kwidth];
        for (d, v) in bytes.iter_mut().zip(x) {
            *d = *v as u8;
        }
        let mut d = Self::new(Opcode::VbufLoad, &[addr, chunks]);
        d.payload = bytes_to_words(&bytes);
        d
    }

    /// VBUF_READ of `words` result words at RBUF word `addr`.
    pub fn vbuf_read(addr: u32, words: u32) -> Descriptor {
        Self::new(Opcode::VbufRead, &[addr, words])
    }

    pub fn fence() -> Descriptor {
        Self::new(Opcode::Fence, &[])
    }

    pub fn perf_snapshot() -> Descriptor {
        Self::new(Opcode::PerfSnapshot, &[])
    }

    /// Header words on the command stream: eight words padded to whole beats
    /// (`max(1, 256 / StreamWidth)` beats).
    pub fn header_words(&self, cfg: &ChipConfig) -> Vec<u32> {
        let bw = cfg.beat_words();
        let mut w = self.header.to_vec();
        w.resize(8usize.div_ceil(bw) * bw, 0);
        w
    }

    /// The whole packet (header then payload); send it with `tlast` on its last beat.
    pub fn packet(&self, cfg: &ChipConfig) -> Vec<u32> {
        let mut w = self.header_words(cfg);
        w.extend_from_slice(&self.payload);
        w
    }

    /// Output beats this descriptor produces (VBUF_READ only).
    pub fn output_beats(&self, cfg: &ChipConfig) -> usize {
        if self.opcode() == Opcode::VbufRead as u8 {
            self.header[2] as usize * cfg.lanes * 32 / cfg.stream_width
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name = 8'hNN` pairs of an enum in `tessera_pkg.sv`.
    fn pkg_values(prefix: &str) -> Vec<(String, u8)> {
        let path = crate::config::repo_root().join("rtl/pkg/tessera_pkg.sv");
        let text = std::fs::read_to_string(path).unwrap();
        let mut out = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix(prefix) {
                if let Some((name, val)) = rest.split_once('=') {
                    let v = val
                        .trim()
                        .trim_end_matches(|c: char| c != 'h' && !c.is_ascii_hexdigit());
                    let hex = val.split("'h").nth(1).unwrap_or(v);
                    let hex: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                    out.push((
                        name.trim().to_string(),
                        u8::from_str_radix(&hex, 16).unwrap(),
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn opcodes_match_the_rtl_package() {
        let pkg = pkg_values("Op");
        assert!(!pkg.is_empty(), "no Op* values found in tessera_pkg.sv");
        for op in Opcode::ALL {
            let v = pkg
                .iter()
                .find(|(n, _)| n == op.pkg_name())
                .unwrap_or_else(|| panic!("Op{} not in tessera_pkg.sv", op.pkg_name()));
            assert_eq!(v.1, op as u8, "{op:?}");
        }
    }

    #[test]
    fn error_codes_match_the_rtl_package() {
        let pkg = pkg_values("Err");
        for c in ErrorCode::KNOWN {
            let name = c.pkg_name();
            let v = pkg
                .iter()
                .find(|(n, _)| format!("Err{n}") == name)
                .unwrap_or_else(|| panic!("{name} not in tessera_pkg.sv"));
            assert_eq!(v.1, c.code(), "{name}");
        }
    }

    #[test]
    fn packets_fill_whole_beats() {
        let tiny = ChipConfig::named("tiny").unwrap();
        let d = Descriptor::vbuf_load(&tiny, 3, 2, &[1, -1, 2]);
        let p = d.packet(&tiny);
        assert_eq!(p.len(), 8 + 4);
        assert_eq!(p[0], 3);
        assert_eq!(p[1], 3);
        assert_eq!(p[2], 2);
        assert_eq!(p[8], 0x0002_ff01);
        let sim = ChipConfig::named("sim").unwrap();
        assert_eq!(Descriptor::fence().packet(&sim).len(), 8);
        assert_eq!(Descriptor::vbuf_read(0, 4).output_beats(&sim), 4);
        assert_eq!(Descriptor::vbuf_read(0, 4).output_beats(&tiny), 8);
    }
}
