//! Reliable mode: a selective-repeat ARQ that turns a lossy, duplicating, reordering link into
//! exactly-once, in-order delivery. Small on purpose, so a lesson can show each mechanism:
//!
//! - the sender keeps at most `window` unacknowledged messages in flight;
//! - every message has its own retransmission timer, starting at `rto` and doubling on each
//!   timeout up to `rto_max` (exponential backoff, so a dead link is not flooded);
//! - the receiver acknowledges every data datagram it gets, duplicates included (the earlier
//!   ack may have been lost), with the seq and a cumulative "all below N received";
//! - the receiver buffers out-of-order messages inside its window and hands messages to the
//!   application strictly in order, each exactly once;
//! - round-trip times are sampled only from first transmissions (Karn's rule).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::app::event::{AppEvent, Endpoint, SendFailure};
use crate::app::seq::SeqTracker;
use crate::app::{ArqConfig, Schedule, Socket, send_message};
use crate::wire::{self, Datagram, HEADER_LEN, Kind, Repr};

#[derive(Debug, Clone, Copy)]
struct InFlight {
    attempt: u16,
    first_sent_us: u64,
    rto_us: u64,
    deadline_us: u64,
}

/// The sending side (a client in reliable mode).
#[derive(Debug)]
pub struct Sender {
    server: Endpoint,
    schedule: Schedule,
    size: usize,
    arq: ArqConfig,
    /// Next seq never sent yet.
    next: u32,
    /// Lowest seq not yet acknowledged or given up (window start).
    una: u32,
    in_flight: BTreeMap<u32, InFlight>,
    /// Seqs above `una` already finished (acknowledged or given up), waiting for `una` to pass.
    finished_above: BTreeMap<u32, ()>,
    scratch: Vec<u8>,
}

impl Sender {
    pub fn new(server: Endpoint, schedule: Schedule, size: usize, arq: ArqConfig) -> Sender {
        Sender {
            server,
            schedule,
            size,
            arq,
            next: 1,
            una: 1,
            in_flight: BTreeMap::new(),
            finished_above: BTreeMap::new(),
            scratch: Vec::new(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.una > self.schedule.count
    }

    fn finish(&mut self, seq: u32) {
        self.in_flight.remove(&seq);
        self.finished_above.insert(seq, ());
        while self.finished_above.remove(&self.una).is_some() {
            self.una += 1;
        }
    }

    pub fn on_datagram(&mut self, now_us: u64, data: &[u8], from: Endpoint, out: &mut dyn FnMut(AppEvent)) {
        let bytes = data.len();
        let ack = match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Ack => r,
            Ok(_) => return out(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind }),
            Err(error) => return out(AppEvent::Invalid { from, bytes, error }),
        };
        match self.in_flight.get(&ack.seq).copied() {
            Some(f) => {
                let rtt_us =
                    (f.attempt == 1 && ack.attempt == 1).then(|| now_us.saturating_sub(f.first_sent_us));
                out(AppEvent::Acked { seq: ack.seq, rtt_us, cumulative: false });
                self.finish(ack.seq);
            }
            None => out(AppEvent::DuplicateAck { seq: ack.seq }),
        }
        // The cumulative part covers messages whose own acks were lost.
        let covered: Vec<u32> = self.in_flight.range(..ack.ack).map(|(s, _)| *s).collect();
        for seq in covered {
            out(AppEvent::Acked { seq, rtt_us: None, cumulative: true });
            self.finish(seq);
        }
    }

