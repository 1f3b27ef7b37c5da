//! What the app reports: every send, receipt, echo, acknowledgement and timeout, so a runner
//! can put the application's view beside the link's view in one trace.

use core::fmt;
use serde::Serialize;
use smoltcp::wire::{IpAddress, IpEndpoint};

use crate::app::Note;
use crate::wire;

/// An IPv4 endpoint in a form that serialises and prints the same on every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Endpoint {
    pub addr: [u8; 4],
    pub port: u16,
}

impl Endpoint {
    pub fn from_smoltcp(ep: IpEndpoint) -> Endpoint {
        let addr = match ep.addr {
            IpAddress::Ipv4(a) => a.octets(),
        };
        Endpoint { addr, port: ep.port }
    }
}

impl Endpoint {
    /// Writes `192.0.2.1:49152` (what `Display` shows).
    pub fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        use crate::text::uint;
        for (i, octet) in self.addr.iter().enumerate() {
            if i > 0 {
                w.write_char('.')?;
            }
            uint(w, u64::from(*octet))?;
        }
        w.write_char(':')?;
        uint(w, u64::from(self.port))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// How a received sequence number relates to the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// First time seen, and higher than every seq before it.
    InOrder,
    /// First time seen, but a higher seq arrived earlier: this one was overtaken (or is a
    /// retransmission filling a gap).
    Late,
    /// Seen before: a duplicate reached the application.
    Duplicate,
    /// Too far below the highest seq to remember (the tracker window is bounded).
    TooOld,
}

impl Order {
    pub fn label(self) -> &'static str {
        match self {
            Order::InOrder => "",
            Order::Late => " LATE (out of order)",
            Order::Duplicate => " DUPLICATE",
            Order::TooOld => " too old to check for duplicates",
        }
    }
}

/// Why a send did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SendFailure {
    /// The socket's bounded transmit buffer is full: the datagram is dropped here.
    BufferFull,
    /// smoltcp refused the destination or the payload size.
    Refused,
}

/// One thing the application did or saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "app", rename_all = "kebab-case")]
pub enum AppEvent {
    /// A data datagram was handed to the socket.
    Sent { seq: u32, to: Endpoint, bytes: usize, attempt: u16 },
    /// A datagram could not be handed to the socket and was dropped: `seq` for a message sent
    /// with `Context::send_message`, `None` for plain `send_to`.
    SendFailed { seq: Option<u32>, to: Endpoint, bytes: usize, reason: SendFailure },
    /// A server (or reliable receiver) got a udplab data datagram.
    Received { seq: u32, from: Endpoint, bytes: usize, one_way_us: u64, order: Order },
    /// Bytes arrived that are not a valid udplab datagram (foreign, or damaged: CRC mismatch).
    Invalid { from: Endpoint, bytes: usize, error: wire::Error },
    /// An echo server sent the bytes back.
    Echoed { seq: Option<u32>, to: Endpoint, bytes: usize },
    /// A client got its datagram back from an echo server.
    Reply { seq: u32, rtt_us: u64, order: Order },
    /// A closed-loop client stopped waiting for the reply to `seq` after `waited_us` (a reply
    /// that comes later is still a reply, but the message no longer holds a place).
    NoReply { seq: u32, waited_us: u64 },
    /// Reliable receiver: an acknowledgement was sent (`cumulative`: every seq below it is in).
    AckSent { seq: u32, cumulative: u32, to: Endpoint },
    /// A message reached the receiving application (the reliable receiver: in order, exactly
    /// once). `latency_us` is measured from the message's first send when the app knows it
    /// (udplab's header carries it); otherwise the harness measures it from the trace.
    Delivered { seq: u32, from: Endpoint, latency_us: Option<u64> },
    /// Reliable receiver: a message too far ahead of the window was dropped.
    BeyondWindow { seq: u32, window_start: u32 },
    /// Reliable sender: a message was acknowledged for the first time, by its own ack or, when
    /// that was lost, by the cumulative part of a later one. `rtt_us` is measured only from
    /// first transmissions acknowledged by their own ack (Karn's rule).
    Acked { seq: u32, rtt_us: Option<u64>, cumulative: bool },
    /// Reliable sender: an acknowledgement for a message already acknowledged.
    DuplicateAck { seq: u32 },
    /// Reliable sender: the retransmission timer of a message fired.
    Timeout { seq: u32, attempt: u16, next_rto_us: u64 },
    /// Reliable sender: a message ran out of attempts.
    GaveUp { seq: u32, attempts: u16 },
    /// An app's own event.
    Note(Note),
}

