//! The trace: every decision a run made, in order, and its one-line rendering.
//!
//! The line format is shared by every runner (the ESP32 prints the same lines on its UART), so
//! it uses integers only and never depends on the host: times are `seconds.micros`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};
use serde::Serialize;
use smoltcp::wire::{IpProtocol, Ipv4Packet, UdpPacket};
use udplab_firmware::crc32::Crc32;
use udplab_firmware::wire::{Datagram, Kind, Repr};
use udplab_firmware::{AppEvent, app::Ms};

use crate::link::{Fate, LossReason};
use crate::link_index::LinkIndex;
use crate::scenario::Scenario;

/// What a datagram on a link is, read from its bytes for the reader's benefit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "is", rename_all = "kebab-case")]
pub enum Label {
    Data {
        seq: u32,
        attempt: u16,
    },
    Ack {
        seq: u32,
    },
    /// A udplab header whose CRC does not match: damaged earlier on its way (an echo server
    /// sends damaged bytes back as they are). Only the seq it claims is shown.
    Damaged {
        seq: u32,
    },
    /// A datagram of some other protocol (a user's app, a student's `nc`): told apart by its
    /// ports, its UDP payload length and a digest of that payload.
    Foreign {
        src_port: u16,
        dst_port: u16,
        bytes: u16,
        digest: u32,
    },
    /// Named by the user's [`Labeller`]: `kind` (`reading`, `cmd`) and an optional number.
    Named {
        kind: &'static str,
        id: Option<u64>,
    },
    /// Not UDP over IPv4.
    Other,
}

/// Names the datagrams of a user's own protocol in traces and pictures: given a UDP payload,
/// `Some(Label::Named { .. })` (or any label), or `None` to fall back to udplab's own labels.
pub type Labeller = fn(udp_payload: &[u8]) -> Option<Label>;

impl Label {
    /// Labels a UDP payload read as udplab's wire format; `None` when it is not udplab's.
    pub fn of_payload(udp_payload: &[u8]) -> Option<Label> {
        let d = Datagram::new_checked(udp_payload).ok()?;
        match Repr::parse(&d) {
            Ok(r) if r.kind == Kind::Data => Some(Label::Data { seq: r.seq, attempt: r.attempt }),
            Ok(r) => Some(Label::Ack { seq: r.seq }),
            Err(_) => Repr::parse_unverified(&d)
                .ok()
                .map(|r| Label::Damaged { seq: r.seq })
                .or_else(|| one_bit_from_udplab(udp_payload).then(|| Label::Damaged { seq: d.seq() })),
        }
    }

    /// Labels a UDP datagram: the user's labeller first, then udplab's format, else
    /// [`Label::Foreign`].
    pub fn of_udp(src_port: u16, dst_port: u16, payload: &[u8], labeller: Option<Labeller>) -> Label {
        if let Some(label) = labeller.and_then(|l| l(payload)) {
            return label;
        }
        Label::of_payload(payload).unwrap_or_else(|| Label::Foreign {
            src_port,
            dst_port,
            bytes: payload.len().min(usize::from(u16::MAX)) as u16,
            digest: content_digest(payload),
        })
    }

    /// Labels an IPv4 packet (see [`Label::of_udp`]); [`Label::Other`] when it is not UDP.
    pub fn of_ipv4(packet: &[u8], labeller: Option<Labeller>) -> Label {
        let Ok(ip) = Ipv4Packet::new_checked(packet) else { return Label::Other };
        if ip.next_header() != IpProtocol::Udp {
            return Label::Other;
        }
        match UdpPacket::new_checked(ip.payload()) {
            Ok(u) => Label::of_udp(u.src_port(), u.dst_port(), u.payload(), labeller),
            Err(_) => Label::Other,
        }
    }
}

