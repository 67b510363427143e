//! What every primitive must give for an operand pair, from the chip-mode arithmetic, and the
//! comparison of the model's outputs against it.

use std::cmp::Ordering;

use tessera_verif::{VecOut, VecPrims};

use tessera_golden::chip::{ldexp, Fz};

/// The one NaN the unit produces, whatever the payload of an input NaN (`Fz::NAN`).
pub const CANONICAL_NAN: u32 = 0x7fc0_0000;

/// The comparator's maximum passes an operand through (`Fz::max` returns a NaN operand as it
/// is); the unit's `max` output gives the canonical NaN.
fn canon(bits: u32) -> u32 {
    if f32::from_bits(bits).is_nan() {
        CANONICAL_NAN
    } else {
        bits
    }
}

/// The expected outputs for `(a, b)`: `a` and `b` as binary32 (and `a` as an int32 for the
/// conversion, `b` as an int32 for the scaling). The float-to-int conversion is the golden
/// model's `x.round_ties_even() as i32` (saturating; NaN gives 0) of the value as read (DAZ).
pub fn expected(a: u32, b: u32) -> VecOut {
    let (x, y) = (Fz::new(f32::from_bits(a)), Fz::new(f32::from_bits(b)));
    let cmp = match x.get().partial_cmp(&y.get()) {
        Some(Ordering::Less) => 0b0001,
        Some(Ordering::Equal) => 0b0010,
        Some(Ordering::Greater) => 0b0100,
        None => 0b1000,
    };
    VecOut {
        add: (x + y).to_bits(),
        sub: (x - y).to_bits(),
        mul: (x * y).to_bits(),
        i2f: Fz::from_i32(a as i32).to_bits(),
        max: canon(x.max(y).to_bits()),
        cmp,
        ldexp: ldexp(x, b as i32).to_bits(),
        f2i: x.get().round_ties_even() as i32 as u32,
    }
}

/// The differences between what the model gave and what is expected, one line per output.
pub fn diff(a: u32, b: u32, got: &VecOut, want: &VecOut) -> Vec<String> {
    let fields = [
        ("add", got.add, want.add),
        ("sub", got.sub, want.sub),
        ("mul", got.mul, want.mul),
        ("i2f", got.i2f, want.i2f),
        ("max", got.max, want.max),
        ("cmp", got.cmp, want.cmp),
        ("ldexp", got.ldexp, want.ldexp),
        ("f2i", got.f2i, want.f2i),
    ];
    fields
        .iter()
        .filter(|(_, g, w)| g != w)
        .map(|(name, g, w)| {
            // Outputs as binary32, except the int32 result of the float-to-int conversion.
            let show = |v: u32| {
                if *name == "f2i" {
                    format!("{v:#010x} = {}", v as i32)
                } else {
                    format!("{v:#010x} = {:e}", f32::from_bits(v))
                }
            };
            format!(
                "{name}(a {a:#010x} = {:e} | int {}, b {b:#010x} = {:e} | int {}): rtl {}, \
                 expected {}",
                f32::from_bits(a),
                a as i32,
                f32::from_bits(b),
                b as i32,
                show(*g),
                show(*w)
            )
        })
        .collect()
}

/// Runs every pair through the model and returns the mismatches (at most `limit` lines) and
/// their count.
pub fn run(model: &mut VecPrims, pairs: &[(u32, u32)], limit: usize) -> (Vec<String>, usize) {
    let a: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    let out = model.eval(&a, &b).expect("the primitives model evaluates");
    let mut lines = Vec::new();
    let mut bad = 0;
    for (&(a, b), got) in pairs.iter().zip(&out) {
        let d = diff(a, b, got, &expected(a, b));
        if !d.is_empty() {
            bad += 1;
            for l in d {
                if lines.len() < limit {
                    lines.push(l);
                }
            }
        }
    }
    (lines, bad)
}

/// Panics listing the first mismatches when any pair differs.
pub fn assert_all(test: &str, model: &mut VecPrims, pairs: &[(u32, u32)]) {
    let (lines, bad) = run(model, pairs, 40);
    assert!(
        bad == 0,
        "{test}: {bad} of {} pairs differ:\n{}",
        pairs.len(),
        lines.join("\n")
    );
    eprintln!("[{test}] {} pairs, every output bit-exact", pairs.len());
}
