//! The generated register layer against the register map's other views.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use tessera_regs::peakrdl_rust::io::RawRegisterIO;
use tessera_regs::peakrdl_rust::reg::RegInt;
use tessera_regs::TesseraRegs;

/// A register bus that records every access by its offset from the block's base (0).
#[derive(Default)]
struct FakeBus {
    mem: RefCell<BTreeMap<usize, u32>>,
    log: RefCell<Vec<(char, usize)>>,
}

impl RawRegisterIO for FakeBus {
    type Error = core::convert::Infallible;

    unsafe fn try_read<T: RegInt>(&self, ptr: *const T) -> Result<T, Self::Error> {
        let off = ptr as usize;
        self.log.borrow_mut().push(('r', off));
        let v = self.mem.borrow().get(&off).copied().unwrap_or(0);
        Ok(num_traits::NumCast::from(v).expect("32-bit registers"))
    }

    unsafe fn try_write<T: RegInt>(&self, ptr: *mut T, value: T) -> Result<(), Self::Error> {
        let off = ptr as usize;
        self.log.borrow_mut().push(('w', off));
        self.mem
            .borrow_mut()
            .insert(off, value.to_u32().expect("32-bit registers"));
        Ok(())
    }
}

/// Offsets by identifier, read from `docs/registers.md` (made by another generator from the same
/// SystemRDL source).
fn documented_offsets() -> BTreeMap<String, usize> {
    let md = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/registers.md");
    let text = std::fs::read_to_string(&md).expect("docs/registers.md");
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].starts_with("0x") && !cells[2].is_empty() {
            if let Ok(off) = usize::from_str_radix(&cells[1][2..], 16) {
                map.entry(cells[2].to_string()).or_insert(off);
            }
        }
    }
    map
}

#[test]
fn regs_layer_offsets_match_the_documentation() {
    let bus = FakeBus::default();
    let regs = unsafe { TesseraRegs::from_ptr_with(core::ptr::null_mut(), &bus) };
    let docs = documented_offsets();
    let mut seen = BTreeMap::new();
    let mut probe = |name: &str, f: &dyn Fn()| {
        bus.log.borrow_mut().clear();
        f();
        let log = bus.log.borrow();
        assert_eq!(log.len(), 1, "{name}: one bus access expected, got {log:?}");
        seen.insert(name.to_string(), log[0].1);
    };
    probe("ID", &|| {
        let _ = regs.id().read();
    });
    probe("VERSION", &|| {
        let _ = regs.version().read();
    });
    probe("CFG_GRID", &|| {
        let _ = regs.cfg_grid().read();
    });
    probe("CFG_TILE", &|| {
        let _ = regs.cfg_tile().read();
    });
    probe("CFG_WEIGHT_WORDS", &|| {
        let _ = regs.cfg_weight_words().read();
    });
    probe("CFG_ACT_WORDS", &|| {
        let _ = regs.cfg_act_words().read();
    });
    probe("CFG_VBUF_WORDS", &|| {
        let _ = regs.cfg_vbuf_words().read();
    });
    probe("CFG_ABUF_WORDS", &|| {
        let _ = regs.cfg_abuf_words().read();
    });
    probe("CFG_RBUF_WORDS", &|| {
        let _ = regs.cfg_rbuf_words().read();
    });
    probe("CFG_STREAM", &|| {
        let _ = regs.cfg_stream().read();
    });
    probe("CFG_WEIGHT_ROM", &|| {
        let _ = regs.cfg_weight_rom().read();
    });
    probe("WEIGHT_ROM_DIGEST", &|| {
        let _ = regs.weight_rom_digest().read();
    });
    probe("CTRL", &|| regs.ctrl().write(|r| r.set_start(true)));
    probe("STATUS", &|| {
        let _ = regs.status().read();
    });
    probe("ERROR", &|| {
        let _ = regs.error().read();
    });
    probe("INTR_STATUS", &|| {
        let _ = regs.intr_status().read();
    });
    probe("INTR_ENABLE", &|| {
        let _ = regs.intr_enable().read();
    });
    probe("SCRATCH", &|| {
        let _ = regs.scratch().read();
    });
    probe("CMD_FIFO", &|| regs.cmd_fifo().write(|r| r.set_word(7)));
    probe("PERF_CYCLES_LO", &|| {
        let _ = regs.perf_cycles_lo().read();
    });
    probe("PERF_CYCLES_HI", &|| {
        let _ = regs.perf_cycles_hi().read();
    });
    probe("PERF_MAC_BUSY_LO", &|| {
        let _ = regs.perf_mac_busy_lo().read();
    });
    probe("PERF_MAC_BUSY_HI", &|| {
        let _ = regs.perf_mac_busy_hi().read();
    });
    probe("PERF_STALL_INPUT_LO", &|| {
        let _ = regs.perf_stall_input_lo().read();
    });
    probe("PERF_STALL_INPUT_HI", &|| {
        let _ = regs.perf_stall_input_hi().read();
    });
    probe("PERF_STALL_OUTPUT_LO", &|| {
        let _ = regs.perf_stall_output_lo().read();
    });
    probe("PERF_STALL_OUTPUT_HI", &|| {
        let _ = regs.perf_stall_output_hi().read();
    });
    probe("ECC_CORRECTED", &|| {
        let _ = regs.ecc_corrected().read();
    });
    probe("ECC_FAIL", &|| {
        let _ = regs.ecc_fail().read();
    });
    probe("ECC_FAIL_ADDR", &|| {
        let _ = regs.ecc_fail_addr().read();
    });
    probe("PERF_STALL_CMD_LO", &|| {
        let _ = regs.perf_stall_cmd_lo().read();
    });
    probe("PERF_STALL_CMD_HI", &|| {
        let _ = regs.perf_stall_cmd_hi().read();
    });
    assert_eq!(seen, docs, "Rust layer and docs/registers.md disagree");
}

#[test]
fn regs_write1_to_clear_fields_are_written_not_modified() {
    let bus = FakeBus::default();
    let regs = unsafe { TesseraRegs::from_ptr_with(core::ptr::null_mut(), &bus) };
    // Clearing one interrupt bit with `write` touches the bus once and writes only that bit:
    // a read-modify-write would also write 1 to every other pending bit and clear it.
    bus.mem.borrow_mut().insert(0x50, 0b11);
    bus.log.borrow_mut().clear();
    regs.intr_status().write(|r| r.set_error(true));
    assert_eq!(*bus.log.borrow(), vec![('w', 0x50)]);
    assert_eq!(bus.mem.borrow()[&0x50], 0b10);
}

#[test]
fn regs_reset_values_of_constant_registers() {
    let id = tessera_regs::tessera_regs::id::Id::default();
    assert_eq!(id.magic(), 0x5445_5353);
    let v = tessera_regs::tessera_regs::version::Version::default();
    assert_eq!((v.major(), v.minor(), v.patch()), (0, 3, 0));
}

#[test]
fn regs_generated_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !root.join(".venv/bin/peakrdl").exists() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipped: .venv/bin/peakrdl is missing (scripts/setup installs it)");
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("scripts/gen-regs"))
        .arg("--check")
        .output()
        .expect("run scripts/gen-regs");
    assert!(
        out.status.success(),
        "generated register files are stale:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
