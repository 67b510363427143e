//! Safe handles on the Verilated models.
//!
//! A [`Tile`] is one tile-shaped model (the `tile` top in a named configuration, or a bench
//! array with the same ports). It offers plain per-cycle port access (`poke_*`, [`Tile::eval`],
//! [`Tile::status`], [`Tile::tick`]) and, for long runs, C++-side stream transactors: beats are
//! queued with the idle cycles to insert before each ([`Tile::push_cfg`], [`Tile::push_wr`],
//! [`Tile::push_act`]), the result sink applies random backpressure ([`Tile::set_sink`]), and
//! [`Tile::run_until`] clocks the model in C++ while monitors record every handshake with its
//! cycle ([`Tile::take_log`], [`Tile::take_log_into`]). The records of each stream are kept
//! flat ([`Records`]) and read as borrowed events ([`WrEvent`], [`ActEvent`], [`ResEvent`]).
//!
//! Every model owns its `VerilatedContext`; models may live on different threads and several
//! may exist in one process. SV assertion failures, `$error`, `$fatal` and `$finish` end the
//! call that ran the model with [`Error::Sv`] carrying the SV message.
//!
//! Each model is a shared library built at run time by the project's model builder
//! (`tessera_sim::build_library`, see [`crate::library`]): the first [`Tile::new`] of a model in
//! a process builds it or reuses the cached build, then loads it.
//!
//! Waveforms: [`Tile::trace`] opens an FST file for a window of cycles; the environment
//! variables `TESSERA_FST=path.fst` and `TESSERA_FST_WINDOW=start:end` do the same for every
//! model a process creates (the second and later models get `-1`, `-2`, ... before the
//! extension).

use std::cell::RefCell;
use std::iter::Zip;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::slice::ChunksExact;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use crate::ffi::{ProbeModel, TileModel, VecModel, VEC_OUTPUTS};
use crate::library;

/// Parameters of a tile-shaped model, from `rtl/configs.toml` (compiled into `tessera-abi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileConfig {
    /// Model name: `<top>_<configuration>`, e.g. `tile_tiny`.
    pub model: &'static str,
    /// SV top module.
    pub top: &'static str,
    /// Configuration: the section of `rtl/configs.toml`, e.g. `tiny`.
    pub config: &'static str,
    /// MAC lanes (output rows per result beat).
    pub lanes: u32,
    /// int8 elements per activation chunk and per lane of a weight word.
    pub k_width: u32,
    /// Words of the weight memory.
    pub weight_words: u32,
    /// Activation chunks the tile can hold.
    pub act_words: u32,
    /// Whether the weight memory has a DPI backdoor.
    pub backdoor: bool,
    /// Every parameter of the configuration as given to Verilator.
    pub params: &'static [(&'static str, &'static str)],
}

/// Every tile-shaped model: the `tile` top in each configuration of `rtl/configs.toml`
/// (`tile_tiny`, `tile_sim`, ...) and the 16-tile bench array in `sim` (`tile_array16_sim`).
/// A model's library is built on its first use ([`Tile::new`]).
pub static TILE_MODELS: LazyLock<Vec<TileConfig>> = LazyLock::new(library::tile_models);

impl TileConfig {
    /// The configuration of a model, by name.
    pub fn get(model: &str) -> Option<&'static TileConfig> {
        TILE_MODELS.iter().find(|c| c.model == model)
    }
    /// Bytes of one weight word.
    pub fn word_bytes(&self) -> usize {
        (self.lanes * self.k_width) as usize
    }
    /// Result beats of an operation with `rows` rows.
    pub fn groups(&self, rows: u32) -> u32 {
        rows.div_ceil(self.lanes)
    }
    /// Activation chunks of an operation with reduction length `k`.
    pub fn chunks(&self, k: u32) -> u32 {
        k.div_ceil(self.k_width)
    }
    /// Largest legal reduction length.
    pub fn max_k(&self) -> u32 {
        self.act_words * self.k_width
    }
    /// Whether a set-up is legal (the tile's contract).
    pub fn is_legal(&self, base: u32, rows: u32, k: u32) -> bool {
        rows != 0
            && k != 0
            && k <= self.max_k()
            && (base as u64) + (self.groups(rows) as u64) * (self.chunks(k) as u64)
                <= self.weight_words as u64
    }
}

