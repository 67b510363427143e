//! harness_models: several models in one process, on several threads; per-cycle port access;
//! FST waveforms written on request.

use tessera_verif::reference::{chunk_acts, expected_beats, pack_matrix};
use tessera_verif::tb::{GapPattern, TileEnv};
use tessera_verif::Tile;

fn one_matvec(tile: Tile, rows: u32, k: u32, seed: u64) -> Vec<(Vec<i32>, bool)> {
    let mut env = TileEnv::new(
        tile,
        seed,
        GapPattern {
            permille: 200,
            max_gap: 2,
        },
        800,
    );
    let cfg = *env.tile.config();
    let w: Vec<i8> = (0..rows * k).map(|i| (i as u64 * 7 + seed) as i8).collect();
    let x: Vec<i8> = (0..k).map(|i| (i as u64 * 3 + seed) as i8).collect();
    for (i, word) in pack_matrix(&cfg, &w, rows, k).iter().enumerate() {
        env.backdoor_write(i as u32, word).unwrap();
    }
    env.driver.setup(&mut env.tile, 0, rows, k);
    env.driver.acts(&mut env.tile, &chunk_acts(&cfg, &x));
    env.drain(100_000).unwrap();
    let want: Vec<_> = expected_beats(&cfg, &w, rows, k, &x)
        .into_iter()
        .map(|b| (b.lanes, b.last))
        .collect();
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    assert_eq!(got, want);
    // The flat records read the same by index, from either end and after a copy.
    let seen = &env.observed;
    assert_eq!(seen.iter().len(), seen.len());
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(seen.get(i), Some(r));
    }
    assert_eq!(seen.get(seen.len()), None);
    assert_eq!(seen.iter().next_back(), seen.last());
    assert_eq!(seen.first(), seen.get(0));
    let mut copy = seen.clone();
    let mut all = tessera_verif::model::Records::new();
    all.append(&mut copy);
    assert!(copy.is_empty());
    assert_eq!(&all, seen);
    got
}

#[test]
fn harness_two_models_one_process() {
    let a = Tile::tiny().unwrap();
    let b = Tile::sim().unwrap();
    let c = Tile::tiny().unwrap();
    one_matvec(b, 20, 100, 1);
    one_matvec(a, 9, 30, 2);
    one_matvec(c, 9, 30, 2);
}

#[test]
fn harness_models_on_threads() {
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let tile = if t % 2 == 0 {
                    Tile::tiny()
                } else {
                    Tile::sim()
                }
                .unwrap();
                one_matvec(tile, 5 + t as u32, 17 + 9 * t as u32, t)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // A model created on one thread and used on another.
    let t = Tile::tiny().unwrap();
    std::thread::spawn(move || one_matvec(t, 4, 8, 9))
        .join()
        .unwrap();
}

#[test]
fn harness_per_cycle_ports() {
    let mut t = Tile::tiny().unwrap();
    let cfg = *t.config();
    t.set_drive(false);
    let w: Vec<i8> = (0..4 * 8).map(|i| i as i8 - 16).collect();
    let x: Vec<i8> = (0..8).map(|i| 3 - i as i8).collect();
    let word = &pack_matrix(&cfg, &w, 4, 8)[0];
    // Write word 5, one handshake.
    t.poke_wr(true, 5, word);
    t.eval().unwrap();
    let mut n = 0;
    while !t.status().wr_ready {
        t.tick(1).unwrap();
        n += 1;
        assert!(n < 100, "wr_ready never rose");
    }
    t.tick(1).unwrap();
    t.poke_wr(false, 0, word);
    // Set up rows 4, K 8 at base 5.
    t.poke_cfg(true, 5, 4, 8);
    t.eval().unwrap();
    while !t.status().cfg_ready {
        t.tick(1).unwrap();
    }
    t.tick(1).unwrap();
    t.poke_cfg(false, 0, 0, 0);
    t.poke_act(true, &chunk_acts(&cfg, &x)[0]);
    t.eval().unwrap();
    while !t.status().act_ready {
        t.tick(1).unwrap();
    }
    t.tick(1).unwrap();
    t.poke_act(false, &[0; 8]);
    t.poke_res_ready(true);
    t.eval().unwrap();
    let mut cycles = 0;
    while !t.status().res_valid {
        t.tick(1).unwrap();
        t.eval().unwrap();
        cycles += 1;
        assert!(cycles < 100, "no result");
    }
    assert!(t.status().res_last);
    let want = expected_beats(&cfg, &w, 4, 8, &x);
    assert_eq!(t.res_data(), want[0].lanes);
    t.tick(1).unwrap();
    assert!(!t.status().res_valid);
    // The monitors saw the handshakes made by hand too.
    let log = t.take_log();
    assert_eq!(log.wr.len(), 1);
    assert_eq!(log.cfg.len(), 1);
    assert_eq!(log.act.len(), 1);
    assert_eq!(log.res.len(), 1);
}

