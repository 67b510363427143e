//! The frames of the board's UART bridge (`docs/fpga.md`, "Frames" and "Commands"): commands,
//! statuses, the CRC, and the request and response frames both ways, encoded and decoded.
//!
//! ```text
//! request:  A5 seq cmd       len_lo len_hi payload crc_lo crc_hi   CRC over seq ..= payload
//! response: 5A seq cmd|0x80 status len_lo len_hi payload crc_lo crc_hi
//! ```

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
/// Byte times of silence after which the board abandons a partial frame (`IdleBytes`).
pub const IDLE_BYTES: usize = 64;
/// Bytes of a request frame before its payload: start, sequence number, command, length.
pub const REQUEST_HEADER: usize = 5;
/// Bytes of a response frame before its payload: start, sequence number, command, status,
/// length.
pub const RESPONSE_HEADER: usize = 6;

/// Bytes of the CRC that ends every frame.
pub(crate) const CRC_BYTES: usize = 2;
/// Request bytes around the payload: start, sequence, command, length, CRC.
pub(crate) const REQUEST_OVERHEAD: usize = REQUEST_HEADER + CRC_BYTES;
/// Response bytes around the payload: start, sequence, command, status, length, CRC.
pub(crate) const RESPONSE_OVERHEAD: usize = RESPONSE_HEADER + CRC_BYTES;
/// Bytes of `HELLO`'s response payload.
pub(crate) const HELLO_LEN: usize = 14;
/// `STREAM_SEND` payload before the beats: flags, timeout.
pub(crate) const SEND_HEADER: usize = 5;

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

    pub const fn code(self) -> u8 {
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

/// The frames' CRC: CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xffff, no reflection, no
/// final XOR), which the `crc` crate's catalogue calls CRC-16/IBM-3740.
const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xffff, no reflection, no final XOR.
pub fn crc16(data: &[u8]) -> u16 {
    CRC16.checksum(data)
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

/// A decoded request frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub seq: u8,
    pub cmd: u8,
    pub payload: &'a [u8],
}

/// A decoded response frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub seq: u8,
    /// The request's command (bit 7 of the byte on the wire cleared).
    pub cmd: u8,
    pub status: Status,
    pub payload: &'a [u8],
}

/// Why a frame did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Not one whole frame: no start byte, shorter or longer than its length field says, or (a
    /// response) a command byte without bit 7.
    Malformed,
    /// The CRC does not match; the sequence number and command as received (a board answers
    /// `BAD_CRC` with them).
    BadCrc { seq: u8, cmd: u8 },
}

/// The payload length a request header announces (`header`: at least the first
/// [`REQUEST_HEADER`] bytes of a request frame).
pub fn request_len(header: &[u8]) -> usize {
    u16::from_le_bytes([header[3], header[4]]) as usize
}

/// The payload length a response header announces (`header`: at least the first
/// [`RESPONSE_HEADER`] bytes of a frame); `None` when the bytes cannot start a response (the
/// command byte lacks bit 7), so a receiver hunts for the next start byte.
pub fn response_len(header: &[u8]) -> Option<usize> {
    (header[2] & 0x80 != 0).then(|| u16::from_le_bytes([header[4], header[5]]) as usize)
}

/// Checks the length and the CRC of a frame with a header of `header` bytes.
fn check(frame: &[u8], start: u8, header: usize, len: impl Fn(&[u8]) -> Option<usize>) -> bool {
    frame.len() >= header + CRC_BYTES
        && frame[0] == start
        && len(frame).is_some_and(|n| frame.len() == header + n + CRC_BYTES)
}

fn crc_matches(frame: &[u8]) -> bool {
    let (body, crc) = frame.split_at(frame.len() - CRC_BYTES);
    crc16(&body[1..]) == u16::from_le_bytes([crc[0], crc[1]])
}

/// Decodes one whole request frame.
pub fn decode_request(frame: &[u8]) -> Result<Request<'_>, FrameError> {
    if !check(frame, REQUEST_START, REQUEST_HEADER, |f| {
        Some(request_len(f))
    }) {
        return Err(FrameError::Malformed);
    }
    let (seq, cmd) = (frame[1], frame[2]);
    if !crc_matches(frame) {
        return Err(FrameError::BadCrc { seq, cmd });
    }
    Ok(Request {
        seq,
        cmd,
        payload: &frame[REQUEST_HEADER..frame.len() - CRC_BYTES],
    })
}

/// Decodes one whole response frame.
pub fn decode_response(frame: &[u8]) -> Result<Response<'_>, FrameError> {
    if !check(frame, RESPONSE_START, RESPONSE_HEADER, response_len) {
        return Err(FrameError::Malformed);
    }
    let (seq, cmd) = (frame[1], frame[2] & 0x7f);
    if !crc_matches(frame) {
        return Err(FrameError::BadCrc { seq, cmd });
    }
    Ok(Response {
        seq,
        cmd,
        status: Status::from_u8(frame[3]),
        payload: &frame[RESPONSE_HEADER..frame.len() - CRC_BYTES],
    })
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

impl Hello {
    /// `HELLO`'s response payload: the magic, the version, `W`, the clock, `MaxPayload`,
    /// `ClksPerBit`.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = HELLO_MAGIC.to_vec();
        p.push(self.version);
        p.push(self.stream_bytes as u8);
        p.extend_from_slice(&self.clock_hz.to_le_bytes());
        p.extend_from_slice(&(self.max_payload as u16).to_le_bytes());
        p.extend_from_slice(&self.clks_per_bit.to_le_bytes());
        p
    }

    /// Decodes `HELLO`'s response payload; `None` when it is too short or lacks the magic.
    pub fn decode(p: &[u8]) -> Option<Hello> {
        if p.len() < HELLO_LEN || p[..4] != HELLO_MAGIC {
            return None;
        }
        Some(Hello {
            version: p[4],
            stream_bytes: p[5] as usize,
            clock_hz: u32::from_le_bytes([p[6], p[7], p[8], p[9]]),
            max_payload: u16::from_le_bytes([p[10], p[11]]) as usize,
            clks_per_bit: u16::from_le_bytes([p[12], p[13]]),
        })
    }
}
