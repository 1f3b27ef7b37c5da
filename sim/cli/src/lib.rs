//! The `udplab` command-line tool as a library: everything `main` does is here and testable
//! without spawning a process.

pub mod cli;
pub mod run;
pub mod tap;
pub mod teach;
pub mod wokwi;

pub use run::{RunOutput, run_scenario};