/// Harness errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An SV assertion, `$error`, `$fatal` or `$finish`; the SV message and source location.
    #[error("SV error: {0}")]
    Sv(String),
    /// No model of that name exists.
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    /// The model's library could not be built or loaded.
    #[error("cannot build or load the model {0}")]
    Build(String),
    /// A call the model cannot serve.
    #[error("{0}")]
    Usage(String),
    /// A run did not reach its goal.
    #[error("timeout after {cycles} cycles waiting for {what}")]
    Timeout { cycles: u64, what: String },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Result of harness calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn sv(e: String) -> Error {
    Error::Sv(e)
}

/// Output ports of the tile sampled after the last evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub cfg_ready: bool,
    pub wr_ready: bool,
    pub act_ready: bool,
    pub res_valid: bool,
    pub res_last: bool,
    pub busy: bool,
    pub mac_busy: bool,
    pub err: bool,
}

/// Cycle counters kept by the C++ side (monotonic over the model's life).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Clock cycles run (including reset).
    pub cycles: u64,
    /// Cycles with `mac_busy_o` high.
    pub mac_busy: u64,
    /// Cycles with `busy_o` high.
    pub busy: u64,
    /// Cycles with `err_o` high.
    pub err: u64,
    /// Result beats handed over.
    pub results: u64,
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            cycles: self.cycles - o.cycles,
            mac_busy: self.mac_busy - o.mac_busy,
            busy: self.busy - o.busy,
            err: self.err - o.err,
            results: self.results - o.results,
        }
    }
}

/// An accepted set-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CfgEvent {
    pub cycle: u64,
    pub base: u32,
    pub rows: u32,
    pub k: u32,
}
/// An accepted weight write, borrowed from a [`MonitorLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WrEvent<'a> {
    pub cycle: u64,
    pub addr: u32,
    pub data: &'a [u8],
}
/// An accepted activation chunk, borrowed from a [`MonitorLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ActEvent<'a> {
    pub cycle: u64,
    pub data: &'a [u8],
}
/// A result beat handed over, borrowed from a [`MonitorLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResEvent<'a> {
    pub cycle: u64,
    pub last: bool,
    pub lanes: &'a [i32],
}

/// A kind of monitor record with a payload: the metadata words the C++ monitor stores per
/// record, the payload's element type, and the event that views one record.
pub trait RecordKind {
    /// Metadata words per record.
    const META_WORDS: usize;
    /// Payload element.
    type Elem: Copy + Default + PartialEq + std::fmt::Debug;
    /// One record, borrowed.
    type Event<'a>;
    /// The event of one record from its metadata words and payload.
    fn event<'a>(meta: &[u64], data: &'a [Self::Elem]) -> Self::Event<'a>;
}

/// Weight writes (cycle, address; one weight word), seen as [`WrEvent`].
#[derive(Debug)]
pub enum WrRecord {}
/// Activation chunks (cycle; one chunk), seen as [`ActEvent`].
#[derive(Debug)]
pub enum ActRecord {}
/// Result beats (cycle, last; one int32 per lane), seen as [`ResEvent`].
#[derive(Debug)]
pub enum ResRecord {}

impl RecordKind for WrRecord {
    const META_WORDS: usize = 2;
    type Elem = u8;
    type Event<'a> = WrEvent<'a>;
    fn event<'a>(meta: &[u64], data: &'a [u8]) -> WrEvent<'a> {
        WrEvent {
            cycle: meta[0],
            addr: meta[1] as u32,
            data,
        }
    }
}
impl RecordKind for ActRecord {
    const META_WORDS: usize = 1;
    type Elem = u8;
    type Event<'a> = ActEvent<'a>;
    fn event<'a>(meta: &[u64], data: &'a [u8]) -> ActEvent<'a> {
        ActEvent {
            cycle: meta[0],
            data,
        }
    }
}
impl RecordKind for ResRecord {
    const META_WORDS: usize = 2;
    type Elem = i32;
    type Event<'a> = ResEvent<'a>;
    fn event<'a>(meta: &[u64], lanes: &'a [i32]) -> ResEvent<'a> {
        ResEvent {
            cycle: meta[0],
            last: meta[1] != 0,
            lanes,
        }
    }
}

