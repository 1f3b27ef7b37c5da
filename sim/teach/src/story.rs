//! What happened to each datagram, regrouped from the trace: the one model every picture draws.
//!
//! The trace lists decisions as they happen (a link is offered datagram #3; later copy 0 of #3
//! arrives); a picture wants them per datagram (this arrow, its fate, its copies, whom it
//! overtook). [`Story::new`] walks the trace once and keeps its order, so pictures list
//! datagrams in the order they were sent, deterministically. The sentences that describe a
//! datagram (pcapng comments, SVG tooltips) are here too, so every output words things alike.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write;

use udplab_firmware::AppEvent;
use udplab_firmware::app::{Ms, Order};
use udplab_firmware::wire::Error as WireError;
use udplab_sim::link::{Corruption, Fate, LossReason, Passage};
use udplab_sim::trace::{Event, Label, Record};
use udplab_sim::{Scenario, scenario::Loss};

/// A run's datagrams and the application events worth a note, in trace order: the whole run,
/// for the pictures that draw all of it at once (SVG, HTML, Mermaid). Built by [`Unfolding`],
/// which the streamed outputs use directly. The sentences about datagrams are its [`Words`].
#[derive(Debug)]
pub struct Story<'s> {
    words: Words<'s>,
    /// Every datagram offered to a link, in the order offered.
    pub datagrams: Vec<Datagram>,
    /// Datagrams and notes in trace order: what a ladder draws from top to bottom.
    pub steps: Vec<Step>,
    /// The time of the last record, or the scenario's duration if later.
    pub end_us: u64,
    /// `(link, index)` to its position in `datagrams`.
    by_key: BTreeMap<(usize, u64), usize>,
    /// Why the run stopped before it was done, when it did (a real-clock run): every picture
    /// says so.
    pub incomplete: Option<String>,
}

impl<'s> std::ops::Deref for Story<'s> {
    type Target = Words<'s>;
    fn deref(&self) -> &Words<'s> {
        &self.words
    }
}

/// How every output words a scenario's nodes, links and datagrams: the pcapng comments, the
/// ladders' notes and the SVG tooltips say things alike because they all ask here.
#[derive(Debug, Clone, Copy)]
pub struct Words<'s> {
    pub scenario: &'s Scenario,
}

/// One finished item of a run's story, handed out by [`Unfolding`] in trace order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Datagram(Datagram),
    Note(Note),
}

/// One datagram offered to one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub link: usize,
    /// Sending node.
    pub from: usize,
    /// Receiving node.
    pub to: usize,
    /// Its number on the link, from 1 (`#N`).
    pub index: u64,
    pub sent_us: u64,
    pub label: Label,
    /// IP packet bytes.
    pub bytes: u32,
    pub fate: Fate,
    /// One entry per copy the link let through (none when lost), by copy number.
    pub copies: Vec<CopyFate>,
    /// Earlier datagrams on the same link that this one's first copy arrived before.
    pub overtook: Overtook,
}

/// The datagrams a datagram overtook: the first few by number, and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overtook {
    pub first: Vec<u64>,
    pub count: u64,
}

/// Shown by number in sentences; more are counted.
const OVERTOOK_SHOWN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFate {
    /// 0: the original; 1: the duplicate.
    pub copy: u8,
    pub end: CopyEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyEnd {
    Arrived {
        at_us: u64,
        latency_us: u64,
        overtaken_by: Option<u64>,
    },
    /// Still inside the link when the trace ended; it was due at `due_us`.
    InFlight {
        due_us: u64,
    },
}

/// One row of a ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Index into [`Story::datagrams`].
    Datagram(usize),
    Note(Note),
}

/// Something an application did or saw that a ladder should show beside the arrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub at_us: u64,
    pub node: usize,
    pub text: String,
    /// A problem (a drop, a timeout, damage) rather than plain information.
    pub problem: bool,
}

