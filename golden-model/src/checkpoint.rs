//! A Hugging Face checkpoint folder: `config.json` plus `model.safetensors`, or
//! `model.safetensors.index.json` and its shards. Files are memory-mapped; a tensor is read
//! (and converted to f32 from f32, bf16 or f16) only when asked for.
//!
//! The safetensors header is parsed here rather than by the `safetensors` crate so that a
//! truncated file is reported with the sizes involved.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rayon::prelude::*;
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
}

#[derive(Deserialize)]
struct RawInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

impl SafetensorsFile {
    /// Map a file and parse its header; checks every tensor lies inside the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only; the checkpoint files are not modified while the
        // model is loaded (the same assumption every safetensors loader makes).
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let len = mmap.len();
        let bad = |message: String| Error::SafeTensors {
            path: path.clone(),
            message,
        };
        if len < 8 {
            return Err(Error::Truncated {
                path: path.clone(),
                expected: 8,
                found: len,
            });
        }
        let mut n8 = [0u8; 8];
        n8.copy_from_slice(&mmap[..8]);
        let n = u64::from_le_bytes(n8);
        if n > 100_000_000 {
            return Err(bad(format!("header length {n} is implausible")));
        }
        let n = n as usize;
        if 8 + n > len {
            return Err(Error::Truncated {
                path: path.clone(),
                expected: 8 + n,
                found: len,
            });
        }
        let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&mmap[8..8 + n])
            .map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        let data_start = 8 + n;
        let data_len = len - data_start;
        let mut tensors = BTreeMap::new();
        let mut max_end = 0usize;
        for (name, v) in header {
            if name == "__metadata__" {
                continue;
            }
            let raw: RawInfo = serde_json::from_value(v)
                .map_err(|e| bad(format!("tensor `{name}`: bad header entry: {e}")))?;
            let [begin, end] = raw.data_offsets;
            let numel = raw
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| bad(format!("tensor `{name}`: shape overflows")))?;
            let esize = match raw.dtype.as_str() {
                "F64" | "I64" | "U64" => 8,
                "F32" | "I32" | "U32" => 4,
                "F16" | "BF16" | "I16" | "U16" => 2,
                _ => 1,
            };
            if end < begin || end - begin != numel * esize {
                return Err(bad(format!(
                    "tensor `{name}`: data_offsets [{begin}, {end}] do not hold {numel} {} values",
                    raw.dtype
                )));
            }
            max_end = max_end.max(end);
            tensors.insert(
                name,
                TensorInfo {
                    dtype: raw.dtype,
                    shape: raw.shape,
                    begin,
                    end,
                },
            );
        }
        if max_end > data_len {
            return Err(Error::Truncated {
                path,
                expected: data_start + max_end,
                found: len,
            });
        }
        Ok(SafetensorsFile {
            path,
            mmap,
            data_start,
            tensors,
        })
    }

    /// The raw bytes of a tensor.
    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.mmap[self.data_start + info.begin..self.data_start + info.end]
    }

    /// Read a tensor as f32, checking its shape.
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
            let text = std::fs::read_to_string(&index_path).map_err(|source| Error::Io {
                path: index_path.clone(),
                source,
            })?;
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
