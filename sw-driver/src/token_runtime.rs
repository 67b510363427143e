//! The token engine on a chip: [`TokenRuntime`] loads a compiled [`Plan`] and its [`Image`]
//! once, then runs one token per [`TokenRuntime::step`] (`docs/architecture.md`, descriptors
//! ENG_LOAD and TOKEN, and "Token engine program").
//!
//! - Load: the tiles' weight images with WEIGHT_LOAD (or the simulation backdoor, as
//!   [`LoadMode`] says; on a chip whose weights are in ROM nothing, once the digest of the images
//!   matches the chip's `WEIGHT_ROM_DIGEST`, else [`Error::RomMismatch`]), the program words with ENG_LOAD into program memory, the DMEM
//!   constants with ENG_LOAD into DMEM in chunks of at most [`DMEM_CHUNK_WORDS`] words, each
//!   padded to whole beats.
//! - A token: one TOKEN descriptor (eight header words); back come, when logits were asked for,
//!   the words of every LOGITS instruction of the program (the driver knows each `n` from the
//!   program it loaded), then the final beat (`NEXT`, instructions executed). The result is the
//!   reference interpreter's [`TokenOut`], or its [`Fault`] (`ERROR.code`, and `ERROR.descriptor`,
//!   which holds the faulting instruction's index), so a test compares the chip with
//!   [`crate::token::interp::Engine`] directly. After a fault the runtime soft-resets the chip
//!   (every memory keeps its contents) and drains its output, ready for the next token.
//! - Host traffic: [`HostBytes`] counts the stream bytes of each token, in (descriptor) and out
//!   (beats).
//!
//! Every wait is bounded: the output is read a beat at a time, and between beats that do not
//! come the runtime checks `STATUS.error`, so a faulting token returns at once and a silent
//! chip is a timeout after [`TokenRuntime::timeout_cycles`].

use std::time::Instant;

use tessera_abi::descriptor::{logits_beats, EngSpace};
use tessera_abi::token::{Instr, INSTR_WORDS};

use crate::config::ChipConfig;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::program::{bytes_to_words, Descriptor};
use crate::runtime::LoadMode;
use crate::token::interp::{Fault, TokenOut};
use crate::token::{Image, Plan};
use crate::transport::{Received, Transport};

/// Largest ENG_LOAD of the DMEM image: 65,536 words (256 KiB).
pub const DMEM_CHUNK_WORDS: usize = 1 << 16;

/// Largest WEIGHT_LOAD payload of a load, bytes (whole weight words of every tile).
pub const WEIGHT_CHUNK_BYTES: usize = 1 << 20;

/// Default cycle budget of a wait for the next output beat of a token.
pub const TOKEN_TIMEOUT_CYCLES: u64 = 20_000_000;

/// Bytes on the streams between host and chip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostBytes {
    /// Input stream: descriptor packets (headers and payloads).
    pub to_chip: u64,
    /// Output stream: beats received (`StreamWidth / 8` bytes each).
    pub from_chip: u64,
}

impl HostBytes {
    fn add(&mut self, o: &HostBytes) {
        self.to_chip += o.to_chip;
        self.from_chip += o.from_chip;
    }
}

/// What a load wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineLoadReport {
    /// How the tile weights went in (`Backdoor` or `FrontDoor`).
    pub mode: LoadMode,
    /// Weight bytes written, every tile.
    pub weight_bytes: u64,
    /// Program words (eight per instruction, padded to whole beats).
    pub program_words: usize,
    /// DMEM words written (the constants, padded to whole beats).
    pub dmem_words: usize,
    /// The DMEM constants went in by the simulation backdoor (`Backdoor`, or `Auto` on a
    /// simulator), not by ENG_LOAD.
    pub dmem_backdoor: bool,
    /// Descriptors sent.
    pub descriptors: usize,
    /// Bytes sent on the input stream.
    pub stream_bytes: u64,
    pub seconds: f64,
    /// Device cycles the load took (simulation only).
    pub cycles: Option<u64>,
}

/// The token engine of a chip, loaded with a program.
pub struct TokenRuntime<T: Transport> {
    dev: Device<T>,
    cfg: ChipConfig,
    /// The program memory as this runtime wrote it (words from 0; the rest of the memory is
    /// whatever it held).
    program: Vec<u32>,
    /// `n` of each LOGITS instruction before the first END, in program order.
    logits: Vec<u32>,
    last: HostBytes,
    total: HostBytes,
    tokens: u64,
    /// Cycle budget of a wait for the next output beat of a token.
    pub timeout_cycles: u64,
    /// Cycles the chip runs between two looks at the interrupt line while a beat is awaited.
    pub poll_cycles: u64,
}