#[test]
fn harness_fst_written() {
    let dir = std::env::temp_dir().join(format!("tessera-fst-{}", std::process::id()));
    let full = dir.join("full.fst");
    let window = dir.join("window.fst");
    {
        let mut t = Tile::tiny().unwrap();
        t.trace(&full, 0, u64::MAX).unwrap();
        one_matvec(t, 6, 20, 3);
        let mut t = Tile::tiny().unwrap();
        t.trace(&window, 10, 20).unwrap();
        one_matvec(t, 6, 20, 3);
    }
    let full_len = std::fs::metadata(&full).unwrap().len();
    let window_len = std::fs::metadata(&window).unwrap().len();
    let head = std::fs::read(&full).unwrap();
    assert!(full_len > 200, "FST file too small: {full_len}");
    assert!(
        window_len > 0 && window_len <= full_len,
        "window {window_len} vs full {full_len}"
    );
    assert_eq!(head[0], 0, "FST files start with a header block (type 0)");
    std::fs::remove_dir_all(&dir).ok();
}

/// Beats queued while earlier ones are still being taken: the C++ queues drop the taken beats
/// on a later push, and every product still comes out right and in order.
#[test]
fn harness_queues_refilled_while_running() {
    let (rows, k) = (8, 4096);
    let mut env = TileEnv::new(Tile::sim().unwrap(), 7, GapPattern::NONE, 1000);
    let cfg = *env.tile.config();
    let w: Vec<i8> = (0..rows * k).map(|i| (i * 5 % 251) as i8).collect();
    for (i, word) in pack_matrix(&cfg, &w, rows, k).iter().enumerate() {
        env.backdoor_write(i as u32, word).unwrap();
    }
    let xs: Vec<Vec<i8>> = (0..5u32)
        .map(|p| (0..k).map(|i| (i * 3 + p * 17) as i8).collect())
        .collect();
    let groups = u64::from(cfg.groups(rows));
    // Two products queued; after the first one's results, a third is queued behind the rest
    // of the second, and so on.
    for x in &xs[..2] {
        env.driver.setup(&mut env.tile, 0, rows, k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, x));
    }
    for x in &xs[2..] {
        env.tile.run_until(groups, 100_000, false).unwrap();
        assert!(env.tile.pending_inputs() > 0, "the queue ran empty");
        env.driver.setup(&mut env.tile, 0, rows, k);
        env.driver.acts(&mut env.tile, &chunk_acts(&cfg, x));
        env.sync();
    }
    env.drain(1_000_000).unwrap();
    let got: Vec<_> = env
        .observed
        .iter()
        .map(|r| (r.lanes.to_vec(), r.last))
        .collect();
    let want: Vec<_> = xs
        .iter()
        .flat_map(|x| expected_beats(&cfg, &w, rows, k, x))
        .map(|b| (b.lanes, b.last))
        .collect();
    assert_eq!(got, want);
}
