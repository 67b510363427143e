//! The driver over the UART link to the simulated board (`tessera_fpga_ulx3s` of the `ulx3s`
//! configuration behind a pseudo-terminal, [`UartSim`]), through the commands a user runs on a
//! board: `tessera bringup --transport uart:PTY` and `tessera run --transport uart:PTY`.
//!
//! A proxy between the transport and the board's pseudo-terminal injects faults
//! ([`tessera_driver::testing::FaultyLink`]): bytes dropped and bits flipped in both directions
//! (retried, the run still bit-exact), and a dead link (an error naming the operation, in
//! bounded time; after recovery a run is bit-exact again).
//!
//! One model build (cached); the tests run one after another (a file lock), since each drives a
//! simulated board in real time. Every command is killed (and the test fails) after 5 minutes.
//! `uart_e2e_nightly_*` runs the default bring-up and a longer model run (nightly profile).
//! Skips with a message when `verilator` is missing (fails in CI).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};
use tessera_driver::testing::{Fault, Faults, FaultyLink};
use tessera_driver::uart::{ByteLink, SerialLink, DEFAULT_BAUD};
use tessera_driver::ChipConfig;
use tessera_sim::require_verilator;
use tessera_sim::uart_sim::UartSim;

/// The board configuration.
const BOARD: &str = "ulx3s";
/// Link options for a simulated board on a shared machine: a wide margin for the simulator's
/// pace, bounded retries.
const OPTS: &str = "margin-ms=1000";

