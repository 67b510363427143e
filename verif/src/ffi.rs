//! The C interface of the model libraries (`csrc/model_abi.h`, mirrored field by field) and
//! owned handles on the models behind it. Safe wrappers live in [`crate::model`]; building and
//! loading the libraries in [`crate::library`].
//!
//! Safety: a table is only used after its version and size were checked against these
//! structs ([`tile_ops`], [`probe_ops`]), and its library stays loaded for the life of the
//! process. A [`TileModel`] or [`ProbeModel`] owns one model made by its table's `create`,
//! destroys it once (in `Drop`), and passes every buffer as a pointer with its length; the
//! C++ side catches every exception, so nothing unwinds across the boundary.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr::NonNull;

/// `TESSERA_MODEL_ABI_VERSION` of `csrc/model_abi.h`.
pub(crate) const ABI_VERSION: u32 = 2;
/// The function a tile library exports.
pub(crate) const TILE_SYMBOL: &str = "tessera_tile_ops_v1";
/// The function a probe library exports.
pub(crate) const PROBE_SYMBOL: &str = "tessera_probe_ops_v1";
/// The entry function of the vector primitives' library.
pub(crate) const VEC_SYMBOL: &str = "tessera_vec_ops_v1";
/// `TESSERA_VEC_OUTPUTS` of `csrc/model_abi.h`: words per operand pair of `eval_batch`.
pub(crate) const VEC_OUTPUTS: usize = 8;

/// `TesseraModel`: a model inside a library (opaque).
#[repr(C)]
pub(crate) struct Model {
    _private: [u8; 0],
}

/// `TesseraCommonOps`.
#[repr(C)]
pub(crate) struct CommonOps {
    version: u32,
    size: u32,
    last_error: unsafe extern "C" fn(buf: *mut c_char, len: usize) -> usize,
    output_tail: unsafe extern "C" fn(buf: *mut c_char, len: usize) -> usize,
    create: unsafe extern "C" fn() -> *mut Model,
    destroy: unsafe extern "C" fn(m: *mut Model),
    trace_open: unsafe extern "C" fn(
        m: *mut Model,
        path: *const c_char,
        len: usize,
        start: u64,
        end: u64,
    ) -> i32,
    trace_close: unsafe extern "C" fn(m: *mut Model),
}

/// `TesseraTileOps`.
#[repr(C)]
pub(crate) struct TileOps {
    common: CommonOps,
    pub(crate) lanes: u32,
    pub(crate) k_width: u32,
    pub(crate) weight_words: u32,
    pub(crate) act_words: u32,
    pub(crate) backdoor: bool,
    set_drive: unsafe extern "C" fn(*mut Model, bool),
    poke_reset: unsafe extern "C" fn(*mut Model, bool),
    poke_err_clear: unsafe extern "C" fn(*mut Model, bool),
    poke_cfg: unsafe extern "C" fn(*mut Model, bool, u32, u32, u32),
    poke_wr: unsafe extern "C" fn(*mut Model, bool, u32, *const u8, usize),
    poke_act: unsafe extern "C" fn(*mut Model, bool, *const u8, usize),
    poke_res_ready: unsafe extern "C" fn(*mut Model, bool),
    eval: unsafe extern "C" fn(*mut Model) -> i32,
    peek_status: unsafe extern "C" fn(*const Model) -> u32,
    peek_res: unsafe extern "C" fn(*const Model, *mut i32, usize),
    reset: unsafe extern "C" fn(*mut Model, u32) -> i32,
    tick: unsafe extern "C" fn(*mut Model, u64) -> i32,
    run_until: unsafe extern "C" fn(*mut Model, u64, u64, bool, *mut u64) -> i32,
    push_cfg: unsafe extern "C" fn(*mut Model, u32, u32, u32, u32),
    push_wr: unsafe extern "C" fn(*mut Model, u32, *const u8, usize, u32),
    push_act: unsafe extern "C" fn(*mut Model, *const u8, usize, u32),
    push_acts: unsafe extern "C" fn(*mut Model, *const u8, usize, u32),
    set_sink: unsafe extern "C" fn(*mut Model, u32, u64),
    pending_inputs: unsafe extern "C" fn(*const Model) -> u64,
    log_lens: unsafe extern "C" fn(*const Model, *mut u64),
    #[allow(clippy::type_complexity)]
    take_logs: unsafe extern "C" fn(
        *mut Model,
        *const u64,
        *mut u64,
        *mut u64,
        *mut u8,
        *mut u64,
        *mut u8,
        *mut u64,
        *mut i32,
    ) -> i32,
    counters: unsafe extern "C" fn(*const Model, *mut u64),
    backdoor_write: unsafe extern "C" fn(*mut Model, u32, u32, u32) -> i32,
    backdoor_read: unsafe extern "C" fn(*mut Model, u32, u32, *mut u32) -> i32,
    bare_matvec_loop:
        unsafe extern "C" fn(*mut Model, u32, u32, u32, *const u8, usize, u32, *mut u64) -> i32,
}

