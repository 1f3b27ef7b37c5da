//! The lesson image: udplab on the ESP32-C3 (and C6) with every lesson in `scenarios/*.toml`
//! and the built-in apps (README.md). All of it is the `udplab_esp32` library; this file is what
//! an image of your own looks like, minus your apps.
#![no_std]
#![no_main]

use udplab_esp32::{Image, esp_hal};

udplab_esp32::esp_bootloader_esp_idf::esp_app_desc!();

// `SCENARIOS`: the lessons (and `$UDPLAB_EXTRA_SCENARIO`), written by build.rs.
include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

#[esp_hal::main]
fn main() -> ! {
    udplab_esp32::start(Image::new(SCENARIOS))
}
