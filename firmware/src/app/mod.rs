//! The app under test: the [`App`] trait every node's code implements, the [`Context`] a runner
//! polls it with, and the built-in apps (echo/sink server, numbered client, reliable ARQ pair)
//! that the lessons use.
//!
//! An app is sans-IO: it never owns a socket, a clock or a random number generator. A runner
//! (virtual time, a TAP device, the ESP32's radio) calls [`App::poll`] with the current time
//! and a socket that has the two calls of the classroom `socket`/`sendto`/`recvfrom` program;
//! the app reads what arrived, sends what is due, reports what it did as [`AppEvent`]s and says
//! when it next wants to run. That contract is what lets the same code run unchanged in memory,
//! on the host and on the chip, and keeps a scenario + seed reproducible byte for byte.

mod client;
pub mod event;
mod note;
mod reliable;
pub mod seq;
mod server;

use alloc::boxed::Box;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};

pub use client::Client;
pub use event::{AppEvent, Endpoint, Ms, Order, SendFailure};
pub use note::Note;
pub use reliable::{ReliableReceiver, ReliableSender};
pub use server::Server;

use crate::wire::HEADER_LEN;

/// Largest datagram the built-in apps send: a 1500-byte MTU minus IPv4 and UDP headers, so
/// nothing needs IP fragmentation.
pub const MAX_DATAGRAM: usize = 1472;
/// Datagrams each socket buffer holds in each direction (bounded: overflow is an event).
pub const SOCKET_SLOTS: usize = 32;
/// Payload bytes each socket buffer holds in each direction: small enough for four of them in
/// an ESP32 heap, large enough for a full window of lesson-sized datagrams.
pub const SOCKET_BYTES: usize = 16 * 1024;
/// Receive buffer of the built-in apps: longer datagrams (only a kernel peer could send one)
/// are truncated, and then fail the CRC.
const RX_BUFFER: usize = 2048;

/// A node's application, polled by a runner. Implement it for your own protocol; the built-in
/// [`Server`], [`Client`], [`ReliableSender`] and [`ReliableReceiver`] are implementations too.
///
/// Rules that keep runs reproducible: read time only from [`Context::now_us`], take randomness
/// only from state you were constructed with, and do everything through the context. An app
/// that follows them gives the same trace for the same scenario and seed on every runner.
///
/// ```
/// use udplab_firmware::{App, Context, Endpoint, Note};
///
/// /// Answers every datagram with its length, as one byte.
/// struct LengthEcho;
///
/// impl App for LengthEcho {
///     fn port(&self) -> u16 {
///         7000
///     }
///     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
///         let mut buf = [0u8; 512];
///         while let Some((n, from)) = cx.recv_from(&mut buf) {
///             cx.note(Note::new("got").with("bytes", n as i64));
///             let _ = cx.send_to(&[n as u8], from);
///         }
///         None // nothing to do until the next datagram
///     }
/// }
/// ```
pub trait App {
    /// The UDP port the node's socket is bound to (what `bind` does in the classroom program).
    fn port(&self) -> u16;

    /// Handles whatever the socket received, sends what is due, and returns the time (in
    /// microseconds on the runner's clock) at which it next wants to run even if nothing
    /// arrives; `None` means only incoming datagrams can make it do anything. Runners also
    /// poll it at time 0 and after every arrival.
    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64>;

    /// Whether the app has nothing left to do on its own: a client that sent everything, or a
    /// server (it only ever answers). Real-clock runners end a run early once every app is done
    /// and the links are quiet; the default, `false`, means "run until the scenario's duration".
    fn is_done(&self) -> bool {
        false
    }
}

impl<A: App + ?Sized> App for Box<A> {
    fn port(&self) -> u16 {
        (**self).port()
    }
    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        (**self).poll(cx)
    }
    fn is_done(&self) -> bool {
        (**self).is_done()
    }
}

