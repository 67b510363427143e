//! The token engine's instruction set (`docs/architecture.md`, "Token engine program"): the
//! program the driver compiles once per model and the chip runs once per token, from the token
//! id in `TOKEN` to the next token id in `NEXT`.
//!
//! An instruction is one 256-bit word: eight little-endian 32-bit words `w0 … w7`, the layout of
//! a descriptor header. `w0[7:0]` is the opcode, `w0[31:8]` is reserved (0), and each operand
//! fills one of `w1 … w7` in the order of [`Instr`]'s fields; unused words are reserved (0). A
//! reserved bit that is set or an unknown opcode is [`ErrorCode::Instr`].
//!
//! The engine's state: the registers `TOKEN` and `POS` (written by the host per token), `NEXT`
//! (the argmax) and `SX` (the scale of the last QUANT); the vector memory `VMEM` (binary32
//! words, the vector unit's operands); the data memory `DMEM` (bytes: the model's constants and
//! the KV cache); the activation and result buffers and the tiles' weight memory of the
//! descriptors. Addresses: VMEM in words, DMEM in bytes (binary32 arrays 4-byte aligned), ABUF
//! in chunks, RBUF in result words, weights in tile words, as for MATVEC.
//!
//! The numbers of the opcodes live here only: the SV enum `tok_op_e` of
//! `rtl/pkg/tessera_pkg.sv` is generated from [`TokOp::ALL`] (`scripts/gen-abi`).

use crate::config::ChipConfig;
use crate::descriptor::ErrorCode;

/// Words per instruction (256 bits).
pub const INSTR_WORDS: usize = 8;

/// One encoded instruction.
pub type Word = [u32; INSTR_WORDS];

/// Token-engine opcodes (`tessera_pkg::tok_op_e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TokOp {
    Nop = 0x00,
    Embed = 0x01,
    RmsNorm = 0x02,
    Quant = 0x03,
    Matvec = 0x04,
    Dequant = 0x05,
    Rope = 0x06,
    KvAppend = 0x07,
    Attend = 0x08,
    SiluMul = 0x09,
    Add = 0x0a,
    Argmax = 0x0b,
    Logits = 0x0c,
    End = 0x0d,
}

impl TokOp {
    pub const ALL: [TokOp; 14] = [
        TokOp::Nop,
        TokOp::Embed,
        TokOp::RmsNorm,
        TokOp::Quant,
        TokOp::Matvec,
        TokOp::Dequant,
        TokOp::Rope,
        TokOp::KvAppend,
        TokOp::Attend,
        TokOp::SiluMul,
        TokOp::Add,
        TokOp::Argmax,
        TokOp::Logits,
        TokOp::End,
    ];

    pub fn from_u8(v: u8) -> Option<TokOp> {
        TokOp::ALL.iter().copied().find(|o| *o as u8 == v)
    }

    /// What the opcode does, as the SV package says it.
    pub fn doc(self) -> &'static str {
        match self {
            TokOp::Nop => "no operation",
            TokOp::Embed => "bfloat16 embedding row TOKEN, widened to binary32, to VMEM",
            TokOp::RmsNorm => "RMSNorm of a VMEM vector with a DMEM gamma",
            TokOp::Quant => "VMEM vector to int8 ABUF chunks; its scale to SX",
            TokOp::Matvec => "matrix-vector product over every tile (MATVEC's fields)",
            TokOp::Dequant => "RBUF int32 results times SX and DMEM row scales to VMEM",
            TokOp::Rope => "rotary embedding of VMEM heads at POS (DMEM cos/sin table)",
            TokOp::KvAppend => "int8 keys and values of POS into a DMEM KV-cache region",
            TokOp::Attend => "grouped-query attention over positions 0..=POS, two int8 p.V passes",
            TokOp::SiluMul => "silu(gate) * up, element-wise",
            TokOp::Add => "element-wise sum (residual add)",
            TokOp::Argmax => "index of the largest VMEM value to NEXT",
            TokOp::Logits => "VMEM words to the output stream when the host asked for logits",
            TokOp::End => "end of the token: NEXT is valid",
        }
    }

    /// The name in `tessera_pkg` (`TokEmbed`, ...).
    pub fn pkg_name(self) -> String {
        format!("Tok{self:?}")
    }
}

