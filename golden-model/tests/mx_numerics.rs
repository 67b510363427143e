//! Numerics v3 (`golden_model::mx`): the MX dot product is exact (against an element-wise
//! i128 reference), independent of order and of threads, cannot overflow at the extremes of
//! its legal range, rounds once to binary32; quantization round-trips representable blocks.

use proptest::prelude::*;
use tessera_golden::mx::{
    acc_to_f32, dot, matmul, quantize_activation, quantize_block, ElemFormat, MxMatrix, MxVector,
    ACC_LSB_EXP, BLOCK, K_MAX, SCALE_EMAX, SCALE_EMIN,
};

const FORMATS: [ElemFormat; 3] = [ElemFormat::Int8, ElemFormat::Fp4, ElemFormat::Int4];

/// Every code a format can hold.
fn codes_of(f: ElemFormat) -> Vec<i8> {
    match f {
        ElemFormat::Int8 => (-127..=127).collect(),
        ElemFormat::Int4 => (-7..=7).collect(),
        ElemFormat::Fp4 => vec![-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12],
    }
}

/// The reference: every element product shifted on its own into an i128 at the
/// accumulator's weight `2^ACC_LSB_EXP`, summed in element order.
fn reference(wc: &[i8], we: &[i8], wf: ElemFormat, xc: &[i8], xe: &[i8], xf: ElemFormat) -> i128 {
    let mut acc = 0i128;
    for i in 0..wc.len() {
        let b = i / BLOCK;
        let e = i32::from(we[b]) + i32::from(xe[b]) - wf.frac_bits() - xf.frac_bits();
        let p = i128::from(wc[i]) * i128::from(xc[i]);
        acc += p << (e - ACC_LSB_EXP) as u32;
    }
    acc
}

/// binary32 nearest-even of an integer, written out: keep 24 significant bits, look at the
/// rest.
fn rne_to_f32(v: i128) -> f32 {
    if v == 0 {
        return 0.0;
    }
    let neg = v < 0;
    let mut m = v.unsigned_abs();
    let bits = 128 - m.leading_zeros() as i32;
    let mut exp = 0i32;
    if bits > 24 {
        let drop = (bits - 24) as u32;
        let rest = m & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        m >>= drop;
        if rest > half || (rest == half && m & 1 == 1) {
            m += 1;
        }
        exp = drop as i32;
    }
    let r = (m as f64 * 2f64.powi(exp)) as f32;
    if neg {
        -r
    } else {
        r
    }
}

fn row_strategy(max_blocks: usize) -> impl Strategy<Value = (usize, ElemFormat, u64)> {
    (1..=max_blocks * BLOCK, 0..3usize, any::<u64>()).prop_map(|(k, f, s)| (k, FORMATS[f], s))
}

/// Random codes of `f` (length padded to whole blocks, zeros past `k`) and exponents in the
/// legal range, from a seed.
fn random_row(k: usize, f: ElemFormat, seed: u64) -> (Vec<i8>, Vec<i8>) {
    let nb = k.div_ceil(BLOCK);
    let set = codes_of(f);
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut c = vec![0i8; nb * BLOCK];
    for v in c.iter_mut().take(k) {
        *v = set[(next() % set.len() as u64) as usize];
    }
    let span = (SCALE_EMAX - SCALE_EMIN + 1) as u64;
    let e = (0..nb)
        .map(|_| (SCALE_EMIN + (next() % span) as i32) as i8)
        .collect();
    (c, e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mx_dot_is_exact((k, wf, s) in row_strategy(40), s2 in any::<u64>()) {
        let (wc, we) = random_row(k, wf, s);
        let (xc, xe) = random_row(k, ElemFormat::Int8, s2);
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8);
        prop_assert_eq!(acc, reference(&wc, &we, wf, &xc, &xe, ElemFormat::Int8));
        prop_assert_eq!(acc_to_f32(acc).to_bits(),
            (rne_to_f32(acc) * 2f32.powi(ACC_LSB_EXP)).to_bits());
    }

    #[test]
    fn mx_dot_order_free((k, wf, s) in row_strategy(24), s2 in any::<u64>(), rot in 0usize..24) {
        // Blocks taken in another order (a rotation and a reversal) give the same bits.
        let (wc, we) = random_row(k, wf, s);
        let (xc, xe) = random_row(k, ElemFormat::Int8, s2);
        let nb = we.len();
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8);
        for order in [
            (0..nb).map(|b| (b + rot) % nb).collect::<Vec<_>>(),
            (0..nb).rev().collect(),
        ] {
            let perm = |c: &[i8]| -> Vec<i8> {
                order.iter().flat_map(|&b| c[b * BLOCK..(b + 1) * BLOCK].to_vec()).collect()
            };
            let pe = |e: &[i8]| -> Vec<i8> { order.iter().map(|&b| e[b]).collect() };
            let acc2 = dot(&perm(&wc), &pe(&we), wf, &perm(&xc), &pe(&xe), ElemFormat::Int8);
            prop_assert_eq!(acc, acc2);
        }
    }

    #[test]
    fn mx_quantize_round_trips_representable_blocks(f in 0..3usize, seed in any::<u64>(),
                                                    x in SCALE_EMIN..=SCALE_EMAX) {
        // A block of codes with its largest magnitude in the top binade of the format
        // quantizes back to itself: same exponent, same codes.
        let f = FORMATS[f];
        let (mut c, _) = random_row(BLOCK, f, seed);
        c[(seed % BLOCK as u64) as usize] = f.max_code() as i8 * if seed & 1 == 0 { 1 } else { -1 };
        let scale = 2f64.powi(x - f.frac_bits());
        let v: Vec<f32> = c.iter().map(|&q| (f64::from(q) * scale) as f32).collect();
        let mut back = [0i8; BLOCK];
        let e = quantize_block(&v, f, &mut back).unwrap();
        prop_assert_eq!(e, x);
        prop_assert_eq!(&back[..], &c[..BLOCK]);
    }

    #[test]
    fn mx_quantize_error_within_half_step(seed in any::<u64>(), f in 0..3usize) {
        // Every element within half a grid step of the block (in-range values, no saturation
        // except the top binade's last half step).
        let f = FORMATS[f];
        let mut s = seed | 1;
        let v: Vec<f32> = (0..BLOCK).map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
        }).collect();
        let mut c = [0i8; BLOCK];
        let e = quantize_block(&v, f, &mut c).unwrap();
        let unit = 2f64.powi(e - f.frac_bits());
        let max_step = match f { ElemFormat::Fp4 => 4.0, _ => 1.0 } * unit;
        let top = f64::from(f.max_code()) * unit;
        for (&a, &q) in v.iter().zip(&c) {
            let err = (f64::from(a) - f64::from(q) * unit).abs();
            let allowed = if f64::from(a).abs() > top { f64::from(a).abs() - top + 1e-12 }
                          else { max_step / 2.0 + 1e-12 };
            prop_assert!(err <= allowed, "{:?}: {} → {} (X = {})", f, a, q, e);
        }
    }
}

