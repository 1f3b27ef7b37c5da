//! What the app reports: every send, receipt, echo, acknowledgement and timeout, so a runner
//! can put the application's view beside the link's view in one trace.

use core::fmt;
use serde::Serialize;
use smoltcp::wire::{IpAddress, IpEndpoint};

use crate::app::Note;
use crate::wire;

/// An IPv4 endpoint in a form that serialises and prints the same on every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// How a received sequence number relates to the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SendFailure {
    /// The socket's bounded transmit buffer is full: the datagram is dropped here.
    BufferFull,
    /// smoltcp refused the destination or the payload size.
    Refused,
}

/// One thing the application did or saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

impl fmt::Display for AppEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AppEvent::Sent { seq, to, bytes, attempt } => {
                write!(f, "send seq={seq} {bytes}B to {to}")?;
                if attempt > 1 {
                    write!(f, " (retransmission, attempt {attempt})")?;
                }
                Ok(())
            }
            AppEvent::SendFailed { seq, to, bytes, reason } => {
                match seq {
                    Some(seq) => write!(f, "DROP seq={seq}: ")?,
                    None => write!(f, "DROP {bytes}B to {to}: ")?,
                }
                f.write_str(match reason {
                    SendFailure::BufferFull => "socket send buffer full",
                    SendFailure::Refused => "socket refused the send",
                })
            }
            AppEvent::Received { seq, from, bytes, one_way_us, order } => {
                write!(f, "recv seq={seq} {bytes}B from {from}, one-way {}{}", Ms(one_way_us), order.label())
            }
            AppEvent::Invalid { from, bytes, error } => {
                write!(f, "recv {bytes}B from {from}: rejected, {error}")
            }
            AppEvent::Echoed { seq: Some(seq), to, bytes } => {
                write!(f, "echo seq={seq} {bytes}B back to {to}")
            }
            AppEvent::Echoed { seq: None, to, bytes } => write!(f, "echo {bytes}B back to {to}"),
            AppEvent::Reply { seq, rtt_us, order } => {
                write!(f, "reply seq={seq}, round trip {}{}", Ms(rtt_us), order.label())
            }
            AppEvent::NoReply { seq, waited_us } => {
                write!(f, "no reply to seq={seq} within {}, stop waiting", Ms(waited_us))
            }
            AppEvent::AckSent { seq, cumulative, to } => {
                write!(f, "ack seq={seq} (all below {cumulative} received) to {to}")
            }
            AppEvent::Delivered { seq, latency_us: Some(latency), .. } => {
                write!(f, "deliver seq={seq} to the application, {} after first send", Ms(latency))
            }
            AppEvent::Delivered { seq, from, latency_us: None } => {
                write!(f, "deliver seq={seq} from {from} to the application")
            }
            AppEvent::BeyondWindow { seq, window_start } => {
                write!(f, "DROP seq={seq}: beyond the receive window starting at {window_start}")
            }
            AppEvent::Acked { seq, rtt_us: Some(rtt), .. } => {
                write!(f, "acked seq={seq}, round trip {}", Ms(rtt))
            }
            AppEvent::Acked { seq, rtt_us: None, cumulative: true } => {
                write!(f, "acked seq={seq} by a later cumulative ack (its own ack was lost)")
            }
            AppEvent::Acked { seq, rtt_us: None, cumulative: false } => {
                write!(f, "acked seq={seq} after retransmission (no round-trip sample: Karn's rule)")
            }
            AppEvent::DuplicateAck { seq } => write!(f, "duplicate ack seq={seq}, ignored"),
            AppEvent::Timeout { seq, attempt, next_rto_us } => {
                write!(f, "timeout seq={seq} after attempt {attempt}, next timeout {}", Ms(next_rto_us))
            }
            AppEvent::GaveUp { seq, attempts } => {
                write!(f, "GIVE UP seq={seq} after {attempts} attempts")
            }
            AppEvent::Note(note) => note.fmt(f),
        }
    }
}

/// Microseconds printed as milliseconds with three decimals, using integers only so every
/// target prints the same digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ms(pub u64);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}ms", self.0 / 1000, self.0 % 1000)
    }
}