impl<'s> Story<'s> {
    /// Regroups `trace`, a run of `scenario`. Records that name a link or node the scenario
    /// does not have are skipped, never trusted.
    pub fn new(scenario: &'s Scenario, trace: &[Record]) -> Story<'s> {
        let mut story = Story {
            words: Words { scenario },
            datagrams: Vec::new(),
            steps: Vec::new(),
            end_us: scenario.duration_us,
            by_key: BTreeMap::new(),
            incomplete: None,
        };
        let mut unfolding = Unfolding::new(scenario);
        let mut keep = |item: Item| match item {
            Item::Datagram(d) => {
                story.by_key.insert((d.link, d.index), story.datagrams.len());
                story.steps.push(Step::Datagram(story.datagrams.len()));
                story.datagrams.push(d);
            }
            Item::Note(n) => story.steps.push(Step::Note(n)),
        };
        for r in trace {
            unfolding.push(r, &mut keep);
        }
        let end_us = unfolding.finish(&mut keep);
        story.end_us = end_us;
        story
    }

    /// Datagram `#index` of `link`.
    pub fn find(&self, link: usize, index: u64) -> Option<&Datagram> {
        self.by_key.get(&(link, index)).and_then(|&i| self.datagrams.get(i))
    }
}

impl<'s> Words<'s> {
    pub fn node_name(&self, node: usize) -> &str {
        self.scenario.nodes.get(node).map_or("?", |n| n.name.as_str())
    }

    /// `laptop->board`.
    pub fn link_name(&self, link: usize) -> String {
        match self.scenario.links.get(link) {
            Some(l) => format!("{}->{}", self.node_name(l.from), self.node_name(l.to)),
            None => "?".to_string(),
        }
    }

    /// The link's delay when `d` was sent: where a lost datagram's X is drawn (half way).
    pub fn nominal_delay_us(&self, d: &Datagram) -> u64 {
        self.scenario.links.get(d.link).map_or(0, |l| l.active(d.sent_us).delay_us)
    }

    /// Why a link lost a datagram, worded as the timeline words it.
    pub fn loss_reason(&self, link: usize, reason: &LossReason) -> String {
        match *reason {
            LossReason::Outage { phase } => {
                let name = self
                    .scenario
                    .links
                    .get(link)
                    .and_then(|l| l.phases.get(phase))
                    .map_or("outage", |p| p.name.as_str());
                format!("link down ({name})")
            }
            LossReason::Index => "on the drop list".to_string(),
            LossReason::TooBig { mtu } => format!("larger than the {mtu}-byte MTU"),
            LossReason::Random { p } => format!("random loss ({p})"),
            LossReason::Burst { bad: true, p } => format!("burst loss, link in BAD state ({p})"),
            LossReason::Burst { bad: false, p } => format!("loss in GOOD state ({p})"),
            LossReason::QueueFull { limit } => format!("queue full ({limit} datagrams held)"),
            LossReason::Recorded { row } => {
                let name = self
                    .scenario
                    .links
                    .get(link)
                    .and_then(|l| l.trace.as_ref())
                    .map_or("trace", |t| t.name.as_str());
                format!("as recorded ({name} row {row})")
            }
        }
    }

    /// `laptop->board #3 seq=3`: how every sentence about a datagram starts.
    pub fn name(&self, d: &Datagram) -> String {
        format!("{} #{} {}", self.link_name(d.link), d.index, d.label)
    }

    /// The sentence for the datagram as it was offered to its link (its pcapng comment).
    pub fn offer_sentence(&self, d: &Datagram) -> String {
        let mut s = self.name(d);
        let p = match &d.fate {
            Fate::Lost(reason) => {
                let _ = write!(s, ": LOST, {}", self.loss_reason(d.link, reason));
                return s;
            }
            Fate::Passed(p) => p,
        };
        let _ = write!(s, ": sent, {}", passage_words(p, d.sent_us));
        for c in &d.copies {
            if let CopyEnd::InFlight { .. } = c.end {
                let which = if c.copy == 0 { "" } else { " (its duplicate)" };
                let _ = write!(s, "; still in flight when the run ended{which}");
            }
        }
        s
    }