/// One token-engine instruction; the fields are `w1, w2, …` in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instr {
    Nop,
    /// `vmem[dst + i] = Fz(f32(table[TOKEN·n + i]))` for `i < n`: the table is bfloat16
    /// `[rows][n]` (little-endian, 2-byte aligned), each value widened exactly to binary32
    /// (its bits shifted up by 16), then flushed to zero if subnormal. `TOKEN ≥ rows`:
    /// [`ErrorCode::Token`].
    Embed {
        dst: u32,
        table: u32,
        n: u32,
        rows: u32,
    },
    /// `r = rsqrt(sum_squares(x) / n + eps)`, `vmem[dst + i] = gamma[i] · (x[i] · r)`; `eps`
    /// is a binary32 bit pattern.
    RmsNorm {
        dst: u32,
        src: u32,
        gamma: u32,
        n: u32,
        eps: u32,
    },
    /// `(q, s) = quantize_activation(vmem[src .. src + n])`; `q` to ABUF chunks
    /// `abuf .. abuf + chunks`, zero-padded; `SX = s`.
    Quant {
        src: u32,
        n: u32,
        abuf: u32,
        chunks: u32,
    },
    /// MATVEC with the descriptor's fields and checks (`docs/architecture.md`).
    Matvec {
        base: u32,
        groups: u32,
        chunks: u32,
        lg_pk: u32,
        input: u32,
        out: u32,
    },
    /// `vmem[dst + r] = dequantize(rbuf_int32[rbuf·Lanes + r], SX, scales[r])`, `r < rows`.
    Dequant {
        dst: u32,
        rbuf: u32,
        rows: u32,
        scales: u32,
    },
    /// RoPE on `heads` vectors of `head_dim` at `vec` (in place), with row `POS` of the table
    /// `[context][cos ×head_dim/2, sin ×head_dim/2]` (binary32).
    Rope {
        vec: u32,
        heads: u32,
        head_dim: u32,
        table: u32,
        context: u32,
    },
    /// Quantizes each KV head of `k` and of `v` (VMEM) and writes them at position `POS` of
    /// the cache region at `cache` ([`kv_region_bytes`]). `POS ≥ context`: [`ErrorCode::KvFull`].
    KvAppend {
        k: u32,
        v: u32,
        kv_heads: u32,
        head_dim: u32,
        cache: u32,
        context: u32,
    },
    /// Attention of the `heads` query heads at `q` over cache positions `0 ..= POS`, head `h`
    /// reading KV head `h / (heads / kv_heads)`; the result to `dst` (`heads·head_dim`). The
    /// softmax weights times the value scales are quantized to 14 bits
    /// (`chip::quantize_softmax`), and `p·V` runs as two int8 passes over the values, the high
    /// and the low 7 bits of `p` (`split_p14`), combined exactly (`combine_p14`) before the
    /// final scale.
    Attend {
        dst: u32,
        q: u32,
        heads: u32,
        kv_heads: u32,
        head_dim: u32,
        cache: u32,
        context: u32,
    },
    /// `vmem[dst + i] = silu(gate[i]) · up[i]`.
    SiluMul {
        dst: u32,
        gate: u32,
        up: u32,
        n: u32,
    },
    /// `vmem[dst + i] = a[i] + b[i]`.
    Add {
        dst: u32,
        a: u32,
        b: u32,
        n: u32,
    },
    /// `NEXT = argmax(vmem[src .. src + n])` (ties to the lowest index).
    Argmax {
        src: u32,
        n: u32,
    },
    /// `vmem[src .. src + n]` to the output stream when the token command asked for logits.
    Logits {
        src: u32,
        n: u32,
    },
    End,
}

impl Instr {
    pub fn op(&self) -> TokOp {
        match self {
            Instr::Nop => TokOp::Nop,
            Instr::Embed { .. } => TokOp::Embed,
            Instr::RmsNorm { .. } => TokOp::RmsNorm,
            Instr::Quant { .. } => TokOp::Quant,
            Instr::Matvec { .. } => TokOp::Matvec,
            Instr::Dequant { .. } => TokOp::Dequant,
            Instr::Rope { .. } => TokOp::Rope,
            Instr::KvAppend { .. } => TokOp::KvAppend,
            Instr::Attend { .. } => TokOp::Attend,
            Instr::SiluMul { .. } => TokOp::SiluMul,
            Instr::Add { .. } => TokOp::Add,
            Instr::Argmax { .. } => TokOp::Argmax,
            Instr::Logits { .. } => TokOp::Logits,
            Instr::End => TokOp::End,
        }
    }

