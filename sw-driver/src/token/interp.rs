//! The reference interpreter of the token engine: its executable specification.
//!
//! [`Engine`] holds the chip's memories as the program sees them (program words, tile weight
//! memory, DMEM, VMEM, ABUF, RBUF and the registers) and runs one token per [`Engine::step`]:
//! it decodes each instruction from the program words, checks it (the static checks of
//! [`Instr::check`], then `POS` and `TOKEN`), and executes it with `tessera_golden::chip`'s
//! functions and the golden integer kernel only. The KV caches live in DMEM, so the state of
//! a sequence persists from token to token. A failing instruction stops the token with its
//! error code and index ([`Fault`]); nothing is written by the failing instruction.

use std::collections::HashMap;

use tessera_abi::token::{kv_region_parts, EngineLimits, Instr, INSTR_WORDS};
use tessera_golden::chip::{self, Fz, Q31};
use tessera_golden::quant::matvec_i32;

use crate::config::ChipConfig;
use crate::program::ErrorCode;

/// A token stopped by an error: the code and the index of the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: ErrorCode,
    pub pc: usize,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "token engine error {} at instruction {}",
            self.code, self.pc
        )
    }
}

impl std::error::Error for Fault {}

/// What one token returns to the host.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenOut {
    /// `NEXT`.
    pub next: u32,
    /// The words of the LOGITS instructions (one after the other), when asked for.
    pub logits: Option<Vec<f32>>,
    /// Instructions executed.
    pub instrs: usize,
}

/// The token engine's memories and registers.
pub struct Engine {
    pub cfg: ChipConfig,
    pub limits: EngineLimits,
    /// Program memory, [`INSTR_WORDS`] words per instruction.
    pub program: Vec<u32>,
    /// Each tile's weight words (`Lanes·KWidth` bytes each; missing words read as zero).
    pub tiles: Vec<Vec<u8>>,
    /// Data memory (missing bytes read as zero; grows on access within the limits).
    pub dmem: Vec<u8>,
    pub vmem: Vec<f32>,
    pub abuf: Vec<i8>,
    pub rbuf: Vec<i32>,
    /// The scale of the last QUANT (binary32).
    pub sx: f32,
    pub next: u32,
    /// Row-major copies of the matrices MATVEC has read, by `(base, G, C, lg_pk)`: tile
    /// memory does not change while the engine runs, so each is gathered once.
    mats: HashMap<(u32, u32, u32, u32), Vec<i8>>,
}

impl Engine {
    pub fn new(
        cfg: &ChipConfig,
        limits: EngineLimits,
        program: Vec<u32>,
        tiles: Vec<Vec<u8>>,
        dmem: Vec<u8>,
    ) -> Engine {
        Engine {
            cfg: cfg.clone(),
            limits,
            program,
            tiles,
            dmem,
            vmem: vec![0.0; limits.vmem_words],
            abuf: vec![0; cfg.abuf_words * cfg.kwidth],
            rbuf: vec![0; cfg.rbuf_words * cfg.lanes],
            sx: 1.0,
            next: 0,
            mats: HashMap::new(),
        }
    }

    /// An engine loaded with a compiled plan and its images.
    pub fn load(plan: &super::Plan, image: super::Image) -> Engine {
        let mut dmem = image.dmem;
        dmem.resize(plan.dmem.bytes as usize, 0);
        Engine::new(
            &plan.cfg,
            plan.limits,
            tessera_abi::token::encode_program(&plan.program),
            image.tiles,
            dmem,
        )
    }

    /// Runs one token: `TOKEN = token`, `POS = pos`, from instruction 0 to END.
    pub fn step(&mut self, token: u32, pos: u32, want_logits: bool) -> Result<TokenOut, Fault> {
        let n_instr = (self.program.len() / INSTR_WORDS).min(self.limits.prog_instrs);
        let mut logits = None;
        let mut pc = 0usize;
        loop {
            if pc >= n_instr {
                return Err(Fault {
                    code: ErrorCode::ProgRange,
                    pc,
                });
            }
            let mut w = [0u32; INSTR_WORDS];
            w.copy_from_slice(&self.program[pc * INSTR_WORDS..(pc + 1) * INSTR_WORDS]);
            let fault = |code| Fault { code, pc };
            let i = Instr::decode(&w).map_err(fault)?;
            i.check(&self.cfg, &self.limits).map_err(fault)?;
            match self.exec(&i, token, pos, want_logits, &mut logits) {
                Ok(true) => {
                    return Ok(TokenOut {
                        next: self.next,
                        logits,
                        instrs: pc + 1,
                    })
                }
                Ok(false) => pc += 1,
                Err(code) => return Err(fault(code)),
            }
        }
    }

