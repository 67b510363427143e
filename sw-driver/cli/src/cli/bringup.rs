//! `tessera bringup`: the board bring-up sequence ([`tessera_driver::bringup`]) on a chip behind a
//! transport: the simulator, a UIO mapping or a UART link on a board.

use anyhow::{bail, Context, Result};
use serde_json::json;
use tessera_driver::bringup::{self, Options, Outcome, Report, Step};
use tessera_driver::uart::UartTransport;
use tessera_driver::uio::UioTransport;
use tessera_driver::ChipConfig;
use tessera_sim::SimTransport;

use super::Ended;
use crate::out::{errln, outln};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Steps: id_version, scratch, config, weight_memory, matvec, layer (docs/driver.md, bring-up).

Transports:
  sim[:CONFIG]     the Verilator model of a configuration of rtl/top/configs.toml (default tiny)
  uio:/dev/uioN    a board through Linux UIO (registers in map 0, DMA buffer in map 1)
  uart:PATH[,OPTION=VALUE...]
                   a board's UART bridge on a serial device or pseudo-terminal (docs/fpga.md),
                   raw 8N1; options: baud (default 1000000), tries (default 4), margin-ms
                   (added to every wait, default 200), board-hz (board clock cycles per second
                   of wall time, for a simulated board; default: the clock HELLO reports)

Examples:
  tessera bringup                          # the tiny chip model
  tessera bringup --transport sim:sim --json
  tessera bringup --transport uio:/dev/uio0 --expect sim
  tessera bringup --transport uart:/dev/ttyUSB0 --expect ulx3s
  tessera bringup --transport uart:/dev/ttyUSB0,baud=3000000

Exit status: 0 when every step passes, 1 when a step fails, 2 on bad input or a transport
error.")]
pub struct Args {
    /// The link to the chip: sim[:CONFIG], uio:/dev/uioN or uart:/dev/ttyUSB0[,baud=N].
    #[arg(long, default_value = "sim", value_name = "TRANSPORT")]
    pub transport: String,
    /// Configuration of rtl/top/configs.toml the chip must report (default: the simulated
    /// configuration; none on a board).
    #[arg(long, value_name = "CONFIG")]
    pub expect: Option<String>,
    /// Weight words per tile tested at the bottom and at the top of the weight memory.
    #[arg(long, default_value_t = 64, value_parser = |s: &str| super::parse_count(s, 1, 1 << 24))]
    pub mem_words: usize,
    /// Seed of the patterns, the random product and the model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Device clock of a board in Hz (turns cycle timeouts into wall-clock time).
    #[arg(long, default_value_t = 100_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub clock_hz: u64,
    /// Print one JSON object with the per-step results instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Where the chip is.
pub(super) enum Link {
    Sim(String),
    Uio(String),
    /// The part after `uart:` (path and options).
    Uart(String),
}

pub(super) const TRANSPORTS: &str = "sim[:CONFIG], uio:/dev/uioN, uart:PATH[,baud=N]";

pub(super) fn parse_transport(s: &str) -> Result<Link> {
    let (scheme, arg) = match s.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    match (scheme, arg) {
        ("sim", None) => Ok(Link::Sim("tiny".into())),
        ("sim", Some(c)) if !c.is_empty() => Ok(Link::Sim(c.into())),
        ("uio", Some(d)) if !d.is_empty() => {
            let name = d.strip_prefix("/dev/").unwrap_or(d);
            if !name.starts_with("uio") || name.contains('/') {
                bail!("transport `{s}`: expected uio:/dev/uioN");
            }
            Ok(Link::Uio(name.into()))
        }
        ("uart", Some(d)) if !d.is_empty() => {
            tessera_driver::uart::UartOptions::parse(d)
                .with_context(|| format!("transport `{s}`"))?;
            Ok(Link::Uart(d.into()))
        }
        _ => bail!("unknown transport `{s}` (supported: {TRANSPORTS})"),
    }
}

pub fn run(a: Args) -> Result<Ended> {
    let link = parse_transport(&a.transport)?;
    if let Link::Sim(c) = &link {
        ChipConfig::named(c).with_context(|| format!("transport `{}`", a.transport))?;
    }
    let expect_name = match (&a.expect, &link) {
        (Some(e), _) => Some(e.clone()),
        (None, Link::Sim(c)) => Some(c.clone()),
        (None, Link::Uio(_) | Link::Uart(_)) => None,
    };
    let expect = expect_name
        .as_deref()
        .map(ChipConfig::named)
        .transpose()
        .context("--expect")?;
    let opts = Options {
        expect,
        mem_words: a.mem_words,
        seed: a.seed,
    };
    let json_out = a.json;
    let mut print = |s: &Step| {
        if !json_out {
            outln!("{:<14} {}  {}", s.name, s.outcome.as_str(), s.summary);
        }
    };
    if !a.json {
        errln!("tessera bringup: transport {}", a.transport);
    }
    let report = match link {
        Link::Sim(c) => {
            let t = SimTransport::open(&c).with_context(|| format!("opening the `{c}` model"))?;
            bringup::run(t, &opts, &mut print)
        }
        Link::Uio(u) => {
            let t = UioTransport::open(&u, a.clock_hz).with_context(|| format!("opening {u}"))?;
            bringup::run(t, &opts, &mut print)
        }
        Link::Uart(spec) => {
            let t = UartTransport::open_spec(&spec)
                .with_context(|| format!("transport `{}`", a.transport))?;
            let h = t.hello().clone();
            errln!(
                "tessera bringup: UART bridge protocol {}, stream {} bits, clock {} Hz, \
                 MaxPayload {}, ClksPerBit {}",
                h.version,
                h.stream_bytes * 8,
                h.clock_hz,
                h.max_payload,
                h.clks_per_bit
            );
            let mut t = t;
            let r = bringup::run(&mut t, &opts, &mut print);
            errln!("tessera bringup: {}", super::link_summary(t.stats()));
            r
        }
    };
    if a.json {
        print_json(&a, &report);
    } else {
        outln!();
        outln!(
            "{}: {} passed, {} failed, {} skipped",
            if report.passed() { "PASS" } else { "FAIL" },
            report.count(Outcome::Pass),
            report.count(Outcome::Fail),
            report.count(Outcome::Skip)
        );
    }
    if let Some(e) = &report.transport_error {
        bail!("transport error: {e}");
    }
    Ok(if report.passed() {
        Ended::Ok
    } else {
        Ended::Mismatch
    })
}

fn print_json(a: &Args, r: &Report) {
    let v = json!({
        "transport": a.transport,
        "passed": r.passed(),
        "steps": r.steps.iter().map(Step::json).collect::<Vec<_>>(),
        "transport_error": r.transport_error,
    });
    outln!("{v}");
}
