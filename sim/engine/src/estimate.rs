//! How big a run will be, known before it starts: an upper bound on the trace records a
//! scenario's built-in apps can produce.
//!
//! A run keeps its trace (the timeline, the summary and the pictures are made from it), so its
//! memory grows with the number of records. A valid file can ask for far more than a machine
//! has: one client with `count = 1000000`, `interval = "0s"`, reliable with `rto = "1us"` over
//! 99% loss reached 2.5 GB in 30 s and then aborted. The bound lets the command line refuse such
//! a run at once, saying why and how to allow it, instead of dying of it.
//!
//! The bound counts, for every built-in client, the transmissions its messages can take (one
//! each; for a reliable sender, every retransmission its timer allows within the run), each
//! possibly duplicated on its way and answered by the server (an echo or an ack, possibly
//! duplicated too), and [`RECORDS_PER_COPY`] records for each datagram copy. Nodes whose apps
//! are supplied in code are not counted (nothing is known about them): [`Estimate::code_nodes`]
//! says how many were skipped.

use udplab_firmware::{ArqConfig, ClientConfig, Role};

use crate::Scenario;

/// Trace records per datagram copy: the sender's app event, the offer to the link, the
/// arrival, and the receiver's app event.
pub const RECORDS_PER_COPY: u64 = 4;

/// An upper bound on what a run of a scenario records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Datagram copies that can cross links (requests, answers and duplicates).
    pub datagrams: u64,
    /// Trace records those copies can make.
    pub records: u64,
    /// Nodes with `role = "code"`, whose traffic is not in the bound.
    pub code_nodes: usize,
}

impl Estimate {
    /// The bound for `scenario`'s built-in apps (saturating: an absurd file gives `u64::MAX`,
    /// never an overflow).
    pub fn of(scenario: &Scenario) -> Estimate {
        let duplicates = scenario.links.iter().any(|l| {
            !l.impairment.duplicate.is_never() || l.phases.iter().any(|p| !p.impairment.duplicate.is_never())
        });
        let copies: u64 = if duplicates { 2 } else { 1 };
        let mut estimate = Estimate::default();
        // Records that belong to no datagram copy: a closed-loop client's "no reply" per message.
        let mut unanswered: u64 = 0;
        for node in &scenario.nodes {
            match node.role {
                Role::Client(c) => {
                    let sends = transmissions(&c, scenario.duration_us);
                    // Each request copy can be answered once (echo or ack), itself duplicated.
                    let per_send = copies.saturating_add(copies.saturating_mul(copies));
                    estimate.datagrams = estimate.datagrams.saturating_add(sends.saturating_mul(per_send));
                    if c.in_flight > 0 {
                        unanswered = unanswered.saturating_add(sends);
                    }
                }
                Role::Server(_) => {}
                Role::Code => estimate.code_nodes += 1,
            }
        }
        estimate.records = estimate.datagrams.saturating_mul(RECORDS_PER_COPY).saturating_add(unanswered);
        estimate
    }
}

/// How many datagrams client `c` can send within `duration_us`: its messages (no more than its
/// interval lets it start in the run), and for a reliable sender its retransmissions, bounded
/// twice: each message at most as often as its doubling timer fires, and all of them together
/// at most once per `rto` for each of the `window` messages it may have unacknowledged at once
/// (a message's timer never fires sooner than `rto` after its last send).
fn transmissions(c: &ClientConfig, duration_us: u64) -> u64 {
    let running = duration_us.saturating_sub(c.start_us);
    let messages = match c.interval_us {
        0 => u64::from(c.count),
        i => u64::from(c.count).min(running / i + 1),
    };
    match c.reliable {
        None => messages,
        Some(arq) => {
            let per_message = messages.saturating_mul(attempts(&arq, running));
            let per_slot = u64::from(arq.window).saturating_mul(running / arq.rto_us.max(1));
            per_message.min(messages.saturating_add(per_slot))
        }
    }
}

/// The most times one message can be sent within `running_us`: once, then at every timeout,
/// the timeout doubling from `rto` up to `rto_max`; no more than `max_attempts` when set.
fn attempts(arq: &ArqConfig, running_us: u64) -> u64 {
    let (mut sent, mut at, mut rto) = (1u64, 0u64, arq.rto_us.max(1));
    // The doubling phase ends within 64 steps (a u64 doubles past any ceiling by then).
    while rto < arq.rto_max_us {
        match at.checked_add(rto) {
            Some(next) if next <= running_us => {
                at = next;
                sent += 1;
                rto = rto.saturating_mul(2).min(arq.rto_max_us);
            }
            _ => return cap(sent, arq),
        }
    }
    let rest = running_us.saturating_sub(at) / rto.max(1);
    cap(sent.saturating_add(rest), arq)
}

