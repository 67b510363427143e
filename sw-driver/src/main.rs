//! `tessera`: the command-line tool of the Tessera inference chip.
//!
//! For now every command runs on the golden model (`tessera-golden`): full-sequence logits,
//! text generation, perplexity evaluation and synthetic Llama checkpoints. Errors are reported
//! on one line and give a non-zero exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("tessera: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