impl AppEvent {
    /// Writes the event as its timeline text (what `Display` shows), through
    /// [`crate::text`] so a trace line costs no formatting machinery.
    pub fn render<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        use crate::text::uint;
        let seq_is = |w: &mut W, what: &str, seq: u32| {
            w.write_str(what)?;
            w.write_str(" seq=")?;
            uint(w, u64::from(seq))
        };
        match *self {
            AppEvent::Sent { seq, to, bytes, attempt } => {
                seq_is(w, "send", seq)?;
                w.write_str(" ")?;
                uint(w, bytes as u64)?;
                w.write_str("B to ")?;
                to.render(w)?;
                if attempt > 1 {
                    w.write_str(" (retransmission, attempt ")?;
                    uint(w, u64::from(attempt))?;
                    w.write_str(")")?;
                }
                Ok(())
            }
            AppEvent::SendFailed { seq, to, bytes, reason } => {
                match seq {
                    Some(seq) => seq_is(w, "DROP", seq)?,
                    None => {
                        w.write_str("DROP ")?;
                        uint(w, bytes as u64)?;
                        w.write_str("B to ")?;
                        to.render(w)?;
                    }
                }
                w.write_str(match reason {
                    SendFailure::BufferFull => ": socket send buffer full",
                    SendFailure::Refused => ": socket refused the send",
                })
            }
            AppEvent::Received { seq, from, bytes, one_way_us, order } => {
                seq_is(w, "recv", seq)?;
                w.write_str(" ")?;
                uint(w, bytes as u64)?;
                w.write_str("B from ")?;
                from.render(w)?;
                w.write_str(", one-way ")?;
                Ms(one_way_us).render(w)?;
                w.write_str(order.label())
            }
            AppEvent::Invalid { from, bytes, error } => {
                write!(w, "recv {bytes}B from {from}: rejected, {error}")
            }
            AppEvent::Echoed { seq, to, bytes } => {
                match seq {
                    Some(seq) => seq_is(w, "echo", seq)?,
                    None => w.write_str("echo")?,
                }
                w.write_str(" ")?;
                uint(w, bytes as u64)?;
                w.write_str("B back to ")?;
                to.render(w)
            }
            AppEvent::Reply { seq, rtt_us, order } => {
                seq_is(w, "reply", seq)?;
                w.write_str(", round trip ")?;
                Ms(rtt_us).render(w)?;
                w.write_str(order.label())
            }
            AppEvent::NoReply { seq, waited_us } => {
                w.write_str("no reply to seq=")?;
                uint(w, u64::from(seq))?;
                w.write_str(" within ")?;
                Ms(waited_us).render(w)?;
                w.write_str(", stop waiting")
            }
            AppEvent::AckSent { seq, cumulative, to } => {
                seq_is(w, "ack", seq)?;
                w.write_str(" (all below ")?;
                uint(w, u64::from(cumulative))?;
                w.write_str(" received) to ")?;
                to.render(w)
            }
            AppEvent::Delivered { seq, latency_us: Some(latency), .. } => {
                seq_is(w, "deliver", seq)?;
                w.write_str(" to the application, ")?;
                Ms(latency).render(w)?;
                w.write_str(" after first send")
            }
            AppEvent::Delivered { seq, from, latency_us: None } => {
                seq_is(w, "deliver", seq)?;
                w.write_str(" from ")?;
                from.render(w)?;
                w.write_str(" to the application")
            }
            AppEvent::BeyondWindow { seq, window_start } => {
                write!(w, "DROP seq={seq}: beyond the receive window starting at {window_start}")
            }
            AppEvent::Acked { seq, rtt_us: Some(rtt), .. } => {
                seq_is(w, "acked", seq)?;
                w.write_str(", round trip ")?;
                Ms(rtt).render(w)
            }
            AppEvent::Acked { seq, rtt_us: None, cumulative: true } => {
                seq_is(w, "acked", seq)?;
                w.write_str(" by a later cumulative ack (its own ack was lost)")
            }
            AppEvent::Acked { seq, rtt_us: None, cumulative: false } => {
                seq_is(w, "acked", seq)?;
                w.write_str(" after retransmission (no round-trip sample: Karn's rule)")
            }
            AppEvent::DuplicateAck { seq } => {
                seq_is(w, "duplicate ack", seq)?;
                w.write_str(", ignored")
            }
            AppEvent::Timeout { seq, attempt, next_rto_us } => {
                seq_is(w, "timeout", seq)?;
                w.write_str(" after attempt ")?;
                uint(w, u64::from(attempt))?;
                w.write_str(", next timeout ")?;
                Ms(next_rto_us).render(w)
            }
            AppEvent::GaveUp { seq, attempts } => {
                write!(w, "GIVE UP seq={seq} after {attempts} attempts")
            }
            AppEvent::Note(note) => write!(w, "{note}"),
        }
    }
}

impl fmt::Display for AppEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}

/// Microseconds printed as milliseconds with three decimals, using integers only so every
/// target prints the same digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ms(pub u64);

impl Ms {
    /// Writes `12.345ms` (what `Display` shows, without its padding).
    pub fn render<W: fmt::Write + ?Sized>(self, w: &mut W) -> fmt::Result {
        crate::text::fixed(w, self.0, 3)?;
        w.write_str("ms")
    }
}

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f)
    }
}
