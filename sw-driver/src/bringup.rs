//! Board bring-up: the sequence run on a new chip, step by step, through [`Device`] on any
//! [`Transport`] (the simulator, a UIO mapping or a UART link on a board).
//!
//! 1. `id_version`: discovery reads `ID` and `VERSION` (and the `CFG_*` registers); an
//!    unsupported chip is refused with the driver's typed error ([`Error::BadId`],
//!    [`Error::UnsupportedVersion`], [`Error::UnsupportedConfig`]).
//! 2. `scratch`: walking ones, walking zeros, 0, all ones, `a5a5a5a5` and `5a5a5a5a` written to
//!    `SCRATCH` and read back; the old value is restored.
//! 3. `config`: the build configuration read back, compared with an expected one when given.
//! 4. `weight_memory`: patterns written by WEIGHT_LOAD (front door) to a range at the bottom and
//!    at the top of every tile's weight memory, read back through the datapath: a MATVEC with
//!    `C = 1` and a one-hot input `e_j` yields byte `j` of every lane of every word, for every
//!    tile. A simulator additionally reads the words through its backdoor.
//! 5. `matvec`: one random int8 product (`P_k = 2` where legal, so the reduction tree is used),
//!    loaded through the front door, against `tessera_golden::quant::matvec_i32`.
//! 6. `layer`: a one-layer Llama-shaped model ([`crate::models::small_llama`]) through
//!    [`RtlEngine`] (weights through the front door) against the golden W8A8 pass: bit-identical
//!    logits.
//!
//! Every step reports what it read. A step that fails does not stop the sequence, except step 1
//! (no chip to talk to) and a transport failure (the link itself broke).

use std::time::Instant;

use serde_json::{json, Value};
use tessera_golden::model::{KvCache, Precision};
use tessera_golden::quant::{matvec_i32, GoldenEngine, MatrixId, MatrixKind, QuantMatrix};
use tessera_golden::synth::splitmix64;

use crate::config::ChipConfig;
use crate::device::{supported_version, Device};
use crate::error::{Error, Result};
use crate::mapper::{MapOptions, Mapping};
use crate::models::{small_llama, SmallShape};
use crate::program::Descriptor;
use crate::runtime::{LoadMode, RtlEngine};
use crate::transport::Transport;

/// Step names, in order.
pub const STEPS: [&str; 6] = [
    "id_version",
    "scratch",
    "config",
    "weight_memory",
    "matvec",
    "layer",
];

/// What the sequence checks against.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration the chip must report (its name is not compared).
    pub expect: Option<ChipConfig>,
    /// Weight words per tile in each tested range (bottom and top of the memory); capped by
    /// what one read-back fits (`RbufWords / tiles`) and by `WeightWords`.
    pub mem_words: usize,
    /// Seed of the random patterns, matrix, vector, model and tokens.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            expect: None,
            mem_words: 64,
            seed: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Not run: an earlier failure left nothing to run it on.
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// The result of one step.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: &'static str,
    pub outcome: Outcome,
    /// One line: what was read and compared.
    pub summary: String,
    /// The values read, as a JSON object.
    pub values: Value,
    /// The error that ended the step, if one did.
    pub error: Option<String>,
    pub seconds: f64,
}

impl Step {
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "result": self.outcome.as_str(),
            "summary": self.summary,
            "values": self.values,
            "error": self.error,
            "seconds": self.seconds,
        })
    }
}

/// The whole sequence.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
    /// The transport failed (the simulator died, an OS call failed): the remaining steps were
    /// skipped.
    pub transport_error: Option<String>,
}

impl Report {
    /// Every step passed.
    pub fn passed(&self) -> bool {
        self.steps.len() == STEPS.len() && self.steps.iter().all(|s| s.outcome == Outcome::Pass)
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.steps.iter().filter(|s| s.outcome == o).count()
    }
}

/// Errors of the link rather than of the chip.
pub fn is_transport_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Io { .. } | Error::Sim(_) | Error::Build(_) | Error::Link(_)
    )
}

