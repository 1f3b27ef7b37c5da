//! Runs whose outputs are written as the run goes, keeping nothing that grows with its length:
//! the timeline, the summary, JSON, the terminal ladder and the pcapng capture. Each is byte for
//! byte what the same output made from the whole run gives ([`RunOutput::text`],
//! [`RunOutput::json`], [`crate::ladder_text`], [`crate::pcapng::capture`]); tests compare them
//! on every lesson. What is held is the network's live state, the datagrams in flight (their
//! story and, for the capture, their bytes) and output buffers.
//!
//! Whatever is printed, the records are digested as the run goes (`trace::TraceDigest`, over
//! the records, so the timeline is rendered only when it is printed).
//!
//! The terminal ladder is as wide as its longest arrow label, which only the end of a run
//! knows: it runs the scenario twice (deterministic, so both runs are the same run), the first
//! to measure, the second to draw. With a wall-clock limit the first run gets half of it and
//! the second stops where the first did.
//!
//! The pictures drawn whole (SVG, HTML, Mermaid) keep the run: [`crate::run_sim_within`].

mod json;
mod pcap;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use udplab_sim::report::{Clock, SummaryBuilder};
use udplab_sim::trace::{Lines, TraceDigest};
use udplab_sim::{Record, Sim, Trace};

use crate::RunOutput;
use crate::files::WriteError;
use crate::ladder::{self, Rows};
use crate::run::{Driven, Each, Feed, RunError, StreamError, drive, header, stopped_why};
use crate::story::{Item, Unfolding, Words};

/// What a streamed run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Print {
    /// Header, timeline, summary: [`RunOutput::text`].
    Timeline,
    /// [`RunOutput::summary_text`].
    Summary,
    /// [`RunOutput::json`].
    Json,
    /// [`crate::ladder_text`], coloured or not, fitted to `columns` when set.
    Ladder { color: bool, columns: Option<usize> },
    /// Nothing (the capture is still written).
    Nothing,
}

/// What a streamed run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub print: Print,
    /// The pcapng capture.
    pub pcap: Option<PathBuf>,
}

/// What a streamed run gives back.
#[derive(Debug)]
pub struct StreamedRun {
    /// The summary, verdict, digest and event count; no trace and no timeline (both empty).
    pub output: RunOutput,
    /// Whether the capture was written (`Ok` when none was asked for).
    pub pcap: Result<(), WriteError>,
}

/// Bytes of output collected before they are digested and written.
const CHUNK: usize = 64 * 1024;

