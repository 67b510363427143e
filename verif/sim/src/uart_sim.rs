//! The simulated board: the Verilator model of the ULX3S board top `tessera_fpga_ulx3s` behind
//! a pseudo-terminal (`docs/fpga.md`, simulated board).
//!
//! [`UartSim::spawn`] builds (or reuses, through [`crate::builder::build_model`]) the model of the
//! board top with the chip parameters of a named configuration of `rtl/top/configs.toml` and a
//! bit time of [`SIM_CLKS_PER_BIT`] cycles, starts it with the bench
//! `verif/sim/csrc/uart_sim.cpp` and reads the path of its pseudo-terminal. Anything that talks
//! to a board's serial port talks to that path the same way: the bytes on the link are those of
//! the board. Dropping the [`UartSim`] stops the model.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use tessera_abi::ChipConfig;
use tessera_driver::{Error, Result};

use crate::builder::{build_model, ModelSpec};

/// The bench of the simulated board, relative to the repository root.
pub const UART_BENCH: &str = "verif/sim/csrc/uart_sim.cpp";

/// Verilator control file of [`UART_BENCH`]: the bridge status signals the bench paces by.
pub const UART_BENCH_VLT: &str = "verif/sim/csrc/uart_sim.vlt";

/// The board top.
pub const BOARD_TOP: &str = "tessera_fpga_ulx3s";

/// Clock cycles per bit of the simulated board (25 on the board: 1 Mbaud at 25 MHz). `HELLO`
/// reports it; the clock it reports stays the board's 25 MHz.
pub const SIM_CLKS_PER_BIT: u32 = 4;

/// The model specification of the simulated board for chip configuration `cfg`: the chip's
/// ([`ModelSpec::chip`]) with the board top, its bench and the simulated bit time.
pub fn board_spec(cfg: &ChipConfig) -> ModelSpec {
    let mut spec = ModelSpec::chip(cfg, UART_BENCH);
    spec.tag = format!("{}-uart", cfg.name);
    spec.top = BOARD_TOP.into();
    spec.extra_sv.push(UART_BENCH_VLT.into());
    spec.cflags
        .push(format!("-DCLKS_PER_BIT={SIM_CLKS_PER_BIT}"));
    spec.params
        .push(("ClksPerBit".into(), SIM_CLKS_PER_BIT.to_string()));
    spec
}

/// A running simulated board.
pub struct UartSim {
    cfg: ChipConfig,
    child: Child,
    /// The bench exits when its stdin closes.
    stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
    pty: PathBuf,
}

impl UartSim {
    /// Builds (or reuses) the model of the board top with the chip parameters of the named
    /// configuration of `rtl/top/configs.toml`, starts it and reads its pseudo-terminal path.
    pub fn spawn(config: &str) -> Result<UartSim> {
        let cfg = ChipConfig::named(config)?;
        let exe = build_model(&board_spec(&cfg))?;
        let mut child = Command::new(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("start {}", exe.display()), e))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let pty = match (read, line.strip_prefix("PTY ")) {
            (Ok(n), Some(path)) if n > 0 => PathBuf::from(path.trim_end()),
            _ => {
                let _ = child.kill();
                let status = child.wait().ok();
                return Err(Error::Sim(format!(
                    "the simulated board did not report its pseudo-terminal (read {line:?}, exit {status:?})"
                )));
            }
        };
        Ok(UartSim {
            cfg,
            child,
            stdin,
            _stdout: stdout,
            pty,
        })
    }

    /// The slave side of the pseudo-terminal: the board's serial port.
    pub fn pty(&self) -> &Path {
        &self.pty
    }

    /// The chip configuration of the board.
    pub fn config(&self) -> &ChipConfig {
        &self.cfg
    }
}

impl Drop for UartSim {
    fn drop(&mut self) {
        // Closing stdin stops the bench; it is killed if it has not exited soon after.
        drop(self.stdin.take());
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
