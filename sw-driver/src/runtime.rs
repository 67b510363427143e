//! The runtime: [`RtlEngine`] runs the golden model's integer products on the chip.
//!
//! It implements `tessera_golden::quant::MatVecEngine`, so `Llama::forward` runs unchanged with
//! every int8 matrix-vector product on the chip and every float operation in the golden model's
//! own code: the logits equal the golden W8A8 pass bit for bit whenever every product is exact.
//! Every product is also computed by `tessera_golden::quant::matvec_i32` and compared.
//!
//! Per token and operation group (`[q, k, v]`, `[o]`, `[gate, up]`, `[down]`, `[lm_head]`) the
//! engine sends one program: VBUF_LOAD of the int8 input at ABUF chunk 0, one MATVEC per matrix
//! (results side by side in RBUF from word 0), PERF_SNAPSHOT, and one VBUF_READ of all results.
//! A `CTRL.snapshot` just before the program and the PERF_SNAPSHOT bound the group's cycles and
//! MAC-busy tile-cycles. A group whose results exceed RBUF is split into batches that fit.

use std::collections::HashMap;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use tessera_golden::model::{KvCache, Llama};
use tessera_golden::quant::{matvec_i32, MatVecEngine, MatrixId, MatrixKind, QuantMatrix};

use crate::device::{Device, PerfCounters};
use crate::error::{Error, Location, Result};
use crate::mapper::{group_name, id_name, model_matrices, Mapping};
use crate::program::Descriptor;
use crate::transport::Transport;

/// How weights reach the tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Backdoor when the transport is a simulator, front door otherwise.
    Auto,
    /// Simulation backdoor writes of the weight images (and, in the token runtime, of the data
    /// memory's constants).
    Backdoor,
    /// WEIGHT_LOAD descriptors on the command stream.
    FrontDoor,
    /// Nothing: the chip's weights are in ROM (`CFG_WEIGHT_ROM`), and the digest of the model's
    /// weight images matched the chip's `WEIGHT_ROM_DIGEST`. Chosen by the token runtime on a
    /// ROM chip whatever was asked.
    Rom,
}

/// What a weight load did.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadReport {
    /// `Backdoor` or `FrontDoor`.
    pub mode: LoadMode,
    pub matrices: usize,
    /// int8 weights of the matrices.
    pub weights: u64,
    /// Bytes written to the tiles (weights plus padding).
    pub image_bytes: u64,
    pub seconds: f64,
    /// Device cycles the load took (simulation only).
    pub cycles: Option<u64>,
}

/// Counts of one matrix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatrixStats {
    pub id: Option<MatrixId>,
    pub rows: usize,
    pub cols: usize,
    pub lg_pk: u32,
    /// Matrix-vector products run (one per token).
    pub products: u64,
    /// Products equal to the golden integer product in every row.
    pub matches: u64,
    /// Products with at least one differing row.
    pub mismatches: u64,
    /// Rows that differed, over all products.
    pub mismatched_rows: u64,
    /// Useful MACs (`rows × cols` per product).
    pub useful_macs: u64,
    /// Tile MAC steps of one product (`G·C`).
    pub steps_per_product: u64,
    /// Cycles attributed to this matrix: its batch's cycles in proportion to MAC steps.
    pub cycles: f64,
}

/// Counters of one operation group (`qkv`, `o`, `gate_up`, `down`, `lm_head`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpStats {
    pub name: &'static str,
    /// Programs run (tokens × batches).
    pub programs: u64,
    /// Counter differences summed over the programs.
    pub perf: PerfCounters,
    /// Host wall-clock time of the programs (sending, simulating or computing, reading back,
    /// checking).
    pub seconds: f64,
}

/// The first differing output of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct FirstMismatch {
    pub loc: Location,
    pub token: usize,
    pub chip: i32,
    pub golden: i32,
}

/// Everything a run counted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    /// In mapping order.
    pub matrices: Vec<MatrixStats>,
    /// In order of first use.
    pub ops: Vec<OpStats>,
    /// Sum over the programs.
    pub total: PerfCounters,
    pub first_mismatch: Option<FirstMismatch>,
    /// Host wall-clock time in the engine (reloads included).
    pub seconds: f64,
    /// Matrices loaded during the run because another matrix occupied their weight words
    /// ([`crate::mapper::MapOptions::share_layers`], or weights never loaded).
    pub reloads: u64,
    /// Host time of those loads.
    pub reload_seconds: f64,
}

