//! A Hugging Face checkpoint folder: `config.json` plus `model.safetensors`, or
//! `model.safetensors.index.json` and its shards. Files are memory-mapped; a tensor is read
//! (and converted to f32 from f32, bf16 or f16) only when asked for.
//!
//! The `safetensors` crate parses and validates each header over the map (no copy of the
//! data): the tensors must tile the data section in order, without gaps, overlaps or bytes
//! past the last one, and each tensor's byte range must hold exactly its shape in its dtype.
//! Its errors name neither the file nor, for a size mismatch, the tensor; when it rejects a
//! file, the header is read again here only to say which tensor and which sizes are at fault.
//! The crate keeps the last of two entries with the same name, so the header's names are read
//! here once more and a repeated one is refused. The dtype (F32, BF16 or F16) and the shape
//! are checked when a tensor is read, and so is every value: NaN or infinity is refused unless
//! the checkpoint was opened to allow it ([`Checkpoint::allow_nonfinite`]). A sharded index may
//! only name files inside the checkpoint folder.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rayon::prelude::*;
use safetensors::tensor::{Metadata, TensorInfo as HeaderEntry};
use safetensors::{SafeTensorError, SafeTensors};
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};

/// Element types a checkpoint tensor may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    Bf16,
    F16,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::Bf16 | Dtype::F16 => 2,
        }
    }
}

/// Where a tensor lives inside its file.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// Dtype as spelled in the header (`F32`, `BF16`, `I8`, ...).
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Byte range inside the data section.
    pub begin: usize,
    pub end: usize,
}

/// One memory-mapped safetensors file.
#[derive(Debug)]
pub struct SafetensorsFile {
    pub path: PathBuf,
    mmap: Mmap,
    data_start: usize,
    pub tensors: BTreeMap<String, TensorInfo>,
    /// Whether [`SafetensorsFile::tensor_f32`] accepts NaN and infinities (default: refuses).
    pub allow_nonfinite: bool,
}

/// Length of the little-endian header size that starts a safetensors file.
const PREFIX: usize = 8;
/// The largest header the `safetensors` crate accepts.
const MAX_HEADER: u64 = 100_000_000;

impl SafetensorsFile {
    /// Map a file and parse its header with the `safetensors` crate, which checks that the
    /// tensors exactly fill the data section and that each range holds its shape and dtype.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        crate::limits::check_file(&path)?;
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only; the checkpoint files are not modified while the
        // model is loaded (the same assumption every safetensors loader makes).
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        // A repeated name first: the crate would keep one of the entries and then find the
        // ranges wrong, or not notice at all.
        let header = declared_header_len(&mmap)
            .filter(|&n| n <= MAX_HEADER)
            .and_then(|n| mmap.get(PREFIX..PREFIX + n as usize));
        if let Some(name) = header.and_then(repeated_name) {
            return Err(Error::SafeTensors {
                path,
                message: format!("tensor `{name}` appears twice in the header"),
            });
        }
        let (header_len, metadata) =
            SafeTensors::read_metadata(&mmap).map_err(|e| explain_rejection(&path, &mmap, e))?;
        let tensors = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                let (begin, end) = info.data_offsets;
                let info = TensorInfo {
                    dtype: info.dtype.to_string(),
                    shape: info.shape.clone(),
                    begin,
                    end,
                };
                (name, info)
            })
            .collect();
        Ok(SafetensorsFile {
            path,
            mmap,
            data_start: PREFIX + header_len,
            tensors,
            allow_nonfinite: false,
        })
    }

    /// The raw bytes of a tensor.
    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.mmap[self.data_start + info.begin..self.data_start + info.end]
    }

    /// Read a tensor as f32, checking its shape and (unless allowed) that every value is finite.
    pub fn tensor_f32(&self, name: &str, expected_shape: &[usize]) -> Result<ArrayD<f32>> {
        let info = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            file: Some(self.path.clone()),
            name: name.to_string(),
        })?;
        if info.shape != expected_shape {
            return Err(Error::Shape {
                file: self.path.clone(),
                name: name.to_string(),
                expected: expected_shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        let dtype = match info.dtype.as_str() {
            "F32" => Dtype::F32,
            "BF16" => Dtype::Bf16,
            "F16" => Dtype::F16,
            other => {
                return Err(Error::Dtype {
                    file: self.path.clone(),
                    name: name.to_string(),
                    found: other.to_string(),
                })
            }
        };
        let bytes = self.bytes(info);
        let n = bytes.len() / dtype.size();
        let mut out = vec![0f32; n];
        const CHUNK: usize = 1 << 16;
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
            let b = &bytes[c * CHUNK * dtype.size()..];
            convert(dtype, b, o);
        });
        if !self.allow_nonfinite {
            if let Some(index) = out.par_iter().position_first(|x| !x.is_finite()) {
                return Err(Error::NonFinite {
                    file: self.path.clone(),
                    name: name.to_string(),
                    index,
                    value: out[index],
                });
            }
        }
        ArrayD::from_shape_vec(IxDyn(expected_shape), out).map_err(|e| Error::Shape {
            file: self.path.clone(),
            name: format!("{name} ({e})"),
            expected: expected_shape.to_vec(),
            found: info.shape.clone(),
        })
    }
}

