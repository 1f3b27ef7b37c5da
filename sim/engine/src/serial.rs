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
//! by a newline, so a dropped, truncated or garbled line is detected without trusting the
//! transport. (It checks the text; `udplab run`'s trace digest is over the records, which a
//! serial line does not carry.)

use alloc::string::String;
use core::fmt::Write;

use crate::net::StartError;
use crate::scenario::Scenario;
use crate::trace::{Digest, Lines, Record};

/// Marker that opens a block.
pub const BEGIN: &str = "@@ begin ";
/// Marker that closes a block.
pub const END: &str = "@@ end ";

/// Renders the block for a finished run, handing each line (without newline) to `emit`.
pub fn emit_block(name: &str, seed: u64, scenario: &Scenario, trace: &[Record], emit: &mut dyn FnMut(&str)) {
    let mut block = Block::begin(name, seed, scenario, emit);
    for r in trace {
        block.record(r, emit);
    }
    block.end(emit);
}

/// Runs `scenario` and prints its block as the run goes, never holding the trace: what the
/// ESP32 does, so a long scenario is limited by the console's patience, not by the heap.
pub fn run_and_emit(
    name: &str,
    seed: u64,
    scenario: &Scenario,
    emit: &mut dyn FnMut(&str),
) -> Result<usize, StartError> {
    let net = crate::net::Network::new(scenario, seed, crate::net::builtin_apps(scenario)?)?;
    Ok(emit_network(name, seed, net, emit))
}

/// Runs a network built by the caller (for example with a user's apps attached, see
/// [`crate::Sim::network`]) and prints its block as the run goes.
pub fn emit_network(
    name: &str,
    seed: u64,
    net: crate::net::Network<'_>,
    emit: &mut dyn FnMut(&str),
) -> usize {
    let scenario = net.scenario();
    let mut block = Block::begin(name, seed, scenario, emit);
    let count = net.run_streaming(&mut |r| block.record(r, emit));
    block.end(emit);
    count
}

/// A block being written.
struct Block<'a> {
    name: &'a str,
    lines: Lines<'a>,
    digest: Digest,
    count: usize,
    line: String,
}

impl<'a> Block<'a> {
    fn begin(name: &'a str, seed: u64, scenario: &'a Scenario, emit: &mut dyn FnMut(&str)) -> Block<'a> {
        let mut line = String::new();
        let _ = write!(line, "{BEGIN}{name} seed={seed}");
        emit(&line);
        Block { name, lines: Lines::new(scenario), digest: Digest::new(), count: 0, line }
    }

    fn record(&mut self, r: &Record, emit: &mut dyn FnMut(&str)) {
        self.line.clear();
        let _ = self.lines.write(&mut self.line, r);
        self.digest.line(&self.line);
        self.count += 1;
        emit(&self.line);
    }

    fn end(mut self, emit: &mut dyn FnMut(&str)) {
        self.line.clear();
        let _ =
            write!(self.line, "{END}{} events={} digest={:08x}", self.name, self.count, self.digest.finish());
        emit(&self.line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn the_streaming_block_equals_the_block_of_the_whole_trace() {
        let s = crate::net::tests::echo(300_000_000, true);
        let trace = crate::run(&s, 9).unwrap();
        let mut whole = Vec::new();
        emit_block("x", 9, &s, &trace, &mut |l| whole.push(String::from(l)));
        let mut streamed = Vec::new();
        let n = run_and_emit("x", 9, &s, &mut |l| streamed.push(String::from(l))).unwrap();
        assert_eq!(n, trace.len());
        assert_eq!(whole, streamed);
        assert!(whole.len() > 10);
        let rendered = Lines::new(&s).render(&trace);
        let digest = udplab_firmware::crc32::checksum(rendered.as_bytes());
        assert!(whole.last().unwrap().ends_with(&alloc::format!("digest={digest:08x}")));
    }
}
