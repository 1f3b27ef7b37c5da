//! Simulated datagrams per wall-clock second for a two-node echo in virtual time.
//!
//! `cargo bench -p udplab-sim --bench echo`; numbers and the machine they came from are in
//! README.md. Throughput is counted in datagrams that cross a link (requests + echoes).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use udplab_firmware::ArqConfig;
use udplab_sim::Scenario;
use udplab_sim::pair::Pair;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Impairment, Loss};

const COUNT: u32 = 10_000;

fn echo(loss_ppb: u64, reliable: bool) -> Scenario {
    let imp = Impairment {
        delay_us: 1_000,
        loss: if loss_ppb == 0 {
            Loss::None
        } else {
            Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() }
        },
        ..Impairment::default()
    };
    Pair {
        count: COUNT,
        interval_us: 1_000,
        port: 7,
        reliable: reliable.then(ArqConfig::default),
        up: imp.clone(),
        down: imp,
        duration_us: 3_600_000_000,
        ..Pair::default()
    }
    .build()
}

/// Datagrams offered to links in one run of `s`.
fn datagrams(s: &Scenario) -> u64 {
    udplab_sim::run(s, 1)
        .unwrap()
        .iter()
        .filter(|r| matches!(r.event, udplab_sim::Event::Offer { .. }))
        .count() as u64
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("two-node echo, 10k messages");
    for (name, s) in [
        ("perfect", echo(0, false)),
        ("10% loss", echo(100_000_000, false)),
        ("reliable, 10% loss", echo(100_000_000, true)),
    ] {
        g.throughput(Throughput::Elements(datagrams(&s)));
        g.bench_function(name, |b| b.iter(|| udplab_sim::run(&s, 1).unwrap()));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
