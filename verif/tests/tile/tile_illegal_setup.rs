//! tile_illegal_setup: illegal set-ups (rows = 0, K = 0, K beyond the activation buffer, a
//! matrix running past the weight memory) and weight writes beyond the memory are accepted in
//! one handshake, raise the sticky err_o, start nothing and corrupt nothing: the memory reads
//! back unchanged through the backdoor and the next legal operation is correct.

use proptest::prelude::*;
use serde::Serialize;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{run_property, GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

#[derive(Clone, Debug, Serialize)]
enum Bad {
    ZeroRows { base: u32, k: u32 },
    ZeroK { base: u32, rows: u32 },
    KTooLong { base: u32, rows: u32, extra: u32 },
    PastMemory { rows: u32, k: u32, over: u32 },
    WriteOutOfRange { offset: u32 },
}

#[derive(Clone, Debug, Serialize)]
struct Case {
    bad: Vec<Bad>,
    rows: u32,
    k: u32,
    seed: u64,
}

fn bad() -> impl Strategy<Value = Bad> {
    let cfg = *TileConfig::get("tile_tiny").unwrap();
    prop_oneof![
        (0..cfg.weight_words, 0u32..=600).prop_map(|(base, k)| Bad::ZeroRows { base, k }),
        (0..cfg.weight_words, 0u32..=40).prop_map(|(base, rows)| Bad::ZeroK { base, rows }),
        (0..cfg.weight_words, 1u32..=8, 1u32..=100).prop_map(|(base, rows, extra)| Bad::KTooLong {
            base,
            rows,
            extra
        }),
        (1u32..=40, 1u32..=cfg.max_k(), 0u32..=50).prop_map(|(rows, k, over)| Bad::PastMemory {
            rows,
            k,
            over
        }),
        (0u32..=1000).prop_map(|offset| Bad::WriteOutOfRange { offset }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(bad(), 1..=4),
        1u32..=12,
        1u32..=40,
        any::<u64>(),
    )
        .prop_map(|(bad, rows, k, seed)| Case { bad, rows, k, seed })
}

fn run(c: &Case) -> Result<(), String> {
    let e = |e: tessera_verif::Error| e.to_string();
    let mut env = TileEnv::new(Tile::tiny().map_err(e)?, c.seed, GapPattern::NONE, 1000);
    let cfg = *env.tile.config();
    // A known image in the whole memory.
    let image: Vec<Vec<u8>> = (0..cfg.weight_words)
        .map(|a| {
            (0..cfg.word_bytes())
                .map(|i| (a as usize * 131 + i * 17) as u8)
                .collect()
        })
        .collect();
    for (a, w) in image.iter().enumerate() {
        env.backdoor_write(a as u32, w).map_err(e)?;
    }
    for b in &c.bad {
        let word = vec![0xA5u8; cfg.word_bytes()];
        match *b {
            Bad::ZeroRows { base, k } => env.driver.setup(&mut env.tile, base, 0, k),
            Bad::ZeroK { base, rows } => env.driver.setup(&mut env.tile, base, rows, 0),
            Bad::KTooLong { base, rows, extra } => {
                env.driver
                    .setup(&mut env.tile, base, rows, cfg.max_k() + extra)
            }
            Bad::PastMemory { rows, k, over } => {
                let words = cfg.groups(rows) * cfg.chunks(k);
                let base = (cfg.weight_words + over + 1).saturating_sub(words);
                env.driver.setup(&mut env.tile, base, rows, k)
            }
            Bad::WriteOutOfRange { offset } => {
                env.driver
                    .write(&mut env.tile, cfg.weight_words + offset, &word)
            }
        }
        env.tile.run_until_idle(1_000).map_err(e)?;
        env.tile.tick(4).map_err(e)?;
        let s = env.tile.status();
        if !s.err {
            return Err(format!("{b:?}: err_o not raised"));
        }
        if s.busy || s.res_valid {
            return Err(format!("{b:?}: the tile started an operation"));
        }
        env.sync();
        if !env.observed.is_empty() {
            return Err(format!("{b:?}: results emitted"));
        }
        // Sticky until cleared.
        env.tile.tick(3).map_err(e)?;
        if !env.tile.status().err {
            return Err(format!("{b:?}: err_o not sticky"));
        }
        env.tile.poke_err_clear(true);
        env.tile.tick(1).map_err(e)?;
        env.tile.poke_err_clear(false);
        env.tile.tick(1).map_err(e)?;
        if env.tile.status().err {
            return Err(format!("{b:?}: err_clear_i did not clear err_o"));
        }
    }
    if env.input.reference.errors != c.bad.len() as u64 {
        return Err(format!(
            "reference counted {} errors for {} illegal transactions",
            env.input.reference.errors,
            c.bad.len()
        ));
    }
    for (a, w) in image.iter().enumerate() {
        if &env.tile.backdoor_read(a as u32).map_err(e)? != w {
            return Err(format!("weight word {a} changed"));
        }
    }
    // The next legal operation is correct.
    let w: Vec<i8> = (0..c.rows * c.k).map(|i| (i * 37 + 11) as i8).collect();
    let x: Vec<i8> = (0..c.k).map(|i| (i * 5 + 3) as i8).collect();
    let base = 7;
    for (i, word) in pack_matrix(&cfg, &w, c.rows, c.k).iter().enumerate() {
        env.driver.write(&mut env.tile, base + i as u32, word);
    }
    env.tile.run_until_idle(10_000).map_err(e)?;
    env.driver.setup(&mut env.tile, base, c.rows, c.k);
    env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &x));
    env.drain(10_000)?;
    let want: Vec<_> = expected_beats(&cfg, &w, c.rows, c.k, &x)
        .into_iter()
        .map(|b| (b.lanes, b.last))
        .collect();
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    if got != want {
        return Err(format!(
            "legal operation after errors: got {got:?}, want {want:?}"
        ));
    }
    if env.tile.status().err {
        return Err("err_o raised by the legal operation".into());
    }
    Ok(())
}

#[test]
fn tile_illegal_setup() {
    run_property("tile_illegal_setup", 24, case(), run);
}
