//! The same telemetry apps on a real TAP device (root only): the gateway on smoltcp over the
//! TAP, the sensor on a kernel socket, the scenario's links in the TAP's path.

use std::collections::BTreeMap;
use std::path::Path;

use telemetry::{Gateway, Sensor, SensorConfig};
use udplab::Endpoint;
use udplab::{Event, Fate, Sim, Trace};

/// Each link's decisions, datagram by datagram, without absolute times.
fn fates(trace: &Trace) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for r in trace {
        if let Event::Offer { link, index, label, bytes, fate } = r.event {
            let what = match fate {
                Fate::Lost(reason) => format!("{reason:?}"),
                Fate::Passed(p) => format!("passed copies={} held={}", p.copies, p.held_us),
            };
            out.entry(link).or_default().push(format!("#{index} {label} {bytes}B {what}"));
        }
    }
    out
}

/// The example's apps with the sensor's timers far from the link's round trip (20 ms): a
/// retransmission 200 ms after a send, a new reading every 300 ms. Timing noise on a loaded
/// machine (tens of ms at worst) then cannot change which datagrams are sent, so each link is
/// offered the same datagrams in the same order as in memory and must decide the same fates.
fn telemetry(s: udplab::Scenario) -> Sim<'static> {
    let mut sim = Sim::new(s);
    let cfg = SensorConfig {
        gateway: Endpoint { addr: [10, 0, 0, 1], port: telemetry::GATEWAY_PORT },
        readings: 12,
        period_us: 300_000,
        retry_us: 200_000,
        max_attempts: 6,
    };
    sim.app("sensor", move || Sensor::new(cfg)).app("gateway", Gateway::new);
    sim
}

#[test]
fn the_telemetry_apps_on_a_tap_meet_the_same_fates_as_in_memory() {
    if !udplab::tap::privileged_or_skip("the_telemetry_apps_on_a_tap_meet_the_same_fates_as_in_memory") {
        return;
    }
    let mut s =
        udplab::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/telemetry.toml")).unwrap();
    // Without jitter, copies and originals keep their order however the real clock wobbles.
    for l in &mut s.links {
        l.impairment.jitter_us = 0;
    }
    s.duration_us = 8_000_000;
    let memory = telemetry(s.clone()).run(s.seed).unwrap();
    // Two busy loops beside the run, as on a loaded laptop: timers fire late.
    let _load = udplab::tap::CpuLoad::new(2);
    // On a thread of its own: the thread enters the run's network namespace for good.
    let (seed, on_tap) = (s.seed, s.clone());
    let (tap, _stop) = std::thread::spawn(move || udplab::tap::run(&telemetry(on_tap), seed, "gateway"))
        .join()
        .expect("the TAP run does not panic")
        .expect("runs");
    let (m, t) = (fates(&memory.trace), fates(&tap.trace));
    assert!(m.values().flatten().any(|f| f.contains("Random")), "the scenario loses something");
    for link in m.keys() {
        assert_eq!(m[link], t[link], "link {}", s.link_name(*link));
    }
    // The gateway on the TAP stored each reading once, as in memory.
    tap.flow("sensor", "gateway").check_no_duplicates().unwrap();
    assert_eq!(tap.flow("sensor", "gateway").sent(), memory.flow("sensor", "gateway").sent());
}