/// `TesseraProbeOps`.
#[repr(C)]
pub(crate) struct ProbeOps {
    common: CommonOps,
    set_inputs: unsafe extern "C" fn(*mut Model, bool, bool),
    tick: unsafe extern "C" fn(*mut Model, u64) -> i32,
    count: unsafe extern "C" fn(*const Model) -> u32,
}

/// The message of `dlerror`, or `what` when there is none.
#[repr(C)]
pub(crate) struct VecOps {
    common: CommonOps,
    outputs: u32,
    eval_batch: unsafe extern "C" fn(*mut Model, *const u32, *const u32, usize, *mut u32) -> i32,
    run_unit:
        unsafe extern "C" fn(*mut Model, u32, *const u32, *const u32, usize, i32, *mut u32) -> i32,
}

fn dl_error(what: &str) -> String {
    // SAFETY: dlerror returns null or a C string valid until the next dl call on this thread.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        what.to_string()
    } else {
        // SAFETY: non-null, and a C string (above).
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// Loads the library at `path` for the rest of the process (`RTLD_LOCAL`: its symbols, the
/// Verilator runtime's among them, stay its own) and calls its exported `symbol`, which returns
/// the table.
fn load(path: &Path, symbol: &str) -> Result<*const c_void, String> {
    let cpath = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: a path with a NUL byte", path.display()))?;
    let csym = CString::new(symbol).expect("symbol names have no NUL byte");
    // SAFETY: both are C strings. The library is never closed: its tables and models live as
    // long as the process.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error("dlopen failed"));
    }
    // SAFETY: a handle from dlopen and a C string.
    let f = unsafe { libc::dlsym(handle, csym.as_ptr()) };
    if f.is_null() {
        return Err(format!(
            "{}: {}",
            path.display(),
            dl_error(&format!("no symbol {symbol}"))
        ));
    }
    // SAFETY: the library defines `symbol` as `const T* symbol(void)` (the entry file made by
    // crate::library); the cast only names that type.
    let entry: unsafe extern "C" fn() -> *const c_void = unsafe { std::mem::transmute(f) };
    // SAFETY: as above; the function returns a pointer to a static table.
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(format!("{}: {symbol} returned no table", path.display()));
    }
    Ok(table)
}

/// Checks the first fields of a table, which every version keeps.
fn check(common: &CommonOps, size: usize, path: &Path) -> Result<(), String> {
    if common.version != ABI_VERSION || common.size as usize != size {
        return Err(format!(
            "{}: model interface version {} ({} bytes), expected {ABI_VERSION} ({size} bytes)",
            path.display(),
            common.version,
            common.size
        ));
    }
    Ok(())
}

/// The table of the tile library at `path`.
pub(crate) fn tile_ops(path: &Path) -> Result<&'static TileOps, String> {
    let p = load(path, TILE_SYMBOL)?.cast::<CommonOps>();
    // SAFETY: the table is static in a library that stays loaded; its leading fields are
    // common to every version and checked before the rest is read.
    let common = unsafe { &*p };
    check(common, std::mem::size_of::<TileOps>(), path)?;
    // SAFETY: same version and size as TileOps.
    Ok(unsafe { &*p.cast::<TileOps>() })
}

/// The table of the probe library at `path`.
pub(crate) fn probe_ops(path: &Path) -> Result<&'static ProbeOps, String> {
    let p = load(path, PROBE_SYMBOL)?.cast::<CommonOps>();
    // SAFETY: as in tile_ops.
    let common = unsafe { &*p };
    check(common, std::mem::size_of::<ProbeOps>(), path)?;
    // SAFETY: same version and size as ProbeOps.
    Ok(unsafe { &*p.cast::<ProbeOps>() })
}

/// Reads a string through a `(buf, len) -> full length` call.
pub(crate) fn vec_ops(path: &Path) -> Result<&'static VecOps, String> {
    let p = load(path, VEC_SYMBOL)?.cast::<CommonOps>();
    // SAFETY: as in tile_ops.
    let common = unsafe { &*p };
    check(common, std::mem::size_of::<VecOps>(), path)?;
    // SAFETY: same version and size as VecOps.
    let ops = unsafe { &*p.cast::<VecOps>() };
    if ops.outputs as usize != VEC_OUTPUTS {
        return Err(format!(
            "{}: {} outputs per pair, expected {VEC_OUTPUTS}",
            path.display(),
            ops.outputs
        ));
    }
    Ok(ops)
}

