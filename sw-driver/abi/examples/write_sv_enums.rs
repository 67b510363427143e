//! Rewrites the generated part of `rtl/pkg/tessera_pkg.sv` (opcodes and error codes) from
//! `tessera_abi::descriptor`. Run by `scripts/gen-abi`; takes no arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("write_sv_enums: takes no arguments (rewrites rtl/pkg/tessera_pkg.sv)");
        return ExitCode::from(2);
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rtl/pkg/tessera_pkg.sv");
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("write_sv_enums: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(fresh) = tessera_abi::descriptor::with_sv_enums(&text) else {
        eprintln!("write_sv_enums: {path}: the generated-part markers are missing");
        return ExitCode::from(2);
    };
    if fresh != text {
        if let Err(e) = std::fs::write(path, fresh) {
            eprintln!("write_sv_enums: {path}: {e}");
            return ExitCode::from(2);
        }
        eprintln!("write_sv_enums: rewrote {path}");
    }
    ExitCode::SUCCESS
}
