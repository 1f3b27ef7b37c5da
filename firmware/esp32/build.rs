//! Runs on the host before the firmware is compiled:
//!
//! 1. parses every `scenarios/*.toml` (and `$UDPLAB_EXTRA_SCENARIO`, if set) with the project's
//!    own parser, serialises each (compact JSON) into `$OUT_DIR`, and writes `scenarios.rs`, the
//!    table the image embeds with `include_bytes!`;
//!
//! Why JSON and not postcard: the model's enums are internally tagged (`Role` has
//! `#[serde(tag = "role")]`, `Loss` `#[serde(tag = "model")]`, so `udplab run --json` reads
//! well), and internally tagged enums need a self-describing format to deserialise; postcard
//! answers "This is a feature that PostCard will never implement". serde_json runs in
//! `no_std` + `alloc` on the chip, and a scenario is about a kilobyte of it.
//! 2. reads the build-time settings (`UDPLAB_WIFI_SSID`, `UDPLAB_PEER`, ...), checks them, and
//!    writes `settings.rs`, so a bad value fails the build instead of the board.
//!
//! Errors print the parser's message (file:line:column) and stop the build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::exit;

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
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect(),
        Err(e) => fail(format_args!("cannot read {}: {e}", dir.display())),
    };
    files.sort();
    let mut entries: Vec<(String, PathBuf)> = files.into_iter().map(|p| (stem(&p), p)).collect();
    if let Some(extra) = var("UDPLAB_EXTRA_SCENARIO") {
        // Relative paths are taken from this crate's folder (where cargo runs build scripts).
        let path = manifest.join(&extra);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            fail(format_args!("UDPLAB_EXTRA_SCENARIO={extra}: no such file ({})", path.display()));
        }
        let name = stem(&path);
        // The file the host asked for wins over a lesson of the same name.
        match entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = path,
            None => entries.push((name, path)),
        }
    }

    let mut table =
        String::from("/// Every scenario built into the image: (name, JSON bytes), in `list` order.\n");
    table.push_str("pub static SCENARIOS: &[(&str, &[u8])] = &[\n");
    for (i, (name, path)) in entries.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", path.display());
        let scenario = udplab_scenario::load(path).unwrap_or_else(|e| fail(format_args!("\n{e}")));
        let bytes = serde_json::to_vec(&scenario)
            .unwrap_or_else(|e| fail(format_args!("{}: cannot serialise: {e}", path.display())));
        // Round-trip now, on the host, so a model the chip cannot decode fails the build.
        match serde_json::from_slice::<udplab_sim::Scenario>(&bytes) {
            Ok(back) if back == scenario => {}
            Ok(_) => fail(format_args!("{}: the serialised scenario reads back different", path.display())),
            Err(e) => {
                fail(format_args!("{}: the serialised scenario does not read back: {e}", path.display()))
            }
        }
        let file = out.join(format!("scenario-{i}.json"));
        write(&file, &bytes);
        let _ = writeln!(table, "    ({name:?}, include_bytes!({:?})),", file.display().to_string());
    }
    table.push_str("];\n");
    write(&out.join("scenarios.rs"), table.as_bytes());
}

/// The scenario's name: its file stem, which must be one console word.
fn stem(path: &Path) -> String {
    let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
        fail(format_args!("{}: file name is not UTF-8", path.display()))
    };
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        fail(format_args!(
            "{}: a scenario name (file stem) must be 1 to 64 printable ASCII characters without spaces",
            path.display()
        ));
    }
    name.to_owned()
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
    let peer = match peer {
        None => "None".to_owned(),
        Some(([a, b, c, d], p)) => format!("Some(([{a}, {b}, {c}, {d}], {p}))"),
    };
    let s = format!(
        "// Generated by build.rs from the UDPLAB_* environment variables.\n\
         pub const WIFI_SSID: &str = {ssid:?};\n\
         pub const WIFI_PASSWORD: &str = {password:?};\n\
         pub const WIFI_CHANNEL: u8 = {channel};\n\
         pub const AP_SSID: &str = {ap_ssid:?};\n\
         pub const AP_CHANNEL: u8 = {ap_channel};\n\
         pub const PORT: u16 = {port};\n\
         pub const PEER: Option<([u8; 4], u16)> = {peer};\n\
         pub const COUNT: u32 = {count};\n\
         pub const INTERVAL_MS: u64 = {interval_ms};\n\
         pub const SIZE: usize = {size};\n\
         pub const RELIABLE: bool = {reliable};\n"
    );
    write(&out.join("settings.rs"), s.as_bytes());
}

/// Writes only when the contents change, so an unchanged table does not recompile the crate.
fn write(path: &Path, contents: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return;
    }
    fs::write(path, contents).unwrap_or_else(|e| fail(format_args!("{}: {e}", path.display())));
}
