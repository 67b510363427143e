//! The tile and harness tests, in one binary (`cargo test -p tessera-verif --test tile`; one
//! test: `cargo test -p tessera-verif --test tile tile_random_matvec`). Each module holds what
//! was once a test binary of its own, under the same name, with the same test functions; the
//! models they use are built (or reused) and loaded by the first test that needs each.

mod harness_failure_artifacts;
mod harness_models;
mod harness_sv_errors;
mod tile_busy_long_stream;
mod tile_frontdoor_backdoor;
mod tile_illegal_setup;
mod tile_random_matvec;
mod tile_sim_smoke;
mod tile_stream_assertions;
