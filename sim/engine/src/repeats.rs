//! How many times a link has seen the same content before: the second half of a datagram's
//! key for the dice (the first is what the datagram is, [`crate::Label::identity`]).
//!
//! Keying fates by content rather than by arrival order is what lets a real-clock runner, whose
//! timers fire a little late and whose simultaneous datagrams come out in either order, roll
//! the same dice as the virtual-time network. The count still tells repeats apart, so a student's
//! `nc` sending `hello` ten times gets ten independent fates.
//!
//! Memory is bounded: a content is forgotten once it has not been offered within the link's
//! last [`WINDOW`] datagrams before it (its next offer counts as a first one again). Forgetting depends
//! only on the sequence of offers, never on time, so runners that offer the same datagrams
//! forget the same ones; only a repeat sitting exactly at the window's edge can be counted
//! differently when two runners offer neighbours in a different order.

use alloc::collections::VecDeque;
use core::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashMap;

/// Datagrams a link remembers. 256 keeps a link's memory at about 15 KB (the map's 512 slots of
/// 24 bytes, the ring's 256 of 8; the ESP32-C3 runs several links in a 256 KiB heap) while
/// covering every retransmission scheme in the lessons: a sender repeats long before 256 other
/// datagrams have crossed the same link.
pub const WINDOW: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct Repeats {
    /// Identities of the last `WINDOW` offers, oldest first.
    recent: VecDeque<u64>,
    /// Per identity still in the window: offers so far, and the number of the last one. A hash
    /// map (a B-tree cost ~1 000 instructions per datagram, measured with callgrind).
    seen: HashMap<u64, (u64, u64), BuildHasherDefault<Mixed>>,
    offers: u64,
}

impl Repeats {
    /// Records an offer of `identity` and returns how many times it was offered before (0 the
    /// first time).
    pub fn count(&mut self, identity: u64) -> u64 {
        let n = self.offers;
        self.offers += 1;
        // Out of the ring before the new one goes in, so it never grows past WINDOW; out of the
        // map only after the lookup, so an offer exactly WINDOW ago still counts.
        let leaving = (self.recent.len() == WINDOW).then(|| self.recent.pop_front()).flatten();
        let entry = self.seen.entry(identity).or_insert((0, n));
        let before = entry.0;
        *entry = (before + 1, n);
        self.recent.push_back(identity);
        if let Some(old) = leaving
            && self.seen.get(&old).is_some_and(|&(_, last)| last == n - WINDOW as u64)
        {
            self.seen.remove(&old);
        }
        before
    }
}

/// Identities are already SplitMix outputs (`Label::identity`): the hash is the value itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mixed(u64);

impl Hasher for Mixed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = crate::rng::mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_and_distinct_contents_are_not() {
        let mut r = Repeats::default();
        assert_eq!(r.count(7), 0);
        assert_eq!(r.count(8), 0);
        assert_eq!(r.count(7), 1);
        assert_eq!(r.count(7), 2);
        assert_eq!(r.count(8), 1);
    }

    #[test]
    fn one_content_repeated_for_ever_keeps_counting() {
        let mut r = Repeats::default();
        for i in 0..(3 * WINDOW as u64) {
            assert_eq!(r.count(1), i);
        }
    }

    #[test]
    fn a_content_is_forgotten_after_a_window_of_other_offers_and_memory_stays_bounded() {
        let mut r = Repeats::default();
        assert_eq!(r.count(u64::MAX), 0);
        for i in 0..(WINDOW as u64 - 1) {
            r.count(i);
        }
        assert_eq!(r.count(u64::MAX), 1, "still within the window");
        for i in 0..(10 * WINDOW as u64) {
            r.count(1_000_000 + i);
        }
        assert_eq!(r.count(u64::MAX), 0, "forgotten");
        assert!(r.seen.len() <= WINDOW && r.recent.len() <= WINDOW);
        // What the memory promise (about 15 KB per link) rests on: neither store grows.
        assert!(r.recent.capacity() <= WINDOW, "ring capacity {}", r.recent.capacity());
        assert!(r.seen.capacity() < 2 * WINDOW, "map capacity {}", r.seen.capacity());
    }

    #[test]
    fn swapping_two_neighbours_changes_no_count() {
        let order_a = [1, 2, 1, 3, 2, 2, 4, 1];
        let order_b = [1, 2, 1, 2, 3, 2, 4, 1];
        let counts = |order: &[u64]| {
            let mut r = Repeats::default();
            let mut out: alloc::vec::Vec<(u64, u64)> = order.iter().map(|&k| (k, r.count(k))).collect();
            out.sort();
            out
        };
        assert_eq!(counts(&order_a), counts(&order_b));
    }
}
