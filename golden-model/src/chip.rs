//! Numerics v2: the arithmetic of the chip's vector unit (`docs/numerics.md`, "Version 2").
//!
//! Every number format of a decode step on chip is a type or a function here, with its
//! rounding stated:
//!
//! - [`Fz`]: IEEE-754 binary32 with round-to-nearest-even, flush-to-zero results and
//!   denormals-are-zero inputs. Every operation rounds the exact result to 24 significant bits
//!   as though the exponent were unbounded, then gives a zero of the same sign when the
//!   magnitude is below 2^-126 and an infinity when it is 2^128 or more. No libm anywhere.
//! - [`exp`]: Cody–Waite range reduction `x = n·ln2 + r` and a fixed degree-7 polynomial, the
//!   constants given as bit patterns; [`recip`]: a linear seed and three Newton steps;
//!   [`rsqrt`]: correctly rounded `sqrt` then a correctly rounded division.
//! - [`sum_squares`]: `Σ x²` in an exact fixed-point accumulator aligned to the largest
//!   exponent of the vector, so the order of the terms cannot change the result.
//! - [`Q31`] softmax weights: `e·2^31` rounded to an integer, summed exactly.
//! - [`quantize_activation`]: int8 with one scale per vector, by a multiply with `127 / max`.
//! - RoPE tables ([`rope_inv_freq`], [`rope_cos_sin`]): data the driver computes once per model
//!   with IEEE `+ − × ÷` in f64 in a fixed order (so the same bits on every platform), then
//!   rounds to binary32.
//!
//! The decoder-layer forward pass of [`crate::model::Precision::Chip`] is built from these
//! functions in `crate::model`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::quant::QMAX;

/// 2^-126, the smallest normal binary32 magnitude.
const MIN_NORMAL: f64 = 1.175_494_350_822_287_5e-38;

/// A binary32 value of the vector unit: never subnormal (flushed to a signed zero).
///
/// Arithmetic: the exact result of `+ − × ÷ sqrt` on the two binary32 operands, rounded to 24
/// significant bits, nearest-even, with an unbounded exponent; then a magnitude below 2^-126
/// becomes a zero of the sign of the result, and one of 2^128 or more an infinity (IEEE
/// overflow under nearest-even). NaN propagates (the model never makes one).
///
/// The operations are carried out in f64 and rounded once to binary32: f64 holds every
/// product exactly and, for `+ − ÷ sqrt`, its correctly rounded result rounds to the same
/// binary32 as the exact value (53 ≥ 2·24 + 2), and its exponent range never underflows for
/// binary32 operands.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Fz(f32);

impl Fz {
    pub const ZERO: Fz = Fz(0.0);
    pub const ONE: Fz = Fz(1.0);
    /// The one NaN the vector unit produces: the canonical quiet NaN, sign clear.
    pub const NAN: Fz = Fz(f32::NAN); // 0x7fc00000 (chip_nan_results_are_canonical)

    /// A binary32 value as the vector unit reads it: a subnormal becomes a zero of its sign.
    #[inline]
    pub fn new(x: f32) -> Fz {
        if x.is_subnormal() {
            Fz(f32::from_bits(x.to_bits() & 0x8000_0000))
        } else {
            Fz(x)
        }
    }

    /// The constant with binary32 bit pattern `b`.
    #[inline]
    pub fn from_bits(b: u32) -> Fz {
        Fz(f32::from_bits(b))
    }

    #[inline]
    pub fn get(self) -> f32 {
        self.0
    }

    #[inline]
    pub fn to_bits(self) -> u32 {
        self.0.to_bits()
    }

    /// Rounds `v` (an f64 holding the exact result, or its correctly rounded f64 value) to
    /// binary32 with an unbounded exponent, then flushes below 2^-126.
    #[inline]
    pub fn round(v: f64) -> Fz {
        if v.is_nan() {
            return Fz::NAN;
        }
        let a = v.abs();
        if a >= MIN_NORMAL {
            // Normal range or overflow: the conversion is the unbounded-exponent rounding.
            return Fz(v as f32);
        }
        let zero = Fz(if v.is_sign_negative() { -0.0 } else { 0.0 });
        if a < MIN_NORMAL / 2.0 {
            return zero;
        }
        // In [2^-127, 2^-126): round at 24 bits (scaled into the normal range, exactly);
        // only a round-up to 2^-126 survives the flush.
        let y = (a * 2f64.powi(64)) as f32;
        if f64::from(y) >= MIN_NORMAL * 2f64.powi(64) {
            Fz(if v.is_sign_negative() {
                -(MIN_NORMAL as f32)
            } else {
                MIN_NORMAL as f32
            })
        } else {
            zero
        }
    }

