//! `to_toml` writes scenario files that `parse` reads back to the same scenario.

use std::path::{Path, PathBuf};

use udplab_firmware::{ArqConfig, ClientConfig, Reply, Role, ServerConfig};
use udplab_scenario::{load, parse, to_toml};
use udplab_sim::Scenario;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Expect, GeOrder, Impairment, Jitter, Link, Loss, Node, Phase};

/// `parse(to_toml(s))`, which must succeed, and the text.
fn reparse(s: &Scenario) -> (Scenario, String) {
    let text = to_toml(s);
    match parse(&text, "written.toml") {
        Ok(back) => (back, text),
        Err(e) => panic!("{e}\nin\n{text}"),
    }
}

fn assert_round_trip(s: &Scenario) -> String {
    let (back, text) = reparse(s);
    assert_eq!(&back, s, "written as\n{text}");
    assert_eq!(to_toml(&back), text, "the writer is deterministic");
    text
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_file_in_the_repository_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = toml_files(&root.join("scenarios"));
    files.extend(toml_files(&root.join("examples/telemetry/scenarios")));
    files.extend(toml_files(&root.join("scenarios/captures")));
    files.extend(toml_files(&root.join("docs/captures")));
    assert!(files.len() >= 11, "the lessons, the captures' networks and the telemetry example: {files:?}");
    for path in files {
        let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
        // Read back from where the file is, so that its `trace` paths resolve as they did.
        let text = to_toml(&s);
        let back = parse(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}\nin\n{text}"));
        assert_eq!(back, s, "{} written as\n{text}", path.display());
        if s.links.iter().any(|l| l.trace.is_some()) {
            assert!(text.contains("trace = \"traces/"), "{text}");
        }
    }
}

const TWO: &str = r#"duration = "2s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 10
[[node]]
name = "board"
role = "server"
port = 3333
"#;

fn two() -> Scenario {
    parse(TWO, "two.toml").unwrap()
}

fn ppb(p: u64) -> Prob {
    Prob::from_ppb(p).unwrap()
}

/// An impairment with every knob away from its default.
fn busy() -> Impairment {
    Impairment {
        down: false,
        loss: Loss::GilbertElliott {
            p: ppb(20_000_000),
            r: ppb(250_000_000),
            loss_bad: ppb(1),
            loss_good: ppb(999_999_999),
            order: GeOrder::Netem,
        },
        drop: vec![1, 3, 17],
        delay_us: 1_500,
        jitter_us: 2_000_001,
        jitter: Jitter::Normal,
        reorder: ppb(123_456_789),
        reorder_gap: 3,
        reorder_hold_us: 40_000,
        duplicate: Prob::ALWAYS,
        corrupt: ppb(7),
        corrupt_fix_checksum: false,
        rate_bps: 1_234_567,
        mtu: 68,
        queue: 1,
    }
}

#[test]
fn every_key_round_trips() {
    let mut s = two();
    s.name = "every \"key\" \\ é → 🦀".to_owned();
    s.description =
        "Quotes \" and backslashes \\ and unicode: ünïcödé ✓ 🦀. ".repeat(8).trim_end().to_owned();
    s.seed = i64::MAX as u64;
    s.duration_us = 86_400_000_000;
    let arq = ArqConfig { window: 1024, rto_us: 1, rto_max_us: 86_400_000_000, max_attempts: u16::MAX };
    s.nodes[0].role = Role::Client(ClientConfig {
        port: 1,
        count: 1_000_000,
        interval_us: 0,
        start_us: 1_000_001,
        size: 1472,
        reliable: Some(arq),
        ..match s.nodes[0].role {
            Role::Client(c) => c,
            _ => unreachable!(),
        }
    });
    s.nodes[1].role =
        Role::Server(ServerConfig { port: 3333, reply: Reply::Sink, reliable: Some(ArqConfig::default()) });
    s.nodes[1].addr = [10, 1, 2, 3];
    if let Role::Client(c) = &mut s.nodes[0].role {
        c.server_addr = [10, 1, 2, 3];
    }
    s.nodes.push(Node { name: "code_1-X".to_owned(), addr: [203, 0, 113, 9], role: Role::Code });
    let base = busy();
    let phase = |name: &str, from_us, until_us, impairment| Phase {
        from_us,
        until_us,
        name: name.to_owned(),
        impairment,
    };
    let outage = Impairment { down: true, ..base.clone() };
    // A phase that changes every key it can, back to the defaults (and `loss = 0`).
    let calm = Impairment {
        loss: Loss::None,
        drop: base.drop.clone(),
        mtu: 1500,
        rate_bps: 0,
        ..Impairment::default()
    };
    let bernoulli = Impairment { loss: Loss::Bernoulli { p: ppb(500_000_000) }, ..base.clone() };
    s.links = vec![
        Link {
            from: 0,
            to: 1,
            impairment: base.clone(),
            phases: vec![
                phase("outage", 100, 200, outage.clone()),
                phase("phase 2", 150, 250, calm),
                phase("a \"named\"\nphase", 300, 1_000_000, bernoulli),
                phase("the dark", 0, 86_400_000_000, outage),
                phase("phase 2", 1, 2, base.clone()),
            ],
            trace: None,
        },
        // Default links added by the parser, in another order than it would add them.
        Link { from: 2, to: 1, impairment: Impairment::default(), phases: vec![], trace: None },
        Link { from: 1, to: 0, impairment: Impairment::default(), phases: vec![], trace: None },
        Link {
            from: 0,
            to: 2,
            impairment: Impairment { rate_bps: 3_000_000_000, ..busy() },
            phases: vec![],
            trace: None,
        },
        Link {
            from: 2,
            to: 0,
            impairment: Impairment { reorder_hold_us: 0, ..Impairment::default() },
            phases: vec![],
            trace: None,
        },
        Link {
            from: 1,
            to: 2,
            impairment: Impairment { queue: u32::MAX, reorder_gap: u32::MAX, ..Impairment::default() },
            phases: vec![],
            trace: None,
        },
    ];
    s.expect = Expect {
        delivered_min_ppm: Some(999_999),
        all_delivered: true,
        duplicates_max: Some(0),
        in_order: true,
        latency_max_us: Some(1_234),
        latency_tolerance_us: Some(7),
        lost_max: Some(i64::MAX as u64),
    };
    // Names and descriptions come back as the parser normalises them.
    s.name = s.name.split_whitespace().collect::<Vec<_>>().join(" ");
    s.links[0].phases[2].name = "a \"named\" phase".to_owned();
    let text = assert_round_trip(&s);
    assert!(
        text.contains("[[link.outage]]\nstart = \"0s\"\nend = \"86400s\"\nname = \"the dark\"\n"),
        "{text}"
    );
    assert!(text.contains("delay = \"1500us\""), "{text}");
    assert!(text.contains("rate = \"3Gbit\""), "{text}");
    assert!(text.contains("description = \"\"\"\n"), "{text}");
}

