//! AXI protocol assertions at the `tessera_top` ports (`rtl/host/host_csr.sv`,
//! `rtl/top/tessera_top.sv`), on `tiny`, with the ports driven cycle by cycle
//! ([`Ports`](crate::env::Ports)):
//!
//! - `chip_axi_legal_traffic`: a randomized AXI4-Lite manager (address and data in either order,
//!   several transactions outstanding, random BREADY/RREADY) runs without an assertion firing,
//!   and every response has the data and BRESP/RRESP the register map gives;
//! - `chip_axi_violations_caught`: each manager-side violation (VALID dropped before READY,
//!   payload changed while VALID waits, on AW, W, AR and the input stream's TDATA/TLAST) stops
//!   the model with the named assertion's message, while the same sequence without the
//!   violation runs clean.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_abi::{ChipConfig, Descriptor};
use tessera_regs::tessera_regs::id::Id;
use tessera_regs::TesseraRegs;

use crate::env::{have_verilator, reg, seed, Ports};

const OKAY: u64 = crate::env::OKAY as u64;
const SLVERR: u64 = crate::env::SLVERR as u64;

/// Word addresses past the register map (inside the 512-byte window the slave decodes).
fn unmapped(rng: &mut ChaCha8Rng) -> u32 {
    let size = <TesseraRegs>::SIZE as u32;
    size.next_multiple_of(4) + 4 * rng.gen_range(0..4)
}

/// Input ports the test drives, with the value last sent, so only changes cost a request.
struct Drive<'a> {
    p: &'a mut Ports,
    last: std::collections::HashMap<&'static str, u64>,
}

impl<'a> Drive<'a> {
    fn new(p: &'a mut Ports) -> Self {
        Drive {
            p,
            last: Default::default(),
        }
    }

    fn set(&mut self, port: &'static str, v: u64) {
        if self.last.get(port) != Some(&v) {
            self.p.set(port, v);
            self.last.insert(port, v);
        }
    }
}

/// One read and its expected answer.
#[derive(Clone, Copy, Debug)]
struct Read {
    addr: u32,
    data: Option<u64>,
    resp: u64,
}

/// One write and its expected BRESP.
#[derive(Clone, Copy, Debug)]
struct Write {
    addr: u32,
    data: u32,
    resp: u64,
}

fn random_read(rng: &mut ChaCha8Rng, cfg: &ChipConfig) -> Read {
    match rng.gen_range(0..4) {
        0 => Read {
            addr: reg!(id),
            data: Some(Id::default().magic() as u64),
            resp: OKAY,
        },
        1 => Read {
            addr: reg!(cfg_weight_words),
            data: Some(cfg.weight_words as u64),
            resp: OKAY,
        },
        2 => Read {
            // Write-only register.
            addr: reg!(cmd_fifo),
            data: None,
            resp: SLVERR,
        },
        _ => Read {
            addr: unmapped(rng),
            data: None,
            resp: SLVERR,
        },
    }
}

fn random_write(rng: &mut ChaCha8Rng) -> Write {
    match rng.gen_range(0..4) {
        0 | 1 => Write {
            addr: reg!(scratch),
            data: rng.gen(),
            resp: OKAY,
        },
        2 => Write {
            addr: reg!(id),
            data: rng.gen(),
            resp: SLVERR,
        },
        _ => Write {
            addr: unmapped(rng),
            data: rng.gen(),
            resp: SLVERR,
        },
    }
}

