//! udplab on the ESP32-C3 (and C6): a serial console that runs embedded scenarios through the
//! deterministic core on the chip (`list`, `run NAME [SEED]`, `all`), and with the `radio`
//! feature puts an app on real Wi-Fi as a station (`wifi`) or an access point (`ap`), with a
//! scenario's links in the radio's path. The radio is a feature because Espressif's Wi-Fi
//! libraries are half of any image that links them (about 700 KB with, 260 KB without;
//! README.md, "Two images"). The lesson image (`src/main.rs`) is this library with the lessons
//! and the built-in apps; your own image is this library with your scenarios and your
//! [`App`]s:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! extern crate alloc;
//!
//! use alloc::boxed::Box;
//! use udplab_esp32::{Apps, Image, esp_hal};
//!
//! udplab_esp32::esp_bootloader_esp_idf::esp_app_desc!();
//!
//! // `SCENARIOS`, written by build.rs (`udplab_scenario::embed::build_script`).
//! include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));
//!
//! /// The app each scenario node runs, by node name.
//! static APPS: Apps = &[
//!     ("sensor", || Box::new(telemetry::example_sensor())),
//!     ("gateway", || Box::new(telemetry::Gateway::new())),
//! ];
//!
//! #[esp_hal::main]
//! fn main() -> ! {
//!     udplab_esp32::start(Image::new(SCENARIOS).apps(APPS))
//! }
//! ```
//!
//! Board-specific code is [`start`] (chip setup, heap, the UART, and with the radio esp-rtos)
//! and the Wi-Fi modules; everything the scenarios run is the same `no_std` code the host runs
//! (`udplab_sim::Sim` and `udplab_sim::serial`).
#![no_std]

extern crate alloc;

#[cfg(feature = "radio")]
mod ap;
mod board;
mod clock;
mod console;
#[cfg(feature = "radio")]
mod netapp;
#[cfg(feature = "radio")]
mod radio;
#[cfg(feature = "radio")]
mod radio_device;
mod scenario_mode;
mod shell;
#[cfg(feature = "radio")]
mod wifi;

#[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
compile_error!("choose a chip: --features esp32c3 (the default) or --no-default-features --features esp32c6");
#[cfg(all(feature = "esp32c3", feature = "esp32c6"))]
compile_error!("choose one chip: esp32c3 and esp32c6 are both enabled");

// The panic handler (prints `PANIC` and a backtrace on UART0), linked into every image.
use esp_backtrace as _;

use alloc::boxed::Box;

pub use board::start;
pub use udplab_firmware::App;
pub use udplab_sim::{Label, Labeller};

/// The crates an image's `main.rs` needs for its entry point and app descriptor, so that
/// `#[esp_hal::main]` and `esp_app_desc!()` work with only this crate as a dependency.
pub use {esp_bootloader_esp_idf, esp_hal};

/// Builds a fresh app for a scenario node (a plain function or a closure that captures nothing).
pub type AppFactory = fn() -> Box<dyn App>;

/// Your apps, by the name of the scenario node each one plays. A name that a scenario does not
/// have is ignored for that scenario, so one table serves every embedded scenario.
pub type Apps = &'static [(&'static str, AppFactory)];

/// The embedded scenarios: (name, JSON), the `SCENARIOS` table that
/// `udplab_scenario::embed` writes into `OUT_DIR/scenarios.rs`.
pub type Scenarios = &'static [(&'static str, &'static [u8])];

/// What an image runs: its scenarios, its apps and its network settings. Build it with
/// [`Image::new`] and the methods after it; hand it to [`start`].
#[derive(Clone, Copy)]
pub struct Image {
    pub(crate) scenarios: Scenarios,
    pub(crate) apps: Apps,
    pub(crate) labeller: Option<Labeller>,
    /// Read by the network modes only.
    #[cfg_attr(not(feature = "radio"), allow(dead_code))]
    pub(crate) settings: Settings,
}

