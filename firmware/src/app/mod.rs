//! The application roles and the sans-IO driver that runs them.

mod client;
pub mod event;
mod reliable;
pub mod seq;
mod server;

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};

pub use event::{AppEvent, Endpoint, Ms, Order, SendFailure};

use crate::wire::{HEADER_LEN, Repr};

/// Largest datagram the app sends: a 1500-byte MTU minus IPv4 and UDP headers, so nothing
/// needs IP fragmentation.
pub const MAX_DATAGRAM: usize = 1472;
/// Datagrams each socket buffer holds in each direction (bounded: overflow is an event).
pub const SOCKET_SLOTS: usize = 32;
/// Payload bytes each socket buffer holds in each direction: small enough for four of them in
/// an ESP32 heap, large enough for a full window of lesson-sized datagrams.
pub const SOCKET_BYTES: usize = 16 * 1024;
/// Receive buffer: longer datagrams (only a kernel peer could send one) are truncated, and
/// then fail the CRC.
const RX_BUFFER: usize = 2048;

/// What an echo server does with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// Send the bytes back to the sender, unchanged.
    Echo,
    /// Keep them (log only).
    Sink,
}

/// Reliable-mode (ARQ) parameters; see [`reliable`](self) for what each does.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    Server(ServerConfig),
    Client(ClientConfig),
}

pub type AppConfig = Role;

/// Why an app could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppError {
    /// Port 0 or otherwise not bindable.
    Bind,
    /// Datagram size outside `HEADER_LEN..=MAX_DATAGRAM`.
    Size,
    /// A zero window or a zero timeout.
    Arq,
}

impl core::fmt::Display for AppError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AppError::Bind => write!(f, "cannot bind the UDP socket (port 0?)"),
            AppError::Size => write!(f, "datagram size must be {HEADER_LEN}..={MAX_DATAGRAM} bytes"),
            AppError::Arq => write!(f, "reliable mode needs a window and timeouts above zero"),
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

/// The two calls the app needs from a UDP socket, what `recvfrom` and `sendto` do, so the same
/// app runs over smoltcp (simulation, TAP, ESP32) and over kernel sockets (host peers).
pub trait Socket {
    /// Copies the next waiting datagram into `buf` and returns its length and sender; `None`
    /// when nothing is waiting. A datagram longer than `buf` is truncated.
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)>;
    /// Queues a datagram for sending.
    fn send(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure>;
}

/// A smoltcp UDP socket as an app [`Socket`].
pub struct SmoltcpSocket<'a, 'b>(pub &'a mut udp::Socket<'b>);

impl Socket for SmoltcpSocket<'_, '_> {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, Endpoint)> {
        let (data, meta) = self.0.recv().ok()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, Endpoint::from_smoltcp(meta.endpoint)))
    }

    fn send(&mut self, bytes: &[u8], to: Endpoint) -> Result<(), SendFailure> {
        let ep = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from_octets(to.addr)), to.port);
        self.0.send_slice(bytes, ep).map_err(|e| match e {
            udp::SendError::BufferFull => SendFailure::BufferFull,
            _ => SendFailure::Refused,
        })
    }
}

/// Adds a bound UDP socket with bounded buffers ([`SOCKET_SLOTS`] datagrams, [`SOCKET_BYTES`]
/// bytes each way) to
/// `sockets`, for an app on a smoltcp interface.
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

#[derive(Debug)]
enum State {
    Server(server::Server),
    Receiver(reliable::Receiver),
    Client(client::Client),
    Sender(reliable::Sender),
}

/// One node's application: the role's state machine, driven by [`App::poll`].
#[derive(Debug)]
pub struct App {
    port: u16,
    state: State,
    rx: Vec<u8>,
}

impl App {
    pub fn new(role: &Role) -> Result<App, AppError> {
        let check_arq = |a: &Option<ArqConfig>| match a {
            Some(a) if a.window == 0 || a.rto_us == 0 || a.rto_max_us < a.rto_us => Err(AppError::Arq),
            _ => Ok(()),
        };
        let (port, state) = match *role {
            Role::Server(c) => {
                check_arq(&c.reliable)?;
                let state = match c.reliable {
                    Some(a) => State::Receiver(reliable::Receiver::new(a.window)),
                    None => State::Server(server::Server::new(c.reply)),
                };
                (c.port, state)
            }
            Role::Client(c) => {
                check_arq(&c.reliable)?;
                if !(HEADER_LEN..=MAX_DATAGRAM).contains(&c.size) {
                    return Err(AppError::Size);
                }
                let server = Endpoint { addr: c.server_addr, port: c.server_port };
                let schedule = Schedule { start_us: c.start_us, interval_us: c.interval_us, count: c.count };
                let state = match c.reliable {
                    Some(a) => State::Sender(reliable::Sender::new(server, schedule, c.size, a)),
                    None => State::Client(client::Client::new(server, schedule, c.size)),
                };
                (c.port, state)
            }
        };
        if port == 0 {
            return Err(AppError::Bind);
        }
        Ok(App { port, state, rx: alloc::vec![0; RX_BUFFER] })
    }

    /// The UDP port the app's socket must be bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Handles whatever the socket received, sends what is due, and returns the time (in
    /// microseconds on the runner's clock) at which it next wants to run even if nothing
    /// arrives; `None` means only incoming datagrams can make it do anything.
    pub fn poll(
        &mut self,
        now_us: u64,
        socket: &mut dyn Socket,
        out: &mut dyn FnMut(AppEvent),
    ) -> Option<u64> {
        while let Some((n, from)) = socket.recv(&mut self.rx) {
            let data = &self.rx[..n];
            match &mut self.state {
                State::Server(s) => s.on_datagram(now_us, data, from, socket, out),
                State::Receiver(r) => r.on_datagram(now_us, data, from, out),
                State::Client(c) => c.on_datagram(now_us, data, from, out),
                State::Sender(s) => s.on_datagram(now_us, data, from, out),
            }
        }
        match &mut self.state {
            State::Server(_) => None,
            State::Receiver(r) => {
                r.tick(socket, out);
                None
            }
            State::Client(c) => c.tick(now_us, socket, out),
            State::Sender(s) => s.tick(now_us, socket, out),
        }
    }

    /// A client has nothing left to send (reliable: everything acknowledged or given up).
    /// Servers are never done.
    pub fn is_done(&self) -> bool {
        match &self.state {
            State::Server(_) | State::Receiver(_) => false,
            State::Client(c) => c.is_done(),
            State::Sender(s) => s.is_done(),
        }
    }
}

/// Emits `repr` and hands it to the socket, reporting the send or its failure.
fn send_message(
    socket: &mut dyn Socket,
    repr: &Repr,
    scratch: &mut Vec<u8>,
    to: Endpoint,
    out: &mut dyn FnMut(AppEvent),
) {
    scratch.resize(repr.buffer_len(), 0);
    repr.emit(scratch);
    match socket.send(scratch, to) {
        Ok(()) => out(AppEvent::Sent { seq: repr.seq, to, bytes: scratch.len(), attempt: repr.attempt }),
        Err(reason) => out(AppEvent::SendFailed { seq: repr.seq, reason }),
    }
}
