//! vec_fp_corners: the primitives on their corner cases, every output bit-exact: all pairs of
//! special values (+-0, subnormals of both signs, the smallest normals, the largest finite
//! values, infinities, quiet and signalling NaNs, powers of two, values one ulp apart), then
//! families aimed at one rule each: exponent differences 0..40 in both directions, ties at
//! the rounding bit, cancellation (down into the flush range), products rounding up to
//! 2^-126 (and the ones that do not), products and sums rounding to 2^128, the int32
//! conversion around 2^24 and at the ends of the range, float-to-int ties and saturation, and
//! power-of-two scaling across the whole exponent range.

use tessera_verif::VecPrims;

use crate::check::{assert_all, expected};

/// A binary32 from its fields (`frac` 23 bits).
fn fp(sign: bool, exp: u32, frac: u32) -> u32 {
    (u32::from(sign) << 31) | ((exp & 0xff) << 23) | (frac & 0x007f_ffff)
}

/// A small deterministic generator (xorshift64): the corner families are fixed lists.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn frac(&mut self) -> u32 {
        (self.next() >> 20) as u32 & 0x007f_ffff
    }
    fn bit(&mut self) -> bool {
        self.next() >> 63 == 1
    }
}

fn specials() -> Vec<u32> {
    let pos = [
        0x0000_0000, // +0
        0x0000_0001, // smallest subnormal
        0x0040_0000, // a subnormal
        0x007f_ffff, // largest subnormal
        0x0080_0000, // 2^-126, smallest normal
        0x0080_0001,
        0x00ff_ffff,
        0x0100_0000, // 2^-125
        0x0100_0001,
        0x1f80_0000, // 2^-64
        0x2000_0001,
        0x3300_0000, // 2^-25
        0x3380_0000, // 2^-24
        0x3400_0000, // 2^-23
        0x3f00_0000, // 0.5
        0x3f7f_ffff, // 1 - 2^-24
        0x3f80_0000, // 1
        0x3f80_0001, // 1 + 2^-23
        0x3fc0_0000, // 1.5
        0x3fff_ffff, // 2 - 2^-23
        0x4000_0000, // 2
        0x4040_0000, // 3
        0x4b80_0000, // 2^24
        0x4b80_0001,
        0x5f80_0000, // 2^64
        0x7300_0000, // 2^103, half an ulp of the largest finite value
        0x72ff_ffff,
        0x7e80_0000, // 2^126
        0x7f00_0000, // 2^127
        0x7f7f_fffe,
        0x7f7f_ffff, // largest finite
        0x7f80_0000, // inf
        0x7f80_0001, // signalling NaN
        0x7fbf_ffff, // signalling NaN
        0x7fc0_0000, // quiet NaN
        0x7fc0_1234, // quiet NaN with a payload
    ];
    pos.iter().flat_map(|&v| [v, v | 0x8000_0000]).collect()
}

