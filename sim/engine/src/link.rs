//! The impairment engine: one directed link's decisions about each datagram it is offered.
//!
//! Every random decision about a datagram is drawn from `(seed, link, content, purpose)`, where
//! `content` is what the datagram is (its [`crate::Label::identity`]: udplab's seq and attempt,
//! a user labeller's kind and id, or the ports and a digest of a foreign payload) together
//! with how many times the same content was offered on this link before ([`Repeats`]). Not
//! its number on the link: a real clock fires a retransmission timer a little late, or sends
//! two simultaneous echoes in the other order, and that must not hand one datagram another's
//! dice.
//!
//! Order of decisions for datagram #i (numbered from 1 on each link, for the reader):
//!
//! 1. the Gilbert-Elliott chain steps (when that model is active), whatever happens next (with
//!    `order = "netem"` the loss below is decided by the state before this step);
//! 2. lost if the link is down (outage phase), if `i` is in the drop list, if the packet is over
//!    the MTU, by the loss model, or because the link already holds `queue` datagrams;
//! 3. otherwise: serialised at the rate limit behind earlier datagrams, possibly duplicated
//!    (one extra copy, never copied again; when the queue has room for one copy only, the
//!    extra copy is dropped and traced, the original goes on), possibly corrupted (one bit of the UDP payload; both
//!    copies carry the same damage), possibly held back for reordering, and each copy delayed by
//!    `delay` plus its own jitter.
//!
//! What the dice cannot fix, and so can differ between a virtual and a real clock when the
//! real one moves a datagram: decisions that depend on *when* (the active phase, the rate
//! limiter's backlog, how many datagrams the queue holds) and on *order* (the drop list and
//! `reorder_gap` count datagrams by number; the Gilbert-Elliott chain steps once per datagram
//! in arrival order). Everything else is a pure function of the datagram and the seed.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;
use serde::Serialize;
use smoltcp::wire::{IpProtocol, Ipv4Packet, UdpPacket};

use crate::repeats::Repeats;
use crate::replay::{Recorded, content_key};
use crate::rng::{Prob, Purpose, draw};
use crate::scenario::{GeOrder, Jitter, Link, Loss};

/// Why a link lost a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum LossReason {
    /// The link was down: phase number `phase` of the link is an outage.
    Outage { phase: usize },
    /// The datagram's index is in the link's drop list.
    Index,
    /// Larger than the link's MTU.
    TooBig { mtu: u32 },
    /// Independent random loss.
    Random { p: Prob },
    /// Gilbert-Elliott loss; `bad` tells which state the chain was in.
    Burst { bad: bool, p: Prob },
    /// The link already held its limit of datagrams (tail drop).
    QueueFull { limit: u32 },
    /// The link replays a recorded trace ([`crate::replay`]) whose row `row` says: lost.
    Recorded { row: u32 },
}

/// One flipped bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Corruption {
    /// Bit offset into the UDP payload.
    pub bit: u32,
    /// Whether the UDP checksum was recomputed (so the application sees the damage).
    pub checksum_fixed: bool,
}

/// What happens to a datagram that is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Passage {
    /// 1, or 2 when duplicated.
    pub copies: u8,
    /// Arrival time of each copy (only the first `copies` entries count).
    pub arrive_us: [u64; 2],
    /// Time spent waiting behind earlier datagrams at the rate limit, transmission included.
    pub queued_us: u64,
    /// Extra hold for reordering (0: not reordered).
    pub held_us: u64,
    pub corrupted: Option<Corruption>,
    /// The datagram was chosen for duplication but the queue had room for one copy only: the
    /// extra copy was dropped and the original went on (tail drop of the copy, never of the
    /// original).
    #[serde(skip_serializing_if = "is_false")]
    pub copy_dropped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
pub enum Fate {
    Lost(LossReason),
    Passed(Passage),
}

/// The mutable state of one directed link.
#[derive(Debug, Clone)]
pub struct LinkState {
    seed: u64,
    key: u64,
    next_index: u64,
    repeats: Repeats,
    ge_bad: bool,
    busy_until_us: u64,
    /// Arrival times of the copies the link still holds (bounded by the queue limit).
    held: BinaryHeap<Reverse<u64>>,
}

