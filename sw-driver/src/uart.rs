//! UART transport for boards: the framed protocol of the board's UART bridge (`docs/fpga.md`,
//! "Serial link" and "Frames") over any [`ByteLink`], a serial device or a pseudo-terminal.
//!
//! - Every request is one frame with a CRC-16/CCITT-FALSE ([`crc16`]) and a sequence number;
//!   [`UartTransport::new`] starts with `HELLO` (magic `"TSRA"`, protocol version, stream width,
//!   clock, `MaxPayload`, `ClksPerBit`) and refuses another protocol version
//!   ([`Error::UnsupportedProtocol`]).
//! - Requests are split to fit `MaxPayload`: a stream send goes in several `STREAM_SEND` frames
//!   (`tlast` with the last one), a receive in several `STREAM_RECV` frames.
//! - A request is retried with the same sequence number after `BAD_CRC`, after a response with a
//!   bad CRC, or when no response with its sequence number arrives in time (responses with
//!   another sequence number, such as a late copy of an earlier one, are skipped). The board
//!   answers a repeated sequence number from its kept response, so a retry never executes a
//!   request twice. After [`UartOptions::tries`] tries the error ([`Error::Link`]) names the
//!   operation, e.g. `REG_READ 0x004: no response after 4 tries (0.21 s each)`.
//! - Board statuses map to the driver's errors: `SLVERR` is [`Error::Bus`], `TIMEOUT`
//!   [`Error::Timeout`]; `BAD_CMD` and `BAD_LEN` are protocol errors ([`Error::Link`]).
//! - The wait for a response is derived from the request's cycle timeout at the board clock,
//!   the bytes on the link both ways (and the board's idle gap, so a retry never joins an
//!   abandoned frame) at the slower of the baud rate and the board's bit time, plus
//!   [`UartOptions::margin`]. A simulated board runs its clock slower than real time:
//!   [`UartOptions::board_hz`] gives its speed in cycles per second.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::transport::{Received, Transport};

/// First byte of a request frame.
pub const REQUEST_START: u8 = 0xa5;
/// First byte of a response frame.
pub const RESPONSE_START: u8 = 0x5a;
/// The protocol version this driver speaks (`HELLO`).
pub const PROTOCOL_VERSION: u8 = 1;
/// `HELLO`'s magic.
pub const HELLO_MAGIC: [u8; 4] = *b"TSRA";
/// Largest payload the protocol allows.
pub const MAX_PAYLOAD: usize = 1024;
/// Default baud rate of the serial device.
pub const DEFAULT_BAUD: u32 = 1_000_000;
/// Default number of tries of one request.
pub const DEFAULT_TRIES: u32 = 4;
/// Default margin added to every wait.
pub const DEFAULT_MARGIN: Duration = Duration::from_millis(200);
/// Byte times of silence after which the board abandons a partial frame (`IdleBytes`).
pub const IDLE_BYTES: usize = 64;

/// Cycles the board gives a register access before it answers `TIMEOUT`.
const REG_TIMEOUT_CYCLES: u64 = 65_536;

/// Request bytes around the payload: start, sequence, command, length, CRC.
const REQUEST_OVERHEAD: usize = 7;
/// Response bytes around the payload: start, sequence, command, status, length, CRC.
const RESPONSE_OVERHEAD: usize = 8;
/// Bytes of `HELLO`'s response payload.
const HELLO_LEN: usize = 14;
/// `STREAM_SEND` payload before the beats: flags, timeout.
const SEND_HEADER: usize = 5;

/// Commands of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    Hello = 0x00,
    RegRead = 0x01,
    RegWrite = 0x02,
    StreamSend = 0x03,
    StreamRecv = 0x04,
    WaitIrq = 0x05,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Hello => "HELLO",
            Command::RegRead => "REG_READ",
            Command::RegWrite => "REG_WRITE",
            Command::StreamSend => "STREAM_SEND",
            Command::StreamRecv => "STREAM_RECV",
            Command::WaitIrq => "WAIT_IRQ",
        }
    }

    pub fn from_u8(c: u8) -> Option<Command> {
        Some(match c {
            0x00 => Command::Hello,
            0x01 => Command::RegRead,
            0x02 => Command::RegWrite,
            0x03 => Command::StreamSend,
            0x04 => Command::StreamRecv,
            0x05 => Command::WaitIrq,
            _ => return None,
        })
    }
}

/// Response status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    SlvErr,
    Timeout,
    BadCmd,
    BadLen,
    BadCrc,
    Unknown(u8),
}

impl Status {
    pub fn from_u8(s: u8) -> Status {
        match s {
            0 => Status::Ok,
            1 => Status::SlvErr,
            2 => Status::Timeout,
            3 => Status::BadCmd,
            4 => Status::BadLen,
            5 => Status::BadCrc,
            x => Status::Unknown(x),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::SlvErr => 1,
            Status::Timeout => 2,
            Status::BadCmd => 3,
            Status::BadLen => 4,
            Status::BadCrc => 5,
            Status::Unknown(x) => x,
        }
    }

    pub fn name(self) -> String {
        match self {
            Status::Ok => "OK".into(),
            Status::SlvErr => "SLVERR".into(),
            Status::Timeout => "TIMEOUT".into(),
            Status::BadCmd => "BAD_CMD".into(),
            Status::BadLen => "BAD_LEN".into(),
            Status::BadCrc => "BAD_CRC".into(),
            Status::Unknown(x) => format!("status {x}"),
        }
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xffff, no reflection, no final XOR.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xffffu16;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A request frame: start, sequence number, command, length, payload, CRC of bytes 1 ..= 4+n.
pub fn encode_request(seq: u8, cmd: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + REQUEST_OVERHEAD);
    f.extend_from_slice(&[REQUEST_START, seq, cmd]);
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.extend_from_slice(payload);
    let crc = crc16(&f[1..]);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// A response frame: start, sequence number, command with bit 7 set, status, length, payload,
/// CRC of bytes 1 ..= 5+n. `cmd` is the request's command.
pub fn encode_response(seq: u8, cmd: u8, status: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + RESPONSE_OVERHEAD);
    f.extend_from_slice(&[RESPONSE_START, seq, cmd | 0x80, status]);
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.extend_from_slice(payload);
    let crc = crc16(&f[1..]);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// A byte link to the board: a serial device, a pseudo-terminal, or anything between (a fault
/// injector in tests).
pub trait ByteLink {
    /// Writes every byte (bounded: an error when the link does not take them in time).
    fn write_all(&mut self, bytes: &[u8]) -> Result<()>;

    /// Reads what has arrived, waiting at most `timeout` for the first byte; `Ok(0)` when
    /// nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize>;
}

impl<L: ByteLink + ?Sized> ByteLink for Box<L> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        (**self).write_all(bytes)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        (**self).read(buf, timeout)
    }
}

/// What `HELLO` reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub version: u8,
    /// Stream width in bytes (`W`).
    pub stream_bytes: usize,
    pub clock_hz: u32,
    pub max_payload: usize,
    pub clks_per_bit: u16,
}

/// Options of the link (`uart:PATH[,baud=N][,tries=N][,margin-ms=N][,board-hz=N]`).
#[derive(Clone, Debug, PartialEq)]
pub struct UartOptions {
    /// Baud rate of the serial device (8N1).
    pub baud: u32,
    /// Tries of one request (the first one and the retries).
    pub tries: u32,
    /// Added to every wait for a response.
    pub margin: Duration,
    /// Board clock cycles per second of wall time; `None`: the clock `HELLO` reports (a real
    /// board). A simulated board is slower.
    pub board_hz: Option<f64>,
    /// Largest payload to use, below the board's `MaxPayload` (tests).
    pub max_payload: Option<usize>,
}

