//! Cycle model of matrix-vector products on a Tessera grid, and the tokens/s projection of a
//! configuration (usually `t1-8b`) for a whole Llama model at batch 1.
//!
//! A product placed as `G` row groups × `C` chunks per tile with `P_k` K-partitions
//! (`docs/architecture.md`, partition) streams its `P_k·C` chunks down the multicast tree one per
//! cycle in ABUF order, K-partition by K-partition. Tile `kp` steps row group 0 as its chunks
//! arrive (from cycle `kp·C` on) and groups `1 … G−1` from its buffer, so the last K-partition
//! finishes `(P_k − 1)·C` cycles after the first; the `P_r·G` result words reach the result
//! buffer one per cycle. The larger of the two is the product's *span*
//! ([`LatencyModel::span`]). A product whose input depends on the previous product's results
//! (a FENCE between them, as in a forward pass) adds the grid's latency `L(N) = l0 + l1·log2 N`
//! (descriptor decode, buffer reads, the multicast and reduction trees, the tile pipeline, the
//! result write).
//!
//! The constants are fitted to simulations of grids of 4 to 256 tiles; `verif/tests/chip/latency.rs`
//! prints the measurements next to the model with its error, and `chip_latency_model` checks the
//! model against the simulated chip in the test suite.

use tessera_golden::config::Config as ModelConfig;

use crate::config::ChipConfig;
use crate::mapper::{partition, MapOptions};

/// Latency constants of the RTL, in cycles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyModel {
    /// Grid-independent part of a dependent product's latency.
    pub l0: f64,
    /// Latency per tree level (`log2 N` levels of multicast and reduction).
    pub l1: f64,
}

impl LatencyModel {
    /// The constants of the current RTL (fitted by `chip_latency_calibration`).
    pub const RTL: LatencyModel = LatencyModel { l0: 18.0, l1: 2.0 };

    /// Latency of a grid of `tiles` tiles.
    pub fn grid_latency(&self, tiles: usize) -> f64 {
        self.l0 + self.l1 * (tiles.max(1) as f64).log2()
    }

    /// Span of one product on `tiles` tiles with `P_k = pk`: the larger of
    /// - compute: K-partition `kp` gets its first chunk `kp·C` cycles after the first one, so
    ///   the last one finishes its `G·C` steps at `(G + P_k − 1)·C`; the last row group's `P_r`
    ///   result words then pass the root one per cycle (`P_r − 1` more);
    /// - gather: the `P_r·G` result words enter the result buffer one per cycle, from the
    ///   moment the first row group is reduced (`P_k·C`).
    pub fn span(tiles: usize, pk: usize, g: usize, c: usize) -> f64 {
        let pk = pk.max(1);
        let pr = (tiles / pk).max(1);
        let compute = (g + pk - 1) * c + pr - 1;
        let gather = pk * c + pr * g - 1;
        compute.max(gather) as f64
    }

    /// Cycles of one product whose input waits for the previous product's results.
    pub fn dependent_cycles(&self, tiles: usize, pk: usize, g: usize, c: usize) -> f64 {
        Self::span(tiles, pk, g, c) + self.grid_latency(tiles)
    }
}

/// One product of a token's forward pass, as the projection places it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpCost {
    /// Matrix group (`q|k|v`, `o`, `gate|up`, `down`, `lm_head`).
    pub name: &'static str,
    /// How many times per token (once per layer, or once).
    pub count: usize,
    pub rows: usize,
    pub k: usize,
    pub pk: usize,
    pub groups: usize,
    pub chunks: usize,
    /// Cycles of one instance (span plus grid latency).
    pub cycles: f64,
    /// Stream cycles to load its input and read its results back over the host stream.
    pub io_cycles: f64,
}

/// Tokens/s projection of one configuration for one model at batch 1.
#[derive(Clone, Debug)]
pub struct Projection {
    pub config: String,
    pub tiles: usize,
    pub macs_per_cycle: usize,
    pub clock_hz: f64,
    pub ops: Vec<OpCost>,
    /// MACs of one token (every matrix once).
    pub macs_per_token: f64,
    /// Cycles of one token with the products chained on chip (each waits for the previous one).
    pub cycles_per_token: f64,
    /// Useful MACs ÷ (MACs per cycle × cycles).
    pub utilization: f64,
    /// `clock × MACs per cycle × utilization ÷ MACs per token`.
    pub tokens_per_s: f64,
    /// The same with each product's input and output also crossing the host stream (phase 1:
    /// the float work between products runs on the host and is not counted).
    pub tokens_per_s_with_host_io: f64,
}