#[test]
fn chip_axi_legal_traffic() {
    if !have_verilator() {
        return;
    }
    let seed = seed("chip_axi_legal_traffic");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ports = Ports::new("tiny");
    let cfg = ports.cfg.clone();
    let n_writes = 60;
    let n_reads = 60;
    let writes: Vec<Write> = (0..n_writes).map(|_| random_write(&mut rng)).collect();
    let reads: Vec<Read> = (0..n_reads).map(|_| random_read(&mut rng, &cfg)).collect();
    // Channel positions: next write address / data / read address to present, and the
    // responses still expected, in order.
    let (mut aw_i, mut w_i, mut ar_i) = (0usize, 0usize, 0usize);
    let (mut aw_on, mut w_on, mut ar_on) = (false, false, false);
    let mut b_expect: VecDeque<Write> = VecDeque::new();
    let mut r_expect: VecDeque<Read> = VecDeque::new();
    let (mut b_done, mut r_done) = (0usize, 0usize);
    let mut max_outstanding = 0usize;
    let mut d = Drive::new(&mut ports);
    d.set("s_axil_wstrb_i", 0xf);
    let mut cycle = 0u64;
    while b_done < n_writes || r_done < n_reads {
        cycle += 1;
        assert!(cycle < 20_000, "AXI4-Lite traffic did not complete");
        // Present the next request on each channel at random times; once up, it stays until
        // taken with its payload unchanged.
        if !aw_on && aw_i < n_writes && aw_i < w_i + 3 && rng.gen_bool(0.5) {
            d.set("s_axil_awaddr_i", writes[aw_i].addr as u64);
            d.set("s_axil_awprot_i", rng.gen_range(0..8));
            aw_on = true;
        }
        if !w_on && w_i < n_writes && w_i < aw_i + 3 && rng.gen_bool(0.5) {
            d.set("s_axil_wdata_i", writes[w_i].data as u64);
            w_on = true;
        }
        if !ar_on && ar_i < n_reads && rng.gen_bool(0.4) {
            d.set("s_axil_araddr_i", reads[ar_i].addr as u64);
            ar_on = true;
        }
        d.set("s_axil_awvalid_i", aw_on as u64);
        d.set("s_axil_wvalid_i", w_on as u64);
        d.set("s_axil_arvalid_i", ar_on as u64);
        let bready = rng.gen_bool(0.4);
        let rready = rng.gen_bool(0.4);
        d.set("s_axil_bready_i", bready as u64);
        d.set("s_axil_rready_i", rready as u64);

        let aw_hs = aw_on && d.p.get("s_axil_awready_o") == 1;
        let w_hs = w_on && d.p.get("s_axil_wready_o") == 1;
        let ar_hs = ar_on && d.p.get("s_axil_arready_o") == 1;
        if bready && d.p.get("s_axil_bvalid_o") == 1 {
            let want = b_expect
                .pop_front()
                .expect("BVALID without an outstanding write");
            let resp = d.p.get("s_axil_bresp_o");
            assert_eq!(resp, want.resp, "BRESP of write #{b_done} {want:?}");
            b_done += 1;
        }
        if rready && d.p.get("s_axil_rvalid_o") == 1 {
            let want = r_expect
                .pop_front()
                .expect("RVALID without an outstanding read");
            let resp = d.p.get("s_axil_rresp_o");
            assert_eq!(resp, want.resp, "RRESP of read #{r_done} {want:?}");
            if let Some(data) = want.data {
                assert_eq!(d.p.get("s_axil_rdata_o"), data, "RDATA of {want:?}");
            }
            r_done += 1;
        }
        if let Err(msgs) = d.p.step(1) {
            panic!("legal AXI4-Lite traffic fired an assertion (seed {seed}): {msgs:?}");
        }
        if aw_hs {
            aw_i += 1;
            aw_on = false;
        }
        if w_hs {
            w_i += 1;
            w_on = false;
        }
        // A write is outstanding once both its address and its data were taken.
        while b_done + b_expect.len() < aw_i.min(w_i) {
            b_expect.push_back(writes[b_done + b_expect.len()]);
        }
        if ar_hs {
            r_expect.push_back(reads[ar_i]);
            ar_i += 1;
            ar_on = false;
        }
        max_outstanding = max_outstanding.max(b_expect.len() + r_expect.len());
    }
    d.set("s_axil_awvalid_i", 0);
    d.set("s_axil_wvalid_i", 0);
    d.set("s_axil_arvalid_i", 0);
    // The last write to SCRATCH is what SCRATCH holds.
    let last_scratch = writes
        .iter()
        .rev()
        .find(|w| w.addr == reg!(scratch))
        .map(|w| w.data as u64)
        .unwrap_or(0);
    d.set("s_axil_araddr_i", reg!(scratch) as u64);
    d.set("s_axil_arvalid_i", 1);
    d.set("s_axil_rready_i", 1);
    let mut got = None;
    let mut ar_on = true;
    for _ in 0..20 {
        let ar_hs = ar_on && d.p.get("s_axil_arready_o") == 1;
        let r = (d.p.get("s_axil_rvalid_o") == 1)
            .then(|| (d.p.get("s_axil_rdata_o"), d.p.get("s_axil_rresp_o")));
        d.p.step(1).expect("no assertion");
        if ar_hs {
            ar_on = false;
            d.set("s_axil_arvalid_i", 0);
        }
        if r.is_some() {
            got = r;
            break;
        }
    }
    assert_eq!(got, Some((last_scratch, OKAY)), "SCRATCH after the traffic");
    eprintln!(
        "chip_axi_legal_traffic: {n_writes} writes, {n_reads} reads in {cycle} cycles, \
         up to {max_outstanding} responses outstanding"
    );
    assert!(
        max_outstanding >= 2,
        "the traffic never had two responses outstanding"
    );
}

