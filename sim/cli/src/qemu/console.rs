//! Driving the board's console through QEMU: the emulated UART is QEMU's own stdin and stdout
//! (`-serial stdio`, both pipes), the command is typed once the banner appears, and QEMU is
//! killed as soon as the scenario's block has ended, the firmware panicked or refused the
//! command, or the wall-clock limit passed, and in any case before [`run`] returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::chip::{BANNER, serial_log};

/// How long a panicking firmware is given to print its backtrace into the log.
const PANIC_GRACE: Duration = Duration::from_secs(1);
/// How much of QEMU's stderr is kept for the report (its end).
const STDERR_KEPT: usize = 2000;
/// A longer serial line is cut into pieces of this size.
const LINE_MAX: u64 = 64 * 1024;
/// The session stops when the serial port has printed this much (the lessons print well under
/// a megabyte).
pub const LOG_MAX: usize = 64 * 1024 * 1024;

/// What to run and what to type.
pub struct Plan<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    /// Typed (with a newline) once a line contains the banner.
    pub command: &'a str,
    /// The line that opens the block the command asks for (`@@ begin NAME seed=SEED`).
    pub begin: &'a str,
    /// The start of the line that closes it (`@@ end NAME `).
    pub end: &'a str,
    /// QEMU is killed after this.
    pub wall: Duration,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The end line of the block asked for arrived (a block for another seed, such as the
    /// board's own `all` when the command came late, does not count).
    Finished,
    /// The firmware printed a panic.
    Panicked,
    /// The console answered the command with an `error: ...` line (quoted).
    Refused(String),
    /// QEMU closed its output and exited (its exit code; None: killed by a signal).
    Exited(Option<i32>),
    /// The wall-clock limit passed.
    Killed,
    /// The serial port printed more than [`LOG_MAX`] bytes without finishing the block.
    Flooded,
}

/// Everything the serial port printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Session {
    pub log: String,
    pub ending: Ending,
    /// Whether the banner appeared (and so the command was typed).
    pub banner: bool,
    /// The end of QEMU's stderr.
    pub stderr: String,
}

/// Kills and reaps QEMU however the session ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts QEMU, types the command at the banner and collects the serial output until the
/// session ends; every line is also handed to `tee` as it arrives (the `--serial-log` file).
pub fn run(plan: &Plan<'_>, tee: &mut dyn FnMut(&str)) -> Result<Session, String> {
    let child = Command::new(plan.program)
        .args(plan.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", plan.program.display()))?;
    let mut qemu = Reaper(child);
    let mut stdin = qemu.0.stdin.take();
    let stdout = qemu.0.stdout.take().ok_or("QEMU's stdout was not captured")?;
    let stderr = qemu.0.stderr.take().ok_or("QEMU's stderr was not captured")?;

    let (lines_tx, lines) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match (&mut out).take(LINE_MAX).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if lines_tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = BufReader::new(stderr).read_to_end(&mut all);
        let _ = err_tx.send(all);
    });

    let mut deadline = Instant::now() + plan.wall;
    let mut log = String::new();
    let mut banner = false;
    let mut begun = false;
    let mut ending = None;
    while ending.is_none() {
        let now = Instant::now();
        let line = match lines.recv_timeout(deadline.saturating_duration_since(now)) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => {
                ending = Some(Ending::Exited(wait_exit(&mut qemu.0, deadline)));
                break;
            }
        };
        tee(&line);
        log.push_str(&line);
        if !line.ends_with('\n') {
            log.push('\n');
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if !banner && text.contains(BANNER) {
            banner = true;
            if let Some(input) = stdin.as_mut() {
                // A QEMU that died meanwhile shows up as the end of its output.
                let _ =
                    input.write_all(format!("{}\n", plan.command).as_bytes()).and_then(|()| input.flush());
            }
        } else if text == plan.begin {
            begun = true;
        } else if begun && text.starts_with(plan.end) {
            ending = Some(Ending::Finished);
        } else if banner && !begun && text.starts_with("error: ") {
            ending = Some(Ending::Refused(text.to_string()));
        }
        if ending.is_none() && log.len() > LOG_MAX {
            ending = Some(Ending::Flooded);
        }
        if serial_log::panic_line(text).is_some() && deadline > now + PANIC_GRACE {
            // Keep reading the backtrace for a moment; the run has failed whatever follows.
            deadline = now + PANIC_GRACE;
        }
    }
    let ending = if log.lines().any(|l| serial_log::panic_line(l).is_some()) {
        Ending::Panicked
    } else {
        ending.unwrap_or(Ending::Killed)
    };
    drop(stdin);
    drop(qemu);
    let stderr = err_rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = tail(stderr.trim_end(), STDERR_KEPT).to_string();
    Ok(Session { log, ending, banner, stderr })
}

/// Waits until `deadline` for a QEMU that closed its output to exit; None when it did not
/// (it is killed with the session) or was killed by a signal.
fn wait_exit(child: &mut Child, deadline: Instant) -> Option<i32> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// The last `max` bytes of `s` (whole characters).
pub fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_whole_characters() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }
}
