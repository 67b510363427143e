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
//!
//! The parts: `frame` (commands, statuses, the CRC, request and response frames encoded and
//! decoded), `link` ([`ByteLink`] and [`SerialLink`]) and `transport` ([`UartTransport`], its
//! options, retries and counters). [`crate::testing`] has an in-memory board and a fault
//! injector for tests.

#[cfg(doc)]
use crate::Error;

mod frame;
mod link;
mod transport;

#[cfg(test)]
mod tests;

pub use frame::{
    crc16, decode_request, decode_response, encode_request, encode_response, request_len,
    response_len, Command, FrameError, Hello, Request, Response, Status, HELLO_MAGIC, IDLE_BYTES,
    MAX_PAYLOAD, PROTOCOL_VERSION, REQUEST_HEADER, REQUEST_START, RESPONSE_HEADER, RESPONSE_START,
};
pub use link::{ByteLink, SerialLink, BAUD_RATES};
pub use transport::{
    LinkStats, UartOptions, UartTransport, DEFAULT_BAUD, DEFAULT_MARGIN, DEFAULT_TRIES, MAX_BAUD,
    MAX_BOARD_HZ, MAX_MARGIN_MS, MAX_TRIES,
};