impl Label {
    /// What makes two datagrams "the same content" for the dice (see [`crate::link`]): udplab's
    /// seq and attempt (not its send time, which differs on a real clock), a labeller's kind and
    /// id, a foreign datagram's ports, length and payload digest. Two datagrams with equal
    /// identities on one link are told apart by how often it was seen before, so a labeller
    /// that gives no `id` leaves its datagrams' fates to their order.
    pub fn identity(&self) -> u64 {
        use crate::rng::{mix, name_key};
        let tagged = |tag: u64, value: u64| mix(mix(tag) ^ value);
        match *self {
            Label::Data { seq, attempt } => tagged(1, u64::from(seq) << 16 | u64::from(attempt)),
            Label::Ack { seq } => tagged(2, u64::from(seq)),
            Label::Damaged { seq } => tagged(3, u64::from(seq)),
            Label::Foreign { src_port, dst_port, bytes, digest } => tagged(
                4,
                mix(u64::from(src_port) << 48 | u64::from(dst_port) << 32 | u64::from(bytes))
                    ^ u64::from(digest),
            ),
            Label::Named { kind, id } => {
                tagged(5, name_key(kind) ^ mix(id.map_or(u64::MAX, |i| i.wrapping_add(1))))
            }
            Label::Other => tagged(6, 0),
        }
    }
}

/// Whether the first four bytes (magic, version, kind) are one flipped bit away from a udplab
/// header: a datagram the link damaged right there is still named by its seq (its send time
/// would make a foreign-payload digest differ between runners), while a foreign payload
/// passes this by chance about once in 2^27.
fn one_bit_from_udplab(payload: &[u8]) -> bool {
    let Some(head) = payload.get(..4) else { return false };
    let head = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let [m0, m1] = udplab_firmware::wire::MAGIC;
    [0u8, 2].iter().any(|&kind| {
        let valid = u32::from_be_bytes([m0, m1, udplab_firmware::wire::VERSION, kind]);
        (head ^ valid).count_ones() <= 1
    })
}

/// FNV-1a over the payload, folded to 32 bits: a short name for content, not a checksum.
fn content_digest(payload: &[u8]) -> u32 {
    let h = crate::rng::name_key_bytes(payload);
    (h ^ (h >> 32)) as u32
}

impl Label {
    /// Writes the label as the timeline shows it (what `Display` shows).
    pub fn render<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        use udplab_firmware::text::uint;
        match *self {
            Label::Data { seq, attempt } => {
                w.write_str("seq=")?;
                uint(w, u64::from(seq))?;
                if attempt != 1 {
                    w.write_str(" (attempt ")?;
                    uint(w, u64::from(attempt))?;
                    w.write_str(")")?;
                }
                Ok(())
            }
            Label::Ack { seq } => {
                w.write_str("ack seq=")?;
                uint(w, u64::from(seq))
            }
            Label::Damaged { seq } => {
                w.write_str("seq=")?;
                uint(w, u64::from(seq))?;
                w.write_str("? (damaged)")
            }
            Label::Foreign { src_port, dst_port, bytes, digest } => {
                write!(w, "udp {src_port}->{dst_port} {bytes}B {digest:08x}")
            }
            Label::Named { kind, id: Some(id) } => {
                w.write_str(kind)?;
                w.write_str("=")?;
                uint(w, id)
            }
            Label::Named { kind, id: None } => w.write_str(kind),
            Label::Other => w.write_str("datagram"),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// A real-clock release this late or later is pointed out on its timeline line; smaller ones
/// (every release is a few microseconds late) only count in the summary's lateness line.
pub const LATE_SHOWN_US: u64 = 1_000;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// Something a node's application did or saw.
    App { node: usize, app: AppEvent },
    /// A datagram entered a link and the link decided its fate.
    Offer { link: usize, index: u64, label: Label, bytes: u32, fate: Fate },
    /// A copy of a datagram came out of a link into the receiving node. `late_us`: how long
    /// after its due time a real-clock runner got round to releasing it (0 in virtual time);
    /// `latency_us` includes it.
    Arrive {
        link: usize,
        index: u64,
        label: Label,
        copy: u8,
        latency_us: u64,
        overtaken_by: Option<u64>,
        #[serde(skip_serializing_if = "is_zero")]
        late_us: u64,
    },
    /// The run ended with this copy still inside the link.
    InFlightAtEnd { link: usize, index: u64, label: Label, copy: u8 },
    /// A node sent to an address no node has; the datagram went nowhere.
    NoRoute { node: usize, dst: [u8; 4], bytes: u32 },
    /// A frame a real-clock runner took from the wire went no further, and why. `index` and
    /// `copy` name the datagram on `link` when it had been offered to it (0: it never was).
    Dropped { link: usize, index: u64, label: Label, copy: u8, bytes: u32, reason: DropReason },
}

/// Why a real-clock runner dropped a frame outside the scenario's links (virtual time never
/// does: its stacks take every datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DropReason {
    /// The copy came out of its link while the firmware's stack still had a full receive queue
    /// (the app had not read what it had).
    StackBusy { queued: u32 },
    /// The run ended before the firmware's stack took it.
    Unread,
    /// An IP fragment: the firmware's stack does not reassemble, so datagrams must fit one frame
    /// (at most 1472 bytes of UDP payload on Ethernet).
    Fragment { id: u16, offset: u16, more: bool },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DropReason::StackBusy { queued } => {
                write!(f, "the firmware's stack still held {queued} frames (receive queue full)")
            }
            DropReason::Unread => f.write_str("the run ended before the firmware's stack took it"),
            DropReason::Fragment { id, offset, more } => write!(
                f,
                "IP fragment (id {id}, offset {offset}{}): the firmware does not reassemble; keep UDP \
                 payloads at or under 1472 bytes",
                if more { ", more follow" } else { ", last" }
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Record {
    pub at_us: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// A virtual time as `seconds.micros`, right-aligned.
pub struct Time(pub u64);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let _ = write!(s, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000);
        f.pad(&s)
    }
}

/// Renders records for one scenario, which supplies node and link names.
pub struct Lines<'a> {
    scenario: &'a Scenario,
    /// Every node's name then every listed link's `from->to`, each padded to the name column's
    /// width and followed by the two spaces after it, made once: a line must not allocate or pad.
    columns: Vec<String>,
    /// The last time column made: the records of one instant (a send and its offer, an arrival
    /// and what the receiver did with it) share it, and a time costs more than the rest of a
    /// line's start.
    time: core::cell::RefCell<TimeColumn>,
    /// The name column's width, for implicit links ([`Scenario::implicit_links`]), which are
    /// too many to make in advance and are padded as their lines are written.
    width: usize,
    /// Where implicit links lead, if the scenario has them.
    implicit: Option<LinkIndex>,
}

