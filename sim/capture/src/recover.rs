//! From datagrams seen at capture points to each datagram's fate, per direction.
//!
//! Datagrams are matched by content, as the dice key them ([`udplab_sim::Label::identity`]):
//! udplab's header (seq and attempt), a sequence-number field the user points at
//! (`--seq-at 0:u32be`), or the ports and a digest of the payload.
//!
//! **Both ends captured** (two files, or a udplab capture): each datagram the sender offered is
//! looked for at the receiver. Found: delivered, with the one-way delay from the two timestamps
//! (less the clock offset between the two captures: zero for one clock, else estimated as half
//! the difference of the smallest delays each way, which assumes the fastest datagram took as
//! long each way). Found twice: duplicated. Not found: lost. Found with a bad UDP checksum, or
//! with other bytes: damaged.
//!
//! **One end captured** (the usual `tcpdump -w` on a laptop): what that end can know, and no
//! more. For a direction that end *sent* and the other end *answers* (an echo, an ack), a
//! datagram that got an answer (the same seq or payload coming back) was delivered, with half
//! the round trip as its delay; one that got none is recorded as lost on the way out. That
//! reproduces what the capturing end saw, though the real network may have lost the answer
//! instead: one end cannot tell, and the summary counts them. For a direction that end
//! *received*, a gap in the sequence numbers is a lost datagram (only with sequence numbers:
//! udplab's header or `--seq-at`), a datagram seen twice was duplicated, and the delay is half
//! the round trip of the exchange it answered, or unknown.

use std::collections::{BTreeMap, HashMap};

use udplab_scenario::link_trace::TraceRow;
use udplab_sim::Label;
use udplab_sim::replay::RecordedDamage;

use crate::read::{Captured, Seen, Side};

/// Where in each payload a sequence number is, for protocols other than udplab's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqField {
    pub offset: usize,
    pub width: usize,
    pub big_endian: bool,
    /// The label's kind (`seq` unless told): a replay labels the same datagrams with
    /// `Label::Named { kind, id }` for its rows to be found.
    pub kind: &'static str,
}

impl SeqField {
    /// Parses `OFFSET:TYPE` with TYPE one of `u8`, `u16be`, `u16le`, `u32be`, `u32le`,
    /// `u64be`, `u64le`.
    pub fn parse(s: &str, kind: &'static str) -> Result<SeqField, String> {
        let bad = || {
            format!(
                "expected OFFSET:TYPE like 0:u32be (TYPE: u8, u16be, u16le, u32be, u32le, u64be, u64le), found {s:?}"
            )
        };
        let (offset, ty) = s.split_once(':').ok_or_else(bad)?;
        let offset: usize = offset.parse().map_err(|_| bad())?;
        let (width, big_endian) = match ty {
            "u8" => (1, true),
            "u16be" => (2, true),
            "u16le" => (2, false),
            "u32be" => (4, true),
            "u32le" => (4, false),
            "u64be" => (8, true),
            "u64le" => (8, false),
            _ => return Err(bad()),
        };
        if offset > 65_535 {
            return Err(format!("the offset {offset} is past the end of any UDP payload"));
        }
        Ok(SeqField { offset, width, big_endian, kind })
    }

    fn read(&self, payload: &[u8]) -> Option<u64> {
        let b = payload.get(self.offset..self.offset + self.width)?;
        let mut v = 0u64;
        for i in 0..self.width {
            let byte = if self.big_endian { b[i] } else { b[self.width - 1 - i] };
            v = v << 8 | u64::from(byte);
        }
        Some(v)
    }
}

/// How the import reads a capture.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub seq_at: Option<SeqField>,
    /// The address of the machine that captured (one-end captures); inferred when absent.
    pub at: Option<[u8; 4]>,
    /// The two captures share a clock (same machine, or clocks synchronised well below the
    /// delays): no offset is estimated.
    pub same_clock: bool,
}

/// How a direction's fates were recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    BothEnds,
    /// One end, the sending one.
    AtSender,
    /// One end, the receiving one.
    AtReceiver,
}

