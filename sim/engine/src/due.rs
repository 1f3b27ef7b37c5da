//! Copies of datagrams waiting out their delay, handed out in time order. Equal times come out
//! in the order they were scheduled, so the result never depends on the heap's internals.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

/// A place in the heap: when, the tie-breaker, and where the item waits. The items stay put
/// in `Due::items` so that sifting moves 24 bytes, not a datagram's whole record (96 bytes:
/// moving those made the heap a tenth of the engine's time with 32 datagrams in flight).
#[derive(Debug, Clone, Copy)]
struct Key {
    /// The time in the high half, the order scheduled in the low: one comparison orders by
    /// both (and no two keys are equal).
    when: u128,
    slot: u32,
}

impl Key {
    fn at_us(&self) -> u64 {
        (self.when >> 64) as u64
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.when == other.when
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.when.cmp(&other.when)
    }
}

/// A time-ordered queue with first-in-first-out ties.
pub(crate) struct Due<T> {
    heap: BinaryHeap<Reverse<Key>>,
    /// The items, where their keys say; `None` where a slot is free.
    items: Vec<Option<T>>,
    /// Free slots in `items`, reused before it grows.
    free: Vec<u32>,
    scheduled: u64,
}

impl<T> Default for Due<T> {
    fn default() -> Self {
        Due { heap: BinaryHeap::new(), items: Vec::new(), free: Vec::new(), scheduled: 0 }
    }
}

impl<T> Due<T> {
    pub(crate) fn push(&mut self, at_us: u64, item: T) {
        self.scheduled += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.items[slot as usize] = Some(item);
                slot
            }
            None => {
                self.items.push(Some(item));
                // A run holds at most a link queue's worth of datagrams per link: far below 2^32.
                (self.items.len() - 1) as u32
            }
        };
        self.heap.push(Reverse(Key { when: u128::from(at_us) << 64 | u128::from(self.scheduled), slot }));
    }

    /// When the earliest item is due.
    pub(crate) fn next_us(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(k)| k.at_us())
    }

    /// The earliest item, if it is due by `now_us`.
    pub(crate) fn pop_due(&mut self, now_us: u64) -> Option<(u64, T)> {
        if self.next_us()? > now_us {
            return None;
        }
        let Reverse(k) = self.heap.pop()?;
        Some((k.at_us(), self.take(k.slot)))
    }

    fn take(&mut self, slot: u32) -> T {
        self.free.push(slot);
        self.items[slot as usize].take().expect("a key in the heap points at its item")
    }

    /// Everything left, in the order it would have come out.
    pub(crate) fn drain_in_order(&mut self) -> Vec<(u64, T)> {
        let mut left: Vec<Key> = self.heap.drain().map(|Reverse(k)| k).collect();
        left.sort();
        left.into_iter().map(|k| (k.at_us(), self.take(k.slot))).collect()
    }
}

/// Whether a copy arriving now was overtaken: `highest` is the highest index that has arrived
/// on its link. Only first copies count (a duplicate trailing its original is not reordering).
pub(crate) fn overtaken(highest: &mut u64, index: u64, copy: u8) -> Option<u64> {
    if copy != 0 {
        return None;
    }
    if *highest > index {
        Some(*highest)
    } else {
        *highest = index;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_by_time_then_in_the_order_scheduled() {
        let mut q = Due::default();
        for (t, x) in [(30, 'a'), (10, 'b'), (30, 'c'), (10, 'd'), (20, 'e')] {
            q.push(t, x);
        }
        assert_eq!(q.pop_due(5), None);
        assert_eq!(q.pop_due(10), Some((10, 'b')));
        assert_eq!(q.next_us(), Some(10));
        // A freed slot is reused; the order still comes from the times and the scheduling.
        q.push(10, 'f');
        let rest: Vec<char> = q.drain_in_order().into_iter().map(|(_, x)| x).collect();
        assert_eq!(rest, ['d', 'f', 'e', 'a', 'c']);
    }
}