/// Little-endian `dtype` values at the start of `b` into `o` (fills all of `o`).
fn convert(dtype: Dtype, b: &[u8], o: &mut [f32]) {
    match dtype {
        Dtype::F32 => {
            for (d, c) in o.iter_mut().zip(b.chunks_exact(4)) {
                *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        Dtype::Bf16 => {
            for (d, c) in o.iter_mut().zip(b.chunks_exact(2)) {
                *d = f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16);
            }
        }
        Dtype::F16 => {
            for (d, c) in o.iter_mut().zip(b.chunks_exact(2)) {
                *d = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
            }
        }
    }
}

/// The first tensor name that appears twice in a safetensors header (JSON object keys in
/// order; `serde_json` would keep only the last of each).
fn repeated_name(header: &[u8]) -> Option<String> {
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> std::result::Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Keys(mut keys) = serde_json::from_slice(header).ok()?;
    keys.sort_unstable();
    keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].clone())
}

/// The header length declared by a file's first 8 bytes (`None` when the file is shorter).
fn declared_header_len(file: &[u8]) -> Option<u64> {
    let prefix: [u8; PREFIX] = file.get(..PREFIX)?.try_into().ok()?;
    Some(u64::from_le_bytes(prefix))
}

/// The tensor entries of a header that parses, in data order. Only used to explain why the
/// `safetensors` crate rejected a file, so entries that do not parse are skipped.
fn header_entries(file: &[u8]) -> Vec<(String, HeaderEntry)> {
    let header = declared_header_len(file)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| file.get(PREFIX..PREFIX.checked_add(n)?));
    let Some(Ok(map)) = header.map(serde_json::from_slice::<HashMap<String, serde_json::Value>>)
    else {
        return Vec::new();
    };
    let mut entries: Vec<(String, HeaderEntry)> = map
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .filter_map(|(name, v)| Some((name, serde_json::from_value(v).ok()?)))
        .collect();
    entries.sort_by(|a, b| (a.1.data_offsets, &a.0).cmp(&(b.1.data_offsets, &b.0)));
    entries
}

/// One error naming `path` for a file the `safetensors` crate rejected, with the tensor and
/// the sizes at fault where the crate's own error leaves them out.
fn explain_rejection(path: &Path, file: &[u8], e: SafeTensorError) -> Error {
    let found = file.len();
    let bad = |message: String| Error::SafeTensors {
        path: path.to_path_buf(),
        message,
    };
    let truncated = |expected: usize| Error::Truncated {
        path: path.to_path_buf(),
        expected,
        found,
    };
    let header_len = declared_header_len(file).unwrap_or(0);
    let header_end = usize::try_from(header_len)
        .unwrap_or(usize::MAX)
        .saturating_add(PREFIX);
    match e {
        SafeTensorError::HeaderTooSmall => truncated(PREFIX),
        SafeTensorError::InvalidHeaderLength => truncated(header_end),
        SafeTensorError::HeaderTooLarge => bad(format!(
            "header length {header_len} is implausible (the format allows 100,000,000 bytes)"
        )),
        // The header is valid but its tensors end before or after the end of the file.
        SafeTensorError::MetadataIncompleteBuffer => {
            let data_len = header_entries(file)
                .last()
                .map_or(0, |(_, t)| t.data_offsets.1);
            let expected = header_end.saturating_add(data_len);
            if expected > found {
                truncated(expected)
            } else {
                bad(format!(
                    "{} bytes follow the last tensor (the header describes {expected} bytes, \
                     the file holds {found})",
                    found - expected
                ))
            }
        }
        SafeTensorError::InvalidOffset(name) => {
            let offsets = header_entries(file)
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| format!(" [{}, {}]", t.data_offsets.0, t.data_offsets.1))
                .unwrap_or_default();
            bad(format!(
                "tensor `{name}`: data_offsets{offsets} do not follow the tensor before it \
                 (the tensors' ranges must tile the data section without gaps or overlaps)"
            ))
        }
        // The crate checks the tensors in data order and stops at the first whose byte range
        // does not hold its shape in its dtype, without naming it: its own check applied to
        // each tensor alone finds which.
        SafeTensorError::TensorInvalidInfo
        | SafeTensorError::ValidationOverflow
        | SafeTensorError::MisalignedSlice => {
            let culprit = header_entries(file).into_iter().find_map(|(name, t)| {
                let (begin, end) = t.data_offsets;
                let alone = HeaderEntry {
                    data_offsets: (0, end.saturating_sub(begin)),
                    ..t.clone()
                };
                let what = format!("{} {:?}", t.dtype, t.shape);
                Some(
                    match Metadata::new(None, vec![(name.clone(), alone)]).err()? {
                        SafeTensorError::TensorInvalidInfo => format!(
                        "tensor `{name}`: data_offsets [{begin}, {end}] ({} bytes) do not hold \
                         {what}",
                        end.saturating_sub(begin)
                    ),
                        err => format!("tensor `{name}`: {what}: {err}"),
                    },
                )
            });
            bad(culprit.unwrap_or_else(|| e.to_string()))
        }
        other => bad(other.to_string()),
    }
}