impl Default for UartOptions {
    fn default() -> UartOptions {
        UartOptions {
            baud: DEFAULT_BAUD,
            tries: DEFAULT_TRIES,
            margin: DEFAULT_MARGIN,
            board_hz: None,
            max_payload: None,
        }
    }
}

impl UartOptions {
    /// Parses the part of a transport string after `uart:`: `PATH[,key=value]...` with keys
    /// `baud`, `tries`, `margin-ms`, `board-hz` and `max-payload`.
    pub fn parse(spec: &str) -> Result<(PathBuf, UartOptions)> {
        let mut parts = spec.split(',');
        let path = parts.next().unwrap_or("").trim();
        if path.is_empty() {
            return Err(Error::Config(format!(
                "uart:{spec}: no device path (expected uart:/dev/ttyUSB0[,baud=N])"
            )));
        }
        let mut o = UartOptions::default();
        for kv in parts {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("uart:{spec}: `{kv}` is not key=value")))?;
            let bad = || Error::Config(format!("uart:{spec}: bad value `{v}` for {k}"));
            let num = |v: &str| -> Result<f64> {
                v.trim()
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(bad)
            };
            match k.trim() {
                "baud" => o.baud = num(v)? as u32,
                "tries" => o.tries = (num(v)? as u32).max(1),
                "margin-ms" => o.margin = Duration::from_secs_f64(num(v)? / 1e3),
                "board-hz" => o.board_hz = Some(num(v)?),
                "max-payload" => o.max_payload = Some(num(v)? as usize),
                _ => {
                    return Err(Error::Config(format!(
                        "uart:{spec}: unknown option `{k}` (baud, tries, margin-ms, board-hz, \
                         max-payload)"
                    )))
                }
            }
        }
        Ok((PathBuf::from(path), o))
    }
}

/// Traffic and retries of a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Requests (each counted once, however often tried).
    pub requests: u64,
    /// Frames written (tries).
    pub frames: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Tries after the first.
    pub retries: u64,
    /// `BAD_CRC` answers from the board.
    pub board_bad_crc: u64,
    /// Responses whose CRC did not match.
    pub bad_responses: u64,
    /// Tries without a valid response in time.
    pub no_response: u64,
    /// Responses skipped for another sequence number (late copies).
    pub stale: u64,
    /// Wall time spent in exchanges.
    pub seconds_nanos: u64,
}

impl LinkStats {
    pub fn seconds(&self) -> f64 {
        self.seconds_nanos as f64 * 1e-9
    }
}

/// How a try ended without an answer.
#[derive(Default)]
struct Failures {
    none: u32,
    bad_response: u32,
    board_bad_crc: u32,
}

impl Failures {
    fn describe(&self, tries: u32, wait: Duration) -> String {
        if self.bad_response == 0 && self.board_bad_crc == 0 {
            return format!(
                "no response after {tries} tries ({:.2} s each)",
                wait.as_secs_f64()
            );
        }
        let mut why = Vec::new();
        if self.board_bad_crc > 0 {
            why.push(format!("{} BAD_CRC from the board", self.board_bad_crc));
        }
        if self.bad_response > 0 {
            why.push(format!("{} response(s) with a bad CRC", self.bad_response));
        }
        if self.none > 0 {
            why.push(format!(
                "{} without a response in {:.2} s",
                self.none,
                wait.as_secs_f64()
            ));
        }
        format!("no valid response after {tries} tries ({})", why.join(", "))
    }
}

/// What reading one response gave.
enum Read {
    Frame {
        seq: u8,
        cmd: u8,
        status: Status,
        payload: Vec<u8>,
    },
    BadCrc,
    Timeout,
}

/// The chip behind a board's UART bridge.
pub struct UartTransport<L: ByteLink> {
    link: L,
    opts: UartOptions,
    hello: Hello,
    max_payload: usize,
    seq: u8,
    rx: VecDeque<u8>,
    stats: LinkStats,
    what: String,
}

impl UartTransport<SerialLink> {
    /// Opens a serial device (or a pseudo-terminal) in raw 8N1 at `opts.baud` and says `HELLO`.
    pub fn open(path: &Path, opts: UartOptions) -> Result<UartTransport<SerialLink>> {
        let link = SerialLink::open(path, opts.baud)?;
        let mut t = UartTransport::new(link, opts)?;
        t.what = path.display().to_string();
        Ok(t)
    }

    /// Opens a transport string's device part: `PATH[,key=value]...` ([`UartOptions::parse`]).
    pub fn open_spec(spec: &str) -> Result<UartTransport<SerialLink>> {
        let (path, opts) = UartOptions::parse(spec)?;
        Self::open(&path, opts)
    }
}

impl<L: ByteLink> UartTransport<L> {
    /// A transport over `link`: drops stale input, then `HELLO` (magic, protocol version,
    /// stream width, clock, `MaxPayload`).
    pub fn new(link: L, opts: UartOptions) -> Result<UartTransport<L>> {
        let mut t = UartTransport {
            link,
            opts,
            hello: Hello {
                version: 0,
                stream_bytes: 4,
                clock_hz: 1,
                max_payload: HELLO_LEN,
                clks_per_bit: 1,
            },
            max_payload: MAX_PAYLOAD,
            seq: 0,
            rx: VecDeque::new(),
            stats: LinkStats::default(),
            what: "the board".into(),
        };
        t.discard_input()?;
        t.say_hello()?;
        Ok(t)
    }

    fn say_hello(&mut self) -> Result<()> {
        // Nothing is known about the board yet: the margin twice and the bytes at the baud rate.
        let bytes = REQUEST_OVERHEAD + RESPONSE_OVERHEAD + HELLO_LEN + IDLE_BYTES;
        let wait = 2 * self.opts.margin
            + Duration::from_secs_f64(bytes as f64 * 10.0 / self.opts.baud.max(1) as f64);
        let (st, p) = self.exchange_with(&|| "HELLO".into(), Command::Hello, &[], wait)?;
        if st != Status::Ok {
            return Err(Error::Link(format!(
                "HELLO: the board answered {}",
                st.name()
            )));
        }
        if p.len() < HELLO_LEN || p[..4] != HELLO_MAGIC {
            return Err(Error::Link(format!(
                "HELLO: {} is not a Tessera UART bridge (payload {:02x?}, expected magic \"TSRA\")",
                self.what, p
            )));
        }
        if p[4] != PROTOCOL_VERSION {
            return Err(Error::UnsupportedProtocol {
                found: p[4],
                supported: PROTOCOL_VERSION,
            });
        }
        let h = Hello {
            version: p[4],
            stream_bytes: p[5] as usize,
            clock_hz: u32::from_le_bytes([p[6], p[7], p[8], p[9]]),
            max_payload: u16::from_le_bytes([p[10], p[11]]) as usize,
            clks_per_bit: u16::from_le_bytes([p[12], p[13]]),
        };
        let w = h.stream_bytes;
        if w < 4 || w % 4 != 0 || h.clock_hz == 0 || h.max_payload < SEND_HEADER + w + 1 {
            return Err(Error::Link(format!(
                "HELLO: unusable board parameters {h:?} (stream width a whole number of 32-bit \
                 words, a clock, MaxPayload of at least one beat)"
            )));
        }
        let mut max = h.max_payload.min(MAX_PAYLOAD);
        if let Some(m) = self.opts.max_payload {
            max = max.min(m.max(SEND_HEADER + w + 1));
        }
        self.max_payload = max;
        self.hello = h;
        Ok(())
    }

