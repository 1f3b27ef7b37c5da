//! The classic lesson client: send N numbered datagrams at a fixed interval and learn what the
//! network did from the echoes (lost: never answered; duplicated; reordered; round-trip time).

use alloc::vec::Vec;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{Schedule, Socket, send_message};
use crate::wire::{self, Datagram, HEADER_LEN, Kind, Repr};

#[derive(Debug)]
pub struct Client {
    server: Endpoint,
    schedule: Schedule,
    size: usize,
    /// Next seq to send (from 1).
    next: u32,
    replies: SeqTracker,
    scratch: Vec<u8>,
}

impl Client {
    pub fn new(server: Endpoint, schedule: Schedule, size: usize) -> Client {
        Client { server, schedule, size, next: 1, replies: SeqTracker::default(), scratch: Vec::new() }
    }

    pub fn on_datagram(&mut self, now_us: u64, data: &[u8], from: Endpoint, out: &mut dyn FnMut(AppEvent)) {
        let bytes = data.len();
        match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Data && r.seq >= 1 && r.seq < self.next => {
                let order = self.replies.observe(r.seq);
                out(AppEvent::Reply { seq: r.seq, rtt_us: now_us.saturating_sub(r.sent_us), order });
            }
            Ok(_) => out(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind }),
            Err(error) => out(AppEvent::Invalid { from, bytes, error }),
        }
    }

    pub fn tick(
        &mut self,
        now_us: u64,
        socket: &mut dyn Socket,
        out: &mut dyn FnMut(AppEvent),
    ) -> Option<u64> {
        while self.next <= self.schedule.count && self.schedule.release_us(self.next) <= now_us {
            let seq = self.next;
            self.next += 1;
            let payload_len = self.size - HEADER_LEN;
            let repr = Repr { kind: Kind::Data, seq, sent_us: now_us, ack: 0, attempt: 1, payload_len };
            send_message(socket, &repr, &mut self.scratch, self.server, out);
        }
        (self.next <= self.schedule.count).then(|| self.schedule.release_us(self.next))
    }

    /// Every datagram has been handed to the socket.
    pub fn is_done(&self) -> bool {
        self.next > self.schedule.count
    }
}
