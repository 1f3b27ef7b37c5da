//! `udplab wokwi`: the real ESP32 image in the Wokwi simulator, driven through wokwi-cli, its
//! scenario-mode trace compared with `udplab run` line by line.
//!
//! Wokwi needs its cloud (`WOKWI_CLI_TOKEN`); where wokwi-cli or the token is missing the
//! command says it did not run, and why, with its own exit status: never a pass.

pub mod automation;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use udplab_sim::Sim;

use crate::chip::{self, Failure, serial_log};
use crate::exit::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};
/// Exit statuses of `udplab wokwi` besides the common ones (see [`crate::exit`]).
pub use crate::exit::{EXIT_EMULATOR_FAILED as EXIT_WOKWI_FAILED, EXIT_MISMATCH};

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
                 create one on the Wokwi CI dashboard (https://wokwi.com/dashboard/ci) and export WOKWI_CLI_TOKEN \
                 (in GitHub Actions, as the repository secret WOKWI_CLI_TOKEN).",
            ),
        }
    }
}

/// Finds wokwi-cli and the token, or says which is missing.
pub fn preflight() -> Result<PathBuf, NotRun> {
    let cli = chip::find_tool("WOKWI_CLI", "wokwi-cli").map_err(|_| NotRun::NoCli)?;
    match std::env::var("WOKWI_CLI_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(cli),
        _ => Err(NotRun::NoToken),
    }
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
    let name = match chip::scenario_name(file) {
        Ok(n) => n,
        Err(e) => {
            crate::say!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let seed = opts.seed.unwrap_or(scenario.seed);
    let cli = match preflight() {
        Ok(cli) => cli,
        Err(why) => {
            crate::say!("NOT RUN: {why}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(project) = opts.project.clone().or_else(|| chip::find_project(&cwd)) else {
        crate::say!("error: no wokwi.toml here or above; pass --project DIR");
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let elf = match &opts.elf {
        Some(elf) => elf.clone(),
        None => {
            if let Err(e) = chip::build_image(&project, file) {
                return chip::report("Wokwi", &name, seed, Err(Failure::Failed(e)));
            }
            match chip::lesson_elf(&project) {
                Ok(elf) => elf,
                Err(e) => {
                    crate::say!("error: {e}");
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
    };
    let work = std::env::temp_dir().join(format!("udplab-wokwi-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        return chip::report("Wokwi", &name, seed, Err(Failure::Failed(format!("{}: {e}", work.display()))));
    }
    let yaml = work.join("scenario.yaml");
    let log = opts.serial_log.clone().unwrap_or_else(|| work.join("serial.log"));
    if let Err(e) = std::fs::write(&yaml, automation::scenario_yaml(&name, seed)) {
        return chip::report("Wokwi", &name, seed, Err(Failure::Failed(format!("{}: {e}", yaml.display()))));
    }
    let args =
        automation::command_line(&project, &elf, &project.join("diagram.json"), &yaml, &log, opts.timeout_ms);
    crate::say!("running {} {}", cli.display(), args.join(" "));
    let code = run_with_timeout(&cli, &args, opts.wall_timeout);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&yaml);
    let verdict = judge(sim, &name, seed, code, &text, opts.wall_timeout);
    if opts.serial_log.is_none() {
        let _ = std::fs::remove_file(&log);
    }
    let _ = std::fs::remove_dir(&work);
    chip::report("Wokwi", &name, seed, verdict)
}

/// Decides the outcome from wokwi-cli's exit and the serial log.
fn judge(
    sim: &Sim<'_>,
    name: &str,
    seed: u64,
    code: Result<Option<i32>, String>,
    log: &str,
    wall: Duration,
) -> Result<usize, Failure> {
    let fail = |m: String| Err(Failure::Failed(m));
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
    let trace = match serial_log::parse(log, name) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    if let Ok(Some(c)) = code
        && c != 0
    {
        return fail(format!("wokwi-cli exited with {c} although the trace arrived whole"));
    }
    chip::compare(sim, name, seed, &trace)
}