#[test]
fn mx_accumulator_holds_the_extremes() {
    // k = K_MAX, every exponent at SCALE_EMAX, every code product at its largest magnitude
    // (MXINT8 × MXINT8 with -128, MXFP4 ±12, MXINT4 -8): the sum is exact and has its sign.
    for (wf, wcode) in [
        (ElemFormat::Int8, -128i8),
        (ElemFormat::Fp4, 12),
        (ElemFormat::Int4, -8),
    ] {
        let nb = K_MAX / BLOCK;
        let wc = vec![wcode; K_MAX];
        let xc = vec![-128i8; K_MAX];
        let e = vec![SCALE_EMAX as i8; nb];
        let acc = dot(&wc, &e, wf, &xc, &e, ElemFormat::Int8);
        let shift = 2 * SCALE_EMAX - wf.frac_bits() - 6 - ACC_LSB_EXP;
        let want = i128::from(wcode) * -128 * K_MAX as i128 * (1i128 << shift);
        assert_eq!(acc, want, "{wf:?}");
        assert!(acc.unsigned_abs() < 1u128 << 126, "{wf:?}: margin");
        assert_eq!(acc.signum(), (i128::from(wcode) * -128).signum());
        let f = acc_to_f32(acc);
        assert!(f.is_finite());
    }
    // The smallest non-zero result is a normal binary32.
    assert!(acc_to_f32(1).is_normal());
    assert_eq!(acc_to_f32(1), 2f32.powi(ACC_LSB_EXP));
}

#[test]
fn mx_matmul_equals_dot_for_any_thread_count() {
    let (rows, k, t) = (70, 300, 3);
    let w: Vec<f32> = (0..rows * k)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3)
        .collect();
    let w = ndarray::Array2::from_shape_vec((rows, k), w).unwrap();
    for f in FORMATS {
        let m = MxMatrix::quantize(w.view(), f).unwrap();
        let xs: Vec<MxVector> = (0..t)
            .map(|ti| {
                let x: Vec<f32> = (0..k)
                    .map(|i| ((i * 31 + ti * 17) % 97) as f32 - 48.0)
                    .collect();
                quantize_activation(&x).unwrap()
            })
            .collect();
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = vec![0f32; t * rows];
            pool.install(|| matmul(&m, &xs, &mut out).unwrap());
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let one = run(1);
        assert_eq!(one, run(3));
        for ti in 0..t {
            for r in 0..rows {
                let acc = dot(
                    m.row_codes(r),
                    m.row_exps(r),
                    f,
                    &xs[ti].codes,
                    &xs[ti].exps,
                    ElemFormat::Int8,
                );
                assert_eq!(one[ti * rows + r], acc_to_f32(acc).to_bits());
            }
        }
        // The dequantized matrix is within half a step of the original.
        let d = m.dequantize();
        let worst = d
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 0.3, "{f:?}: {worst}");
    }
}

#[test]
fn mx_refuses_non_finite_and_overlong() {
    assert!(quantize_activation(&[1.0, f32::NAN]).is_err());
    assert!(quantize_activation(&[f32::NEG_INFINITY]).is_err());
    let w = ndarray::Array2::<f32>::zeros((1, K_MAX + 1));
    let m = MxMatrix::quantize(w.view(), ElemFormat::Fp4).unwrap();
    let x = quantize_activation(&vec![0f32; K_MAX + 1]).unwrap();
    let mut out = [0f32];
    assert!(matmul(&m, &[x], &mut out).is_err());
}
