//! The telemetry protocol's lab: every `udplab` command, with the sensor and the gateway of
//! the `telemetry` crate on the scenario's `code` nodes. A package of its own, so the protocol
//! crate depends on the app trait alone: its tests use the `udplab` library, not the CLI.
//!
//! ```sh
//! cargo run -p telemetry-lab -- run examples/telemetry/scenarios/telemetry.toml --ladder
//! cargo run -p telemetry-lab -- sweep examples/telemetry/scenarios/telemetry.toml --vary loss=0..0.4:0.1
//! sudo target/debug/telemetry-lab tap examples/telemetry/scenarios/telemetry.toml --firmware sensor
//! ```

use std::process::ExitCode;

use telemetry::{Gateway, example_sensor};
use udplab_cli::{Lab, Label};

/// `reading=7` and `ack=7` in timelines, ladders, reports and captures.
fn label(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

/// The sensor of `../scenarios/telemetry.toml` ([`example_sensor`]: 30 readings to the gateway at
/// 10.0.0.1:4210, one every 100 ms, each retransmitted every 50 ms, at most 6 transmissions)
/// and the gateway that stores each reading once.
fn main() -> ExitCode {
    Lab::new().app("sensor", example_sensor).app("gateway", Gateway::new).labeller(label).main()
}