/// Held while a test drives a simulated board: one board at a time, across threads and test
/// processes (a file lock), so the real-time waits are not starved by the other tests' boards.
struct Serial(#[allow(dead_code)] File);

fn serial() -> Serial {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("uart_e2e.lock");
    let f = File::create(&path).expect("create the lock file");
    // SAFETY: flock on a valid open descriptor; released when the file is closed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(r, 0, "lock {}", path.display());
    Serial(f)
}

/// Longest a command may take before the test kills it and fails (nothing may hang).
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// Runs `tessera` with `args`, killed and failed after [`COMMAND_LIMIT`]; the output and the
/// wall time in seconds.
fn tessera(args: &[&str]) -> (Output, f64) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tessera");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for tessera") {
            break s;
        }
        if t0.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tessera {args:?} hung: killed after {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (out, t0.elapsed().as_secs_f64())
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(out: &Output) -> serde_json::Value {
    let (o, e) = text(out);
    serde_json::from_str(o.trim())
        .unwrap_or_else(|err| panic!("not one JSON object ({err}): {o}\nstderr: {e}"))
}

fn transport(pty: &Path) -> String {
    format!("uart:{},{OPTS}", pty.display())
}

/// `tessera run --engine matvec` of the small Llama-shaped model (2 layers, GQA, tied
/// embeddings) on the board.
fn run_small(pty: &Path, tokens: usize) -> (Output, f64) {
    let t = transport(pty);
    let n = tokens.to_string();
    tessera(&[
        "run",
        "--engine",
        "matvec",
        "--transport",
        &t,
        "--config",
        BOARD,
        "--synthetic",
        "small",
        "--layers",
        "2",
        "--tokens",
        &n,
        "--json",
    ])
}

/// A pseudo-terminal of its own, relaying bytes to and from the board's through a fault
/// injector.
struct Proxy {
    path: PathBuf,
    link: Arc<Mutex<FaultyLink<SerialLink>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Our own handle on the slave, so the master never sees a hang-up between commands.
    _slave: TTYPort,
}

impl Proxy {
    fn start(board: &Path) -> Proxy {
        // Both ends raw; the driver sets its end raw too when it opens the path.
        let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal");
        let path = PathBuf::from(slave.name().expect("the pseudo-terminal's path"));
        // Reads follow `poll`; a write waits for nobody (bytes nobody takes are lost, as on a
        // wire).
        master.set_timeout(Duration::ZERO).unwrap();
        let board = SerialLink::open(board, DEFAULT_BAUD).expect("open the board pty");
        let board_fd = board.as_raw_fd();
        let link = Arc::new(Mutex::new(FaultyLink::new(board)));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (link.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                // Wait for bytes from either side.
                let mut pfd = [
                    libc::pollfd {
                        fd: master.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: board_fd,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: two valid pollfds.
                unsafe { libc::poll(pfd.as_mut_ptr(), 2, 5) };
                // Host to board: each chunk read from the host is one write (one request).
                if pfd[0].revents & libc::POLLIN != 0 {
                    if let Ok(n) = master.read(&mut buf) {
                        if n > 0 && l.lock().unwrap().write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
                // Board to host.
                let n = match l.lock().unwrap().read(&mut buf, Duration::ZERO) {
                    Ok(n) => n,
                    Err(_) => return,
                };
                if n > 0 {
                    // Nobody listening: the bytes are lost, as on a wire.
                    let _ = master.write_all(&buf[..n]);
                }
            }
        });
        Proxy {
            path,
            link,
            stop,
            thread: Some(thread),
            _slave: slave,
        }
    }

    /// Changes the faults of both directions.
    fn set(&self, f: impl FnOnce(&mut Faults, &mut Faults)) {
        let mut l = self.link.lock().unwrap();
        let l = &mut *l;
        f(&mut l.to_board, &mut l.to_host)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn board() -> Option<UartSim> {
    if !require_verilator() {
        return None;
    }
    Some(UartSim::spawn(BOARD).expect("start the simulated board"))
}

/// Bytes the bring-up's weight-memory step writes with `words` words per range: every tile,
/// two ranges (the first and the last words), three patterns.
fn pattern_bytes(words: usize) -> usize {
    let cfg = ChipConfig::named(BOARD).expect("the board's configuration");
    cfg.tiles() * 2 * words * cfg.word_bytes() * 3
}

#[test]
fn uart_e2e_bringup_every_step_passes() {
    let _g = serial();
    let Some(sim) = board() else { return };
    let t = transport(sim.pty());
    // 8 weight words per range keep the memory step short on the simulated link.
    let (out, secs) = tessera(&[
        "bringup",
        "--transport",
        &t,
        "--expect",
        BOARD,
        "--mem-words",
        "8",
        "--json",
    ]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    let v = json(&out);
    assert_eq!(v["passed"], true);
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, tessera_driver::bringup::STEPS);
    for s in steps {
        assert_eq!(s["result"], "PASS", "{s}");
    }
    assert_eq!(steps[3]["values"]["mismatched_bytes"], 0);
    // Every tile x 2 ranges x 8 words x 3 patterns, written by WEIGHT_LOAD.
    assert_eq!(steps[3]["values"]["bytes_written"], pattern_bytes(8));
    // No backdoor on a board: the memory is read back through the datapath only.
    assert!(steps[3]["values"]["backdoor_mismatched_bytes"].is_null());
    assert_eq!(steps[5]["values"]["logits_bit_exact"], true);
    eprintln!("bringup over the simulated link in {secs:.1} s");
    eprintln!("{}", e.lines().last().unwrap_or(""));
}

#[test]
fn uart_e2e_run_small_llama_bit_exact() {
    let _g = serial();
    let Some(sim) = board() else { return };
    let (out, secs) = run_small(sim.pty(), 2);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["config"], BOARD);
    // 2 tokens × (2 layers × 7 matrices + lm_head), every one checked.
    assert_eq!(v["matvecs"], 30);
    assert_eq!(v["mismatches"], 0);
    assert_eq!(v["load"]["mode"], "FrontDoor");
    let l = &v["link"];
    assert_eq!(l["retries"], 0, "{l}");
    let bytes = l["bytes_sent"].as_f64().unwrap() + l["bytes_received"].as_f64().unwrap();
    let link_s = l["seconds"].as_f64().unwrap();
    let fwd = v["forward_seconds"].as_f64().unwrap();
    eprintln!(
        "run over the simulated link: {secs:.1} s; {} requests, {bytes} bytes in {link_s:.1} s \
         ({:.0} bytes/s); weights {} bytes in {:.1} s; 2 tokens in {fwd:.2} s ({:.2} tokens/s)",
        l["requests"],
        bytes / link_s,
        v["load"]["image_bytes"],
        v["load"]["seconds"].as_f64().unwrap(),
        2.0 / fwd
    );
}

/// `tessera run` on the token engine of the simulated board: token id in, next token id out,
/// the program and the constants loaded by ENG_LOAD over the link, every token bit-exact with
/// the reference interpreter (the simulated board's engine has its units registered inside,
/// `FpStages = 1` of `ulx3s`; the bitstream still leaves the engine out: docs/fpga.md).
#[test]
fn uart_e2e_token_engine_small_llama_bit_exact() {
    let _g = serial();
    let Some(sim) = board() else { return };
    let t = transport(sim.pty());
    let args = [
        "run",
        "--transport",
        &t,
        "--config",
        BOARD,
        "--synthetic",
        "small",
        "--layers",
        "2",
        "--tokens",
        "3",
        "--json",
    ];
    let (out, secs) = tessera(&args);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["engine"], "token", "{v}");
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["config"], BOARD);
    let per = v["per_token"].as_array().expect("per_token");
    assert_eq!(per.len(), 3, "{v}");
    for t in per {
        // TOKEN in (32 B), NEXT and the count out (two 4-byte beats), no register access.
        assert_eq!(t["stream_to_chip"], 32, "{t}");
        assert_eq!(t["register_accesses"], 0, "{t}");
    }
    assert_eq!(v["link"]["retries"], 0, "{}", v["link"]);
    eprintln!(
        "token engine over the simulated link: {secs:.1} s; median {} cycles per token",
        v["cycles_per_token"]["median"]
    );
}

#[test]
fn uart_e2e_faulty_link_retries_dead_link_fails_recovery_bit_exact() {
    let _g = serial();
    let Some(sim) = board() else { return };
    let proxy = Proxy::start(sim.pty());

    // Bytes dropped and bits flipped both ways: retried, still bit-exact.
    proxy.set(|to_board, to_host| {
        to_board.every(4001, Fault::Drop);
        to_board.every(3001, Fault::Flip(0x08));
        to_host.every(2503, Fault::Drop);
        to_host.every(1999, Fault::Flip(0x08));
    });
    let (out, secs) = run_small(&proxy.path, 2);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["mismatches"], 0);
    let l = &v["link"];
    let mut injected = (0, 0, 0, 0);
    proxy.set(|to_board, to_host| {
        injected = (
            to_board.dropped,
            to_board.flipped,
            to_host.dropped,
            to_host.flipped,
        )
    });
    eprintln!("faulty link: {secs:.1} s, injected {injected:?}, link {l}");
    assert!(injected.0 > 0 && injected.1 > 0 && injected.2 > 0 && injected.3 > 0);
    assert!(l["board_bad_crc"].as_u64().unwrap() > 0, "{l}");
    assert!(l["bad_responses"].as_u64().unwrap() > 0, "{l}");
    assert!(l["no_response"].as_u64().unwrap() > 0, "{l}");
    assert!(
        l["retries"].as_u64().unwrap() >= injected.0 + injected.1,
        "{l}"
    );

    // The link dies in the middle of the weight load: an error naming the operation, in
    // bounded time.
    proxy.set(|to_board, to_host| {
        (*to_board, *to_host) = Default::default();
        to_board.after(6000, Fault::Cut);
    });
    let (out, secs) = run_small(&proxy.path, 2);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("link:") && e.contains("no response after 4 tries"),
        "{e}"
    );
    assert!(
        ["STREAM_SEND", "STREAM_RECV", "REG_READ", "REG_WRITE"]
            .iter()
            .any(|op| e.contains(op)),
        "{e}"
    );
    assert!(secs < 60.0, "the dead link took {secs:.1} s to report");
    eprintln!("dead link reported in {secs:.1} s: {}", e.trim());

    // A dead link from the start: HELLO names itself.
    proxy.set(|to_board, to_host| (to_board.dead, to_host.dead) = (true, true));
    let t = transport(&proxy.path);
    let (out, secs) = tessera(&["bringup", "--transport", &t]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("HELLO: no response after 4 tries"), "{e}");
    assert!(secs < 30.0, "{secs:.1} s");

    // Every request's CRC damaged: BAD_CRC from the board, retried a bounded number of times.
    proxy.set(|to_board, to_host| {
        (*to_board, *to_host) = Default::default();
        to_board.damage_last_byte = true;
    });
    let (out, secs) = tessera(&["bringup", "--transport", &t]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("HELLO: no valid response after 4 tries")
            && e.contains("BAD_CRC from the board"),
        "{e}"
    );
    eprintln!("damaged CRCs reported in {secs:.1} s: {}", e.trim());

    // Recovered: the same board runs bit-exact again (no weight was corrupted on the way).
    proxy.set(|to_board, to_host| (*to_board, *to_host) = Default::default());
    let (out, _) = run_small(&proxy.path, 2);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["link"]["retries"], 0);
}

