//! What the stand-in emulator tests (`wokwi.rs`, `qemu.rs`) share: the repository, a scratch
//! folder per case, and serial output printed at test time by the real core through the serial
//! protocol the ESP32 uses (`udplab_sim::serial`), so no expected output is written by hand.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A fresh, empty scratch folder.
pub fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes an executable script.
pub fn script(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// What the chip prints from reset to its console banner.
pub fn boot_log() -> String {
    String::from("ESP-ROM:esp32c3-api1-20210207\r\nudplab-esp32 ready: 8 scenarios\r\n")
}

/// The block (and heap line) a chip prints when it ran `lesson` with `seed` but claims
/// `claimed_seed`.
pub fn block(lesson: &str, seed: u64, claimed_seed: u64) -> String {
    let path = root().join("scenarios").join(format!("{lesson}.toml"));
    let scenario = udplab_scenario::load(&path).unwrap();
    let trace = udplab_sim::run(&scenario, seed).unwrap();
    let mut log = String::new();
    udplab_sim::serial::emit_block(lesson, claimed_seed, &scenario, &trace, &mut |l| {
        log.push_str(l);
        log.push_str("\r\n");
    });
    log.push_str("@@ heap used=1234 free=5678\r\n");
    log
}