impl RunStats {
    pub fn products(&self) -> u64 {
        self.matrices.iter().map(|m| m.products).sum()
    }

    pub fn mismatches(&self) -> u64 {
        self.matrices.iter().map(|m| m.mismatches).sum()
    }

    pub fn useful_macs(&self) -> u64 {
        self.matrices.iter().map(|m| m.useful_macs).sum()
    }

    /// MAC-busy tile-cycles ÷ (tiles × cycles), as `docs/architecture.md` defines it.
    pub fn mac_busy_utilization(&self, tiles: usize) -> f64 {
        if self.total.cycles == 0 {
            return 0.0;
        }
        self.total.mac_busy as f64 / (tiles as f64 * self.total.cycles as f64)
    }

    /// Useful MACs ÷ (MACs per cycle × cycles): padding counts as waste.
    pub fn mac_utilization(&self, macs_per_cycle: usize) -> f64 {
        if self.total.cycles == 0 {
            return 0.0;
        }
        self.useful_macs() as f64 / (macs_per_cycle as f64 * self.total.cycles as f64)
    }

    /// Stats summed over the matrices of one kind (all layers).
    pub fn by_kind(&self, kind: MatrixKind) -> MatrixStats {
        let mut s = MatrixStats::default();
        for m in self
            .matrices
            .iter()
            .filter(|m| m.id.map(|i| i.kind) == Some(kind))
        {
            s.rows = m.rows;
            s.cols = m.cols;
            s.lg_pk = m.lg_pk;
            s.products += m.products;
            s.matches += m.matches;
            s.mismatches += m.mismatches;
            s.mismatched_rows += m.mismatched_rows;
            s.useful_macs += m.useful_macs;
            s.steps_per_product = m.steps_per_product;
            s.cycles += m.cycles;
        }
        s
    }
}

/// The golden model's integer products on a Tessera chip.
pub struct RtlEngine<T: Transport> {
    dev: Device<T>,
    map: Mapping,
    stats: RunStats,
    error: Option<Error>,
    /// Which matrix each weight-word base holds.
    resident: HashMap<usize, MatrixId>,
    /// Compare every product with `matvec_i32` (on by default).
    pub check: bool,
    /// Stop at the first mismatch with [`Error::Mismatch`] (on by default); otherwise count
    /// it and go on with the chip's results.
    pub fail_on_mismatch: bool,
    /// Compute the golden products on a host thread while the chip runs (off by default: on a
    /// busy 2-core host the check's threads slow the simulator more than they save).
    pub overlap_check: bool,
}

impl<T: Transport> RtlEngine<T> {
    /// An engine for `map` on `dev`; soft-resets the chip (clearing its counters and error).
    pub fn new(mut dev: Device<T>, map: Mapping) -> Result<RtlEngine<T>> {
        let mut want = map.cfg.clone();
        want.name = dev.config().name.clone();
        if &want != dev.config() {
            return Err(Error::UnsupportedConfig(format!(
                "the mapping is for configuration `{}` ({:?}), the chip is {:?}",
                map.cfg.name,
                map.cfg,
                dev.config()
            )));
        }
        dev.soft_reset()?;
        dev.clear_interrupts()?;
        let stats = RunStats {
            matrices: map
                .placements
                .iter()
                .map(|p| MatrixStats {
                    id: Some(p.id),
                    rows: p.rows,
                    cols: p.cols,
                    lg_pk: p.lg_pk,
                    steps_per_product: p.words() as u64,
                    ..MatrixStats::default()
                })
                .collect(),
            ..RunStats::default()
        };
        Ok(RtlEngine {
            dev,
            map,
            stats,
            error: None,
            resident: HashMap::new(),
            check: true,
            fail_on_mismatch: true,
            overlap_check: std::env::var_os("TESSERA_OVERLAP_CHECK").is_some(),
        })
    }

    pub fn device(&mut self) -> &mut Device<T> {
        &mut self.dev
    }

    pub fn mapping(&self) -> &Mapping {
        &self.map
    }

    /// The mapping, writable (for fault injection in tests).
    pub fn mapping_mut(&mut self) -> &mut Mapping {
        &mut self.map
    }

    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Zeroes the counts (keeps the matrices).
    pub fn reset_stats(&mut self) {
        for m in &mut self.stats.matrices {
            *m = MatrixStats {
                id: m.id,
                rows: m.rows,
                cols: m.cols,
                lg_pk: m.lg_pk,
                steps_per_product: m.steps_per_product,
                ..MatrixStats::default()
            };
        }
        self.stats.ops.clear();
        self.stats.total = PerfCounters::default();
        self.stats.first_mismatch = None;
        self.stats.seconds = 0.0;
        self.stats.reloads = 0;
        self.stats.reload_seconds = 0.0;
    }