impl LinkState {
    /// `key` identifies the link for the random draws (see [`crate::rng::name_key`]).
    pub fn new(seed: u64, key: u64) -> LinkState {
        LinkState {
            seed,
            key,
            next_index: 1,
            repeats: Repeats::default(),
            ge_bad: false,
            busy_until_us: 0,
            held: BinaryHeap::new(),
        }
    }

    fn draw(&self, content: u64, purpose: u64) -> u64 {
        draw(self.seed, self.key, content, purpose)
    }

    /// Whether `p` hits this datagram's die for `purpose`. A die that cannot hit is not rolled:
    /// each die is keyed by content and purpose, never by how many were rolled before, so
    /// skipping one changes no other.
    fn chance(&self, p: Prob, content: u64, purpose: Purpose) -> bool {
        !p.is_never() && p.hit(self.draw(content, purpose as u64))
    }

    /// Decides the fate of the next datagram, an IPv4 packet offered at `now_us` whose content
    /// is `identity` (see [`crate::Label::identity`]), and applies any corruption to `packet`
    /// in place. Returns the datagram's number on the link and its fate.
    pub fn offer(&mut self, link: &Link, now_us: u64, packet: &mut [u8], identity: u64) -> (u64, Fate) {
        self.offer_with(link, now_us, packet, || identity)
    }

    /// [`LinkState::offer`] with the identity computed only if the link reads it: a link that
    /// rolls no dice and replays nothing never does, and a label's identity costs a few hash
    /// rounds per datagram.
    pub fn offer_with(
        &mut self,
        link: &Link,
        now_us: u64,
        packet: &mut [u8],
        identity: impl FnOnce() -> u64,
    ) -> (u64, Fate) {
        let index = self.next_index;
        self.next_index += 1;
        // A link that never rolls a die and replays nothing has no use for the content key; its
        // repeat count is never read, so counting it would change no fate (only cost a map
        // lookup per datagram).
        let content = if link.uses_content_key() {
            let identity = identity();
            content_key(identity, self.repeats.count(identity))
        } else {
            0
        };
        let fate = match link.trace.as_ref().and_then(|t| t.get(content)) {
            Some(recorded) => self.replay(recorded, content, now_us, packet),
            None => self.decide(link, index, content, now_us, packet),
        };
        (index, fate)
    }

    /// The recorded fate, exactly: the recording already holds what the real network's queues,
    /// outages and rate did, so nothing else on the link applies. Copies still count towards
    /// the queue, so that datagrams the trace does not hold see them.
    fn replay(&mut self, recorded: &Recorded, content: u64, now_us: u64, packet: &mut [u8]) -> Fate {
        let Some(delay) = recorded.delay_us else {
            return Fate::Lost(LossReason::Recorded { row: recorded.row });
        };
        let corrupted = recorded.corrupt.and_then(|c| {
            let d = c.bit.map_or_else(|| self.draw(content, Purpose::CorruptBit as u64), u64::from);
            flip_udp_payload_bit(packet, d, c.checksum_fixed)
        });
        let mut arrive_us = [now_us.saturating_add(delay), 0];
        let mut copies = 1;
        if let Some(d2) = recorded.copy_delay_us {
            arrive_us[1] = now_us.saturating_add(d2);
            copies = 2;
        }
        for a in &arrive_us[..usize::from(copies)] {
            self.held.push(Reverse(*a));
        }
        Fate::Passed(Passage { copies, arrive_us, queued_us: 0, held_us: 0, corrupted, copy_dropped: false })
    }

