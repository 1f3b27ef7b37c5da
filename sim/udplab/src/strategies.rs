//! Proptest strategies: networks to search for the bug in your protocol (feature `proptest`,
//! on by default).
//!
//! The usual property takes your own scenario file (nodes with `role = "code"` for your apps),
//! lets [`with_links`] draw every link's impairments from a [`Space`] ("any loss up to 50%, any
//! reordering"), runs your apps with [`Sim`](crate::Sim) and checks the [`Outcome`](crate::Outcome).
//! The drawn scenario is a [`ScenarioCase`]: when the property fails, proptest prints the
//! smallest failing case it found as a scenario file, ready to save and replay.
//!
//! ```
//! use proptest::prelude::*;
//! use udplab::strategies::{Space, with_links};
//! use udplab::{App, Context, Endpoint, Scenario, Sim};
//!
//! /// Sends readings 1 to 5, one every 10 ms, each once.
//! struct Sensor { next: u32 }
//! impl App for Sensor {
//!     fn port(&self) -> u16 { 5000 }
//!     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
//!         let to = Endpoint { addr: [10, 0, 0, 2], port: 6000 };
//!         while self.next <= 5 && u64::from(self.next - 1) * 10_000 <= cx.now_us() {
//!             let _ = cx.send_message(self.next, 1, &self.next.to_be_bytes(), to);
//!             self.next += 1;
//!         }
//!         (self.next <= 5).then(|| u64::from(self.next - 1) * 10_000)
//!     }
//! }
//!
//! /// Delivers each reading the first time it arrives, never twice.
//! struct Gateway { seen: u64 }
//! impl App for Gateway {
//!     fn port(&self) -> u16 { 6000 }
//!     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
//!         let mut buf = [0u8; 64];
//!         while let Some((n, from)) = cx.recv_from(&mut buf) {
//!             let Ok(id) = <[u8; 4]>::try_from(&buf[..n]) else { continue };
//!             let id = u32::from_be_bytes(id);
//!             if id < 64 && self.seen & (1 << id) == 0 {
//!                 self.seen |= 1 << id;
//!                 cx.deliver(id, from);
//!             }
//!         }
//!         None
//!     }
//! }
//!
//! /// The lab: usually `udplab::load("tests/lab.toml")`.
//! fn lab() -> Scenario {
//!     udplab::parse(r#"
//!         duration = "1s"
//!         [[node]]
//!         name = "sensor"
//!         addr = "10.0.0.1"
//!         role = "code"
//!         [[node]]
//!         name = "gateway"
//!         addr = "10.0.0.2"
//!         role = "code"
//!     "#, "lab.toml").unwrap()
//! }
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(64))]
//!     // In your tests: #[test] here.
//!     fn every_reading_arrives_once_despite_reordering_and_duplication(
//!         case in with_links(lab(), &Space::new().reorder().duplicate_up_to(0.5).delay_up_to_ms(20).jitter()),
//!     ) {
//!         let mut sim = Sim::new(case.into_inner());
//!         sim.app("sensor", || Sensor { next: 1 }).app("gateway", || Gateway { seen: 0 });
//!         let out = sim.run_default()?;
//!         out.flow("sensor", "gateway").check_exactly_once()?;
//!     }
//! }
//! every_reading_arrives_once_despite_reordering_and_duplication();
//! ```
//!
//! Add `.loss_up_to(0.3)` to the space and the property fails (the sensor never retransmits);
//! proptest shrinks the case towards less impairment (every knob that does not matter is
//! switched off) and prints:
//!
//! ```text
//! Test failed: sensor -> gateway not exactly once (scenario `lab`, seed 4468328006483374505, 5 sent, 4 deliveries); never delivered: 3.
//! minimal failing input: case = # proptest case: save as scenarios/lab.toml and run it: udplab::load it, attach your apps with Sim::app, Sim::run(4468328006483374505)
//! name = "lab"
//! seed = 4468328006483374505
//! duration = "1s"
//!
//! [[node]]
//! name = "sensor"
//! addr = "10.0.0.1"
//! role = "code"
//!
//! [[node]]
//! name = "gateway"
//! addr = "10.0.0.2"
//! role = "code"
//!
//! [[link]]
//! from = "sensor"
//! to = "gateway"
//! loss = "14.1868277%"
//!
//! [[link]]
//! from = "gateway"
//! to = "sensor"
//! ```
//!
//! Saved as a file, that case is a regression test of its own: `udplab::load` it and run your
//! apps on it with its seed.
//!
//! Every strategy here generates only what a scenario file can hold (probabilities through
//! [`Prob::from_ppb`], seeds up to [`MAX_SEED`], phases inside the run, ...), so
//! [`to_toml`](crate::to_toml) writes each generated scenario exactly and `udplab::parse`
//! reads it back equal. The lower-level strategies ([`impairment`], [`scenario`], ...) are the
//! ones udplab's own property tests use on its engine.

