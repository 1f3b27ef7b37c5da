//! The telemetry protocol's lab: every `udplab` command, with the sensor and the gateway of
//! `src/lib.rs` on the scenario's `code` nodes.
//!
//! ```sh
//! cargo run -p telemetry --bin telemetry-lab -- run examples/telemetry/scenarios/telemetry.toml --ladder
//! cargo run -p telemetry --bin telemetry-lab -- sweep examples/telemetry/scenarios/telemetry.toml --vary loss=0..0.4:0.1
//! sudo target/debug/telemetry-lab tap examples/telemetry/scenarios/telemetry.toml --firmware sensor
//! ```

use std::process::ExitCode;

use telemetry::{Gateway, example_sensor};
use udplab_cli::{Lab, Label};

/// `reading=7` and `ack=7` in timelines, ladders, reports and captures.
fn label(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

/// The sensor of `scenarios/telemetry.toml` ([`example_sensor`]: 30 readings to the gateway at
/// 10.0.0.1:4210, one every 100 ms, each retransmitted every 50 ms, at most 6 transmissions)
/// and the gateway that stores each reading once.
fn main() -> ExitCode {
    Lab::new().app("sensor", example_sensor).app("gateway", Gateway::new).labeller(label).main()
}