    /// The operand words `w1 …` in order.
    pub fn fields(&self) -> Vec<u32> {
        match *self {
            Instr::Nop | Instr::End => vec![],
            Instr::Embed {
                dst,
                table,
                n,
                rows,
            } => vec![dst, table, n, rows],
            Instr::RmsNorm {
                dst,
                src,
                gamma,
                n,
                eps,
            } => vec![dst, src, gamma, n, eps],
            Instr::Quant {
                src,
                n,
                abuf,
                chunks,
            } => vec![src, n, abuf, chunks],
            Instr::Matvec {
                base,
                groups,
                chunks,
                lg_pk,
                input,
                out,
            } => vec![base, groups, chunks, lg_pk, input, out],
            Instr::Dequant {
                dst,
                rbuf,
                rows,
                scales,
            } => vec![dst, rbuf, rows, scales],
            Instr::Rope {
                vec,
                heads,
                head_dim,
                table,
                context,
            } => vec![vec, heads, head_dim, table, context],
            Instr::KvAppend {
                k,
                v,
                kv_heads,
                head_dim,
                cache,
                context,
            } => vec![k, v, kv_heads, head_dim, cache, context],
            Instr::Attend {
                dst,
                q,
                heads,
                kv_heads,
                head_dim,
                cache,
                context,
            } => vec![dst, q, heads, kv_heads, head_dim, cache, context],
            Instr::SiluMul { dst, gate, up, n } => vec![dst, gate, up, n],
            Instr::Add { dst, a, b, n } => vec![dst, a, b, n],
            Instr::Argmax { src, n } | Instr::Logits { src, n } => vec![src, n],
        }
    }

    /// The 256-bit encoding.
    pub fn encode(&self) -> Word {
        let mut w = [0u32; INSTR_WORDS];
        w[0] = self.op() as u32;
        let f = self.fields();
        w[1..=f.len()].copy_from_slice(&f);
        w
    }

    /// Decodes one instruction: [`ErrorCode::Instr`] for an unknown opcode or a set reserved
    /// bit. Never panics.
    pub fn decode(w: &Word) -> Result<Instr, ErrorCode> {
        if w[0] >> 8 != 0 {
            return Err(ErrorCode::Instr);
        }
        let op = TokOp::from_u8(w[0] as u8).ok_or(ErrorCode::Instr)?;
        let f = |i: usize| w[i];
        let i = match op {
            TokOp::Nop => Instr::Nop,
            TokOp::End => Instr::End,
            TokOp::Embed => Instr::Embed {
                dst: f(1),
                table: f(2),
                n: f(3),
                rows: f(4),
            },
            TokOp::RmsNorm => Instr::RmsNorm {
                dst: f(1),
                src: f(2),
                gamma: f(3),
                n: f(4),
                eps: f(5),
            },
            TokOp::Quant => Instr::Quant {
                src: f(1),
                n: f(2),
                abuf: f(3),
                chunks: f(4),
            },
            TokOp::Matvec => Instr::Matvec {
                base: f(1),
                groups: f(2),
                chunks: f(3),
                lg_pk: f(4),
                input: f(5),
                out: f(6),
            },
            TokOp::Dequant => Instr::Dequant {
                dst: f(1),
                rbuf: f(2),
                rows: f(3),
                scales: f(4),
            },
            TokOp::Rope => Instr::Rope {
                vec: f(1),
                heads: f(2),
                head_dim: f(3),
                table: f(4),
                context: f(5),
            },
            TokOp::KvAppend => Instr::KvAppend {
                k: f(1),
                v: f(2),
                kv_heads: f(3),
                head_dim: f(4),
                cache: f(5),
                context: f(6),
            },
            TokOp::Attend => Instr::Attend {
                dst: f(1),
                q: f(2),
                heads: f(3),
                kv_heads: f(4),
                head_dim: f(5),
                cache: f(6),
                context: f(7),
            },
            TokOp::SiluMul => Instr::SiluMul {
                dst: f(1),
                gate: f(2),
                up: f(3),
                n: f(4),
            },
            TokOp::Add => Instr::Add {
                dst: f(1),
                a: f(2),
                b: f(3),
                n: f(4),
            },
            TokOp::Argmax => Instr::Argmax { src: f(1), n: f(2) },
            TokOp::Logits => Instr::Logits { src: f(1), n: f(2) },
        };
        // Words past the operands are reserved.
        if w[1 + i.fields().len()..].iter().any(|&x| x != 0) {
            return Err(ErrorCode::Instr);
        }
        Ok(i)
    }

