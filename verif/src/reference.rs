//! Transaction-level reference model of the tile.
//!
//! The arithmetic is the golden model's exact integer product
//! (`tessera_golden::quant::matvec_i32_scalar`); this module adds the tile's memory layout and
//! its set-up rules (`ARCHITECTURE.md`, tile port contract): weight word `base + g*C + c`
//! holds lane `l` (row `g*Lanes + l`), element `j` (column `c*KWidth + j`) at byte
//! `j*Lanes + l` (element-major).

use crate::model::TileConfig;
use tessera_driver::config::weight_byte;

/// `out[r] = Σ_k w[r,k]·x[k]` in exact int32 (row-major `w`).
pub fn matvec(w: &[i8], rows: usize, k: usize, x: &[i8]) -> Vec<i32> {
    tessera_golden::quant::matvec_i32_scalar(w, rows, k, x)
}

/// Packs a row-major `rows × k` int8 matrix into the tile's weight words (G·C words, padded
/// with zeros).
pub fn pack_matrix(cfg: &TileConfig, w: &[i8], rows: u32, k: u32) -> Vec<Vec<u8>> {
    let (l_n, kw) = (cfg.lanes as usize, cfg.k_width as usize);
    let (rows, k) = (rows as usize, k as usize);
    let (g_n, c_n) = (rows.div_ceil(l_n), k.div_ceil(kw));
    let mut words = Vec::with_capacity(g_n * c_n);
    for g in 0..g_n {
        for c in 0..c_n {
            let mut word = vec![0u8; l_n * kw];
            for l in 0..l_n {
                let r = g * l_n + l;
                for j in 0..kw {
                    let col = c * kw + j;
                    if r < rows && col < k {
                        word[weight_byte(l_n, l, j)] = w[r * k + col] as u8;
                    }
                }
            }
            words.push(word);
        }
    }
    words
}

/// Splits an int8 vector into activation chunks of `k_width` bytes (last one zero-padded).
pub fn chunk_acts(cfg: &TileConfig, x: &[i8]) -> Vec<Vec<u8>> {
    x.chunks(cfg.k_width as usize)
        .map(|c| {
            let mut v: Vec<u8> = c.iter().map(|&b| b as u8).collect();
            v.resize(cfg.k_width as usize, 0);
            v
        })
        .collect()
}

/// One expected result beat.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Beat {
    pub lanes: Vec<i32>,
    pub last: bool,
}

/// Expected result beats of `W·x` (lanes beyond `rows` are 0).
pub fn expected_beats(cfg: &TileConfig, w: &[i8], rows: u32, k: u32, x: &[i8]) -> Vec<Beat> {
    let out = matvec(w, rows as usize, k as usize, &x[..k as usize]);
    let l_n = cfg.lanes as usize;
    let g_n = (rows as usize).div_ceil(l_n);
    (0..g_n)
        .map(|g| Beat {
            lanes: (0..l_n)
                .map(|l| out.get(g * l_n + l).copied().unwrap_or(0))
                .collect(),
            last: g + 1 == g_n,
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Op {
    base: u32,
    rows: u32,
    k: u32,
    acts: Vec<u8>,
}

/// The tile as a transaction-level model: a shadow weight memory, the set-up rules and the
/// operation in flight. Fed with what the DUT accepted; yields the beats it must emit.
#[derive(Clone, Debug)]
pub struct TileRef {
    cfg: TileConfig,
    mem: Vec<Vec<u8>>,
    op: Option<Op>,
    /// Error events the DUT must have flagged (illegal set-ups, out-of-range writes).
    pub errors: u64,
}

impl TileRef {
    /// A reference with an all-zero shadow memory.
    pub fn new(cfg: &TileConfig) -> Self {
        TileRef {
            cfg: *cfg,
            mem: vec![vec![0; cfg.word_bytes()]; cfg.weight_words as usize],
            op: None,
            errors: 0,
        }
    }
    /// A weight write (front or back door). Out-of-range writes are dropped and flag an error.
    pub fn write(&mut self, addr: u32, data: &[u8]) {
        match self.mem.get_mut(addr as usize) {
            Some(w) => w.copy_from_slice(data),
            None => self.errors += 1,
        }
    }
    /// The shadow of one word.
    pub fn word(&self, addr: u32) -> &[u8] {
        &self.mem[addr as usize]
    }
    /// A set-up; illegal ones flag an error and start nothing. Returns whether it started.
    pub fn setup(&mut self, base: u32, rows: u32, k: u32) -> bool {
        if !self.cfg.is_legal(base, rows, k) {
            self.errors += 1;
            return false;
        }
        self.op = Some(Op {
            base,
            rows,
            k,
            acts: Vec::new(),
        });
        true
    }
    /// Whether an operation is waiting for activations.
    pub fn in_operation(&self) -> bool {
        self.op.is_some()
    }
    /// An activation chunk; when the operation has all its chunks, returns its result beats.
    pub fn act(&mut self, chunk: &[u8]) -> Option<Vec<Beat>> {
        let op = self.op.as_mut()?;
        op.acts.extend_from_slice(chunk);
        if op.acts.len() < (self.cfg.chunks(op.k) * self.cfg.k_width) as usize {
            return None;
        }
        let op = self.op.take()?;
        let w = self.weights(op.base, op.rows, op.k);
        let x: Vec<i8> = op.acts.iter().map(|&b| b as i8).collect();
        Some(expected_beats(&self.cfg, &w, op.rows, op.k, &x))
    }
    /// The row-major matrix an operation at `base` would read.
    pub fn weights(&self, base: u32, rows: u32, k: u32) -> Vec<i8> {
        let (l_n, kw) = (self.cfg.lanes as usize, self.cfg.k_width as usize);
        let c_n = self.cfg.chunks(k) as usize;
        let mut w = vec![0i8; rows as usize * k as usize];
        for r in 0..rows as usize {
            for col in 0..k as usize {
                let (g, l, c, j) = (r / l_n, r % l_n, col / kw, col % kw);
                let word = &self.mem[base as usize + g * c_n + c];
                w[r * k as usize + col] = word[weight_byte(l_n, l, j)] as i8;
            }
        }
        w
    }
}
