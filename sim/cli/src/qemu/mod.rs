//! `udplab qemu`: the real ESP32-C3 image booted in an ESP32-C3-capable QEMU (Espressif's
//! builds: `qemu-system-riscv32 -M esp32c3`), the lesson typed into its console, and the trace
//! it prints compared with `udplab run` line by line, exactly as `udplab wokwi` does (the same
//! parser, comparison and exit statuses, [`crate::chip`]).
//!
//! Where no such QEMU (or, to merge the image, no espflash) is installed, the command says it did
//! not run, and why, with its own exit status: never a pass.

pub mod command;
pub mod console;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use udplab_sim::Sim;

use crate::chip::{self, BANNER, Failure, serial_log};
use crate::exit::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};
use command::{ESPFLASH_PROGRAM, QEMU_PROGRAM, RELEASES};
use console::{Ending, Session};

/// How long `qemu-system-riscv32 -machine help` may take.
const PROBE_LIMIT: Duration = Duration::from_secs(30);
/// How long `espflash save-image` may take.
const MERGE_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct QemuOptions {
    pub seed: Option<u64>,
    /// Merge this ESP32-C3 ELF instead of building firmware/esp32.
    pub elf: Option<PathBuf>,
    /// Boot this merged flash image as it is (no build, no espflash).
    pub image: Option<PathBuf>,
    /// The folder with wokwi.toml and firmware/esp32 (default: found upward from here).
    pub project: Option<PathBuf>,
    /// Wall-clock limit for QEMU; it is killed after this.
    pub wall_timeout: Duration,
    /// Keep the serial log here.
    pub serial_log: Option<PathBuf>,
}

/// Why nothing ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRun {
    /// No QEMU found (what was tried).
    NoQemu(String),
    /// This QEMU has no ESP32-C3 machine.
    NoMachine(PathBuf),
    /// `-machine help` could not be run (the QEMU and why).
    Probe(PathBuf, String),
    /// No espflash to merge the image with (what was tried).
    NoEspflash(String),
}

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let get = format!(
            "udplab qemu needs a QEMU with Espressif's ESP32-C3 machine: download a release build \
             (qemu-riscv32-softmmu-...-x86_64-linux-gnu.tar.xz) from {RELEASES}, unpack it and put its \
             qemu/bin on PATH or point UDPLAB_QEMU at qemu/bin/{QEMU_PROGRAM}."
        );
        match self {
            NotRun::NoQemu(tried) => write!(f, "{QEMU_PROGRAM} was not found ({tried}). {get}"),
            NotRun::NoMachine(qemu) => write!(
                f,
                "{} has no esp32c3 machine (`-machine help` does not list it; upstream QEMU does not \
                 emulate the ESP32-C3). {get}",
                qemu.display()
            ),
            NotRun::Probe(qemu, why) => {
                write!(f, "could not ask {} for its machines (-machine help): {why}. {get}", qemu.display())
            }
            NotRun::NoEspflash(tried) => write!(
                f,
                "{ESPFLASH_PROGRAM} was not found ({tried}); it merges bootloader, partition table and app \
                 into the flash image QEMU boots. Install it with `cargo install espflash --locked` (or point \
                 ESPFLASH at it), or pass --image with an image merged by \
                 `espflash save-image --chip esp32c3 --merge ELF FILE`."
            ),
        }
    }
}

/// The tools a run needs.
#[derive(Debug, Clone)]
pub struct Tools {
    pub qemu: PathBuf,
    /// None when the image is given (`--image`).
    pub espflash: Option<PathBuf>,
}

/// Finds an ESP32-C3-capable QEMU and, when `merge` is set, espflash; or says what is missing.
pub fn preflight(merge: bool) -> Result<Tools, NotRun> {
    let qemu = chip::find_tool("UDPLAB_QEMU", QEMU_PROGRAM).map_err(NotRun::NoQemu)?;
    let mut probe = Command::new(&qemu);
    probe.args(["-machine", "help"]);
    let (status, help) =
        output_within(&mut probe, PROBE_LIMIT).map_err(|e| NotRun::Probe(qemu.clone(), e))?;
    if !command::lists_esp32c3(&help) {
        if !status.success() {
            return Err(NotRun::Probe(qemu, format!("it exited with {status}")));
        }
        return Err(NotRun::NoMachine(qemu));
    }
    let espflash = if merge {
        Some(chip::find_tool("ESPFLASH", ESPFLASH_PROGRAM).map_err(NotRun::NoEspflash)?)
    } else {
        None
    };
    Ok(Tools { qemu, espflash })
}

/// Runs `cmd` with its stdout captured (stderr passed through), killing it after `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> Result<(std::process::ExitStatus, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {:?}: {e}", cmd.get_program()))?;
    let mut out = child.stdout.take().ok_or("stdout was not captured")?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = out.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{:?} did not finish within {} s", cmd.get_program(), limit.as_secs()));
            }
            Err(e) => return Err(format!("waiting for {:?}: {e}", cmd.get_program())),
        }
    };
    Ok((status, reader.join().unwrap_or_default()))
}