    /// The static checks of the operands against the chip and the engine's memories (every
    /// check that does not depend on `TOKEN` or `POS`), in 64-bit arithmetic.
    pub fn check(&self, cfg: &ChipConfig, lim: &EngineLimits) -> Result<(), ErrorCode> {
        let vm = |addr: u32, n: u64| -> Result<(), ErrorCode> {
            if u64::from(addr) + n > lim.vmem_words as u64 {
                Err(ErrorCode::VmemRange)
            } else {
                Ok(())
            }
        };
        // A DMEM range; `align` 4 for binary32 arrays, 2 for bfloat16.
        let dm = |addr: u32, bytes: u64, align: u32| -> Result<(), ErrorCode> {
            if addr % align != 0 || u64::from(addr) + bytes > lim.dmem_bytes {
                Err(ErrorCode::DmemRange)
            } else {
                Ok(())
            }
        };
        let shape = |bad: bool| if bad { Err(ErrorCode::Shape) } else { Ok(()) };
        let u = u64::from;
        // The engine writes an element as soon as it has read its operands, so a destination
        // either is a source or does not overlap it.
        let apart = |dst: u32, src: u32, n: u64| -> Result<(), ErrorCode> {
            if dst != src && u(dst) < u(src) + n && u(src) < u(dst) + n {
                Err(ErrorCode::VmemRange)
            } else {
                Ok(())
            }
        };
        match *self {
            Instr::Nop | Instr::End => Ok(()),
            Instr::Embed {
                dst,
                table,
                n,
                rows,
            } => {
                shape(n == 0 || rows == 0)?;
                vm(dst, u(n))?;
                dm(table, 2 * u(n) * u(rows), 2)
            }
            Instr::RmsNorm {
                dst, src, gamma, n, ..
            } => {
                shape(n == 0)?;
                vm(dst, u(n))?;
                vm(src, u(n))?;
                dm(gamma, 4 * u(n), 4)?;
                apart(dst, src, u(n))
            }
            Instr::Quant {
                src,
                n,
                abuf,
                chunks,
            } => {
                shape(n == 0 || chunks == 0 || u(n) > u(chunks) * cfg.kwidth as u64)?;
                vm(src, u(n))?;
                if u(abuf) + u(chunks) > cfg.abuf_words as u64 {
                    return Err(ErrorCode::AbufRange);
                }
                Ok(())
            }
            Instr::Matvec {
                base,
                groups,
                chunks,
                lg_pk,
                input,
                out,
            } => {
                shape(
                    groups == 0
                        || chunks == 0
                        || chunks as usize > cfg.act_words
                        || lg_pk > cfg.lg_tiles(),
                )?;
                let pk = 1u64 << lg_pk;
                let pr = cfg.tiles() as u64 >> lg_pk;
                if u(base) + u(groups) * u(chunks) > cfg.weight_words as u64 {
                    return Err(ErrorCode::WeightRange);
                }
                if u(input) + pk * u(chunks) > cfg.abuf_words as u64 {
                    return Err(ErrorCode::AbufRange);
                }
                if u(out) + pr * u(groups) > cfg.rbuf_words as u64 {
                    return Err(ErrorCode::RbufRange);
                }
                Ok(())
            }
            Instr::Dequant {
                dst,
                rbuf,
                rows,
                scales,
            } => {
                shape(rows == 0)?;
                vm(dst, u(rows))?;
                if u(rbuf) * cfg.lanes as u64 + u(rows) > (cfg.rbuf_words * cfg.lanes) as u64 {
                    return Err(ErrorCode::RbufRange);
                }
                dm(scales, 4 * u(rows), 4)
            }
            Instr::Rope {
                vec,
                heads,
                head_dim,
                table,
                context,
            } => {
                shape(heads == 0 || head_dim == 0 || head_dim % 2 == 1 || context == 0)?;
                shape(context as usize > lim.context)?;
                vm(vec, u(heads) * u(head_dim))?;
                dm(table, 4 * u(context) * u(head_dim), 4)
            }
            Instr::KvAppend {
                k,
                v,
                kv_heads,
                head_dim,
                cache,
                context,
            } => {
                shape(kv_heads == 0 || head_dim == 0 || head_dim % 2 == 1 || context == 0)?;
                shape(context as usize > lim.context)?;
                vm(k, u(kv_heads) * u(head_dim))?;
                vm(v, u(kv_heads) * u(head_dim))?;
                dm(cache, kv_region_bytes(context, kv_heads, head_dim), 4)
            }
            Instr::Attend {
                dst,
                q,
                heads,
                kv_heads,
                head_dim,
                cache,
                context,
            } => {
                shape(
                    heads == 0
                        || kv_heads == 0
                        || heads % kv_heads != 0
                        || head_dim == 0
                        || head_dim % 2 == 1
                        || context == 0,
                )?;
                shape(context as usize > lim.context || head_dim as usize > lim.head_dim_max)?;
                vm(dst, u(heads) * u(head_dim))?;
                vm(q, u(heads) * u(head_dim))?;
                dm(cache, kv_region_bytes(context, kv_heads, head_dim), 4)?;
                apart(dst, q, u(heads) * u(head_dim))
            }
            Instr::SiluMul {
                dst,
                gate: a,
                up: b,
                n,
            }
            | Instr::Add { dst, a, b, n } => {
                shape(n == 0)?;
                vm(dst, u(n))?;
                vm(a, u(n))?;
                vm(b, u(n))?;
                apart(dst, a, u(n))?;
                apart(dst, b, u(n))
            }
            Instr::Argmax { src, n } | Instr::Logits { src, n } => {
                shape(n == 0)?;
                vm(src, u(n))
            }
        }
    }
}

