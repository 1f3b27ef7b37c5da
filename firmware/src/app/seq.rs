//! Duplicate and reorder detection over a bounded window, like IPsec's anti-replay window:
//! memory stays fixed however many datagrams (or forged sequence numbers) arrive.

use crate::app::event::Order;

/// How many sequence numbers below the highest one are remembered.
pub const WINDOW: u32 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// Remembers which of the last [`WINDOW`] sequence numbers have been seen.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    /// Highest seq seen so far (0: none yet).
    highest: u32,
    /// Bit i set: seq `highest - i` was seen.
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
            self.shift(seq - self.highest);
            self.highest = seq;
            self.set(0);
            return Order::InOrder;
        }
        let back = self.highest - seq;
        if back >= WINDOW {
            return Order::TooOld;
        }
        if self.get(back) {
            Order::Duplicate
        } else {
            self.set(back);
            Order::Late
        }
    }

    fn get(&self, back: u32) -> bool {
        self.bits[(back / 64) as usize] & (1 << (back % 64)) != 0
    }

    fn set(&mut self, back: u32) {
        self.bits[(back / 64) as usize] |= 1 << (back % 64);
    }

    /// Moves every remembered bit `by` places further back, forgetting what falls off.
    fn shift(&mut self, by: u32) {
        if by >= WINDOW {
            self.bits = [0; WORDS];
            return;
        }
        let words = (by / 64) as usize;
        let bits = by % 64;
        for i in (0..WORDS).rev() {
            let src = i.checked_sub(words);
            let lo = src.map_or(0, |s| self.bits[s]);
            let carry = src.and_then(|s| s.checked_sub(1)).map_or(0, |s| self.bits[s]);
            self.bits[i] = if bits == 0 { lo } else { (lo << bits) | (carry >> (64 - bits)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

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
            let want = if seq > highest {
                Order::InOrder
            } else if highest - seq >= WINDOW {
                Order::TooOld
            } else if seen.contains(&seq) {
                Order::Duplicate
            } else {
                Order::Late
            };
            assert_eq!(got, want, "seq {seq} highest {highest}");
            if got != Order::TooOld {
                seen.insert(seq);
            }
            highest = highest.max(seq);
        }
    }
}
