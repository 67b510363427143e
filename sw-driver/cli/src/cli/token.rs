//! The token engine behind `tessera run` and `tessera generate --rtl`: a model compiled for a
//! chip ([`tessera_driver::token::plan`]), loaded through the driver's [`TokenRuntime`] and run
//! one TOKEN per step beside the reference interpreter, with what each token cost: its cycles
//! from the chip's performance counters, its per-instruction cycles from the TOKEN trace flag
//! (both measured in RTL), and every byte that crossed the host link ([`Counting`]).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use tessera_abi::descriptor::{logits_beats, ErrorCode};
use tessera_abi::token::Instr;
use tessera_driver::runtime::LoadMode;
use tessera_driver::token::interp::{Engine, Fault, TokenOut};
use tessera_driver::token::{plan, Plan, Stage};
use tessera_driver::token_runtime::{EngineLoadReport, TokenRuntime};
use tessera_driver::transport::{Counting, Traffic};
use tessera_driver::{ChipConfig, Device, Transport};
use tessera_golden::config::Config;
use tessera_golden::model::Llama;

/// Compiles `model` for the token engine of `cfg` at `context` positions; a model that does
/// not fit is one line naming the memory and by how much.
pub fn compile(cfg: &ChipConfig, model: &Llama, context: usize) -> Result<Plan> {
    plan(cfg, model.config(), context)
        .with_context(|| format!("compiling the model for the token engine of `{}`", cfg.name))
}

/// The context a run compiles for: `--context`, else the configuration's largest capped by the
/// model's `max_position_embeddings`.
pub fn context(cfg: &ChipConfig, m: &Config, asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| cfg.context.min(m.max_position_embeddings))
}

/// The chip's token engine loaded with a plan, and the interpreter loaded alike.
pub struct TokenChip<T: Transport> {
    pub rt: TokenRuntime<Counting<T>>,
    pub interp: Engine,
    pub plan: Plan,
    pub load: EngineLoadReport,
    /// The simulator's process, whose CPU time each step measures (a simulated chip).
    pub sim_pid: Option<u32>,
}

/// One token on the chip and in the interpreter.
#[derive(Clone)]
pub struct Step {
    pub token: u32,
    pub pos: u32,
    pub chip: std::result::Result<TokenOut, Fault>,
    pub want: std::result::Result<TokenOut, Fault>,
    /// Cycles the chip spent on the token, from its performance counters: every cycle but those
    /// idle without a descriptor or stalled on the host's streams.
    pub cycles: u64,
    /// Tile-cycles of the token with a MAC busy (the counters' `MAC_BUSY`).
    pub mac_busy: u64,
    /// Stream bytes the runtime counted for the token (`to_chip`, `from_chip`).
    pub stream_to_chip: u64,
    pub stream_from_chip: u64,
    /// Register reads and writes the driver made during the token.
    pub reg_accesses: u64,
    /// Output bytes of the logits beats among `stream_from_chip` (read back for checking).
    pub check_bytes: u64,
    /// Wall time of the token on the chip, and of the interpreter's.
    pub chip_seconds: f64,
    pub check_seconds: f64,
    /// CPU time the simulator process spent on the token (a simulated chip): its share of the
    /// wall time, whatever else the machine runs.
    pub sim_cpu_seconds: Option<f64>,
}

impl Step {
    /// Bytes the token needs when the host reads only `NEXT`: both streams and every register
    /// access, without the logits beats.
    pub fn host_bytes(&self) -> u64 {
        self.stream_to_chip + self.stream_from_chip - self.check_bytes
            + Traffic::REG_ACCESS_BYTES * self.reg_accesses
    }

    /// The first difference between the chip and the interpreter, in words.
    pub fn difference(&self) -> Option<Difference> {
        match (&self.chip, &self.want) {
            (Ok(c), Ok(w)) => {
                let (cl, wl) = (c.logits.as_deref(), w.logits.as_deref());
                if let (Some(cl), Some(wl)) = (cl, wl) {
                    if let Some(i) = (0..cl.len().max(wl.len()))
                        .find(|&i| cl.get(i).map(|x| x.to_bits()) != wl.get(i).map(|x| x.to_bits()))
                    {
                        return Some(Difference {
                            what: format!("logit {i}"),
                            chip: cl.get(i).map_or("none".into(), |x| format!("{x:e}")),
                            interpreter: wl.get(i).map_or("none".into(), |x| format!("{x:e}")),
                        });
                    }
                }
                if c.next != w.next {
                    return Some(Difference {
                        what: "NEXT".into(),
                        chip: c.next.to_string(),
                        interpreter: w.next.to_string(),
                    });
                }
                (c.instrs != w.instrs).then(|| Difference {
                    what: "instructions executed".into(),
                    chip: c.instrs.to_string(),
                    interpreter: w.instrs.to_string(),
                })
            }
            (c, w) if c == w => None,
            (c, w) => Some(Difference {
                what: "outcome".into(),
                chip: outcome(c),
                interpreter: outcome(w),
            }),
        }
    }
}

fn outcome(r: &std::result::Result<TokenOut, Fault>) -> String {
    match r {
        Ok(o) => format!("NEXT {}", o.next),
        Err(f) => f.to_string(),
    }
}

/// Where a token on the chip first differs from the interpreter.
#[derive(Clone, Debug)]
pub struct Difference {
    pub what: String,
    pub chip: String,
    pub interpreter: String,
}

/// User plus system CPU seconds of process `pid` so far (Linux `/proc`), if readable.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