/// What a step found: pass or fail, one line, the values.
struct Found {
    pass: bool,
    summary: String,
    values: Value,
}

struct Runner<'a> {
    report: Report,
    on_step: &'a mut dyn FnMut(&Step),
    stop: bool,
}

impl Runner<'_> {
    /// Runs step `name` unless the sequence stopped; returns whether it passed.
    fn step(&mut self, name: &'static str, f: impl FnOnce() -> Result<Found>) -> bool {
        let t0 = Instant::now();
        let step = if self.stop {
            Step {
                name,
                outcome: Outcome::Skip,
                summary: "not run".into(),
                values: json!({}),
                error: None,
                seconds: 0.0,
            }
        } else {
            match f() {
                Ok(found) => Step {
                    name,
                    outcome: if found.pass {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    summary: found.summary,
                    values: found.values,
                    error: None,
                    seconds: t0.elapsed().as_secs_f64(),
                },
                Err(e) => {
                    if is_transport_error(&e) {
                        self.stop = true;
                        self.report.transport_error = Some(e.to_string());
                    }
                    Step {
                        name,
                        outcome: Outcome::Fail,
                        summary: e.to_string(),
                        values: json!({}),
                        error: Some(e.to_string()),
                        seconds: t0.elapsed().as_secs_f64(),
                    }
                }
            }
        };
        let pass = step.outcome == Outcome::Pass;
        (self.on_step)(&step);
        self.report.steps.push(step);
        pass
    }
}

/// Runs the bring-up sequence on the chip behind `t`; `on_step` sees each step as it ends.
pub fn run<T: Transport>(t: T, opts: &Options, on_step: &mut dyn FnMut(&Step)) -> Report {
    let mut r = Runner {
        report: Report::default(),
        on_step,
        stop: false,
    };
    let mut dev: Option<Device<T>> = None;
    let ok = r.step("id_version", || {
        let d = Device::open(t)?;
        let found = id_version(&d);
        dev = Some(d);
        Ok(found)
    });
    if !ok {
        r.stop = true;
    }
    let no_dev = || Error::Config("no device".into());
    let ok = r.step("scratch", || scratch(dev.as_mut().ok_or_else(no_dev)?));
    recover(&mut dev, ok);
    r.step("config", || {
        config(dev.as_mut().ok_or_else(no_dev)?, opts.expect.as_ref())
    });
    let ok = r.step("weight_memory", || {
        weight_memory(dev.as_mut().ok_or_else(no_dev)?, opts)
    });
    recover(&mut dev, ok);
    let ok = r.step("matvec", || matvec(dev.as_mut().ok_or_else(no_dev)?, opts));
    recover(&mut dev, ok);
    r.step("layer", || layer(dev.take().ok_or_else(no_dev)?, opts));
    r.report
}

/// After a failed step: soft reset and drop stale output, so the next step starts clean.
fn recover<T: Transport>(dev: &mut Option<Device<T>>, passed: bool) {
    if let (Some(d), false) = (dev.as_mut(), passed) {
        let _ = d.soft_reset();
        let _ = d.drain_output();
    }
}

fn id_version<T: Transport>(d: &Device<T>) -> Found {
    let id = tessera_regs::tessera_regs::id::Id::default().magic();
    let v = d.version();
    let (smaj, smin) = supported_version();
    Found {
        pass: true,
        summary: format!(
            "ID {id:#010x} (Tessera), VERSION {}.{}.{} (driver speaks {smaj}.{smin}.x)",
            v.major, v.minor, v.patch
        ),
        values: json!({
            "id": format!("{id:#010x}"),
            "version": format!("{}.{}.{}", v.major, v.minor, v.patch),
            "supported": format!("{smaj}.{smin}.x"),
        }),
    }
}

/// The `SCRATCH` patterns: walking ones, walking zeros, 0, all ones, `a5…`, `5a…`.
pub fn scratch_patterns() -> Vec<u32> {
    let mut p: Vec<u32> = (0..32).map(|i| 1u32 << i).collect();
    p.extend((0..32).map(|i| !(1u32 << i)));
    p.extend([0, u32::MAX, 0xa5a5_a5a5, 0x5a5a_5a5a]);
    p
}

