//! The token-engine compiler: a model and a chip configuration (and a context length) become
//! the program the chip runs per token and the memory images it runs over, once per model
//! (`docs/architecture.md`, "Token engine program").
//!
//! - [`plan`] needs only the model's `config.json`: it places every matrix with the
//!   [`mapper`](crate::mapper), lays out the vector memory (VMEM) and the data memory (DMEM),
//!   and emits the program, layers unrolled. It reports the sizes and fails, naming the memory
//!   and by how much, when the model does not fit.
//! - [`Plan::image`] fills the memories from a model loaded in `Precision::Chip`: the tiles'
//!   weight images, and the DMEM constants (bfloat16 embedding table, norm gammas, every matrix's row scales, the RoPE cos/sin table of every position below the
//!   context, computed by `tessera_golden::chip`); the KV-cache regions start zeroed.
//! - [`interp`]: the reference interpreter, the engine's executable specification.
//!
//! Each instruction of the program carries the [`Stage`] of the decode step it belongs to
//! ([`Plan::stages`]), so a traced token's per-instruction cycles add up to a per-stage profile.

pub mod interp;

use tessera_abi::token::{kv_region_bytes, EngineLimits, Instr};
use tessera_golden::config::Config;
use tessera_golden::model::{Llama, Precision};
use tessera_golden::quant::{MatrixId, MatrixKind, QuantMatrix};

use crate::config::ChipConfig;
use crate::error::{Error, Result};
use crate::mapper::{model_matrices, MapOptions, Mapping, Placement};

/// Alignment of every DMEM region, bytes.
pub const DMEM_ALIGN: u64 = 64;

/// The per-token vectors in VMEM (word addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmemLayout {
    /// The residual stream `[hidden]`.
    pub x: u32,
    /// A norm's output `[hidden]`.
    pub norm: u32,
    /// `q | k | v`, contiguous: `[heads·hd]`, `[kv_heads·hd]`, `[kv_heads·hd]`.
    pub q: u32,
    pub k: u32,
    pub v: u32,
    /// Attention output `[heads·hd]`.
    pub attn: u32,
    /// The o or down product `[hidden]` before its residual add.
    pub proj: u32,
    /// `gate | up` `[intermediate]` each; SiLU·up is written over `gate`.
    pub gate: u32,
    pub up: u32,
    /// `[vocab]`.
    pub logits: u32,
    /// Words used.
    pub words: usize,
}

/// DMEM addresses of one decoder layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerRegions {
    pub input_norm: u32,
    pub post_norm: u32,
    /// Row scales of `q, k, v, o, gate, up, down`.
    pub scales: [u32; 7],
    /// The layer's KV-cache region ([`kv_region_bytes`]).
    pub kv: u32,
}

/// The DMEM map (byte addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmemLayout {
    /// The bfloat16 embedding table `[vocab][hidden]`.
    pub embed: u32,
    pub layers: Vec<LayerRegions>,
    pub final_norm: u32,
    pub lm_head_scales: u32,
    /// `[context][cos ×hd/2, sin ×hd/2]` binary32.
    pub rope: u32,
    /// First byte of the KV caches (everything below is constant per model).
    pub kv_base: u64,
    /// Bytes of one layer's KV cache.
    pub kv_layer_bytes: u64,
    /// Bytes used.
    pub bytes: u64,
}

/// What a compiled model takes on the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Weight words used per tile, and the chip's.
    pub weight_words: usize,
    pub weight_words_max: usize,
    /// Constant DMEM bytes (embedding, scales, gammas, RoPE table).
    pub const_bytes: u64,
    /// KV-cache bytes (state), all layers at the context.
    pub kv_bytes: u64,
    pub dmem_max: u64,
    pub vmem_words: usize,
    pub vmem_max: usize,
    pub instrs: usize,
    pub instrs_max: usize,
    /// Program bytes (32 per instruction).
    pub program_bytes: usize,
}

/// The part of a decode step an instruction belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Every RMSNORM: a layer's two and the final one.
    Norm,
    /// QUANT, the MATVECs and DEQUANTs of `q | k | v`.
    Qkv,
    /// ROPE of `q` and of `k`.
    Rope,
    /// KV_APPEND and ATTEND.
    Attention,
    /// QUANT, MATVEC and DEQUANT of `o`.
    O,
    /// The `gate | up` group, SILU_MUL and the `down` group.
    Mlp,
    /// The `lm_head` group, LOGITS and ARGMAX.
    LmHead,
    /// EMBED, the residual ADDs and END.
    Other,
}

