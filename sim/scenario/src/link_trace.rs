//! Link-trace files: the recorded fates a `[[link]]` with `trace = "FILE"` replays
//! ([`udplab_sim::replay`]), as `udplab capture-import` writes them.
//!
//! A CSV file, one row per datagram the sender offered, in the order offered, so that `diff`
//! between two imports reads well:
//!
//! ```text
//! # udplab link trace 1: 10.0.0.2:49152 -> 10.0.0.1:7, imported from laptop.pcapng
//! key,label,offered_us,fate,delay_us,copy_delay_us,damage
//! 5d1c3b0e9f2a4417,seq=1,0,delivered,1020,,
//! 0c9e1f7d2b3a5c60,seq=2,20000,lost,,,
//! 77aa31c0d4e5f611,seq=3,40000,delivered,1003,1451,
//! 19b2c3d4e5f60718,seq=4,60000,delivered,998,,checksum-bad
//! ```
//!
//! - `key`: the datagram's content key in hexadecimal ([`udplab_sim::replay::content_key`]),
//!   which is how a run finds the row: what the datagram is, not when it came.
//! - `label`: what udplab calls the datagram (for the reader; not read back).
//! - `offered_us`: when the sender offered it, from the start of the capture (for the reader
//!   and for fitting; a replay does not use it).
//! - `fate`: `lost` or `delivered`. `delay_us` (one-way delay of the first copy) is required for
//!   `delivered` and empty for `lost`; `copy_delay_us` is set when the network duplicated it.
//! - `damage`: empty, or the payload arrived damaged: `checksum-bad` (the UDP checksum no longer
//!   matched, so a receiving stack drops it), `bit=N` (payload bit N differed and the checksum
//!   still matched), or `checksum-bad bit=N`.
//!
//! Lines starting with `#` are comments, blank lines are ignored. Anything else is an error
//! that names the file, line and column, like the scenario parser's.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use udplab_sim::replay::{LinkTrace, Recorded, RecordedDamage};

use crate::ScenarioError;

/// The header line every trace file has, after its comments.
pub const HEADER: &str = "key,label,offered_us,fate,delay_us,copy_delay_us,damage";

/// The largest trace file read: 16 MiB, about 250 000 rows.
pub const MAX_TRACE_BYTES: u64 = 16 * 1024 * 1024;

/// Longest one-way delay a row may give: one hour. A longer one is a clock error in the
/// capture, not a network.
pub const MAX_DELAY_US: u64 = 3_600_000_000;

/// One row of a trace file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRow {
    pub key: u64,
    pub label: String,
    pub offered_us: u64,
    /// `None`: lost.
    pub delay_us: Option<u64>,
    pub copy_delay_us: Option<u64>,
    pub damage: Option<RecordedDamage>,
}

/// Writes `rows` as a trace file, after `comments` (each line gets its `# `).
pub fn write(comments: &[String], rows: &[TraceRow]) -> String {
    let mut out = String::with_capacity(64 * rows.len() + 256);
    for c in comments {
        for line in c.lines() {
            let _ = writeln!(out, "# {line}");
        }
    }
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        let label: String = r.label.chars().map(|c| if c == ',' || c == '\n' { ';' } else { c }).collect();
        let _ = write!(out, "{:016x},{label},{},", r.key, r.offered_us);
        match r.delay_us {
            None => out.push_str("lost,,,"),
            Some(d) => {
                let _ = write!(out, "delivered,{d},");
                if let Some(d2) = r.copy_delay_us {
                    let _ = write!(out, "{d2}");
                }
                out.push(',');
                if let Some(damage) = r.damage {
                    out.push_str(&damage_text(damage));
                }
            }
        }
        out.push('\n');
    }
    out
}

fn damage_text(d: RecordedDamage) -> String {
    match (d.checksum_fixed, d.bit) {
        (false, None) => "checksum-bad".to_owned(),
        (false, Some(b)) => format!("checksum-bad bit={b}"),
        (true, Some(b)) => format!("bit={b}"),
        // A fixed checksum with no known bit cannot come from a capture; the dice choose.
        (true, None) => "bit=?".to_owned(),
    }
}