    /// The sentence for copy `copy` of the datagram as it came out of the link.
    pub fn arrival_sentence(&self, d: &Datagram, copy: u8) -> String {
        let mut s = self.name(d);
        let Some(c) = d.copies.iter().find(|c| c.copy == copy) else {
            return s;
        };
        let CopyEnd::Arrived { latency_us, overtaken_by, .. } = c.end else {
            s.push_str(": still in flight when the run ended");
            return s;
        };
        if copy > 0 {
            let _ = write!(s, ": duplicate of #{}, arrived after {}", d.index, Ms(latency_us));
        } else {
            let _ = write!(s, ": arrived after {}", Ms(latency_us));
        }
        if let Fate::Passed(p) = &d.fate {
            if p.held_us > 0 {
                let _ = write!(s, ", delayed {} extra (held back to be overtaken)", Ms(p.held_us));
            }
            if let Some(c) = p.corrupted {
                let _ = write!(s, "; {}", corruption_words(c));
            }
        }
        if let Some(later) = overtaken_by {
            let _ = write!(s, "; REORDERED: #{later} arrived first");
        }
        if copy == 0 && d.overtook.count > 0 {
            let _ = write!(s, "; overtook {}", overtook_words(&d.overtook));
        }
        s
    }

    /// Everything about the datagram in one sentence (SVG tooltips, HTML): offer and arrivals.
    pub fn whole_sentence(&self, d: &Datagram) -> String {
        let mut s = format!(
            "{} (sent at {} s, {}B)",
            self.offer_sentence(d),
            udplab_sim::trace::Time(d.sent_us),
            d.bytes
        );
        for c in &d.copies {
            if let CopyEnd::Arrived { .. } = c.end {
                let arrival = self.arrival_sentence(d, c.copy);
                let rest = arrival.split_once(": ").map_or(arrival.as_str(), |(_, r)| r);
                let _ = write!(s, "; copy {}: {rest}", c.copy);
            }
        }
        s
    }

    /// Whether the scenario's links lose datagrams by a model at all (for legends).
    pub fn has_random_loss(&self) -> bool {
        self.scenario.links.iter().any(|l| !matches!(l.impairment.loss, Loss::None))
    }
}

/// The story told as the run goes, for outputs that stream (the terminal ladder, the pcapng):
/// records go in one by one and finished [`Item`]s come out in the order a whole [`Story`]
/// lists them. A datagram is finished once every copy the link let through has come out (or the
/// run ended with it inside); until then it and everything after it wait, so what is held is
/// what is in flight, never the run.
#[derive(Debug)]
pub struct Unfolding<'s> {
    scenario: &'s Scenario,
    /// Items not handed out yet, in order: `(item, copies still inside the link)`.
    pending: VecDeque<(Item, u8)>,
    /// The position (counted from the start of the run) of `pending[0]`.
    first: u64,
    /// `(link, index)` to the position of its datagram, while it is pending.
    open: HashMap<(usize, u64), u64>,
    /// Per link: datagrams let through whose first copy has not arrived yet.
    waiting: Vec<BTreeSet<u64>>,
    released: Option<Released>,
    end_us: u64,
}

