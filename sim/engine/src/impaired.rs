//! The impairment engine as device middleware, for runners on a real clock (host TAP, ESP32
//! Wi-Fi): `Impaired<D>` wraps any smoltcp device and sends every IPv4 UDP datagram, in both
//! directions, through the scenario link that joins its source and destination.
//!
//! Fates are decided by the same [`LinkState`] as in the virtual-time network, with the same
//! keys (what the datagram is, not when it came), so a datagram gets the same fate on every
//! runner even when the real clock moves it a little. Time comes from the
//! timestamps smoltcp passes to `receive`/`transmit` (the runner's clock); delayed copies wait in
//! a bounded queue until [`Impaired::pump`] releases them. Frames that are not IPv4 UDP (ARP,
//! for one) pass straight through: impairing ARP would change which datagrams exist.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket};

use crate::due::{Due, overtaken};
use crate::link::{Fate, LinkState};
use crate::rng::name_key;
use crate::scenario::Link;
use crate::trace::{Captured, DropReason, Event, Label, Labeller, Record};

/// One scenario link placed in a device's path.
#[derive(Debug, Clone)]
pub struct PathLink {
    /// Index of the link in the scenario (what the trace names).
    pub index: usize,
    /// Its name, `from->to`: the key of its randomness.
    pub name: alloc::string::String,
    /// Source and destination IPv4 addresses it carries; `None` matches any address.
    pub src: Option<[u8; 4]>,
    pub dst: Option<[u8; 4]>,
    /// Which way through the device it carries; `None` matches both. A board with a DHCP
    /// address knows the direction before it knows its address.
    pub direction: Option<Direction>,
    /// Only datagrams from or to this UDP port (the app's), so that, say, a board's DHCP
    /// exchange is not impaired; `None` matches any port.
    pub port: Option<u16>,
    pub spec: Link,
}

struct Active {
    path: PathLink,
    state: LinkState,
    highest_arrived: u64,
}

/// Which way a frame crosses the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the local stack.
    Out,
    /// Received from the wire.
    In,
}

use Direction as Dir;

/// Which datagram a frame was on its link.
#[derive(Clone, Copy)]
struct Crossed {
    link: usize,
    index: u64,
    label: Label,
    copy: u8,
}

struct Held {
    dir: Dir,
    link: usize,
    index: u64,
    copy: u8,
    label: Label,
    sent_us: u64,
    frame: Vec<u8>,
}

/// Most frames waiting for the stack after their delay, beyond what links hold themselves.
const READY_LIMIT: usize = 64;

/// A smoltcp device with scenario links in its path.
pub struct Impaired<D> {
    inner: D,
    links: Vec<Active>,
    held: Due<Held>,
    /// Received frames whose delay is over, waiting for the stack, with the datagram each is
    /// when it crossed a link (to trace those the run ends with).
    ready: VecDeque<(Vec<u8>, Option<Crossed>)>,
    records: Vec<Record>,
    /// Packet bytes for a capture, when asked for ([`Impaired::capture`]).
    captured: Option<Vec<Captured>>,
    /// Frames dropped because `ready` was full (each traced as [`DropReason::StackBusy`]).
    pub overflow: u64,
    labeller: Option<Labeller>,
    /// What the stack can take in the next poll, when the runner says (frames, bytes).
    rx_budget: Option<(usize, usize)>,
}

impl<D: Device> Impaired<D> {
    pub fn new(inner: D, seed: u64, links: Vec<PathLink>) -> Impaired<D> {
        let links = links
            .into_iter()
            .map(|path| Active {
                state: LinkState::new(seed, name_key(&path.name)),
                path,
                highest_arrived: 0,
            })
            .collect();
        Impaired {
            inner,
            links,
            held: Due::default(),
            ready: VecDeque::new(),
            records: Vec::new(),
            captured: None,
            overflow: 0,
            labeller: None,
            rx_budget: None,
        }
    }

