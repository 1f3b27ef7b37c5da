//! Which link joins two nodes, without a link per ordered pair in memory.
//!
//! Every direction between two nodes has a link: the ones a scenario lists
//! ([`Scenario::links`]), and, when [`Scenario::implicit_links`] is set, a perfect link for every
//! direction the list leaves out. Those implicit links are numbered after the listed ones in
//! `(from, to)` order, which is exactly where [`Scenario::add_default_links`] puts them when it
//! lists them; so a link's number (and its name, its randomness and every trace line) is the
//! same whichever way a scenario holds its links. A 1 000-node star uses 1 998 of its 999 000
//! directions; listing them all would cost a quarter of a gigabyte before the first datagram.

use alloc::vec::Vec;

use crate::scenario::Scenario;

/// Finds links by their two ends in O(log listed) and numbers the implicit ones.
#[derive(Debug, Clone)]
pub struct LinkIndex {
    nodes: usize,
    listed: usize,
    implicit: bool,
    /// `(pair code, link)` of every listed link, sorted by code; the first listed link of a
    /// direction wins, as a search of the list in order would find it.
    by_pair: Vec<(usize, usize)>,
}

impl LinkIndex {
    pub fn of(scenario: &Scenario) -> LinkIndex {
        let nodes = scenario.nodes.len();
        let mut by_pair: Vec<(usize, usize)> = scenario
            .links
            .iter()
            .enumerate()
            .filter_map(|(i, l)| pair_code(nodes, l.from, l.to).map(|c| (c, i)))
            .collect();
        // Stable: of two links for one direction the first listed stays first.
        by_pair.sort_by_key(|&(c, _)| c);
        by_pair.dedup_by_key(|&mut (c, _)| c);
        LinkIndex { nodes, listed: scenario.links.len(), implicit: scenario.implicit_links, by_pair }
    }

    /// Every link: the listed ones and the implicit ones.
    pub fn count(&self) -> usize {
        match self.implicit {
            true => self.listed + self.nodes * self.nodes.saturating_sub(1) - self.by_pair.len(),
            false => self.listed,
        }
    }

    /// The link from node `from` to node `to`, if there is one.
    pub fn between(&self, from: usize, to: usize) -> Option<usize> {
        let code = pair_code(self.nodes, from, to)?;
        match self.by_pair.binary_search_by_key(&code, |&(c, _)| c) {
            Ok(k) => Some(self.by_pair[k].1),
            // `k` listed directions come before this one, so it is the (code - k)-th unlisted.
            Err(k) => self.implicit.then(|| self.listed + code - k),
        }
    }

    /// The two ends of implicit link `link` (None for a listed link or past the last one).
    pub fn implicit_ends(&self, link: usize) -> Option<(usize, usize)> {
        if !self.implicit || link < self.listed || link >= self.count() {
            return None;
        }
        // The r-th code that no listed link has: step over the listed codes at or below it.
        let mut code = link - self.listed;
        for &(c, _) in &self.by_pair {
            if c > code {
                break;
            }
            code += 1;
        }
        let others = self.nodes - 1;
        let (from, t) = (code / others, code % others);
        Some((from, if t >= from { t + 1 } else { t }))
    }
}

/// The position of direction `from -> to` in `(from, to)` order over all directions between
/// `nodes` nodes (None for a node to itself or a node that does not exist).
fn pair_code(nodes: usize, from: usize, to: usize) -> Option<usize> {
    if from == to || from >= nodes || to >= nodes {
        return None;
    }
    Some(from * (nodes - 1) + if to > from { to - 1 } else { to })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::scenario::Node;

    /// `n` nodes, with the pair's two links (0->1 and 1->0) listed and maybe an extra one.
    fn scenario(n: usize, extra: Option<(usize, usize)>) -> Scenario {
        let mut s = Pair::default().build();
        let node = s.nodes[1].clone();
        for i in 2..n {
            s.nodes.push(Node { name: alloc::format!("n{i}"), addr: [10, 0, 0, i as u8], ..node.clone() });
        }
        if let Some((from, to)) = extra {
            s.links.push(crate::scenario::Link { from, to, ..s.links[0].clone() });
        }
        s
    }

    #[test]
    fn implicit_links_are_numbered_where_add_default_links_lists_them() {
        for extra in [None, Some((3, 1)), Some((4, 0)), Some((2, 4))] {
            let mut listed = scenario(5, extra);
            listed.add_default_links();
            assert!(!listed.implicit_links, "five nodes are listed");
            let mut implicit = scenario(5, extra);
            implicit.implicit_links = true;
            let index = LinkIndex::of(&implicit);
            assert_eq!(index.count(), listed.links.len());
            for (i, l) in listed.links.iter().enumerate() {
                assert_eq!(index.between(l.from, l.to), Some(i), "{extra:?}: {}->{}", l.from, l.to);
                assert_eq!(implicit.link_ends(i), (l.from, l.to), "{extra:?}: link {i}");
                assert_eq!(implicit.link_name(i), listed.link_name(i));
            }
        }
    }

    #[test]
    fn without_implicit_links_only_listed_directions_have_a_link() {
        let s = scenario(3, None);
        let index = LinkIndex::of(&s);
        assert_eq!((index.count(), index.between(0, 1), index.between(1, 0)), (2, Some(0), Some(1)));
        assert_eq!((index.between(0, 2), index.between(1, 1), index.between(0, 9)), (None, None, None));
        assert_eq!(index.implicit_ends(2), None);
    }

    #[test]
    fn the_first_of_two_links_for_one_direction_wins() {
        let s = scenario(3, Some((0, 1)));
        assert_eq!(LinkIndex::of(&s).between(0, 1), Some(0));
    }
}
