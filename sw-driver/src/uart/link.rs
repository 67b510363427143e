//! The byte link under the UART transport: the [`ByteLink`] trait, and [`SerialLink`], a serial
//! device or pseudo-terminal opened with the `serialport` crate (raw, 8N1, no flow control).

use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};

use crate::error::{Error, Result};

/// A byte link to the board: a serial device, a pseudo-terminal, or anything between (a fault
/// injector in tests, [`crate::testing::FaultyLink`]).
pub trait ByteLink {
    /// Writes every byte (bounded: an error when the link does not take them in time).
    fn write_all(&mut self, bytes: &[u8]) -> Result<()>;

    /// Reads what has arrived, waiting at most `timeout` for the first byte; `Ok(0)` when
    /// nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize>;
}

impl<L: ByteLink + ?Sized> ByteLink for Box<L> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        (**self).write_all(bytes)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        (**self).read(buf, timeout)
    }
}

/// The baud rates a serial device is opened at: Linux's standard rates from 9600 on.
pub const BAUD_RATES: [u32; 18] = [
    9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 500_000, 576_000, 921_600, 1_000_000,
    1_152_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000,
];

/// A serial device or pseudo-terminal in raw 8N1 mode, no flow control.
pub struct SerialLink {
    port: TTYPort,
    path: PathBuf,
    baud: u32,
}

impl SerialLink {
    /// Opens `path` (a tty: a USB serial adapter, a pseudo-terminal) raw, 8N1, at `baud` (one of
    /// [`BAUD_RATES`]), without becoming its controlling terminal, and drops whatever it held.
    pub fn open(path: &Path, baud: u32) -> Result<SerialLink> {
        if !BAUD_RATES.contains(&baud) {
            return Err(Error::Config(format!(
                "baud {baud}: not a standard rate (9600 .. 4000000, e.g. 115200, 1000000)"
            )));
        }
        let name = path
            .to_str()
            .ok_or_else(|| Error::Config(format!("{}: not a UTF-8 device path", path.display())))?;
        // Not exclusive: the lock `TIOCEXCL` sets outlives a process that exits without
        // closing the port, and would refuse the next command on the same board.
        let port = serialport::new(name, baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .exclusive(false)
            .open_native()
            .map_err(|e| open_error(path, e))?;
        // serialport leaves the descriptor blocking; non-blocking, a write after `poll` takes
        // what fits and returns, so a link that stops taking bytes is an error, never a hang.
        // SAFETY: fcntl on the port's open descriptor.
        if unsafe { libc::fcntl(port.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
            return Err(Error::io(
                format!("set non-blocking {}", path.display()),
                std::io::Error::last_os_error(),
            ));
        }
        port.clear(ClearBuffer::All)
            .map_err(|e| Error::io(format!("flush {}", path.display()), e.into()))?;
        Ok(SerialLink {
            port,
            path: path.to_path_buf(),
            baud,
        })
    }

    fn closed(&self) -> Error {
        Error::Link(format!(
            "{}: the link was closed (the board or its simulator went away)",
            self.path.display()
        ))
    }

    fn failed(&self, what: &str, e: std::io::Error) -> Error {
        Error::io(format!("{what} {}", self.path.display()), e)
    }
}

/// The error of a port that did not open: a path that is not a terminal says so.
fn open_error(path: &Path, e: serialport::Error) -> Error {
    use std::io::IsTerminal;
    use std::os::unix::fs::OpenOptionsExt;
    let not_a_tty = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .is_ok_and(|f| !f.is_terminal());
    if not_a_tty {
        return Error::Config(format!(
            "{}: not a serial device (not a tty); expected e.g. uart:/dev/ttyUSB0",
            path.display()
        ));
    }
    Error::io(format!("open {}", path.display()), e.into())
}

impl std::os::unix::io::AsRawFd for SerialLink {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.port.as_raw_fd()
    }
}

impl ByteLink for SerialLink {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::ErrorKind as K;
        // The bytes' time on the wire and a generous margin: a link that takes nothing for
        // that long is broken.
        let limit = Duration::from_secs_f64(2.0 + bytes.len() as f64 * 20.0 / self.baud as f64);
        let deadline = Instant::now() + limit;
        let mut rest = bytes;
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self
                .port
                .set_timeout(left)
                .map_err(std::io::Error::from)
                .and_then(|()| self.port.write(rest));
            match r {
                Ok(0) => return Err(self.closed()),
                Ok(n) => rest = &rest[n..],
                Err(e) if matches!(e.kind(), K::Interrupted | K::WouldBlock) => {}
                Err(e) if e.kind() == K::TimedOut => {
                    return Err(Error::Link(format!(
                        "{}: the link took no bytes for {:.1} s",
                        self.path.display(),
                        limit.as_secs_f64()
                    )))
                }
                Err(e) if e.kind() == K::BrokenPipe => return Err(self.closed()),
                Err(e) => return Err(self.failed("write", e)),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        use std::io::ErrorKind as K;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self
                .port
                .set_timeout(left)
                .map_err(std::io::Error::from)
                .and_then(|()| self.port.read(buf));
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == K::TimedOut => return Ok(0),
                Err(e) if matches!(e.kind(), K::Interrupted | K::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Ok(0);
                    }
                }
                // `poll` saw the other side hang up.
                Err(e) if e.kind() == K::BrokenPipe => return Err(self.closed()),
                Err(e) => return Err(self.failed("read", e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uart_serial_link_is_raw_8n1_at_every_standard_rate() {
        let (_master, slave) = TTYPort::pair().unwrap();
        let path = PathBuf::from(slave.name().unwrap());
        for baud in BAUD_RATES {
            let link = SerialLink::open(&path, baud).unwrap();
            let p = &link.port;
            assert_eq!(p.baud_rate().unwrap(), baud);
            assert_eq!(p.data_bits().unwrap(), DataBits::Eight);
            assert_eq!(p.parity().unwrap(), Parity::None);
            assert_eq!(p.stop_bits().unwrap(), StopBits::One);
            assert_eq!(p.flow_control().unwrap(), FlowControl::None);
        }
        for baud in [0, 12_345, 4_500_000] {
            match SerialLink::open(&path, baud) {
                Err(e) => assert!(e.to_string().contains("not a standard rate"), "{e}"),
                Ok(_) => panic!("baud {baud} accepted"),
            }
        }
    }
}
