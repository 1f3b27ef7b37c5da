//! `udplab run --json` written as the run goes, byte for byte what [`RunOutput::json`] gives.
//!
//! serde_json's pretty printer lays out each field of the top-level object on its own, so the
//! document is cut where the trace goes: the fields before it (scenario, seed) are printed with a
//! marker in the trace's place and cut before the marker, the fields after it (summary, verdict,
//! digest) likewise after the marker, and each record in between is pretty-printed alone and
//! indented to the depth the array puts it at. JSON strings cannot hold a raw line break, so
//! indenting after every `\n` touches nothing inside a value.

use std::io::Write;

use serde::Serialize;
use udplab_sim::report::Summary;
use udplab_sim::{Record, Scenario};

use crate::RunOutput;

/// Stands where the trace goes while the fields around it are printed.
struct Marker;

const MARK: &str = "udplab: the trace goes here";

impl Serialize for Marker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MARK)
    }
}

/// The records' array, as it is being written.
#[derive(Default)]
pub(crate) struct JsonTrace {
    records: u64,
    buf: Vec<u8>,
}

/// Everything before the trace's `[`: `{`, scenario, seed, `"trace": `.
pub(crate) fn head(scenario: &Scenario, seed: u64) -> String {
    #[derive(Serialize)]
    struct Head<'a> {
        scenario: &'a Scenario,
        seed: u64,
        trace: Marker,
    }
    let text = pretty(&Head { scenario, seed, trace: Marker });
    // The marker is the last field: its last occurrence, whatever the scenario's strings hold.
    let at = text.rfind(&quoted()).unwrap_or(text.len());
    text[..at].to_string()
}

/// Everything after the trace's `]`: summary, verdict, failures, digest, `}` and a line break.
pub(crate) fn tail(result: &RunOutput) -> String {
    #[derive(Serialize)]
    struct Tail<'a> {
        trace: Marker,
        summary: &'a Summary,
        passed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        incomplete: Option<&'a str>,
        failures: &'a [String],
        digest: String,
    }
    let text = pretty(&Tail {
        trace: Marker,
        summary: &result.summary,
        passed: result.passed(),
        incomplete: result.incomplete.as_deref(),
        failures: &result.failures,
        digest: format!("{:08x}", result.digest),
    });
    // The marker is the first field: its first occurrence.
    let quoted = quoted();
    let at = text.find(&quoted).map_or(0, |at| at + quoted.len());
    let mut s = text[at..].to_string();
    s.push('\n');
    s
}

impl JsonTrace {
    /// Writes one record as the next element of the array.
    pub(crate) fn record(&mut self, r: &Record, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(if self.records == 0 { b"[\n    " } else { b",\n    " })?;
        self.records += 1;
        self.buf.clear();
        serde_json::to_writer_pretty(&mut self.buf, r).map_err(std::io::Error::other)?;
        // Elements of an array in the top-level object sit four spaces in.
        for line in self.buf.split_inclusive(|&b| b == b'\n') {
            out.write_all(line)?;
            if line.ends_with(b"\n") {
                out.write_all(b"    ")?;
            }
        }
        Ok(())
    }

    /// Closes the array (`[]` when the run recorded nothing).
    pub(crate) fn end(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(if self.records == 0 { b"[]" } else { b"\n  ]" })
    }
}

fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("trace types serialise infallibly")
}

fn quoted() -> String {
    format!("\"{MARK}\"")
}