    fn v(&self, at: u32, n: u32) -> Vec<Fz> {
        self.vmem[at as usize..(at + n) as usize]
            .iter()
            .map(|&x| Fz::new(x))
            .collect()
    }

    fn put(&mut self, at: u32, v: impl IntoIterator<Item = Fz>) {
        for (d, x) in self.vmem[at as usize..].iter_mut().zip(v) {
            *d = x.get();
        }
    }

    fn dmem_range(&mut self, at: u64, n: u64) -> &mut [u8] {
        let end = (at + n) as usize;
        if self.dmem.len() < end {
            self.dmem.resize(end, 0);
        }
        &mut self.dmem[at as usize..end]
    }

    fn dmem_f32(&mut self, at: u64) -> Fz {
        let b = self.dmem_range(at, 4);
        Fz::new(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Executes a checked instruction; `Ok(true)` at END.
    fn exec(
        &mut self,
        i: &Instr,
        token: u32,
        pos: u32,
        want_logits: bool,
        logits: &mut Option<Vec<f32>>,
    ) -> Result<bool, ErrorCode> {
        let u = u64::from;
        match *i {
            Instr::Nop => {}
            Instr::End => return Ok(true),
            Instr::Embed {
                dst,
                table,
                n,
                rows,
            } => {
                if token >= rows {
                    return Err(ErrorCode::Token);
                }
                // bfloat16 widened to binary32 (exact: the bits shifted up by 16), then flushed.
                let row = self
                    .dmem_range(u(table) + 2 * u(token) * u(n), 2 * u(n))
                    .to_vec();
                self.put(
                    dst,
                    row.chunks_exact(2).map(|b| {
                        Fz::new(f32::from_bits(
                            u32::from(u16::from_le_bytes([b[0], b[1]])) << 16,
                        ))
                    }),
                );
            }
            Instr::RmsNorm {
                dst,
                src,
                gamma,
                n,
                eps,
            } => {
                let x = self.v(src, n);
                let r = chip::rsqrt(
                    chip::sum_squares(&x) / Fz::new(n as f32) + Fz::new(f32::from_bits(eps)),
                );
                let g: Vec<Fz> = (0..u(n)).map(|k| self.dmem_f32(u(gamma) + 4 * k)).collect();
                self.put(dst, x.iter().zip(&g).map(|(&xv, &w)| w * (xv * r)));
            }
            Instr::Quant {
                src,
                n,
                abuf,
                chunks,
            } => {
                let (q, s) = chip::quantize_activation(&self.v(src, n));
                let kw = self.cfg.kwidth;
                let at = abuf as usize * kw;
                let dst = &mut self.abuf[at..at + chunks as usize * kw];
                dst.fill(0);
                dst[..q.len()].copy_from_slice(&q);
                self.sx = s.get();
            }
            Instr::Matvec {
                base,
                groups,
                chunks,
                lg_pk,
                input,
                out,
            } => {
                let (lanes, kw) = (self.cfg.lanes, self.cfg.kwidth);
                let pk = 1usize << lg_pk;
                let pr = self.cfg.tiles() >> lg_pk;
                let (g, c) = (groups as usize, chunks as usize);
                let rows = pr * g * lanes;
                let k = pk * c * kw;
                let key = (base, groups, chunks, lg_pk);
                if !self.mats.contains_key(&key) {
                    let m = self.gather(base as usize, g, c, lg_pk);
                    self.mats.insert(key, m);
                }
                let x = &self.abuf[input as usize * kw..input as usize * kw + k];
                let o = out as usize * lanes;
                matvec_i32(&self.mats[&key], rows, k, x, &mut self.rbuf[o..o + rows]);
            }
            Instr::Dequant {
                dst,
                rbuf,
                rows,
                scales,
            } => {
                let sx = Fz::new(self.sx);
                let o = rbuf as usize * self.cfg.lanes;
                let acc = self.rbuf[o..o + rows as usize].to_vec();
                let y: Vec<Fz> = acc
                    .iter()
                    .enumerate()
                    .map(|(r, &a)| chip::dequantize(a, sx, self.dmem_f32(u(scales) + 4 * r as u64)))
                    .collect();
                self.put(dst, y);
            }
            Instr::Rope {
                vec,
                heads,
                head_dim,
                table,
                context,
            } => {
                if pos >= context {
                    return Err(ErrorCode::KvFull);
                }
                let half = head_dim as usize / 2;
                let row = u(table) + 4 * u(pos) * u(head_dim);
                let cs: Vec<Fz> = (0..u(head_dim))
                    .map(|k| self.dmem_f32(row + 4 * k))
                    .collect();
                let (cos, sin) = cs.split_at(half);
                let mut x = self.v(vec, heads * head_dim);
                for head in x.chunks_exact_mut(head_dim as usize) {
                    for k in 0..half {
                        let (a, b) = (head[k], head[k + half]);
                        head[k] = a * cos[k] - b * sin[k];
                        head[k + half] = b * cos[k] + a * sin[k];
                    }
                }
                self.put(vec, x);
            }
            Instr::KvAppend {
                k,
                v,
                kv_heads,
                head_dim,
                cache,
                context,
            } => {
                if pos >= context {
                    return Err(ErrorCode::KvFull);
                }
                let (kp, vp, ksp, vsp) = kv_region_parts(context, kv_heads, head_dim);
                let hd = u(head_dim);
                let n = kv_heads * head_dim;
                for (src, vals, scales) in [(k, kp, ksp), (v, vp, vsp)] {
                    let x = self.v(src, n);
                    for (g, head) in x.chunks_exact(head_dim as usize).enumerate() {
                        let slot = u(pos) * u(kv_heads) + g as u64;
                        let (q, s) = chip::quantize_activation(head);
                        let at = u(cache) + vals + slot * hd;
                        for (d, &b) in self.dmem_range(at, hd).iter_mut().zip(&q) {
                            *d = b as u8;
                        }
                        let at = u(cache) + scales + 4 * slot;
                        self.dmem_range(at, 4)
                            .copy_from_slice(&s.get().to_le_bytes());
                    }
                }
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
                if pos >= context {
                    return Err(ErrorCode::KvFull);
                }
                let out = self.attend(q, heads, kv_heads, head_dim, cache, context, pos);
                self.put(dst, out);
            }
            Instr::SiluMul { dst, gate, up, n } => {
                let (g, x) = (self.v(gate, n), self.v(up, n));
                self.put(dst, g.iter().zip(&x).map(|(&g, &x)| chip::silu(g) * x));
            }
            Instr::Add { dst, a, b, n } => {
                let (a, b) = (self.v(a, n), self.v(b, n));
                self.put(dst, a.iter().zip(&b).map(|(&a, &b)| a + b));
            }
            Instr::Argmax { src, n } => {
                self.next = chip::argmax(&self.vmem[src as usize..(src + n) as usize]);
            }
            Instr::Logits { src, n } => {
                if want_logits {
                    // Every LOGITS instruction's words go out, one after the other.
                    logits
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(&self.vmem[src as usize..(src + n) as usize]);
                }
            }
        }
        Ok(false)
    }

    /// The matrix a MATVEC with these fields reads, row-major `[P_r·G·Lanes][P_k·C·KWidth]`:
    /// tile `t = rp·P_k + kp`, word `base + g·C + c`, byte `j·Lanes + l` holds row
    /// `(rp·G + g)·Lanes + l`, column `(kp·C + c)·KWidth + j`.
    fn gather(&self, base: usize, g: usize, c: usize, lg_pk: u32) -> Vec<i8> {
        let (lanes, kw, wb) = (self.cfg.lanes, self.cfg.kwidth, self.cfg.word_bytes());
        let pk = 1usize << lg_pk;
        let pr = self.cfg.tiles() >> lg_pk;
        let k = pk * c * kw;
        let mut m = vec![0i8; pr * g * lanes * k];
        for (t, tile) in self.tiles.iter().enumerate() {
            let (rp, kp) = (t >> lg_pk, t & (pk - 1));
            for gi in 0..g {
                for ci in 0..c {
                    let at = (base + gi * c + ci) * wb;
                    let Some(word) = tile.get(at..at + wb) else {
                        continue;
                    };
                    for l in 0..lanes {
                        let row = (rp * g + gi) * lanes + l;
                        let col = (kp * c + ci) * kw;
                        let dst = &mut m[row * k + col..row * k + col + kw];
                        for (j, d) in dst.iter_mut().enumerate() {
                            *d = word[self.cfg.weight_byte(l, j)] as i8;
                        }
                    }
                }
            }
        }
        m
    }

    /// ATTEND for every head (numerics v2, `docs/numerics.md`).
    #[allow(clippy::too_many_arguments)]
    fn attend(
        &mut self,
        q: u32,
        heads: u32,
        kv_heads: u32,
        head_dim: u32,
        cache: u32,
        context: u32,
        pos: u32,
    ) -> Vec<Fz> {
        let (kp, vp, ksp, vsp) = kv_region_parts(context, kv_heads, head_dim);
        let (hd, nkv) = (head_dim as usize, kv_heads as usize);
        let n = pos as usize + 1;
        let base = u64::from(cache);
        let slots = (n * nkv) as u64;
        let keys: Vec<i8> = self
            .dmem_range(base + kp, slots * hd as u64)
            .iter()
            .map(|&b| b as i8)
            .collect();
        let vals: Vec<i8> = self
            .dmem_range(base + vp, slots * hd as u64)
            .iter()
            .map(|&b| b as i8)
            .collect();
        let ks: Vec<Fz> = (0..slots)
            .map(|s| self.dmem_f32(base + ksp + 4 * s))
            .collect();
        let vs: Vec<Fz> = (0..slots)
            .map(|s| self.dmem_f32(base + vsp + 4 * s))
            .collect();
        let qv = self.v(q, heads * head_dim);
        let attn_scale = chip::rsqrt(Fz::new(hd as f32));
        let group = (heads / kv_heads) as usize;
        let mut out = Vec::with_capacity(qv.len());
        for (h, qh) in qv.chunks_exact(hd).enumerate() {
            let g = h / group;
            let (qq, sq) = chip::quantize_activation(qh);
            let c = sq * attn_scale;
            let scores: Vec<Fz> = (0..n)
                .map(|j| {
                    let at = (j * nkv + g) * hd;
                    let acc = dot_i8(&qq, &keys[at..at + hd]);
                    Fz::from_i32(acc) * (c * ks[j * nkv + g])
                })
                .collect();
            let m = chip::max_of(&scores);
            let e: Vec<Fz> = scores.iter().map(|&s| chip::exp(s - m)).collect();
            let fixed: Vec<Q31> = e.iter().map(|&x| Q31::from_fz(x)).collect();
            let sum = chip::q31_sum(&fixed);
            let wv: Vec<Fz> = e
                .iter()
                .enumerate()
                .map(|(j, &x)| x * vs[j * nkv + g])
                .collect();
            // 14-bit weights, the V scale folded in; p·V as two int8 passes over V (the high
            // and the low 7 bits of p), combined exactly before the final scale.
            let (pq, su) = chip::quantize_softmax(&wv);
            let scale = su / sum;
            let pass = |digit: fn((i8, i8)) -> i8| {
                let mut acc = vec![0i32; hd];
                for (j, &p) in pq.iter().enumerate() {
                    let d = i32::from(digit(chip::split_p14(p)));
                    let at = (j * nkv + g) * hd;
                    for (a, &x) in acc.iter_mut().zip(&vals[at..at + hd]) {
                        *a = a.wrapping_add(d * i32::from(x));
                    }
                }
                acc
            };
            let (hi, lo) = (pass(|(h, _)| h), pass(|(_, l)| l));
            out.extend(
                hi.iter()
                    .zip(&lo)
                    .map(|(&h, &l)| chip::combine_p14(h, l) * scale),
            );
        }
        out
    }
}

/// Exact int8 dot product in int32 (wrapping like a hardware adder).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        acc.wrapping_add(i32::from(x) * i32::from(y))
    })
}
