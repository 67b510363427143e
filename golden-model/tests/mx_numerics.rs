//! Numerics v3 (`golden_model::mx`): the MX dot product is exact (against an element-wise
//! i128 reference), also at the extreme exponents, independent of order and of threads,
//! cannot overflow at the edge of its legal range (the largest K, every code at its largest
//! magnitude, the widest exponent spread), refuses what lies outside it (longer K, E8M0
//! bytes outside the chip's range, the NaN scale) and rounds once to binary32; quantization
//! round-trips representable blocks, maps all-zero blocks to zero and saturates the largest
//! values; the searched exponent is never worse than the spec rule.

use proptest::prelude::*;
use tessera_golden::mx::{
    acc_to_f32, dot, dot_portable, e8m0, matmul, quantize_activation, quantize_block,
    quantize_block_searched, scale_of_e8m0, ElemFormat, MxMatrix, MxVector, ACC_BITS, ACC_BOUND,
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
    random_row_in(k, f, seed, false)
}

/// [`random_row`], with every exponent at one end of the range (`SCALE_EMIN`, `SCALE_EMIN + 1`,
/// `SCALE_EMAX - 1` or `SCALE_EMAX`) when `extreme`.
fn random_row_in(k: usize, f: ElemFormat, seed: u64, extreme: bool) -> (Vec<i8>, Vec<i8>) {
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
    let ends = [SCALE_EMIN, SCALE_EMIN + 1, SCALE_EMAX - 1, SCALE_EMAX];
    let e = (0..nb)
        .map(|_| {
            if extreme {
                ends[(next() % 4) as usize] as i8
            } else {
                (SCALE_EMIN + (next() % span) as i32) as i8
            }
        })
        .collect();
    (c, e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mx_dot_is_exact((k, wf, s) in row_strategy(40), s2 in any::<u64>()) {
        let (wc, we) = random_row(k, wf, s);
        let (xc, xe) = random_row(k, ElemFormat::Int8, s2);
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap();
        prop_assert_eq!(acc, reference(&wc, &we, wf, &xc, &xe, ElemFormat::Int8));
        prop_assert_eq!(acc_to_f32(acc).to_bits(),
            (rne_to_f32(acc) * 2f32.powi(ACC_LSB_EXP)).to_bits());
    }

    #[test]
    fn mx_dot_fast_path_equals_its_plain_twin(
        (k, wf, s) in row_strategy(64), s2 in any::<u64>(), extreme in any::<bool>()
    ) {
        // `dot` (AVX2 where the CPU has it) and `dot_portable` give the same sums.
        let (wc, we) = random_row_in(k, wf, s, extreme);
        let (xc, xe) = random_row_in(k, ElemFormat::Int8, s2, extreme);
        prop_assert_eq!(
            dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap(),
            dot_portable(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap()
        );
    }

    #[test]
    fn mx_dot_order_free((k, wf, s) in row_strategy(24), s2 in any::<u64>(), rot in 0usize..24) {
        // Blocks taken in another order (a rotation and a reversal) give the same bits.
        let (wc, we) = random_row(k, wf, s);
        let (xc, xe) = random_row(k, ElemFormat::Int8, s2);
        let nb = we.len();
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap();
        for order in [
            (0..nb).map(|b| (b + rot) % nb).collect::<Vec<_>>(),
            (0..nb).rev().collect(),
        ] {
            let perm = |c: &[i8]| -> Vec<i8> {
                order.iter().flat_map(|&b| c[b * BLOCK..(b + 1) * BLOCK].to_vec()).collect()
            };
            let pe = |e: &[i8]| -> Vec<i8> { order.iter().map(|&b| e[b]).collect() };
            let acc2 = dot(&perm(&wc), &pe(&we), wf, &perm(&xc), &pe(&xe), ElemFormat::Int8).unwrap();
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
    fn mx_searched_exponent_never_worse(seed in any::<u64>(), f in 0..3usize, len in 1..=BLOCK,
                                        mag in -40i32..20) {
        // The searched block is an ordinary block (codes of the format, an exponent within one
        // of the spec's and in range) whose squared error is at most the spec rule's.
        let f = FORMATS[f];
        let mut s = seed | 1;
        let v: Vec<f32> = (0..len).map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2f32.powi(mag)
        }).collect();
        let (mut c0, mut c1) = ([0i8; BLOCK], [0i8; BLOCK]);
        let x0 = quantize_block(&v, f, &mut c0).unwrap();
        let x1 = quantize_block_searched(&v, f, &mut c1).unwrap();
        prop_assert!((x1 - x0).abs() <= 1 && (SCALE_EMIN..=SCALE_EMAX).contains(&x1));
        let set = codes_of(f);
        prop_assert!(c1.iter().all(|c| set.contains(c)));
        prop_assert!(c1[len..].iter().all(|&c| c == 0));
        let err = |x: i32, c: &[i8]| -> f64 {
            let unit = 2f64.powi(x - f.frac_bits());
            v.iter().zip(c).map(|(&a, &q)| (f64::from(a) - f64::from(q) * unit).powi(2)).sum()
        };
        prop_assert!(err(x1, &c1) <= err(x0, &c0));
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

/// Weight codes of the largest magnitude each format's storage holds (MXINT8 -128, MXFP4 ±12,
/// MXINT4 -8): against activations of -128 they reach the accumulator's bound.
const EDGE: [(ElemFormat, i8); 4] = [
    (ElemFormat::Int8, -128),
    (ElemFormat::Fp4, 12),
    (ElemFormat::Fp4, -12),
    (ElemFormat::Int4, -8),
];

/// One block's exact contribution in accumulator units: 32 code products `p` of weights in
/// `wf` and MXINT8 activations, shared exponents `ew` and `ex`.
fn block_term(wf: ElemFormat, p: i128, ew: i32, ex: i32) -> i128 {
    (BLOCK as i128 * p) << (ew + ex - wf.frac_bits() - 6 - ACC_LSB_EXP) as u32
}

#[test]
fn mx_accumulator_bound_at_the_largest_k() {
    // K = K_MAX, every code product at its largest magnitude, both exponents at SCALE_EMAX:
    // the sum is exact, within ACC_BOUND, and finite in binary32.
    let nb = K_MAX / BLOCK;
    let xc = vec![-128i8; K_MAX];
    let emax = vec![SCALE_EMAX as i8; nb];
    let mut largest = 0u128;
    for (wf, wcode) in EDGE {
        let wc = vec![wcode; K_MAX];
        let acc = dot(&wc, &emax, wf, &xc, &emax, ElemFormat::Int8).unwrap();
        let p = i128::from(wcode) * -128;
        let want = nb as i128 * block_term(wf, p, SCALE_EMAX, SCALE_EMAX);
        assert_eq!(acc, want, "{wf:?} {wcode}");
        assert_eq!(acc.signum(), p.signum());
        assert!(acc.unsigned_abs() <= ACC_BOUND, "{wf:?}");
        largest = largest.max(acc.unsigned_abs());
        let f = acc_to_f32(acc);
        assert!(f.is_finite() && f.abs() > 1e9, "{wf:?}: {f}");
    }
    // MXFP4 reaches the bound, 3·2^125, which needs all 128 bits (it does not fit 127).
    assert_eq!(largest, ACC_BOUND);
    assert_eq!(ACC_BOUND, 3u128 << 125);
    assert!(largest >= 1u128 << (ACC_BITS - 2));
    assert!(largest < 1u128 << (ACC_BITS - 1));
    // The smallest non-zero result is a normal binary32.
    assert!(acc_to_f32(1).is_normal());
    assert_eq!(acc_to_f32(1), 2f32.powi(ACC_LSB_EXP));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn mx_accumulator_keeps_the_lowest_bit_beside_the_bound(
        f in 0..EDGE.len(), at in 0..K_MAX / BLOCK, neg in any::<bool>(), reverse in any::<bool>()
    ) {
        // The widest exponent spread at the largest K: every block at its largest product with
        // both exponents at SCALE_EMAX, except one block at SCALE_EMIN for both holding one
        // product ±1 (the lowest bits of the accumulator). Nothing is lost at either end, in
        // either order of the blocks.
        let (wf, wcode) = EDGE[f];
        let nb = K_MAX / BLOCK;
        let mut wc = vec![wcode; K_MAX];
        let mut xc = vec![-128i8; K_MAX];
        let mut e = vec![SCALE_EMAX as i8; nb];
        wc[at * BLOCK..(at + 1) * BLOCK].fill(0);
        xc[at * BLOCK..(at + 1) * BLOCK].fill(0);
        wc[at * BLOCK] = if neg { -1 } else { 1 };
        xc[at * BLOCK] = 1;
        e[at] = SCALE_EMIN as i8;
        if reverse {
            wc.reverse();
            xc.reverse();
            e.reverse();
        }
        let acc = dot(&wc, &e, wf, &xc, &e, ElemFormat::Int8).unwrap();
        let big = (nb as i128 - 1)
            * block_term(wf, i128::from(wcode) * -128, SCALE_EMAX, SCALE_EMAX);
        let small = (if neg { -1i128 } else { 1 }) << (6 - wf.frac_bits()) as u32;
        prop_assert_eq!(acc - big, small);
        prop_assert_eq!(acc, reference(&wc, &e, wf, &xc, &e, ElemFormat::Int8));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mx_dot_exact_at_the_extreme_exponents(
        (k, wf, s) in row_strategy(40), s2 in any::<u64>()
    ) {
        // Every exponent at an end of the range (SCALE_EMIN, SCALE_EMAX and their neighbours):
        // exact, and the same bits in reverse block order.
        let (wc, we) = random_row_in(k, wf, s, true);
        let (xc, xe) = random_row_in(k, ElemFormat::Int8, s2, true);
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap();
        prop_assert_eq!(acc, reference(&wc, &we, wf, &xc, &xe, ElemFormat::Int8));
        let rev = |c: &[i8]| -> Vec<i8> { c.chunks(BLOCK).rev().flatten().copied().collect() };
        let reve = |e: &[i8]| -> Vec<i8> { e.iter().rev().copied().collect() };
        let back = dot(&rev(&wc), &reve(&we), wf, &rev(&xc), &reve(&xe), ElemFormat::Int8);
        prop_assert_eq!(back.unwrap(), acc);
    }

    #[test]
    fn mx_dot_refuses_exponents_outside_the_range(
        (k, wf, s) in row_strategy(8), s2 in any::<u64>(), at in any::<usize>(),
        on_weights in any::<bool>(),
        bad in prop_oneof![
            Just(-127i8), Just(127i8), Just(-128i8),
            -128i8..=(SCALE_EMIN as i8 - 1), (SCALE_EMAX as i8 + 1)..=127
        ],
    ) {
        // E8M0 0 (X = -127), 254 (X = 127) and every other exponent outside the chip's range
        // are refused by the product, never clamped into it.
        let (wc, mut we) = random_row(k, wf, s);
        let (xc, mut xe) = random_row(k, ElemFormat::Int8, s2);
        let nb = we.len();
        if on_weights { we[at % nb] = bad } else { xe[at % nb] = bad }
        let err = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap_err();
        prop_assert!(err.to_string().contains("outside the chip's range"), "{}", err);
        let m = MxMatrix {
            rows: 1, cols: k, format: wf, blocks_per_row: nb, codes: wc, exps: we,
        };
        let x = MxVector { codes: xc, exps: xe };
        prop_assert!(matmul(&m, &[x], &mut [0f32]).is_err());
    }

    #[test]
    fn mx_all_zero_blocks_add_nothing(
        (k, wf, s) in row_strategy(16), s2 in any::<u64>(), pos in any::<usize>(),
        zx in SCALE_EMIN..=SCALE_EMAX, ox in SCALE_EMIN..=SCALE_EMAX, on_weights in any::<bool>()
    ) {
        // A block of zeros on either side, with any exponents, leaves the sum as it was.
        let (mut wc, mut we) = random_row(k, wf, s);
        let (mut xc, mut xe) = random_row(k, ElemFormat::Int8, s2);
        let acc = dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap();
        let b = pos % (we.len() + 1);
        let (zc, oc) = if on_weights { (&mut wc, &mut xc) } else { (&mut xc, &mut wc) };
        zc.splice(b * BLOCK..b * BLOCK, [0i8; BLOCK]);
        oc.splice(b * BLOCK..b * BLOCK, [127i8; BLOCK].map(|c| c.min(wf.max_code() as i8)));
        let (ze, oe) = if on_weights { (&mut we, &mut xe) } else { (&mut xe, &mut we) };
        ze.insert(b, zx as i8);
        oe.insert(b, ox as i8);
        prop_assert_eq!(dot(&wc, &we, wf, &xc, &xe, ElemFormat::Int8).unwrap(), acc);
    }

    #[test]
    fn mx_largest_elements_saturate(f in 0..3usize, at in 0..BLOCK, scale in 0f64..110.0,
                                    neg in any::<bool>(), seed in any::<u64>()) {
        // The largest value of a format (max_code · 2^(SCALE_EMAX - f)) and every finite value
        // above it quantize to ±max_code at SCALE_EMAX; two such blocks multiply exactly.
        let f = FORMATS[f];
        let top = f64::from(f.max_code()) * 2f64.powi(SCALE_EMAX - f.frac_bits());
        let sign = if neg { -1.0 } else { 1.0 };
        let big = (top * 2f64.powf(scale)).min(f64::from(f32::MAX)) as f32;
        for v in [top as f32, big, f32::MAX] {
            let (c0, _) = random_row(BLOCK, f, seed);
            let mut block: Vec<f32> = c0.iter().map(|&c| f32::from(c)).collect();
            block[at] = sign * v;
            let mut c = [0i8; BLOCK];
            prop_assert_eq!(quantize_block(&block, f, &mut c).unwrap(), SCALE_EMAX);
            prop_assert_eq!(i32::from(c[at]), sign as i32 * f.max_code());
        }
        let w = [sign as i8 * f.max_code() as i8; BLOCK];
        let x = [127i8; BLOCK];
        let e = [SCALE_EMAX as i8];
        let acc = dot(&w, &e, f, &x, &e, ElemFormat::Int8).unwrap();
        let p = i128::from(w[0]) * 127;
        prop_assert_eq!(acc, block_term(f, p, SCALE_EMAX, SCALE_EMAX));
        let want = (32.0 * p as f64 * 2f64.powi(2 * SCALE_EMAX - f.frac_bits() - 6)) as f32;
        prop_assert_eq!(acc_to_f32(acc), want);
    }
}

#[test]
fn mx_e8m0_scales() {
    // The chip's exponents are the E8M0 bytes 95..=142; 0xFF is NaN; the rest of E8M0 (0 to
    // 94 and 143 to 254, the spec's 2^-127 and 2^127 included) is refused.
    for b in 0..=255u8 {
        let r = scale_of_e8m0(b);
        match b {
            0xff => assert!(r.unwrap_err().to_string().contains("NaN")),
            95..=142 => {
                let x = r.unwrap();
                assert_eq!(x, i32::from(b) - 127);
                assert_eq!(e8m0(x).unwrap(), b);
            }
            _ => assert!(r.is_err(), "E8M0 {b}"),
        }
    }
    assert_eq!(scale_of_e8m0(95).unwrap(), SCALE_EMIN);
    assert_eq!(scale_of_e8m0(142).unwrap(), SCALE_EMAX);
    for x in [-127, SCALE_EMIN - 1, SCALE_EMAX + 1, 127, 128] {
        assert!(e8m0(x).is_err(), "{x}");
    }
    // All-zero blocks (either sign of zero) take SCALE_EMIN and zero codes.
    for z in [0.0f32, -0.0] {
        for f in FORMATS {
            let mut c = [1i8; BLOCK];
            assert_eq!(quantize_block(&[z; BLOCK], f, &mut c).unwrap(), SCALE_EMIN);
            assert!(c.iter().all(|&v| v == 0));
        }
    }
    let v = quantize_activation(&[0.0; 70]).unwrap();
    assert_eq!(v.exps, vec![SCALE_EMIN as i8; 3]);
    assert!(v.codes.iter().all(|&c| c == 0));
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
                )
                .unwrap();
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
    // K = K_MAX is legal; one more element is refused by the quantizer, the product and the
    // dot alike.
    let nb = K_MAX / BLOCK;
    let w = ndarray::Array2::<f32>::from_elem((1, K_MAX), 1.0);
    let m = MxMatrix::quantize(w.view(), ElemFormat::Fp4).unwrap();
    let x = quantize_activation(&vec![1.0; K_MAX]).unwrap();
    let mut out = [0f32];
    matmul(&m, &[x], &mut out).unwrap();
    assert_eq!(out[0], K_MAX as f32);
    let w = ndarray::Array2::<f32>::zeros((1, K_MAX + 1));
    assert!(MxMatrix::quantize(w.view(), ElemFormat::Fp4).is_err());
    let long = MxMatrix {
        rows: 1,
        cols: K_MAX + 1,
        format: ElemFormat::Fp4,
        blocks_per_row: nb + 1,
        codes: vec![0; (nb + 1) * BLOCK],
        exps: vec![SCALE_EMIN as i8; nb + 1],
    };
    let xl = quantize_activation(&vec![0f32; K_MAX + 1]).unwrap();
    assert!(matmul(&long, std::slice::from_ref(&xl), &mut out).is_err());
    let e = dot(
        &long.codes,
        &long.exps,
        ElemFormat::Fp4,
        &xl.codes,
        &xl.exps,
        ElemFormat::Int8,
    );
    assert!(e.unwrap_err().to_string().contains("exceeds"));
    // Codes and exponents that do not match.
    assert!(dot(
        &[0; BLOCK],
        &[0, 0],
        ElemFormat::Int8,
        &[0; BLOCK],
        &[0, 0],
        ElemFormat::Int8
    )
    .is_err());
    assert!(dot(
        &[0; BLOCK],
        &[0],
        ElemFormat::Int8,
        &[0; 2 * BLOCK],
        &[0],
        ElemFormat::Int8
    )
    .is_err());
    // Codes outside their format (an MXFP4 row holding -128) at the largest K would leave the
    // accumulator's width: an error, not a wrapped sum.
    let e = vec![SCALE_EMAX as i8; nb];
    let c = vec![-128i8; K_MAX];
    let r = dot(&c, &e, ElemFormat::Fp4, &c, &e, ElemFormat::Int8);
    assert!(r.unwrap_err().to_string().contains("overflow"));
}
