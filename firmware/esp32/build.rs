//! Runs on the host before the firmware is compiled:
//!
//! 1. embeds the lessons, every `scenarios/*.toml` (and `$UDPLAB_EXTRA_SCENARIO`, if set), for
//!    the lesson image: `udplab_scenario::embed` parses each with the project's own parser and
//!    writes the JSON and the table `scenarios.rs` into `$OUT_DIR` (the lesson binary includes
//!    it; the library does not, so your own image embeds only your scenarios, with the same
//!    helper in your build.rs);
//! 2. reads the build-time settings (`UDPLAB_WIFI_SSID`, `UDPLAB_PEER`, ...), checks them, and
//!    writes `settings.rs`, the library's `Settings::BUILD` (what `Image::new` starts from, in
//!    the lesson image and in yours), so a bad value fails the build instead of the board.
//!
//! Errors print the parser's message (file:line:column) and stop the build.

use std::env;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::exit;

use udplab_scenario::embed;

/// Every environment variable this script reads.
const ENV_VARS: &[&str] = &[
    "UDPLAB_EXTRA_SCENARIO",
    "UDPLAB_WIFI_SSID",
    "UDPLAB_WIFI_PASSWORD",
    "UDPLAB_WIFI_CHANNEL",
    "UDPLAB_AP_SSID",
    "UDPLAB_AP_CHANNEL",
    "UDPLAB_PORT",
    "UDPLAB_PEER",
    "UDPLAB_COUNT",
    "UDPLAB_INTERVAL_MS",
    "UDPLAB_SIZE",
    "UDPLAB_RELIABLE",
    "UDPLAB_JOIN_TIMEOUT_S",
    "UDPLAB_DHCP_TIMEOUT_S",
    "UDPLAB_RADIO_TIMEOUT_S",
];

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("udplab-esp32 build: {msg}");
    exit(1)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ENV_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| fail("CARGO_MANIFEST_DIR unset")));
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR unset")));
    embed_scenarios(&manifest, &out);
    write_settings(&out);
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    match env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        Ok(_) | Err(env::VarError::NotPresent) => None,
        Err(env::VarError::NotUnicode(_)) => fail(format_args!("{name} is not valid UTF-8")),
    }
}

fn embed_scenarios(manifest: &Path, out: &Path) {
    let dir = manifest.join("../../scenarios");
    // A directory: cargo rescans it, so added, removed and edited files all trigger a rebuild.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = embed::toml_files(&dir).unwrap_or_else(|e| fail(e));
    if let Some(extra) = var("UDPLAB_EXTRA_SCENARIO") {
        // Relative paths are taken from this crate's folder (where cargo runs build scripts).
        let path = manifest.join(&extra);
        if !path.is_file() {
            fail(format_args!("UDPLAB_EXTRA_SCENARIO={extra}: no such file ({})", path.display()));
        }
        // Last in the list: it takes the place of a lesson of the same name (`embed` says so).
        files.push(path);
    }
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    if let Err(e) = embed::embed(&files, out) {
        fail(format_args!("\n{e}"));
    }
}

fn number<T: std::str::FromStr>(name: &str, default: T, ok: impl Fn(&T) -> bool, what: &str) -> T {
    match var(name) {
        None => default,
        Some(v) => match v.parse::<T>() {
            Ok(n) if ok(&n) => n,
            _ => fail(format_args!("{name}={v}: expected {what}")),
        },
    }
}

