//! The classic lesson client: send N numbered datagrams at a fixed interval and learn what the
//! network did from the echoes (lost: never answered; duplicated; reordered; round-trip time).

use alloc::vec::Vec;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{App, Context, Receive, Schedule, receive_all};
use crate::wire::{self, Datagram, HEADER_LEN, Kind, Repr};

/// Sends `count` numbered datagrams to a server on a fixed schedule.
#[derive(Debug)]
pub struct Client {
    port: u16,
    server: Endpoint,
    schedule: Schedule,
    size: usize,
    /// Next seq to send (from 1).
    next: u32,
    replies: SeqTracker,
    scratch: Vec<u8>,
    rx: Vec<u8>,
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
            scratch: Vec::new(),
            rx: Vec::new(),
        }
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
        let now_us = cx.now_us();
        while self.next <= self.schedule.count && self.schedule.release_us(self.next) <= now_us {
            let seq = self.next;
            self.next += 1;
            let payload_len = self.size - HEADER_LEN;
            let repr = Repr { kind: Kind::Data, seq, sent_us: now_us, ack: 0, attempt: 1, payload_len };
            send_repr(cx, &repr, &mut self.scratch, self.server);
        }
        (self.next <= self.schedule.count).then(|| self.schedule.release_us(self.next))
    }

    /// Every datagram has been handed to the socket.
    fn is_done(&self) -> bool {
        self.next > self.schedule.count
    }
}

/// Emits `repr` and sends it as message `repr.seq`.
pub(crate) fn send_repr(cx: &mut Context<'_>, repr: &Repr, scratch: &mut Vec<u8>, to: Endpoint) {
    scratch.resize(repr.buffer_len(), 0);
    repr.emit(scratch);
    let _ = cx.send_message(repr.seq, repr.attempt, scratch, to);
}
