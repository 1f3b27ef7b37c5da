//! Duplicate and reorder detection over a bounded window, like IPsec's anti-replay window:
//! memory stays fixed however many datagrams (or forged sequence numbers) arrive.

use crate::app::event::Order;

/// How many sequence numbers below the highest one are remembered.
pub const WINDOW: u32 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// Remembers which of the last [`WINDOW`] sequence numbers have been seen.
///
/// A ring: seq `s` lives at bit `s % WINDOW`, so moving the window forward clears only the
/// bits of the numbers it skips over (one, in order) instead of shifting every word.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    /// Highest seq seen so far (0: none yet).
    highest: u32,
    /// Bit `s % WINDOW` set: seq `s`, one of the last `WINDOW` up to `highest`, was seen.
    bits: [u64; WORDS],
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker { highest: 0, bits: [0; WORDS] }
    }
}

impl SeqTracker {
    pub fn observe(&mut self, seq: u32) -> Order {
        if seq > self.highest {
            self.forget_after(self.highest, seq - self.highest);
            self.highest = seq;
            self.set(seq);
            return Order::InOrder;
        }
        if self.highest - seq >= WINDOW {
            return Order::TooOld;
        }
        if self.get(seq) {
            Order::Duplicate
        } else {
            self.set(seq);
            Order::Late
        }
    }

    fn get(&self, seq: u32) -> bool {
        let at = seq % WINDOW;
        self.bits[(at / 64) as usize] & (1 << (at % 64)) != 0
    }

    fn set(&mut self, seq: u32) {
        let at = seq % WINDOW;
        self.bits[(at / 64) as usize] |= 1 << (at % 64);
    }

    /// Clears the bits of the `count` numbers after `seq`: the window moves over them, and the
    /// bits still hold numbers `WINDOW` older.
    fn forget_after(&mut self, seq: u32, count: u32) {
        if count >= WINDOW {
            self.bits = [0; WORDS];
            return;
        }
        let mut at = seq.wrapping_add(1) % WINDOW;
        let mut left = count;
        while left > 0 {
            let bit = at % 64;
            let n = (64 - bit).min(left);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
            self.bits[(at / 64) as usize] &= !mask;
            left -= n;
            at = (at + n) % WINDOW;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// What [`SeqTracker::observe`] must answer, from an unbounded set of what was seen.
    fn expected(seen: &BTreeSet<u32>, highest: u32, seq: u32) -> Order {
        if seq > highest {
            Order::InOrder
        } else if highest - seq >= WINDOW {
            Order::TooOld
        } else if seen.contains(&seq) {
            Order::Duplicate
        } else {
            Order::Late
        }
    }

    /// The window slides over many laps of the ring: forward steps of one (the common case),
    /// steps that end on, before and after a word or the whole window, and arrivals from
    /// anywhere behind the highest number, including exactly the window's edge.
    #[test]
    fn classifies_against_a_reference_set_while_the_window_slides() {
        const STEPS: [u32; 12] = [1, 1, 1, 1, 2, 63, 64, 65, 1023, 1024, 1025, 5000];
        let mut t = SeqTracker::default();
        let mut seen = BTreeSet::new();
        let mut highest = 0u32;
        let mut x = 99u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            x >> 8
        };
        let mut counts = [0u32; 4];
        for _ in 0..200_000 {
            let r = next();
            let seq = if r % 3 == 0 {
                highest + STEPS[(next() % STEPS.len() as u32) as usize]
            } else {
                highest.saturating_sub(next() % (WINDOW + 64))
            };
            let got = t.observe(seq);
            assert_eq!(got, expected(&seen, highest, seq), "seq {seq} highest {highest}");
            counts[got as usize] += 1;
            if got != Order::TooOld {
                seen.insert(seq);
            }
            highest = highest.max(seq);
        }
        assert!(highest > 100 * WINDOW, "the window went round the ring only {highest} numbers");
        assert!(counts.iter().all(|&c| c > 1000), "every answer is exercised: {counts:?}");
    }

    #[test]
    fn classifies_against_a_reference_set() {
        // A deterministic scramble of 1..=3000 with repeats, checked against an unbounded set.
        let mut t = SeqTracker::default();
        let mut seen = BTreeSet::new();
        let mut highest = 0u32;
        let mut x = 12345u32;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let seq = 1 + (x >> 8) % 3000;
            let got = t.observe(seq);
            assert_eq!(got, expected(&seen, highest, seq), "seq {seq} highest {highest}");
            if got != Order::TooOld {
                seen.insert(seq);
            }
            highest = highest.max(seq);
        }
    }
}