/// One direction's recovered fates.
#[derive(Debug, Clone)]
pub struct Direction {
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub how: How,
    /// In the order offered; `offered_us` counts from the capture's first datagram. Their keys
    /// are 0: a link counts repeats over all its flows (two port pairs between the same two
    /// addresses), so keys are given once the flows are merged ([`crate::LinkImport`]).
    pub rows: Vec<TraceRow>,
    /// Each row's content identity ([`Label::identity`]), for those keys.
    pub identities: Vec<u64>,
    /// Offered and never answered (one end): recorded as lost.
    pub unanswered: u64,
    /// Seen at the receiver but matching nothing the sender offered (both ends).
    pub unmatched: u64,
    /// Rows whose delay could not be measured (recorded as 0).
    pub delay_unknown: u64,
    /// What could not be recovered, in words.
    pub notes: Vec<String>,
}

impl Direction {
    /// `10.0.0.2:49152 -> 10.0.0.1:7`.
    pub fn name(&self) -> String {
        format!("{} -> {}", endpoint(self.src), endpoint(self.dst))
    }
}

pub fn endpoint((a, p): ([u8; 4], u16)) -> String {
    format!("{}.{}.{}.{}:{p}", a[0], a[1], a[2], a[3])
}

/// Everything recovered from the captures.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub directions: Vec<Direction>,
    /// The second capture's clock minus the first's, when estimated.
    pub clock_offset_us: Option<i64>,
    pub notes: Vec<String>,
}

type End = ([u8; 4], u16);

/// The longest one-way delay a datagram can have been given (the trace format's limit).
const MAX_DELAY_US: u64 = udplab_scenario::link_trace::MAX_DELAY_US;

/// The largest gap in a receiver's sequence numbers counted as losses: a bigger jump is a
/// restart (or a field that is not a sequence number), not thousands of losses.
const MAX_GAP: u64 = 1_000;

/// What a datagram is: the label the dice use, and the number an answer repeats.
#[derive(Debug, Clone, Copy)]
struct Content {
    label: Label,
    /// [`Label::identity`]: the dice's (and the trace rows') key, with the repeat count.
    identity: u64,
    /// What an answer to it carries too: udplab's seq, the `--seq-at` number, or the payload.
    token: u64,
    /// A sequence number, when the protocol has one (gaps are losses).
    seq: Option<(u64, u16)>,
}

fn content(s: &Seen, opts: &Options) -> Content {
    if let Some(f) = opts.seq_at
        && let Some(id) = f.read(&s.payload)
    {
        let label = Label::Named { kind: f.kind, id: Some(id) };
        return Content { label, identity: label.identity(), token: id, seq: Some((id, 1)) };
    }
    let label = Label::of_udp(s.src.1, s.dst.1, &s.payload, None);
    match label {
        Label::Data { seq, attempt } => Content {
            label,
            identity: label.identity(),
            token: u64::from(seq),
            seq: Some((u64::from(seq), attempt)),
        },
        Label::Ack { seq } => Content { label, identity: label.identity(), token: u64::from(seq), seq: None },
        Label::Damaged { seq } => {
            Content { label, identity: label.identity(), token: u64::from(seq), seq: None }
        }
        Label::Foreign { bytes, digest, .. } => Content {
            label,
            identity: label.identity(),
            token: 1 << 63 | u64::from(bytes) << 32 | u64::from(digest),
            seq: None,
        },
        other => Content { label: other, identity: other.identity(), token: other.identity(), seq: None },
    }
}