/// `{:>10}` of `seconds.micros` and the two spaces after it, for `at_us`. Kept as a `String`
/// so that writing it is a copy: checking a byte array's UTF-8 on every line cost more than
/// rendering the instant (about 560 instructions per datagram on `udplab run --summary`).
struct TimeColumn {
    at_us: u64,
    text: String,
}

impl TimeColumn {
    fn of(at_us: u64) -> TimeColumn {
        let mut time = TimeColumn { at_us, text: String::with_capacity(29) };
        time.render(at_us);
        time
    }

    fn render(&mut self, at_us: u64) {
        // Up to 20 digits of seconds, the point, 6 of micros, 2 spaces.
        let mut text = [b' '; 29];
        let mut seconds = at_us / 1_000_000;
        let digits = udplab_firmware::text::width_of(seconds);
        let width = (digits + 7).max(10);
        let mut micros = at_us % 1_000_000;
        for digit in text[width - 6..width].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        text[width - 7] = b'.';
        for digit in text[width - 7 - digits..width - 7].iter_mut().rev() {
            *digit = b'0' + (seconds % 10) as u8;
            seconds /= 10;
        }
        self.at_us = at_us;
        self.text.clear();
        // Digits, a point and spaces: valid UTF-8, checked once per instant (not per line).
        self.text.push_str(core::str::from_utf8(&text[..width + 2]).unwrap_or_default());
    }

    fn as_str(&self) -> &str {
        &self.text
    }
}