fn scratch<T: Transport>(d: &mut Device<T>) -> Result<Found> {
    let old = d.scratch()?;
    let patterns = scratch_patterns();
    let mut bad = Vec::new();
    let mut last = 0;
    for &p in &patterns {
        d.set_scratch(p)?;
        last = d.scratch()?;
        if last != p {
            bad.push(json!({"wrote": format!("{p:#010x}"), "read": format!("{last:#010x}")}));
        }
    }
    d.set_scratch(old)?;
    let restored = d.scratch()?;
    let pass = bad.is_empty() && restored == old;
    let summary = if pass {
        format!(
            "{} patterns (walking ones and zeros, 0, ffffffff, a5a5a5a5, 5a5a5a5a) read back \
             equal; last read {last:#010x}; restored {old:#010x}",
            patterns.len()
        )
    } else {
        format!(
            "{} of {} patterns read back wrong, first {}; restore of {old:#010x} read \
             {restored:#010x}",
            bad.len(),
            patterns.len(),
            bad.first().map(Value::to_string).unwrap_or_default()
        )
    };
    Ok(Found {
        pass,
        summary,
        values: json!({
            "patterns": patterns.len(),
            "mismatches": bad,
            "initial": format!("{old:#010x}"),
            "restored": format!("{restored:#010x}"),
        }),
    })
}

fn config_json(c: &ChipConfig) -> Value {
    json!({
        "grid_rows": c.grid_rows,
        "grid_cols": c.grid_cols,
        "lanes": c.lanes,
        "kwidth": c.kwidth,
        "weight_words": c.weight_words,
        "act_words": c.act_words,
        "abuf_words": c.abuf_words,
        "rbuf_words": c.rbuf_words,
        "stream_width": c.stream_width,
    })
}

fn config<T: Transport>(d: &mut Device<T>, expect: Option<&ChipConfig>) -> Result<Found> {
    let c = d.config().clone();
    let read = config_json(&c);
    let mut summary = format!(
        "grid {}x{}, lanes {}, kwidth {}, weight words {}, act words {}, abuf {}, rbuf {}, \
         stream {} bits",
        c.grid_rows,
        c.grid_cols,
        c.lanes,
        c.kwidth,
        c.weight_words,
        c.act_words,
        c.abuf_words,
        c.rbuf_words,
        c.stream_width
    );
    let mut differ = Vec::new();
    if let Some(e) = expect {
        let want = config_json(e);
        for (k, v) in read.as_object().into_iter().flatten() {
            if want.get(k) != Some(v) {
                differ.push(json!({"field": k, "read": v, "expected": want[k]}));
            }
        }
        if differ.is_empty() {
            summary.push_str(&format!("; equal to `{}`", e.name));
        } else {
            let list: Vec<String> = differ
                .iter()
                .map(|x| format!("{} {} (expected {})", x["field"], x["read"], x["expected"]))
                .collect();
            summary.push_str(&format!("; differs from `{}`: {}", e.name, list.join(", ")));
        }
    }
    Ok(Found {
        pass: differ.is_empty(),
        summary: summary.replace('"', ""),
        values: json!({
            "read": read,
            "expected": expect.map(|e| e.name.clone()),
            "differences": differ,
        }),
    })
}

/// Weight-memory patterns.
pub const MEM_PATTERNS: [&str; 3] = ["address-hash", "checkerboard 55/aa", "extremes 7f/80"];

/// Byte `byte` of weight word `word` of tile `tile` in pattern `p`.
fn pattern_byte(p: usize, seed: u64, tile: usize, word: usize, byte: usize) -> u8 {
    match p {
        0 => splitmix64(seed ^ ((tile as u64) << 48) ^ ((word as u64) << 16) ^ byte as u64) as u8,
        1 if (word + byte) % 2 == 0 => 0x55,
        1 => 0xaa,
        _ if (word + byte) % 2 == 0 => 0x7f,
        _ => 0x80,
    }
}

