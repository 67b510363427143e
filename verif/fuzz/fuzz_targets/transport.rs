//! Transport strings: the text after `uart:` into `UartOptions::parse`: an error, or options
//! within their documented ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_driver::uart::{UartOptions, MAX_BAUD, MAX_BOARD_HZ, MAX_MARGIN_MS, MAX_TRIES};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((path, o)) = UartOptions::parse(spec) else {
        return;
    };
    assert!(!path.as_os_str().is_empty());
    assert!(o.baud >= 1 && f64::from(o.baud) <= MAX_BAUD);
    assert!(o.tries >= 1 && f64::from(o.tries) <= MAX_TRIES);
    assert!(o.margin.as_secs_f64() * 1e3 <= MAX_MARGIN_MS * (1.0 + 1e-9));
    if let Some(hz) = o.board_hz {
        assert!(hz.is_finite() && (1.0..=MAX_BOARD_HZ).contains(&hz));
    }
    if let Some(p) = o.max_payload {
        assert!((1..=1024).contains(&p));
    }
});
