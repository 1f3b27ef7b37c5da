//! `udplab run`: one in-memory run of a scenario, rendered as text or JSON.

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;
use udplab_firmware::Role;
use udplab_firmware::app::Ms;
use udplab_sim::net::{Captured, Network};
use udplab_sim::report::{Clock, Summary};
use udplab_sim::trace::{Lines, Time, digest};

use crate::streamed::{Print, Streamed, stream_run};
use udplab_sim::{Outcome, Record, Scenario, Sim, SimError, Trace};

/// Everything one run produced.
#[derive(Debug)]
pub struct RunOutput {
    pub scenario: Scenario,
    pub seed: u64,
    pub trace: Trace,
    pub summary: Summary,
    /// Expectations that did not hold, as sentences; empty when the run passes.
    pub failures: Vec<String>,
    /// Why the run stopped before it was done (interrupted, device gone, ...): its
    /// expectations were not evaluated and it never passes.
    pub incomplete: Option<String>,
    /// Which clock made the trace.
    pub clock: Clock,
    /// The rendered timeline (one line per trace record).
    pub timeline: String,
    /// The trace digest: a hash of the records ([`udplab_sim::trace::digest`]).
    pub digest: u32,
    /// Records in the run (`trace.len()`, except for a streamed run, which keeps no trace).
    pub events: usize,
    /// Checks beyond the scenario's expectations (how `--exec` programs ended), as sentences,
    /// each counted in the verdict; a failing one is in `failures` too. See [`RunOutput::check`].
    pub checks: Vec<String>,
    /// Why the scenario's expectations were set aside (a program plays a client, whose messages
    /// udplab cannot follow); the checks are still judged. See [`RunOutput::set_aside_expectations`].
    pub set_aside: Option<String>,
    /// What a real device's runner counted beside the trace (`udplab tap`): frames the kernel
    /// dropped in the TAP's queue, datagrams left in it at the end, and the like. In the JSON as
    /// `device`; `None` for runs without a device.
    pub device: Option<DeviceCounts>,
}

/// A TAP run's counts that are not trace records: datagrams that never reached a link, and the
/// device's own trouble. Every field is a count over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceCounts {
    /// Frames towards the firmware the kernel dropped in the TAP's queue (its transmit drop
    /// counter): sent by a kernel-side peer, never offered to a link.
    pub kernel_dropped: u64,
    /// Datagrams towards the firmware still in the TAP's queue when the run ended.
    pub unread_at_end: u64,
    /// Frames dropped because the firmware's stack fell behind (its receive queue full).
    pub stack_overflow: u64,
    /// Receive and send errors the TAP reported (each frame dropped).
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Times the TAP went down and came back during a hold.
    pub link_restored: u32,
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

impl From<SimError> for RunError {
    fn from(e: SimError) -> RunError {
        match e {
            SimError::Start { node, error } => RunError(format!("node {node}: {error}")),
            e @ SimError::UnknownNode { .. } => RunError(e.to_string()),
        }
    }
}

/// Runs `scenario` in virtual time with `seed`, every node running the built-in app its role
/// describes (a `code` node is an error: use [`run_sim`] with the apps attached).
pub fn run_scenario(scenario: &Scenario, seed: u64) -> Result<RunOutput, RunError> {
    let trace = udplab_sim::run(scenario, seed)
        .map_err(|e| RunError(format!("node {}: {}", scenario.nodes[e.node].name, e.error)))?;
    Ok(RunOutput::from_trace(scenario, seed, trace))
}

/// [`run_sim`] with a wall-clock limit, keeping the bytes of every datagram when `capture` is
/// set: what `udplab run --timeout` does. A run still going after `limit` stops where it is and
/// is INCOMPLETE (its expectations are not judged); what it recorded so far is kept. Without a
/// limit, or within it, the result is exactly [`run_sim`]'s (or [`Sim::run_with_capture`]'s).
pub fn run_sim_within(
    sim: &Sim<'_>,
    seed: u64,
    capture: bool,
    limit: Option<Duration>,
) -> Result<(RunOutput, Vec<Captured>), RunError> {
    let mut net = sim.network(seed)?;
    if capture {
        net.capture();
    }
    /// Keeps everything.
    struct Keep {
        trace: Trace,
        captured: Vec<Captured>,
    }
    impl Feed for Keep {
        fn record(&mut self, r: &Record) -> std::io::Result<()> {
            self.trace.push(*r);
            Ok(())
        }
        fn packets(&mut self, captured: Vec<Captured>) {
            self.captured.extend(captured);
        }
    }
    let mut keep = Keep { trace: Trace::new(), captured: Vec::new() };
    let driven = drive(net, limit, None, &mut keep).map_err(|e| RunError(e.to_string()))?;
    let scenario = sim.scenario();
    let incomplete = driven.stopped_at.map(|at| stopped_why(scenario, limit, at));
    Ok((RunOutput::judged(scenario, seed, keep.trace, Clock::Virtual, incomplete), keep.captured))
}

