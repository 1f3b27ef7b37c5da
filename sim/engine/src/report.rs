//! The summary of a run, computed from its trace alone (so every runner that produces the same
//! trace reports the same numbers), and the check of a scenario's expectations.
//!
//! Message counts are exact: they come from distinct sequence numbers per flow, not from the
//! app's bounded duplicate window.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};
use serde::Serialize;
use udplab_firmware::app::{Endpoint, Ms, Order, Reply};
use udplab_firmware::wire::Error as WireError;
use udplab_firmware::{AppEvent, Role};

use crate::link::{Fate, LossReason};
use crate::rng::Prob;
use crate::scenario::{REAL_CLOCK_LATENCY_TOLERANCE_US, Scenario};
use crate::seqset::SeqSet;
use crate::trace::{DropReason, Event, Record, Time};

/// Minimum, mean and maximum of a set of microsecond samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub sum_us: u64,
}

impl Spread {
    fn add(&mut self, us: u64) {
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.sum_us += us;
        self.count += 1;
    }
    pub fn mean_us(&self) -> u64 {
        self.sum_us.checked_div(self.count).unwrap_or(0)
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return f.pad("-");
        }
        let mut s = String::new();
        let _ = write!(s, "{} / {} / {}", Ms(self.min_us), Ms(self.mean_us()), Ms(self.max_us));
        f.pad(&s)
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// What one directed link did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkSummary {
    pub name: String,
    pub offered: u64,
    pub lost: u64,
    pub lost_random: u64,
    pub lost_outage: u64,
    pub lost_index: u64,
    pub lost_too_big: u64,
    pub lost_queue_full: u64,
    /// Lost because a replayed trace recorded them lost ([`crate::replay`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_recorded: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Extra copies dropped at birth because the queue had room for the original only.
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicates_dropped: u64,
    pub corrupted: u64,
    pub held_for_reordering: u64,
    /// Copies that came out of the link (duplicates included).
    pub arrived: u64,
    /// Arrivals overtaken by a datagram sent after them.
    pub reordered: u64,
    pub in_flight_at_end: u64,
    pub latency: Spread,
    /// Copies that came out of the link but that the firmware's stack did not take
    /// (real-clock runners: its receive queue was full, or the run ended first).
    pub dropped_stack_busy: u64,
    /// IP fragments for this link, dropped before it (the firmware does not reassemble).
    pub dropped_fragments: u64,
}

/// One client's messages to its server, from both applications' points of view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowSummary {
    pub client: String,
    pub server: String,
    pub reliable: bool,
    pub echo: bool,
    /// The sender is an app supplied in code (its flows are found from its sends).
    pub code: bool,
    /// Distinct messages the client application sent.
    pub sent: u64,
    pub retransmissions: u64,
    /// Distinct messages that reached the receiving application.
    pub delivered: u64,
    pub lost: u64,
    /// Times the receiving application got a message it already had.
    pub duplicates: u64,
    /// Times the receiving application got a message after a higher-numbered one.
    pub out_of_order: u64,
    /// Reliable mode, the network's view at the receiver: copies of a message it already had
    /// (a retransmission whose ack was lost, a duplicated datagram), which the trace calls
    /// `received seq=N again (DUPLICATE)`. The application got each message once (`duplicates`).
    pub received_again: u64,
    /// Reliable mode: messages that arrived after a higher-numbered one (`received seq=N LATE`);
    /// the receiver held the later ones back, so the application saw them in order.
    pub received_late: u64,
    /// Messages the receiving application rejected as damaged (udplab CRC mismatch).
    pub corrupted: u64,
    /// Datagrams dropped inside a node (socket buffer full).
    pub dropped_at_socket: u64,
    /// Send to the application, first copy only (reliable: to in-order delivery).
    pub latency: Spread,
    /// Echo replies or acknowledgements the client got (distinct seqs).
    pub answered: u64,
    pub duplicate_answers: u64,
    /// Echo replies or acknowledgements the client rejected as damaged.
    pub damaged_answers: u64,
    pub round_trip: Spread,
    /// Delivered UDP payload bits per second (first copies; udplab's header counts) over the
    /// transfer's time: from the first send to one interval after the last send, or to the last
    /// delivery when that is later.
    pub goodput_bps: u64,
    /// The end of the flow played by a program of the user's (`udplab tap --exec`) rather than
    /// an app: udplab does not see that end's sends or receipts, only the links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// Which clock a trace was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The in-memory network: every delay is served exactly.
    Virtual,
    /// A TAP device or the chip: delays are served when the machine gets round to it.
    Real,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub duration_us: u64,
    pub flows: Vec<FlowSummary>,
    pub links: Vec<LinkSummary>,
    /// Datagrams sent to an address no node has.
    pub unroutable: u64,
    /// How late a real-clock runner released delayed datagrams; `None` in virtual time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<Lateness>,
}

