//! Shared helpers for the integration tests: the scenario generators for proptest (the public
//! ones of `udplab::strategies`, so udplab's own properties use what its users get) and the
//! list of lesson files.

use std::path::PathBuf;

pub use udplab::strategies::*;

/// The lesson files in `scenarios/`, sorted.
pub fn lesson_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}
