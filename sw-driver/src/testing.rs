//! Test doubles for the UART transport, shared by the driver's unit tests and the tests of any
//! crate that drives a board: a chip in memory, the board side of the frame protocol in memory,
//! and a fault injector that sits on any byte link.
//!
//! ```text
//! UartTransport -- FaultyLink -- BoardLink -- Board -- MiniChip (or any Transport: SimTransport)
//!                  to_board -->                receiver, kept response, commands
//!                  <-- to_host
//! ```
//!
//! - [`MiniChip`]: registers of a chip configuration in a map, writes logged, stream input
//!   recorded, stream output served from a queue, an interrupt flag.
//! - [`EngineChip`]: the token engine's descriptors and registers over the reference
//!   interpreter, for the token runtime's tests.
//! - [`Board`]: the board's UART bridge as `docs/fpga.md` specifies it (hunting for the start
//!   byte, CRC, `BAD_CRC` with the sequence number as received, a partial frame abandoned after a
//!   gap, the kept response of a repeated sequence number, every command) in front of any
//!   [`Transport`].
//! - [`BoardLink`]: the host's [`ByteLink`] to a [`Board`], without wall time: the board runs a
//!   frame when its last byte arrives, and a read that finds nothing is a timeout of the host
//!   and a gap on the line for the board.
//! - [`Faults`] and [`FaultyLink`]: bytes dropped, bits flipped, the link cut, at given bytes or
//!   periodically, in each direction of any [`ByteLink`] (a [`BoardLink`], or a
//!   [`crate::uart::SerialLink`] to a real or simulated board).
//!
//! Nothing here is meant for a real board; it is compiled into the library (no test-only
//! dependencies) so integration tests and other crates can use it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tessera_regs::TesseraRegs;

use tessera_abi::descriptor::{logits_beats, token_end_beats, EngSpace, TOKEN_LOGITS, TOKEN_TRACE};
use tessera_abi::token::{Instr, INSTR_WORDS};

use crate::config::ChipConfig;
use crate::error::{Error, Result};
use crate::program::{Descriptor, ErrorCode, Opcode};
use crate::transport::{Received, Transport};
use crate::uart::{
    decode_request, encode_response, request_len, ByteLink, Command, FrameError, Hello, Status,
    HELLO_MAGIC, MAX_PAYLOAD, PROTOCOL_VERSION, REQUEST_HEADER, REQUEST_START,
};

/// The byte offset of register `$f`, from the register layer.
macro_rules! reg {
    ($f:ident) => {{
        // SAFETY: only forms pointers from base 0; nothing is dereferenced.
        let r = unsafe { TesseraRegs::from_ptr(core::ptr::null_mut()) };
        r.$f().as_ptr() as usize as u32
    }};
}

/// The byte offset of the `SCRATCH` register.
pub fn scratch_addr() -> u32 {
    reg!(scratch)
}

/// A chip in memory: the identification, version and `CFG_*` registers of a configuration and
/// `SCRATCH` (any other address answers SLVERR), writes logged, stream input recorded per send,
/// stream output served from a queue.
#[derive(Clone, Debug, Default)]
pub struct MiniChip {
    pub regs: HashMap<u32, u32>,
    /// Every register write that was taken: (address, value).
    pub writes: Vec<(u32, u32)>,
    /// Every stream send that was taken: (words, tlast).
    pub sent: Vec<(Vec<u32>, bool)>,
    /// Output beats still to be received: (words, tlast).
    pub output: VecDeque<(Vec<u32>, bool)>,
    /// The interrupt line.
    pub irq: bool,
    /// Beats a stream send may carry; a longer one stalls (a timeout).
    pub take_limit: Option<usize>,
    stream_width: usize,
}