impl<'s> Unfolding<'s> {
    pub fn new(scenario: &'s Scenario) -> Unfolding<'s> {
        Unfolding {
            scenario,
            pending: VecDeque::new(),
            first: 0,
            open: HashMap::new(),
            waiting: vec![BTreeSet::new(); scenario.links.len()],
            released: None,
            end_us: scenario.duration_us,
        }
    }

    /// Datagram `#index` of `link`, while it is not finished.
    pub fn get(&self, link: usize, index: u64) -> Option<&Datagram> {
        let at = *self.open.get(&(link, index))?;
        match self.pending.get((at - self.first) as usize) {
            Some((Item::Datagram(d), _)) => Some(d),
            _ => None,
        }
    }

    fn push_item(&mut self, item: Item, inside: u8) {
        if let Item::Datagram(d) = &item {
            self.open.insert((d.link, d.index), self.first + self.pending.len() as u64);
        }
        self.pending.push_back((item, inside));
    }

    fn flush_released(&mut self) {
        if let Some(g) = self.released.take().filter(|g| g.last > g.first) {
            let text =
                format!("delivered seq={}..{} at once (they waited for seq={})", g.first, g.last, g.first);
            self.push_item(Item::Note(Note { at_us: g.at_us, node: g.node, text, problem: false }), 0);
        }
    }

    /// Takes one record (in trace order) and hands `emit` every item it finished. Records that
    /// name a link or node the scenario does not have are skipped, never trusted.
    pub fn push(&mut self, r: &Record, emit: &mut dyn FnMut(Item)) {
        let scenario = self.scenario;
        self.end_us = self.end_us.max(r.at_us);
        if !matches!(r.event, Event::App { app: AppEvent::Delivered { .. }, .. }) {
            self.flush_released();
        }
        match r.event {
            Event::Offer { link, index, label, bytes, fate } => {
                let Some(l) = scenario.links.get(link) else { return };
                let copies: Vec<CopyFate> = match fate {
                    Fate::Passed(p) => (0..p.copies.min(2))
                        .map(|c| CopyFate {
                            copy: c,
                            end: CopyEnd::InFlight { due_us: p.arrive_us[c as usize] },
                        })
                        .collect(),
                    Fate::Lost(_) => Vec::new(),
                };
                if matches!(fate, Fate::Passed(_)) {
                    self.waiting[link].insert(index);
                }
                let inside = copies.len() as u8;
                let d = Datagram {
                    link,
                    from: l.from,
                    to: l.to,
                    index,
                    sent_us: r.at_us,
                    label,
                    bytes,
                    fate,
                    copies,
                    overtook: Overtook::default(),
                };
                self.push_item(Item::Datagram(d), inside);
            }
            Event::Arrive { link, index, copy, latency_us, overtaken_by, .. } => {
                let Some(&at) = self.open.get(&(link, index)) else { return };
                let Some((Item::Datagram(d), inside)) = self.pending.get_mut((at - self.first) as usize)
                else {
                    return;
                };
                if copy == 0
                    && let Some(w) = self.waiting.get_mut(link)
                {
                    w.remove(&index);
                    let mut ahead = w.range(..index);
                    d.overtook.first = ahead.by_ref().take(OVERTOOK_SHOWN).copied().collect();
                    d.overtook.count = d.overtook.first.len() as u64 + ahead.count() as u64;
                }
                if let Some(c) = d.copies.iter_mut().find(|c| c.copy == copy)
                    && matches!(c.end, CopyEnd::InFlight { .. })
                {
                    c.end = CopyEnd::Arrived { at_us: r.at_us, latency_us, overtaken_by };
                    *inside = inside.saturating_sub(1);
                }
            }
            Event::InFlightAtEnd { .. } => {}
            Event::App { node, app: AppEvent::Delivered { seq, .. } } => {
                // A reliable receiver hands over messages it held in one go: gather them.
                match &mut self.released {
                    Some(g) if g.node == node && g.at_us == r.at_us && g.last.checked_add(1) == Some(seq) => {
                        g.last = seq;
                    }
                    _ => {
                        self.flush_released();
                        self.released = Some(Released { node, at_us: r.at_us, first: seq, last: seq });
                    }
                }
            }
            Event::App { node, app } => {
                if node < scenario.nodes.len()
                    && let Some((text, problem)) = app_note(app)
                {
                    self.push_item(Item::Note(Note { at_us: r.at_us, node, text, problem }), 0);
                }
            }
            Event::Dropped { link, bytes, reason, .. } => {
                let Some(l) = scenario.links.get(link) else { return };
                let text = format!("DROPPED {bytes}B from {}: {reason}", scenario.link_name(link));
                self.push_item(Item::Note(Note { at_us: r.at_us, node: l.to, text, problem: true }), 0);
            }
            Event::NoRoute { node, dst: [a, b, c, d], bytes } => {
                if node < scenario.nodes.len() {
                    let text = format!("DROP {bytes}B to {a}.{b}.{c}.{d}: no node has that address");
                    self.push_item(Item::Note(Note { at_us: r.at_us, node, text, problem: true }), 0);
                }
            }
        }
        self.hand_out(emit, false);
    }

    /// Hands out the finished items at the front (all of them at the end of the run).
    fn hand_out(&mut self, emit: &mut dyn FnMut(Item), all: bool) {
        while let Some((_, inside)) = self.pending.front() {
            if *inside > 0 && !all {
                break;
            }
            let Some((item, _)) = self.pending.pop_front() else { break };
            self.first += 1;
            if let Item::Datagram(d) = &item {
                self.open.remove(&(d.link, d.index));
            }
            emit(item);
        }
    }

    /// Ends the story: every item still waiting is handed out (copies still inside a link stay
    /// in flight). Returns the time of the last record, or the scenario's duration if later.
    pub fn finish(mut self, emit: &mut dyn FnMut(Item)) -> u64 {
        self.flush_released();
        self.hand_out(emit, true);
        self.end_us
    }
}

impl Datagram {
    pub fn lost(&self) -> Option<&LossReason> {
        match &self.fate {
            Fate::Lost(r) => Some(r),
            Fate::Passed(_) => None,
        }
    }