impl<T: Transport> TokenRuntime<T> {
    /// A runtime on `dev`; soft-resets the chip (clearing any error; memories keep their
    /// contents) and enables the error interrupt, which is how a token's fault is noticed
    /// without a register read.
    pub fn new(mut dev: Device<T>) -> Result<TokenRuntime<T>> {
        dev.soft_reset()?;
        dev.clear_interrupts()?;
        dev.enable_interrupts(false, true)?;
        let cfg = dev.config().clone();
        Ok(TokenRuntime {
            dev,
            cfg,
            program: Vec::new(),
            logits: Vec::new(),
            last: HostBytes::default(),
            total: HostBytes::default(),
            tokens: 0,
            timeout_cycles: TOKEN_TIMEOUT_CYCLES,
            poll_cycles: 2048,
        })
    }

    pub fn device(&mut self) -> &mut Device<T> {
        &mut self.dev
    }

    pub fn into_device(self) -> Device<T> {
        self.dev
    }

    pub fn config(&self) -> &ChipConfig {
        &self.cfg
    }

    /// The program words this runtime wrote.
    pub fn program(&self) -> &[u32] {
        &self.program
    }

    /// Stream bytes of the last token.
    pub fn last_host_bytes(&self) -> HostBytes {
        self.last
    }

    /// Stream bytes of every token since the runtime was made, and the number of tokens.
    pub fn total_host_bytes(&self) -> (HostBytes, u64) {
        (self.total, self.tokens)
    }

    /// Loads `plan` (compiled for this chip's configuration) and its `image`: tile weights,
    /// program, DMEM constants; waits until the chip has written them all.
    pub fn load(&mut self, plan: &Plan, image: &Image, mode: LoadMode) -> Result<EngineLoadReport> {
        if plan.cfg.params() != self.cfg.params() {
            return Err(Error::UnsupportedConfig(format!(
                "the plan is for configuration `{}` ({:?}), the chip is {:?}",
                plan.cfg.name, plan.cfg, self.cfg
            )));
        }
        let t0 = Instant::now();
        let c0 = self.dev.transport().sim().map(|s| s.cycles()).transpose()?;
        let mut report = EngineLoadReport {
            mode,
            weight_bytes: 0,
            program_words: 0,
            dmem_words: 0,
            dmem_backdoor: false,
            descriptors: 0,
            stream_bytes: 0,
            seconds: 0.0,
            cycles: None,
        };
        let backdoor = match mode {
            LoadMode::Backdoor => true,
            LoadMode::Auto => self.dev.transport().sim().is_some(),
            LoadMode::FrontDoor | LoadMode::Rom => false,
        };
        let (mode, sent) = match self.dev.weight_rom()? {
            Some(chip) => {
                self.check_rom(&image.tiles, chip)?;
                (LoadMode::Rom, (0, 0))
            }
            None => self.load_tiles(&image.tiles, mode)?,
        };
        report.mode = mode;
        if mode != LoadMode::Rom {
            report.weight_bytes = image.tiles.iter().map(|t| t.len() as u64).sum();
        }
        let words = tessera_abi::token::encode_program(&plan.program);
        let p = self.load_program(&words)?;
        let d = if backdoor {
            self.load_dmem_backdoor(0, &image.dmem)?
        } else {
            self.load_dmem(0, &image.dmem)?
        };
        report.program_words = p.1;
        report.dmem_words = d.1;
        report.dmem_backdoor = backdoor;
        for (n, bytes) in [sent, (p.0, p.2), (d.0, d.2)] {
            report.descriptors += n;
            report.stream_bytes += bytes;
        }
        self.dev.wait_idle()?;
        let c1 = self.dev.transport().sim().map(|s| s.cycles()).transpose()?;
        report.cycles = c0.zip(c1).map(|(a, b)| b - a);
        report.seconds = t0.elapsed().as_secs_f64();
        Ok(report)
    }

    /// On a chip whose weights are in ROM (`chip`: its `WEIGHT_ROM_DIGEST`): `Ok` when the
    /// weight images `tiles` are the ROM's ([`tessera_abi::rom::digest`]), else
    /// [`Error::RomMismatch`]. Nothing is written.
    pub fn check_rom(&self, tiles: &[Vec<u8>], chip: u32) -> Result<()> {
        let model = tessera_abi::rom::digest(&self.cfg, tiles)
            .map_err(|e| Error::Config(format!("tile images: {e}")))?;
        if model != chip {
            return Err(Error::RomMismatch { chip, model });
        }
        Ok(())
    }