/// Recovers every direction's fates from `cap`.
pub fn recover(cap: &Captured, opts: &Options) -> Recovered {
    let mut out = Recovered::default();
    // Directions in order of first appearance.
    let mut dirs: Vec<(End, End)> = Vec::new();
    let mut by_dir: HashMap<(End, End), Vec<usize>> = HashMap::new();
    for (i, s) in cap.seen.iter().enumerate() {
        let d = (s.src, s.dst);
        by_dir
            .entry(d)
            .or_insert_with(|| {
                dirs.push(d);
                Vec::new()
            })
            .push(i);
    }
    let contents: Vec<Content> = cap.seen.iter().map(|s| content(s, opts)).collect();
    // The capture points each direction was seen at, sorted.
    let points: HashMap<(End, End), Vec<usize>> = by_dir
        .iter()
        .map(|(d, idx)| {
            let mut p: Vec<usize> = idx.iter().map(|&i| cap.seen[i].point).collect();
            p.sort_unstable();
            p.dedup();
            (*d, p)
        })
        .collect();

    // Which point is at which end, for two-point directions: udplab captures say; otherwise
    // the orientation in which a round trip takes positive time.
    let mut sender_point: HashMap<(End, End), usize> = HashMap::new();
    let mut pair_dirs = Vec::new();
    for d in &dirs {
        let pts = &points[d];
        if pts.len() == 2 {
            let known = by_dir[d].iter().find_map(|&i| match cap.seen[i].side {
                Some(Side::Sender) => Some(cap.seen[i].point),
                Some(Side::Receiver) => pts.iter().copied().find(|&p| p != cap.seen[i].point),
                None => None,
            });
            if let Some(p) = known {
                sender_point.insert(*d, p);
            } else {
                pair_dirs.push(*d);
            }
        } else if pts.len() > 2 {
            out.notes.push(format!(
                "{} -> {} was seen at {} capture points; only two ends can be matched: skipped",
                endpoint(d.0),
                endpoint(d.1),
                pts.len()
            ));
        }
    }
    orient(cap, &contents, &by_dir, &pair_dirs, &mut sender_point);

    // The clock offset between the two points, from the smallest delay each way.
    let mut min_delay: BTreeMap<(usize, usize), i64> = BTreeMap::new();
    for d in dirs.iter().filter(|d| sender_point.contains_key(*d)) {
        let s = sender_point[d];
        for (sent, got) in matches(cap, &contents, &by_dir[d], s) {
            let delta = cap.seen[got].at_us - cap.seen[sent].at_us;
            let r = cap.seen[got].point;
            let e = min_delay.entry((s, r)).or_insert(delta);
            *e = (*e).min(delta);
        }
    }
    let offset_of = |s: usize, r: usize| -> i64 {
        if cap.one_clock || opts.same_clock {
            return 0;
        }
        // Clock of r minus clock of s.
        match (min_delay.get(&(s, r)), min_delay.get(&(r, s))) {
            (Some(a), Some(b)) => (a - b) / 2,
            (Some(a), None) => *a,
            _ => 0,
        }
    };
    if !(cap.one_clock || opts.same_clock)
        && let Some((&(s, r), _)) = min_delay.iter().next()
    {
        let off = offset_of(s, r);
        out.clock_offset_us = Some(off);
        if !min_delay.contains_key(&(r, s)) {
            out.notes.push(
                "traffic went one way only, so the two clocks' offset is unknown: delays are counted from the fastest datagram (given 0 us); pass --same-clock if both captures used one clock".to_owned(),
            );
        }
    }

    let inferred = opts.at.or_else(|| infer_local(&contents, &dirs, &by_dir, &sender_point));
    // Without a sign, the capture was taken at the first sender.
    let first_sender = dirs.iter().find(|d| !sender_point.contains_key(*d)).map(|d| d.0.0);
    let local = inferred.or(first_sender);
    // Offer times count from the capture's first datagram (on its own clock).
    let t0 = cap.seen.iter().map(|s| s.at_us).min().unwrap_or(0);
    for d in &dirs {
        let idx = &by_dir[d];
        let dir = if let Some(&s) = sender_point.get(d) {
            let r = points[d].iter().copied().find(|&p| p != s).unwrap_or(s);
            both_ends(cap, &contents, *d, idx, s, offset_of(s, r), t0)
        } else if points[d].len() == 1 {
            let reverse = (d.1, d.0);
            let rev_idx: &[usize] = by_dir.get(&reverse).map_or(&[], Vec::as_slice);
            let at_sender = match local {
                Some(a) => d.0.0 == a,
                None => true,
            };
            one_end(cap, &contents, *d, idx, rev_idx, at_sender, t0)
        } else {
            continue;
        };
        out.directions.push(dir);
    }
    if inferred.is_none() && first_sender.is_some() {
        out.notes.push(
            "one capture point, and no lost datagram shows which end captured: read as taken at the first sender (pass --at ADDRESS to say)".to_owned(),
        );
    }
    out
}

