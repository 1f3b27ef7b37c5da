//! Reading a scenario-mode trace back out of a serial log (see `udplab_sim::serial`), and
//! comparing it with the host's own run.

use std::fmt;

use udplab_sim::serial::{BEGIN, END};
use udplab_sim::trace::Digest;

/// A block read from a serial log, checked to be whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialTrace {
    pub seed: u64,
    pub lines: Vec<String>,
}

/// Why a log does not hold a whole trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// The firmware panicked (the line is quoted).
    Panicked(String),
    /// No `@@ begin NAME` line: the scenario never started (wrong name, boot failure).
    NotStarted,
    /// `@@ begin` without `@@ end`: the log stops after this many trace lines.
    Truncated { lines: usize },
    /// The end line is not in the expected form.
    BadEnd(String),
    /// The end line counts a different number of lines than arrived.
    Count { announced: usize, received: usize },
    /// The lines that arrived do not hash to the announced digest: at least one was damaged.
    Digest { announced: u32, computed: u32 },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Panicked(line) => write!(f, "the firmware panicked: {line}"),
            LogError::NotStarted => {
                write!(f, "the log has no `{BEGIN}` line for this scenario: it never ran")
            }
            LogError::Truncated { lines } => {
                write!(f, "the log is truncated: it stops after {lines} trace lines, before the `{END}` line")
            }
            LogError::BadEnd(line) => write!(f, "garbled end line: {line:?}"),
            LogError::Count { announced, received } => write!(
                f,
                "the log is garbled: the firmware printed {announced} trace lines, {received} arrived"
            ),
            LogError::Digest { announced, computed } => write!(
                f,
                "the log is garbled: the lines that arrived hash to {computed:08x}, the firmware announced {announced:08x}"
            ),
        }
    }
}

impl std::error::Error for LogError {}

/// Finds and checks the block for scenario `name` in `log`.
pub fn parse(log: &str, name: &str) -> Result<SerialTrace, LogError> {
    let begin = format!("{BEGIN}{name} seed=");
    let end = format!("{END}{name} ");
    let mut lines = log.lines().map(|l| l.trim_end_matches('\r'));
    let seed = loop {
        let Some(line) = lines.next() else { return Err(LogError::NotStarted) };
        if let Some(p) = panic_line(line) {
            return Err(LogError::Panicked(p));
        }
        if let Some(rest) = line.strip_prefix(&begin) {
            break rest.trim().parse::<u64>().map_err(|_| LogError::BadEnd(line.to_string()))?;
        }
    };
    let mut trace: Vec<String> = Vec::new();
    for line in lines {
        if let Some(p) = panic_line(line) {
            return Err(LogError::Panicked(p));
        }
        if let Some(rest) = line.strip_prefix(&end) {
            let (events, digest) = parse_end(rest).ok_or_else(|| LogError::BadEnd(line.to_string()))?;
            if events != trace.len() {
                return Err(LogError::Count { announced: events, received: trace.len() });
            }
            let mut d = Digest::new();
            for l in &trace {
                d.line(l);
            }
            let computed = d.finish();
            if computed != digest {
                return Err(LogError::Digest { announced: digest, computed });
            }
            return Ok(SerialTrace { seed, lines: trace });
        }
        trace.push(line.to_string());
    }
    Err(LogError::Truncated { lines: trace.len() })
}

/// The line, trimmed, when it is esp-backtrace's panic banner or a Rust panic message.
pub fn panic_line(line: &str) -> Option<String> {
    (line.contains("PANIC") || line.contains("panicked at")).then(|| line.trim().to_string())
}

/// `events=N digest=XXXXXXXX`
fn parse_end(rest: &str) -> Option<(usize, u32)> {
    let mut events = None;
    let mut digest = None;
    for part in rest.split_whitespace() {
        if let Some(v) = part.strip_prefix("events=") {
            events = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("digest=") {
            digest = u32::from_str_radix(v, 16).ok();
        } else {
            return None;
        }
    }
    Some((events?, digest?))
}

/// One place where the two traces disagree (1-based line number in the trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub line: usize,
    pub host: Option<String>,
    pub chip: Option<String>,
}

/// Line-by-line differences; each trace line names its datagram, so this reads datagram by
/// datagram.
pub fn compare(host: &[String], chip: &[String]) -> Vec<Difference> {
    (0..host.len().max(chip.len()))
        .filter(|&i| host.get(i) != chip.get(i))
        .map(|i| Difference { line: i + 1, host: host.get(i).cloned(), chip: chip.get(i).cloned() })
        .collect()
}