/// Parses a trace file's text; `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<Vec<TraceRow>, ScenarioError> {
    let err = |span: Range<usize>, msg: String| ScenarioError::at(path, text, span, msg);
    let mut rows = Vec::new();
    let mut header_seen = false;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            if line != HEADER {
                return Err(err(
                    start..start + line.len(),
                    format!("expected the header line `{HEADER}` (is this a udplab link trace?)"),
                ));
            }
            header_seen = true;
            continue;
        }
        rows.push(row(line, start, &err)?);
    }
    if !header_seen {
        return Err(err(
            0..0,
            format!("the trace has no header line `{HEADER}`: is this a udplab link trace?"),
        ));
    }
    Ok(rows)
}

fn row(
    line: &str,
    start: usize,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<TraceRow, ScenarioError> {
    let mut fields: Vec<(Range<usize>, &str)> = Vec::with_capacity(7);
    let mut at = start;
    for f in line.split(',') {
        fields.push((at..at + f.len(), f));
        at += f.len() + 1;
    }
    if fields.len() != 7 {
        return Err(err(
            start..start + line.len(),
            format!("expected 7 comma-separated fields ({HEADER}), found {}", fields.len()),
        ));
    }
    let number = |i: usize, what: &str, max: u64| -> Result<Option<u64>, ScenarioError> {
        let (span, f) = (&fields[i].0, fields[i].1);
        if f.is_empty() {
            return Ok(None);
        }
        match f.parse::<u64>() {
            Ok(n) if n <= max => Ok(Some(n)),
            Ok(n) => Err(err(span.clone(), format!("`{what}` {n} is over the limit of {max}"))),
            Err(_) => Err(err(
                span.clone(),
                format!("expected `{what}` as a whole number of microseconds, found {f:?}"),
            )),
        }
    };
    let (kspan, k) = (&fields[0].0, fields[0].1);
    let key = match u64::from_str_radix(k, 16) {
        Ok(key) if !k.is_empty() && k.len() <= 16 && !k.starts_with('+') => key,
        _ => {
            return Err(err(
                kspan.clone(),
                format!("expected a key of 1 to 16 hexadecimal digits, found {k:?}"),
            ));
        }
    };
    let offered_us = number(2, "offered_us", u64::MAX)?
        .ok_or_else(|| err(fields[2].0.clone(), "`offered_us` is required".to_owned()))?;
    let (fspan, fate) = (&fields[3].0, fields[3].1);
    let delay_us = number(4, "delay_us", MAX_DELAY_US)?;
    let copy_delay_us = number(5, "copy_delay_us", MAX_DELAY_US)?;
    let damage = damage(fields[6].1).map_err(|m| err(fields[6].0.clone(), m))?;
    match fate {
        "lost" => {
            if let Some(i) = (4..7).find(|&i| !fields[i].1.is_empty()) {
                return Err(err(
                    fields[i].0.clone(),
                    "a lost datagram has no delay, copy or damage: leave this empty".to_owned(),
                ));
            }
        }
        "delivered" => {
            if delay_us.is_none() {
                return Err(err(fields[4].0.clone(), "a delivered datagram needs `delay_us`".to_owned()));
            }
        }
        other => return Err(err(fspan.clone(), format!("expected `lost` or `delivered`, found {other:?}"))),
    }
    Ok(TraceRow { key, label: fields[1].1.to_owned(), offered_us, delay_us, copy_delay_us, damage })
}

fn damage(f: &str) -> Result<Option<RecordedDamage>, String> {
    if f.is_empty() {
        return Ok(None);
    }
    let mut d = RecordedDamage { bit: None, checksum_fixed: true };
    for word in f.split(' ') {
        if word == "checksum-bad" && d.checksum_fixed && d.bit.is_none() {
            d.checksum_fixed = false;
        } else if let Some(n) = word.strip_prefix("bit=")
            && d.bit.is_none()
        {
            if n == "?" {
                continue;
            }
            d.bit =
                Some(n.parse().map_err(|_| format!("expected `bit=N` with N a bit offset, found {word:?}"))?);
        } else {
            return Err(format!(
                "expected the damage as `checksum-bad`, `bit=N` or `checksum-bad bit=N`, found {f:?}"
            ));
        }
    }
    Ok(Some(d))
}

/// Reads the trace file at `path` (at most [`MAX_TRACE_BYTES`]) and builds the link's trace,
/// named `name` (the path as the scenario wrote it).
pub fn load(path: &Path, name: &str) -> Result<LinkTrace, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = crate::read_bounded(path, MAX_TRACE_BYTES).map_err(|e| match e {
        crate::BoundedReadError::Io(e) => ScenarioError::file(&shown, format!("cannot read the link trace: {e}")),
        crate::BoundedReadError::TooLarge => ScenarioError::file(
            &shown,
            format!("the link trace is larger than 16 MiB (the limit is {MAX_TRACE_BYTES} bytes; about 250 000 rows)"),
        ),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let at = e.valid_up_to();
        ScenarioError::at(
            &shown,
            &String::from_utf8_lossy(&bytes),
            at..at + 1,
            "the link trace is not UTF-8 text".to_owned(),
        )
    })?;
    let rows = parse(text, &shown)?;
    to_link_trace(name, &rows).map_err(|(first, second)| {
        let line_of = |row: usize| data_line(text, row);
        let (l1, l2) = (line_of(first), line_of(second));
        let span = line_start(text, l2);
        ScenarioError::at(
            &shown,
            text,
            span..span + 16,
            format!("this key is already on line {l1}: each datagram has one row (two rows for the same content cannot both be replayed)"),
        )
    })
}