/// Issues writes to SCRATCH with BREADY low until the slave stops taking write addresses;
/// returns with AWVALID and WVALID high and AWREADY low.
fn stall_writes(p: &mut Ports) {
    p.set("s_axil_bready_i", 0);
    p.set("s_axil_wstrb_i", 0xf);
    p.set("s_axil_awaddr_i", reg!(scratch) as u64);
    p.set("s_axil_wdata_i", 0x1234_5678);
    p.set("s_axil_awvalid_i", 1);
    p.set("s_axil_wvalid_i", 1);
    let (mut aw_on, mut w_on) = (true, true);
    for _ in 0..16 {
        let aw_hs = aw_on && p.get("s_axil_awready_o") == 1;
        let w_hs = w_on && p.get("s_axil_wready_o") == 1;
        if aw_on && w_on && !aw_hs && !w_hs {
            return;
        }
        p.step(1).expect("legal writes");
        aw_on = !aw_hs;
        w_on = !w_hs;
        if !aw_on && !w_on {
            aw_on = true;
            w_on = true;
        }
        p.set("s_axil_awvalid_i", aw_on as u64);
        p.set("s_axil_wvalid_i", w_on as u64);
    }
    panic!("the slave kept taking writes with BREADY low");
}

/// Issues reads with RREADY low until the slave stops taking read addresses; returns with
/// ARVALID high and ARREADY low.
fn stall_reads(p: &mut Ports) {
    p.set("s_axil_rready_i", 0);
    p.set("s_axil_araddr_i", reg!(id) as u64);
    p.set("s_axil_arvalid_i", 1);
    for _ in 0..16 {
        if p.get("s_axil_arready_o") == 0 {
            return;
        }
        p.step(1).expect("legal reads");
    }
    panic!("the slave kept taking reads with RREADY low");
}

/// Starts a VBUF_READ of the whole result buffer with TREADY low on the output stream, so the
/// command processor stops taking input; returns with the next beat presented (TVALID high,
/// TREADY low).
fn stall_stream(p: &mut Ports) {
    let cfg = p.cfg.clone();
    p.set("m_axis_tready_i", 0);
    let hdr = Descriptor::vbuf_read(0, cfg.rbuf_words as u32).header_words(&cfg);
    let beats = hdr.chunks(cfg.beat_words()).count();
    for (i, words) in hdr.chunks(cfg.beat_words()).enumerate() {
        p.set_tdata(words);
        p.set("s_axis_tlast_i", (i + 1 == beats) as u64);
        p.set("s_axis_tvalid_i", 1);
        let mut taken = false;
        for _ in 0..100 {
            taken = p.get("s_axis_tready_o") == 1;
            p.step(1).expect("legal stream");
            if taken {
                break;
            }
        }
        assert!(taken, "the chip did not take a header beat");
    }
    p.set_tdata(&vec![0xabcd_0000; cfg.beat_words()]);
    p.set("s_axis_tlast_i", 0);
    p.set("s_axis_tvalid_i", 1);
    p.step(4).expect("legal stream");
    assert_eq!(
        p.get("s_axis_tready_o"),
        0,
        "TREADY is low while the read-back waits"
    );
}

