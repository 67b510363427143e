//! Chip configurations (`rtl/top/configs.toml` text) into `ChipConfig::from_toml` for every
//! section: an error, or a configuration whose derived sizes compute without overflow and
//! whose descriptors encode and decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_abi::config::sections;
use tessera_abi::{ChipConfig, Descriptor};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(secs) = sections(text, "fuzz") else {
        return;
    };
    for (name, _) in secs.iter().take(16) {
        let Ok(c) = ChipConfig::from_toml(text, name) else {
            continue;
        };
        let _ = (
            c.params(),
            c.lg_tiles(),
            c.weight_bytes(),
            c.macs_per_cycle(),
        );
        assert!(c.tiles().is_power_of_two() && c.beat_words() >= 1);
        let d = Descriptor::weight_load(0, 0, 0, 1, &vec![1; c.word_bytes().min(1 << 20)]);
        if d.payload.len() == c.word_bytes() / 4 {
            assert_eq!(Descriptor::decode(&d.packet(&c), &c), Ok(d));
        }
        let _ = Descriptor::vbuf_read(0, u32::MAX).output_beats(&c);
    }
});