/// For each two-point direction whose ends are not known, picks the orientation: sender-side
/// point `a` and receiver `b` are right when, over both directions between the same two
/// points, the median delays add up to a positive round trip.
fn orient(
    cap: &Captured,
    contents: &[Content],
    by_dir: &HashMap<(End, End), Vec<usize>>,
    pair_dirs: &[(End, End)],
    sender_point: &mut HashMap<(End, End), usize>,
) {
    // Median of (time at the other point - time at p) per direction, taking p as the sender.
    let median_delta = |d: &(End, End), p: usize| -> Option<i64> {
        let mut deltas: Vec<i64> = matches(cap, contents, &by_dir[d], p)
            .map(|(a, b)| cap.seen[b].at_us - cap.seen[a].at_us)
            .collect();
        deltas.sort_unstable();
        deltas.get(deltas.len() / 2).copied()
    };
    for d in pair_dirs {
        if sender_point.contains_key(d) {
            continue;
        }
        let mut pts: Vec<usize> = by_dir[d].iter().map(|&i| cap.seen[i].point).collect();
        pts.sort_unstable();
        pts.dedup();
        let (a, b) = (pts[0], pts[1]);
        let reverse = (d.1, d.0);
        let fwd = median_delta(d, a);
        let back = by_dir.contains_key(&reverse).then(|| median_delta(&reverse, b)).flatten();
        let a_sends = match (fwd, back) {
            (Some(f), Some(r)) => f + r >= 0,
            // One way only: the sender's point saw at least as many (losses happen after it).
            _ => {
                let count = |p: usize| by_dir[d].iter().filter(|&&i| cap.seen[i].point == p).count();
                count(a) >= count(b)
            }
        };
        let (s, r) = if a_sends { (a, b) } else { (b, a) };
        sender_point.insert(*d, s);
        if by_dir.contains_key(&reverse) {
            sender_point.insert(reverse, r);
        }
    }
}

/// Pairs (offer at `s`, its copy at the other point) of datagrams whose content was offered
/// once and seen once at each end: a repeated content (a retransmission) cannot be paired
/// before the clocks' offset is known, which is what these pairs are for.
fn matches<'a>(
    cap: &'a Captured,
    contents: &'a [Content],
    idx: &'a [usize],
    s: usize,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    // identity -> (offers at s, sightings elsewhere, the last of each)
    let mut seen: HashMap<u64, (u32, u32, usize, usize)> = HashMap::new();
    for &i in idx {
        let e = seen.entry(contents[i].identity).or_insert((0, 0, usize::MAX, usize::MAX));
        if cap.seen[i].point == s {
            e.0 += 1;
            e.2 = i;
        } else {
            e.1 += 1;
            e.3 = i;
        }
    }
    let mut pairs: Vec<(usize, usize)> =
        seen.into_values().filter(|e| e.0 == 1 && e.1 == 1).map(|e| (e.2, e.3)).collect();
    pairs.sort_unstable();
    pairs.into_iter()
}