    fn decide(&mut self, link: &Link, index: u64, content: u64, now_us: u64, packet: &mut [u8]) -> Fate {
        let imp = link.active(now_us);

        let ge_step = |state: &mut bool, p: Prob, r: Prob, d: u64| {
            *state = if *state { !r.hit(d) } else { p.hit(d) };
        };
        // The state that decides this datagram's loss (see `GeOrder`).
        let mut ge_bad = self.ge_bad;
        if let Loss::GilbertElliott { p, r, order, .. } = imp.loss {
            let d = self.draw(content, Purpose::GilbertElliott as u64);
            ge_step(&mut self.ge_bad, p, r, d);
            if order == GeOrder::StepThenDecide {
                ge_bad = self.ge_bad;
            }
        }

        if imp.down {
            let phase = link.phases.iter().rposition(|p| p.from_us <= now_us && now_us < p.until_us);
            return Fate::Lost(LossReason::Outage { phase: phase.unwrap_or(0) });
        }
        if imp.drop.contains(&index) {
            return Fate::Lost(LossReason::Index);
        }
        if imp.mtu != 0 && packet.len() as u64 > u64::from(imp.mtu) {
            return Fate::Lost(LossReason::TooBig { mtu: imp.mtu });
        }
        match imp.loss {
            Loss::None => {}
            Loss::Bernoulli { p } => {
                if self.chance(p, content, Purpose::Loss) {
                    return Fate::Lost(LossReason::Random { p });
                }
            }
            Loss::GilbertElliott { loss_bad, loss_good, .. } => {
                let p = if ge_bad { loss_bad } else { loss_good };
                if self.chance(p, content, Purpose::Loss) {
                    return Fate::Lost(LossReason::Burst { bad: ge_bad, p });
                }
            }
        }

        while self.held.peek().is_some_and(|Reverse(t)| *t <= now_us) {
            self.held.pop();
        }
        if self.held.len() >= imp.queue as usize {
            return Fate::Lost(LossReason::QueueFull { limit: imp.queue });
        }
        let duplicate = self.chance(imp.duplicate, content, Purpose::Duplicate);
        let copy_dropped = duplicate && self.held.len() + 2 > imp.queue as usize;
        let copies: u8 = if duplicate && !copy_dropped { 2 } else { 1 };

        let start = now_us.max(self.busy_until_us);
        let depart = if imp.rate_bps == 0 {
            now_us
        } else {
            let bits = packet.len() as u64 * 8;
            start + (bits * 1_000_000).div_ceil(imp.rate_bps)
        };
        self.busy_until_us = depart;

        let corrupted = if self.chance(imp.corrupt, content, Purpose::Corrupt) {
            let bit_draw = self.draw(content, Purpose::CorruptBit as u64);
            flip_udp_payload_bit(packet, bit_draw, imp.corrupt_fix_checksum)
        } else {
            None
        };

        let candidate = imp.reorder_gap != 0 && index.is_multiple_of(u64::from(imp.reorder_gap));
        let held_us = if candidate && self.chance(imp.reorder, content, Purpose::Reorder) {
            imp.reorder_hold_us
        } else {
            0
        };

        let mut arrive_us = [0; 2];
        for (c, slot) in arrive_us.iter_mut().enumerate().take(usize::from(copies)) {
            let delay = if imp.jitter_us == 0 {
                imp.delay_us
            } else {
                let d = self.draw(content, Purpose::Delay as u64 + 16 * c as u64);
                jittered(imp.delay_us, imp.jitter_us, imp.jitter, d)
            };
            *slot = depart + delay + held_us;
            self.held.push(Reverse(*slot));
        }
        Fate::Passed(Passage {
            copies,
            arrive_us,
            queued_us: depart - now_us,
            held_us,
            corrupted,
            copy_dropped,
        })
    }
}