fn weight_memory<T: Transport>(d: &mut Device<T>, opts: &Options) -> Result<Found> {
    d.check()?;
    let cfg = d.config().clone();
    let (n, lanes, kw, wb) = (cfg.tiles(), cfg.lanes, cfg.kwidth, cfg.word_bytes());
    let words = opts
        .mem_words
        .min(cfg.rbuf_words / n)
        .min(cfg.weight_words)
        .max(1);
    if kw > cfg.abuf_words {
        return Err(Error::UnsupportedConfig(format!(
            "KWidth {kw} one-hot chunks do not fit AbufWords {}",
            cfg.abuf_words
        )));
    }
    let mut bases = vec![0usize];
    if cfg.weight_words > words {
        bases.push(cfg.weight_words - words);
    }
    // Chunk j of ABUF holds the one-hot vector e_j.
    let mut ident = vec![0i8; kw * kw];
    for j in 0..kw {
        ident[j * kw + j] = 1;
    }
    let mut written = 0u64;
    let mut bad = 0u64;
    let mut first_bad = Vec::new();
    let mut backdoor_bad: Option<u64> = None;
    for &base in &bases {
        for p in 0..MEM_PATTERNS.len() {
            let mut data = vec![0u8; n * words * wb];
            for t in 0..n {
                for w in 0..words {
                    for b in 0..wb {
                        data[(t * words + w) * wb + b] = pattern_byte(p, opts.seed, t, base + w, b);
                    }
                }
            }
            d.weight_load(0, n as u32 - 1, base as u32, words as u32, &data)?;
            d.wait_idle()?;
            written += data.len() as u64;
            d.send(&[Descriptor::vbuf_load(&cfg, 0, kw as u32, &ident)])?;
            for j in 0..kw {
                d.send(&[Descriptor::matvec(
                    base as u32,
                    words as u32,
                    1,
                    0,
                    j as u32,
                    0,
                )])?;
                d.check()?;
                let y = d.read_results(0, (n * words) as u32)?;
                for t in 0..n {
                    for w in 0..words {
                        for l in 0..lanes {
                            let got = y[(t * words + w) * lanes + l];
                            let at = (t * words + w) * wb + cfg.weight_byte(l, j);
                            let want = data[at] as i8 as i32;
                            if got != want {
                                bad += 1;
                                if first_bad.len() < 8 {
                                    first_bad.push(json!({
                                        "tile": t, "word": base + w, "lane": l, "element": j,
                                        "wrote": want, "read": got,
                                    }));
                                }
                            }
                        }
                    }
                }
            }
            if let Some(sim) = d.transport().sim() {
                let mut e = 0u64;
                for t in 0..n {
                    let back = sim.backdoor_read(t, base, words, wb)?;
                    let want = &data[t * words * wb..(t + 1) * words * wb];
                    e += back.iter().zip(want).filter(|(a, b)| a != b).count() as u64;
                }
                *backdoor_bad.get_or_insert(0) += e;
            }
        }
    }
    let ranges: Vec<String> = bases
        .iter()
        .map(|b| format!("{b}..{}", b + words))
        .collect();
    let backdoor = match backdoor_bad {
        Some(0) => "; simulation backdoor agrees".to_string(),
        Some(e) => format!("; simulation backdoor: {e} bytes differ"),
        None => String::new(),
    };
    let pass = bad == 0 && backdoor_bad.unwrap_or(0) == 0;
    let mut summary = format!(
        "{n} tiles x words {} x {} patterns ({}): {written} bytes by WEIGHT_LOAD, read back \
         through {} one-hot MATVECs: {bad} bytes differ{backdoor}",
        ranges.join(" and "),
        MEM_PATTERNS.len(),
        MEM_PATTERNS.join(", "),
        bases.len() * MEM_PATTERNS.len() * kw,
    );
    if let Some(f) = first_bad.first() {
        summary.push_str(&format!("; first {f}"));
    }
    Ok(Found {
        pass,
        summary,
        values: json!({
            "tiles": n,
            "ranges": ranges,
            "patterns": MEM_PATTERNS,
            "bytes_written": written,
            "matvecs": bases.len() * MEM_PATTERNS.len() * kw,
            "mismatched_bytes": bad,
            "first_mismatches": first_bad,
            "backdoor_mismatched_bytes": backdoor_bad,
        }),
    })
}

