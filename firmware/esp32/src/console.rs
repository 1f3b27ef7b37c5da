//! The serial console on UART0 (not USB-Serial-JTAG): line-based commands in, short flushed
//! lines out, so Wokwi automation (`write-serial` / `wait-serial`) and a person at a terminal
//! drive the board the same way.

use alloc::string::String;
use core::fmt::{self, Write};
use esp_hal::Blocking;
use esp_hal::uart::Uart;

/// Longest command line accepted, in bytes. Longer lines are discarded and reported.
pub const LINE_MAX: usize = 120;

/// A console line that could not be taken as a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    TooLong,
    NotUtf8,
    /// The UART reported a framing, parity or overflow error inside the line.
    Damaged,
}

impl LineError {
    pub fn message(self) -> &'static str {
        match self {
            LineError::TooLong => "line too long (at most 120 bytes)",
            LineError::NotUtf8 => "line is not UTF-8",
            LineError::Damaged => "line damaged on the serial link (framing, parity or overflow)",
        }
    }
}

/// One received command line (UTF-8, at most [`LINE_MAX`] bytes), owned so the console can
/// print while it is being handled.
pub struct Line {
    bytes: [u8; LINE_MAX],
    len: usize,
}

impl core::ops::Deref for Line {
    type Target = str;
    fn deref(&self) -> &str {
        // Checked when the line was taken; an empty string can never be reached.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// UART0 at 115200 baud with a bounded line buffer.
pub struct Console {
    uart: Uart<'static, Blocking>,
    line: [u8; LINE_MAX],
    len: usize,
    /// The current line cannot be used: drop bytes until its end, then report this.
    discard: Option<LineError>,
    /// A complete line is waiting in `line[..len]` (or an error for it).
    ready: Option<Result<(), LineError>>,
    /// Scratch for formatted output, reused so printing does not allocate per line.
    out: String,
}

impl Console {
    pub fn new(uart: Uart<'static, Blocking>) -> Console {
        Console { uart, line: [0; LINE_MAX], len: 0, discard: None, ready: None, out: String::new() }
    }

    /// Writes `s` and a newline, and waits until the UART has sent it, so that a long run of
    /// lines never piles up (Wokwi can drop output that arrives back to back).
    pub fn line(&mut self, s: &str) {
        self.write_all(s.as_bytes());
        self.write_all(b"\n");
        // TxError is uninhabited: flush cannot fail.
        let _ = self.uart.flush();
    }

    /// Formats one line (no newline in `args`) and writes it like [`Console::line`].
    pub fn linef(&mut self, args: fmt::Arguments<'_>) {
        let mut out = core::mem::take(&mut self.out);
        out.clear();
        let _ = out.write_fmt(args);
        self.line(&out);
        // Keep the scratch buffer small after an unusually long line.
        if out.capacity() > 512 {
            out = String::new();
        }
        self.out = out;
    }

    fn write_all(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.uart.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                // TxError has no variants in esp-hal 1.2; should one appear, drop the rest.
                Err(_) => return,
            }
        }
    }

    /// Reads whatever the UART has received, without waiting, and returns the next complete
    /// line if there is one. `\r`, `\n` and `\r\n` all end a line; empty lines are skipped.
    pub fn poll_line(&mut self) -> Option<Result<Line, LineError>> {
        if self.ready.is_none() {
            self.fill();
        }
        let state = self.ready.take()?;
        let len = core::mem::replace(&mut self.len, 0);
        Some(state.and_then(|()| {
            core::str::from_utf8(&self.line[..len]).map_err(|_| LineError::NotUtf8)?;
            Ok(Line { bytes: self.line, len })
        }))
    }

    fn fill(&mut self) {
        let mut byte = [0u8; 1];
        // One byte at a time so that bytes after a line's end stay in the FIFO (128 bytes) for
        // the next call; a command is a few bytes, so this costs nothing.
        while self.ready.is_none() {
            match self.uart.read_buffered(&mut byte) {
                Ok(1) => self.push(byte[0]),
                Ok(_) => return,
                Err(_) => {
                    self.discard = Some(LineError::Damaged);
                    self.len = 0;
                    return;
                }
            }
        }
    }

    fn push(&mut self, b: u8) {
        match b {
            b'\r' | b'\n' => {
                if let Some(e) = self.discard.take() {
                    self.ready = Some(Err(e));
                } else if self.len > 0 {
                    self.ready = Some(Ok(()));
                }
            }
            _ if self.discard.is_some() => {}
            _ if self.len == LINE_MAX => {
                self.discard = Some(LineError::TooLong);
                self.len = 0;
            }
            _ => {
                self.line[self.len] = b;
                self.len += 1;
            }
        }
    }
}

/// `console.linef(format_args!(...))` without the noise.
#[macro_export]
macro_rules! say {
    ($console:expr, $($arg:tt)*) => {
        $console.linef(format_args!($($arg)*))
    };
}