use core::fmt;
use core::ops::Deref;

use proptest::prelude::*;
use udplab_firmware::{ArqConfig, Reply, Role};
use udplab_scenario::DEFAULT_REORDER_HOLD_US;
use udplab_sim::Scenario;
use udplab_sim::pair::Pair;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{GeOrder, Impairment, Jitter, Link, Loss, Phase};

/// One in a billion: probabilities are drawn in parts per billion, the precision of a scenario
/// file.
const BILLION: u64 = 1_000_000_000;

/// The largest seed a scenario file can hold (TOML integers are signed 64-bit); the strategies
/// draw seeds from `0..=MAX_SEED`.
pub const MAX_SEED: u64 = i64::MAX as u64;

// ---------------------------------------------------------------------------------------------
// Building blocks.

/// Probabilities from 0 to `max_ppb` parts per billion (`max_ppb` at most 10^9), uniform in
/// parts per billion and made with [`Prob::from_ppb`], so a scenario file can hold every one of
/// them exactly. Shrinks towards 0.
pub fn prob(max_ppb: u64) -> impl Strategy<Value = Prob> {
    assert!(max_ppb <= BILLION, "prob({max_ppb}): a probability is at most 10^9 parts per billion");
    (0..=max_ppb).prop_map(|ppb| Prob::from_ppb(ppb).expect("in range"))
}

/// Any probability from 0 to 1, with the edges 0 and 1 drawn often (a quarter of the time) since
/// that is where off-by-one bugs live. Shrinks towards 0.
pub fn any_prob() -> impl Strategy<Value = Prob> {
    prop_oneof![1 => Just(Prob::NEVER), 1 => Just(Prob::ALWAYS), 6 => prob(BILLION)]
}

/// Probabilities from 1 down to 0, shrinking towards 1 (for a Gilbert-Elliott `r`, where a larger
/// value means shorter bursts).
fn prob_from_one() -> impl Strategy<Value = Prob> {
    (0..=BILLION).prop_map(|x| Prob::from_ppb(BILLION - x).expect("in range"))
}

/// Any loss model: none; Bernoulli with a probability from 1 part per billion to 1 (0 would be
/// no loss, which is how a file reads it); Gilbert-Elliott with any four probabilities (edges
/// often). Shrinks towards no loss, then Bernoulli.
pub fn loss() -> impl Strategy<Value = Loss> {
    prop_oneof![
        Just(Loss::None),
        (1..=BILLION).prop_map(|ppb| Loss::Bernoulli { p: Prob::from_ppb(ppb).expect("in range") }),
        (any_prob(), any_prob(), any_prob(), any_prob(), ge_order()).prop_map(
            |(p, r, loss_bad, loss_good, order)| {
                Loss::GilbertElliott { p, r, loss_bad, loss_good, order }
            }
        ),
    ]
}

/// Any impairment a `[[link]]` of a scenario file can have, every knob included: any loss
/// model; up to 3 drop-listed datagrams among the first 39 (sorted, no repeats, as a file
/// reads them); delay up to 50 ms and jitter up to 30 ms (so jitter reorders often) of either
/// shape; any reordering probability for every 1st to 3rd datagram, held 1 us to 80 ms; any
/// duplication; corruption up to 60% with the checksum fixed or not; a rate limit of 8 kbit/s
/// to 2 Mbit/s a quarter of the time; an MTU of 68 to 1499 bytes a quarter of the time; a queue
/// of 1 to 5 datagrams a quarter of the time (1000 otherwise). Never `down`: a file says that
/// with an outage (see [`phases`]). Meant for testing the engine; for your own protocol a
/// [`Space`] says more plainly what is explored.
pub fn impairment() -> impl Strategy<Value = Impairment> {
    let a = (
        loss(),
        prop::collection::btree_set(1u64..40, 0..4),
        0u64..50_000,
        0u64..30_000,
        prop_oneof![Just(Jitter::Uniform), Just(Jitter::Normal)],
    );
    let b = (
        prob(BILLION),
        1u32..4,
        1u64..80_000,
        prob(BILLION),
        prob(600_000_000),
        any::<bool>(),
        prop_oneof![3 => Just(0u64), 1 => 8_000u64..2_000_000],
        prop_oneof![3 => Just(0u32), 1 => 68u32..1500],
        prop_oneof![3 => Just(1000u32), 1 => 1u32..6],
    );
    (a, b).prop_map(
        |(
            (loss, drop, delay_us, jitter_us, jitter),
            (
                reorder,
                reorder_gap,
                reorder_hold_us,
                duplicate,
                corrupt,
                corrupt_fix_checksum,
                rate_bps,
                mtu,
                queue,
            ),
        )| Impairment {
            down: false,
            loss,
            drop: drop.into_iter().collect(),
            delay_us,
            jitter_us,
            jitter,
            reorder,
            reorder_gap,
            reorder_hold_us,
            duplicate,
            corrupt,
            corrupt_fix_checksum,
            rate_bps,
            mtu,
            queue,
        },
    )
}