    /// An int32 converted to binary32 (nearest-even; exact for `|v| ≤ 2^24`).
    #[inline]
    pub fn from_i32(v: i32) -> Fz {
        Fz::round(f64::from(v))
    }

    /// Correctly rounded square root (then flushed; never subnormal for a normal input).
    #[inline]
    pub fn sqrt(self) -> Fz {
        Fz::round(f64::from(self.0).sqrt())
    }

    #[inline]
    pub fn abs(self) -> Fz {
        Fz(self.0.abs())
    }

    /// The larger of two values; `+0` and `−0` compare equal and give `self`. Used only where
    /// the order cannot matter (the result is then added to `+0`, see [`max_of`]).
    #[inline]
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
    #[inline]
    fn add(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) + f64::from(o.0))
    }
}

impl Sub for Fz {
    type Output = Fz;
    #[inline]
    fn sub(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) - f64::from(o.0))
    }
}

impl Mul for Fz {
    type Output = Fz;
    #[inline]
    fn mul(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) * f64::from(o.0))
    }
}

impl Div for Fz {
    type Output = Fz;
    #[inline]
    fn div(self, o: Fz) -> Fz {
        Fz::round(f64::from(self.0) / f64::from(o.0))
    }
}

impl Neg for Fz {
    type Output = Fz;
    #[inline]
    fn neg(self) -> Fz {
        Fz(-self.0)
    }
}

/// `v · 2^n` for `v` of at most 24 significant bits: exact, then the range rules of [`Fz`]
/// (a shift of the exponent field in hardware).
#[inline]
pub fn ldexp(v: Fz, n: i32) -> Fz {
    let n = n.clamp(-1000, 1000);
    let p = f64::from_bits(((n + 1023) as u64) << 52);
    Fz::round(f64::from(v.0) * p)
}

/// The maximum of `v` as a value: `−0` and `+0` are the same (the result is `max + (+0)`,
/// which turns a `−0` into `+0`), so no order of comparison can change the bits.
/// `−inf` for an empty slice.
pub fn max_of(v: &[Fz]) -> Fz {
    v.iter().fold(Fz(f32::NEG_INFINITY), |m, &x| m.max(x)) + Fz::ZERO
}

// --- exp -----------------------------------------------------------------------------------

/// log2(e) rounded to binary32.
pub const LOG2E: u32 = 0x3fb8_aa3b;
/// ln 2 split in two: `LN2_HI` has 15 significant bits, so `n·LN2_HI` is exact for
/// `|n| < 2^9`; `LN2_LO = ln2 − LN2_HI` rounded to binary32.
pub const LN2_HI: u32 = 0x3f31_7200;
pub const LN2_LO: u32 = 0x35bf_be8e;
/// `e^r ≈ Σ_k EXP_POLY[k]·r^k` on `|r| ≤ ln2/2`: the Taylor coefficients `1/k!` rounded to
/// binary32, evaluated by Horner's rule from the highest degree (degree 7: the truncation
/// error, below 2^-28 relative, stays under the rounding of the evaluation).
pub const EXP_POLY: [u32; 8] = [
    0x3f80_0000, // 1
    0x3f80_0000, // 1
    0x3f00_0000, // 1/2
    0x3e2a_aaab, // 1/6
    0x3d2a_aaab, // 1/24
    0x3c08_8889, // 1/120
    0x3ab6_0b61, // 1/720
    0x3950_0d01, // 1/5040
];
/// Above this input `exp` is `+inf`, below `EXP_UNDER` it is `+0` (the reduction's `n` stays
/// in range; the results there overflow or flush anyway).
pub const EXP_OVER: u32 = 0x42b2_0000; // 89
pub const EXP_UNDER: u32 = 0xc2d0_0000; // -104

/// `e^x` of the vector unit:
///
/// ```text
/// x > 89 → +inf;  x < −104 → +0;  NaN → NaN
/// n = round_half_even(x · LOG2E)                      (Fz product, then to integer)
/// r = (x − n·LN2_HI) − n·LN2_LO                       (Fz, in this order)
/// p = c7; p = p·r + c6; … ; p = p·r + c0             (Fz, EXP_POLY)
/// e^x = p · 2^n                                       (exact exponent add, then flush)
/// ```
pub fn exp(x: Fz) -> Fz {
    if x.0.is_nan() {
        return Fz::NAN;
    }
    if x.0 > f32::from_bits(EXP_OVER) {
        return Fz(f32::INFINITY);
    }
    if x.0 < f32::from_bits(EXP_UNDER) {
        return Fz::ZERO;
    }
    let t = x * Fz::from_bits(LOG2E);
    let n = t.0.round_ties_even();
    let nf = Fz(n);
    let r = (x - nf * Fz::from_bits(LN2_HI)) - nf * Fz::from_bits(LN2_LO);
    let mut p = Fz::from_bits(EXP_POLY[EXP_POLY.len() - 1]);
    for &c in EXP_POLY[..EXP_POLY.len() - 1].iter().rev() {
        p = p * r + Fz::from_bits(c);
    }
    ldexp(p, n as i32)
}