/// The records of one stream, in the order they were made, stored flat: the metadata words of
/// all records in one buffer and their payloads (all of one nonzero size) in another, so taking
/// a batch from the model copies each buffer once and allocates nothing per record. Records are
/// read as borrowed events ([`Records::iter`], [`Records::get`], `for e in &records`).
pub struct Records<K: RecordKind> {
    meta: Vec<u64>,
    data: Vec<K::Elem>,
}

impl<K: RecordKind> Records<K> {
    /// No records.
    pub fn new() -> Self {
        Records {
            meta: Vec::new(),
            data: Vec::new(),
        }
    }
    /// Number of records.
    pub fn len(&self) -> usize {
        self.meta.len() / K::META_WORDS
    }
    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }
    /// Payload elements per record.
    fn width(&self) -> usize {
        (self.data.len() / self.len().max(1)).max(1)
    }
    /// Record `i`.
    pub fn get(&self, i: usize) -> Option<K::Event<'_>> {
        let (m, w) = (K::META_WORDS, self.width());
        let meta = self.meta.get(i * m..(i + 1) * m)?;
        Some(K::event(meta, self.data.get(i * w..(i + 1) * w)?))
    }
    /// The first record.
    pub fn first(&self) -> Option<K::Event<'_>> {
        self.get(0)
    }
    /// The last record.
    pub fn last(&self) -> Option<K::Event<'_>> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }
    /// The records in order.
    pub fn iter(&self) -> RecordIter<'_, K> {
        RecordIter {
            inner: self
                .meta
                .chunks_exact(K::META_WORDS)
                .zip(self.data.chunks_exact(self.width())),
            kind: PhantomData,
        }
    }
    /// Removes every record, keeping the storage.
    pub fn clear(&mut self) {
        self.meta.clear();
        self.data.clear();
    }
    /// Moves every record of `other` to the end of these, leaving `other` empty (its storage
    /// kept), like [`Vec::append`].
    pub fn append(&mut self, other: &mut Self) {
        self.meta.append(&mut other.meta);
        self.data.append(&mut other.data);
    }
    /// Grows the buffers by `meta` words and `data` elements and returns the new parts, for
    /// the model to fill.
    fn grow(&mut self, meta: usize, data: usize) -> (&mut [u64], &mut [K::Elem]) {
        let (m0, d0) = (self.meta.len(), self.data.len());
        self.meta.resize(m0 + meta, 0);
        self.data.resize(d0 + data, K::Elem::default());
        (&mut self.meta[m0..], &mut self.data[d0..])
    }
}

impl<K: RecordKind> Default for Records<K> {
    fn default() -> Self {
        Self::new()
    }
}
impl<K: RecordKind> Clone for Records<K> {
    fn clone(&self) -> Self {
        Records {
            meta: self.meta.clone(),
            data: self.data.clone(),
        }
    }
}
impl<K: RecordKind> PartialEq for Records<K> {
    fn eq(&self, other: &Self) -> bool {
        self.meta == other.meta && self.data == other.data
    }
}
impl<K: RecordKind> Eq for Records<K> where K::Elem: Eq {}
impl<K: RecordKind> std::fmt::Debug for Records<K>
where
    for<'a> K::Event<'a>: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
impl<K: RecordKind> serde::Serialize for Records<K>
where
    for<'a> K::Event<'a>: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}
impl<'a, K: RecordKind> IntoIterator for &'a Records<K> {
    type Item = K::Event<'a>;
    type IntoIter = RecordIter<'a, K>;
    fn into_iter(self) -> RecordIter<'a, K> {
        self.iter()
    }
}