    /// Hands the stack at most `frames` frames and `bytes` bytes until the next call, so that
    /// nothing is dropped silently inside it: a runner sets this from its socket's free room
    /// before each poll. What waits beyond it stays queued here (bounded; overflow is traced).
    pub fn set_rx_budget(&mut self, frames: usize, bytes: usize) {
        self.rx_budget = Some((frames, bytes));
    }

    /// Names datagrams of the user's own protocol in the trace (see [`Labeller`]).
    pub fn set_labeller(&mut self, labeller: Labeller) {
        self.labeller = Some(labeller);
    }

    /// Keeps the bytes of every datagram offered to and coming out of a link from now on, as
    /// the virtual-time network's `run_with_capture` does (opt-in: a copy per packet).
    pub fn capture(&mut self) {
        self.captured.get_or_insert_with(Vec::new);
    }

    /// Takes the packets captured so far.
    pub fn take_captured(&mut self) -> Vec<Captured> {
        self.captured.as_mut().map(core::mem::take).unwrap_or_default()
    }

    /// Where the IPv4 packet starts in a frame of the inner device's medium.
    fn ip_start(&self) -> usize {
        match self.inner.capabilities().medium {
            Medium::Ethernet => EthernetFrame::<&[u8]>::header_len(),
            _ => 0,
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Takes the trace records made since the last call.
    pub fn take_records(&mut self) -> Vec<Record> {
        core::mem::take(&mut self.records)
    }

    /// When the next delayed copy is due, in microseconds on the runner's clock.
    pub fn next_release_us(&self) -> Option<u64> {
        self.held.next_us()
    }

    /// Ends the run: every copy still held becomes an in-flight-at-end record, and every copy
    /// that came out of its link but that the stack never took, a drop.
    pub fn finish(&mut self, now_us: u64) -> Vec<Record> {
        let headers = self.ip_start();
        for (frame, crossed) in core::mem::take(&mut self.ready) {
            if let Some(Crossed { link, index, label, copy }) = crossed {
                let bytes = frame.len().saturating_sub(headers) as u32;
                let event = Event::Dropped { link, index, label, copy, bytes, reason: DropReason::Unread };
                self.records.push(Record { at_us: now_us, event });
            }
        }
        for (_, h) in self.held.drain_in_order() {
            let link = self.links[h.link].path.index;
            let event = Event::InFlightAtEnd { link, index: h.index, label: h.label, copy: h.copy };
            self.records.push(Record { at_us: now_us, event });
        }
        self.take_records()
    }

    /// Releases every copy due by `now_us`: outgoing ones to the inner device, incoming ones to
    /// the stack's receive queue. Call it whenever the runner wakes.
    pub fn pump(&mut self, now_us: u64) {
        while let Some((due_us, h)) = self.held.pop_due(now_us) {
            let a = &mut self.links[h.link];
            let overtaken_by = overtaken(&mut a.highest_arrived, h.index, h.copy);
            // On a real clock the release can come a little after the due time: record when it
            // really happened.
            let at_us = now_us.max(due_us);
            let event = Event::Arrive {
                link: a.path.index,
                index: h.index,
                label: h.label,
                copy: h.copy,
                latency_us: at_us - h.sent_us,
                overtaken_by,
                late_us: at_us - due_us,
            };
            self.records.push(Record { at_us, event });
            if self.captured.is_some() {
                let packet = h.frame.get(self.ip_start()..).unwrap_or_default().to_vec();
                let link = self.links[h.link].path.index;
                if let Some(c) = &mut self.captured {
                    c.push(Captured { at_us, link, index: h.index, copy: Some(h.copy), packet });
                }
            }
            match h.dir {
                Dir::Out => self.send_inner(now_us, &h.frame),
                Dir::In => {
                    if self.ready.len() >= READY_LIMIT {
                        self.overflow += 1;
                        let link = self.links[h.link].path.index;
                        let bytes = h.frame.len().saturating_sub(self.ip_start()) as u32;
                        let reason = DropReason::StackBusy { queued: READY_LIMIT as u32 };
                        let event = Event::Dropped {
                            link,
                            index: h.index,
                            label: h.label,
                            copy: h.copy,
                            bytes,
                            reason,
                        };
                        self.records.push(Record { at_us, event });
                    } else {
                        let link = self.links[h.link].path.index;
                        let crossed = Crossed { link, index: h.index, label: h.label, copy: h.copy };
                        self.ready.push_back((h.frame, Some(crossed)));
                    }
                }
            }
        }
    }

    fn send_inner(&mut self, now_us: u64, frame: &[u8]) {
        if let Some(tok) = self.inner.transmit(Instant::from_micros(now_us as i64)) {
            phy::TxToken::consume(tok, frame.len(), |buf| buf.copy_from_slice(frame));
        }
    }

    /// Sends `frame` through its link. Returns the frame back when no link carries it (it then
    /// passes unimpaired).
    fn offer(&mut self, dir: Dir, now_us: u64, mut frame: Vec<u8>) -> Option<Vec<u8>> {
        let medium = self.inner.capabilities().medium;
        let ip_start = match medium {
            Medium::Ethernet => {
                let eth = EthernetFrame::new_checked(&frame[..]).ok()?;
                if eth.ethertype() != EthernetProtocol::Ipv4 {
                    return Some(frame);
                }
                EthernetFrame::<&[u8]>::header_len()
            }
            _ => 0,
        };
        let Ok(ip) = Ipv4Packet::new_checked(&frame[ip_start..]) else { return Some(frame) };
        if ip.next_header() != IpProtocol::Udp {
            return Some(frame);
        }
        let (src, dst) = (ip.src_addr().octets(), ip.dst_addr().octets());
        let udp = UdpPacket::new_checked(ip.payload()).ok();
        let label = udp
            .as_ref()
            .map_or(Label::Other, |u| Label::of_udp(u.src_port(), u.dst_port(), u.payload(), self.labeller));
        let ports = udp.as_ref().map(|u| (u.src_port(), u.dst_port()));
        let bytes = ip.total_len() as u32;
        let Some(li) = self.links.iter().position(|a| {
            a.path.src.is_none_or(|s| s == src)
                && a.path.dst.is_none_or(|d| d == dst)
                && a.path.direction.is_none_or(|d| d == dir)
                && a.path.port.is_none_or(|p| ports.is_some_and(|(s, d)| s == p || d == p))
        }) else {
            return Some(frame);
        };
        if ip.more_frags() || ip.frag_offset() != 0 {
            // Fragments are not datagrams: the link never sees them, the stack cannot
            // reassemble them. Say so rather than let them vanish.
            let reason =
                DropReason::Fragment { id: ip.ident(), offset: ip.frag_offset(), more: ip.more_frags() };
            let link = self.links[li].path.index;
            let event = Event::Dropped { link, index: 0, label: Label::Other, copy: 0, bytes, reason };
            self.records.push(Record { at_us: now_us, event });
            return None;
        }
        let offered = self.captured.is_some().then(|| frame[ip_start..].to_vec());
        let a = &mut self.links[li];
        let (index, fate) =
            a.state.offer_with(&a.path.spec, now_us, &mut frame[ip_start..], || label.identity());
        let link = a.path.index;
        let event = Event::Offer { link, index, label, bytes, fate };
        self.records.push(Record { at_us: now_us, event });
        if let (Some(c), Some(packet)) = (&mut self.captured, offered) {
            c.push(Captured { at_us: now_us, link, index, copy: None, packet });
        }
        if let Fate::Passed(p) = fate {
            for copy in 0..p.copies {
                let frame = if copy + 1 == p.copies { core::mem::take(&mut frame) } else { frame.clone() };
                let h = Held { dir, link: li, index, copy, label, sent_us: now_us, frame };
                self.held.push(p.arrive_us[usize::from(copy)], h);
            }
            // A copy due now goes at once rather than waiting for the next pump.
            self.pump(now_us);
        }
        None
    }
}

fn micros(t: Instant) -> u64 {
    t.total_micros().max(0) as u64
}

pub struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub struct TxToken<'a, D: Device> {
    dev: &'a mut Impaired<D>,
    now_us: u64,
}

impl<D: Device> phy::TxToken for TxToken<'_, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = alloc::vec![0; len];
        let r = f(&mut frame);
        if let Some(frame) = self.dev.offer(Dir::Out, self.now_us, frame) {
            self.dev.send_inner(self.now_us, &frame);
        }
        r
    }
}

