//! The ladder (sequence) diagram for a terminal: one column per node, one row per datagram in
//! the order sent, an arrow from sender to receiver, and what happened to it on the right.
//!
//! ```text
//!       sent  laptop                         board
//!   0.100000  |-- #2 seq=2 ----------------->|  +5.000ms
//!   0.200000  |-- #3 seq=3 ---------X        |  LOST: random loss (20%)
//!             |== #4 copy ==================>|  +6.100ms: duplicate of #4
//! ```
//!
//! ASCII only, so it survives any terminal, log file or copy-paste; colour (ANSI) is optional
//! and added around whole rows, so the plain text is the same with and without it.

use std::fmt::Write;

use udplab_firmware::app::Ms;
use udplab_sim::trace::Time;

use udplab_sim::Scenario;

use super::story::{CopyEnd, Datagram, Note, Step, Story, Words, corruption_words, overtook_words};

/// What kind of row, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Lost,
    Reordered,
    Duplicate,
    Corrupted,
    InFlight,
    Problem,
    Info,
}

impl Tone {
    /// The ANSI SGR code of the tone.
    fn ansi(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Lost | Tone::Problem => Some("\x1b[31m"),
            Tone::Reordered => Some("\x1b[35m"),
            Tone::Duplicate => Some("\x1b[33m"),
            Tone::Corrupted => Some("\x1b[36m"),
            Tone::InFlight => Some("\x1b[2m"),
            // Bright blue: plain blue is hard to read on a dark terminal.
            Tone::Info => Some("\x1b[94m"),
        }
    }
}

/// The shape of an arrow's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// All the way, with a head.
    Whole,
    /// A duplicate copy: drawn with `=`.
    Copy,
    /// Stops half way with an `X`.
    Lost,
    /// Half way solid, then dotted, no head: still inside the link when the run ended.
    InFlight,
}

/// Renders the ladder of `story`; `color` adds ANSI colours; `columns`, the terminal's width,
/// wraps what is said about a row onto lines of its own, under that row's text and with the
/// lifelines running on, rather than letting the terminal wrap it into column 0.
pub fn render(story: &Story, seed: u64, color: bool, columns: Option<usize>) -> String {
    let longest = story.datagrams.iter().map(label_len).max();
    let rows = Rows::new(story.scenario, longest, color, columns);
    let mut out = rows.head(seed);
    for step in &story.steps {
        match step {
            Step::Datagram(i) => {
                let Some(d) = story.datagrams.get(*i) else { continue };
                rows.datagram(&mut out, story, d);
            }
            Step::Note(n) => rows.note(&mut out, story, n),
        }
    }
    out
}

/// How long the arrow label of `d` is: the widest one sets the distance between lifelines.
pub(crate) fn label_len(d: &Datagram) -> usize {
    arrow_label(d, 0).len()
}

/// The ladder's geometry, fixed before the first row: the streamed ladder
/// ([`crate::streamed`]) measures the labels in a first run and draws rows as the second goes.
pub(crate) struct Rows<'s> {
    scenario: &'s Scenario,
    gap: usize,
    width: usize,
    color: bool,
    columns: Option<usize>,
}

impl<'s> Rows<'s> {
    /// `longest`: the longest arrow label ([`label_len`]) of the run, if it has datagrams.
    pub(crate) fn new(
        scenario: &'s Scenario,
        longest: Option<usize>,
        color: bool,
        columns: Option<usize>,
    ) -> Rows<'s> {
        let nodes = scenario.nodes.len().max(1);
        let gap = (2 * (longest.unwrap_or(8) + 6)).max(24);
        Rows { scenario, gap, width: (nodes - 1) * gap + 1, color, columns }
    }

    /// The title, the legend and the node names.
    pub(crate) fn head(&self, seed: u64) -> String {
        let mut out = String::new();
        let title = format!("ladder of {}, seed {}:", self.scenario.name, seed);
        let what = "one row per datagram in the order sent; +T: its latency";
        let legend = ["X: lost on the way", "==>: duplicate copy", "...: still in flight when the run ended"];
        let narrow = |len: usize| self.columns.is_some_and(|c| len > c);
        if narrow(title.len() + 1 + what.len()) {
            let _ = writeln!(out, "{title}\n  {what}");
        } else {
            let _ = writeln!(out, "{title} {what}");
        }
        if narrow(2 + legend.join("   ").len()) {
            for item in legend {
                let _ = writeln!(out, "  {item}");
            }
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {}\n", legend.join("   "));
        }
        // Node names, each starting at its lifeline.
        let mut names = String::new();
        for (i, n) in self.scenario.nodes.iter().enumerate() {
            let at = i * self.gap;
            while names.len() < at {
                names.push(' ');
            }
            if !names.is_empty() && !names.ends_with(' ') {
                names.push(' ');
            }
            names.push_str(&n.name);
        }
        let _ = writeln!(out, "{:>10}  {}", "sent", names.trim_end());
        out
    }

    /// The rows of one datagram: one per copy, or one for a lost datagram.
    pub(crate) fn datagram(&self, out: &mut String, words: &Words, d: &Datagram) {
        datagram_rows(out, words, d, self);
    }

    /// The row of one note.
    pub(crate) fn note(&self, out: &mut String, words: &Words, n: &Note) {
        note_row(out, words, n, self);
    }
}