    /// Writes every tile's weight image from word 0 on (`tiles[t]`: whole weight words of tile
    /// `t`); returns the mode used and (descriptors, stream bytes) sent.
    pub fn load_tiles(
        &mut self,
        tiles: &[Vec<u8>],
        mode: LoadMode,
    ) -> Result<(LoadMode, (usize, u64))> {
        let cfg = self.cfg.clone();
        let wb = cfg.word_bytes();
        if tiles.len() != cfg.tiles() || tiles.iter().any(|t| t.len() % wb != 0) {
            return Err(Error::Config(format!(
                "tile images: {} images, expected {} of whole {wb}-byte words",
                tiles.len(),
                cfg.tiles()
            )));
        }
        let words = tiles.iter().map(|t| t.len() / wb).max().unwrap_or(0);
        if words > cfg.weight_words {
            return Err(Error::DoesNotFit(format!(
                "tile images of {words} words, the chip's tiles hold {}",
                cfg.weight_words
            )));
        }
        let mode = match mode {
            LoadMode::Auto if self.dev.transport().sim().is_some() => LoadMode::Backdoor,
            LoadMode::Auto => LoadMode::FrontDoor,
            LoadMode::Rom => {
                return Err(Error::Config(
                    "LoadMode::Rom loads nothing: the chip's ROM holds the weights".into(),
                ))
            }
            m => m,
        };
        let mut sent = (0usize, 0u64);
        if words == 0 {
            return Ok((mode, sent));
        }
        match mode {
            LoadMode::Backdoor => {
                let sim = self.dev.transport().sim().ok_or_else(|| {
                    Error::Config("backdoor loading needs a simulator transport".into())
                })?;
                for (t, img) in tiles.iter().enumerate() {
                    sim.backdoor_write(t, 0, wb, img)?;
                }
            }
            _ => {
                let per = (WEIGHT_CHUNK_BYTES / (cfg.tiles() * wb)).max(1);
                let mut at = 0;
                while at < words {
                    let n = per.min(words - at);
                    let mut data = Vec::with_capacity(cfg.tiles() * n * wb);
                    for img in tiles {
                        let mut part = img.get(at * wb..).unwrap_or(&[]).to_vec();
                        part.resize(n * wb, 0);
                        data.extend_from_slice(&part[..n * wb]);
                    }
                    let last = cfg.tiles() as u32 - 1;
                    let d = Descriptor::weight_load(0, last, at as u32, n as u32, &data);
                    sent.1 += 4 * d.packet(&cfg).len() as u64;
                    sent.0 += 1;
                    self.dev.send(&[d])?;
                    at += n;
                }
            }
        }
        Ok((mode, sent))
    }

    /// Loads program words from word 0 on (eight per instruction, as
    /// `tessera_abi::token::encode_program` writes them), padded with zero words (NOPs) to
    /// whole beats; returns (descriptors, words, stream bytes).
    pub fn load_program(&mut self, words: &[u32]) -> Result<(usize, usize, u64)> {
        self.program.clear();
        self.write_program(0, words)
    }

    /// Writes `words` into program memory from word `first` on, as one ENG_LOAD of the whole
    /// beats that hold them (the words around them in those beats are this runtime's copy of
    /// the program, zero past it); returns (descriptors, words, stream bytes). The runtime's
    /// copy of the program, and the LOGITS it expects, follow.
    pub fn write_program(&mut self, first: usize, words: &[u32]) -> Result<(usize, usize, u64)> {
        let bw = self.cfg.beat_words().max(1);
        let end = first + words.len();
        if end as u64 > self.cfg.prog_words() {
            return Err(Error::DoesNotFit(format!(
                "program memory: words {first}..{end}, configuration `{}` has {}",
                self.cfg.name,
                self.cfg.prog_words()
            )));
        }
        if words.is_empty() {
            return Ok((0, 0, 0));
        }
        if self.program.len() < end {
            self.program.resize(end, 0);
        }
        self.program[first..end].copy_from_slice(words);
        let lo = first / bw * bw;
        let hi = end.div_ceil(bw) * bw;
        let mut beats: Vec<u32> = self.program.get(lo..).unwrap_or(&[]).to_vec();
        beats.resize(hi - lo, 0);
        self.scan_program();
        let d = Descriptor::eng_load(EngSpace::Program, lo as u32, &beats);
        let bytes = 4 * d.packet(&self.cfg).len() as u64;
        self.dev.send(&[d])?;
        Ok((1, beats.len(), bytes))
    }

