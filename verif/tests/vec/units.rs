//! What the sequenced units must give, from the golden model's chip mode (`chip::exp`,
//! `chip::recip`, `chip::silu`, `Fz` division and square root, `chip::rsqrt`), and the
//! comparison of the model's results against it.

use tessera_golden::chip::{self, Fz};
use tessera_verif::{VecPrims, VecUnitOp};

/// The operations of the sequenced units, in test order.
pub const OPS: [VecUnitOp; 6] = [
    VecUnitOp::Exp,
    VecUnitOp::Recip,
    VecUnitOp::Silu,
    VecUnitOp::Div,
    VecUnitOp::Sqrt,
    VecUnitOp::Rsqrt,
];

/// A binary32 from its fields (`frac` 23 bits).
pub fn fp(sign: bool, exp: u32, frac: u32) -> u32 {
    (u32::from(sign) << 31) | ((exp & 0xff) << 23) | (frac & 0x007f_ffff)
}

/// The golden result of `op` on `(a, b)`, inputs read as the unit reads them (DAZ).
pub fn expected(op: VecUnitOp, a: u32, b: u32) -> u32 {
    let (x, y) = (Fz::new(f32::from_bits(a)), Fz::new(f32::from_bits(b)));
    let r = match op {
        VecUnitOp::Exp => chip::exp(x),
        VecUnitOp::Recip => chip::recip(x),
        VecUnitOp::Silu => chip::silu(x),
        VecUnitOp::Div => x / y,
        VecUnitOp::Sqrt => x.sqrt(),
        VecUnitOp::Rsqrt => chip::rsqrt(x),
    };
    // Every NaN of the golden model is the unit's canonical one (`Fz::NAN`): compared as is.
    r.to_bits()
}

/// Runs `a` (and `b` for a division) through the unit of `op` and returns the mismatches (at
/// most `limit` lines), their count, and the smallest and largest latency seen.
pub fn run(
    model: &mut VecPrims,
    op: VecUnitOp,
    pairs: &[(u32, u32)],
    backpressure: bool,
    limit: usize,
) -> (Vec<String>, usize, (u32, u32)) {
    let a: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    let out = model
        .run_unit(op, &a, &b, backpressure)
        .expect("the unit model runs");
    let mut lines = Vec::new();
    let mut bad = 0;
    let mut lat = (u32::MAX, 0);
    for (&(a, b), got) in pairs.iter().zip(&out) {
        lat = (lat.0.min(got.cycles), lat.1.max(got.cycles));
        let want = expected(op, a, b);
        if got.y != want {
            bad += 1;
            if lines.len() < limit {
                lines.push(format!(
                    "{op:?}(a {a:#010x} = {:e}, b {b:#010x} = {:e}): rtl {:#010x} = {:e}, \
                     expected {want:#010x} = {:e}",
                    f32::from_bits(a),
                    f32::from_bits(b),
                    got.y,
                    f32::from_bits(got.y),
                    f32::from_bits(want)
                ));
            }
        }
    }
    (lines, bad, lat)
}

/// Panics listing the first mismatches when any result differs; returns the latency range.
pub fn assert_all(
    test: &str,
    model: &mut VecPrims,
    op: VecUnitOp,
    pairs: &[(u32, u32)],
    backpressure: bool,
) -> (u32, u32) {
    let (lines, bad, lat) = run(model, op, pairs, backpressure, 40);
    assert!(
        bad == 0,
        "{test}: {bad} of {} {op:?} inputs differ:\n{}",
        pairs.len(),
        lines.join("\n")
    );
    eprintln!(
        "[{test}] {op:?}: {} inputs bit-exact, latency {}..{} cycles",
        pairs.len(),
        lat.0,
        lat.1
    );
    lat
}
