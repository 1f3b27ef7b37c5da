//! Standard output and standard error, treated as a careful Unix tool treats them: a run whose
//! output or messages did not reach anyone must not look like a success.
//!
//! Three things go wrong without this module:
//!
//! - `udplab run S >&-` (stdout closed): Rust's standard library silently discards writes to a
//!   closed standard stream (EBADF), so the run exited 0 with its output gone. Worse, the next
//!   file the process opens (an output's temporary file) takes descriptor 1, and anything printed
//!   afterwards lands in that file.
//! - `udplab run S 2>/dev/full`: `eprintln!` panics when the write fails (exit 101).
//! - `udplab run S 2>&-`: messages vanish like stdout's.
//!
//! So [`check_standard_streams`] runs first and remembers a stdout or stderr that was closed
//! when the process started; text for a closed or
//! failing stdout is an error ([`to_stdout`]), and a message that could not reach stderr
//! ([`say!`](crate::say)) turns the exit status into 3 ([`exit_status`]).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::EXIT_IO;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_LOST: AtomicBool = AtomicBool::new(false);

/// Finds out whether stdout and stderr were closed when the process started. Called once,
/// before anything is printed.
///
/// Rust's runtime has already put `/dev/null` on a closed standard descriptor before `main`
/// (so no file opened later takes its number), opened read-write. A user who sends output to
/// `/dev/null` on purpose (`>/dev/null`) gets it write-only; so `/dev/null` open read-write on
/// stdout or stderr means the descriptor was closed. (`1<>/dev/null` looks the same and is
/// treated as closed: nobody writes that to discard output.)
pub fn check_standard_streams() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if was_closed(std::io::stdout().as_fd()) {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        if was_closed(std::io::stderr().as_fd()) {
            STDERR_CLOSED.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(unix)]
fn was_closed(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::sys::stat::{fstat, stat};
    let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) else {
        return true;
    };
    let read_write = OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE == OFlag::O_RDWR;
    let is_null = match (fstat(fd), stat("/dev/null")) {
        (Ok(ours), Ok(null)) => ours.st_rdev == null.st_rdev && ours.st_mode == null.st_mode,
        _ => false,
    };
    read_write && is_null
}

/// Whether stdout was closed when the process started (see [`check_standard_streams`]).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes `text` to stdout and flushes it. Empty text is fine on a closed stdout (`-q` prints
/// nothing); anything else on a closed stdout is an error, as is a failed write.
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Err(stdout_closed_error());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush())
}

/// The error for text that has nowhere to go.
pub fn stdout_closed_error() -> std::io::Error {
    std::io::Error::other(
        "standard output is closed (redirect it to /dev/null to discard the output, or use -q)",
    )
}

/// Writes one line to stderr; when it cannot (closed, full, broken), remembers that a message
/// was lost so the exit status says so. Never panics. Use through [`say!`](crate::say).
pub fn to_stderr(args: fmt::Arguments<'_>) {
    if STDERR_CLOSED.load(Ordering::Relaxed) || writeln!(std::io::stderr().lock(), "{args}").is_err() {
        STDERR_LOST.store(true, Ordering::Relaxed);
    }
}

/// Records that a message for stderr was lost (a write elsewhere, such as clap's, failed).
pub fn stderr_lost() {
    STDERR_LOST.store(true, Ordering::Relaxed);
}

/// `code`, unless a message could not be written to stderr: then 3 (output failed), because
/// whoever reads the status could not read the message.
pub fn exit_status(code: ExitCode) -> ExitCode {
    if STDERR_LOST.load(Ordering::Relaxed) { ExitCode::from(EXIT_IO) } else { code }
}

/// `eprintln!` that never panics: a message that cannot be written makes the exit status 3.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::streams::to_stderr(format_args!($($arg)*))
    };
}