    /// What `HELLO` reported.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    pub fn options(&self) -> &UartOptions {
        &self.opts
    }

    /// The payload bytes used per frame (the board's `MaxPayload`, or less).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn link(&mut self) -> &mut L {
        &mut self.link
    }

    /// Board clock cycles per wall second.
    pub fn board_hz(&self) -> f64 {
        self.opts
            .board_hz
            .unwrap_or(self.hello.clock_hz as f64)
            .max(1.0)
    }

    /// Wall time of one byte on the link: the slower of the baud rate and the board's bit time.
    fn byte_seconds(&self) -> f64 {
        let baud = 10.0 / self.opts.baud.max(1) as f64;
        let board = 10.0 * self.hello.clks_per_bit as f64 / self.board_hz();
        baud.max(board)
    }

    /// How long to wait for the response of a request of `request` bytes whose command may run
    /// `cycles` board cycles and answer with up to `response` payload bytes.
    pub fn wait_for(&self, cycles: u64, request: usize, response: usize) -> Duration {
        let bytes = request + response + RESPONSE_OVERHEAD + IDLE_BYTES;
        let s = cycles as f64 / self.board_hz() + bytes as f64 * self.byte_seconds();
        self.opts.margin + Duration::from_secs_f64(s.min(1e6))
    }

    /// Drops whatever has arrived (stale bytes, late responses).
    fn discard_input(&mut self) -> Result<()> {
        self.rx.clear();
        let mut buf = [0u8; 4096];
        for _ in 0..256 {
            let n = self.link.read(&mut buf, Duration::ZERO)?;
            if n == 0 {
                break;
            }
            self.stats.bytes_received += n as u64;
        }
        Ok(())
    }

    fn next_byte(&mut self, deadline: Instant) -> Result<Option<u8>> {
        if let Some(b) = self.rx.pop_front() {
            return Ok(Some(b));
        }
        let mut buf = [0u8; 4096];
        let left = deadline.saturating_duration_since(Instant::now());
        let n = self.link.read(&mut buf, left)?;
        if n == 0 {
            return Ok(None);
        }
        self.stats.bytes_received += n as u64;
        self.rx.extend(&buf[..n]);
        Ok(self.rx.pop_front())
    }

    /// Reads one response frame, hunting for the start byte.
    fn read_response(&mut self, deadline: Instant) -> Result<Read> {
        loop {
            match self.next_byte(deadline)? {
                None => return Ok(Read::Timeout),
                Some(RESPONSE_START) => {}
                Some(_) => continue,
            }
            let mut head = [0u8; 5];
            for h in head.iter_mut() {
                match self.next_byte(deadline)? {
                    Some(b) => *h = b,
                    None => return Ok(Read::Timeout),
                }
            }
            let n = u16::from_le_bytes([head[3], head[4]]) as usize;
            if n > self.max_payload.max(self.hello.max_payload) || head[1] & 0x80 == 0 {
                // Not a response header: hunt again from the byte after the false start.
                for &b in head.iter().rev() {
                    self.rx.push_front(b);
                }
                continue;
            }
            let mut body = Vec::with_capacity(n + 2);
            for _ in 0..n + 2 {
                match self.next_byte(deadline)? {
                    Some(b) => body.push(b),
                    None => return Ok(Read::Timeout),
                }
            }
            let crc = u16::from_le_bytes([body[n], body[n + 1]]);
            let mut covered = head.to_vec();
            covered.extend_from_slice(&body[..n]);
            if crc16(&covered) != crc {
                return Ok(Read::BadCrc);
            }
            body.truncate(n);
            return Ok(Read::Frame {
                seq: head[0],
                cmd: head[1],
                status: Status::from_u8(head[2]),
                payload: body,
            });
        }
    }

    /// One request under a new sequence number, retried as the protocol says; the response's
    /// status and payload. `cycles`: how long the command may run on the board; `response`: the
    /// largest response payload.
    fn exchange(
        &mut self,
        op: &dyn Fn() -> String,
        cmd: Command,
        payload: &[u8],
        cycles: u64,
        response: usize,
    ) -> Result<(Status, Vec<u8>)> {
        let wait = self.wait_for(cycles, payload.len() + REQUEST_OVERHEAD, response);
        self.exchange_with(op, cmd, payload, wait)
    }

    fn exchange_with(
        &mut self,
        op: &dyn Fn() -> String,
        cmd: Command,
        payload: &[u8],
        wait: Duration,
    ) -> Result<(Status, Vec<u8>)> {
        let t0 = Instant::now();
        let r = self.exchange_inner(op, cmd, payload, wait);
        self.stats.seconds_nanos += t0.elapsed().as_nanos() as u64;
        r
    }

    fn exchange_inner(
        &mut self,
        op: &dyn Fn() -> String,
        cmd: Command,
        payload: &[u8],
        wait: Duration,
    ) -> Result<(Status, Vec<u8>)> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.stats.requests += 1;
        let frame = encode_request(seq, cmd as u8, payload);
        let mut fails = Failures::default();
        for attempt in 0..self.opts.tries.max(1) {
            if attempt > 0 {
                self.stats.retries += 1;
                self.discard_input()?;
            }
            self.link
                .write_all(&frame)
                .map_err(|e| Error::Link(format!("{}: {e}", op())))?;
            self.stats.frames += 1;
            self.stats.bytes_sent += frame.len() as u64;
            let deadline = Instant::now() + wait;
            loop {
                match self.read_response(deadline)? {
                    Read::Timeout => {
                        fails.none += 1;
                        self.stats.no_response += 1;
                        break;
                    }
                    Read::BadCrc => {
                        fails.bad_response += 1;
                        self.stats.bad_responses += 1;
                        break;
                    }
                    Read::Frame {
                        status: Status::BadCrc,
                        ..
                    } => {
                        // The board saw a damaged request (perhaps its sequence number).
                        fails.board_bad_crc += 1;
                        self.stats.board_bad_crc += 1;
                        break;
                    }
                    Read::Frame { seq: s, cmd: c, .. } if s != seq || c != (cmd as u8 | 0x80) => {
                        self.stats.stale += 1;
                    }
                    Read::Frame {
                        status, payload, ..
                    } => return Ok((status, payload)),
                }
            }
        }
        Err(Error::Link(format!(
            "{}: {}",
            op(),
            fails.describe(self.opts.tries.max(1), wait)
        )))
    }

    /// The error of a status other than OK.
    fn status_error(&self, op: &str, st: Status, cycles: u64) -> Error {
        match st {
            Status::Timeout => Error::Timeout {
                what: format!("{op}: the board reported TIMEOUT"),
                cycles,
            },
            st => Error::Link(format!(
                "{op}: the board answered {} (a request this board does not take)",
                st.name()
            )),
        }
    }

    fn beat_bytes(&self) -> usize {
        self.hello.stream_bytes
    }
}

fn clamp_u32(v: u64) -> u32 {
    v.min(u32::MAX as u64) as u32
}

