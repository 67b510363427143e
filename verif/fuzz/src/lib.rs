//! Helpers shared by the fuzz targets: a scratch folder for loaders that read files, and the
//! chip configurations the codec targets pick from.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tessera_abi::ChipConfig;

/// A folder of this process for the files a loader reads (on `/dev/shm` when there is one, so
/// the many small writes stay in memory).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = match std::env::var_os("TMPDIR") {
            Some(t) => PathBuf::from(t),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!("tessera-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch folder (removes it when `bytes` is `None`).
pub fn put(name: &str, bytes: Option<&[u8]>) -> PathBuf {
    let path = scratch().join(name);
    match bytes {
        Some(b) => std::fs::write(&path, b).expect("scratch write"),
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    path
}

/// The named chip configurations, parsed once.
pub fn configs() -> &'static [ChipConfig] {
    static CFGS: OnceLock<Vec<ChipConfig>> = OnceLock::new();
    CFGS.get_or_init(|| {
        ChipConfig::names()
            .iter()
            .map(|n| ChipConfig::named(n).expect("named configuration"))
            .collect()
    })
}

/// Little-endian 32-bit words of `bytes` (a trailing partial word dropped).
pub fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
