//! How a run's result reaches the user, shared by `udplab run` and `udplab tap`: the output
//! options (`--seed`, `--json`, `--summary`), the teaching options (`--ladder`, `--svg`, `--html`,
//! `--pcap`, ...), and printing the result and turning its verdict into the exit status.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, ValueEnum};
use udplab_sim::net::Captured;
use udplab_teach::RunOutput;

use crate::exit::{EXIT_EXPECTATIONS, EXIT_IO};

/// How a run's result is printed.
#[derive(Debug, Clone, ClapArgs)]
pub struct Output {
    /// Use this seed instead of the scenario's (0 to 9223372036854775807, as in a file).
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=udplab_scenario::MAX_SEED))]
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

impl Pictures {
    /// The ladder's width: `--width`, else the terminal's when stdout is one.
    pub fn columns(&self) -> Option<usize> {
        self.width.map(usize::from).or_else(terminal_columns)
    }
}

/// The width of the terminal stdout is, if it is one: `COLUMNS` when the shell exports it,
/// else the terminal's own idea (TIOCGWINSZ).
fn terminal_columns() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).filter(|c| *c > 0) {
        return Some(c);
    }
    #[cfg(unix)]
    {
        let mut size = nix::libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct it is given, and nothing else.
        let ok = unsafe { nix::libc::ioctl(nix::libc::STDOUT_FILENO, nix::libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col > 0 {
            return Some(usize::from(size.ws_col));
        }
    }
    None
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
    /// Fit the ladder to this many columns: a row's note wraps onto lines of its own under it,
    /// lifelines running on (default: the terminal's width when stdout is a terminal, else no
    /// limit).
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
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
    /// Checks, before a run, that every requested file can be written where it was asked for,
    /// so a real-clock run does not end with "cannot write" after minutes.
    pub fn check_writable(&self) -> Result<(), udplab_teach::files::WriteError> {
        for path in [&self.svg, &self.mermaid, &self.html, &self.pcap].into_iter().flatten() {
            if path.as_os_str() == "-" && crate::streams::stdout_closed() {
                let message = "standard output is closed".to_string();
                return Err(udplab_teach::files::WriteError { path: path.clone(), message });
            }
            udplab_teach::files::check_writable(path)?;
        }
        Ok(())
    }

    pub fn requested(&self) -> udplab_teach::Requested {
        udplab_teach::Requested {
            svg: self.svg.clone(),
            mermaid: self.mermaid.clone(),
            html: self.html.clone(),
            pcap: self.pcap.clone(),
        }
    }
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
        udplab_teach::ladder_text(out, pictures.color.enabled(), pictures.columns())
    } else {
        default_text(out, output)
    };
    let code = print_and_judge(out, &text);
    match written {
        Ok(()) => code,
        Err(e) => {
            crate::say!("error: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// What a run prints on stdout, from the options.
pub(crate) fn print_of(output: &Output, pictures: &Pictures) -> udplab_teach::streamed::Print {
    use udplab_teach::streamed::Print;
    if pictures.quiet {
        Print::Nothing
    } else if pictures.ladder {
        Print::Ladder { color: pictures.color.enabled(), columns: pictures.columns() }
    } else if output.json {
        Print::Json
    } else if output.summary {
        Print::Summary
    } else {
        Print::Timeline
    }
}

/// Runs `sim` printing and writing what `how` asks as it happens, keeping no trace
/// ([`udplab_teach::streamed`]), and turns the verdict into the exit status (3 when the capture
/// could not be written): what `udplab run` does when no output needs the whole run. `file`
/// names the scenario in errors.
pub(crate) fn report_streamed(
    sim: &udplab_sim::Sim<'_>,
    file: &std::path::Path,
    seed: u64,
    limit: Option<std::time::Duration>,
    how: &udplab_teach::streamed::Streamed,
) -> ExitCode {
    let prints = how.print != udplab_teach::streamed::Print::Nothing;
    if prints && crate::streams::stdout_closed() {
        crate::say!("error: writing output: {}", crate::streams::stdout_closed_error());
        return ExitCode::from(EXIT_IO);
    }
    let mut stdout = std::io::stdout().lock();
    let streamed = udplab_teach::streamed::stream_run(sim, seed, limit, how, &mut stdout);
    drop(stdout);
    match streamed {
        Ok(run) => {
            let code = print_and_judge(&run.output, "");
            match run.pcap {
                Ok(()) => code,
                Err(e) => {
                    crate::say!("error: {e}");
                    ExitCode::from(EXIT_IO)
                }
            }
        }
        Err(udplab_teach::StreamError::Start(e)) => {
            crate::say!("error: {}: {e}", file.display());
            ExitCode::from(crate::exit::EXIT_BAD_INPUT)
        }
        Err(udplab_teach::StreamError::Write(e)) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                crate::say!("error: writing output: {e}");
            }
            ExitCode::from(EXIT_IO)
        }
    }
}

/// Prints `text` and turns the run's verdict into the exit status.
fn print_and_judge(out: &RunOutput, text: &str) -> ExitCode {
    if let Err(e) = crate::streams::to_stdout(text) {
        // A closed pipe (`udplab run x | head`) is not worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            crate::say!("error: writing output: {e}");
        }
        return ExitCode::from(EXIT_IO);
    }
    if let Some(why) = &out.incomplete {
        crate::say!("incomplete: {why}");
        ExitCode::from(crate::exit::EXIT_INCOMPLETE)
    } else if out.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &out.failures {
            crate::say!("expectation failed: {f}");
        }
        ExitCode::from(EXIT_EXPECTATIONS)
    }
}
