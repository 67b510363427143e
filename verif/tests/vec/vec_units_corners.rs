//! The sequenced units (`vec_fn`: exp, recip, silu; `vec_fp_divsqrt`: divide, sqrt, rsqrt) on
//! their corner cases, every result bit-exact against the golden model's chip mode: special
//! values (+-0, subnormals, the smallest normals, the largest finite values, infinities, NaNs),
//! exp's range bounds (89, -104) and the inputs whose results under- or overflow, every
//! range-reduction boundary `(k + 1/2)·ln2` and its neighbours, the reciprocal's seed extremes
//! and every exponent field, SiLU where exp saturates, exact and near-halfway quotients and
//! roots, results at the flush and overflow boundaries, and latencies under backpressure.

use tessera_verif::{VecPrims, VecUnitOp};

use crate::units::{assert_all, fp};

/// Special values and their neighbours.
fn specials() -> Vec<u32> {
    let mut v = vec![
        0x0000_0000,
        0x0000_0001,
        0x007f_ffff,
        0x0080_0000,
        0x0080_0001,
        0x00ff_ffff,
        0x3f80_0000,
        0x3f7f_ffff,
        0x3f80_0001,
        0x4000_0000,
        0x3f00_0000,
        0x4040_0000,
        0x7f7f_ffff,
        0x7f00_0000,
        0x7f80_0000,
        0x7fc0_0000,
        0x7f80_0001,
        0x7fff_ffff,
    ];
    let neg: Vec<u32> = v.iter().map(|x| x | 0x8000_0000).collect();
    v.extend(neg);
    v
}

/// `x` and its neighbours `d` ulps away on both sides (as bit patterns of one sign).
fn around(x: u32, d: u32) -> impl Iterator<Item = u32> {
    (x.saturating_sub(d)..=x.saturating_add(d)).filter(|b| b & 0x7fff_ffff <= 0x7f80_0000)
}

fn unary(xs: impl IntoIterator<Item = u32>) -> Vec<(u32, u32)> {
    xs.into_iter().map(|x| (x, 0)).collect()
}

#[test]
fn vec_fn_exp_corners() {
    let mut xs = specials();
    // The input range bounds, and where the result crosses 2^128 and 2^-126.
    for b in [
        0x42b2_0000u32,
        0xc2d0_0000,
        0x42b1_7218,
        0xc2ae_ac50,
        0xc2af_0000,
    ] {
        xs.extend(around(b, 64));
    }
    // Range reduction: x·LOG2E at k + 1/2 (the rounding of n changes) for every k in range.
    for k in -151i32..=129 {
        let x = ((f64::from(k) + 0.5) * std::f64::consts::LN_2) as f32;
        xs.extend(around(x.to_bits(), 3));
        let x = (f64::from(k) * std::f64::consts::LN_2) as f32;
        xs.extend(around(x.to_bits(), 1));
    }
    // Small arguments (n = 0, r = x) down to the flush range, both signs.
    for e in 1..127u32 {
        xs.push(fp(false, e, 0x2a_5a5a));
        xs.push(fp(true, e, 0x55_a5a5));
    }
    xs.extend([100.0f32, -100.0, 1e30, -1e30, 88.0, -87.0, 10.0, -10.0].map(f32::to_bits));
    let mut model = VecPrims::new().expect("the model builds");
    assert_all(
        "vec_fn_exp_corners",
        &mut model,
        VecUnitOp::Exp,
        &unary(xs),
        false,
    );
}

#[test]
fn vec_fn_recip_corners() {
    let mut xs = specials();
    // The seed's error peaks at m = 1/2, 3/4 and 1 (significands 1, 1.5, 2 in [1, 2)), and
    // the Newton steps' result crosses a power of two near them.
    for f in [
        0u32, 0x40_0000, 0x7f_ffff, 0x3f_ffff, 0x20_0000, 0x60_0000, 0x55_5555,
    ] {
        xs.extend(around(fp(false, 127, f), 40));
    }
    // Every exponent field, with a few significands: 1/d overflows nowhere, flushes for the
    // top fields.
    for e in 1..255u32 {
        for f in [0u32, 1, 0x40_0000, 0x7f_ffff, 0x12_3456] {
            xs.push(fp(e % 2 == 0, e, f));
        }
    }
    // A dense run of significands.
    xs.extend((0..4096u32).map(|i| fp(false, 127, i * 2048 + 1023)));
    let mut model = VecPrims::new().expect("the model builds");
    assert_all(
        "vec_fn_recip_corners",
        &mut model,
        VecUnitOp::Recip,
        &unary(xs),
        false,
    );
}