impl<'a> Lines<'a> {
    pub fn new(scenario: &'a Scenario) -> Lines<'a> {
        let names: Vec<String> = scenario
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .chain((0..scenario.links.len()).map(|l| scenario.link_name(l)))
            .collect();
        let mut width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        if scenario.implicit_links {
            // The longest implicit name joins the two longest node names.
            let mut lengths: Vec<usize> = scenario.nodes.iter().map(|n| n.name.chars().count()).collect();
            lengths.sort_unstable_by(|a, b| b.cmp(a));
            if let [a, b, ..] = lengths[..] {
                width = width.max(a + b + 2);
            }
        }
        let columns = names
            .into_iter()
            .map(|mut n| {
                let pad = width - n.chars().count();
                n.extend(core::iter::repeat_n(' ', pad + 2));
                n
            })
            .collect();
        let implicit = scenario.implicit_links.then(|| LinkIndex::of(scenario));
        let time = core::cell::RefCell::new(TimeColumn::of(0));
        Lines { scenario, columns, time, width, implicit }
    }

    /// The time column and a node's or link's name column: how every line starts.
    fn start<W: Write + ?Sized>(&self, out: &mut W, at_us: u64, column: usize) -> fmt::Result {
        self.time(out, at_us)?;
        out.write_str(&self.columns[column])
    }

    /// `{:>10}` of `seconds.micros`, then two spaces, remembered for the instant's next line.
    fn time<W: Write + ?Sized>(&self, out: &mut W, at_us: u64) -> fmt::Result {
        // Lines are not written from inside a line, so the cell is free; if it ever were not,
        // the line is still right, only slower.
        let Ok(mut time) = self.time.try_borrow_mut() else {
            return out.write_str(TimeColumn::of(at_us).as_str());
        };
        if time.at_us != at_us {
            time.render(at_us);
        }
        out.write_str(time.as_str())
    }

    fn node_start<W: Write + ?Sized>(&self, out: &mut W, at_us: u64, node: usize) -> fmt::Result {
        self.start(out, at_us, node)
    }

    fn link_start<W: Write + ?Sized>(&self, out: &mut W, at_us: u64, link: usize) -> fmt::Result {
        let column = self.scenario.nodes.len() + link;
        if column < self.columns.len() {
            return self.start(out, at_us, column);
        }
        // An implicit link: its name is written and padded here (only big scenarios have them).
        let (from, to) = self.implicit.as_ref().and_then(|i| i.implicit_ends(link)).unwrap_or((0, 0));
        let (from, to) = (&self.scenario.nodes[from].name, &self.scenario.nodes[to].name);
        self.time(out, at_us)?;
        out.write_str(from)?;
        out.write_str("->")?;
        out.write_str(to)?;
        let used = from.chars().count() + 2 + to.chars().count();
        udplab_firmware::text::spaces(out, self.width.saturating_sub(used) + 2)
    }

    /// `#index label ` after the link's name.
    fn datagram<W: Write + ?Sized>(
        &self,
        out: &mut W,
        r: &Record,
        link: usize,
        index: u64,
        label: &Label,
    ) -> fmt::Result {
        self.link_start(out, r.at_us, link)?;
        out.write_str("#")?;
        udplab_firmware::text::uint(out, index)?;
        out.write_str(" ")?;
        label.render(out)?;
        out.write_str(" ")
    }

    /// Writes one record as a line, without the newline.
    pub fn write<W: Write + ?Sized>(&self, out: &mut W, r: &Record) -> fmt::Result {
        use udplab_firmware::text::uint;
        match r.event {
            Event::App { node, app } => {
                self.node_start(out, r.at_us, node)?;
                app.render(out)
            }
            Event::Offer { link, index, label, bytes, fate } => {
                self.datagram(out, r, link, index, &label)?;
                uint(out, u64::from(bytes))?;
                out.write_str("B ")?;
                self.write_fate(out, link, r.at_us, &fate)
            }
            Event::Arrive { link, index, label, copy, latency_us, overtaken_by, late_us } => {
                self.datagram(out, r, link, index, &label)?;
                if copy > 0 {
                    out.write_str("(copy) ")?;
                }
                out.write_str("arrived after ")?;
                Ms(latency_us).render(out)?;
                if late_us >= LATE_SHOWN_US {
                    out.write_str(" (real clock: released ")?;
                    Ms(late_us).render(out)?;
                    out.write_str(" late)")?;
                }
                if let Some(later) = overtaken_by {
                    out.write_str(", REORDERED: #")?;
                    uint(out, later)?;
                    out.write_str(" arrived first")?;
                }
                Ok(())
            }
            Event::InFlightAtEnd { link, index, label, copy } => {
                self.datagram(out, r, link, index, &label)?;
                if copy > 0 {
                    out.write_str("(copy) ")?;
                }
                out.write_str("still in flight when the run ended")
            }
            Event::Dropped { link, index, label, copy, bytes, reason } => {
                self.link_start(out, r.at_us, link)?;
                if index > 0 {
                    write!(out, "#{index} ")?;
                }
                write!(out, "{label} ")?;
                if copy > 0 {
                    out.write_str("(copy) ")?;
                }
                write!(out, "{bytes}B DROPPED: {reason}")
            }
            Event::NoRoute { node, dst: [a, b, c, d], bytes } => {
                self.node_start(out, r.at_us, node)?;
                write!(out, "DROP {bytes}B to {a}.{b}.{c}.{d}: no node has that address")
            }
        }
    }

    fn write_fate<W: Write + ?Sized>(&self, out: &mut W, link: usize, now: u64, fate: &Fate) -> fmt::Result {
        let p = match fate {
            Fate::Lost(reason) => {
                out.write_str("LOST: ")?;
                return match *reason {
                    LossReason::Outage { phase } => {
                        let name = self
                            .scenario
                            .link_settings(link)
                            .phases
                            .get(phase)
                            .map_or("outage", |p| p.name.as_str());
                        write!(out, "link down ({name})")
                    }
                    LossReason::Index => out.write_str("on the drop list"),
                    LossReason::TooBig { mtu } => write!(out, "larger than the {mtu}-byte MTU"),
                    LossReason::Random { p } => write!(out, "random loss ({p})"),
                    LossReason::Burst { bad: true, p } => {
                        write!(out, "burst loss, link in BAD state ({p})")
                    }
                    LossReason::Burst { bad: false, p } => write!(out, "loss in GOOD state ({p})"),
                    LossReason::QueueFull { limit } => {
                        write!(out, "queue full ({limit} datagrams held)")
                    }
                    LossReason::Recorded { row } => {
                        let name = self
                            .scenario
                            .link_settings(link)
                            .trace
                            .as_ref()
                            .map_or("trace", |t| t.name.as_str());
                        write!(out, "as recorded ({name} row {row})")
                    }
                };
            }
            Fate::Passed(p) => p,
        };
        out.write_str("in flight, arrives in ")?;
        Ms(p.arrive_us[0] - now).render(out)?;
        if p.queued_us > 0 {
            write!(out, " (incl. {} at the rate limit)", Ms(p.queued_us))?;
        }
        if p.held_us > 0 {
            write!(out, ", held back {} to be overtaken", Ms(p.held_us))?;
        }
        if p.copies > 1 {
            write!(out, ", DUPLICATED: copy arrives in {}", Ms(p.arrive_us[1] - now))?;
        }
        if p.copy_dropped {
            out.write_str(", DUPLICATED but the copy LOST: queue full")?;
        }
        if let Some(c) = p.corrupted {
            write!(out, ", CORRUPTED: payload bit {} flipped", c.bit)?;
            out.write_str(if c.checksum_fixed {
                " (UDP checksum fixed: the app gets the damage)"
            } else {
                " (UDP checksum now wrong: the receiving stack will drop it)"
            })?;
        }
        Ok(())
    }

    /// The whole trace, one line per record.
    pub fn render(&self, records: &[Record]) -> String {
        let mut s = String::new();
        for r in records {
            let _ = self.write(&mut s, r);
            s.push('\n');
        }
        s
    }
}

/// The trace digest `udplab run` prints: a 32-bit hash of the records themselves, so that a run
/// that prints no timeline need not render one (rendering cost about a third of a `--summary`
/// run). Two runs with the same records have the same digest on every machine.
pub fn digest(records: &[Record]) -> u32 {
    let mut d = TraceDigest::new();
    for r in records {
        d.record(r);
    }
    d.finish()
}

/// [`digest`] computed record by record, for a runner that streams.
///
/// Each record is fed through its derived `Hash` (every field, the enums' variant numbers) as a
/// sequence of 64-bit words: every integer widened to `u64` (signed ones sign-extended; `usize`
/// and `isize` too, so the digest does not depend on the machine), a byte slice in 8-byte
/// little-endian pieces, the last one zero-padded. Each word is folded in with a rotate, xor and
/// odd multiply, each step a bijection of the state, so a change to any one word always changes
/// the 64-bit state; the last step mixes it and keeps 32 bits. The derive's order of fields is
/// the source's; a new field changes the digest, as it changes the trace. So would a toolchain
/// whose derive fed the variant number another way: the lesson snapshots' digests would show it.
///
/// (It was a CRC-32 of the rendered lines, then of the records' bytes; the fold costs about half
/// of the second, measured in sim/bench/README.md.)
pub struct TraceDigest {
    state: u64,
}

/// The fold's multiplier: odd, so multiplying is a bijection (FxHash's 64-bit constant).
const FOLD: u64 = 0x517c_c1b7_2722_0a95;
/// The state before the first word (the golden ratio's bits, as in `rng`).
const START: u64 = 0x9e37_79b9_7f4a_7c15;

impl TraceDigest {
    pub fn new() -> TraceDigest {
        // Not 0: from 0 a word of 0 would leave the state 0, and a trace would digest as the
        // same trace with a first record whose words are all 0 left out.
        TraceDigest { state: START }
    }