impl MiniChip {
    /// A chip of configuration `cfg` whose `VERSION` register reads `version`.
    pub fn new(cfg: &ChipConfig, version: u32) -> MiniChip {
        let regs = HashMap::from([
            (reg!(id), 0x5445_5353),
            (reg!(version), version),
            (reg!(cfg_stream), cfg.stream_width as u32),
            (
                reg!(cfg_grid),
                cfg.grid_rows as u32 | (cfg.grid_cols as u32) << 16,
            ),
            (reg!(cfg_tile), cfg.lanes as u32 | (cfg.kwidth as u32) << 16),
            (reg!(cfg_weight_words), cfg.weight_words as u32),
            (reg!(cfg_act_words), cfg.act_words as u32),
            (reg!(cfg_abuf_words), cfg.abuf_words as u32),
            (reg!(cfg_rbuf_words), cfg.rbuf_words as u32),
            // Weights in RAM: no ROM, no digest.
            (reg!(cfg_weight_rom), 0),
            (reg!(weight_rom_digest), 0),
            (scratch_addr(), 0),
        ]);
        MiniChip {
            regs,
            stream_width: cfg.stream_width,
            ..MiniChip::default()
        }
    }

    fn beat_words(&self) -> usize {
        (self.stream_width / 32).max(1)
    }
}

impl Transport for MiniChip {
    fn stream_width(&self) -> usize {
        self.stream_width
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        self.regs.get(&addr).copied().ok_or(Error::Bus {
            op: "read",
            addr,
            resp: 2,
        })
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        if !self.regs.contains_key(&addr) {
            return Err(Error::Bus {
                op: "write",
                addr,
                resp: 2,
            });
        }
        self.writes.push((addr, value));
        self.regs.insert(addr, value);
        Ok(())
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout: u64) -> Result<()> {
        if self
            .take_limit
            .is_some_and(|limit| words.len() / self.beat_words() > limit)
        {
            return Err(Error::Timeout {
                what: "input stalled".into(),
                cycles: timeout,
            });
        }
        self.sent.push((words.to_vec(), tlast));
        Ok(())
    }

    fn stream_recv(&mut self, beats: usize, timeout: u64) -> Result<Received> {
        let mut r = Received::default();
        for _ in 0..beats {
            let Some((w, l)) = self.output.pop_front() else {
                return Err(Error::Timeout {
                    what: "no output".into(),
                    cycles: timeout,
                });
            };
            r.words.extend(w);
            r.last.push(l);
        }
        Ok(r)
    }

    fn wait_irq(&mut self, _timeout: u64) -> Result<bool> {
        Ok(self.irq)
    }

    fn idle(&mut self, _cycles: u64) -> Result<()> {
        Ok(())
    }
}

/// Output beats: (words, tlast).
pub type Beats = Vec<(Vec<u32>, bool)>;

/// The token engine as a chip in memory: the reference interpreter behind the registers and
/// streams the programming interface specifies, for the driver's tests of
/// [`crate::token_runtime::TokenRuntime`] before and beside the RTL.
///
/// Registers: those of a [`MiniChip`], plus `STATUS` (never busy; the error flag and the count
/// of completed descriptors), `ERROR`, `CTRL.soft_reset` (clears the error, the output and a
/// partial packet; every memory keeps its contents), `INTR_STATUS` and `INTR_ENABLE`.
/// Descriptors: NOP, FENCE, PERF_SNAPSHOT, WEIGHT_LOAD (with its range checks), ENG_LOAD and
/// TOKEN (their checks, [`Descriptor::check_engine`]); any other is `ErrOpcode`, so
/// this double is the token engine only. TOKEN runs [`Engine::step`]: its logits go out as
/// beats per LOGITS instruction of the program memory, then the final beat; a fault sends
/// nothing (the interpreter does not say which logits went out before it) and stops the chip
/// with the code and the pc in `ERROR`. A stopped chip drops every input, as the RTL does.
///
/// [`Engine::step`]: crate::token::interp::Engine::step
pub struct EngineChip {
    regs: MiniChip,
    pub engine: crate::token::interp::Engine,
    /// Output beats not yet received: (words, tlast).
    pub output: VecDeque<(Vec<u32>, bool)>,
    /// Applied to each TOKEN's output beats before they are queued (tests of the driver's
    /// framing checks and timeouts).
    pub on_output: Option<fn(&mut Beats)>,
    /// Descriptors completed since the last soft reset.
    pub done: u16,
    /// `(code, descriptor)` of the error that stopped the chip.
    pub error: Option<(u8, u32)>,
    /// Descriptors started since the last soft reset (the index `ERROR.descriptor` names).
    index: u32,
    packet: Vec<u32>,
    intr_done: bool,
    intr_error: bool,
    intr_enable: u32,
}