fn read_string(f: impl Fn(*mut c_char, usize) -> usize) -> String {
    let n = f(std::ptr::null_mut(), 0);
    let mut buf = vec![0u8; n];
    let m = f(buf.as_mut_ptr().cast(), n);
    buf.truncate(m.min(n));
    String::from_utf8_lossy(&buf).into_owned()
}

impl CommonOps {
    /// The message of the last failed call on this thread.
    fn last_error(&self) -> String {
        // SAFETY: the call writes at most `len` bytes to `buf`.
        read_string(|buf, len| unsafe { (self.last_error)(buf, len) })
    }

    /// The last lines the library's models printed on this thread.
    pub(crate) fn output_tail(&self) -> String {
        // SAFETY: as in last_error.
        read_string(|buf, len| unsafe { (self.output_tail)(buf, len) })
    }

    fn status(&self, rc: i32) -> Result<(), String> {
        if rc == 0 {
            Ok(())
        } else {
            Err(self.last_error())
        }
    }

    fn create(&self) -> Result<NonNull<Model>, String> {
        // SAFETY: no arguments; a null result means an error.
        NonNull::new(unsafe { (self.create)() }).ok_or_else(|| self.last_error())
    }
}

impl TileOps {
    pub(crate) fn common(&self) -> &CommonOps {
        &self.common
    }
}

impl ProbeOps {
    pub(crate) fn common(&self) -> &CommonOps {
        &self.common
    }
}

impl VecOps {
    pub(crate) fn common(&self) -> &CommonOps {
        &self.common
    }
}

/// One tile-shaped model, owned. Every call goes to the model's own library; errors carry the
/// C++ side's message (the SV message and location for SV errors).
pub(crate) struct TileModel {
    ops: &'static TileOps,
    m: NonNull<Model>,
}

// SAFETY: a model is only used through `&mut` (or `&` for reads of its ports) from one thread
// at a time, and every entry into C++ sets that thread's Verilator context first, so a model
// may move between threads.
unsafe impl Send for TileModel {}

// SAFETY (every call in this impl): `self.m` is a live model of `self.ops` (see the module
// documentation); slices are passed with their lengths and only read, or written within them.
impl TileModel {
    pub(crate) fn new(ops: &'static TileOps) -> Result<Self, String> {
        Ok(TileModel {
            ops,
            m: ops.common.create()?,
        })
    }
    fn p(&self) -> *mut Model {
        self.m.as_ptr()
    }
    fn ok(&self, rc: i32) -> Result<(), String> {
        self.ops.common.status(rc)
    }