/// Percentiles of how long after their due time a real-clock runner released datagrams
/// (every arrival counts, on time or not).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lateness {
    pub arrivals: u64,
    pub median_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Lateness {
    /// From every arrival's lateness: `arrivals` in all, the non-zero ones in `late` (so a
    /// virtual-time trace keeps nothing). `None` when nothing was late at all.
    fn of(arrivals: usize, mut late: Vec<u64>) -> Option<Lateness> {
        if late.is_empty() {
            return None;
        }
        late.sort_unstable();
        let on_time = arrivals - late.len();
        let at = |q: usize| (arrivals - 1) * q / 100;
        let at = |q: usize| at(q).checked_sub(on_time).map_or(0, |i| late[i]);
        Some(Lateness {
            arrivals: arrivals as u64,
            median_us: at(50),
            p90_us: at(90),
            p99_us: at(99),
            max_us: at(100),
        })
    }
}

/// A [`Summary`] built one record at a time, so a run can be summarised as it streams without
/// keeping its trace: [`Summary::from_trace`] is this over a whole trace. Its memory is the
/// scenario's flows and links, not the run's length (only a real clock's late arrivals are
/// kept, for their percentiles).
pub struct SummaryBuilder<'s> {
    scenario: &'s Scenario,
    seed: u64,
    /// The listed links ([`Scenario::links`]), in order.
    links: Vec<LinkSummary>,
    /// The implicit links ([`Scenario::implicit_links`]) datagrams crossed: a big scenario has
    /// far more directions than it uses.
    implicit: BTreeMap<usize, LinkSummary>,
    flows: Flows,
    unroutable: u64,
    arrivals: usize,
    late: Vec<u64>,
}

impl<'s> SummaryBuilder<'s> {
    pub fn new(scenario: &'s Scenario, seed: u64) -> SummaryBuilder<'s> {
        let links = (0..scenario.links.len())
            .map(|l| LinkSummary { name: scenario.link_name(l), ..LinkSummary::default() })
            .collect();
        SummaryBuilder {
            scenario,
            seed,
            links,
            implicit: BTreeMap::new(),
            flows: Flows::new(scenario),
            unroutable: 0,
            arrivals: 0,
            late: Vec::new(),
        }
    }

    /// Counts one record (records must come in trace order).
    pub fn add(&mut self, r: &Record) {
        match r.event {
            Event::Offer { link, fate, .. } => {
                let s = self.link(link);
                s.offered += 1;
                match fate {
                    Fate::Lost(reason) => {
                        s.lost += 1;
                        *match reason {
                            LossReason::Random { .. } | LossReason::Burst { .. } => &mut s.lost_random,
                            LossReason::Outage { .. } => &mut s.lost_outage,
                            LossReason::Index => &mut s.lost_index,
                            LossReason::TooBig { .. } => &mut s.lost_too_big,
                            LossReason::QueueFull { .. } => &mut s.lost_queue_full,
                            LossReason::Recorded { .. } => &mut s.lost_recorded,
                        } += 1;
                    }
                    Fate::Passed(p) => {
                        s.duplicated += u64::from(p.copies - 1);
                        s.duplicates_dropped += u64::from(p.copy_dropped);
                        s.corrupted += u64::from(p.corrupted.is_some());
                        s.held_for_reordering += u64::from(p.held_us > 0);
                    }
                }
            }
            Event::Arrive { link, latency_us, overtaken_by, late_us, .. } => {
                self.arrivals += 1;
                if late_us > 0 {
                    self.late.push(late_us);
                }
                let s = self.link(link);
                s.arrived += 1;
                s.reordered += u64::from(overtaken_by.is_some());
                s.latency.add(latency_us);
            }
            Event::InFlightAtEnd { link, .. } => self.link(link).in_flight_at_end += 1,
            Event::NoRoute { .. } => self.unroutable += 1,
            Event::Dropped { link, reason, .. } => match reason {
                DropReason::StackBusy { .. } | DropReason::Unread => self.link(link).dropped_stack_busy += 1,
                DropReason::Fragment { .. } => self.link(link).dropped_fragments += 1,
            },
            Event::App { node, app } => self.flows.observe(self.scenario, r.at_us, node, app),
        }
    }

    fn link(&mut self, link: usize) -> &mut LinkSummary {
        if link < self.links.len() {
            return &mut self.links[link];
        }
        let scenario = self.scenario;
        self.implicit
            .entry(link)
            .or_insert_with(|| LinkSummary { name: scenario.link_name(link), ..LinkSummary::default() })
    }

    pub fn finish(self) -> Summary {
        // Implicit links are numbered after the listed ones: this is link order.
        let mut links = self.links;
        links.extend(self.implicit.into_values());
        links.retain(|l| l.offered > 0 || l.dropped_fragments > 0);
        Summary {
            seed: self.seed,
            duration_us: self.scenario.duration_us,
            flows: self.flows.finish(),
            links,
            unroutable: self.unroutable,
            late: Lateness::of(self.arrivals, self.late),
        }
    }
}

impl Summary {
    pub fn from_trace(scenario: &Scenario, seed: u64, trace: &[Record]) -> Summary {
        let mut summary = SummaryBuilder::new(scenario, seed);
        trace.iter().for_each(|r| summary.add(r));
        summary.finish()
    }