    #[inline]
    pub fn record(&mut self, r: &Record) {
        core::hash::Hash::hash(r, self);
    }

    pub fn finish(self) -> u32 {
        (core::hash::Hasher::finish(&self) >> 32) as u32
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.state = (self.state.rotate_left(5) ^ w).wrapping_mul(FOLD);
    }
}

impl Default for TraceDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl core::hash::Hasher for TraceDigest {
    /// The state so far, mixed (the trait requires it; [`TraceDigest::finish`] is the digest).
    fn finish(&self) -> u64 {
        crate::rng::mix(self.state)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut pieces = bytes.chunks_exact(8);
        for p in &mut pieces {
            self.word(u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]));
        }
        let rest = pieces.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.word(u64::from(v));
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.word(u64::from(v));
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.word(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.word(v);
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.word(v as u64);
        self.word((v >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.word(v as u64);
    }
    #[inline]
    fn write_i8(&mut self, v: i8) {
        self.word(i64::from(v) as u64);
    }
    #[inline]
    fn write_i16(&mut self, v: i16) {
        self.word(i64::from(v) as u64);
    }
    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.word(i64::from(v) as u64);
    }
    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.word(v as u64);
    }
    #[inline]
    fn write_i128(&mut self, v: i128) {
        self.write_u128(v as u128);
    }
    #[inline]
    fn write_isize(&mut self, v: isize) {
        self.word(v as i64 as u64);
    }
}