    /// The typed error behind the last failed `matvec` (the golden model only sees a message).
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Loads the weights of every mapped matrix of `model` (with shared layers: layer 0 and
    /// `lm_head`; the other layers load when they run).
    pub fn load_model(&mut self, model: &Llama, mode: LoadMode) -> Result<LoadReport> {
        let mats = model_matrices(model)?;
        let shared = self.map.shared_layers;
        let mats: Vec<_> = mats
            .into_iter()
            .filter(|(id, _)| self.map.get(id).is_some())
            .filter(|(id, _)| !shared || id.layer.map_or(true, |l| l == 0))
            .collect();
        self.load_weights(&mats, mode)
    }

    /// Loads `matrices` (each must be mapped) by backdoor or front door, from the same images.
    pub fn load_weights(
        &mut self,
        matrices: &[(MatrixId, &QuantMatrix)],
        mode: LoadMode,
    ) -> Result<LoadReport> {
        let t0 = Instant::now();
        let mode = match mode {
            LoadMode::Auto if self.dev.transport().sim().is_some() => LoadMode::Backdoor,
            LoadMode::Auto => LoadMode::FrontDoor,
            LoadMode::Rom => {
                return Err(Error::Config(
                    "the matrix-vector runtime loads its weights (LoadMode::Rom is the token \
                     runtime's)"
                        .into(),
                ))
            }
            m => m,
        };
        let cfg = self.map.cfg.clone();
        let c0 = self.dev.transport().sim().map(|s| s.cycles()).transpose()?;
        let wb = cfg.word_bytes();
        let mut report = LoadReport {
            mode,
            matrices: matrices.len(),
            weights: 0,
            image_bytes: 0,
            seconds: 0.0,
            cycles: None,
        };
        for (id, q) in matrices {
            let p = self
                .map
                .get(id)
                .ok_or_else(|| Error::Config(format!("{} is not mapped", id_name(id))))?
                .clone();
            let loc = Location {
                layer: id.layer,
                matrix: id.kind,
                tile: None,
                row: None,
            };
            if (q.rows, q.cols) != (p.rows, p.cols) {
                return Err(Error::Config(format!(
                    "{}: matrix is {}×{}, mapped as {}×{}",
                    id_name(id),
                    q.rows,
                    q.cols,
                    p.rows,
                    p.cols
                )));
            }
            report.weights += (q.rows * q.cols) as u64;
            self.resident.remove(&p.base);
            report.image_bytes += (cfg.tiles() * p.words() * wb) as u64;
            match mode {
                LoadMode::Backdoor => {
                    let sim = self.dev.transport().sim().ok_or_else(|| {
                        Error::Config("backdoor loading needs a simulator transport".into())
                    })?;
                    for t in 0..cfg.tiles() {
                        let img = p.tile_image(&cfg, q, t);
                        sim.backdoor_write(t, p.base, wb, &img).map_err(|e| {
                            e.at(Location {
                                tile: Some(t),
                                ..loc
                            })
                        })?;
                    }
                }
                _ => {
                    let d = p.weight_load(&cfg, q);
                    self.dev.send(&[d]).map_err(|e| e.at(loc))?;
                }
            }
            self.resident.insert(p.base, *id);
        }
        if mode == LoadMode::FrontDoor {
            self.dev.wait_idle()?;
            self.dev.check()?;
        }
        let c1 = self.dev.transport().sim().map(|s| s.cycles()).transpose()?;
        report.cycles = c0.zip(c1).map(|(a, b)| b - a);
        report.seconds = t0.elapsed().as_secs_f64();
        Ok(report)
    }

    /// `model.forward` with this engine; a fault comes back as its typed error.
    pub fn forward(
        &mut self,
        model: &Llama,
        tokens: &[u32],
        cache: &mut KvCache,
    ) -> Result<Array2<f32>> {
        self.error = None;
        match model.forward(tokens, cache, self) {
            Ok(l) => Ok(l),
            Err(e) => Err(self.error.take().unwrap_or(Error::Golden(e))),
        }
    }

    /// Runs the products of `mats` (sharing the input) for every token of `xs`.
    pub fn run_group(
        &mut self,
        mats: &[(MatrixId, &QuantMatrix)],
        xs: ArrayView2<i8>,
    ) -> Result<Vec<Array2<i32>>> {
        let t0 = Instant::now();
        let cfg = self.map.cfg.clone();
        let (tokens, k) = xs.dim();
        let mut idx = Vec::with_capacity(mats.len());
        for (id, q) in mats {
            let loc = Location {
                layer: id.layer,
                matrix: id.kind,
                tile: None,
                row: None,
            };
            let i = self
                .map
                .placements
                .iter()
                .position(|p| p.id == *id)
                .ok_or_else(|| Error::Config(format!("{} is not mapped", id_name(id))).at(loc))?;
            let p = &self.map.placements[i];
            if (q.rows, q.cols) != (p.rows, p.cols) || q.cols != k {
                return Err(Error::Config(format!(
                    "{}: {}×{} product with input width {k}, mapped as {}×{}",
                    id_name(id),
                    q.rows,
                    q.cols,
                    p.rows,
                    p.cols
                ))
                .at(loc));
            }
            idx.push(i);
        }
        // Matrices whose weight words hold something else: load them now.
        let missing: Vec<(MatrixId, &QuantMatrix)> = mats
            .iter()
            .zip(&idx)
            .filter(|((id, _), &i)| self.resident.get(&self.map.placements[i].base) != Some(id))
            .map(|((id, q), _)| (*id, *q))
            .collect();
        if !missing.is_empty() {
            let r = self.load_weights(&missing, LoadMode::Auto)?;
            self.stats.reloads += missing.len() as u64;
            self.stats.reload_seconds += r.seconds;
        }
        // Batches whose results fit RBUF side by side.
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut used = usize::MAX;
        for (j, &i) in idx.iter().enumerate() {
            let w = self.map.placements[i].out_words(&cfg);
            if used.saturating_add(w) > cfg.rbuf_words {
                batches.push(Vec::new());
                used = 0;
            }
            used += w;
            batches.last_mut().expect("a batch was pushed").push(j);
        }
        let op = mats
            .first()
            .map(|(id, _)| group_name(id.kind))
            .unwrap_or("none");
        let mut outs: Vec<Array2<i32>> = mats
            .iter()
            .map(|(_, q)| Array2::<i32>::zeros((tokens, q.rows)))
            .collect();
        for t in 0..tokens {
            let x: Vec<i8> = xs.row(t).to_vec();
            for batch in &batches {
                self.run_batch(op, mats, &idx, batch, &x, t, &mut outs)?;
            }
        }
        self.stats.seconds += t0.elapsed().as_secs_f64();
        Ok(outs)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &mut self,
        op: &'static str,
        mats: &[(MatrixId, &QuantMatrix)],
        idx: &[usize],
        batch: &[usize],
        x: &[i8],
        token: usize,
        outs: &mut [Array2<i32>],
    ) -> Result<()> {
        let t0 = Instant::now();
        let cfg = self.map.cfg.clone();
        let loc_of = |j: usize| Location {
            layer: mats[j].0.layer,
            matrix: mats[j].0.kind,
            tile: None,
            row: None,
        };
        let in_chunks = batch
            .iter()
            .map(|&j| self.map.placements[idx[j]].in_chunks())
            .max()
            .unwrap_or(1);
        let mut prog = vec![Descriptor::vbuf_load(&cfg, 0, in_chunks as u32, x)];
        let mut outs_at = Vec::with_capacity(batch.len());
        let mut out = 0usize;
        for &j in batch {
            let p = &self.map.placements[idx[j]];
            prog.push(p.matvec(0, out));
            outs_at.push(out);
            out += p.out_words(&cfg);
        }
        prog.push(Descriptor::perf_snapshot());
        let first = self.dev.descriptors_sent();
        let before = self
            .dev
            .perf_snapshot()
            .map_err(|e| e.at(loc_of(batch[0])))?;
        // The golden products run on a host thread while the chip (a simulator process, or a
        // board) computes, so the check costs no wall time when the host has a core to spare.
        let check = self.check;
        let overlap = self.overlap_check;
        let golden_of = || {
            batch
                .iter()
                .map(|&j| {
                    let q = mats[j].1;
                    let mut g = vec![0i32; q.rows];
                    matvec_i32(&q.q, q.rows, q.cols, x, &mut g);
                    g
                })
                .collect::<Vec<_>>()
        };
        let (results, mut golden) = std::thread::scope(|sc| {
            let golden = (check && overlap).then(|| sc.spawn(golden_of));
            let sent = self.dev.send(&prog);
            let results = match sent.and_then(|_| self.dev.check()) {
                Ok(()) => self.dev.read_results(0, out as u32),
                Err(e) => Err(e),
            };
            let golden = match golden {
                Some(h) => Some(h.join().expect("golden product thread")),
                None if check && results.is_ok() => Some(golden_of()),
                None => None,
            };
            (results, golden)
        });
        let results = match results {
            Ok(r) => r,
            Err(e) => return Err(self.fault(e, first, batch, &loc_of)),
        };
        let after = self.dev.perf().map_err(|e| e.at(loc_of(batch[0])))?;
        let d = after.since(&before);
        add_perf(&mut self.stats.total, &d);
        match self.stats.ops.iter_mut().find(|o| o.name == op) {
            Some(o) => {
                o.programs += 1;
                add_perf(&mut o.perf, &d);
            }
            None => self.stats.ops.push(OpStats {
                name: op,
                programs: 1,
                perf: d,
                seconds: 0.0,
            }),
        }
        let steps: u64 = batch
            .iter()
            .map(|&j| self.map.placements[idx[j]].words() as u64)
            .sum();
        for (k, (&j, &at)) in batch.iter().zip(&outs_at).enumerate() {
            let p = self.map.placements[idx[j]].clone();
            let q = mats[j].1;
            let lanes = cfg.lanes;
            let chip = &results[at * lanes..at * lanes + q.rows];
            for (o, v) in outs[j].row_mut(token).iter_mut().zip(chip) {
                *o = *v;
            }
            let st = &mut self.stats.matrices[idx[j]];
            st.products += 1;
            st.useful_macs += (q.rows * q.cols) as u64;
            st.cycles += d.cycles as f64 * p.words() as f64 / steps.max(1) as f64;
            if !self.check {
                continue;
            }
            let golden = match golden.as_mut() {
                Some(g) => std::mem::take(&mut g[k]),
                None => continue,
            };
            let bad: Vec<usize> = (0..q.rows).filter(|&r| chip[r] != golden[r]).collect();
            if bad.is_empty() {
                st.matches += 1;
                continue;
            }
            st.mismatches += 1;
            st.mismatched_rows += bad.len() as u64;
            let r = bad[0];
            let loc = Location {
                tile: Some(p.tiles_of_row(&cfg, r).0),
                row: Some(r),
                ..loc_of(j)
            };
            let m = FirstMismatch {
                loc,
                token,
                chip: chip[r],
                golden: golden[r],
            };
            if self.stats.first_mismatch.is_none() {
                self.stats.first_mismatch = Some(m.clone());
            }
            if self.fail_on_mismatch {
                return Err(Error::Mismatch {
                    loc,
                    token,
                    chip: m.chip,
                    golden: m.golden,
                });
            }
        }
        if let Some(o) = self.stats.ops.iter_mut().find(|o| o.name == op) {
            o.seconds += t0.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// Locates a fault of a batch: the descriptor `ERROR.descriptor` names (VBUF_LOAD is the
    /// first of the batch, then its MATVECs) when the chip stopped on an error; then
    /// soft-resets the chip so it can be used again.
    fn fault(
        &mut self,
        e: Error,
        first: u32,
        batch: &[usize],
        loc_of: &dyn Fn(usize) -> Location,
    ) -> Error {
        let mut e = e;
        let mut loc = loc_of(batch[0]);
        if let Ok(s) = self.dev.status() {
            if s.error {
                if let Ok((code, descriptor)) = self.dev.error() {
                    let k = descriptor.wrapping_sub(first) as usize;
                    if k >= 1 && k <= batch.len() {
                        loc = loc_of(batch[k - 1]);
                    }
                    e = Error::Device { code, descriptor };
                }
            }
        }
        let _ = self.dev.soft_reset();
        let _ = self.dev.drain_output();
        e.at(loc)
    }
}

fn add_perf(a: &mut PerfCounters, d: &PerfCounters) {
    a.cycles += d.cycles;
    a.mac_busy += d.mac_busy;
    a.stall_input += d.stall_input;
    a.stall_output += d.stall_output;
    a.stall_cmd += d.stall_cmd;
}

impl<T: Transport> MatVecEngine for RtlEngine<T> {
    fn matvec(
        &mut self,
        mats: &[(MatrixId, &QuantMatrix)],
        xs: ArrayView2<i8>,
    ) -> tessera_golden::Result<Vec<Array2<i32>>> {
        match self.run_group(mats, xs) {
            Ok(o) => Ok(o),
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                Err(tessera_golden::Error::Engine(msg))
            }
        }
    }
}