/// Iterator over [`Records`], yielding borrowed events.
pub struct RecordIter<'a, K: RecordKind> {
    inner: Zip<ChunksExact<'a, u64>, ChunksExact<'a, K::Elem>>,
    kind: PhantomData<K>,
}

impl<K: RecordKind> Clone for RecordIter<'_, K> {
    fn clone(&self) -> Self {
        RecordIter {
            inner: self.inner.clone(),
            kind: PhantomData,
        }
    }
}
impl<'a, K: RecordKind> Iterator for RecordIter<'a, K> {
    type Item = K::Event<'a>;
    fn next(&mut self) -> Option<K::Event<'a>> {
        self.inner.next().map(|(m, d)| K::event(m, d))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
    fn nth(&mut self, n: usize) -> Option<K::Event<'a>> {
        self.inner.nth(n).map(|(m, d)| K::event(m, d))
    }
}
impl<K: RecordKind> DoubleEndedIterator for RecordIter<'_, K> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(m, d)| K::event(m, d))
    }
}
impl<K: RecordKind> ExactSizeIterator for RecordIter<'_, K> {}

/// Everything the monitors recorded, in the order it happened on each stream (see
/// [`Tile::take_log`], [`Tile::take_log_into`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MonitorLog {
    pub cfg: Vec<CfgEvent>,
    pub wr: Records<WrRecord>,
    pub act: Records<ActRecord>,
    pub res: Records<ResRecord>,
}

impl MonitorLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
    /// Removes every record, keeping the storage.
    pub fn clear(&mut self) {
        self.cfg.clear();
        self.wr.clear();
        self.act.clear();
        self.res.clear();
    }
    /// Whether no stream has a record.
    pub fn is_empty(&self) -> bool {
        self.cfg.is_empty() && self.wr.is_empty() && self.act.is_empty() && self.res.is_empty()
    }
}

thread_local! {
    static TRACE_OVERRIDE: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}
static ENV_TRACES: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with every model created on this thread tracing to `path` (used to re-run a
/// failing case with a waveform).
pub fn with_trace<R>(path: &Path, f: impl FnOnce() -> R) -> R {
    TRACE_OVERRIDE.with(|t| *t.borrow_mut() = Some(path.to_path_buf()));
    let r = f();
    TRACE_OVERRIDE.with(|t| *t.borrow_mut() = None);
    r
}

/// The trace a new model should open: the thread's override, else `TESSERA_FST`.
fn trace_request() -> Option<(PathBuf, u64, u64)> {
    let window = std::env::var("TESSERA_FST_WINDOW")
        .ok()
        .and_then(|w| {
            let (a, b) = w.split_once(':')?;
            let a = if a.is_empty() { 0 } else { a.parse().ok()? };
            let b = if b.is_empty() {
                u64::MAX
            } else {
                b.parse().ok()?
            };
            Some((a, b))
        })
        .unwrap_or((0, u64::MAX));
    if let Some(p) = TRACE_OVERRIDE.with(|t| t.borrow().clone()) {
        return Some((p, window.0, window.1));
    }
    let p = PathBuf::from(std::env::var_os("TESSERA_FST")?);
    let n = ENV_TRACES.fetch_add(1, Ordering::Relaxed);
    let p = if n == 0 {
        p
    } else {
        let stem = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let ext = p.extension().map(|e| e.to_string_lossy().into_owned());
        let name = match ext {
            Some(e) => format!("{stem}-{n}.{e}"),
            None => format!("{stem}-{n}"),
        };
        p.with_file_name(name)
    };
    Some((p, window.0, window.1))
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(d) = path.parent() {
        if !d.as_os_str().is_empty() {
            std::fs::create_dir_all(d).map_err(|source| Error::Io {
                path: d.to_path_buf(),
                source,
            })?;
        }
    }
    Ok(())
}

/// A tile-shaped model.
pub struct Tile {
    sim: TileModel,
    cfg: &'static TileConfig,
    trace: Option<PathBuf>,
    /// The set-up records' words between the model and [`MonitorLog::cfg`].
    cfg_words: Vec<u64>,
}

impl std::fmt::Debug for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tile")
            .field("model", &self.cfg.model)
            .finish()
    }
}

