//! The summary and the timeline use the same words for the same things: in reliable mode the
//! summary's receipts `again (DUPLICATE)` and `LATE` are the timeline's receiver lines that say
//! so, while `duplicates` and `out of order` count what the application got (none).

use std::path::Path;

#[test]
fn reliable_receipts_in_the_summary_are_the_timelines_duplicate_and_late_lines() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/06-reliable-heavy-loss.toml");
    let scenario = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut seen_both = false;
    for seed in 1..=20 {
        let out = udplab_teach::run_scenario(&scenario, seed).unwrap();
        let flow = &out.summary.flows[0];
        assert!(flow.reliable);
        let at_board = |word: &str| {
            out.timeline
                .lines()
                .filter(|l| l.contains(" board ") && l.contains(" recv seq=") && l.contains(word))
                .count() as u64
        };
        assert_eq!(flow.received_again, at_board("DUPLICATE"), "seed {seed}");
        assert_eq!(flow.received_late, at_board("LATE"), "seed {seed}");
        // The application's view: each message once and in order.
        assert_eq!((flow.duplicates, flow.out_of_order), (0, 0), "seed {seed}");
        let text = out.summary_text();
        let line =
            format!("receipts   {} again (DUPLICATE), {} LATE", flow.received_again, flow.received_late);
        assert!(text.contains(&line), "seed {seed}: {text}");
        seen_both |= flow.received_again > 0 && flow.received_late > 0;
    }
    assert!(seen_both, "some seed has both kinds of receipt, or this test proves little");
}

/// Lesson 8 with the client's interval and count changed.
fn lesson_8(interval_us: u64, count: u32) -> udplab_sim::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/08-outage-and-rate.toml");
    let mut scenario = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let udplab_firmware::Role::Client(c) = &mut scenario.nodes[0].role else {
        panic!("the laptop is a client")
    };
    c.interval_us = interval_us;
    c.count = count;
    scenario
}

fn goodput(s: &udplab_sim::Scenario) -> (u64, u64) {
    let out = udplab_teach::run_scenario(s, s.seed).unwrap();
    (out.summary.flows[0].delivered, out.summary.flows[0].goodput_bps)
}

#[test]
fn goodput_is_over_the_transfers_time_so_a_late_arrival_adds_to_it() {
    // Every 50 ms from 0.6 s: the 29th and 30th messages leave at 2.0 s and 2.05 s, after the
    // outage (1 s to 2 s), and arrive. Counted to the last delivery alone, those two would
    // stretch the time from 0.4 s to 1.5 s and cut the goodput to a third.
    let (d28, g28) = goodput(&lesson_8(50_000, 28));
    let (d30, g30) = goodput(&lesson_8(50_000, 30));
    assert_eq!(d30, d28 + 2, "both late messages arrive");
    assert!(g30 > g28, "two more messages delivered at 32 kbit/s raise the goodput: {g28} -> {g30}");
    // Nor does it count the sending time alone: behind the 64 kbit/s link the queue drains long
    // after the last send, and goodput can never beat the link.
    for interval_ms in (10..=50).step_by(5) {
        let (_, g) = goodput(&lesson_8(interval_ms * 1_000, 30));
        assert!(g <= 64_000, "{interval_ms} ms: {g} bit/s over a 64 kbit/s link");
    }
}

#[test]
fn the_readme_s_goodput_sum_is_the_summary_s() {
    // Lesson 2: 20 sends of 64 B every 100 ms from 0 s, 16 delivered: 16 * 64 * 8 bits over the
    // 2 s from the first send to one interval after the last (README, "What a run shows").
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/02-random-loss.toml");
    let s = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(goodput(&s), (16, 16 * 64 * 8 / 2));
}

/// The number at the start of `s`, if any.
fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn the_guides_seed_claims_are_what_the_runs_lose() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/lessons.md")).unwrap();
    let mut checked = 0;
    for section in guide.split("\n## ").skip(1) {
        // `4. Reordering (`04-reordering`)`: the lesson's file is in the heading.
        let heading = section.lines().next().unwrap();
        let Some(name) = heading.split('`').nth(1).filter(|n| n.len() > 3 && n.as_bytes()[2] == b'-') else {
            continue;
        };
        let scenario = udplab_scenario::load(&root.join(format!("scenarios/{name}.toml"))).unwrap();
        // "`--seed 17` loses 15 messages, `--seed 16` only 1"
        for claim in section.split("`--seed ").skip(1) {
            let Some(seed) = leading_number(claim) else { continue };
            let rest = claim.split_once("` ").map_or("", |(_, r)| r);
            let Some(lost) =
                rest.strip_prefix("loses ").or(rest.strip_prefix("only ")).and_then(leading_number)
            else {
                continue;
            };
            let out = udplab_teach::run_scenario(&scenario, seed).unwrap();
            let run_lost: u64 = out.summary.flows.iter().map(|f| f.lost).sum();
            assert_eq!(run_lost, lost, "docs/lessons.md says {name} with --seed {seed} loses {lost}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "the guide's seed claims were found ({checked})");
}

#[test]
fn the_guides_goodput_numbers_for_lesson_8_are_the_runs() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lessons.md")).unwrap();
    for (interval_ms, said) in [(10, "55.8 kbit/s at 10 ms"), (50, "10.6 kbit/s at 50 ms")] {
        assert!(guide.contains(said), "the guide quotes `{said}`");
        let (_, g) = goodput(&lesson_8(interval_ms * 1_000, 30));
        let shown = format!("{}.{} kbit/s at {interval_ms} ms", g / 1_000, g % 1_000 / 100);
        assert_eq!(shown, said);
    }
}