fn cap(sent: u64, arq: &ArqConfig) -> u64 {
    match arq.max_attempts {
        0 => sent,
        m => sent.min(u64::from(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::rng::Prob;
    use crate::scenario::Impairment;

    fn arq(rto_us: u64, rto_max_us: u64, max_attempts: u16) -> ArqConfig {
        ArqConfig { window: 8, rto_us, rto_max_us, max_attempts }
    }

    #[test]
    fn attempts_follow_the_doubling_timer() {
        // Sent at 0, then timeouts at 100, 300 (200 later), 700, 1100, 1500, ... (400 each).
        assert_eq!(attempts(&arq(100, 400, 0), 99), 1);
        assert_eq!(attempts(&arq(100, 400, 0), 100), 2);
        assert_eq!(attempts(&arq(100, 400, 0), 699), 3);
        assert_eq!(attempts(&arq(100, 400, 0), 1_500), 6);
        assert_eq!(attempts(&arq(100, 400, 5), 1_500), 5);
        // The case that exhausted memory: 1 us timeouts for a whole day stay countable.
        assert!(attempts(&arq(1, 1, 0), 86_400_000_000) >= 86_400_000_000);
    }

    #[test]
    fn a_run_is_bounded_by_what_it_actually_records() {
        // An echo pair over lossless links, no duplication: every message makes a request and
        // an answer, and the bound must not be below what the run records.
        for (count, interval_us) in [(10, 10_000), (30, 0), (1_000, 1_000)] {
            let s = Pair { count, interval_us, duration_us: 2_000_000, ..Pair::default() }.build();
            let trace = crate::run(&s, 1).unwrap();
            let e = Estimate::of(&s);
            assert!(e.records >= trace.len() as u64, "{count}: {} < {}", e.records, trace.len());
            assert!(e.records <= 2 * trace.len() as u64, "{count}: {} far above {}", e.records, trace.len());
        }
    }

    #[test]
    fn a_reliable_sender_through_heavy_loss_stays_within_the_bound() {
        let lossy = Impairment {
            loss: crate::scenario::Loss::Bernoulli { p: Prob::from_ppb(600_000_000).unwrap() },
            ..Impairment::default()
        };
        let s = Pair {
            count: 50,
            interval_us: 10_000,
            reliable: Some(arq(5_000, 40_000, 0)),
            up: lossy.clone(),
            down: lossy,
            duration_us: 3_000_000,
            ..Pair::default()
        }
        .build();
        let trace = crate::run(&s, 3).unwrap();
        assert!(Estimate::of(&s).records >= trace.len() as u64);
    }

    #[test]
    fn duplication_doubles_the_copies() {
        let mut s = Pair { count: 10, interval_us: 1_000, ..Pair::default() }.build();
        let plain = Estimate::of(&s);
        let dup = Impairment { duplicate: Prob::from_ppb(1).unwrap(), ..Impairment::default() };
        s.links[0].impairment = dup;
        assert_eq!(Estimate::of(&s).datagrams, 3 * plain.datagrams);
    }

    #[test]
    fn a_window_of_fast_timers_is_bounded_by_the_window_not_by_the_count() {
        // Every datagram lost: four messages retransmitted every millisecond for a second.
        let all_lost = Impairment {
            loss: crate::scenario::Loss::Bernoulli { p: Prob::ALWAYS },
            ..Impairment::default()
        };
        let s = Pair {
            count: 1_000,
            interval_us: 0,
            reliable: Some(ArqConfig { window: 4, rto_us: 1_000, rto_max_us: 1_000, max_attempts: 0 }),
            up: all_lost,
            duration_us: 1_000_000,
            ..Pair::default()
        }
        .build();
        let trace = crate::run(&s, 1).unwrap();
        let e = Estimate::of(&s);
        assert!(e.records >= trace.len() as u64, "{} < {}", e.records, trace.len());
        // count x attempts would be 1000 x 1001 sends; the window bound is 1000 + 4 x 1000.
        assert!(e.records <= 20 * trace.len() as u64, "{} far above {}", e.records, trace.len());
    }
}
