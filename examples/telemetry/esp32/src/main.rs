//! The telemetry example on the ESP32-C3: `run telemetry [SEED]` runs the example's scenario with
//! the sensor and gateway apps on the chip (the trace the host's lab binary gets for the same
//! seed); built with `--features radio`, `wifi telemetry [SEED] sensor` or
//! `ap telemetry [SEED] gateway` runs one of them over the radio with the scenario's links in the
//! radio's path.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use udplab_esp32::{Apps, Image, Label, esp_hal};

udplab_esp32::esp_bootloader_esp_idf::esp_app_desc!();

// `SCENARIOS`: ../scenarios/telemetry.toml, embedded by build.rs.
include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// The app each scenario node runs (the same constructors as the example's tests).
static APPS: Apps = &[
    ("sensor", || Box::new(telemetry::example_sensor())),
    ("gateway", || Box::new(telemetry::Gateway::new())),
];

/// `reading=7` and `ack=7` in the trace, as the example's tests and lab binary label them.
fn label(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

#[esp_hal::main]
fn main() -> ! {
    udplab_esp32::start(Image::new(SCENARIOS).apps(APPS).labeller(label))
}
