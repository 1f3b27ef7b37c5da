//! Reading captures of real networks and fitting models to them: what `udplab capture-import`
//! does, as a library.
//!
//! A capture of real UDP traffic (tcpdump, Wireshark, or udplab's own `--pcap`) becomes, for
//! each direction between two addresses, a link trace ([`udplab_scenario::link_trace`]) that a
//! scenario replays exactly, and a fitted model (Gilbert-Elliott loss, delay and jitter) for
//! datagrams past the trace's end, written as ready `[[link]]` sections. [`import`] does the
//! work; [`Import`] is the summary (its `Display`) and renders the files:
//!
//! ```no_run
//! use udplab_capture::{Options, import};
//!
//! // A capture taken at one end; name the addresses as your scenario names its nodes.
//! let names = [([192, 168, 1, 42], "board".to_owned()), ([192, 168, 1, 10], "laptop".to_owned())];
//! let found = import(&["evening.pcap".as_ref()], &Options::default(), &names)?;
//! println!("{found}");
//! for link in &found.paths {
//!     std::fs::write(found.trace_file_name(link), found.trace_file(link))?;
//! }
//! std::fs::write("links.toml", found.link_sections(""))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The trace format, and what a capture taken at one end can and cannot tell, are in
//! `scenarios/README.md`, "Replaying a capture".

pub mod delays;
pub mod fit;
pub mod read;
pub mod recover;

use std::fmt::Write as _;
use std::path::Path;

use udplab_scenario::link_trace::{self, TraceRow};

pub use read::ReadError;
pub use recover::{Options, SeqField};

use recover::{Direction, How};

/// One direction between two addresses (all its port pairs): a scenario link, with its fits.
#[derive(Debug, Clone)]
pub struct LinkImport {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// The port-level directions it joins, each with its rows in the order offered.
    pub flows: Vec<Direction>,
    /// The link's trace: every flow's rows in the order offered, keyed as a link counts repeats
    /// (over all its flows), a key only once.
    pub rows: Vec<TraceRow>,
    /// Rows left out because their key was an earlier row's: the same content again after the
    /// link had forgotten it (more than 256 other datagrams later), which a replay gives the
    /// earlier row's fate.
    pub shared_keys: u64,
    pub loss: fit::LossFit,
    pub delay: Option<delays::DelayFit>,
}

impl LinkImport {
    /// Every row of the trace.
    pub fn rows(&self) -> impl Iterator<Item = &TraceRow> {
        self.rows.iter()
    }

    /// Datagrams that arrived after one sent later had arrived (overtaken), as the summary of
    /// a run counts them: the replay reproduces them from the delays.
    pub fn reordered(&self) -> usize {
        let mut earliest_later = u64::MAX;
        let mut n = 0;
        for r in self.rows.iter().rev() {
            if let Some(d) = r.delay_us {
                let arrived = r.offered_us + d;
                n += usize::from(arrived > earliest_later);
                earliest_later = earliest_later.min(arrived);
            }
        }
        n
    }

    fn new(src: [u8; 4], dst: [u8; 4], flows: Vec<Direction>) -> LinkImport {
        let mut all: Vec<(TraceRow, u64)> =
            flows.iter().flat_map(|f| f.rows.iter().cloned().zip(f.identities.iter().copied())).collect();
        // Stable: rows offered at the same moment keep their flow's order.
        all.sort_by_key(|(r, _)| r.offered_us);
        let mut repeats = udplab_sim::repeats::Repeats::default();
        for (r, id) in &mut all {
            r.key = udplab_sim::replay::content_key(*id, repeats.count(*id));
        }
        let lost: Vec<bool> = all.iter().map(|(r, _)| r.delay_us.is_none()).collect();
        let unknown: u64 = flows.iter().map(|f| f.delay_unknown).sum();
        let measured: Vec<u64> =
            if unknown > 0 { Vec::new() } else { all.iter().filter_map(|(r, _)| r.delay_us).collect() };
        let mut keys = std::collections::HashSet::new();
        let total = all.len();
        let rows: Vec<TraceRow> = all.into_iter().map(|(r, _)| r).filter(|r| keys.insert(r.key)).collect();
        LinkImport {
            src,
            dst,
            shared_keys: (total - rows.len()) as u64,
            rows,
            flows,
            loss: fit::fit_loss(&lost),
            delay: delays::DelayFit::of(&measured),
        }
    }
}

