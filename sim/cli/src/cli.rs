//! Command-line arguments, in one place, and what each command does with them.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use udplab_sim::Scenario;
use udplab_sim::net::Captured;

use udplab_teach::RunOutput;

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

/// When the terminal ladder is coloured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Pictures and files for teaching: a ladder instead of the timeline, and output files
/// (each written whole: a temporary file, then renamed).
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Pictures {
    /// Print a ladder (sequence) diagram instead of the timeline: one column per node, one
    /// arrow per datagram, X for lost ones with the reason.
    #[arg(long, conflicts_with_all = ["json", "summary"])]
    pub ladder: bool,
    /// Colour the ladder: auto (when stdout is a terminal), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
    /// Write the ladder as a standalone SVG (time runs down, slopes are latencies).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write the ladder as Mermaid sequenceDiagram text; a FILE ending in .md gets a Markdown
    /// file with a mermaid block, which GitHub renders.
    #[arg(long, value_name = "FILE")]
    pub mermaid: Option<PathBuf>,
    /// Write a self-contained HTML report (summary, ladder, latency and loss charts, timeline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a pcapng capture of what crossed each link (one interface per link, lost
    /// datagrams included, each frame commented), for Wireshark or tshark.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Print nothing on stdout (files are still written; failed expectations still go to
    /// stderr and set the exit status).
    #[arg(long, short, conflicts_with_all = ["json", "summary", "ladder"])]
    pub quiet: bool,
}

impl Pictures {
    pub fn requested(&self) -> udplab_teach::Requested {
        udplab_teach::Requested {
            svg: self.svg.clone(),
            mermaid: self.mermaid.clone(),
            html: self.html.clone(),
            pcap: self.pcap.clone(),
        }
    }
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
        #[command(flatten)]
        pictures: Pictures,
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
        /// Pictures and capture as for `run` (--ladder, --svg, --mermaid, --html, --pcap), with
        /// real-clock times.
        #[command(flatten)]
        pictures: Pictures,
    },
    /// Run a scenario over a grid of parameter values and seeds, in parallel, and report
    /// delivery, loss, latency and goodput per grid point (a table on stdout; CSV and an SVG
    /// plot on request).
    ///
    /// Parameters: loss (Bernoulli, every link), delay, jitter, duplicate, reorder, corrupt
    /// (every link), count, interval (every client), reliable (true/false), seed. Values:
    /// FROM..TO:STEP (both ends included) or a list V1,V2,...; probabilities as 0.05 or 5%,
    /// durations with a unit (5ms). Example: --vary loss=0..0.5:0.05 --vary reliable=false,true
    /// --seeds 1..10.
    ///
    /// Exit status: 0 done (whatever the expectations said: see the `expectations` column),
    /// 2 bad input (scenario, --vary or --seeds), 3 an output file could not be written.
    Sweep {
        /// The scenario file (TOML).
        file: PathBuf,
        /// A parameter and its values, NAME=FROM..TO:STEP or NAME=V1,V2,...; repeat for a grid.
        #[arg(long = "vary", value_name = "NAME=VALUES")]
        vary: Vec<String>,
        /// Seeds to run every grid point with: FROM..TO (both included) or a list (default: the
        /// scenario's seed).
        #[arg(long, value_name = "SEEDS")]
        seeds: Option<String>,
        /// Write one CSV row per grid point and seed.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Write an SVG plot of delivery, goodput and latency against the first --vary.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Print no table on stdout.
        #[arg(long, short)]
        quiet: bool,
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
    udplab_scenario::load(file).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

/// Prints `out` as asked and turns its verdict into the exit status.
pub(crate) fn report(out: &RunOutput, output: &Output) -> ExitCode {
    print_and_judge(out, &default_text(out, output))
}

fn default_text(out: &RunOutput, output: &Output) -> String {
    if output.json {
        out.json()
    } else if output.summary {
        out.summary_text()
    } else {
        out.text()
    }
}

/// Like [`report`], with the teaching options: writes the requested files (the pcapng from
/// `captured`), prints the ladder instead of the timeline or nothing at all, and exits with 3
/// when a file could not be written.
pub(crate) fn report_taught(
    out: &RunOutput,
    captured: &[Captured],
    output: &Output,
    pictures: &Pictures,
) -> ExitCode {
    let requested = pictures.requested();
    if !pictures.quiet && !pictures.ladder && !requested.any() {
        return report(out, output);
    }
    let written = udplab_teach::write_requested(out, captured, &requested);
    let text = if pictures.quiet {
        String::new()
    } else if pictures.ladder {
        udplab_teach::ladder_text(out, pictures.color.enabled())
    } else {
        default_text(out, output)
    };
    let code = print_and_judge(out, &text);
    match written {
        Ok(()) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// Prints `text` and turns the run's verdict into the exit status.
fn print_and_judge(out: &RunOutput, text: &str) -> ExitCode {
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
        Command::Run { file, output, pictures } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match udplab_teach::run(&scenario, output.seed.unwrap_or(scenario.seed), pictures.pcap.is_some()) {
                Ok((out, captured)) => report_taught(&out, &captured, &output, &pictures),
                Err(e) => {
                    eprintln!("error: {}: {e}", file.display());
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Tap { file, output, firmware, hold, pictures } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::tap::main(&scenario, &output, &pictures, firmware, hold)
        }
        Command::Sweep { file, vary, seeds, csv, svg, jobs, quiet } => {
            let scenario = match load(&file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let request = udplab_teach::sweep::Request {
                vary,
                seeds,
                csv,
                svg,
                jobs: jobs.map(usize::from),
                progress: std::io::stderr().is_terminal(),
            };
            match udplab_teach::sweep::command(&scenario, &request) {
                Ok(_) if quiet => ExitCode::SUCCESS,
                Ok(table) => {
                    let mut stdout = std::io::stdout().lock();
                    match stdout.write_all(table.as_bytes()).and_then(|()| stdout.flush()) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(_) => ExitCode::from(EXIT_IO),
                    }
                }
                Err(e @ udplab_teach::sweep::SweepError::BadInput(_)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
                Err(e @ udplab_teach::sweep::SweepError::Io(_)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_IO)
                }
            }
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
