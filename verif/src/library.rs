//! The model libraries: which models exist ([`tile_models`]), what each is built from, and
//! building (through `tessera_sim::build_library`, the project's one model builder and cache)
//! and loading each once per process.
//!
//! A model is a verified top in one configuration: the `tile` top in every section of
//! `rtl/configs.toml` (`tile_tiny`, `tile_sim`, ...), the 16-tile bench array in `sim`
//! (`tile_array16_sim`), the assertion probe (`assert_probe`) and the vector unit's primitives
//! (`vec_prims`). Its library holds the
//! Verilated model, the Verilator runtime with the hooks of `csrc/sv_hooks.cpp` and
//! `csrc/vl_hooks.h`, and a generated entry file that instantiates the wrapper of
//! `csrc/tile_sim.h` and exports its table (`csrc/model_abi.h`). The first use of a model in a
//! process builds or reuses its library (minutes once per change of the RTL or of `csrc/`,
//! announced on stderr) and loads it.
//!
//! Environment: `TESSERA_VERILATOR_OPT` sets the C++ optimisation flags of the model and the
//! wrapper (default `-O3 -march=native`); `TESSERA_RTL_ROOT` the checkout whose RTL is built.

use std::path::PathBuf;
use std::sync::Mutex;

use tessera_sim::LibSpec;

use crate::ffi::{self, CommonOps, ProbeOps, TileOps, VecOps};
use crate::model::{Error, Result, TileConfig};

/// This crate's folder: the C++ wrapper (`csrc/`) and the bench tops (`bench/`) come from here,
/// matching the interface compiled into this crate; the RTL comes from the RTL root.
const CRATE_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A tile-shaped top.
struct TileTop {
    top: &'static str,
    /// Verilator files after `rtl/files.f`, relative to this crate.
    extra: &'static [&'static str],
    /// Configurations (sections of `rtl/configs.toml`); empty = every section.
    configs: &'static [&'static str],
    /// DPI scope of the weight memory, if it has a backdoor.
    backdoor_scope: Option<&'static str>,
}

/// The tile-shaped tops. Adding one is one entry here.
const TILE_TOPS: &[TileTop] = &[
    TileTop {
        top: "tile",
        extra: &[],
        configs: &[],
        backdoor_scope: Some("TOP.tile.u_weight_ram"),
    },
    TileTop {
        top: "tile_array16",
        extra: &["bench/tile_array16.vlt", "bench/tile_array16.sv"],
        configs: &["sim"],
        backdoor_scope: None,
    },
];

/// The assertion probe's model name and source.
pub(crate) const PROBE_MODEL: &str = "assert_probe";
const PROBE_SOURCE: &str = "bench/assert_probe.sv";

/// Every tile-shaped model, from the configurations compiled into `tessera-abi`.
pub(crate) fn tile_models() -> Vec<TileConfig> {
    let sections =
        tessera_abi::config::sections(tessera_abi::config::TILE_CONFIGS_TOML, "rtl/configs.toml")
            .expect("rtl/configs.toml parses (checked by the tests of tessera-abi)");
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut out = Vec::new();
    for t in TILE_TOPS {
        for (name, params) in &sections {
            if !t.configs.is_empty() && !t.configs.contains(&name.as_str()) {
                continue;
            }
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == k)
                    .map_or(0, |(_, v)| u32::try_from(*v).unwrap_or(u32::MAX))
            };
            let params: Vec<(&'static str, &'static str)> = params
                .iter()
                .map(|(k, v)| (leak(k.clone()), leak(v.to_string())))
                .collect();
            out.push(TileConfig {
                model: leak(format!("{}_{name}", t.top)),
                top: t.top,
                config: leak(name.clone()),
                lanes: get("Lanes"),
                k_width: get("KWidth"),
                weight_words: get("WeightWords"),
                act_words: get("ActWords"),
                backdoor: t.backdoor_scope.is_some(),
                params: Box::leak(params.into_boxed_slice()),
            });
        }
    }
    out
}

/// The C++ optimisation flags of the models.
fn opt() -> String {
    std::env::var("TESSERA_VERILATOR_OPT").unwrap_or_else(|_| "-O3 -march=native".into())
}

