//! A scenario, validated and in integers: what every runner executes.
//!
//! The TOML front end (in the `udplab-scenario` crate) turns a file into this; the ESP32 build embeds
//! the same values. Nothing here is a float, so all targets decide identically.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use udplab_firmware::Role;

use crate::link_index::LinkIndex;
use crate::replay::LinkTrace;
use crate::rng::Prob;

/// Default slack for `latency_max` on a real clock. A timer on a loaded 2-core Linux machine
/// fired up to 28 ms late (tests/tap.rs, all lessons under load); 50 ms keeps a
/// lesson's expectation honest without making it fail on every busy laptop.
pub const REAL_CLOCK_LATENCY_TOLERANCE_US: u64 = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    /// One paragraph for the timeline header: what this lesson shows.
    pub description: String,
    pub seed: u64,
    /// Virtual time the run lasts; whatever is still in flight then is reported as such.
    pub duration_us: u64,
    pub nodes: Vec<Node>,
    /// Directed links. A direction without an entry has no link (its datagrams are unroutable)
    /// unless `implicit_links` says it is a perfect one.
    pub links: Vec<Link>,
    /// Every direction `links` leaves out is a perfect link, numbered after the listed ones in
    /// `(from, to)` order ([`crate::link_index`]). [`Scenario::add_default_links`] sets it for
    /// scenarios too big to list every direction. Left out of serialized scenarios when false,
    /// so JSON written before it existed and JSON written now are the same.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub implicit_links: bool,
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub addr: [u8; 4],
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Index into [`Scenario::nodes`].
    pub from: usize,
    pub to: usize,
    pub impairment: Impairment,
    /// Time windows in which other settings apply (outages are phases with `down`). Where
    /// windows overlap, the one listed last wins.
    pub phases: Vec<Phase>,
    /// Recorded fates replayed before anything else ([`crate::replay`]); the settings above
    /// apply to datagrams the trace does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<LinkTrace>,
}

impl Link {
    /// Whether any datagram's fate on this link can depend on its content key: a trace to look
    /// it up in, or settings (at any time of the run) that roll a die.
    pub fn uses_content_key(&self) -> bool {
        self.trace.is_some()
            || self.impairment.rolls_dice()
            || self.phases.iter().any(|p| p.impairment.rolls_dice())
    }

    /// The settings in force at `now_us`.
    pub fn active(&self, now_us: u64) -> &Impairment {
        self.phases
            .iter()
            .rev()
            .find(|p| p.from_us <= now_us && now_us < p.until_us)
            .map_or(&self.impairment, |p| &p.impairment)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub from_us: u64,
    pub until_us: u64,
    /// Shown in the trace when a datagram is lost to it ("outage", or the phase's name).
    pub name: String,
    pub impairment: Impairment,
}

/// How datagrams are lost at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum Loss {
    None,
    /// Each datagram independently.
    Bernoulli {
        p: Prob,
    },
    /// Two-state Markov chain, netem's `gemodel p r 1-h 1-k`: `p` good->bad, `r` bad->good,
    /// `loss_bad` (1-h) and `loss_good` (1-k) the loss probability in each state. The chain
    /// steps once per datagram on its link; mean burst length in the bad state is 1/r.
    GilbertElliott {
        p: Prob,
        r: Prob,
        loss_bad: Prob,
        loss_good: Prob,
        /// Whether a datagram's loss is decided by the state the chain steps into (udplab's
        /// default) or by the state the datagram found, as tc netem does.
        /// Left out of serialized scenarios when it is the default, so JSON written before the
        /// option existed and JSON written now are the same.
        #[serde(default, skip_serializing_if = "GeOrder::is_default")]
        order: GeOrder,
    },
}

/// When the Gilbert-Elliott chain steps relative to the loss decision for a datagram.
///
/// Both orders give the same long-run loss rate and burst lengths; they differ by one datagram
/// at each edge. udplab steps first so that a datagram's fate depends on the chain *including*
/// its own step (the first datagram after `p` fires is already in the bad state, which is how
/// lessons explain a burst starting); netem decides first and steps after, so a burst starts one
/// datagram later. Choose [`GeOrder::Netem`] to reproduce a netem `gemodel` run datagram for
/// datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeOrder {
    /// Step the chain, then decide the loss with the new state.
    #[default]
    StepThenDecide,
    /// Decide the loss with the state the datagram found, then step (tc netem's order).
    Netem,
}

impl GeOrder {
    fn is_default(&self) -> bool {
        *self == GeOrder::StepThenDecide
    }
}