/// Whether `name` is one path component naming an entry of the folder it is joined to (no
/// separator, not `.` or `..`, not absolute).
fn is_plain_file_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && !name.contains('/')
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: HashMap<String, String>,
}

/// A checkpoint folder with its config and memory-mapped weight files.
#[derive(Debug)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: Config,
    pub files: Vec<SafetensorsFile>,
    /// Tensor name -> index into `files`.
    index: HashMap<String, usize>,
}

impl Checkpoint {
    /// Open `dir`: `config.json`, then `model.safetensors` or the sharded index and shards.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let config = Config::from_file(dir.join("config.json"))?;
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        let mut files = Vec::new();
        let mut index = HashMap::new();
        if single.exists() {
            let f = SafetensorsFile::open(&single)?;
            for name in f.tensors.keys() {
                index.insert(name.clone(), 0);
            }
            files.push(f);
        } else if index_path.exists() {
            let text = crate::limits::read_text(&index_path, crate::limits::INDEX_BYTES)?;
            let shard_index: ShardIndex =
                serde_json::from_str(&text).map_err(|source| Error::Json {
                    path: index_path.clone(),
                    source,
                })?;
            let mut shard_names: Vec<&String> = shard_index.weight_map.values().collect();
            shard_names.sort();
            shard_names.dedup();
            let mut by_name = HashMap::new();
            for s in shard_names {
                if !is_plain_file_name(s) {
                    return Err(Error::SafeTensors {
                        path: index_path.clone(),
                        message: format!(
                            "weight_map names the shard \"{s}\": shards must be files in the \
                             checkpoint folder (a plain file name)"
                        ),
                    });
                }
                let f = SafetensorsFile::open(dir.join(s))?;
                by_name.insert(s.clone(), files.len());
                files.push(f);
            }
            for (tensor, shard) in &shard_index.weight_map {
                let fi = by_name[shard];
                if !files[fi].tensors.contains_key(tensor) {
                    return Err(Error::MissingTensor {
                        file: Some(files[fi].path.clone()),
                        name: tensor.clone(),
                    });
                }
                index.insert(tensor.clone(), fi);
            }
        } else {
            return Err(Error::NoWeights { dir });
        }
        Ok(Checkpoint {
            dir,
            config,
            files,
            index,
        })
    }

    /// Accept (`true`) or refuse (`false`, the default) NaN and infinite weights when tensors
    /// are read.
    pub fn allow_nonfinite(&mut self, allow: bool) {
        for f in &mut self.files {
            f.allow_nonfinite = allow;
        }
    }

    /// The parsed `config.json`.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the checkpoint holds a tensor of that name.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Names of all tensors, sorted.
    pub fn tensor_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.index.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Header entry of a tensor.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.index
            .get(name)
            .and_then(|&i| self.files[i].tensors.get(name))
    }

    fn file_of(&self, name: &str) -> Result<&SafetensorsFile> {
        self.index
            .get(name)
            .map(|&i| &self.files[i])
            .ok_or_else(|| Error::MissingTensor {
                file: match self.files.as_slice() {
                    [one] => Some(one.path.clone()),
                    _ => Some(self.dir.join("model.safetensors.index.json")),
                },
                name: name.to_string(),
            })
    }

    /// Read a tensor as f32 (from f32, bf16 or f16), checking its shape.
    pub fn tensor_f32(&self, name: &str, expected_shape: &[usize]) -> Result<ArrayD<f32>> {
        self.file_of(name)?.tensor_f32(name, expected_shape)
    }

    /// A 2-D tensor `[rows, cols]` as f32.
    pub fn tensor2(&self, name: &str, rows: usize, cols: usize) -> Result<Array2<f32>> {
        let a = self.tensor_f32(name, &[rows, cols])?;
        let file = self.file_of(name)?.path.clone();
        a.into_dimensionality().map_err(|_| Error::Shape {
            file,
            name: name.to_string(),
            expected: vec![rows, cols],
            found: vec![],
        })
    }

    /// A 1-D tensor `[n]` as f32.
    pub fn tensor1(&self, name: &str, n: usize) -> Result<Array1<f32>> {
        let a = self.tensor_f32(name, &[n])?;
        let file = self.file_of(name)?.path.clone();
        a.into_dimensionality().map_err(|_| Error::Shape {
            file,
            name: name.to_string(),
            expected: vec![n],
            found: vec![],
        })
    }
}