/// What every model library has in common.
fn lib_spec(tag: &str, top: &str, entry: String, export: &str) -> LibSpec {
    LibSpec {
        tag: tag.into(),
        top: top.into(),
        file_list: true,
        extra_sv: Vec::new(),
        params: Vec::new(),
        verilator_args: ["--trace-fst", "-O3", "--x-assign", "fast", "-Wno-style"]
            .map(String::from)
            .into(),
        opt: opt(),
        include_dir: PathBuf::from(CRATE_DIR).join("csrc"),
        force_include: Some("vl_hooks.h".into()),
        sources: vec!["sv_hooks.cpp".into()],
        entry,
        exports: vec![export.into()],
    }
}

/// The library of a tile-shaped model.
fn tile_spec(cfg: &TileConfig) -> Result<LibSpec> {
    let t = TILE_TOPS
        .iter()
        .find(|t| t.top == cfg.top)
        .ok_or_else(|| Error::UnknownModel(cfg.model.into()))?;
    let scope = t
        .backdoor_scope
        .map_or_else(|| "nullptr".to_string(), |s| format!("\"{s}\""));
    let entry = format!(
        "// Generated by tessera-verif (src/library.rs): the model {model}.\n\
         #include \"V{top}.h\"\n\
         #define TESSERA_MODEL_NAME \"{model}\"\n\
         #include \"tile_sim.h\"\n\
         \n\
         namespace {{\n\
         using Impl = tessera::TileSimImpl<V{top}, {l}, {k}, {w}, {a}, {bd}>;\n\
         Impl* make_model() {{ return new Impl({scope}); }}\n\
         }}  // namespace\n\
         \n\
         extern \"C\" TESSERA_EXPORT const TesseraTileOps* {sym}(void) {{\n\
         \x20 return tessera::tile_ops<Impl, make_model>();\n\
         }}\n",
        model = cfg.model,
        top = cfg.top,
        l = cfg.lanes,
        k = cfg.k_width,
        w = cfg.weight_words,
        a = cfg.act_words,
        bd = cfg.backdoor,
        sym = ffi::TILE_SYMBOL,
    );
    let mut spec = lib_spec(cfg.config, cfg.top, entry, ffi::TILE_SYMBOL);
    spec.extra_sv = t.extra.iter().map(|f| format!("{CRATE_DIR}/{f}")).collect();
    spec.params = cfg
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(spec)
}

/// The library of the assertion probe.
fn probe_spec() -> LibSpec {
    let entry = format!(
        "// Generated by tessera-verif (src/library.rs): the assertion probe.\n\
         #include \"V{PROBE_MODEL}.h\"\n\
         #define TESSERA_MODEL_NAME \"{PROBE_MODEL}\"\n\
         #include \"tile_sim.h\"\n\
         \n\
         namespace {{\n\
         using Impl = tessera::ProbeSimImpl<V{PROBE_MODEL}>;\n\
         Impl* make_model() {{ return new Impl(); }}\n\
         }}  // namespace\n\
         \n\
         extern \"C\" TESSERA_EXPORT const TesseraProbeOps* {sym}(void) {{\n\
         \x20 return tessera::probe_ops<Impl, make_model>();\n\
         }}\n",
        sym = ffi::PROBE_SYMBOL,
    );
    let mut spec = lib_spec("probe", PROBE_MODEL, entry, ffi::PROBE_SYMBOL);
    spec.file_list = false;
    spec.extra_sv = vec![format!("{CRATE_DIR}/{PROBE_SOURCE}")];
    spec
}

/// The vector primitives' model name (its test top, `bench/vec_prims.sv`, over `rtl/vec/`).
pub(crate) const VEC_MODEL: &str = "vec_prims";
const VEC_SOURCE: &str = "bench/vec_prims.sv";

/// The library of the vector primitives.
fn vec_spec() -> LibSpec {
    let entry = format!(
        "// Generated by tessera-verif (src/library.rs): the vector unit's primitives.\n\
         #include \"V{VEC_MODEL}.h\"\n\
         #define TESSERA_MODEL_NAME \"{VEC_MODEL}\"\n\
         #include \"tile_sim.h\"\n\
         \n\
         namespace {{\n\
         using Impl = tessera::VecSimImpl<V{VEC_MODEL}>;\n\
         Impl* make_model() {{ return new Impl(); }}\n\
         }}  // namespace\n\
         \n\
         extern \"C\" TESSERA_EXPORT const TesseraVecOps* {sym}(void) {{\n\
         \x20 return tessera::vec_ops<Impl, make_model>();\n\
         }}\n",
        sym = ffi::VEC_SYMBOL,
    );
    let mut spec = lib_spec("prims", VEC_MODEL, entry, ffi::VEC_SYMBOL);
    spec.extra_sv = vec![format!("{CRATE_DIR}/{VEC_SOURCE}")];
    spec
}