/// What an import found.
#[derive(Debug, Clone)]
pub struct Import {
    /// The files, as given.
    pub files: Vec<String>,
    pub captured_points: Vec<String>,
    pub datagrams: usize,
    pub skipped: Vec<(String, u64)>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub clock_offset_us: Option<i64>,
    pub one_clock: bool,
    pub paths: Vec<LinkImport>,
    /// Node names for addresses (`--name`), else `a`, `b`, ... in order of appearance.
    pub names: Vec<([u8; 4], String)>,
}

/// Reads `files` and recovers every direction's fates. `names` maps addresses to the
/// scenario's node names.
pub fn import(files: &[&Path], opts: &Options, names: &[([u8; 4], String)]) -> Result<Import, ReadError> {
    let cap = read::read_files(files)?;
    let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    import_captured(cap, files, opts, names)
}

/// [`import`] of captures already read ([`read::read_bytes`], for captures that are not
/// files); `files` names them.
pub fn import_captured(
    cap: read::Captured,
    files: Vec<String>,
    opts: &Options,
    names: &[([u8; 4], String)],
) -> Result<Import, ReadError> {
    if cap.seen.is_empty() {
        let skipped: Vec<String> = cap.skipped.iter().map(|(w, n)| format!("{w} {n}")).collect();
        return Err(ReadError(format!(
            "no IPv4 UDP datagram in {} ({})",
            files.join(", "),
            if skipped.is_empty() {
                "no frames at all".to_owned()
            } else {
                format!("frames skipped: {}", skipped.join(", "))
            }
        )));
    }
    let rec = recover::recover(&cap, opts);
    let mut grouped: Vec<([u8; 4], [u8; 4], Vec<Direction>)> = Vec::new();
    for d in rec.directions {
        match grouped.iter_mut().find(|(s, t, _)| *s == d.src.0 && *t == d.dst.0) {
            Some((_, _, flows)) => flows.push(d),
            None => grouped.push((d.src.0, d.dst.0, vec![d])),
        }
    }
    let paths: Vec<LinkImport> =
        grouped.into_iter().map(|(s, t, flows)| LinkImport::new(s, t, flows)).collect();
    let mut all_names: Vec<([u8; 4], String)> = names.to_vec();
    for (a, n) in &cap.names {
        if !all_names.iter().any(|(x, _)| x == a) {
            all_names.push((*a, n.clone()));
        }
    }
    // a, b, ..., z, then n26, n27, ...: never a name already given, since two addresses with
    // one name would write their traces to one file.
    let mut next = 0usize;
    for p in &paths {
        for a in [p.src, p.dst] {
            if all_names.iter().any(|(x, _)| *x == a) {
                continue;
            }
            let name = loop {
                let candidate =
                    if next < 26 { char::from(b'a' + next as u8).to_string() } else { format!("n{next}") };
                next += 1;
                if !all_names.iter().any(|(_, n)| *n == candidate) {
                    break candidate;
                }
            };
            all_names.push((a, name));
        }
    }
    Ok(Import {
        files,
        captured_points: cap.points.iter().map(|p| p.name.clone()).collect(),
        datagrams: cap.seen.len(),
        skipped: cap.skipped,
        warnings: cap.warnings,
        notes: rec.notes,
        clock_offset_us: rec.clock_offset_us,
        one_clock: cap.one_clock,
        paths,
        names: all_names,
    })
}

