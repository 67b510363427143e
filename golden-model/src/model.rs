//! Llama decoder, shaped like candle's `llama.rs` and computing what Hugging Face
//! transformers' `modeling_llama.py` (`LlamaForCausalLM`) computes, in f32:
//!
//! - `LlamaRMSNorm`: `h = x * rsqrt(mean(x²) + eps)`, then `weight * h`;
//! - `LlamaRotaryEmbedding`: `inv_freq = 1 / theta^(2i/d)` in f32, optionally rescaled by
//!   `_compute_llama3_parameters`; `q·cos + rotate_half(q)·sin` with non-interleaved halves;
//! - `LlamaAttention`: grouped-query attention, `softmax(q·kᵀ · d^-0.5 + causal mask)` in f32;
//! - `LlamaMLP`: `down(silu(gate(x)) * up(x))`;
//! - decoder layer: `h = x + attn(norm1(x))`, `out = h + mlp(norm2(h))`.
//!
//! In [`Precision::W8A8`] every linear layer is an int8 [`QuantMatrix`] and its product goes
//! through a [`MatVecEngine`]; inputs are quantized per token and results dequantized as
//! `docs/numerics.md` states. Every float reduction has a fixed order that does not depend on
//! the number of threads, so two runs (golden or RTL engine) give identical bits.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::chip::{self, Fz, Q31};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::mx::{self, MxMatrix, MxRecipe};
use crate::quant::{quantize_vector, MatVecEngine, MatrixId, MatrixKind, QuantMatrix};

/// Arithmetic of the linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 weights and activations (the reference against HF transformers).
    F32,
    /// int8 weights (per-row scale), int8 activations (per-token scale), int32 accumulation.
    W8A8,
    /// Numerics v2, the whole decode step as the chip computes it: the products of
    /// [`Precision::W8A8`], and everything else in the vector unit's arithmetic
    /// ([`crate::chip`]): binary32 with flush-to-zero, no libm, order-free reductions, an int8
    /// KV cache with attention as int8 products.
    Chip,
    /// Numerics v3 (block formats): the chip mode with every weight product in OCP MX
    /// ([`crate::mx`]): MXINT8 activations, MXINT8 or 4-bit weights by the recipe, exact
    /// order-free sums; attention, the KV cache and the vector unit as [`Precision::Chip`].
    Mx(MxRecipe),
}

impl Precision {
    /// Whether the decode step runs the chip's vector-unit arithmetic (v2 or v3).
    pub fn is_chip(self) -> bool {
        matches!(self, Precision::Chip | Precision::Mx(_))
    }
}

/// Dot product with a fixed summation order: 16 interleaved partial sums (lane `j` takes
/// elements `j, j+16, ...`), combined pairwise, then the tail added in order.
///
/// On x86-64 with AVX the same code is compiled for 8-wide registers: every lane performs the
/// same multiply and add in the same order (Rust never fuses them), so the bits are those of
/// [`dot_f32_portable`].
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: AVX support was checked at run time just above.
            return unsafe { dot_f32_avx(a, b) };
        }
    }
    dot_f32_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_f32_avx(a: &[f32], b: &[f32]) -> f32 {
    dot_body(a, b)
}

/// The plain twin of [`dot_f32`].
pub fn dot_f32_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_body(a, b)
}

#[inline(always)]
fn dot_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let chunks = n / 16;
    let mut acc = [0f32; 16];
    for (aa, bb) in a[..chunks * 16]
        .chunks_exact(16)
        .zip(b[..chunks * 16].chunks_exact(16))
    {
        for j in 0..16 {
            acc[j] += aa[j] * bb[j];
        }
    }
    let mut w = 16;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            acc[j] += acc[j + w];
        }
    }
    let mut s = acc[0];
    for i in chunks * 16..n {
        s += a[i] * b[i];
    }
    s
}

/// Output rows per parallel task: a block of weight rows is read once for all tokens.
const ROWS_PER_TASK: usize = 64;

/// `x · wᵀ` for `x` `[T, K]` and `w` `[N, K]`: every element is `dot_f32(x[t], w[r])`, so a
/// token's result does not depend on how many tokens are processed together (prefill and
/// token-by-token decoding give the same bits) nor on the number of threads.
fn matmul_t(x: ArrayView2<f32>, w: &Array2<f32>) -> Array2<f32> {
    let (t, k) = x.dim();
    let n = w.nrows();
    let w_std;
    let ws = match w.as_slice() {
        Some(ws) => ws,
        None => {
            w_std = w.as_standard_layout().into_owned();
            w_std.as_slice().unwrap_or(&[])
        }
    };
    let xs: Vec<Vec<f32>> = x.outer_iter().map(|r| r.to_vec()).collect();
    let nblocks = n.div_ceil(ROWS_PER_TASK);
    let blocks: Vec<Vec<f32>> = (0..nblocks)
        .into_par_iter()
        .map(|b| {
            let r0 = b * ROWS_PER_TASK;
            let rows = ROWS_PER_TASK.min(n - r0);
            let mut o = vec![0f32; t * rows];
            for (ti, xr) in xs.iter().enumerate() {
                for i in 0..rows {
                    let r = r0 + i;
                    o[ti * rows + i] = dot_f32(xr, &ws[r * k..(r + 1) * k]);
                }
            }
            o
        })
        .collect();
    let mut out = Array2::<f32>::zeros((t, n));
    for (b, o) in blocks.iter().enumerate() {
        let r0 = b * ROWS_PER_TASK;
        let rows = o.len().checked_div(t).unwrap_or(0);
        for ti in 0..t {
            for i in 0..rows {
                out[[ti, r0 + i]] = o[ti * rows + i];
            }
        }
    }
    out
}

/// The weight of a linear layer, `[out, in]` as in the checkpoint.
#[derive(Clone, Debug)]
pub enum Weight {
    F32(Array2<f32>),
    Quant(QuantMatrix),
    /// Numerics v3: an MX block matrix (MXINT8, MXFP4 or MXINT4 elements).
    Mx(MxMatrix),
}

/// A bias-free linear layer (`nn.Linear(in, out, bias=False)`).
#[derive(Clone, Debug)]
pub struct Linear {
    pub id: MatrixId,
    pub weight: Weight,
}

