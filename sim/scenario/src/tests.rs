use std::path::{Path, PathBuf};

use udplab_firmware::app::Order;
use udplab_firmware::{AppEvent, ArqConfig, Reply, Role};
use udplab_sim::link::{Fate, LossReason};
use udplab_sim::report::Summary;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{GeOrder, Impairment, Jitter, Loss};
use udplab_sim::{Event, Record, Scenario};

use super::*;

/// Two nodes, no links: the smallest valid scenario.
const BASE: &str = r#"duration = "2s"

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

fn ok(source: &str) -> Scenario {
    parse(source, "dir/t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn err(source: &str) -> ScenarioError {
    match parse(source, "dir/t.toml") {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e,
    }
}

/// 1-based line and column of the `nth` (from 0) occurrence of `needle` in `source`; a `|` in
/// `needle` marks the point within it (`"port = |0"`: the `0`).
fn position(source: &str, needle: &str, nth: usize) -> (usize, usize) {
    let (before, after) = needle.split_once('|').unwrap_or(("", needle));
    let whole = format!("{before}{after}");
    let (at, _) = source.match_indices(&whole).nth(nth).unwrap_or_else(|| panic!("no {whole:?} #{nth}"));
    let at = at + before.len();
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    (source[..at].matches('\n').count() + 1, source[line_start..at].chars().count() + 1)
}

fn ppb(p: u64) -> Prob {
    Prob::from_ppb(p).unwrap()
}

fn lesson_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn lesson(stem: &str) -> (Scenario, Vec<Record>) {
    let path = lesson_files()
        .into_iter()
        .find(|p| p.file_stem().unwrap().to_string_lossy() == stem)
        .unwrap_or_else(|| panic!("no lesson {stem}"));
    let scenario = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let trace = udplab_sim::run(&scenario, scenario.seed).expect("lesson starts");
    (scenario, trace)
}

fn node(s: &Scenario, name: &str) -> usize {
    s.nodes.iter().position(|n| n.name == name).unwrap()
}

fn link(s: &Scenario, from: &str, to: &str) -> usize {
    s.link_between(node(s, from), node(s, to)).unwrap()
}

fn app_events(trace: &[Record], n: usize) -> Vec<AppEvent> {
    trace
        .iter()
        .filter_map(|r| match r.event {
            Event::App { node, app } if node == n => Some(app),
            _ => None,
        })
        .collect()
}

/// Distinct sequence numbers that reached the application of node `n`.
fn delivered(trace: &[Record], n: usize) -> std::collections::BTreeSet<u32> {
    app_events(trace, n)
        .into_iter()
        .filter_map(|a| match a {
            AppEvent::Received { seq, order, .. } if order != Order::Duplicate => Some(seq),
            AppEvent::Delivered { seq, .. } => Some(seq),
            _ => None,
        })
        .collect()
}

/// The fate of every datagram offered to link `l`, in order.
fn fates(trace: &[Record], l: usize) -> Vec<Fate> {
    trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Offer { link, fate, .. } if link == l => Some(fate),
            _ => None,
        })
        .collect()
}

fn lost(f: &Fate) -> bool {
    matches!(f, Fate::Lost(_))
}

#[test]
fn every_lesson_parses_runs_and_meets_its_expectations() {
    let files = lesson_files();
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(s.name, stem, "lessons are named after their files");
        assert!(s.description.len() > 100, "{stem}: the description says what to look for");
        assert!(s.expect != udplab_sim::scenario::Expect::default(), "{stem}: has expectations");
        assert!((1_000_000..=30_000_000).contains(&s.duration_us), "{stem}: a few seconds");
        for n in &s.nodes {
            assert_eq!(&n.addr[..3], &[192, 0, 2], "{stem}: documentation addresses only");
            if let Role::Client(c) = n.role {
                assert!((10..=30).contains(&c.count), "{stem}: 10 to 30 messages");
            }
        }
        let trace = udplab_sim::run(&s, s.seed).expect("lesson starts");
        let summary = Summary::from_trace(&s, s.seed, &trace);
        assert_eq!(summary.check(&s), Vec::<String>::new(), "{stem}");
    }
}

#[test]
fn lesson_01_delivers_everything_after_5ms() {
    let (s, trace) = lesson("01-perfect-link");
    let board = node(&s, "board");
    assert_eq!(delivered(&trace, board).len(), 10);
    assert!(trace.iter().all(|r| !matches!(r.event, Event::Offer { fate: Fate::Lost(_), .. })));
    for r in &trace {
        if let Event::Arrive { latency_us, .. } = r.event {
            assert_eq!(latency_us, 5_000);
        }
    }
}

#[test]
fn lesson_02_loses_some_at_random_on_the_way_to_the_board_only() {
    let (s, trace) = lesson("02-random-loss");
    let to_board = fates(&trace, link(&s, "laptop", "board"));
    let lost_n = to_board.iter().filter(|f| lost(f)).count();
    assert!((2..=6).contains(&lost_n), "{lost_n}");
    assert!(to_board.iter().all(|f| !lost(f) || matches!(f, Fate::Lost(LossReason::Random { .. }))));
    assert!(!fates(&trace, link(&s, "board", "laptop")).iter().any(lost));
    assert_eq!(delivered(&trace, node(&s, "board")).len(), 20 - lost_n);
}