impl EngineChip {
    /// A chip of configuration `cfg` (the version this driver speaks) with zeroed memories.
    pub fn new(cfg: &ChipConfig) -> EngineChip {
        use tessera_regs::peakrdl_rust::reg::Register;
        let version = tessera_regs::tessera_regs::version::Version::default().to_raw();
        let limits = tessera_abi::token::EngineLimits::for_config(cfg);
        let engine = crate::token::interp::Engine::new(
            cfg,
            limits,
            vec![0; cfg.prog_words() as usize],
            vec![vec![0; cfg.weight_words * cfg.word_bytes()]; cfg.tiles()],
            Vec::new(),
        );
        EngineChip {
            regs: MiniChip::new(cfg, version),
            engine,
            output: VecDeque::new(),
            on_output: None,
            done: 0,
            error: None,
            index: 0,
            packet: Vec::new(),
            intr_done: false,
            intr_error: false,
            intr_enable: 0,
        }
    }

    /// A chip of configuration `cfg` whose weights are in ROM, built from the tile images
    /// `tiles` (docs/architecture.md, "Weights in ROM"): `CFG_WEIGHT_ROM` reads 1,
    /// `WEIGHT_ROM_DIGEST` the images' digest, and every WEIGHT_LOAD stops it with
    /// `ErrWeightRom`, as the RTL does.
    pub fn with_rom(cfg: &ChipConfig, tiles: &[Vec<u8>]) -> tessera_abi::Result<EngineChip> {
        let digest = tessera_abi::rom::digest(cfg, tiles)?;
        let mut chip = EngineChip::new(cfg);
        for (t, img) in tiles.iter().enumerate() {
            chip.engine.tiles[t][..img.len()].copy_from_slice(img);
        }
        chip.regs.regs.insert(reg!(cfg_weight_rom), 1);
        chip.regs.regs.insert(reg!(weight_rom_digest), digest);
        Ok(chip)
    }

    fn stop(&mut self, code: ErrorCode, descriptor: u32) {
        self.error = Some((code.code(), descriptor));
        self.intr_error = true;
    }

    /// Runs one whole packet.
    fn execute(&mut self, packet: &[u32]) {
        let cfg = self.engine.cfg.clone();
        let index = self.index;
        self.index += 1;
        let d = match Descriptor::decode(packet, &cfg) {
            Ok(d) => d,
            Err(tessera_abi::Error::Descriptor { code, .. }) => return self.stop(code, index),
            Err(_) => return self.stop(ErrorCode::Opcode, index),
        };
        if let Err(code) = d.check_engine(&cfg) {
            return self.stop(code, index);
        }
        let h = d.header;
        match Opcode::ALL.iter().find(|o| **o as u8 == d.opcode()) {
            Some(Opcode::Nop | Opcode::PerfSnapshot) => {}
            Some(Opcode::Fence) => self.intr_done = true,
            Some(Opcode::WeightLoad) => {
                if self.regs.regs.get(&reg!(cfg_weight_rom)) == Some(&1) {
                    return self.stop(ErrorCode::WeightRom, index);
                }
                let (base, words) = (h[3] as usize, h[4] as usize);
                if words == 0 {
                    return self.stop(ErrorCode::Shape, index);
                }
                if base as u64 + words as u64 > cfg.weight_words as u64 {
                    return self.stop(ErrorCode::WeightRange, index);
                }
                let wb = cfg.word_bytes();
                let bytes: Vec<u8> = d.payload.iter().flat_map(|w| w.to_le_bytes()).collect();
                for (k, t) in (h[1] as usize..=h[2] as usize).enumerate() {
                    let src = &bytes[k * words * wb..(k + 1) * words * wb];
                    self.engine.tiles[t][base * wb..(base + words) * wb].copy_from_slice(src);
                }
            }
            Some(Opcode::EngLoad) => {
                let at = h[2] as usize;
                if h[1] == EngSpace::Program as u32 {
                    self.engine.program[at..at + d.payload.len()].copy_from_slice(&d.payload);
                } else {
                    let bytes: Vec<u8> = d.payload.iter().flat_map(|w| w.to_le_bytes()).collect();
                    let end = 4 * at + bytes.len();
                    if self.engine.dmem.len() < end {
                        self.engine.dmem.resize(end, 0);
                    }
                    self.engine.dmem[4 * at..end].copy_from_slice(&bytes);
                }
            }
            Some(Opcode::Token) => {
                let want = h[3] & TOKEN_LOGITS != 0;
                let trace = h[3] & TOKEN_TRACE != 0;
                match self.engine.step(h[1], h[2], want) {
                    Ok(out) => {
                        let beats = self.token_beats(&out, trace);
                        self.output.extend(beats);
                    }
                    Err(f) => return self.stop(f.code, f.pc as u32),
                }
            }
            _ => return self.stop(ErrorCode::Opcode, index),
        }
        self.done = self.done.wrapping_add(1);
    }