/// The two calls an app needs from a UDP socket, what `recvfrom` and `sendto` do. Runners
/// implement it (smoltcp in memory, on a TAP and on the ESP32; kernel sockets for host peers);
/// apps use it through [`Context`].
pub trait Socket {
    /// Copies the next waiting datagram into `buf` and returns its length and sender; `None`
    /// when nothing is waiting. A datagram longer than `buf` is truncated.
    fn recv_from(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)>;
    /// Queues a datagram for sending.
    fn send_to(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure>;
}

/// What an app sees during one [`App::poll`]: the time, its socket, and the trace.
pub struct Context<'a> {
    now_us: u64,
    socket: &'a mut dyn Socket,
    out: &'a mut dyn FnMut(AppEvent),
}

impl<'a> Context<'a> {
    /// For runners: a poll at `now_us` over `socket`, with the app's events going to `out`.
    pub fn new(now_us: u64, socket: &'a mut dyn Socket, out: &'a mut dyn FnMut(AppEvent)) -> Context<'a> {
        Context { now_us, socket, out }
    }

    /// The runner's clock, in microseconds (virtual time in memory, real time elsewhere).
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// `recvfrom`: the next waiting datagram, copied into `buf` (truncated if longer), with
    /// its length and sender; `None` when nothing is waiting.
    pub fn recv_from(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)> {
        self.socket.recv_from(buf)
    }

    /// `sendto`. When the socket cannot take the datagram (its bounded buffer is full) the
    /// datagram is dropped, and the drop is traced, so nothing disappears unseen.
    pub fn send_to(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure> {
        self.socket.send_to(bytes, to).inspect_err(|&reason| {
            (self.out)(AppEvent::SendFailed { seq: None, to, bytes: bytes.len(), reason });
        })
    }

    /// `sendto` for an app that keeps the datagram and tries again later when the socket is
    /// full (nothing is dropped, so nothing is traced).
    pub fn try_send_to(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure> {
        self.socket.send_to(bytes, to)
    }

    /// Sends message `seq` (your protocol's message number; `attempt` from 1 counts its
    /// transmissions) and traces it as a send, or as a drop when the socket is full. The
    /// assertion helpers and summaries count messages from these events.
    pub fn send_message(
        &mut self,
        seq: u32,
        attempt: u16,
        bytes: &[u8],
        to: Endpoint,
    ) -> Result<(), SendFailure> {
        let result = self.socket.send_to(bytes, to);
        let event = match result {
            Ok(()) => AppEvent::Sent { seq, to, bytes: bytes.len(), attempt },
            Err(reason) => AppEvent::SendFailed { seq: Some(seq), to, bytes: bytes.len(), reason },
        };
        (self.out)(event);
        result
    }

    /// Reports that message `seq` from `from` reached the application (count each delivery:
    /// a second report of the same `seq` is a duplicate). Latency is measured by the harness
    /// from the sender's first [`send_message`](Self::send_message) of `seq`.
    pub fn deliver(&mut self, seq: u32, from: Endpoint) {
        (self.out)(AppEvent::Delivered { seq, from, latency_us: None });
    }

    /// Puts a free-form event of the app's own in the trace (timeline, ladders, captures).
    pub fn note(&mut self, note: Note) {
        (self.out)(AppEvent::Note(note));
    }

    /// Puts any event in the trace.
    pub fn report(&mut self, event: AppEvent) {
        (self.out)(event);
    }
}

/// A smoltcp UDP socket as an app [`Socket`].
pub struct SmoltcpSocket<'a, 'b>(pub &'a mut udp::Socket<'b>);

impl Socket for SmoltcpSocket<'_, '_> {
    fn recv_from(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)> {
        let (data, meta) = self.0.recv().ok()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, Endpoint::from_smoltcp(meta.endpoint)))
    }

    fn send_to(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure> {
        let ep = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from_octets(to.addr)), to.port);
        self.0.send_slice(bytes, ep).map_err(|e| match e {
            udp::SendError::BufferFull => SendFailure::BufferFull,
            _ => SendFailure::Refused,
        })
    }
}

