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

use crate::app::client::send_repr;
use crate::app::event::{AppEvent, Endpoint, SendFailure};
use crate::app::seq::SeqTracker;
use crate::app::{App, ArqConfig, Context, Receive, Schedule, receive_all};
use crate::wire::{self, Datagram, HEADER_LEN, Kind, Repr};

#[derive(Debug, Clone, Copy)]
struct InFlight {
    attempt: u16,
    first_sent_us: u64,
    rto_us: u64,
    deadline_us: u64,
}

/// The sending side of reliable mode (a client): numbered messages on a schedule, each
/// retransmitted until acknowledged.
#[derive(Debug)]
pub struct ReliableSender {
    port: u16,
    server: Endpoint,
    schedule: Schedule,
    size: usize,
    arq: ArqConfig,
    /// Next seq never sent yet.
    next: u32,
    /// Lowest seq not yet acknowledged or given up (window start).
    una: u32,
    /// Seqs `una..next` in order: `Some` while in flight, `None` once finished (acknowledged or
    /// given up) and waiting for `una` to pass. A ring rather than a map because every lookup
    /// is by seq inside the window and every scan is in seq order: the maps' searches and
    /// node walks cost ~1 600 instructions a datagram at window 32 (callgrind).
    window: VecDeque<Option<InFlight>>,
    /// Seqs whose timers fired, gathered before any is handled (handling one moves the window).
    expired: Vec<u32>,
    /// When an acknowledgement last moved the window on.
    window_opened_us: u64,
    scratch: Vec<u8>,
    rx: Vec<u8>,
}

impl ReliableSender {
    pub fn new(
        port: u16,
        server: Endpoint,
        schedule: Schedule,
        size: usize,
        arq: ArqConfig,
    ) -> ReliableSender {
        ReliableSender {
            port,
            server,
            schedule,
            size,
            arq,
            next: 1,
            una: 1,
            window: VecDeque::new(),
            expired: Vec::new(),
            window_opened_us: 0,
            scratch: Vec::new(),
            rx: Vec::new(),
        }
    }

    /// The message `seq` if it is in flight.
    fn in_flight(&self, seq: u32) -> Option<InFlight> {
        let i = seq.checked_sub(self.una)?;
        self.window.get(i as usize).copied().flatten()
    }

    /// Puts `f` in the place of `seq`, which is in the window.
    fn set(&mut self, seq: u32, f: InFlight) {
        self.window[(seq - self.una) as usize] = Some(f);
    }

    fn finish(&mut self, seq: u32) {
        if let Some(slot) = seq.checked_sub(self.una).and_then(|i| self.window.get_mut(i as usize)) {
            *slot = None;
        }
        while self.window.front().is_some_and(Option::is_none) {
            self.window.pop_front();
            self.una += 1;
        }
    }

    fn tick(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let now_us = cx.now_us();
        let mut expired = core::mem::take(&mut self.expired);
        expired.clear();
        let una = self.una;
        expired.extend(
            (una..)
                .zip(&self.window)
                .filter(|(_, f)| f.is_some_and(|f| f.deadline_us <= now_us))
                .map(|(seq, _)| seq),
        );
        for &seq in &expired {
            let Some(f) = self.in_flight(seq) else { continue };
            if self.arq.max_attempts != 0 && f.attempt >= self.arq.max_attempts {
                cx.report(AppEvent::GaveUp { seq, attempts: f.attempt });
                self.finish(seq);
                continue;
            }
            let rto_us = (f.rto_us * 2).min(self.arq.rto_max_us);
            cx.report(AppEvent::Timeout { seq, attempt: f.attempt, next_rto_us: rto_us });
            let attempt = f.attempt + 1;
            // Timers run from when they were due, not from when the machine got round to them:
            // on a real clock a late poll then delays nothing further, and timers due at one
            // instant stay due together (and fire in seq order, as in virtual time).
            let deadline_us = f.deadline_us + rto_us;
            self.set(seq, InFlight { attempt, rto_us, deadline_us, ..f });
            let repr = self.data(seq, f.first_sent_us, attempt);
            send_repr(cx, &repr, &mut self.scratch, self.server);
        }

        while self.next <= self.schedule.count
            && self.schedule.release_us(self.next) <= now_us
            && self.next < self.una + self.arq.window
        {
            let seq = self.next;
            self.next += 1;
            let rto_us = self.arq.rto_us;
            // Due when its schedule released it or when the window let it go, whichever came
            // later (in virtual time that is `now_us`; see the timeouts above).
            let due_us = self.schedule.release_us(seq).max(self.window_opened_us);
            self.window.push_back(Some(InFlight {
                attempt: 1,
                first_sent_us: now_us,
                rto_us,
                deadline_us: due_us + rto_us,
            }));
            let repr = self.data(seq, now_us, 1);
            send_repr(cx, &repr, &mut self.scratch, self.server);
        }

        self.expired = expired;
        let next_timer = self.window.iter().flatten().map(|f| f.deadline_us).min();
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

impl Receive for ReliableSender {
    fn rx(&mut self) -> &mut Vec<u8> {
        &mut self.rx
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, data: &[u8], from: Endpoint) {
        let now_us = cx.now_us();
        let una_before = self.una;
        let mut out = |e| cx.report(e);
        let bytes = data.len();
        let ack = match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Ack => r,
            Ok(_) => return out(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind }),
            Err(error) => return out(AppEvent::Invalid { from, bytes, error }),
        };
        match self.in_flight(ack.seq) {
            Some(f) => {
                let rtt_us =
                    (f.attempt == 1 && ack.attempt == 1).then(|| now_us.saturating_sub(f.first_sent_us));
                out(AppEvent::Acked { seq: ack.seq, rtt_us, cumulative: false });
                self.finish(ack.seq);
            }
            None => out(AppEvent::DuplicateAck { seq: ack.seq }),
        }
        // The cumulative part covers messages whose own acks were lost.
        // (`ack.ack` comes off the wire: only seqs inside the window are looked at.)
        for seq in self.una..ack.ack.min(self.next) {
            if self.in_flight(seq).is_some() {
                out(AppEvent::Acked { seq, rtt_us: None, cumulative: true });
                self.finish(seq);
            }
        }
        if self.una != una_before {
            self.window_opened_us = now_us;
        }
    }
}

