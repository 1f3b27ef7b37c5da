//! Shared helpers for the integration tests: scenario generators for proptest and the list of
//! lesson files.

use std::path::PathBuf;

use proptest::prelude::*;
use udplab_firmware::{ArqConfig, Reply};
use udplab_sim::Scenario;
use udplab_sim::pair::Pair;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Impairment, Jitter, Link, Loss, Phase};

/// The lesson files in `scenarios/`, sorted.
pub fn lesson_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

pub fn prob(max_ppb: u64) -> impl Strategy<Value = Prob> {
    (0..=max_ppb).prop_map(|ppb| Prob::from_ppb(ppb).expect("in range"))
}

/// Any probability, with the edges 0 and 1 drawn often.
pub fn any_prob() -> impl Strategy<Value = Prob> {
    prop_oneof![1 => Just(Prob::NEVER), 1 => Just(Prob::ALWAYS), 6 => prob(1_000_000_000)]
}

pub fn loss() -> impl Strategy<Value = Loss> {
    prop_oneof![
        Just(Loss::None),
        prob(1_000_000_000).prop_map(|p| Loss::Bernoulli { p }),
        (any_prob(), any_prob(), any_prob(), any_prob())
            .prop_map(|(p, r, loss_bad, loss_good)| { Loss::GilbertElliott { p, r, loss_bad, loss_good } }),
    ]
}

/// Any impairment, every knob included.
pub fn impairment() -> impl Strategy<Value = Impairment> {
    let a = (
        prop::bool::weighted(0.05),
        loss(),
        prop::collection::vec(1u64..40, 0..4),
        0u64..50_000,
        0u64..30_000,
        prop_oneof![Just(Jitter::Uniform), Just(Jitter::Normal)],
    );
    let b = (
        prob(1_000_000_000),
        1u32..4,
        1u64..80_000,
        prob(1_000_000_000),
        prob(600_000_000),
        any::<bool>(),
        prop_oneof![3 => Just(0u64), 1 => 8_000u64..2_000_000],
        prop_oneof![3 => Just(0u32), 1 => 68u32..1500],
        prop_oneof![3 => Just(1000u32), 1 => 1u32..6],
    );
    (a, b).prop_map(
        |(
            (down, loss, drop, delay_us, jitter_us, jitter),
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
            down,
            loss,
            drop,
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

pub fn phases() -> impl Strategy<Value = Vec<Phase>> {
    prop::collection::vec(
        (0u64..3_000_000, 1u64..2_000_000, impairment()).prop_map(|(from_us, len, impairment)| Phase {
            from_us,
            until_us: from_us + len,
            name: "phase".to_string(),
            impairment,
        }),
        0..3,
    )
}

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

/// What a generated scenario's traffic looks like.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    pub count: u32,
    pub interval_us: u64,
    pub size: usize,
    pub reply: Reply,
    pub reliable: Option<ArqConfig>,
}

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

/// A client and a server joined by the given links (laptop->board, then board->laptop).
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

pub fn link(from: usize, to: usize, impairment: Impairment, phases: Vec<Phase>) -> Link {
    Link { from, to, impairment, phases }
}

/// Arbitrary two-node scenarios with every impairment in both directions.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    (traffic(), impairment(), phases(), impairment(), phases(), 100_000u64..10_000_000, any::<u64>())
        .prop_map(|(t, up, up_phases, down, down_phases, duration_us, seed)| {
            two_nodes(t, link(0, 1, up, up_phases), link(1, 0, down, down_phases), duration_us, seed)
        })
}