    /// Writes `bytes` into DMEM from byte `at` on (a multiple of the beat, `StreamWidth / 8`
    /// bytes), in ENG_LOADs of at most [`DMEM_CHUNK_WORDS`] words; the last is zero-padded to
    /// a whole beat (the padding lands past `bytes`). Returns (descriptors, words, stream
    /// bytes).
    pub fn load_dmem(&mut self, at: u64, bytes: &[u8]) -> Result<(usize, usize, u64)> {
        let (first, words) = self.dmem_words(at, bytes)?;
        let bw = self.cfg.beat_words().max(1);
        let chunk = DMEM_CHUNK_WORDS / bw * bw;
        let mut out = (0usize, words.len(), 0u64);
        for (k, part) in words.chunks(chunk.max(bw)).enumerate() {
            let addr = first + (k * chunk.max(bw)) as u64;
            let d = Descriptor::eng_load(EngSpace::Dmem, addr as u32, part);
            out.2 += 4 * d.packet(&self.cfg).len() as u64;
            out.0 += 1;
            self.dev.send(&[d])?;
        }
        Ok(out)
    }

    /// Like [`TokenRuntime::load_dmem`], by the simulation backdoor: no descriptor, no stream
    /// byte, no cycle. Returns (0, words, 0).
    pub fn load_dmem_backdoor(&mut self, at: u64, bytes: &[u8]) -> Result<(usize, usize, u64)> {
        let (first, words) = self.dmem_words(at, bytes)?;
        let sim =
            self.dev.transport().sim().ok_or_else(|| {
                Error::Config("backdoor loading needs a simulator transport".into())
            })?;
        sim.dmem_backdoor_write(first as usize, &words)?;
        Ok((0, words.len(), 0))
    }

    /// The words of a DMEM load of `bytes` at byte `at` (a whole beat), zero-padded to whole
    /// beats, and its first word; an error when `at` is not a whole beat or the words do not
    /// fit the data memory.
    fn dmem_words(&self, at: u64, bytes: &[u8]) -> Result<(u64, Vec<u32>)> {
        let bw = self.cfg.beat_words().max(1);
        if at % (4 * bw as u64) != 0 {
            return Err(Error::Config(format!(
                "DMEM load at byte {at}: not a whole beat ({} bytes)",
                4 * bw
            )));
        }
        let mut words = bytes_to_words(bytes);
        words.resize(words.len().div_ceil(bw) * bw, 0);
        let first = at / 4;
        if first + words.len() as u64 > self.cfg.dmem_words as u64 {
            return Err(Error::DoesNotFit(format!(
                "data memory: {} words from word {first}, configuration `{}` has {}",
                words.len(),
                self.cfg.name,
                self.cfg.dmem_words
            )));
        }
        Ok((first, words))
    }

    /// Re-reads the program copy: the `n` of each LOGITS before the first END.
    fn scan_program(&mut self) {
        self.logits.clear();
        for w in self.program.chunks_exact(INSTR_WORDS) {
            let w: [u32; INSTR_WORDS] = w.try_into().expect("whole instructions");
            match Instr::decode(&w) {
                Ok(Instr::Logits { n, .. }) => self.logits.push(n),
                Ok(Instr::End) => break,
                _ => {}
            }
        }
    }

    /// Runs one token: `Ok(Ok(out))` when the chip reached END, `Ok(Err(fault))` when it
    /// stopped on an engine error (the chip is soft-reset and drained afterwards), `Err` when
    /// the transport failed, the output broke its framing, or the chip went silent.
    pub fn step(
        &mut self,
        token: u32,
        pos: u32,
        want_logits: bool,
    ) -> Result<std::result::Result<TokenOut, Fault>> {
        self.start_token(token, pos, want_logits)?;
        self.finish_token(want_logits)
    }

    /// Sends the TOKEN descriptor only (its output is read by [`Self::finish_token`]).
    pub fn start_token(&mut self, token: u32, pos: u32, want_logits: bool) -> Result<()> {
        let d = Descriptor::token(token, pos, want_logits);
        self.last = HostBytes {
            to_chip: 4 * d.packet(&self.cfg).len() as u64,
            from_chip: 0,
        };
        self.dev.send(&[d])
    }