/// Runs `sim` with `seed`, printing to `out` and writing the capture as `how` says, as the run
/// goes. `limit` stops the run as [`crate::run_sim_within`] does (INCOMPLETE). A failing `out`
/// abandons the run ([`StreamError::Write`]); a failing capture does not (the run goes on
/// printing, and [`StreamedRun::pcap`] says why the file is not there).
pub fn stream_run(
    sim: &Sim<'_>,
    seed: u64,
    limit: Option<Duration>,
    how: &Streamed,
    out: &mut dyn Write,
) -> Result<StreamedRun, StreamError> {
    let scenario = sim.scenario();
    let start = |e: udplab_sim::SimError| StreamError::Start(RunError::from(e));
    let mut limit_now = limit;
    let mut measured = None;
    if let Print::Ladder { color, columns } = how.print {
        let first = limit.map(|l| l / 2);
        let (longest, driven) = measure_labels(sim, seed, first)?;
        limit_now = None;
        measured = Some((Rows::new(scenario, longest, color, columns), driven));
    }
    let mut net = sim.network(seed).map_err(start)?;
    let pcap = match &how.pcap {
        Some(path) => {
            net.capture();
            Some(pcap::PcapStream::create(Words { scenario }, path))
        }
        None => None,
    };
    let (pcap, mut pcap_error) = match pcap {
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let stop_after = measured.as_ref().and_then(|(_, d)| d.stopped_at.map(|_| d.records));
    let (rows, stopped_first) = match measured {
        Some((rows, driven)) => (Some(rows), driven.stopped_at),
        None => (None, None),
    };
    let mut out = std::io::BufWriter::with_capacity(CHUNK, out);
    let mut outputs = Outputs {
        print: how.print,
        lines: Lines::new(scenario),
        summary: SummaryBuilder::new(scenario, seed),
        digest: TraceDigest::new(),
        events: 0,
        // Only the timeline is rendered (see `record`).
        chunk: if how.print == Print::Timeline { String::with_capacity(CHUNK + 1024) } else { String::new() },
        json: json::JsonTrace::default(),
        unfolding: (rows.is_some() || pcap.is_some()).then(|| Unfolding::new(scenario)),
        rows,
        words: Words { scenario },
        ladder: String::new(),
        pcap,
        out: &mut out,
    };
    outputs.start(seed).map_err(StreamError::Write)?;
    let driven = drive(net, limit_now, stop_after, &mut outputs).map_err(StreamError::Write)?;
    let stopped_at = stopped_first.or(driven.stopped_at);
    let incomplete = stopped_at.map(|at| stopped_why(scenario, limit, at));
    let (result, pcap) = outputs.finish(seed, incomplete).map_err(StreamError::Write)?;
    if let Some(p) = pcap {
        pcap_error = p.finish(result.incomplete.as_deref()).err().or(pcap_error);
    }
    out.flush().map_err(StreamError::Write)?;
    Ok(StreamedRun { output: result, pcap: pcap_error.map_or(Ok(()), Err) })
}

/// The first run of a streamed ladder: the longest arrow label, and how the run ended.
fn measure_labels(
    sim: &Sim<'_>,
    seed: u64,
    limit: Option<Duration>,
) -> Result<(Option<usize>, Driven), StreamError> {
    let scenario = sim.scenario();
    let net = sim.network(seed).map_err(|e| StreamError::Start(RunError::from(e)))?;
    let mut unfolding = Unfolding::new(scenario);
    let mut longest = None;
    let mut measure = |item: Item| {
        if let Item::Datagram(d) = &item {
            longest = longest.max(Some(ladder::label_len(d)));
        }
    };
    let driven = drive(
        net,
        limit,
        None,
        &mut Each(|r: &Record| {
            unfolding.push(r, &mut measure);
            Ok(())
        }),
    )
    .map_err(StreamError::Write)?;
    unfolding.finish(&mut measure);
    Ok((longest, driven))
}

/// Everything a streamed run feeds as it goes.
struct Outputs<'s, 'o> {
    print: Print,
    lines: Lines<'s>,
    summary: SummaryBuilder<'s>,
    digest: TraceDigest,
    events: usize,
    /// Timeline text not printed yet.
    chunk: String,
    json: json::JsonTrace,
    /// The story, for the ladder and the capture.
    unfolding: Option<Unfolding<'s>>,
    rows: Option<Rows<'s>>,
    words: Words<'s>,
    /// Ladder rows not written yet.
    ladder: String,
    pcap: Option<pcap::PcapStream<'s>>,
    out: &'o mut dyn Write,
}

impl<'s> Outputs<'s, '_> {
    fn start(&mut self, seed: u64) -> std::io::Result<()> {
        let scenario = self.words.scenario;
        match self.print {
            Print::Timeline => self.out.write_all(header(scenario, seed).as_bytes()),
            Print::Ladder { columns, .. } => {
                self.out.write_all(crate::run::header_within(scenario, seed, columns).as_bytes())?;
                let head = self.rows.as_ref().map(|r| r.head(seed)).unwrap_or_default();
                self.out.write_all(head.as_bytes())
            }
            Print::Json => self.out.write_all(json::head(scenario, seed).as_bytes()),
            Print::Summary | Print::Nothing => Ok(()),
        }
    }

    /// Prints the timeline text collected so far.
    fn flush_timeline(&mut self) -> std::io::Result<()> {
        self.out.write_all(self.chunk.as_bytes())?;
        self.chunk.clear();
        Ok(())
    }

    /// Hands `item`, finished, to the ladder and the capture.
    fn told(&mut self, item: Item) {
        if let Some(rows) = &self.rows {
            match &item {
                Item::Datagram(d) => rows.datagram(&mut self.ladder, &self.words, d),
                Item::Note(n) => rows.note(&mut self.ladder, &self.words, n),
            }
        }
        if let (Some(p), Item::Datagram(d)) = (&mut self.pcap, item) {
            p.finished(d);
        }
    }

    fn finish(
        mut self,
        seed: u64,
        incomplete: Option<String>,
    ) -> std::io::Result<(RunOutput, Option<pcap::PcapStream<'s>>)> {
        self.flush_timeline()?;
        if let Some(unfolding) = self.unfolding.take() {
            let mut items = Vec::new();
            unfolding.finish(&mut |item| items.push(item));
            for item in items {
                self.told(item);
            }
        }
        let scenario = self.words.scenario;
        let summary = self.summary.finish();
        let failures =
            if incomplete.is_some() { Vec::new() } else { summary.check_on(scenario, Clock::Virtual) };
        let result = RunOutput {
            scenario: scenario.clone(),
            seed,
            trace: Trace::new(),
            summary,
            failures,
            incomplete,
            clock: Clock::Virtual,
            timeline: String::new(),
            digest: self.digest.finish(),
            events: self.events,
            checks: Vec::new(),
            set_aside: None,
            device: None,
        };
        match self.print {
            Print::Timeline => {
                self.out.write_all(b"\n")?;
                self.out.write_all(result.summary_text().as_bytes())?;
            }
            Print::Summary => self.out.write_all(result.summary_text().as_bytes())?,
            Print::Json => {
                self.json.end(self.out)?;
                self.out.write_all(json::tail(&result).as_bytes())?;
            }
            Print::Ladder { columns, .. } => {
                self.ladder.push('\n');
                self.ladder.push_str(&result.summary_within(columns));
                self.out.write_all(self.ladder.as_bytes())?;
            }
            Print::Nothing => {}
        }
        Ok((result, self.pcap))
    }
}