impl<D: Device> Device for Impaired<D> {
    type RxToken<'a>
        = RxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, D>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(RxToken, TxToken<'_, D>)> {
        let now_us = micros(timestamp);
        self.pump(now_us);
        // Pull everything the wire has: each frame either passes at once or joins its link.
        while self.ready.len() < READY_LIMIT {
            let Some((rx, _)) = self.inner.receive(timestamp) else { break };
            let frame = phy::RxToken::consume(rx, |b| b.to_vec());
            if let Some(frame) = self.offer(Dir::In, now_us, frame) {
                self.ready.push_back((frame, None));
            }
        }
        let headers = self.ip_start() + 28;
        if let Some((frames, bytes)) = &mut self.rx_budget {
            // What the frame needs in a UDP socket: its payload, headers off.
            let next = self.ready.front()?.0.len().saturating_sub(headers);
            if *frames == 0 || next > *bytes {
                return None;
            }
            *frames -= 1;
            *bytes -= next;
        }
        let (frame, _) = self.ready.pop_front()?;
        Some((RxToken(frame), TxToken { dev: self, now_us }))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<TxToken<'_, D>> {
        let now_us = micros(timestamp);
        self.pump(now_us);
        Some(TxToken { dev: self, now_us })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::QueueDevice;
    use crate::rng::Prob;
    use crate::scenario::{Impairment, Loss};
    use phy::TxToken as _;

    fn udp_packet(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut p = alloc::vec![0u8; 28 + 36];
        p[0] = 0x45;
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p[24..26].copy_from_slice(&44u16.to_be_bytes());
        p
    }

    fn label_of_test_packet() -> u64 {
        Label::of_ipv4(&udp_packet([192, 0, 2, 1], [192, 0, 2, 2]), None).identity()
    }

    fn path(direction: Option<Direction>, imp: Impairment) -> PathLink {
        PathLink {
            index: 0,
            name: "a->b".into(),
            src: None,
            dst: None,
            direction,
            port: None,
            spec: Link { from: 0, to: 1, impairment: imp, phases: Vec::new(), trace: None },
        }
    }

    fn send(dev: &mut Impaired<QueueDevice>, now_us: u64) {
        let frame = udp_packet([192, 0, 2, 1], [192, 0, 2, 2]);
        let tok = dev.transmit(Instant::from_micros(now_us as i64)).unwrap();
        tok.consume(frame.len(), |b| b.copy_from_slice(&frame));
    }

    #[test]
    fn outgoing_datagrams_get_the_same_fates_as_the_link_engine_and_wait_out_their_delay() {
        let imp = Impairment {
            loss: Loss::Bernoulli { p: Prob::from_ppb(300_000_000).unwrap() },
            delay_us: 1_000,
            ..Impairment::default()
        };
        let mut dev =
            Impaired::new(QueueDevice::default(), 5, alloc::vec![path(Some(Direction::Out), imp.clone())]);
        let mut reference = LinkState::new(5, name_key("a->b"));
        let link = Link { from: 0, to: 1, impairment: imp, phases: Vec::new(), trace: None };
        let mut passed = 0;
        for i in 0..200u64 {
            send(&mut dev, i * 10);
            let (_, want) = reference.offer(
                &link,
                i * 10,
                &mut udp_packet([192, 0, 2, 1], [192, 0, 2, 2]),
                label_of_test_packet(),
            );
            let got = dev.take_records();
            let offer = got.iter().find_map(|r| match r.event {
                Event::Offer { fate, index, .. } => Some((index, fate)),
                _ => None,
            });
            let (index, fate) = offer.expect("the send made an offer record");
            assert_eq!((index, fate), (i + 1, want));
            passed += usize::from(matches!(fate, Fate::Passed(_)));
        }
        assert!(dev.inner().tx.len() < passed, "delayed frames are still held");
        dev.pump(200 * 10 + 1_000);
        assert_eq!(dev.inner().tx.len(), passed, "every passed frame reaches the wire once due");
    }

    #[test]
    fn a_capture_has_one_packet_per_offer_and_arrival() {
        let imp = Impairment {
            loss: Loss::Bernoulli { p: Prob::from_ppb(300_000_000).unwrap() },
            duplicate: Prob::from_ppb(300_000_000).unwrap(),
            delay_us: 100,
            ..Impairment::default()
        };
        let mut dev = Impaired::new(QueueDevice::default(), 3, alloc::vec![path(None, imp)]);
        dev.capture();
        let mut records = Vec::new();
        for i in 0..50u64 {
            send(&mut dev, i * 1_000);
            records.extend(dev.take_records());
        }
        dev.pump(100_000);
        records.extend(dev.take_records());
        let captured = dev.take_captured();
        let keys = |r: &Record| match r.event {
            Event::Offer { link, index, .. } => Some((link, index, None)),
            Event::Arrive { link, index, copy, .. } => Some((link, index, Some(copy))),
            _ => None,
        };
        let mut want: Vec<_> = records.iter().filter_map(keys).collect();
        let mut got: Vec<_> = captured.iter().map(|c| (c.link, c.index, c.copy)).collect();
        want.sort();
        got.sort();
        assert_eq!(want, got);
        assert!(captured.iter().any(|c| c.copy == Some(1)), "a duplicate was captured");
        assert!(captured.iter().all(|c| c.packet == udp_packet([192, 0, 2, 1], [192, 0, 2, 2])));
    }

    #[test]
    fn a_link_for_one_port_leaves_other_traffic_alone() {
        let imp = Impairment { loss: Loss::Bernoulli { p: Prob::ALWAYS }, ..Impairment::default() };
        let mut p = path(None, imp);
        p.port = Some(3333);
        let mut dev = Impaired::new(QueueDevice::default(), 1, alloc::vec![p]);
        send(&mut dev, 0); // ports 0 -> 0
        assert!(dev.take_records().is_empty());
        assert_eq!(dev.inner().tx.len(), 1);
        let mut frame = udp_packet([192, 0, 2, 1], [192, 0, 2, 2]);
        frame[22..24].copy_from_slice(&3333u16.to_be_bytes());
        let tok = dev.transmit(Instant::from_micros(1)).unwrap();
        tok.consume(frame.len(), |b| b.copy_from_slice(&frame));
        assert!(matches!(dev.take_records()[0].event, Event::Offer { fate: Fate::Lost(_), .. }));
        assert_eq!(dev.inner().tx.len(), 1, "the app's datagram was lost, not sent");
    }

    #[test]
    fn a_link_for_one_direction_leaves_the_other_alone() {
        let imp = Impairment { loss: Loss::Bernoulli { p: Prob::ALWAYS }, ..Impairment::default() };
        let mut dev = Impaired::new(QueueDevice::default(), 1, alloc::vec![path(Some(Direction::In), imp)]);
        send(&mut dev, 0);
        assert!(dev.take_records().is_empty(), "an outgoing frame does not cross an incoming link");
        assert_eq!(dev.inner().tx.len(), 1);
        dev.inner_mut().rx.push_back(udp_packet([192, 0, 2, 2], [192, 0, 2, 1]));
        assert!(dev.receive(Instant::from_micros(5)).is_none(), "the incoming frame is lost");
        assert!(matches!(dev.take_records()[0].event, Event::Offer { fate: Fate::Lost(_), .. }));
    }
}
