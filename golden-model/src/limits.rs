//! Bounded reads of the files a checkpoint folder holds.
//!
//! Every file is read through [`read_bytes`] or [`read_text`], which refuse anything but a
//! regular file (a folder, a device such as `/dev/zero`) and stop at a size limit, so a hostile
//! input can neither hang a loader nor make it allocate without bound.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// `config.json`, `generation_config.json`: a few KB in practice.
pub const CONFIG_BYTES: u64 = 4 << 20;
/// `model.safetensors.index.json`: about 25 KB for Llama 3.1 8B, a few MB for the largest.
pub const INDEX_BYTES: u64 = 64 << 20;
/// `tokenizer.json`: 9 MB for Llama 3, 34 MB for the largest vocabularies.
pub const TOKENIZER_BYTES: u64 = 256 << 20;
/// `tokenizer_config.json` and `chat_template.jinja`.
pub const TOKENIZER_CONFIG_BYTES: u64 = 16 << 20;
/// A text to score or a prompt file.
pub const TEXT_BYTES: u64 = 256 << 20;

/// Reads all of `path`, which must be a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            found: file_kind(&meta),
        });
    }
    let too_large = || Error::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(buf)
}

/// [`read_bytes`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|e| Error::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Checks that `path` is a regular file (for files that are memory-mapped, not read).
pub fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(Error::NotAFile {
            path: path.to_path_buf(),
            found: file_kind(&meta),
        })
    }
}

/// What a path that is not a regular file is, for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_devices_folders_and_large_files() {
        let e = read_bytes(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(matches!(e, Error::NotAFile { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("is a device, expected a regular file"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("tessera-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = read_text(&dir, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let f = dir.join("big.txt");
        std::fs::write(&f, vec![b'a'; 100]).unwrap();
        let e = read_text(&f, 99).unwrap_err();
        assert!(
            e.to_string().contains("larger than the limit of 99 bytes"),
            "{e}"
        );
        assert_eq!(read_text(&f, 100).unwrap().len(), 100);
        std::fs::write(&f, [b'a', 0xff]).unwrap();
        let e = read_text(&f, 100).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 (byte 1)"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