/// Adds a bound UDP socket with bounded buffers ([`SOCKET_SLOTS`] datagrams, [`SOCKET_BYTES`]
/// bytes each way) to `sockets`, for an app on a smoltcp interface.
pub fn add_smoltcp_socket(sockets: &mut SocketSet<'_>, port: u16) -> Result<SocketHandle, AppError> {
    let buffer = || {
        udp::PacketBuffer::new(
            alloc::vec![udp::PacketMetadata::EMPTY; SOCKET_SLOTS],
            alloc::vec![0u8; SOCKET_BYTES],
        )
    };
    let mut socket = udp::Socket::new(buffer(), buffer());
    socket.bind(port).map_err(|_| AppError::Bind)?;
    Ok(sockets.add(socket))
}

/// What an echo server does with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// Send the bytes back to the sender, unchanged.
    Echo,
    /// Keep them (log only).
    Sink,
}

/// Reliable-mode (ARQ) parameters; see [`ReliableSender`] for what each does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArqConfig {
    /// Most messages unacknowledged at once (sender) / held out of order (receiver).
    pub window: u32,
    /// First retransmission timeout.
    pub rto_us: u64,
    /// Ceiling for the doubling timeout.
    pub rto_max_us: u64,
    /// Attempts per message before giving up; 0 = never give up.
    pub max_attempts: u16,
}

impl Default for ArqConfig {
    fn default() -> Self {
        ArqConfig { window: 8, rto_us: 200_000, rto_max_us: 1_600_000, max_attempts: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    pub port: u16,
    pub reply: Reply,
    /// Reliable receiver instead of plain echo/sink.
    pub reliable: Option<ArqConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Local port to bind.
    pub port: u16,
    pub server_addr: [u8; 4],
    pub server_port: u16,
    /// Messages to send.
    pub count: u32,
    /// Time between messages.
    pub interval_us: u64,
    /// When the first message is sent.
    pub start_us: u64,
    /// Datagram size in bytes (UDP payload), header included.
    pub size: usize,
    /// Reliable sender instead of plain fire-and-forget.
    pub reliable: Option<ArqConfig>,
    /// Closed loop: at most this many messages unanswered at once (0: open loop, send on the
    /// schedule whatever comes back). Not with `reliable`, whose `window` is the same idea.
    #[serde(default)]
    pub in_flight: u32,
    /// Closed loop: how long a message waits for its reply before it is given up.
    #[serde(default = "default_reply_timeout")]
    pub reply_timeout_us: u64,
}

/// A closed-loop client's reply timeout when the scenario does not say: long next to any
/// lesson's round trip, short next to its duration.
pub const DEFAULT_REPLY_TIMEOUT_US: u64 = 1_000_000;

fn default_reply_timeout() -> u64 {
    DEFAULT_REPLY_TIMEOUT_US
}

/// What runs on a node: one of the built-in apps, configured, or an app supplied in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    Server(ServerConfig),
    Client(ClientConfig),
    /// The node's app is attached in code (`udplab::Sim::app`), not described by the
    /// scenario; running the scenario without attaching one is an error that names the node.
    Code,
}

impl Role {
    /// The built-in app this role describes. [`Role::Code`] has none: [`AppError::NeedsCode`].
    pub fn build(&self) -> Result<Box<dyn App>, AppError> {
        let check_arq = |a: &Option<ArqConfig>| match a {
            Some(a) if a.window == 0 || a.rto_us == 0 || a.rto_max_us < a.rto_us => Err(AppError::Arq),
            _ => Ok(()),
        };
        let app: Box<dyn App> = match *self {
            Role::Server(c) => {
                check_arq(&c.reliable)?;
                if c.port == 0 {
                    return Err(AppError::Bind);
                }
                match c.reliable {
                    Some(a) => Box::new(ReliableReceiver::new(c.port, a.window)),
                    None => Box::new(Server::new(c.port, c.reply)),
                }
            }
            Role::Client(c) => {
                check_arq(&c.reliable)?;
                if !(HEADER_LEN..=MAX_DATAGRAM).contains(&c.size) {
                    return Err(AppError::Size);
                }
                if c.port == 0 {
                    return Err(AppError::Bind);
                }
                let server = Endpoint { addr: c.server_addr, port: c.server_port };
                let schedule = Schedule { start_us: c.start_us, interval_us: c.interval_us, count: c.count };
                if c.in_flight > 0 && (c.reliable.is_some() || c.reply_timeout_us == 0) {
                    return Err(AppError::Window);
                }
                let client = || Client::new(c.port, server, schedule, c.size);
                match c.reliable {
                    Some(a) => Box::new(ReliableSender::new(c.port, server, schedule, c.size, a)),
                    None if c.in_flight > 0 => Box::new(client().in_flight(c.in_flight, c.reply_timeout_us)),
                    None => Box::new(client()),
                }
            }
            Role::Code => return Err(AppError::NeedsCode),
        };
        Ok(app)
    }
}

/// Why an app could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppError {
    /// Port 0 or otherwise not bindable.
    Bind,
    /// Datagram size outside `HEADER_LEN..=MAX_DATAGRAM`.
    Size,
    /// A zero window or a zero timeout.
    Arq,
    /// A closed loop (`in_flight`) with a zero reply timeout, or together with reliable mode.
    Window,
    /// The node's role is `code` and no app was attached to it.
    NeedsCode,
}

