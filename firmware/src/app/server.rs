//! The classic lesson server: bind a port, `recvfrom` in a loop, log each datagram with its
//! sender, and echo it back unchanged or keep it (sink).

use alloc::vec::Vec;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;

use crate::app::event::{AppEvent, Endpoint};
use crate::app::seq::SeqTracker;
use crate::app::{Reply, send_bytes};
use crate::wire::{Datagram, Kind, Repr};

#[derive(Debug)]
pub struct Server {
    reply: Reply,
    seen: SeqTracker,
    scratch: Vec<u8>,
}

impl Server {
    pub fn new(reply: Reply) -> Server {
        Server {
            reply,
            seen: SeqTracker::default(),
            scratch: Vec::new(),
        }
    }

    pub fn poll(
        &mut self,
        now_us: u64,
        handle: SocketHandle,
        sockets: &mut SocketSet<'_>,
        out: &mut dyn FnMut(AppEvent),
    ) {
        let socket = sockets.get_mut::<udp::Socket>(handle);
        while let Ok((data, meta)) = socket.recv() {
            let from = Endpoint::from_smoltcp(meta.endpoint);
            self.scratch.clear();
            self.scratch.extend_from_slice(data);
            let bytes = self.scratch.len();
            let parsed = Datagram::new_checked(&self.scratch[..]).and_then(|d| Repr::parse(&d));
            let seq = match parsed {
                Ok(r) if r.kind == Kind::Data => {
                    let order = self.seen.observe(r.seq);
                    let one_way_us = now_us.saturating_sub(r.sent_us);
                    out(AppEvent::Received {
                        seq: r.seq,
                        from,
                        bytes,
                        one_way_us,
                        order,
                    });
                    Some(r.seq)
                }
                Ok(_) => {
                    // An ack sent to a plain server: log it as foreign, echo it like anything else.
                    out(AppEvent::Invalid {
                        from,
                        bytes,
                        error: crate::wire::Error::BadKind,
                    });
                    None
                }
                Err(error) => {
                    out(AppEvent::Invalid { from, bytes, error });
                    None
                }
            };
            if self.reply == Reply::Echo {
                // A real echo server returns whatever it got, damaged or foreign bytes included.
                match send_bytes(socket, &self.scratch, meta.endpoint) {
                    Ok(()) => out(AppEvent::Echoed {
                        seq,
                        to: from,
                        bytes,
                    }),
                    Err(reason) => out(AppEvent::SendFailed {
                        seq: seq.unwrap_or(0),
                        reason,
                    }),
                }
            }
        }
    }
}