    pub fn passage(&self) -> Option<&Passage> {
        match &self.fate {
            Fate::Passed(p) => Some(p),
            Fate::Lost(_) => None,
        }
    }

    /// Held back for reordering, or overtaken by a later datagram.
    pub fn reordered(&self) -> bool {
        self.passage().is_some_and(|p| p.held_us > 0)
            || self.copies.iter().any(|c| matches!(c.end, CopyEnd::Arrived { overtaken_by: Some(_), .. }))
    }

    pub fn corrupted(&self) -> Option<Corruption> {
        self.passage().and_then(|p| p.corrupted)
    }

    /// The copy-0 arrival's `overtaken_by`, if any.
    pub fn overtaken_by(&self) -> Option<u64> {
        self.copies.iter().find_map(|c| match c.end {
            CopyEnd::Arrived { overtaken_by, .. } if c.copy == 0 => overtaken_by,
            _ => None,
        })
    }

    /// The short arrow label: `#3 seq=3`, `#4 ack 3`, `#5 seq=5?` (damaged), `#6 datagram`.
    pub fn short_label(&self) -> String {
        match self.label {
            Label::Data { seq, .. } => format!("#{} seq={seq}", self.index),
            Label::Ack { seq } => format!("#{} ack {seq}", self.index),
            Label::Damaged { seq } => format!("#{} seq={seq}?", self.index),
            Label::Foreign { bytes, digest, .. } => format!("#{} {bytes}B {:04x}", self.index, digest >> 16),
            Label::Named { .. } => format!("#{} {}", self.index, self.label),
            Label::Other => format!("#{} datagram", self.index),
        }
    }