    /// The beats of a token that reached END: each LOGITS instruction's words of `out` (the
    /// LOGITS of the program memory before its first END); with `trace`, after every
    /// instruction but END a trace beat whose word 0 is the instruction's index plus one (the
    /// interpreter counts no cycles); then the final beat.
    fn token_beats(&self, out: &crate::token::interp::TokenOut, trace: bool) -> Beats {
        let cfg = &self.engine.cfg;
        let bw = cfg.beat_words().max(1);
        let mut beats = Vec::new();
        let mut words = out.logits.iter().flatten().map(|x| x.to_bits());
        for (pc, w) in self.engine.program.chunks_exact(INSTR_WORDS).enumerate() {
            let w: [u32; INSTR_WORDS] = w.try_into().expect("whole instructions");
            match Instr::decode(&w) {
                Ok(Instr::Logits { n, .. }) if out.logits.is_some() => {
                    let mut v: Vec<u32> = words.by_ref().take(n as usize).collect();
                    v.resize(logits_beats(cfg, n) * bw, 0);
                    beats.extend(v.chunks(bw).map(|b| (b.to_vec(), false)));
                }
                Ok(Instr::End) => break,
                _ => {}
            }
            if trace {
                let mut beat = vec![0u32; bw];
                beat[0] = pc as u32 + 1;
                beats.push((beat, false));
            }
        }
        let last = token_end_beats(cfg, out.next, out.instrs as u32);
        let n = last.len();
        beats.extend(last.into_iter().enumerate().map(|(i, b)| (b, i + 1 == n)));
        if let Some(f) = self.on_output {
            f(&mut beats);
        }
        beats
    }
}