/// Bytes of one layer's KV-cache region: int8 keys `[context][kv_heads][head_dim]`, int8
/// values (the same), binary32 key scales `[context][kv_heads]`, binary32 value scales (the
/// same), in this order from the region's base.
pub fn kv_region_bytes(context: u32, kv_heads: u32, head_dim: u32) -> u64 {
    let slots = u64::from(context) * u64::from(kv_heads);
    slots * (2 * u64::from(head_dim) + 8)
}

/// Byte offsets inside a KV-cache region of [`kv_region_bytes`]: `(keys, values, key scales,
/// value scales)`.
pub fn kv_region_parts(context: u32, kv_heads: u32, head_dim: u32) -> (u64, u64, u64, u64) {
    let slots = u64::from(context) * u64::from(kv_heads);
    let vals = slots * u64::from(head_dim);
    (0, vals, 2 * vals, 2 * vals + 4 * slots)
}

/// The token engine's memories and limits of a chip configuration: the engine parameters of
/// `rtl/top/configs.toml` (`VmemWords`, `DmemWords`, `ProgInstrs`, `Context`, `HeadDimMax`, the
/// `-G` parameters of `tessera_top`):
///
/// | config | context | head_dim | VMEM words | DMEM | program instructions |
/// | --- | --- | --- | --- | --- | --- |
/// | `sim` | 2,048 | 128 | 262,144 (1 MiB) | 128 MiB | 4,096 (128 KiB) |
/// | `t1-8b` | 4,096 | 128 | 262,144 | 2 GiB | 4,096 |
/// | `tiny`, `grid*` | 256 | 128 | 4,096 (16 KiB) | 4 MiB | 1,024 (32 KiB) |
/// | `ulx3s` | 64 | 32 | 1,024 | 32 KiB | 128 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineLimits {
    /// Positions a KV cache holds (the largest context a program may be compiled for).
    pub context: usize,
    /// The largest head_dim of an ATTEND.
    pub head_dim_max: usize,
    /// Words of the vector memory.
    pub vmem_words: usize,
    /// Bytes of the data memory (constants and KV caches): `4 · DmemWords`.
    pub dmem_bytes: u64,
    /// Instructions of the program memory.
    pub prog_instrs: usize,
}

impl EngineLimits {
    pub fn for_config(cfg: &ChipConfig) -> EngineLimits {
        EngineLimits {
            context: cfg.context,
            head_dim_max: cfg.head_dim_max,
            vmem_words: cfg.vmem_words,
            dmem_bytes: cfg.dmem_bytes(),
            prog_instrs: cfg.prog_instrs,
        }
    }
}

