//! tile_frontdoor_backdoor: the same matrix loaded through the weight-write stream into one
//! tile and through the DPI backdoor into another gives the same results (equal to the golden
//! product), and the backdoor reads back exactly what the front door wrote.

use proptest::prelude::*;
use serde::Serialize;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{run_property, GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

#[derive(Clone, Debug, Serialize)]
struct Case {
    base: u32,
    rows: u32,
    k: u32,
    w: Vec<i8>,
    x: Vec<i8>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let cfg = *TileConfig::get("tile_tiny").unwrap();
    (1u32..=16, 1u32..=64, any::<u64>())
        .prop_flat_map(move |(rows, k, seed)| {
            let words = cfg.groups(rows) * cfg.chunks(k);
            (
                0..=cfg.weight_words - words,
                Just(rows),
                Just(k),
                prop::collection::vec(any::<i8>(), (rows * k) as usize),
                prop::collection::vec(any::<i8>(), k as usize),
                Just(seed),
            )
        })
        .prop_map(|(base, rows, k, w, x, seed)| Case {
            base,
            rows,
            k,
            w,
            x,
            seed,
        })
}

fn run(c: &Case) -> Result<(), String> {
    let e = |e: tessera_verif::Error| e.to_string();
    let gaps = GapPattern {
        permille: 300,
        max_gap: 3,
    };
    let mut front = TileEnv::new(Tile::tiny().map_err(e)?, c.seed, gaps, 700);
    let mut back = TileEnv::new(Tile::tiny().map_err(e)?, c.seed, gaps, 700);
    let cfg = *front.tile.config();
    let words = pack_matrix(&cfg, &c.w, c.rows, c.k);
    front.driver.write_words(&mut front.tile, c.base, &words);
    front.tile.run_until_idle(10_000).map_err(e)?;
    for (i, w) in words.iter().enumerate() {
        back.backdoor_write(c.base + i as u32, w).map_err(e)?;
        let read = front.tile.backdoor_read(c.base + i as u32).map_err(e)?;
        if &read != w {
            return Err(format!(
                "backdoor read of word {} differs from the front-door write",
                c.base + i as u32
            ));
        }
    }
    let want: Vec<_> = expected_beats(&cfg, &c.w, c.rows, c.k, &c.x)
        .into_iter()
        .map(|b| (b.lanes, b.last))
        .collect();
    let mut results = Vec::new();
    for env in [&mut front, &mut back] {
        env.driver.setup(&mut env.tile, c.base, c.rows, c.k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &c.x));
        env.drain(50_000)?;
        let got: Vec<_> = env
            .observed
            .iter()
            .map(|r| (r.lanes.to_vec(), r.last))
            .collect();
        results.push(got);
    }
    if results[0] != results[1] {
        return Err(format!(
            "front door {:?} != backdoor {:?}",
            results[0], results[1]
        ));
    }
    if results[0] != want {
        return Err(format!("results {:?} != golden {want:?}", results[0]));
    }
    Ok(())
}

#[test]
fn tile_frontdoor_backdoor() {
    run_property("tile_frontdoor_backdoor", 24, case(), run);
}
