//! Argument parsing shared by the harness's binaries.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

/// Parses the command line; `--help` prints and ends with status 0, any other error ends with
/// one line on stderr (`NAME: what was wrong (see --help)`) and status 2.
pub fn parse_args<T: Parser>(name: &str) -> Result<T, ExitCode> {
    match T::try_parse() {
        Ok(a) => Ok(a),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            let line = line.strip_prefix("error: ").unwrap_or(line);
            // The choices of an enumerated option are on a line of their own.
            let choices = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("[possible values:"))
                .map(|l| format!(" {l}"))
                .unwrap_or_default();
            eprintln!("{name}: {line}{choices} (see --help)");
            Err(ExitCode::from(2))
        }
    }
}
