//! tile_sim_smoke: the `sim` configuration with a Llama-sized reduction (K = 4096) over a few
//! row groups, weights loaded through the backdoor: results equal the golden product.

use rand::{Rng, SeedableRng};
use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{test_seed, GapPattern, TileEnv};
use tessera_verif::Tile;

#[test]
fn tile_sim_llama_k() {
    let seed = test_seed("tile_sim_llama_k");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut env = TileEnv::new(Tile::sim().unwrap(), seed, GapPattern::NONE, 1000);
    let cfg = *env.tile.config();
    let (rows, k) = (3 * cfg.lanes - 1, 4096);
    let w: Vec<i8> = (0..rows * k).map(|_| rng.gen_range(-127..=127)).collect();
    let x: Vec<i8> = (0..k).map(|_| rng.gen_range(-127..=127)).collect();
    let base = 100;
    for (i, word) in pack_matrix(&cfg, &w, rows, k).iter().enumerate() {
        env.backdoor_write(base + i as u32, word).unwrap();
    }
    let start = env.tile.counters();
    env.driver.setup(&mut env.tile, base, rows, k);
    env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &x));
    env.drain(1_000_000).unwrap();
    let used = env.tile.counters() - start;
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    let want: Vec<_> = expected_beats(&cfg, &w, rows, k, &x)
        .into_iter()
        .map(|b| (b.lanes, b.last))
        .collect();
    assert_eq!(got, want);
    eprintln!(
        "sim: rows {rows} K {k}: {} cycles, {} MAC-busy",
        used.cycles, used.mac_busy
    );
}