impl Tile {
    /// Creates the model `name` (see [`TILE_MODELS`]), resets it for 4 cycles and opens a
    /// waveform if one was requested through the environment or [`with_trace`]. The first
    /// model of a name in a process builds (minutes, once per change of the RTL) or reuses its
    /// library and loads it.
    pub fn new(name: &str) -> Result<Self> {
        let cfg = TileConfig::get(name).ok_or_else(|| Error::UnknownModel(name.into()))?;
        let sim = TileModel::new(library::tile_ops(cfg)?).map_err(sv)?;
        let mut t = Tile {
            sim,
            cfg,
            trace: None,
            cfg_words: Vec::new(),
        };
        if let Some((p, a, b)) = trace_request() {
            t.trace(&p, a, b)?;
        }
        t.reset()?;
        Ok(t)
    }
    /// The `tile` top in its `tiny` configuration.
    pub fn tiny() -> Result<Self> {
        Self::new("tile_tiny")
    }
    /// The `tile` top in its `sim` configuration.
    pub fn sim() -> Result<Self> {
        Self::new("tile_sim")
    }
    /// The model's parameters.
    pub fn config(&self) -> &'static TileConfig {
        self.cfg
    }
    /// The open waveform, if any.
    pub fn trace_path(&self) -> Option<&Path> {
        self.trace.as_deref()
    }
    /// Writes an FST waveform of cycles `[start, end)` to `path`.
    pub fn trace(&mut self, path: &Path, start: u64, end: u64) -> Result<()> {
        create_parent(path)?;
        self.sim
            .trace_open(&path.to_string_lossy(), start, end)
            .map_err(sv)?;
        self.trace = Some(path.to_path_buf());
        Ok(())
    }
    /// Flushes and closes the waveform.
    pub fn close_trace(&mut self) {
        self.sim.trace_close();
    }

    /// Holds reset for 4 cycles with all stream inputs idle.
    pub fn reset(&mut self) -> Result<()> {
        self.sim.reset(4).map_err(sv)
    }
    /// Runs `n` cycles (transactors active unless [`Tile::set_drive`] turned them off).
    pub fn tick(&mut self, n: u64) -> Result<()> {
        self.sim.tick(n).map_err(sv)
    }
    /// Runs until `results` more result beats were handed over (and, with `until_idle`, the
    /// queues are empty and the tile is idle), at most `max_cycles`. Returns the cycles run.
    pub fn run_until(&mut self, results: u64, max_cycles: u64, until_idle: bool) -> Result<u64> {
        let before = self.counters().results;
        let n = self
            .sim
            .run_until(results, max_cycles, until_idle)
            .map_err(sv)?;
        if self.counters().results - before < results
            || (until_idle && (self.pending_inputs() > 0 || self.status().busy))
        {
            return Err(Error::Timeout {
                cycles: n,
                what: format!(
                    "{results} result beats{}",
                    if until_idle { " and idle" } else { "" }
                ),
            });
        }
        Ok(n)
    }
    /// Runs until every queued input was accepted and the tile is idle.
    pub fn run_until_idle(&mut self, max_cycles: u64) -> Result<u64> {
        self.run_until(0, max_cycles, true)
    }

    /// Hands the stream inputs to the transactors (`true`, default) or to the `poke_*` calls.
    pub fn set_drive(&mut self, transactors: bool) {
        self.sim.set_drive(transactors);
    }
    /// Drives `rst_ni` low (`true`) or high.
    pub fn poke_reset(&mut self, active: bool) {
        self.sim.poke_reset(active);
    }
    /// Drives `err_clear_i`.
    pub fn poke_err_clear(&mut self, value: bool) {
        self.sim.poke_err_clear(value);
    }
    /// Drives the set-up stream.
    pub fn poke_cfg(&mut self, valid: bool, base: u32, rows: u32, k: u32) {
        self.sim.poke_cfg(valid, base, rows, k);
    }
    /// Drives the weight-write stream (`data`: one word, lane-major bytes).
    pub fn poke_wr(&mut self, valid: bool, addr: u32, data: &[u8]) {
        self.sim.poke_wr(valid, addr, data);
    }
    /// Drives the activation stream (`data`: one chunk of int8 as bytes).
    pub fn poke_act(&mut self, valid: bool, data: &[u8]) {
        self.sim.poke_act(valid, data);
    }
    /// Drives `res_ready_i`.
    pub fn poke_res_ready(&mut self, ready: bool) {
        self.sim.poke_res_ready(ready);
    }
    /// Evaluates the combinational logic after pokes.
    pub fn eval(&mut self) -> Result<()> {
        self.sim.eval().map_err(sv)
    }
    /// The output ports.
    pub fn status(&self) -> Status {
        let s = self.sim.peek_status();
        Status {
            cfg_ready: s & 1 != 0,
            wr_ready: s & 2 != 0,
            act_ready: s & 4 != 0,
            res_valid: s & 8 != 0,
            res_last: s & 16 != 0,
            busy: s & 32 != 0,
            mac_busy: s & 64 != 0,
            err: s & 128 != 0,
        }
    }
    /// `res_data_o` as int32 lanes.
    pub fn res_data(&self) -> Vec<i32> {
        let mut v = vec![0; self.cfg.lanes as usize];
        self.sim.peek_res(&mut v);
        v
    }

    /// Queues a set-up beat after `gap` idle cycles.
    pub fn push_cfg(&mut self, base: u32, rows: u32, k: u32, gap: u32) {
        self.sim.push_cfg(base, rows, k, gap);
    }
    /// Queues a weight write after `gap` idle cycles.
    pub fn push_wr(&mut self, addr: u32, data: &[u8], gap: u32) {
        assert_eq!(data.len(), self.cfg.word_bytes(), "weight word size");
        self.sim.push_wr(addr, data, gap);
    }
    /// Queues an activation chunk after `gap` idle cycles.
    pub fn push_act(&mut self, data: &[u8], gap: u32) {
        assert_eq!(
            data.len(),
            self.cfg.k_width as usize,
            "activation chunk size"
        );
        self.sim.push_act(data, gap);
    }
    /// Queues consecutive activation chunks (`data` holds a whole number of `KWidth`-byte
    /// chunks), `gap` idle cycles before each: one call for a whole vector.
    pub fn push_acts(&mut self, data: &[u8], gap: u32) {
        assert_eq!(
            data.len() % self.cfg.k_width as usize,
            0,
            "activation chunks size"
        );
        self.sim.push_acts(data, gap);
    }
    /// Result sink: `res_ready_i` high in `ready_permille`/1000 of cycles, drawn from `seed`.
    pub fn set_sink(&mut self, ready_permille: u32, seed: u64) {
        self.sim.set_sink(ready_permille, seed);
    }
    /// Beats queued and not yet accepted.
    pub fn pending_inputs(&self) -> u64 {
        self.sim.pending_inputs()
    }
    /// Cycle counters.
    pub fn counters(&self) -> Counters {
        let v = self.sim.counters();
        Counters {
            cycles: v[0],
            mac_busy: v[1],
            busy: v[2],
            err: v[3],
            results: v[4],
        }
    }
    /// Takes what the monitors recorded since the last call.
    pub fn take_log(&mut self) -> MonitorLog {
        let mut log = MonitorLog::new();
        self.take_log_into(&mut log);
        log
    }
    /// Appends what the monitors recorded since the last call to `log` (clear it first to hold
    /// only the new records). Each stream's records arrive in one copy; once `log` has grown to
    /// the size of a batch, nothing is allocated: the way to take records product by product.
    pub fn take_log_into(&mut self, log: &mut MonitorLog) {
        let n = self.sim.log_lens().map(|v| v as usize);
        self.cfg_words.clear();
        self.cfg_words.resize(n[0], 0);
        let (wm, wd) = log.wr.grow(n[1], n[2]);
        let (am, ad) = log.act.grow(n[3], n[4]);
        let (rm, rd) = log.res.grow(n[5], n[6]);
        // The lengths were read just above with no cycle in between.
        self.sim
            .take_logs(&mut self.cfg_words, wm, wd, am, ad, rm, rd)
            .expect("monitor log lengths are stable between two calls");
        log.cfg
            .extend(self.cfg_words.chunks_exact(4).map(|c| CfgEvent {
                cycle: c[0],
                base: c[1] as u32,
                rows: c[2] as u32,
                k: c[3] as u32,
            }));
    }

    fn check_word(&self, addr: u32) -> Result<()> {
        if !self.sim.has_backdoor() {
            return Err(Error::Usage(format!("{} has no backdoor", self.cfg.model)));
        }
        if addr >= self.cfg.weight_words {
            return Err(Error::Usage(format!(
                "backdoor address {addr} beyond {} words",
                self.cfg.weight_words
            )));
        }
        Ok(())
    }
    /// Writes one weight word through the DPI backdoor (no clock cycles).
    pub fn backdoor_write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.check_word(addr)?;
        if data.len() != self.cfg.word_bytes() {
            return Err(Error::Usage("backdoor word size".into()));
        }
        for (p, c) in data.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            self.sim
                .backdoor_write(addr, p as u32, u32::from_le_bytes(w))
                .map_err(sv)?;
        }
        Ok(())
    }
    /// Reads one weight word through the DPI backdoor.
    pub fn backdoor_read(&mut self, addr: u32) -> Result<Vec<u8>> {
        self.check_word(addr)?;
        let n = self.cfg.word_bytes();
        let mut out = Vec::with_capacity(n + 3);
        for p in 0..n.div_ceil(4) {
            let v = self.sim.backdoor_read(addr, p as u32).map_err(sv)?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.truncate(n);
        Ok(out)
    }

    /// Benchmark reference: `ops` back-to-back operations with the given activation bytes,
    /// always-ready sink, driven by a plain C++ loop. Returns the cycles run.
    pub fn bare_matvec_loop(
        &mut self,
        base: u32,
        rows: u32,
        k: u32,
        acts: &[u8],
        ops: u32,
    ) -> Result<u64> {
        self.sim
            .bare_matvec_loop(base, rows, k, acts, ops)
            .map_err(sv)
    }
}