/// A CRC-32 of rendered trace lines, each followed by its newline: the serial protocol's check
/// that a chip's block of lines arrived whole (see [`crate::serial`]). It is not the trace
/// digest: that is over the records, which the host no longer has once they are text.
pub struct Digest(Crc32);

impl Digest {
    pub fn new() -> Digest {
        Digest(Crc32::new())
    }
    /// Adds one rendered line (without its newline).
    pub fn line(&mut self, line: &str) {
        self.0.update(line.as_bytes());
        self.0.update(b"\n");
    }
    pub fn finish(self) -> u32 {
        self.0.finish()
    }
}

impl Default for Digest {
    fn default() -> Self {
        Self::new()
    }
}

/// The bytes of a datagram at one point of its way through a link, for packet captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub at_us: u64,
    pub link: usize,
    pub index: u64,
    /// `None`: as the sender offered it to the link (its `Event::Offer`); `Some(c)`: copy `c`
    /// as it came out (its `Event::Arrive`), corruption included.
    pub copy: Option<u8>,
    /// The IPv4 packet.
    pub packet: Vec<u8>,
}

/// The records of one run, in the order they happened.
pub type Trace = Vec<Record>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest of `words`, fed to the hasher as the documented 64-bit words.
    fn of_words(words: &[u64]) -> u32 {
        let mut d = TraceDigest::new();
        for &w in words {
            core::hash::Hasher::write_u64(&mut d, w);
        }
        d.finish()
    }

    #[test]
    fn the_trace_digest_takes_every_field_as_a_64_bit_word_whatever_the_machine() {
        let r = Record { at_us: 5, event: Event::NoRoute { node: 1, dst: [10, 0, 0, 9], bytes: 92 } };
        // The time; NoRoute, Event's fifth variant; the node (a usize); the address's length,
        // then its bytes as one little-endian word; the size.
        let words = [5, 4, 1, 4, u64::from_le_bytes([10, 0, 0, 9, 0, 0, 0, 0]), 92];
        assert_eq!(digest(&[r]), of_words(&words));
        // Every integer type widens to the same word, so a 32-bit machine's usize counts alike.
        use core::hash::Hasher;
        let each = |f: &dyn Fn(&mut TraceDigest)| {
            let mut d = TraceDigest::new();
            f(&mut d);
            d.finish()
        };
        let want = of_words(&[7]);
        assert_eq!(each(&|d| d.write_usize(7)), want);
        assert_eq!(each(&|d| d.write_u32(7)), want);
        assert_eq!(each(&|d| d.write_u8(7)), want);
        assert_eq!(each(&|d| d.write_isize(-1)), of_words(&[u64::MAX]));
        assert_eq!(each(&|d| d.write_i32(-1)), of_words(&[u64::MAX]));
        // Bytes go eight at a time, the last piece zero-padded.
        let bytes: Vec<u8> = (1..=11).collect();
        let pieces =
            [u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]), u64::from_le_bytes([9, 10, 11, 0, 0, 0, 0, 0])];
        assert_eq!(each(&|d| d.write(&bytes)), of_words(&pieces));
    }

    #[test]
    fn any_change_to_a_record_or_their_order_changes_the_trace_digest() {
        let s = crate::net::tests::echo(50_000_000, true);
        let trace = crate::run(&s, 3).unwrap();
        assert!(trace.len() > 20);
        let d = digest(&trace);
        for i in 0..trace.len() {
            let mut t = trace.clone();
            t[i].at_us += 1;
            assert_ne!(digest(&t), d, "record {i}'s time");
            if i + 1 < trace.len() && trace[i] != trace[i + 1] {
                let mut t = trace.clone();
                t.swap(i, i + 1);
                assert_ne!(digest(&t), d, "records {i} and {} swapped", i + 1);
            }
        }
        let mut t = trace.clone();
        t.pop();
        assert_ne!(digest(&t), d, "the last record gone");
        assert_ne!(digest(&trace[1..]), d, "the first record gone");
        // Nor do words of 0 vanish at the start (a record can be all 0s: time 0, variant 0, ...).
        assert_ne!(of_words(&[0, 0, 0]), of_words(&[]));
        assert_ne!(of_words(&[0, 0, 5]), of_words(&[5]));
    }

    #[test]
    fn time_columns_read_as_the_formatter_pads_them() {
        for at_us in [0, 1, 999_999, 1_000_000, 9_999_999_999, 10_000_000_000, 123_456_789_012, u64::MAX] {
            assert_eq!(TimeColumn::of(at_us).as_str(), format!("{:>10}  ", Time(at_us)), "{at_us}");
        }
    }

    fn datagram(seq: u32) -> Vec<u8> {
        let mut b = alloc::vec![0u8; 28 + 8];
        Repr { kind: Kind::Data, seq, sent_us: 12_345, ack: 0, attempt: 1, payload_len: 8 }.emit(&mut b);
        b
    }

    #[test]
    fn a_header_one_bit_from_udplab_keeps_its_seq_whatever_its_send_time() {
        for bit in 0..32 {
            let mut d = datagram(13);
            d[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Label::of_payload(&d), Some(Label::Damaged { seq: 13 }), "bit {bit}");
        }
        let mut two = datagram(13);
        two[0] ^= 1;
        two[1] ^= 1;
        assert_eq!(Label::of_payload(&two), None, "two bits off: not udplab");
        assert!(matches!(Label::of_udp(1, 2, b"hello", None), Label::Foreign { bytes: 5, .. }));
    }

    #[test]
    fn identity_ignores_the_send_time_but_not_the_seq_or_attempt() {
        let a = Label::of_payload(&datagram(5)).unwrap();
        let mut later = datagram(5);
        Repr { kind: Kind::Data, seq: 5, sent_us: 99_999, ack: 0, attempt: 1, payload_len: 8 }
            .emit(&mut later);
        assert_eq!(a.identity(), Label::of_payload(&later).unwrap().identity());
        assert_ne!(a.identity(), Label::Data { seq: 5, attempt: 2 }.identity());
        assert_ne!(a.identity(), Label::Data { seq: 6, attempt: 1 }.identity());
        assert_ne!(Label::Ack { seq: 5 }.identity(), Label::Damaged { seq: 5 }.identity());
    }
}