    /// Message totals over all flows: (sent, delivered, duplicates, out of order, lost).
    fn totals(&self) -> (u64, u64, u64, u64, u64) {
        self.flows.iter().fold((0, 0, 0, 0, 0), |t, f| {
            (t.0 + f.sent, t.1 + f.delivered, t.2 + f.duplicates, t.3 + f.out_of_order, t.4 + f.lost)
        })
    }

    /// The expectations of `scenario` that this run breaks, each as a sentence.
    pub fn check(&self, scenario: &Scenario) -> Vec<String> {
        self.check_on(scenario, Clock::Virtual)
    }

    /// [`Summary::check`] for a trace from `clock`: on a real clock `latency_max` allows the
    /// scenario's `latency_tolerance` on top (timers fire late on a busy machine; the
    /// timeline shows by how much).
    pub fn check_on(&self, scenario: &Scenario, clock: Clock) -> Vec<String> {
        let e = &scenario.expect;
        let (sent, delivered, duplicates, out_of_order, lost) = self.totals();
        let mut failures = Vec::new();
        let mut fail = |args: fmt::Arguments<'_>| {
            let mut s = String::new();
            let _ = s.write_fmt(args);
            failures.push(s);
        };
        if let Some(min) = e.delivered_min_ppm
            && u128::from(delivered) * 1_000_000 < u128::from(min) * u128::from(sent)
        {
            let want = Prob::from_ppb(min.saturating_mul(1000)).unwrap_or(Prob::ALWAYS);
            fail(format_args!("expected at least {want} of messages delivered, got {delivered} of {sent}"));
        }
        if e.all_delivered && delivered < sent {
            fail(format_args!("expected every message delivered, {} of {sent} were not", sent - delivered));
        }
        if let Some(max) = e.duplicates_max
            && duplicates > max
        {
            fail(format_args!("expected at most {max} duplicates at the application, got {duplicates}"));
        }
        if e.in_order && out_of_order > 0 {
            fail(format_args!("expected in-order delivery, {out_of_order} messages arrived out of order"));
        }
        if let Some(max) = e.latency_max_us {
            let worst = self.flows.iter().map(|f| f.latency.max_us).max().unwrap_or(0);
            match clock {
                Clock::Virtual if worst > max => {
                    fail(format_args!("expected latency at most {}, worst was {}", Ms(max), Ms(worst)));
                }
                Clock::Real => {
                    let slack = e.latency_tolerance_us.unwrap_or(REAL_CLOCK_LATENCY_TOLERANCE_US);
                    if worst > max.saturating_add(slack) {
                        fail(format_args!(
                            "expected latency at most {} (+{} real-clock tolerance), worst was {}",
                            Ms(max),
                            Ms(slack),
                            Ms(worst)
                        ));
                    }
                }
                Clock::Virtual => {}
            }
        }
        if let Some(max) = e.lost_max
            && lost > max
        {
            fail(format_args!("expected at most {max} messages lost, {lost} were"));
        }
        failures
    }

