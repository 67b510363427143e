//! tile_busy_long_stream: long gap-free streams of operations (back to back, sink always ready)
//! keep the MAC array busy on at least 95 % of the cycles from the first set-up to the last
//! result, counted in cycles. A stream here is two to four operations of at least 128 MAC steps
//! each: the pipeline's fill and drain (7 cycles) is paid once per stream, and consecutive
//! operations overlap, leaving 2 idle cycles between them (docs/tile.md).

use proptest::prelude::*;
use serde::Serialize;
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{run_property, GapPattern, TileEnv};
use tessera_verif::{Tile, TileConfig};

#[derive(Clone, Debug, Serialize)]
struct Case {
    rows: u32,
    k: u32,
    ops: u32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let cfg = *TileConfig::get("tile_tiny").unwrap();
    let (l, kw) = (cfg.lanes, cfg.k_width);
    (4u32..=8, 0u32..l, 0u32..kw, 2u32..=4, any::<u64>())
        .prop_flat_map(move |(g, dr, dk, ops, seed)| {
            let c_max = (cfg.weight_words / g).min(cfg.act_words);
            (
                Just(g),
                32u32..=c_max,
                Just(dr),
                Just(dk),
                Just(ops),
                Just(seed),
            )
        })
        .prop_map(move |(g, c, dr, dk, ops, seed)| Case {
            rows: g * l - dr,
            k: c * kw - dk,
            ops,
            seed,
        })
}

fn run(c: &Case) -> Result<(), String> {
    let e = |e: tessera_verif::Error| e.to_string();
    let mut env = TileEnv::new(Tile::tiny().map_err(e)?, c.seed, GapPattern::NONE, 1000);
    let cfg = *env.tile.config();
    let w: Vec<i8> = (0..c.rows * c.k)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as i8)
        .collect();
    for (i, word) in pack_matrix(&cfg, &w, c.rows, c.k).iter().enumerate() {
        env.backdoor_write(i as u32, word).map_err(e)?;
    }
    let before = env.tile.counters();
    let mut want = Vec::new();
    for op in 0..c.ops {
        let x: Vec<i8> = (0..c.k).map(|i| (i * 7 + op * 13) as i8).collect();
        env.driver.setup(&mut env.tile, 0, c.rows, c.k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &x));
        want.extend(expected_beats(&cfg, &w, c.rows, c.k, &x));
    }
    env.drain(1_000_000)?;
    let used = env.tile.counters() - before;
    let first = env.input.first_setup_cycle.ok_or("no set-up accepted")?;
    let last = env.observed.last().ok_or("no result")?.cycle;
    let window = last - first + 1;
    let mac_cycles = u64::from(c.ops * cfg.groups(c.rows) * cfg.chunks(c.k));
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    let want: Vec<_> = want.into_iter().map(|b| (b.lanes, b.last)).collect();
    if got != want {
        return Err("results differ from the golden product".into());
    }
    if used.mac_busy < mac_cycles {
        return Err(format!(
            "mac_busy {} cycles < {mac_cycles} MAC steps needed",
            used.mac_busy
        ));
    }
    let busy = used.mac_busy as f64 / window as f64;
    eprintln!(
        "rows {} k {} ops {}: {} MAC-busy cycles of {window} ({:.2} %)",
        c.rows,
        c.k,
        c.ops,
        used.mac_busy,
        100.0 * busy
    );
    if busy < 0.95 {
        return Err(format!(
            "MAC busy {:.2} % < 95 % ({} of {window} cycles)",
            100.0 * busy,
            used.mac_busy
        ));
    }
    Ok(())
}

#[test]
fn tile_busy_long_stream() {
    run_property("tile_busy_long_stream", 12, case(), run);
}