impl Drop for Tile {
    fn drop(&mut self) {
        self.close_trace();
    }
}

/// The harness's assertion probe (`verif/bench/assert_probe.sv`).
pub struct Probe {
    sim: ProbeModel,
}

impl Probe {
    /// Creates the probe model.
    pub fn new() -> Result<Self> {
        let mut p = Probe {
            sim: ProbeModel::new(library::probe_ops()?).map_err(sv)?,
        };
        if let Some((path, a, b)) = trace_request() {
            p.trace(&path, a, b)?;
        }
        Ok(p)
    }
    /// Drives the probe's inputs: fail its assertion, or call `$fatal`, on the next edges.
    pub fn set_inputs(&mut self, fire_assert: bool, fire_fatal: bool) {
        self.sim.set_inputs(fire_assert, fire_fatal);
    }
    /// Runs `n` cycles.
    pub fn tick(&mut self, n: u64) -> Result<()> {
        self.sim.tick(n).map_err(sv)
    }
    /// Cycles counted by the probe since reset.
    pub fn count(&self) -> u32 {
        self.sim.count()
    }
    /// Writes an FST waveform of cycles `[start, end)` to `path`.
    pub fn trace(&mut self, path: &Path, start: u64, end: u64) -> Result<()> {
        create_parent(path)?;
        self.sim
            .trace_open(&path.to_string_lossy(), start, end)
            .map_err(sv)
    }
    /// Flushes and closes the waveform.
    pub fn close_trace(&mut self) {
        self.sim.trace_close();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.close_trace();
    }
}