/// Projects `model` on `chip` at `clock_hz`: per token, every layer's fused `q|k|v`, `o`,
/// fused `gate|up` and `down`, then `lm_head`, each a dependent product placed by the mapper's
/// partition rule.
pub fn project(
    chip: &ChipConfig,
    model: &ModelConfig,
    clock_hz: f64,
    lat: &LatencyModel,
) -> Result<Projection, String> {
    if !(clock_hz.is_finite() && clock_hz > 0.0) {
        return Err(format!("clock {clock_hz} Hz: must be a finite number > 0"));
    }
    let h = model.hidden_size;
    let hd = model.head_dim();
    let q = model.num_attention_heads * hd;
    let kv = model.num_kv_heads() * hd;
    let f = model.intermediate_size;
    let layers = model.num_hidden_layers;
    let shapes: [(&'static str, usize, usize, usize); 5] = [
        ("q|k|v", layers, q + 2 * kv, h),
        ("o", layers, h, q),
        ("gate|up", layers, 2 * f, h),
        ("down", layers, h, f),
        ("lm_head", 1, model.vocab_size, h),
    ];
    let tiles = chip.tiles();
    let beat_bytes = (chip.stream_width / 8) as f64;
    let mut ops = Vec::new();
    let (mut cycles, mut io, mut macs) = (0.0, 0.0, 0.0);
    for (name, count, rows, k) in shapes {
        let (lg_pk, g, c) = partition(chip, rows, k, &MapOptions::default())?;
        let pk = 1usize << lg_pk;
        let one = lat.dependent_cycles(tiles, pk, g, c);
        // Input: K int8; output: rows int32; a header beat each way for the descriptors.
        let one_io = (k as f64 / beat_bytes).ceil() + (4.0 * rows as f64 / beat_bytes).ceil() + 2.0;
        cycles += count as f64 * one;
        io += count as f64 * one_io;
        macs += count as f64 * (rows * k) as f64;
        ops.push(OpCost {
            name,
            count,
            rows,
            k,
            pk,
            groups: g,
            chunks: c,
            cycles: one,
            io_cycles: one_io,
        });
    }
    let mpc = tiles * chip.lanes * chip.kwidth;
    let utilization = macs / (mpc as f64 * cycles);
    Ok(Projection {
        config: chip.name.clone(),
        tiles,
        macs_per_cycle: mpc,
        clock_hz,
        ops,
        macs_per_token: macs,
        cycles_per_token: cycles,
        utilization,
        tokens_per_s: clock_hz * mpc as f64 * utilization / macs,
        tokens_per_s_with_host_io: clock_hz / (cycles + io),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_is_compute_or_gather_bound() {
        // 4 tiles, P_k = 1: compute G·C = 32 (+3 words through the root) beats the gather.
        assert_eq!(LatencyModel::span(4, 1, 4, 8), 32.0 + 3.0);
        // K-partitions: the last one starts (P_k − 1)·C later.
        assert_eq!(LatencyModel::span(4, 4, 3, 8), 24.0 + 24.0);
        // 256 row partitions of one group: the gather of 256 words dominates.
        assert_eq!(LatencyModel::span(256, 1, 1, 128), 128.0 + 255.0);
    }

    #[test]
    fn projection_of_llama_on_t1_8b_counts_every_matrix() {
        let chip = ChipConfig::named("t1-8b").unwrap();
        let model = ModelConfig::from_json(
            &tessera_golden::synth::Preset::Llama31_8b
                .config_json(32)
                .to_string(),
        )
        .unwrap();
        let p = project(&chip, &model, 1e9, &LatencyModel::RTL).unwrap();
        // 32 layers × 218.1 M + lm_head 525.3 M.
        let macs =
            32.0 * (4096.0 * 6144.0 + 4096.0 * 4096.0 + 3.0 * 4096.0 * 14336.0) + 128256.0 * 4096.0;
        assert_eq!(p.macs_per_token, macs);
        assert_eq!(p.macs_per_cycle, 262_144);
        assert!(p.utilization > 0.0 && p.utilization <= 1.0);
        let ideal = 1e9 * 262_144.0 / macs;
        assert!(p.tokens_per_s < ideal);
        let rel = (p.tokens_per_s - 1e9 / p.cycles_per_token).abs() / p.tokens_per_s;
        assert!(rel < 1e-9);
        for hz in [f64::NAN, f64::INFINITY, -5.0, 0.0] {
            let e = project(&chip, &model, hz, &LatencyModel::RTL).unwrap_err();
            assert!(e.contains("must be a finite number > 0"), "{e}");
        }
    }
}