/// Merges `elf` into the flash image `out` with espflash.
fn merge(espflash: &Path, elf: &Path, out: &Path) -> Result<(), String> {
    let args = command::merge_args(elf, out);
    crate::say!("merging the image: {} {}", espflash.display(), args.join(" "));
    let mut cmd = Command::new(espflash);
    // No update check: nothing here talks to the network.
    cmd.args(&args).env("ESPFLASH_SKIP_UPDATE_CHECK", "true");
    let (status, stdout) = output_within(&mut cmd, MERGE_LIMIT)?;
    if !status.success() {
        return Err(format!("{} save-image failed ({status}) {}", espflash.display(), stdout.trim()));
    }
    if !out.is_file() {
        return Err(format!("{} save-image wrote no {}", espflash.display(), out.display()));
    }
    Ok(())
}

/// Runs `sim`'s scenario on the ESP32-C3 image in QEMU and compares the chip's trace with the
/// in-memory run of `sim` (its apps and labeller) with the same seed.
pub fn main(sim: &Sim<'_>, file: &Path, opts: &QemuOptions) -> ExitCode {
    let name = match chip::scenario_name(file) {
        Ok(n) => n,
        Err(e) => return bad_input(e),
    };
    let seed = opts.seed.unwrap_or(sim.scenario().seed);
    for given in [&opts.image, &opts.elf].into_iter().flatten() {
        if !given.exists() {
            return bad_input(format!("{}: no such file", given.display()));
        }
    }
    let tools = match preflight(opts.image.is_none()) {
        Ok(tools) => tools,
        Err(why) => {
            crate::say!("NOT RUN: {why}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    // The log file is opened before anything runs, so a bad path costs nothing.
    let mut log_file = match &opts.serial_log {
        Some(path) => match File::create(path) {
            Ok(f) => Some(f),
            Err(e) => return bad_input(format!("{}: {e}", path.display())),
        },
        None => None,
    };
    let work = std::env::temp_dir().join(format!("udplab-qemu-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        return chip::report("QEMU", &name, seed, Err(Failure::Failed(format!("{}: {e}", work.display()))));
    }
    let verdict = match flash_image(file, opts, &tools, &work) {
        Ok(image) => run_image(sim, &name, seed, &tools.qemu, &image, opts.wall_timeout, &mut log_file),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&work);
    chip::report("QEMU", &name, seed, verdict)
}

fn bad_input(message: String) -> ExitCode {
    crate::say!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// The merged flash image to boot: `--image` as given, else `--elf` (or the lesson image, built
/// here) merged by espflash into `work`.
fn flash_image(file: &Path, opts: &QemuOptions, tools: &Tools, work: &Path) -> Result<PathBuf, Failure> {
    if let Some(image) = &opts.image {
        return Ok(image.clone());
    }
    let elf = match &opts.elf {
        Some(elf) => elf.clone(),
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let project = opts.project.clone().or_else(|| chip::find_project(&cwd)).ok_or_else(|| {
                Failure::BadInput("no wokwi.toml here or above; pass --project DIR, --elf or --image".into())
            })?;
            chip::build_image(&project, file).map_err(Failure::Failed)?;
            chip::lesson_elf(&project).map_err(Failure::BadInput)?
        }
    };
    let espflash =
        tools.espflash.as_deref().ok_or_else(|| Failure::Failed("no espflash to merge with".into()))?;
    let image = work.join("udplab-esp32c3.bin");
    merge(espflash, &elf, &image).map_err(|e| Failure::Failed(format!("could not merge the image: {e}")))?;
    Ok(image)
}

/// Boots `image`, types the scenario's command and judges what the console printed.
fn run_image(
    sim: &Sim<'_>,
    name: &str,
    seed: u64,
    qemu: &Path,
    image: &Path,
    wall: Duration,
    log_file: &mut Option<File>,
) -> Result<usize, Failure> {
    let args = command::qemu_args(image);
    let typed = chip::console_command(name, seed);
    let begin = begin_line(name, seed);
    let end = format!("{}{name} ", udplab_sim::serial::END);
    crate::say!("running {} {}", qemu.display(), args.join(" "));
    crate::say!("typing `{typed}` at the `{BANNER}` banner (wall-clock limit {} s)", wall.as_secs());
    let plan = console::Plan { program: qemu, args: &args, command: &typed, begin: &begin, end: &end, wall };
    let mut write_error = None;
    let session = console::run(&plan, &mut |line| {
        if let Some(f) = log_file.as_mut()
            && let Err(e) = f.write_all(line.as_bytes())
        {
            write_error.get_or_insert(e);
        }
    })
    .map_err(Failure::Failed)?;
    if let Some(e) = write_error {
        crate::say!("warning: the serial log could not be written whole: {e}");
    }
    judge(sim, name, seed, &typed, &session, wall)
}

/// Decides the outcome from how the session ended and what the serial port printed.
fn judge(
    sim: &Sim<'_>,
    name: &str,
    seed: u64,
    typed: &str,
    session: &Session,
    wall: Duration,
) -> Result<usize, Failure> {
    let fail = |m: String| Err(Failure::Failed(format!("{m}{}", context(session))));
    // Read from the block the command asked for: should the board have started its own `all`
    // before the command arrived, the blocks it printed first do not count.
    let parsed = serial_log::parse(from_line(&session.log, &begin_line(name, seed)), name);
    match &session.ending {
        Ending::Finished | Ending::Panicked => {}
        Ending::Refused(line) => {
            return fail(format!("the console answered `{typed}` with `{line}` (is {name} in this image?)"));
        }
        Ending::Killed if !session.banner => return fail(hang_message(wall)),
        Ending::Exited(code) if !session.banner => {
            return fail(format!(
                "the emulator exited ({}) before the console's `{BANNER}` banner",
                status(*code)
            ));
        }
        Ending::Flooded => {
            return fail(format!(
                "the serial port printed more than {} MiB without finishing the run",
                console::LOG_MAX / (1024 * 1024)
            ));
        }
        Ending::Killed => {
            let why = parsed.err().map(|e| format!(": {e}")).unwrap_or_default();
            return fail(format!(
                "the emulator was killed after {} s (wall-clock limit){why}",
                wall.as_secs()
            ));
        }
        Ending::Exited(code) => {
            let why = parsed.err().map(|e| format!(": {e}")).unwrap_or_default();
            return fail(format!("the emulator exited ({}) before the run finished{why}", status(*code)));
        }
    }
    match parsed {
        Ok(trace) => chip::compare(sim, name, seed, &trace),
        Err(e) => fail(e.to_string()),
    }
}

/// `log` from its first line that is exactly `line` (the whole log when none is).
fn from_line<'a>(log: &'a str, line: &str) -> &'a str {
    let mut at = 0;
    for l in log.split_inclusive('\n') {
        if l.trim_end_matches(['\n', '\r']) == line {
            return &log[at..];
        }
        at += l.len();
    }
    log
}

/// The line that opens the block for `name` and `seed` (`udplab_sim::serial`).
fn begin_line(name: &str, seed: u64) -> String {
    format!("{}{name} seed={seed}", udplab_sim::serial::BEGIN)
}

fn status(code: Option<i32>) -> String {
    code.map_or_else(|| "killed by a signal".into(), |c| format!("exit status {c}"))
}

/// What to say when the banner never came.
fn hang_message(wall: Duration) -> String {
    format!(
        "no `{BANNER}` banner within {} s: the image hung before its console started, and QEMU was \
         killed (wall-clock limit). If the log stops after the bootloader, this QEMU may answer 0 for \
         the ESP32-C3 interrupt matrix status registers (0xF8/0xFC), on which esp-hal 1.2's software \
         interrupt busy-waits; Espressif's 9.x QEMU releases ({RELEASES}) boot the image.",
        wall.as_secs()
    )
}

/// How much of one serial line a failure message quotes.
const QUOTED_MAX: usize = 200;

/// The first `max` bytes of `line` (whole characters), marked when cut.
fn clip(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &line[..end], line.len())
}

/// The last lines of the serial log and of QEMU's stderr, for a failure message.
fn context(session: &Session) -> String {
    let mut s = String::new();
    let lines: Vec<&str> = session.log.lines().collect();
    let last = &lines[lines.len().saturating_sub(5)..];
    if last.is_empty() {
        s.push_str("\n  the serial port printed nothing");
    } else {
        s.push_str("\n  last lines of the serial log:");
        for l in last {
            s.push_str(&format!("\n    {}", clip(l.trim_end_matches('\r'), QUOTED_MAX)));
        }
    }
    if !session.stderr.is_empty() {
        s.push_str("\n  QEMU's stderr:");
        for l in session.stderr.lines() {
            s.push_str(&format!("\n    {l}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_reads_from_the_block_with_the_seed_asked_for() {
        let log = "ready\r\n@@ begin a seed=10\r\nx\r\n@@ begin a seed=1\r\ny\n";
        assert_eq!(from_line(log, &begin_line("a", 1)), "@@ begin a seed=1\r\ny\n");
        assert_eq!(from_line(log, &begin_line("a", 10)), &log[7..]);
        assert_eq!(from_line(log, &begin_line("a", 2)), log);
        assert_eq!(from_line("@@ begin a seed=1", &begin_line("a", 1)), "@@ begin a seed=1");
    }

    #[test]
    fn quoted_lines_are_clipped_on_character_boundaries() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 3), "abc... (6 bytes)");
        assert_eq!(clip("aéb", 2), "a... (4 bytes)");
    }

    #[test]
    fn not_run_says_where_to_get_what_is_missing() {
        let no_qemu = NotRun::NoQemu("looked at $UDPLAB_QEMU and on $PATH".into()).to_string();
        assert!(no_qemu.contains(RELEASES) && no_qemu.contains("UDPLAB_QEMU"), "{no_qemu}");
        let no_espflash = NotRun::NoEspflash("looked at $ESPFLASH and on $PATH".into()).to_string();
        assert!(no_espflash.contains("cargo install espflash") && no_espflash.contains("--image"));
    }
}