#[test]
fn lesson_03_loses_in_bursts() {
    let (s, trace) = lesson("03-burst-loss");
    let to_board = fates(&trace, link(&s, "laptop", "board"));
    assert_eq!(to_board.len(), 30);
    let (mut run, mut longest, mut bursts) = (0, 0, 0);
    for f in &to_board {
        if let Fate::Lost(reason) = f {
            assert!(matches!(reason, LossReason::Burst { bad: true, .. }), "{reason:?}");
            run += 1;
            if run == 2 {
                bursts += 1;
            }
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    assert!(longest >= 3 && bursts >= 2, "longest {longest}, bursts {bursts}");
}

#[test]
fn lesson_04_reorders_without_losing() {
    let (s, trace) = lesson("04-reordering");
    let board = node(&s, "board");
    assert_eq!(delivered(&trace, board).len(), 20);
    let late = app_events(&trace, board)
        .iter()
        .filter(|a| matches!(a, AppEvent::Received { order: Order::Late, .. }))
        .count();
    let overtaken = trace
        .iter()
        .filter(
            |r| matches!(r.event, Event::Arrive { overtaken_by: Some(_), link, .. } if link == link_of(&s)),
        )
        .count();
    fn link_of(s: &Scenario) -> usize {
        link(s, "laptop", "board")
    }
    assert!(late >= 2 && overtaken == late, "late {late}, overtaken {overtaken}");
}

#[test]
fn lesson_05_duplicates_reach_both_applications() {
    let (s, trace) = lesson("05-duplication");
    let dup_recv = app_events(&trace, node(&s, "board"))
        .iter()
        .filter(|a| matches!(a, AppEvent::Received { order: Order::Duplicate, .. }))
        .count();
    let dup_reply = app_events(&trace, node(&s, "laptop"))
        .iter()
        .filter(|a| matches!(a, AppEvent::Reply { order: Order::Duplicate, .. }))
        .count();
    assert!(dup_recv >= 2, "{dup_recv}");
    assert_eq!(dup_reply, dup_recv, "each duplicate is echoed");
    assert_eq!(delivered(&trace, node(&s, "board")).len(), 20);
}

#[test]
fn lesson_06_retransmits_through_heavy_loss() {
    let (s, trace) = lesson("06-reliable-heavy-loss");
    let board = node(&s, "board");
    let order: Vec<u32> = app_events(&trace, board)
        .into_iter()
        .filter_map(|a| match a {
            AppEvent::Delivered { seq, .. } => Some(seq),
            _ => None,
        })
        .collect();
    assert_eq!(order, (1..=20).collect::<Vec<_>>(), "exactly once, in order");
    let retransmissions = app_events(&trace, node(&s, "laptop"))
        .iter()
        .filter(|a| matches!(a, AppEvent::Sent { attempt, .. } if *attempt > 1))
        .count();
    assert!(retransmissions >= 5, "{retransmissions}");
    assert!(fates(&trace, link(&s, "laptop", "board")).iter().any(lost));
    assert!(fates(&trace, link(&s, "board", "laptop")).iter().any(lost), "acks are lost too");
}

#[test]
fn lesson_07_corruption_is_caught_by_the_crc_or_by_the_stack() {
    let (s, trace) = lesson("07-corruption");
    let (board, laptop) = (node(&s, "board"), node(&s, "laptop"));
    let corrupted = |l: usize, fixed: bool| {
        fates(&trace, l)
            .iter()
            .filter(
                |f| matches!(f, Fate::Passed(p) if p.corrupted.is_some_and(|c| c.checksum_fixed == fixed)),
            )
            .count()
    };
    let to_board = corrupted(link(&s, "laptop", "board"), true);
    let to_laptop = corrupted(link(&s, "board", "laptop"), false);
    assert!(to_board >= 2 && to_laptop >= 2, "{to_board} {to_laptop}");
    let rejected = app_events(&trace, board).iter().filter(|a| matches!(a, AppEvent::Invalid { .. })).count();
    assert_eq!(rejected, to_board, "the board's app sees every fixed-up corruption and rejects it");
    assert_eq!(delivered(&trace, board).len(), 20 - to_board);
    // Replies: the damaged ones with a wrong checksum never reach the laptop's application.
    let replies = app_events(&trace, laptop).iter().filter(|a| matches!(a, AppEvent::Reply { .. })).count();
    let corrupted_good_replies = fates(&trace, link(&s, "board", "laptop")).len() - to_board;
    assert!(replies < corrupted_good_replies, "{replies}");
}

#[test]
fn lesson_08_queues_at_the_rate_limit_then_loses_in_the_outage() {
    let (s, trace) = lesson("08-outage-and-rate");
    let f = fates(&trace, link(&s, "laptop", "board"));
    let queued: Vec<u64> = f
        .iter()
        .filter_map(|f| match f {
            Fate::Passed(p) => Some(p.queued_us),
            _ => None,
        })
        .collect();
    assert_eq!(queued.first(), Some(&28_500), "228 bytes at 64 kbit/s");
    assert!(queued.windows(2).all(|w| w[1] == w[0] + 8_500), "each waits 8.5ms longer: {queued:?}");
    let outage = f.iter().filter(|f| matches!(f, Fate::Lost(LossReason::Outage { .. }))).count();
    assert_eq!((outage, f.len()), (10, 30));
}

#[test]
fn the_format_reference_example_parses() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/README.md"))
            .unwrap();
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let s = ok(example);
    assert_eq!((s.name.as_str(), s.seed, s.duration_us), ("random-loss", 42, 10_000_000));
    let to_board = &s.links[0];
    assert_eq!(to_board.impairment.loss, Loss::Bernoulli { p: ppb(200_000_000) });
    let windows: Vec<_> =
        to_board.phases.iter().map(|p| (p.name.as_str(), p.from_us, p.until_us, p.impairment.down)).collect();
    assert_eq!(windows, [("phase 1", 5_000_000, 8_000_000, false), ("outage", 9_000_000, 9_500_000, true)]);
    assert_eq!(s.expect.delivered_min_ppm, Some(700_000));
}

#[test]
fn defaults_are_applied() {
    let s = ok(BASE);
    assert_eq!(s.name, "t", "the file stem");
    assert_eq!((s.description.as_str(), s.seed, s.duration_us), ("", 1, 2_000_000));
    assert_eq!(s.nodes[0].addr, [192, 0, 2, 1]);
    assert_eq!(s.nodes[1].addr, [192, 0, 2, 2]);
    let Role::Client(c) = s.nodes[0].role else { panic!() };
    assert_eq!((c.port, c.server_addr, c.server_port), (49152, [192, 0, 2, 2], 3333));
    assert_eq!((c.count, c.interval_us, c.start_us, c.size, c.reliable), (10, 100_000, 0, 64, None));
    let Role::Server(sv) = s.nodes[1].role else { panic!() };
    assert_eq!((sv.port, sv.reply, sv.reliable), (3333, Reply::Echo, None));
    // add_default_links: both directions, perfect.
    assert_eq!(s.links.len(), 2);
    assert!(s.links.iter().all(|l| l.impairment == Impairment::default() && l.phases.is_empty()));
    assert_eq!(s.expect, udplab_sim::scenario::Expect::default());

    // The third node's default address and port follow its index.
    let three = format!(
        "{BASE}\n[[node]]\nname = \"phone\"\nrole = \"client\"\nserver = \"board\"\ncount = 1\nreliable = {{ window = 4 }}\n"
    );
    let s = ok(&three
        .replace("port = 3333", "port = 3333\nreliable = true")
        .replace("count = 10", "count = 10\nreliable = true"));
    assert_eq!(s.nodes[2].addr, [192, 0, 2, 3]);
    let Role::Client(c) = s.nodes[2].role else { panic!() };
    assert_eq!(c.port, 49154);
    assert_eq!(c.reliable, Some(ArqConfig { window: 4, ..ArqConfig::default() }));
    assert_eq!(s.links.len(), 6);

    // A link's unset keys: reorder_hold 20ms, queue 1000, fix the checksum.
    let s = ok(&format!("{BASE}\n[[link]]\nfrom = \"laptop\"\nto = \"board\"\nreorder = 0.5\n"));
    let imp = &s.links[0].impairment;
    assert_eq!(
        (imp.reorder, imp.reorder_hold_us, imp.queue, imp.corrupt_fix_checksum),
        (ppb(500_000_000), 20_000, 1000, true)
    );
    assert_eq!(s.links.len(), 2, "the other direction is added");
    assert_eq!(s.links[1].impairment, Impairment::default());
}

#[test]
fn every_key_converts_exactly() {
    let src = r#"
name = "kitchen sink"
description = """
  Two
  lines."""
seed = 42
duration = "1.5s"

[[node]]
name = "board"
addr = "192.0.2.77"
role = "server"
port = 7
reply = "sink"
reliable = { window = 16, rto = "250us", rto_max = "2s", max_attempts = 5 }

[[node]]
name = "laptop"
role = "client"
port = 5000
server = "board"
count = 1_000
interval = "2.5ms"
start = "1s"
size = 1472
reliable = true

[[link]]
between = ["laptop", "board"]
loss = { model = "gilbert-elliott", p = 0.02, r = "25%", loss_bad = 0.75 }
drop = [17, 3, 3]
delay = "20ms"
jitter = "5ms"
jitter_distribution = "normal"
reorder = "12.5%"
reorder_gap = 3
reorder_hold = "30ms"
duplicate = 0.05
corrupt = 1
corrupt_fix_checksum = false
rate = "1.5Mbit"
mtu = 576
queue = 10

[[link.outage]]
start = "100ms"
end = "200ms"

[[link.phase]]
name = "rush  hour"
start = "0.5s"
end = "1s"
loss = 0
rate = 64000

[[link.phase]]
start = "1s"
end = "2s"
loss = { model = "bernoulli", p = "0.0000001%" }

[expect]
delivered_min = 0.8
all_delivered = true
duplicates_max = 0
in_order = true
latency_max = "50ms"
lost_max = 3
"#;
    let s = ok(src);
    assert_eq!((s.name.as_str(), s.description.as_str()), ("kitchen sink", "Two lines."));
    assert_eq!((s.seed, s.duration_us), (42, 1_500_000));
    let arq = ArqConfig { window: 16, rto_us: 250, rto_max_us: 2_000_000, max_attempts: 5 };
    assert_eq!(s.nodes[0].addr, [192, 0, 2, 77]);
    assert_eq!(
        s.nodes[0].role,
        Role::Server(udplab_firmware::ServerConfig { port: 7, reply: Reply::Sink, reliable: Some(arq) })
    );
    assert_eq!(
        s.nodes[1].role,
        Role::Client(udplab_firmware::ClientConfig {
            port: 5000,
            server_addr: [192, 0, 2, 77],
            server_port: 7,
            count: 1000,
            interval_us: 2_500,
            start_us: 1_000_000,
            size: 1472,
            reliable: Some(ArqConfig::default()),
            in_flight: 0,
            reply_timeout_us: udplab_firmware::app::DEFAULT_REPLY_TIMEOUT_US,
        })
    );
    assert_eq!(s.links.len(), 2);
    let (a, b) = (&s.links[0], &s.links[1]);
    assert_eq!((a.from, a.to, b.from, b.to), (1, 0, 0, 1), "between: from->to, then to->from");
    assert_eq!((&a.impairment, &a.phases), (&b.impairment, &b.phases));
    let imp = Impairment {
        down: false,
        loss: Loss::GilbertElliott {
            p: ppb(20_000_000),
            r: ppb(250_000_000),
            loss_bad: ppb(750_000_000),
            loss_good: Prob::NEVER,
            order: GeOrder::StepThenDecide,
        },
        drop: vec![3, 17],
        delay_us: 20_000,
        jitter_us: 5_000,
        jitter: Jitter::Normal,
        reorder: ppb(125_000_000),
        reorder_gap: 3,
        reorder_hold_us: 30_000,
        duplicate: ppb(50_000_000),
        corrupt: Prob::ALWAYS,
        corrupt_fix_checksum: false,
        rate_bps: 1_500_000,
        mtu: 576,
        queue: 10,
    };
    assert_eq!(a.impairment, imp);
    let names: Vec<&str> = a.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["outage", "rush hour", "phase 3"], "file order, outages included");
    assert_eq!((a.phases[0].from_us, a.phases[0].until_us), (100_000, 200_000));
    assert_eq!(a.phases[0].impairment, Impairment { down: true, ..imp.clone() });
    assert_eq!(a.phases[1].impairment, Impairment { loss: Loss::None, rate_bps: 64_000, ..imp.clone() });
    assert_eq!(a.phases[2].impairment, Impairment { loss: Loss::Bernoulli { p: ppb(1) }, ..imp.clone() });
    let e = &s.expect;
    assert_eq!(e.delivered_min_ppm, Some(800_000));
    assert!(e.all_delivered && e.in_order);
    assert_eq!((e.duplicates_max, e.latency_max_us, e.lost_max), (Some(0), Some(50_000), Some(3)));
}

