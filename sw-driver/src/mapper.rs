//! The mapper: places every matrix of a model on the tiles by the partition rule
//! (`docs/architecture.md`, partition of a matrix; decision 1 of the reference brief) and emits
//! per-tile weight images and the descriptors of each product.
//!
//! Each matrix `R × K` is split over all `N` tiles as `P_k` K-partitions × `P_r = N / P_k` row
//! partitions. Tile `t = rp·P_k + kp` holds rows `rp·G·Lanes …` and columns `kp·C·KWidth …` as
//! `G` row groups × `C` chunks at the same weight word `base` in every tile. The mapper picks
//! `P_k` per matrix: among the partitions the chip accepts (`C ≤ ActWords`,
//! `P_k·C ≤ AbufWords`, `P_r·G ≤ RbufWords`) the one with the fewest weight words per tile
//! `G·C` (the MAC steps of the product, so also the fewest cycles); ties go to the smallest
//! `P_k` (fewer partial sums to reduce), unless [`MapOptions::prefer_lg_pk`] names a legal one.
//! Matrices are laid out one after the other from weight word 0, in model order (with
//! [`MapOptions::share_layers`], all layers in one slot): layer by layer
//! `q, k, v, o, gate, up, down`, then `lm_head`.

use std::collections::HashMap;

use tessera_golden::model::{Llama, Weight};
use tessera_golden::quant::{MatrixId, MatrixKind, QuantMatrix};

use crate::config::ChipConfig;
use crate::error::{Error, Result};
use crate::program::Descriptor;

/// Choices the mapper leaves open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// Use `P_k = 2^lg_pk` for every matrix where that partition is legal.
    pub prefer_lg_pk: Option<u32>,
    /// Give every decoder layer the same weight words (one layer slot, `lm_head` after it), for
    /// models whose layers do not all fit: the runtime reloads a layer's matrices when it
    /// runs them and another layer is resident. Weights are then no longer stationary; the
    /// reloads are counted apart ([`crate::runtime::RunStats::reloads`]).
    pub share_layers: bool,
}

/// One matrix on the tiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub id: MatrixId,
    pub rows: usize,
    pub cols: usize,
    /// log2 of the K-partition count `P_k`.
    pub lg_pk: u32,
    /// Row groups per tile (`G`, `Lanes` rows each).
    pub groups: usize,
    /// Chunks per tile (`C`, `KWidth` elements each).
    pub chunks: usize,
    /// First weight word in every tile.
    pub base: usize,
}

impl Placement {
    /// Weight words per tile (`G·C`), also the MAC steps per tile of one product.
    pub fn words(&self) -> usize {
        self.groups * self.chunks
    }

    pub fn pk(&self) -> usize {
        1 << self.lg_pk
    }

    /// Result words the product writes (`P_r·G`).
    pub fn out_words(&self, cfg: &ChipConfig) -> usize {
        (cfg.tiles() >> self.lg_pk) * self.groups
    }

    /// Input chunks the product reads (`P_k·C`).
    pub fn in_chunks(&self) -> usize {
        self.pk() * self.chunks
    }

    /// The tiles that compute output row `row`: `(first tile, P_k)`.
    pub fn tiles_of_row(&self, cfg: &ChipConfig, row: usize) -> (usize, usize) {
        let rp = row / (self.groups * cfg.lanes);
        (rp << self.lg_pk, self.pk())
    }

    /// The weight image of this matrix in tile `tile`: `G·C` words, word `g·C + c`, byte
    /// `j·Lanes + l` = `q[(rp·G + g)·Lanes + l, (kp·C + c)·KWidth + j]` (zero outside the
    /// matrix).
    pub fn tile_image(&self, cfg: &ChipConfig, q: &QuantMatrix, tile: usize) -> Vec<u8> {
        let (lanes, kw) = (cfg.lanes, cfg.kwidth);
        let word = lanes * kw;
        let pk = self.pk();
        let (rp, kp) = (tile >> self.lg_pk, tile & (pk - 1));
        let mut img = vec![0u8; self.words() * word];
        for g in 0..self.groups {
            for l in 0..lanes {
                let r = (rp * self.groups + g) * lanes + l;
                if r >= self.rows {
                    continue;
                }
                let row = &q.q[r * self.cols..(r + 1) * self.cols];
                for c in 0..self.chunks {
                    let col0 = (kp * self.chunks + c) * kw;
                    if col0 >= self.cols {
                        break;
                    }
                    let n = kw.min(self.cols - col0);
                    let at = (g * self.chunks + c) * word;
                    for (j, s) in row[col0..col0 + n].iter().enumerate() {
                        img[at + cfg.weight_byte(l, j)] = *s as u8;
                    }
                }
            }
        }
        img
    }

