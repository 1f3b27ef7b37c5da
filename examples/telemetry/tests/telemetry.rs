//! The telemetry protocol under udplab: the scenario file's network, a property over many
//! networks, and the bug a first version of the gateway has.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use telemetry::{Gateway, example_sensor};
use udplab::strategies::{ScenarioCase, Space, with_links};
use udplab::{Label, Outcome, Scenario, Sim};

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/telemetry.toml");
    udplab::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Shows `reading=7` and `ack=7` in timelines instead of anonymous datagrams.
fn labeller(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

fn sim(scenario: Scenario, gateway: fn() -> Gateway) -> Sim<'static> {
    let mut sim = Sim::new(scenario);
    sim.app("sensor", example_sensor).app("gateway", gateway).labeller(labeller);
    sim
}

/// What the protocol promises: the gateway stores no reading twice, and every reading it does
/// not store is one the sensor said it gave up on (bounded retries: nothing lost silently).
fn promise(out: &Outcome) -> Result<(), String> {
    let flow = out.flow("sensor", "gateway");
    flow.check_no_duplicates().map_err(|v| v.to_string())?;
    let gave_up: BTreeSet<u32> =
        out.notes("sensor", "gave up").filter_map(|(_, n)| n.value("id")).map(|id| id as u32).collect();
    let silent: Vec<u32> = flow.lost().into_iter().filter(|id| !gave_up.contains(id)).collect();
    if !silent.is_empty() {
        return Err(format!("seed {}: readings lost without the sensor giving up: {silent:?}", out.seed));
    }
    Ok(())
}

#[test]
fn the_gateway_stores_every_reading_once_on_the_example_network() {
    let s = scenario();
    let out = sim(s.clone(), Gateway::new).run(s.seed).unwrap();
    promise(&out).unwrap();
    let flow = out.flow("sensor", "gateway");
    assert_eq!(flow.sent().len(), 30);
    // This network loses 20% each way: retransmissions happen, and acks get lost.
    assert!(flow.retransmissions() > 0);
    assert!(out.losses().iter().any(|l| matches!(l.label, Label::Named { kind: "ack", .. })));
    assert_eq!(out.notes("gateway", "stored").count(), flow.delivered().len());
}

#[test]
fn the_naive_gateway_stores_a_retransmitted_reading_twice() {
    let s = scenario();
    let out = sim(s.clone(), Gateway::naive).run(s.seed).unwrap();
    let err = promise(&out).unwrap_err();
    assert!(err.contains("delivered more than once"), "{err}");
    // The fixed gateway on the very same network and seed does not.
    promise(&sim(s.clone(), Gateway::new).run(s.seed).unwrap()).unwrap();
}

/// The example network with any loss up to 45% and any duplication up to 30% each way,
/// reordering (jitter up to 30 ms, held-back datagrams), and any seed. A failure prints the
/// shrunk network as a scenario file.
fn networks() -> impl Strategy<Value = ScenarioCase> {
    let space = Space::new().loss_up_to(0.45).duplicate_up_to(0.3).jitter_up_to_ms(30).reorder();
    with_links(scenario(), &space)
}

// The error is proptest's, matched on by the tests below, never passed up: its size is no cost.
#[allow(clippy::result_large_err)]
fn check(gateway: fn() -> Gateway, cases: u32) -> Result<(), TestError<ScenarioCase>> {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner.run(&networks(), |case| {
        let out = sim(case.clone().into_inner(), gateway).run(case.seed).unwrap();
        promise(&out).map_err(TestCaseError::fail)
    })
}

#[test]
fn the_gateway_keeps_its_promise_on_any_of_these_networks() {
    check(Gateway::new, 256).unwrap();
}

#[test]
fn the_property_finds_the_naive_gateways_bug() {
    match check(Gateway::naive, 256) {
        Err(TestError::Fail(why, case)) => {
            assert!(why.message().contains("delivered more than once"), "{why}");
            // What proptest prints for the shrunk case is a scenario file that reproduces it.
            let file = format!("{case:?}");
            let again = udplab::parse(&file, "shrunk.toml").unwrap_or_else(|e| panic!("{e}\n{file}"));
            assert_eq!(again, *case);
            assert!(promise(&sim(again.clone(), Gateway::naive).run(again.seed).unwrap()).is_err());
        }
        other => panic!("the naive gateway should fail the property, got {other:?}"),
    }
}

#[test]
fn timeline_of_the_example_network() {
    let s = scenario();
    let out = sim(s.clone(), Gateway::new).run(s.seed).unwrap();
    insta::assert_snapshot!(out.timeline());
}
