//! tile_random_matvec: random weights, activations and shapes (rows and K not multiples of
//! Lanes and KWidth, several matrices at different base addresses in one memory), random
//! gaps on every input stream and random backpressure on the result stream: the tile's
//! results equal the golden model's integer product bit for bit.

use proptest::prelude::*;
use serde::Serialize;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{run_property, GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

#[derive(Clone, Debug, Serialize)]
struct Matrix {
    base: u32,
    rows: u32,
    k: u32,
    w: Vec<i8>,
}

#[derive(Clone, Debug, Serialize)]
struct Case {
    matrices: Vec<Matrix>,
    /// (matrix index, activation vector)
    ops: Vec<(usize, Vec<i8>)>,
    gaps: GapPattern,
    ready_permille: u32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let cfg = *TileConfig::get("tile_tiny").unwrap();
    (
        prop::collection::vec((1u32..=14, 1u32..=44, 0u32..6), 1..=3),
        (0u32..=500, 1u32..=5),
        250u32..=1000,
        any::<u64>(),
    )
        .prop_flat_map(move |(shapes, (gp, mg), ready, seed)| {
            let mut base = 0;
            let mut placed = Vec::new();
            for (rows, k, off) in shapes {
                base += off;
                placed.push((base, rows, k));
                base += cfg.groups(rows) * cfg.chunks(k);
            }
            let ks: Vec<u32> = placed.iter().map(|p| p.2).collect();
            let mats: Vec<_> = placed
                .iter()
                .map(|&(b, r, k)| {
                    prop::collection::vec(any::<i8>(), (r * k) as usize).prop_map(move |w| Matrix {
                        base: b,
                        rows: r,
                        k,
                        w,
                    })
                })
                .collect();
            let n = placed.len();
            let ops = prop::collection::vec(
                (0..n).prop_flat_map(move |i| {
                    (Just(i), prop::collection::vec(any::<i8>(), ks[i] as usize))
                }),
                1..=4,
            );
            (
                mats,
                ops,
                Just(GapPattern {
                    permille: gp,
                    max_gap: mg,
                }),
                Just(ready),
                Just(seed),
            )
        })
        .prop_map(|(matrices, ops, gaps, ready_permille, seed)| Case {
            matrices,
            ops,
            gaps,
            ready_permille,
            seed,
        })
}

fn run(c: &Case) -> Result<(), String> {
    let tile = Tile::tiny().map_err(|e| e.to_string())?;
    let cfg = *tile.config();
    let mut env = TileEnv::new(tile, c.seed, c.gaps, c.ready_permille);
    for m in &c.matrices {
        let words = pack_matrix(&cfg, &m.w, m.rows, m.k);
        env.driver.write_words(&mut env.tile, m.base, &words);
    }
    // Weights first, then the operations.
    env.tile
        .run_until_idle(100_000)
        .map_err(|e| e.to_string())?;
    let mut want = Vec::new();
    for (i, x) in &c.ops {
        let m = &c.matrices[*i];
        env.driver.setup(&mut env.tile, m.base, m.rows, m.k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, x));
        want.extend(expected_beats(&cfg, &m.w, m.rows, m.k, x));
    }
    env.drain(200_000)?;
    // Independently of the monitors: the emitted beats are the products of the case.
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    let want: Vec<_> = want.into_iter().map(|b| (b.lanes, b.last)).collect();
    if got != want {
        return Err(format!(
            "results differ from the golden product: got {got:?}, want {want:?}"
        ));
    }
    if env.tile.status().err {
        return Err("err_o set by legal traffic".into());
    }
    Ok(())
}

#[test]
fn tile_random_matvec() {
    run_property("tile_random_matvec", 48, case(), run);
}
