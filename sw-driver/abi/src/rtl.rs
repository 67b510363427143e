//! The RTL's ordered file list, `rtl/files.f`: packages, prims, blocks, top. Lint, the Verilator
//! builds, Yosys and the FPGA flow read it; `tessera.core` (FuseSoC) is generated from it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The file list, relative to the repository root.
pub const FILE_LIST: &str = "rtl/files.f";

/// `rtl/files.f` as read from a checkout: include directories and sources, in order, as written
/// (relative to the repository root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileList {
    /// The text of the list (part of every model's cache key).
    pub text: String,
    pub incdirs: Vec<String>,
    pub sources: Vec<String>,
}

impl FileList {
    /// Parses a file-list text: `+incdir+DIR` lines, one source per line, `//` comments.
    pub fn parse(text: &str) -> Result<FileList> {
        let mut incdirs = Vec::new();
        let mut sources = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(dirs) = line.strip_prefix("+incdir+") {
                incdirs.extend(dirs.split('+').filter(|d| !d.is_empty()).map(String::from));
            } else if line.starts_with('+') || line.starts_with('-') {
                return Err(Error::Config(format!(
                    "{FILE_LIST}:{}: `{line}`: only +incdir+ and file names are read",
                    n + 1
                )));
            } else {
                sources.push(line.to_string());
            }
        }
        Ok(FileList {
            text: text.to_string(),
            incdirs,
            sources,
        })
    }

    /// Reads `rtl/files.f` of the checkout `root`.
    pub fn read(root: &Path) -> Result<FileList> {
        let path = root.join(FILE_LIST);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Every input file under `root`: the files of the include directories (sorted), then the
    /// sources in order; for cache keys.
    pub fn inputs(&self, root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in &self.incdirs {
            if let Ok(rd) = std::fs::read_dir(root.join(d)) {
                let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                names.sort();
                out.extend(names);
            }
        }
        out.extend(self.sources.iter().map(|s| root.join(s)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_file_list_reads_the_repository_list() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let f = FileList::read(root).unwrap();
        assert_eq!(f.incdirs, ["rtl/prim"]);
        assert_eq!(f.sources[0], "rtl/pkg/tessera_pkg.sv");
        assert!(
            f.sources.iter().all(|s| root.join(s).is_file()),
            "{:?}",
            f.sources
        );
        assert!(f
            .inputs(root)
            .iter()
            .any(|p| p.ends_with("prim_assert.svh")));
        assert!(FileList::parse("+define+X\n").is_err());
    }
}