/// A phase before it is fitted to its link and run: whether it is an outage, where it starts
/// (any number, taken modulo the run's duration), how long it lasts, its settings and its name
/// (`None`: the parser's default).
type PhaseDraft = (bool, u64, u64, Impairment, Option<String>);

fn phase_drafts() -> impl Strategy<Value = Vec<PhaseDraft>> {
    let name = prop::option::weighted(0.25, "\\PC{1,12}").prop_map(|n| n.map(|n| one_paragraph(&n)));
    prop::collection::vec(
        (prop::bool::weighted(0.3), 0u64..3_000_000, 1u64..2_000_000, impairment(), name),
        0..3,
    )
}

/// Whitespace runs as single spaces, trimmed: how the parser reads names and descriptions.
fn one_paragraph(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fit_phases(base: &Impairment, duration_us: u64, drafts: Vec<PhaseDraft>) -> Vec<Phase> {
    drafts
        .into_iter()
        .enumerate()
        .map(|(n, (outage, start, len, imp, name))| {
            let from_us = start % duration_us.max(1);
            let impairment = if outage {
                Impairment { down: true, ..base.clone() }
            } else {
                // What a [[link.phase]] can say: not its own drop list, not "no MTU" under a
                // link that has one.
                let mtu = if imp.mtu == 0 { base.mtu } else { imp.mtu };
                Impairment { drop: base.drop.clone(), mtu, ..imp }
            };
            let default = if outage { "outage".to_owned() } else { format!("phase {}", n + 1) };
            let name = name.filter(|n| !n.is_empty()).unwrap_or(default);
            Phase { from_us, until_us: from_us + len, name, impairment }
        })
        .collect()
}

/// Up to two time windows for a link whose own settings are `base`, in a run of `duration_us`:
/// each starts inside the run and lasts 1 us to 2 s. About a third are outages (the link loses
/// everything); the others are phases with any settings from [`impairment`], except what a
/// `[[link.phase]]` cannot change (it keeps the link's `drop` list, and cannot lift its MTU).
/// Names are the parser's defaults (`phase N`, `outage`) or, a quarter of the time, any short
/// text.
pub fn phases(base: Impairment, duration_us: u64) -> impl Strategy<Value = Vec<Phase>> {
    phase_drafts().prop_map(move |drafts| fit_phases(&base, duration_us, drafts))
}

/// Reliable-mode settings: a window of 1 to 11, a first timeout of 10 to 300 ms, a ceiling of 1
/// to 7 times that, and no limit on attempts or a limit of 3 or 4 (small windows and limits
/// exercise the edges).
pub fn arq() -> impl Strategy<Value = ArqConfig> {
    (1u32..12, 10_000u64..300_000, 1u64..8, 0u16..3).prop_map(|(window, rto_us, mult, max_attempts)| {
        ArqConfig {
            window,
            rto_us,
            rto_max_us: rto_us * mult,
            max_attempts: if max_attempts == 0 { 0 } else { max_attempts + 2 },
        }
    })
}

/// What a generated two-node scenario's traffic looks like.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    pub count: u32,
    pub interval_us: u64,
    pub size: usize,
    pub reply: Reply,
    pub reliable: Option<ArqConfig>,
}

/// Traffic of udplab's built-in client and server: 1 to 39 messages, 1 to 200 ms apart, of 28
/// (the bare udplab header) to 599 bytes, echoed or kept, in reliable mode ([`arq`]) 30% of
/// the time. Small, so a property runs thousands of cases in seconds.
pub fn traffic() -> impl Strategy<Value = Traffic> {
    (
        1u32..40,
        1_000u64..200_000,
        28usize..600,
        prop_oneof![Just(Reply::Echo), Just(Reply::Sink)],
        prop::option::weighted(0.3, arq()),
    )
        .prop_map(|(count, interval_us, size, reply, reliable)| Traffic {
            count,
            interval_us,
            size,
            reply,
            reliable,
        })
}

