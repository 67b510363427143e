//! The UART transport: [`UartTransport`] speaks the protocol's frames over a [`ByteLink`],
//! with its options ([`UartOptions`]), retries and traffic counters ([`LinkStats`]).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::frame::{
    decode_response, encode_request, response_len, Command, Hello, Status, CRC_BYTES, HELLO_LEN,
    IDLE_BYTES, MAX_PAYLOAD, PROTOCOL_VERSION, REQUEST_OVERHEAD, RESPONSE_HEADER,
    RESPONSE_OVERHEAD, RESPONSE_START, SEND_HEADER,
};
use super::link::{ByteLink, SerialLink};
use crate::error::{Error, Result};
use crate::transport::{Received, Transport};

/// Default baud rate of the serial device.
pub const DEFAULT_BAUD: u32 = 1_000_000;
/// Default number of tries of one request.
pub const DEFAULT_TRIES: u32 = 4;
/// Default margin added to every wait.
pub const DEFAULT_MARGIN: Duration = Duration::from_millis(200);

/// Upper bounds of the transport string's options: the fastest standard baud rate, tries and
/// a margin that still end in bounded time (100 tries of a minute at most), a 100 GHz clock.
pub const MAX_BAUD: f64 = 4_000_000.0;
pub const MAX_TRIES: f64 = 100.0;
pub const MAX_MARGIN_MS: f64 = 60_000.0;
pub const MAX_BOARD_HZ: f64 = 1e11;

/// Cycles the board gives a register access before it answers `TIMEOUT`.
const REG_TIMEOUT_CYCLES: u64 = 65_536;

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
            // Every value is a finite number within its range, integers where a count is meant.
            let num = |lo: f64, hi: f64, integer: bool| -> Result<f64> {
                let x = v.trim().replace('_', "").parse::<f64>().ok();
                match x {
                    Some(x) if x >= lo && x <= hi && (!integer || x.fract() == 0.0) => Ok(x),
                    _ => Err(Error::Config(format!(
                        "uart:{spec}: {k}={v}: must be {} from {lo} to {hi}",
                        if integer { "an integer" } else { "a number" }
                    ))),
                }
            };
            match k.trim() {
                "baud" => o.baud = num(1.0, MAX_BAUD, true)? as u32,
                "tries" => o.tries = num(1.0, MAX_TRIES, true)? as u32,
                "margin-ms" => {
                    o.margin = Duration::from_secs_f64(num(0.0, MAX_MARGIN_MS, false)? / 1e3)
                }
                "board-hz" => o.board_hz = Some(num(1.0, MAX_BOARD_HZ, false)?),
                "max-payload" => o.max_payload = Some(num(1.0, MAX_PAYLOAD as f64, true)? as usize),
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
        /// The request's command.
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
        let Some(h) = Hello::decode(&p) else {
            return Err(Error::Link(format!(
                "HELLO: {} is not a Tessera UART bridge (payload {:02x?}, expected magic \"TSRA\")",
                self.what, p
            )));
        };
        if h.version != PROTOCOL_VERSION {
            return Err(Error::UnsupportedProtocol {
                found: h.version,
                supported: PROTOCOL_VERSION,
            });
        }
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
        let limit = self.max_payload.max(self.hello.max_payload);
        loop {
            match self.next_byte(deadline)? {
                None => return Ok(Read::Timeout),
                Some(RESPONSE_START) => {}
                Some(_) => continue,
            }
            let mut frame = vec![RESPONSE_START];
            if !self.read_into(&mut frame, RESPONSE_HEADER, deadline)? {
                return Ok(Read::Timeout);
            }
            let n = match response_len(&frame) {
                Some(n) if n <= limit => n,
                _ => {
                    // Not a response header: hunt again from the byte after the false start.
                    for &b in frame[1..].iter().rev() {
                        self.rx.push_front(b);
                    }
                    continue;
                }
            };
            if !self.read_into(&mut frame, RESPONSE_HEADER + n + CRC_BYTES, deadline)? {
                return Ok(Read::Timeout);
            }
            return Ok(match decode_response(&frame) {
                Ok(r) => Read::Frame {
                    seq: r.seq,
                    cmd: r.cmd,
                    status: r.status,
                    payload: r.payload.to_vec(),
                },
                Err(_) => Read::BadCrc,
            });
        }
    }

    /// Reads bytes into `frame` until it holds `len`; false when the deadline passed first.
    fn read_into(&mut self, frame: &mut Vec<u8>, len: usize, deadline: Instant) -> Result<bool> {
        while frame.len() < len {
            match self.next_byte(deadline)? {
                Some(b) => frame.push(b),
                None => return Ok(false),
            }
        }
        Ok(true)
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
                    Read::Frame { seq: s, cmd: c, .. } if s != seq || c != cmd as u8 => {
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