#[test]
fn vec_fn_silu_corners() {
    let mut xs = specials();
    // -g at exp's bounds (89, -104), where 1 + e^-g rounds to 1, and around 0.
    for b in [
        0xc2b2_0000u32,
        0x42d0_0000,
        0x4185_5555,
        0x4190_0000,
        0x3400_0000,
        0xb400_0000,
    ] {
        xs.extend(around(b, 32));
    }
    xs.extend((-400..=400).map(|i| (i as f32 * 0.05).to_bits()));
    let mut model = VecPrims::new().expect("the model builds");
    assert_all(
        "vec_fn_silu_corners",
        &mut model,
        VecUnitOp::Silu,
        &unary(xs),
        false,
    );
}

#[test]
fn vec_divsqrt_corners() {
    let sp = specials();
    let mut div: Vec<(u32, u32)> = Vec::new();
    for &a in &sp {
        for &b in &sp {
            div.push((a, b));
        }
    }
    // Exact quotients (a = b·q with q a small integer or a power of two) and near-halfway
    // ones: a = round(b·q) for q with 25 significant bits and a tiny remainder.
    for i in 1..200u32 {
        let b = (1.0f32 + i as f32 / 256.0).to_bits();
        let q = 1.0f32 + (i * 37 % 256) as f32 / 256.0;
        div.push(((f32::from_bits(b) * q).to_bits(), b));
        let half = 1.0f64 + f64::from(i * 7919 % (1 << 23)) / 8_388_608.0 + 2f64.powi(-24);
        let a = (f64::from(f32::from_bits(b)) * half) as f32;
        for d in 0..3u32 {
            div.push((a.to_bits() + d - 1, b));
        }
    }
    // Quotients at the flush (exponent sum near 0) and overflow boundaries, significands
    // either side of each other (the quotient in [1/2, 1) or [1, 2)).
    for ea in 1..255u32 {
        for (fa, fb) in [
            (0u32, 0u32),
            (0x7f_ffff, 0),
            (0, 0x7f_ffff),
            (0x40_0000, 0x40_0001),
        ] {
            for eb in [ea + 125, ea + 126, ea + 127, ea + 128] {
                if eb < 255 {
                    div.push((fp(false, ea, fa), fp(ea % 2 == 1, eb, fb)));
                }
            }
            for t in [253u32, 254, 255, 256] {
                if t > ea && t - ea < 255 && t - ea >= 1 {
                    div.push((fp(true, t.min(254), fa), fp(false, t - ea, fb)));
                }
            }
        }
    }
    // Square roots: perfect squares (exact), their neighbours (near halfway), both exponent
    // parities, the whole exponent range.
    let mut sq: Vec<u32> = sp.clone();
    for k in 1..3000u32 {
        let s = (k * k) as f32;
        sq.extend(around(s.to_bits(), 1));
        sq.push((s / 2.0).to_bits());
    }
    for e in 1..255u32 {
        sq.extend([
            fp(false, e, 0),
            fp(false, e, 0x7f_ffff),
            fp(false, e, 0x35_04f3),
        ]);
    }
    let mut model = VecPrims::new().expect("the model builds");
    assert_all(
        "vec_divsqrt_corners",
        &mut model,
        VecUnitOp::Div,
        &div,
        false,
    );
    let sq = unary(sq);
    assert_all(
        "vec_divsqrt_corners",
        &mut model,
        VecUnitOp::Sqrt,
        &sq,
        false,
    );
    assert_all(
        "vec_divsqrt_corners",
        &mut model,
        VecUnitOp::Rsqrt,
        &sq,
        false,
    );
}

/// The latencies stated in docs/vector.md, and the streams under backpressure (the results stay
/// in order and exact; the stream assertions of both units check the handshakes).
#[test]
fn vec_units_latency_and_backpressure() {
    let xs: Vec<(u32, u32)> = [1.5f32, 0.75, 3.0, 1e-3, 7.0, 0.1]
        .iter()
        .map(|&x| (x.to_bits(), 0.3f32.to_bits()))
        .collect();
    let mut model = VecPrims::new().expect("the model builds");
    for (op, cycles) in [
        (VecUnitOp::Exp, 22),
        (VecUnitOp::Recip, 14),
        (VecUnitOp::Silu, 37),
        (VecUnitOp::Div, 28),
        (VecUnitOp::Sqrt, 28),
        (VecUnitOp::Rsqrt, 55),
    ] {
        let lat = assert_all("vec_units_latency", &mut model, op, &xs, false);
        assert_eq!(lat, (cycles, cycles), "{op:?} latency");
        assert_all("vec_units_backpressure", &mut model, op, &xs, true);
    }
}
