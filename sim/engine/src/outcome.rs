//! What a run produced, with the questions tests ask of it: did every message arrive exactly
//! once, in order, in time; which datagram was lost, and why.
//!
//! Messages are what apps report: a send is an [`AppEvent::Sent`] (what
//! `Context::send_message` records), a delivery an [`AppEvent::Delivered`] (what
//! `Context::deliver` records) or, at a built-in plain server, an [`AppEvent::Received`].
//! Checks return a [`Violation`] (an error, so `?` works in a proptest body) that names the
//! messages concerned, says what the links did to them, and gives the seed.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};
use udplab_firmware::{AppEvent, Note, Role};

use crate::link::{Fate, LossReason};
use crate::report::Summary;
use crate::scenario::Scenario;
use crate::trace::{Event, Label, Lines, Time, Trace, digest};

/// One run: the scenario as run, the seed, and every record.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub seed: u64,
    pub trace: Trace,
}

/// A check that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for Violation {}

/// A datagram a link lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    pub at_us: u64,
    pub link: usize,
    /// Its number on the link, from 1.
    pub index: u64,
    pub label: Label,
    pub reason: LossReason,
}

impl Outcome {
    pub fn new(scenario: Scenario, seed: u64, trace: Trace) -> Outcome {
        Outcome { scenario, seed, trace }
    }

    /// Index of the node called `name`.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.scenario.nodes.iter().position(|n| n.name == name)
    }

    fn node_or_panic(&self, name: &str) -> usize {
        self.node(name).unwrap_or_else(|| {
            let known: Vec<&str> = self.scenario.nodes.iter().map(|n| n.name.as_str()).collect();
            panic!(
                "no node named `{name}` in scenario `{}` (its nodes: {})",
                self.scenario.name,
                known.join(", ")
            )
        })
    }

    /// The summary `udplab run` prints (per-flow and per-link counts).
    pub fn summary(&self) -> Summary {
        Summary::from_trace(&self.scenario, self.seed, &self.trace)
    }

    /// The scenario's `[expect]` section against this run.
    pub fn check_expectations(&self) -> Result<(), Violation> {
        let failures = self.summary().check(&self.scenario);
        if failures.is_empty() {
            return Ok(());
        }
        Err(Violation(format!("seed {}: {}", self.seed, failures.join("; "))))
    }

    /// The timeline, one line per record, as `udplab run` prints it.
    pub fn timeline(&self) -> String {
        Lines::new(&self.scenario).render(&self.trace)
    }

    /// The trace digest `udplab run` prints (a hash of the records, see [`crate::trace::digest`]).
    pub fn digest(&self) -> u32 {
        digest(&self.trace)
    }

    /// What node `name`'s app reported, with times.
    pub fn events<'o>(&'o self, name: &str) -> impl Iterator<Item = (u64, AppEvent)> + 'o {
        let node = self.node_or_panic(name);
        self.trace.iter().filter_map(move |r| match r.event {
            Event::App { node: n, app } if n == node => Some((r.at_us, app)),
            _ => None,
        })
    }

    /// Node `name`'s own notes with the label `label`, with times.
    pub fn notes<'o>(&'o self, name: &str, label: &'o str) -> impl Iterator<Item = (u64, Note)> + 'o {
        self.events(name).filter_map(move |(at, e)| match e {
            AppEvent::Note(n) if n.label() == label => Some((at, n)),
            _ => None,
        })
    }

    /// Every datagram a link lost, in time order.
    pub fn losses(&self) -> Vec<Lost> {
        self.trace
            .iter()
            .filter_map(|r| match r.event {
                Event::Offer { link, index, label, fate: Fate::Lost(reason), .. } => {
                    Some(Lost { at_us: r.at_us, link, index, label, reason })
                }
                _ => None,
            })
            .collect()
    }

    /// The messages node `from` sent to node `to`, and what `to`'s app received of them.
    /// Panics on a node name the scenario does not have (a mistake in the test).
    pub fn flow(&self, from: &str, to: &str) -> Flow<'_> {
        let (a, b) = (self.node_or_panic(from), self.node_or_panic(to));
        let (a_addr, b_addr) = (self.scenario.nodes[a].addr, self.scenario.nodes[b].addr);
        // A built-in plain server's application sees `Received`; every other receiver reports
        // `Delivered` (the built-in reliable one after reordering, an app in code when it says so).
        let plain_server = matches!(self.scenario.nodes[b].role, Role::Server(s) if s.reliable.is_none());
        let mut sends = Vec::new();
        let mut deliveries = Vec::new();
        for r in &self.trace {
            let Event::App { node, app } = r.event else { continue };
            match app {
                AppEvent::Sent { seq, to, attempt, .. } if node == a && to.addr == b_addr => {
                    sends.push(Send { at_us: r.at_us, seq, attempt, dropped: false });
                }
                AppEvent::SendFailed { seq: Some(seq), to, .. } if node == a && to.addr == b_addr => {
                    sends.push(Send { at_us: r.at_us, seq, attempt: 0, dropped: true });
                }
                AppEvent::Delivered { seq, from, .. }
                    if node == b && !plain_server && from.addr == a_addr =>
                {
                    deliveries.push((r.at_us, seq));
                }
                AppEvent::Received { seq, from, .. } if node == b && plain_server && from.addr == a_addr => {
                    deliveries.push((r.at_us, seq));
                }
                _ => {}
            }
        }
        Flow { outcome: self, from: a, to: b, sends, deliveries }
    }
}

