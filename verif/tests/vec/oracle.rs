//! REFERENCE TO BE REPLACED: a minimal copy of the chip-mode binary32 arithmetic (the golden
//! model's `chip::Fz`, "numerics v2": IEEE-754 binary32, nearest-even at 24 bits with an
//! unbounded exponent, flush to a signed zero below 2^-126 after rounding, infinity at 2^128
//! or more, subnormal inputs read as zeros). Once `tessera_golden::chip::Fz` is on main, the
//! tests take it instead: `check.rs` imports `Fz` and `ldexp` from here, and that `use`
//! becomes `use tessera_golden::chip::{ldexp, Fz};` (this file is then deleted).
//!
//! Each operation is carried out in f64 (exact for products and i32; for sums correctly
//! rounded, which rounds to the same binary32 as the exact value) and rounded once.

use std::ops::{Add, Mul, Sub};

/// 2^-126, the smallest normal binary32 magnitude.
const MIN_NORMAL: f64 = 1.175_494_350_822_287_5e-38;

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Fz(f32);

impl Fz {
    /// A binary32 as the unit reads it: a subnormal becomes a zero of its sign.
    pub fn new(x: f32) -> Fz {
        if x.is_subnormal() {
            Fz(f32::from_bits(x.to_bits() & 0x8000_0000))
        } else {
            Fz(x)
        }
    }

    pub fn get(self) -> f32 {
        self.0
    }

    pub fn to_bits(self) -> u32 {
        self.0.to_bits()
    }

    /// `v` rounded to 24 bits with an unbounded exponent, then flushed below 2^-126.
    pub fn round(v: f64) -> Fz {
        let a = v.abs();
        if a >= MIN_NORMAL || v.is_nan() {
            return Fz(v as f32);
        }
        let zero = Fz(if v.is_sign_negative() { -0.0 } else { 0.0 });
        if a < MIN_NORMAL / 2.0 {
            return zero;
        }
        // [2^-127, 2^-126): only a round-up to 2^-126 survives (scaled, exactly).
        let y = (a * 2f64.powi(64)) as f32;
        if f64::from(y) >= MIN_NORMAL * 2f64.powi(64) {
            let m = MIN_NORMAL as f32;
            Fz(if v.is_sign_negative() { -m } else { m })
        } else {
            zero
        }
    }

    pub fn from_i32(v: i32) -> Fz {
        Fz::round(f64::from(v))
    }

    /// `o` if `o > self`, else `self` (so `self` for `+-0` against `-+0`).
    pub fn max(self, o: Fz) -> Fz {
        if o.0 > self.0 {
            o
        } else {
            self
        }
    }
}

impl Add for Fz {
    type Output = Fz;
    fn add(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) + f64::from(o.0))
    }
}

impl Sub for Fz {
    type Output = Fz;
    fn sub(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) - f64::from(o.0))
    }
}

impl Mul for Fz {
    type Output = Fz;
    fn mul(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) * f64::from(o.0))
    }
}

/// `v * 2^n`, exact, then the range rules of `Fz` (`n` clamped to [-1000, 1000]).
pub fn ldexp(v: Fz, n: i32) -> Fz {
    let n = n.clamp(-1000, 1000);
    let p = f64::from_bits(((n + 1023) as u64) << 52);
    Fz::round(f64::from(v.0) * p)
}