impl Transport for EngineChip {
    fn stream_width(&self) -> usize {
        self.engine.cfg.stream_width
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        use tessera_regs::tessera_regs::{error, intr_status, status};
        if addr == reg!(status) {
            let s = u32::from(self.error.is_some()) << status::Status::ERROR_OFFSET
                | u32::from(self.done) << status::Status::DONE_COUNT_OFFSET;
            return Ok(s);
        }
        if addr == reg!(error) {
            let (code, d) = self.error.unwrap_or((0, 0));
            return Ok(u32::from(code) << error::Error::CODE_OFFSET
                | (d & error::Error::DESCRIPTOR_MASK) << error::Error::DESCRIPTOR_OFFSET);
        }
        if addr == reg!(intr_status) {
            return Ok(
                u32::from(self.intr_done) << intr_status::IntrStatus::DONE_OFFSET
                    | u32::from(self.intr_error) << intr_status::IntrStatus::ERROR_OFFSET,
            );
        }
        if addr == reg!(intr_enable) {
            return Ok(self.intr_enable);
        }
        self.regs.reg_read(addr)
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        use tessera_regs::tessera_regs::{ctrl, intr_status};
        if addr == reg!(ctrl) {
            if value >> ctrl::Ctrl::SOFT_RESET_OFFSET & 1 != 0 {
                self.error = None;
                self.output.clear();
                self.packet.clear();
                self.done = 0;
                self.index = 0;
            }
            return Ok(());
        }
        if addr == reg!(intr_status) {
            if value >> intr_status::IntrStatus::DONE_OFFSET & 1 != 0 {
                self.intr_done = false;
            }
            if value >> intr_status::IntrStatus::ERROR_OFFSET & 1 != 0 {
                self.intr_error = false;
            }
            return Ok(());
        }
        if addr == reg!(intr_enable) {
            self.intr_enable = value;
            return Ok(());
        }
        self.regs.reg_write(addr, value)
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, _timeout: u64) -> Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        self.packet.extend_from_slice(words);
        if tlast {
            let p = std::mem::take(&mut self.packet);
            self.execute(&p);
        }
        Ok(())
    }

    fn stream_recv(&mut self, beats: usize, timeout: u64) -> Result<Received> {
        if self.output.len() < beats {
            return Err(Error::Timeout {
                what: format!("{} of {beats} output beats", self.output.len()),
                cycles: timeout,
            });
        }
        let mut r = Received::default();
        for (w, l) in self.output.drain(..beats) {
            r.words.extend(w);
            r.last.push(l);
        }
        Ok(r)
    }

    fn wait_irq(&mut self, _timeout: u64) -> Result<bool> {
        use tessera_regs::tessera_regs::intr_enable::IntrEnable;
        let on = |offset: usize| self.intr_enable >> offset & 1 != 0;
        Ok(self.intr_done && on(IntrEnable::DONE_OFFSET)
            || self.intr_error && on(IntrEnable::ERROR_OFFSET))
    }

    fn idle(&mut self, _cycles: u64) -> Result<()> {
        Ok(())
    }
}

/// A request frame the board received with a good CRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSeen {
    pub seq: u8,
    pub cmd: u8,
    /// False when it was answered from the kept response (a repeated sequence number).
    pub executed: bool,
}

/// The board side of the protocol in memory, in front of any [`Transport`]: the receiver
/// (hunting for the start byte, the CRC, abandoning a frame after a gap), the kept response, the
/// commands. `HELLO` forgets the kept response.
pub struct Board<T: Transport> {
    pub chip: T,
    /// `HELLO`'s magic (a wrong one makes a board that is not a Tessera bridge).
    pub magic: [u8; 4],
    /// The protocol version `HELLO` reports.
    pub version: u8,
    /// `MaxPayload`.
    pub max_payload: usize,
    /// The clock `HELLO` reports.
    pub clock_hz: u32,
    /// `ClksPerBit`.
    pub clks_per_bit: u16,
    /// Every frame with a good CRC, in order.
    pub log: Vec<FrameSeen>,
    /// Frames with a bad CRC (each answered `BAD_CRC`).
    pub bad_crc: usize,
    frame: Vec<u8>,
    kept: Option<(u8, Vec<u8>)>,
    out: Vec<u8>,
}

impl<T: Transport> Board<T> {
    /// A board like the ULX3S build: protocol version 1, `MaxPayload` 1024, 25 MHz, 1 Mbaud.
    pub fn new(chip: T) -> Board<T> {
        Board {
            chip,
            magic: HELLO_MAGIC,
            version: PROTOCOL_VERSION,
            max_payload: MAX_PAYLOAD,
            clock_hz: 25_000_000,
            clks_per_bit: 25,
            log: Vec::new(),
            bad_crc: 0,
            frame: Vec::new(),
            kept: None,
            out: Vec::new(),
        }
    }

    /// Frames executed (not answered from the kept response).
    pub fn executed(&self) -> usize {
        self.log.iter().filter(|l| l.executed).count()
    }