/// A loaded library's table.
#[derive(Clone, Copy)]
enum Ops {
    Tile(&'static TileOps),
    Probe(&'static ProbeOps),
    Vec(&'static VecOps),
}

impl Ops {
    fn common(self) -> &'static CommonOps {
        match self {
            Ops::Tile(t) => t.common(),
            Ops::Probe(p) => p.common(),
            Ops::Vec(v) => v.common(),
        }
    }
}

/// The libraries loaded by this process, by model name, in load order. Held while a library
/// builds, so that threads asking for the same model build it once.
static LOADED: Mutex<Vec<(&'static str, Ops)>> = Mutex::new(Vec::new());

fn loaded(model: &'static str, load: impl FnOnce() -> Result<Ops>) -> Result<Ops> {
    let mut libs = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, ops)) = libs.iter().find(|(m, _)| *m == model) {
        return Ok(*ops);
    }
    let ops = load()?;
    libs.push((model, ops));
    Ok(ops)
}

fn build_error(model: &str, e: impl std::fmt::Display) -> Error {
    Error::Build(format!("{model}: {e}"))
}

/// The table of a tile-shaped model, its library built or reused and loaded on first use.
pub(crate) fn tile_ops(cfg: &'static TileConfig) -> Result<&'static TileOps> {
    let ops = loaded(cfg.model, || {
        let spec = tile_spec(cfg)?;
        let path = tessera_sim::build_library(&spec).map_err(|e| build_error(cfg.model, e))?;
        let ops = ffi::tile_ops(&path).map_err(|e| build_error(cfg.model, e))?;
        let built = (ops.lanes, ops.k_width, ops.weight_words, ops.act_words);
        let want = (cfg.lanes, cfg.k_width, cfg.weight_words, cfg.act_words);
        if built != want || ops.backdoor != cfg.backdoor {
            return Err(build_error(
                cfg.model,
                format!(
                    "{} was built with (Lanes, KWidth, WeightWords, ActWords) {built:?}, \
                     expected {want:?}",
                    path.display()
                ),
            ));
        }
        Ok(Ops::Tile(ops))
    })?;
    match ops {
        Ops::Tile(t) => Ok(t),
        Ops::Probe(_) | Ops::Vec(_) => Err(Error::UnknownModel(cfg.model.into())),
    }
}

/// The table of the assertion probe, as [`tile_ops`].
pub(crate) fn probe_ops() -> Result<&'static ProbeOps> {
    let ops = loaded(PROBE_MODEL, || {
        let path =
            tessera_sim::build_library(&probe_spec()).map_err(|e| build_error(PROBE_MODEL, e))?;
        Ok(Ops::Probe(
            ffi::probe_ops(&path).map_err(|e| build_error(PROBE_MODEL, e))?,
        ))
    })?;
    match ops {
        Ops::Probe(p) => Ok(p),
        Ops::Tile(_) | Ops::Vec(_) => Err(Error::UnknownModel(PROBE_MODEL.into())),
    }
}

/// The table of the vector primitives, as [`tile_ops`].
pub(crate) fn vec_ops() -> Result<&'static VecOps> {
    let ops = loaded(VEC_MODEL, || {
        let path =
            tessera_sim::build_library(&vec_spec()).map_err(|e| build_error(VEC_MODEL, e))?;
        Ok(Ops::Vec(
            ffi::vec_ops(&path).map_err(|e| build_error(VEC_MODEL, e))?,
        ))
    })?;
    match ops {
        Ops::Vec(v) => Ok(v),
        Ops::Tile(_) | Ops::Probe(_) => Err(Error::UnknownModel(VEC_MODEL.into())),
    }
}

/// The last lines each loaded library's models printed on this thread, in load order.
pub(crate) fn output_tail() -> String {
    let libs: Vec<Ops> = LOADED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, ops)| *ops)
        .collect();
    libs.into_iter().map(|o| o.common().output_tail()).collect()
}