#[test]
fn bad_inputs_point_at_the_offending_key_or_value() {
    let link = |body: &str| format!("{BASE}\n[[link]]\n{body}\n");
    // (source, text the error must point at, its occurrence, fragments of the message)
    let cases: Vec<(String, &str, usize, Vec<&str>)> = vec![
        (
            BASE.replace("count = 10", "count = 10\nlsos = 0.1"),
            "lsos",
            0,
            vec!["unknown key `lsos` in [[node]]", "expected one of `name`, `addr`, `role`, `port`"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\ndealy = \"5ms\""),
            "dealy",
            0,
            vec!["unknown key `dealy` in [[link]] (did you mean `delay`?)", "`jitter_distribution`"],
        ),
        (
            BASE.replace("port = 3333", "port = 3333\nloss = 0.1"),
            "loss",
            0,
            vec!["unknown key `loss` in [[node]]", "link setting: put it in a [[link]] table"],
        ),
        (
            format!("{BASE}\nseed = 5\n"),
            "seed",
            0,
            vec![
                "`seed` is a top-level key, but this one is under the [[node]] header at line 9",
                "move it to the top of the file, before the first [table] header",
            ],
        ),
        (
            BASE.replace("count = 10", "count = 10\ninterval = \"100\""),
            "\"100\"",
            0,
            vec!["`interval`: expected a duration like \"20ms\"", "no unit"],
        ),
        (BASE.replace("\"2s\"", "2"), "2", 0, vec!["`duration`: expected a duration like \"20ms\", found 2"]),
        (BASE.replace("\"2s\"", "\"0s\""), "\"0s\"", 0, vec!["`duration` must be above zero"]),
        (BASE.replace("\"2s\"", "\"25h\""), "\"25h\"", 0, vec!["unknown unit \"h\""]),
        (BASE.replace("\"2s\"", "\"90000s\""), "\"90000s\"", 0, vec!["at most 24 hours"]),
        (
            link("from = \"laptop\"\nto = \"board\"\nloss = 1.5"),
            "1.5",
            0,
            vec!["`loss`: expected a probability from 0 to 1", "found 1.5"],
        ),
        (
            link("between = [\"laptop\", \"board\"]\nduplicate = \"150%\""),
            "\"150%\"",
            0,
            vec!["at most 100%"],
        ),
        (
            link("between = [\"laptop\", \"board\"]\ncorrupt = 2"),
            "corrupt = |2",
            0,
            vec!["`corrupt`: expected a probability"],
        ),
        (
            link("from = \"laptop\"\nto = \"boad\""),
            "\"boad\"",
            0,
            vec!["`to`: no node is named \"boad\" (did you mean `board`?); the nodes are `laptop`, `board`"],
        ),
        (
            link("between = [\"laptop\", \"phone\"]"),
            "\"phone\"",
            0,
            vec!["`between`: no node is named \"phone\""],
        ),
        (
            BASE.replace("server = \"board\"\n", ""),
            "[[node]]",
            0,
            vec!["[[node]] is missing `server`", "server = \"board\""],
        ),
        (
            BASE.replace("server = \"board\"", "server = \"laptop\""),
            "\"laptop\"",
            1,
            vec!["`server`: node `laptop` is itself", "role = \"server\""],
        ),
        (
            BASE.replace("count = 10", "count = 10\nreliable = true"),
            "\"board\"",
            0,
            vec!["client `laptop` is reliable but its server `board` is not", "on both nodes or on neither"],
        ),
        (
            BASE.replace("port = 3333", "port = 3333\nreliable = {}"),
            "\"board\"",
            0,
            vec!["server `board` is reliable but its client `laptop` is not"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nin_flight = 0"),
            "0",
            1,
            vec!["`in_flight`", "from 1 (stop-and-wait) to 1024"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nin_flight = 2\nreliable = true"),
            "in_flight",
            0,
            vec!["`in_flight` is for a plain client", "set `window` in `reliable` instead"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nreply_timeout = \"2s\""),
            "reply_timeout",
            0,
            vec!["`reply_timeout` only applies to a closed-loop client", "add `in_flight`"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nin_flight = 1\nreply_timeout = \"0s\""),
            "\"0s\"",
            0,
            vec!["`reply_timeout`: expected a duration above 0"],
        ),
        (
            BASE.replace("port = 3333", "port = 3333\nin_flight = 1"),
            "in_flight",
            0,
            vec!["`in_flight` is a client setting, but node `board` is a server"],
        ),
        (
            BASE.replace("name = \"board\"", "name = \"laptop\""),
            "\"laptop\"",
            1,
            vec!["there is already a node named `laptop` (line 4)"],
        ),
        (
            BASE.replace("\"board\"\nrole", "\"the board\"\nrole"),
            "\"the board\"",
            0,
            vec!["`name`: expected a node name like \"laptop\": 1 to 16 letters, digits"],
        ),
        (
            format!(
                "{BASE}\n[[link]]\nbetween = [\"laptop\", \"board\"]\n\n[[link]]\nfrom = \"board\"\nto = \"laptop\"\n"
            ),
            "\"board\"",
            3,
            vec!["the direction board->laptop is already declared by the [[link]] at line 14"],
        ),
        (link("from = \"board\"\nto = \"board\""), "\"board\"", 3, vec!["a link joins two different nodes"]),
        (
            link("between = [\"laptop\", \"board\"]\nfrom = \"laptop\""),
            "between",
            0,
            vec!["use either `between` (both directions) or `from` and `to`"],
        ),
        (link("delay = \"5ms\""), "[[link]]", 0, vec!["[[link]] needs `from` and `to`"]),
        (link("from = \"laptop\""), "[[link]]", 0, vec!["has `from` but no `to`"]),
        (
            BASE.replace("count = 10", "count = 10\nreply = \"sink\""),
            "reply",
            0,
            vec!["`reply` is a server setting, but node `laptop` is a client"],
        ),
        (
            format!("{BASE}interval = \"1s\"\n"),
            "interval",
            0,
            vec!["`interval` is a client setting, but node `board` is a server"],
        ),
        (
            BASE.replace("port = 3333", "port = 0"),
            "port = |0",
            0,
            vec!["`port`: expected a UDP port from 1 to 65535"],
        ),
        (BASE.replace("port = 3333\n", ""), "[[node]]", 1, vec!["[[node]] `board` is missing `port`"]),
        (
            BASE.replace("role = \"server\"", "role = \"sever\""),
            "\"sever\"",
            0,
            vec!["(did you mean \"server\"?)"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nsize = 27"),
            "27",
            0,
            vec!["`size`: expected a datagram size from 28 (the udplab header) to 1472 bytes"],
        ),
        (
            BASE.replace("count = 10", "count = 0"),
            "count = |0",
            0,
            vec!["`count`: expected a number of messages from 1"],
        ),
        (
            BASE.replace("count = 10", "count = 10\naddr = \"192.0.2.2\""),
            "[[node]]",
            1,
            vec!["node `board` gets the default address 192.0.2.2", "node `laptop` (line 8) already has"],
        ),
        (
            BASE.replace("count = 10", "count = 10\naddr = \"192.0.2.300\""),
            "\"192.0.2.300\"",
            0,
            vec!["`addr`: expected an IPv4 address like \"192.0.2.1\""],
        ),
        (
            BASE.replace("count = 10", "count = 10\naddr = \"224.0.0.1\""),
            "\"224.0.0.1\"",
            0,
            vec!["224.0.0.1 is a multicast address"],
        ),
        (
            format!("seed = -1\n{BASE}"),
            "-1",
            0,
            vec!["`seed`: expected an integer from 0 to 9223372036854775807, found -1"],
        ),
        (
            format!("seed = 9223372036854775808\n{BASE}"),
            "9223372036854775808",
            0,
            vec!["`seed`: expected an integer from 0 to 9223372036854775807, found 9223372036854775808"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nreorder = 0.1\nreorder_hold = \"0ms\""),
            "\"0ms\"",
            0,
            vec!["`reorder_hold` is 0, so `reorder` would hold nothing back"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\n[[link.phase]]\nstart = \"1s\"\nend = \"1s\""),
            "\"1s\"",
            1,
            vec!["`end` (1s) must be after `start` (1s)"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\n[[link.phase]]\nstart = \"3s\"\nend = \"4s\""),
            "\"3s\"",
            0,
            vec!["`start` (3s) is not before the end of the run (duration = \"2s\")"],
        ),
        (
            link(
                "from = \"laptop\"\nto = \"board\"\n[[link.phase]]\nstart = \"1s\"\nend = \"2s\"\ndrop = [1]",
            ),
            "drop",
            0,
            vec!["unknown key `drop` in [[link.phase]]", "belongs to the [[link]] itself"],
        ),
        (
            link(
                "from = \"laptop\"\nto = \"board\"\n[[link.outage]]\nstart = \"1s\"\nend = \"2s\"\nloss = 0.5",
            ),
            "loss",
            0,
            vec![
                "unknown key `loss` in [[link.outage]]",
                "use [[link.phase]]",
                "expected one of `start`, `end`, `name`",
            ],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\n[link.phase]\nstart = \"1s\"\nend = \"2s\""),
            "phase",
            0,
            vec!["`phase` must be a list of tables, each one written under a [[link.phase]] header"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nloss = { model = \"bernoulli\", p = 0.1, r = 0.5 }"),
            "r = 0.5",
            0,
            vec!["`r` belongs to model = \"gilbert-elliott\""],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nloss = { model = \"gilbert\", p = 0.1 }"),
            "\"gilbert\"",
            0,
            vec!["`model`: expected one of \"bernoulli\", \"gilbert-elliott\""],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nloss = { model = \"gilbert-elliott\", p = 0.1 }"),
            "{ model",
            0,
            vec!["`loss` is missing `r`"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nrate = \"64kbps\""),
            "\"64kbps\"",
            0,
            vec!["`rate`: expected a rate in bits per second", "bit, kbit, Mbit or Gbit"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\nmtu = 1501"),
            "1501",
            0,
            vec!["`mtu`: expected an IP packet size"],
        ),
        (
            link("from = \"laptop\"\nto = \"board\"\ndrop = [0]"),
            "[|0]",
            0,
            vec!["`drop`: expected a datagram number"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nreliable = { rto = \"2s\" }")
                .replace("port = 3333", "port = 3333\nreliable = true"),
            "\"2s\"",
            1,
            vec!["`rto_max` (1.6s by default) must be at least `rto` (2s)"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nreliable = { window = 0 }")
                .replace("port = 3333", "port = 3333\nreliable = true"),
            "window = |0",
            0,
            vec!["`window`: expected a window of 1 to 1024 messages"],
        ),
        (
            BASE.replace("count = 10", "count = 10\nreliable = \"yes\""),
            "\"yes\"",
            0,
            vec!["`reliable`: expected true, false or a table"],
        ),
        (
            format!("{BASE}\n[expect]\ndelivered_min = 80\n"),
            "80",
            0,
            vec!["`delivered_min`: expected a probability", "found 80"],
        ),
        (
            format!("{BASE}\n[expect]\nall_delivred = true\n"),
            "all_delivred",
            0,
            vec!["unknown key `all_delivred` in [expect] (did you mean `all_delivered`?)"],
        ),
        (
            format!("{BASE}\n[expect]\nin_order = 1\n"),
            "in_order = |1",
            0,
            vec!["`in_order`: expected true or false, found 1"],
        ),
        (BASE.replace("duration = \"2s\"", ""), "\n", 0, vec!["the top level is missing `duration`"]),
        (
            "duration = \"1s\"\n".to_owned(),
            "duration",
            0,
            vec!["a scenario needs nodes: add a [[node]] table"],
        ),
        (BASE.replace("name = \"board\"", "name = "), "\nrole = \"server\"", 0, vec!["invalid TOML"]),
        (
            BASE.replace("[[node]]\nname = \"board\"", "[[node]\nname = \"board\""),
            "\n",
            8,
            vec!["invalid TOML"],
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"board\"\nrole = \"server\"\nport = 9\nname = \"x\""),
            "name",
            3,
            vec!["invalid TOML: duplicate key"],
        ),
    ];
    for (source, needle, nth, fragments) in cases {
        let e = err(&source);
        let (line, column) = position(&source, needle, nth);
        let shown = e.to_string();
        assert_eq!((e.line, e.column), (Some(line), Some(column)), "{shown}\n{source}");
        assert_eq!(e.path, "dir/t.toml");
        for f in fragments {
            assert!(e.message.contains(f), "{f:?} not in:\n{shown}");
        }
        assert!(shown.contains(&format!("dir/t.toml:{line}:{column}")), "{shown}");
    }
}

#[test]
fn top_level_keys_inside_a_table_are_pointed_at_where_they_are() {
    let link = "\n[[link]]\nfrom = \"laptop\"\nto = \"board\"\n";
    let window = "start = \"0s\"\nend = \"1s\"\n";
    // (what comes after BASE, the header the key ends up under)
    let tables = [
        (String::new(), "[[node]]"),
        (link.to_owned(), "[[link]]"),
        (format!("{link}[[link.phase]]\n{window}"), "[[link.phase]]"),
        (format!("{link}[[link.outage]]\n{window}"), "[[link.outage]]"),
        ("\n[expect]\nall_delivered = true\n".to_owned(), "[expect]"),
    ];
    for (key, line) in
        [("description", "description = \"x\""), ("seed", "seed = 5"), ("duration", "duration = \"2s\"")]
    {
        for (after, header) in &tables {
            // `duration` is required, so without it at the top the top level would be incomplete
            // too; the misplaced key is what to report.
            let base =
                if key == "duration" { BASE.replacen("duration = \"2s\"\n", "", 1) } else { BASE.to_owned() };
            let source = format!("{base}{after}{line}\n");
            let e = err(&source);
            let at = source.rfind(line).unwrap();
            let header_line = source[..source.rfind(header).unwrap()].matches('\n').count() + 1;
            assert_eq!((e.line, e.column), (Some(source[..at].matches('\n').count() + 1), Some(1)), "{e}");
            let expected = format!(
                "`{key}` is a top-level key, but this one is under the {header} header at line {header_line} (a key belongs to the last [table] header above it): move it to the top of the file, before the first [table] header"
            );
            assert_eq!(e.message, expected, "{source}");
        }
    }

    // The scenario's `name` in a table that has no `name` of its own.
    for (after, header) in [(link, "[[link]]"), ("\n[expect]\n", "[expect]")] {
        let source = format!("{BASE}{after}name = \"mine\"\n");
        let e = err(&source);
        assert!(
            e.message.starts_with(&format!(
                "`name` is not a key of {header}; the scenario's `name` is a top-level key"
            )),
            "{e}"
        );
        assert!(
            e.message.ends_with("move it to the top of the file, before the first [table] header"),
            "{e}"
        );
        assert_eq!(e.column, Some(1));
    }
    // Nodes, phases and outages have names: no complaint.
    ok(&format!("{BASE}{link}[[link.phase]]\nname = \"slow\"\n{window}"));

    // Written twice: at the top and in a table.
    let source = format!("seed = 3\n{BASE}seed = 5\n");
    let e = err(&source);
    assert_eq!((e.line, e.column), (Some(position(&source, "seed = 5", 0).0), Some(1)));
    assert!(e.message.ends_with("; the top level already sets `seed` at line 1: remove this one"), "{e}");

    // The first misplaced key in the file is the one reported, whatever table it is in.
    let source = format!("{BASE}{link}[[link.phase]]\nduration = \"1s\"\n{window}[expect]\nseed = 1\n");
    assert_eq!(err(&source).line, Some(position(&source, "duration = \"1s\"", 0).0));

    // And the other way round: node and link keys at the top level say where they belong.
    for (line, hint) in [
        ("role = \"client\"", "`role` is a node setting: put it in a [[node]] table"),
        ("loss = 0.1", "`loss` is a link setting: put it in a [[link]] table"),
        ("all_delivered = true", "`all_delivered` is an expectation: put it in the [expect] table"),
    ] {
        let e = err(&format!("{line}\n{BASE}"));
        assert_eq!((e.line, e.column), (Some(1), Some(1)));
        assert!(e.message.contains(hint), "{e}");
    }
}

#[test]
fn errors_display_like_rustc() {
    let src = BASE.replace("count = 10", "count = 10\ninterval = \"100\"");
    assert_eq!(
        err(&src).to_string(),
        r#"error: `interval`: expected a duration like "20ms", "1.5s" or "250us", found "100" (no unit: use us, ms or s)
 --> dir/t.toml:8:12
  |
8 | interval = "100"
  |            ^^^^^
"#
    );
    // Two-digit lines widen the gutter, tabs are expanded so the caret lines up.
    let src = format!("{}\n\n[[link]]\n\tfrom = \"laptop\"\n\tto = \"boad\"\n", BASE);
    let e = err(&src);
    assert_eq!(e.line, Some(17));
    assert_eq!(e.column, Some(7), "the tab is one character");
    let shown = e.to_string();
    let expected_tail = "  --> dir/t.toml:17:7\n   |\n17 |     to = \"boad\"\n   |          ^^^^^^\n";
    assert!(shown.ends_with(expected_tail), "{shown}");
}

/// The error for `source_line` at `column` (in characters), `width` characters wide, as shown.
fn shown_at(source_line: &str, column: usize, width: usize) -> String {
    let e = ScenarioError {
        path: "t.toml".to_owned(),
        line: Some(1),
        column: Some(column),
        message: "m".to_owned(),
        source_line: Some(source_line.to_owned()),
        width,
    };
    e.to_string()
}

#[test]
fn carets_line_up_in_display_columns() {
    let tail = |shown: &str| shown.lines().last().unwrap().to_owned();
    // East Asian wide characters take two columns, before the caret and under it.
    let line = "x = \"日本語\" y";
    assert_eq!(tail(&shown_at(line, 11, 1)), format!("  | {}^", " ".repeat(13)));
    assert_eq!(tail(&shown_at(line, 6, 3)), format!("  | {}^^^^^^", " ".repeat(5)));
    // Combining marks take none: e + U+0301 is one column.
    let line = "x = \"e\u{301}e\u{301}\" y";
    assert_eq!(tail(&shown_at(line, 12, 1)), format!("  | {}^", " ".repeat(9)));
    assert_eq!(tail(&shown_at(line, 6, 4)), format!("  | {}^^", " ".repeat(5)));
    // A caret under a zero-width character alone is still one caret.
    assert_eq!(tail(&shown_at(line, 7, 1)), format!("  | {}^", " ".repeat(6)));
    // Tabs are four spaces, control characters one replacement character.
    let shown = shown_at("\tx\u{1}= 1", 4, 1);
    assert!(shown.contains("1 |     x\u{fffd}= 1\n"), "{shown}");
    assert_eq!(tail(&shown), format!("  | {}^", " ".repeat(6)));

    // End to end: a wide-character key and the value after it.
    let src = format!("\"ラップ\" = 1\n{BASE}");
    let e = err(&src);
    assert_eq!((e.line, e.column), (Some(1), Some(1)));
    assert!(e.to_string().ends_with("1 | \"ラップ\" = 1\n  | ^^^^^^^^\n"), "{e}");
    let src = format!("{BASE}\n[[link]]\nbetween = [\"ラップ\", \"board\"]\n");
    let e = err(&src);
    assert_eq!(e.column, Some(12));
    assert!(e.to_string().ends_with(&format!("   | {}^^^^^^^^\n", " ".repeat(11))), "{e}");
}

#[test]
fn unreadable_files_are_errors_without_a_position() {
    let e = load(Path::new("/nonexistent/udplab.toml")).unwrap_err();
    assert_eq!((e.line, e.column), (None, None));
    assert_eq!(e.path, "/nonexistent/udplab.toml");
    let shown = e.to_string();
    assert!(shown.starts_with("error: cannot read the scenario file: "), "{shown}");
    assert!(shown.ends_with(" --> /nonexistent/udplab.toml\n"), "{shown}");

    let dir = std::env::temp_dir().join(format!("udplab-scenario-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.toml");
    std::fs::write(&path, b"duration = \"2s\"\nname = \"caf\xe9\"\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.line, e.column), (Some(2), Some(12)));
    assert!(e.message.contains("not UTF-8"));
    assert_eq!(
        parse_bytes(b"duration = \"2s\"\nname = \"caf\xe9\"\n", &e.path),
        Err(e),
        "load is parse_bytes"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_largest_seed_is_the_largest_toml_integer() {
    assert_eq!(MAX_SEED, i64::MAX as u64);
    assert_eq!(ok(&format!("seed = 9223372036854775807\n{BASE}")).seed, MAX_SEED);
    assert_eq!(ok(&format!("seed = 0x7fffffffffffffff\n{BASE}")).seed, MAX_SEED);
    assert_eq!(ok(&format!("seed = 0\n{BASE}")).seed, 0);
}

#[test]
fn files_above_the_size_limit_are_refused() {
    let dir = std::env::temp_dir().join(format!("udplab-scenario-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let too_large = |e: &ScenarioError, path: &Path| {
        assert_eq!((e.line, e.column), (None, None));
        assert_eq!(e.path, path.display().to_string());
        assert!(e.message.starts_with("the scenario file is larger than 1 MiB"), "{e}");
        assert!(e.message.contains(&format!("the limit is {MAX_FILE_BYTES} bytes")), "{e}");
    };

    // Exactly at the limit: read and parsed (a comment padded out to the byte).
    let at_limit = dir.join("at-limit.toml");
    let mut text = BASE.to_owned();
    text.push('#');
    text.push_str(&"x".repeat(MAX_FILE_BYTES as usize - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len() as u64, MAX_FILE_BYTES);
    std::fs::write(&at_limit, &text).unwrap();
    assert_eq!(load(&at_limit).unwrap().duration_us, 2_000_000);

    // One byte more: refused.
    let above = dir.join("above.toml");
    text.push('\n');
    std::fs::write(&above, &text).unwrap();
    too_large(&load(&above).unwrap_err(), &above);

    // A sparse 2 GiB file is refused from its size, without reading it.
    let huge = dir.join("huge.toml");
    std::fs::File::create(&huge).unwrap().set_len(2 << 30).unwrap();
    too_large(&load(&huge).unwrap_err(), &huge);

    // A device without end or size: reading stops past the limit.
    #[cfg(unix)]
    too_large(&load(Path::new("/dev/zero")).unwrap_err(), Path::new("/dev/zero"));

    std::fs::remove_dir_all(&dir).unwrap();
}

/// Everything a parsed scenario promises the engine: each app starts, links name real nodes.
fn assert_startable(s: &Scenario) {
    for n in &s.nodes {
        n.role.build().unwrap_or_else(|e| panic!("{e}: {s:?}"));
    }
    let k = s.nodes.len();
    assert_eq!(s.link_count(), k * (k - 1), "every direction has exactly one link");
    for l in &s.links {
        assert!(l.from < k && l.to < k && l.from != l.to);
    }
    assert!(s.duration_us > 0);
}

#[test]
fn mangled_input_never_panics() {
    let mut sources: Vec<String> =
        lesson_files().iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    sources.push(BASE.to_owned());
    let replacements = [
        "\"\"",
        "-1",
        "0",
        "1e999",
        "nan",
        "-inf",
        "[]",
        "{}",
        "[[]]",
        "{ a = 1 }",
        "true",
        "\"nan%\"",
        "\"-0%\"",
        "\"99999999999999999999999999999999999999999s\"",
        "\"1.00000000000000000000000001s\"",
        "9223372036854775807",
        "-9223372036854775808",
        "0x7fffffffffffffff",
        "\"é\"",
        "\"\\u0000\"",
        "1979-05-27T07:32:00Z",
        "\"255.255.255.255\"",
        "[\"laptop\", \"laptop\"]",
        "[1, \"a\"]",
        "\"0us\"",
    ];
    let mut n = 0u64;
    let mut check = |src: &str| {
        n += 1;
        match parse(src, "x.toml") {
            Ok(s) => assert_startable(&s),
            Err(e) => {
                let shown = e.to_string();
                assert!(shown.starts_with("error: ") && e.line.is_some(), "{shown}");
            }
        }
    };
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for src in &sources {
        check(src);
        // Every truncation.
        for (i, _) in src.char_indices() {
            check(&src[..i]);
        }
        let lines: Vec<&str> = src.lines().collect();
        for i in 0..lines.len() {
            // Without line i, and with line i twice.
            let mut v = lines.clone();
            v.remove(i);
            check(&v.join("\n"));
            let mut v = lines.clone();
            v.insert(i, lines[i]);
            check(&v.join("\n"));
            // Every value replaced by something of another type or out of range.
            if let Some((key, _)) = lines[i].split_once(" = ") {
                for r in replacements {
                    let mut v = lines.clone();
                    let line = format!("{key} = {r}");
                    v[i] = &line;
                    check(&v.join("\n"));
                }
            }
        }
        // Random byte-level damage.
        for _ in 0..300 {
            let mut bytes = src.as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = b"[]{}=\"'#.,\n 0-_x%"[(next() % 17) as usize],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, (next() % 128) as u8),
                }
            }
            check(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(n > 10_000, "{n} variants");
}

#[test]
fn gilbert_elliott_takes_netem_order_and_bernoulli_refuses_it() {
    let with = |loss: &str| format!("{BASE}\n[[link]]\nbetween = [\"laptop\", \"board\"]\nloss = {loss}\n");
    let s = ok(&with(r#"{ model = "gilbert-elliott", p = "5%", r = "50%", order = "netem" }"#));
    assert!(matches!(s.links[0].impairment.loss, Loss::GilbertElliott { order: GeOrder::Netem, .. }));
    let s = ok(&with(r#"{ model = "gilbert-elliott", p = "5%", r = "50%" }"#));
    assert!(matches!(
        s.links[0].impairment.loss,
        Loss::GilbertElliott { order: GeOrder::StepThenDecide, .. }
    ));

    let source = with(r#"{ model = "gilbert-elliott", p = "5%", r = "50%", order = "netm" }"#);
    let e = err(&source);
    assert!(
        e.message.contains("\"step-then-decide\", \"netem\"") && e.message.contains("did you mean \"netem\""),
        "{e}"
    );
    assert_eq!((e.line, e.column), {
        let (l, c) = position(&source, "order = |\"netm\"", 0);
        (Some(l), Some(c))
    });
    let source = with(r#"{ model = "bernoulli", p = "5%", order = "netem" }"#);
    let e = err(&source);
    assert!(e.message.contains("`order` belongs to model = \"gilbert-elliott\""), "{e}");
}

#[test]
fn a_closed_loop_client_parses_and_writes_back() {
    let s = ok(&BASE.replace("count = 10", "count = 10\nin_flight = 32\nreply_timeout = \"250ms\""));
    let Role::Client(c) = s.nodes[0].role else { panic!("a client") };
    assert_eq!((c.in_flight, c.reply_timeout_us), (32, 250_000));
    let written = crate::to_toml(&s);
    assert!(written.contains("in_flight = 32") && written.contains("reply_timeout = \"250ms\""), "{written}");
    assert_eq!(ok(&written), s);
    let default = ok(&BASE.replace("count = 10", "count = 10\nin_flight = 1"));
    let Role::Client(c) = default.nodes[0].role else { panic!("a client") };
    assert_eq!((c.in_flight, c.reply_timeout_us), (1, udplab_firmware::app::DEFAULT_REPLY_TIMEOUT_US));
    assert!(!crate::to_toml(&default).contains("reply_timeout"), "the default is left out");
}
