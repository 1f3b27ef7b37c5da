//! The scenario-mode serial protocol: how a runner without a file system (the ESP32) hands a
//! trace to the host, line by line, so the host can check it is whole and compare it with its
//! own run byte for byte.
//!
//! ```text
//! @@ begin NAME seed=SEED
//! <every trace line, exactly as trace::Lines renders it>
//! @@ end NAME events=COUNT digest=XXXXXXXX
//! ```
//!
//! `COUNT` is the number of trace lines and `digest` the CRC-32 of those lines, each followed
//! by a newline (the same digest `udplab run` prints), so a dropped, truncated or garbled line
//! is detected without trusting the transport.

use alloc::string::String;
use core::fmt::Write;

use crate::scenario::Scenario;
use crate::trace::{Digest, Lines, Record};

/// Marker that opens a block.
pub const BEGIN: &str = "@@ begin ";
/// Marker that closes a block.
pub const END: &str = "@@ end ";

/// Renders the block for one run, handing each line (without newline) to `emit`.
pub fn emit_block(name: &str, seed: u64, scenario: &Scenario, trace: &[Record], emit: &mut dyn FnMut(&str)) {
    let mut line = String::new();
    let _ = write!(line, "{BEGIN}{name} seed={seed}");
    emit(&line);
    let lines = Lines::new(scenario);
    let mut digest = Digest::new();
    for r in trace {
        line.clear();
        let _ = lines.write(&mut line, r);
        digest.line(&line);
        emit(&line);
    }
    line.clear();
    let _ = write!(line, "{END}{name} events={} digest={:08x}", trace.len(), digest.finish());
    emit(&line);
}
