//! `tokenizer.json` (and, after a NUL byte, `tokenizer_config.json`) into
//! `Tokenizer::from_dir`; a tokenizer that loads encodes and decodes a sample text and streams
//! its ids back: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_golden::tokenizer::{TextStream, Tokenizer};

fuzz_target!(|data: &[u8]| {
    let (tok, cfg) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let dir = tessera_fuzz::scratch().join("tok");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tok).unwrap();
    match cfg {
        Some(c) => std::fs::write(dir.join("tokenizer_config.json"), c).unwrap(),
        None => {
            let _ = std::fs::remove_file(dir.join("tokenizer_config.json"));
        }
    }
    let Ok(t) = Tokenizer::from_dir(&dir) else {
        return;
    };
    let _ = (t.eos_token_id(), t.bos_token(), t.chat_template());
    let Ok(ids) = t.encode("Hello, wörld 12345 <|im_end|>\n", true) else {
        return;
    };
    let _ = t.decode(&ids, false);
    let _ = t.decode(&ids, true);
    let _ = t.decode(&[u32::MAX], false);
    let mut s = TextStream::new(&t, false);
    for &id in ids.iter().take(64) {
        let _ = s.push(id);
    }
    let _ = s.finish();
});