impl Linear {
    /// Build from an f32 `[out, in]` matrix, quantizing it for [`Precision::W8A8`] and
    /// [`Precision::Chip`]. [`Precision::Mx`] keeps it f32 here: [`Llama::load`] transforms
    /// and quantizes the whole model at once.
    pub fn from_f32(id: MatrixId, w: Array2<f32>, precision: Precision) -> Linear {
        let weight = match precision {
            Precision::F32 | Precision::Mx(_) => Weight::F32(w.as_standard_layout().into_owned()),
            Precision::W8A8 | Precision::Chip => Weight::Quant(QuantMatrix::quantize(w.view())),
        };
        Linear { id, weight }
    }

    /// Load `name` (`[out, in]`) from the checkpoint.
    pub fn load(
        ckpt: &Checkpoint,
        name: &str,
        out_dim: usize,
        in_dim: usize,
        id: MatrixId,
        precision: Precision,
    ) -> Result<Linear> {
        Ok(Self::from_f32(
            id,
            ckpt.tensor2(name, out_dim, in_dim)?,
            precision,
        ))
    }

    pub fn out_dim(&self) -> usize {
        match &self.weight {
            Weight::F32(w) => w.nrows(),
            Weight::Quant(q) => q.rows,
            Weight::Mx(m) => m.rows,
        }
    }

    pub fn in_dim(&self) -> usize {
        match &self.weight {
            Weight::F32(w) => w.ncols(),
            Weight::Quant(q) => q.cols,
            Weight::Mx(m) => m.cols,
        }
    }
}

/// Quantize each row (token) of `x`: int8 values `[T, K]` and one scale per token.
pub fn quantize_rows(x: ArrayView2<f32>) -> (Array2<i8>, Vec<f32>) {
    let (t, k) = x.dim();
    let mut q = Array2::<i8>::zeros((t, k));
    let mut scales = Vec::with_capacity(t);
    for (ti, mut qrow) in q.outer_iter_mut().enumerate() {
        let row: Vec<f32> = x.row(ti).to_vec();
        let (qv, s) = quantize_vector(&row);
        for (d, v) in qrow.iter_mut().zip(qv) {
            *d = v;
        }
        scales.push(s);
    }
    (q, scales)
}

/// Apply linear layers that share the input `x` `[T, in]`: `[q, k, v]`, `[o]`,
/// `[gate, up]`, `[down]` or `[lm_head]`. Returns one `[T, out_i]` per layer.
///
/// Quantized layers are computed by `engine` and dequantized as
/// `y[t, r] = (acc[t, r] as f32) * (x_scale[t] * w_scale[r])`.
pub fn linear_group(
    group: &[&Linear],
    x: ArrayView2<f32>,
    engine: &mut dyn MatVecEngine,
) -> Result<Vec<Array2<f32>>> {
    linear_group_with(group, x, engine, false)
}

/// [`linear_group`] in numerics v2 (`chip`): activations quantized by
/// [`chip::quantize_activation`] and results dequantized by [`chip::dequantize`].
pub fn linear_group_chip(
    group: &[&Linear],
    x: ArrayView2<f32>,
    engine: &mut dyn MatVecEngine,
) -> Result<Vec<Array2<f32>>> {
    linear_group_with(group, x, engine, true)
}

/// Quantize each row (token) of `x` as the chip does ([`chip::quantize_activation`]).
pub fn quantize_rows_chip(x: ArrayView2<f32>) -> (Array2<i8>, Vec<f32>) {
    let (t, k) = x.dim();
    let mut q = Array2::<i8>::zeros((t, k));
    let mut scales = Vec::with_capacity(t);
    for (ti, mut qrow) in q.outer_iter_mut().enumerate() {
        let row: Vec<Fz> = x.row(ti).iter().map(|&v| Fz::new(v)).collect();
        let (qv, s) = chip::quantize_activation(&row);
        for (d, v) in qrow.iter_mut().zip(qv) {
            *d = v;
        }
        scales.push(s.get());
    }
    (q, scales)
}

fn linear_group_with(
    group: &[&Linear],
    x: ArrayView2<f32>,
    engine: &mut dyn MatVecEngine,
    chip_mode: bool,
) -> Result<Vec<Array2<f32>>> {
    let (t, k) = x.dim();
    for l in group {
        if l.in_dim() != k {
            return Err(Error::ShapeMismatch(format!(
                "{:?}: input width {k}, layer expects {}",
                l.id,
                l.in_dim()
            )));
        }
    }
    let quant: Vec<(MatrixId, &QuantMatrix)> = group
        .iter()
        .filter_map(|l| match &l.weight {
            Weight::Quant(q) => Some((l.id, q)),
            Weight::F32(_) | Weight::Mx(_) => None,
        })
        .collect();
    // MX matrices: the input quantized to MXINT8 once per token for the whole group.
    let mx_x = if group.iter().any(|l| matches!(l.weight, Weight::Mx(_))) {
        x.outer_iter()
            .map(|row| mx::quantize_activation(&row.to_vec()))
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let mut qouts = Vec::new();
    let mut xscales = Vec::new();
    if !quant.is_empty() {
        let (xq, sc) = if chip_mode {
            quantize_rows_chip(x)
        } else {
            quantize_rows(x)
        };
        xscales = sc;
        qouts = engine.matvec(&quant, xq.view())?;
        if qouts.len() != quant.len() {
            return Err(Error::Engine(format!(
                "returned {} results for {} matrices",
                qouts.len(),
                quant.len()
            )));
        }
        for ((id, m), o) in quant.iter().zip(&qouts) {
            if o.dim() != (t, m.rows) {
                return Err(Error::Engine(format!(
                    "{id:?}: result shape {:?}, expected {:?}",
                    o.dim(),
                    (t, m.rows)
                )));
            }
        }
    }
    let mut qiter = qouts.into_iter();
    let mut outs = Vec::with_capacity(group.len());
    for l in group {
        match &l.weight {
            Weight::F32(w) => outs.push(matmul_t(x, w)),
            Weight::Mx(m) => {
                let mut y = Array2::<f32>::zeros((t, m.rows));
                let o = y
                    .as_slice_mut()
                    .ok_or_else(|| Error::Engine("output not contiguous".into()))?;
                mx::matmul(m, &mx_x, o)?;
                outs.push(y);
            }
            Weight::Quant(m) => {
                let acc = qiter
                    .next()
                    .ok_or_else(|| Error::Engine("missing result".into()))?;
                let mut y = Array2::<f32>::zeros((t, m.rows));
                if chip_mode {
                    for ((ti, r), v) in y.indexed_iter_mut() {
                        let (sx, sw) = (Fz::new(xscales[ti]), Fz::new(m.scales[r]));
                        *v = chip::dequantize(acc[[ti, r]], sx, sw).get();
                    }
                } else {
                    for ((ti, r), v) in y.indexed_iter_mut() {
                        *v = (acc[[ti, r]] as f32) * (xscales[ti] * m.scales[r]);
                    }
                }
                outs.push(y);
            }
        }
    }
    Ok(outs)
}

/// `LlamaRMSNorm`.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    pub weight: Array1<f32>,
    pub eps: f32,
}