/// The capturing machine of a one-point capture: the end of a direction with sequence gaps is
/// the remote sender; the first sender otherwise.
fn infer_local(
    contents: &[Content],
    dirs: &[(End, End)],
    by_dir: &HashMap<(End, End), Vec<usize>>,
    sender_point: &HashMap<(End, End), usize>,
) -> Option<[u8; 4]> {
    let one_point: Vec<&(End, End)> = dirs.iter().filter(|d| !sender_point.contains_key(*d)).collect();
    for d in &one_point {
        let mut seqs: Vec<(u64, u16)> = by_dir[*d].iter().filter_map(|&i| contents[i].seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        if seqs.windows(2).any(|w| w[1].0 > w[0].0 + 1) {
            return Some(d.1.0);
        }
    }
    None
}

fn new_row(c: &Content, offered_us: u64) -> TraceRow {
    TraceRow {
        key: 0,
        label: c.label.to_string(),
        offered_us,
        delay_us: None,
        copy_delay_us: None,
        damage: None,
    }
}

fn both_ends(
    cap: &Captured,
    contents: &[Content],
    d: (End, End),
    idx: &[usize],
    s: usize,
    offset_us: i64,
    t0: i64,
) -> Direction {
    let sent: Vec<usize> = idx.iter().copied().filter(|&i| cap.seen[i].point == s).collect();
    let got: Vec<usize> = idx.iter().copied().filter(|&i| cap.seen[i].point != s).collect();
    let mut rows: Vec<TraceRow> =
        sent.iter().map(|&i| new_row(&contents[i], (cap.seen[i].at_us - t0).max(0) as u64)).collect();
    let identities: Vec<u64> = sent.iter().map(|&i| contents[i].identity).collect();
    // Offers of each identity, in order, for arrivals to claim.
    let mut offers: HashMap<u64, Vec<usize>> = HashMap::new();
    // The same by token, for arrivals damaged out of their identity (a udplab header whose CRC
    // no longer matches still names its seq).
    let mut by_token: HashMap<u64, Vec<usize>> = HashMap::new();
    for (k, &i) in sent.iter().enumerate() {
        offers.entry(contents[i].identity).or_default().push(k);
        by_token.entry(contents[i].token).or_default().push(k);
    }
    let mut unmatched = 0;
    let mut min_delta = i64::MAX;
    let mut deltas: Vec<(usize, i64, usize)> = Vec::new();
    let mut delivered = vec![false; sent.len()];
    // The typical delay, from the datagrams that can be paired without doubt (see `matches`).
    let mut unique: Vec<i64> = matches(cap, contents, idx, s)
        .map(|(a, b)| cap.seen[b].at_us - offset_us - cap.seen[a].at_us)
        .collect();
    unique.sort_unstable();
    let typical = unique.get(unique.len() / 2).copied().unwrap_or(0);
    for &g in &got {
        let id = contents[g].identity;
        let at = cap.seen[g].at_us - offset_us;
        // The earliest offer of this content not yet delivered and sent before this arrival;
        // else the last one sent before it (a duplicate).
        let damaged = !cap.seen[g].checksum_ok || matches!(contents[g].label, Label::Damaged { .. });
        // Damaged where its name is (the seq itself): the offer it is fewest bits away from.
        let nearest;
        let ks = match offers.get(&id).or_else(|| by_token.get(&contents[g].token).filter(|_| damaged)) {
            Some(ks) => ks,
            None if damaged => {
                nearest = nearest_offer(cap, &sent, g, at).map(|k| vec![k]).unwrap_or_default();
                &nearest
            }
            None => {
                unmatched += 1;
                continue;
            }
        };
        let before: Vec<usize> = ks.iter().copied().filter(|&k| cap.seen[sent[k]].at_us <= at).collect();
        // Among the offers it can be: one with exactly these bytes not yet delivered first (two
        // offers of the same content can still differ, a send time in the payload), then one
        // with these bytes (a duplicate), then any not yet delivered, then any. Among equals
        // (a sender repeating itself), the one whose delay is closest to the typical delay.
        let payload = &cap.seen[g].payload;
        let closest = |ok: &dyn Fn(usize) -> bool| {
            before
                .iter()
                .copied()
                .filter(|&k| ok(k))
                .min_by_key(|&k| (at - cap.seen[sent[k]].at_us - typical).abs())
        };
        let same = |k: usize| cap.seen[sent[k]].payload == *payload;
        let pick = closest(&|k| !delivered[k] && same(k))
            .or_else(|| closest(&same))
            .or_else(|| closest(&|k| !delivered[k]))
            .or_else(|| closest(&|_| true));
        let Some(k) = pick else {
            unmatched += 1;
            continue;
        };

        let delta = at - cap.seen[sent[k]].at_us;
        if delta > MAX_DELAY_US as i64 {
            // Not this datagram an hour or more later: the capture's clocks say otherwise.
            unmatched += 1;
            continue;
        }
        delivered[k] = true;
        min_delta = min_delta.min(delta);
        deltas.push((k, delta, g));
    }
    // Negative deltas (clock offset estimated too small) are lifted so the fastest is 0.
    let lift = if min_delta < 0 { -min_delta } else { 0 };
    for (k, delta, g) in deltas {
        let delay = (delta + lift) as u64;
        let row = &mut rows[k];
        match (row.delay_us, row.copy_delay_us) {
            (None, _) => row.delay_us = Some(delay),
            (Some(_), None) => row.copy_delay_us = Some(delay),
            // A third copy: the format (and udplab's links) make at most two.
            (Some(_), Some(_)) => continue,
        }
        let seen = &cap.seen[g];
        let offered = &cap.seen[sent[k]];
        if !seen.checksum_ok || seen.payload != offered.payload {
            let bit = first_bit_difference(&offered.payload, &seen.payload);
            row.damage = Some(RecordedDamage { bit, checksum_fixed: seen.checksum_ok });
        }
    }
    let mut notes = Vec::new();
    if lift > 0 {
        notes.push(format!(
            "some datagrams arrived {lift} us before they were sent by the clocks: delays lifted by that much"
        ));
    }
    Direction {
        src: d.0,
        dst: d.1,
        how: How::BothEnds,
        rows,
        identities,
        unanswered: 0,
        unmatched,
        delay_unknown: 0,
        notes,
    }
}

/// The offer (index into `sent`) sent before arrival `g` (at `at_us` on the sender's clock)
/// whose payload is fewest bits away from it, at most 8 (a damaged datagram, not another one).
fn nearest_offer(cap: &Captured, sent: &[usize], g: usize, at_us: i64) -> Option<usize> {
    let got = &cap.seen[g];
    sent.iter()
        .enumerate()
        .filter(|(_, i)| cap.seen[**i].at_us <= at_us && cap.seen[**i].payload.len() == got.payload.len())
        .map(|(k, &i)| {
            let bits: u32 =
                cap.seen[i].payload.iter().zip(&got.payload).map(|(a, b)| (a ^ b).count_ones()).sum();
            (bits, k)
        })
        .filter(|(bits, _)| *bits <= 8)
        .min()
        .map(|(_, k)| k)
}

/// The first differing payload bit, numbered as udplab flips them (bit `b` is `1 << (b % 8)` of
/// byte `b / 8`), when the payloads have the same length.
fn first_bit_difference(a: &[u8], b: &[u8]) -> Option<u32> {
    if a.len() != b.len() {
        return None;
    }
    let (i, x) = a.iter().zip(b).enumerate().find(|(_, (x, y))| x != y).map(|(i, (x, y))| (i, x ^ y))?;
    Some(i as u32 * 8 + x.trailing_zeros())
}

fn one_end(
    cap: &Captured,
    contents: &[Content],
    d: (End, End),
    idx: &[usize],
    rev: &[usize],
    at_sender: bool,
    t0: i64,
) -> Direction {
    let first_of = |v: &[usize], token: u64| v.iter().copied().find(|&i| contents[i].token == token);
    // This direction answers the other when the other's datagram with the same token came first.
    let shared: Vec<usize> =
        idx.iter().copied().filter(|&i| first_of(rev, contents[i].token).is_some()).collect();
    let answers = !shared.is_empty()
        && shared
            .iter()
            .filter(|&&i| {
                first_of(rev, contents[i].token).is_some_and(|r| cap.seen[r].at_us <= cap.seen[i].at_us)
            })
            .count()
            * 2
            > shared.len();
    let since = |i: usize| (cap.seen[i].at_us - t0).max(0) as u64;
    // Round trips measured from this end, for delays: (request index, answer index).
    let mut notes = Vec::new();
    let mut rows: Vec<TraceRow> = Vec::new();
    let mut identities: Vec<u64> = Vec::new();
    let mut unanswered = 0;
    let mut delay_unknown = 0;
    let how = if at_sender { How::AtSender } else { How::AtReceiver };

    if at_sender {
        if rev.is_empty() {
            notes.push("nothing came back: a capture at the sending end cannot see what the network did (capture the receiver too); recorded as delivered with delay 0".to_owned());
        }
        for &i in idx {
            let mut row = new_row(&contents[i], since(i));
            if answers {
                // A reply to this datagram's answer would be a repeat of its token from the
                // other end after it: the other end did not get the answer.
                let repeated = rev.iter().any(|&r| {
                    contents[r].token == contents[i].token && cap.seen[r].at_us > cap.seen[i].at_us
                });
                if repeated {
                    unanswered += 1;
                } else {
                    row.delay_us = Some(0);
                    delay_unknown += 1;
                }
            } else if rev.is_empty() {
                row.delay_us = Some(0);
                delay_unknown += 1;
            } else {
                // The answer: the first datagram back with this token after it, before the
                // next offer of the same token (a retransmission means no answer came).
                let next_same = idx.iter().copied().find(|&j| {
                    j != i && contents[j].token == contents[i].token && cap.seen[j].at_us > cap.seen[i].at_us
                });
                let limit = next_same.map_or(i64::MAX, |j| cap.seen[j].at_us);
                let answer = rev.iter().copied().find(|&r| {
                    contents[r].token == contents[i].token
                        && cap.seen[r].at_us > cap.seen[i].at_us
                        && cap.seen[r].at_us <= limit
                        && cap.seen[r].at_us - cap.seen[i].at_us <= 2 * MAX_DELAY_US as i64
                });
                match answer {
                    Some(r) => row.delay_us = Some(((cap.seen[r].at_us - cap.seen[i].at_us) / 2) as u64),
                    None => unanswered += 1,
                }
            }
            identities.push(contents[i].identity);
            rows.push(row);
        }
        if answers {
            notes.push("this end answered: one-way delays cannot be measured from here (recorded as 0); a repeat from the other end means the answer was lost".to_owned());
        }
    } else {
        // Arrivals in the order of their sequence numbers when there are any, else of time;
        // gaps in the numbers are losses.
        let mut order: Vec<usize> = idx.to_vec();
        let with_seq = order.iter().all(|&i| contents[i].seq.is_some());
        // An answer that never came is already recorded as a loss of what it answers (the
        // other direction, seen at its sender): a gap here is not a second loss.
        let gaps_are_losses = with_seq && !answers;
        if with_seq {
            order.sort_by_key(|&i| (contents[i].seq, cap.seen[i].at_us));
        }
        let mut first_copy: HashMap<u64, usize> = HashMap::new();
        let mut prev: Option<(u64, u16)> = None;
        for &i in &order {
            let c = &contents[i];
            // Half the round trip of the exchange this answers, if it answers one.
            let rtt_half = if answers {
                rev.iter()
                    .copied()
                    .rfind(|&r| contents[r].token == c.token && cap.seen[r].at_us <= cap.seen[i].at_us)
                    .map(|r| ((cap.seen[i].at_us - cap.seen[r].at_us) / 2) as u64)
                    .filter(|&h| h <= MAX_DELAY_US)
            } else {
                None
            };
            // Seen again: a network duplicate when udplab's header says it is the same attempt
            // (a sender never sends one attempt twice) and it came within the delay limit;
            // otherwise the sender sent it again, a row of its own.
            if let (Some(&k), Label::Data { .. }) = (first_copy.get(&c.identity), c.label) {
                let row: &mut TraceRow = &mut rows[k];
                let first_at = row.offered_us + row.delay_us.unwrap_or(0);
                let copy = row.delay_us.unwrap_or(0) + since(i).saturating_sub(first_at);
                if row.copy_delay_us.is_none() && copy <= MAX_DELAY_US {
                    row.copy_delay_us = Some(copy);
                    continue;
                }
            }
            if gaps_are_losses
                && let (Some(p), Some(s)) = (prev, c.seq)
                && s.0.saturating_sub(p.0) > MAX_GAP
            {
                notes.push(format!(
                    "the sequence numbers jump from {} to {}: not counted as {} losses (a restart, or not a sequence number)",
                    p.0,
                    s.0,
                    s.0 - p.0 - 1
                ));
            } else if gaps_are_losses && let (Some(p), Some(s)) = (prev, c.seq) {
                // Missing numbers between the previous and this one, and missing attempts.
                for missing in p.0 + 1..s.0 {
                    let label = match c.label {
                        Label::Named { kind, .. } => Label::Named { kind, id: Some(missing) },
                        _ => Label::Data { seq: missing as u32, attempt: 1 },
                    };
                    let lost = Content {
                        label,
                        identity: label.identity(),
                        token: missing,
                        seq: Some((missing, 1)),
                    };
                    rows.push(new_row(&lost, since(i)));
                    identities.push(lost.identity);
                }
            }
            if let (true, Label::Data { seq, attempt }, Some(s)) = (gaps_are_losses, c.label, c.seq) {
                let from = if prev.is_some_and(|p| p.0 == s.0) { prev.map_or(1, |p| p.1 + 1) } else { 1 };
                for a in from..attempt {
                    let label = Label::Data { seq, attempt: a };
                    rows.push(new_row(
                        &Content { label, identity: label.identity(), token: c.token, seq: None },
                        since(i),
                    ));
                    identities.push(label.identity());
                }
            }
            let delay = match rtt_half {
                Some(h) => h,
                None => {
                    delay_unknown += 1;
                    0
                }
            };
            let mut row = new_row(c, since(i).saturating_sub(delay));
            row.delay_us = Some(delay);
            if !cap.seen[i].checksum_ok {
                row.damage = Some(RecordedDamage { bit: None, checksum_fixed: false });
            } else if matches!(c.label, Label::Damaged { .. }) {
                row.damage = Some(RecordedDamage { bit: None, checksum_fixed: true });
            }
            first_copy.insert(c.identity, rows.len());
            identities.push(c.identity);
            rows.push(row);
            prev = c.seq.or(prev);
        }
        if !with_seq && !answers {
            notes.push("no sequence numbers (udplab's header, or --seq-at): losses on the way here cannot be seen from this end".to_owned());
        }
    }
    if delay_unknown > 0 && !answers && !at_sender {
        notes.push(format!("{delay_unknown} delays unknown (no round trip to measure them from this end): recorded as 0; capture both ends to measure them"));
    }
    Direction { src: d.0, dst: d.1, how, rows, identities, unanswered, unmatched: 0, delay_unknown, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use udplab_firmware::wire::{Kind, Repr};

    fn data(seq: u32, attempt: u16) -> Vec<u8> {
        let r = Repr { kind: Kind::Data, seq, sent_us: 0, ack: 0, attempt, payload_len: 8 };
        let mut buf = vec![0; r.buffer_len()];
        r.emit(&mut buf);
        buf
    }

    /// What a receiver (10.0.0.1) captured of a sender's (10.0.0.2) datagrams: (seq, attempt,
    /// arrival time).
    fn at_receiver(arrivals: &[(u32, u16, i64)]) -> Captured {
        let seen = arrivals
            .iter()
            .enumerate()
            .map(|(i, &(seq, attempt, at_us))| Seen {
                point: 0,
                at_us,
                src: ([10, 0, 0, 2], 49152),
                dst: ([10, 0, 0, 1], 3333),
                payload: data(seq, attempt),
                checksum_ok: true,
                side: None,
                frame: i as u64 + 1,
            })
            .collect();
        Captured {
            points: vec![crate::read::Point { name: "r".into(), file: 0 }],
            seen,
            ..Captured::default()
        }
    }

    fn fates(cap: &Captured) -> (Vec<(String, bool)>, Vec<String>) {
        let opts = Options { at: Some([10, 0, 0, 1]), ..Options::default() };
        let r = recover(cap, &opts);
        let d = &r.directions[0];
        assert_eq!(d.how, How::AtReceiver);
        (d.rows.iter().map(|r| (r.label.clone(), r.delay_us.is_some())).collect(), d.notes.clone())
    }

    #[test]
    fn a_receiver_counts_gaps_and_earlier_attempts_as_losses_but_not_a_restart() {
        let (rows, _) = fates(&at_receiver(&[(1, 1, 0), (2, 1, 10), (4, 1, 30), (5, 3, 90)]));
        let want = [
            ("seq=1", true),
            ("seq=2", true),
            ("seq=3", false),
            ("seq=4", true),
            ("seq=5", false),
            ("seq=5 (attempt 2)", false),
            ("seq=5 (attempt 3)", true),
        ];
        assert_eq!(rows, want.map(|(l, d)| (l.to_owned(), d)).to_vec());

        let (rows, notes) = fates(&at_receiver(&[(1, 1, 0), (2, 1, 10), (5000, 1, 20), (5001, 1, 30)]));
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows.iter().all(|(_, d)| *d));
        assert!(notes.iter().any(|n| n.contains("jump from 2 to 5000")), "{notes:?}");
    }

    #[test]
    fn the_same_attempt_twice_is_a_network_duplicate_and_a_foreign_repeat_is_the_senders() {
        let cap = at_receiver(&[(1, 1, 0), (1, 1, 700), (2, 1, 1000)]);
        let opts = Options { at: Some([10, 0, 0, 1]), ..Options::default() };
        let d = &recover(&cap, &opts).directions[0];
        assert_eq!(d.rows.len(), 2);
        assert_eq!((d.rows[0].delay_us, d.rows[0].copy_delay_us), (Some(0), Some(700)));

        let mut foreign = at_receiver(&[(1, 1, 0), (1, 1, 700)]);
        for s in &mut foreign.seen {
            s.payload = b"hello".to_vec();
        }
        let d = recover(&foreign, &opts).directions.remove(0);
        assert_eq!(d.rows.len(), 2, "two sends of the same bytes");
        assert!(d.rows.iter().all(|r| r.copy_delay_us.is_none()));
        let link = crate::LinkImport::new(d.src.0, d.dst.0, vec![d]);
        assert_eq!(link.rows.len(), 2);
        assert_ne!(link.rows[0].key, link.rows[1].key);
    }
}