/// The outputs of the vector unit's primitives for one operand pair `(a, b)`
/// (`verif/bench/vec_prims.sv`), as binary32 bit patterns unless said otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VecOut {
    /// `a + b` (`vec_fp_add`).
    pub add: u32,
    /// `a - b` (`vec_fp_add` with `sub_i`).
    pub sub: u32,
    /// `a * b` (`vec_fp_mul`).
    pub mul: u32,
    /// `a` read as an int32, converted (`vec_i2f`).
    pub i2f: u32,
    /// `b` if `b > a`, else `a` (`vec_fp_cmp`).
    pub max: u32,
    /// `a < b`, `a == b`, `a > b`, unordered in bits 0..3 (`vec_fp_cmp`).
    pub cmp: u32,
    /// `a * 2^b`, `b` read as an int32 (`vec_fp_ldexp`).
    pub ldexp: u32,
    /// `a` rounded half to even to an int32, saturating; NaN gives 0 (`vec_f2i`).
    pub f2i: u32,
}

/// A sequenced unit of the vector unit's test top and its operation (`unit_op_i`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VecUnitOp {
    /// `e^a` (`vec_fn`).
    Exp = 0,
    /// `1/a` by the seed and Newton steps (`vec_fn`).
    Recip = 1,
    /// `a · recip(1 + e^-a)` (`vec_fn`).
    Silu = 2,
    /// `a / b`, correctly rounded (`vec_fp_divsqrt`).
    Div = 4,
    /// `sqrt(a)`, correctly rounded (`vec_fp_divsqrt`).
    Sqrt = 5,
    /// `1 / sqrt(a)`: sqrt, then a division (`vec_fp_divsqrt`).
    Rsqrt = 6,
}