impl RmsNorm {
    pub fn new(weight: Array1<f32>, eps: f64) -> RmsNorm {
        RmsNorm {
            weight,
            eps: eps as f32,
        }
    }

    pub fn load(ckpt: &Checkpoint, name: &str, n: usize, eps: f64) -> Result<RmsNorm> {
        Ok(Self::new(ckpt.tensor1(name, n)?, eps))
    }

    /// Per row: `h = x * (1 / sqrt(Σx²/n + eps))`, then `weight * h`.
    pub fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let n = x.ncols();
        let mut out = x.to_owned();
        for mut row in out.outer_iter_mut() {
            let v: Vec<f32> = row.to_vec();
            let var = dot_f32(&v, &v) / n as f32;
            let r = 1.0 / (var + self.eps).sqrt();
            for (o, w) in row.iter_mut().zip(self.weight.iter()) {
                *o = w * (*o * r);
            }
        }
        out
    }

    /// Numerics v2: `ss = Σx²` exact ([`chip::sum_squares`]), `r = rsqrt(ss / n + eps)`,
    /// then `weight * (x * r)`, every operation in [`Fz`].
    pub fn forward_chip(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let n = Fz::new(x.ncols() as f32);
        let eps = Fz::new(self.eps);
        let mut out = x.to_owned();
        for mut row in out.outer_iter_mut() {
            let v: Vec<Fz> = row.iter().map(|&a| Fz::new(a)).collect();
            let r = chip::rsqrt(chip::sum_squares(&v) / n + eps);
            for ((o, &xv), &w) in row.iter_mut().zip(&v).zip(self.weight.iter()) {
                *o = (Fz::new(w) * (xv * r)).get();
            }
        }
        out
    }
}

/// Rotary frequencies (`LlamaRotaryEmbedding`), with llama3 scaling when configured.
#[derive(Clone, Debug)]
pub struct Rope {
    pub inv_freq: Vec<f32>,
}

/// cos and sin of the rotary angles for consecutive positions, `[T, head_dim / 2]` each.
#[derive(Clone, Debug)]
pub struct RopeTables {
    pub cos: Array2<f32>,
    pub sin: Array2<f32>,
}

impl Rope {
    /// Frequencies as HF computes them: `1 / theta^(arange(0, d, 2) / d)` in f32, then
    /// `_compute_llama3_parameters`: wavelengths shorter than `orig / high_freq_factor` keep
    /// their frequency, longer than `orig / low_freq_factor` are divided by `factor`, and in
    /// between `(1 - s) · f / factor + s · f` with `s = (orig / wavelen - low) / (high - low)`.
    pub fn new(cfg: &Config) -> Result<Rope> {
        Self::with_pow(cfg, f32::powf)
    }

    /// Numerics v2: the frequencies of [`Rope::new`] with `theta^(2i/d)` computed by
    /// [`chip::det_pow_f32`] (IEEE basic operations in f64, the same bits on every platform)
    /// instead of the platform's `powf`.
    pub fn chip(cfg: &Config) -> Result<Rope> {
        Self::with_pow(cfg, chip::det_pow_f32)
    }

    fn with_pow(cfg: &Config, pow: fn(f32, f32) -> f32) -> Result<Rope> {
        let d = cfg.head_dim();
        let theta = cfg.rope_theta as f32;
        let mut inv_freq: Vec<f32> = (0..d)
            .step_by(2)
            .map(|i| 1.0f32 / pow(theta, i as f32 / d as f32))
            .collect();
        if let Some(sc) = cfg.llama3_scaling()? {
            let factor = sc.factor as f32;
            let low = sc.low_freq_factor;
            let high = sc.high_freq_factor;
            let old = sc.original_max_position_embeddings as f64;
            let low_wavelen = (old / low) as f32;
            let high_wavelen = (old / high) as f32;
            let two_pi = (2.0 * std::f64::consts::PI) as f32;
            for f in inv_freq.iter_mut() {
                let wavelen = two_pi / *f;
                let scaled = if wavelen > low_wavelen {
                    *f / factor
                } else {
                    *f
                };
                let smooth = ((old as f32) / wavelen - low as f32) / ((high - low) as f32);
                let smoothed = (1.0 - smooth) * scaled / factor + smooth * scaled;
                // HF: `~(wavelen < high) * ~(wavelen > low)`; NaN never occurs for finite theta.
                let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                *f = if medium { smoothed } else { scaled };
            }
        }
        Ok(Rope { inv_freq })
    }

    /// Tables for positions `pos0 .. pos0 + t`: angle `inv_freq[i] * pos` in f32.
    pub fn tables(&self, pos0: usize, t: usize) -> RopeTables {
        let half = self.inv_freq.len();
        let angle =
            Array2::from_shape_fn((t, half), |(ti, i)| self.inv_freq[i] * (pos0 + ti) as f32);
        RopeTables {
            cos: angle.mapv(f32::cos),
            sin: angle.mapv(f32::sin),
        }
    }