/// Shape of the delay variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Uniform in `[-jitter, +jitter]`.
    Uniform,
    /// Approximately normal with standard deviation `jitter` (sum of 12 uniforms, so it is
    /// cut off at 6 standard deviations).
    Normal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impairment {
    /// Outage: every datagram is lost.
    pub down: bool,
    pub loss: Loss,
    /// Datagram indices on this link (from 1) that are always lost.
    pub drop: Vec<u64>,
    pub delay_us: u64,
    pub jitter_us: u64,
    pub jitter: Jitter,
    /// Probability that a candidate datagram is held back by `reorder_hold_us`, so datagrams
    /// sent after it overtake it.
    pub reorder: Prob,
    /// Every `reorder_gap`-th datagram is a candidate for reordering (1: all of them).
    pub reorder_gap: u32,
    pub reorder_hold_us: u64,
    /// Probability of one extra copy (a copy is never copied again).
    pub duplicate: Prob,
    /// Probability that one bit of the UDP payload is flipped.
    pub corrupt: Prob,
    /// After a flip, recompute the UDP checksum so the application receives the damage; if
    /// false the receiving stack drops the datagram as a checksum failure.
    pub corrupt_fix_checksum: bool,
    /// Serialisation rate in bits per second (IP packet bytes); 0 means unlimited.
    pub rate_bps: u64,
    /// Largest IP packet the link carries; 0 means unlimited.
    pub mtu: u32,
    /// Most datagrams the link holds at once (waiting for the rate limit or in flight).
    pub queue: u32,
}

impl Impairment {
    /// Whether these settings draw random numbers for a datagram (see `LinkState::offer`).
    pub fn rolls_dice(&self) -> bool {
        !matches!(self.loss, Loss::None)
            || self.jitter_us != 0
            || !self.reorder.is_never()
            || !self.duplicate.is_never()
            || !self.corrupt.is_never()
    }

    /// No impairment at all: what a link nobody configured does.
    pub const PERFECT: Impairment = Impairment {
        down: false,
        loss: Loss::None,
        drop: Vec::new(),
        delay_us: 0,
        jitter_us: 0,
        jitter: Jitter::Uniform,
        reorder: Prob::NEVER,
        reorder_gap: 1,
        reorder_hold_us: 0,
        duplicate: Prob::NEVER,
        corrupt: Prob::NEVER,
        corrupt_fix_checksum: true,
        rate_bps: 0,
        mtu: 0,
        queue: 1000,
    };
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment::PERFECT
    }
}

/// What must hold at the end of a run for it to pass. Unset fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// Fraction of sent messages that reach the receiving application at least once, in
    /// parts per million.
    pub delivered_min_ppm: Option<u64>,
    /// Every message reaches the receiving application.
    pub all_delivered: bool,
    /// Most duplicate messages the receiving application may see.
    pub duplicates_max: Option<u64>,
    /// The receiving application sees messages in increasing order.
    pub in_order: bool,
    /// Largest one-way latency to the application.
    pub latency_max_us: Option<u64>,
    /// How much later than `latency_max` a real-clock runner (TAP, chip) may deliver before
    /// the expectation fails; `None`: [`REAL_CLOCK_LATENCY_TOLERANCE_US`]. Virtual time is exact
    /// and ignores it.
    pub latency_tolerance_us: Option<u64>,
    /// Most messages that may be lost.
    pub lost_max: Option<u64>,
}

/// Most nodes whose default links [`Scenario::add_default_links`] lists one by one (64 nodes:
/// 4 032 directions). Bigger scenarios keep them implicit: numbered the same way, but with no
/// memory per direction until a datagram crosses it.
pub const LISTED_LINKS_MAX_NODES: usize = 64;

/// The settings of every implicit link: perfect, as a listed default link is.
static PERFECT_LINK: Link =
    Link { from: 0, to: 0, impairment: Impairment::PERFECT, phases: Vec::new(), trace: None };

impl Scenario {
    /// Gives every ordered pair of nodes that has no link a perfect one, after the declared
    /// ones, so every datagram crosses a link that names it in the trace. Up to
    /// [`LISTED_LINKS_MAX_NODES`] nodes they are added to `links`; beyond, `implicit_links` is
    /// set instead (the links get the same numbers either way).
    pub fn add_default_links(&mut self) {
        if self.nodes.len() > LISTED_LINKS_MAX_NODES {
            self.implicit_links = true;
            return;
        }
        for from in 0..self.nodes.len() {
            for to in 0..self.nodes.len() {
                if from != to && !self.links.iter().any(|l| l.from == from && l.to == to) {
                    self.links.push(Link {
                        from,
                        to,
                        impairment: Impairment::default(),
                        phases: Vec::new(),
                        trace: None,
                    });
                }
            }
        }
    }

