//! The vector unit's arithmetic (`rtl/vec/`: primitives and sequenced units), bit for bit
//! against the golden model's chip mode, in one binary (`cargo nextest run -p tessera-verif --test vec`). The model
//! (`verif/bench/vec_prims.sv`) is built once per change of the RTL and loaded by the first
//! test that needs it.

mod check;
mod units;
mod vec_fp_corners;
mod vec_fp_random;
mod vec_units_corners;
mod vec_units_random;
