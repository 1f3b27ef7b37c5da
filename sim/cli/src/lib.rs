//! The `udplab` command-line tool as a library: everything `main` does is here and testable
//! without spawning a process. The package is `udplab-cli`; the binary it builds is `udplab`. It
//! reads scenario files with `udplab-scenario`, runs and renders them with `udplab-teach`, and
//! adds what only a command line needs: arguments, exit statuses, and the real-clock runners (TAP
//! through `udplab-host`, the ESP32 image in Wokwi and in QEMU).
//!
//! [`Lab`] is the whole command: the plain `udplab` binary is `Lab::new().main()`, and a
//! firmware developer's lab binary attaches their own apps to a scenario's nodes with
//! [`Lab::app`] and gets every command (`run` and its outputs, `tap`, `wokwi`, `qemu`, `sweep`)
//! for them.
//!
//! Modules, each using only those listed after it: [`lab`] (the [`Lab`]), [`cli`] (the arguments
//! and what each command does), [`tap`], [`wokwi`] and [`qemu`] (the real-clock runners),
//! [`chip`] (what the two ESP32 runners share: the console command, the image build, the
//! serial-log verdict), [`output`] (printing a run, and the options `run` and `tap` share),
//! [`streams`] (stdout and stderr that never panic and never hide a failure), [`exit`] (the exit
//! statuses).

pub mod capture_import;
pub mod chip;
pub mod cli;
pub mod exit;
pub mod lab;
pub mod output;
pub mod qemu;
pub mod streams;
pub mod tap;
pub mod wokwi;

pub use lab::{AppFactory, Lab};
/// What a lab binary names its datagrams with ([`Lab::labeller`]).
pub use udplab_sim::{Label, Labeller};
