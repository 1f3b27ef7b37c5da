//! The classic lesson client: send N numbered datagrams and learn what the network did from
//! the echoes (lost: never answered; duplicated; reordered; round-trip time).
//!
//! Open loop (the default) sends on a fixed schedule whatever comes back, as a sensor does.
//! Closed loop ([`Client::in_flight`]) also waits for answers: at most W messages unanswered at
//! once, so W = 1 is stop-and-wait and a larger W a window; a message whose reply does not come
//! within the reply timeout is given up and frees its place. That is how a request/response
//! program behaves (`sendto`, then `recvfrom` with `settimeout`), and the workload the
//! benchmarks compare with bare smoltcp.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{App, Context, Receive, Schedule, receive_all};
use crate::wire::{self, Datagram, HEADER_LEN, Kind, Repr};

/// Sends `count` numbered datagrams to a server on a schedule, optionally waiting for replies.
#[derive(Debug)]
pub struct Client {
    port: u16,
    server: Endpoint,
    schedule: Schedule,
    size: usize,
    /// Next seq to send (from 1).
    next: u32,
    replies: SeqTracker,
    window: Option<Window>,
    scratch: Vec<u8>,
    rx: Vec<u8>,
}

/// The closed loop's bookkeeping: the messages sent since the oldest one still waiting.
#[derive(Debug)]
struct Window {
    limit: u32,
    timeout_us: u64,
    /// Seq of `slots[0]`.
    first: u32,
    /// Per message from `first` on: its reply deadline, `None` once answered. Deadlines grow
    /// with seq (sent in order, one timeout), so only the front can be the next to expire.
    slots: VecDeque<Option<u64>>,
    /// Slots still waiting (not answered, not given up).
    waiting: u32,
}

impl Window {
    /// Gives up the waiting messages whose deadline passed (reporting each) and forgets the
    /// answered ones in front.
    fn expire(&mut self, cx: &mut Context<'_>) {
        while let Some(&front) = self.slots.front() {
            match front {
                Some(deadline) if deadline > cx.now_us() => break,
                Some(_) => {
                    self.waiting -= 1;
                    cx.report(AppEvent::NoReply { seq: self.first, waited_us: self.timeout_us });
                }
                None => {}
            }
            self.slots.pop_front();
            self.first += 1;
        }
    }

    fn answered(&mut self, seq: u32) {
        let Some(back) = seq.checked_sub(self.first) else { return };
        if let Some(slot @ Some(_)) = self.slots.get_mut(back as usize) {
            *slot = None;
            self.waiting -= 1;
        }
    }
}

impl Client {
    pub fn new(port: u16, server: Endpoint, schedule: Schedule, size: usize) -> Client {
        Client {
            port,
            server,
            schedule,
            size,
            next: 1,
            replies: SeqTracker::default(),
            window: None,
            scratch: Vec::new(),
            rx: Vec::new(),
        }
    }

    /// Closed loop: at most `limit` messages unanswered at once (1: stop-and-wait); a message is
    /// sent at its scheduled time or, when the window is full, as soon as a reply or a timeout
    /// frees a place. An unanswered message is given up `reply_timeout_us` after its send
    /// (traced as no reply). `limit` 0 is taken as 1.
    pub fn in_flight(mut self, limit: u32, reply_timeout_us: u64) -> Client {
        self.window = Some(Window {
            limit: limit.max(1),
            timeout_us: reply_timeout_us,
            first: 1,
            slots: VecDeque::new(),
            waiting: 0,
        });
        self
    }

    fn window_full(&self) -> bool {
        self.window.as_ref().is_some_and(|w| w.waiting >= w.limit)
    }
}

impl Receive for Client {
    fn rx(&mut self) -> &mut Vec<u8> {
        &mut self.rx
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, data: &[u8], from: Endpoint) {
        let bytes = data.len();
        match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Data && r.seq >= 1 && r.seq < self.next => {
                let order = self.replies.observe(r.seq);
                if let Some(w) = &mut self.window {
                    w.answered(r.seq);
                }
                cx.report(AppEvent::Reply {
                    seq: r.seq,
                    rtt_us: cx.now_us().saturating_sub(r.sent_us),
                    order,
                });
            }
            Ok(_) => cx.report(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind }),
            Err(error) => cx.report(AppEvent::Invalid { from, bytes, error }),
        }
    }
}

impl App for Client {
    fn port(&self) -> u16 {
        self.port
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        receive_all(self, cx);
        if let Some(w) = &mut self.window {
            w.expire(cx);
        }
        let now_us = cx.now_us();
        while self.next <= self.schedule.count
            && self.schedule.release_us(self.next) <= now_us
            && !self.window_full()
        {
            let seq = self.next;
            self.next += 1;
            let payload_len = self.size - HEADER_LEN;
            let repr = Repr { kind: Kind::Data, seq, sent_us: now_us, ack: 0, attempt: 1, payload_len };
            send_repr(cx, &repr, &mut self.scratch, self.server);
            if let Some(w) = &mut self.window {
                w.slots.push_back(Some(now_us.saturating_add(w.timeout_us)));
                w.waiting += 1;
            }
        }
        let release = (self.next <= self.schedule.count && !self.window_full())
            .then(|| self.schedule.release_us(self.next));
        // While messages wait, the oldest one's deadline is a wake-up too (it frees a place, or
        // at least must be reported); after the last send it is what keeps the client polled.
        let deadline = self.window.as_ref().and_then(|w| w.slots.front().copied().flatten());
        match (release, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every datagram has been handed to the socket, and a closed loop has stopped waiting.
    fn is_done(&self) -> bool {
        self.next > self.schedule.count && self.window.as_ref().is_none_or(|w| w.waiting == 0)
    }
}

/// Emits `repr` and sends it as message `repr.seq`.
pub(crate) fn send_repr(cx: &mut Context<'_>, repr: &Repr, scratch: &mut Vec<u8>, to: Endpoint) {
    scratch.resize(repr.buffer_len(), 0);
    repr.emit(scratch);
    let _ = cx.send_message(repr.seq, repr.attempt, scratch, to);
}