    /// The retransmission attempt (2 or more), if this is one.
    pub fn attempt(&self) -> Option<u16> {
        match self.label {
            Label::Data { attempt, .. } if attempt > 1 => Some(attempt),
            _ => None,
        }
    }
}

/// `arrives after 5.000ms (1.200ms at the rate limit), held back 40.000ms to be overtaken, ...`
pub fn passage_words(p: &Passage, sent_us: u64) -> String {
    let mut s = format!("arrives after {}", Ms(p.arrive_us[0].saturating_sub(sent_us)));
    if p.queued_us > 0 {
        let _ = write!(s, " ({} at the rate limit)", Ms(p.queued_us));
    }
    if p.held_us > 0 {
        let _ = write!(s, ", held back {} to be overtaken", Ms(p.held_us));
    }
    if p.copies > 1 {
        let _ =
            write!(s, ", DUPLICATED: the copy arrives after {}", Ms(p.arrive_us[1].saturating_sub(sent_us)));
    }
    if let Some(c) = p.corrupted {
        let _ = write!(s, ", {}", corruption_words(c).replacen("corrupted", "CORRUPTED", 1));
    }
    s
}

/// `corrupted: payload bit 192 flipped, UDP checksum fixed (the app gets the damage)`.
pub fn corruption_words(c: Corruption) -> String {
    let fix = if c.checksum_fixed {
        "UDP checksum fixed (the app gets the damage)"
    } else {
        "UDP checksum left wrong (the receiving stack drops it)"
    };
    format!("corrupted: payload bit {} flipped, {fix}", c.bit)
}

/// `#7`, `#7 and #8`, `#7, #8, #9 and 2 more`.
pub fn overtook_words(o: &Overtook) -> String {
    let names: Vec<String> = o.first.iter().map(|i| format!("#{i}")).collect();
    let more = o.count.saturating_sub(o.first.len() as u64);
    match (names.len(), more) {
        (0, _) => String::new(),
        (1, 0) => names[0].clone(),
        (n, 0) => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
        (_, m) => format!("{} and {m} more", names.join(", ")),
    }
}

/// Messages a reliable receiver delivered at one instant, in order: `first..=last`.
#[derive(Debug)]
struct Released {
    node: usize,
    at_us: u64,
    first: u32,
    last: u32,
}

/// The note a ladder shows for an application event, and whether it is a problem; `None` for
/// the ordinary sends, receipts and echoes that the arrows already show.
fn app_note(app: AppEvent) -> Option<(String, bool)> {
    Some(match app {
        AppEvent::Timeout { seq, attempt, .. } => {
            (format!("timeout seq={seq} after attempt {attempt}"), true)
        }
        AppEvent::GaveUp { seq, attempts } => (format!("GIVE UP seq={seq} after {attempts} attempts"), true),
        AppEvent::NoReply { seq, .. } => (format!("no reply to seq={seq}"), true),
        AppEvent::SendFailed { .. } => (app.to_string(), true),
        AppEvent::Invalid { error: WireError::BadCrc, .. } => {
            ("rejected a damaged datagram (CRC mismatch)".to_string(), true)
        }
        AppEvent::Invalid { error, .. } => (format!("rejected: {error}"), true),
        AppEvent::BeyondWindow { seq, .. } => (format!("DROP seq={seq}: beyond the receive window"), true),
        AppEvent::Received { seq, order: Order::Late, .. } => {
            (format!("received seq={seq} LATE (out of order)"), false)
        }
        AppEvent::Received { seq, order: Order::Duplicate, .. } => {
            (format!("received seq={seq} again (DUPLICATE)"), false)
        }
        AppEvent::Reply { seq, order: Order::Late, .. } => {
            (format!("reply seq={seq} LATE (out of order)"), false)
        }
        AppEvent::Reply { seq, order: Order::Duplicate, .. } => {
            (format!("reply seq={seq} again (DUPLICATE)"), false)
        }
        AppEvent::DuplicateAck { seq } => (format!("duplicate ack seq={seq}, ignored"), false),
        // An app's own events are what its author wants to see beside the arrows.
        AppEvent::Note(note) => (note.to_string(), false),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overtook_lists_a_few_and_counts_the_rest() {
        let o = |first: Vec<u64>, count| overtook_words(&Overtook { first, count });
        assert_eq!(o(vec![7], 1), "#7");
        assert_eq!(o(vec![7, 8], 2), "#7 and #8");
        assert_eq!(o(vec![7, 8, 9], 5), "#7, #8, #9 and 2 more");
    }
}