impl Stage {
    /// Every stage, in the order of a decode step (`Other` last).
    pub const ALL: [Stage; 8] = [
        Stage::Norm,
        Stage::Qkv,
        Stage::Rope,
        Stage::Attention,
        Stage::O,
        Stage::Mlp,
        Stage::LmHead,
        Stage::Other,
    ];

    /// Lower-case name (`norm`, `qkv`, `rope`, `attention`, `o`, `mlp`, `lm_head`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Norm => "norm",
            Stage::Qkv => "qkv",
            Stage::Rope => "rope",
            Stage::Attention => "attention",
            Stage::O => "o",
            Stage::Mlp => "mlp",
            Stage::LmHead => "lm_head",
            Stage::Other => "other",
        }
    }
}

/// A compiled model: the program and where everything lives.
#[derive(Clone, Debug)]
pub struct Plan {
    pub cfg: ChipConfig,
    pub limits: EngineLimits,
    pub context: usize,
    pub mapping: Mapping,
    pub vmem: VmemLayout,
    pub dmem: DmemLayout,
    pub program: Vec<Instr>,
    /// The stage of each instruction of `program` (same length).
    pub stages: Vec<Stage>,
    pub sizes: Sizes,
}

/// The memory images of a [`Plan`]: the tiles' weight words and the DMEM contents.
#[derive(Clone, Debug)]
pub struct Image {
    pub tiles: Vec<Vec<u8>>,
    pub dmem: Vec<u8>,
}

fn align(v: u64) -> u64 {
    v.div_ceil(DMEM_ALIGN) * DMEM_ALIGN
}

/// The matrices of a model config in mapping order (`q, k, v, o, gate, up, down` per layer,
/// then `lm_head`), with their shapes.
pub fn matrix_shapes(m: &Config) -> Vec<(MatrixId, usize, usize)> {
    let (h, i, hd) = (m.hidden_size, m.intermediate_size, m.head_dim());
    let (nh, nkv) = (m.num_attention_heads, m.num_kv_heads());
    let mut out = Vec::new();
    for l in 0..m.num_hidden_layers {
        let id = |kind| MatrixId {
            layer: Some(l),
            kind,
        };
        out.push((id(MatrixKind::Q), nh * hd, h));
        out.push((id(MatrixKind::K), nkv * hd, h));
        out.push((id(MatrixKind::V), nkv * hd, h));
        out.push((id(MatrixKind::O), h, nh * hd));
        out.push((id(MatrixKind::Gate), i, h));
        out.push((id(MatrixKind::Up), i, h));
        out.push((id(MatrixKind::Down), h, i));
    }
    out.push((
        MatrixId {
            layer: None,
            kind: MatrixKind::LmHead,
        },
        m.vocab_size,
        h,
    ));
    out
}

fn u32_addr(v: u64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::DoesNotFit(format!("{what} at byte {v} is past 4 GiB")))
}

