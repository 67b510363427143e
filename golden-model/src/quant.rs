//! Numerics v1: symmetric int8 quantization and the exact int32 matrix-vector product.
//!
//! The rules are stated in `docs/numerics.md`:
//! - a weight row or an activation vector `v` has scale `s = max|v| / 127` (computed in f32),
//!   or `s = 1` when `v` is all zero;
//! - `q = clamp(round_half_to_even(v / s), -127, 127)`;
//! - `acc[r] = Σ_k q_w[r, k] · q_x[k]` in int32, wrapping on overflow exactly like a 32-bit
//!   hardware accumulator (it cannot overflow for `|q| ≤ 127` and `K ≤ 131072`).
//!
//! [`matvec_i32_scalar`] is the plain reference; [`matvec_i32`] is the fast path (AVX2 when the
//! CPU has it, rows spread over threads) and returns the same bits.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Largest magnitude of a quantized value.
pub const QMAX: f32 = 127.0;

/// Scale of a row or vector: `max|v| / 127`, or 1 for an all-zero (or non-finite-max) input.
pub fn scale_of(v: &[f32]) -> f32 {
    let m = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if m > 0.0 && m.is_finite() {
        m / QMAX
    } else {
        1.0
    }
}

/// Quantize one value with scale `s`: `clamp(round_half_to_even(x / s), -127, 127)`.
#[inline]
pub fn quantize_value(x: f32, s: f32) -> i8 {
    let r = (x / s).round_ties_even();
    // `as` saturates and maps NaN to 0; the clamp keeps the range symmetric.
    r.clamp(-QMAX, QMAX) as i8
}

/// Quantize an activation vector: returns the int8 values and the scale.
pub fn quantize_vector(x: &[f32]) -> (Vec<i8>, f32) {
    let s = scale_of(x);
    (x.iter().map(|&v| quantize_value(v, s)).collect(), s)
}

/// An int8 weight matrix with one f32 scale per output row.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantMatrix {
    pub rows: usize,
    pub cols: usize,
    /// Row-major `[rows, cols]`.
    pub q: Vec<i8>,
    /// One scale per row.
    pub scales: Vec<f32>,
}

impl QuantMatrix {
    /// Quantize a float matrix `[rows, cols]` row by row.
    pub fn quantize(w: ArrayView2<f32>) -> QuantMatrix {
        let (rows, cols) = w.dim();
        let mut q = vec![0i8; rows * cols];
        let mut scales = vec![1.0f32; rows];
        q.par_chunks_mut(cols.max(1))
            .zip(scales.par_iter_mut())
            .enumerate()
            .for_each(|(r, (qrow, s))| {
                let row = w.row(r);
                let m = row.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
                *s = if m > 0.0 && m.is_finite() {
                    m / QMAX
                } else {
                    1.0
                };
                for (d, &x) in qrow.iter_mut().zip(row.iter()) {
                    *d = quantize_value(x, *s);
                }
            });
        QuantMatrix {
            rows,
            cols,
            q,
            scales,
        }
    }

    /// The dequantized matrix `q[r, k] * scales[r]` (for inspection and tests).
    pub fn dequantize(&self) -> Array2<f32> {
        Array2::from_shape_fn((self.rows, self.cols), |(r, k)| {
            self.q[r * self.cols + k] as f32 * self.scales[r]
        })
    }

    /// One row of the int8 matrix.
    pub fn row(&self, r: usize) -> &[i8] {
        &self.q[r * self.cols..(r + 1) * self.cols]
    }
}

/// Reference product: `out[r] = Σ_k w[r*k_len + k] · x[k]`, exact with wrapping int32 adds.
///
/// Rows beyond what `w` holds, or a short `x`, are treated as absent: the result has
/// `min(rows, w.len() / k)` entries computed over `min(k, x.len())` terms.
pub fn matvec_i32_scalar(w: &[i8], rows: usize, k: usize, x: &[i8]) -> Vec<i32> {
    if k == 0 {
        return vec![0; rows];
    }
    let rows = rows.min(w.len() / k);
    let kk = k.min(x.len());
    (0..rows)
        .map(|r| {
            let row = &w[r * k..r * k + kk];
            row.iter().zip(&x[..kk]).fold(0i32, |acc, (&a, &b)| {
                acc.wrapping_add(i32::from(a) * i32::from(b))
            })
        })
        .collect()
}

