//! Command-line arguments, in one place, and what each command does with them ([`run`]), with
//! the apps a [`crate::Lab`] attaches. The options `run` and `tap` share, and how they print, are
//! in [`crate::output`]; the exit statuses in [`crate::exit`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use udplab_sim::Sim;
use udplab_teach::MakeSim;

use crate::exit::{EXIT_BAD_INPUT, EXIT_IO};
use crate::output::{Output, Pictures, report_taught};

#[derive(Debug, Parser)]
#[command(name = "udplab", version, about = "Test and teach UDP over unreliable networks")]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// `--exec NODE=COMMAND`, checked when the arguments are read (the TAP runner, Linux only,
/// splits it the same way).
fn exec_arg(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((node, command)) if !node.trim().is_empty() && !command.trim().is_empty() => Ok(s.to_string()),
        _ => Err(format!(
            "expected NODE=COMMAND (a node of the scenario, then the command line to run as it), \
             for example laptop='python3 client.py'; got `{s}`"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario in memory (virtual time) and print its timeline and summary.
    ///
    /// Exit status: 0 when the scenario's expectations hold, 1 when they do not, 2 for bad
    /// input (for example a scenario file error, or a run larger than --max-events), 3 when
    /// output cannot be written, 6 when --timeout stopped the run (INCOMPLETE).
    Run {
        /// The scenario file (TOML), see scenarios/README.md.
        file: PathBuf,
        #[command(flatten)]
        output: Output,
        /// Stop after this many wall-clock seconds if the run is not done by then: the run is
        /// INCOMPLETE (exit 6), with what happened so far printed and written.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        /// Refuse to start a run that could record more than this many trace events (an upper
        /// bound computed from the scenario before the run). Every output but --svg, --mermaid
        /// and --html is written as the run goes and keeps nothing; those three draw the whole
        /// run and keep every event, about 300 bytes each.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
        max_events: u64,
        #[command(flatten)]
        pictures: Pictures,
    },
    /// Run a scenario with one node as firmware on a real TAP device (smoltcp) and the others
    /// as kernel sockets, in a private network namespace that vanishes with the run. Linux, root.
    ///
    /// Exit status as for `run`, 4 when root, /dev/net/tun or `ip` is missing, and 6 when the
    /// run did not finish (Ctrl-C, SIGTERM, the TAP went away): the summary says INCOMPLETE and
    /// the expectations are not judged. On a real clock `latency_max` allows the scenario's
    /// `latency_tolerance` (default 50ms) on top.
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
        /// How much later than the scenario's `latency_max` a datagram may arrive on this real
        /// clock before the expectation fails (overrides `[expect] latency_tolerance`; default
        /// 50ms). Example: --latency-tolerance 10ms
        #[arg(long, value_name = "DURATION", value_parser = udplab_scenario::duration_us)]
        latency_tolerance: Option<u64>,
        /// Stop after this many wall-clock seconds if the scenario is not done by then: the run
        /// is INCOMPLETE (exit 6), with what happened printed and written.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: Option<u64>,
        /// Play node NODE with your own program instead of its app: COMMAND runs through
        /// `/bin/sh -c` on the kernel side of the TAP, inside the run's namespace, as the user
        /// behind sudo, its output on standard error. It learns where it is from UDPLAB_ADDR,
        /// UDPLAB_PORT (its node's), UDPLAB_FIRMWARE_ADDR and UDPLAB_FIRMWARE_PORT; a program
        /// that does not bind sends from its node's address. The run waits for a client node's
        /// program to exit (a non-zero status fails the run) and stops a server node's at the
        /// end; every program is killed with its process group when the run ends. Repeatable.
        /// Example: --exec laptop='python3 client.py'
        #[arg(long, value_name = "NODE=COMMAND", value_parser = exec_arg)]
        exec: Vec<String>,
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
    /// (every link), count, interval (every client), reliable (true/false), worse (K times as
    /// likely to start losing, on every link; a link replaying a capture uses its fitted model;
    /// the only link parameter a scenario with `trace` links takes), seed. Values:
    /// FROM..TO:STEP (both ends included) or a list V1,V2,...; probabilities as 0.05 or 5%,
    /// durations with a unit (5ms). Example: --vary loss=0..0.5:0.05 --vary reliable=false,true
    /// --seeds 1..10.
    ///
    /// On many machines: each runs the same command with --shard K/N --csv shard-K.csv, then
    /// one runs it with --merge shard-*.csv (and --csv, --svg): the same table, CSV and plot,
    /// byte for byte, as one machine running the whole grid.
    ///
    /// Exit status: 0 done (whatever the expectations said: see the `expectations` column),
    /// 2 bad input (scenario, --vary, --seeds, --shard, or a shard's CSV), 3 an output file
    /// could not be written.
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
        /// Refuse the sweep before it starts when a grid point could record more than this many
        /// trace events in one run (an upper bound computed from the scenario).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
        max_events: u64,
        /// Run only the K-th of N slices of the grid x seeds (every N-th run in grid order) and
        /// write its rows to --csv: one machine's share; --merge puts the shards together.
        #[arg(long, value_name = "K/N", conflicts_with_all = ["svg", "merge"])]
        shard: Option<udplab_teach::sweep::shard::Shard>,
        /// Run nothing: merge the shards' CSVs (any order; same FILE, --vary and --seeds as the
        /// shards) into the table, --csv and --svg of the whole sweep, as one machine would.
        #[arg(long, value_name = "CSV", num_args = 1.., conflicts_with = "jobs")]
        merge: Vec<PathBuf>,
        /// Print no table on stdout.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Read a capture of real UDP traffic (pcap or pcapng: tcpdump -w, Wireshark, udplab
    /// --pcap) and recover what the network did to each datagram, per direction: delivered
    /// after which delay, lost, duplicated, damaged. Prints what was recovered and the best
    /// fitting loss model (Bernoulli, Gilbert, Gilbert-Elliott) and delay; with --out writes
    /// one link trace per direction and `links.toml`, ready [[link]] sections that replay it.
    ///
    /// One capture: taken at one end (what that end can know; see --at). Two: one at each end.
    /// Datagrams are matched by content: udplab's header, a sequence number (--seq-at), or
    /// the payload.
    ///
    /// Exit status: 0 done, 2 a capture cannot be used (not a capture, damaged, no UDP), 3 the
    /// output could not be written.
    CaptureImport {
        /// The capture file(s): one, or one from each end.
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<PathBuf>,
        /// Where each payload carries a sequence number, OFFSET:TYPE (TYPE: u8, u16be, u16le,
        /// u32be, u32le, u64be, u64le), for protocols other than udplab's. Example: --seq-at 0:u32be
        #[arg(long, value_name = "OFFSET:TYPE")]
        seq_at: Option<String>,
        /// The label kind of --seq-at datagrams: your replay's labeller must name them
        /// `Label::Named { kind, id: Some(seq) }` with this kind.
        #[arg(long, value_name = "KIND", default_value = "seq", requires = "seq_at")]
        seq_kind: String,
        /// The address of the machine a one-end capture was taken on (default: guessed from
        /// sequence gaps, else the first sender).
        #[arg(long, value_name = "ADDRESS")]
        at: Option<std::net::Ipv4Addr>,
        /// The two captures share one clock (same machine, or synchronised far below the
        /// delays): no clock offset is estimated.
        #[arg(long)]
        same_clock: bool,
        /// A node name for an address, ADDRESS=NODE, as your scenario names it (repeatable;
        /// default a, b, c, ... in order of appearance).
        #[arg(long = "name", value_name = "ADDRESS=NODE")]
        names: Vec<String>,
        /// Write the link traces (NODE-to-NODE.csv) and links.toml into this folder.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print nothing on stdout.
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
        /// Use this seed instead of the scenario's (0 to 9223372036854775807, as in a file).
        #[arg(long, value_parser = clap::value_parser!(u64).range(..=udplab_scenario::MAX_SEED))]
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
    /// Run a scenario on the real ESP32-C3 image in QEMU (Espressif's `qemu-system-riscv32 -M
    /// esp32c3`), typing the lesson into its console, and compare the chip's trace with `udplab
    /// run`, line by line.
    ///
    /// The image is built (or taken from --elf) and merged with `espflash save-image --merge`,
    /// or taken as it is from --image. QEMU is found through $UDPLAB_QEMU or on PATH, espflash
    /// through $ESPFLASH or on PATH. Guest time is deterministic (-icount 3); QEMU gets no
    /// network device.
    ///
    /// Exit status: 0 the traces match, 1 they differ, 2 bad input, 4 NOT RUN (no QEMU with the
    /// esp32c3 machine, or no espflash to merge the image), 5 QEMU failed (build, merge, hang
    /// before the banner, panic, wall-clock limit, truncated or garbled log).
    Qemu {
        /// The scenario file (TOML); lessons in scenarios/ are already in the image, any other
        /// file is built in (when the image is built here).
        file: PathBuf,
        /// Use this seed instead of the scenario's (0 to 9223372036854775807, as in a file).
        #[arg(long, value_parser = clap::value_parser!(u64).range(..=udplab_scenario::MAX_SEED))]
        seed: Option<u64>,
        /// Merge this ESP32-C3 ELF instead of building firmware/esp32.
        #[arg(long, conflicts_with = "image")]
        elf: Option<PathBuf>,
        /// Boot this merged flash image (`espflash save-image --chip esp32c3 --merge`) as it is:
        /// no build, no espflash.
        #[arg(long)]
        image: Option<PathBuf>,
        /// Folder holding wokwi.toml and firmware/esp32, to build the image in (default: found
        /// upward from here).
        #[arg(long)]
        project: Option<PathBuf>,
        /// Wall-clock limit for QEMU, seconds; it is killed after this.
        #[arg(long, default_value_t = 600)]
        wall_timeout: u64,
        /// Keep the serial log in this file (written as it arrives).
        #[arg(long)]
        serial_log: Option<PathBuf>,
    },
}

/// The default of `udplab run --max-events`. Time grows with events whatever the output; memory
/// only for the pictures drawn whole (`--svg`, `--mermaid`, `--html`): at this limit about 1.2 GB
/// (about 300 bytes an event), measured with `/usr/bin/time -v`. Every other output is streamed
/// and keeps none (`udplab_teach::streamed`).
pub const DEFAULT_MAX_EVENTS: u64 = 4_000_000;

/// Reads a scenario file and attaches the apps `make` gives it; a file error, or a `code` node
/// left without an app, is reported here and becomes exit status 2.
fn load(make: &MakeSim<'_>, file: &Path) -> Result<Sim<'static>, ExitCode> {
    let scenario = udplab_scenario::load(file).map_err(|e| {
        crate::say!("{e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })?;
    let sim = make(scenario);
    let missing = sim.missing_apps();
    if !missing.is_empty() {
        crate::say!("error: {}: {}", file.display(), missing_apps(&missing));
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(sim)
}

/// What to say when `code` nodes have no app attached: every one of them, and how to attach.
pub fn missing_apps(nodes: &[&str]) -> String {
    let quoted: Vec<String> = nodes.iter().map(|n| format!("`{n}`")).collect();
    let (which, has, its, it) = match quoted.as_slice() {
        [one] => (format!("node {one}"), "has", "its app is", "it"),
        [init @ .., last] => {
            (format!("nodes {} and {last}", init.join(", ")), "have", "their apps are", "them")
        }
        [] => (String::from("no node"), "has", "its app is", "it"),
    };
    let attach: String = nodes.iter().map(|n| format!(".app(\"{n}\", || ...)")).collect();
    format!(
        "{which} {has} role = \"code\" but no app attached: {its} supplied in code, and this command \
         has none for {it}.\n\
         Attach {it} with `udplab::Sim::app` in a test, or run this file with a lab binary built on \
         `udplab_cli::Lab`, which has every udplab command:\n\
         \n    fn main() -> std::process::ExitCode {{\n        udplab_cli::Lab::new(){attach}.main()\n    }}\n\
         \n(examples/telemetry/lab/src/main.rs is one)"
    )
}

/// Runs the command `args` ask for, every scenario with the apps `make` attaches to it: the
/// one code path of `udplab` and of every lab binary (see [`crate::Lab`]).
pub fn run(make: &MakeSim<'_>, args: Args) -> ExitCode {
    match args.command {
        Command::Run { file, output, timeout, max_events, pictures } => {
            let sim = match load(make, &file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if let Err(why) = udplab_teach::within_max_events(sim.scenario(), max_events) {
                crate::say!("error: {}: {why}", file.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            if let Err(e) = pictures.check_writable() {
                crate::say!("error: {e}");
                return ExitCode::from(EXIT_IO);
            }
            let seed = output.seed.unwrap_or(sim.scenario().seed);
            let limit = timeout.map(std::time::Duration::from_secs);
            // Everything but the pictures drawn whole is written as the run goes, keeping
            // nothing (a capture on stdout too, as it would share stdout with the text).
            let requested = pictures.requested();
            let whole = requested.svg.is_some() || requested.mermaid.is_some() || requested.html.is_some();
            if !whole && requested.pcap.as_deref() != Some(Path::new("-")) {
                let print = crate::output::print_of(&output, &pictures);
                let how = udplab_teach::streamed::Streamed { print, pcap: requested.pcap };
                return crate::output::report_streamed(&sim, &file, seed, limit, &how);
            }
            match udplab_teach::run_sim_within(&sim, seed, pictures.pcap.is_some(), limit) {
                Ok((out, captured)) => report_taught(&out, &captured, &output, &pictures),
                Err(e) => {
                    crate::say!("error: {}: {e}", file.display());
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Tap { file, output, firmware, hold, latency_tolerance, timeout, exec, pictures } => {
            let mut sim = match load(make, &file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if latency_tolerance.is_some() {
                sim.scenario_mut().expect.latency_tolerance_us = latency_tolerance;
            }
            crate::tap::main(&sim, &output, &pictures, crate::tap::How { firmware, hold, timeout, exec })
        }
        Command::Sweep { file, vary, seeds, csv, svg, jobs, max_events, shard, merge, quiet } => {
            let sim = match load(make, &file) {
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
                max_events: Some(max_events),
                shard,
                merge,
            };
            match udplab_teach::sweep::command_with(make, sim.scenario(), &request) {
                Ok(_) if quiet => ExitCode::SUCCESS,
                Ok(table) => match crate::streams::to_stdout(&table) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::BrokenPipe {
                            crate::say!("error: writing output: {e}");
                        }
                        ExitCode::from(EXIT_IO)
                    }
                },
                Err(e @ udplab_teach::sweep::SweepError::BadInput(_)) => {
                    crate::say!("error: {e}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
                Err(e @ udplab_teach::sweep::SweepError::Io(_)) => {
                    crate::say!("error: {e}");
                    ExitCode::from(EXIT_IO)
                }
            }
        }
        Command::CaptureImport { files, seq_at, seq_kind, at, same_clock, names, out, quiet } => {
            crate::capture_import::main(crate::capture_import::Request {
                files,
                seq_at,
                seq_kind,
                at,
                same_clock,
                names,
                out,
                quiet,
            })
        }
        Command::Wokwi { file, seed, elf, project, timeout, wall_timeout, serial_log } => {
            let sim = match load(make, &file) {
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
            crate::wokwi::main(&sim, &file, &opts)
        }
        Command::Qemu { file, seed, elf, image, project, wall_timeout, serial_log } => {
            let sim = match load(make, &file) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let opts = crate::qemu::QemuOptions {
                seed,
                elf,
                image,
                project,
                wall_timeout: std::time::Duration::from_secs(wall_timeout),
                serial_log,
            };
            crate::qemu::main(&sim, &file, &opts)
        }
    }
}