    /// The WEIGHT_LOAD descriptor of this matrix to every tile (front door).
    pub fn weight_load(&self, cfg: &ChipConfig, q: &QuantMatrix) -> Descriptor {
        let mut data = Vec::with_capacity(cfg.tiles() * self.words() * cfg.word_bytes());
        for t in 0..cfg.tiles() {
            data.extend(self.tile_image(cfg, q, t));
        }
        Descriptor::weight_load(
            0,
            cfg.tiles() as u32 - 1,
            self.base as u32,
            self.words() as u32,
            &data,
        )
    }

    /// The MATVEC descriptor: input at ABUF chunk `input`, results at RBUF word `out`.
    pub fn matvec(&self, input: usize, out: usize) -> Descriptor {
        Descriptor::matvec(
            self.base as u32,
            self.groups as u32,
            self.chunks as u32,
            self.lg_pk,
            input as u32,
            out as u32,
        )
    }
}

/// Every matrix of a model placed on one chip.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub cfg: ChipConfig,
    pub placements: Vec<Placement>,
    index: HashMap<MatrixId, usize>,
    /// Weight words used in every tile.
    pub words_used: usize,
    /// Decoder layers share weight words ([`MapOptions::share_layers`]).
    pub shared_layers: bool,
}

/// The partition of an `rows × cols` matrix on `cfg`: `(lg_pk, G, C)`.
pub fn partition(
    cfg: &ChipConfig,
    rows: usize,
    cols: usize,
    opts: &MapOptions,
) -> std::result::Result<(u32, usize, usize), String> {
    let n = cfg.tiles();
    let mut best: Option<(usize, u32, usize, usize)> = None;
    let mut why = Vec::new();
    for lg_pk in 0..=cfg.lg_tiles() {
        let pk = 1usize << lg_pk;
        let pr = n / pk;
        let g = rows.div_ceil(pr * cfg.lanes).max(1);
        let c = cols.div_ceil(pk * cfg.kwidth).max(1);
        if c > cfg.act_words {
            why.push(format!(
                "P_k={pk}: {c} chunks per tile > ActWords {}",
                cfg.act_words
            ));
            continue;
        }
        if pk * c > cfg.abuf_words {
            why.push(format!(
                "P_k={pk}: input {} chunks > AbufWords {}",
                pk * c,
                cfg.abuf_words
            ));
            continue;
        }
        if pr * g > cfg.rbuf_words {
            why.push(format!(
                "P_k={pk}: {} result words > RbufWords {}",
                pr * g,
                cfg.rbuf_words
            ));
            continue;
        }
        if opts.prefer_lg_pk == Some(lg_pk) {
            return Ok((lg_pk, g, c));
        }
        if best.map_or(true, |(cost, ..)| g * c < cost) {
            best = Some((g * c, lg_pk, g, c));
        }
    }
    best.map(|(_, l, g, c)| (l, g, c)).ok_or_else(|| {
        format!(
            "no legal partition of a {rows}×{cols} matrix: {}",
            why.join("; ")
        )
    })
}

/// The matrices of a model in mapping order, with their int8 weights.
pub fn model_matrices<'a>(model: &'a Llama) -> Result<Vec<(MatrixId, &'a QuantMatrix)>> {
    let mut out = Vec::new();
    let mut push = |l: &'a tessera_golden::model::Linear| -> Result<()> {
        match &l.weight {
            Weight::Quant(q) => {
                out.push((l.id, q));
                Ok(())
            }
            Weight::F32(_) | Weight::Mx(_) => Err(Error::Config(format!(
                "{:?} is not int8: load the model with Precision::W8A8 to run it on the chip \
                 (MX block formats run in the golden model only)",
                l.id
            ))),
        }
    };
    for layer in &model.layers {
        let a = &layer.self_attn;
        for l in [&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj] {
            push(l)?;
        }
        let m = &layer.mlp;
        for l in [&m.gate_proj, &m.up_proj, &m.down_proj] {
            push(l)?;
        }
    }
    push(&model.lm_head)?;
    Ok(out)
}

