//! vec_units_random_inputs: random inputs through every operation of the sequenced units,
//! bit-exact against the golden model's chip mode. Each proptest case is one operation (exp,
//! recip, silu, divide, sqrt, rsqrt) on a batch of 1,024 inputs drawn from a mix of
//! distributions (uniform bit patterns; the operation's useful range: |x| < 110 for exp and
//! silu, any exponent for the rest; significands with few bits set; quotient exponents at the
//! flush and overflow boundaries), half of the batches with backpressure on the results. 96
//! cases by default (98,304 inputs; `TESSERA_CASES` / `TESSERA_CASE_SCALE` change it). A
//! failing batch shrinks and is written under target/verif-failures/.

use proptest::prelude::*;
use tessera_verif::tb::run_property;
use tessera_verif::{VecPrims, VecUnitOp};

use crate::units::{fp, run, OPS};

/// Inputs per case.
const BATCH: usize = 1024;

/// One input pair of distribution `kind` for `op`, from the random words `r` and `s`.
fn pair(op: VecUnitOp, kind: u8, r: u64, s: u64) -> (u32, u32) {
    let (lo, hi) = (r as u32, (r >> 32) as u32);
    let (slo, shi) = (s as u32, (s >> 32) as u32);
    let sign = hi >> 31 == 1;
    match (kind, op) {
        // Uniform bit patterns (NaNs, infinities and subnormals included).
        (0, _) => (lo, slo),
        // exp and silu: uniform in (-110, 110) and in (-4, 4).
        (1 | 2, VecUnitOp::Exp | VecUnitOp::Silu) => {
            let w = if kind == 1 { 110.0 } else { 4.0 };
            let u = f64::from(lo) / f64::from(u32::MAX);
            ((((2.0 * u - 1.0) * w) as f32).to_bits(), slo)
        }
        // Few significant bits (exact and near-halfway results).
        (3, _) => {
            let keep = |f: u32, n: u32| f & !((1u32 << n) - 1);
            (
                fp(sign, 100 + hi % 56, keep(lo, 12 + hi % 12)),
                fp(false, 100 + shi % 56, keep(slo, 12 + shi % 12)),
            )
        }
        // Divide: exponent differences at the flush (-126) and overflow (+128) boundaries.
        (4, VecUnitOp::Div) => {
            let ea = 1 + hi % 254;
            let diff: i64 = if shi & 1 == 0 { 126 } else { -127 };
            let eb = (i64::from(ea) + diff + i64::from(shi % 5) - 2).clamp(1, 254) as u32;
            (fp(sign, ea, lo), fp(false, eb, slo))
        }
        // Any finite normal value, positive for the roots.
        _ => {
            let s = sign && !matches!(op, VecUnitOp::Sqrt | VecUnitOp::Rsqrt);
            (
                fp(s, 1 + hi % 254, lo),
                fp(shi >> 31 == 1, 1 + shi % 254, slo),
            )
        }
    }
}

fn batch() -> impl Strategy<Value = (usize, bool, Vec<(u32, u32)>)> {
    (0..OPS.len(), any::<bool>()).prop_flat_map(|(i, bp)| {
        let op = OPS[i];
        (
            Just(i),
            Just(bp),
            prop::collection::vec(
                (0u8..6, any::<u64>(), any::<u64>()).prop_map(move |(k, r, s)| pair(op, k, r, s)),
                BATCH,
            ),
        )
    })
}

#[test]
fn vec_units_random_inputs() {
    let inputs = std::cell::Cell::new(0usize);
    run_property("vec_units_random_inputs", 96, batch(), |(i, bp, p)| {
        let mut model = VecPrims::new().map_err(|e| e.to_string())?;
        inputs.set(inputs.get() + p.len());
        let (lines, bad, _) = run(&mut model, OPS[*i], p, *bp, 20);
        if bad == 0 {
            Ok(())
        } else {
            Err(format!(
                "{bad} of {} {:?} inputs differ:\n{}",
                p.len(),
                OPS[*i],
                lines.join("\n")
            ))
        }
    });
    eprintln!(
        "[vec_units_random_inputs] {} inputs, every result bit-exact",
        inputs.get()
    );
}