impl Feed for Outputs<'_, '_> {
    fn record(&mut self, r: &Record) -> std::io::Result<()> {
        self.summary.add(r);
        self.digest.record(r);
        self.events += 1;
        // Lines are rendered only to be printed: the digest is over the records.
        if self.print == Print::Timeline {
            let _ = self.lines.write(&mut self.chunk, r);
            self.chunk.push('\n');
            if self.chunk.len() >= CHUNK {
                self.flush_timeline()?;
            }
        }
        if self.print == Print::Json {
            self.json.record(r, self.out)?;
        }
        if let Some(p) = &mut self.pcap {
            p.record(r);
        }
        if let Some(mut unfolding) = self.unfolding.take() {
            unfolding.push(r, &mut |item| self.told(item));
            self.unfolding = Some(unfolding);
        }
        if let Some(p) = &mut self.pcap {
            p.flush();
        }
        if self.ladder.len() >= CHUNK {
            self.out.write_all(self.ladder.as_bytes())?;
            self.ladder.clear();
        }
        Ok(())
    }

    fn packets(&mut self, captured: Vec<udplab_sim::net::Captured>) {
        if let Some(p) = &mut self.pcap {
            p.packets(captured);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ladder_text, pcapng, run_sim_within};
    use udplab_sim::Scenario;

    use crate::lessons::parsed_lessons as lessons;

    /// What a streamed run printed and the capture it wrote.
    fn streamed(
        sim: &Sim<'_>,
        seed: u64,
        limit: Option<Duration>,
        print: Print,
    ) -> (String, Vec<u8>, RunOutput) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pcapng");
        let mut out = Vec::new();
        let run =
            stream_run(sim, seed, limit, &Streamed { print, pcap: Some(path.clone()) }, &mut out).unwrap();
        run.pcap.unwrap();
        (String::from_utf8(out).unwrap(), std::fs::read(&path).unwrap(), run.output)
    }

    /// What the same outputs are when drawn from the whole run.
    fn whole(out: &RunOutput, captured: &[udplab_sim::net::Captured], print: Print) -> (String, Vec<u8>) {
        let mut story = crate::story::Story::new(&out.scenario, &out.trace);
        story.incomplete = out.incomplete.clone();
        let text = match print {
            Print::Timeline => out.text(),
            Print::Summary => out.summary_text(),
            Print::Json => out.json(),
            Print::Ladder { color, columns } => ladder_text(out, color, columns),
            Print::Nothing => String::new(),
        };
        (text, pcapng::capture(&story, &out.trace, captured).unwrap())
    }

    const EVERY_PRINT: [Print; 7] = [
        Print::Timeline,
        Print::Summary,
        Print::Json,
        Print::Ladder { color: false, columns: None },
        Print::Ladder { color: true, columns: None },
        Print::Ladder { color: false, columns: Some(80) },
        Print::Nothing,
    ];

    /// README: every streamed output is byte for byte the one drawn from the whole run.
    #[test]
    fn every_streamed_output_is_what_the_whole_run_gives() {
        for scenario in lessons() {
            let sim = Sim::new(scenario.clone());
            for seed in [scenario.seed, 7] {
                let (kept, captured) = run_sim_within(&sim, seed, true, None).unwrap();
                for print in EVERY_PRINT {
                    let (text, pcap, out) = streamed(&sim, seed, None, print);
                    let (want_text, want_pcap) = whole(&kept, &captured, print);
                    let what = format!("{} seed {seed} {print:?}", scenario.name);
                    assert_eq!(text, want_text, "{what}");
                    assert!(pcap == want_pcap, "{what}: the captures differ");
                    assert_eq!((out.digest, out.events), (kept.digest, kept.trace.len()), "{what}");
                    assert_eq!((&out.summary, &out.failures), (&kept.summary, &kept.failures), "{what}");
                    assert!(out.trace.is_empty() && out.timeline.is_empty(), "{what}: nothing kept");
                }
            }
        }
    }