// --- reciprocal, rsqrt, silu ---------------------------------------------------------------

/// Seed of [`recip`] on `m ∈ [1/2, 1)`: `RECIP_A − RECIP_B·m` (48/17 and 32/17 rounded to
/// binary32; relative error at most 1/17).
pub const RECIP_A: u32 = 0x4034_b4b5;
pub const RECIP_B: u32 = 0x3ff0_f0f1;
/// Newton steps of [`recip`]: the error squares each step (1/17 → ~2^-8 → ~2^-16 → ~2^-24).
pub const RECIP_STEPS: usize = 3;

/// `1/d` of the vector unit without a divider (within 2 ulps):
///
/// ```text
/// d = ±m·2^e with m ∈ [1/2, 1) (exponent and sign fields)
/// y = RECIP_A − RECIP_B·m;  3×: y = y·(2 − m·y)        (Fz, in this order)
/// 1/d = ±y · 2^-e                                      (exact exponent add, then flush)
/// ```
///
/// `1/±0 = ±inf`, `1/±inf = ±0`, NaN → NaN.
pub fn recip(d: Fz) -> Fz {
    let x = d.0;
    if x.is_nan() {
        return Fz::NAN;
    }
    let neg = x.is_sign_negative();
    let sign = |v: f32| Fz(if neg { -v } else { v });
    if x == 0.0 {
        return sign(f32::INFINITY);
    }
    if x.is_infinite() {
        return sign(0.0);
    }
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = Fz(f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000));
    let two = Fz(2.0);
    let mut y = Fz::from_bits(RECIP_A) - Fz::from_bits(RECIP_B) * m;
    for _ in 0..RECIP_STEPS {
        y = y * (two - m * y);
    }
    let r = ldexp(y, -e);
    if neg {
        -r
    } else {
        r
    }
}

/// `1/sqrt(x)`: the correctly rounded square root, then a correctly rounded division
/// (one shared iterative divide/square-root unit; RMSNorm needs it once per vector).
pub fn rsqrt(x: Fz) -> Fz {
    Fz::ONE / x.sqrt()
}

/// `silu(g) = g · recip(1 + exp(−g))` (Fz, in this order).
pub fn silu(g: Fz) -> Fz {
    g * recip(Fz::ONE + exp(-g))
}

// --- reductions ----------------------------------------------------------------------------

/// Right shift of the largest squared significand in [`sum_squares`]: terms are below 2^40,
/// so `K ≤ 2^17` of them sum below 2^57 in a 64-bit accumulator.
pub const SUMSQ_SHIFT: u32 = 8;

/// `Σ x²` in exact fixed point, independent of the order of the terms:
///
/// ```text
/// x = ±M·2^(E−150), M the 24-bit significand (hidden bit set), E the biased exponent;
/// zeros (and flushed subnormals) contribute nothing
/// Emax = max E over the vector
/// S = Σ floor(M² / 2^(2·(Emax − E) + 8))         (u64, exact; a shift ≥ 64 gives 0)
/// Σx² = f32(S) · 2^(2·Emax − 292)                 (S to binary32 nearest-even, exact scale)
/// ```
///
/// Truncation loses less than one unit of `2^(2·Emax − 292)` per term: a relative error below
/// `K · 2^-38` of the largest square (the largest term is at least 2^38 units).
pub fn sum_squares(x: &[Fz]) -> Fz {
    let field = |v: Fz| ((v.0.to_bits() >> 23) & 0xff) as i32;
    let emax = x.iter().filter(|v| v.0 != 0.0).map(|&v| field(v)).max();
    let Some(emax) = emax else {
        return Fz::ZERO;
    };
    if emax == 0xff {
        return Fz(f32::INFINITY);
    }
    let mut s: u64 = 0;
    for &v in x {
        if v.0 == 0.0 {
            continue;
        }
        let m = u64::from((v.0.to_bits() & 0x007f_ffff) | 0x0080_0000);
        let shift = 2 * (emax - field(v)) as u32 + SUMSQ_SHIFT;
        if shift < 64 {
            s = s.wrapping_add((m * m) >> shift);
        }
    }
    ldexp(Fz::round(s as f32 as f64), 2 * emax - 292)
}