impl<L: ByteLink> Transport for UartTransport<L> {
    fn stream_width(&self) -> usize {
        self.hello.stream_bytes * 8
    }

    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        let a = u16::try_from(addr).map_err(|_| Error::Bus {
            op: "read",
            addr,
            resp: 2,
        })?;
        let op = || format!("REG_READ {addr:#05x}");
        let (st, p) = self.exchange(
            &op,
            Command::RegRead,
            &a.to_le_bytes(),
            REG_TIMEOUT_CYCLES,
            4,
        )?;
        match st {
            Status::Ok if p.len() == 4 => Ok(u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
            Status::Ok => Err(Error::Link(format!(
                "{}: {} data bytes, expected 4",
                op(),
                p.len()
            ))),
            Status::SlvErr => Err(Error::Bus {
                op: "read",
                addr,
                resp: 2,
            }),
            st => Err(self.status_error(&op(), st, REG_TIMEOUT_CYCLES)),
        }
    }

    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        let a = u16::try_from(addr).map_err(|_| Error::Bus {
            op: "write",
            addr,
            resp: 2,
        })?;
        let op = || format!("REG_WRITE {addr:#05x}");
        let mut p = a.to_le_bytes().to_vec();
        p.extend_from_slice(&value.to_le_bytes());
        let (st, _) = self.exchange(&op, Command::RegWrite, &p, REG_TIMEOUT_CYCLES, 0)?;
        match st {
            Status::Ok => Ok(()),
            Status::SlvErr => Err(Error::Bus {
                op: "write",
                addr,
                resp: 2,
            }),
            st => Err(self.status_error(&op(), st, REG_TIMEOUT_CYCLES)),
        }
    }

    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        let w = self.beat_bytes();
        let bw = w / 4;
        if words.is_empty() || words.len() % bw != 0 {
            return Err(Error::Config(format!(
                "stream_send: {} words is not a whole number of {bw}-word beats",
                words.len()
            )));
        }
        let per = ((self.max_payload - SEND_HEADER) / w).max(1);
        let beats = words.len() / bw;
        let frames = beats.div_ceil(per);
        for (i, chunk) in words.chunks(per * bw).enumerate() {
            let n = chunk.len() / bw;
            let cycles = timeout_cycles.saturating_add(n as u64);
            let mut p = Vec::with_capacity(SEND_HEADER + n * w);
            p.push(u8::from(tlast && i + 1 == frames));
            p.extend_from_slice(&clamp_u32(cycles).to_le_bytes());
            for x in chunk {
                p.extend_from_slice(&x.to_le_bytes());
            }
            let op = || format!("STREAM_SEND frame {} of {frames} ({n} beats)", i + 1);
            let (st, r) = self.exchange(&op, Command::StreamSend, &p, cycles, 2)?;
            let taken = (r.len() == 2).then(|| u16::from_le_bytes([r[0], r[1]]) as usize);
            match st {
                Status::Ok if taken == Some(n) => {}
                Status::Ok => {
                    return Err(Error::Link(format!(
                        "{}: the board answered OK with {taken:?} beats taken",
                        op()
                    )))
                }
                Status::Timeout => {
                    return Err(Error::Timeout {
                        what: format!(
                            "{}: the chip took {} of {n} beats ({beats} beats queued)",
                            op(),
                            taken.unwrap_or(0)
                        ),
                        cycles,
                    })
                }
                st => return Err(self.status_error(&op(), st, cycles)),
            }
        }
        Ok(())
    }

    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        let w = self.beat_bytes();
        let per = (self.max_payload / (w + 1)).max(1);
        let mut out = Received::default();
        let mut got = 0usize;
        while got < beats {
            let n = per.min(beats - got);
            let cycles = timeout_cycles.saturating_add(n as u64);
            let mut p = (n as u16).to_le_bytes().to_vec();
            p.extend_from_slice(&clamp_u32(timeout_cycles).to_le_bytes());
            let op = || format!("STREAM_RECV ({n} of {beats} beats)");
            let (st, r) = self.exchange(&op, Command::StreamRecv, &p, cycles, n * (w + 1))?;
            if !matches!(st, Status::Ok | Status::Timeout) {
                return Err(self.status_error(&op(), st, cycles));
            }
            if r.len() % (w + 1) != 0 || r.len() > n * (w + 1) {
                return Err(Error::Link(format!(
                    "{}: {} payload bytes, not whole beats of {} bytes",
                    op(),
                    r.len(),
                    w + 1
                )));
            }
            let k = r.len() / (w + 1);
            for beat in r.chunks_exact(w + 1) {
                out.words.extend(
                    beat[..w]
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
                out.last.push(beat[w] & 1 != 0);
            }
            got += k;
            if st == Status::Timeout || k < n {
                return Err(Error::Timeout {
                    what: format!("received {got} of {beats} output beats"),
                    cycles: timeout_cycles,
                });
            }
        }
        Ok(out)
    }

    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        let op = || "WAIT_IRQ".to_string();
        let c = clamp_u32(timeout_cycles);
        let (st, p) = self.exchange(&op, Command::WaitIrq, &c.to_le_bytes(), c as u64, 1)?;
        match st {
            Status::Ok if p.len() == 1 => Ok(p[0] & 1 != 0),
            Status::Ok => Err(Error::Link(format!("WAIT_IRQ: {} payload bytes", p.len()))),
            // The line stayed low for the timeout: not an error of the link.
            Status::Timeout => Ok(false),
            st => Err(self.status_error("WAIT_IRQ", st, c as u64)),
        }
    }

    fn idle(&mut self, cycles: u64) -> Result<()> {
        std::thread::sleep(Duration::from_secs_f64(
            (cycles as f64 / self.board_hz()).min(1e3),
        ));
        Ok(())
    }
}

/// A serial device or pseudo-terminal in raw 8N1 mode (termios), no flow control.
pub struct SerialLink {
    file: File,
    path: PathBuf,
    baud: u32,
}

/// The termios speed constant of a standard baud rate.
fn baud_constant(baud: u32) -> Option<libc::speed_t> {
    Some(match baud {
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115200 => libc::B115200,
        230400 => libc::B230400,
        460800 => libc::B460800,
        500000 => libc::B500000,
        576000 => libc::B576000,
        921600 => libc::B921600,
        1000000 => libc::B1000000,
        1152000 => libc::B1152000,
        1500000 => libc::B1500000,
        2000000 => libc::B2000000,
        2500000 => libc::B2500000,
        3000000 => libc::B3000000,
        3500000 => libc::B3500000,
        4000000 => libc::B4000000,
        _ => return None,
    })
}

impl SerialLink {
    /// Opens `path` (a tty: a USB serial adapter, a pseudo-terminal) raw, 8N1, at `baud`.
    pub fn open(path: &Path, baud: u32) -> Result<SerialLink> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let speed = baud_constant(baud).ok_or_else(|| {
            Error::Config(format!(
                "baud {baud}: not a standard rate (9600 .. 4000000, e.g. 115200, 1000000)"
            ))
        })?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let fd = file.as_raw_fd();
        // SAFETY: isatty on a valid open descriptor.
        if unsafe { libc::isatty(fd) } != 1 {
            return Err(Error::Config(format!(
                "{}: not a serial device (not a tty); expected e.g. uart:/dev/ttyUSB0",
                path.display()
            )));
        }
        // SAFETY: termios is plain data; tcgetattr fills it for a valid tty descriptor.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let os = |what: &str| {
            Error::io(
                format!("{what} {}", path.display()),
                std::io::Error::last_os_error(),
            )
        };
        // SAFETY: valid descriptor and termios pointer for each call below.
        unsafe {
            if libc::tcgetattr(fd, &mut t) != 0 {
                return Err(os("tcgetattr"));
            }
            libc::cfmakeraw(&mut t);
            t.c_cflag &= !(libc::CSIZE | libc::PARENB | libc::CSTOPB | libc::CRTSCTS);
            t.c_cflag |= libc::CS8 | libc::CLOCAL | libc::CREAD;
            t.c_iflag &= !(libc::IXON | libc::IXOFF | libc::IXANY);
            t.c_cc[libc::VMIN] = 0;
            t.c_cc[libc::VTIME] = 0;
            if libc::cfsetispeed(&mut t, speed) != 0 || libc::cfsetospeed(&mut t, speed) != 0 {
                return Err(os("set the baud rate of"));
            }
            if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
                return Err(os("tcsetattr"));
            }
            libc::tcflush(fd, libc::TCIOFLUSH);
        }
        Ok(SerialLink {
            file,
            path: path.to_path_buf(),
            baud,
        })
    }

    fn poll(&self, events: libc::c_short, timeout: Duration) -> Result<libc::c_short> {
        use std::os::unix::io::AsRawFd;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Round up to whole milliseconds, so a short wait is not a busy loop.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io(format!("poll {}", self.path.display()), e));
            }
            return Ok(if r == 0 { 0 } else { pfd.revents });
        }
    }

    fn closed(&self) -> Error {
        Error::Link(format!(
            "{}: the link was closed (the board or its simulator went away)",
            self.path.display()
        ))
    }
}

