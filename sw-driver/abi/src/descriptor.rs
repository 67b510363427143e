//! Descriptors (`docs/architecture.md`, descriptor format): opcodes, error codes and their
//! encoding into stream packets. The opcode and error-code numbers live here only: the enums
//! `opcode_e` and `err_code_e` of `rtl/pkg/tessera_pkg.sv` are generated from them
//! ([`sv_enums`], `scripts/gen-abi`), and a test fails when the package is stale.
//!
//! A program is descriptors one after the other ([`encode_program`]); [`Descriptor::decode`]
//! and [`decode_program`] read packets and programs back the way the command processor frames
//! them, refusing what it would refuse with the error code it would raise, and never allocating
//! more than the input holds.

use std::fmt;

use crate::config::ChipConfig;
use crate::error::{Error, Result};

/// Packs bytes into little-endian 32-bit words (zero-padded), the order of the stream's beats.
pub fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

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
    EngLoad = 0x07,
    Token = 0x08,
}

impl Opcode {
    pub const ALL: [Opcode; 9] = [
        Opcode::Nop,
        Opcode::Matvec,
        Opcode::WeightLoad,
        Opcode::VbufLoad,
        Opcode::VbufRead,
        Opcode::Fence,
        Opcode::PerfSnapshot,
        Opcode::EngLoad,
        Opcode::Token,
    ];

    /// What the opcode does, as the SV package says it.
    pub fn doc(self) -> &'static str {
        match self {
            Opcode::Nop => "no operation",
            Opcode::Matvec => "matrix-vector product over every tile",
            Opcode::WeightLoad => "weight words to a range of tiles; payload follows",
            Opcode::VbufLoad => "int8 chunks to the activation buffer; payload follows",
            Opcode::VbufRead => "result buffer words to the output stream",
            Opcode::Fence => "wait for every earlier descriptor, then raise INTR_STATUS.done",
            Opcode::PerfSnapshot => "wait for every earlier descriptor, then copy the counters",
            Opcode::EngLoad => "words to the engine's program memory or DMEM; payload follows",
            Opcode::Token => "run the token-engine program for one token (id, position, flags)",
        }
    }

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
            Opcode::EngLoad => "EngLoad",
            Opcode::Token => "Token",
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
    /// Token engine: unknown opcode or a reserved bit set in an instruction.
    Instr,
    /// Token engine: a vector-memory range past the vector memory.
    VmemRange,
    /// Token engine: a data-memory range past the data memory, or a misaligned binary32 array.
    DmemRange,
    /// Token engine: the KV cache is full (`POS` ≥ the context of the program).
    KvFull,
    /// Token engine: `TOKEN` ≥ the rows of the embedding table.
    Token,
    /// Token engine: the program ran past the program memory without END.
    ProgRange,
    /// A double-bit (uncorrectable) ECC error in a tile's weight memory; `ECC_FAIL` names it.
    EccWeight,
    /// A double-bit ECC error in the token engine's data memory, found by the instruction in
    /// `ERROR.descriptor`; `ECC_FAIL` names the word.
    EccData,
    /// WEIGHT_LOAD on a chip whose weights are in ROM (`CFG_WEIGHT_ROM.rom`): its weight
    /// memories have no write port.
    WeightRom,
    /// A code this driver does not know.
    Unknown(u8),
}