/// A whole program's words, instruction after instruction.
pub fn encode_program(prog: &[Instr]) -> Vec<u32> {
    prog.iter().flat_map(|i| i.encode()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_op() -> Vec<Instr> {
        vec![
            Instr::Nop,
            Instr::Embed {
                dst: 1,
                table: 2,
                n: 3,
                rows: 4,
            },
            Instr::RmsNorm {
                dst: 1,
                src: 2,
                gamma: 3,
                n: 4,
                eps: 0x3727_c5ac,
            },
            Instr::Quant {
                src: 1,
                n: 2,
                abuf: 3,
                chunks: 4,
            },
            Instr::Matvec {
                base: 1,
                groups: 2,
                chunks: 3,
                lg_pk: 4,
                input: 5,
                out: 6,
            },
            Instr::Dequant {
                dst: 1,
                rbuf: 2,
                rows: 3,
                scales: 4,
            },
            Instr::Rope {
                vec: 1,
                heads: 2,
                head_dim: 3,
                table: 4,
                context: 5,
            },
            Instr::KvAppend {
                k: 1,
                v: 2,
                kv_heads: 3,
                head_dim: 4,
                cache: 5,
                context: 6,
            },
            Instr::Attend {
                dst: 1,
                q: 2,
                heads: 3,
                kv_heads: 4,
                head_dim: 5,
                cache: 6,
                context: 7,
            },
            Instr::SiluMul {
                dst: 1,
                gate: 2,
                up: 3,
                n: 4,
            },
            Instr::Add {
                dst: 1,
                a: 2,
                b: 3,
                n: 4,
            },
            Instr::Argmax { src: 1, n: 2 },
            Instr::Logits { src: 1, n: 2 },
            Instr::End,
        ]
    }

    #[test]
    fn abi_token_every_opcode_round_trips() {
        let all = every_op();
        assert_eq!(all.len(), TokOp::ALL.len());
        for (i, op) in all.iter().zip(TokOp::ALL) {
            assert_eq!(i.op(), op);
            let w = i.encode();
            assert_eq!(w[0], op as u32);
            assert_eq!(Instr::decode(&w), Ok(*i));
            // Fields land in w1, w2, … in order.
            for (k, f) in i.fields().iter().enumerate() {
                assert_eq!(w[k + 1], *f);
            }
        }
        assert_eq!(encode_program(&all).len(), all.len() * INSTR_WORDS);
    }

    #[test]
    fn abi_token_illegal_words_are_instr_errors() {
        let mut w = [0u32; INSTR_WORDS];
        w[0] = 0x0e;
        assert_eq!(Instr::decode(&w), Err(ErrorCode::Instr));
        w[0] = 0xff;
        assert_eq!(Instr::decode(&w), Err(ErrorCode::Instr));
        // Reserved bits of w0 and reserved words.
        let mut w = Instr::End.encode();
        w[0] |= 1 << 8;
        assert_eq!(Instr::decode(&w), Err(ErrorCode::Instr));
        let mut w = Instr::Argmax { src: 0, n: 1 }.encode();
        w[3] = 1;
        assert_eq!(Instr::decode(&w), Err(ErrorCode::Instr));
        let mut w = Instr::Attend {
            dst: 0,
            q: 0,
            heads: 1,
            kv_heads: 1,
            head_dim: 2,
            cache: 0,
            context: 1,
        }
        .encode();
        assert!(Instr::decode(&w).is_ok());
        w[7] = 0; // context 0 decodes but fails the checks
        let tiny = ChipConfig::named("tiny").unwrap();
        let lim = EngineLimits::for_config(&tiny);
        assert_eq!(
            Instr::decode(&w).unwrap().check(&tiny, &lim),
            Err(ErrorCode::Shape)
        );
    }

    #[test]
    fn abi_token_operand_checks() {
        let tiny = ChipConfig::named("tiny").unwrap();
        let lim = EngineLimits::for_config(&tiny);
        let vm = lim.vmem_words as u32;
        let dm = lim.dmem_bytes as u32;
        let cases: Vec<(Instr, Result<(), ErrorCode>)> = vec![
            (
                Instr::Add {
                    dst: vm - 4,
                    a: 0,
                    b: 0,
                    n: 4,
                },
                Ok(()),
            ),
            (
                Instr::Add {
                    dst: vm - 3,
                    a: 0,
                    b: 0,
                    n: 4,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::Add {
                    dst: 0,
                    a: 0,
                    b: u32::MAX,
                    n: u32::MAX,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::Add {
                    dst: 0,
                    a: 0,
                    b: 0,
                    n: 0,
                },
                Err(ErrorCode::Shape),
            ),
            // A destination is a source or apart from it.
            (
                Instr::Add {
                    dst: 8,
                    a: 8,
                    b: 16,
                    n: 8,
                },
                Ok(()),
            ),
            (
                Instr::Add {
                    dst: 8,
                    a: 0,
                    b: 16,
                    n: 9,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::SiluMul {
                    dst: 9,
                    gate: 0,
                    up: 16,
                    n: 8,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::RmsNorm {
                    dst: 1,
                    src: 0,
                    gamma: 0,
                    n: 4,
                    eps: 0,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::Attend {
                    dst: 4,
                    q: 0,
                    heads: 2,
                    kv_heads: 1,
                    head_dim: 4,
                    cache: 0,
                    context: 4,
                },
                Err(ErrorCode::VmemRange),
            ),
            (
                Instr::Attend {
                    dst: 0,
                    q: 0,
                    heads: 2,
                    kv_heads: 1,
                    head_dim: 4,
                    cache: 0,
                    context: 4,
                },
                Ok(()),
            ),
            (
                Instr::RmsNorm {
                    dst: 0,
                    src: 0,
                    gamma: dm - 16,
                    n: 4,
                    eps: 0,
                },
                Ok(()),
            ),
            (
                Instr::RmsNorm {
                    dst: 0,
                    src: 0,
                    gamma: dm - 12,
                    n: 4,
                    eps: 0,
                },
                Err(ErrorCode::DmemRange),
            ),
            (
                Instr::RmsNorm {
                    dst: 0,
                    src: 0,
                    gamma: 2,
                    n: 4,
                    eps: 0,
                },
                Err(ErrorCode::DmemRange),
            ),
            (
                Instr::Quant {
                    src: 0,
                    n: 17,
                    abuf: 0,
                    chunks: 2,
                },
                Err(ErrorCode::Shape),
            ),
            (
                Instr::Quant {
                    src: 0,
                    n: 16,
                    abuf: 255,
                    chunks: 2,
                },
                Err(ErrorCode::AbufRange),
            ),
            (
                Instr::Matvec {
                    base: 0,
                    groups: 1,
                    chunks: 1,
                    lg_pk: 3,
                    input: 0,
                    out: 0,
                },
                Err(ErrorCode::Shape),
            ),
            (
                Instr::Matvec {
                    base: 255,
                    groups: 1,
                    chunks: 2,
                    lg_pk: 0,
                    input: 0,
                    out: 0,
                },
                Err(ErrorCode::WeightRange),
            ),
            (
                Instr::Matvec {
                    base: 0,
                    groups: 1,
                    chunks: 2,
                    lg_pk: 2,
                    input: 249,
                    out: 0,
                },
                Err(ErrorCode::AbufRange),
            ),
            (
                Instr::Matvec {
                    base: 0,
                    groups: 2,
                    chunks: 2,
                    lg_pk: 0,
                    input: 0,
                    out: 249,
                },
                Err(ErrorCode::RbufRange),
            ),
            (
                Instr::Dequant {
                    dst: 0,
                    rbuf: 255,
                    rows: 4,
                    scales: 0,
                },
                Ok(()),
            ),
            (
                Instr::Dequant {
                    dst: 0,
                    rbuf: 255,
                    rows: 5,
                    scales: 0,
                },
                Err(ErrorCode::RbufRange),
            ),
            (
                Instr::Rope {
                    vec: 0,
                    heads: 2,
                    head_dim: 3,
                    table: 0,
                    context: 4,
                },
                Err(ErrorCode::Shape),
            ),
            (
                Instr::Attend {
                    dst: 0,
                    q: 0,
                    heads: 6,
                    kv_heads: 4,
                    head_dim: 8,
                    cache: 0,
                    context: 4,
                },
                Err(ErrorCode::Shape),
            ),
            (
                Instr::KvAppend {
                    k: 0,
                    v: 0,
                    kv_heads: 2,
                    head_dim: 8,
                    cache: dm - kv_region_bytes(4, 2, 8) as u32,
                    context: 4,
                },
                Ok(()),
            ),
            (
                Instr::KvAppend {
                    k: 0,
                    v: 0,
                    kv_heads: 2,
                    head_dim: 8,
                    cache: dm - kv_region_bytes(4, 2, 8) as u32 + 4,
                    context: 4,
                },
                Err(ErrorCode::DmemRange),
            ),
        ];
        let embed = |table: u32, rows: u32| Instr::Embed {
            dst: 0,
            table,
            n: 8,
            rows,
        };
        let cases = cases.into_iter().chain([
            (embed(dm - 2 * 8 * 4, 4), Ok(())),
            (embed(dm - 2 * 8 * 4 + 2, 4), Err(ErrorCode::DmemRange)),
            (embed(1, 4), Err(ErrorCode::DmemRange)),
            (embed(0, 0), Err(ErrorCode::Shape)),
        ]);
        // Contexts past the configuration's, head_dim past HeadDimMax: shape errors, found
        // before any range (the VMEM operands here are past the memory too).
        let ctx = lim.context as u32;
        let hmax = lim.head_dim_max as u32;
        let rope = |context| Instr::Rope {
            vec: 0,
            heads: 1,
            head_dim: 2,
            table: 0,
            context,
        };
        let append = |context, k| Instr::KvAppend {
            k,
            v: 0,
            kv_heads: 1,
            head_dim: 2,
            cache: 0,
            context,
        };
        let attend = |head_dim, context, q| Instr::Attend {
            dst: 0,
            q,
            heads: 1,
            kv_heads: 1,
            head_dim,
            cache: 0,
            context,
        };
        let cases = cases.chain([
            (rope(ctx), Ok(())),
            (rope(ctx + 1), Err(ErrorCode::Shape)),
            (append(ctx, 0), Ok(())),
            (append(ctx + 1, vm), Err(ErrorCode::Shape)),
            (append(ctx, vm), Err(ErrorCode::VmemRange)),
            (attend(hmax, ctx, 0), Ok(())),
            (attend(hmax + 2, 4, 0), Err(ErrorCode::Shape)),
            (attend(2, ctx + 1, vm), Err(ErrorCode::Shape)),
            (attend(hmax, ctx, vm), Err(ErrorCode::VmemRange)),
        ]);
        for (i, want) in cases {
            assert_eq!(i.check(&tiny, &lim), want, "{i:?}");
        }
    }

    #[test]
    fn abi_token_kv_region_layout() {
        assert_eq!(kv_region_bytes(2048, 3, 64), 2048 * 3 * (128 + 8));
        let (k, v, ks, vs) = kv_region_parts(4, 2, 8);
        assert_eq!((k, v, ks, vs), (0, 64, 128, 160));
        assert_eq!(vs + 4 * 8, kv_region_bytes(4, 2, 8));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn instr() -> impl Strategy<Value = Instr> {
        let w = any::<[u32; 7]>();
        (0usize..TokOp::ALL.len(), w).prop_map(|(k, f)| {
            let mut words = [0u32; INSTR_WORDS];
            words[0] = TokOp::ALL[k] as u32;
            words[1..].copy_from_slice(&f);
            // Clear the reserved words of this opcode, then decode.
            let probe = Instr::decode(&[words[0], 0, 0, 0, 0, 0, 0, 0]).unwrap_or(Instr::Nop);
            let n = probe.fields().len();
            for x in words[1 + n..].iter_mut() {
                *x = 0;
            }
            Instr::decode(&words).unwrap_or(Instr::Nop)
        })
    }

    proptest! {
        #[test]
        fn abi_token_decode_of_any_words_never_panics(w in any::<[u32; 8]>()) {
            let tiny = ChipConfig::named("tiny").unwrap();
            let lim = EngineLimits::for_config(&tiny);
            if let Ok(i) = Instr::decode(&w) {
                // A legal word is the encoding of what it decodes to.
                prop_assert_eq!(i.encode(), w);
                let _ = i.check(&tiny, &lim);
            }
        }

        #[test]
        fn abi_token_decode_of_encode_is_identity(i in instr()) {
            prop_assert_eq!(Instr::decode(&i.encode()), Ok(i));
        }

        #[test]
        fn abi_token_random_opcode_byte(op in any::<u8>(), f in any::<[u32; 7]>()) {
            let mut w = [0u32; INSTR_WORDS];
            w[0] = u32::from(op);
            w[1..].copy_from_slice(&f);
            match Instr::decode(&w) {
                Ok(i) => prop_assert_eq!(i.op() as u8, op),
                Err(e) => prop_assert_eq!(e, ErrorCode::Instr),
            }
            prop_assert_eq!(TokOp::from_u8(op).is_some(), op <= 0x0d);
        }
    }
}
