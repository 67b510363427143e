//! Every register of the map, checked through the chip's AXI4-Lite port on `tiny` against the
//! SystemRDL source `rtl/regs/tessera_regs.rdl`, which this test parses itself (so the
//! expectations cannot drift from the map that generates the register block):
//!
//! - reset value of every readable field (constants and storage from the RDL reset values,
//!   hardware-driven fields from the build configuration and an idle chip), unused bits 0;
//! - read-only registers answer SLVERR to a write and keep their value; write-only registers
//!   answer SLVERR to a read;
//! - read/write fields read back what was written (random patterns, all ones, zero), only their
//!   own bits;
//! - write-1-to-clear fields: set by their hardware event, kept by writing 0, cleared by 1;
//! - single-pulse fields: their effect happens (start, soft reset, snapshot) and nothing stays;
//! - 64-bit counter pairs (`*_LO` / `*_HI` at +4): held between snapshots, the cycle counter
//!   advances by exactly the cycles between two snapshots;
//! - every unmapped word address of the 512-byte window answers SLVERR to reads and writes and
//!   changes nothing.
//!
//! `chip_errors::chip_registers_reset_and_access` keeps a short hand-written smoke check of the
//! same registers; this test is the complete one.

mod chip_common;

use std::collections::BTreeMap;

use chip_common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const OKAY: u32 = 0;
const SLVERR: u32 = 2;
/// The AXI4-Lite slave decodes 9 address bits.
const WINDOW: u32 = 0x200;

// ---------------------------------------------------------------------------------------------
// A reader of the SystemRDL subset the register map uses.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num(u64),
    Str,
    Punct(char),
}

fn parse_number(s: &str) -> u64 {
    let s = s.replace('_', "");
    if let Some((_, rest)) = s.split_once('\'') {
        let (base, digits) = rest.split_at(1);
        let radix = match base {
            "h" | "H" => 16,
            "d" | "D" => 10,
            "b" | "B" => 2,
            "o" | "O" => 8,
            _ => panic!("RDL: bad number {s}"),
        };
        u64::from_str_radix(digits, radix).unwrap_or_else(|_| panic!("RDL: bad number {s}"))
    } else if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("RDL: bad number {s}"))
    } else {
        s.parse().unwrap_or_else(|_| panic!("RDL: bad number {s}"))
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Tok::Str);
        } else if ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == '\'') {
                i += 1;
            }
            out.push(Tok::Num(parse_number(
                &c[start..i].iter().collect::<String>(),
            )));
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if "{}[]:;=@".contains(ch) {
            out.push(Tok::Punct(ch));
            i += 1;
        } else {
            panic!("RDL: unexpected character '{ch}'");
        }
    }
    out
}

/// One field as the map declares it.
#[derive(Clone, Debug)]
struct Field {
    name: String,
    lsb: u32,
    msb: u32,
    sw: String,
    hw: String,
    /// Property names given without a value (`hwset`, `singlepulse`, `swmod`, ...).
    flags: Vec<String>,
    onwrite: Option<String>,
    reset: Option<u64>,
}

impl Field {
    fn mask(&self) -> u32 {
        let w = self.msb - self.lsb + 1;
        (if w == 32 { u32::MAX } else { (1u32 << w) - 1 }) << self.lsb
    }
    fn readable(&self) -> bool {
        self.sw.contains('r')
    }
    fn writable(&self) -> bool {
        self.sw.contains('w')
    }
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
    fn w1c(&self) -> bool {
        self.onwrite.as_deref() == Some("woclr")
    }
}

#[derive(Clone, Debug)]
struct Reg {
    name: String,
    addr: u32,
    fields: Vec<Field>,
}

