//! vec_fp_random_operands: random operand pairs through every primitive, each output bit-exact
//! against the chip-mode reference. Each proptest case is a batch of 4,096 pairs drawn from a
//! mix of distributions (uniform bit patterns; exponent differences 0..31; near-cancellation;
//! the bottom and the top of the exponent range; exponent sums at the flush and overflow
//! boundaries of the product; significands with few bits set, which make exact ties; values
//! around the int32 range for the conversion; small integers as the power of two of the
//! scaling); 512
//! cases by default (2,097,152 pairs; `TESSERA_CASES` / `TESSERA_CASE_SCALE` change it). A
//! failing batch shrinks to the pairs that fail and is written under target/verif-failures/.

use proptest::prelude::*;
use tessera_verif::tb::run_property;
use tessera_verif::VecPrims;

use crate::check::run;

/// Pairs per case.
const BATCH: usize = 4096;

fn fp(sign: bool, exp: u32, frac: u32) -> u32 {
    (u32::from(sign) << 31) | ((exp & 0xff) << 23) | (frac & 0x007f_ffff)
}

/// One operand pair of distribution `kind`, built from the random words `r` and `s`.
fn pair(kind: u8, r: u64, s: u64) -> (u32, u32) {
    let (lo, hi) = (r as u32, (r >> 32) as u32);
    let (slo, shi) = (s as u32, (s >> 32) as u32);
    let sa = hi >> 31 == 1;
    let sb = shi >> 31 == 1;
    let in_range = |e: i64| e.clamp(1, 254) as u32;
    match kind {
        // Uniform bit patterns (NaNs, infinities and subnormals included).
        0 | 1 => (lo, slo),
        // Exponent difference 0..31.
        2 => {
            let ea = 1 + hi % 254;
            let d = i64::from(shi % 32);
            let eb = in_range(i64::from(ea) - d);
            (fp(sa, ea, lo), fp(sb, eb, slo))
        }
        // Near-cancellation: b close to a in magnitude.
        3 => {
            let ea = 1 + hi % 254;
            let delta = (slo % 256).wrapping_sub(128);
            let eb = if shi % 8 == 0 {
                in_range(i64::from(ea) - 1)
            } else {
                ea
            };
            (fp(sa, ea, lo), fp(sb, eb, lo.wrapping_add(delta)))
        }
        // Bottom of the range (sums and differences around 2^-126).
        4 => (fp(sa, hi % 8, lo), fp(sb, shi % 8, slo)),
        // Top of the range (overflow of sums and products).
        5 => (fp(sa, 247 + hi % 8, lo), fp(sb, 247 + shi % 8, slo)),
        // Exponent sums at the product's flush (127) or overflow (381) boundary.
        6 => {
            let ea = 1 + hi % 254;
            let target = if shi & 1 == 0 { 127 } else { 381 };
            let eb = in_range(target - i64::from(ea) + i64::from(shi % 5) - 2);
            (fp(sa, ea, lo), fp(sb, eb, slo))
        }
        // Around the int32 range (float to int, with ties at .5), any b.
        8 => (fp(sa, 120 + hi % 40, lo), slo),
        // Any a, b a small int32 (the power of two of the scaling).
        9 => (lo, (i64::from(slo % 601) - 300) as i32 as u32),
        // Few significant bits (exact ties of sums), nearby exponents.
        _ => {
            let ea = 1 + hi % 254;
            let eb = in_range(i64::from(ea) - i64::from(shi % 26));
            let keep = |f: u32, n: u32| f & !((1u32 << n) - 1);
            (
                fp(sa, ea, keep(lo, hi % 23)),
                fp(sb, eb, keep(slo, shi % 23)),
            )
        }
    }
}

fn batch() -> impl Strategy<Value = Vec<(u32, u32)>> {
    prop::collection::vec(
        (0u8..11, any::<u64>(), any::<u64>()).prop_map(|(k, r, s)| pair(k, r, s)),
        BATCH,
    )
}

#[test]
fn vec_fp_random_operands() {
    let pairs = std::cell::Cell::new(0usize);
    run_property("vec_fp_random_operands", 512, batch(), |p| {
        let mut model = VecPrims::new().map_err(|e| e.to_string())?;
        pairs.set(pairs.get() + p.len());
        let (lines, bad) = run(&mut model, p, 20);
        if bad == 0 {
            Ok(())
        } else {
            Err(format!(
                "{bad} of {} pairs differ:\n{}",
                p.len(),
                lines.join("\n")
            ))
        }
    });
    eprintln!(
        "[vec_fp_random_operands] {} pairs, every output bit-exact",
        pairs.get()
    );
}
