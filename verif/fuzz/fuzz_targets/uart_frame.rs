//! UART frames: arbitrary bytes into the request, response and `HELLO` decoders (an error,
//! or a frame that encodes back to the same bytes), and frames built from the input that
//! decode to what was encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_driver::uart::{
    decode_request, decode_response, encode_request, encode_response, Hello, MAX_PAYLOAD,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode_request(data) {
        assert_eq!(encode_request(r.seq, r.cmd, r.payload), data);
    }
    if let Ok(r) = decode_response(data) {
        assert_eq!(
            encode_response(r.seq, r.cmd, r.status.code(), r.payload),
            data
        );
    }
    if let Some(h) = Hello::decode(data) {
        assert_eq!(h.encode()[..], data[..14]);
    }

    if data.len() < 3 {
        return;
    }
    let (seq, cmd, status) = (data[0], data[1] & 0x7f, data[2]);
    let payload = &data[3..data.len().min(3 + MAX_PAYLOAD)];
    let f = encode_request(seq, cmd, payload);
    let r = decode_request(&f).expect("an encoded request decodes");
    assert_eq!((r.seq, r.cmd, r.payload), (seq, cmd, payload));
    let f = encode_response(seq, cmd, status, payload);
    let r = decode_response(&f).expect("an encoded response decodes");
    assert_eq!(
        (r.seq, r.cmd, r.status.code(), r.payload),
        (seq, cmd, status, payload)
    );
});