/// A client (`laptop`, 192.0.2.1) and a server (`board`, 192.0.2.2, port 3333) with traffic
/// `t`, joined by the given links (laptop->board, then board->laptop): a [`Pair`].
pub fn two_nodes(t: Traffic, up: Link, down: Link, duration_us: u64, seed: u64) -> Scenario {
    Pair {
        count: t.count,
        interval_us: t.interval_us,
        size: t.size,
        reply: t.reply,
        reliable: t.reliable,
        up: up.impairment,
        up_phases: up.phases,
        down: down.impairment,
        down_phases: down.phases,
        duration_us,
        seed,
        ..Pair::default()
    }
    .build()
}

/// The link from node `from` to node `to`.
pub fn link(from: usize, to: usize, impairment: Impairment, phases: Vec<Phase>) -> Link {
    Link { from, to, impairment, phases, trace: None }
}

/// Arbitrary two-node scenarios ([`two_nodes`], [`traffic`]) with any impairment
/// ([`impairment`]) and up to two phases or outages ([`phases`]) in each direction, a run of
/// 0.1 to 10 s, any seed up to [`MAX_SEED`], and an empty or arbitrary one-paragraph
/// description. Every one can be written as a scenario file and read back equal.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    let description = prop_oneof![
        3 => Just(String::new()),
        1 => "\\PC{0,160}".prop_map(|d| one_paragraph(&d)),
    ];
    (
        traffic(),
        (impairment(), phase_drafts()),
        (impairment(), phase_drafts()),
        100_000u64..10_000_000,
        0..=MAX_SEED,
        description,
    )
        .prop_map(|(t, (up, up_drafts), (down, down_drafts), duration_us, seed, description)| {
            let up_phases = fit_phases(&up, duration_us, up_drafts);
            let down_phases = fit_phases(&down, duration_us, down_drafts);
            let mut s =
                two_nodes(t, link(0, 1, up, up_phases), link(1, 0, down, down_phases), duration_us, seed);
            s.description = description;
            s
        })
}

// ---------------------------------------------------------------------------------------------
// For your own protocol.

/// A perfect link as a scenario file has it (a `[[link]]` without impairment keys): no loss, no
/// delay, nothing else. That is [`Impairment::default`] with the file's default `reorder_hold`
/// of 20 ms ([`DEFAULT_REORDER_HOLD_US`]), which matters only once `reorder` is above 0, so
/// [`to_toml`](crate::to_toml) writes it as a bare `[[link]]`. What [`Space::new`] generates.
pub fn perfect_link() -> Impairment {
    Impairment { reorder_hold_us: DEFAULT_REORDER_HOLD_US, ..Impairment::default() }
}

/// Which impairments to explore and how far, for [`Space::impairment`] and [`with_links`].
///
/// Start from [`Space::new`] (nothing: perfect links) and switch on what your property claims to
/// survive, with plain numbers:
///
/// ```
/// use udplab::strategies::Space;
/// // "any loss up to 50% with any reordering, some duplication, up to 50 ms of delay and jitter"
/// let space = Space::new().loss_up_to(0.5).reorder().duplicate_up_to(0.2).delay_up_to_ms(50).jitter();
/// ```
///
/// Fractions are `f64` here only: each is converted once to parts per billion (rounded to the
/// nearest, as a scenario file's `0.5` is) and every generated probability is an exact
/// threshold made with [`Prob::from_ppb`] from at most that many parts per billion, so a bound
/// of `p` is never exceeded and every generated value can be written in a scenario file.
///
/// Every knob shrinks towards less impairment (no loss, lower probabilities, less delay, no
/// rate limit, ...), so a failing case comes back as the mildest network that still breaks
/// your property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    loss_ppb: u64,
    reorder_ppb: u64,
    duplicate_ppb: u64,
    corrupt_ppb: u64,
    delay_us: u64,
    jitter: JitterBound,
    rate_min_bps: Option<u64>,
    mtu_min: Option<u32>,
    queue_min: Option<u32>,
    outages: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JitterBound {
    Off,
    /// Up to the delay bound (or [`Space::DEFAULT_JITTER_US`] without one).
    UpToDelay,
    UpTo(u64),
}

impl Default for Space {
    fn default() -> Self {
        Space::new()
    }
}