#[test]
fn vec_fp_corners() {
    let mut model = VecPrims::new().expect("the primitives model builds and loads");
    let mut pairs = Vec::new();

    // Every pair of special values.
    let s = specials();
    for &a in &s {
        for &b in &s {
            pairs.push((a, b));
        }
    }
    assert_all("vec_fp_corners specials", &mut model, &pairs);

    let mut r = Bits(0x2545_f491_4f6c_dd1d);
    let mut fam = Vec::new();

    // Exponent differences 0..40 both ways, random significands and signs, in the middle of
    // the range and at its bottom (where cancellation ends below 2^-126).
    for d in 0..=40u32 {
        for base in [1u32, 2, 3, 30, 100, 127, 200, 254] {
            if base < d + 1 && base < 30 {
                // b's exponent field would not be normal: use a subnormal / zero (DAZ).
                fam.push((fp(r.bit(), base, r.frac()), fp(r.bit(), 0, r.frac())));
                continue;
            }
            for _ in 0..24 {
                let eb = base.saturating_sub(d).max(1);
                let a = fp(r.bit(), base, r.frac());
                let b = fp(r.bit(), eb, r.frac());
                fam.push((a, b));
                fam.push((b, a));
            }
        }
    }

    // Ties at the rounding bit: b is half an ulp of a (or 1.5, or a quarter), both signs,
    // with even and odd last bits of a.
    for _ in 0..400 {
        let e = 26 + (r.next() % 200) as u32;
        let fa = r.frac();
        for (eb, fb) in [(e - 24, 0), (e - 24, 0x40_0000), (e - 25, 0), (e - 23, 0)] {
            for (sa, sb) in [(false, false), (false, true), (true, false), (true, true)] {
                fam.push((fp(sa, e, fa), fp(sb, eb, fb)));
                fam.push((fp(sa, e, fa | 1), fp(sb, eb, fb)));
                fam.push((fp(sa, e, fa & !1), fp(sb, eb, fb)));
            }
        }
    }

    // Cancellation: equal exponents and nearby significands, all the way to an exact zero,
    // also at the bottom of the range (results below 2^-126 flush to a signed zero).
    for _ in 0..2000 {
        let e = match r.next() % 4 {
            0 => 1 + (r.next() % 4) as u32,
            1 => 24 + (r.next() % 4) as u32,
            _ => 1 + (r.next() % 254) as u32,
        };
        let fa = r.frac();
        let delta = (r.next() % 64) as u32;
        let fb = if r.bit() {
            fa.wrapping_add(delta)
        } else {
            fa.wrapping_sub(delta)
        } & 0x007f_ffff;
        let eb = if r.next() % 4 == 0 { e + 1 } else { e };
        fam.push((fp(false, e, fa), fp(true, eb.min(254), fb)));
        fam.push((fp(true, e, fa), fp(true, eb.min(254), fb)));
        fam.push((fp(false, e, fa), fp(false, e, fa)));
    }

    // Products whose 48-bit significand product is 2^47 - 2k^2 (24 ones, then a guard bit of 1
    // for k <= 1448): with exponent fields summing to 127 they round up to 2^-126 or flush;
    // summing to 381 they round up to 2^128 (inf) or stay finite.
    for k in (1u32..=2048).step_by(7).chain([1447, 1448, 1449]) {
        let fa = (0x00ff_ffff - 2 * k + 1) & 0x007f_ffff; // 2^24 - 2k
        let fb = k; // 2^23 + k
        for ea in [1u32, 2, 50, 126] {
            fam.push((fp(r.bit(), ea, fa), fp(r.bit(), 127 - ea, fb)));
        }
        for ea in [127u32, 200, 254] {
            fam.push((fp(r.bit(), ea, fa), fp(r.bit(), 381 - ea, fb)));
        }
    }
    // Exponent sums around both ends with random significands.
    for _ in 0..4000 {
        let ea = 1 + (r.next() % 254) as u32;
        let target = if r.bit() { 127 } else { 381 };
        let off = (r.next() % 5) as i64 - 2;
        let eb = (target as i64 - ea as i64 + off).clamp(1, 254) as u32;
        fam.push((fp(r.bit(), ea, r.frac()), fp(r.bit(), eb, r.frac())));
    }

    // Sums rounding to 2^128: the largest finite value plus about half its ulp.
    for fb in [0u32, 1, 0x7f_ffff, 0x40_0000] {
        for eb in [101u32, 102, 103, 104] {
            fam.push((0x7f7f_ffff, fp(false, eb, fb)));
            fam.push((0xff7f_ffff, fp(true, eb, fb)));
        }
    }

    // int32 conversion (a read as an integer): around 2^k for every k, ties above 2^24, and
    // both ends of the range.
    for k in 0..31u32 {
        for j in -5i64..=5 {
            let v = (1i64 << k) + j;
            for v in [v, -v] {
                if let Ok(v) = i32::try_from(v) {
                    fam.push((v as u32, 0));
                }
            }
        }
    }
    for v in [
        0i32,
        1,
        -1,
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        i32::MAX - 64,
        i32::MAX - 63,
    ] {
        fam.push((v as u32, 0));
    }
    for _ in 0..2000 {
        // Many trailing patterns just above and below the rounding point.
        let shift = (r.next() % 8) as u32;
        let v = ((r.next() as u32) >> shift) as i32;
        fam.push((v as u32, 0));
    }

    // Float to int32 (a): ties at .5 in every binade below 2^23, the ends of the int32 range,
    // and every exponent from 2^-2 to 2^32 with random significands.
    for k in 0..23u32 {
        for j in 0..4u32 {
            let v = ((1u64 << k) + u64::from(j)) as f64 + 0.5;
            for v in [v, -v] {
                fam.push(((v as f32).to_bits(), 0));
            }
        }
    }
    for v in [
        0.5f32,
        1.5,
        2.5,
        -0.5,
        -2.5,
        0.499_999_97,
        2_147_483_520.0,
        2_147_483_648.0,
    ] {
        fam.push((v.to_bits(), 0));
        fam.push(((-v).to_bits(), 0));
    }
    for e in 125..=160u32 {
        for _ in 0..40 {
            fam.push((fp(r.bit(), e, r.frac()), 0));
        }
    }

    // Scaling (a * 2^b): every shift from -300 to 300 of a few values, and the clamp.
    for n in -300i32..=300 {
        for a in [
            0x3f80_0000u32,
            0x0080_0000,
            0x7f7f_ffff,
            0x00ff_ffff,
            0xbfc0_0001,
        ] {
            fam.push((a, n as u32));
        }
    }
    for n in [i32::MIN, -1001, -1000, -999, 999, 1000, 1001, i32::MAX] {
        for a in [
            0x3f80_0000u32,
            0x0000_0001,
            0x8000_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0001,
        ] {
            fam.push((a, n as u32));
        }
    }

    assert_all("vec_fp_corners families", &mut model, &fam);

    // The rules themselves, stated on a few cases (the reference could be wrong too).
    let one = 0x3f80_0000;
    let e = |a: u32, b: u32| expected(a, b);
    assert_eq!(e(one, 0x3380_0000).add, one, "1 + 2^-24 ties to even");
    assert_eq!(e(0x3f80_0001, 0x3380_0000).add, 0x3f80_0002, "odd ties up");
    assert_eq!(
        e(0x0080_0000, 0x8000_0001).add,
        0x0080_0000,
        "DAZ: x + subnormal = x"
    );
    assert_eq!(
        e(0x0100_0000, 0x8080_0001).add,
        0,
        "2^-125 - (2^-126 + ulp) < 2^-126: +0"
    );
    assert_eq!(
        e(0x8100_0000, 0x0080_0001).add,
        0x8000_0000,
        "flushed with its sign"
    );
    assert_eq!(
        e(0x3f7f_fffe, 0x0080_0001).mul,
        0x0080_0000,
        "rounds up to 2^-126"
    );
    assert_eq!(e(0x7f80_0000, 0xff80_0000).add, 0x7fc0_0000, "inf - inf");
    assert_eq!(
        e(0x7f80_0000, 0x0000_0001).mul,
        0x7fc0_0000,
        "inf * DAZ zero"
    );
    assert_eq!(
        e(0x7f7f_ffff, 0x7300_0000).add,
        0x7f80_0000,
        "max + half ulp ties to inf"
    );
    assert_eq!(
        e(0x8000_0000, 0x0000_0000).max,
        0x8000_0000,
        "max(-0, +0) = -0 (first)"
    );
    assert_eq!(e(0x3f80_0000, 0x7fc0_0000).max, one, "max(x, NaN) = x");
    assert_eq!(e(0x0100_0001, 0).i2f, 0x4b80_0000, "2^24 + 1 ties to even");
    assert_eq!(e(0x0100_0003, 0).i2f, 0x4b80_0002, "2^24 + 3 ties up");
    assert_eq!(e(0x8000_0000, 0).i2f, 0xcf00_0000, "-2^31");
    assert_eq!(e(2.5f32.to_bits(), 0).f2i, 2, "2.5 ties to even");
    assert_eq!(e(0x7fc0_0000, 0).f2i, 0, "NaN gives 0");
    assert_eq!(e(0xcf00_0001, 0).f2i, 0x8000_0000, "saturates at i32::MIN");
    assert_eq!(
        e(0x00ff_ffff, -1i32 as u32).ldexp,
        0,
        "halved below 2^-126: flushed"
    );
    assert_eq!(e(0x7f00_0000, 1).ldexp, 0x7f80_0000, "2^127 * 2 = inf");
}
