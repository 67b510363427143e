//! `tessera bringup` on the `tiny` chip model: every step passes and the JSON names them; an
//! unknown transport, or a UART device that is not there, is refused with exit status 2; a fault
//! in the result path fails exactly the steps that read through the datapath, and the sequence
//! goes on.

use std::process::{Command, Output};

use tessera_driver::bringup::{self, Options, Outcome};
use tessera_driver::transport::Received;
use tessera_driver::{ChipConfig, Result, SimControl, Transport};
use tessera_sim::{require_verilator, SimTransport};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

#[test]
fn cli_bringup_tiny_all_steps_pass_json() {
    if !require_verilator() {
        return;
    }
    let out = tessera(&["bringup", "--transport", "sim", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}\nstderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}\nstderr: {stderr}"));
    assert_eq!(v["passed"], true);
    assert_eq!(v["transport"], "sim");
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, tessera_driver::bringup::STEPS);
    for s in steps {
        assert_eq!(s["result"], "PASS", "{s}");
    }
    let id = &steps[0]["values"];
    assert!(id["version"].as_str().unwrap().starts_with("0."), "{id}");
    let cfg = &steps[2]["values"]["read"];
    assert_eq!(
        (cfg["grid_rows"].as_u64(), cfg["lanes"].as_u64()),
        (Some(2), Some(4))
    );
    let mem = &steps[3]["values"];
    assert_eq!(mem["mismatched_bytes"], 0);
    assert_eq!(mem["backdoor_mismatched_bytes"], 0);
    // tiny: 4 tiles × 2 ranges × 64 words × 32 bytes × 3 patterns.
    assert_eq!(mem["bytes_written"], 4 * 2 * 64 * 32 * 3);
    assert_eq!(steps[4]["values"]["mismatched_rows"], 0);
    let layer = &steps[5]["values"];
    assert_eq!(layer["logits_bit_exact"], true);
    assert_eq!(layer["mismatches"], 0);
    // 4 tokens × (7 matrices + lm_head).
    assert_eq!(layer["products"], 32);
}

#[test]
fn cli_bringup_bad_transport_exits_2() {
    for t in ["uart:/dev/ttyUSB0", "pcie:0000:01:00.0", "sim:nonesuch"] {
        let out = tessera(&["bringup", "--transport", t]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{t}: {stderr}");
        assert!(stderr.contains(t), "{t}: {stderr}");
    }
}

/// The simulator with bit 0 of the first word of every output block flipped: a fault in the
/// result path that registers do not see.
struct FlipFirstOutputBit(SimTransport);

impl Transport for FlipFirstOutputBit {
    fn stream_width(&self) -> usize {
        self.0.stream_width()
    }
    fn reg_read(&mut self, addr: u32) -> Result<u32> {
        self.0.reg_read(addr)
    }
    fn reg_write(&mut self, addr: u32, value: u32) -> Result<()> {
        self.0.reg_write(addr, value)
    }
    fn stream_send(&mut self, words: &[u32], tlast: bool, timeout_cycles: u64) -> Result<()> {
        self.0.stream_send(words, tlast, timeout_cycles)
    }
    fn stream_recv(&mut self, beats: usize, timeout_cycles: u64) -> Result<Received> {
        let mut r = self.0.stream_recv(beats, timeout_cycles)?;
        if let Some(w) = r.words.first_mut() {
            *w ^= 1;
        }
        Ok(r)
    }
    fn wait_irq(&mut self, timeout_cycles: u64) -> Result<bool> {
        self.0.wait_irq(timeout_cycles)
    }
    fn idle(&mut self, cycles: u64) -> Result<()> {
        self.0.idle(cycles)
    }
    fn sim(&mut self) -> Option<&mut dyn SimControl> {
        self.0.sim()
    }
}

#[test]
fn bringup_tiny_result_path_fault_fails_the_datapath_steps() {
    if !require_verilator() {
        return;
    }
    let t = FlipFirstOutputBit(SimTransport::open("tiny").unwrap());
    let opts = Options {
        expect: Some(ChipConfig::named("tiny").unwrap()),
        ..Options::default()
    };
    let mut seen = Vec::new();
    let r = bringup::run(t, &opts, &mut |s| seen.push(s.name));
    for s in &r.steps {
        eprintln!("{} {} {}", s.name, s.outcome.as_str(), s.summary);
    }
    assert_eq!(seen, bringup::STEPS);
    assert!(!r.passed());
    assert!(r.transport_error.is_none());
    let outcome: Vec<Outcome> = r.steps.iter().map(|s| s.outcome).collect();
    use Outcome::{Fail, Pass};
    assert_eq!(outcome, [Pass, Pass, Pass, Fail, Fail, Fail]);
    // Tile 0, word 0, lane 0 reads wrong for each one-hot input: 2 ranges × 3 patterns × KWidth.
    let mem = &r.steps[3].values;
    assert_eq!(mem["mismatched_bytes"], 2 * 3 * 8);
    assert_eq!(mem["backdoor_mismatched_bytes"], 0);
    assert_eq!(mem["first_mismatches"][0]["tile"], 0);
    assert_eq!(r.steps[4].values["first_mismatched_row"], 0);
    assert_eq!(r.steps[5].values["logits_bit_exact"], false);
}