    /// The human-readable summary table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = self.write(&mut s);
        s
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "summary: seed {}, duration {} s", self.seed, Time(self.duration_us))?;
        for f in &self.flows {
            let mode = match (f.code, f.reliable, f.echo) {
                (true, _, _) => "app",
                (false, true, _) => "reliable",
                (false, false, true) => "echo",
                (false, false, false) => "sink",
            };
            writeln!(out, "  {} -> {} ({mode})", f.client, f.server)?;
            if f.program.as_deref() == Some(f.client.as_str()) {
                writeln!(out, "    messages   sent by a program: counted on the links below only")?;
                continue;
            }
            if f.program.as_deref() == Some(f.server.as_str()) {
                writeln!(out, "    messages   sent {}, received by a program: see the links below", f.sent)?;
                if f.echo {
                    answers_line(out, "replies", f)?;
                }
                continue;
            }
            write!(out, "    messages   sent {}", f.sent)?;
            if f.reliable {
                write!(out, " (+{} retransmissions)", f.retransmissions)?;
            }
            writeln!(
                out,
                ", delivered {} ({}), lost {}, duplicates {}, out of order {}, corrupted {}",
                f.delivered,
                Ratio(f.delivered, f.sent),
                f.lost,
                f.duplicates,
                f.out_of_order,
                f.corrupted
            )?;
            if f.reliable {
                writeln!(
                    out,
                    "    receipts   {} again (DUPLICATE), {} LATE (out of order): what the network brought; the \
                     application got each message once, in order",
                    f.received_again, f.received_late
                )?;
            }
            if f.dropped_at_socket > 0 {
                writeln!(out, "    dropped at a full socket buffer: {}", f.dropped_at_socket)?;
            }
            writeln!(out, "    latency    min / mean / max {}", f.latency)?;
            writeln!(out, "    goodput    {}", Bps(f.goodput_bps))?;
            if f.reliable || f.echo {
                answers_line(out, if f.reliable { "acked" } else { "replies" }, f)?;
                if f.damaged_answers > 0 {
                    writeln!(out, "    {:<10} {} rejected as damaged", "", f.damaged_answers)?;
                }
            }
        }
        let w = self.links.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
        writeln!(
            out,
            "  {:<w$}  offered  lost  dup  corrupt  arrived  reordered  in-flight  latency min / mean / max",
            "link"
        )?;
        for l in &self.links {
            writeln!(
                out,
                "  {:<w$}  {:>7}  {:>4}  {:>3}  {:>7}  {:>7}  {:>9}  {:>9}  {}",
                l.name,
                l.offered,
                l.lost,
                l.duplicated,
                l.corrupted,
                l.arrived,
                l.reordered,
                l.in_flight_at_end,
                l.latency
            )?;
            let causes = [
                (l.lost_random, "random"),
                (l.lost_outage, "outage"),
                (l.lost_index, "drop list"),
                (l.lost_too_big, "over MTU"),
                (l.lost_queue_full, "queue full"),
                (l.lost_recorded, "as recorded"),
            ];
            if causes.iter().filter(|(n, _)| *n > 0).count() > 1 || l.lost_random < l.lost {
                write!(out, "  {:<w$}  lost by cause:", "")?;
                for (n, what) in causes.iter().filter(|(n, _)| *n > 0) {
                    write!(out, " {what} {n}")?;
                }
                writeln!(out)?;
            }
            if l.duplicates_dropped > 0 {
                writeln!(
                    out,
                    "  {:<w$}  duplicate copies lost at the full queue (originals kept): {}",
                    "", l.duplicates_dropped
                )?;
            }
        }
        for l in self.links.iter().filter(|l| l.dropped_stack_busy + l.dropped_fragments > 0) {
            writeln!(
                out,
                "  {:<w$}  dropped outside the link: not taken by the stack {}, IP fragments {}",
                l.name, l.dropped_stack_busy, l.dropped_fragments
            )?;
        }
        if self.unroutable > 0 {
            writeln!(out, "  datagrams to unknown addresses: {}", self.unroutable)?;
        }
        if let Some(l) = &self.late {
            writeln!(
                out,
                "  real clock: {} arrivals released after their due time by median {}, p90 {}, p99 {}, max {}",
                l.arrivals,
                Ms(l.median_us),
                Ms(l.p90_us),
                Ms(l.p99_us),
                Ms(l.max_us)
            )?;
        }
        Ok(())
    }
}