/// Random int8 values (the full range, -128 included).
fn random_i8(seed: u64, n: usize) -> Vec<i8> {
    (0..n as u64)
        .map(|i| splitmix64(seed ^ (i << 20)) as i8)
        .collect()
}

fn matvec<T: Transport>(d: &mut Device<T>, opts: &Options) -> Result<Found> {
    d.check()?;
    let cfg = d.config().clone();
    let id = MatrixId {
        layer: None,
        kind: MatrixKind::Q,
    };
    // Rows over every tile and then some (padding rows), K over several chunks.
    let mut shape = (cfg.tiles() * cfg.lanes * 3 + 5, cfg.kwidth * 3 + 5);
    let pk2 = MapOptions {
        prefer_lg_pk: Some(1.min(cfg.lg_tiles())),
        ..MapOptions::default()
    };
    let map = match Mapping::new(&cfg, &[(id, shape.0, shape.1)], &pk2) {
        Ok(m) => m,
        Err(_) => {
            shape = (cfg.tiles() * cfg.lanes, cfg.kwidth);
            Mapping::new(&cfg, &[(id, shape.0, shape.1)], &pk2)?
        }
    };
    let (rows, cols) = shape;
    let p = map.placements[0].clone();
    let q = QuantMatrix {
        rows,
        cols,
        q: random_i8(opts.seed.wrapping_mul(3), rows * cols),
        scales: vec![1.0; rows],
    };
    let x = random_i8(opts.seed.wrapping_mul(5).wrapping_add(1), cols);
    d.send(&[p.weight_load(&cfg, &q)])?;
    d.wait_idle()?;
    let before = d.perf_snapshot()?;
    d.send(&[
        Descriptor::vbuf_load(&cfg, 0, p.in_chunks() as u32, &x),
        p.matvec(0, 0),
        Descriptor::perf_snapshot(),
    ])?;
    d.check()?;
    let y = d.read_results(0, p.out_words(&cfg) as u32)?;
    let cycles = d.perf()?.since(&before).cycles;
    let mut golden = vec![0i32; rows];
    matvec_i32(&q.q, rows, cols, &x, &mut golden);
    let chip = &y[..rows];
    let bad: Vec<usize> = (0..rows).filter(|&r| chip[r] != golden[r]).collect();
    // Padding rows (the last row group's lanes past the matrix) must read 0.
    let pad_bad = y[rows..].iter().filter(|&&v| v != 0).count();
    let show = rows.min(4);
    let mut summary = format!(
        "{rows}x{cols} (seed {}), P_k {}, G {}, C {}, {cycles} cycles: y[0..{show}] chip {:?} \
         golden {:?}; {} of {rows} rows differ, {pad_bad} padding rows nonzero",
        opts.seed,
        p.pk(),
        p.groups,
        p.chunks,
        &chip[..show],
        &golden[..show],
        bad.len()
    );
    if let Some(&r) = bad.first() {
        summary.push_str(&format!(
            "; first row {r}: chip {} golden {}",
            chip[r], golden[r]
        ));
    }
    Ok(Found {
        pass: bad.is_empty() && pad_bad == 0,
        summary,
        values: json!({
            "rows": rows,
            "cols": cols,
            "pk": p.pk(),
            "groups": p.groups,
            "chunks": p.chunks,
            "cycles": cycles,
            "chip_head": &chip[..show],
            "golden_head": &golden[..show],
            "mismatched_rows": bad.len(),
            "first_mismatched_row": bad.first(),
            "nonzero_padding": pad_bad,
        }),
    })
}

