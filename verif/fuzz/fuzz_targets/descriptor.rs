//! Descriptor packets: arbitrary words into `Descriptor::decode` (an error or a descriptor
//! that encodes back to the same packet, beat padding aside), and descriptors built from the
//! input encoded and decoded again (`decode(encode(d)) == d`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_abi::{Descriptor, Error, ErrorCode};

/// Payloads longer than this are not built for the round trip.
const MAX_PAYLOAD_WORDS: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cfgs = tessera_fuzz::configs();
    let cfg = &cfgs[pick as usize % cfgs.len()];
    let words = tessera_fuzz::words(rest);

    // Arbitrary words.
    match Descriptor::decode(&words, cfg) {
        Ok(d) => {
            let p = d.packet(cfg);
            assert_eq!(p.len(), words.len());
            assert_eq!(p[..8], words[..8]);
            assert_eq!(
                p[Descriptor::header_len(cfg)..],
                words[Descriptor::header_len(cfg)..]
            );
            assert_eq!(Descriptor::decode(&p, cfg).as_ref(), Ok(&d));
        }
        Err(Error::Descriptor { index: 0, code, .. }) => assert!(matches!(
            code,
            ErrorCode::Opcode
                | ErrorCode::TileRange
                | ErrorCode::StreamShort
                | ErrorCode::StreamLong
        )),
        Err(e) => panic!("not a descriptor error: {e}"),
    }

    // A descriptor from the input's first eight words, payload from the rest, repeated.
    let mut header = [0u32; 8];
    for (h, w) in header.iter_mut().zip(&words) {
        *h = *w;
    }
    let Ok(n) = Descriptor::payload_len(&header, cfg) else {
        return;
    };
    if n > MAX_PAYLOAD_WORDS {
        return;
    }
    let fill = words.get(8..).filter(|f| !f.is_empty()).unwrap_or(&[0]);
    let d = Descriptor {
        header,
        payload: fill.iter().copied().cycle().take(n).collect(),
    };
    assert_eq!(Descriptor::decode(&d.packet(cfg), cfg), Ok(d));
});