/// Compiles the program and the layout of a model (`m`, its `config.json`) for `cfg` at
/// `context` positions.
pub fn plan(cfg: &ChipConfig, m: &Config, context: usize) -> Result<Plan> {
    let limits = EngineLimits::for_config(cfg);
    if context == 0 || context > limits.context {
        return Err(Error::DoesNotFit(format!(
            "context {context}: configuration `{}` holds 1 to {} positions per KV cache",
            cfg.name, limits.context
        )));
    }
    let (h, inter, hd) = (m.hidden_size, m.intermediate_size, m.head_dim());
    let (nh, nkv, vocab) = (m.num_attention_heads, m.num_kv_heads(), m.vocab_size);
    if hd > limits.head_dim_max {
        return Err(Error::DoesNotFit(format!(
            "head_dim {hd}: configuration `{}` attends over heads of at most {}",
            cfg.name, limits.head_dim_max
        )));
    }
    let layers = m.num_hidden_layers;
    let mapping = Mapping::new(cfg, &matrix_shapes(m), &MapOptions::default())?;

    // VMEM.
    let mut at = 0usize;
    let mut take = |n: usize| {
        let a = at;
        at += n;
        a as u32
    };
    let vmem = VmemLayout {
        x: take(h),
        norm: take(h),
        q: take(nh * hd),
        k: take(nkv * hd),
        v: take(nkv * hd),
        attn: take(nh * hd),
        proj: take(h),
        gate: take(inter),
        up: take(inter),
        logits: take(vocab),
        words: 0,
    };
    let vmem = VmemLayout { words: at, ..vmem };
    if vmem.words > limits.vmem_words {
        return Err(Error::DoesNotFit(format!(
            "vector memory: the token's vectors need {} words, configuration `{}` has {} ({} \
             too many)",
            vmem.words,
            cfg.name,
            limits.vmem_words,
            vmem.words - limits.vmem_words
        )));
    }

    // DMEM: constants, then the KV caches.
    let mut at = 0u64;
    let mut take = |bytes: u64, what: &str| -> Result<u32> {
        let a = at;
        at = align(at + bytes);
        u32_addr(a, what)
    };
    let f = |n: usize| 4 * n as u64;
    let embed = take(2 * (vocab * h) as u64, "embedding table")?;
    let mut lr = Vec::with_capacity(layers);
    let rows = [nh * hd, nkv * hd, nkv * hd, h, inter, inter, h];
    for _ in 0..layers {
        let input_norm = take(f(h), "norm gamma")?;
        let post_norm = take(f(h), "norm gamma")?;
        let mut scales = [0u32; 7];
        for (s, r) in scales.iter_mut().zip(rows) {
            *s = take(f(r), "row scales")?;
        }
        lr.push(LayerRegions {
            input_norm,
            post_norm,
            scales,
            kv: 0,
        });
    }
    let final_norm = take(f(h), "final norm gamma")?;
    let lm_head_scales = take(f(vocab), "lm_head row scales")?;
    let rope = take(f(context * hd), "RoPE table")?;
    let kv_base = u64::from(take(0, "KV cache")?);
    let kv_layer_bytes = align(kv_region_bytes(context as u32, nkv as u32, hd as u32));
    for l in lr.iter_mut() {
        l.kv = take(kv_layer_bytes, "KV cache")?;
    }
    let end = u64::from(take(0, "end of the data memory")?);
    let dmem = DmemLayout {
        embed,
        layers: lr,
        final_norm,
        lm_head_scales,
        rope,
        kv_base,
        kv_layer_bytes,
        bytes: end,
    };
    if dmem.bytes > limits.dmem_bytes {
        return Err(Error::DoesNotFit(format!(
            "data memory: {} bytes of constants and {} bytes of KV cache (context {context}) \
             need {} bytes, configuration `{}` has {} ({} too many)",
            kv_base,
            dmem.bytes - kv_base,
            dmem.bytes,
            cfg.name,
            limits.dmem_bytes,
            dmem.bytes - limits.dmem_bytes
        )));
    }

    let (program, stages) = emit(cfg, m, context, &mapping, &vmem, &dmem)?;
    if program.len() > limits.prog_instrs {
        return Err(Error::DoesNotFit(format!(
            "program memory: {} instructions, configuration `{}` has {} ({} too many)",
            program.len(),
            cfg.name,
            limits.prog_instrs,
            program.len() - limits.prog_instrs
        )));
    }
    for (pc, i) in program.iter().enumerate() {
        i.check(cfg, &limits).map_err(|code| {
            Error::Config(format!(
                "compiled instruction {pc} {i:?} fails its check: {code}"
            ))
        })?;
    }
    let sizes = Sizes {
        weight_words: mapping.words_used,
        weight_words_max: cfg.weight_words,
        const_bytes: kv_base,
        kv_bytes: dmem.bytes - kv_base,
        dmem_max: limits.dmem_bytes,
        vmem_words: vmem.words,
        vmem_max: limits.vmem_words,
        instrs: program.len(),
        instrs_max: limits.prog_instrs,
        program_bytes: program.len() * 32,
    };
    Ok(Plan {
        cfg: cfg.clone(),
        limits,
        context,
        mapping,
        vmem,
        dmem,
        program,
        stages,
        sizes,
    })
}

/// One product group: a QUANT of `src` (`n` elements) feeding the MATVECs of `mats`, each
/// dequantized to its VMEM destination; results packed from RBUF word 0.
fn group(
    cfg: &ChipConfig,
    prog: &mut Vec<Instr>,
    src: u32,
    n: usize,
    mats: &[(&Placement, u32, u32)],
) -> Result<()> {
    let chunks = mats.iter().map(|(p, ..)| p.in_chunks()).max().unwrap_or(1);
    prog.push(Instr::Quant {
        src,
        n: n as u32,
        abuf: 0,
        chunks: chunks as u32,
    });
    let mut out = 0usize;
    let mut outs = Vec::new();
    for (p, ..) in mats {
        prog.push(Instr::Matvec {
            base: p.base as u32,
            groups: p.groups as u32,
            chunks: p.chunks as u32,
            lg_pk: p.lg_pk,
            input: 0,
            out: out as u32,
        });
        outs.push(out);
        out += p.out_words(cfg);
    }
    if out > cfg.rbuf_words {
        return Err(Error::DoesNotFit(format!(
            "result buffer: a product group needs {out} words, configuration `{}` has {}",
            cfg.name, cfg.rbuf_words
        )));
    }
    for ((p, dst, scales), o) in mats.iter().zip(outs) {
        prog.push(Instr::Dequant {
            dst: *dst,
            rbuf: o as u32,
            rows: p.rows as u32,
            scales: *scales,
        });
    }
    Ok(())
}