#[derive(Debug, Clone, Copy)]
struct Send {
    at_us: u64,
    seq: u32,
    attempt: u16,
    /// The socket was full: this send never reached a link.
    dropped: bool,
}

/// The messages one node sent another, as both apps reported them.
#[derive(Debug, Clone)]
pub struct Flow<'o> {
    outcome: &'o Outcome,
    from: usize,
    to: usize,
    sends: Vec<Send>,
    deliveries: Vec<(u64, u32)>,
}

impl Flow<'_> {
    /// Distinct message numbers sent (dropped at a full socket included: the app meant them).
    pub fn sent(&self) -> BTreeSet<u32> {
        self.sends.iter().map(|s| s.seq).collect()
    }

    /// Transmissions, retransmissions included.
    pub fn transmissions(&self) -> usize {
        self.sends.iter().filter(|s| !s.dropped).count()
    }

    /// Transmissions after the first of their message (attempt 2 and up).
    pub fn retransmissions(&self) -> usize {
        self.sends.iter().filter(|s| !s.dropped && s.attempt > 1).count()
    }

    /// Message numbers in the order the receiving app got them, duplicates included.
    pub fn delivered(&self) -> Vec<u32> {
        self.deliveries.iter().map(|(_, s)| *s).collect()
    }

    /// Sent but never delivered.
    pub fn lost(&self) -> Vec<u32> {
        let got: BTreeSet<u32> = self.deliveries.iter().map(|(_, s)| *s).collect();
        self.sent().into_iter().filter(|s| !got.contains(s)).collect()
    }

    /// Deliveries of a message the app already had (each extra delivery once).
    pub fn duplicates(&self) -> Vec<u32> {
        let mut seen = BTreeSet::new();
        self.deliveries.iter().filter(|(_, s)| !seen.insert(*s)).map(|(_, s)| *s).collect()
    }

    /// Deliveries of a message after a higher-numbered one.
    pub fn out_of_order(&self) -> Vec<u32> {
        let mut highest = 0;
        let mut late = Vec::new();
        for &(_, s) in &self.deliveries {
            if s < highest {
                late.push(s);
            }
            highest = highest.max(s);
        }
        late
    }

    /// Delivered but never sent by this sender (a forged or misrouted message).
    pub fn unexpected(&self) -> Vec<u32> {
        let sent = self.sent();
        self.deliveries.iter().map(|(_, s)| *s).filter(|s| !sent.contains(s)).collect()
    }

    /// From the first send of `seq` to its first delivery.
    pub fn latency_us(&self, seq: u32) -> Option<u64> {
        let sent = self.sends.iter().find(|s| s.seq == seq)?.at_us;
        let got = self.deliveries.iter().find(|(_, s)| *s == seq)?.0;
        Some(got.saturating_sub(sent))
    }

    /// The largest [`Flow::latency_us`] over delivered messages.
    pub fn max_latency_us(&self) -> Option<u64> {
        let first_sent: BTreeMap<u32, u64> = self.sends.iter().rev().map(|s| (s.seq, s.at_us)).collect();
        let mut seen = BTreeSet::new();
        self.deliveries
            .iter()
            .filter(|(_, s)| seen.insert(*s))
            .filter_map(|(at, s)| first_sent.get(s).map(|t| at.saturating_sub(*t)))
            .max()
    }

    /// Every message sent was delivered, and none twice (nothing unexpected either).
    pub fn check_exactly_once(&self) -> Result<(), Violation> {
        let (lost, dup, odd) = (self.lost(), self.duplicates(), self.unexpected());
        if lost.is_empty() && dup.is_empty() && odd.is_empty() {
            return Ok(());
        }
        let mut m = self.head("exactly once");
        if !lost.is_empty() {
            let _ = write!(m, "; never delivered: {}", self.explain(&lost));
        }
        if !dup.is_empty() {
            let _ = write!(m, "; delivered more than once: {}", list(&dup));
        }
        if !odd.is_empty() {
            let _ = write!(m, "; delivered but never sent: {}", list(&odd));
        }
        Err(Violation(m))
    }

    /// Nothing delivered twice (losses allowed).
    pub fn check_no_duplicates(&self) -> Result<(), Violation> {
        let dup = self.duplicates();
        if dup.is_empty() {
            return Ok(());
        }
        Err(Violation(format!("{}; delivered more than once: {}", self.head("no duplicates"), list(&dup))))
    }

    /// Deliveries in increasing message order.
    pub fn check_in_order(&self) -> Result<(), Violation> {
        let late = self.out_of_order();
        if late.is_empty() {
            return Ok(());
        }
        Err(Violation(format!("{}; delivered after a higher number: {}", self.head("in order"), list(&late))))
    }

    /// Every delivered message arrived within `max_us` of its first send.
    pub fn check_latency_within(&self, max_us: u64) -> Result<(), Violation> {
        let slow: Vec<(u32, u64)> = self
            .sent()
            .into_iter()
            .filter_map(|s| self.latency_us(s).map(|l| (s, l)))
            .filter(|(_, l)| *l > max_us)
            .collect();
        if slow.is_empty() {
            return Ok(());
        }
        let mut m = self.head("latency");
        let _ = write!(m, "; over {}:", udplab_firmware::app::Ms(max_us));
        for (s, l) in slow.iter().take(8) {
            let _ = write!(m, " {s} ({})", udplab_firmware::app::Ms(*l));
        }
        Err(Violation(m))
    }

    /// What the links did to each datagram labelled as message `seq` on its way from this
    /// flow's sender to its receiver, one line per datagram (the timeline's line). Needs labels
    /// that carry the message number: udplab's own format, or a [`crate::trace::Labeller`].
    pub fn why(&self, seq: u32) -> Vec<String> {
        let o = self.outcome;
        let lines = Lines::new(&o.scenario);
        let Some(link) = o.scenario.link_between(self.from, self.to) else { return Vec::new() };
        o.trace
            .iter()
            .filter(|r| match r.event {
                Event::Offer { link: l, label, .. } => l == link && label_seq(label) == Some(seq),
                _ => false,
            })
            .map(|r| {
                let mut s = String::new();
                let _ = lines.write(&mut s, r);
                String::from(s.trim_start())
            })
            .collect()
    }

    fn head(&self, what: &str) -> String {
        let o = self.outcome;
        format!(
            "{} -> {} not {what} (scenario `{}`, seed {}, {} sent, {} deliveries)",
            o.scenario.nodes[self.from].name,
            o.scenario.nodes[self.to].name,
            o.scenario.name,
            o.seed,
            self.sent().len(),
            self.deliveries.len()
        )
    }

    /// `3 (#4 LOST: random loss (20%) at 0.300000), 7, ...`: the first few, with their fates.
    fn explain(&self, seqs: &[u32]) -> String {
        let mut s = String::new();
        for (i, &seq) in seqs.iter().take(8).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{seq}");
            let why = self.why(seq);
            if !why.is_empty() {
                let _ = write!(s, " [{}]", why.join(" | "));
            } else if let Some(send) = self.sends.iter().find(|x| x.seq == seq && x.dropped) {
                let _ = write!(s, " [dropped at the sender's full socket at {}]", Time(send.at_us));
            }
        }
        if seqs.len() > 8 {
            let _ = write!(s, " and {} more", seqs.len() - 8);
        }
        s
    }
}

/// The message number a label carries, if any.
fn label_seq(label: Label) -> Option<u32> {
    match label {
        Label::Data { seq, .. } | Label::Damaged { seq } => Some(seq),
        Label::Named { id: Some(id), .. } => u32::try_from(id).ok(),
        _ => None,
    }
}

fn list(seqs: &[u32]) -> String {
    let mut s = String::new();
    for (i, seq) in seqs.iter().take(16).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{seq}");
    }
    if seqs.len() > 16 {
        let _ = write!(s, " and {} more", seqs.len() - 16);
    }
    s
}