/// `p` (a probability from 0 to 1) in parts per billion, rounded to the nearest.
fn fraction(what: &str, p: f64) -> u64 {
    assert!((0.0..=1.0).contains(&p), "Space::{what}({p}): expected a probability from 0 to 1");
    (p * 1e9).round() as u64
}

impl Space {
    /// Jitter bound of [`Space::jitter`] when the space has no delay bound.
    pub const DEFAULT_JITTER_US: u64 = 20_000;
    /// Longest a reordered datagram is held back ([`Space::reorder`]).
    pub const MAX_REORDER_HOLD_US: u64 = 100_000;
    /// Fastest rate limit drawn ([`Space::rate_down_to_kbit`]): 100 Mbit/s.
    pub const MAX_RATE_BPS: u64 = 100_000_000;

    /// Nothing enabled: every link is perfect ([`perfect_link`]).
    pub const fn new() -> Space {
        Space {
            loss_ppb: 0,
            reorder_ppb: 0,
            duplicate_ppb: 0,
            corrupt_ppb: 0,
            delay_us: 0,
            jitter: JitterBound::Off,
            rate_min_bps: None,
            mtu_min: None,
            queue_min: None,
            outages: false,
        }
    }

    /// Every knob at its full range: any loss (up to 100%, so also links that lose
    /// everything), any reordering, duplication and corruption, delay up to 100 ms with jitter up
    /// to that, rate limits down to 8 kbit/s, MTUs down to 68 bytes, queues down to 1 datagram,
    /// and outages. Drop lists are not drawn (they are for lessons and regression cases).
    pub fn everything() -> Space {
        Space::new()
            .loss_up_to(1.0)
            .reorder()
            .duplicate_up_to(1.0)
            .corrupt_up_to(1.0)
            .delay_up_to_ms(100)
            .jitter()
            .rate_down_to_kbit(8)
            .mtu_down_to(68)
            .queue_down_to(1)
            .outages()
    }

    /// Random loss with a probability of at most `p` (from 0 to 1): no loss, Bernoulli loss with
    /// any probability up to `p`, or Gilbert-Elliott burst loss with any transition
    /// probabilities and a loss probability of at most `p` in each state. So whatever state a
    /// link is in, a datagram is lost with probability at most `p`: bursts included, the loss
    /// rate stays within `p` (outages, if enabled, come on top).
    pub fn loss_up_to(mut self, p: f64) -> Space {
        self.loss_ppb = fraction("loss_up_to", p);
        self
    }

    /// Any reordering: [`Space::reorder_up_to`]`(1.0)`.
    pub fn reorder(self) -> Space {
        self.reorder_up_to(1.0)
    }

    /// Reordering with a probability of at most `p`, for every 1st to 4th datagram (the link's
    /// `reorder_gap`), each held back 1 us to 100 ms ([`Space::MAX_REORDER_HOLD_US`]) so later
    /// datagrams overtake it.
    pub fn reorder_up_to(mut self, p: f64) -> Space {
        self.reorder_ppb = fraction("reorder_up_to", p);
        self
    }

    /// Duplication (one extra copy) with a probability of at most `p`.
    pub fn duplicate_up_to(mut self, p: f64) -> Space {
        self.duplicate_ppb = fraction("duplicate_up_to", p);
        self
    }

    /// Corruption (one flipped bit in the UDP payload) with a probability of at most `p`, the
    /// checksum fixed (your app sees the damage) or not (the stack drops the datagram).
    pub fn corrupt_up_to(mut self, p: f64) -> Space {
        self.corrupt_ppb = fraction("corrupt_up_to", p);
        self
    }

    /// A one-way delay of 0 to `ms` milliseconds (any whole number of microseconds).
    pub fn delay_up_to_ms(self, ms: u64) -> Space {
        self.delay_up_to_us(ms.saturating_mul(1_000))
    }

    /// A one-way delay of 0 to `us` microseconds.
    pub fn delay_up_to_us(mut self, us: u64) -> Space {
        self.delay_us = us;
        self
    }

    /// Jitter, uniform or normal, of 0 up to the delay bound ([`Space::delay_up_to_ms`]), or up
    /// to 20 ms ([`Space::DEFAULT_JITTER_US`]) if the space has no delay; wherever it is
    /// called in the chain. Jitter larger than the gap between datagrams reorders them too.
    pub fn jitter(mut self) -> Space {
        self.jitter = JitterBound::UpToDelay;
        self
    }

    /// Jitter, uniform or normal, of 0 to `ms` milliseconds.
    pub fn jitter_up_to_ms(mut self, ms: u64) -> Space {
        self.jitter = JitterBound::UpTo(ms.saturating_mul(1_000));
        self
    }