/// Gives the instructions pushed since the last call the stage `s`.
fn mark(stages: &mut Vec<Stage>, p: &[Instr], s: Stage) {
    stages.resize(p.len(), s);
}

/// The program and the stage of each instruction.
fn emit(
    cfg: &ChipConfig,
    m: &Config,
    context: usize,
    mapping: &Mapping,
    v: &VmemLayout,
    d: &DmemLayout,
) -> Result<(Vec<Instr>, Vec<Stage>)> {
    let (h, inter, hd) = (m.hidden_size, m.intermediate_size, m.head_dim());
    let (nh, nkv, vocab) = (m.num_attention_heads, m.num_kv_heads(), m.vocab_size);
    let eps = (m.rms_norm_eps as f32).to_bits();
    let ctx = context as u32;
    let get = |layer: Option<usize>, kind| {
        mapping
            .get(&MatrixId { layer, kind })
            .ok_or_else(|| Error::Config(format!("{kind:?} of layer {layer:?} is not mapped")))
    };
    let mut p = vec![Instr::Embed {
        dst: v.x,
        table: d.embed,
        n: h as u32,
        rows: vocab as u32,
    }];
    let mut st = Vec::new();
    mark(&mut st, &p, Stage::Other);
    for (l, r) in d.layers.iter().enumerate() {
        let mat = |k| get(Some(l), k);
        p.push(Instr::RmsNorm {
            dst: v.norm,
            src: v.x,
            gamma: r.input_norm,
            n: h as u32,
            eps,
        });
        mark(&mut st, &p, Stage::Norm);
        let [sq, sk, sv, so, sg, su, sd] = r.scales;
        group(
            cfg,
            &mut p,
            v.norm,
            h,
            &[
                (mat(MatrixKind::Q)?, v.q, sq),
                (mat(MatrixKind::K)?, v.k, sk),
                (mat(MatrixKind::V)?, v.v, sv),
            ],
        )?;
        mark(&mut st, &p, Stage::Qkv);
        for (vec, heads) in [(v.q, nh), (v.k, nkv)] {
            p.push(Instr::Rope {
                vec,
                heads: heads as u32,
                head_dim: hd as u32,
                table: d.rope,
                context: ctx,
            });
        }
        mark(&mut st, &p, Stage::Rope);
        p.push(Instr::KvAppend {
            k: v.k,
            v: v.v,
            kv_heads: nkv as u32,
            head_dim: hd as u32,
            cache: r.kv,
            context: ctx,
        });
        p.push(Instr::Attend {
            dst: v.attn,
            q: v.q,
            heads: nh as u32,
            kv_heads: nkv as u32,
            head_dim: hd as u32,
            cache: r.kv,
            context: ctx,
        });
        mark(&mut st, &p, Stage::Attention);
        group(
            cfg,
            &mut p,
            v.attn,
            nh * hd,
            &[(mat(MatrixKind::O)?, v.proj, so)],
        )?;
        mark(&mut st, &p, Stage::O);
        p.push(Instr::Add {
            dst: v.x,
            a: v.x,
            b: v.proj,
            n: h as u32,
        });
        mark(&mut st, &p, Stage::Other);
        p.push(Instr::RmsNorm {
            dst: v.norm,
            src: v.x,
            gamma: r.post_norm,
            n: h as u32,
            eps,
        });
        mark(&mut st, &p, Stage::Norm);
        group(
            cfg,
            &mut p,
            v.norm,
            h,
            &[
                (mat(MatrixKind::Gate)?, v.gate, sg),
                (mat(MatrixKind::Up)?, v.up, su),
            ],
        )?;
        p.push(Instr::SiluMul {
            dst: v.gate,
            gate: v.gate,
            up: v.up,
            n: inter as u32,
        });
        group(
            cfg,
            &mut p,
            v.gate,
            inter,
            &[(mat(MatrixKind::Down)?, v.proj, sd)],
        )?;
        mark(&mut st, &p, Stage::Mlp);
        p.push(Instr::Add {
            dst: v.x,
            a: v.x,
            b: v.proj,
            n: h as u32,
        });
        mark(&mut st, &p, Stage::Other);
    }
    p.push(Instr::RmsNorm {
        dst: v.norm,
        src: v.x,
        gamma: d.final_norm,
        n: h as u32,
        eps,
    });
    mark(&mut st, &p, Stage::Norm);
    group(
        cfg,
        &mut p,
        v.norm,
        h,
        &[(get(None, MatrixKind::LmHead)?, v.logits, d.lm_head_scales)],
    )?;
    p.push(Instr::Logits {
        src: v.logits,
        n: vocab as u32,
    });
    p.push(Instr::Argmax {
        src: v.logits,
        n: vocab as u32,
    });
    mark(&mut st, &p, Stage::LmHead);
    p.push(Instr::End);
    mark(&mut st, &p, Stage::Other);
    Ok((p, st))
}