/// The operation group of a matrix, as the golden model issues them (one shared input each).
pub fn group_name(kind: MatrixKind) -> &'static str {
    match kind {
        MatrixKind::Q | MatrixKind::K | MatrixKind::V => "qkv",
        MatrixKind::O => "o",
        MatrixKind::Gate | MatrixKind::Up => "gate_up",
        MatrixKind::Down => "down",
        MatrixKind::LmHead => "lm_head",
    }
}

impl Mapping {
    /// Places `matrices` (`id`, rows, cols) one after the other from weight word 0.
    pub fn new(
        cfg: &ChipConfig,
        matrices: &[(MatrixId, usize, usize)],
        opts: &MapOptions,
    ) -> Result<Mapping> {
        let mut placements = Vec::with_capacity(matrices.len());
        let mut index = HashMap::new();
        // With shared layers: the slot offset of each kind, and the slot size.
        let mut slot: HashMap<MatrixKind, (usize, usize)> = HashMap::new();
        let mut slot_words = 0usize;
        if opts.share_layers {
            for &(id, rows, cols) in matrices {
                if id.layer.is_none() || slot.contains_key(&id.kind) {
                    continue;
                }
                let (_, g, c) = partition(cfg, rows, cols, opts)
                    .map_err(|m| Error::DoesNotFit(format!("{}: {m}", id_name(&id))))?;
                slot.insert(id.kind, (slot_words, g * c));
                slot_words += g * c;
            }
        }
        let mut base = slot_words;
        let mut end = slot_words;
        for &(id, rows, cols) in matrices {
            let (lg_pk, groups, chunks) = partition(cfg, rows, cols, opts)
                .map_err(|m| Error::DoesNotFit(format!("{}: {m}", id_name(&id))))?;
            if index.insert(id, placements.len()).is_some() {
                return Err(Error::Config(format!("{} placed twice", id_name(&id))));
            }
            let shared = if id.layer.is_some() {
                slot.get(&id.kind).copied()
            } else {
                None
            };
            let at = match shared {
                Some((off, words)) => {
                    if words != groups * chunks {
                        return Err(Error::Config(format!(
                            "{}: layers differ in shape, they cannot share weight words",
                            id_name(&id)
                        )));
                    }
                    off
                }
                None => {
                    let b = base;
                    base += groups * chunks;
                    b
                }
            };
            let p = Placement {
                id,
                rows,
                cols,
                lg_pk,
                groups,
                chunks,
                base: at,
            };
            end = end.max(at + p.words());
            placements.push(p);
        }
        let base = end;
        if base > cfg.weight_words {
            let padded = base as u64 * cfg.tiles() as u64 * cfg.word_bytes() as u64;
            let raw: u64 = matrices.iter().map(|(_, r, c)| (r * c) as u64).sum();
            return Err(Error::DoesNotFit(format!(
                "{} matrices need {base} weight words per tile ({raw} int8 weights, {padded} bytes \
                 with padding), configuration `{}` has {} words per tile ({} bytes in all)",
                matrices.len(),
                cfg.name,
                cfg.weight_words,
                cfg.weight_bytes()
            )));
        }
        Ok(Mapping {
            cfg: cfg.clone(),
            placements,
            index,
            words_used: base,
            shared_layers: opts.share_layers,
        })
    }

    /// Places every int8 matrix of `model` (loaded with `Precision::W8A8`).
    pub fn for_model(cfg: &ChipConfig, model: &Llama, opts: &MapOptions) -> Result<Mapping> {
        let shapes: Vec<_> = model_matrices(model)?
            .into_iter()
            .map(|(id, q)| (id, q.rows, q.cols))
            .collect();
        Self::new(cfg, &shapes, opts)
    }

    pub fn get(&self, id: &MatrixId) -> Option<&Placement> {
        self.index.get(id).map(|&i| &self.placements[i])
    }

    /// The weight image of every tile (`words_used` words each): what a front-door load
    /// streams and a backdoor load writes, matrix by matrix.
    pub fn tile_images(&self, matrices: &[(MatrixId, &QuantMatrix)]) -> Result<Vec<Vec<u8>>> {
        let wb = self.cfg.word_bytes();
        let mut images = vec![vec![0u8; self.words_used * wb]; self.cfg.tiles()];
        for (id, q) in matrices {
            let p = self
                .get(id)
                .ok_or_else(|| Error::Config(format!("{} is not mapped", id_name(id))))?;
            for (t, img) in images.iter_mut().enumerate() {
                let part = p.tile_image(&self.cfg, q, t);
                img[p.base * wb..p.base * wb + part.len()].copy_from_slice(&part);
            }
        }
        Ok(images)
    }
}

