//! The bodies of udplab's fuzz targets, one function per target, taking the fuzzer's bytes.
//!
//! They live here, in an ordinary workspace crate, rather than in the cargo-fuzz crate
//! (`fuzz/`, nightly only, outside the workspace) so that stable `cargo test` runs them too:
//! `tests/replay.rs` feeds them every committed crash input (`fuzz/regressions/<target>/`) and
//! every seed (`fuzz/seeds/<target>/`, and the lessons for `scenario`). A crash the fuzzer
//! finds once is a regression test from then on. Each body panics exactly when it found a bug:
//! a panic in the code under test, or a property below that does not hold.

pub mod app_receive;
pub mod capture;
pub mod scenario;
pub mod wire;

/// A target's body: the fuzzer's bytes in; a panic is a bug found.
pub type Body = fn(&[u8]);

/// Every target: its name (the fuzz target, and the folder under `fuzz/regressions/` and
/// `fuzz/seeds/`) and its body.
pub const TARGETS: [(&str, Body); 4] = [
    ("scenario", scenario::run),
    ("wire", wire::run),
    ("app_receive", app_receive::run),
    ("capture", capture::run),
];
