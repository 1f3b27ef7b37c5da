//! When each node next wants to run, kept so the earliest is found without looking at every
//! node: a 1 000-node network would otherwise scan 1 000 wake times per event.
//!
//! A node's wake time changes whenever it runs; rather than find and move its old entry, the
//! new time is pushed and the old entry is recognised as stale when it comes up (its time is
//! no longer the node's). Which nodes wake at an instant, and in what order they run (node
//! order), is exactly what a scan of every node gives.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

#[derive(Debug, Default)]
pub(crate) struct Wakes {
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl Wakes {
    /// Node `node` now wants to run at `at_us` (its previous entry becomes stale).
    pub(crate) fn push(&mut self, node: usize, at_us: u64) {
        self.heap.push(Reverse((at_us, node)));
    }

    /// The earliest wake time still current; `current(node)` is the node's wake time now.
    pub(crate) fn next_us(&mut self, current: impl Fn(usize) -> Option<u64>) -> Option<u64> {
        while let Some(&Reverse((at_us, node))) = self.heap.peek() {
            if current(node) == Some(at_us) {
                return Some(at_us);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes every node whose current wake time is at or before `now_us` into `due`, in node
    /// order, each once.
    pub(crate) fn take_due(
        &mut self,
        now_us: u64,
        current: impl Fn(usize) -> Option<u64>,
        due: &mut Vec<usize>,
    ) {
        due.clear();
        while let Some(&Reverse((at_us, node))) = self.heap.peek() {
            if at_us > now_us {
                break;
            }
            self.heap.pop();
            if current(node) == Some(at_us) {
                due.push(node);
            }
        }
        due.sort_unstable();
        due.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entries_are_skipped_and_due_nodes_come_in_node_order() {
        let mut current = [Some(5), Some(3), None, Some(3)];
        let mut w = Wakes::default();
        for (node, at) in [(0, 1), (0, 5), (1, 3), (2, 2), (3, 3), (3, 3)] {
            w.push(node, at);
        }
        assert_eq!(w.next_us(|n| current[n]), Some(3), "node 0's 1 and node 2's 2 are stale");
        let mut due = Vec::new();
        w.take_due(3, |n| current[n], &mut due);
        assert_eq!(due, [1, 3]);
        current[1] = Some(7);
        w.push(1, 7);
        current[3] = None;
        assert_eq!(w.next_us(|n| current[n]), Some(5));
        w.take_due(10, |n| current[n], &mut due);
        assert_eq!(due, [0, 1]);
        assert_eq!(w.next_us(|n| current[n]), None);
    }
}
