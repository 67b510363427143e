//! Numerics v3: OCP Microscaling (MX) block formats and their exact dot product.
//!
//! The formats follow the OCP Microscaling Formats (MX) Specification v1.0: a block of
//! [`BLOCK`] = 32 elements shares one E8M0 scale `2^X`; each element is a narrow number. The
//! rules below are stated in `docs/numerics.md` ("Block formats (MX)"); in short:
//!
//! - elements are held as small integer *codes* `c` with a fixed number of fraction bits `f`
//!   per format, so an element's value is `c · 2^-f` and a block's values are `c · 2^(X - f)`:
//!   MXINT8 `c ∈ [-127, 127]`, `f = 6` (the spec's implied scale 2^-6); MXFP4 (E2M1) in half
//!   units, `c ∈ {0, ±1, ±2, ±3, ±4, ±6, ±8, ±12}`, `f = 1`; MXINT4 (not in the spec, built
//!   the same way as MXINT8) `c ∈ [-7, 7]`, `f = 2`;
//! - the shared exponent is the spec's `X = floor(log2(max|v|)) - emax_elem`, clamped to
//!   the chip's range [`SCALE_EMIN`, `SCALE_EMAX`] (E8M0 bytes 95 to 142); an all-zero block
//!   takes `X = SCALE_EMIN`; NaN or infinity is refused; a stored E8M0 byte outside the range,
//!   and the spec's NaN scale 0xFF, are refused ([`scale_of_e8m0`], [`dot`]), never clamped;
//! - each element is `v · 2^-X` rounded to the format's grid, nearest with ties to even, and
//!   saturated to its largest magnitude (the symmetric range: -128 and the INT4 code -8 are
//!   never produced, although [`dot`] accepts any `i8`);
//! - the product of two blocks is an exact integer sum of 32 code products, shifted by the two
//!   block exponents into an [`ACC_BITS`]-bit two's complement accumulator (an `i128`, every
//!   add checked) whose least significant bit is `2^`[`ACC_LSB_EXP`]; it cannot overflow for
//!   `k ≤` [`K_MAX`] with codes of the formats (proof in the doc, restated by a compile-time
//!   assertion below), so the sum is exact and independent of order; a longer input is refused
//!   and an add that would leave the width is an error, never a wrap; [`acc_to_f32`] rounds
//!   the sum to binary32 once (nearest-even).

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Elements per block (the spec's `k`).
pub const BLOCK: usize = 32;
/// Smallest shared exponent this chip uses (E8M0 allows -127).
pub const SCALE_EMIN: i32 = -32;
/// Largest shared exponent this chip uses (E8M0 allows 127). A block whose largest magnitude
/// is `2^(SCALE_EMAX + emax_elem + 1)` or more saturates.
pub const SCALE_EMAX: i32 = 15;
/// Largest sum of the fraction bits of two element formats (MXINT8 × MXINT8: 6 + 6).
const FRAC_SUM_MAX: i32 = 12;
/// Weight of the accumulator's least significant bit: `2^(2·SCALE_EMIN - 12) = 2^-76`.
pub const ACC_LSB_EXP: i32 = 2 * SCALE_EMIN - FRAC_SUM_MAX;
/// Longest dot product the accumulator is proven for: the chip's bound on every product,
/// `tessera_pkg::MaxK` = 131,072 = 2^17 (`docs/numerics.md`, "Accumulator").
pub const K_MAX: usize = 131_072;
/// Width of the MX accumulator in bits (two's complement), the width the RTL implements.
pub const ACC_BITS: u32 = 128;

/// Largest magnitude of a block product `|Σ c_w·c_x|` times its largest shift, for weights in
/// `wf` and MXINT8 activations: every code the storage can hold (MXINT8 -128, MXINT4 -8,
/// MXFP4 ±12) times -128, both exponents at `SCALE_EMAX`.
const fn block_term_max(w_code_max: u128, wf_frac: i32) -> u128 {
    let d = BLOCK as u128 * w_code_max * 128;
    let shift = FRAC_SUM_MAX - wf_frac - 6 + 2 * (SCALE_EMAX - SCALE_EMIN);
    d << shift
}

/// The largest `|acc|` of a legal product (`K_MAX / BLOCK` blocks of the largest term): MXFP4
/// weights give `4096 · 49,152 · 2^99 = 3·2^125`.
pub const ACC_BOUND: u128 = {
    let a = block_term_max(128, 6);
    let b = block_term_max(12, 1);
    let c = block_term_max(8, 2);
    let m = if a > b { a } else { b };
    let m = if m > c { m } else { c };
    (K_MAX / BLOCK) as u128 * m
};
// The proof of docs/numerics.md, checked at compile time: the bound fits the signed width.
const _: () = assert!(ACC_BOUND < 1u128 << (ACC_BITS - 1));
const _: () = assert!(K_MAX % BLOCK == 0);

/// Element format of an MX block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemFormat {
    /// MXINT8: 8-bit two's complement with an implied scale of 2^-6 (codes ±127).
    Int8,
    /// MXFP4: E2M1 (1 sign, 2 exponent bits with bias 1, 1 mantissa bit; largest 6.0), held
    /// as a code in half units.
    Fp4,
    /// MXINT4: 4-bit two's complement with an implied scale of 2^-2 (codes ±7); not part of
    /// the OCP spec, defined here as MXINT8 is.
    Int4,
}

