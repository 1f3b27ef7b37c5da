//! Copies of datagrams waiting out their delay, handed out in time order. Equal times come out
//! in the order they were scheduled, so the result never depends on the heap's internals.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::{Ordering, Reverse};

struct Entry<T> {
    at_us: u64,
    order: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at_us, self.order).cmp(&(other.at_us, other.order))
    }
}

/// A time-ordered queue with first-in-first-out ties.
pub(crate) struct Due<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    scheduled: u64,
}

impl<T> Default for Due<T> {
    fn default() -> Self {
        Due { heap: BinaryHeap::new(), scheduled: 0 }
    }
}

impl<T> Due<T> {
    pub(crate) fn push(&mut self, at_us: u64, item: T) {
        self.scheduled += 1;
        self.heap.push(Reverse(Entry { at_us, order: self.scheduled, item }));
    }

    /// When the earliest item is due.
    pub(crate) fn next_us(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(e)| e.at_us)
    }

    /// The earliest item, if it is due by `now_us`.
    pub(crate) fn pop_due(&mut self, now_us: u64) -> Option<(u64, T)> {
        if self.next_us()? > now_us {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.at_us, e.item))
    }

    /// Everything left, in the order it would have come out.
    pub(crate) fn drain_in_order(&mut self) -> Vec<(u64, T)> {
        let mut left: Vec<Entry<T>> = self.heap.drain().map(|Reverse(e)| e).collect();
        left.sort();
        left.into_iter().map(|e| (e.at_us, e.item)).collect()
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
        let rest: Vec<char> = q.drain_in_order().into_iter().map(|(_, x)| x).collect();
        assert_eq!(rest, ['d', 'e', 'a', 'c']);
    }
}