/// `layer 3 Q`, `LmHead`.
pub fn id_name(id: &MatrixId) -> String {
    match id.layer {
        Some(l) => format!("layer {l} {:?}", id.kind),
        None => format!("{:?}", id.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: MatrixKind) -> MatrixId {
        MatrixId {
            layer: Some(0),
            kind,
        }
    }

    #[test]
    fn llama_8b_shapes_on_sim_fill_one_layer_plus_lm_head() {
        let sim = ChipConfig::named("sim").unwrap();
        let shapes = [
            (id(MatrixKind::Q), 4096, 4096),
            (id(MatrixKind::K), 1024, 4096),
            (id(MatrixKind::V), 1024, 4096),
            (id(MatrixKind::O), 4096, 4096),
            (id(MatrixKind::Gate), 14336, 4096),
            (id(MatrixKind::Up), 14336, 4096),
            (id(MatrixKind::Down), 4096, 14336),
            (
                MatrixId {
                    layer: None,
                    kind: MatrixKind::LmHead,
                },
                128256,
                4096,
            ),
        ];
        let m = Mapping::new(&sim, &shapes, &MapOptions::default()).unwrap();
        assert_eq!(m.words_used, 181_504);
        assert!(m.placements.iter().all(|p| p.lg_pk == 0));
        // Two layers do not fit.
        let mut two = shapes.to_vec();
        for s in &shapes[..7] {
            let mut s = *s;
            s.0.layer = Some(1);
            two.push(s);
        }
        let e = Mapping::new(&sim, &two, &MapOptions::default()).unwrap_err();
        assert!(matches!(e, Error::DoesNotFit(_)), "{e}");
        // With shared layers every layer of Llama 3.1 8B maps into one slot.
        let mut all = Vec::new();
        for l in 0..32 {
            for s in &shapes[..7] {
                let mut s = *s;
                s.0.layer = Some(l);
                all.push(s);
            }
        }
        all.push(shapes[7]);
        let opts = MapOptions {
            share_layers: true,
            ..MapOptions::default()
        };
        let m = Mapping::new(&sim, &all, &opts).unwrap();
        assert_eq!(m.words_used, 181_504);
        let q0 = m.get(&all[0].0).unwrap().base;
        let q31 = m.get(&all[31 * 7].0).unwrap().base;
        assert_eq!(q0, q31);
        assert_eq!(
            m.placements.last().unwrap().base,
            181_504 - 128_256 * 4096 / 16 / 256
        );
    }

    #[test]
    fn tile_images_hold_every_weight_once() {
        let tiny = ChipConfig::named("tiny").unwrap();
        let (rows, cols) = (37, 29);
        let q = QuantMatrix {
            rows,
            cols,
            q: (0..rows * cols).map(|i| (i % 251) as i8).collect(),
            scales: vec![1.0; rows],
        };
        for lg_pk in 0..=2 {
            let opts = MapOptions {
                prefer_lg_pk: Some(lg_pk),
                ..MapOptions::default()
            };
            let m = Mapping::new(&tiny, &[(id(MatrixKind::Q), rows, cols)], &opts).unwrap();
            let p = &m.placements[0];
            assert_eq!(p.lg_pk, lg_pk);
            // Reassemble the matrix from the images.
            let mut back = vec![0i8; rows * cols];
            let mut seen = 0usize;
            for t in 0..tiny.tiles() {
                let img = p.tile_image(&tiny, &q, t);
                let (rp, kp) = (t >> lg_pk, t & (p.pk() - 1));
                for g in 0..p.groups {
                    for c in 0..p.chunks {
                        for l in 0..tiny.lanes {
                            for j in 0..tiny.kwidth {
                                let r = (rp * p.groups + g) * tiny.lanes + l;
                                let k = (kp * p.chunks + c) * tiny.kwidth + j;
                                let at = (g * p.chunks + c) * tiny.word_bytes();
                                let v = img[at + tiny.weight_byte(l, j)] as i8;
                                if r < rows && k < cols {
                                    back[r * cols + k] = v;
                                    seen += 1;
                                } else {
                                    assert_eq!(v, 0);
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(seen, rows * cols);
            assert_eq!(back, q.q);
        }
    }
}
