//! Offline rotations that keep a Llama's FP32 function and spread outliers before block
//! quantization, after QuaRot (Ashkboos et al., "QuaRot: Outlier-Free 4-Bit Inference in
//! Rotated LLMs", 2024), in the form that folds entirely into the weights:
//!
//! 1. **Norm folding.** Every RMSNorm weight `g` is multiplied into the columns of the linears
//!    that read its output (`q|k|v` for `input_layernorm`, `gate|up` for
//!    `post_attention_layernorm`, `lm_head` for the final norm) and set to 1. A tied
//!    `lm_head` becomes its own matrix.
//! 2. **Residual rotation** by an orthogonal `Q` `[hidden, hidden]`: the residual stream `x`
//!    becomes `x·Q` everywhere. `embed_tokens ← embed_tokens·Q`; every linear reading the
//!    stream gets `W ← W·Q` (q, k, v, gate, up, lm_head); every linear writing it gets
//!    `W ← Qᵀ·W` (o, down). RMSNorm with unit weight commutes with `Q` because `|x·Q| = |x|`.
//!    `Q = D · (H_{2^a} ⊗ R_m)` for `hidden = 2^a · m`, `m` odd: `H` the normalized Sylvester
//!    Hadamard matrix, `R_m` a random orthogonal `m × m` matrix (Gram–Schmidt of a Gaussian
//!    matrix; `R_1 = [1]`), `D` a random ±1 diagonal. SmolLM2 (576 = 64 · 9) uses `H_64 ⊗ R_9`;
//!    Llama 3.1 8B (4096 = 2^12) a randomized Hadamard matrix.
//! 3. **Value/output rotation** per head by the normalized Hadamard matrix `H_d` of the head
//!    dimension `d` (a power of two): `v_proj`'s rows of each KV head `W ← H_d·W`, `o_proj`'s
//!    columns of each head `W ← W·H_d`. Attention mixes values linearly, so the head output is
//!    `H_d·out` and `o_proj` undoes it.
//!
//! Products are formed in f64 and rounded to f32 once. The rotated model's FP32 logits equal
//! the original's up to f32 rounding (tested).

use ndarray::{s, Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::model::{Linear, Llama, Weight};

/// The normalized Sylvester Hadamard matrix of order `n` (a power of two): `H·Hᵀ = I`,
/// symmetric, entries `±1/√n`.
pub fn hadamard(n: usize) -> Result<Array2<f64>> {
    if !n.is_power_of_two() {
        return Err(Error::InvalidArgument(format!(
            "Hadamard order {n} is not a power of two"
        )));
    }
    let norm = 1.0 / (n as f64).sqrt();
    Ok(Array2::from_shape_fn((n, n), |(i, j)| {
        if (i & j).count_ones() % 2 == 0 {
            norm
        } else {
            -norm
        }
    }))
}

/// A random orthogonal `m × m` matrix: modified Gram–Schmidt on the rows of a matrix of
/// standard normal samples (Box–Muller from `rng`).
fn random_orthogonal(m: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    if m == 1 {
        return Array2::ones((1, 1));
    }
    let mut a = Array2::from_shape_fn((m, m), |_| {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen_range(0.0..1.0);
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    });
    for i in 0..m {
        for j in 0..i {
            let d = a.row(i).dot(&a.row(j));
            let rj = a.row(j).to_owned();
            a.row_mut(i).scaled_add(-d, &rj);
        }
        let n = a.row(i).dot(&a.row(i)).sqrt();
        a.row_mut(i).mapv_inplace(|v| v / n);
    }
    a
}

/// The residual rotation `Q = D · (H_{2^a} ⊗ R_m)` for `n = 2^a · m`, `m` odd, from `seed`.
pub fn residual_rotation(n: usize, seed: u64) -> Result<Array2<f64>> {
    if n == 0 {
        return Err(Error::InvalidArgument("rotation of width 0".into()));
    }
    let p = 1usize << n.trailing_zeros();
    let m = n / p;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let h = hadamard(p)?;
    let r = random_orthogonal(m, &mut rng);
    let signs: Vec<f64> = (0..n)
        .map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 })
        .collect();
    // (H ⊗ R)[i·m + j, k·m + l] = H[i, k] · R[j, l]
    Ok(Array2::from_shape_fn((n, n), |(row, col)| {
        let (i, j) = (row / m, row % m);
        let (k, l) = (col / m, col % m);
        signs[row] * h[[i, k]] * r[[j, l]]
    }))
}