/// Whether a run of `scenario` stays within `max` trace events by its upper bound
/// ([`udplab_sim::estimate::Estimate`]); if not, what to say (the bound, and the `--max-events`
/// that allows it). What `udplab run` and every grid point of `udplab sweep` check before running.
pub fn within_max_events(scenario: &Scenario, max: u64) -> Result<(), String> {
    let e = udplab_sim::estimate::Estimate::of(scenario);
    if e.records <= max {
        return Ok(());
    }
    Err(format!(
        "this run could record up to {} trace events ({} datagram copies across its links), more than \
         the limit of {max}. Shorten `duration`, lower `count` or raise the retransmission timeout, \
         or allow it with --max-events {}",
        e.records, e.datagrams, e.records
    ))
}

/// Why [`stream_sim`] stopped.
#[derive(Debug)]
pub enum StreamError {
    /// The run could not start.
    Start(RunError),
    /// `out` failed (a closed pipe, a full disk): the run was abandoned there.
    Write(std::io::Error),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Start(e) => e.fmt(f),
            StreamError::Write(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// A run printed as it happens, keeping nothing: the header and each timeline line go to `out`
/// as soon as the run makes them (`timeline`; otherwise only the summary is printed), and the
/// summary, its verdict and the trace digest are computed on the way
/// ([`udplab_sim::report::SummaryBuilder`], [`udplab_sim::trace::Digest`]). What reaches `out`
/// is byte for byte [`RunOutput::text`] (or [`RunOutput::summary_text`]) of the same run, but
/// memory stays that of the network's live state however long the run is. What `udplab run`
/// and `udplab run --summary` do.
///
/// The result has the summary, verdict, digest and event count, but no trace and no timeline
/// (both empty): use [`run_sim_within`] for outputs that need the whole run (JSON, pictures).
/// `limit` stops the run as [`run_sim_within`] does.
pub fn stream_sim(
    sim: &Sim<'_>,
    seed: u64,
    limit: Option<Duration>,
    timeline: bool,
    out: &mut dyn std::io::Write,
) -> Result<RunOutput, StreamError> {
    let print = if timeline { Print::Timeline } else { Print::Summary };
    stream_run(sim, seed, limit, &Streamed { print, pcap: None }, out).map(|run| run.output)
}

/// How a [`drive`]n run ended.
pub(crate) struct Driven {
    /// `Some(virtual time of the last record)` when the wall-clock limit (or the record count)
    /// stopped it.
    pub(crate) stopped_at: Option<u64>,
    /// Records handed out.
    pub(crate) records: u64,
}

/// What a [`drive`]n run hands its records to, as soon as they exist.
pub(crate) trait Feed {
    /// One record, in trace order; an error abandons the run.
    fn record(&mut self, r: &Record) -> std::io::Result<()>;
    /// The packets captured (when the network captures) since the last call, handed out just
    /// before the records that name them.
    fn packets(&mut self, _captured: Vec<Captured>) {}
}

/// A [`Feed`] made of a closure, for the outputs that want records only.
pub(crate) struct Each<F>(pub(crate) F);

impl<F: FnMut(&Record) -> std::io::Result<()>> Feed for Each<F> {
    fn record(&mut self, r: &Record) -> std::io::Result<()> {
        (self.0)(r)
    }
}

/// Runs `net` to the scenario's end (or until `limit` of wall-clock time has passed, or
/// `stop_after` records were handed out), handing every record to `feed` in trace order as soon
/// as it exists; an error from `feed` abandons the run. A finished run's last records are what
/// is still in flight at the end.
pub(crate) fn drive(
    mut net: Network<'_>,
    limit: Option<Duration>,
    stop_after: Option<u64>,
    feed: &mut dyn Feed,
) -> std::io::Result<Driven> {
    let end_us = net.scenario().duration_us;
    let started = std::time::Instant::now();
    let (mut steps, mut last_at, mut records) = (0u64, 0u64, 0u64);
    let stopped = |last_at, records| Ok(Driven { stopped_at: Some(last_at), records });
    loop {
        let more = net.advance(end_us);
        let captured = net.take_captured();
        if !captured.is_empty() {
            feed.packets(captured);
        }
        for r in net.records() {
            if stop_after == Some(records) {
                return stopped(last_at, records);
            }
            last_at = r.at_us;
            records += 1;
            feed.record(r)?;
        }
        net.clear_records();
        if !more {
            break;
        }
        steps += 1;
        // Reading the clock costs more than an event; every 1024 events is often enough.
        if steps.is_multiple_of(1024) && limit.is_some_and(|l| started.elapsed() >= l) {
            return stopped(last_at, records);
        }
    }
    for r in net.finish() {
        if stop_after == Some(records) {
            return stopped(last_at, records);
        }
        records += 1;
        feed.record(&r)?;
    }
    Ok(Driven { stopped_at: None, records })
}

/// The INCOMPLETE reason of a run the wall-clock `limit` stopped at virtual time `at_us`.
pub(crate) fn stopped_why(scenario: &Scenario, limit: Option<Duration>, at_us: u64) -> String {
    format!(
        "stopped by the wall-clock limit ({} s) at virtual time {} s of {} s",
        limit.map_or(0, |l| l.as_secs()),
        Time(at_us).to_string().trim(),
        Time(scenario.duration_us).to_string().trim()
    )
}

/// Runs `sim` (a scenario with apps attached, and perhaps a labeller) in virtual time with
/// `seed`. For a `Sim` without attached apps the result is that of [`run_scenario`].
pub fn run_sim(sim: &Sim<'_>, seed: u64) -> Result<RunOutput, RunError> {
    Ok(RunOutput::from_outcome(sim.run(seed)?))
}

impl RunOutput {
    /// Summarises and renders what [`Sim::run`] returned.
    pub fn from_outcome(outcome: Outcome) -> RunOutput {
        RunOutput::from_trace(&outcome.scenario, outcome.seed, outcome.trace)
    }

    /// Summarises and renders a trace, from whichever runner produced it.
    pub fn from_trace(scenario: &Scenario, seed: u64, trace: Trace) -> RunOutput {
        RunOutput::judged(scenario, seed, trace, Clock::Virtual, None)
    }

    /// Summarises a trace from a real-clock runner (TAP, chip): `latency_max` gets the
    /// scenario's real-clock tolerance, and a run that stopped early (`incomplete`, saying
    /// why) is not judged at all.
    pub fn from_real_clock(
        scenario: &Scenario,
        seed: u64,
        trace: Trace,
        incomplete: Option<String>,
    ) -> RunOutput {
        RunOutput::judged(scenario, seed, trace, Clock::Real, incomplete)
    }

    fn judged(
        scenario: &Scenario,
        seed: u64,
        trace: Trace,
        clock: Clock,
        incomplete: Option<String>,
    ) -> RunOutput {
        let summary = Summary::from_trace(scenario, seed, &trace);
        let trace_len = trace.len();
        let failures = if incomplete.is_some() { Vec::new() } else { summary.check_on(scenario, clock) };
        let timeline = Lines::new(scenario).render(&trace);
        let digest = digest(&trace);
        RunOutput {
            scenario: scenario.clone(),
            seed,
            trace,
            summary,
            failures,
            incomplete,
            clock,
            timeline,
            digest,
            events: trace_len,
            checks: Vec::new(),
            set_aside: None,
            device: None,
        }
    }

    /// Adds a check the scenario does not describe (a program's exit): `what` is printed with
    /// the summary; `failure`, when set, fails a finished run like an expectation that does not
    /// hold. An incomplete run judges nothing, this included.
    pub fn check(&mut self, what: String, failure: Option<String>) {
        self.checks.push(what);
        if let (None, Some(f)) = (&self.incomplete, failure) {
            self.failures.push(f);
        }
    }

    /// Does not judge the scenario's expectations, for the reason `why`: they are about
    /// messages udplab's apps send and follow, and a program playing a client sends its own.
    /// Call before [`RunOutput::check`].
    pub fn set_aside_expectations(&mut self, why: String) {
        self.failures.clear();
        self.set_aside = Some(why);
    }

    /// Marks the nodes played by programs (`udplab tap --exec`): their flows' counts are shown
    /// as unknown at the program's end rather than as zero, and the expectations are set aside.
    pub fn played_by_programs(&mut self, nodes: &[&str]) {
        if nodes.is_empty() {
            return;
        }
        for f in &mut self.summary.flows {
            if let Some(n) = nodes.iter().find(|n| **n == f.client || **n == f.server) {
                f.program = Some(n.to_string());
            }
        }
        let played: Vec<String> = nodes.iter().map(|n| format!("`{n}`")).collect();
        self.set_aside_expectations(format!(
            "they count what udplab's own apps send and receive, and a program plays {}; its \
             datagrams are counted per link above",
            played.join(", ")
        ));
    }

    /// Finished, and every expectation holds.
    pub fn passed(&self) -> bool {
        self.incomplete.is_none() && self.failures.is_empty()
    }

    /// Header, timeline, summary and verdict: what `udplab run` prints.
    pub fn text(&self) -> String {
        let mut s = self.header();
        s.push_str(&self.timeline);
        s.push('\n');
        s.push_str(&self.summary_text());
        s
    }

    /// Summary and verdict, fitted to `columns` when given (the ladder in a terminal).
    pub fn summary_within(&self, columns: Option<usize>) -> String {
        match columns {
            Some(c) => crate::fit::fit(&self.summary_text(), c),
            None => self.summary_text(),
        }
    }

    /// Summary and verdict only.
    pub fn summary_text(&self) -> String {
        let mut s = self.summary.render();
        for c in &self.checks {
            let _ = writeln!(s, "{c}");
        }
        s.push_str(&self.verdict());
        let _ = writeln!(s, "trace digest {:08x} ({} events)", self.digest, self.events);
        s
    }

    fn header(&self) -> String {
        header(&self.scenario, self.seed)
    }

    fn verdict(&self) -> String {
        let e = &self.scenario.expect;
        let checked = [
            e.delivered_min_ppm.is_some(),
            e.all_delivered,
            e.duplicates_max.is_some(),
            e.in_order,
            e.latency_max_us.is_some(),
            e.lost_max.is_some(),
        ]
        .iter()
        .filter(|c| **c)
        .count();
        let mut s = String::new();
        if let Some(why) = &self.incomplete {
            let _ = writeln!(
                s,
                "INCOMPLETE: {why}; the run did not finish, so its {} expectation(s) were not judged",
                checked + self.checks.len()
            );
            return s;
        }
        let checked = match &self.set_aside {
            Some(why) if checked > 0 => {
                let _ = writeln!(s, "expectations: the scenario's {checked} not judged: {why}");
                self.checks.len()
            }
            _ => checked + self.checks.len(),
        };
        if checked == 0 {
            s.push_str("expectations: none set\n");
        } else if self.failures.is_empty() {
            let _ = writeln!(s, "expectations: all {checked} hold");
        } else {
            let _ = writeln!(s, "expectations: {} of {checked} FAILED", self.failures.len());
            for f in &self.failures {
                let _ = writeln!(s, "  - {f}");
            }
        }
        s
    }

    /// The full trace, summary and verdict for machines.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            scenario: &'a Scenario,
            seed: u64,
            trace: &'a Trace,
            summary: &'a Summary,
            passed: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            incomplete: Option<&'a str>,
            failures: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            checks: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            expectations_set_aside: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            device: Option<&'a DeviceCounts>,
            digest: String,
        }
        let j = Json {
            scenario: &self.scenario,
            seed: self.seed,
            trace: &self.trace,
            summary: &self.summary,
            passed: self.passed(),
            incomplete: self.incomplete.as_deref(),
            failures: &self.failures,
            checks: &self.checks,
            expectations_set_aside: self.set_aside.as_deref(),
            device: self.device.as_ref(),
            digest: format!("{:08x}", self.digest),
        };
        let mut s = serde_json::to_string_pretty(&j).expect("trace types serialise infallibly");
        s.push('\n');
        s
    }
}

