//! The `udplab` command-line tool as a library: everything `main` does is here and testable
//! without spawning a process.

pub mod cli;
pub mod tap;
pub mod wokwi;