impl App for ReliableSender {
    fn port(&self) -> u16 {
        self.port
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        receive_all(self, cx);
        self.tick(cx)
    }

    /// Everything acknowledged or given up.
    fn is_done(&self) -> bool {
        self.una > self.schedule.count
    }
}

/// The receiving side of reliable mode (a server): acknowledges every data datagram and
/// delivers messages in order, exactly once.
#[derive(Debug)]
pub struct ReliableReceiver {
    port: u16,
    window: u32,
    /// Next seq the application is waiting for.
    next: u32,
    /// Out-of-order messages held back: seq -> first send time.
    held: BTreeMap<u32, u64>,
    arrivals: SeqTracker,
    /// Acks waiting for room in the socket's transmit buffer (bounded by the window).
    acks: VecDeque<(Repr, Endpoint)>,
    scratch: Vec<u8>,
    rx: Vec<u8>,
}

impl ReliableReceiver {
    pub fn new(port: u16, window: u32) -> ReliableReceiver {
        ReliableReceiver {
            port,
            window,
            next: 1,
            held: BTreeMap::new(),
            arrivals: SeqTracker::default(),
            acks: VecDeque::new(),
            scratch: Vec::new(),
            rx: Vec::new(),
        }
    }

    /// Sends the acknowledgements the socket has room for; the rest wait (bounded) for the
    /// next poll.
    fn send_acks(&mut self, cx: &mut Context<'_>) {
        while let Some((ack, to)) = self.acks.front().copied() {
            self.scratch.resize(ack.buffer_len(), 0);
            ack.emit(&mut self.scratch);
            match cx.try_send_to(&self.scratch, to) {
                Ok(()) => {
                    cx.report(AppEvent::AckSent { seq: ack.seq, cumulative: ack.ack, to });
                    self.acks.pop_front();
                }
                Err(_) => break,
            }
        }
    }
}

impl Receive for ReliableReceiver {
    fn rx(&mut self) -> &mut Vec<u8> {
        &mut self.rx
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, data: &[u8], from: Endpoint) {
        let now_us = cx.now_us();
        let mut out = |e| cx.report(e);
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
        if !duplicate && r.seq == self.next {
            // The one the application waits for: delivered without a stay in `held` (on a clean
            // link that is every message, and a map insert and remove each time cost an
            // allocation and a free).
            out(AppEvent::Delivered { seq: r.seq, from, latency_us: Some(one_way_us) });
            self.next += 1;
        } else if !duplicate {
            self.held.insert(r.seq, r.sent_us);
        }
        while let Some(sent_us) = self.held.remove(&self.next) {
            out(AppEvent::Delivered {
                seq: self.next,
                from,
                latency_us: Some(now_us.saturating_sub(sent_us)),
            });
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
            if let Some((old, to)) = self.acks.pop_front() {
                let bytes = old.buffer_len();
                out(AppEvent::SendFailed { seq: Some(old.seq), to, bytes, reason: SendFailure::BufferFull });
            }
        }
        self.acks.push_back((ack, from));
    }
}

impl App for ReliableReceiver {
    fn port(&self) -> u16 {
        self.port
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        receive_all(self, cx);
        self.send_acks(cx);
        None
    }

    /// Nothing to do on its own once every acknowledgement is out.
    fn is_done(&self) -> bool {
        self.acks.is_empty()
    }
}
