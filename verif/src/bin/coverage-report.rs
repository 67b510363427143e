//! coverage-report: per-block figures of a merged Verilator coverage file (`scripts/coverage`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tessera_sim::coverage::{line_ranges, parse, Summary};

/// Prints the figures of a Verilator coverage file (merged by `verilator_coverage --write`) as
/// Markdown tables: line (statement blocks and branches) and toggle coverage per RTL file with
/// its modules, each point counted as hit when any instance hit it; then every cover point of
/// `verif/bench/cover_points.sv` with the instances that hit it; then the source lines of each
/// file holding a block or branch never run.
///
/// Exits 2 when the file cannot be read or is malformed.
#[derive(Debug, Parser)]
#[command(name = "coverage-report", long_about)]
struct Opts {
    /// The coverage file (`coverage.dat`).
    dat: PathBuf,
    /// Only files whose path starts with this prefix get a row.
    #[arg(long, value_name = "PREFIX", default_value = "rtl/")]
    prefix: String,
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    let text = match std::fs::read_to_string(&opts.dat) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("coverage-report: read {}: {e}", opts.dat.display());
            return ExitCode::from(2);
        }
    };
    let points = match parse(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("coverage-report: {}: {e}", opts.dat.display());
            return ExitCode::from(2);
        }
    };
    let s = Summary::from_points(&points, |f| f.starts_with(&opts.prefix));
    print!("{}", render(&s));
    ExitCode::SUCCESS
}

fn render(s: &Summary) -> String {
    let mut out = String::new();
    let pct =
        |r: tessera_sim::coverage::Ratio| format!("{:.1} % ({}/{})", r.percent(), r.hit, r.total);
    out += "| file | modules | line | toggle |\n";
    out += "| ---- | ------- | ---: | -----: |\n";
    for (file, f) in &s.files {
        out += &format!(
            "| `{file}` | {} | {} | {} |\n",
            f.modules.join(", "),
            pct(f.line),
            pct(f.toggle)
        );
    }
    let (line, toggle) = s.total();
    out += &format!("| all | | {} | {} |\n", pct(line), pct(toggle));

    let hit = s
        .cover_points
        .iter()
        .filter(|c| c.instances_hit > 0)
        .count();
    out += &format!("\nCover points: {hit} of {} hit.\n\n", s.cover_points.len());
    out += "| checker | cover point | instances hit | times |\n";
    out += "| ------- | ----------- | ------------: | ----: |\n";
    for c in &s.cover_points {
        out += &format!(
            "| `{}` | `{}` | {}/{} | {} |\n",
            c.module, c.label, c.instances_hit, c.instances, c.count
        );
    }

    out += "\nLines with a block or branch never run:\n\n";
    for (file, f) in &s.files {
        if !f.missed_lines.is_empty() {
            out += &format!("- `{file}`: {}\n", line_ranges(&f.missed_lines));
        }
    }
    out
}