/// `a / b` as a percentage with one decimal.
struct Ratio(u64, u64);

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 == 0 {
            return f.write_str("-");
        }
        let tenths = (u128::from(self.0) * 1000 + u128::from(self.1) / 2) / u128::from(self.1);
        write!(f, "{}.{}%", tenths / 10, tenths % 10)
    }
}

/// Bits per second with an SI prefix.
/// A flow's `replies` (echo) or `acked` (reliable) line: what came back to the client.
fn answers_line(out: &mut String, what: &str, f: &FlowSummary) -> fmt::Result {
    writeln!(
        out,
        "    {what:<10} {} of {} ({}), duplicate {}, round trip min / mean / max {}",
        f.answered,
        f.sent,
        Ratio(f.answered, f.sent),
        f.duplicate_answers,
        f.round_trip
    )
}

struct Bps(u64);

impl fmt::Display for Bps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match b {
            0..1_000 => write!(f, "{b} bit/s"),
            1_000..1_000_000 => write!(f, "{}.{} kbit/s", b / 1_000, b % 1_000 / 100),
            _ => write!(f, "{}.{} Mbit/s", b / 1_000_000, b % 1_000_000 / 100_000),
        }
    }
}

/// Per-flow bookkeeping while walking the trace.
struct FlowState {
    summary: FlowSummary,
    client: usize,
    server: Option<usize>,
    /// The client's port; `None` for an app supplied in code (matched by address alone).
    client_port: Option<u16>,
    size: u64,
    sent: SeqSet,
    delivered: SeqSet,
    highest_delivered: u32,
    answered: SeqSet,
    first_send_us: Option<u64>,
    last_send_us: u64,
    /// The client's sending interval (0 for an app supplied in code): its last message
    /// occupies the sending time until the next one would have gone.
    interval_us: u64,
    last_delivery_us: u64,
    /// Apps supplied in code: first send time and size of each message, for the latency and
    /// goodput their `Delivered` events do not carry.
    code_sends: BTreeMap<u32, (u64, u64)>,
    delivered_bytes: u64,
}

impl FlowState {
    fn new(
        summary: FlowSummary,
        client: usize,
        server: Option<usize>,
        client_port: Option<u16>,
        size: u64,
        interval_us: u64,
    ) -> Self {
        FlowState {
            summary,
            client,
            server,
            client_port,
            size,
            sent: SeqSet::new(),
            delivered: SeqSet::new(),
            highest_delivered: 0,
            answered: SeqSet::new(),
            first_send_us: None,
            last_send_us: 0,
            interval_us,
            last_delivery_us: 0,
            code_sends: BTreeMap::new(),
            delivered_bytes: 0,
        }
    }
}

/// Every flow, and where to find a node's: an app event names its node, and a thousand-node
/// classroom must not search a thousand flows for each.
struct Flows {
    all: Vec<FlowState>,
    /// Per node, the flows it is the client of, in flow order.
    by_client: Vec<Vec<usize>>,
    /// Per node, the flows it is the server of, in flow order.
    by_server: Vec<Vec<usize>>,
    /// Per client address, its flows in flow order (a datagram names its sender by address).
    by_addr: BTreeMap<[u8; 4], Vec<usize>>,
}