fn f32_weight(l: &mut Linear) -> Result<&mut Array2<f32>> {
    match &mut l.weight {
        Weight::F32(w) => Ok(w),
        _ => Err(Error::InvalidArgument(format!(
            "{:?}: rotations apply to f32 weights, before quantization",
            l.id
        ))),
    }
}

fn to64(w: &Array2<f32>) -> Array2<f64> {
    w.mapv(f64::from)
}

fn to32(w: &Array2<f64>) -> Array2<f32> {
    w.mapv(|v| v as f32)
}

/// `W ← W·diag(g)·Q` (a reader of the stream; `g` the folded norm weight).
fn rotate_reader(l: &mut Linear, g: &Array1<f32>, q: &Array2<f64>) -> Result<()> {
    let w = f32_weight(l)?;
    let mut w64 = to64(w);
    for (mut col, &gi) in w64.axis_iter_mut(Axis(1)).zip(g) {
        col.mapv_inplace(|v| v * f64::from(gi));
    }
    *w = to32(&w64.dot(q));
    Ok(())
}

/// `W ← Qᵀ·W` (a writer to the stream).
fn rotate_writer(l: &mut Linear, q: &Array2<f64>) -> Result<()> {
    let w = f32_weight(l)?;
    *w = to32(&q.t().dot(&to64(w)));
    Ok(())
}

/// Applies norm folding, the residual rotation and the value/output rotation to an FP32
/// model in place (every linear must still be f32). The function the model computes is
/// unchanged up to f32 rounding.
pub fn rotate_model(m: &mut Llama, seed: u64) -> Result<()> {
    let hidden = m.embed_tokens.ncols();
    let q = residual_rotation(hidden, seed)?;
    let ones = Array1::<f32>::ones(hidden);
    for layer in &mut m.layers {
        let g1 = std::mem::replace(&mut layer.input_layernorm.weight, ones.clone());
        let a = &mut layer.self_attn;
        for l in [&mut a.q_proj, &mut a.k_proj, &mut a.v_proj] {
            rotate_reader(l, &g1, &q)?;
        }
        let g2 = std::mem::replace(&mut layer.post_attention_layernorm.weight, ones.clone());
        rotate_reader(&mut layer.mlp.gate_proj, &g2, &q)?;
        rotate_reader(&mut layer.mlp.up_proj, &g2, &q)?;
        rotate_writer(&mut a.o_proj, &q)?;
        rotate_writer(&mut layer.mlp.down_proj, &q)?;
        // Values and the o_proj input, per head.
        let hd = a.head_dim;
        if hd.is_power_of_two() {
            let h = hadamard(hd)?;
            let v = f32_weight(&mut a.v_proj)?;
            let mut v64 = to64(v);
            for g in 0..a.num_kv_heads {
                let blk = v64.slice(s![g * hd..(g + 1) * hd, ..]).to_owned();
                v64.slice_mut(s![g * hd..(g + 1) * hd, ..])
                    .assign(&h.dot(&blk));
            }
            *v = to32(&v64);
            let o = f32_weight(&mut a.o_proj)?;
            let mut o64 = to64(o);
            for head in 0..a.num_heads {
                let blk = o64.slice(s![.., head * hd..(head + 1) * hd]).to_owned();
                o64.slice_mut(s![.., head * hd..(head + 1) * hd])
                    .assign(&blk.dot(&h));
            }
            *o = to32(&o64);
        }
    }
    let gf = std::mem::replace(&mut m.norm.weight, ones);
    rotate_reader(&mut m.lm_head, &gf, &q)?;
    m.embed_tokens = to32(&to64(&m.embed_tokens).dot(&q));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_offdiag(a: &Array2<f64>) -> f64 {
        let p = a.dot(&a.t());
        let mut worst = 0f64;
        for ((i, j), v) in p.indexed_iter() {
            let want = if i == j { 1.0 } else { 0.0 };
            worst = worst.max((v - want).abs());
        }
        worst
    }

    #[test]
    fn rotate_matrices_are_orthogonal() {
        for n in [1usize, 2, 64, 576, 96] {
            let q = residual_rotation(n, 7).unwrap();
            assert!(max_offdiag(&q) < 1e-12, "n = {n}");
        }
        let h = hadamard(64).unwrap();
        assert!(max_offdiag(&h) < 1e-12);
        assert_eq!(h, h.t());
        assert!(hadamard(12).is_err());
    }
}
