//! `tessera`: the command-line tool of the Tessera inference chip.
//!
//! `run` drives a model through the simulated chip with the driver library; the other commands
//! run the golden model (`tessera-golden`): full-sequence logits, text generation, perplexity
//! evaluation and synthetic Llama checkpoints. Errors are reported on one line and exit with
//! status 2; a chip result that differs from the golden model exits with status 1.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tessera_driver::quiet_on_closed_pipe();
    let args = cli::Cli::parse();
    if let Err(e) = cli::apply_rtl_root(&args) {
        eprintln!("tessera: error: {}", one_line(&e));
        return ExitCode::from(2);
    }
    // The command runs on a worker of the pool that its parallel loops use: called from outside
    // the pool, every parallel loop would hand its work to a worker and sleep until woken, and a
    // decode token makes a few hundred of them.
    let ended = match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(|| cli::run(args)),
        Err(_) => cli::run(args),
    };
    match ended {
        Ok(cli::Ended::Ok) => ExitCode::SUCCESS,
        Ok(cli::Ended::Mismatch) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tessera: error: {}", one_line(&e));
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
