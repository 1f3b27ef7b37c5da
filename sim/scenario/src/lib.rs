//! The scenario-file front end of udplab, a crate of its own so that everything that reads
//! scenario files uses the same parser without pulling in the rest: the `udplab` command
//! (`udplab-cli`), the teaching outputs (`udplab-teach`: the lessons guide and sweeps load files),
//! the cross-crate tests (`udplab-tests`) and the build scripts of ESP32 images (the lesson image
//! `firmware/esp32/build.rs` and your own image's), which embed scenarios with [`embed`]. It
//! needs only the scenario model (`udplab-sim`, `udplab-firmware`), `toml` and `serde_json`.
//!
//! Scenario files: TOML in, a validated [`udplab_sim::Scenario`] out.
//!
//! The format, with every key, its default and the impairment semantics, is documented in
//! `scenarios/README.md`. In short: top-level `name`, `description`, `seed`, `duration`;
//! `[[node]]` tables (clients and servers), `[[link]]` tables (one direction with `from`/`to`
//! or both with `between`, impairments, `[[link.phase]]` and `[[link.outage]]` windows) and an
//! optional `[expect]` table.
//!
//! Every value is checked: unknown keys, wrong types, out-of-range numbers, unknown node names
//! and inconsistent settings are [`ScenarioError`]s that point at the file, line and column of
//! the key or value concerned and say what was expected. Units (durations, percentages, bit
//! rates) are converted exactly, in integers. Parsing never panics.
//!
//! [`to_toml`] goes the other way: a [`udplab_sim::Scenario`] written as a scenario file that
//! [`parse`] reads back to an equal scenario.

mod convert;
pub mod embed;
mod error;
pub mod link_trace;
mod table;
mod units;
mod write;

pub use units::{duration_us, percent_ppb};

#[cfg(test)]
mod tests;

use std::path::Path;

pub use convert::{DEFAULT_REORDER_HOLD_US, MAX_NODES, MAX_SEED, default_addr};
pub use error::ScenarioError;
pub use write::to_toml;

/// Parses the scenario in `source`; `path` names it in errors and, when the file has no `name`,
/// gives the scenario its name (the file stem). Undeclared link directions are added as perfect
/// links ([`udplab_sim::Scenario::add_default_links`]).
///
/// A link's `trace = "FILE"` is read relative to the folder of `path` (see [`link_trace`]).
pub fn parse(source: &str, path: &str) -> Result<udplab_sim::Scenario, ScenarioError> {
    let (mut scenario, traces) =
        convert::scenario(source, path).map_err(|f| ScenarioError::at(path, source, f.span, f.message))?;
    let folder = Path::new(path).parent().unwrap_or(Path::new(""));
    for t in traces {
        let file = folder.join(&t.file);
        if !file.is_file() {
            let why = if file.exists() { "is not a regular file" } else { "does not exist" };
            return Err(ScenarioError::at(
                path,
                source,
                t.span,
                format!(
                    "the link trace {} {why} (a trace path is relative to the scenario file's folder; `udplab capture-import` writes traces)",
                    file.display()
                ),
            ));
        }
        scenario.links[t.link].trace = Some(link_trace::load(&file, &t.file)?);
    }
    Ok(scenario)
}

/// The largest scenario file [`load`] reads: 1 MiB. The lessons are a few KB and the biggest
/// file the format allows in spirit (4 096 nodes, or 64 with every direction given phases) is well under this;
/// the limit exists so that `/dev/zero`, an endless pipe or a huge file by mistake is an error
/// at once rather than a process that eats memory until the machine gives up.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads and parses the scenario file at `path`. A file that cannot be read, is larger than
/// [`MAX_FILE_BYTES`] or is not UTF-8 is a [`ScenarioError`] (without a line and column, except
/// for the first byte that is not UTF-8).
///
/// Everything that reads scenario files goes through here, so the size limit holds for all of
/// them. A regular file's size is checked before any byte is read; devices, pipes and FIFOs have
/// no size up front, so reading stops one byte past the limit whatever they are.
pub fn load(path: &Path) -> Result<udplab_sim::Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = read_bounded(path, MAX_FILE_BYTES).map_err(|e| match e {
        BoundedReadError::Io(e) => ScenarioError::file(&shown, format!("cannot read the scenario file: {e}")),
        BoundedReadError::TooLarge => ScenarioError::file(
            &shown,
            format!(
                "the scenario file is larger than 1 MiB (the limit is {MAX_FILE_BYTES} bytes; scenario files are a few KB): is this the right file?"
            ),
        ),
    })?;
    parse_bytes(&bytes, &shown)
}

/// Why [`read_bounded`] returned no bytes.
#[derive(Debug)]
pub enum BoundedReadError {
    Io(std::io::Error),
    /// The file holds more than the limit.
    TooLarge,
}

/// Reads the file at `path` whole if it holds at most `limit` bytes: the one way udplab reads
/// what a user points it at (scenario files, link traces, captures), so that `/dev/zero`, an
/// endless FIFO or a huge file by mistake is an error at once, not a process that eats memory.
/// A regular file is refused from its size before a byte is read; a device, pipe or FIFO has
/// no size up front, so reading stops one byte past the limit.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, BoundedReadError> {
    use std::io::Read;

    let file = std::fs::File::open(path).map_err(BoundedReadError::Io)?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > limit
    {
        return Err(BoundedReadError::TooLarge);
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(BoundedReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge);
    }
    Ok(bytes)
}

/// [`parse`] for the raw bytes of a file, as [`load`] reads them: bytes that are not UTF-8 are a
/// [`ScenarioError`] pointing at the first bad byte. Public so that the fuzzer (`fuzz/`) drives
/// exactly what `udplab run FILE` does with any bytes, not a copy of it.
pub fn parse_bytes(bytes: &[u8], path: &str) -> Result<udplab_sim::Scenario, ScenarioError> {
    let source = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let source = String::from_utf8_lossy(bytes);
        // Point at the first bad byte; the lossy text has the same prefix, so the offset holds.
        ScenarioError::at(path, &source, at..at + 1, "the scenario file is not UTF-8 text".to_owned())
    })?;
    parse(source, path)
}
