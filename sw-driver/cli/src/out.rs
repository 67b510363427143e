//! Checked standard output. `println!` panics when stdout cannot be written (a full disk,
//! `>/dev/full`); these macros write through [`write`], which keeps the first error instead, and
//! [`finish`] flushes and returns it, so the command ends with a one-line error and a non-zero
//! status. A closed pipe (`| head`) still ends the process quietly through SIGPIPE.

use std::io::Write;
use std::sync::Mutex;

static FIRST_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes `args` to stdout, remembering the first failure (later writes are dropped).
pub fn write(args: std::fmt::Arguments) {
    let mut first = FIRST_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    if first.is_some() {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        *first = Some(e);
    }
}

/// Flushes stdout; the first error of any write or of the flush.
pub fn finish() -> std::io::Result<()> {
    let flushed = std::io::stdout().lock().flush();
    let mut first = FIRST_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    match first.take() {
        Some(e) => Err(e),
        None => flushed,
    }
}

/// Flushes stdout (for output that streams, such as generated text); the first error so far,
/// as a copy, so that [`finish`] still reports it.
pub fn flush() -> std::io::Result<()> {
    let mut first = FIRST_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    if first.is_none() {
        if let Err(e) = std::io::stdout().lock().flush() {
            *first = Some(e);
        }
    }
    match first.as_ref() {
        Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        None => Ok(()),
    }
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))
    };
}

/// `println!` through [`write`].
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics: messages and progress on stderr are best effort (a stderr that
/// cannot be written, `2>/dev/full`, loses them; the exit status still tells the outcome).
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = std::io::stderr().lock().write_fmt(format_args!($($arg)*));
    }};
}

/// `eprintln!` that never panics (see [`err!`]).
macro_rules! errln {
    () => {
        $crate::out::err!("\n")
    };
    ($($arg:tt)*) => {
        $crate::out::err!("{}\n", format_args!($($arg)*))
    };
}

pub(crate) use {err, errln, out, outln};

/// Parses the command line; on `--help`, `--version` or a usage error, prints what clap says
/// (help through a checked write) and returns the exit status: 0 after help, 2 for a usage
/// error or help that could not be written.
pub fn parse_args<P: clap::Parser>(prog: &str) -> Result<P, std::process::ExitCode> {
    match P::try_parse() {
        Ok(p) => Ok(p),
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            Err(std::process::ExitCode::from(2))
        }
        Err(e) => {
            let printed = e.print().and_then(|()| std::io::stdout().lock().flush());
            match printed {
                Ok(()) => Err(std::process::ExitCode::SUCCESS),
                Err(err) => {
                    errln!("{prog}: error: writing to stdout: {err}");
                    Err(std::process::ExitCode::from(2))
                }
            }
        }
    }
}
