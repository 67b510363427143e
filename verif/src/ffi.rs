//! The `cxx` bridge to the C++ model handles (`csrc/bridge.h`). Safe wrappers live in
//! [`crate::model`].

#[cxx::bridge(namespace = "tessera")]
pub(crate) mod bridge {
    unsafe extern "C++" {
        include!("tessera-verif/csrc/bridge.h");

        type TileSim;
        type ProbeSim;

        fn new_tile_sim(model: &str) -> Result<UniquePtr<TileSim>>;
        fn new_probe_sim(model: &str) -> Result<UniquePtr<ProbeSim>>;
        fn model_output_tail() -> String;

        fn set_drive(self: Pin<&mut TileSim>, transactors: bool);
        fn poke_reset(self: Pin<&mut TileSim>, active: bool);
        fn poke_err_clear(self: Pin<&mut TileSim>, value: bool);
        fn poke_cfg(self: Pin<&mut TileSim>, valid: bool, base: u32, rows: u32, k: u32);
        fn poke_wr(self: Pin<&mut TileSim>, valid: bool, addr: u32, data: &[u8]);
        fn poke_act(self: Pin<&mut TileSim>, valid: bool, data: &[u8]);
        fn poke_res_ready(self: Pin<&mut TileSim>, ready: bool);
        fn eval(self: Pin<&mut TileSim>) -> Result<()>;
        fn peek_status(self: &TileSim) -> u32;
        fn peek_res(self: &TileSim, out: &mut [i32]);

        fn reset(self: Pin<&mut TileSim>, cycles: u32) -> Result<()>;
        fn tick(self: Pin<&mut TileSim>, cycles: u64) -> Result<()>;
        fn run_until(
            self: Pin<&mut TileSim>,
            results: u64,
            max_cycles: u64,
            until_idle: bool,
        ) -> Result<u64>;

        fn push_cfg(self: Pin<&mut TileSim>, base: u32, rows: u32, k: u32, gap: u32);
        fn push_wr(self: Pin<&mut TileSim>, addr: u32, data: &[u8], gap: u32);
        fn push_act(self: Pin<&mut TileSim>, data: &[u8], gap: u32);
        fn push_acts(self: Pin<&mut TileSim>, data: &[u8], gap: u32);
        fn set_sink(self: Pin<&mut TileSim>, ready_permille: u32, seed: u64);
        fn pending_inputs(self: &TileSim) -> u64;

        fn log_lens(self: &TileSim, out: &mut [u64]);
        #[allow(clippy::too_many_arguments)]
        fn take_logs(
            self: Pin<&mut TileSim>,
            cfg: &mut [u64],
            wr_meta: &mut [u64],
            wr_data: &mut [u8],
            act_cycles: &mut [u64],
            act_data: &mut [u8],
            res_meta: &mut [u64],
            res_data: &mut [i32],
        ) -> Result<()>;
        fn counters(self: &TileSim, out: &mut [u64]);

        fn has_backdoor(self: &TileSim) -> bool;
        fn backdoor_write(self: Pin<&mut TileSim>, addr: u32, piece: u32, value: u32)
            -> Result<()>;
        fn backdoor_read(self: Pin<&mut TileSim>, addr: u32, piece: u32) -> Result<u32>;

        fn trace_open(self: Pin<&mut TileSim>, path: &str, start: u64, end: u64) -> Result<()>;
        fn trace_close(self: Pin<&mut TileSim>);

        fn bare_matvec_loop(
            self: Pin<&mut TileSim>,
            base: u32,
            rows: u32,
            k: u32,
            acts: &[u8],
            ops: u32,
        ) -> Result<u64>;

        fn set_inputs(self: Pin<&mut ProbeSim>, fire_assert: bool, fire_fatal: bool);
        #[rust_name = "probe_tick"]
        fn tick(self: Pin<&mut ProbeSim>, cycles: u64) -> Result<()>;
        fn count(self: &ProbeSim) -> u32;
        #[rust_name = "probe_trace_open"]
        fn trace_open(self: Pin<&mut ProbeSim>, path: &str, start: u64, end: u64) -> Result<()>;
        #[rust_name = "probe_trace_close"]
        fn trace_close(self: Pin<&mut ProbeSim>);
    }
}

// SAFETY: a model is only ever used through `&mut` from one thread at a time, and every entry
// into C++ sets that thread's Verilator context first, so a model may move between threads.
unsafe impl Send for bridge::TileSim {}
// SAFETY: as above.
unsafe impl Send for bridge::ProbeSim {}
