//! The vector unit's arithmetic primitives (`rtl/vec/`), bit for bit against the chip-mode
//! arithmetic, in one binary (`cargo nextest run -p tessera-verif --test vec`). The model
//! (`verif/bench/vec_prims.sv`) is built once per change of the RTL and loaded by the first
//! test that needs it.

mod check;
mod oracle;
mod vec_fp_corners;
mod vec_fp_random;
