//! Classroom- and campus-sized scenarios: a thousand nodes parse, get unique addresses, run, and
//! keep link numbers and names exactly as a small scenario's listed default links have them.

use std::collections::HashSet;

use udplab_scenario::{MAX_NODES, default_addr, parse, to_toml};
use udplab_sim::report::Summary;
use udplab_sim::{Event, run};

/// `clients` clients sending `count` datagrams, 100 ms apart, to one echo server, with
/// `links` appended (the server is node 0, client `k` node `k`).
fn star(clients: usize, count: u32, duration: &str, links: &str) -> String {
    let mut s =
        format!("duration = \"{duration}\"\n\n[[node]]\nname = \"server\"\nrole = \"server\"\nport = 3333\n");
    for k in 1..=clients {
        s.push_str(&format!(
            "\n[[node]]\nname = \"c{k}\"\nrole = \"client\"\nserver = \"server\"\ncount = {count}\ninterval = \"100ms\"\n"
        ));
    }
    s.push_str(links);
    s
}

#[test]
fn a_thousand_node_star_parses_and_runs_with_every_client_answered() {
    let s = parse(&star(999, 3, "250ms", ""), "star.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.nodes.len(), 1000);
    assert!(s.implicit_links && s.links.is_empty(), "no direction is listed");
    assert_eq!(s.link_count(), 1000 * 999);
    let trace = run(&s, 1).unwrap();
    let summary = Summary::from_trace(&s, 1, &trace);
    assert_eq!(summary.flows.len(), 999);
    for f in &summary.flows {
        assert_eq!((f.sent, f.delivered, f.answered, f.lost), (3, 3, 3, 0), "{f:?}");
    }
    // Only the directions datagrams crossed are in the summary: each client's and its answer's.
    assert_eq!(summary.links.len(), 2 * 999);
    let named: HashSet<&str> = summary.links.iter().map(|l| l.name.as_str()).collect();
    assert!(named.contains("c999->server") && named.contains("server->c1"));
    assert!(!trace.iter().any(|r| matches!(r.event, Event::NoRoute { .. })));
}

#[test]
fn default_addresses_are_unique_valid_and_unchanged_for_the_first_254_nodes() {
    let s = parse(&star(MAX_NODES - 1, 1, "1s", ""), "star.toml").unwrap_or_else(|e| panic!("{e}"));
    let addrs: Vec<[u8; 4]> = s.nodes.iter().map(|n| n.addr).collect();
    assert_eq!(addrs.iter().collect::<HashSet<_>>().len(), MAX_NODES, "unique");
    for (i, a) in addrs.iter().enumerate() {
        assert_eq!(*a, default_addr(i));
        if i < 254 {
            assert_eq!(*a, [192, 0, 2, i as u8 + 1], "node {i} keeps the address it always had");
        } else {
            assert!(a[0] == 198 && (a[1] & 0xfe) == 18, "node {i}: {a:?} in 198.18.0.0/15");
        }
        assert!(a[3] != 0 && a[3] != 255, "node {i}: {a:?}");
    }
    assert_eq!(
        (default_addr(254), default_addr(507), default_addr(508)),
        ([198, 18, 0, 1], [198, 18, 0, 254], [198, 18, 1, 1])
    );
}

#[test]
fn one_node_too_many_is_an_error_naming_the_limit() {
    let e = parse(&star(MAX_NODES, 1, "1s", ""), "star.toml").unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "too many nodes: this is node {} and a scenario has at most {MAX_NODES}",
            MAX_NODES + 1
        )),
        "{e}"
    );
    // It points at the first node past the limit.
    assert!(e.contains(&format!("name = \"c{MAX_NODES}\"")) || e.contains("[[node]]"), "{e}");
}

#[test]
fn declared_links_in_a_big_scenario_keep_their_numbers_and_the_rest_follow_in_order() {
    let link = "\n[[link]]\nfrom = \"c70\"\nto = \"server\"\ndelay = \"5ms\"\n";
    let s = parse(&star(70, 2, "1s", link), "star.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.implicit_links);
    assert_eq!(s.links.len(), 1);
    assert_eq!((s.link_between(70, 0), s.link_name(0).as_str()), (Some(0), "c70->server"));
    // The first implicit link is server->c1, as add_default_links would have listed it.
    assert_eq!((s.link_between(0, 1), s.link_name(1).as_str()), (Some(1), "server->c1"));
    let trace = run(&s, 1).unwrap();
    let latency = trace.iter().find_map(|r| match r.event {
        Event::Arrive { link: 0, latency_us, .. } => Some(latency_us),
        _ => None,
    });
    assert_eq!(latency, Some(5_000), "the declared link's delay applies");
    // Writing and reading back gives the same scenario, links still implicit.
    let back = parse(&to_toml(&s), "back.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.nodes, s.nodes);
    assert_eq!((back.links.len(), back.implicit_links), (1, true));
    assert_eq!(run(&back, 1).unwrap(), trace);
}

#[test]
fn the_benchmark_stars_parse_with_every_link_implicit() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/scenarios");
    for n in [100, 1000] {
        let s = udplab_scenario::load(&dir.join(format!("star-{n}.toml"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.nodes.len(), s.links.len(), s.duration_us), (n, 0, 60_000_000));
        assert_eq!(s.implicit_links, n > 64);
    }
}

/// The CLI's instructions per datagram are the callgrind difference of these two runs divided
/// by 40 000, which holds only if the files differ in the client's count and nothing else.
#[test]
fn the_benchmark_echoes_differ_only_in_their_count() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/scenarios");
    let read = |n: u32| std::fs::read_to_string(dir.join(format!("echo-{n}.toml"))).unwrap();
    let (small, big) = (read(10_000), read(30_000));
    assert_eq!(small.replace("count = 10000", "count = 30000"), big);
    let s = udplab_scenario::load(&dir.join("echo-30000.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.nodes.len(), 2);
    assert!(s.duration_us >= 30_000 * 1_000 + 2_000, "long enough for every echo to come back");
}
