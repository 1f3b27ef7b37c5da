//! What udplab hands to wokwi-cli: the command line and the automation scenario (YAML).
//!
//! Only flags and step names that wokwi-cli documents are used (DESIGN.md lists them); the
//! tests hold both lists and check every generated command and file against them.

use std::path::Path;

/// Flags of wokwi-cli that udplab may pass.
pub const KNOWN_FLAGS: &[&str] = &[
    "--timeout",
    "--expect-text",
    "--fail-text",
    "--scenario",
    "--serial-log-file",
    "--elf",
    "--diagram-file",
    "--timeout-exit-code",
    "--interactive",
    "-q",
];

/// Step kinds of a Wokwi automation scenario.
pub const KNOWN_STEPS: &[&str] =
    &["wait-serial", "write-serial", "delay", "set-control", "expect-pin", "take-screenshot"];

/// Exit code wokwi-cli is told to use when the simulated time runs out.
pub const TIMEOUT_EXIT: i32 = 42;

/// The text esp-backtrace prints on a panic: wokwi-cli fails the run when it appears.
pub const FAIL_TEXT: &str = "PANIC";

/// Automation that waits for the firmware's console, runs one scenario and waits for its end.
pub fn scenario_yaml(name: &str, seed: u64) -> String {
    format!(
        "name: udplab {name}\n\
         version: 1\n\
         steps:\n\
         \x20 - wait-serial: '{banner}'\n\
         \x20 - write-serial: \"{command}\\n\"\n\
         \x20 - wait-serial: '{end}{name} '\n",
        banner = crate::chip::BANNER,
        command = crate::chip::console_command(name, seed),
        end = udplab_sim::serial::END,
    )
}

/// The wokwi-cli command line (without the program name).
pub fn command_line(
    project: &Path,
    elf: &Path,
    diagram: &Path,
    yaml: &Path,
    log: &Path,
    timeout_ms: u64,
) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    vec![
        "--elf".into(),
        s(elf),
        "--diagram-file".into(),
        s(diagram),
        "--scenario".into(),
        s(yaml),
        "--serial-log-file".into(),
        s(log),
        "--timeout".into(),
        timeout_ms.to_string(),
        "--timeout-exit-code".into(),
        TIMEOUT_EXIT.to_string(),
        "--fail-text".into(),
        FAIL_TEXT.into(),
        "-q".into(),
        s(project),
    ]
}