fn put_f32s(dmem: &mut [u8], at: u32, v: impl IntoIterator<Item = f32>) {
    let mut a = at as usize;
    for x in v {
        dmem[a..a + 4].copy_from_slice(&x.to_le_bytes());
        a += 4;
    }
}

impl Plan {
    /// Weight MACs of one token: `rows · cols` summed over every matrix (`lm_head` included).
    pub fn weight_macs(&self) -> u64 {
        self.mapping
            .placements
            .iter()
            .map(|p| (p.rows * p.cols) as u64)
            .sum()
    }

    /// The memory images of `model` (loaded in `Precision::Chip`, the config this plan was
    /// made from).
    pub fn image(&self, model: &Llama) -> Result<Image> {
        if model.precision != Precision::Chip {
            return Err(Error::Config(
                "the token engine runs numerics v2: load the model with Precision::Chip".into(),
            ));
        }
        let emb = model
            .embed_chip
            .as_ref()
            .ok_or_else(|| Error::Config("the model has no bfloat16 embedding table".into()))?;
        let d = &self.dmem;
        let want = match self.program.first() {
            Some(&Instr::Embed { n, rows, .. }) => (rows as usize, n as usize),
            _ => {
                return Err(Error::Config(
                    "the program does not start with EMBED".into(),
                ))
            }
        };
        if emb.dim() != want {
            return Err(Error::Config(format!(
                "the embedding table is {:?}, the plan's {want:?} (vocab, hidden)",
                emb.dim()
            )));
        }
        let mats = model_matrices(model)?;
        let tiles = self.mapping.tile_images(&mats)?;
        let mut dmem = vec![0u8; self.dmem.kv_base as usize];
        let mut at = d.embed as usize;
        for v in emb.iter() {
            dmem[at..at + 2].copy_from_slice(&v.to_bits().to_le_bytes());
            at += 2;
        }
        let scales = |q: &QuantMatrix| q.scales.clone();
        let quant = |l: &tessera_golden::model::Linear| match &l.weight {
            tessera_golden::model::Weight::Quant(q) => Ok(scales(q)),
            tessera_golden::model::Weight::F32(_) | tessera_golden::model::Weight::Mx(_) => {
                Err(Error::Config(format!("{:?} is not int8", l.id)))
            }
        };
        if model.layers.len() != d.layers.len() {
            return Err(Error::Config(
                "the model's layer count differs from the plan's".into(),
            ));
        }
        for (layer, r) in model.layers.iter().zip(&d.layers) {
            put_f32s(
                &mut dmem,
                r.input_norm,
                layer.input_layernorm.weight.iter().copied(),
            );
            put_f32s(
                &mut dmem,
                r.post_norm,
                layer.post_attention_layernorm.weight.iter().copied(),
            );
            let a = &layer.self_attn;
            let mm = &layer.mlp;
            let lins = [
                &a.q_proj,
                &a.k_proj,
                &a.v_proj,
                &a.o_proj,
                &mm.gate_proj,
                &mm.up_proj,
                &mm.down_proj,
            ];
            for (lin, at) in lins.iter().zip(r.scales) {
                put_f32s(&mut dmem, at, quant(lin)?);
            }
        }
        put_f32s(&mut dmem, d.final_norm, model.norm.weight.iter().copied());
        put_f32s(&mut dmem, d.lm_head_scales, quant(&model.lm_head)?);
        let t = model.rope.tables_chip(0, self.context);
        let rows = t.cos.outer_iter().zip(t.sin.outer_iter());
        let row_bytes = 4 * 2 * t.cos.ncols();
        for (p, (c, s)) in rows.enumerate() {
            let at = d.rope + (p * row_bytes) as u32;
            put_f32s(&mut dmem, at, c.iter().chain(s.iter()).copied());
        }
        Ok(Image { tiles, dmem })
    }
}

#[cfg(test)]
mod tests;