/// One result of a sequenced unit: its bits and the cycles from request to result handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecUnitOut {
    pub y: u32,
    pub cycles: u32,
}

/// The vector unit's arithmetic (`rtl/vec/`) behind one test top: the combinational primitives
/// and the sequenced function units.
pub struct VecPrims {
    sim: VecModel,
    out: Vec<u32>,
}

impl VecPrims {
    /// Creates the model (building or reusing its library on first use in the process).
    pub fn new() -> Result<Self> {
        let mut p = VecPrims {
            sim: VecModel::new(library::vec_ops()?).map_err(sv)?,
            out: Vec::new(),
        };
        if let Some((path, a, b)) = trace_request() {
            create_parent(&path)?;
            p.sim
                .trace_open(&path.to_string_lossy(), a, b)
                .map_err(sv)?;
        }
        Ok(p)
    }
    /// Evaluates every pair `(a[i], b[i])`; panics if the lengths differ.
    pub fn eval(&mut self, a: &[u32], b: &[u32]) -> Result<Vec<VecOut>> {
        assert_eq!(a.len(), b.len(), "VecPrims::eval: operand counts differ");
        self.out.resize(a.len() * VEC_OUTPUTS, 0);
        self.sim.eval_batch(a, b, &mut self.out).map_err(sv)?;
        Ok(self
            .out
            .chunks_exact(VEC_OUTPUTS)
            .map(|o| VecOut {
                add: o[0],
                sub: o[1],
                mul: o[2],
                i2f: o[3],
                max: o[4],
                cmp: o[5],
                ldexp: o[6],
                f2i: o[7],
            })
            .collect())
    }
    /// Streams every pair `(a[i], b[i])` through the unit of `op` (`b` is read by `Div` only)
    /// and returns the results in order; with `backpressure` the result's ready is low on about
    /// one cycle in three. Panics if the lengths differ.
    pub fn run_unit(
        &mut self,
        op: VecUnitOp,
        a: &[u32],
        b: &[u32],
        backpressure: bool,
    ) -> Result<Vec<VecUnitOut>> {
        assert_eq!(
            a.len(),
            b.len(),
            "VecPrims::run_unit: operand counts differ"
        );
        self.out.resize(a.len() * 2, 0);
        self.sim
            .run_unit(op as u32, a, b, backpressure, &mut self.out)
            .map_err(sv)?;
        Ok(self
            .out
            .chunks_exact(2)
            .map(|o| VecUnitOut {
                y: o[0],
                cycles: o[1],
            })
            .collect())
    }
}

impl Drop for VecPrims {
    fn drop(&mut self) {
        self.sim.trace_close();
    }
}

/// The last lines the models printed on this thread (diagnostics): each model library's, in
/// the order the libraries were loaded.
pub fn output_tail() -> String {
    library::output_tail()
}