    /// Numerics v2 (the table the driver writes to the chip): angle `inv_freq[i] * pos` as an
    /// f32 product, then [`chip::rope_cos_sin`] (deterministic f64, rounded to binary32).
    pub fn tables_chip(&self, pos0: usize, t: usize) -> RopeTables {
        let half = self.inv_freq.len();
        let mut cos = Array2::<f32>::zeros((t, half));
        let mut sin = Array2::<f32>::zeros((t, half));
        for ti in 0..t {
            for i in 0..half {
                let a = Fz::new(self.inv_freq[i]) * Fz::new((pos0 + ti) as f32);
                let (c, s) = chip::rope_cos_sin(a.get());
                cos[[ti, i]] = c.get();
                sin[[ti, i]] = s.get();
            }
        }
        RopeTables { cos, sin }
    }
}

/// `x·cos + rotate_half(x)·sin` for one head vector (halves `[x1, x2]`, rotate_half = `[-x2, x1]`).
fn apply_rope(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = x.len() / 2;
    for i in 0..half {
        let (a, b) = (x[i], x[i + half]);
        x[i] = a * cos[i] + (-b) * sin[i];
        x[i + half] = b * cos[i] + a * sin[i];
    }
}

/// [`apply_rope`] in [`Fz`]: `x1' = x1·c − x2·s`, `x2' = x2·c + x1·s`.
fn apply_rope_chip(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = x.len() / 2;
    for i in 0..half {
        let (a, b) = (Fz::new(x[i]), Fz::new(x[i + half]));
        let (c, s) = (Fz::new(cos[i]), Fz::new(sin[i]));
        x[i] = (a * c - b * s).get();
        x[i + half] = (b * c + a * s).get();
    }
}

/// Keys and values of one layer for every cached position, `[pos][kv_heads * head_dim]`.
///
/// [`Precision::Chip`] keeps the chip's format instead of `k` and `v`: int8 keys and values
/// `[pos][kv_heads * head_dim]` (`kq`, `vq`), each with one scale per position and KV head
/// `[pos][kv_heads]` (`ks`, `vs`), quantized by [`chip::quantize_activation`].
#[derive(Clone, Debug, Default)]
pub struct LayerKvCache {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub kq: Vec<i8>,
    pub ks: Vec<f32>,
    pub vq: Vec<i8>,
    pub vs: Vec<f32>,
}

/// The key/value cache of every layer.
#[derive(Clone, Debug)]
pub struct KvCache {
    pub layers: Vec<LayerKvCache>,
    kv_dim: usize,
    kv_heads: usize,
    len: usize,
}

impl KvCache {
    pub fn new(cfg: &Config) -> KvCache {
        KvCache {
            layers: vec![LayerKvCache::default(); cfg.num_hidden_layers],
            kv_dim: cfg.num_kv_heads() * cfg.head_dim(),
            kv_heads: cfg.num_kv_heads(),
            len: 0,
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep only the first `n` positions.
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len);
        for l in &mut self.layers {
            l.k.truncate(n * self.kv_dim);
            l.v.truncate(n * self.kv_dim);
            l.kq.truncate(n * self.kv_dim);
            l.vq.truncate(n * self.kv_dim);
            l.ks.truncate(n * self.kv_heads);
            l.vs.truncate(n * self.kv_heads);
        }
        self.len = n;
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

/// `LlamaAttention`.
#[derive(Clone, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
}

fn id(layer: usize, kind: MatrixKind) -> MatrixId {
    MatrixId {
        layer: Some(layer),
        kind,
    }
}

impl Attention {
    pub fn load(
        ckpt: &Checkpoint,
        prefix: &str,
        layer: usize,
        precision: Precision,
    ) -> Result<Self> {
        let cfg = &ckpt.config;
        let (h, hd, nh, nkv) = (
            cfg.hidden_size,
            cfg.head_dim(),
            cfg.num_attention_heads,
            cfg.num_kv_heads(),
        );
        let lin = |n: &str, o, i, k| {
            Linear::load(
                ckpt,
                &format!("{prefix}.{n}.weight"),
                o,
                i,
                id(layer, k),
                precision,
            )
        };
        Ok(Attention {
            q_proj: lin("q_proj", nh * hd, h, MatrixKind::Q)?,
            k_proj: lin("k_proj", nkv * hd, h, MatrixKind::K)?,
            v_proj: lin("v_proj", nkv * hd, h, MatrixKind::V)?,
            o_proj: lin("o_proj", h, nh * hd, MatrixKind::O)?,
            num_heads: nh,
            num_kv_heads: nkv,
            head_dim: hd,
        })
    }

    /// The front of both attention passes: the RoPE tables checked against `x` `[T, hidden]`,
    /// the q|k|v group ([`linear_group`], or [`linear_group_chip`] when `chip`), and RoPE on
    /// every head of q and k (`apply_rope`, or `apply_rope_chip`). Returns `(q, k, v)`.
    fn qkv_rotated(
        &self,
        x: ArrayView2<f32>,
        rope: &RopeTables,
        engine: &mut dyn MatVecEngine,
        chip: bool,
    ) -> Result<(Array2<f32>, Array2<f32>, Array2<f32>)> {
        let t = x.nrows();
        let hd = self.head_dim;
        if rope.cos.nrows() != t || rope.cos.ncols() * 2 != hd {
            return Err(Error::ShapeMismatch(format!(
                "rope tables {:?} for {t} tokens of head_dim {hd}",
                rope.cos.dim()
            )));
        }
        let group = [&self.q_proj, &self.k_proj, &self.v_proj];
        let mut qkv = linear_group_with(&group, x, engine, chip)?.into_iter();
        let (mut q, mut k, v) = match (qkv.next(), qkv.next(), qkv.next()) {
            (Some(q), Some(k), Some(v)) => (q, k, v),
            _ => return Err(Error::Engine("q/k/v results missing".into())),
        };
        let rotate = if chip { apply_rope_chip } else { apply_rope };
        for ti in 0..t {
            let cos = rope.cos.row(ti).to_vec();
            let sin = rope.sin.row(ti).to_vec();
            for (name, m) in [("q", &mut q), ("k", &mut k)] {
                let mut r = m.row_mut(ti);
                let xs = r
                    .as_slice_mut()
                    .ok_or_else(|| Error::ShapeMismatch(format!("{name} not contiguous")))?;
                for head in xs.chunks_exact_mut(hd) {
                    rotate(head, &cos, &sin);
                }
            }
        }
        Ok((q, k, v))
    }