/// `delay` plus a jitter offset drawn from `d`, never below zero.
fn jittered(delay: u64, jitter: u64, shape: Jitter, d: u64) -> u64 {
    if jitter == 0 {
        return delay;
    }
    let offset: i128 = match shape {
        Jitter::Uniform => (u128::from(d) % (2 * u128::from(jitter) + 1)) as i128 - i128::from(jitter),
        Jitter::Normal => {
            // Irwin-Hall: 12 uniform 16-bit draws sum to mean 6 * 2^16, standard deviation 2^16.
            let mut sum: i128 = 0;
            for k in 0..3u64 {
                let w = crate::rng::mix(d ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for part in 0..4 {
                    sum += i128::from((w >> (16 * part)) & 0xffff);
                }
            }
            ((sum - 6 * 65_536) * i128::from(jitter)) / 65_536
        }
    };
    (i128::from(delay) + offset).max(0) as u64
}

/// Flips one bit of the UDP payload chosen by `d`; returns `None` (nothing done) when the
/// packet is not UDP over IPv4 or has no payload.
fn flip_udp_payload_bit(packet: &mut [u8], d: u64, fix_checksum: bool) -> Option<Corruption> {
    let mut ip = Ipv4Packet::new_checked(&mut *packet).ok()?;
    if ip.next_header() != IpProtocol::Udp {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let mut udp = UdpPacket::new_checked(ip.payload_mut()).ok()?;
    let payload_bits = (udp.payload_mut().len() as u64) * 8;
    if payload_bits == 0 {
        return None;
    }
    let bit = (d % payload_bits) as u32;
    udp.payload_mut()[(bit / 8) as usize] ^= 1 << (bit % 8);
    if fix_checksum {
        udp.fill_checksum(&src.into(), &dst.into());
    }
    Some(Corruption { bit, checksum_fixed: fix_checksum })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Impairment, Phase};
    use alloc::collections::BTreeSet;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A 20-byte IPv4 header and an 8-byte UDP header around `payload`, checksums left zero
    /// (the link reads addresses and lengths, and flips payload bits).
    fn udp_packet(payload: &[u8]) -> Vec<u8> {
        let len = 28 + payload.len();
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&4000u16.to_be_bytes());
        p[22..24].copy_from_slice(&5000u16.to_be_bytes());
        p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p[28..].copy_from_slice(payload);
        p
    }

    /// The fates of the same content offered 200 times, far enough apart that no queue or rate
    /// links them, starting at `from_us`.
    fn fates_of_one_content(link: &Link, from_us: u64) -> BTreeSet<String> {
        let mut state = LinkState::new(3, 4);
        (0..200u64)
            .map(|i| {
                let now_us = from_us + i * 100_000;
                let mut packet = udp_packet(b"hello");
                let (_, fate) = state.offer(link, now_us, &mut packet, 0x5eed);
                // Relative times, so that only the fate itself tells offers apart.
                match fate {
                    Fate::Passed(p) => format!(
                        "{} {:?} {} {:?} {}",
                        p.copies,
                        p.arrive_us.map(|a| a.saturating_sub(now_us)),
                        p.held_us,
                        p.corrupted,
                        p.copy_dropped
                    ),
                    Fate::Lost(r) => format!("{r:?}"),
                }
            })
            .collect()
    }

    fn link_with(impairment: Impairment, phases: Vec<Phase>) -> Link {
        Link { from: 0, to: 1, impairment, phases, trace: None }
    }

    /// Repeats of one content get fates of their own under every random impairment, alone or in
    /// a phase: so a link that skips the repeat count (`Link::uses_content_key`) is one where no
    /// fate could have told repeats apart, and a new random setting left out of
    /// `Impairment::rolls_dice` fails here.
    #[test]
    fn every_random_setting_gives_repeats_of_one_content_their_own_fates() {
        let half = Prob::from_ppb(500_000_000).unwrap();
        let base = Impairment { delay_us: 1_000, ..Impairment::PERFECT };
        let cases: [(&str, Impairment); 6] = [
            ("loss", Impairment { loss: Loss::Bernoulli { p: half }, ..base.clone() }),
            (
                "burst loss",
                Impairment {
                    loss: Loss::GilbertElliott {
                        p: half,
                        r: half,
                        loss_bad: half,
                        loss_good: Prob::NEVER,
                        order: GeOrder::StepThenDecide,
                    },
                    ..base.clone()
                },
            ),
            ("jitter", Impairment { jitter_us: 500, ..base.clone() }),
            ("reorder", Impairment { reorder: half, reorder_hold_us: 700, ..base.clone() }),
            ("duplicate", Impairment { duplicate: half, ..base.clone() }),
            ("corrupt", Impairment { corrupt: half, ..base.clone() }),
        ];
        for (what, imp) in cases {
            let alone = link_with(imp.clone(), Vec::new());
            assert!(alone.uses_content_key(), "{what}");
            assert!(fates_of_one_content(&alone, 0).len() > 1, "{what}: every repeat got the same fate");
            let phase =
                Phase { from_us: 1_000_000_000, until_us: u64::MAX, name: "bad".into(), impairment: imp };
            let later = link_with(base.clone(), vec![phase]);
            assert!(later.uses_content_key(), "{what} in a phase");
            assert!(fates_of_one_content(&later, 1_000_000_000).len() > 1, "{what} in a phase");
        }
        let perfect = link_with(base, Vec::new());
        assert!(!perfect.uses_content_key());
        assert_eq!(fates_of_one_content(&perfect, 0).len(), 1);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        for i in 0..10_000u64 {
            let d = crate::rng::mix(i);
            let u = jittered(1000, 300, Jitter::Uniform, d);
            assert!((700..=1300).contains(&u), "{u}");
            let n = jittered(1000, 100, Jitter::Normal, d);
            assert!((400..=1600).contains(&n), "{n}");
            assert_eq!(jittered(50, 300, Jitter::Uniform, d).min(350), jittered(50, 300, Jitter::Uniform, d));
        }
    }
}
