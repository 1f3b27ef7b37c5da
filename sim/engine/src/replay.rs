//! Recorded fates: a link that does to each datagram what a real network did to it.
//!
//! `udplab capture-import` reads a capture of real traffic and writes, for each direction, one
//! row per datagram the sender offered: lost, or delivered after a measured delay (maybe twice,
//! maybe damaged). A scenario link with `trace = "FILE"` replays those rows. A row is found by
//! the datagram's *content*, the same key the dice use everywhere else ([`content_key`]: what
//! the datagram is, and how many times the same content was offered on the link before), so the
//! replay does not depend on the order in which a runner's clock happens to offer datagrams:
//! the 12th reading gets the 12th reading's recorded fate in memory, on the TAP and on the chip.
//!
//! A datagram the trace does not hold (past its end, or traffic the capture never saw) gets the
//! link's own impairments: the model `capture-import` fits to the same capture, when the link
//! section came from it. A recorded row is replayed exactly: nothing else on the link (phases,
//! loss model, rate, queue limit) changes it, because the recording already contains whatever
//! the real network's queues and outages did.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::rng::mix;

/// The key of a datagram's fate on a link: its content identity ([`crate::Label::identity`])
/// and how many times the same content was offered on the link before
/// ([`crate::repeats::Repeats::count`]). The dice are drawn from it, and recorded fates are
/// looked up by it.
pub fn content_key(identity: u64, repeat: u64) -> u64 {
    mix(identity ^ mix(repeat.wrapping_add(0x5851_f42d_4c95_7f2d)))
}

/// The recorded fates of one direction of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkTrace {
    /// Where the rows came from (the trace file's name), for the reader of a run's trace.
    pub name: String,
    /// Sorted by key, no key twice (see [`LinkTrace::new`]).
    rows: Vec<Recorded>,
}

/// One datagram's recorded fate. Field names are short because the ESP32 image embeds scenarios
/// as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// [`content_key`] of the datagram.
    #[serde(rename = "k")]
    pub key: u64,
    /// Its row in the trace file (from 1), named in the run's trace.
    pub row: u32,
    /// One-way delay of the first copy; `None`: lost.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    /// One-way delay of a second copy (the network duplicated it).
    #[serde(rename = "d2", default, skip_serializing_if = "Option::is_none")]
    pub copy_delay_us: Option<u64>,
    /// The payload arrived damaged.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<RecordedDamage>,
}

/// How a recorded datagram was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDamage {
    /// Which payload bit to flip; `None` when the capture did not show it (only the receiving
    /// end was captured): the dice choose, as for a `corrupt` link.
    pub bit: Option<u32>,
    /// The checksum still matched (both ends captured, payload differs): the application gets
    /// the damage. Otherwise the receiving stack drops the datagram, as it did for real.
    pub checksum_fixed: bool,
}

/// Two rows with the same key: the second could never be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateKey {
    pub first_row: u32,
    pub second_row: u32,
}

impl LinkTrace {
    /// A trace of `rows` (in any order). Fails when two rows have the same key.
    pub fn new(name: String, mut rows: Vec<Recorded>) -> Result<LinkTrace, DuplicateKey> {
        rows.sort_by_key(|r| (r.key, r.row));
        if let Some(w) = rows.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(DuplicateKey { first_row: w[0].row, second_row: w[1].row });
        }
        Ok(LinkTrace { name, rows })
    }

    /// The recorded fate of the datagram with content key `key`, if the trace holds it.
    pub fn get(&self, key: u64) -> Option<&Recorded> {
        self.rows.binary_search_by_key(&key, |r| r.key).ok().map(|i| &self.rows[i])
    }

    /// How many datagrams the trace holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows in key order.
    pub fn rows(&self) -> &[Recorded] {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: u64, row: u32) -> Recorded {
        Recorded { key, row, delay_us: Some(5), copy_delay_us: None, corrupt: None }
    }

    #[test]
    fn rows_are_found_by_key_whatever_their_order() {
        let t = LinkTrace::new("t".into(), alloc::vec![row(30, 1), row(10, 2), row(20, 3)]).unwrap();
        assert_eq!(t.get(10).map(|r| r.row), Some(2));
        assert_eq!(t.get(30).map(|r| r.row), Some(1));
        assert_eq!(t.get(15), None);
    }

    #[test]
    fn a_key_twice_is_refused_with_both_rows() {
        let e = LinkTrace::new("t".into(), alloc::vec![row(7, 4), row(1, 1), row(7, 9)]).unwrap_err();
        assert_eq!(e, DuplicateKey { first_row: 4, second_row: 9 });
    }

    #[test]
    fn the_key_depends_on_the_repeat_count() {
        assert_ne!(content_key(1, 0), content_key(1, 1));
        assert_ne!(content_key(1, 0), content_key(2, 0));
    }
}