#[test]
fn a_lesson_is_written_the_way_a_person_would() {
    let s = parse(
        r#"name = "random-loss"
description = "Look for the lost ones."
seed = 42
duration = "10s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 20
interval = "100ms"
[[node]]
name = "board"
role = "server"
port = 3333
[[link]]
from = "laptop"
to = "board"
loss = "20%"
delay = "5ms"
[[link.phase]]
start = "5s"
end = "8s"
loss = "50%"
[[link.outage]]
start = "9s"
end = "9.5s"
[[link]]
from = "board"
to = "laptop"
delay = "5ms"
[expect]
delivered_min = "70%"
"#,
        "x.toml",
    )
    .unwrap();
    let expected = r#"name = "random-loss"
description = "Look for the lost ones."
seed = 42
duration = "10s"

[[node]]
name = "laptop"
addr = "192.0.2.1"
role = "client"
server = "board"
count = 20

[[node]]
name = "board"
addr = "192.0.2.2"
role = "server"
port = 3333

[[link]]
from = "laptop"
to = "board"
loss = "20%"
delay = "5ms"

[[link.phase]]
start = "5s"
end = "8s"
loss = "50%"

[[link.outage]]
start = "9s"
end = "9500ms"

[[link]]
from = "board"
to = "laptop"
delay = "5ms"

[expect]
delivered_min = "70%"
"#;
    assert_eq!(assert_round_trip(&s), expected);
}

#[test]
fn documented_normalisations() {
    let mut s = two();
    s.description = "  two\n\tlines  ".to_owned();
    s.links[0].impairment.drop = vec![9, 2, 9];
    s.links[1].impairment.loss = Loss::Bernoulli { p: Prob::NEVER };
    s.links.truncate(1);
    let (back, _) = reparse(&s);
    assert_eq!(back.description, "two lines");
    assert_eq!(back.links[0].impairment.drop, vec![2, 9]);
    assert_eq!(back.links.len(), 2, "the missing direction comes back as a perfect link");
    assert_eq!(back.links[1].impairment, Impairment::default());

    // A threshold off the parts-per-billion grid: the nearest, with a comment.
    let mut s = two();
    s.links[0].impairment.duplicate = Prob::from_threshold(3).unwrap();
    let (back, text) = reparse(&s);
    assert!(text.contains("duplicate = \"0.0000001%\"  # threshold 3/2^32"), "{text}");
    assert_eq!(back.links[0].impairment.duplicate, ppb(1));
}

#[test]
fn what_a_file_cannot_hold_fails_to_parse_at_that_spot() {
    let fails_at = |s: &Scenario, needle: &str| {
        let text = to_toml(s);
        let e = parse(&text, "w.toml").expect_err(&text);
        let line = e.source_line.clone().unwrap_or_default();
        assert!(line.contains(needle), "{e}\nin\n{text}");
    };
    let mut s = two();
    s.links[0].impairment.down = true;
    fails_at(&s, "down = true");

    let mut s = two();
    let imp = Impairment { drop: vec![4], ..Impairment::default() };
    s.links[0].phases.push(Phase { from_us: 0, until_us: 10, name: "phase 1".into(), impairment: imp });
    fails_at(&s, "drop = [4]");

    let mut s = two();
    s.links[0].impairment.mtu = 100;
    let imp = Impairment { reorder_hold_us: 20_000, ..Impairment::default() };
    s.links[0].phases.push(Phase { from_us: 0, until_us: 10, name: "phase 1".into(), impairment: imp });
    fails_at(&s, "mtu = 0");

    let mut s = two();
    if let Role::Client(c) = &mut s.nodes[0].role {
        c.server_port = 9;
    }
    fails_at(&s, "server = \"192.0.2.2:9\"");

    let mut s = two();
    s.seed = u64::MAX;
    fails_at(&s, "seed = ");

    let mut s = two();
    s.name = String::new();
    fails_at(&s, "name = \"\"");
}