    /// A gap on the line: a partial frame is abandoned.
    pub fn gap(&mut self) {
        self.frame.clear();
    }

    /// The response bytes produced since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// One byte from the host.
    pub fn feed(&mut self, b: u8) {
        if self.frame.is_empty() && b != REQUEST_START {
            return;
        }
        self.frame.push(b);
        if self.frame.len() < REQUEST_HEADER {
            return;
        }
        let n = request_len(&self.frame);
        if n > self.max_payload {
            self.frame.clear();
            return;
        }
        // The header, the payload and the CRC.
        if self.frame.len() < REQUEST_HEADER + n + 2 {
            return;
        }
        let f = std::mem::take(&mut self.frame);
        let req = match decode_request(&f) {
            Ok(r) => r,
            Err(FrameError::BadCrc { seq, cmd }) => {
                self.bad_crc += 1;
                self.out
                    .extend(encode_response(seq, cmd, Status::BadCrc.code(), &[]));
                return;
            }
            // The length was checked above: a whole frame that starts right.
            Err(FrameError::Malformed) => return,
        };
        let (seq, cmd) = (req.seq, req.cmd);
        let hello = cmd == Command::Hello as u8;
        if let Some((_, resp)) = self.kept.as_ref().filter(|(k, _)| !hello && *k == seq) {
            self.log.push(FrameSeen {
                seq,
                cmd,
                executed: false,
            });
            self.out.extend_from_slice(resp);
            return;
        }
        self.log.push(FrameSeen {
            seq,
            cmd,
            executed: true,
        });
        let payload = req.payload.to_vec();
        let (status, payload) = self.execute(cmd, &payload);
        let resp = encode_response(seq, cmd, status.code(), &payload);
        self.kept = (!hello).then(|| (seq, resp.clone()));
        self.out.extend(resp);
    }