/// The header `udplab run` prints above its timeline: scenario, description, nodes, links.
pub(crate) fn header(sc: &Scenario, seed: u64) -> String {
    header_within(sc, seed, None)
}

/// The header fitted to `columns` when given (the ladder in a terminal): the description is
/// wrapped to the width, and node and link lines break at spaces.
pub(crate) fn header_within(sc: &Scenario, seed: u64, columns: Option<usize>) -> String {
    let s = header_wrapped(
        sc,
        seed,
        columns.map_or(DESCRIPTION_WIDTH, |c| c.saturating_sub(2).min(DESCRIPTION_WIDTH)),
    );
    match columns {
        Some(c) => crate::fit::fit(&s, c),
        None => s,
    }
}

/// The width the description is wrapped to when there is room.
const DESCRIPTION_WIDTH: usize = 92;

fn header_wrapped(sc: &Scenario, seed: u64, description_width: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario {}: seed {}, {} s", sc.name, seed, Time(sc.duration_us));
    for line in wrap(&sc.description, description_width.max(20)) {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "nodes");
    for n in &sc.nodes {
        let [a, b, c, d] = n.addr;
        let _ = write!(s, "  {:<8} {a}.{b}.{c}.{d}  ", n.name);
        let _ = match n.role {
            Role::Server(c) => {
                let what = match (c.reliable, c.reply) {
                    (Some(_), _) => "reliable receiver",
                    (None, udplab_firmware::Reply::Echo) => "echo",
                    (None, udplab_firmware::Reply::Sink) => "sink",
                };
                writeln!(s, "server on port {}, {what}", c.port)
            }
            Role::Client(c) => {
                let [a, b, cc, d] = c.server_addr;
                let _ = write!(
                    s,
                    "client: {} x {}B to {a}.{b}.{cc}.{d}:{} every {} from {}",
                    c.count,
                    c.size,
                    c.server_port,
                    Ms(c.interval_us),
                    Ms(c.start_us)
                );
                match c.reliable {
                    Some(r) => writeln!(
                        s,
                        ", reliable (window {}, timeout {} doubling to {})",
                        r.window,
                        Ms(r.rto_us),
                        Ms(r.rto_max_us)
                    ),
                    None if c.in_flight == 1 => {
                        writeln!(s, ", stop-and-wait (reply timeout {})", Ms(c.reply_timeout_us))
                    }
                    None if c.in_flight > 1 => writeln!(
                        s,
                        ", at most {} awaiting replies (reply timeout {})",
                        c.in_flight,
                        Ms(c.reply_timeout_us)
                    ),
                    None => writeln!(s),
                }
            }
            Role::Code => writeln!(s, "app supplied in code"),
        };
    }
    let _ = writeln!(s, "links");
    let w = (0..sc.links.len()).map(|l| sc.link_name(l).len()).max().unwrap_or(0);
    for (i, l) in sc.links.iter().enumerate() {
        match &l.trace {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "  {:<w$}  replays {} ({} datagrams); any other: {}",
                    sc.link_name(i),
                    t.name,
                    t.len(),
                    l.impairment
                );
            }
            None => {
                let _ = writeln!(s, "  {:<w$}  {}", sc.link_name(i), l.impairment);
            }
        }
        for p in &l.phases {
            let _ = writeln!(
                s,
                "  {:<w$}    {} from {} s to {} s: {}",
                "",
                p.name,
                Time(p.from_us),
                Time(p.until_us),
                p.impairment
            );
        }
    }
    if sc.implicit_links {
        // Too many to list: a 1 000-node classroom has 999 000 directions.
        let others = sc.link_count() - sc.links.len();
        let _ = writeln!(s, "  every other direction ({others} links): perfect");
    }
    s.push('\n');
    s
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::lessons::parsed_lessons as lessons;

    /// The README promises that a streamed run prints what a kept one does, byte for byte.
    #[test]
    fn a_streamed_run_prints_exactly_what_a_kept_run_renders() {
        for scenario in lessons() {
            let sim = Sim::new(scenario.clone());
            for seed in [scenario.seed, 7] {
                let kept = run_sim(&sim, seed).unwrap();
                let (mut text, mut summary) = (Vec::new(), Vec::new());
                let streamed = stream_sim(&sim, seed, None, true, &mut text).unwrap();
                stream_sim(&sim, seed, None, false, &mut summary).unwrap();
                assert_eq!(String::from_utf8(text).unwrap(), kept.text(), "{} seed {seed}", scenario.name);
                assert_eq!(String::from_utf8(summary).unwrap(), kept.summary_text(), "{}", scenario.name);
                assert_eq!((streamed.digest, streamed.events), (kept.digest, kept.trace.len()));
                assert_eq!((&streamed.summary, &streamed.failures), (&kept.summary, &kept.failures));
                assert!(streamed.trace.is_empty() && streamed.timeline.is_empty(), "nothing kept");
            }
        }
    }

    /// A writer that fails after `room` bytes, as a full disk or a closed pipe does.
    struct Full {
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_abandons_a_streamed_run_with_the_error() {
        let scenario = lessons().remove(0);
        let sim = Sim::new(scenario);
        let result = stream_sim(&sim, 1, None, true, &mut Full { room: 100 });
        assert!(
            matches!(result, Err(StreamError::Write(ref e)) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{result:?}"
        );
    }
}
