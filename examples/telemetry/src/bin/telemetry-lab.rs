//! The telemetry protocol's lab: every `udplab` command, with the sensor and the gateway of
//! `src/lib.rs` on the scenario's `code` nodes.
//!
//! ```sh
//! cargo run -p telemetry --bin telemetry-lab -- run examples/telemetry/scenarios/telemetry.toml --ladder
//! cargo run -p telemetry --bin telemetry-lab -- sweep examples/telemetry/scenarios/telemetry.toml --vary loss=0..0.4:0.1
//! sudo target/debug/telemetry-lab tap examples/telemetry/scenarios/telemetry.toml --firmware sensor
//! ```

use std::process::ExitCode;

use telemetry::{GATEWAY_PORT, Gateway, Sensor, SensorConfig};
use udplab_cli::{Lab, Label};
use udplab_firmware::Endpoint;

/// The sensor of `scenarios/telemetry.toml`: 30 readings to the gateway at 10.0.0.1, one every
/// 100 ms, each retransmitted every 50 ms, at most 6 transmissions.
fn sensor() -> Sensor {
    Sensor::new(SensorConfig {
        gateway: Endpoint { addr: [10, 0, 0, 1], port: GATEWAY_PORT },
        readings: 30,
        period_us: 100_000,
        retry_us: 50_000,
        max_attempts: 6,
    })
}

/// `reading=7` and `ack=7` in timelines, ladders, reports and captures.
fn label(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

fn main() -> ExitCode {
    Lab::new().app("sensor", sensor).app("gateway", Gateway::new).labeller(label).main()
}