fn addr(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn percent(x: f64) -> String {
    // Four decimals of a percent: whole parts per billion, as scenario files take them, and
    // far finer than any capture can tell.
    let s = format!("{:.4}", x.clamp(0.0, 1.0) * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

impl Import {
    /// The node name of address `a`.
    pub fn name_of(&self, a: [u8; 4]) -> &str {
        self.names.iter().find(|(x, _)| *x == a).map_or("?", |(_, n)| n.as_str())
    }

    /// The capture files' names, without their folders: trace files and link sections say
    /// where they came from without tying themselves to where the capture was read.
    fn file_names(&self) -> String {
        let names: Vec<String> = self
            .files
            .iter()
            .map(|f| Path::new(f).file_name().map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned()))
            .collect();
        names.join(" and ")
    }

    /// `laptop (192.0.2.1) -> board (192.0.2.2)`: how the summary and the trace name a link.
    fn title(&self, p: &LinkImport) -> String {
        format!("{} ({}) -> {} ({})", self.name_of(p.src), addr(p.src), self.name_of(p.dst), addr(p.dst))
    }

    /// The trace file name of a path: `board-to-laptop.csv`.
    pub fn trace_file_name(&self, p: &LinkImport) -> String {
        format!("{}-to-{}.csv", self.name_of(p.src), self.name_of(p.dst))
    }

    /// The trace file of path `p`.
    pub fn trace_file(&self, p: &LinkImport) -> String {
        let mut comments = vec![
            format!("udplab link trace: {}, from {}", self.title(p), self.file_names()),
            "one row per datagram offered, in order; see scenarios/README.md, \"Replaying a capture\""
                .to_owned(),
        ];
        for f in &p.flows {
            comments.push(format!("{}: {} rows, {}", f.name(), f.rows.len(), how_words(f.how)));
        }
        link_trace::write(&comments, &p.rows)
    }

    /// Ready `[[link]]` sections: each path's trace, and its fitted model for datagrams the
    /// trace does not hold. `folder` is where the traces are, relative to the scenario.
    pub fn link_sections(&self, folder: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Made by udplab capture-import from {}.", self.file_names());
        let _ = writeln!(
            out,
            "# Node names: {} (choose them with --name ADDRESS=NODE to match your scenario).",
            self.names.iter().map(|(a, n)| format!("{} is {n:?}", addr(*a))).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            out,
            "# A datagram the trace holds gets its recorded fate; any other gets the fitted model below."
        );
        for p in &self.paths {
            let _ = writeln!(out, "\n[[link]]");
            let _ = writeln!(out, "from = {:?}", self.name_of(p.src));
            let _ = writeln!(out, "to = {:?}", self.name_of(p.dst));
            let file = if folder.is_empty() {
                self.trace_file_name(p)
            } else {
                format!("{folder}/{}", self.trace_file_name(p))
            };
            let _ = writeln!(out, "trace = {file:?}");
            out.push_str(&self.model_lines(p));
        }
        out
    }

    /// The fitted model of `p` as scenario keys.
    fn model_lines(&self, p: &LinkImport) -> String {
        let mut out = String::new();
        match p.loss.comparison.preferred {
            _ if p.loss.lost == 0 => {}
            fit::Model::Bernoulli => {
                let _ = writeln!(out, "loss = \"{}\"", percent(p.loss.bernoulli.value));
            }
            fit::Model::Gilbert => {
                if let Some((pp, r)) = &p.loss.gilbert {
                    let _ = writeln!(
                        out,
                        "loss = {{ model = \"gilbert-elliott\", p = \"{}\", r = \"{}\", loss_bad = \"100%\", loss_good = \"0%\" }}",
                        percent(pp.value),
                        percent(r.value)
                    );
                }
            }
            fit::Model::GilbertElliott => {
                if let Some(g) = &p.loss.gilbert_elliott {
                    let _ = writeln!(
                        out,
                        "loss = {{ model = \"gilbert-elliott\", p = \"{}\", r = \"{}\", loss_bad = \"{}\", loss_good = \"{}\" }}",
                        percent(g.p.value),
                        percent(g.r.value),
                        percent(g.loss_bad.value),
                        percent(g.loss_good.value)
                    );
                }
            }
        }
        if let Some(d) = &p.delay {
            let _ = writeln!(out, "delay = \"{}us\"", d.suggested_delay_us);
            if d.suggested_jitter_us > 0 {
                let _ = writeln!(out, "jitter = \"{}us\"", d.suggested_jitter_us);
                let _ = writeln!(out, "jitter_distribution = \"normal\"");
            }
        }
        out
    }
}

fn how_words(h: How) -> &'static str {
    match h {
        How::BothEnds => "seen at both ends",
        How::AtSender => "seen at the sending end only",
        How::AtReceiver => "seen at the receiving end only",
    }
}

fn ms(us: u64) -> String {
    udplab_firmware::app::Ms(us).to_string()
}

impl std::fmt::Display for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "udplab capture-import: {}", self.files.join(" and "))?;
        writeln!(
            f,
            "  {} UDP datagrams at {} capture point{}: {}",
            self.datagrams,
            self.captured_points.len(),
            if self.captured_points.len() == 1 { "" } else { "s" },
            self.captured_points.join("; ")
        )?;
        if !self.skipped.is_empty() {
            let s: Vec<String> = self.skipped.iter().map(|(w, n)| format!("{w} {n}")).collect();
            writeln!(f, "  skipped frames: {}", s.join(", "))?;
        }
        match (self.one_clock, self.clock_offset_us) {
            (true, _) if self.captured_points.len() > 1 => writeln!(f, "  clock: one clock for every point")?,
            (_, Some(o)) => writeln!(
                f,
                "  clock offset (second capture minus first), estimated from the fastest datagram each way: {}{}",
                if o < 0 { "-" } else { "+" },
                ms(o.unsigned_abs())
            )?,
            _ => {}
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        for p in &self.paths {
            let rows: Vec<&TraceRow> = p.rows().collect();
            let lost = rows.iter().filter(|r| r.delay_us.is_none()).count();
            let dup = rows.iter().filter(|r| r.copy_delay_us.is_some()).count();
            let damaged = rows.iter().filter(|r| r.damage.is_some()).count();
            writeln!(f)?;
            writeln!(
                f,
                "{}: {} datagrams, {lost} lost, {dup} duplicated, {} reordered, {damaged} damaged",
                self.title(p),
                rows.len(),
                p.reordered()
            )?;
            for d in &p.flows {
                write!(f, "  {}: {} rows, {}", flow_ports(d), d.rows.len(), how_words(d.how))?;
                if d.unanswered > 0 {
                    write!(
                        f,
                        "; {} never answered (recorded lost: one end cannot tell whether the datagram or its answer was lost)",
                        d.unanswered
                    )?;
                }
                if d.unmatched > 0 {
                    write!(
                        f,
                        "; {} arrivals matched nothing sent (damaged beyond recognition?)",
                        d.unmatched
                    )?;
                }
                writeln!(f)?;
                for n in &d.notes {
                    writeln!(f, "    note: {n}")?;
                }
            }
            if p.shared_keys > 0 {
                writeln!(
                    f,
                    "  note: {} datagrams repeat content the link had forgotten (more than 256 datagrams earlier): \
                     a replay gives them the earlier one's fate, so their rows are left out",
                    p.shared_keys
                )?;
            }
            match &p.delay {
                Some(d) => writeln!(f, "  {d}")?,
                None => writeln!(f, "  delay: not measured (see the notes)")?,
            }
            for line in p.loss.to_string().lines() {
                if line.is_empty() {
                    writeln!(f)?;
                } else {
                    writeln!(f, "  {line}")?;
                }
            }
            writeln!(f, "  as a [[link]] (for datagrams the trace does not hold):")?;
            for line in self.model_lines(p).lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

fn flow_ports(d: &Direction) -> String {
    format!("port {} -> {}", d.src.1, d.dst.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One datagram from 10.0.0.N to 10.0.1.N for each N in `hosts`.
    fn datagrams(hosts: std::ops::Range<u8>) -> read::Captured {
        let seen = hosts
            .enumerate()
            .map(|(i, n)| read::Seen {
                point: 0,
                at_us: i as i64,
                src: ([10, 0, 0, n], 1000),
                dst: ([10, 0, 1, n], 2000),
                payload: vec![n],
                checksum_ok: true,
                side: None,
                frame: i as u64 + 1,
            })
            .collect();
        read::Captured { points: vec![read::Point { name: "p".into(), file: 0 }], seen, ..Default::default() }
    }

    #[test]
    fn every_address_gets_its_own_name_and_every_link_its_own_file() {
        // 300 addresses, one of them named "b" by the user: no default name repeats it or
        // another, so no two traces share a file.
        let names = [([10, 0, 0, 0], "b".to_owned())];
        let import =
            import_captured(datagrams(0..150), vec!["x".into()], &Options::default(), &names).unwrap();
        let mut all: Vec<&str> = import.names.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(all.len(), 300);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 300, "a name given twice");
        let mut files: Vec<String> = import.paths.iter().map(|p| import.trace_file_name(p)).collect();
        files.sort();
        files.dedup();
        assert_eq!(files.len(), 150);
        assert_eq!(import.name_of([10, 0, 0, 0]), "b");
        assert_eq!(import.name_of([10, 0, 1, 0]), "a");
        assert_eq!(import.name_of([10, 0, 0, 1]), "c");
    }
}