    /// `x` is the normed hidden state `[T, hidden]` at positions `cache.len .. + T`; appends
    /// this step's keys and values to `cache`.
    pub fn forward(
        &self,
        x: ArrayView2<f32>,
        cache: &mut LayerKvCache,
        rope: &RopeTables,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        let t = x.nrows();
        let (nh, nkv, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let kv_dim = nkv * hd;
        let (q, k, v) = self.qkv_rotated(x, rope, engine, false)?;
        let past = cache.k.len() / kv_dim;
        cache.k.extend(k.iter());
        cache.v.extend(v.iter());
        let total = past + t;
        let group = nh / nkv;
        let scale = (hd as f64).powf(-0.5) as f32;
        let (kc, vc) = (&cache.k, &cache.v);
        let heads: Vec<Array2<f32>> = (0..nh)
            .into_par_iter()
            .map(|h| {
                let g = h / group;
                let mut out = Array2::<f32>::zeros((t, hd));
                let mut scores = vec![0f32; total];
                for ti in 0..t {
                    let qrow = q.row(ti);
                    let qh: Vec<f32> = qrow.slice(s![h * hd..(h + 1) * hd]).to_vec();
                    let n = past + ti + 1;
                    let mut m = f32::NEG_INFINITY;
                    for (j, sc) in scores[..n].iter_mut().enumerate() {
                        let kj = &kc[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
                        *sc = dot_f32(&qh, kj) * scale;
                        m = m.max(*sc);
                    }
                    let mut sum = 0f32;
                    for sc in scores[..n].iter_mut() {
                        *sc = (*sc - m).exp();
                        sum += *sc;
                    }
                    let mut o = vec![0f32; hd];
                    for (j, sc) in scores[..n].iter().enumerate() {
                        let p = *sc / sum;
                        let vj = &vc[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
                        for (oi, vv) in o.iter_mut().zip(vj) {
                            *oi += p * vv;
                        }
                    }
                    out.row_mut(ti).assign(&Array1::from(o));
                }
                out
            })
            .collect();
        let mut attn = Array2::<f32>::zeros((t, nh * hd));
        for (h, a) in heads.iter().enumerate() {
            attn.slice_mut(s![.., h * hd..(h + 1) * hd]).assign(a);
        }
        let mut o = linear_group(&[&self.o_proj], attn.view(), engine)?;
        o.pop()
            .ok_or_else(|| Error::Engine("o_proj result missing".into()))
    }
}

impl Attention {
    /// Numerics v2: [`Attention::forward`] as the chip computes it.
    ///
    /// q, k, v from [`linear_group_chip`]; RoPE in [`Fz`]; this step's keys and values
    /// quantized per position and KV head into the int8 cache; per head and token:
    ///
    /// ```text
    /// (qq, sq) = quantize(q_h);  c = sq · attn_scale        attn_scale = rsqrt(head_dim)
    /// score[j] = f32(Σ qq·kq[j]) · (c · ks[j])             int8 products, exact int32
    /// m = max_j score[j];  e[j] = exp(score[j] − m)
    /// sum = Σ_j Q31(e[j])                                   exact, order-free
    /// (pq, su) = quantize14(e[j] · vs[j])                   the V scale folded into p
    /// out[i] = f32(128·Σ_j ph[j]·vq[j][i] + Σ_j pl[j]·vq[j][i]) · (su / sum)
    ///                                                       pq = 128·ph + pl: two int8 passes
    /// ```
    pub fn forward_chip(
        &self,
        x: ArrayView2<f32>,
        cache: &mut LayerKvCache,
        rope: &RopeTables,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        let t = x.nrows();
        let (nh, nkv, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let kv_dim = nkv * hd;
        let (q, k, v) = self.qkv_rotated(x, rope, engine, true)?;
        let past = cache.kq.len() / kv_dim;
        for ti in 0..t {
            for (src, vals, scales) in [
                (k.row(ti), &mut cache.kq, &mut cache.ks),
                (v.row(ti), &mut cache.vq, &mut cache.vs),
            ] {
                let row: Vec<Fz> = src.iter().map(|&a| Fz::new(a)).collect();
                for head in row.chunks_exact(hd) {
                    let (hq, hs) = chip::quantize_activation(head);
                    vals.extend(hq);
                    scales.push(hs.get());
                }
            }
        }
        let group = nh / nkv;
        let attn_scale = chip::rsqrt(Fz::new(hd as f32));
        let (kq, ksc, vq, vsc) = (&cache.kq, &cache.ks, &cache.vq, &cache.vs);
        let heads: Vec<Array2<f32>> = (0..nh)
            .into_par_iter()
            .map(|h| {
                let g = h / group;
                let mut out = Array2::<f32>::zeros((t, hd));
                for ti in 0..t {
                    let qh: Vec<Fz> = q
                        .row(ti)
                        .slice(s![h * hd..(h + 1) * hd])
                        .iter()
                        .map(|&a| Fz::new(a))
                        .collect();
                    let (qq, sq) = chip::quantize_activation(&qh);
                    let c = sq * attn_scale;
                    let n = past + ti + 1;
                    let scores: Vec<Fz> = (0..n)
                        .map(|j| {
                            let kj = &kq[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
                            let acc = dot_i8(&qq, kj);
                            Fz::from_i32(acc) * (c * Fz::new(ksc[j * nkv + g]))
                        })
                        .collect();
                    let m = chip::max_of(&scores);
                    let e: Vec<Fz> = scores.iter().map(|&sc| chip::exp(sc - m)).collect();
                    let fixed: Vec<Q31> = e.iter().map(|&ej| Q31::from_fz(ej)).collect();
                    let sum = chip::q31_sum(&fixed);
                    let u: Vec<Fz> = e
                        .iter()
                        .enumerate()
                        .map(|(j, &ej)| ej * Fz::new(vsc[j * nkv + g]))
                        .collect();
                    let (pq, su) = chip::quantize_softmax(&u);
                    let scale = su / sum;
                    // Two int8 passes over V: the high and the low 7 bits of p.
                    let mut hi = vec![0i32; hd];
                    let mut lo = vec![0i32; hd];
                    for (j, &p) in pq.iter().enumerate() {
                        let (ph, pl) = chip::split_p14(p);
                        let vj = &vq[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
                        for ((h, l), &vv) in hi.iter_mut().zip(lo.iter_mut()).zip(vj) {
                            *h = h.wrapping_add(i32::from(ph) * i32::from(vv));
                            *l = l.wrapping_add(i32::from(pl) * i32::from(vv));
                        }
                    }
                    for ((o, &h), &l) in out.row_mut(ti).iter_mut().zip(&hi).zip(&lo) {
                        *o = (chip::combine_p14(h, l) * scale).get();
                    }
                }
                out
            })
            .collect();
        let mut attn = Array2::<f32>::zeros((t, nh * hd));
        for (h, a) in heads.iter().enumerate() {
            attn.slice_mut(s![.., h * hd..(h + 1) * hd]).assign(a);
        }
        let mut o = linear_group_chip(&[&self.o_proj], attn.view(), engine)?;
        o.pop()
            .ok_or_else(|| Error::Engine("o_proj result missing".into()))
    }
}

/// Exact int8 dot product in int32 (wrapping like a hardware adder; it cannot wrap for
/// `len ≤ 131072`).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        acc.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// `LlamaMLP`.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

/// `silu(x) = x / (1 + exp(-x))`.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

impl Mlp {
    pub fn load(
        ckpt: &Checkpoint,
        prefix: &str,
        layer: usize,
        precision: Precision,
    ) -> Result<Self> {
        let cfg = &ckpt.config;
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let lin = |n: &str, o, inp, k| {
            Linear::load(
                ckpt,
                &format!("{prefix}.{n}.weight"),
                o,
                inp,
                id(layer, k),
                precision,
            )
        };
        Ok(Mlp {
            gate_proj: lin("gate_proj", i, h, MatrixKind::Gate)?,
            up_proj: lin("up_proj", i, h, MatrixKind::Up)?,
            down_proj: lin("down_proj", h, i, MatrixKind::Down)?,
        })
    }

    /// `down(silu(gate(x)) * up(x))`.
    pub fn forward(
        &self,
        x: ArrayView2<f32>,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        let mut gu = linear_group(&[&self.gate_proj, &self.up_proj], x, engine)?.into_iter();
        let (g, u) = match (gu.next(), gu.next()) {
            (Some(g), Some(u)) => (g, u),
            _ => return Err(Error::Engine("gate/up results missing".into())),
        };
        let act = ndarray::Zip::from(&g)
            .and(&u)
            .map_collect(|&g, &u| silu(g) * u);
        let mut d = linear_group(&[&self.down_proj], act.view(), engine)?;
        d.pop()
            .ok_or_else(|| Error::Engine("down_proj result missing".into()))
    }

    /// Numerics v2: `down(silu(gate(x)) * up(x))` with [`linear_group_chip`] and
    /// [`chip::silu`], the product in [`Fz`].
    pub fn forward_chip(
        &self,
        x: ArrayView2<f32>,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        let mut gu = linear_group_chip(&[&self.gate_proj, &self.up_proj], x, engine)?.into_iter();
        let (g, u) = match (gu.next(), gu.next()) {
            (Some(g), Some(u)) => (g, u),
            _ => return Err(Error::Engine("gate/up results missing".into())),
        };
        let act = ndarray::Zip::from(&g)
            .and(&u)
            .map_collect(|&g, &u| (chip::silu(Fz::new(g)) * Fz::new(u)).get());
        let mut d = linear_group_chip(&[&self.down_proj], act.view(), engine)?;
        d.pop()
            .ok_or_else(|| Error::Engine("down_proj result missing".into()))
    }
}

/// f32 weights of one decoder layer, `[out, in]` for the linears (checkpoint layout).
#[derive(Clone, Debug)]
pub struct LayerWeights {
    pub q_proj: Array2<f32>,
    pub k_proj: Array2<f32>,
    pub v_proj: Array2<f32>,
    pub o_proj: Array2<f32>,
    pub gate_proj: Array2<f32>,
    pub up_proj: Array2<f32>,
    pub down_proj: Array2<f32>,
    pub input_layernorm: Array1<f32>,
    pub post_attention_layernorm: Array1<f32>,
}

/// `LlamaDecoderLayer`.
#[derive(Clone, Debug)]
pub struct DecoderLayer {
    pub self_attn: Attention,
    pub mlp: Mlp,
    pub input_layernorm: RmsNorm,
    pub post_attention_layernorm: RmsNorm,
    /// [`Precision::Chip`] runs [`DecoderLayer::forward_chip`].
    pub precision: Precision,
}

impl DecoderLayer {
    pub fn load(ckpt: &Checkpoint, layer: usize, precision: Precision) -> Result<Self> {
        let cfg = &ckpt.config;
        let p = format!("model.layers.{layer}");
        Ok(DecoderLayer {
            self_attn: Attention::load(ckpt, &format!("{p}.self_attn"), layer, precision)?,
            mlp: Mlp::load(ckpt, &format!("{p}.mlp"), layer, precision)?,
            input_layernorm: RmsNorm::load(
                ckpt,
                &format!("{p}.input_layernorm.weight"),
                cfg.hidden_size,
                cfg.rms_norm_eps,
            )?,
            post_attention_layernorm: RmsNorm::load(
                ckpt,
                &format!("{p}.post_attention_layernorm.weight"),
                cfg.hidden_size,
                cfg.rms_norm_eps,
            )?,
            precision,
        })
    }

    /// Build a layer from in-memory weights (shapes checked against `cfg`).
    pub fn from_weights(
        cfg: &Config,
        layer: usize,
        w: LayerWeights,
        precision: Precision,
    ) -> Result<Self> {
        let (h, hd, nh, nkv, i) = (
            cfg.hidden_size,
            cfg.head_dim(),
            cfg.num_attention_heads,
            cfg.num_kv_heads(),
            cfg.intermediate_size,
        );
        let check = |name: &str, a: &Array2<f32>, r: usize, c: usize| {
            if a.dim() != (r, c) {
                Err(Error::ShapeMismatch(format!(
                    "layer {layer} {name}: expected [{r}, {c}], found {:?}",
                    a.dim()
                )))
            } else {
                Ok(())
            }
        };
        check("q_proj", &w.q_proj, nh * hd, h)?;
        check("k_proj", &w.k_proj, nkv * hd, h)?;
        check("v_proj", &w.v_proj, nkv * hd, h)?;
        check("o_proj", &w.o_proj, h, nh * hd)?;
        check("gate_proj", &w.gate_proj, i, h)?;
        check("up_proj", &w.up_proj, i, h)?;
        check("down_proj", &w.down_proj, h, i)?;
        if w.input_layernorm.len() != h || w.post_attention_layernorm.len() != h {
            return Err(Error::ShapeMismatch(format!(
                "layer {layer} norms: expected [{h}]"
            )));
        }
        let lin = |m: Array2<f32>, k| Linear::from_f32(id(layer, k), m, precision);
        Ok(DecoderLayer {
            self_attn: Attention {
                q_proj: lin(w.q_proj, MatrixKind::Q),
                k_proj: lin(w.k_proj, MatrixKind::K),
                v_proj: lin(w.v_proj, MatrixKind::V),
                o_proj: lin(w.o_proj, MatrixKind::O),
                num_heads: nh,
                num_kv_heads: nkv,
                head_dim: hd,
            },
            mlp: Mlp {
                gate_proj: lin(w.gate_proj, MatrixKind::Gate),
                up_proj: lin(w.up_proj, MatrixKind::Up),
                down_proj: lin(w.down_proj, MatrixKind::Down),
            },
            input_layernorm: RmsNorm::new(w.input_layernorm, cfg.rms_norm_eps),
            post_attention_layernorm: RmsNorm::new(w.post_attention_layernorm, cfg.rms_norm_eps),
            precision,
        })
    }

    /// One decoder layer over `x` `[T, hidden]`.
    pub fn forward(
        &self,
        x: ArrayView2<f32>,
        cache: &mut LayerKvCache,
        rope: &RopeTables,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        if self.precision.is_chip() {
            return self.forward_chip(x, cache, rope, engine);
        }
        let residual = x;
        let h = self.input_layernorm.forward(x);
        let h = self.self_attn.forward(h.view(), cache, rope, engine)?;
        let h = &residual + &h;
        let residual = h.view();
        let m = self.post_attention_layernorm.forward(residual);
        let m = self.mlp.forward(m.view(), engine)?;
        Ok(&residual + &m)
    }

    /// Numerics v2: the layer with [`RmsNorm::forward_chip`], [`Attention::forward_chip`],
    /// [`Mlp::forward_chip`] and the residual adds in [`Fz`].
    pub fn forward_chip(
        &self,
        x: ArrayView2<f32>,
        cache: &mut LayerKvCache,
        rope: &RopeTables,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        let add = |a: ArrayView2<f32>, b: &Array2<f32>| {
            ndarray::Zip::from(a)
                .and(b)
                .map_collect(|&a, &b| (Fz::new(a) + Fz::new(b)).get())
        };
        let h = self.input_layernorm.forward_chip(x);
        let h = self.self_attn.forward_chip(h.view(), cache, rope, engine)?;
        let h = add(x, &h);
        let m = self.post_attention_layernorm.forward_chip(h.view());
        let m = self.mlp.forward_chip(m.view(), engine)?;
        Ok(add(h.view(), &m))
    }
}

/// `LlamaForCausalLM`.
#[derive(Clone, Debug)]
pub struct Llama {
    pub embed_tokens: Array2<f32>,
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
    pub lm_head: Linear,
    pub rope: Rope,
    pub precision: Precision,
    /// [`Precision::Chip`]: the embedding table as the chip stores it, bfloat16 (each f32
    /// rounded to nearest-even).
    pub embed_chip: Option<Array2<half::bf16>>,
    config: Config,
}

/// The rotary frequencies of `precision`: [`Rope::chip`] for [`Precision::Chip`].
fn rope_for(cfg: &Config, precision: Precision) -> Result<Rope> {
    if precision.is_chip() {
        Rope::chip(cfg)
    } else {
        Rope::new(cfg)
    }
}

/// The bfloat16 embedding table of [`Precision::Chip`].
fn embed_for(embed: &Array2<f32>, precision: Precision) -> Option<Array2<half::bf16>> {
    precision
        .is_chip()
        .then(|| embed.mapv(half::bf16::from_f32))
}

impl Llama {
    /// Load every tensor of the checkpoint (`lm_head` from `embed_tokens` when tied or absent).
    pub fn load(ckpt: &Checkpoint, precision: Precision) -> Result<Llama> {
        let cfg = ckpt.config.clone();
        cfg.validate()?;
        let embed_tokens =
            ckpt.tensor2("model.embed_tokens.weight", cfg.vocab_size, cfg.hidden_size)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|l| DecoderLayer::load(ckpt, l, precision))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(ckpt, "model.norm.weight", cfg.hidden_size, cfg.rms_norm_eps)?;
        let head_id = MatrixId {
            layer: None,
            kind: MatrixKind::LmHead,
        };
        let lm_head = if cfg.tie_word_embeddings || !ckpt.has_tensor("lm_head.weight") {
            if !cfg.tie_word_embeddings {
                // Report the missing tensor rather than silently tying an untied model.
                return Err(Error::MissingTensor {
                    file: ckpt.files.first().map(|f| f.path.clone()),
                    name: "lm_head.weight".into(),
                });
            }
            Linear::from_f32(head_id, embed_tokens.clone(), precision)
        } else {
            Linear::load(
                ckpt,
                "lm_head.weight",
                cfg.vocab_size,
                cfg.hidden_size,
                head_id,
                precision,
            )?
        };
        let rope = rope_for(&cfg, precision)?;
        Llama {
            embed_chip: embed_for(&embed_tokens, precision),
            embed_tokens,
            layers,
            norm,
            lm_head,
            rope,
            precision,
            config: cfg,
        }
        .finish_mx()
    }

    /// [`Precision::Mx`]: the recipe's offline transform on the f32 weights, then every
    /// linear quantized to its MX format (and the chip's embedding table made again from the
    /// transformed one). Other precisions are returned as they are.
    fn finish_mx(mut self) -> Result<Llama> {
        let Precision::Mx(recipe) = self.precision else {
            return Ok(self);
        };
        if recipe.rotate {
            crate::rotate::rotate_model(&mut self, mx::ROTATION_SEED)?;
            self.embed_chip = embed_for(&self.embed_tokens, self.precision);
        }
        let n = self.layers.len();
        let quantize = |l: &mut Linear| -> Result<()> {
            if let Weight::F32(w) = &l.weight {
                let fmt = recipe.weight_format(l.id, n);
                l.weight = Weight::Mx(MxMatrix::quantize_with(w.view(), fmt, recipe.search)?);
            }
            Ok(())
        };
        for layer in &mut self.layers {
            let (a, m) = (&mut layer.self_attn, &mut layer.mlp);
            for l in [
                &mut a.q_proj,
                &mut a.k_proj,
                &mut a.v_proj,
                &mut a.o_proj,
                &mut m.gate_proj,
                &mut m.up_proj,
                &mut m.down_proj,
            ] {
                quantize(l)?;
            }
        }
        quantize(&mut self.lm_head)?;
        Ok(self)
    }

    /// Assemble a model from parts (for tests and benchmarks).
    pub fn from_parts(
        config: Config,
        embed_tokens: Array2<f32>,
        layers: Vec<DecoderLayer>,
        norm: Array1<f32>,
        lm_head: Option<Array2<f32>>,
        precision: Precision,
    ) -> Result<Llama> {
        config.validate()?;
        if embed_tokens.dim() != (config.vocab_size, config.hidden_size)
            || norm.len() != config.hidden_size
            || layers.len() != config.num_hidden_layers
        {
            return Err(Error::ShapeMismatch(
                "embed_tokens, norm or layer count disagree with the config".into(),
            ));
        }
        let head_id = MatrixId {
            layer: None,
            kind: MatrixKind::LmHead,
        };
        let head = lm_head.unwrap_or_else(|| embed_tokens.clone());
        if head.dim() != (config.vocab_size, config.hidden_size) {
            return Err(Error::ShapeMismatch("lm_head shape".into()));
        }
        Llama {
            rope: rope_for(&config, precision)?,
            embed_chip: embed_for(&embed_tokens, precision),
            norm: RmsNorm::new(norm, config.rms_norm_eps),
            lm_head: Linear::from_f32(head_id, head, precision),
            embed_tokens,
            layers,
            precision,
            config,
        }
        .finish_mx()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Logits `[tokens.len(), vocab]` for `tokens` at positions `cache.len() ..`.
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        engine: &mut dyn MatVecEngine,
    ) -> Result<Array2<f32>> {
        self.run(tokens, cache, engine, false).map(|(l, _)| l)
    }

    /// Like [`Llama::forward`], also returning the hidden state after the embedding and after
    /// each decoder layer (before the final norm), `[T, hidden]` each.
    pub fn forward_traced(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        engine: &mut dyn MatVecEngine,
    ) -> Result<(Array2<f32>, Vec<Array2<f32>>)> {
        self.run(tokens, cache, engine, true)
    }

    fn run(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        engine: &mut dyn MatVecEngine,
        trace: bool,
    ) -> Result<(Array2<f32>, Vec<Array2<f32>>)> {
        let cfg = &self.config;
        let vocab = cfg.vocab_size;
        for &id in tokens {
            if id as usize >= vocab {
                return Err(Error::TokenOutOfRange { id, vocab });
            }
        }
        if cache.layers.len() != self.layers.len()
            || cache.kv_dim != cfg.num_kv_heads() * cfg.head_dim()
        {
            return Err(Error::ShapeMismatch(
                "KV cache was made for a different config".into(),
            ));
        }
        let t = tokens.len();
        let pos0 = cache.len();
        if pos0.saturating_add(t) > cfg.max_position_embeddings {
            return Err(Error::PositionOutOfRange {
                position: pos0.saturating_add(t) - 1,
                max: cfg.max_position_embeddings,
            });
        }
        let chip_mode = self.precision.is_chip();
        let rope = if chip_mode {
            self.rope.tables_chip(pos0, t)
        } else {
            self.rope.tables(pos0, t)
        };
        let mut h = match &self.embed_chip {
            // The chip's lookup: the bfloat16 row widened to binary32 (exact), then flushed.
            Some(e) if chip_mode => Array2::from_shape_fn((t, cfg.hidden_size), |(ti, i)| {
                Fz::new(e[[tokens[ti] as usize, i]].to_f32()).get()
            }),
            _ => self.embed_tokens.select(
                Axis(0),
                &tokens.iter().map(|&i| i as usize).collect::<Vec<_>>(),
            ),
        };
        let mut trace_out = Vec::new();
        if trace {
            trace_out.push(h.clone());
        }
        for (layer, lc) in self.layers.iter().zip(cache.layers.iter_mut()) {
            match layer.forward(h.view(), lc, &rope, engine) {
                Ok(next) => h = next,
                Err(e) => {
                    cache.truncate(pos0);
                    return Err(e);
                }
            }
            if trace {
                trace_out.push(h.clone());
            }
        }
        cache.len = pos0 + t;
        let head = if chip_mode {
            let h = self.norm.forward_chip(h.view());
            linear_group_chip(&[&self.lm_head], h.view(), engine)
        } else {
            let h = self.norm.forward(h.view());
            linear_group(&[&self.lm_head], h.view(), engine)
        };
        let logits = match head {
            Ok(mut v) => v
                .pop()
                .ok_or_else(|| Error::Engine("lm_head result missing".into()))?,
            Err(e) => {
                cache.truncate(pos0);
                return Err(e);
            }
        };
        Ok((logits, trace_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_dot_fast_equals_portable_bits() {
        let mut seed = 0x1234_5678u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32 - 0.5) * 8.0
        };
        for n in [0usize, 1, 15, 16, 17, 100, 4096, 4111] {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            let b: Vec<f32> = (0..n).map(|_| next()).collect();
            assert_eq!(
                dot_f32(&a, &b).to_bits(),
                dot_f32_portable(&a, &b).to_bits()
            );
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot_f32(&a, &b) as f64 - exact).abs() <= 1e-3 * (1.0 + exact.abs()));
        }
    }
}
