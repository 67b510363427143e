//! The UART transport against the in-memory board of [`crate::testing`] (faults injected in
//! both directions), and the serial link on pseudo-terminals.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::*;
use crate::device::{supported_version_word, Device};
use crate::error::{Error, Result};
use crate::testing::{scratch_addr, Board, BoardLink, Fault, FaultyLink, MiniChip};
use crate::transport::Transport;
use crate::ChipConfig;

/// The link of the tests: a fault injector in front of an in-memory board.
type Link<T> = FaultyLink<BoardLink<T>>;

fn tiny(version: u32) -> MiniChip {
    MiniChip::new(&ChipConfig::named("tiny").unwrap(), version)
}

fn wired<T: Transport>(board: Board<T>, opts: UartOptions) -> Result<UartTransport<Link<T>>> {
    UartTransport::new(FaultyLink::new(BoardLink::new(board)), opts)
}

fn mini() -> UartTransport<Link<MiniChip>> {
    wired(
        Board::new(tiny(supported_version_word())),
        UartOptions::default(),
    )
    .unwrap()
}

/// The board behind a transport of the tests.
fn board<T: Transport>(t: &mut UartTransport<Link<T>>) -> &mut Board<T> {
    &mut t.link().link.board
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
fn uart_frames_decode_what_they_encode() {
    let f = encode_request(9, Command::RegWrite as u8, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(request_len(&f), 6);
    let want = Request {
        seq: 9,
        cmd: 0x02,
        payload: &[1, 2, 3, 4, 5, 6],
    };
    assert_eq!(decode_request(&f), Ok(want));
    // A damaged payload: the sequence number and command as received.
    let mut bad = f.clone();
    bad[REQUEST_HEADER] ^= 0x10;
    assert_eq!(
        decode_request(&bad),
        Err(FrameError::BadCrc { seq: 9, cmd: 0x02 })
    );
    assert_eq!(
        decode_request(&f[..f.len() - 1]),
        Err(FrameError::Malformed)
    );
    assert_eq!(decode_response(&f), Err(FrameError::Malformed));

    let r = encode_response(9, Command::RegRead as u8, Status::SlvErr.code(), &[7]);
    assert_eq!(response_len(&r), Some(1));
    let want = Response {
        seq: 9,
        cmd: 0x01,
        status: Status::SlvErr,
        payload: &[7],
    };
    assert_eq!(decode_response(&r), Ok(want));
    let mut bad = r.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        decode_response(&bad),
        Err(FrameError::BadCrc { seq: 9, cmd: 0x01 })
    );
    // Bit 7 of the command byte marks a response.
    let mut req = r.clone();
    req[2] &= 0x7f;
    assert_eq!(response_len(&req), None);
    assert_eq!(decode_response(&req), Err(FrameError::Malformed));

    let h = Hello {
        version: 1,
        stream_bytes: 8,
        clock_hz: 25_000_000,
        max_payload: 1024,
        clks_per_bit: 25,
    };
    let p = h.encode();
    assert_eq!(p.len(), 14);
    assert_eq!(&p[..6], b"TSRA\x01\x08");
    assert_eq!(Hello::decode(&p), Some(h));
    assert_eq!(Hello::decode(&p[..13]), None);
    let mut q = p.clone();
    q[0] = b'X';
    assert_eq!(Hello::decode(&q), None);
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
    // Out of range, non-finite or fractional values name the option and its range.
    for (bad, rule) in [
        (
            "/dev/x,margin-ms=1e300",
            "margin-ms=1e300: must be a number from 0 to 60000",
        ),
        ("/dev/x,margin-ms=nan", "margin-ms=nan: must be a number"),
        ("/dev/x,margin-ms=inf", "margin-ms=inf: must be a number"),
        (
            "/dev/x,tries=1e12",
            "tries=1e12: must be an integer from 1 to 100",
        ),
        (
            "/dev/x,tries=0",
            "tries=0: must be an integer from 1 to 100",
        ),
        ("/dev/x,baud=1.5", "baud=1.5: must be an integer"),
        (
            "/dev/x,baud=1e10",
            "baud=1e10: must be an integer from 1 to 4000000",
        ),
        ("/dev/x,board-hz=0", "board-hz=0: must be a number from 1"),
        (
            "/dev/x,max-payload=1e30",
            "max-payload=1e30: must be an integer from 1",
        ),
    ] {
        let e = UartOptions::parse(bad).unwrap_err().to_string();
        assert!(e.contains(rule), "{bad}: {e}");
    }
    let (_, o) = UartOptions::parse("/dev/x,margin-ms=0,tries=100").unwrap();
    assert_eq!((o.margin, o.tries), (Duration::ZERO, 100));
}

#[test]
fn uart_hello_and_discovery_of_the_chip() {
    let mut t = mini();
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
    let d = Device::open(&mut t).unwrap();
    let tiny_cfg = ChipConfig::named("tiny").unwrap();
    let mut found = d.config().clone();
    found.name = "tiny".into();
    assert_eq!(found, tiny_cfg);
    drop(d);
    assert_eq!(board(&mut t).bad_crc, 0);
    let t = wired(
        Board::new(tiny(supported_version_word())),
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
    let mut b = Board::new(tiny(supported_version_word()));
    b.version = 2;
    match wired(b, UartOptions::default()) {
        Err(e @ Error::UnsupportedProtocol { found: 2, .. }) => {
            assert!(e.to_string().contains("version mismatch"), "{e}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("protocol version 2 accepted"),
    }
    let mut b = Board::new(tiny(supported_version_word()));
    b.magic = *b"XXXX";
    match wired(b, UartOptions::default()) {
        Err(e @ Error::Link(_)) => assert!(e.to_string().contains("TSRA"), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a bad magic accepted"),
    }
}

#[test]
fn uart_chip_of_an_unsupported_version_is_refused() {
    let t = wired(Board::new(tiny(0x0002_0000)), UartOptions::default()).unwrap();
    match Device::open(t) {
        Err(Error::UnsupportedVersion { found, .. }) => assert_eq!(found, (2, 0, 0)),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("chip version 2.0.0 accepted"),
    }
}

#[test]
fn uart_registers_and_board_statuses_map_to_driver_errors() {
    let mut t = mini();
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
    board(&mut t).chip.take_limit = Some(0);
    match t.stream_send(&[1, 2], true, 100) {
        Err(Error::Timeout { what, .. }) => assert!(what.contains("STREAM_SEND"), "{what}"),
        r => panic!("{r:?}"),
    }
    assert!(matches!(t.stream_recv(1, 0), Err(Error::Timeout { .. })));
    board(&mut t).chip.irq = true;
    assert!(t.wait_irq(10).unwrap());
    // The board answers a low line with 0 and TIMEOUT: the interrupt did not come.
    board(&mut t).chip.irq = false;
    assert!(!t.wait_irq(10).unwrap());
    assert_eq!(t.stats().retries, 0);
}

#[test]
fn uart_streams_are_split_to_fit_max_payload() {
    let mut b = Board::new(tiny(supported_version_word()));
    b.max_payload = 64;
    let mut t = wired(b, UartOptions::default()).unwrap();
    // 64-byte payloads: 7 beats of 8 bytes per STREAM_SEND, 7 beats of 9 per STREAM_RECV.
    let words: Vec<u32> = (0..80).collect();
    t.stream_send(&words, true, 1000).unwrap();
    {
        let sent = &board(&mut t).chip.sent;
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
        board(&mut t).chip.output.push_back(beat);
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
    let t = wired(
        Board::new(tiny(supported_version_word())),
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
    let mut t = mini();
    let s = scratch_addr();
    // A byte of the request lost: the board abandons the frame after the gap, the retry
    // goes through.
    t.link().to_board.after(3, Fault::Drop);
    t.reg_write(s, 0x1234_5678).unwrap();
    // A byte of the response lost: the retry is answered from the kept response.
    t.link().to_host.after(6, Fault::Drop);
    t.reg_write(s, 0x0bad_cafe).unwrap();
    // A dropped response byte of a stream send: the beats are taken once.
    t.link().to_host.after(2, Fault::Drop);
    t.stream_send(&[5, 6, 7, 8], true, 10).unwrap();
    let chip = &board(&mut t).chip;
    assert_eq!(chip.writes, [(s, 0x1234_5678), (s, 0x0bad_cafe)]);
    assert_eq!(chip.sent, [(vec![5, 6, 7, 8], true)]);
    assert_eq!(t.stats().retries, 3);
    assert_eq!(t.stats().no_response, 3);
}

#[test]
fn uart_flipped_bits_both_directions_are_retried() {
    let mut t = mini();
    let s = scratch_addr();
    // Request payload bit flipped: BAD_CRC, not executed, retried.
    t.link().to_board.after(6, Fault::Flip(0x10));
    t.reg_write(s, 0x1111_1111).unwrap();
    // Request sequence number flipped: the BAD_CRC answer carries the damaged number.
    t.link().to_board.after(1, Fault::Flip(0x01));
    t.reg_write(s, 0x2222_2222).unwrap();
    assert_eq!(board(&mut t).bad_crc, 2);
    // Response data flipped: bad response CRC, retried, answered from the kept response.
    t.link().to_host.after(7, Fault::Flip(0x80));
    assert_eq!(t.reg_read(s).unwrap(), 0x2222_2222);
    // Response start byte flipped: no frame at all, a timeout, retried.
    t.link().to_host.after(0, Fault::Flip(0x04));
    t.reg_write(s, 0x3333_3333).unwrap();
    assert_eq!(
        board(&mut t).chip.writes,
        [(s, 0x1111_1111), (s, 0x2222_2222), (s, 0x3333_3333)]
    );
    let st = t.stats();
    assert_eq!(
        (st.board_bad_crc, st.bad_responses, st.no_response),
        (2, 1, 1)
    );
    // The read and the last write reached the board twice, and ran once.
    let replays = board(&mut t).log.iter().filter(|l| !l.executed).count();
    assert_eq!(replays, 2);
}

#[test]
fn uart_repeated_sequence_number_is_not_executed_twice() {
    let mut t = mini();
    let s = scratch_addr();
    // Lose every response byte for a while: the write reaches the board on every try, is
    // executed on the first only.
    t.link().to_host.dead = true;
    let e = t.reg_write(s, 42).unwrap_err();
    t.link().to_host.dead = false;
    let msg = e.to_string();
    assert!(
        msg.contains("REG_WRITE") && msg.contains("no response after 4 tries"),
        "{msg}"
    );
    let b = board(&mut t);
    assert_eq!(b.chip.writes, [(s, 42)]);
    let seqs: Vec<u8> = b.log.iter().skip(1).map(|l| l.seq).collect();
    assert_eq!(seqs.len(), 4);
    assert!(seqs.iter().all(|&q| q == seqs[0]), "{seqs:?}");
    assert_eq!(b.executed(), 2, "HELLO and one write");
    // A late copy of an old response waiting in the input is skipped.
    let stale = encode_response(seqs[0], Command::RegRead as u8, 0, &[9; 4]);
    t.link().link.send_to_host(&stale);
    assert_eq!(t.reg_read(s).unwrap(), 42);
    assert_eq!(t.stats().stale, 1);
    // The link works on: a new request under the next number.
    t.reg_write(s, 43).unwrap();
    assert_eq!(board(&mut t).chip.writes, [(s, 42), (s, 43)]);
}

#[test]
fn uart_crc_errors_are_retried_a_bounded_number_of_times() {
    let mut t = mini();
    let s = scratch_addr();
    t.link().to_board.damage_last_byte = true;
    let msg = t.reg_write(s, 7).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("REG_WRITE {s:#05x}"))
            && msg.contains("after 4 tries")
            && msg.contains("4 BAD_CRC from the board"),
        "{msg}"
    );
    assert_eq!(board(&mut t).bad_crc, 4);
    assert!(board(&mut t).chip.writes.is_empty());
    assert_eq!(t.stats().frames, 1 + 4);
}

#[test]
fn uart_dead_link_is_an_error_naming_the_operation() {
    let mut t = mini();
    t.link().to_board.dead = true;
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
    assert_eq!(board(&mut t).executed(), 1, "only HELLO reached the board");
    // A dead link at the start: HELLO names itself.
    let mut dead = FaultyLink::new(BoardLink::new(Board::new(tiny(supported_version_word()))));
    dead.to_board.dead = true;
    let tries = UartOptions {
        tries: 2,
        ..UartOptions::default()
    };
    let e = UartTransport::new(dead, tries).err().unwrap();
    assert!(
        e.to_string().contains("HELLO: no response after 2 tries"),
        "{e}"
    );
}

/// A pseudo-terminal pair: the master (the "board" side, reads and writes wait up to 2 s) and
/// the slave's path.
fn pty() -> (TTYPort, PathBuf) {
    let (mut master, slave) = TTYPort::pair().unwrap();
    master.set_timeout(Duration::from_secs(2)).unwrap();
    (master, PathBuf::from(slave.name().unwrap()))
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
