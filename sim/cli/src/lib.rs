//! The `udplab` command-line tool as a library: everything `main` does is here and testable
//! without spawning a process. The package is `udplab-cli`; the binary it builds is `udplab`. It
//! reads scenario files with `udplab-scenario`, runs and renders them with `udplab-teach`, and
//! adds what only a command line needs: arguments, exit statuses, and the real-clock runners (TAP
//! through `udplab-host`, the ESP32 image in Wokwi).
//!
//! Modules, each using only those listed after it: [`cli`] (the arguments and what each command
//! does), [`tap`] and [`wokwi`] (the real-clock runners), [`output`] (printing a run, and the
//! options `run` and `tap` share), [`exit`] (the exit statuses).

pub mod cli;
pub mod exit;
pub mod output;
pub mod tap;
pub mod wokwi;
