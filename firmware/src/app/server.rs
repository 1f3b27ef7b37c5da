//! The classic lesson server: bind a port, `recvfrom` in a loop, log each datagram with its
//! sender, and echo it back unchanged or keep it (sink).

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{Reply, Socket};
use crate::wire::{self, Datagram, Kind, Repr};

#[derive(Debug)]
pub struct Server {
    reply: Reply,
    seen: SeqTracker,
}

impl Server {
    pub fn new(reply: Reply) -> Server {
        Server { reply, seen: SeqTracker::default() }
    }

    pub fn on_datagram(
        &mut self,
        now_us: u64,
        data: &[u8],
        from: Endpoint,
        socket: &mut dyn Socket,
        out: &mut dyn FnMut(AppEvent),
    ) {
        let bytes = data.len();
        let seq = match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Data => {
                let order = self.seen.observe(r.seq);
                let one_way_us = now_us.saturating_sub(r.sent_us);
                out(AppEvent::Received { seq: r.seq, from, bytes, one_way_us, order });
                Some(r.seq)
            }
            Ok(_) => {
                out(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind });
                None
            }
            Err(error) => {
                out(AppEvent::Invalid { from, bytes, error });
                None
            }
        };
        if self.reply == Reply::Echo {
            // A real echo server returns whatever it got, damaged or foreign bytes included.
            match socket.send(data, from) {
                Ok(()) => out(AppEvent::Echoed { seq, to: from, bytes }),
                Err(reason) => out(AppEvent::SendFailed { seq: seq.unwrap_or(0), reason }),
            }
        }
    }
}