fn datagram_rows(out: &mut String, story: &Words, d: &Datagram, rows: &Rows<'_>) {
    let (gap, width) = (rows.gap, rows.width);
    let (from, to) = (d.from * gap, d.to * gap);
    let time = Time(d.sent_us).to_string();
    if let Some(reason) = d.lost() {
        let lane = arrow(width, gap, from, to, Shape::Lost, &arrow_label(d, 0));
        let note = format!("LOST: {}", story.loss_reason(d.link, reason));
        row(out, &time, &lane, &note, Tone::Lost, rows);
        return;
    }
    for (k, c) in d.copies.iter().enumerate() {
        let shape = match (c.end, c.copy) {
            (CopyEnd::InFlight { .. }, _) => Shape::InFlight,
            (_, 0) => Shape::Whole,
            _ => Shape::Copy,
        };
        let lane = arrow(width, gap, from, to, shape, &arrow_label(d, c.copy));
        let (note, tone) = copy_note(d, c.copy, c.end);
        let time = if k == 0 { time.as_str() } else { "" };
        row(out, time, &lane, &note, tone, rows);
    }
}

/// The label on the arrow of copy `copy`.
fn arrow_label(d: &Datagram, copy: u8) -> String {
    if copy > 0 { format!("#{} copy", d.index) } else { d.short_label() }
}

/// What the right-hand column says about one copy, and its tone.
fn copy_note(d: &Datagram, copy: u8, end: CopyEnd) -> (String, Tone) {
    let mut parts: Vec<String> = Vec::new();
    let mut tone = Tone::Plain;
    let p = d.passage();
    match end {
        CopyEnd::Arrived { latency_us, .. } => {
            let mut first = format!("+{}", Ms(latency_us));
            if copy > 0 {
                let _ = write!(first, ": duplicate of #{}", d.index);
                tone = Tone::Duplicate;
            }
            parts.push(first);
        }
        CopyEnd::InFlight { .. } => {
            parts.push("still in flight when the run ended".to_string());
            tone = Tone::InFlight;
        }
    }
    if copy == 0 {
        if let Some(a) = d.attempt() {
            parts.push(format!("retransmission (attempt {a})"));
        }
        if let Some(p) = p {
            if p.queued_us > 0 {
                parts.push(format!("{} at the rate limit", Ms(p.queued_us)));
            }
            if p.held_us > 0 {
                parts.push(format!("held back {}", Ms(p.held_us)));
                if tone == Tone::Plain {
                    tone = Tone::Reordered;
                }
            }
            if p.copies > 1 {
                parts.push("DUPLICATED".to_string());
                if tone == Tone::Plain {
                    tone = Tone::Duplicate;
                }
            }
        }
        if d.overtook.count > 0 {
            parts.push(format!("overtook {}", overtook_words(&d.overtook)));
            if tone == Tone::Plain {
                tone = Tone::Reordered;
            }
        }
    }
    if let CopyEnd::Arrived { overtaken_by: Some(later), .. } = end {
        parts.push(format!("REORDERED: #{later} arrived first"));
        tone = Tone::Reordered;
    }
    if let Some(c) = d.corrupted() {
        parts.push(corruption_words(c).replacen("corrupted", "CORRUPTED", 1));
        if tone == Tone::Plain || tone == Tone::Duplicate {
            tone = Tone::Corrupted;
        }
    }
    (parts.join(", "), tone)
}

fn note_row(out: &mut String, story: &Words, n: &Note, rows: &Rows<'_>) {
    let mut lane = lifelines(rows.width, rows.gap);
    if let Some(c) = lane.get_mut(n.node * rows.gap) {
        *c = b'o';
    }
    let text = format!("{}: {}", story.node_name(n.node), n.text);
    let tone = if n.problem { Tone::Problem } else { Tone::Info };
    row(out, &Time(n.at_us).to_string(), &lane, &text, tone, rows);
}