fn write_settings(out: &Path) {
    let ssid = var("UDPLAB_WIFI_SSID").unwrap_or_else(|| "Wokwi-GUEST".to_owned());
    let password = var("UDPLAB_WIFI_PASSWORD").unwrap_or_default();
    if ssid.len() > 32 {
        fail("UDPLAB_WIFI_SSID: at most 32 bytes");
    }
    if !password.is_empty() && !(8..=64).contains(&password.len()) {
        fail("UDPLAB_WIFI_PASSWORD: WPA2 needs 8 to 64 bytes (leave it empty for an open network)");
    }
    // Wokwi-GUEST is on channel 6; telling the driver saves the scan. 0 = scan every channel.
    let default_channel = if ssid == "Wokwi-GUEST" { 6 } else { 0 };
    let channel: u8 =
        number("UDPLAB_WIFI_CHANNEL", default_channel, |c| *c <= 13, "a channel 0..=13 (0: scan)");
    let ap_ssid = var("UDPLAB_AP_SSID").unwrap_or_else(|| "udplab".to_owned());
    if ap_ssid.len() > 32 {
        fail("UDPLAB_AP_SSID: at most 32 bytes");
    }
    let ap_channel: u8 = number("UDPLAB_AP_CHANNEL", 1, |c| (1..=13).contains(c), "a channel 1..=13");
    let port: u16 = number("UDPLAB_PORT", 3333, |p| *p != 0, "a UDP port 1..=65535");
    let peer = var("UDPLAB_PEER").map(|v| match v.parse::<SocketAddrV4>() {
        Ok(a) if a.port() != 0 => (a.ip().octets(), a.port()),
        _ => fail(format_args!("UDPLAB_PEER={v}: expected IPV4:PORT, e.g. 203.0.113.7:3333")),
    });
    let count: u32 = number("UDPLAB_COUNT", 10, |c| *c > 0, "a message count above 0");
    let interval_ms: u64 = number("UDPLAB_INTERVAL_MS", 1000, |i| *i > 0, "milliseconds above 0");
    // The Wi-Fi driver's frames hold 1492 bytes with the 14-byte Ethernet header: 1450 of UDP payload.
    let size: usize =
        number("UDPLAB_SIZE", 64, |s| (28..=1450).contains(s), "a datagram size 28..=1450 bytes");
    let reliable = match var("UDPLAB_RELIABLE").as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(v) => fail(format_args!("UDPLAB_RELIABLE={v}: expected 0 or 1")),
    };
    // Bounded waits on the chip (README.md, "Serial protocol"): at least a second, at most an hour.
    let seconds = |s: &u32| (1..=3600).contains(s);
    let what = "seconds 1..=3600";
    let join_timeout_s: u32 = number("UDPLAB_JOIN_TIMEOUT_S", 20, seconds, what);
    let dhcp_timeout_s: u32 = number("UDPLAB_DHCP_TIMEOUT_S", 15, seconds, what);
    let radio_timeout_s: u32 = number("UDPLAB_RADIO_TIMEOUT_S", 10, seconds, what);
    let peer = match peer {
        None => "None".to_owned(),
        Some(([a, b, c, d], p)) => format!("Some(([{a}, {b}, {c}, {d}], {p}))"),
    };
    let s = format!(
        "// Generated by build.rs from the UDPLAB_* environment variables.\n\
         /// The settings the `UDPLAB_*` environment variables gave when this crate was built.\n\
         pub const BUILD: Settings = Settings {{\n\
         \x20   wifi_ssid: {ssid:?},\n\
         \x20   wifi_password: {password:?},\n\
         \x20   wifi_channel: {channel},\n\
         \x20   ap_ssid: {ap_ssid:?},\n\
         \x20   ap_channel: {ap_channel},\n\
         \x20   port: {port},\n\
         \x20   peer: {peer},\n\
         \x20   count: {count},\n\
         \x20   interval_ms: {interval_ms},\n\
         \x20   size: {size},\n\
         \x20   reliable: {reliable},\n\
         \x20   join_timeout_s: {join_timeout_s},\n\
         \x20   dhcp_timeout_s: {dhcp_timeout_s},\n\
         \x20   radio_timeout_s: {radio_timeout_s},\n\
         }};\n"
    );
    write(&out.join("settings.rs"), s.as_bytes());
}

/// Writes only when the contents change, so unchanged settings do not recompile the crate.
fn write(path: &Path, contents: &[u8]) {
    embed::write_if_changed(path, contents).unwrap_or_else(|e| fail(e));
}