/// Rows handled per parallel task.
const ROW_BLOCK: usize = 64;

/// Fast product into `out` (`out.len()` must be `rows`, `w.len()` `rows * k`, `x.len()` `k`).
///
/// Equals [`matvec_i32_scalar`] bit for bit. Uses AVX2 when the CPU supports it and spreads
/// blocks of rows over the rayon pool; integer sums make the result independent of both.
/// On inconsistent lengths it computes what [`matvec_i32_scalar`] would and zero-fills the rest.
pub fn matvec_i32(w: &[i8], rows: usize, k: usize, x: &[i8], out: &mut [i32]) {
    if k == 0 || w.len() < rows * k || x.len() < k || out.len() < rows {
        let r = matvec_i32_scalar(w, rows, k, x);
        out.fill(0);
        for (o, v) in out.iter_mut().zip(r) {
            *o = v;
        }
        return;
    }
    let x16: Vec<i16> = x[..k].iter().map(|&v| i16::from(v)).collect();
    let out = &mut out[..rows];
    let work = rows * k;
    if work < 1 << 16 {
        block(w, k, &x16, out);
    } else {
        out.par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(b, o)| {
                let r0 = b * ROW_BLOCK;
                block(&w[r0 * k..(r0 + o.len()) * k], k, &x16, o);
            });
    }
}

/// Batched product for `t` input vectors sharing one matrix: `xs` is `[t, k]` row-major and
/// `out` `[t, rows]` row-major, `out[i, r] = Σ_k w[r, k] · xs[i, k]` (wrapping int32), the
/// same bits as [`matvec_i32`] per vector. A block of weight rows is read once for all
/// vectors, so prefill does not stream the matrix `t` times.
pub fn matmul_i32(w: &[i8], rows: usize, k: usize, xs: &[i8], t: usize, out: &mut [i32]) {
    if k == 0 || w.len() < rows * k || xs.len() < t * k || out.len() < t * rows {
        out.fill(0);
        for i in 0..t.min(xs.len() / k.max(1)) {
            let r = matvec_i32_scalar(w, rows, k, &xs[i * k..(i + 1) * k]);
            for (o, v) in out[i * rows..].iter_mut().zip(r) {
                *o = v;
            }
        }
        return;
    }
    if t == 1 {
        matvec_i32(w, rows, k, &xs[..k], &mut out[..rows]);
        return;
    }
    let x16: Vec<Vec<i16>> = (0..t)
        .map(|i| {
            xs[i * k..(i + 1) * k]
                .iter()
                .map(|&v| i16::from(v))
                .collect()
        })
        .collect();
    let nblocks = rows.div_ceil(ROW_BLOCK);
    let blocks: Vec<Vec<i32>> = (0..nblocks)
        .into_par_iter()
        .map(|b| {
            let r0 = b * ROW_BLOCK;
            let n = ROW_BLOCK.min(rows - r0);
            let wb = &w[r0 * k..(r0 + n) * k];
            let mut o = vec![0i32; t * n];
            for (i, x) in x16.iter().enumerate() {
                block(wb, k, x, &mut o[i * n..(i + 1) * n]);
            }
            o
        })
        .collect();
    for (b, o) in blocks.iter().enumerate() {
        let r0 = b * ROW_BLOCK;
        let n = o.len() / t;
        for i in 0..t {
            out[i * rows + r0..i * rows + r0 + n].copy_from_slice(&o[i * n..(i + 1) * n]);
        }
    }
}

/// Computes `out.len()` consecutive rows of `w` against `x16`.
fn block(w: &[i8], k: usize, x16: &[i16], out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 support was checked at run time just above.
            unsafe { avx2::block(w, k, x16, out) };
            return;
        }
    }
    block_portable(w, k, x16, out);
}