    /// Rate limits from 100 Mbit/s ([`Space::MAX_RATE_BPS`]) down to `kbit` kbit/s (at least 1),
    /// or none; slow links queue datagrams (delay), and a full queue drops them.
    pub fn rate_down_to_kbit(mut self, kbit: u64) -> Space {
        assert!(kbit >= 1, "Space::rate_down_to_kbit(0): a rate limit is at least 1 kbit/s");
        self.rate_min_bps = Some(kbit.saturating_mul(1_000).min(Self::MAX_RATE_BPS));
        self
    }

    /// MTUs from 1500 down to `bytes` (68 to 1500, what a file allows), or none; a larger IP
    /// packet (UDP payload + 28 bytes) is lost.
    pub fn mtu_down_to(mut self, bytes: u32) -> Space {
        assert!((68..=1500).contains(&bytes), "Space::mtu_down_to({bytes}): expected 68 to 1500 bytes");
        self.mtu_min = Some(bytes);
        self
    }

    /// Link queues from 1000 datagrams (the default) down to `n` (1 to 1000); a link that holds
    /// `n` datagrams (at the rate limit or in flight) drops the next one.
    pub fn queue_down_to(mut self, n: u32) -> Space {
        assert!((1..=1000).contains(&n), "Space::queue_down_to({n}): expected 1 to 1000 datagrams");
        self.queue_min = Some(n);
        self
    }

    /// In [`with_links`]: up to two outages per link (the link loses everything), each starting
    /// anywhere in the run and lasting up to a quarter of it.
    pub fn outages(mut self) -> Space {
        self.outages = true;
        self
    }

    /// Impairments in this space, for one link: see each knob. Knobs left off keep the values
    /// of a [`perfect_link`] (no loss, no delay, queue 1000, ...), and so does every knob a
    /// failing case shrinks away, so a printed case shows only the knobs that matter. `down` is
    /// never set and no drop list is drawn.
    pub fn impairment(&self) -> impl Strategy<Value = Impairment> + use<> {
        let s = *self;
        let loss = up_to_loss(s.loss_ppb);
        let reorder = knob(
            (Prob::NEVER, 1, DEFAULT_REORDER_HOLD_US),
            (s.reorder_ppb > 0)
                .then(|| (some_prob(s.reorder_ppb), 1u32..=4, 1..=Self::MAX_REORDER_HOLD_US).boxed()),
        );
        let duplicate = knob(Prob::NEVER, (s.duplicate_ppb > 0).then(|| some_prob(s.duplicate_ppb).boxed()));
        let corrupt = knob(
            (Prob::NEVER, true),
            (s.corrupt_ppb > 0)
                .then(|| (some_prob(s.corrupt_ppb), prop_oneof![Just(true), Just(false)]).boxed()),
        );
        let delay = knob(0, (s.delay_us > 0).then(|| (1..=s.delay_us).boxed()));
        let jitter_max = match s.jitter {
            JitterBound::Off => 0,
            JitterBound::UpToDelay if s.delay_us == 0 => Self::DEFAULT_JITTER_US,
            JitterBound::UpToDelay => s.delay_us,
            JitterBound::UpTo(us) => us,
        };
        let jitter = knob(
            (0, Jitter::Uniform),
            (jitter_max > 0)
                .then(|| (1..=jitter_max, prop_oneof![Just(Jitter::Uniform), Just(Jitter::Normal)]).boxed()),
        );
        // Limits shrink towards none, then towards the mildest limit.
        let rate = knob(
            0,
            s.rate_min_bps
                .map(|min| (0..=Self::MAX_RATE_BPS - min).prop_map(|x| Self::MAX_RATE_BPS - x).boxed()),
        );
        let mtu = knob(0, s.mtu_min.map(|min| (0..=1500 - min).prop_map(|x| 1500 - x).boxed()));
        let queue = knob(1000, s.queue_min.map(|min| (0..=1000 - min).prop_map(|x| 1000 - x).boxed()));
        let delay = (delay, jitter);
        (loss, reorder, duplicate, corrupt, delay, rate, mtu, queue).prop_map(
            |(
                loss,
                (reorder, reorder_gap, reorder_hold_us),
                duplicate,
                (corrupt, corrupt_fix_checksum),
                (delay_us, (jitter_us, jitter)),
                rate_bps,
                mtu,
                queue,
            )| Impairment {
                down: false,
                loss,
                drop: Vec::new(),
                delay_us,
                jitter_us,
                jitter,
                reorder,
                reorder_gap,
                reorder_hold_us,
                duplicate,
                corrupt,
                corrupt_fix_checksum,
                rate_bps,
                mtu,
                queue,
            },
        )
    }