/// One scenario: a set-up that leaves a request waiting, then one change of the inputs.
struct Violation {
    name: &'static str,
    setup: fn(&mut Ports),
    violate: fn(&mut Ports),
    assertion: &'static str,
    message: &'static str,
}

#[test]
fn chip_axi_violations_caught() {
    if !have_verilator() {
        return;
    }
    let cases = [
        Violation {
            name: "AWVALID dropped before AWREADY",
            setup: stall_writes,
            violate: |p| p.set("s_axil_awvalid_i", 0),
            assertion: "AxilAw_A",
            message: "valid dropped",
        },
        Violation {
            name: "AWADDR changed while AWVALID waits",
            setup: stall_writes,
            violate: |p| p.set("s_axil_awaddr_i", reg!(intr_enable) as u64),
            assertion: "AxilAw_A",
            message: "payload changed",
        },
        Violation {
            name: "WDATA changed while WVALID waits",
            setup: stall_writes,
            violate: |p| p.set("s_axil_wdata_i", 0x8765_4321),
            assertion: "AxilW_A",
            message: "payload changed",
        },
        Violation {
            name: "WVALID dropped before WREADY",
            setup: stall_writes,
            violate: |p| p.set("s_axil_wvalid_i", 0),
            assertion: "AxilW_A",
            message: "valid dropped",
        },
        Violation {
            name: "ARADDR changed while ARVALID waits",
            setup: stall_reads,
            violate: |p| p.set("s_axil_araddr_i", reg!(version) as u64),
            assertion: "AxilAr_A",
            message: "payload changed",
        },
        Violation {
            name: "ARVALID dropped before ARREADY",
            setup: stall_reads,
            violate: |p| p.set("s_axil_arvalid_i", 0),
            assertion: "AxilAr_A",
            message: "valid dropped",
        },
        Violation {
            name: "TDATA changed while TVALID waits",
            setup: stall_stream,
            violate: |p| {
                let n = p.cfg.beat_words();
                p.set_tdata(&vec![0x5555_aaaa; n]);
            },
            assertion: "SAxis_A",
            message: "payload changed",
        },
        Violation {
            name: "TLAST changed while TVALID waits",
            setup: stall_stream,
            violate: |p| p.set("s_axis_tlast_i", 1),
            assertion: "SAxis_A",
            message: "payload changed",
        },
        Violation {
            name: "TVALID dropped before TREADY",
            setup: stall_stream,
            violate: |p| p.set("s_axis_tvalid_i", 0),
            assertion: "SAxis_A",
            message: "valid dropped",
        },
    ];
    for c in &cases {
        // Control: the set-up held for a while is legal.
        let mut p = Ports::new("tiny");
        (c.setup)(&mut p);
        if let Err(m) = p.step(20) {
            panic!("{}: the legal set-up fired an assertion: {m:?}", c.name);
        }
        drop(p);
        // The violation is caught at the next clock edge.
        let mut p = Ports::new("tiny");
        (c.setup)(&mut p);
        p.step(1).expect("set-up is legal");
        (c.violate)(&mut p);
        let msgs = match p.step(2) {
            Ok(_) => panic!("{}: no assertion fired", c.name),
            Err(m) => m,
        };
        let text = msgs.join("\n");
        assert!(
            text.contains(c.assertion) && text.contains(c.message),
            "{}: expected {} ({}), got:\n{text}",
            c.name,
            c.assertion,
            c.message
        );
        eprintln!("chip_axi_violations_caught: {}: {}", c.name, msgs[0]);
    }
}
