//! The simulated board (`tessera_fpga_ulx3s` behind a pseudo-terminal) on the board
//! configuration `ulx3s` (the model the end-to-end UART tests use too), with frames of the
//! protocol in `docs/fpga.md` built one by one with the driver's frame encoder (whose layout and
//! CRC the `uart::tests` unit tests check against the definition): every response is compared
//! byte for byte with the one expected, CRC included.
//!
//! Skips with a message when `verilator` is missing (fails in CI). One model build, cached.

use std::time::{Duration, Instant};

use tessera_driver::uart::{
    crc16, encode_request, encode_response, ByteLink, Command, SerialLink, Status, DEFAULT_BAUD,
};
use tessera_sim::require_verilator;
use tessera_sim::uart_sim::{UartSim, SIM_CLKS_PER_BIT};

const HELLO: u8 = Command::Hello as u8;
const REG_READ: u8 = Command::RegRead as u8;
const REG_WRITE: u8 = Command::RegWrite as u8;
const STREAM_SEND: u8 = Command::StreamSend as u8;
const STREAM_RECV: u8 = Command::StreamRecv as u8;
const WAIT_IRQ: u8 = Command::WaitIrq as u8;

const OK: u8 = Status::Ok.code();
const TIMEOUT: u8 = Status::Timeout.code();
const BAD_CMD: u8 = Status::BadCmd.code();
const BAD_LEN: u8 = Status::BadLen.code();
const BAD_CRC: u8 = Status::BadCrc.code();

const ID: u16 = 0x000;
const VERSION: u16 = 0x004;
const SCRATCH: u16 = 0x060;
const INTR_ENABLE: u16 = 0x054;