impl ElemFormat {
    /// `emax_elem` of the spec: the exponent of the largest power of two the format holds.
    pub fn emax(self) -> i32 {
        match self {
            ElemFormat::Int8 | ElemFormat::Int4 => 0,
            ElemFormat::Fp4 => 2,
        }
    }

    /// Fraction bits of a code: an element's value is `code · 2^-frac_bits`.
    pub fn frac_bits(self) -> i32 {
        match self {
            ElemFormat::Int8 => 6,
            ElemFormat::Fp4 => 1,
            ElemFormat::Int4 => 2,
        }
    }

    /// Largest code magnitude (the largest normal number is `max_code · 2^-frac_bits`).
    pub fn max_code(self) -> i32 {
        match self {
            ElemFormat::Int8 => 127,
            ElemFormat::Fp4 => 12,
            ElemFormat::Int4 => 7,
        }
    }

    /// Bits per element in memory.
    pub fn bits(self) -> u32 {
        match self {
            ElemFormat::Int8 => 8,
            ElemFormat::Fp4 | ElemFormat::Int4 => 4,
        }
    }

    /// The code nearest to `y` (an element already divided by `2^X`, in the element's units),
    /// ties to even, saturated to `±max_code`. `y` is finite.
    pub fn round(self, y: f64) -> i8 {
        let u = y * f64::from(1i32 << self.frac_bits());
        let max = f64::from(self.max_code());
        let c = match self {
            ElemFormat::Int8 | ElemFormat::Int4 => u.round_ties_even(),
            ElemFormat::Fp4 => {
                // Half units: step 1 below 4 (0, 0.5, 1, 1.5), 2 below 8 (2, 3), 4 above (4, 6).
                // Ties to even mantissa are ties to an even multiple of the step.
                let a = u.abs();
                let step = if a < 4.0 {
                    1.0
                } else if a < 8.0 {
                    2.0
                } else {
                    4.0
                };
                ((a / step).round_ties_even() * step).copysign(u)
            }
        };
        c.clamp(-max, max) as i8
    }

    /// The storage bits of a code: MXINT8 its two's complement byte; MXINT4 the low nibble of
    /// its two's complement; MXFP4 the E2M1 nibble `s e1 e0 m` (bias 1, subnormal at e = 0).
    /// Codes outside the format are refused.
    pub fn encode(self, code: i8) -> Result<u8> {
        let bad = || Error::Mx(format!("code {code} is not a {self:?} element"));
        match self {
            ElemFormat::Int8 => Ok(code as u8),
            ElemFormat::Int4 => {
                if (-8..=7).contains(&code) {
                    Ok((code as u8) & 0xf)
                } else {
                    Err(bad())
                }
            }
            ElemFormat::Fp4 => {
                let mag = match code.unsigned_abs() {
                    0 => 0,
                    1 => 1,
                    2 => 2,
                    3 => 3,
                    4 => 4,
                    6 => 5,
                    8 => 6,
                    12 => 7,
                    _ => return Err(bad()),
                };
                Ok(mag | if code < 0 { 8 } else { 0 })
            }
        }
    }