    fn execute(&mut self, cmd: u8, p: &[u8]) -> (Status, Vec<u8>) {
        let w = self.chip.stream_width() / 8;
        let u16_at = |i: usize| u16::from_le_bytes([p[i], p[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        let status_of = |e: &Error| match e {
            Error::Bus { .. } => Status::SlvErr,
            _ => Status::Timeout,
        };
        match Command::from_u8(cmd) {
            Some(Command::Hello) => {
                let mut r = Hello {
                    version: self.version,
                    stream_bytes: w,
                    clock_hz: self.clock_hz,
                    max_payload: self.max_payload,
                    clks_per_bit: self.clks_per_bit,
                }
                .encode();
                r[..4].copy_from_slice(&self.magic);
                (Status::Ok, r)
            }
            Some(Command::RegRead) if p.len() == 2 => match self.chip.reg_read(u16_at(0) as u32) {
                Ok(v) => (Status::Ok, v.to_le_bytes().to_vec()),
                Err(e) => (status_of(&e), vec![0; 4]),
            },
            Some(Command::RegWrite) if p.len() == 6 => {
                match self.chip.reg_write(u16_at(0) as u32, u32_at(2)) {
                    Ok(()) => (Status::Ok, vec![]),
                    Err(e) => (status_of(&e), vec![]),
                }
            }
            Some(Command::StreamSend) if p.len() > 5 && (p.len() - 5) % w == 0 => {
                let words: Vec<u32> = p[5..]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let beats = ((p.len() - 5) / w) as u16;
                match self
                    .chip
                    .stream_send(&words, p[0] & 1 != 0, u32_at(1) as u64)
                {
                    Ok(()) => (Status::Ok, beats.to_le_bytes().to_vec()),
                    Err(e) => (status_of(&e), 0u16.to_le_bytes().to_vec()),
                }
            }
            Some(Command::StreamRecv) if p.len() == 6 => {
                let b = u16_at(0) as usize;
                if b == 0 || b * (w + 1) > self.max_payload {
                    return (Status::BadLen, vec![]);
                }
                match self.chip.stream_recv(b, u32_at(2) as u64) {
                    Ok(r) => {
                        let mut out = Vec::new();
                        for (i, l) in r.last.iter().enumerate() {
                            for x in &r.words[i * w / 4..(i + 1) * w / 4] {
                                out.extend_from_slice(&x.to_le_bytes());
                            }
                            out.push(u8::from(*l));
                        }
                        (Status::Ok, out)
                    }
                    Err(e) => (status_of(&e), vec![]),
                }
            }
            Some(Command::WaitIrq) if p.len() == 4 => match self.chip.wait_irq(u32_at(0) as u64) {
                Ok(true) => (Status::Ok, vec![1]),
                Ok(false) => (Status::Timeout, vec![0]),
                Err(e) => (status_of(&e), vec![]),
            },
            Some(_) => (Status::BadLen, vec![]),
            None => (Status::BadCmd, vec![]),
        }
    }
}

/// The host's end of an in-memory link to a [`Board`]. No wall time passes: the board runs a
/// frame as soon as its last byte is written; a read that finds nothing returns at once (a
/// timeout of the host) and is a gap on the line for the board.
pub struct BoardLink<T: Transport> {
    pub board: Board<T>,
    /// Reads that found nothing waiting.
    pub timeouts: usize,
    to_host: VecDeque<u8>,
}

impl<T: Transport> BoardLink<T> {
    pub fn new(board: Board<T>) -> BoardLink<T> {
        BoardLink {
            board,
            timeouts: 0,
            to_host: VecDeque::new(),
        }
    }

    /// Bytes that reach the host as if the board had sent them (a late copy of a response).
    pub fn send_to_host(&mut self, bytes: &[u8]) {
        self.to_host.extend(bytes);
    }
}

impl<T: Transport> ByteLink for BoardLink<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        for &b in bytes {
            self.board.feed(b);
        }
        self.to_host.extend(self.board.take_output());
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize> {
        if self.to_host.is_empty() {
            self.timeouts += 1;
            self.board.gap();
            return Ok(0);
        }
        let n = buf.len().min(self.to_host.len());
        for (d, s) in buf.iter_mut().zip(self.to_host.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }
}

/// What happens to one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The byte is lost.
    Drop,
    /// The bits of the mask are flipped.
    Flip(u8),
    /// The link is cut: this byte and every later one are lost ([`Faults::dead`]).
    Cut,
}

/// Faults of one direction of a link, by the index of the byte counted from the first one.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Bytes offered so far (the index of the next byte).
    pub bytes: u64,
    /// Nothing passes.
    pub dead: bool,
    /// Flip bit 0 of the last byte of every chunk ([`Faults::pass_chunk`]): toward the board,
    /// the CRC of every request, since the transport writes each frame at once.
    pub damage_last_byte: bool,
    /// Bytes lost to [`Fault::Drop`].
    pub dropped: u64,
    /// Bytes changed by [`Fault::Flip`] and [`Faults::damage_last_byte`].
    pub flipped: u64,
    at: Vec<(u64, Fault)>,
    every: Vec<(u64, Fault)>,
}

impl Faults {
    /// A fault on the byte `k` bytes after those offered so far (`0`: the next one).
    pub fn after(&mut self, k: u64, f: Fault) {
        self.at.push((self.bytes + k, f));
    }

    /// A fault on the last byte of every `period` bytes counted from the first one (bytes
    /// `period − 1`, `2·period − 1`, ...). Where two faults meet, the first one added wins.
    pub fn every(&mut self, period: u64, f: Fault) {
        assert!(period > 0, "a fault every 0 bytes");
        self.every.push((period, f));
    }

    /// One byte through this direction: `None` when it is lost.
    pub fn pass(&mut self, b: u8) -> Option<u8> {
        let i = self.bytes;
        self.bytes += 1;
        let f = self
            .at
            .iter()
            .find(|(k, _)| *k == i)
            .or_else(|| self.every.iter().find(|(p, _)| i % p == p - 1))
            .map(|(_, f)| *f);
        if f == Some(Fault::Cut) {
            self.dead = true;
        }
        if self.dead {
            return None;
        }
        match f {
            None | Some(Fault::Cut) => Some(b),
            Some(Fault::Drop) => {
                self.dropped += 1;
                None
            }
            Some(Fault::Flip(m)) => {
                self.flipped += 1;
                Some(b ^ m)
            }
        }
    }