/// One row, and its note's continuation lines when `rows.columns` is too narrow for it.
fn row(out: &mut String, time: &str, lane: &[u8], note: &str, tone: Tone, rows: &Rows<'_>) {
    let lane = String::from_utf8_lossy(lane);
    let code = if rows.color { tone.ansi() } else { None };
    // Time (10), two spaces, the lane, two spaces: where the note starts.
    let indent = 10 + 2 + lane.len() + 2;
    let room = rows.columns.map_or(usize::MAX, |c| c.saturating_sub(indent).max(20));
    let pieces = wrap_words(note, room);
    let continued = String::from_utf8_lossy(&lifelines(rows.width, rows.gap)).into_owned();
    for (i, piece) in pieces.iter().enumerate() {
        let (t, l) = if i == 0 { (time, lane.as_ref()) } else { ("", continued.as_str()) };
        match code {
            Some(code) => {
                let _ = writeln!(out, "{t:>10}  {code}{l}  {piece}\x1b[0m");
            }
            None => {
                let _ = writeln!(out, "{t:>10}  {l}  {piece}");
            }
        }
    }
}

/// `text` in lines of at most `room` characters, broken between words (a word longer than
/// `room` gets a line of its own).
fn wrap_words(text: &str, room: usize) -> Vec<String> {
    if text.len() <= room {
        return vec![text.to_string()];
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// A row of lifelines `|`, one every `gap` columns.
fn lifelines(width: usize, gap: usize) -> Vec<u8> {
    (0..width).map(|x| if x % gap == 0 { b'|' } else { b' ' }).collect()
}

/// One arrow from column `from` to column `to` across the lifelines.
fn arrow(width: usize, gap: usize, from: usize, to: usize, shape: Shape, label: &str) -> Vec<u8> {
    let mut lane = lifelines(width, gap);
    if from == to || from >= width || to >= width {
        return lane;
    }
    let right = to > from;
    let (lo, hi) = if right { (from, to) } else { (to, from) };
    let mid = lo + (hi - lo) / 2;
    let fill = if shape == Shape::Copy { b'=' } else { b'-' };
    // The columns the line covers, from the sender outwards.
    let (start, end) = match shape {
        Shape::Lost => {
            if right {
                (lo + 1, mid - 1)
            } else {
                (mid + 1, hi - 1)
            }
        }
        _ => (lo + 1, hi - 1),
    };
    if let Some(line) = lane.get_mut(start..=end) {
        line.fill(fill);
    }
    match shape {
        Shape::Whole | Shape::Copy => {
            if right {
                lane[hi - 1] = b'>';
            } else {
                lane[lo + 1] = b'<';
            }
        }
        Shape::Lost => lane[mid] = b'X',
        Shape::InFlight => {
            // Dotted over the half nearer the receiver.
            let dotted: Vec<usize> = if right { (mid..hi).collect() } else { (lo + 1..=mid).collect() };
            for x in dotted {
                lane[x] = if (x - lo) % 2 == 0 { b'.' } else { b' ' };
            }
        }
    }
    // The label, two dashes away from the sender, padded by a space on each side.
    let text = format!(" {label} ");
    let len = text.len();
    let room = end.saturating_sub(start);
    if len + 2 <= room {
        let at = if right { lo + 3 } else { hi - 2 - len };
        lane[at..at + len].copy_from_slice(text.as_bytes());
    }
    lane
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn arrows_point_the_right_way_and_lost_ones_stop_half_way() {
        assert_eq!(s(arrow(21, 20, 0, 20, Shape::Whole, "#1")), "|-- #1 ------------>|");
        assert_eq!(s(arrow(21, 20, 20, 0, Shape::Whole, "#1")), "|<------------ #1 --|");
        assert_eq!(s(arrow(21, 20, 0, 20, Shape::Lost, "#1")), "|-- #1 ---X         |");
        assert_eq!(s(arrow(21, 20, 20, 0, Shape::Lost, "#1")), "|         X--- #1 --|");
        assert_eq!(s(arrow(21, 20, 0, 20, Shape::Copy, "#1")), "|== #1 ============>|");
        assert_eq!(s(arrow(21, 20, 0, 20, Shape::InFlight, "#1")), "|-- #1 ---. . . . . |");
    }
}
