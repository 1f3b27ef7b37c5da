//! A set of message sequence numbers kept as runs of consecutive numbers.
//!
//! The summary remembers, for every flow, which messages were sent, delivered and answered, to
//! count each once. Clients number their messages 1, 2, 3, ... and most arrive, so the sets are a
//! few long runs: a run of a million messages over a lossless link is one entry here, where a
//! `BTreeSet<u32>` held a million (about 40 bytes a message across the three sets, which made a
//! streamed `udplab run --summary` grow with the run after all). Each loss splits a run in two,
//! so memory follows the number of gaps, not the number of messages.

use alloc::collections::BTreeMap;

/// Sequence numbers, each counted once (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqSet {
    /// Runs `start -> end` (both included), disjoint and never adjacent.
    runs: BTreeMap<u32, u32>,
    len: u64,
}

impl SeqSet {
    pub fn new() -> SeqSet {
        SeqSet::default()
    }

    /// Adds `seq`; true if it was not there yet.
    pub fn insert(&mut self, seq: u32) -> bool {
        let before = self.runs.range(..=seq).next_back().map(|(&s, &e)| (s, e));
        if before.is_some_and(|(_, end)| seq <= end) {
            return false;
        }
        // The run that starts right after `seq`, if any, joins it.
        let end = seq.checked_add(1).and_then(|next| self.runs.remove(&next)).unwrap_or(seq);
        match before {
            Some((start, e)) if e.checked_add(1) == Some(seq) => self.runs.insert(start, end),
            _ => self.runs.insert(seq, end),
        };
        self.len += 1;
        true
    }

    /// How many numbers the set holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many runs of consecutive numbers it keeps (what its memory follows).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    pub fn contains(&self, seq: u32) -> bool {
        self.runs.range(..=seq).next_back().is_some_and(|(_, &end)| seq <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    #[test]
    fn runs_merge_from_either_side_and_across_a_gap() {
        let mut s = SeqSet::new();
        assert!(s.insert(5) && s.insert(7) && s.insert(3));
        assert_eq!(s.runs(), 3);
        assert!(s.insert(6), "joins 5 and 7");
        assert_eq!(s.runs(), 2);
        assert!(s.insert(4), "joins 3 and 5..=7");
        assert_eq!((s.runs(), s.len()), (1, 5));
        assert!(!s.insert(6) && !s.insert(3) && !s.insert(7));
        assert!(s.insert(u32::MAX) && s.insert(u32::MAX - 1) && s.insert(0));
        assert_eq!((s.runs(), s.len()), (3, 8));
        assert!(s.contains(0) && s.contains(u32::MAX) && !s.contains(8) && !s.contains(2));
    }

    #[test]
    fn a_long_lossless_flow_is_one_run() {
        let mut s = SeqSet::new();
        (1..=1_000_000).for_each(|seq| assert!(s.insert(seq)));
        assert_eq!((s.runs(), s.len()), (1, 1_000_000));
    }

    #[test]
    fn it_agrees_with_a_plain_set_on_any_order() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for round in 0..200 {
            let (mut ours, mut plain) = (SeqSet::new(), BTreeSet::new());
            for _ in 0..500 {
                x = crate::rng::mix(x);
                // Small values collide and touch often; a few large ones test the edges.
                let seq = if x.is_multiple_of(17) {
                    u32::MAX - (x >> 40) as u32 % 4
                } else {
                    (x >> 32) as u32 % 300
                };
                assert_eq!(ours.insert(seq), plain.insert(seq), "round {round}, seq {seq}");
                assert_eq!(ours.len(), plain.len() as u64);
            }
            for seq in (0..320).chain(u32::MAX - 5..=u32::MAX) {
                assert_eq!(ours.contains(seq), plain.contains(&seq), "round {round}, seq {seq}");
            }
        }
    }
}