/// A softmax weight `e ∈ [0, 1]` as an unsigned fixed-point integer `round_half_even(e·2^31)`
/// (Q1.31; `e = 1` is `2^31`). Sums of these are exact, so their order cannot matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Q31(pub u32);

impl Q31 {
    pub fn from_fz(e: Fz) -> Q31 {
        let v = (f64::from(e.0) * 2f64.powi(31)).round_ties_even();
        Q31(v.clamp(0.0, 2f64.powi(31)) as u32)
    }
}

/// `Σ e` of Q31 weights (exact in u64), back to binary32: `f32(S) · 2^-31`.
pub fn q31_sum(e: &[Q31]) -> Fz {
    let s: u64 = e.iter().map(|q| u64::from(q.0)).sum();
    ldexp(Fz::round(s as f32 as f64), -31)
}

/// Index of the largest value; ties go to the lowest index (a strict `>` scan), `+0 == −0`.
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

// --- quantization --------------------------------------------------------------------------

/// An activation vector to int8 on chip:
///
/// ```text
/// m = max|x|                                (order-free)
/// s = m / 127, inv = 127 / m               (two Fz divisions per vector)   if 0 < m < inf
/// s = 1, inv = 1                            otherwise
/// q[k] = clamp(round_half_even(x[k] · inv), −127, 127)
/// ```
///
/// One multiply per element instead of v1's division; returns the values and `s`.
pub fn quantize_activation(x: &[Fz]) -> (Vec<i8>, Fz) {
    let m = x.iter().fold(Fz::ZERO, |m, &v| m.max(v.abs()));
    let (s, inv) = if m.0 > 0.0 && m.0.is_finite() {
        (m / Fz(QMAX), Fz(QMAX) / m)
    } else {
        (Fz::ONE, Fz::ONE)
    };
    let q = x
        .iter()
        .map(|&v| (v * inv).0.round_ties_even().clamp(-QMAX, QMAX) as i8)
        .collect();
    (q, s)
}

/// Largest softmax weight after [`quantize_softmax`]: 14 bits, two 7-bit digits.
pub const PMAX: u16 = 16_383;

/// The attention weights `u[j] = e[j] · vs[j] ≥ 0` to 14-bit unsigned integers for `p·V`:
///
/// ```text
/// m = max u;  s = m / 16383, inv = 16383 / m    (Fz)    if 0 < m < inf, else s = inv = 1
/// p[j] = min(round_half_even(u[j] · inv), 16383)
/// ```
///
/// int8 weights (v1's rule) lose the small weights of a long, flat attention: measured on
/// SmolLM2 they cost 3 points of top-1 agreement; 14 bits cost nothing measurable. The MAC
/// tiles take `p` as two int8 digits ([`split_p14`]).
pub fn quantize_softmax(u: &[Fz]) -> (Vec<u16>, Fz) {
    let m = u.iter().fold(Fz::ZERO, |m, &v| m.max(v.abs()));
    let pmax = Fz(f32::from(PMAX));
    let (s, inv) = if m.0 > 0.0 && m.0.is_finite() {
        (m / pmax, pmax / m)
    } else {
        (Fz::ONE, Fz::ONE)
    };
    let q = u
        .iter()
        .map(|&v| (v * inv).0.round_ties_even().clamp(0.0, f32::from(PMAX)) as u16)
        .collect();
    (q, s)
}

/// `p = 128·hi + lo` with `hi, lo ∈ [0, 127]`: two int8 operands for the MAC tiles.
#[inline]
pub fn split_p14(p: u16) -> (i8, i8) {
    let p = p.min(PMAX);
    ((p >> 7) as i8, (p & 0x7f) as i8)
}

/// The two passes' int32 sums combined exactly, `128·hi + lo` in int64, then to binary32
/// (nearest-even).
#[inline]
pub fn combine_p14(hi: i32, lo: i32) -> Fz {
    let v = 128 * i64::from(hi) + i64::from(lo);
    Fz::round(f64::from(v as f32))
}

/// Dequantization of an int32 product: `f32(acc) · (sx · sw)` (Fz, in this order).
#[inline]
pub fn dequantize(acc: i32, sx: Fz, sw: Fz) -> Fz {
    Fz::from_i32(acc) * (sx * sw)
}

// --- RoPE tables (driver-side data, deterministic f64) -------------------------------------