/// A descriptor header (`docs/architecture.md`): eight little-endian words, four 64-bit beats
/// on the board chip's 64-bit stream.
fn descriptor(words: [u32; 8]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The board's serial port, raw 8N1.
struct Port {
    link: SerialLink,
}

impl Port {
    fn open(path: &std::path::Path) -> Port {
        Port {
            link: SerialLink::open(path, DEFAULT_BAUD).unwrap(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.link.write_all(bytes).unwrap();
    }

    /// Reads until `n` bytes arrived or `timeout` passed; returns what arrived.
    fn read_for(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            got += self.link.read(&mut out[got..], left).unwrap();
        }
        out.truncate(got);
        out
    }

    /// One request, and its response compared with `want`; also checks that nothing follows.
    fn exchange(&mut self, req: &[u8], want: &[u8], what: &str) -> Duration {
        let t0 = Instant::now();
        self.send(req);
        let got = self.read_for(want.len(), Duration::from_secs(20));
        let dt = t0.elapsed();
        assert_eq!(hex(&got), hex(want), "{what}");
        let extra = self.read_for(1, Duration::from_millis(20));
        assert!(extra.is_empty(), "{what}: extra bytes {}", hex(&extra));
        dt
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn crc16_check_value() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
}

#[test]
fn uart_sim_smoke() {
    if !require_verilator() {
        return;
    }
    let sim = UartSim::spawn("ulx3s").unwrap();
    // Bytes per stream beat, beats per 32-byte descriptor, bytes per result word.
    let w = sim.config().stream_width / 8;
    let desc_beats = 32 / w;
    let word_bytes = sim.config().lanes * 4;
    let mut port = Port::open(sim.pty());

    // HELLO: magic, version 1, W bytes per beat, 25 MHz, MaxPayload 1024, the simulated bit time.
    let mut hello = b"TSRA".to_vec();
    hello.push(1);
    hello.push(w as u8);
    hello.extend_from_slice(&25_000_000u32.to_le_bytes());
    hello.extend_from_slice(&1024u16.to_le_bytes());
    hello.extend_from_slice(&(SIM_CLKS_PER_BIT as u16).to_le_bytes());
    port.exchange(
        &encode_request(0x40, HELLO, &[]),
        &encode_response(0x40, HELLO, OK, &hello),
        "HELLO",
    );

    // ID ("TESS") and VERSION (the register description's reset value).
    let dt = port.exchange(
        &encode_request(0x41, REG_READ, &ID.to_le_bytes()),
        &encode_response(0x41, REG_READ, OK, &0x5445_5353u32.to_le_bytes()),
        "REG_READ ID",
    );
    port.exchange(
        &encode_request(0x42, REG_READ, &VERSION.to_le_bytes()),
        &encode_response(
            0x42,
            REG_READ,
            OK,
            &tessera_driver::supported_version_word().to_le_bytes(),
        ),
        "REG_READ VERSION",
    );
    eprintln!("REG_READ round trip: {:.1} ms", dt.as_secs_f64() * 1e3);

    // A register write, then a different write with the same sequence number: the kept response
    // comes back and the register keeps the first value.
    let write = |v: u32| {
        let mut p = SCRATCH.to_le_bytes().to_vec();
        p.extend_from_slice(&v.to_le_bytes());
        p
    };
    let written = encode_response(0x43, REG_WRITE, OK, &[]);
    port.exchange(
        &encode_request(0x43, REG_WRITE, &write(0x1111_1111)),
        &written,
        "REG_WRITE",
    );
    port.exchange(
        &encode_request(0x43, REG_WRITE, &write(0x2222_2222)),
        &written,
        "REG_WRITE repeated",
    );
    let scratch = encode_response(0x44, REG_READ, OK, &0x1111_1111u32.to_le_bytes());
    port.exchange(
        &encode_request(0x44, REG_READ, &SCRATCH.to_le_bytes()),
        &scratch,
        "SCRATCH after the repeat",
    );

    // A corrupted CRC: BAD_CRC with the sequence number and command as received, not executed,
    // and the kept response (0x44) stays.
    let mut bad = encode_request(0x45, REG_WRITE, &write(0x3333_3333));
    *bad.last_mut().unwrap() ^= 0x01;
    port.exchange(
        &bad,
        &encode_response(0x45, REG_WRITE, BAD_CRC, &[]),
        "BAD_CRC",
    );
    port.exchange(
        &encode_request(0x44, REG_READ, &SCRATCH.to_le_bytes()),
        &scratch,
        "kept response after BAD_CRC",
    );

    // A partial frame, then silence: the board abandons it after IdleBytes byte times (the
    // simulated board paces them at one per millisecond at most: about 64 ms) and answers the
    // next frame, sent a second later. No response may come for the partial frame.
    port.send(&encode_request(0x46, REG_READ, &ID.to_le_bytes())[..4]);
    let none = port.read_for(1, Duration::from_millis(1000));
    assert!(
        none.is_empty(),
        "response to a partial frame: {}",
        hex(&none)
    );
    port.exchange(
        &encode_request(0x46, REG_READ, &SCRATCH.to_le_bytes()),
        &encode_response(0x46, REG_READ, OK, &0x1111_1111u32.to_le_bytes()),
        "frame after an abandoned one",
    );

    // Errors and timeouts: unknown command, wrong length, no output beats, no interrupt.
    port.exchange(
        &encode_request(0x47, 0x7E, &[]),
        &encode_response(0x47, 0x7E, BAD_CMD, &[]),
        "BAD_CMD",
    );
    port.exchange(
        &encode_request(0x48, REG_READ, &[0]),
        &encode_response(0x48, REG_READ, BAD_LEN, &[]),
        "BAD_LEN",
    );
    let mut recv = 2u16.to_le_bytes().to_vec();
    recv.extend_from_slice(&500u32.to_le_bytes());
    port.exchange(
        &encode_request(0x49, STREAM_RECV, &recv),
        &encode_response(0x49, STREAM_RECV, TIMEOUT, &[]),
        "STREAM_RECV with no output",
    );
    port.exchange(
        &encode_request(0x4A, WAIT_IRQ, &300u32.to_le_bytes()),
        &encode_response(0x4A, WAIT_IRQ, TIMEOUT, &[0]),
        "WAIT_IRQ with no interrupt",
    );

    // HELLO forgets the kept response: the same sequence number is executed again.
    port.exchange(
        &encode_request(0x4A, HELLO, &[]),
        &encode_response(0x4A, HELLO, OK, &hello),
        "HELLO again",
    );
    port.exchange(
        &encode_request(0x4A, REG_WRITE, &write(0x4444_4444)),
        &encode_response(0x4A, REG_WRITE, OK, &[]),
        "REG_WRITE after HELLO",
    );
    port.exchange(
        &encode_request(0x4B, REG_READ, &SCRATCH.to_le_bytes()),
        &encode_response(0x4B, REG_READ, OK, &0x4444_4444u32.to_le_bytes()),
        "SCRATCH after HELLO",
    );

    // Streams and the interrupt: a VBUF_READ of two result words (tlast on the last beat out),
    // then a FENCE, which raises the interrupt once INTR_ENABLE.done is set.
    port.exchange(
        &encode_request(0x4C, REG_WRITE, &{
            let mut p = INTR_ENABLE.to_le_bytes().to_vec();
            p.extend_from_slice(&1u32.to_le_bytes());
            p
        }),
        &encode_response(0x4C, REG_WRITE, OK, &[]),
        "INTR_ENABLE",
    );
    let send = |d: Vec<u8>| {
        let mut p = vec![0x01];
        p.extend_from_slice(&100_000u32.to_le_bytes());
        p.extend_from_slice(&d);
        p
    };
    port.exchange(
        &encode_request(
            0x4D,
            STREAM_SEND,
            &send(descriptor([4, 0, 2, 0, 0, 0, 0, 0])),
        ),
        &encode_response(0x4D, STREAM_SEND, OK, &(desc_beats as u16).to_le_bytes()),
        "STREAM_SEND VBUF_READ",
    );
    let beats = 2 * word_bytes / w;
    let mut recv = (beats as u16).to_le_bytes().to_vec();
    recv.extend_from_slice(&100_000u32.to_le_bytes());
    port.send(&encode_request(0x4E, STREAM_RECV, &recv));
    let len = 6 + beats * (w + 1) + 2;
    let got = port.read_for(len, Duration::from_secs(20));
    assert_eq!(got.len(), len, "STREAM_RECV: {}", hex(&got));
    // The result buffer's content is whatever it holds after reset: the frame is rebuilt from
    // the received data bytes, the flags must be tlast on the last beat only.
    let data = &got[6..len - 2];
    let flags: Vec<u8> = (0..beats).map(|i| data[i * (w + 1) + w]).collect();
    let mut want_flags = vec![0u8; beats];
    want_flags[beats - 1] = 1;
    assert_eq!(flags, want_flags, "STREAM_RECV flags");
    assert_eq!(
        hex(&got),
        hex(&encode_response(0x4E, STREAM_RECV, OK, data)),
        "STREAM_RECV"
    );
    port.exchange(
        &encode_request(
            0x4F,
            STREAM_SEND,
            &send(descriptor([5, 0, 0, 0, 0, 0, 0, 0])),
        ),
        &encode_response(0x4F, STREAM_SEND, OK, &(desc_beats as u16).to_le_bytes()),
        "STREAM_SEND FENCE",
    );
    port.exchange(
        &encode_request(0x50, WAIT_IRQ, &100_000u32.to_le_bytes()),
        &encode_response(0x50, WAIT_IRQ, OK, &[1]),
        "WAIT_IRQ after FENCE",
    );

    // Link throughput: a full 1024-byte request (an unknown command) and its answer.
    let big = encode_request(0x51, 0x7F, &[0x5A; 1024]);
    let dt = port.exchange(
        &big,
        &encode_response(0x51, 0x7F, BAD_CMD, &[]),
        "1 KiB request",
    );
    eprintln!(
        "{} bytes through the simulated link in {:.1} ms: {:.0} bytes/s",
        big.len() + 8,
        dt.as_secs_f64() * 1e3,
        (big.len() + 8) as f64 / dt.as_secs_f64()
    );
}
