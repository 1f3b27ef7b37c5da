//! Simulated datagrams per wall-clock second for a two-node echo in virtual time.
//!
//! `cargo bench -p udplab-sim --bench echo`; numbers and the machine they came from are in
//! README.md. Throughput is counted in datagrams that cross a link (requests + echoes).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use udplab_firmware::{ArqConfig, ClientConfig, Reply, Role, ServerConfig};
use udplab_sim::Scenario;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Expect, Impairment, Link, Loss, Node};

const COUNT: u32 = 10_000;

fn echo(loss_ppb: u64, reliable: bool) -> Scenario {
    let arq = reliable.then(ArqConfig::default);
    let imp = Impairment {
        delay_us: 1_000,
        loss: if loss_ppb == 0 {
            Loss::None
        } else {
            Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() }
        },
        ..Impairment::default()
    };
    Scenario {
        name: "bench".into(),
        description: String::new(),
        seed: 1,
        duration_us: 3_600_000_000,
        nodes: vec![
            Node {
                name: "client".into(),
                addr: [192, 0, 2, 1],
                role: Role::Client(ClientConfig {
                    port: 49152,
                    server_addr: [192, 0, 2, 2],
                    server_port: 7,
                    count: COUNT,
                    interval_us: 1_000,
                    start_us: 0,
                    size: 64,
                    reliable: arq,
                }),
            },
            Node {
                name: "server".into(),
                addr: [192, 0, 2, 2],
                role: Role::Server(ServerConfig { port: 7, reply: Reply::Echo, reliable: arq }),
            },
        ],
        links: vec![
            Link { from: 0, to: 1, impairment: imp.clone(), phases: vec![] },
            Link { from: 1, to: 0, impairment: imp, phases: vec![] },
        ],
        expect: Expect::default(),
    }
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
