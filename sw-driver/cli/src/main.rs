//! `tessera`: the command-line tool of the Tessera inference chip.
//!
//! `run` drives a model through the simulated chip with the driver library; the other commands
//! run the golden model (`tessera-golden`): full-sequence logits, text generation, perplexity
//! evaluation and synthetic Llama checkpoints. Errors are reported on one line and exit with
//! status 2; a chip result that differs from the golden model exits with status 1. Standard
//! output that cannot be written is an error too (status 2), never a panic.

mod cli;
mod out;

use crate::out::errln;
use std::process::ExitCode;

fn main() -> ExitCode {
    tessera_driver::quiet_on_closed_pipe();
    let args = match out::parse_args::<cli::Cli>("tessera") {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Err(e) = cli::apply_rtl_root(&args) {
        errln!("tessera: error: {}", one_line(&e));
        return ExitCode::from(2);
    }
    // The command runs on a worker of the pool that its parallel loops use: called from outside
    // the pool, every parallel loop would hand its work to a worker and sleep until woken, and a
    // decode token makes a few hundred of them.
    let ended = match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(|| cli::run(args)),
        Err(_) => cli::run(args),
    };
    // Output that could not be written fails the command, unless it failed for another reason.
    let written = out::finish();
    let ended = match (ended, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(anyhow::Error::new(e).context("writing to stdout")),
        (ok, Ok(())) => ok,
    };
    match ended {
        Ok(cli::Ended::Ok) => ExitCode::SUCCESS,
        Ok(cli::Ended::Mismatch) => ExitCode::from(1),
        Err(e) => {
            errln!("tessera: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each once: a driver error's message already ends with
/// its cause's, which the chain repeats.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if msg.ends_with(&c) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&c);
    }
    msg.replace('\n', " ")
}