fn block_portable(w: &[i8], k: usize, x16: &[i16], out: &mut [i32]) {
    for (r, o) in out.iter_mut().enumerate() {
        let row = &w[r * k..(r + 1) * k];
        *o = row.iter().zip(x16).fold(0i32, |acc, (&a, &b)| {
            acc.wrapping_add(i32::from(a) * i32::from(b))
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// One row at a time, so the weights are read as one sequential stream, which the
    /// hardware prefetcher follows even when rows are short (a few cache lines); `x` stays in
    /// L1. Products are formed in i16 and summed pairwise into i32 lanes by `vpmaddwd`, which
    /// is exact for any i8 operands (|a·b + c·d| ≤ 2·128² = 32768 < 2^31). Lane sums use
    /// wrapping adds, so the result equals the scalar twin's wrapping sum modulo 2^32 for any
    /// input.
    #[target_feature(enable = "avx2")]
    pub unsafe fn block(w: &[i8], k: usize, x16: &[i16], out: &mut [i32]) {
        let chunks = k / 16;
        let tail = chunks * 16;
        let xp = x16.as_ptr();
        for (r, o) in out.iter_mut().enumerate() {
            let row = &w[r * k..(r + 1) * k];
            let p = row.as_ptr();
            let mut acc = _mm256_setzero_si256();
            for c in 0..chunks {
                let xv = _mm256_loadu_si256(xp.add(c * 16) as *const __m256i);
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(c * 16) as *const __m128i));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wv, xv));
            }
            let mut s = hsum(acc);
            for i in tail..k {
                s = s.wrapping_add(i32::from(row[i]) * i32::from(x16[i]));
            }
            *o = s;
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn hsum(v: __m256i) -> i32 {
        let lo = _mm256_castsi256_si128(v);
        let hi = _mm256_extracti128_si256(v, 1);
        let s = _mm_add_epi32(lo, hi);
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }
}

/// Which linear layer of the model a matrix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatrixKind {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
    LmHead,
}

/// A matrix of the model: its layer (`None` for `lm_head`) and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatrixId {
    pub layer: Option<usize>,
    pub kind: MatrixKind,
}

/// The integer matrix-vector product of numerics v1, behind a trait so the RTL can stand in.
pub trait MatVecEngine {
    /// `mats` share the input: all have `cols == xs.ncols()`. `xs`: `[T, K]` int8, one
    /// quantized vector per token. Returns one `Array2<i32>` `[T, rows_i]` per matrix:
    /// `out[t, r] = Σ_k q[r, k] · xs[t, k]`, exact.
    fn matvec(
        &mut self,
        mats: &[(MatrixId, &QuantMatrix)],
        xs: ArrayView2<i8>,
    ) -> Result<Vec<Array2<i32>>>;
}

/// The golden engine: [`matmul_i32`] (the fast kernel) on the host CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct GoldenEngine;

impl MatVecEngine for GoldenEngine {
    fn matvec(
        &mut self,
        mats: &[(MatrixId, &QuantMatrix)],
        xs: ArrayView2<i8>,
    ) -> Result<Vec<Array2<i32>>> {
        let (t, k) = xs.dim();
        let xv: Vec<i8> = xs.iter().copied().collect();
        let mut outs = Vec::with_capacity(mats.len());
        for (id, m) in mats {
            if m.cols != k || m.q.len() != m.rows * m.cols {
                return Err(Error::ShapeMismatch(format!(
                    "{id:?}: matrix [{}, {}] ({} values) against input of width {k}",
                    m.rows,
                    m.cols,
                    m.q.len()
                )));
            }
            let mut out = Array2::<i32>::zeros((t, m.rows));
            let o = out
                .as_slice_mut()
                .ok_or_else(|| Error::Engine("output not contiguous".into()))?;
            matmul_i32(&m.q, m.rows, k, &xv, t, o);
            outs.push(out);
        }
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quant_scalar_small() {
        let w = [1i8, 2, 3, -4, 5, 6];
        let x = [1i8, -1, 2];
        assert_eq!(
            matvec_i32_scalar(&w, 2, 3, &x),
            vec![1 - 2 + 6, -4 - 5 + 12]
        );
    }
}