    /// Reads the output of the token started last: its logits when asked for, then the final
    /// beat; on a fault, `ERROR`, then a soft reset and a drain.
    pub fn finish_token(
        &mut self,
        want_logits: bool,
    ) -> Result<std::result::Result<TokenOut, Fault>> {
        let bw = self.cfg.beat_words().max(1);
        let mut logits = Vec::new();
        let ns = if want_logits {
            self.logits.clone()
        } else {
            Vec::new()
        };
        for (k, n) in ns.iter().enumerate() {
            let beats = logits_beats(&self.cfg, *n);
            let Some(rx) = self.recv(beats)? else {
                return self.fault();
            };
            if let Some(i) = rx.last.iter().position(|&l| l) {
                return Err(Error::Framing(format!(
                    "TOKEN: tlast on beat {i} of the {beats} beats of LOGITS {k}"
                )));
            }
            let (words, pad) = rx.words.split_at(*n as usize);
            if pad.iter().any(|&w| w != 0) {
                return Err(Error::Framing(format!(
                    "TOKEN: LOGITS {k}: padding words {pad:#x?} are not zero"
                )));
            }
            logits.extend(words.iter().map(|&w| f32::from_bits(w)));
        }
        // NEXT and the count: one beat, or two on a 32-bit stream.
        let end = if bw == 1 { 2 } else { 1 };
        let Some(rx) = self.recv(end)? else {
            return self.fault();
        };
        if rx
            .last
            .iter()
            .enumerate()
            .any(|(i, &l)| l != (i + 1 == end))
        {
            return Err(Error::Framing(format!(
                "TOKEN: tlast {:?} on the {end} final beat(s) (more output than the program's \
                 LOGITS, or the end unmarked)",
                rx.last
            )));
        }
        if rx.words.iter().skip(2).any(|&w| w != 0) {
            return Err(Error::Framing(format!(
                "TOKEN: final beat {:#x?}: words past the second are not zero",
                rx.words
            )));
        }
        self.tokens += 1;
        self.total.add(&self.last);
        Ok(Ok(TokenOut {
            next: rx.words[0],
            logits: (want_logits && !self.logits.is_empty()).then_some(logits),
            instrs: rx.words[1] as usize,
        }))
    }

