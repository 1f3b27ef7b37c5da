//! Command-line arguments, in one place, and what each command does with them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args as ClapArgs, Parser, Subcommand};
use udplab_sim::Scenario;

use crate::run::{RunOutput, run_scenario};
use crate::scenario_file;

/// Exit status: the scenario's expectations did not hold.
pub const EXIT_EXPECTATIONS: u8 = 1;
/// Exit status: bad input (scenario file or arguments).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: the output could not be written.
pub const EXIT_IO: u8 = 3;
/// Exit status: the environment lacks what the command needs (root, /dev/net/tun, a tool).
pub const EXIT_ENVIRONMENT: u8 = 4;

#[derive(Debug, Parser)]
#[command(name = "udplab", version, about = "Test and teach UDP over unreliable networks")]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// How a run's result is printed.
#[derive(Debug, Clone, ClapArgs)]
pub struct Output {
    /// Use this seed instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the full trace and summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print only the summary, not the per-datagram timeline.
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario in memory (virtual time) and print its timeline and summary.
    ///
    /// Exit status: 0 when the scenario's expectations hold, 1 when they do not, 2 for bad
    /// input (for example a scenario file error), 3 when output cannot be written.
    Run {
        /// The scenario file (TOML), see scenarios/README.md.
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Run a scenario with one node as firmware on a real TAP device (smoltcp) and the others
    /// as kernel sockets, in a private network namespace that vanishes with the run. Linux, root.
    ///
    /// Exit status as for `run`, and 4 when root, /dev/net/tun or `ip` is missing.
    Tap {
        /// The scenario file (TOML).
        file: PathBuf,
        #[command(flatten)]
        output: Output,
        /// The node that runs as firmware on the TAP (default: the first server).
        #[arg(long)]
        firmware: Option<String>,
        /// Keep the firmware running for you to talk to (no kernel peers), until Ctrl-C or for
        /// this many seconds; prints how to reach it and each datagram's fate as it happens.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "0")]
        hold: Option<u64>,
    },
    /// Run a scenario on the real ESP32-C3 image in the Wokwi simulator (wokwi-cli) and compare
    /// the chip's trace with `udplab run`, line by line.
    ///
    /// Exit status: 0 the traces match, 1 they differ, 2 bad input, 4 NOT RUN (wokwi-cli or
    /// WOKWI_CLI_TOKEN missing), 5 Wokwi failed (build, panic, timeout, truncated or garbled log).
    Wokwi {
        /// The scenario file (TOML); lessons in scenarios/ are already in the image, any other
        /// file is built in.
        file: PathBuf,
        /// Use this seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Use this ESP32 ELF instead of building firmware/esp32.
        #[arg(long)]
        elf: Option<PathBuf>,
        /// Folder holding wokwi.toml and diagram.json (default: found upward from here).
        #[arg(long)]
        project: Option<PathBuf>,
        /// Simulated time limit, milliseconds.
        #[arg(long, default_value_t = 120_000)]
        timeout: u64,
        /// Wall-clock limit for wokwi-cli, seconds; it is killed after this.
        #[arg(long, default_value_t = 600)]
        wall_timeout: u64,
        /// Keep the serial log in this file.
        #[arg(long)]
        serial_log: Option<PathBuf>,
    },
}

fn load(file: &Path) -> Result<Scenario, ExitCode> {
    scenario_file::load(file).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

/// Prints `out` as asked and turns its verdict into the exit status.
pub(crate) fn report(out: &RunOutput, output: &Output) -> ExitCode {
    let text = if output.json {
        out.json()
    } else if output.summary {
        out.summary_text()
    } else {
        out.text()
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        // A closed pipe (`udplab run x | head`) is not worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing output: {e}");
        }
        return ExitCode::from(EXIT_IO);
    }
    if out.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &out.failures {
            eprintln!("expectation failed: {f}");
        }
        ExitCode::from(EXIT_EXPECTATIONS)
    }
}

pub fn main(args: Args) -> ExitCode {
    match args.command {
        Command::Run { file, output } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match run_scenario(&scenario, output.seed.unwrap_or(scenario.seed)) {
                Ok(out) => report(&out, &output),
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Tap { file, output, firmware, hold } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::tap::main(&scenario, &output, firmware, hold)
        }
        Command::Wokwi { file, seed, elf, project, timeout, wall_timeout, serial_log } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let opts = crate::wokwi::WokwiOptions {
                seed,
                elf,
                project,
                timeout_ms: timeout,
                wall_timeout: std::time::Duration::from_secs(wall_timeout),
                serial_log,
            };
            crate::wokwi::main(&scenario, &file, &opts)
        }
    }
}