impl ErrorCode {
    pub const KNOWN: [ErrorCode; 20] = [
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
        ErrorCode::Instr,
        ErrorCode::VmemRange,
        ErrorCode::DmemRange,
        ErrorCode::KvFull,
        ErrorCode::Token,
        ErrorCode::ProgRange,
        ErrorCode::EccWeight,
        ErrorCode::EccData,
        ErrorCode::WeightRom,
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
            ErrorCode::Instr => 0x0b,
            ErrorCode::VmemRange => 0x0c,
            ErrorCode::DmemRange => 0x0d,
            ErrorCode::KvFull => 0x0e,
            ErrorCode::Token => 0x0f,
            ErrorCode::ProgRange => 0x10,
            ErrorCode::EccWeight => 0x11,
            ErrorCode::EccData => 0x12,
            ErrorCode::WeightRom => 0x13,
            ErrorCode::Unknown(v) => v,
        }
    }

    /// What the code means, as the SV package says it.
    pub fn doc(self) -> &'static str {
        match self {
            ErrorCode::None => "no error",
            ErrorCode::Opcode => "unknown opcode",
            ErrorCode::Shape => "zero or too large a size, or P_k larger than the tile count",
            ErrorCode::WeightRange => "weight words past the weight memory of a tile",
            ErrorCode::AbufRange => "activation buffer address range past the buffer",
            ErrorCode::RbufRange => "result buffer address range past the buffer",
            ErrorCode::TileRange => "tile range empty or past the last tile",
            ErrorCode::StreamShort => "tlast before the end of the descriptor's packet",
            ErrorCode::StreamLong => "no tlast on the last beat of the descriptor's packet",
            ErrorCode::CmdOverflow => "a CMD_FIFO write found the FIFO full",
            ErrorCode::Tile => "a tile flagged an illegal set-up or weight write",
            ErrorCode::Instr => "token engine: unknown opcode or reserved bit set",
            ErrorCode::VmemRange => "token engine: vector memory range past the memory",
            ErrorCode::DmemRange => "token engine: data memory range past the memory or misaligned",
            ErrorCode::KvFull => "token engine: KV cache full (position >= context)",
            ErrorCode::Token => "token engine: token id past the embedding table",
            ErrorCode::ProgRange => "token engine: program ran past its memory without END",
            ErrorCode::EccWeight => "double-bit ECC error in a weight memory (ECC_FAIL)",
            ErrorCode::EccData => "token engine: double-bit ECC error in the data memory",
            ErrorCode::WeightRom => "WEIGHT_LOAD on a chip whose weights are in ROM",
            ErrorCode::Unknown(_) => "a code this driver does not know",
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

/// The memory an ENG_LOAD writes (`w1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum EngSpace {
    /// The token engine's program memory: `8 · ProgInstrs` words, instruction `i` in words
    /// `8i … 8i + 7`.
    Program = 0,
    /// The token engine's data memory: `DmemWords` words, byte `b` in word `b / 4`
    /// (little-endian).
    Dmem = 1,
}

impl EngSpace {
    /// Words the space holds on `cfg`.
    pub fn words(self, cfg: &ChipConfig) -> u64 {
        match self {
            EngSpace::Program => cfg.prog_words(),
            EngSpace::Dmem => cfg.dmem_words as u64,
        }
    }
}

/// TOKEN flag (`w3` bit 0): send the words of every LOGITS instruction on the output stream.
pub const TOKEN_LOGITS: u32 = 1;

/// TOKEN flag (`w3` bit 1): trace. After every instruction but END the engine sends one beat
/// whose word 0 is the cycles the instruction took (from the start of its fetch to its end; the
/// trace beat itself not counted), every other word 0, after the instruction's own LOGITS beats.
pub const TOKEN_TRACE: u32 = 2;

/// Output beats of one LOGITS instruction of `n` words under a TOKEN that asked for logits:
/// `StreamWidth / 32` words per beat, the last beat zero-padded.
pub fn logits_beats(cfg: &ChipConfig, n: u32) -> usize {
    (n as usize).div_ceil(cfg.beat_words().max(1))
}