    /// Receives `beats` output beats one at a time; `None` when the chip stopped on an error
    /// first. A wait of more than [`Self::timeout_cycles`] for one beat is a timeout.
    fn recv(&mut self, beats: usize) -> Result<Option<Received>> {
        let mut out = Received::default();
        let bytes = (self.cfg.stream_width / 8) as u64;
        while out.last.len() < beats {
            let mut waited = 0u64;
            loop {
                match self.dev.transport().stream_recv(1, self.poll_cycles) {
                    Ok(rx) => {
                        self.last.from_chip += bytes;
                        out.words.extend(rx.words);
                        out.last.extend(rx.last);
                        break;
                    }
                    Err(Error::Timeout { .. }) => {
                        // The error interrupt is a line, not a bus access: waiting costs no
                        // host bytes (a STATUS read per poll would cost eight).
                        if self.dev.transport().wait_irq(0)? {
                            if self.dev.status()?.error {
                                return Ok(None);
                            }
                            // A stale interrupt: an error the chip was reset from outside
                            // this runtime. Cleared; the wait goes on.
                            self.dev.clear_interrupts()?;
                        }
                        waited += self.poll_cycles;
                        if waited > self.timeout_cycles {
                            // An error raised between the look at STATUS and the clear.
                            if self.dev.status()?.error {
                                return Ok(None);
                            }
                            return Err(Error::Timeout {
                                what: format!(
                                    "TOKEN: output beat {} of {beats} did not come",
                                    out.last.len()
                                ),
                                cycles: waited,
                            });
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(out))
    }

    /// The chip stopped on an error: its code and pc, then a soft reset and a drain.
    fn fault(&mut self) -> Result<std::result::Result<TokenOut, Fault>> {
        let (code, pc) = self.dev.error()?;
        self.tokens += 1;
        self.total.add(&self.last);
        self.dev.soft_reset()?;
        self.dev.clear_interrupts()?;
        self.dev.drain_output()?;
        Ok(Err(Fault {
            code,
            pc: pc as usize,
        }))
    }
}

/// A token run with the TOKEN trace flag: its outcome and the cycles each instruction took
/// (every instruction but END, in program order), as the engine in RTL measured them.
#[derive(Clone, Debug, PartialEq)]
pub struct TracedToken {
    pub out: TokenOut,
    /// `cycles[pc]`: the cycles of instruction `pc`, from the start of its fetch to its end
    /// (its LOGITS beats included, the trace beat not).
    pub cycles: Vec<u32>,
}

impl<T: Transport> TokenRuntime<T> {
    /// Runs one token with the trace flag ([`tessera_abi::descriptor::TOKEN_TRACE`]): after every instruction but END
    /// the chip sends one beat whose word 0 is the cycles it took, after the instruction's own
    /// LOGITS beats. Like [`Self::step`] otherwise (framing checked, waits bounded, a fault
    /// soft-resets the chip); the stream bytes, trace beats included, are the last token's.
    pub fn step_traced(
        &mut self,
        token: u32,
        pos: u32,
        want_logits: bool,
    ) -> Result<std::result::Result<TracedToken, Fault>> {
        let end = self.program.chunks_exact(INSTR_WORDS).position(|w| {
            let w: [u32; INSTR_WORDS] = w.try_into().expect("whole instructions");
            matches!(Instr::decode(&w), Ok(Instr::End))
        });
        let Some(end) = end else {
            return Err(Error::Config(
                "trace: the loaded program has no END before the end of program memory".into(),
            ));
        };
        let mut d = Descriptor::token(token, pos, want_logits);
        d.header[3] |= tessera_abi::descriptor::TOKEN_TRACE;
        self.last = HostBytes {
            to_chip: 4 * d.packet(&self.cfg).len() as u64,
            from_chip: 0,
        };
        self.dev.send(&[d])?;
        let mut logits = Vec::new();
        let mut cycles = Vec::with_capacity(end);
        let mut k = 0usize;
        for pc in 0..end {
            let w: [u32; INSTR_WORDS] = self.program[pc * INSTR_WORDS..(pc + 1) * INSTR_WORDS]
                .try_into()
                .expect("whole instructions");
            if let (true, Ok(Instr::Logits { n, .. })) = (want_logits, Instr::decode(&w)) {
                let beats = logits_beats(&self.cfg, n);
                let Some(rx) = self.recv(beats)? else {
                    return self.traced_fault();
                };
                if let Some(i) = rx.last.iter().position(|&l| l) {
                    return Err(Error::Framing(format!(
                        "TOKEN: tlast on beat {i} of the {beats} beats of LOGITS {k}"
                    )));
                }
                let (words, pad) = rx.words.split_at(n as usize);
                if pad.iter().any(|&w| w != 0) {
                    return Err(Error::Framing(format!(
                        "TOKEN: LOGITS {k}: padding words {pad:#x?} are not zero"
                    )));
                }
                logits.extend(words.iter().map(|&w| f32::from_bits(w)));
                k += 1;
            }
            let Some(rx) = self.recv(1)? else {
                return self.traced_fault();
            };
            if rx.last != [false] || rx.words.iter().skip(1).any(|&w| w != 0) {
                return Err(Error::Framing(format!(
                    "TOKEN: trace beat of instruction {pc}: {:#x?} (tlast {:?}): not a trace \
                     beat",
                    rx.words, rx.last
                )));
            }
            cycles.push(rx.words[0]);
        }
        let out = match self.finish_token(false)? {
            Ok(o) => o,
            Err(f) => return Ok(Err(f)),
        };
        let logits = (want_logits && !self.logits.is_empty()).then_some(logits);
        Ok(Ok(TracedToken {
            out: TokenOut { logits, ..out },
            cycles,
        }))
    }

    /// [`Self::fault`] for a traced token.
    fn traced_fault(&mut self) -> Result<std::result::Result<TracedToken, Fault>> {
        match self.fault()? {
            Err(f) => Ok(Err(f)),
            Ok(_) => Err(Error::Framing("TOKEN: stopped without an error".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_golden::model::Precision;

    use super::*;
    use crate::models::{small_llama, SmallShape};
    use crate::program::ErrorCode;
    use crate::testing::{Beats, EngineChip};
    use crate::token::interp::Engine;
    use crate::token::plan;

    /// A runtime on the in-memory engine chip of configuration `name`, loaded with a small
    /// model, and the interpreter loaded with the same.
    fn loaded(
        name: &str,
        shape: &SmallShape,
        context: usize,
    ) -> (TokenRuntime<EngineChip>, Engine, Plan, EngineLoadReport) {
        let cfg = ChipConfig::named(name).unwrap();
        let model = small_llama(shape, 7, Precision::Chip).unwrap();
        let p = plan(&cfg, model.config(), context).unwrap();
        let image = p.image(&model).unwrap();
        let dev = Device::open_expecting(EngineChip::new(&cfg), &cfg).unwrap();
        let mut rt = TokenRuntime::new(dev).unwrap();
        let report = rt.load(&p, &image, LoadMode::Auto).unwrap();
        (rt, Engine::load(&p, image), p, report)
    }

    #[test]
    fn token_runtime_on_a_rom_chip_loads_no_weights_and_checks_the_digest() {
        let cfg = ChipConfig::named("tiny").unwrap();
        let model = small_llama(&SmallShape::tiny(), 7, Precision::Chip).unwrap();
        let p = plan(&cfg, model.config(), 8).unwrap();
        let image = p.image(&model).unwrap();
        let chip = EngineChip::with_rom(&cfg, &image.tiles).unwrap();
        let dev = Device::open_expecting(chip, &cfg).unwrap();
        let mut rt = TokenRuntime::new(dev).unwrap();

        // Another model's weights (same shape) are refused before anything is sent.
        let other = small_llama(&SmallShape::tiny(), 8, Precision::Chip).unwrap();
        let other_image = p.image(&other).unwrap();
        let e = rt.load(&p, &other_image, LoadMode::Auto).unwrap_err();
        assert!(matches!(e, Error::RomMismatch { .. }), "{e}");
        assert_eq!(rt.device().descriptors_sent(), 0);

        // The ROM's own model: no WEIGHT_LOAD, whatever mode was asked; tokens as the
        // interpreter's.
        let r = rt.load(&p, &image, LoadMode::FrontDoor).unwrap();
        assert_eq!(r.mode, LoadMode::Rom);
        assert_eq!(r.weight_bytes, 0);
        let mut engine = Engine::load(&p, image);
        for pos in 0..4 {
            let chip = rt.step(3, pos, true).unwrap().unwrap();
            let want = engine.step(3, pos, true).unwrap();
            assert_eq!(chip.next, want.next);
            let bits = |v: &Option<Vec<f32>>| -> Vec<u32> {
                v.iter().flatten().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(&chip.logits), bits(&want.logits));
        }

        // A WEIGHT_LOAD sent anyway stops the chip with ErrWeightRom.
        let wb = cfg.word_bytes();
        let d = Descriptor::weight_load(0, 0, 0, 1, &vec![1u8; wb]);
        rt.device().send(&[d]).unwrap();
        let (code, _) = rt.device().error().unwrap();
        assert_eq!(code, ErrorCode::WeightRom);
    }

    type Bits = std::result::Result<(u32, usize, Option<Vec<u32>>), Fault>;

    /// A token's outcome with the logits as bits.
    fn bits(r: &std::result::Result<TokenOut, Fault>) -> Bits {
        r.as_ref().map_err(|f| *f).map(|o| {
            let l = o
                .logits
                .as_ref()
                .map(|v| v.iter().map(|x| x.to_bits()).collect());
            (o.next, o.instrs, l)
        })
    }

    /// The same outcome, logits compared bit for bit.
    fn same(
        chip: &std::result::Result<TokenOut, Fault>,
        want: &std::result::Result<TokenOut, Fault>,
        what: &str,
    ) {
        assert_eq!(bits(chip), bits(want), "{what}");
    }

    #[test]
    fn token_runtime_matches_the_interpreter() {
        // tiny: two words per beat; ulx3s: one (NEXT and the count in two final beats).
        for name in ["tiny", "ulx3s"] {
            let (mut rt, mut engine, p, report) = loaded(name, &SmallShape::tiny(), 8);
            let cfg = rt.config().clone();
            assert_eq!(report.mode, LoadMode::FrontDoor);
            assert_eq!(report.program_words, p.program.len() * 8);
            assert_eq!(report.dmem_words, p.dmem.kv_base as usize / 4);
            for pos in 0..8u32 {
                let tok = (pos * 13 + 5) % 64;
                let logits = pos % 3 != 1;
                let got = rt.step(tok, pos, logits).unwrap();
                let want = engine.step(tok, pos, logits);
                assert!(want.is_ok());
                same(&got, &want, &format!("{name}: position {pos}"));
                let io = rt.last_host_bytes();
                let beat = cfg.stream_width as u64 / 8;
                let end = if cfg.beat_words() == 1 { 2 } else { 1 };
                let beats = if logits {
                    logits_beats(&cfg, 64) as u64 + end
                } else {
                    end
                };
                assert_eq!(io.to_chip, 32, "{name}: one TOKEN header");
                assert_eq!(io.from_chip, beats * beat, "{name}: position {pos}");
            }
            assert_eq!(rt.total_host_bytes().1, 8);
        }
    }

    #[test]
    fn token_runtime_faults_name_the_instruction_and_recover() {
        let (mut rt, mut engine, p, _) = loaded("tiny", &SmallShape::tiny(), 4);
        for pos in 0..4 {
            let got = rt.step(1, pos, true).unwrap();
            same(&got, &engine.step(1, pos, true), "filling the cache");
        }
        let rope = p
            .program
            .iter()
            .position(|i| matches!(i, Instr::Rope { .. }))
            .unwrap();
        let full = Err(Fault {
            code: ErrorCode::KvFull,
            pc: rope,
        });
        assert_eq!(rt.step(1, 4, true).unwrap(), full);
        assert_eq!(engine.step(1, 4, true), full);
        let bad_token = Err(Fault {
            code: ErrorCode::Token,
            pc: 0,
        });
        assert_eq!(rt.step(64, 3, false).unwrap(), bad_token);
        // Recovered: the last position again.
        same(
            &rt.step(9, 3, true).unwrap(),
            &engine.step(9, 3, true),
            "after",
        );
        // An unknown opcode at pc 3, then a reserved bit at pc 5: the program memory is
        // patched on the chip and in the interpreter alike.
        let good = rt.program().to_vec();
        for (pc, word0) in [(3usize, 0x7f), (5, good[5 * 8] | 1 << 8)] {
            rt.write_program(pc * 8, &[word0]).unwrap();
            engine.program[pc * 8] = word0;
            let want = Err(Fault {
                code: ErrorCode::Instr,
                pc,
            });
            assert_eq!(rt.step(2, 0, false).unwrap(), want);
            assert_eq!(engine.step(2, 0, false), want);
            rt.write_program(pc * 8, &good[pc * 8..pc * 8 + 1]).unwrap();
            engine.program[pc * 8] = good[pc * 8];
        }
        same(
            &rt.step(2, 0, true).unwrap(),
            &engine.step(2, 0, true),
            "restored",
        );
    }

    #[test]
    fn token_runtime_refuses_broken_output_and_bounds_its_waits() {
        type Hook = fn(&mut Beats);
        let cases: [(Hook, &str); 4] = [
            (|b| b.clear(), "did not come"),
            (|b| b.last_mut().unwrap().1 = false, "final beat"),
            (|b| b[0].1 = true, "tlast on beat 0"),
            (|b| b[31].0[1] = 1, "padding"),
        ];
        for (hook, needle) in cases {
            // 63 logits: the last of 32 beats holds one padding word.
            let shape = SmallShape {
                vocab: 63,
                ..SmallShape::tiny()
            };
            let (mut rt, _, _, _) = loaded("tiny", &shape, 4);
            rt.timeout_cycles = 100_000;
            rt.device().transport().on_output = Some(hook);
            let e = rt.step(1, 0, true).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should say {needle}");
        }
    }

    #[test]
    fn token_runtime_refuses_a_plan_for_another_chip() {
        let (mut rt, _, _, _) = loaded("tiny", &SmallShape::tiny(), 4);
        let g4 = ChipConfig::named("grid4x4").unwrap();
        let model = small_llama(&SmallShape::tiny(), 7, Precision::Chip).unwrap();
        let p = plan(&g4, model.config(), 4).unwrap();
        let image = p.image(&model).unwrap();
        let e = rt.load(&p, &image, LoadMode::Auto).unwrap_err().to_string();
        assert!(e.contains("grid4x4"), "{e}");
    }

    #[test]
    fn token_runtime_traced_token_reads_a_beat_per_instruction() {
        for name in ["tiny", "ulx3s"] {
            let (mut rt, mut engine, p, _) = loaded(name, &SmallShape::tiny(), 8);
            let cfg = rt.config().clone();
            let beat = cfg.stream_width as u64 / 8;
            for (pos, logits) in [(0u32, true), (1, false), (2, true)] {
                let got = rt.step_traced(5 + pos, pos, logits).unwrap().unwrap();
                let want = engine.step(5 + pos, pos, logits);
                same(
                    &Ok(got.out.clone()),
                    &want,
                    &format!("{name}: position {pos}"),
                );
                // The double reports each instruction's index plus one: every instruction but
                // END, in program order.
                let traced: Vec<u32> = (1..p.program.len() as u32).collect();
                assert_eq!(got.cycles, traced, "{name}");
                let logit_beats = if logits {
                    logits_beats(&cfg, 64) as u64
                } else {
                    0
                };
                let io = rt.last_host_bytes();
                assert_eq!(io.to_chip, 32);
                let end = tessera_abi::descriptor::token_end_beats(&cfg, 0, 0).len() as u64;
                let traced = p.program.len() as u64 - 1;
                assert_eq!(
                    io.from_chip,
                    (logit_beats + traced + end) * beat,
                    "{name}: logits, a trace beat per instruction but END, the final beat(s)"
                );
                // An untraced token after it reads only its own output.
                let plain = rt.step(9, pos + 3, false).unwrap();
                same(&plain, &engine.step(9, pos + 3, false), "untraced");
            }
        }
        // A fault in the middle of a traced token is the fault, and the chip recovers.
        let (mut rt, mut engine, _, _) = loaded("tiny", &SmallShape::tiny(), 4);
        let bad = rt.step_traced(64, 0, true).unwrap();
        assert_eq!(bad, Err(engine.step(64, 0, true).unwrap_err()));
        let again = rt.step_traced(3, 0, true).unwrap().unwrap();
        same(&Ok(again.out), &engine.step(3, 0, true), "after the fault");
    }
}
