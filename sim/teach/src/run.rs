//! `udplab run`: one in-memory run of a scenario, rendered as text or JSON.

use std::fmt::Write;

use serde::Serialize;
use udplab_firmware::Role;
use udplab_firmware::app::Ms;
use udplab_sim::report::{Clock, Summary};
use udplab_sim::trace::{Lines, Time, digest};
use udplab_sim::{Outcome, Scenario, Sim, SimError, Trace};

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
    /// CRC-32 of `timeline`.
    pub digest: u32,
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
    limit: Option<std::time::Duration>,
) -> Result<(RunOutput, Vec<udplab_sim::net::Captured>), RunError> {
    let mut net = sim.network(seed)?;
    if capture {
        net.capture();
    }
    let scenario = sim.scenario();
    let end_us = scenario.duration_us;
    let started = std::time::Instant::now();
    let mut steps: u64 = 0;
    let mut stopped = false;
    while net.advance(end_us) {
        steps += 1;
        // Reading the clock costs more than an event; every 1024 events is often enough.
        if steps.is_multiple_of(1024) && limit.is_some_and(|l| started.elapsed() >= l) {
            stopped = true;
            break;
        }
    }
    let captured = net.take_captured();
    if !stopped {
        return Ok((RunOutput::from_trace(scenario, seed, net.finish()), captured));
    }
    let trace = net.take_records();
    let reached = trace.last().map_or(0, |r| r.at_us);
    let why = format!(
        "stopped by the wall-clock limit ({} s) at virtual time {} s of {} s",
        limit.map_or(0, |l| l.as_secs()),
        Time(reached).to_string().trim(),
        Time(end_us).to_string().trim()
    );
    Ok((RunOutput::judged(scenario, seed, trace, Clock::Virtual, Some(why)), captured))
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
        let failures = if incomplete.is_some() { Vec::new() } else { summary.check_on(scenario, clock) };
        let timeline = Lines::new(scenario).render(&trace);
        let digest = digest(&timeline);
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
        }
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

    /// Summary and verdict only.
    pub fn summary_text(&self) -> String {
        let mut s = self.summary.render();
        s.push_str(&self.verdict());
        let _ = writeln!(s, "trace digest {:08x} ({} events)", self.digest, self.trace.len());
        s
    }

    fn header(&self) -> String {
        let sc = &self.scenario;
        let mut s = String::new();
        let _ = writeln!(s, "scenario {}: seed {}, {} s", sc.name, self.seed, Time(sc.duration_us));
        for line in wrap(&sc.description, 92) {
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
                        None => writeln!(s),
                    }
                }
                Role::Code => writeln!(s, "app supplied in code"),
            };
        }
        let _ = writeln!(s, "links");
        let w = (0..sc.links.len()).map(|l| sc.link_name(l).len()).max().unwrap_or(0);
        for (i, l) in sc.links.iter().enumerate() {
            let _ = writeln!(s, "  {:<w$}  {}", sc.link_name(i), l.impairment);
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
        s.push('\n');
        s
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
                "INCOMPLETE: {why}; the run did not finish, so its {checked} expectation(s) were not judged"
            );
            return s;
        }
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
            digest: format!("{:08x}", self.digest),
        };
        let mut s = serde_json::to_string_pretty(&j).expect("trace types serialise infallibly");
        s.push('\n');
        s
    }
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
