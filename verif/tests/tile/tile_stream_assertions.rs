//! tile_stream_assertions: the tile's checks of its input streams (`rtl/tile/tile_sva.sv`) fire.
//!
//! On `tile_tiny` with the ports driven cycle by cycle, each violation of the valid/ready rules
//! by the tile's environment (valid dropped before ready, payload changed while valid waits, on
//! the activation and the set-up stream) stops the model with the named assertion's message,
//! while the same sequence without the violation runs clean.

use tessera_verif::reference::chunk_acts;
use tessera_verif::{Error, Tile};

/// The activation stream waits: the tile is idle, so act_ready_o stays low.
fn act_waits(t: &mut Tile, chunk: &[u8]) {
    t.poke_act(true, chunk);
    t.tick(3).expect("a waiting activation is legal");
    assert!(!t.status().act_ready, "an idle tile takes no activation");
}

/// The set-up stream waits: a first set-up is taken (the tile then waits for its activations
/// and takes no other), and a second one is presented.
fn cfg_waits(t: &mut Tile) {
    t.poke_cfg(true, 0, 4, 8);
    t.eval().unwrap();
    let mut n = 0;
    while !t.status().cfg_ready {
        t.tick(1).unwrap();
        n += 1;
        assert!(n < 100, "cfg_ready never rose");
    }
    t.tick(1).unwrap();
    t.poke_cfg(true, 1, 4, 8);
    t.tick(3).expect("a waiting set-up is legal");
    assert!(
        !t.status().cfg_ready,
        "a running tile takes no second set-up"
    );
}

/// A `tile_tiny` model whose stream inputs the test drives, results always taken.
fn poked_tile() -> Tile {
    let mut t = Tile::tiny().unwrap();
    t.set_drive(false);
    t.poke_res_ready(true);
    t
}

struct Violation {
    name: &'static str,
    setup: fn(&mut Tile, &[Vec<u8>]),
    violate: fn(&mut Tile, &[Vec<u8>]),
    assertion: &'static str,
    message: &'static str,
}

#[test]
fn tile_stream_violations_caught() {
    let cases = [
        Violation {
            name: "activation valid dropped before ready",
            setup: |t, x| act_waits(t, &x[0]),
            violate: |t, x| t.poke_act(false, &x[0]),
            assertion: "ActStream_A",
            message: "valid dropped",
        },
        Violation {
            name: "activation changed while valid waits",
            setup: |t, x| act_waits(t, &x[0]),
            violate: |t, x| t.poke_act(true, &x[1]),
            assertion: "ActStream_A",
            message: "payload changed",
        },
        Violation {
            name: "set-up valid dropped before ready",
            setup: |t, _| cfg_waits(t),
            violate: |t, _| t.poke_cfg(false, 1, 4, 8),
            assertion: "CfgStream_A",
            message: "valid dropped",
        },
        Violation {
            name: "set-up changed while valid waits",
            setup: |t, _| cfg_waits(t),
            violate: |t, _| t.poke_cfg(true, 1, 8, 8),
            assertion: "CfgStream_A",
            message: "payload changed",
        },
    ];
    for c in &cases {
        let mut t = poked_tile();
        let cfg = *t.config();
        let x: Vec<i8> = (0..2 * cfg.k_width as i32).map(|i| (i - 5) as i8).collect();
        let chunks = chunk_acts(&cfg, &x);

        // Without the violation the sequence runs clean.
        (c.setup)(&mut t, &chunks);
        t.tick(4)
            .unwrap_or_else(|e| panic!("{}: the legal sequence fired: {e}", c.name));

        // With it, the named assertion stops the model.
        let mut t = poked_tile();
        (c.setup)(&mut t, &chunks);
        (c.violate)(&mut t, &chunks);
        match t.tick(3) {
            Ok(()) => panic!("{}: no assertion fired", c.name),
            Err(Error::Sv(msg)) => assert!(
                msg.contains(c.assertion) && msg.contains(c.message),
                "{}: expected {} ({}), got: {msg}",
                c.name,
                c.assertion,
                c.message
            ),
            Err(e) => panic!("{}: expected an SV error, got {e:?}", c.name),
        }
    }
}