    /// Bytes passed at once (one write of the transport, one read of the other side): each
    /// through [`Faults::pass`], after [`Faults::damage_last_byte`].
    pub fn pass_chunk(&mut self, chunk: &[u8]) -> Vec<u8> {
        let last = chunk.len().saturating_sub(1);
        let mut out = Vec::with_capacity(chunk.len());
        for (i, &b) in chunk.iter().enumerate() {
            let b = if i == last && self.damage_last_byte {
                self.flipped += 1;
                b ^ 1
            } else {
                b
            };
            out.extend(self.pass(b));
        }
        out
    }
}

/// A [`ByteLink`] with faults in both directions in front of another link.
pub struct FaultyLink<L: ByteLink> {
    pub link: L,
    /// Faults of the bytes written (toward the board).
    pub to_board: Faults,
    /// Faults of the bytes read (toward the host).
    pub to_host: Faults,
}

impl<L: ByteLink> FaultyLink<L> {
    /// `link` without faults yet.
    pub fn new(link: L) -> FaultyLink<L> {
        FaultyLink {
            link,
            to_board: Faults::default(),
            to_host: Faults::default(),
        }
    }
}

impl<L: ByteLink> ByteLink for FaultyLink<L> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let passed = self.to_board.pass_chunk(bytes);
        self.link.write_all(&passed)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = self.link.read(buf, left)?;
            if n == 0 {
                return Ok(0);
            }
            let passed = self.to_host.pass_chunk(&buf[..n]);
            if !passed.is_empty() {
                buf[..passed.len()].copy_from_slice(&passed);
                return Ok(passed.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testing_faults_hit_the_bytes_they_name() {
        let mut f = Faults::default();
        f.every(4, Fault::Drop);
        f.after(1, Fault::Flip(0x81));
        f.after(3, Fault::Flip(0x01));
        let out: Vec<Option<u8>> = (0..10u8).map(|b| f.pass(b)).collect();
        // Byte 3 has a fault of its own and a periodic one: its own wins.
        let want = [0, 0x80, 2, 2, 4, 5, 6].map(Some);
        assert_eq!(out[..7], want);
        assert_eq!(out[7..], [None, Some(8), Some(9)]);
        assert_eq!((f.bytes, f.dropped, f.flipped), (10, 1, 2));

        // The last byte of each chunk damaged; then the link cut two bytes on.
        let mut f = Faults {
            damage_last_byte: true,
            ..Faults::default()
        };
        assert_eq!(f.pass_chunk(&[0x10, 0x20]), [0x10, 0x21]);
        f.damage_last_byte = false;
        f.after(2, Fault::Cut);
        assert_eq!(f.pass_chunk(&[1, 2, 3, 4]), [1, 2]);
        assert!(f.dead);
        assert_eq!(f.pass_chunk(&[5]), Vec::<u8>::new());
        assert_eq!((f.bytes, f.dropped, f.flipped), (7, 0, 1));
    }

    #[test]
    fn testing_faulty_link_reads_past_lost_bytes() {
        let mut l = FaultyLink::new(BoardLink::new(Board::new(MiniChip::default())));
        l.link.send_to_host(&[1, 2, 3]);
        l.to_host.every(1, Fault::Drop);
        let mut buf = [0u8; 8];
        // Every byte lost: nothing to read, and the board saw a gap.
        assert_eq!(l.read(&mut buf, Duration::ZERO).unwrap(), 0);
        assert_eq!(l.link.timeouts, 1);
        assert_eq!(l.to_host.dropped, 3);
        l.to_host = Faults::default();
        l.link.send_to_host(&[4, 5]);
        assert_eq!(l.read(&mut buf, Duration::ZERO).unwrap(), 2);
        assert_eq!(&buf[..2], [4, 5]);
    }
}
