//! The fast int8 kernel against its scalar twin, and the quantization rules of numerics v1.

use ndarray::{arr2, Array2};
use proptest::prelude::*;
use tessera_golden::quant::{
    matmul_i32, matvec_i32, matvec_i32_scalar, quantize_vector, GoldenEngine, MatVecEngine,
    MatrixId, MatrixKind, QuantMatrix,
};

fn fast(w: &[i8], rows: usize, k: usize, x: &[i8]) -> Vec<i32> {
    let mut out = vec![i32::MIN; rows];
    matvec_i32(w, rows, k, x, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quant_matvec_fast_equals_scalar(
        rows in 1usize..40,
        k in 1usize..3000,
        seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let w: Vec<i8> = (0..rows * k).map(|_| rng.gen()).collect();
        let x: Vec<i8> = (0..k).map(|_| rng.gen()).collect();
        prop_assert_eq!(fast(&w, rows, k, &x), matvec_i32_scalar(&w, rows, k, &x));
    }

    #[test]
    fn quant_matvec_extremes_equal_scalar(
        rows in 1usize..9,
        k in 1usize..4200,
        wv in prop::sample::select(vec![-128i8, -127, 127, 0, 1, -1]),
        xv in prop::sample::select(vec![-128i8, -127, 127, 0, 1, -1]),
    ) {
        let w = vec![wv; rows * k];
        let x = vec![xv; k];
        let f = fast(&w, rows, k, &x);
        prop_assert_eq!(&f, &matvec_i32_scalar(&w, rows, k, &x));
        prop_assert_eq!(f[0] as i64, i64::from(wv) * i64::from(xv) * k as i64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn quant_matmul_batch_equals_scalar_per_vector(
        rows in 1usize..200,
        k in 1usize..700,
        t in 1usize..6,
        seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let w: Vec<i8> = (0..rows * k).map(|_| rng.gen()).collect();
        let xs: Vec<i8> = (0..t * k).map(|_| rng.gen()).collect();
        let mut out = vec![i32::MIN; t * rows];
        matmul_i32(&w, rows, k, &xs, t, &mut out);
        for i in 0..t {
            let want = matvec_i32_scalar(&w, rows, k, &xs[i * k..(i + 1) * k]);
            prop_assert_eq!(&out[i * rows..(i + 1) * rows], &want[..]);
        }
    }
}

#[test]
fn quant_matvec_parallel_path_matches_scalar() {
    // Large enough to take the multi-threaded path (rows * k ≥ 65536), with a ragged K.
    let (rows, k) = (301, 1037);
    let w: Vec<i8> = (0..rows * k).map(|i| ((i * 7919) % 255) as i8).collect();
    let x: Vec<i8> = (0..k).map(|i| ((i * 104729) % 253) as i8).collect();
    assert_eq!(fast(&w, rows, k, &x), matvec_i32_scalar(&w, rows, k, &x));
}

#[test]
fn quant_matvec_worst_case_k_no_overflow() {
    // 127 · 127 · 131072 = 2,114,060,288 < 2^31 - 1.
    let k = 131_072;
    let w = vec![127i8; k];
    let x = vec![-127i8; k];
    assert_eq!(fast(&w, 1, k, &x), vec![-2_114_060_288]);
    assert_eq!(matvec_i32_scalar(&w, 1, k, &x), vec![-2_114_060_288]);
}

#[test]
fn quant_rounds_half_to_even() {
    // max 127 -> s = 1: values land exactly on .5 boundaries.
    let (q, s) = quantize_vector(&[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49]);
    assert_eq!(s, 1.0);
    assert_eq!(q, vec![127, 0, 2, 2, 0, -2, -2, 3]);
}

#[test]
fn quant_zero_vector_and_row_have_unit_scale() {
    let (q, s) = quantize_vector(&[0.0; 5]);
    assert_eq!(s, 1.0);
    assert_eq!(q, vec![0; 5]);
    let m = QuantMatrix::quantize(arr2(&[[0.0f32, 0.0], [1.0, -2.0]]).view());
    assert_eq!(m.scales, vec![1.0, 2.0 / 127.0]);
    assert_eq!(m.q, vec![0, 0, 64, -127]);
}

#[test]
fn quant_scale_is_max_abs_over_127_and_clamps() {
    let (q, s) = quantize_vector(&[-3.0, 1.0, 2.9]);
    assert_eq!(s, 3.0 / 127.0);
    assert_eq!(q[0], -127);
    assert!(q.iter().all(|&v| (-127..=127).contains(&v)));
    assert_eq!(q[1], (1.0f32 / s).round_ties_even() as i8);
    // Infinity maps to a unit scale and saturates instead of panicking.
    let (q, s) = quantize_vector(&[f32::INFINITY, 1.0, -1e9]);
    assert_eq!(s, 1.0);
    assert_eq!(q, vec![127, 1, -127]);
}

#[test]
fn quant_golden_engine_groups_share_input() {
    let a = QuantMatrix::quantize(arr2(&[[1.0f32, 2.0, 3.0], [-1.0, 0.0, 1.0]]).view());
    let b = QuantMatrix::quantize(arr2(&[[4.0f32, 4.0, 4.0]]).view());
    let xs = Array2::from_shape_vec((2, 3), vec![1i8, 2, 3, -4, 5, -6]).unwrap();
    let ida = MatrixId {
        layer: Some(0),
        kind: MatrixKind::Q,
    };
    let idb = MatrixId {
        layer: Some(0),
        kind: MatrixKind::K,
    };
    let outs = GoldenEngine
        .matvec(&[(ida, &a), (idb, &b)], xs.view())
        .unwrap();
    assert_eq!(outs.len(), 2);
    for (o, m) in outs.iter().zip([&a, &b]) {
        assert_eq!(o.dim(), (2, m.rows));
        for t in 0..2 {
            let x: Vec<i8> = xs.row(t).to_vec();
            assert_eq!(o.row(t).to_vec(), matvec_i32_scalar(&m.q, m.rows, 3, &x));
        }
    }
    // A width mismatch is a typed error.
    let bad = Array2::<i8>::zeros((1, 4));
    assert!(GoldenEngine.matvec(&[(ida, &a)], bad.view()).is_err());
}