    /// The code of storage bits (inverse of [`ElemFormat::encode`]; only the low nibble is read
    /// for the 4-bit formats).
    pub fn decode(self, bits: u8) -> i8 {
        match self {
            ElemFormat::Int8 => bits as i8,
            ElemFormat::Int4 => ((bits << 4) as i8) >> 4,
            ElemFormat::Fp4 => {
                const MAG: [i8; 8] = [0, 1, 2, 3, 4, 6, 8, 12];
                let m = MAG[usize::from(bits & 7)];
                if bits & 8 != 0 {
                    -m
                } else {
                    m
                }
            }
        }
    }
}

/// The E8M0 byte of a shared exponent in the chip's range (`X + 127`; 0xFF, NaN, is never
/// produced). An exponent outside [`SCALE_EMIN`, `SCALE_EMAX`] is refused.
pub fn e8m0(x: i32) -> Result<u8> {
    check_exp(x)?;
    Ok((x + 127) as u8)
}

/// The shared exponent `X` of an E8M0 byte. 0xFF is the spec's NaN scale (every element of
/// its block NaN): refused, as the model refuses NaN weights. Bytes whose exponent lies
/// outside the chip's range [`SCALE_EMIN`, `SCALE_EMAX`] (0 to 94 and 143 to 254) are valid
/// E8M0 but refused too: the accumulator is sized for the chip's range only.
pub fn scale_of_e8m0(b: u8) -> Result<i32> {
    if b == 0xff {
        return Err(Error::Mx("E8M0 scale 0xFF is NaN".into()));
    }
    let x = i32::from(b) - 127;
    check_exp(x)?;
    Ok(x)
}

#[inline]
fn check_exp(x: i32) -> Result<()> {
    if (SCALE_EMIN..=SCALE_EMAX).contains(&x) {
        Ok(())
    } else {
        Err(Error::Mx(format!(
            "shared exponent {x} (E8M0 {}) outside the chip's range [{SCALE_EMIN}, {SCALE_EMAX}]",
            x + 127
        )))
    }
}

/// `floor(log2(m))` of a finite positive f32, exactly (from the exponent of its f64 image,
/// which is normal for every f32, subnormals included).
fn floor_log2(m: f32) -> i32 {
    let b = f64::from(m).to_bits();
    ((b >> 52) & 0x7ff) as i32 - 1023
}

/// Quantizes one block (`v.len() ≤ BLOCK`; missing elements are zeros) into `codes`, returning
/// the shared exponent `X`. NaN or infinity is refused.
pub fn quantize_block(v: &[f32], fmt: ElemFormat, codes: &mut [i8]) -> Result<i32> {
    let mut m = 0f32;
    for &a in v {
        if !a.is_finite() {
            return Err(Error::Mx(format!("non-finite value {a} in a block")));
        }
        m = m.max(a.abs());
    }
    let x = if m == 0.0 {
        SCALE_EMIN
    } else {
        (floor_log2(m) - fmt.emax()).clamp(SCALE_EMIN, SCALE_EMAX)
    };
    // v · 2^-X is exact in f64 (a 24-bit significand scaled by a power of two in range).
    let inv = 2f64.powi(-x);
    for (i, c) in codes.iter_mut().enumerate() {
        *c = v.get(i).map_or(0, |&a| fmt.round(f64::from(a) * inv));
    }
    Ok(x)
}

/// Quantizes one weight block like [`quantize_block`], then tries the shared exponents one
/// below and one above the spec's `X` (within the chip's range) and keeps the one whose
/// dequantized block has the least squared error (ties keep the spec's `X`, then the lower
/// one). One below clips the largest elements for a grid twice as fine; one above saturates
/// nothing. The result is an ordinary MX block: only the offline choice of `X` differs.
pub fn quantize_block_searched(v: &[f32], fmt: ElemFormat, codes: &mut [i8]) -> Result<i32> {
    let x0 = quantize_block(v, fmt, codes)?;
    let err = |x: i32, c: &[i8]| -> f64 {
        let unit = 2f64.powi(x - fmt.frac_bits());
        v.iter()
            .zip(c)
            .map(|(&a, &q)| (f64::from(a) - f64::from(q) * unit).powi(2))
            .sum()
    };
    let mut best = (err(x0, codes), x0);
    if best.0 == 0.0 {
        return Ok(x0);
    }
    let mut tmp = [0i8; BLOCK];
    for x in [x0 - 1, x0 + 1] {
        if !(SCALE_EMIN..=SCALE_EMAX).contains(&x) {
            continue;
        }
        let inv = 2f64.powi(-x);
        for (i, c) in tmp.iter_mut().enumerate() {
            *c = v.get(i).map_or(0, |&a| fmt.round(f64::from(a) * inv));
        }
        let e = err(x, &tmp);
        if e < best.0 {
            best = (e, x);
            codes.copy_from_slice(&tmp[..codes.len()]);
        }
    }
    Ok(best.1)
}

