//! `config.json` text into `Config::from_json`: an error or a config that validates, whose
//! rotary frequencies (and the angles at the last position) are finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_golden::config::Config;
use tessera_golden::model::Rope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Config::from_json(text) else {
        return;
    };
    c.validate().expect("an accepted config validates again");
    let _ = (c.num_kv_heads(), c.eos_token_ids());
    // Rotary tables are head_dim / 2 wide: only build them for sizes a model could have.
    if c.head_dim() <= 1 << 16 {
        let rope = Rope::new(&c).expect("an accepted config has a rope");
        assert!(
            rope.inv_freq.iter().all(|f| f.is_finite()),
            "non-finite rotary frequency: {:?}",
            rope.inv_freq
        );
        let t = rope.tables(c.max_position_embeddings - 1, 1);
        assert!(t.cos.iter().chain(t.sin.iter()).all(|x| x.is_finite()));
    }
});