    /// Outage windows for one link of a run of `duration_us`: none, or up to two if
    /// [`Space::outages`].
    fn outage_windows(&self, duration_us: u64) -> BoxedStrategy<Vec<(u64, u64)>> {
        if !self.outages || duration_us == 0 {
            return Just(Vec::new()).boxed();
        }
        let longest = (duration_us / 4).max(1);
        prop::collection::vec((0..duration_us, 1..=longest), 0..=2).boxed()
    }
}

/// Probabilities from 1 part per billion to `max_ppb`.
fn some_prob(max_ppb: u64) -> impl Strategy<Value = Prob> {
    (1..=max_ppb).prop_map(|ppb| Prob::from_ppb(ppb).expect("in range"))
}

/// A knob of a [`Space`]: `off` if the space leaves it off; otherwise `off` a quarter of the
/// time and `on` the rest. Shrinks by trying `off` first (one run tells whether the knob
/// matters at all), then towards milder values of `on`.
fn knob<T>(off: T, on: Option<BoxedStrategy<T>>) -> BoxedStrategy<T>
where
    T: Clone + PartialEq + fmt::Debug + 'static,
{
    match on {
        None => Just(off).boxed(),
        Some(on) => OffFirst { off: off.clone(), inner: prop_oneof![1 => Just(off), 3 => on] }.boxed(),
    }
}

/// `inner`, shrinking to `off` before anything else (see [`knob`]).
#[derive(Debug)]
struct OffFirst<S: Strategy> {
    off: S::Value,
    inner: S,
}