/// fdlibm's ln 2 in two parts (the first with 32 significant bits), f64 bit patterns.
pub const LN2_HI_F64: u64 = 0x3fe6_2e42_fee0_0000;
pub const LN2_LO_F64: u64 = 0x3dea_39ef_3579_3c76;
/// fdlibm's π/2 in three parts of 33 significant bits, f64 bit patterns.
pub const PIO2_F64: [u64; 3] = [
    0x3ff9_21fb_5440_0000,
    0x3dd0_b461_1a60_0000,
    0x3ba3_198a_2e00_0000,
];

/// `e^x` in f64 with IEEE `+ − ×` only (fdlibm's ln2 split, Taylor to degree 18): the same
/// bits on every IEEE-754 platform. Accurate to a few f64 ulps for `|x| < 700`.
pub fn det_exp_f64(x: f64) -> f64 {
    let (ln2_hi, ln2_lo) = (f64::from_bits(LN2_HI_F64), f64::from_bits(LN2_LO_F64));
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    let n = (x * INV_LN2).round_ties_even();
    let r = (x - n * ln2_hi) - n * ln2_lo;
    let mut p = 1.0f64;
    for k in (1..=18).rev() {
        p = 1.0 + p * r / f64::from(k);
    }
    p * f64::from_bits(((n as i64 + 1023) as u64) << 52)
}

/// `ln x` for finite `x > 0` in f64 with IEEE `+ − × ÷` only:
/// `x = m·2^e`, `m ∈ [√½, √2)`, `ln m = 2·atanh(s)`, `s = (m−1)/(m+1)` (series to `s^41`).
pub fn det_ln_f64(x: f64) -> f64 {
    let (ln2_hi, ln2_lo) = (f64::from_bits(LN2_HI_F64), f64::from_bits(LN2_LO_F64));
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 0.0f64;
    for k in (0..=20).rev() {
        p = 1.0 / f64::from(2 * k + 1) + s2 * p;
    }
    let ef = e as f64;
    (ef * ln2_hi + 2.0 * s * p) + ef * ln2_lo
}

/// `base^y = det_exp_f64(y · det_ln_f64(base))`, rounded to binary32.
pub fn det_pow_f32(base: f32, y: f32) -> f32 {
    det_exp_f64(f64::from(y) * det_ln_f64(f64::from(base))) as f32
}

/// `(cos a, sin a)` of an f64 angle with IEEE `+ − ×` only: `k = round(a·2/π)`,
/// `r = a − k·(π/2)` with fdlibm's three-part π/2 (exact products for `|k| < 2^20`), Taylor
/// series to degree 22 on `|r| ≤ π/4`, then the quadrant.
pub fn det_cos_sin_f64(a: f64) -> (f64, f64) {
    let [p1, p2, p3] = PIO2_F64.map(f64::from_bits);
    let k = (a * std::f64::consts::FRAC_2_PI).round_ties_even();
    let r = ((a - k * p1) - k * p2) - k * p3;
    let r2 = r * r;
    // sin r = r·(1 − r²/(2·3)·(1 − r²/(4·5)·(…))), cos r = 1 − r²/(1·2)·(1 − r²/(3·4)·(…)).
    let mut s = 1.0f64;
    let mut c = 1.0f64;
    for j in (1..=11).rev() {
        let j = f64::from(j);
        s = 1.0 - r2 / ((2.0 * j) * (2.0 * j + 1.0)) * s;
        c = 1.0 - r2 / ((2.0 * j - 1.0) * (2.0 * j)) * c;
    }
    let s = r * s;
    match (k as i64).rem_euclid(4) {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    }
}

