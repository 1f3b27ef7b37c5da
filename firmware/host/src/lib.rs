//! The udplab firmware on the host: the same app over smoltcp on a TAP device, with the
//! scenario's links in the device path and the other nodes as kernel sockets.
//!
//! Everything runs inside a network namespace created for the run with `unshare(CLONE_NEWNET)`
//! on the calling thread. Nothing can leave it (it has no route out), and it disappears with the
//! thread, TAP included, on every exit path: return, error, panic, Ctrl-C or `kill -9`. There is
//! nothing to clean up and nothing to leak.

pub mod kernel;
pub mod kernel_view;
pub mod netns;
pub mod program;
pub mod run;
pub mod tap;

pub use run::{Hooks, HostError, Ready, Stop, TapOptions, TapRun, run_tap, run_tap_apps};
