//! The classic lesson client: send N numbered datagrams at a fixed interval and learn what the
//! network did from the echoes (lost: never answered; duplicated; reordered; round-trip time).

use alloc::vec::Vec;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::IpEndpoint;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{Schedule, send_message};
use crate::wire::{Datagram, Kind, Repr};

#[derive(Debug)]
pub struct Client {
    server: IpEndpoint,
    schedule: Schedule,
    size: usize,
    /// Next seq to send (from 1).
    next: u32,
    replies: SeqTracker,
    scratch: Vec<u8>,
}

impl Client {
    pub fn new(server: IpEndpoint, schedule: Schedule, size: usize) -> Client {
        Client {
            server,
            schedule,
            size,
            next: 1,
            replies: SeqTracker::default(),
            scratch: Vec::new(),
        }
    }

    pub fn poll(
        &mut self,
        now_us: u64,
        handle: SocketHandle,
        sockets: &mut SocketSet<'_>,
        out: &mut dyn FnMut(AppEvent),
    ) -> Option<u64> {
        let socket = sockets.get_mut::<udp::Socket>(handle);
        while let Ok((data, meta)) = socket.recv() {
            let from = Endpoint::from_smoltcp(meta.endpoint);
            let bytes = data.len();
            match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
                Ok(r) if r.kind == Kind::Data && r.seq >= 1 && r.seq < self.next => {
                    let order = self.replies.observe(r.seq);
                    out(AppEvent::Reply {
                        seq: r.seq,
                        rtt_us: now_us.saturating_sub(r.sent_us),
                        order,
                    });
                }
                Ok(_) => out(AppEvent::Invalid {
                    from,
                    bytes,
                    error: crate::wire::Error::BadKind,
                }),
                Err(error) => out(AppEvent::Invalid { from, bytes, error }),
            }
        }
        while self.next <= self.schedule.count && self.schedule.release_us(self.next) <= now_us {
            let seq = self.next;
            self.next += 1;
            let repr = Repr {
                kind: Kind::Data,
                seq,
                sent_us: now_us,
                ack: 0,
                attempt: 1,
                payload_len: self.size - crate::wire::HEADER_LEN,
            };
            send_message(socket, &repr, &mut self.scratch, self.server, out);
        }
        (self.next <= self.schedule.count).then(|| self.schedule.release_us(self.next))
    }

    /// Every datagram has been handed to the socket.
    pub fn is_done(&self) -> bool {
        self.next > self.schedule.count
    }
}