/// `(cos, sin)` of the binary32 angle `a`, rounded to binary32 (nearest-even) and flushed.
pub fn rope_cos_sin(a: f32) -> (Fz, Fz) {
    let (c, s) = det_cos_sin_f64(f64::from(a));
    (Fz::round(c), Fz::round(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_constants_are_what_they_claim() {
        let ln2 = std::f64::consts::LN_2;
        let hi = f64::from(f32::from_bits(LN2_HI));
        let lo = f64::from(f32::from_bits(LN2_LO));
        assert!((hi + lo - ln2).abs() < 1e-13);
        assert_eq!(
            f32::from_bits(LN2_HI).to_bits() & 0x1ff,
            0,
            "LN2_HI low bits"
        );
        assert_eq!(f32::from_bits(LOG2E), std::f64::consts::LOG2_E as f32);
        let mut fact = 1.0f64;
        for (k, &c) in EXP_POLY.iter().enumerate() {
            if k > 0 {
                fact *= k as f64;
            }
            assert_eq!(f32::from_bits(c), (1.0 / fact) as f32, "1/{k}!");
        }
        assert_eq!(f32::from_bits(RECIP_A), (48.0f64 / 17.0) as f32);
        assert_eq!(f32::from_bits(RECIP_B), (32.0f64 / 17.0) as f32);
    }

    /// Distance of `got` from the exact value `want` in units of the last place of binary32
    /// at `want` (the ulp of a normal binary32 of that magnitude).
    fn ulps(got: Fz, want: f64) -> f64 {
        let w = want.abs();
        let e = w.log2().floor().max(-126.0);
        (f64::from(got.get()) - want).abs() / 2f64.powf(e - 23.0)
    }

    /// A deterministic stream of values in [lo, hi).
    fn sweep(n: usize, lo: f64, hi: f64) -> impl Iterator<Item = f32> {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)) as f32
        })
    }

    #[test]
    fn chip_nan_results_are_canonical() {
        let inf = Fz::new(f32::INFINITY);
        let nans = [
            -f32::NAN,
            f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffff_ffff),
        ];
        let mut got = vec![inf - inf, -inf + inf, Fz::ZERO * inf, Fz::ZERO / Fz::ZERO];
        got.push(Fz::new(-1.0).sqrt());
        for n in nans {
            let n = Fz::new(n);
            got.extend([n + Fz::ONE, Fz::ONE - n, n * n, n / Fz::ONE, n.sqrt()]);
            got.extend([
                exp(n),
                recip(n),
                rsqrt(n),
                silu(n),
                ldexp(n, 3),
                Fz::ZERO + -n,
            ]);
        }
        for (i, v) in got.iter().enumerate() {
            assert_eq!(v.to_bits(), 0x7fc0_0000, "result {i}");
        }
    }

    #[test]
    fn chip_ftz_flushes_inputs_and_results() {
        let sub = f32::from_bits(0x0000_0001);
        assert_eq!(Fz::new(sub).to_bits(), 0);
        assert_eq!(Fz::new(-sub).to_bits(), 0x8000_0000);
        assert_eq!(Fz::new(f32::MIN_POSITIVE).get(), f32::MIN_POSITIVE);
        // A product in the subnormal range becomes a zero of its sign.
        let a = Fz::new(1e-20);
        assert_eq!((a * a).to_bits(), 0);
        assert_eq!((a * -a).to_bits(), 0x8000_0000);
        // Rounding to 24 bits with an unbounded exponent: just below 2^-126 by less than half
        // an ulp rounds up to 2^-126 and survives the flush (IEEE gradual underflow would
        // give a subnormal here).
        let mn = f64::from(f32::MIN_POSITIVE);
        assert_eq!(
            Fz::round(mn * (1.0 - 2f64.powi(-26))).get(),
            f32::MIN_POSITIVE
        );
        assert_eq!(Fz::round(mn * (1.0 - 2f64.powi(-23))).to_bits(), 0);
        assert_eq!(Fz::round(-mn * 0.75).to_bits(), 0x8000_0000);
        // Overflow as IEEE.
        assert_eq!((Fz::new(f32::MAX) * Fz::new(2.0)).get(), f32::INFINITY);
        // The normal range is plain IEEE round-to-nearest-even.
        for x in sweep(10_000, -1e3, 1e3) {
            for y in sweep(3, -10.0, 10.0) {
                assert_eq!((Fz::new(x) + Fz::new(y)).get(), x + y);
                assert_eq!((Fz::new(x) * Fz::new(y)).get(), x * y);
                assert_eq!((Fz::new(x) / Fz::new(y)).get(), x / y);
            }
        }
    }

    #[test]
    fn chip_exp_within_2_ulps() {
        let mut worst = 0f64;
        let xs = sweep(400_000, -87.0, 88.5)
            .chain(sweep(100_000, -1.0, 1.0))
            .chain([0.0, -0.0, 1.0, -1.0, 0.5, -20.0, 88.0]);
        for x in xs {
            let got = exp(Fz::new(x));
            let want = f64::from(x).exp();
            if want < f64::from(f32::MIN_POSITIVE) {
                assert_eq!(got.get(), 0.0, "exp({x})");
                continue;
            }
            worst = worst.max(ulps(got, want));
        }
        assert!(worst <= 2.0, "exp: worst {worst} ulps");
        assert_eq!(exp(Fz::ZERO).get(), 1.0);
        assert_eq!(exp(Fz::new(89.5)).get(), f32::INFINITY);
        assert_eq!(exp(Fz::new(-88.0)).get(), 0.0); // e^-88 < 2^-126: flushed
        assert_eq!(exp(Fz::new(-1e30)).get(), 0.0);
        assert_eq!(exp(Fz::new(-f32::NAN)).to_bits(), 0x7fc0_0000);
    }

    #[test]
    fn chip_recip_within_2_ulps() {
        // Every significand of [1, 2), then random exponents and signs.
        let mut worst = 0f64;
        for m in 0..(1u32 << 23) {
            let d = Fz::from_bits(0x3f80_0000 | m);
            worst = worst.max(ulps(recip(d), 1.0 / f64::from(d.get())));
        }
        for x in sweep(100_000, -1e30, 1e30).chain(sweep(100_000, -1e-30, 1e-30)) {
            let d = Fz::new(x);
            if d.get() == 0.0 || 1.0 / f64::from(d.get()).abs() < f64::from(f32::MIN_POSITIVE) {
                continue;
            }
            worst = worst.max(ulps(recip(d), 1.0 / f64::from(d.get())));
        }
        // Without a fused multiply-add the last step keeps up to two roundings of error.
        assert!(worst <= 2.0, "recip: worst {worst} ulps");
        assert_eq!(recip(Fz::ZERO).get(), f32::INFINITY);
        assert_eq!(recip(-Fz::ZERO).get(), f32::NEG_INFINITY);
        assert_eq!(recip(Fz::new(f32::INFINITY)).to_bits(), 0);
        assert_eq!(recip(Fz::new(2.0)).get(), 0.5);
        assert_eq!(recip(Fz::new(-4.0)).get(), -0.25);
        // 1 / 2^127 = 2^-127 is below the normal range: flushed.
        assert_eq!(recip(Fz::new(2f32.powi(127))).to_bits(), 0);
    }

    #[test]
    fn chip_rsqrt_within_1_5_ulps() {
        let mut worst = 0f64;
        for x in sweep(200_000, 0.0, 1e6).chain(sweep(100_000, 1e-30, 1e-3)) {
            let x = Fz::new(x);
            if x.get() == 0.0 {
                continue;
            }
            worst = worst.max(ulps(rsqrt(x), 1.0 / f64::from(x.get()).sqrt()));
        }
        // Two correctly rounded operations: at most half an ulp each, the first one halved.
        assert!(worst <= 1.5, "rsqrt: worst {worst} ulps");
        assert_eq!(rsqrt(Fz::new(4.0)).get(), 0.5);
        assert_eq!(rsqrt(Fz::ZERO).get(), f32::INFINITY);
    }

    #[test]
    fn chip_silu_within_4_ulps() {
        let mut worst = 0f64;
        for g in sweep(300_000, -80.0, 80.0).chain(sweep(100_000, -4.0, 4.0)) {
            let want = f64::from(g) / (1.0 + (-f64::from(g)).exp());
            if want.abs() < f64::from(f32::MIN_POSITIVE) * 4.0 {
                continue;
            }
            worst = worst.max(ulps(silu(Fz::new(g)), want));
        }
        assert!(worst <= 4.0, "silu: worst {worst} ulps");
        assert_eq!(silu(Fz::ZERO).get(), 0.0);
        assert_eq!(silu(Fz::new(100.0)).get(), 100.0);
        // Large negative inputs: exp(−g) overflows, 1/inf = 0, g·0 = −0.
        assert_eq!(silu(Fz::new(-100.0)).to_bits(), 0x8000_0000);
    }

    /// The softmax of the chip (max, exp, Q31 sum) as the attention uses it.
    fn softmax(s: &[Fz]) -> (Vec<Fz>, Fz) {
        let m = max_of(s);
        let e: Vec<Fz> = s.iter().map(|&x| exp(x - m)).collect();
        let q: Vec<Q31> = e.iter().map(|&x| Q31::from_fz(x)).collect();
        (e, q31_sum(&q))
    }

    #[test]
    fn chip_softmax_close_to_f64_and_order_free() {
        for n in [1usize, 2, 7, 100, 4096] {
            let s: Vec<Fz> = sweep(n, -30.0, 10.0).map(Fz::new).collect();
            let (e, sum) = softmax(&s);
            let m = s
                .iter()
                .map(|v| f64::from(v.get()))
                .fold(f64::MIN, f64::max);
            let z: f64 = s.iter().map(|v| (f64::from(v.get()) - m).exp()).sum();
            for (x, ex) in s.iter().zip(&e) {
                let p = f64::from(ex.get()) / f64::from(sum.get());
                let want = (f64::from(x.get()) - m).exp() / z;
                assert!(
                    (p - want).abs() <= 1e-6 * want + 1e-9,
                    "n {n}: {p} vs {want}"
                );
            }
            // Reversed order: the same weights and the same sum, bit for bit.
            let rev: Vec<Fz> = s.iter().rev().copied().collect();
            let (e2, sum2) = softmax(&rev);
            assert_eq!(sum.to_bits(), sum2.to_bits());
            for (a, b) in e.iter().zip(e2.iter().rev()) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
        // ±0 as the maximum: the same bits either way.
        assert_eq!(max_of(&[Fz::new(-0.0), Fz::ZERO]).to_bits(), 0);
        assert_eq!(max_of(&[Fz::ZERO, Fz::new(-0.0)]).to_bits(), 0);
        assert_eq!(Q31::from_fz(Fz::ONE), Q31(1 << 31));
        assert_eq!(Q31::from_fz(Fz::new(0.5)), Q31(1 << 30));
        assert_eq!(q31_sum(&[Q31(1 << 31), Q31(1 << 30)]).get(), 1.5);
    }

    #[test]
    fn chip_sum_squares_exact_enough() {
        for (n, lo, hi) in [
            (1usize, -3.0, 3.0),
            (576, -2.0, 2.0),
            (4096, -1e3, 1e3),
            (14336, -1e-3, 1e-3),
        ] {
            let mut x: Vec<Fz> = sweep(n, lo, hi).map(Fz::new).collect();
            if n > 10 {
                x[3] = Fz::new(400.0); // an outlier channel
                x[5] = Fz::ZERO;
            }
            let got = f64::from(sum_squares(&x).get());
            let want: f64 = x.iter().map(|v| f64::from(v.get()).powi(2)).sum();
            let tol = (n as f64 * 2f64.powi(-38) + 2f64.powi(-24)) * want;
            assert!((got - want).abs() <= tol, "n {n}: {got} vs {want}");
        }
        assert_eq!(sum_squares(&[]).get(), 0.0);
        assert_eq!(sum_squares(&[Fz::ZERO, -Fz::ZERO]).get(), 0.0);
        assert_eq!(sum_squares(&[Fz::new(3.0), Fz::new(-4.0)]).get(), 25.0);
    }

    #[test]
    fn chip_argmax_ties_to_lowest_index() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[5.0, 5.0]), 0);
        assert_eq!(argmax(&[-0.0, 0.0]), 0);
        assert_eq!(argmax(&[0.0, -1.0, 7.0]), 2);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn chip_quantize_activation_rules() {
        let x: Vec<Fz> = [0.5f32, -1.27, 0.635, 0.0].map(Fz::new).to_vec();
        let (q, s) = quantize_activation(&x);
        assert_eq!(s.get(), 1.27f32 / 127.0);
        assert_eq!(q, vec![50, -127, 64, 0]); // 63.5 rounds to even
        let (q, s) = quantize_activation(&[Fz::ZERO; 4]);
        assert_eq!((q, s.get()), (vec![0; 4], 1.0));
        let (p, s) = quantize_softmax(&[Fz::new(2.0), Fz::new(1.0), Fz::ZERO]);
        assert_eq!(s.get(), 2.0 / 16383.0);
        assert_eq!(p, vec![16383, 8192, 0]); // 8191.5 rounds to even
        assert_eq!(split_p14(16383), (127, 127));
        assert_eq!(split_p14(8192), (64, 0));
        assert_eq!(combine_p14(3, -5).get(), 379.0);
        for p in [0u16, 1, 127, 128, 300, 16383] {
            let (h, l) = split_p14(p);
            assert_eq!(128 * i32::from(h) + i32::from(l), i32::from(p));
        }
    }

    #[test]
    fn chip_rope_functions_match_f64_references() {
        for a in sweep(20_000, 0.0, 70_000.0).chain([0.0, 1.0, 1e-6, 3.0]) {
            let (c, s) = det_cos_sin_f64(f64::from(a));
            assert!((c - f64::from(a).cos()).abs() < 1e-12, "cos {a}");
            assert!((s - f64::from(a).sin()).abs() < 1e-12, "sin {a}");
        }
        for x in sweep(10_000, -700.0, 700.0) {
            let want = f64::from(x).exp();
            assert!(
                (det_exp_f64(f64::from(x)) - want).abs() <= 1e-14 * want,
                "exp {x}"
            );
        }
        for x in sweep(10_000, 1e-6, 1e9) {
            let want = f64::from(x).ln();
            assert!((det_ln_f64(f64::from(x)) - want).abs() <= 1e-15 * want.abs().max(1.0));
        }
        for (b, y) in [
            (10_000.0f32, 0.5f32),
            (500_000.0, 0.984_375),
            (100_000.0, 0.0),
        ] {
            let want = f64::from(b).powf(f64::from(y));
            assert!((f64::from(det_pow_f32(b, y)) - want).abs() <= 2f64.powi(-24) * want);
        }
    }
}