    /// A long echo: `count` messages, 1 ms apart.
    fn echo(count: u32) -> Scenario {
        let text = format!(
            "description = 'an echo'\nseed = 3\nduration = '{}ms'\n\
             [[node]]\nname = 'a'\nrole = 'client'\nserver = 'b'\ncount = {count}\ninterval = '1ms'\n\
             [[node]]\nname = 'b'\nrole = 'server'\nport = 9\nreply = 'echo'\n\
             [[link]]\nbetween = ['a', 'b']\ndelay = '3ms'\nloss = 0.1\nduplicate = 0.1\nreorder = 0.1\n",
            count + 50
        );
        udplab_scenario::parse(&text, "echo.toml").unwrap()
    }

    /// A run the wall-clock limit stops says so in every output, and the streamed outputs still
    /// equal the whole run's. A zero limit stops a run at its 1024th step whatever the machine,
    /// so both runs stop at the same record; the ladder's two runs stop where its first did.
    #[test]
    fn a_stopped_run_streams_what_the_whole_stopped_run_gives() {
        let sim = Sim::new(echo(3000));
        let limit = Some(Duration::ZERO);
        let (kept, captured) = run_sim_within(&sim, 3, true, limit).unwrap();
        assert!(kept.incomplete.is_some() && !kept.trace.is_empty());
        for print in EVERY_PRINT {
            let (text, pcap, out) = streamed(&sim, 3, limit, print);
            let (want_text, want_pcap) = whole(&kept, &captured, print);
            assert_eq!(text, want_text, "{print:?}");
            assert!(pcap == want_pcap, "{print:?}: the captures differ");
            assert_eq!(out.incomplete, kept.incomplete, "{print:?}");
            assert_eq!(out.events, kept.trace.len(), "{print:?}");
        }
    }

    #[test]
    fn an_empty_trace_is_an_empty_json_array() {
        // A server alone records nothing.
        let text =
            "description = 'quiet'\nduration = '1s'\n[[node]]\nname = 'b'\nrole = 'server'\nport = 9\n";
        let sim = Sim::new(udplab_scenario::parse(text, "quiet.toml").unwrap());
        let kept = run_sim_within(&sim, 3, false, None).unwrap().0;
        assert!(kept.trace.is_empty());
        let mut out = Vec::new();
        stream_run(&sim, 3, None, &Streamed { print: Print::Json, pcap: None }, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, kept.json());
        assert!(out.contains("\"trace\": [],"), "{out}");
    }

    /// The JSON is cut where the trace goes by a marker: a scenario that says the marker itself
    /// does not move the cut.
    #[test]
    fn a_scenario_naming_the_marker_does_not_cut_the_json_there() {
        let mut scenario = echo(5);
        scenario.description = format!("\"{MARK}\" and {MARK}", MARK = "udplab: the trace goes here");
        let sim = Sim::new(scenario);
        let kept = run_sim_within(&sim, 3, false, None).unwrap().0;
        let mut out = Vec::new();
        stream_run(&sim, 3, None, &Streamed { print: Print::Json, pcap: None }, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), kept.json());
    }

    /// A capture that cannot be written does not stop the run: the text is all printed and the
    /// result says which file and why. Nothing is left where it could not be written.
    #[test]
    fn a_capture_that_cannot_be_written_leaves_the_run_and_says_why() {
        let sim = Sim::new(echo(20));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/run.pcapng");
        let mut out = Vec::new();
        let how = Streamed { print: Print::Summary, pcap: Some(path) };
        let run = stream_run(&sim, 3, None, &how, &mut out).unwrap();
        let err = run.pcap.unwrap_err().to_string();
        assert!(err.contains("missing/run.pcapng") && err.contains("does not exist"), "{err}");
        assert_eq!(String::from_utf8(out).unwrap(), run.output.summary_text());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The capture replaces an old file, and no temporary file is left beside it.
    #[test]
    fn a_capture_replaces_the_old_file_and_leaves_nothing_beside_it() {
        let sim = Sim::new(echo(20));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pcapng");
        std::fs::write(&path, b"old").unwrap();
        let how = Streamed { print: Print::Nothing, pcap: Some(path.clone()) };
        stream_run(&sim, 3, None, &how, &mut Vec::new()).unwrap().pcap.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