/// A vector or the rows of a matrix in one MX format: each row padded with zeros to whole
/// blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct MxMatrix {
    pub rows: usize,
    pub cols: usize,
    pub format: ElemFormat,
    /// `cols.div_ceil(BLOCK)`.
    pub blocks_per_row: usize,
    /// `[rows, blocks_per_row * BLOCK]` codes, row-major.
    pub codes: Vec<i8>,
    /// `[rows, blocks_per_row]` shared exponents `X`.
    pub exps: Vec<i8>,
}

impl MxMatrix {
    /// Quantizes every row of `w` `[rows, cols]` block by block. `cols` beyond [`K_MAX`] is
    /// refused (no product with such a matrix would be legal).
    pub fn quantize(w: ArrayView2<f32>, format: ElemFormat) -> Result<MxMatrix> {
        MxMatrix::quantize_with(w, format, false)
    }

    /// [`MxMatrix::quantize`], each block's exponent searched
    /// ([`quantize_block_searched`]) when `search`.
    pub fn quantize_with(w: ArrayView2<f32>, format: ElemFormat, search: bool) -> Result<MxMatrix> {
        let (rows, cols) = w.dim();
        check_k(cols)?;
        let bpr = cols.div_ceil(BLOCK);
        let mut codes = vec![0i8; rows * bpr * BLOCK];
        let mut exps = vec![0i8; rows * bpr];
        codes
            .par_chunks_mut((bpr * BLOCK).max(1))
            .zip(exps.par_chunks_mut(bpr.max(1)))
            .enumerate()
            .try_for_each(|(r, (c, e))| {
                let row = w.row(r).to_vec();
                for (b, (cb, eb)) in c.chunks_mut(BLOCK).zip(e.iter_mut()).enumerate() {
                    let lo = (b * BLOCK).min(cols);
                    let hi = ((b + 1) * BLOCK).min(cols);
                    *eb = if search {
                        quantize_block_searched(&row[lo..hi], format, cb)?
                    } else {
                        quantize_block(&row[lo..hi], format, cb)?
                    } as i8;
                }
                Ok::<(), Error>(())
            })?;
        Ok(MxMatrix {
            rows,
            cols,
            format,
            blocks_per_row: bpr,
            codes,
            exps,
        })
    }

    /// One row's codes (padded to whole blocks).
    pub fn row_codes(&self, r: usize) -> &[i8] {
        let n = self.blocks_per_row * BLOCK;
        &self.codes[r * n..(r + 1) * n]
    }

    /// One row's shared exponents.
    pub fn row_exps(&self, r: usize) -> &[i8] {
        &self.exps[r * self.blocks_per_row..(r + 1) * self.blocks_per_row]
    }

    /// The values the codes stand for, `code · 2^(X - f)` (exact in f64, rounded to f32; for
    /// inspection and tests).
    pub fn dequantize(&self) -> ndarray::Array2<f32> {
        let f = self.format.frac_bits();
        ndarray::Array2::from_shape_fn((self.rows, self.cols), |(r, k)| {
            let x = i32::from(self.row_exps(r)[k / BLOCK]);
            (f64::from(self.row_codes(r)[k]) * 2f64.powi(x - f)) as f32
        })
    }

    /// Bytes the matrix takes in memory: elements at their width, one E8M0 byte per block.
    pub fn bytes(&self) -> usize {
        let elems = self.rows * self.blocks_per_row * BLOCK;
        elems * self.format.bits() as usize / 8 + self.rows * self.blocks_per_row
    }
}