/// The load average over 1, 5 and 15 minutes (Linux `/proc/loadavg`), if readable.
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// The lower median of `v` (0 for none).
pub fn median(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// The median of `v` (the lower of the two middle values for an even count; 0 for none).
pub fn median_f64(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

impl<T: Transport> TokenChip<T> {
    /// Fills the memory images of `plan` from `model` and loads them onto the chip behind `dev`
    /// (tile weights as `mode` says) and into the interpreter.
    pub fn load(
        dev: Device<Counting<T>>,
        plan: Plan,
        model: &Llama,
        mode: LoadMode,
    ) -> Result<TokenChip<T>> {
        let image = plan.image(model).context("filling the memory images")?;
        let mut rt = TokenRuntime::new(dev).context("resetting the chip")?;
        let load = match rt.load(&plan, &image, mode) {
            Ok(l) => l,
            Err(
                e @ tessera_driver::Error::Device {
                    code: ErrorCode::Opcode,
                    ..
                },
            ) => {
                return Err(e).context(
                    "loading the plan onto the chip: it refuses ENG_LOAD, so it has no token \
                     engine (run with --engine matvec)",
                )
            }
            Err(e) => return Err(e).context("loading the plan onto the chip"),
        };
        let interp = Engine::load(&plan, image);
        Ok(TokenChip {
            rt,
            interp,
            plan,
            load,
            sim_pid: None,
        })
    }

    pub fn config(&self) -> &ChipConfig {
        self.rt.config()
    }

    /// MACs the chip does per cycle (`tiles · Lanes · KWidth`).
    pub fn macs_per_cycle(&self) -> u64 {
        let c = self.config();
        (c.tiles() * c.lanes * c.kwidth) as u64
    }

    /// Runs `token` at `pos` on the chip (with its logits read back when `logits`), then in the
    /// interpreter, measuring the chip's cycles and the link's traffic of the token alone.
    pub fn step(&mut self, token: u32, pos: u32, logits: bool) -> Result<Step> {
        let before = self.rt.device().perf_snapshot()?;
        let t0 = self.rt.device().transport().traffic();
        let cpu0 = self.sim_pid.and_then(cpu_seconds);
        let w0 = Instant::now();
        let chip = self.rt.step(token, pos, logits)?;
        let chip_seconds = w0.elapsed().as_secs_f64();
        let cpu1 = self.sim_pid.and_then(cpu_seconds);
        let traffic = self.rt.device().transport().traffic().since(&t0);
        let io = self.rt.last_host_bytes();
        let after = self.rt.device().perf_snapshot()?;
        let d = after.since(&before);
        let w1 = Instant::now();
        let want = self.interp.step(token, pos, logits);
        let check_seconds = w1.elapsed().as_secs_f64();
        let check_bytes = match &chip {
            Ok(o) if o.logits.is_some() => self.logits_bytes(),
            _ => 0,
        };
        Ok(Step {
            token,
            pos,
            chip,
            want,
            cycles: d.cycles - d.stall_cmd - d.stall_input - d.stall_output,
            mac_busy: d.mac_busy,
            stream_to_chip: io.to_chip,
            stream_from_chip: io.from_chip,
            reg_accesses: traffic.reg_accesses(),
            check_bytes,
            chip_seconds,
            check_seconds,
            sim_cpu_seconds: cpu0.zip(cpu1).map(|(a, b)| b - a),
        })
    }

    /// Output bytes of the logits of one token: every LOGITS instruction's beats.
    pub fn logits_bytes(&self) -> u64 {
        let cfg = self.config();
        let beat = (cfg.stream_width / 8) as u64;
        self.plan
            .program
            .iter()
            .filter_map(|i| match i {
                Instr::Logits { n, .. } => Some(logits_beats(cfg, *n) as u64 * beat),
                _ => None,
            })
            .sum()
    }

    /// Runs `token` at `pos` again with the trace flag (the same position rewrites the same
    /// KV-cache entries, so the token repeats exactly) and returns its outcome and the cycles of
    /// each stage, in [`Stage::ALL`]'s order, measured in RTL.
    pub fn trace(&mut self, token: u32, pos: u32, logits: bool) -> Result<Traced> {
        let out = self.rt.step_traced(token, pos, logits)?;
        let t = match out {
            Ok(t) => t,
            Err(f) => bail!("the traced token stopped: {f}"),
        };
        let mut stages = [0u64; Stage::ALL.len()];
        for (pc, c) in t.cycles.iter().enumerate() {
            let s = self.plan.stages.get(pc).copied().unwrap_or(Stage::Other);
            let k = Stage::ALL
                .iter()
                .position(|x| *x == s)
                .unwrap_or(Stage::ALL.len() - 1);
            stages[k] += u64::from(*c);
        }
        Ok(Traced {
            out: t.out,
            instr_cycles: t.cycles,
            stages,
        })
    }

    /// Flips one weight word of the first matrix in tile 0 (simulation backdoor), so that the
    /// chip differs from the interpreter: the hidden `--inject-fault`.
    pub fn inject_fault(&mut self) -> Result<()> {
        let base = self
            .plan
            .mapping
            .placements
            .first()
            .map(|p| p.base)
            .context("nothing mapped")?;
        let wb = self.config().word_bytes();
        let sim = self
            .rt
            .device()
            .transport()
            .sim()
            .context("--inject-fault needs the simulator")?;
        let mut word = sim.backdoor_read(0, base, 1, wb)?;
        word[0] = word[0].wrapping_add(1);
        sim.backdoor_write(0, base, wb, &word)?;
        Ok(())
    }
}

/// A traced token.
pub struct Traced {
    pub out: TokenOut,
    /// Cycles of each instruction but END, in program order.
    pub instr_cycles: Vec<u32>,
    /// Cycles per stage, in [`Stage::ALL`]'s order.
    pub stages: [u64; Stage::ALL.len()],
}