impl std::os::unix::io::AsRawFd for SerialLink {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.file.as_raw_fd()
    }
}

impl ByteLink for SerialLink {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        // The bytes' time on the wire and a generous margin: a link that takes nothing for
        // that long is broken.
        let limit = Duration::from_secs_f64(2.0 + bytes.len() as f64 * 20.0 / self.baud as f64);
        let deadline = Instant::now() + limit;
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.file.write(rest) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Link(format!(
                            "{}: the link took no bytes for {:.1} s",
                            self.path.display(),
                            limit.as_secs_f64()
                        )));
                    }
                    let ev = self.poll(libc::POLLOUT, left)?;
                    if ev & (libc::POLLHUP | libc::POLLERR) != 0 && ev & libc::POLLOUT == 0 {
                        return Err(self.closed());
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return Err(self.closed()),
                Err(e) => return Err(Error::io(format!("write {}", self.path.display()), e)),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        use std::io::Read;
        let deadline = Instant::now() + timeout;
        let mut hung_up = false;
        loop {
            match self.file.read(buf) {
                // Nothing waiting after a hang-up: the end of the link.
                Ok(0) if hung_up => return Err(self.closed()),
                // A raw tty with VMIN = 0 reads 0 bytes when none are waiting.
                Ok(0) => {}
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return Err(self.closed()),
                Err(e) => return Err(Error::io(format!("read {}", self.path.display()), e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(0);
            }
            let ev = self.poll(libc::POLLIN, left)?;
            if ev == 0 {
                return Ok(0);
            }
            // A hang-up: read what is still waiting, then report the end of the link.
            hung_up = ev & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use tessera_regs::TesseraRegs;

    use super::*;
    use crate::device::Device;

    /// The offset of a register, from the register layer (no literals).
    macro_rules! reg {
        ($f:ident) => {{
            // SAFETY: only forms pointers from base 0; nothing is dereferenced.
            let r = unsafe { TesseraRegs::from_ptr(core::ptr::null_mut()) };
            r.$f().as_ptr() as usize as u32
        }};
    }

    fn scratch_addr() -> u32 {
        reg!(scratch)
    }

    /// A chip in memory: the registers of `tiny` (reads of anything else answer SLVERR), writes
    /// logged, stream input recorded per send, stream output served from a queue.
    #[derive(Default)]
    struct MiniChip {
        regs: HashMap<u32, u32>,
        writes: Vec<(u32, u32)>,
        sent: Vec<(Vec<u32>, bool)>,
        output: VecDeque<(Vec<u32>, bool)>,
        irq: bool,
        /// Beats the input stream takes before it stalls.
        take_limit: Option<usize>,
    }

    impl MiniChip {
        fn tiny(version: u32) -> MiniChip {
            let c = crate::ChipConfig::named("tiny").unwrap();
            let mut m = HashMap::new();
            m.insert(reg!(id), 0x5445_5353);
            m.insert(reg!(version), version);
            m.insert(reg!(cfg_stream), c.stream_width as u32);
            m.insert(
                reg!(cfg_grid),
                c.grid_rows as u32 | (c.grid_cols as u32) << 16,
            );
            m.insert(reg!(cfg_tile), c.lanes as u32 | (c.kwidth as u32) << 16);
            m.insert(reg!(cfg_weight_words), c.weight_words as u32);
            m.insert(reg!(cfg_act_words), c.act_words as u32);
            m.insert(reg!(cfg_abuf_words), c.abuf_words as u32);
            m.insert(reg!(cfg_rbuf_words), c.rbuf_words as u32);
            m.insert(scratch_addr(), 0);
            MiniChip {
                regs: m,
                ..MiniChip::default()
            }
        }
    }

    impl Transport for MiniChip {
        fn stream_width(&self) -> usize {
            64
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
            if let Some(limit) = self.take_limit {
                if words.len() / 2 > limit {
                    return Err(Error::Timeout {
                        what: "input stalled".into(),
                        cycles: timeout,
                    });
                }
            }
            self.sent.push((words.to_vec(), tlast));
            Ok(())
        }
        fn stream_recv(&mut self, beats: usize, timeout: u64) -> Result<Received> {
            let mut r = Received::default();
            for _ in 0..beats {
                match self.output.pop_front() {
                    Some((w, l)) => {
                        r.words.extend(w);
                        r.last.push(l);
                    }
                    None => {
                        return Err(Error::Timeout {
                            what: "no output".into(),
                            cycles: timeout,
                        })
                    }
                }
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

    /// The board side of the protocol in memory, in front of any [`Transport`]: the receiver
    /// (hunting, CRC, abandoning a frame after a gap), the kept response, the commands.
    struct Board<T: Transport> {
        chip: T,
        magic: [u8; 4],
        version: u8,
        max_payload: usize,
        frame: Vec<u8>,
        kept: Option<(u8, Vec<u8>)>,
        out: Vec<u8>,
        /// Every frame with a good CRC: (sequence number, command, executed).
        log: Vec<(u8, u8, bool)>,
        bad_crc: usize,
    }

    impl<T: Transport> Board<T> {
        fn new(chip: T) -> Board<T> {
            Board {
                chip,
                magic: HELLO_MAGIC,
                version: PROTOCOL_VERSION,
                max_payload: MAX_PAYLOAD,
                frame: Vec::new(),
                kept: None,
                out: Vec::new(),
                log: Vec::new(),
                bad_crc: 0,
            }
        }

        fn executed(&self) -> usize {
            self.log.iter().filter(|l| l.2).count()
        }

        /// A gap on the line: a partial frame is abandoned.
        fn gap(&mut self) {
            self.frame.clear();
        }

        fn feed(&mut self, b: u8) {
            if self.frame.is_empty() && b != REQUEST_START {
                return;
            }
            self.frame.push(b);
            if self.frame.len() < 5 {
                return;
            }
            let n = u16::from_le_bytes([self.frame[3], self.frame[4]]) as usize;
            if n > self.max_payload {
                self.frame.clear();
                return;
            }
            if self.frame.len() < 5 + n + 2 {
                return;
            }
            let f = std::mem::take(&mut self.frame);
            let (seq, cmd) = (f[1], f[2]);
            let crc = u16::from_le_bytes([f[5 + n], f[6 + n]]);
            if crc16(&f[1..5 + n]) != crc {
                self.bad_crc += 1;
                self.out.extend(encode_response(seq, cmd, 5, &[]));
                return;
            }
            if cmd != Command::Hello as u8 {
                if let Some((k, resp)) = &self.kept {
                    if *k == seq {
                        self.log.push((seq, cmd, false));
                        self.out.extend(resp.clone());
                        return;
                    }
                }
            }
            self.log.push((seq, cmd, true));
            let (status, payload) = self.execute(cmd, &f[5..5 + n]);
            let resp = encode_response(seq, cmd, status.code(), &payload);
            self.kept = (cmd != Command::Hello as u8).then(|| (seq, resp.clone()));
            self.out.extend(resp);
        }

        fn execute(&mut self, cmd: u8, p: &[u8]) -> (Status, Vec<u8>) {
            let w = self.chip.stream_width() / 8;
            let u32_at = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
            let status_of = |e: &Error| match e {
                Error::Bus { .. } => Status::SlvErr,
                _ => Status::Timeout,
            };
            match Command::from_u8(cmd) {
                Some(Command::Hello) => {
                    let mut r = self.magic.to_vec();
                    r.push(self.version);
                    r.push(w as u8);
                    r.extend_from_slice(&25_000_000u32.to_le_bytes());
                    r.extend_from_slice(&(self.max_payload as u16).to_le_bytes());
                    r.extend_from_slice(&25u16.to_le_bytes());
                    (Status::Ok, r)
                }
                Some(Command::RegRead) if p.len() == 2 => {
                    match self.chip.reg_read(u16::from_le_bytes([p[0], p[1]]) as u32) {
                        Ok(v) => (Status::Ok, v.to_le_bytes().to_vec()),
                        Err(e) => (status_of(&e), vec![0; 4]),
                    }
                }
                Some(Command::RegWrite) if p.len() == 6 => {
                    let a = u16::from_le_bytes([p[0], p[1]]) as u32;
                    match self.chip.reg_write(a, u32_at(2)) {
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
                    let b = u16::from_le_bytes([p[0], p[1]]) as usize;
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
                Some(Command::WaitIrq) if p.len() == 4 => {
                    match self.chip.wait_irq(u32_at(0) as u64) {
                        Ok(true) => (Status::Ok, vec![1]),
                        Ok(false) => (Status::Timeout, vec![0]),
                        Err(e) => (status_of(&e), vec![]),
                    }
                }
                Some(_) => (Status::BadLen, vec![]),
                None => (Status::BadCmd, vec![]),
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Fault {
        Drop,
        Flip(u8),
    }

    /// Faults of one direction, by byte index counted over the whole test.
    #[derive(Default)]
    struct Faults {
        count: usize,
        at: Vec<(usize, Fault)>,
        /// A fault on one byte of every `period` (the first at `period - 1`).
        every: Option<(usize, Fault)>,
        /// Flip bit 0 of the last byte of every write (the CRC of each request frame).
        crc_of_every_write: bool,
        dead: bool,
    }

    impl Faults {
        fn pass(&mut self, b: u8) -> Option<u8> {
            let i = self.count;
            self.count += 1;
            if self.dead {
                return None;
            }
            let mut f = self.at.iter().find(|(k, _)| *k == i).map(|(_, f)| *f);
            if let Some((p, e)) = self.every {
                if i % p == p - 1 {
                    f = Some(e);
                }
            }
            match f {
                None => Some(b),
                Some(Fault::Drop) => None,
                Some(Fault::Flip(m)) => Some(b ^ m),
            }
        }

        /// A fault `k` bytes after the bytes already passed.
        fn next(&mut self, k: usize, f: Fault) {
            self.at.push((self.count + k, f));
        }
    }

    struct Wire<T: Transport> {
        board: Board<T>,
        to_board: Faults,
        to_host: Faults,
        host_in: VecDeque<u8>,
        /// Reads that found nothing (each a timeout of the host).
        timeouts: usize,
    }

    /// The host's end of an in-memory link to a [`Board`]: the board runs a frame as soon as
    /// its last byte arrives; a read that finds nothing is a timeout (no wall time passes) and
    /// a gap on the line for the board.
    struct MemLink<T: Transport>(Rc<RefCell<Wire<T>>>);

    impl<T: Transport> ByteLink for MemLink<T> {
        fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
            let w = &mut *self.0.borrow_mut();
            let last = bytes.len().saturating_sub(1);
            for (i, &b) in bytes.iter().enumerate() {
                let mut b = w.to_board.pass(b);
                if i == last && w.to_board.crc_of_every_write {
                    b = b.map(|x| x ^ 1);
                }
                if let Some(b) = b {
                    w.board.feed(b);
                }
            }
            for b in std::mem::take(&mut w.board.out) {
                if let Some(b) = w.to_host.pass(b) {
                    w.host_in.push_back(b);
                }
            }
            Ok(())
        }

        fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize> {
            let w = &mut *self.0.borrow_mut();
            if w.host_in.is_empty() {
                w.timeouts += 1;
                w.board.gap();
                return Ok(0);
            }
            let n = buf.len().min(w.host_in.len());
            for (d, s) in buf.iter_mut().zip(w.host_in.drain(..n)) {
                *d = s;
            }
            Ok(n)
        }
    }

    type Wired<T> = (UartTransport<MemLink<T>>, Rc<RefCell<Wire<T>>>);

    fn wired<T: Transport>(board: Board<T>, opts: UartOptions) -> Result<Wired<T>> {
        let w = Rc::new(RefCell::new(Wire {
            board,
            to_board: Faults::default(),
            to_host: Faults::default(),
            host_in: VecDeque::new(),
            timeouts: 0,
        }));
        let t = UartTransport::new(MemLink(w.clone()), opts)?;
        Ok((t, w))
    }

    fn mini() -> Wired<MiniChip> {
        wired(
            Board::new(MiniChip::tiny(0x0000_0100)),
            UartOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn uart_crc16_ccitt_false_check_value() {
        assert_eq!(crc16(b"123456789"), 0x29b1);
        assert_eq!(crc16(&[]), 0xffff);
        let f = encode_request(7, 1, &[4, 0]);
        assert_eq!(&f[..5], &[REQUEST_START, 7, 1, 2, 0]);
        assert_eq!(crc16(&f[1..5 + 2]).to_le_bytes(), [f[7], f[8]]);
        let r = encode_response(7, 1, 0, &[1, 2, 3, 4]);
        assert_eq!(&r[..6], &[RESPONSE_START, 7, 0x81, 0, 4, 0]);
        assert_eq!(crc16(&r[1..10]).to_le_bytes(), [r[10], r[11]]);
    }

    #[test]
    fn uart_options_parse() {
        let (p, o) = UartOptions::parse("/dev/ttyUSB0").unwrap();
        assert_eq!(p, PathBuf::from("/dev/ttyUSB0"));
        assert_eq!(o, UartOptions::default());
        let (_, o) =
            UartOptions::parse("/dev/pts/3,baud=115200,tries=2,margin-ms=50,board-hz=1e6").unwrap();
        assert_eq!((o.baud, o.tries), (115_200, 2));
        assert_eq!(o.margin, Duration::from_millis(50));
        assert_eq!(o.board_hz, Some(1e6));
        for bad in [
            "",
            ",baud=1",
            "/dev/x,speed=3",
            "/dev/x,baud",
            "/dev/x,baud=-1",
        ] {
            assert!(UartOptions::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uart_hello_and_discovery_of_the_chip() {
        let (t, w) = mini();
        assert_eq!(
            t.hello(),
            &Hello {
                version: 1,
                stream_bytes: 8,
                clock_hz: 25_000_000,
                max_payload: 1024,
                clks_per_bit: 25
            }
        );
        assert_eq!(t.stream_width(), 64);
        // 1 Mbaud: a 4-byte read (9 + 12 bytes and the idle gap) takes the margin plus ~1.5 ms.
        let wait = t.wait_for(0, 9, 4);
        assert!(wait > DEFAULT_MARGIN && wait < DEFAULT_MARGIN + Duration::from_millis(2));
        // A board clock of 1 MHz (a simulation) stretches a 1 M-cycle timeout to a second.
        let d = Device::open(t).unwrap();
        let tiny = crate::ChipConfig::named("tiny").unwrap();
        let mut found = d.config().clone();
        found.name = "tiny".into();
        assert_eq!(found, tiny);
        assert_eq!(w.borrow().board.bad_crc, 0);
        let (t, _) = wired(
            Board::new(MiniChip::tiny(0x100)),
            UartOptions {
                board_hz: Some(1e6),
                ..UartOptions::default()
            },
        )
        .unwrap();
        let slow = t.wait_for(1_000_000, 9, 4);
        assert!(slow > Duration::from_secs(1) + DEFAULT_MARGIN, "{slow:?}");
    }

    #[test]
    fn uart_protocol_version_mismatch_and_bad_magic_are_refused() {
        let mut b = Board::new(MiniChip::tiny(0x100));
        b.version = 2;
        match wired(b, UartOptions::default()) {
            Err(e @ Error::UnsupportedProtocol { found: 2, .. }) => {
                assert!(e.to_string().contains("version mismatch"), "{e}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("protocol version 2 accepted"),
        }
        let mut b = Board::new(MiniChip::tiny(0x100));
        b.magic = *b"XXXX";
        match wired(b, UartOptions::default()) {
            Err(e @ Error::Link(_)) => assert!(e.to_string().contains("TSRA"), "{e}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a bad magic accepted"),
        }
    }

    #[test]
    fn uart_chip_of_an_unsupported_version_is_refused() {
        let (t, _) = wired(
            Board::new(MiniChip::tiny(0x0002_0000)),
            UartOptions::default(),
        )
        .unwrap();
        match Device::open(t) {
            Err(Error::UnsupportedVersion { found, .. }) => assert_eq!(found, (2, 0, 0)),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("chip version 2.0.0 accepted"),
        }
    }

    #[test]
    fn uart_registers_and_board_statuses_map_to_driver_errors() {
        let (mut t, w) = mini();
        let s = scratch_addr();
        t.reg_write(s, 0xdead_beef).unwrap();
        assert_eq!(t.reg_read(s).unwrap(), 0xdead_beef);
        // SLVERR from the chip, and an address outside the 16-bit field.
        assert!(matches!(
            t.reg_read(0x1fc),
            Err(Error::Bus {
                op: "read",
                addr: 0x1fc,
                ..
            })
        ));
        assert!(matches!(
            t.reg_write(0x1fc, 1),
            Err(Error::Bus { op: "write", .. })
        ));
        assert!(matches!(t.reg_read(0x1_0000), Err(Error::Bus { .. })));
        // TIMEOUT: the chip takes no input, or has no output.
        w.borrow_mut().board.chip.take_limit = Some(0);
        match t.stream_send(&[1, 2], true, 100) {
            Err(Error::Timeout { what, .. }) => assert!(what.contains("STREAM_SEND"), "{what}"),
            r => panic!("{r:?}"),
        }
        assert!(matches!(t.stream_recv(1, 0), Err(Error::Timeout { .. })));
        w.borrow_mut().board.chip.irq = true;
        assert!(t.wait_irq(10).unwrap());
        // The board answers a low line with 0 and TIMEOUT: the interrupt did not come.
        w.borrow_mut().board.chip.irq = false;
        assert!(!t.wait_irq(10).unwrap());
        assert_eq!(t.stats().retries, 0);
    }

    #[test]
    fn uart_streams_are_split_to_fit_max_payload() {
        let mut b = Board::new(MiniChip::tiny(0x100));
        b.max_payload = 64;
        let (mut t, w) = wired(b, UartOptions::default()).unwrap();
        // 64-byte payloads: 7 beats of 8 bytes per STREAM_SEND, 7 beats of 9 per STREAM_RECV.
        let words: Vec<u32> = (0..80).collect();
        t.stream_send(&words, true, 1000).unwrap();
        {
            let wb = w.borrow();
            let sent = &wb.board.chip.sent;
            assert_eq!(
                sent.iter().map(|(s, _)| s.len() / 2).collect::<Vec<_>>(),
                [7, 7, 7, 7, 7, 5]
            );
            let flags: Vec<bool> = sent.iter().map(|(_, l)| *l).collect();
            assert_eq!(flags, [false, false, false, false, false, true]);
            let all: Vec<u32> = sent.iter().flat_map(|(s, _)| s.clone()).collect();
            assert_eq!(all, words);
        }
        for i in 0..20u32 {
            let beat = (vec![i, !i], i == 19);
            w.borrow_mut().board.chip.output.push_back(beat);
        }
        let frames0 = t.stats().frames;
        let r = t.stream_recv(20, 1000).unwrap();
        assert_eq!(t.stats().frames - frames0, 3);
        assert_eq!(r.words.len(), 40);
        assert_eq!(r.words[38], 19);
        assert_eq!(r.words[39], !19);
        assert_eq!(r.last.iter().filter(|&&l| l).count(), 1);
        assert!(r.last[19]);
        // The options can lower the payload further.
        let (t, _) = wired(
            Board::new(MiniChip::tiny(0x100)),
            UartOptions {
                max_payload: Some(32),
                ..UartOptions::default()
            },
        )
        .unwrap();
        assert_eq!(t.max_payload(), 32);
    }

    #[test]
    fn uart_dropped_bytes_are_retried_and_executed_once() {
        let (mut t, w) = mini();
        let s = scratch_addr();
        // A byte of the request lost: the board abandons the frame after the gap, the retry
        // goes through.
        w.borrow_mut().to_board.next(3, Fault::Drop);
        t.reg_write(s, 0x1234_5678).unwrap();
        // A byte of the response lost: the retry is answered from the kept response.
        w.borrow_mut().to_host.next(6, Fault::Drop);
        t.reg_write(s, 0x0bad_cafe).unwrap();
        // A dropped response byte of a stream send: the beats are taken once.
        w.borrow_mut().to_host.next(2, Fault::Drop);
        t.stream_send(&[5, 6, 7, 8], true, 10).unwrap();
        let wb = w.borrow();
        assert_eq!(wb.board.chip.writes, [(s, 0x1234_5678), (s, 0x0bad_cafe)]);
        assert_eq!(wb.board.chip.sent, [(vec![5, 6, 7, 8], true)]);
        assert_eq!(t.stats().retries, 3);
        assert_eq!(t.stats().no_response, 3);
    }

    #[test]
    fn uart_flipped_bits_both_directions_are_retried() {
        let (mut t, w) = mini();
        let s = scratch_addr();
        // Request payload bit flipped: BAD_CRC, not executed, retried.
        w.borrow_mut().to_board.next(6, Fault::Flip(0x10));
        t.reg_write(s, 0x1111_1111).unwrap();
        // Request sequence number flipped: the BAD_CRC answer carries the damaged number.
        w.borrow_mut().to_board.next(1, Fault::Flip(0x01));
        t.reg_write(s, 0x2222_2222).unwrap();
        assert_eq!(w.borrow().board.bad_crc, 2);
        // Response data flipped: bad response CRC, retried, answered from the kept response.
        w.borrow_mut().to_host.next(7, Fault::Flip(0x80));
        assert_eq!(t.reg_read(s).unwrap(), 0x2222_2222);
        // Response start byte flipped: no frame at all, a timeout, retried.
        w.borrow_mut().to_host.next(0, Fault::Flip(0x04));
        t.reg_write(s, 0x3333_3333).unwrap();
        let wb = w.borrow();
        assert_eq!(
            wb.board.chip.writes,
            [(s, 0x1111_1111), (s, 0x2222_2222), (s, 0x3333_3333)]
        );
        let st = t.stats();
        assert_eq!(
            (st.board_bad_crc, st.bad_responses, st.no_response),
            (2, 1, 1)
        );
        // The read and the last write reached the board twice, and ran once.
        let replays = wb.board.log.iter().filter(|l| !l.2).count();
        assert_eq!(replays, 2);
    }

    #[test]
    fn uart_repeated_sequence_number_is_not_executed_twice() {
        let (mut t, w) = mini();
        let s = scratch_addr();
        // Lose every response byte for a while: the write reaches the board on every try, is
        // executed on the first only.
        w.borrow_mut().to_host.dead = true;
        let e = t.reg_write(s, 42).unwrap_err();
        w.borrow_mut().to_host.dead = false;
        let msg = e.to_string();
        assert!(
            msg.contains("REG_WRITE") && msg.contains("no response after 4 tries"),
            "{msg}"
        );
        {
            let wb = w.borrow();
            assert_eq!(wb.board.chip.writes, [(s, 42)]);
            let seqs: Vec<u8> = wb.board.log.iter().skip(1).map(|l| l.0).collect();
            assert_eq!(seqs.len(), 4);
            assert!(seqs.iter().all(|&q| q == seqs[0]), "{seqs:?}");
            assert_eq!(wb.board.executed(), 2, "HELLO and one write");
        }
        // A late copy of an old response waiting in the input is skipped.
        let stale = encode_response(t.seq.wrapping_sub(1), Command::RegRead as u8, 0, &[9; 4]);
        w.borrow_mut().host_in.extend(stale);
        assert_eq!(t.reg_read(s).unwrap(), 42);
        assert_eq!(t.stats().stale, 1);
        // The link works on: a new request under the next number.
        t.reg_write(s, 43).unwrap();
        assert_eq!(w.borrow().board.chip.writes, [(s, 42), (s, 43)]);
    }

    #[test]
    fn uart_crc_errors_are_retried_a_bounded_number_of_times() {
        let (mut t, w) = mini();
        let s = scratch_addr();
        w.borrow_mut().to_board.crc_of_every_write = true;
        let msg = t.reg_write(s, 7).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("REG_WRITE {s:#05x}"))
                && msg.contains("after 4 tries")
                && msg.contains("4 BAD_CRC from the board"),
            "{msg}"
        );
        let wb = w.borrow();
        assert_eq!(wb.board.bad_crc, 4);
        assert!(wb.board.chip.writes.is_empty());
        assert_eq!(t.stats().frames, 1 + 4);
    }

    #[test]
    fn uart_dead_link_is_an_error_naming_the_operation() {
        let (mut t, w) = mini();
        w.borrow_mut().to_board.dead = true;
        let e = t.reg_read(scratch_addr()).unwrap_err();
        assert!(matches!(e, Error::Link(_)));
        assert!(crate::bringup::is_transport_error(&e));
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "REG_READ {:#05x}: no response after 4 tries",
                scratch_addr()
            )),
            "{msg}"
        );
        let e = t.stream_send(&[0; 200], true, 10).unwrap_err().to_string();
        assert!(e.contains("STREAM_SEND frame 1 of 1 (100 beats)"), "{e}");
        // Four tries and one wait each: nothing waits for ever.
        assert_eq!(t.stats().no_response, 8);
        assert_eq!(
            w.borrow().board.executed(),
            1,
            "only HELLO reached the board"
        );
        // A dead link at the start: HELLO names itself.
        let mut b = Wire {
            board: Board::new(MiniChip::tiny(0x100)),
            to_board: Faults::default(),
            to_host: Faults::default(),
            host_in: VecDeque::new(),
            timeouts: 0,
        };
        b.to_board.dead = true;
        let tries = UartOptions {
            tries: 2,
            ..UartOptions::default()
        };
        let e = UartTransport::new(MemLink(Rc::new(RefCell::new(b))), tries)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("HELLO: no response after 2 tries"),
            "{e}"
        );
    }

    /// A pseudo-terminal pair: the master (the "board" side) and the slave's path.
    fn pty() -> (File, PathBuf) {
        use std::os::unix::io::FromRawFd;
        // SAFETY: plain libc calls on the descriptor they return; ptsname's buffer is copied
        // at once.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(m >= 0);
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut buf = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
            let name = std::ffi::CStr::from_ptr(buf.as_ptr());
            (File::from_raw_fd(m), PathBuf::from(name.to_str().unwrap()))
        }
    }

    #[test]
    fn uart_serial_link_refuses_a_non_tty_and_times_out_on_a_silent_pty() {
        match UartTransport::open_spec("/dev/null") {
            Err(e) => assert!(e.to_string().contains("not a serial device"), "{e}"),
            Ok(_) => panic!("/dev/null accepted"),
        }
        match UartTransport::open_spec("/nonexistent/ttyUSB9") {
            Err(e) => assert!(e.to_string().contains("/nonexistent/ttyUSB9"), "{e}"),
            Ok(_) => panic!("a missing device accepted"),
        }
        assert!(UartTransport::open_spec("/dev/null,baud=12345").is_err());
        // Nobody answers on the pty: HELLO gives up after its tries, in bounded time.
        let (_master, slave) = pty();
        let t0 = Instant::now();
        let spec = format!("{},tries=3,margin-ms=40", slave.display());
        let e = UartTransport::open_spec(&spec).err().unwrap().to_string();
        let took = t0.elapsed();
        assert!(e.contains("HELLO: no response after 3 tries"), "{e}");
        assert!(
            took >= Duration::from_millis(3 * 80) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }

    #[test]
    fn uart_serial_link_carries_raw_bytes_on_a_pty() {
        use std::io::{Read, Write};
        let (mut master, slave) = pty();
        let mut link = SerialLink::open(&slave, DEFAULT_BAUD).unwrap();
        // Every byte value passes unchanged both ways (raw mode: no echo, no CR/LF mapping,
        // no flow-control characters).
        let all: Vec<u8> = (0..=255u8).collect();
        link.write_all(&all).unwrap();
        let mut got = vec![0u8; 256];
        master.read_exact(&mut got).unwrap();
        assert_eq!(got, all);
        master.write_all(&all).unwrap();
        let mut back = Vec::new();
        let mut buf = [0u8; 512];
        while back.len() < 256 {
            let n = link.read(&mut buf, Duration::from_secs(2)).unwrap();
            assert!(n > 0, "timed out after {} bytes", back.len());
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(back, all);
        assert_eq!(link.read(&mut buf, Duration::from_millis(20)).unwrap(), 0);
        // The board side going away is an error, not a hang.
        drop(master);
        let e = link.read(&mut buf, Duration::from_secs(2)).unwrap_err();
        assert!(e.to_string().contains("closed"), "{e}");
    }
}