/// The exact sum of 32 code products (`|result| ≤ 32·128·128 = 2^19`).
#[inline(always)]
pub fn block_dot(a: &[i8; BLOCK], b: &[i8; BLOCK]) -> i32 {
    let mut s = 0i32;
    for i in 0..BLOCK {
        s += i32::from(a[i]) * i32::from(b[i]);
    }
    s
}

fn check_k(k: usize) -> Result<()> {
    if k > K_MAX {
        return Err(Error::Mx(format!(
            "k = {k} exceeds the accumulator's bound {K_MAX}"
        )));
    }
    Ok(())
}

/// The exact dot product of a row `(wc, we)` in `wf` with a vector `(xc, xe)` in `xf`, in
/// units of `2^ACC_LSB_EXP`: `Σ_b block_dot_b << ((we_b - EMIN) + (xe_b - EMIN) + 12 - fw - fx)`,
/// accumulated in [`ACC_BITS`] bits.
///
/// Refused: codes and exponents of different lengths (`BLOCK` codes per exponent), more than
/// [`K_MAX`] codes, an exponent outside [`SCALE_EMIN`, `SCALE_EMAX`] (never clamped), and an
/// add whose result leaves the accumulator's width — which the bound of `docs/numerics.md`
/// rules out for codes of the formats, so only codes outside them (an MXFP4 code of 127, say)
/// can reach it.
pub fn dot(
    wc: &[i8],
    we: &[i8],
    wf: ElemFormat,
    xc: &[i8],
    xe: &[i8],
    xf: ElemFormat,
) -> Result<i128> {
    if wc.len() != xc.len() || we.len() != xe.len() || wc.len() != we.len() * BLOCK {
        return Err(Error::ShapeMismatch(format!(
            "MX dot of {} codes / {} exponents with {} codes / {} exponents",
            wc.len(),
            we.len(),
            xc.len(),
            xe.len()
        )));
    }
    check_k(wc.len())?;
    let base = FRAC_SUM_MAX - wf.frac_bits() - xf.frac_bits() - 2 * SCALE_EMIN;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 support was checked at run time just above.
            return unsafe { dot_avx2(wc, we, xc, xe, base) };
        }
    }
    dot_body(wc, we, xc, xe, base)
}

