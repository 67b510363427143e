//! Programs: arbitrary words into `decode_program` (an error naming a descriptor inside the
//! program, or descriptors that encode back to the same words when the header needs no beat
//! padding), and programs built from the input that round-trip exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_abi::{decode_program, encode_program, Descriptor, Error};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cfgs = tessera_fuzz::configs();
    let cfg = &cfgs[pick as usize % cfgs.len()];
    let words = tessera_fuzz::words(rest);

    match decode_program(&words, cfg) {
        Ok(ds) => {
            assert!(ds.len() <= words.len() / 8);
            let again = encode_program(&ds, cfg);
            assert_eq!(again.len(), words.len());
            if Descriptor::header_len(cfg) == 8 {
                assert_eq!(again, words);
            }
            assert_eq!(decode_program(&again, cfg), Ok(ds));
        }
        Err(Error::Descriptor { index, .. }) => assert!(index <= words.len() / 8),
        Err(e) => panic!("not a descriptor error: {e}"),
    }

    // Descriptors built from 9-word records (header, then one fill word for the payload).
    let mut program = Vec::new();
    let mut budget = 1usize << 16;
    for rec in words.chunks_exact(9).take(32) {
        let mut header: [u32; 8] = rec[..8].try_into().unwrap();
        // Small sizes, so that payloads stay short and most records make legal descriptors.
        header[2] &= 0xff;
        header[4] &= 0xff;
        let Ok(n) = Descriptor::payload_len(&header, cfg) else {
            continue;
        };
        if n > budget {
            continue;
        }
        budget -= n;
        program.push(Descriptor {
            header,
            payload: vec![rec[8]; n],
        });
    }
    let words = encode_program(&program, cfg);
    assert_eq!(decode_program(&words, cfg), Ok(program));
});
