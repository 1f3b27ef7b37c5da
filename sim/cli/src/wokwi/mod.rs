//! `udplab wokwi`: the real ESP32 image in the Wokwi simulator, driven through wokwi-cli, its
//! scenario-mode trace compared with `udplab run` line by line.
//!
//! Wokwi needs its cloud (`WOKWI_CLI_TOKEN`); where wokwi-cli or the token is missing the
//! command says it did not run, and why, with its own exit status: never a pass.

pub mod automation;
pub mod serial_log;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use udplab_sim::Sim;

use crate::exit::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};
use udplab_teach::run_sim;

/// Exit status: the chip's trace differs from the host's.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit status: Wokwi ran but failed (error, panic, timeout, truncated or garbled log).
pub const EXIT_WOKWI_FAILED: u8 = 5;

#[derive(Debug, Clone)]
pub struct WokwiOptions {
    pub seed: Option<u64>,
    /// Use this ELF instead of building firmware/esp32.
    pub elf: Option<PathBuf>,
    /// The folder with wokwi.toml and diagram.json (default: found upward from here).
    pub project: Option<PathBuf>,
    /// Simulated time limit, milliseconds.
    pub timeout_ms: u64,
    /// Wall-clock limit for wokwi-cli; it is killed after this.
    pub wall_timeout: Duration,
    /// Keep the serial log here.
    pub serial_log: Option<PathBuf>,
}

/// Why nothing ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRun {
    NoCli,
    NoToken,
}

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRun::NoCli => f.write_str(
                "wokwi-cli was not found (looked at $WOKWI_CLI and on $PATH). Install a release binary from \
                 https://github.com/wokwi/wokwi-cli/releases and put it on PATH or point WOKWI_CLI at it.",
            ),
            NotRun::NoToken => f.write_str(
                "WOKWI_CLI_TOKEN is not set. wokwi-cli runs the simulation in Wokwi's cloud and needs a CI token: \
                 create one in your Wokwi account settings and export WOKWI_CLI_TOKEN (in GitHub Actions, as a secret).",
            ),
        }
    }
}

/// Finds wokwi-cli and the token, or says which is missing.
pub fn preflight() -> Result<PathBuf, NotRun> {
    let cli = match std::env::var_os("WOKWI_CLI") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|d| d.join("wokwi-cli")).find(|p| p.is_file())
        }),
    };
    let cli = cli.filter(|p| p.is_file()).ok_or(NotRun::NoCli)?;
    match std::env::var("WOKWI_CLI_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(cli),
        _ => Err(NotRun::NoToken),
    }
}

fn find_project(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join("wokwi.toml").is_file()).map(Path::to_path_buf)
}

/// The ELF named by wokwi.toml's `elf` key.
fn elf_from_wokwi_toml(project: &Path) -> Result<PathBuf, String> {
    let path = project.join("wokwi.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: toml::Table = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
    doc.get("wokwi")
        .and_then(|w| w.get("elf"))
        .and_then(|e| e.as_str())
        .map(|e| project.join(e))
        .ok_or_else(|| format!("{}: no [wokwi] elf = \"...\" key", path.display()))
}

/// Builds the ESP32 image with the scenario embedded.
fn build_image(project: &Path, scenario_file: &Path) -> Result<(), String> {
    let dir = project.join("firmware/esp32");
    eprintln!("building the ESP32 image in {} ...", dir.display());
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

/// Runs `program args`, killing it after `limit`. Returns its exit code (None: killed).
fn run_with_timeout(program: &Path, args: &[String], limit: Duration) -> Result<Option<i32>, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.code()),
            Ok(None) if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
        }
    }
}

/// Runs `sim`'s scenario on the ESP32 image in Wokwi and compares the chip's trace with the
/// in-memory run of `sim` (its apps and labeller) with the same seed.
pub fn main(sim: &Sim<'_>, file: &Path, opts: &WokwiOptions) -> ExitCode {
    let scenario = sim.scenario();
    let name = match file.file_stem().map(|s| s.to_string_lossy().into_owned()) {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) => n,
        _ => {
            eprintln!(
                "error: {}: the file name must be letters, digits, '-', '_' or '.' (the chip runs it by name)",
                file.display()
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let seed = opts.seed.unwrap_or(scenario.seed);
    let cli = match preflight() {
        Ok(cli) => cli,
        Err(why) => {
            eprintln!("NOT RUN: {why}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(project) = opts.project.clone().or_else(|| find_project(&cwd)) else {
        eprintln!("error: no wokwi.toml here or above; pass --project DIR");
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let elf = match &opts.elf {
        Some(elf) => elf.clone(),
        None => {
            if let Err(e) = build_image(&project, file) {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_WOKWI_FAILED);
            }
            match elf_from_wokwi_toml(&project) {
                Ok(elf) => elf,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
    };
    let work = std::env::temp_dir().join(format!("udplab-wokwi-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        eprintln!("error: {}: {e}", work.display());
        return ExitCode::from(EXIT_WOKWI_FAILED);
    }
    let yaml = work.join("scenario.yaml");
    let log = opts.serial_log.clone().unwrap_or_else(|| work.join("serial.log"));
    if let Err(e) = std::fs::write(&yaml, automation::scenario_yaml(&name, seed)) {
        eprintln!("error: {}: {e}", yaml.display());
        return ExitCode::from(EXIT_WOKWI_FAILED);
    }
    let args =
        automation::command_line(&project, &elf, &project.join("diagram.json"), &yaml, &log, opts.timeout_ms);
    eprintln!("running {} {}", cli.display(), args.join(" "));
    let code = run_with_timeout(&cli, &args, opts.wall_timeout);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&yaml);
    let verdict = judge(sim, &name, seed, code, &text, opts.wall_timeout);
    if opts.serial_log.is_none() {
        let _ = std::fs::remove_file(&log);
    }
    let _ = std::fs::remove_dir(&work);
    match verdict {
        Ok(lines) => {
            println!(
                "PASS: {name} seed {seed}: the ESP32 printed the same {lines} trace lines as `udplab run`"
            );
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}

/// Decides the outcome from wokwi-cli's exit and the serial log.
fn judge(
    sim: &Sim<'_>,
    name: &str,
    seed: u64,
    code: Result<Option<i32>, String>,
    log: &str,
    wall: Duration,
) -> Result<usize, (u8, String)> {
    let fail = |m: String| Err((EXIT_WOKWI_FAILED, format!("WOKWI FAILED: {m}")));
    match code {
        Err(e) => return fail(e),
        Ok(None) => return fail(format!("wokwi-cli killed after {} s (wall-clock limit)", wall.as_secs())),
        Ok(Some(c)) if c == automation::TIMEOUT_EXIT => {
            return fail(match serial_log::parse(log, name) {
                Err(e) => format!("simulated time ran out; {e}"),
                Ok(_) => "simulated time ran out".into(),
            });
        }
        Ok(_) => {}
    }
    let chip = match serial_log::parse(log, name) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    if let Ok(Some(c)) = code
        && c != 0
    {
        return fail(format!("wokwi-cli exited with {c} although the trace arrived whole"));
    }
    if chip.seed != seed {
        return fail(format!("the chip ran seed {}, not {seed}", chip.seed));
    }
    let host = match run_sim(sim, seed) {
        Ok(out) => out,
        Err(e) => return Err((EXIT_BAD_INPUT, format!("error: {e}"))),
    };
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
    Err((EXIT_MISMATCH, m))
}