/// [`dot`] without the AVX2 path: the plain twin (the same integer sums, so the same bits).
pub fn dot_portable(
    wc: &[i8],
    we: &[i8],
    wf: ElemFormat,
    xc: &[i8],
    xe: &[i8],
    xf: ElemFormat,
) -> Result<i128> {
    if wc.len() != xc.len() || we.len() != xe.len() || wc.len() != we.len() * BLOCK {
        return Err(Error::ShapeMismatch("MX dot: lengths differ".into()));
    }
    check_k(wc.len())?;
    let base = FRAC_SUM_MAX - wf.frac_bits() - xf.frac_bits() - 2 * SCALE_EMIN;
    dot_body(wc, we, xc, xe, base)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(wc: &[i8], we: &[i8], xc: &[i8], xe: &[i8], base: i32) -> Result<i128> {
    dot_body(wc, we, xc, xe, base)
}

/// The block loop of [`dot`] (lengths already checked): one exact block sum, one shift and one
/// checked 128-bit add per block.
#[inline(always)]
fn dot_body(wc: &[i8], we: &[i8], xc: &[i8], xe: &[i8], base: i32) -> Result<i128> {
    let mut acc = 0i128;
    let blocks = wc.chunks_exact(BLOCK).zip(xc.chunks_exact(BLOCK));
    for ((wb, xb), (&ew, &ex)) in blocks.zip(we.iter().zip(xe)) {
        let (ew, ex) = (i32::from(ew), i32::from(ex));
        check_exp(ew)?;
        check_exp(ex)?;
        // 0 ≤ shift ≤ 12 - 1 - 6 + 64 + 30 = 99; |d| ≤ 2^19: the shifted term fits an i128.
        let shift = (base + ew + ex) as u32;
        let (Ok(wb), Ok(xb)) = (wb.try_into(), xb.try_into()) else {
            unreachable!("chunks_exact yields whole blocks");
        };
        let d = block_dot(wb, xb);
        acc = acc
            .checked_add(i128::from(d) << shift)
            .ok_or_else(|| Error::Mx(format!("MX accumulator overflow ({ACC_BITS} bits)")))?;
    }
    Ok(acc)
}

/// The accumulator as binary32: `acc · 2^ACC_LSB_EXP`, rounded once to nearest-even (the
/// integer-to-float conversion rounds; the scale by a power of two is exact, since every
/// non-zero result is at least `2^-76`, a normal number).
pub fn acc_to_f32(acc: i128) -> f32 {
    (acc as f32) * 2f32.powi(ACC_LSB_EXP)
}

/// An activation vector quantized to MXINT8: codes padded to whole blocks and exponents.
#[derive(Clone, Debug, PartialEq)]
pub struct MxVector {
    pub codes: Vec<i8>,
    pub exps: Vec<i8>,
}

/// Quantizes an activation vector to MXINT8.
pub fn quantize_activation(x: &[f32]) -> Result<MxVector> {
    let nb = x.len().div_ceil(BLOCK);
    let mut codes = vec![0i8; nb * BLOCK];
    let mut exps = vec![0i8; nb];
    for (b, (cb, eb)) in codes.chunks_mut(BLOCK).zip(exps.iter_mut()).enumerate() {
        let hi = ((b + 1) * BLOCK).min(x.len());
        *eb = quantize_block(&x[b * BLOCK..hi], ElemFormat::Int8, cb)? as i8;
    }
    Ok(MxVector { codes, exps })
}

/// Output rows per parallel task.
const ROWS_PER_TASK: usize = 32;

/// `out[t, r] = acc_to_f32(dot(w[r], xs[t]))` for every token `t` and row `r` of `w`: the MX
/// product of a matrix with MXINT8 activations, `out` `[T, rows]` row-major. Rows are spread
/// over threads; each result is one exact sum, so the bits do not depend on the threads.
pub fn matmul(w: &MxMatrix, xs: &[MxVector], out: &mut [f32]) -> Result<()> {
    let t = xs.len();
    let n = w.blocks_per_row * BLOCK;
    check_k(w.cols)?;
    if out.len() != t * w.rows || xs.iter().any(|x| x.codes.len() != n) {
        return Err(Error::ShapeMismatch(format!(
            "MX product of [{}, {}] with {t} vectors",
            w.rows, w.cols
        )));
    }
    let blocks: Vec<Vec<f32>> = (0..w.rows.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|b| {
            let r0 = b * ROWS_PER_TASK;
            let rows = ROWS_PER_TASK.min(w.rows - r0);
            let mut o = vec![0f32; t * rows];
            for i in 0..rows {
                let (wc, we) = (w.row_codes(r0 + i), w.row_exps(r0 + i));
                for (ti, x) in xs.iter().enumerate() {
                    let acc = dot(wc, we, w.format, &x.codes, &x.exps, ElemFormat::Int8)?;
                    o[ti * rows + i] = acc_to_f32(acc);
                }
            }
            Ok(o)
        })
        .collect::<Result<_>>()?;
    for (b, o) in blocks.iter().enumerate() {
        let r0 = b * ROWS_PER_TASK;
        let rows = o.len() / t.max(1);
        for ti in 0..t {
            out[ti * w.rows + r0..ti * w.rows + r0 + rows]
                .copy_from_slice(&o[ti * rows..(ti + 1) * rows]);
        }
    }
    Ok(())
}

/// Which matrices keep MXINT8 weights when the others are 4-bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keep8 {
    /// `lm_head` (with tied embeddings, the quantized copy of the table).
    pub lm_head: bool,
    /// Every layer's `down_proj`.
    pub down: bool,
    /// Every matrix of the first and the last decoder layer.
    pub edge_layers: bool,
}

/// An MX quantization recipe: the weight format of every matrix and the offline transform.
/// Activations are always MXINT8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MxRecipe {
    /// Format of the 4-bit matrices; `None`: every matrix is MXINT8.
    pub w4: Option<ElemFormat>,
    /// The matrices that stay MXINT8 when `w4` is set.
    pub keep8: Keep8,
    /// Fold the norms and rotate the residual stream and the values ([`crate::rotate`]).
    pub rotate: bool,
    /// Search each weight block's exponent for the least squared error
    /// ([`quantize_block_searched`]) instead of the spec's rule alone.
    pub search: bool,
}