    /// The link from node `from` to node `to`, if any. Builds a [`LinkIndex`] each time: keep
    /// one instead where this is asked per datagram.
    pub fn link_between(&self, from: usize, to: usize) -> Option<usize> {
        LinkIndex::of(self).between(from, to)
    }

    /// How many links there are, listed and implicit.
    pub fn link_count(&self) -> usize {
        match self.implicit_links {
            true => LinkIndex::of(self).count(),
            false => self.links.len(),
        }
    }

    /// The nodes link `link` goes from and to. Panics past [`Scenario::link_count`].
    pub fn link_ends(&self, link: usize) -> (usize, usize) {
        match self.links.get(link) {
            Some(l) => (l.from, l.to),
            None => LinkIndex::of(self).implicit_ends(link).expect("a link of this scenario"),
        }
    }

    /// What link `link` does to datagrams: its listed settings, or a perfect link's for an
    /// implicit one (whose `from` and `to` are then not its ends: see [`Scenario::link_ends`]).
    pub fn link_settings(&self, link: usize) -> &Link {
        self.links.get(link).unwrap_or(&PERFECT_LINK)
    }

    /// The link's name as the trace prints it, `from->to`; also the key of its randomness.
    pub fn link_name(&self, link: usize) -> String {
        let (from, to) = self.link_ends(link);
        let mut s = String::with_capacity(32);
        s.push_str(&self.nodes[from].name);
        s.push_str("->");
        s.push_str(&self.nodes[to].name);
        s
    }
}

impl core::fmt::Display for Impairment {
    /// A short description for the run header: `loss 20%, delay 5.000ms ± 1.000ms`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use udplab_firmware::app::Ms;
        let mut parts: Vec<String> = Vec::new();
        let mut push = |args: core::fmt::Arguments<'_>| parts.push(alloc::fmt::format(args));
        if self.down {
            // Nothing else matters while the link is down.
            return f.write_str("DOWN");
        }
        match self.loss {
            Loss::None => {}
            Loss::Bernoulli { p } => push(format_args!("loss {p}")),
            Loss::GilbertElliott { p, r, loss_bad, loss_good, order } => push(format_args!(
                "burst loss (Gilbert-Elliott p={p} r={r} loss bad={loss_bad} good={loss_good}{})",
                if order == GeOrder::Netem { ", netem order" } else { "" }
            )),
        }
        if !self.drop.is_empty() {
            let list: Vec<String> = self.drop.iter().map(|i| alloc::format!("#{i}")).collect();
            push(format_args!("drop {}", list.join(" ")));
        }
        if self.delay_us > 0 || self.jitter_us > 0 {
            push(format_args!("delay {}", Ms(self.delay_us)));
        }
        if self.jitter_us > 0 {
            let shape = match self.jitter {
                Jitter::Uniform => "uniform",
                Jitter::Normal => "normal",
            };
            push(format_args!("jitter {} {shape}", Ms(self.jitter_us)));
        }
        if !self.reorder.is_never() {
            if self.reorder_gap > 1 {
                push(format_args!(
                    "reorder {} of every {}th datagram (held {})",
                    self.reorder,
                    self.reorder_gap,
                    Ms(self.reorder_hold_us)
                ));
            } else {
                push(format_args!("reorder {} (held {})", self.reorder, Ms(self.reorder_hold_us)));
            }
        }
        if !self.duplicate.is_never() {
            push(format_args!("duplicate {}", self.duplicate));
        }
        if !self.corrupt.is_never() {
            let fix = if self.corrupt_fix_checksum { "checksum fixed" } else { "checksum left wrong" };
            push(format_args!("corrupt {} ({fix})", self.corrupt));
        }
        match self.rate_bps {
            0 => {}
            b if b % 1_000_000 == 0 => push(format_args!("rate {} Mbit/s", b / 1_000_000)),
            b if b % 1_000 == 0 => push(format_args!("rate {} kbit/s", b / 1_000)),
            b => push(format_args!("rate {b} bit/s")),
        }
        if self.mtu > 0 {
            push(format_args!("mtu {}", self.mtu));
        }
        if parts.is_empty() {
            return f.write_str("perfect");
        }
        f.write_str(&parts.join(", "))
    }
}
