//! Rewrites the parts of the repository generated from `tessera-abi`'s sources: the opcode and
//! error-code enums of `rtl/pkg/tessera_pkg.sv`, and the file list and target parameters of
//! `tessera.core` (from `rtl/files.f` and `rtl/top/configs.toml`). Run by `scripts/gen-abi`.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

/// Regenerates the SV package enums and the FuseSoC core from their one source.
#[derive(Parser)]
struct Args {
    /// Only check: exit 1 naming each stale file, write nothing.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let root = Path::new(tessera_abi::rtl::SOURCE_TREE);
    type Gen = fn(&str, &Path) -> Result<String, String>;
    let jobs: [(&str, Gen); 2] = [
        ("rtl/pkg/tessera_pkg.sv", |t, _| {
            tessera_abi::descriptor::with_sv_enums(t)
                .ok_or_else(|| "the generated-part markers are missing".to_string())
        }),
        ("tessera.core", |t, r| {
            tessera_abi::rtl::with_core_parts(t, r).map_err(|e| e.to_string())
        }),
    ];
    let mut stale = false;
    for (file, gen) in jobs {
        let path = root.join(file);
        let fresh = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| gen(&text, root).map(|f| (f != text, f)));
        match fresh {
            Err(e) => {
                eprintln!("gen-abi: {file}: {e}");
                return ExitCode::from(2);
            }
            Ok((false, _)) => {}
            Ok((true, _)) if args.check => {
                eprintln!("gen-abi: {file} is stale (run scripts/gen-abi)");
                stale = true;
            }
            Ok((true, f)) => {
                if let Err(e) = std::fs::write(&path, f) {
                    eprintln!("gen-abi: {file}: {e}");
                    return ExitCode::from(2);
                }
                eprintln!("gen-abi: rewrote {file}");
            }
        }
    }
    if stale {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