impl core::fmt::Display for AppError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AppError::Bind => write!(f, "cannot bind the UDP socket (port 0?)"),
            AppError::Size => write!(f, "datagram size must be {HEADER_LEN}..={MAX_DATAGRAM} bytes"),
            AppError::Arq => write!(f, "reliable mode needs a window and timeouts above zero"),
            AppError::Window => write!(
                f,
                "a closed loop (in_flight) needs a reply timeout above zero and no reliable mode (its window does the same)"
            ),
            AppError::NeedsCode => write!(
                f,
                "its role is \"code\": the app is supplied in code (attach one with udplab::Sim::app), \
                 so this runner cannot run it on its own"
            ),
        }
    }
}

/// When message `k` (from 1) of a client is released by its application.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start_us: u64,
    pub interval_us: u64,
    pub count: u32,
}

impl Schedule {
    pub fn release_us(&self, k: u32) -> u64 {
        self.start_us + u64::from(k - 1) * self.interval_us
    }
}

/// A built-in app's receive side: its own buffer and what it does with each datagram.
trait Receive {
    fn rx(&mut self) -> &mut Vec<u8>;
    fn on_datagram(&mut self, cx: &mut Context<'_>, data: &[u8], from: Endpoint);
}

/// Hands every datagram waiting in the socket to `app`, through a buffer the app owns (kept
/// between polls, so receiving allocates nothing).
fn receive_all(app: &mut impl Receive, cx: &mut Context<'_>) {
    let mut rx = core::mem::take(app.rx());
    if rx.len() < RX_BUFFER {
        rx.resize(RX_BUFFER, 0);
    }
    while let Some((n, from)) = cx.recv_from(&mut rx) {
        app.on_datagram(cx, &rx[..n], from);
    }
    *app.rx() = rx;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A socket whose transmit buffer is always full.
    struct Full;

    impl Socket for Full {
        fn recv_from(&mut self, _: &mut [u8]) -> Option<(usize, Endpoint)> {
            None
        }
        fn send_to(&mut self, _: &[u8], _: Endpoint) -> Result<(), SendFailure> {
            Err(SendFailure::BufferFull)
        }
    }

    #[test]
    fn a_send_the_socket_cannot_take_is_traced_as_a_drop_and_a_retry_is_not() {
        let to = Endpoint { addr: [10, 0, 0, 1], port: 9 };
        let mut events = vec![];
        {
            let mut out = |e| events.push(e);
            let mut socket = Full;
            let mut cx = Context::new(5, &mut socket, &mut out);
            assert_eq!(cx.send_to(&[1, 2, 3], to), Err(SendFailure::BufferFull));
            assert_eq!(cx.send_message(7, 2, &[0; 4], to), Err(SendFailure::BufferFull));
            assert_eq!(cx.try_send_to(&[1], to), Err(SendFailure::BufferFull));
        }
        assert_eq!(
            events,
            vec![
                AppEvent::SendFailed { seq: None, to, bytes: 3, reason: SendFailure::BufferFull },
                AppEvent::SendFailed { seq: Some(7), to, bytes: 4, reason: SendFailure::BufferFull },
            ],
            "send_to and send_message trace the drop; try_send_to leaves the datagram to the app"
        );
    }
}