impl Reg {
    fn readable(&self) -> bool {
        self.fields.iter().any(Field::readable)
    }
    fn writable(&self) -> bool {
        self.fields.iter().any(Field::writable)
    }
    fn field(&self, name: &str) -> &Field {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{}: no field {name}", self.name))
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Tok {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .expect("RDL: unexpected end");
        self.pos += 1;
        t
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn punct(&mut self, p: char) {
        let t = self.next();
        assert_eq!(
            t,
            Tok::Punct(p),
            "RDL: expected '{p}' at token {}",
            self.pos
        );
    }
    fn ident(&mut self) -> String {
        match self.next() {
            Tok::Ident(s) => s,
            t => panic!("RDL: expected a name, got {t:?} at token {}", self.pos),
        }
    }
    fn num(&mut self) -> u64 {
        match self.next() {
            Tok::Num(n) => n,
            t => panic!("RDL: expected a number, got {t:?} at token {}", self.pos),
        }
    }
    /// `name;` or `name = value;`; returns (name, value as text or number).
    fn property(&mut self, first: String) -> (String, Option<Tok>) {
        match self.next() {
            Tok::Punct(';') => (first, None),
            Tok::Punct('=') => {
                let v = self.next();
                self.punct(';');
                (first, Some(v))
            }
            t => panic!("RDL: property {first}: unexpected {t:?}"),
        }
    }
    fn field(&mut self) -> Field {
        self.punct('{');
        let (mut sw, mut hw) = ("rw".to_string(), "rw".to_string());
        let mut flags = Vec::new();
        let mut onwrite = None;
        loop {
            match self.next() {
                Tok::Punct('}') => break,
                Tok::Ident(p) => match self.property(p) {
                    (p, None) => flags.push(p),
                    (p, Some(Tok::Ident(v))) if p == "sw" => sw = v,
                    (p, Some(Tok::Ident(v))) if p == "hw" => hw = v,
                    (p, Some(Tok::Ident(v))) if p == "onwrite" => onwrite = Some(v),
                    (p, Some(Tok::Str)) if p == "desc" || p == "name" => {}
                    (p, v) => panic!("RDL: field property {p} = {v:?} is not understood"),
                },
                t => panic!("RDL: field: unexpected {t:?}"),
            }
        }
        let name = self.ident();
        self.punct('[');
        let msb = self.num() as u32;
        self.punct(':');
        let lsb = self.num() as u32;
        self.punct(']');
        let reset = match self.next() {
            Tok::Punct(';') => None,
            Tok::Punct('=') => {
                let v = self.num();
                self.punct(';');
                Some(v)
            }
            t => panic!("RDL: field {name}: unexpected {t:?}"),
        };
        Field {
            name,
            lsb,
            msb,
            sw,
            hw,
            flags,
            onwrite,
            reset,
        }
    }
    fn reg(&mut self) -> Reg {
        self.punct('{');
        let mut fields = Vec::new();
        loop {
            match self.next() {
                Tok::Punct('}') => break,
                Tok::Ident(f) if f == "field" => fields.push(self.field()),
                Tok::Ident(p) => match self.property(p) {
                    (p, Some(Tok::Str)) if p == "desc" || p == "name" => {}
                    (p, v) => panic!("RDL: register property {p} = {v:?} is not understood"),
                },
                t => panic!("RDL: reg: unexpected {t:?}"),
            }
        }
        let name = self.ident();
        self.punct('@');
        let addr = self.num() as u32;
        self.punct(';');
        Reg { name, addr, fields }
    }
    fn addrmap(&mut self) -> Vec<Reg> {
        assert_eq!(self.ident(), "addrmap");
        let _name = self.ident();
        self.punct('{');
        let mut regs = Vec::new();
        loop {
            match self.next() {
                Tok::Punct('}') => break,
                Tok::Ident(r) if r == "reg" => regs.push(self.reg()),
                Tok::Ident(d) if d == "default" => {
                    let p = self.ident();
                    match self.property(p) {
                        (p, Some(Tok::Num(32))) if p == "regwidth" || p == "accesswidth" => {}
                        (p, v) => panic!("RDL: default {p} = {v:?} is not understood"),
                    }
                }
                Tok::Ident(p) => match self.property(p) {
                    (p, Some(Tok::Str)) if p == "desc" || p == "name" => {}
                    (p, v) => panic!("RDL: addrmap property {p} = {v:?} is not understood"),
                },
                t => panic!("RDL: addrmap: unexpected {t:?}"),
            }
        }
        self.punct(';');
        assert!(self.peek().is_none(), "RDL: text after the addrmap");
        regs
    }
}

/// The registers of `rtl/regs/tessera_regs.rdl`, in address order.
fn register_map() -> Vec<Reg> {
    let text = std::fs::read_to_string(repo_root().join("rtl/regs/tessera_regs.rdl"))
        .expect("rtl/regs/tessera_regs.rdl");
    let mut p = Parser {
        toks: tokenize(&text),
        pos: 0,
    };
    let mut regs = p.addrmap();
    regs.sort_by_key(|r| r.addr);
    for r in &regs {
        assert_eq!(r.addr % 4, 0, "{}: unaligned", r.name);
        assert!(r.addr < WINDOW, "{}: outside the AXI4-Lite window", r.name);
        let mut used = 0u32;
        for f in &r.fields {
            assert!(f.lsb <= f.msb && f.msb < 32, "{}.{}: bits", r.name, f.name);
            assert_eq!(used & f.mask(), 0, "{}.{}: overlaps", r.name, f.name);
            used |= f.mask();
        }
    }
    regs
}

fn by_name(regs: &[Reg]) -> BTreeMap<String, Reg> {
    regs.iter().map(|r| (r.name.clone(), r.clone())).collect()
}

// ---------------------------------------------------------------------------------------------
// What the chip drives into hardware-written fields on an idle chip after reset.
// ---------------------------------------------------------------------------------------------

/// Value of a `hw = w` field of an idle `cfg` chip after reset (the build configuration, or 0
/// for status, error and counter snapshots). A new hardware-driven field fails here until it
/// is given its expected value.
fn hw_reset_value(cfg: &Config, reg: &str, field: &str) -> u64 {
    let p = |k: &str| {
        cfg.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{}: no {k}", cfg.name))
    };
    match (reg, field) {
        ("CFG_GRID", "rows") => p("GridRows"),
        ("CFG_GRID", "cols") => p("GridCols"),
        ("CFG_TILE", "lanes") => p("Lanes"),
        ("CFG_TILE", "k_width") => p("KWidth"),
        ("CFG_WEIGHT_WORDS", "words") => p("WeightWords"),
        ("CFG_ACT_WORDS", "chunks") => p("ActWords"),
        ("CFG_VBUF_WORDS", "words") => {
            p("AbufWords") * p("KWidth") / 4 + p("RbufWords") * p("Lanes")
        }
        ("CFG_ABUF_WORDS", "chunks") => p("AbufWords"),
        ("CFG_RBUF_WORDS", "words") => p("RbufWords"),
        ("CFG_STREAM", "bits") => p("StreamWidth"),
        ("STATUS", "busy" | "error" | "done_count") => 0,
        ("ERROR", "code" | "descriptor") => 0,
        (r, "value") if r.starts_with("PERF_") => 0,
        _ => panic!("no expected reset value for hardware-driven field {reg}.{field}"),
    }
}

/// Expected read value of every readable register right after reset.
fn reset_values(cfg: &Config, regs: &[Reg]) -> BTreeMap<u32, u32> {
    let mut out = BTreeMap::new();
    for r in regs.iter().filter(|r| r.readable()) {
        let mut v = 0u64;
        for f in r.fields.iter().filter(|f| f.readable()) {
            let fv = if f.hw.contains('w') && !f.has("hwset") {
                assert!(
                    f.reset.is_none(),
                    "{}.{}: a wire field has no reset",
                    r.name,
                    f.name
                );
                hw_reset_value(cfg, &r.name, &f.name)
            } else {
                f.reset.unwrap_or(0)
            };
            let width = f.msb - f.lsb + 1;
            assert!(
                width == 64 || fv < (1u64 << width),
                "{}.{}: {fv} does not fit",
                r.name,
                f.name
            );
            v |= fv << f.lsb;
        }
        out.insert(r.addr, v as u32);
    }
    out
}

fn read_all(chip: &mut Chip, regs: &[Reg]) -> BTreeMap<u32, u32> {
    regs.iter()
        .filter(|r| r.readable())
        .map(|r| {
            let (d, resp) = chip.read_resp(r.addr);
            assert_eq!(resp, OKAY, "read of {} ({:#x})", r.name, r.addr);
            (r.addr, d)
        })
        .collect()
}

/// The register constants of `chip_common::reg` agree with the map.
#[test]
fn chip_regs_offsets_match_the_rdl() {
    let map = by_name(&register_map());
    for (name, addr) in [
        ("ID", reg::ID),
        ("VERSION", reg::VERSION),
        ("CFG_GRID", reg::CFG_GRID),
        ("CFG_TILE", reg::CFG_TILE),
        ("CFG_WEIGHT_WORDS", reg::CFG_WEIGHT_WORDS),
        ("CFG_ACT_WORDS", reg::CFG_ACT_WORDS),
        ("CFG_VBUF_WORDS", reg::CFG_VBUF_WORDS),
        ("CFG_ABUF_WORDS", reg::CFG_ABUF_WORDS),
        ("CFG_RBUF_WORDS", reg::CFG_RBUF_WORDS),
        ("CFG_STREAM", reg::CFG_STREAM),
        ("CTRL", reg::CTRL),
        ("STATUS", reg::STATUS),
        ("ERROR", reg::ERROR),
        ("INTR_STATUS", reg::INTR_STATUS),
        ("INTR_ENABLE", reg::INTR_ENABLE),
        ("SCRATCH", reg::SCRATCH),
        ("CMD_FIFO", reg::CMD_FIFO),
        ("PERF_CYCLES_LO", reg::PERF_CYCLES_LO),
        ("PERF_MAC_BUSY_LO", reg::PERF_MAC_BUSY_LO),
        ("PERF_STALL_INPUT_LO", reg::PERF_STALL_INPUT_LO),
        ("PERF_STALL_OUTPUT_LO", reg::PERF_STALL_OUTPUT_LO),
        ("PERF_STALL_CMD_LO", reg::PERF_STALL_CMD_LO),
    ] {
        let r = map
            .get(name)
            .unwrap_or_else(|| panic!("chip_common::reg::{name} is not in the map"));
        assert_eq!(r.addr, addr, "chip_common::reg::{name}");
    }
}

#[test]
fn chip_regs_reset_and_access_from_rdl() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_regs_reset_and_access_from_rdl");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let regs = register_map();
    let map = by_name(&regs);
    let a = |name: &str| {
        map.get(name)
            .unwrap_or_else(|| panic!("{name} is not in the map"))
            .addr
    };
    let mut chip = Chip::new("tiny");
    let cfg = chip.cfg.clone();
    let mut expect = reset_values(&cfg, &regs);

    // Reset values of every readable register (all fields, unused bits 0).
    let got = read_all(&mut chip, &regs);
    for r in regs.iter().filter(|r| r.readable()) {
        assert_eq!(
            got[&r.addr], expect[&r.addr],
            "reset value of {} ({:#x})",
            r.name, r.addr
        );
    }
    let mut checked = BTreeMap::<&str, usize>::new();

    // Read-only registers: a write answers SLVERR and changes nothing. Write-only registers:
    // a read answers SLVERR.
    for r in &regs {
        if !r.writable() {
            for v in [u32::MAX, 0, rng.gen()] {
                assert_eq!(
                    chip.write(r.addr, v),
                    SLVERR,
                    "write to read-only {}",
                    r.name
                );
            }
            *checked.entry("read-only").or_default() += 1;
        }
        if !r.readable() {
            assert_eq!(
                chip.read_resp(r.addr).1,
                SLVERR,
                "read of write-only {}",
                r.name
            );
            *checked.entry("write-only").or_default() += 1;
        }
    }
    assert_eq!(
        read_all(&mut chip, &regs),
        expect,
        "after the SLVERR writes"
    );

    // Plain read/write fields (storage without hardware set or write side effects): random
    // patterns, all ones and zero read back, each field only in its own bits.
    for r in &regs {
        let plain: Vec<&Field> = r
            .fields
            .iter()
            .filter(|f| f.sw == "rw" && f.onwrite.is_none() && f.flags.is_empty())
            .collect();
        if plain.is_empty() {
            continue;
        }
        assert!(
            r.fields
                .iter()
                .all(|f| plain.iter().any(|p| p.name == f.name)),
            "{}: mixes plain read/write fields with others; extend this test",
            r.name
        );
        let mask: u32 = plain.iter().map(|f| f.mask()).fold(0, |m, f| m | f);
        let mut patterns = vec![u32::MAX, 0, 0xa5a5_a5a5, 0x5a5a_5a5a];
        patterns.extend((0..4).map(|_| rng.gen::<u32>()));
        for v in patterns {
            assert_eq!(chip.write(r.addr, v), OKAY, "write {v:#x} to {}", r.name);
            assert_eq!(
                chip.read(r.addr),
                v & mask,
                "{} read-back of {v:#x} (mask {mask:#x})",
                r.name
            );
            // No other register moved (the interrupt enables only matter with a status bit).
            let mut want = expect.clone();
            want.insert(r.addr, v & mask);
            assert_eq!(read_all(&mut chip, &regs), want, "after writing {}", r.name);
        }
        // Back to reset value.
        let reset = expect[&r.addr];
        assert_eq!(chip.write(r.addr, reset), OKAY);
        *checked.entry("read/write").or_default() += 1;
    }
    assert_eq!(
        read_all(&mut chip, &regs),
        expect,
        "after the read/write checks"
    );

    // Write-1-to-clear fields: each is set by its hardware event, survives writes of 0 (and of
    // 1 to the other bits), and clears on a write of 1.
    let intr_status = map["INTR_STATUS"].clone();
    for r in &regs {
        for f in r.fields.iter().filter(|f| f.w1c()) {
            assert!(
                f.has("hwset") && f.readable(),
                "{}.{}: write-1-to-clear without hwset",
                r.name,
                f.name
            );
            assert_eq!(
                r.name, intr_status.name,
                "{}.{}: no hardware event known for this write-1-to-clear field",
                r.name, f.name
            );
            match f.name.as_str() {
                // A FENCE completes.
                "done" => chip.send(&[fence(&cfg)]),
                // An unknown opcode stops the command processor.
                "error" => chip.send(&[packet(&cfg, &[0x7f], &[])]),
                other => panic!("INTR_STATUS.{other}: no hardware event known"),
            }
            chip.run(20);
            let v = chip.read(r.addr);
            assert_ne!(v & f.mask(), 0, "{}.{} set by its event", r.name, f.name);
            assert_eq!(chip.write(r.addr, 0), OKAY);
            assert_eq!(chip.read(r.addr) & f.mask(), f.mask(), "kept by writing 0");
            assert_eq!(chip.write(r.addr, !f.mask()), OKAY);
            assert_eq!(
                chip.read(r.addr) & f.mask(),
                f.mask(),
                "kept by writing 1 to the other bits"
            );
            assert_eq!(chip.write(r.addr, f.mask()), OKAY);
            assert_eq!(
                chip.read(r.addr) & f.mask(),
                0,
                "{}.{} cleared",
                r.name,
                f.name
            );
            if f.name == "error" {
                // Leave the chip as after reset: soft reset clears the error state.
                assert_ne!(
                    chip.read(a("STATUS")) & map["STATUS"].field("error").mask(),
                    0
                );
                chip.soft_reset();
            }
            *checked.entry("write-1-to-clear").or_default() += 1;
        }
    }
    // The FENCE counted as a completed descriptor before the soft reset; nothing else moved.
    let after = read_all(&mut chip, &regs);
    for (addr, v) in &after {
        let name = &regs.iter().find(|r| r.addr == *addr).unwrap().name;
        if !name.starts_with("PERF_") {
            assert_eq!(*v, expect[addr], "{name} after the write-1-to-clear checks");
        }
    }

    // Single-pulse fields: each write of 1 has its effect once; the register stays write-only.
    let ctrl_fields: Vec<Field> = regs
        .iter()
        .flat_map(|r| r.fields.iter().filter(|f| f.has("singlepulse")).cloned())
        .collect();
    for f in &ctrl_fields {
        let ctrl = regs
            .iter()
            .find(|r| {
                r.fields
                    .iter()
                    .any(|g| g.name == f.name && g.has("singlepulse"))
            })
            .unwrap();
        match (ctrl.name.as_str(), f.name.as_str()) {
            ("CTRL", "snapshot") => {
                let lo = a("PERF_CYCLES_LO");
                let c0 = chip.read(lo);
                assert_eq!(chip.write(ctrl.addr, f.mask()), OKAY);
                let c1 = chip.read(lo);
                assert!(c1 > c0, "snapshot copies the running cycle count");
                chip.run(50);
                assert_eq!(chip.read(lo), c1, "one snapshot per write");
            }
            ("CTRL", "start") => {
                // A FENCE queued word by word in the command FIFO runs on start.
                let fifo = a("CMD_FIFO");
                let done = map["INTR_STATUS"].field("done").mask();
                for w in header_words(&cfg, &[op::FENCE]).iter().take(8) {
                    assert_eq!(chip.write(fifo, *w), OKAY);
                }
                chip.run(20);
                assert_eq!(
                    chip.read(a("INTR_STATUS")) & done,
                    0,
                    "nothing runs before start"
                );
                assert_eq!(chip.write(ctrl.addr, f.mask()), OKAY);
                chip.run(50);
                assert_ne!(chip.read(a("INTR_STATUS")) & done, 0, "the FENCE ran");
                assert_eq!(chip.write(a("INTR_STATUS"), done), OKAY);
            }
            ("CTRL", "soft_reset") => {
                let status = a("STATUS");
                assert_ne!(chip.read(status) >> 16, 0, "descriptors were counted");
                assert_eq!(chip.write(ctrl.addr, f.mask()), OKAY);
                chip.run(4);
                assert_eq!(chip.read(status), 0, "soft reset clears the status");
            }
            (r, n) => panic!("{r}.{n}: no effect known for this single-pulse field"),
        }
        assert_eq!(
            chip.read_resp(ctrl.addr).1,
            SLVERR,
            "{} stays write-only",
            ctrl.name
        );
        *checked.entry("single-pulse").or_default() += 1;
    }
    // After the soft reset every register but the counter snapshots is at its reset value.
    let after = read_all(&mut chip, &regs);
    for (addr, v) in &after {
        let name = &regs.iter().find(|r| r.addr == *addr).unwrap().name;
        if !name.starts_with("PERF_") {
            assert_eq!(*v, expect[addr], "{name} after the single-pulse checks");
        }
    }

    // 64-bit counter pairs: *_LO at an 8-byte boundary and *_HI right above it, 32 bits each.
    let snapshot = map["CTRL"].field("snapshot").mask();
    let pairs: Vec<(String, u32)> = regs
        .iter()
        .filter_map(|r| r.name.strip_suffix("_LO").map(|b| (b.to_string(), r.addr)))
        .collect();
    assert!(!pairs.is_empty(), "no counter pairs in the map");
    for (base, lo) in &pairs {
        let hi = map
            .get(&format!("{base}_HI"))
            .unwrap_or_else(|| panic!("{base}_LO without {base}_HI"));
        assert_eq!(hi.addr, lo + 4, "{base}_HI follows {base}_LO");
        assert_eq!(lo % 8, 0, "{base}_LO on an 8-byte boundary");
        for r in [&map[&format!("{base}_LO")], hi] {
            assert!(
                r.fields.len() == 1 && r.fields[0].mask() == u32::MAX && !r.writable(),
                "{}: one read-only 32-bit field",
                r.name
            );
        }
    }
    assert_eq!(chip.write(a("CTRL"), snapshot), OKAY);
    let t0 = chip.cycles();
    let before: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    chip.run(1000);
    let held: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    assert_eq!(before, held, "counter pairs hold their snapshot");
    assert_eq!(chip.write(a("CTRL"), snapshot), OKAY);
    let t1_end = chip.cycles();
    let after: Vec<u64> = pairs.iter().map(|(_, lo)| chip.read64(*lo)).collect();
    for (i, (base, _)) in pairs.iter().enumerate() {
        assert!(after[i] >= before[i], "{base} went backwards");
        assert!(
            after[i] >> 32 == 0,
            "{base}: no carry expected in a short run"
        );
    }
    let cyc = pairs
        .iter()
        .position(|(b, _)| b == "PERF_CYCLES")
        .expect("PERF_CYCLES pair");
    // Both snapshots are taken the same number of cycles into their write transaction, so
    // they are as far apart as the ends of the two writes.
    let sim = t1_end - t0;
    let snap = after[cyc] - before[cyc];
    assert!(
        snap.abs_diff(sim) <= 2,
        "PERF_CYCLES advanced {snap}, the model ran {sim} cycles between the snapshots"
    );
    *checked.entry("64-bit pairs").or_default() += pairs.len();

    // Every unmapped word address of the window: SLVERR both ways, nothing changes.
    let scratch = a("SCRATCH");
    let marker = rng.gen::<u32>();
    assert_eq!(chip.write(scratch, marker), OKAY);
    let mapped: Vec<u32> = regs.iter().map(|r| r.addr).collect();
    let mut unmapped = 0;
    for addr in (0..WINDOW).step_by(4).filter(|x| !mapped.contains(x)) {
        assert_eq!(chip.read_resp(addr).1, SLVERR, "read of unmapped {addr:#x}");
        assert_eq!(
            chip.write(addr, rng.gen()),
            SLVERR,
            "write to unmapped {addr:#x}"
        );
        unmapped += 1;
    }
    assert_eq!(
        chip.read(scratch),
        marker,
        "unmapped writes changed SCRATCH"
    );
    expect.insert(scratch, marker);
    let after = read_all(&mut chip, &regs);
    for (addr, v) in &after {
        let name = &regs.iter().find(|r| r.addr == *addr).unwrap().name;
        if !name.starts_with("PERF_") {
            assert_eq!(*v, expect[addr], "{name} after the unmapped sweep");
        }
    }
    *checked.entry("unmapped addresses").or_default() += unmapped;
    eprintln!(
        "chip_regs: {} registers from the RDL; checked {checked:?}",
        regs.len()
    );
}