    pub fn tick(
        &mut self,
        now_us: u64,
        socket: &mut dyn Socket,
        out: &mut dyn FnMut(AppEvent),
    ) -> Option<u64> {
        let expired: Vec<u32> =
            self.in_flight.iter().filter(|(_, f)| f.deadline_us <= now_us).map(|(s, _)| *s).collect();
        for seq in expired {
            let f = self.in_flight[&seq];
            if self.arq.max_attempts != 0 && f.attempt >= self.arq.max_attempts {
                out(AppEvent::GaveUp { seq, attempts: f.attempt });
                self.finish(seq);
                continue;
            }
            let rto_us = (f.rto_us * 2).min(self.arq.rto_max_us);
            out(AppEvent::Timeout { seq, attempt: f.attempt, next_rto_us: rto_us });
            let attempt = f.attempt + 1;
            self.in_flight.insert(seq, InFlight { attempt, rto_us, deadline_us: now_us + rto_us, ..f });
            let repr = self.data(seq, f.first_sent_us, attempt);
            send_message(socket, &repr, &mut self.scratch, self.server, out);
        }

        while self.next <= self.schedule.count
            && self.schedule.release_us(self.next) <= now_us
            && self.next < self.una + self.arq.window
        {
            let seq = self.next;
            self.next += 1;
            let rto_us = self.arq.rto_us;
            self.in_flight.insert(
                seq,
                InFlight { attempt: 1, first_sent_us: now_us, rto_us, deadline_us: now_us + rto_us },
            );
            let repr = self.data(seq, now_us, 1);
            send_message(socket, &repr, &mut self.scratch, self.server, out);
        }

        let next_timer = self.in_flight.values().map(|f| f.deadline_us).min();
        let window_open = self.next < self.una + self.arq.window;
        let next_release =
            (self.next <= self.schedule.count && window_open).then(|| self.schedule.release_us(self.next));
        match (next_timer, next_release) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn data(&self, seq: u32, first_sent_us: u64, attempt: u16) -> Repr {
        Repr {
            kind: Kind::Data,
            seq,
            sent_us: first_sent_us,
            ack: 0,
            attempt,
            payload_len: self.size - HEADER_LEN,
        }
    }
}

/// The receiving side (a server in reliable mode).
#[derive(Debug)]
pub struct Receiver {
    window: u32,
    /// Next seq the application is waiting for.
    next: u32,
    /// Out-of-order messages held back: seq -> first send time.
    held: BTreeMap<u32, u64>,
    arrivals: SeqTracker,
    /// Acks waiting for room in the socket's transmit buffer (bounded by the window).
    acks: VecDeque<(Repr, Endpoint)>,
    scratch: Vec<u8>,
}

impl Receiver {
    pub fn new(window: u32) -> Receiver {
        Receiver {
            window,
            next: 1,
            held: BTreeMap::new(),
            arrivals: SeqTracker::default(),
            acks: VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    pub fn on_datagram(&mut self, now_us: u64, data: &[u8], from: Endpoint, out: &mut dyn FnMut(AppEvent)) {
        let bytes = data.len();
        let r = match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Data && r.seq >= 1 => r,
            Ok(_) => return out(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind }),
            Err(error) => return out(AppEvent::Invalid { from, bytes, error }),
        };
        let one_way_us = now_us.saturating_sub(r.sent_us);
        if r.seq >= self.next.saturating_add(self.window) {
            return out(AppEvent::BeyondWindow { seq: r.seq, window_start: self.next });
        }
        // Arrival order as the plain server reports it; whether to deliver is decided by the
        // window state alone, which is exact.
        let order = self.arrivals.observe(r.seq);
        let duplicate = r.seq < self.next || self.held.contains_key(&r.seq);
        out(AppEvent::Received { seq: r.seq, from, bytes, one_way_us, order });
        if !duplicate {
            self.held.insert(r.seq, r.sent_us);
        }
        while let Some(sent_us) = self.held.remove(&self.next) {
            out(AppEvent::Delivered { seq: self.next, latency_us: now_us.saturating_sub(sent_us) });
            self.next += 1;
        }
        let ack = Repr {
            kind: Kind::Ack,
            seq: r.seq,
            sent_us: r.sent_us,
            ack: self.next,
            attempt: r.attempt,
            payload_len: 0,
        };
        if self.acks.len() >= self.window as usize {
            // Bounded: drop the oldest pending ack (the cumulative field of newer ones covers
            // most of what it said), and say so.
            if let Some((old, _)) = self.acks.pop_front() {
                out(AppEvent::SendFailed { seq: old.seq, reason: SendFailure::BufferFull });
            }
        }
        self.acks.push_back((ack, from));
    }

    /// Sends the acknowledgements the socket has room for.
    pub fn tick(&mut self, socket: &mut dyn Socket, out: &mut dyn FnMut(AppEvent)) {
        while let Some((ack, to)) = self.acks.front().copied() {
            self.scratch.resize(ack.buffer_len(), 0);
            ack.emit(&mut self.scratch);
            match socket.send(&self.scratch, to) {
                Ok(()) => {
                    out(AppEvent::AckSent { seq: ack.seq, cumulative: ack.ack, to });
                    self.acks.pop_front();
                }
                Err(_) => break,
            }
        }
    }
}