/// The end of a TOKEN's output, beat by beat: word 0 `NEXT`, word 1 the instructions executed
/// (END included), every other word 0, in one beat; on a 32-bit stream in two, `NEXT` then the
/// count. The last carries `tlast`.
pub fn token_end_beats(cfg: &ChipConfig, next: u32, instrs: u32) -> Vec<Vec<u32>> {
    let bw = cfg.beat_words().max(1);
    if bw == 1 {
        return vec![vec![next], vec![instrs]];
    }
    let mut beat = vec![0u32; bw];
    beat[0] = next;
    beat[1] = instrs;
    vec![beat]
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

    /// ENG_LOAD of `words` into `space` from word `addr` on. The chip takes whole beats only:
    /// `addr` and `words.len()` must be multiples of `StreamWidth / 32` ([`Self::check_engine`]).
    pub fn eng_load(space: EngSpace, addr: u32, words: &[u32]) -> Descriptor {
        let n = u32::try_from(words.len()).unwrap_or(u32::MAX);
        let mut d = Self::new(Opcode::EngLoad, &[space as u32, addr, n]);
        d.payload = words.to_vec();
        d
    }

    /// TOKEN: run the program for token `id` at position `pos`; `logits` sets
    /// [`TOKEN_LOGITS`].
    pub fn token(id: u32, pos: u32, logits: bool) -> Descriptor {
        let flags = if logits { TOKEN_LOGITS } else { 0 };
        Self::new(Opcode::Token, &[id, pos, flags])
    }

    /// The descriptor checks of ENG_LOAD and TOKEN, in the chip's order (`docs/architecture.md`,
    /// checks and error codes); every other descriptor passes (its checks are the command
    /// processor's table). ENG_LOAD: a space past 1, then zero words or an address or word
    /// count that is not whole beats, are `ErrShape`; then `addr + words` past the space is
    /// `ErrProgRange` (program memory) or `ErrDmemRange` (DMEM). TOKEN: a flag other than
    /// [`TOKEN_LOGITS`] and [`TOKEN_TRACE`] is `ErrShape`.
    pub fn check_engine(&self, cfg: &ChipConfig) -> std::result::Result<(), ErrorCode> {
        let h = &self.header;
        match self.opcode() {
            op if op == Opcode::EngLoad as u8 => {
                let space = match h[1] {
                    0 => EngSpace::Program,
                    1 => EngSpace::Dmem,
                    _ => return Err(ErrorCode::Shape),
                };
                let bw = cfg.beat_words().max(1) as u32;
                if h[3] == 0 || h[2] % bw != 0 || h[3] % bw != 0 {
                    return Err(ErrorCode::Shape);
                }
                if u64::from(h[2]) + u64::from(h[3]) > space.words(cfg) {
                    return Err(match space {
                        EngSpace::Program => ErrorCode::ProgRange,
                        EngSpace::Dmem => ErrorCode::DmemRange,
                    });
                }
                Ok(())
            }
            op if op == Opcode::Token as u8 => {
                if h[3] & !(TOKEN_LOGITS | TOKEN_TRACE) != 0 {
                    return Err(ErrorCode::Shape);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Header words on the command stream: eight words padded to whole beats
    /// (`max(1, 256 / StreamWidth)` beats).
    pub fn header_words(&self, cfg: &ChipConfig) -> Vec<u32> {
        let mut w = self.header.to_vec();
        w.resize(Self::header_len(cfg), 0);
        w
    }

    /// The whole packet (header then payload); send it with `tlast` on its last beat.
    pub fn packet(&self, cfg: &ChipConfig) -> Vec<u32> {
        let mut w = self.header_words(cfg);
        w.extend_from_slice(&self.payload);
        w
    }

    /// Output beats this descriptor produces (VBUF_READ only: a TOKEN's depend on the program
    /// it runs, [`logits_beats`] per LOGITS instruction when it asks for logits, then
    /// [`token_end_beats`]).
    pub fn output_beats(&self, cfg: &ChipConfig) -> usize {
        if self.opcode() == Opcode::VbufRead as u8 {
            self.header[2] as usize * cfg.lanes * 32 / cfg.stream_width
        } else {
            0
        }
    }
}

impl Descriptor {
    /// Header words on the command stream for `cfg` (eight words padded to whole beats).
    pub fn header_len(cfg: &ChipConfig) -> usize {
        let bw = cfg.beat_words().max(1);
        8usize.div_ceil(bw) * bw
    }

    /// Payload words the command processor takes after a header: `(last − first + 1) × words`
    /// weight words for WEIGHT_LOAD, `chunks` chunks for VBUF_LOAD, `w3` words for ENG_LOAD,
    /// none otherwise. Refuses an
    /// unknown opcode (`ErrOpcode`) and a WEIGHT_LOAD tile range that is empty or past the last
    /// tile (`ErrTileRange`), as the chip does before it reads a payload.
    pub fn payload_len(header: &[u32; 8], cfg: &ChipConfig) -> Result<usize> {
        let refuse = |code, detail: String| {
            Err(Error::Descriptor {
                index: 0,
                code,
                detail,
            })
        };
        let op = (header[0] & 0xff) as u8;
        let bytes: u64 = match Opcode::ALL.iter().find(|o| **o as u8 == op) {
            None => return refuse(ErrorCode::Opcode, format!("opcode {op:#04x}")),
            Some(Opcode::WeightLoad) => {
                let (first, last) = (u64::from(header[1]), u64::from(header[2]));
                if first > last || last >= cfg.tiles() as u64 {
                    return refuse(
                        ErrorCode::TileRange,
                        format!("tiles {first} ..= {last} of {}", cfg.tiles()),
                    );
                }
                // At most 2^32 tiles × 2^32 words × a word of at most 2^20 bytes: no wrap in
                // u128, and anything past usize is longer than any packet.
                let b =
                    u128::from(last - first + 1) * u128::from(header[4]) * cfg.word_bytes() as u128;
                u64::try_from(b).unwrap_or(u64::MAX)
            }
            Some(Opcode::VbufLoad) => u64::from(header[2]).saturating_mul(cfg.kwidth as u64),
            Some(Opcode::EngLoad) => 4 * u64::from(header[3]),
            Some(_) => 0,
        };
        Ok(usize::try_from(bytes.div_ceil(4)).unwrap_or(usize::MAX))
    }

    /// Decodes one packet (a header padded to whole beats, then the payload, as [`packet`]
    /// writes it and `tlast` delimits it). The header's eight words are kept as they are, so
    /// `decode(&d.packet(cfg), cfg) == Ok(d)` for every descriptor whose payload has the
    /// length its header announces; beat padding past the eight words is ignored, as the chip
    /// ignores it. Errors: `ErrOpcode`, `ErrTileRange`, `ErrStreamShort` (the packet ends
    /// before its header or payload does), `ErrStreamLong` (words past the payload).
    ///
    /// [`packet`]: Descriptor::packet
    pub fn decode(packet: &[u32], cfg: &ChipConfig) -> Result<Descriptor> {
        let (d, used) = Self::decode_prefix(packet, cfg)?;
        if used != packet.len() {
            return Err(Error::Descriptor {
                index: 0,
                code: ErrorCode::StreamLong,
                detail: format!(
                    "{} words past the end of the packet ({used} words)",
                    packet.len() - used
                ),
            });
        }
        Ok(d)
    }

    /// Decodes the descriptor that starts `words`; returns it and the words it used.
    fn decode_prefix(words: &[u32], cfg: &ChipConfig) -> Result<(Descriptor, usize)> {
        let short = |detail: String| Error::Descriptor {
            index: 0,
            code: ErrorCode::StreamShort,
            detail,
        };
        let hl = Self::header_len(cfg);
        let header: [u32; 8] = match words.get(..8) {
            Some(h) if words.len() >= hl => h.try_into().expect("eight words"),
            _ => {
                return Err(short(format!(
                    "{} words: a header is {hl} words",
                    words.len()
                )))
            }
        };
        let n = Self::payload_len(&header, cfg)?;
        let payload = words
            .get(hl..)
            .and_then(|rest| rest.get(..n))
            .ok_or_else(|| {
                short(format!(
                    "{} payload words: the header announces {n}",
                    words.len() - hl
                ))
            })?;
        let d = Descriptor {
            header,
            payload: payload.to_vec(),
        };
        Ok((d, hl + n))
    }
}

/// A program: the packets of `descriptors` one after the other.
pub fn encode_program(descriptors: &[Descriptor], cfg: &ChipConfig) -> Vec<u32> {
    descriptors.iter().flat_map(|d| d.packet(cfg)).collect()
}

/// Reads a program back into descriptors, each packet's length taken from its header as the
/// command processor takes it. An error names the descriptor (`index`) and the code the chip
/// would raise; a program that ends inside a packet is `ErrStreamShort`.
pub fn decode_program(words: &[u32], cfg: &ChipConfig) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < words.len() {
        let (d, used) = Descriptor::decode_prefix(&words[at..], cfg).map_err(|e| match e {
            Error::Descriptor { code, detail, .. } => Error::Descriptor {
                index: out.len(),
                code,
                detail: format!("at word {at}: {detail}"),
            },
            other => other,
        })?;
        out.push(d);
        at += used;
    }
    Ok(out)
}

/// First and last line of the generated part of `rtl/pkg/tessera_pkg.sv`.
pub const SV_BEGIN: &str =
    "  // BEGIN generated from sw-driver/abi/src/descriptor.rs by scripts/gen-abi: do not edit.";
pub const SV_END: &str = "  // END generated.";

/// The SV text of `opcode_e`, `err_code_e` and the token engine's `tok_op_e` (between
/// [`SV_BEGIN`] and [`SV_END`]).
pub fn sv_enums() -> String {
    fn block(out: &mut String, title: &str, items: &[(String, u8, &str)], name: &str) {
        let width = items.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
        out.push_str(&format!("  // {title}\n  typedef enum logic [7:0] {{\n"));
        for (i, (n, v, doc)) in items.iter().enumerate() {
            let comma = if i + 1 < items.len() { "," } else { " " };
            out.push_str(&format!("    {n:width$} = 8'h{v:02x}{comma}  // {doc}\n"));
        }
        out.push_str(&format!("  }} {name};\n"));
    }
    let ops: Vec<_> = Opcode::ALL
        .iter()
        .map(|o| (format!("Op{}", o.pkg_name()), *o as u8, o.doc()))
        .collect();
    let errs: Vec<_> = ErrorCode::KNOWN
        .iter()
        .map(|c| (c.pkg_name(), c.code(), c.doc()))
        .collect();
    let mut out = String::new();
    block(&mut out, "Descriptor opcodes.", &ops, "opcode_e");
    out.push('\n');
    block(
        &mut out,
        "Error codes reported in ERROR.code.",
        &errs,
        "err_code_e",
    );
    out.push('\n');
    let toks: Vec<_> = crate::token::TokOp::ALL
        .iter()
        .map(|o| (o.pkg_name(), *o as u8, o.doc()))
        .collect();
    block(
        &mut out,
        "Token-engine opcodes (sw-driver/abi/src/token.rs).",
        &toks,
        "tok_op_e",
    );
    out
}

/// `text` (a `tessera_pkg.sv`) with its generated part replaced by [`sv_enums`]; `None` when
/// the markers are missing.
pub fn with_sv_enums(text: &str) -> Option<String> {
    let begin = text.find(SV_BEGIN)? + SV_BEGIN.len() + 1;
    let end = text[begin..].find(SV_END)? + begin;
    Some(format!("{}{}{}", &text[..begin], sv_enums(), &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_sv_package_enums_are_fresh() {
        let path = std::path::Path::new(crate::rtl::SOURCE_TREE).join("rtl/pkg/tessera_pkg.sv");
        let text = std::fs::read_to_string(path).unwrap();
        let fresh = with_sv_enums(&text).expect("generated markers in tessera_pkg.sv");
        assert!(
            fresh == text,
            "rtl/pkg/tessera_pkg.sv is stale against sw-driver/abi: run scripts/gen-abi"
        );
    }

    #[test]
    fn abi_error_codes_round_trip() {
        for c in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::from_u8(c.code()), c);
        }
        assert_eq!(ErrorCode::from_u8(0xee), ErrorCode::Unknown(0xee));
        assert_eq!(bytes_to_words(&[1, 2, 3, 4, 5]), vec![0x0403_0201, 5]);
    }

    #[test]
    fn abi_packets_fill_whole_beats() {
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

    #[test]
    fn abi_engine_descriptors_encode_their_fields() {
        let tiny = ChipConfig::named("tiny").unwrap();
        let d = Descriptor::eng_load(EngSpace::Dmem, 6, &[9, 8]);
        assert_eq!(&d.header[..4], [0x07, 1, 6, 2]);
        assert_eq!(d.packet(&tiny)[8..], [9, 8]);
        assert_eq!(Descriptor::payload_len(&d.header, &tiny), Ok(2));
        let t = Descriptor::token(5, 7, true);
        assert_eq!(&t.header[..], [0x08, 5, 7, 1, 0, 0, 0, 0]);
        assert_eq!(Descriptor::token(5, 7, false).header[3], 0);
        assert_eq!(t.packet(&tiny).len(), 8);
        assert_eq!(t.output_beats(&tiny), 0);
        // Logits beats and the final beat (tiny: two words per beat; ulx3s: one).
        assert_eq!(logits_beats(&tiny, 5), 3);
        assert_eq!(logits_beats(&tiny, 4), 2);
        assert_eq!(token_end_beats(&tiny, 42, 17), [[42, 17]]);
        let sim = ChipConfig::named("sim").unwrap();
        assert_eq!(token_end_beats(&sim, 42, 17), [[42, 17, 0, 0, 0, 0, 0, 0]]);
        let ulx3s = ChipConfig::named("ulx3s").unwrap();
        assert_eq!(token_end_beats(&ulx3s, 42, 17), [[42], [17]]);
    }

    #[test]
    fn abi_engine_descriptor_checks_in_order() {
        let tiny = ChipConfig::named("tiny").unwrap();
        let pw = tiny.prog_words() as u32;
        let dw = tiny.dmem_words as u32;
        let load = |space: u32, addr: u32, words: u32| {
            let mut d = Descriptor::nop();
            d.header[..4].copy_from_slice(&[Opcode::EngLoad as u32, space, addr, words]);
            d.check_engine(&tiny)
        };
        let cases = [
            (load(0, 0, 2), Ok(())),
            (load(0, pw - 2, 2), Ok(())),
            (load(1, dw - 4, 4), Ok(())),
            // A bad space first, even with a bad size and range.
            (load(2, 1, 0), Err(ErrorCode::Shape)),
            (load(u32::MAX, 0, 2), Err(ErrorCode::Shape)),
            // Zero words, or not whole beats (tiny: two words per beat), before the range.
            (load(0, 0, 0), Err(ErrorCode::Shape)),
            (load(0, 1, 2), Err(ErrorCode::Shape)),
            (load(1, 0, 3), Err(ErrorCode::Shape)),
            (load(1, u32::MAX, 2), Err(ErrorCode::Shape)),
            // Past the space, in 64-bit arithmetic.
            (load(0, pw, 2), Err(ErrorCode::ProgRange)),
            (load(0, pw - 2, 4), Err(ErrorCode::ProgRange)),
            (load(1, dw - 2, 4), Err(ErrorCode::DmemRange)),
            (load(1, u32::MAX - 1, 2), Err(ErrorCode::DmemRange)),
            (load(0, 2, u32::MAX - 1), Err(ErrorCode::ProgRange)),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
        let mut t = Descriptor::token(1, 2, true);
        assert_eq!(t.check_engine(&tiny), Ok(()));
        t.header[3] = TOKEN_LOGITS | TOKEN_TRACE;
        assert_eq!(t.check_engine(&tiny), Ok(()));
        t.header[3] = 4;
        assert_eq!(t.check_engine(&tiny), Err(ErrorCode::Shape));
        t.header[3] = 1 << 31 | 1;
        assert_eq!(t.check_engine(&tiny), Err(ErrorCode::Shape));
        assert_eq!(Descriptor::fence().check_engine(&tiny), Ok(()));
    }

    fn code_of(e: Error) -> (usize, ErrorCode) {
        match e {
            Error::Descriptor { index, code, .. } => (index, code),
            other => panic!("not a descriptor error: {other}"),
        }
    }

    #[test]
    fn abi_packets_decode_what_they_encode() {
        for name in ChipConfig::names() {
            let cfg = ChipConfig::named(&name).unwrap();
            let wb = cfg.word_bytes();
            let last = cfg.tiles() as u32 - 1;
            let program = vec![
                Descriptor::nop(),
                Descriptor::weight_load(0, last, 5, 2, &vec![7u8; cfg.tiles() * 2 * wb]),
                Descriptor::vbuf_load(&cfg, 1, 3, &[1, -2, 3]),
                Descriptor::matvec(5, 1, 2, 0, 1, 0),
                Descriptor::vbuf_read(0, 4),
                Descriptor::fence(),
                Descriptor::perf_snapshot(),
                Descriptor::eng_load(EngSpace::Program, 8, &[0x0d, 0, 0, 0, 0, 0, 0, 0]),
                Descriptor::eng_load(EngSpace::Dmem, 0, &[1, 2, 3, 4, 5, 6, 7, 8]),
                Descriptor::token(3, 4, true),
                Descriptor::token(63, 0, false),
            ];
            for d in &program {
                assert_eq!(d.check_engine(&cfg), Ok(()), "{name}: {d:?}");
                assert_eq!(
                    Descriptor::decode(&d.packet(&cfg), &cfg).as_ref(),
                    Ok(d),
                    "{name}"
                );
            }
            let words = encode_program(&program, &cfg);
            assert_eq!(decode_program(&words, &cfg), Ok(program), "{name}");
        }
    }

    #[test]
    fn abi_packets_refused_with_the_chips_codes() {
        let cfg = ChipConfig::named("tiny").unwrap();
        let load = Descriptor::vbuf_load(&cfg, 0, 2, &[1]).packet(&cfg);
        let short = Descriptor::decode(&load[..load.len() - 1], &cfg).unwrap_err();
        assert_eq!(code_of(short), (0, ErrorCode::StreamShort));
        let mut long = load.clone();
        long.push(0);
        assert_eq!(
            code_of(Descriptor::decode(&long, &cfg).unwrap_err()),
            (0, ErrorCode::StreamLong)
        );
        assert_eq!(
            code_of(Descriptor::decode(&[0x77, 0, 0, 0, 0, 0, 0, 0], &cfg).unwrap_err()),
            (0, ErrorCode::Opcode)
        );
        // Empty and past-the-end tile ranges, and a payload length beyond any packet.
        for (first, last, words) in [(1, 0, 1), (0, 4, 1), (0, 3, u32::MAX)] {
            let p = Descriptor::weight_load(first, last, 0, words, &[]).packet(&cfg);
            let want = if words == u32::MAX {
                ErrorCode::StreamShort
            } else {
                ErrorCode::TileRange
            };
            assert_eq!(
                code_of(Descriptor::decode(&p, &cfg).unwrap_err()),
                (0, want)
            );
        }
        assert_eq!(
            code_of(Descriptor::decode(&[1, 2, 3], &cfg).unwrap_err()),
            (0, ErrorCode::StreamShort)
        );
        let mut words = encode_program(&[Descriptor::fence(), Descriptor::nop()], &cfg);
        words.extend_from_slice(&load[..9]);
        assert_eq!(
            code_of(decode_program(&words, &cfg).unwrap_err()),
            (2, ErrorCode::StreamShort)
        );
        assert_eq!(decode_program(&[], &cfg), Ok(vec![]));
    }
}