fn layer<T: Transport>(d: Device<T>, opts: &Options) -> Result<Found> {
    let shape = SmallShape {
        layers: 1,
        ..SmallShape::tiny()
    };
    let model = small_llama(&shape, opts.seed, Precision::W8A8)?;
    let map = Mapping::for_model(d.config(), &model, &MapOptions::default())?;
    let mut eng = RtlEngine::new(d, map)?;
    eng.fail_on_mismatch = false;
    let load = eng.load_model(&model, LoadMode::FrontDoor)?;
    let v = shape.vocab as u64;
    let toks: Vec<u32> = (0..4u64)
        .map(|i| (splitmix64(opts.seed.wrapping_add(i)) % v) as u32)
        .collect();
    // Prefill of three tokens, then one decode step, on the chip and in the golden model.
    let mut chip_cache = KvCache::new(model.config());
    let mut gold_cache = KvCache::new(model.config());
    let mut equal = true;
    let mut first_diff = None;
    let mut values = 0usize;
    for (k, part) in [&toks[..3], &toks[3..]].into_iter().enumerate() {
        let got = eng.forward(&model, part, &mut chip_cache)?;
        let want = model.forward(part, &mut gold_cache, &mut GoldenEngine)?;
        values += got.len();
        if got.dim() != want.dim() {
            equal = false;
            continue;
        }
        if let Some((i, (a, b))) = got
            .iter()
            .zip(want.iter())
            .enumerate()
            .find(|(_, (a, b))| a.to_bits() != b.to_bits())
        {
            equal = false;
            if first_diff.is_none() {
                first_diff = Some((k, i, *a, *b));
            }
        }
    }
    let s = eng.stats();
    let pass = equal && s.mismatches() == 0;
    let mut summary = format!(
        "1-layer Llama (hidden {}, {} heads / {} KV, FFN {}, vocab {}), weights by WEIGHT_LOAD \
         ({} bytes), tokens {:?} (prefill 3, decode 1): {} products, {} mismatched, {} cycles; \
         {values} logits {} the golden W8A8 pass",
        shape.hidden,
        shape.heads,
        shape.kv_heads,
        shape.intermediate,
        shape.vocab,
        load.image_bytes,
        toks,
        s.products(),
        s.mismatches(),
        s.total.cycles,
        if equal {
            "bit-identical to"
        } else {
            "DIFFERENT from"
        }
    );
    if let Some((k, i, a, b)) = first_diff {
        summary.push_str(&format!(
            "; first difference: pass {k} logit {i}: chip {a} golden {b}"
        ));
    }
    if let Some(m) = &s.first_mismatch {
        summary.push_str(&format!(
            "; first product mismatch {} token {}: chip {} golden {}",
            m.loc, m.token, m.chip, m.golden
        ));
    }
    Ok(Found {
        pass,
        summary,
        values: json!({
            "hidden": shape.hidden,
            "heads": shape.heads,
            "kv_heads": shape.kv_heads,
            "intermediate": shape.intermediate,
            "vocab": shape.vocab,
            "tokens": toks,
            "load_bytes": load.image_bytes,
            "products": s.products(),
            "mismatches": s.mismatches(),
            "cycles": s.total.cycles,
            "logits": values,
            "logits_bit_exact": equal,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_patterns_cover_every_bit_both_ways() {
        let p = scratch_patterns();
        for bit in 0..32 {
            assert!(p.iter().any(|v| v >> bit & 1 == 1));
            assert!(p.iter().any(|v| v >> bit & 1 == 0));
        }
        assert!(p.contains(&0xa5a5_a5a5) && p.contains(&0) && p.contains(&u32::MAX));
    }

    #[test]
    fn memory_patterns_differ_between_words_and_tiles() {
        let a: Vec<u8> = (0..64).map(|b| pattern_byte(0, 1, 0, 0, b)).collect();
        let b: Vec<u8> = (0..64).map(|b| pattern_byte(0, 1, 0, 1, b)).collect();
        let c: Vec<u8> = (0..64).map(|b| pattern_byte(0, 1, 1, 0, b)).collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(pattern_byte(2, 0, 0, 0, 1), 0x80);
    }
}