    pub(crate) fn has_backdoor(&self) -> bool {
        self.ops.backdoor
    }
    pub(crate) fn set_drive(&mut self, transactors: bool) {
        unsafe { (self.ops.set_drive)(self.p(), transactors) }
    }
    pub(crate) fn poke_reset(&mut self, active: bool) {
        unsafe { (self.ops.poke_reset)(self.p(), active) }
    }
    pub(crate) fn poke_err_clear(&mut self, value: bool) {
        unsafe { (self.ops.poke_err_clear)(self.p(), value) }
    }
    pub(crate) fn poke_cfg(&mut self, valid: bool, base: u32, rows: u32, k: u32) {
        unsafe { (self.ops.poke_cfg)(self.p(), valid, base, rows, k) }
    }
    pub(crate) fn poke_wr(&mut self, valid: bool, addr: u32, data: &[u8]) {
        unsafe { (self.ops.poke_wr)(self.p(), valid, addr, data.as_ptr(), data.len()) }
    }
    pub(crate) fn poke_act(&mut self, valid: bool, data: &[u8]) {
        unsafe { (self.ops.poke_act)(self.p(), valid, data.as_ptr(), data.len()) }
    }
    pub(crate) fn poke_res_ready(&mut self, ready: bool) {
        unsafe { (self.ops.poke_res_ready)(self.p(), ready) }
    }
    pub(crate) fn eval(&mut self) -> Result<(), String> {
        self.ok(unsafe { (self.ops.eval)(self.p()) })
    }
    pub(crate) fn peek_status(&self) -> u32 {
        unsafe { (self.ops.peek_status)(self.p()) }
    }
    pub(crate) fn peek_res(&self, out: &mut [i32]) {
        unsafe { (self.ops.peek_res)(self.p(), out.as_mut_ptr(), out.len()) }
    }
    pub(crate) fn reset(&mut self, cycles: u32) -> Result<(), String> {
        self.ok(unsafe { (self.ops.reset)(self.p(), cycles) })
    }
    pub(crate) fn tick(&mut self, cycles: u64) -> Result<(), String> {
        self.ok(unsafe { (self.ops.tick)(self.p(), cycles) })
    }
    pub(crate) fn run_until(
        &mut self,
        results: u64,
        max_cycles: u64,
        until_idle: bool,
    ) -> Result<u64, String> {
        let mut n = 0;
        self.ok(unsafe {
            (self.ops.run_until)(self.p(), results, max_cycles, until_idle, &mut n)
        })?;
        Ok(n)
    }
    pub(crate) fn push_cfg(&mut self, base: u32, rows: u32, k: u32, gap: u32) {
        unsafe { (self.ops.push_cfg)(self.p(), base, rows, k, gap) }
    }
    pub(crate) fn push_wr(&mut self, addr: u32, data: &[u8], gap: u32) {
        unsafe { (self.ops.push_wr)(self.p(), addr, data.as_ptr(), data.len(), gap) }
    }
    pub(crate) fn push_act(&mut self, data: &[u8], gap: u32) {
        unsafe { (self.ops.push_act)(self.p(), data.as_ptr(), data.len(), gap) }
    }
    pub(crate) fn push_acts(&mut self, data: &[u8], gap: u32) {
        unsafe { (self.ops.push_acts)(self.p(), data.as_ptr(), data.len(), gap) }
    }
    pub(crate) fn set_sink(&mut self, ready_permille: u32, seed: u64) {
        unsafe { (self.ops.set_sink)(self.p(), ready_permille, seed) }
    }
    pub(crate) fn pending_inputs(&self) -> u64 {
        unsafe { (self.ops.pending_inputs)(self.p()) }
    }
    pub(crate) fn log_lens(&self) -> [u64; 7] {
        let mut n = [0u64; 7];
        unsafe { (self.ops.log_lens)(self.p(), n.as_mut_ptr()) };
        n
    }
    /// Takes the seven records into buffers of exactly the lengths `log_lens` gave; an error
    /// (nothing taken) if any length differs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn take_logs(
        &mut self,
        cfg: &mut [u64],
        wr_meta: &mut [u64],
        wr_data: &mut [u8],
        act_cycles: &mut [u64],
        act_data: &mut [u8],
        res_meta: &mut [u64],
        res_data: &mut [i32],
    ) -> Result<(), String> {
        let lens = [
            cfg.len(),
            wr_meta.len(),
            wr_data.len(),
            act_cycles.len(),
            act_data.len(),
            res_meta.len(),
            res_data.len(),
        ]
        .map(|n| n as u64);
        self.ok(unsafe {
            (self.ops.take_logs)(
                self.p(),
                lens.as_ptr(),
                cfg.as_mut_ptr(),
                wr_meta.as_mut_ptr(),
                wr_data.as_mut_ptr(),
                act_cycles.as_mut_ptr(),
                act_data.as_mut_ptr(),
                res_meta.as_mut_ptr(),
                res_data.as_mut_ptr(),
            )
        })
    }
    pub(crate) fn counters(&self) -> [u64; 5] {
        let mut v = [0u64; 5];
        unsafe { (self.ops.counters)(self.p(), v.as_mut_ptr()) };
        v
    }
    pub(crate) fn backdoor_write(
        &mut self,
        addr: u32,
        piece: u32,
        value: u32,
    ) -> Result<(), String> {
        self.ok(unsafe { (self.ops.backdoor_write)(self.p(), addr, piece, value) })
    }
    pub(crate) fn backdoor_read(&mut self, addr: u32, piece: u32) -> Result<u32, String> {
        let mut v = 0;
        self.ok(unsafe { (self.ops.backdoor_read)(self.p(), addr, piece, &mut v) })?;
        Ok(v)
    }
    pub(crate) fn trace_open(&mut self, path: &str, start: u64, end: u64) -> Result<(), String> {
        self.ok(unsafe {
            (self.ops.common.trace_open)(self.p(), path.as_ptr().cast(), path.len(), start, end)
        })
    }
    pub(crate) fn trace_close(&mut self) {
        unsafe { (self.ops.common.trace_close)(self.p()) }
    }
    pub(crate) fn bare_matvec_loop(
        &mut self,
        base: u32,
        rows: u32,
        k: u32,
        acts: &[u8],
        ops: u32,
    ) -> Result<u64, String> {
        let mut n = 0;
        self.ok(unsafe {
            (self.ops.bare_matvec_loop)(
                self.p(),
                base,
                rows,
                k,
                acts.as_ptr(),
                acts.len(),
                ops,
                &mut n,
            )
        })?;
        Ok(n)
    }
}

