//! The driver's UART transport over a faulty in-memory link, in front of the real `tiny` chip
//! model: the test doubles of `tessera_driver::testing` around a simulated chip.

use tessera_driver::bringup;
use tessera_driver::testing::{Board, BoardLink, Fault, FaultyLink};
use tessera_driver::uart::{UartOptions, UartTransport};
use tessera_driver::ChipConfig;
use tessera_sim::{require_verilator, SimTransport};

/// The bring-up sequence through the UART transport and an in-memory board in front of the
/// real `tiny` chip model, with a byte of the requests damaged every 2,503 bytes and a byte
/// of the responses lost every 3,001: every step passes, the faults were met and retried.
#[test]
fn uart_bringup_on_tiny_through_a_faulty_link() {
    if !require_verilator() {
        return;
    }
    let chip = SimTransport::open("tiny").unwrap();
    let mut b = Board::new(chip);
    b.max_payload = 256;
    let mut link = FaultyLink::new(BoardLink::new(b));
    link.to_board.every(2503, Fault::Flip(0x20));
    link.to_host.every(3001, Fault::Drop);
    let mut t = UartTransport::new(link, UartOptions::default()).unwrap();
    let opts = bringup::Options {
        expect: Some(ChipConfig::named("tiny").unwrap()),
        mem_words: 16,
        ..Default::default()
    };
    let r = bringup::run(&mut t, &opts, &mut |s| {
        eprintln!("{} {} {}", s.name, s.outcome.as_str(), s.summary)
    });
    assert!(r.passed(), "{:?}", r.transport_error);
    let l = &t.link().link;
    assert!(l.board.bad_crc > 5, "{} damaged requests", l.board.bad_crc);
    assert!(l.timeouts > 5, "{} lost responses", l.timeouts);
    let replays = l.board.log.iter().filter(|l| !l.executed).count();
    eprintln!(
        "{} frames executed, {} answered from the kept response, {} BAD_CRC",
        l.board.executed(),
        replays,
        l.board.bad_crc
    );
    assert!(replays > 0);
}