impl Image {
    /// An image with these scenarios, no apps of its own (every node runs the built-in app its
    /// role describes), and the settings the `UDPLAB_*` variables gave at build time.
    pub const fn new(scenarios: Scenarios) -> Image {
        Image { scenarios, apps: &[], labeller: None, settings: Settings::BUILD }
    }

    /// The apps for the scenarios' nodes: required for `role = "code"` nodes, and they replace
    /// the built-in app of any other node they name.
    pub const fn apps(self, apps: Apps) -> Image {
        Image { apps, ..self }
    }

    /// Names your protocol's datagrams in the trace lines (`reading=7` instead of ports and a
    /// digest). Use the labeller your host-side tests and lab binary use, or the chip's trace
    /// lines will not match the host's.
    pub const fn labeller(self, labeller: Labeller) -> Image {
        Image { labeller: Some(labeller), ..self }
    }

    /// Network settings other than the build-time ones.
    pub const fn settings(self, settings: Settings) -> Image {
        Image { settings, ..self }
    }

    /// The app this image has for node `node`, if any.
    #[cfg(feature = "radio")]
    pub(crate) fn app_for(&self, node: &str) -> Option<AppFactory> {
        self.apps.iter().find(|(n, _)| *n == node).map(|(_, make)| *make)
    }
}

/// Network settings: which Wi-Fi the station joins, the access point it opens, and the built-in
/// app the board runs when it plays no node of yours (an echo server, or a client towards
/// `peer`). [`Settings::BUILD`] holds what the `UDPLAB_*` environment variables said when this
/// crate was built (README.md, "Build-time settings"); change fields in code with
/// `Settings { wifi_ssid: "lab", ..Settings::BUILD }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Network station mode joins (at most 32 bytes).
    pub wifi_ssid: &'static str,
    /// Empty: open network; else WPA2-Personal (8 to 64 bytes).
    pub wifi_password: &'static str,
    /// Channel to join on; 0 scans every channel.
    pub wifi_channel: u8,
    /// Network access-point mode opens (open, no password).
    pub ap_ssid: &'static str,
    pub ap_channel: u8,
    /// The built-in echo server's UDP port.
    pub port: u16,
    /// Station mode: the built-in app is a client sending to this `(IPv4, port)` instead.
    pub peer: Option<([u8; 4], u16)>,
    /// Built-in client: messages to send, time between them, datagram size.
    pub count: u32,
    pub interval_ms: u64,
    pub size: usize,
    /// Built-in apps in reliable mode (selective-repeat ARQ).
    pub reliable: bool,
    /// Station mode: how long joining the network may take in all (attempts and the pauses
    /// between them), at the start and again after the network is lost. Then the board prints
    /// why it gave up and the console takes commands again. This and the two below: seconds,
    /// 1 to 3600 (a value set in code is clamped into that range).
    pub join_timeout_s: u32,
    /// Station mode: how long the DHCP server may take to give an address once joined (and
    /// again after a rejoin or a lost lease).
    pub dhcp_timeout_s: u32,
    /// Both modes: how long the radio driver may take to start, and access-point mode the
    /// network to come up. The driver starts with interrupts masked, so a start that hangs is
    /// ended by a watchdog reset, reported after the next banner.
    pub radio_timeout_s: u32,
}

mod settings {
    use super::Settings;
    // `BUILD`, generated by build.rs from the UDPLAB_* environment variables.
    include!(concat!(env!("OUT_DIR"), "/settings.rs"));
}

/// A timeout setting as the board uses it: 1 to 3600 s. build.rs checks the `UDPLAB_*_TIMEOUT_S`
/// variables; a value set in code is clamped here (0 would give up before trying, and would
/// make the radio watchdog reset the chip at once).
#[cfg(feature = "radio")]
pub(crate) fn timeout_s(s: u32) -> u32 {
    s.clamp(1, 3600)
}

impl Settings {
    /// The settings the `UDPLAB_*` environment variables gave when this crate was built (their
    /// defaults: Wokwi-GUEST on channel 6, access point `udplab` on channel 1, echo server on
    /// port 3333; 20 s to join, 15 s for DHCP, 10 s for the radio to start).
    pub const BUILD: Settings = settings::BUILD;
}