impl<S: Strategy> Strategy for OffFirst<S>
where
    S::Value: Clone + PartialEq,
{
    type Tree = OffFirstTree<S::Tree>;
    type Value = S::Value;

    fn new_tree(&self, runner: &mut proptest::test_runner::TestRunner) -> proptest::strategy::NewTree<Self> {
        let inner = self.inner.new_tree(runner)?;
        Ok(OffFirstTree { off: self.off.clone(), inner, state: OffState::Untried })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OffState {
    /// `off` not tried yet: the inner value is current.
    Untried,
    /// `off` is current: it still fails (the next `simplify`) or not (`complicate`).
    Off,
    /// `off` was tried (or was the value) and the inner tree shrinks as usual.
    Inner,
}

#[derive(Debug, Clone)]
struct OffFirstTree<T: proptest::strategy::ValueTree> {
    off: T::Value,
    inner: T,
    state: OffState,
}

impl<T: proptest::strategy::ValueTree> proptest::strategy::ValueTree for OffFirstTree<T>
where
    T::Value: Clone + PartialEq,
{
    type Value = T::Value;

    fn current(&self) -> T::Value {
        match self.state {
            OffState::Off => self.off.clone(),
            OffState::Untried | OffState::Inner => self.inner.current(),
        }
    }

    fn simplify(&mut self) -> bool {
        match self.state {
            OffState::Untried if self.inner.current() != self.off => {
                self.state = OffState::Off;
                true
            }
            OffState::Untried => {
                self.state = OffState::Inner;
                self.inner.simplify()
            }
            // The case still fails with the knob off: nothing is simpler.
            OffState::Off => false,
            OffState::Inner => self.inner.simplify(),
        }
    }

    fn complicate(&mut self) -> bool {
        match self.state {
            // The knob matters: back to the failing value, then shrink it.
            OffState::Off => {
                self.state = OffState::Inner;
                true
            }
            OffState::Inner => self.inner.complicate(),
            OffState::Untried => false,
        }
    }
}

/// Either order of the Gilbert-Elliott step and decision; shrinks towards udplab's default.
fn ge_order() -> impl Strategy<Value = GeOrder> {
    prop_oneof![Just(GeOrder::StepThenDecide), Just(GeOrder::Netem)]
}

/// Loss models within `max_ppb` (see [`Space::loss_up_to`]); shrinks towards no loss, then
/// Bernoulli, then milder bursts.
fn up_to_loss(max_ppb: u64) -> BoxedStrategy<Loss> {
    let models = prop_oneof![
        some_prob(max_ppb).prop_map(|p| Loss::Bernoulli { p }),
        (prob(BILLION), prob_from_one(), prob(max_ppb), prob(max_ppb), ge_order()).prop_map(
            |(p, r, loss_bad, loss_good, order)| Loss::GilbertElliott { p, r, loss_bad, loss_good, order }
        ),
    ];
    knob(Loss::None, (max_ppb > 0).then(|| models.boxed()))
}

/// A generated scenario: [`Deref`]s to the [`Scenario`], and its [`Debug`](fmt::Debug) output
/// is the scenario file that reproduces it, so the minimal failing input proptest prints can
/// be saved and replayed as it is:
///
/// ```text
/// # proptest case: save as scenarios/pair.toml and run: udplab run scenarios/pair.toml --seed 7
/// name = "pair"
/// seed = 7
/// ...
/// ```
///
/// That comment line (proptest prints it right after `minimal failing input: case = `), then
/// [`to_toml`](crate::to_toml) of the scenario, which `udplab::parse` reads back to an equal
/// scenario. For a scenario with `role = "code"` nodes, which `udplab run` cannot run alone, the
/// comment says to load the file and attach your apps instead.
#[derive(Clone, PartialEq, Eq)]
pub struct ScenarioCase(Scenario);

impl ScenarioCase {
    pub fn new(scenario: Scenario) -> ScenarioCase {
        ScenarioCase(scenario)
    }

    /// The scenario, to hand to [`Sim::new`](crate::Sim::new).
    pub fn into_inner(self) -> Scenario {
        self.0
    }

    /// The scenario file, without the comment line.
    pub fn to_toml(&self) -> String {
        udplab_scenario::to_toml(&self.0)
    }
}

impl Deref for ScenarioCase {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl From<ScenarioCase> for Scenario {
    fn from(case: ScenarioCase) -> Scenario {
        case.0
    }
}

impl From<Scenario> for ScenarioCase {
    fn from(scenario: Scenario) -> ScenarioCase {
        ScenarioCase(scenario)
    }
}

impl fmt::Debug for ScenarioCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        // A file name from the scenario's name.
        let mut stem: String = s
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
            .collect();
        if stem.trim_matches('-').is_empty() {
            stem = "case".to_owned();
        }
        let path = format!("scenarios/{stem}.toml");
        let seed = s.seed;
        if s.nodes.iter().any(|n| n.role == Role::Code) {
            writeln!(
                f,
                "# proptest case: save as {path} and run it: udplab::load it, attach your apps with Sim::app, Sim::run({seed})"
            )?;
        } else {
            writeln!(f, "# proptest case: save as {path} and run: udplab run {path} --seed {seed}")?;
        }
        f.write_str(&udplab_scenario::to_toml(s))
    }
}

/// `base` with every link's impairment drawn from `space`, and a random seed (up to
/// [`MAX_SEED`]): the strategy for a property about your own apps on your own scenario file.
///
/// Every direction between two nodes gets its own draw: links `base` lacks are added first
/// ([`Scenario::add_default_links`], as the parser does). The base links' phases and outages
/// are dropped, since a phase carries a whole copy of its link's settings that would hide the
/// drawn ones inside its window; [`Space::outages`] draws outages instead. Everything else
/// (nodes, duration, name, `[expect]`) stays as in `base`.
///
/// Shrinks link by link towards perfect links: each knob is first switched off (one run tells
/// whether it matters), then made milder. The seed does not shrink: no seed is simpler than
/// another, and keeping it keeps each datagram's dice while the impairments shrink (a lower
/// loss probability loses a subset of the same datagrams).
pub fn with_links(base: Scenario, space: &Space) -> impl Strategy<Value = ScenarioCase> + use<> {
    let mut base = base;
    base.add_default_links();
    let per_link = (space.impairment(), space.outage_windows(base.duration_us));
    (prop::collection::vec(per_link, base.links.len()), (0..=MAX_SEED).no_shrink()).prop_map(
        move |(links, seed)| {
            let mut s = base.clone();
            s.seed = seed;
            for (link, (impairment, outages)) in s.links.iter_mut().zip(links) {
                link.phases = outages
                    .into_iter()
                    .map(|(from_us, len)| Phase {
                        from_us,
                        until_us: from_us + len,
                        name: "outage".to_owned(),
                        impairment: Impairment { down: true, ..impairment.clone() },
                    })
                    .collect();
                link.impairment = impairment;
            }
            ScenarioCase(s)
        },
    )
}

/// [`scenario`] as [`ScenarioCase`]s: arbitrary two-node scenarios of udplab's built-in client
/// and server that print as scenario files.
pub fn scenarios() -> impl Strategy<Value = ScenarioCase> {
    scenario().prop_map(ScenarioCase)
}
