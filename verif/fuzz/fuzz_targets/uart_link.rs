//! The UART transport's receive path: `UartTransport` over a link whose board answers each
//! request with the next record of the input (`len` byte, then `len` bytes: noise, partial,
//! damaged or valid frames), through `HELLO`, register reads and writes, a stream send and
//! receive and an interrupt wait. Errors, never a panic or a hang.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessera_driver::transport::Transport;
use tessera_driver::uart::{ByteLink, UartOptions, UartTransport};
use tessera_driver::Result;

struct Scripted<'a> {
    script: &'a [u8],
    pending: Vec<u8>,
}

impl ByteLink for Scripted<'_> {
    fn write_all(&mut self, _bytes: &[u8]) -> Result<()> {
        // The board answers: the next record arrives.
        if let Some((&n, rest)) = self.script.split_first() {
            let n = (n as usize).min(rest.len());
            self.pending.extend_from_slice(&rest[..n]);
            self.script = &rest[n..];
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize> {
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let link = Scripted {
        script: data,
        pending: Vec::new(),
    };
    let opts = UartOptions {
        tries: 2,
        margin: Duration::ZERO,
        board_hz: Some(1e11),
        ..UartOptions::default()
    };
    let Ok(mut t) = UartTransport::new(link, opts) else {
        return;
    };
    let w = t.stream_width();
    assert!(w >= 32 && w % 32 == 0);
    let _ = t.reg_read(0x10);
    let _ = t.reg_write(0x14, 0xdead_beef);
    let _ = t.stream_send(&vec![0x5a5a_5a5a; w / 32 * 2], true, 1000);
    if let Ok(r) = t.stream_recv(2, 1000) {
        let _ = r;
    }
    let _ = t.wait_irq(1000);
    let s = t.stats();
    assert!(s.frames >= s.requests);
});