/// The rows as a link trace; `Err((first, second))` (row numbers from 1) when two rows have the same key.
pub fn to_link_trace(name: &str, rows: &[TraceRow]) -> Result<LinkTrace, (usize, usize)> {
    let recorded = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Recorded {
            key: r.key,
            row: u32::try_from(i + 1).unwrap_or(u32::MAX),
            delay_us: r.delay_us,
            copy_delay_us: r.copy_delay_us,
            corrupt: r.damage,
        })
        .collect();
    LinkTrace::new(name.to_owned(), recorded).map_err(|d| (d.first_row as usize, d.second_row as usize))
}

/// The 1-based line number of data row `row` (from 1) in `text`.
fn data_line(text: &str, row: usize) -> usize {
    let mut seen_header = false;
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !seen_header {
            seen_header = true;
            continue;
        }
        n += 1;
        if n == row {
            return i + 1;
        }
    }
    0
}

fn line_start(text: &str, line: usize) -> usize {
    text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<TraceRow> {
        vec![
            TraceRow {
                key: 1,
                label: "seq=1".into(),
                offered_us: 0,
                delay_us: Some(1020),
                copy_delay_us: None,
                damage: None,
            },
            TraceRow {
                key: 0xabc,
                label: "seq=2".into(),
                offered_us: 20_000,
                delay_us: None,
                copy_delay_us: None,
                damage: None,
            },
            TraceRow {
                key: u64::MAX,
                label: "udp 1->2, odd".into(),
                offered_us: 40_000,
                delay_us: Some(1003),
                copy_delay_us: Some(1451),
                damage: Some(RecordedDamage { bit: Some(12), checksum_fixed: false }),
            },
        ]
    }

    #[test]
    fn a_written_trace_reads_back_equal_but_for_commas_in_labels() {
        let text = write(&["made by a test".into()], &rows());
        let back = parse(&text, "t.csv").unwrap();
        let mut want = rows();
        want[2].label = "udp 1->2; odd".into();
        assert_eq!(back, want);
        assert!(text.starts_with("# made by a test\nkey,label,"), "{text}");
    }

    #[test]
    fn errors_name_the_line_and_column_and_what_was_expected() {
        let text = format!("# c\n{HEADER}\n01,seq=1,0,delivered,10,,\n02,seq=2,5,arrived,10,,\n");
        let e = parse(&text, "t.csv").unwrap_err();
        assert_eq!((e.line, e.column), (Some(4), Some(12)), "{e}");
        assert!(e.message.contains("`lost` or `delivered`"), "{e}");

        let e = parse(&format!("{HEADER}\nzz,a,0,lost,,,\n"), "t.csv").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        let e = parse(&format!("{HEADER}\n1,a,0,lost,5,,\n"), "t.csv").unwrap_err();
        assert!(e.message.contains("leave this empty"), "{e}");
        let e = parse(&format!("{HEADER}\n1,a,0,delivered,,,\n"), "t.csv").unwrap_err();
        assert!(e.message.contains("needs `delay_us`"), "{e}");
        let e = parse(&format!("{HEADER}\n1,a,0,delivered,99999999999,,\n"), "t.csv").unwrap_err();
        assert!(e.message.contains("over the limit"), "{e}");
        let e = parse(&format!("{HEADER}\n1,a,0,delivered,5,,\n1,a,0\n"), "t.csv").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(parse("a,b,c\n", "t.csv").unwrap_err().message.contains("header"));
        assert!(parse("# only comments\n", "t.csv").unwrap_err().message.contains("no header"));
        let e = parse(&format!("{HEADER}\n1,a,0,delivered,5,,crc\n"), "t.csv").unwrap_err();
        assert!(e.message.contains("checksum-bad"), "{e}");
    }

    #[test]
    fn the_same_key_twice_names_both_lines() {
        let dir = tempdir();
        let p = dir.join("dup.csv");
        std::fs::write(&p, format!("# x\n{HEADER}\n01,a,0,lost,,,\n02,b,0,lost,,,\n01,c,0,lost,,,\n"))
            .unwrap();
        let e = load(&p, "dup.csv").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("already on line 3"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("udplab-trace-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

#[cfg(test)]
mod in_a_scenario {
    const TWO: &str = "duration = \"1s\"\n[[node]]\nname = \"a\"\nrole = \"client\"\nserver = \"b\"\ncount = 1\n[[node]]\nname = \"b\"\nrole = \"server\"\nport = 7\n";

    #[test]
    fn a_trace_is_one_direction_and_must_exist_beside_the_scenario() {
        let e =
            crate::parse(&format!("{TWO}[[link]]\nbetween = [\"a\", \"b\"]\ntrace = \"t.csv\"\n"), "s.toml")
                .unwrap_err();
        assert!(e.message.contains("`trace` replays one direction"), "{e}");
        assert_eq!(e.line, Some(13), "{e}");

        let dir = std::env::temp_dir().join(format!("udplab-trace-scenario-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("traces")).unwrap();
        let scenario = dir.join("s.toml");
        let text = format!("{TWO}[[link]]\nfrom = \"a\"\nto = \"b\"\ntrace = \"traces/a-to-b.csv\"\n");
        let e = crate::parse(&text, &scenario.display().to_string()).unwrap_err();
        assert!(e.message.contains("traces/a-to-b.csv does not exist"), "{e}");
        assert_eq!((e.line, e.column), (Some(14), Some(9)), "{e}");

        // Beside the scenario, not beside the current directory: a bad row names the trace file.
        std::fs::write(
            dir.join("traces/a-to-b.csv"),
            format!("{}\n00ff,seq=1,0,delivered,5000,,\n1,seq=2,x,lost,,,\n", super::HEADER),
        )
        .unwrap();
        let e = crate::parse(&text, &scenario.display().to_string()).unwrap_err();
        assert!(e.path.ends_with("traces/a-to-b.csv") && e.line == Some(3), "{e}");
        std::fs::write(
            dir.join("traces/a-to-b.csv"),
            format!("{}\n00ff,seq=1,0,delivered,5000,,\n", super::HEADER),
        )
        .unwrap();
        let s = crate::parse(&text, &scenario.display().to_string()).unwrap();
        let t = s.links[0].trace.as_ref().unwrap();
        assert_eq!((t.name.as_str(), t.len()), ("traces/a-to-b.csv", 1));
        assert_eq!(t.get(0xff).and_then(|r| r.delay_us), Some(5000));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