impl Drop for TileModel {
    fn drop(&mut self) {
        // SAFETY: the model is live and not used again.
        unsafe { (self.ops.common.destroy)(self.p()) }
    }
}

/// The assertion probe, owned.
pub(crate) struct ProbeModel {
    ops: &'static ProbeOps,
    m: NonNull<Model>,
}

// SAFETY: as for TileModel.
unsafe impl Send for ProbeModel {}

// SAFETY (every call in this impl): as for TileModel.
impl ProbeModel {
    pub(crate) fn new(ops: &'static ProbeOps) -> Result<Self, String> {
        Ok(ProbeModel {
            ops,
            m: ops.common.create()?,
        })
    }
    fn p(&self) -> *mut Model {
        self.m.as_ptr()
    }
    pub(crate) fn set_inputs(&mut self, fire_assert: bool, fire_fatal: bool) {
        unsafe { (self.ops.set_inputs)(self.p(), fire_assert, fire_fatal) }
    }
    pub(crate) fn tick(&mut self, cycles: u64) -> Result<(), String> {
        self.ops
            .common
            .status(unsafe { (self.ops.tick)(self.p(), cycles) })
    }
    pub(crate) fn count(&self) -> u32 {
        unsafe { (self.ops.count)(self.p()) }
    }
    pub(crate) fn trace_open(&mut self, path: &str, start: u64, end: u64) -> Result<(), String> {
        self.ops.common.status(unsafe {
            (self.ops.common.trace_open)(self.p(), path.as_ptr().cast(), path.len(), start, end)
        })
    }
    pub(crate) fn trace_close(&mut self) {
        unsafe { (self.ops.common.trace_close)(self.p()) }
    }
}

impl Drop for ProbeModel {
    fn drop(&mut self) {
        // SAFETY: the model is live and not used again.
        unsafe { (self.ops.common.destroy)(self.p()) }
    }
}

/// The vector primitives' model, owned.
pub(crate) struct VecModel {
    ops: &'static VecOps,
    m: NonNull<Model>,
}

// SAFETY: as for TileModel.
unsafe impl Send for VecModel {}

// SAFETY (every call in this impl): as for TileModel.
impl VecModel {
    pub(crate) fn new(ops: &'static VecOps) -> Result<Self, String> {
        Ok(VecModel {
            ops,
            m: ops.common.create()?,
        })
    }
    fn p(&self) -> *mut Model {
        self.m.as_ptr()
    }
    /// `out` holds `VEC_OUTPUTS` words per pair of `a` and `b` (same lengths; checked).
    pub(crate) fn eval_batch(
        &mut self,
        a: &[u32],
        b: &[u32],
        out: &mut [u32],
    ) -> Result<(), String> {
        if a.len() != b.len() || out.len() != a.len() * VEC_OUTPUTS {
            return Err(format!(
                "eval_batch: {} and {} operands, {} output words",
                a.len(),
                b.len(),
                out.len()
            ));
        }
        self.ops.common.status(unsafe {
            (self.ops.eval_batch)(self.p(), a.as_ptr(), b.as_ptr(), a.len(), out.as_mut_ptr())
        })
    }
    /// `out` holds 2 words (result, latency) per pair of `a` and `b` (same lengths; checked).
    pub(crate) fn run_unit(
        &mut self,
        op: u32,
        a: &[u32],
        b: &[u32],
        backpressure: bool,
        out: &mut [u32],
    ) -> Result<(), String> {
        if a.len() != b.len() || out.len() != a.len() * 2 {
            return Err(format!(
                "run_unit: {} and {} operands, {} output words",
                a.len(),
                b.len(),
                out.len()
            ));
        }
        self.ops.common.status(unsafe {
            (self.ops.run_unit)(
                self.p(),
                op,
                a.as_ptr(),
                b.as_ptr(),
                a.len(),
                i32::from(backpressure),
                out.as_mut_ptr(),
            )
        })
    }
    pub(crate) fn trace_open(&mut self, path: &str, start: u64, end: u64) -> Result<(), String> {
        self.ops.common.status(unsafe {
            (self.ops.common.trace_open)(self.p(), path.as_ptr().cast(), path.len(), start, end)
        })
    }
    pub(crate) fn trace_close(&mut self) {
        unsafe { (self.ops.common.trace_close)(self.p()) }
    }
}

impl Drop for VecModel {
    fn drop(&mut self) {
        // SAFETY: the model is live and not used again.
        unsafe { (self.ops.common.destroy)(self.p()) }
    }
}
