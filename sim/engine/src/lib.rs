//! udplab's deterministic core: the impairment engine, the virtual-time network, the trace and
//! the report. `no_std` + `alloc`, so the same code runs on the host and on the ESP32, and the
//! same scenario + seed gives the same trace everywhere.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod device;
mod due;
pub mod estimate;
pub mod impaired;
pub mod link;
pub mod link_index;
pub mod net;
pub mod outcome;
pub mod pair;
pub mod repeats;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod seqset;
pub mod serial;
pub mod sim;
pub mod trace;
mod wakes;

pub use net::{StartError, run};
pub use outcome::{Flow, Outcome, Violation};
pub use scenario::Scenario;
pub use sim::{Sim, SimError};
pub use trace::{Event, Record, Trace};
pub use trace::{Label, Labeller};
