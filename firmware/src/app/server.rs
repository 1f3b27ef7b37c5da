//! The classic lesson server: bind a port, `recvfrom` in a loop, log each datagram with its
//! sender, and echo it back unchanged or keep it (sink).

use alloc::vec::Vec;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{App, Context, Receive, Reply, receive_all};
use crate::wire::{self, Datagram, Kind, Repr};

/// Echo or sink server on one port.
#[derive(Debug)]
pub struct Server {
    port: u16,
    reply: Reply,
    seen: SeqTracker,
    rx: Vec<u8>,
}

impl Server {
    pub fn new(port: u16, reply: Reply) -> Server {
        Server { port, reply, seen: SeqTracker::default(), rx: Vec::new() }
    }
}

impl Receive for Server {
    fn rx(&mut self) -> &mut Vec<u8> {
        &mut self.rx
    }

    fn on_datagram(&mut self, cx: &mut Context<'_>, data: &[u8], from: Endpoint) {
        let bytes = data.len();
        let seq = match Datagram::new_checked(data).and_then(|d| Repr::parse(&d)) {
            Ok(r) if r.kind == Kind::Data => {
                let order = self.seen.observe(r.seq);
                let one_way_us = cx.now_us().saturating_sub(r.sent_us);
                cx.report(AppEvent::Received { seq: r.seq, from, bytes, one_way_us, order });
                Some(r.seq)
            }
            Ok(_) => {
                cx.report(AppEvent::Invalid { from, bytes, error: wire::Error::BadKind });
                None
            }
            Err(error) => {
                cx.report(AppEvent::Invalid { from, bytes, error });
                None
            }
        };
        if self.reply == Reply::Echo {
            // A real echo server returns whatever it got, damaged or foreign bytes included.
            match cx.try_send_to(data, from) {
                Ok(()) => cx.report(AppEvent::Echoed { seq, to: from, bytes }),
                Err(reason) => cx.report(AppEvent::SendFailed { seq, to: from, bytes, reason }),
            }
        }
    }
}

impl App for Server {
    fn port(&self) -> u16 {
        self.port
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        receive_all(self, cx);
        None
    }

    /// A server has nothing to do on its own.
    fn is_done(&self) -> bool {
        true
    }
}