/// Seed of the residual rotation of every MX recipe.
pub const ROTATION_SEED: u64 = 0x7e55_e7a0;

impl MxRecipe {
    /// `chip:mx8`: every matrix MXINT8, rotated.
    pub const MX8: MxRecipe = MxRecipe {
        w4: None,
        keep8: Keep8 {
            lm_head: true,
            down: false,
            edge_layers: false,
        },
        rotate: true,
        search: false,
    };
    /// `chip:mx4`: MXFP4 weights except `lm_head`, round-to-nearest without the rotation
    /// (which measured worse with 4-bit weights, `docs/numerics.md`).
    pub const MX4: MxRecipe = MxRecipe {
        w4: Some(ElemFormat::Fp4),
        keep8: Keep8 {
            lm_head: true,
            down: false,
            edge_layers: false,
        },
        rotate: false,
        search: false,
    };

    /// The recipe a name gives: `chip:mx8` (rotated) or `chip:mx4` (not rotated), then any of
    /// the modifiers `+rtn` (no rotation, plain round-to-nearest), `+rot` (the rotation),
    /// `+int4` (MXINT4 instead of MXFP4), `+head4` (`lm_head` 4-bit too), `+down8`
    /// (`down_proj` MXINT8), `+edge8` (first and last layer MXINT8), `+mse` (each weight
    /// block's exponent searched, [`quantize_block_searched`]). The 4-bit modifiers need
    /// `chip:mx4`.
    pub fn from_name(name: &str) -> Result<MxRecipe> {
        let mut parts = name.split('+');
        let base = parts.next().unwrap_or_default();
        let mut r = match base {
            "chip:mx8" => MxRecipe::MX8,
            "chip:mx4" => MxRecipe::MX4,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown MX recipe `{name}` (chip:mx8 or chip:mx4, modifiers +rtn +rot \
                     +int4 +head4 +down8 +edge8 +mse)"
                )))
            }
        };
        for m in parts {
            let four = r.w4.is_some();
            match m {
                "rtn" => r.rotate = false,
                "mse" => r.search = true,
                "rot" => r.rotate = true,
                "int4" if four => r.w4 = Some(ElemFormat::Int4),
                "head4" if four => r.keep8.lm_head = false,
                "down8" if four => r.keep8.down = true,
                "edge8" if four => r.keep8.edge_layers = true,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "`{name}`: unknown modifier `+{m}` for {base} (chip:mx8: +rtn +mse; \
                         chip:mx4: +rot +int4 +head4 +down8 +edge8 +mse)"
                    )))
                }
            }
        }
        Ok(r)
    }

    /// The canonical name ([`MxRecipe::from_name`] of it gives this recipe back).
    pub fn name(&self) -> String {
        let mut n = String::from(if self.w4.is_some() {
            "chip:mx4"
        } else {
            "chip:mx8"
        });
        match (self.w4.is_some(), self.rotate) {
            (false, false) => n.push_str("+rtn"),
            (true, true) => n.push_str("+rot"),
            _ => {}
        }
        if self.w4.is_some() {
            if self.w4 == Some(ElemFormat::Int4) {
                n.push_str("+int4");
            }
            if !self.keep8.lm_head {
                n.push_str("+head4");
            }
            if self.keep8.down {
                n.push_str("+down8");
            }
            if self.keep8.edge_layers {
                n.push_str("+edge8");
            }
        }
        if self.search {
            n.push_str("+mse");
        }
        n
    }

    /// The weight format of matrix `id` in a model of `layers` decoder layers.
    pub fn weight_format(&self, id: crate::quant::MatrixId, layers: usize) -> ElemFormat {
        use crate::quant::MatrixKind;
        let Some(w4) = self.w4 else {
            return ElemFormat::Int8;
        };
        let k = &self.keep8;
        let eight = match id.layer {
            None => k.lm_head,
            Some(l) => {
                (k.edge_layers && (l == 0 || l + 1 == layers))
                    || (k.down && id.kind == MatrixKind::Down)
            }
        };
        if eight {
            ElemFormat::Int8
        } else {
            w4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_recipe_names_round_trip() {
        for n in [
            "chip:mx8",
            "chip:mx8+rtn",
            "chip:mx4",
            "chip:mx4+rot+int4+head4+down8+edge8",
            "chip:mx4+int4",
            "chip:mx4+down8",
            "chip:mx8+mse",
            "chip:mx4+down8+edge8+mse",
        ] {
            assert_eq!(MxRecipe::from_name(n).unwrap().name(), n);
        }
        for bad in [
            "mx8",
            "chip:mx6",
            "chip:mx8+int4",
            "chip:mx4+foo",
            "chip:mx4+",
        ] {
            assert!(MxRecipe::from_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mx_fp4_grid_and_ties() {
        let f = ElemFormat::Fp4;
        // y in element units; codes in half units.
        let cases = [
            (0.0, 0),
            (0.25, 0),
            (0.26, 1),
            (0.75, 2),
            (1.25, 2),
            (1.75, 4),
            (2.5, 4),
            (3.5, 8),
            (5.0, 8),
            (5.01, 12),
            (7.9, 12),
            (-2.5, -4),
            (-0.25, 0),
        ];
        for (y, c) in cases {
            assert_eq!(f.round(y), c, "y = {y}");
        }
    }

    #[test]
    fn mx_int_rounding_and_saturation() {
        assert_eq!(ElemFormat::Int8.round(0.5 / 64.0), 0);
        assert_eq!(ElemFormat::Int8.round(1.5 / 64.0), 2);
        assert_eq!(ElemFormat::Int8.round(1.999), 127);
        assert_eq!(ElemFormat::Int8.round(-1.999), -127);
        assert_eq!(ElemFormat::Int4.round(1.9), 7);
        assert_eq!(ElemFormat::Int4.round(-0.375), -2);
    }

    #[test]
    fn mx_encode_decode_every_code() {
        for f in [ElemFormat::Int8, ElemFormat::Fp4, ElemFormat::Int4] {
            for c in -f.max_code()..=f.max_code() {
                let c = c as i8;
                if let Ok(b) = f.encode(c) {
                    assert_eq!(f.decode(b), c, "{f:?} {c}");
                } else {
                    assert_eq!(f, ElemFormat::Fp4);
                    assert!(![0, 1, 2, 3, 4, 6, 8, 12].contains(&c.unsigned_abs()));
                }
            }
        }
        assert_eq!(ElemFormat::Fp4.encode(-12).unwrap(), 0xf);
        assert_eq!(ElemFormat::Fp4.encode(3).unwrap(), 0x3);
        assert_eq!(ElemFormat::Int4.decode(0x8), -8);
        assert_eq!(e8m0(0).unwrap(), 127);
    }

    #[test]
    fn mx_scale_rule() {
        let mut c = [0i8; BLOCK];
        // max 3.0: floor(log2 3) = 1; MXINT8 X = 1, 3.0 / 2 = 1.5 → code 96.
        assert_eq!(
            quantize_block(&[3.0, -1.0], ElemFormat::Int8, &mut c).unwrap(),
            1
        );
        assert_eq!((c[0], c[1]), (96, -32));
        // MXFP4 X = 1 - 2 = -1: 3.0 · 2 = 6.0 → 12 half units.
        assert_eq!(quantize_block(&[3.0], ElemFormat::Fp4, &mut c).unwrap(), -1);
        assert_eq!(c[0], 12);
        assert_eq!(
            quantize_block(&[0.0; 5], ElemFormat::Int8, &mut c).unwrap(),
            SCALE_EMIN
        );
        assert!(c.iter().all(|&v| v == 0));
        assert!(quantize_block(&[f32::NAN], ElemFormat::Int8, &mut c).is_err());
        assert!(quantize_block(&[f32::INFINITY], ElemFormat::Fp4, &mut c).is_err());
        // Beyond the exponent range: saturates at 2^15 · 127/64.
        assert_eq!(
            quantize_block(&[1e9], ElemFormat::Int8, &mut c).unwrap(),
            SCALE_EMAX
        );
        assert_eq!(c[0], 127);
        // Below it: X = -32; 2^-40 rounds to 0.
        assert_eq!(
            quantize_block(&[1e-12], ElemFormat::Int8, &mut c).unwrap(),
            SCALE_EMIN
        );
        assert_eq!(c[0], 0);
    }
}