impl Flows {
    fn new(scenario: &Scenario) -> Flows {
        let n = scenario.nodes.len();
        let mut flows = Flows {
            all: Vec::new(),
            by_client: alloc::vec![Vec::new(); n],
            by_server: alloc::vec![Vec::new(); n],
            by_addr: BTreeMap::new(),
        };
        let by_addr: BTreeMap<[u8; 4], usize> =
            scenario.nodes.iter().enumerate().rev().map(|(i, n)| (n.addr, i)).collect();
        let states: Vec<FlowState> = scenario
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n.role {
                Role::Client(c) => {
                    let server = by_addr.get(&c.server_addr).copied();
                    let echo = server.is_some_and(
                        |s| matches!(scenario.nodes[s].role, Role::Server(sc) if sc.reply == Reply::Echo),
                    );
                    let summary = FlowSummary {
                        client: n.name.clone(),
                        server: server.map_or_else(String::new, |s| scenario.nodes[s].name.clone()),
                        reliable: c.reliable.is_some(),
                        echo,
                        ..FlowSummary::default()
                    };
                    Some(FlowState::new(summary, i, server, Some(c.port), c.size as u64, c.interval_us))
                }
                Role::Server(_) | Role::Code => None,
            })
            .collect();
        for f in states {
            flows.push(scenario, f);
        }
        flows
    }

    fn push(&mut self, scenario: &Scenario, f: FlowState) -> usize {
        let at = self.all.len();
        self.by_client[f.client].push(at);
        if let Some(server) = f.server {
            self.by_server[server].push(at);
        }
        self.by_addr.entry(scenario.nodes[f.client].addr).or_default().push(at);
        self.all.push(f);
        at
    }

    /// The first flow in `list` (indices in flow order) that `pick` accepts.
    fn first(&self, list: Option<&Vec<usize>>, pick: impl Fn(&FlowState) -> bool) -> Option<usize> {
        list?.iter().copied().find(|&i| pick(&self.all[i]))
    }

    /// The flow of messages an app supplied in code sends to `to`, made on its first send.
    fn code_flow(&mut self, scenario: &Scenario, node: usize, to: Endpoint) -> &mut FlowState {
        let server = scenario.nodes.iter().position(|s| s.addr == to.addr);
        let at = match self.first(self.by_client.get(node), |f| f.server == server) {
            Some(at) => at,
            None => {
                let summary = FlowSummary {
                    client: scenario.nodes[node].name.clone(),
                    server: server.map_or_else(|| alloc::format!("{to}"), |s| scenario.nodes[s].name.clone()),
                    code: true,
                    ..FlowSummary::default()
                };
                self.push(scenario, FlowState::new(summary, node, server, None, 0, 0))
            }
        };
        &mut self.all[at]
    }

    fn observe(&mut self, scenario: &Scenario, at_us: u64, node: usize, app: AppEvent) {
        let is_code = matches!(scenario.nodes[node].role, Role::Code);
        // Sends of an app supplied in code make its flows.
        if is_code {
            match app {
                AppEvent::Sent { seq, to, bytes, attempt } => {
                    let f = self.code_flow(scenario, node, to);
                    f.first_send_us.get_or_insert(at_us);
                    f.last_send_us = at_us;
                    f.sent.insert(seq);
                    f.code_sends.entry(seq).or_insert((at_us, bytes as u64));
                    f.summary.retransmissions += u64::from(attempt > 1);
                    return;
                }
                AppEvent::SendFailed { seq: Some(seq), to, .. } => {
                    let f = self.code_flow(scenario, node, to);
                    f.sent.insert(seq);
                    f.summary.dropped_at_socket += 1;
                    return;
                }
                _ => {}
            }
        }
        // Events at a built-in client.
        if let Some(at) = self.first(self.by_client.get(node), |f| !f.summary.code) {
            let f = &mut self.all[at];
            let s = &mut f.summary;
            match app {
                AppEvent::Sent { seq, attempt, .. } => {
                    f.first_send_us.get_or_insert(at_us);
                    f.last_send_us = at_us;
                    f.sent.insert(seq);
                    s.retransmissions += u64::from(attempt > 1);
                }
                AppEvent::SendFailed { seq, .. } => {
                    if let Some(seq) = seq {
                        f.sent.insert(seq);
                    }
                    s.dropped_at_socket += 1;
                }
                AppEvent::Reply { seq, rtt_us, .. } => {
                    if f.answered.insert(seq) {
                        s.round_trip.add(rtt_us);
                    } else {
                        s.duplicate_answers += 1;
                    }
                }
                AppEvent::Acked { seq, rtt_us, .. } => {
                    f.answered.insert(seq);
                    if let Some(rtt) = rtt_us {
                        s.round_trip.add(rtt);
                    }
                }
                AppEvent::DuplicateAck { .. } => s.duplicate_answers += 1,
                AppEvent::Invalid { error: WireError::BadCrc, .. } => s.damaged_answers += 1,
                _ => {}
            }
            return;
        }
        // Events at a receiver. A built-in reliable receiver's application sees `Delivered`, a
        // plain one `Received`; an app supplied in code reports `Delivered`. A reliable
        // receiver's `Received` is what the network brought, counted apart.
        if let AppEvent::Received { from, order, .. } = app
            && !is_code
            && order != Order::InOrder
            && let Some(at) = self
                .first(self.by_addr.get(&from.addr), |f| f.sent_from(scenario, from) && f.summary.reliable)
        {
            let s = &mut self.all[at].summary;
            match order {
                Order::Late => s.received_late += 1,
                _ => s.received_again += 1,
            }
            return;
        }
        let (flow, seq, latency_us) = match app {
            AppEvent::Delivered { seq, from, latency_us } if is_code => {
                let flow = self.first(self.by_server.get(node), |f| f.sent_from(scenario, from));
                (flow, seq, latency_us)
            }
            AppEvent::Delivered { seq, latency_us, .. } => {
                (self.first(self.by_server.get(node), |f| f.summary.reliable), seq, latency_us)
            }
            AppEvent::Received { seq, from, one_way_us, .. } if !is_code => {
                let flow = self.first(self.by_addr.get(&from.addr), |f| {
                    f.sent_from(scenario, from) && !f.summary.reliable
                });
                (flow, seq, Some(one_way_us))
            }
            AppEvent::Invalid { from, error: WireError::BadCrc, .. } => {
                if let Some(at) = self.first(self.by_addr.get(&from.addr), |f| f.sent_from(scenario, from)) {
                    self.all[at].summary.corrupted += 1;
                }
                return;
            }
            AppEvent::SendFailed { .. } => {
                if let Some(at) = self.first(self.by_server.get(node), |_| true) {
                    self.all[at].summary.dropped_at_socket += 1;
                }
                return;
            }
            _ => return,
        };
        let Some(f) = flow.map(|i| &mut self.all[i]) else {
            return;
        };
        let s = &mut f.summary;
        if f.delivered.insert(seq) {
            let sent = f.code_sends.get(&seq).copied();
            if let Some(latency) = latency_us.or(sent.map(|(t, _)| at_us.saturating_sub(t))) {
                s.latency.add(latency);
            }
            f.delivered_bytes += sent.map_or(f.size, |(_, bytes)| bytes);
            f.last_delivery_us = at_us;
        } else {
            s.duplicates += 1;
        }
        if seq < f.highest_delivered {
            s.out_of_order += 1;
        }
        f.highest_delivered = f.highest_delivered.max(seq);
    }

    fn finish(self) -> Vec<FlowSummary> {
        self.all
            .into_iter()
            .map(|f| {
                let mut s = f.summary;
                s.sent = f.sent.len();
                s.delivered = f.delivered.len();
                s.lost = s.sent - s.delivered.min(s.sent);
                s.answered = f.answered.len();
                // The transfer's time: from the first send to the end of the sending, or to the
                // last delivery if the network held datagrams longer (a queue behind a slow link).
                // Not to the last delivery alone: one datagram that gets through after an outage
                // would then stretch the time and halve the goodput (lesson 8's sweep).
                let end = f.last_delivery_us.max(f.last_send_us.saturating_add(f.interval_us));
                let span = f.first_send_us.map_or(0, |t| end.saturating_sub(t));
                s.goodput_bps = (f.delivered_bytes * 8 * 1_000_000).checked_div(span).unwrap_or(0);
                s
            })
            .collect()
    }
}

impl FlowState {
    /// Whether a datagram from `from` comes from this flow's client.
    fn sent_from(&self, scenario: &Scenario, from: Endpoint) -> bool {
        scenario.nodes[self.client].addr == from.addr && self.client_port.is_none_or(|p| p == from.port)
    }
}

#[cfg(test)]
mod tests {
    use super::Lateness;

    #[test]
    fn lateness_percentiles_count_the_arrivals_that_were_on_time() {
        assert_eq!(Lateness::of(5, alloc::vec![]), None);
        // 90 on time, then 1..=10 us late.
        let l = Lateness::of(100, (1..=10).collect()).unwrap();
        assert_eq!((l.arrivals, l.median_us, l.p90_us, l.p99_us, l.max_us), (100, 0, 0, 9, 10));
    }
}