#[test]
fn uart_e2e_not_a_tty_is_a_clear_error() {
    let (out, _) = tessera(&["bringup", "--transport", "uart:/dev/null"]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("not a serial device"), "{e}");
    let (out, _) = tessera(&[
        "run",
        "--transport",
        "uart:/dev/null",
        "--synthetic",
        "small",
    ]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("uart:/dev/null") && e.contains("not a serial device"),
        "{e}"
    );
}

#[test]
fn uart_e2e_nightly_default_bringup_and_longer_run() {
    let _g = serial();
    let Some(sim) = board() else { return };
    let t = transport(sim.pty());
    let (out, secs) = tessera(&["bringup", "--transport", &t, "--expect", BOARD, "--json"]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["passed"], true);
    // Every tile x 2 ranges x 64 words x 3 patterns.
    assert_eq!(v["steps"][3]["values"]["bytes_written"], pattern_bytes(64));
    eprintln!("default bring-up over the simulated link in {secs:.1} s");
    let (out, secs) = run_small(sim.pty(), 6);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    let v = json(&out);
    assert_eq!(v["bit_exact"], true, "{v}");
    assert_eq!(v["matvecs"], 6 * 15);
    eprintln!(
        "6 tokens over the simulated link in {secs:.1} s: {}",
        v["link"]
    );
}
