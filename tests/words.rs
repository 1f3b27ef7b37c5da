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
