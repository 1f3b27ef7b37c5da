//! What every runner of the ESP32 image shares (`udplab wokwi`, `udplab qemu`): the scenario's
//! name on the console and the command typed into it, building the lesson image, and the verdict
//! on a serial log: read the framed trace out of it ([`serial_log`]), compare it with the host's
//! run of the same scenario and seed, and say so with the runners' common exit statuses.

pub mod serial_log;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use udplab_sim::Sim;
use udplab_teach::run_sim;

use crate::exit::{EXIT_BAD_INPUT, EXIT_EMULATOR_FAILED, EXIT_MISMATCH};
use serial_log::SerialTrace;

/// What every image prints when its console is ready for a command.
pub const BANNER: &str = "udplab-esp32 ready";

/// The console command that runs scenario `name` with `seed` (firmware/esp32/src/shell.rs).
pub fn console_command(name: &str, seed: u64) -> String {
    format!("run {name} {seed}")
}

/// The scenario's name on the chip: its file stem, which must be a single console word.
pub fn scenario_name(file: &Path) -> Result<String, String> {
    match file.file_stem().map(|s| s.to_string_lossy().into_owned()) {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) => {
            Ok(n)
        }
        _ => Err(format!(
            "{}: the file name must be letters, digits, '-', '_' or '.' (the chip runs it by name)",
            file.display()
        )),
    }
}

/// A program named by the environment variable `var` (when set and not empty) or else found as
/// `name` on `$PATH`; the error says where it looked.
pub fn find_tool(var: &str, name: &str) -> Result<PathBuf, String> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_file() { Ok(p) } else { Err(format!("${var} is {}, which is not a file", p.display())) }
        }
        _ => std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
            .ok_or_else(|| format!("looked at ${var} and on $PATH")),
    }
}

/// The project folder (the one with wokwi.toml) at or above `start`.
pub fn find_project(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join("wokwi.toml").is_file()).map(Path::to_path_buf)
}

/// The lesson image's ELF, as named by wokwi.toml's `elf` key.
pub fn lesson_elf(project: &Path) -> Result<PathBuf, String> {
    let path = project.join("wokwi.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: toml::Table = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
    doc.get("wokwi")
        .and_then(|w| w.get("elf"))
        .and_then(|e| e.as_str())
        .map(|e| project.join(e))
        .ok_or_else(|| format!("{}: no [wokwi] elf = \"...\" key", path.display()))
}

/// Builds the ESP32-C3 lesson image in `project`/firmware/esp32, with `scenario_file` embedded
/// when it is not one of the lessons.
pub fn build_image(project: &Path, scenario_file: &Path) -> Result<(), String> {
    let dir = project.join("firmware/esp32");
    crate::say!("building the ESP32 image in {} ...", dir.display());
    let mut cmd = Command::new("cargo");
    cmd.args(["build", "--release"]).current_dir(&dir);
    let lessons = project.join("scenarios");
    let abs = scenario_file.canonicalize().map_err(|e| format!("{}: {e}", scenario_file.display()))?;
    if abs.parent() != lessons.canonicalize().ok().as_deref() {
        cmd.env("UDPLAB_EXTRA_SCENARIO", &abs);
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("cargo build in {} failed ({status})", dir.display())) }
}

/// Why a run on the chip did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The emulator (or what it needs) failed, or the log is not a whole trace: exit status 5.
    Failed(String),
    /// A whole trace arrived and differs from the host's: exit status 1.
    Mismatch(String),
    /// The scenario cannot be run on the host: exit status 2.
    BadInput(String),
}

/// Compares the chip's whole trace with the in-memory run of `sim` (its apps and labeller) with
/// `seed`, line by line. Returns the number of lines when they are identical.
pub fn compare(sim: &Sim<'_>, name: &str, seed: u64, chip: &SerialTrace) -> Result<usize, Failure> {
    if chip.seed != seed {
        return Err(Failure::Failed(format!("the chip ran seed {}, not {seed}", chip.seed)));
    }
    let host = run_sim(sim, seed).map_err(|e| Failure::BadInput(e.to_string()))?;
    let host_lines: Vec<String> = host.timeline.lines().map(str::to_string).collect();
    let diffs = serial_log::compare(&host_lines, &chip.lines);
    if diffs.is_empty() {
        return Ok(host_lines.len());
    }
    let mut m = format!(
        "MISMATCH: {name} seed {seed}: {} of {} trace lines differ between `udplab run` and the ESP32",
        diffs.len(),
        host_lines.len().max(chip.lines.len())
    );
    for d in diffs.iter().take(20) {
        m.push_str(&format!(
            "\n  line {}:\n    host: {}\n    chip: {}",
            d.line,
            d.host.as_deref().unwrap_or("(none)"),
            d.chip.as_deref().unwrap_or("(none)")
        ));
    }
    if diffs.len() > 20 {
        m.push_str(&format!("\n  ... and {} more", diffs.len() - 20));
    }
    Err(Failure::Mismatch(m))
}

/// Prints the verdict of a run in `runner` (`Wokwi`, `QEMU`) and gives its exit status: PASS on
/// stdout, anything else on stderr.
pub fn report(runner: &str, name: &str, seed: u64, verdict: Result<usize, Failure>) -> ExitCode {
    match verdict {
        Ok(lines) => {
            let line = format!(
                "PASS: {name} seed {seed}: the ESP32 in {runner} printed the same {lines} trace lines as `udplab run`\n"
            );
            match crate::streams::to_stdout(&line) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    crate::say!("error: writing output: {e}");
                    ExitCode::from(crate::exit::EXIT_IO)
                }
            }
        }
        Err(Failure::Failed(m)) => {
            crate::say!("{} FAILED: {m}", runner.to_uppercase());
            ExitCode::from(EXIT_EMULATOR_FAILED)
        }
        Err(Failure::Mismatch(m)) => {
            crate::say!("{m}");
            ExitCode::from(EXIT_MISMATCH)
        }
        Err(Failure::BadInput(m)) => {
            crate::say!("error: {m}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_name_is_one_console_word() {
        assert_eq!(scenario_name(Path::new("scenarios/01-perfect-link.toml")), Ok("01-perfect-link".into()));
        assert!(scenario_name(Path::new("my lesson.toml")).is_err());
        assert!(scenario_name(Path::new("/")).is_err());
    }

    #[test]
    fn the_console_command_is_what_the_shell_parses() {
        assert_eq!(console_command("02-random-loss", 7), "run 02-random-loss 7");
    }
}
