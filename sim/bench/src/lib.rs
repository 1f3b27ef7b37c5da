//! The benchmark issue 10 ("within 1.5x of bare smoltcp") measures everything with: one workload
//! run by three systems, so the ratios say what udplab costs on top of the network stack it is
//! built on, and how it compares with turmoil.
//!
//! **The workload.** A client and an echo server; `n` messages of 32 B UDP payload; 1 ms one way
//! in each direction, no loss; a closed loop with `window` messages in flight (the client sends
//! the next message when a reply arrives): 1 is ping-pong, 32 a window. A datagram is a request or
//! an echo, so a run carries `2n`. Every run is checked to have delivered exactly `n` replies (and
//! `2n` datagrams) before any number is printed, so a broken workload can never look fast.
//!
//! **The systems.**
//! - [`floor`]: bare smoltcp 0.14, written by hand as a competent person would, lean but doing the
//!   whole job of a UDP stack: two `Medium::Ip` interfaces (the workspace's smoltcp features, checksums
//!   computed and checked as in udplab), one UDP socket each, a device of two frame queues, a
//!   `BinaryHeap` of arrivals in virtual time. Per datagram it does: on the sender a
//!   `send_slice` (into the socket's ring) and a `poll_egress` that builds the IPv4 + UDP packet
//!   with its checksum into a recycled buffer (no allocation in steady state; a fresh `Vec` per
//!   frame costs about 220 instructions a datagram more, measured), a heap push; on the
//!   receiver a heap pop, an ingress `poll` (parse, checksums, socket lookup, copy into the ring)
//!   and a `recv_slice`. Arrivals due at the same instant are handed over together, so each node
//!   is polled once per instant, not once per datagram (plus the one `poll_egress` per instant
//!   that finds nothing more to send: smoltcp sends one datagram per socket per call). No trace,
//!   no labels, no impairment dice, no app trait: that is what udplab adds.
//! - [`turmoil`]: turmoil 0.7.2's `net::UdpSocket` on two hosts, latency fixed at 1 ms
//!   (`min_message_latency` = `max_message_latency`), its default 1 ms tick, the same closed loop
//!   and an echo loop. The server's address is looked up once, not per send.
//! - [`udplab`]: the engine itself on [`udplab_sim::pair::Pair`] with the closed-loop client,
//!   "trace kept" (`udplab_sim::run`, the whole `Vec<Record>`) and "streamed"
//!   (`run_streaming`, each record handed to a closure that counts it). The third row,
//!   [`Row::Arq32`], is reliable mode with window 32: it sends acks, not echoes, and its datagrams
//!   are counted from the trace's `Offer` records; the floor and turmoil have no ARQ, so that row
//!   compares it with their 32-in-flight echo.
//! - [`your_app`]: the engine again, but its two nodes run the floor's client and echo, written
//!   against the public `App` trait (what a user's crate does): the same work per datagram
//!   above the socket as the floor, so this column is what udplab's engine itself costs (links,
//!   labels, fate dice, event queue, the kept trace). The lesson client and server in the other
//!   udplab columns also parse and check a wire-format header with a CRC-32, track sequence
//!   numbers and emit app events: about 670 instructions a datagram of app, not engine.
//!
//! **Why the measurements are made as they are** (the binary, `src/main.rs`):
//! - wall time: this VM is shared and noisy, so every round runs every case once, in an order
//!   that rotates each round, and the median over rounds is reported: a burst of someone else's
//!   load slows one round of every case rather than all rounds of one case. One warm-up round
//!   is not counted.
//! - instructions: callgrind counts every instruction the process executes, which no neighbour
//!   can distort. Each case runs in its own process at two sizes and the difference of the two
//!   totals is divided by the difference of the two datagram counts, so process start-up,
//!   valgrind's own start, building the interfaces and any other fixed cost cancel exactly.
//!   It counts user-space instructions only: what the kernel does for a run (page faults of a
//!   trace kept in memory, mostly) shows in the wall time and not here, so read the two together.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use udplab_firmware::{App, AppEvent, ArqConfig, Context, Endpoint};
use udplab_sim::pair::Pair;
use udplab_sim::scenario::Impairment;
use udplab_sim::{Event, Scenario};

/// UDP payload of every message.
pub const PAYLOAD: usize = 32;
/// One-way delay of each direction.
pub const DELAY_US: u64 = 1_000;
const SERVER_PORT: u16 = 7;
const SERVER_ADDR: [u8; 4] = [192, 0, 2, 2];
const CLIENT_PORT: u16 = 49152;

/// One of the workloads the tables have a row for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// One message in flight.
    PingPong,
    /// 32 messages in flight.
    InFlight32,
    /// udplab's reliable mode with window 32 (the floor and turmoil run [`Row::InFlight32`]).
    Arq32,
}

impl Row {
    pub const ALL: [Row; 3] = [Row::PingPong, Row::InFlight32, Row::Arq32];

    /// Messages in flight.
    pub fn window(self) -> u32 {
        match self {
            Row::PingPong => 1,
            Row::InFlight32 | Row::Arq32 => 32,
        }
    }

    /// The name used on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Row::PingPong => "ping-pong",
            Row::InFlight32 => "in-flight-32",
            Row::Arq32 => "arq-32",
        }
    }

    /// The name in the tables.
    pub fn title(self) -> &'static str {
        match self {
            Row::PingPong => "ping-pong (1 in flight)",
            Row::InFlight32 => "32 in flight",
            Row::Arq32 => "ARQ window 32 (udplab reliable mode)",
        }
    }

    pub fn parse(s: &str) -> Option<Row> {
        Row::ALL.into_iter().find(|r| r.key() == s)
    }
}

/// One of the systems the tables have a column for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Floor,
    Turmoil,
    /// udplab, the whole trace returned.
    Kept,
    /// udplab, each record handed to a closure and dropped.
    Streamed,
    /// udplab's engine running the floor's own client and echo, written against the public
    /// [`App`] trait as a stranger's crate would, the whole trace returned.
    YourApp,
}

impl System {
    pub const ALL: [System; 5] =
        [System::Floor, System::Turmoil, System::Kept, System::Streamed, System::YourApp];

    pub fn key(self) -> &'static str {
        match self {
            System::Floor => "floor",
            System::Turmoil => "turmoil",
            System::Kept => "udplab-kept",
            System::Streamed => "udplab-streamed",
            System::YourApp => "udplab-your-app",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            System::Floor => "floor (bare smoltcp)",
            System::Turmoil => "turmoil 0.7.2",
            System::Kept => "udplab (trace kept)",
            System::Streamed => "udplab (streamed)",
            System::YourApp => "udplab, the floor's app (trace kept)",
        }
    }

    pub fn parse(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|x| x.key() == s)
    }

    /// The workload this system runs for `row`: only udplab has a reliable mode, the others
    /// stand in with their echo at the same window.
    pub fn workload_for(self, row: Row) -> Row {
        match (self, row) {
            (System::Floor | System::Turmoil | System::YourApp, Row::Arq32) => Row::InFlight32,
            _ => row,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Run {
    /// Datagrams put on the network (requests + echoes, or data + acks).
    pub datagrams: u64,
    /// Replies the client got (echoes, or first acknowledgements in reliable mode).
    pub replies: u64,
    /// Virtual time the run took, in microseconds.
    pub virtual_us: u64,
}

impl Run {
    /// Whether this run of `row` with `n` messages did the whole workload: exactly `n` replies,
    /// and `2n` datagrams for an echo (an ARQ's are counted, whatever they are).
    pub fn check(&self, row: Row, n: u32) -> Result<(), String> {
        let n = u64::from(n);
        if self.replies != n {
            return Err(format!("{} replies to {n} messages", self.replies));
        }
        if row != Row::Arq32 && self.datagrams != 2 * n {
            return Err(format!("{} datagrams for {n} echoed messages (expected {})", self.datagrams, 2 * n));
        }
        if row == Row::Arq32 && self.datagrams < 2 * n {
            return Err(format!("{} datagrams for {n} acknowledged messages", self.datagrams));
        }
        Ok(())
    }
}

/// Runs `row`'s workload (as `system` runs it) with `n` messages.
pub fn run(system: System, row: Row, n: u32) -> Result<Run, String> {
    let row = system.workload_for(row);
    match system {
        System::Floor => Ok(floor(n, row.window())),
        System::Turmoil => turmoil(n, row.window()),
        System::Kept => udplab(n, row, false),
        System::Streamed => udplab(n, row, true),
        System::YourApp => your_app(n, row.window()),
    }
}

/// A closed-loop client's first `window` messages at most (never more than `n`).
fn first_burst(n: u32, window: u32) -> u32 {
    window.max(1).min(n)
}

/// Message `seq`'s payload: its number, then zeros.
fn payload(seq: u32) -> [u8; PAYLOAD] {
    let mut p = [0u8; PAYLOAD];
    p[..4].copy_from_slice(&seq.to_le_bytes());
    p
}

/// Whether `datagram` echoes one of the messages sent so far (numbered below `next_seq`).
#[inline]
fn is_reply(datagram: &[u8], next_seq: u32) -> bool {
    datagram.len() == PAYLOAD && {
        let seq = u32::from_le_bytes([datagram[0], datagram[1], datagram[2], datagram[3]]);
        seq >= 1 && seq < next_seq
    }
}

// ---- the tables ------------------------------------------------------------------------------

/// The distinct runs: every system on every row, except that the floor and turmoil have no ARQ
/// and run their 32-in-flight echo for that row (the same run as the row above, so not twice).
pub fn cases() -> Vec<(Row, System)> {
    let mut cases = Vec::new();
    for row in Row::ALL {
        for system in System::ALL {
            if system.workload_for(row) == row {
                cases.push((row, system));
            }
        }
    }
    cases
}

/// The value a table shows for `(row, system)`, from the cases actually run.
fn cell(results: &[((Row, System), f64)], row: Row, system: System) -> f64 {
    let row = system.workload_for(row);
    results.iter().find(|(c, _)| *c == (row, system)).map(|r| r.1).expect("every case was run")
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// One markdown table of `results` (a value per case of [`cases`]): a row per workload, a
/// column per system, then the ratios, and a footnote.
pub fn table(results: &[((Row, System), f64)], show: impl Fn(f64) -> String) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut head = vec!["workload".to_string()];
    head.extend(System::ALL.iter().map(|s| s.title().to_string()));
    head.extend(
        ["kept / floor", "streamed / floor", "floor's app / floor", "turmoil / kept", "turmoil / streamed"]
            .map(String::from),
    );
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(head.len()));
    for row in Row::ALL {
        let v = |s| cell(results, row, s);
        let mut line = vec![row.title().to_string()];
        for s in System::ALL {
            let mark = if s.workload_for(row) != row { " *" } else { "" };
            line.push(format!("{}{mark}", show(v(s))));
        }
        let (floor, turmoil, kept, streamed, app) =
            (v(System::Floor), v(System::Turmoil), v(System::Kept), v(System::Streamed), v(System::YourApp));
        for r in [kept / floor, streamed / floor, app / floor, turmoil / kept, turmoil / streamed] {
            line.push(format!("{r:.2}x"));
        }
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    let _ = writeln!(
        out,
        "\n\\* no reliable mode: its 32-in-flight echo. A datagram is a request or an echo (an ARQ's: data \
         or ack, counted from the trace); 32 B UDP payload, 1 ms each way, no loss, every run checked \
         to get exactly N replies. \"udplab, the floor's app\": udplab's engine (links, labels, fates, \
         trace) running the floor's client and echo as `App`s; the other udplab columns run udplab's \
         lesson client and server (wire-format header with a CRC-32, sequence tracking, app events)."
    );
    out
}

// ---- the floor: bare smoltcp ------------------------------------------------------------------

/// A device of two frame queues; buffers are recycled (frames consumed by the stack go to
/// `consumed`, the loop moves them to `spare`, transmissions take from `spare`).
#[derive(Default)]
struct Frames {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    consumed: Vec<Vec<u8>>,
}

struct FloorRx<'a>(Vec<u8>, &'a mut Vec<Vec<u8>>);
struct FloorTx<'a>(&'a mut Vec<Vec<u8>>, &'a mut Vec<Vec<u8>>);

impl phy::RxToken for FloorRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        self.1.push(self.0);
        r
    }
}

impl phy::TxToken for FloorTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = self.1.pop().unwrap_or_default();
        frame.resize(len, 0);
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl phy::Device for Frames {
    type RxToken<'a> = FloorRx<'a>;
    type TxToken<'a> = FloorTx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(FloorRx<'_>, FloorTx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((FloorRx(frame, &mut self.consumed), FloorTx(&mut self.tx, &mut self.spare)))
    }

    fn transmit(&mut self, _: Instant) -> Option<FloorTx<'_>> {
        Some(FloorTx(&mut self.tx, &mut self.spare))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps
    }
}

/// A frame on its way to node `to`, due at `at_us`; `order` keeps same-instant arrivals in
/// the order they were sent.
struct Arrival {
    at_us: u64,
    order: u64,
    to: usize,
    frame: Vec<u8>,
}

impl PartialEq for Arrival {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.order) == (other.at_us, other.order)
    }
}
impl Eq for Arrival {}
impl PartialOrd for Arrival {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Arrival {
    /// Reversed, so the `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.order).cmp(&(self.at_us, self.order))
    }
}

struct FloorNode {
    iface: Interface,
    dev: Frames,
    sockets: SocketSet<'static>,
    socket: SocketHandle,
}

impl FloorNode {
    fn new(addr: [u8; 4], port: u16) -> FloorNode {
        let mut dev = Frames::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = 1;
        let mut iface = Interface::new(config, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(addr[0], addr[1], addr[2], addr[3]), 24));
        });
        let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0u8; 64 * 64]);
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket.bind(port).expect("bind");
        let mut sockets = SocketSet::new(Vec::new());
        let socket = sockets.add(socket);
        FloorNode { iface, dev, sockets, socket }
    }
}

/// Bare smoltcp: two interfaces, a heap of arrivals, a closed-loop client and an echo server.
pub fn floor(n: u32, window: u32) -> Run {
    const CLIENT: usize = 0;
    let mut nodes = [FloorNode::new([192, 0, 2, 1], CLIENT_PORT), FloorNode::new(SERVER_ADDR, SERVER_PORT)];
    let [a, b, c, d] = SERVER_ADDR;
    let server = IpEndpoint::new(IpAddress::v4(a, b, c, d), SERVER_PORT);
    let mut heap = BinaryHeap::new();
    let (mut order, mut datagrams, mut replies, mut next_seq) = (0u64, 0u64, 0u64, 1u32);
    let mut buf = [0u8; 1500];
    let mut now_us = 0;
    let mut woken = [true, false];
    loop {
        for (i, node) in nodes.iter_mut().enumerate() {
            if !woken[i] {
                continue;
            }
            woken[i] = false;
            let now = Instant::from_micros(now_us as i64);
            node.iface.poll(now, &mut node.dev, &mut node.sockets);
            let socket = node.sockets.get_mut::<udp::Socket>(node.socket);
            if i == CLIENT {
                let mut may_send = if now_us == 0 { first_burst(n, window) } else { 0 };
                while let Ok((len, _)) = socket.recv_slice(&mut buf) {
                    if is_reply(&buf[..len], next_seq) {
                        replies += 1;
                        may_send += 1;
                    }
                }
                while may_send > 0 && next_seq <= n {
                    socket.send_slice(&payload(next_seq), server).expect("client send");
                    next_seq += 1;
                    may_send -= 1;
                }
            } else {
                while let Ok((len, meta)) = socket.recv_slice(&mut buf) {
                    socket.send_slice(&buf[..len], meta.endpoint).expect("echo");
                }
            }
            // One datagram per socket per call: call until nothing more goes out.
            while node.iface.poll_egress(now, &mut node.dev, &mut node.sockets)
                == PollResult::SocketStateChanged
            {}
            let dev = &mut node.dev;
            dev.spare.append(&mut dev.consumed);
            for frame in dev.tx.drain(..) {
                heap.push(Arrival { at_us: now_us + DELAY_US, order, to: 1 - i, frame });
                order += 1;
                datagrams += 1;
            }
        }
        let Some(first) = heap.pop() else { break };
        now_us = first.at_us;
        let mut arrival = Some(first);
        while let Some(a) = arrival {
            nodes[a.to].dev.rx.push_back(a.frame);
            woken[a.to] = true;
            arrival = heap
                .peek_mut()
                .filter(|a| a.at_us == now_us)
                .map(std::collections::binary_heap::PeekMut::pop);
        }
    }
    Run { datagrams, replies, virtual_us: now_us }
}

// ---- turmoil ----------------------------------------------------------------------------------

async fn turmoil_echo(echoed: Rc<Cell<u64>>) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, SERVER_PORT)).await?;
    let mut buf = [0u8; 1500];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..len], from).await?;
        echoed.set(echoed.get() + 1);
    }
}

async fn turmoil_client(n: u32, window: u32, sent: Rc<Cell<u64>>, replies: Rc<Cell<u64>>) -> turmoil::Result {
    let socket = turmoil::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, CLIENT_PORT)).await?;
    let server = SocketAddr::new(turmoil::lookup("server"), SERVER_PORT);
    let mut next_seq = 1u32;
    let mut buf = [0u8; 1500];
    for _ in 0..first_burst(n, window) {
        socket.send_to(&payload(next_seq), server).await?;
        next_seq += 1;
        sent.set(sent.get() + 1);
    }
    while replies.get() < u64::from(n) {
        let (len, _) = socket.recv_from(&mut buf).await?;
        if !is_reply(&buf[..len], next_seq) {
            continue;
        }
        replies.set(replies.get() + 1);
        if next_seq <= n {
            socket.send_to(&payload(next_seq), server).await?;
            next_seq += 1;
            sent.set(sent.get() + 1);
        }
    }
    Ok(())
}

/// turmoil 0.7.2: an echo host and a closed-loop client, 1 ms latency, 1 ms tick.
pub fn turmoil(n: u32, window: u32) -> Result<Run, String> {
    let (sent, echoed, replies) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let latency = Duration::from_micros(DELAY_US);
    let mut sim = turmoil::Builder::new()
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(latency)
        .max_message_latency(latency)
        // Ping-pong needs about 2 ms a message; far more than enough.
        .simulation_duration(Duration::from_millis(10 * u64::from(n) + 10_000))
        .rng_seed(1)
        .build();
    let e = echoed.clone();
    sim.host("server", move || turmoil_echo(e.clone()));
    sim.client("client", turmoil_client(n, window, sent.clone(), replies.clone()));
    sim.run().map_err(|e| format!("turmoil: {e}"))?;
    let virtual_us = sim.elapsed().as_micros() as u64;
    Ok(Run { datagrams: sent.get() + echoed.get(), replies: replies.get(), virtual_us })
}

// ---- udplab -----------------------------------------------------------------------------------

/// The scenario udplab runs for `row` with `n` messages.
pub fn scenario(n: u32, row: Row) -> Scenario {
    let link = Impairment { delay_us: DELAY_US, ..Impairment::default() };
    let reliable = row == Row::Arq32;
    Pair {
        count: n,
        interval_us: 0,
        size: PAYLOAD,
        in_flight: if reliable { 0 } else { row.window() },
        reliable: reliable.then(|| ArqConfig { window: 32, ..ArqConfig::default() }),
        up: link.clone(),
        down: link,
        // Ping-pong needs 2 ms a message; far more than enough, and the run ends when idle.
        duration_us: 10_000 * u64::from(n) + 10_000_000,
        ..Pair::default()
    }
    .build()
}

/// Counts what the tables need from udplab's records as they come.
#[derive(Default)]
struct Tally {
    run: Run,
    delivered: u64,
}

impl Tally {
    fn see(&mut self, r: &udplab_sim::Record) {
        self.run.virtual_us = r.at_us;
        match r.event {
            Event::Offer { .. } => self.run.datagrams += 1,
            Event::App { node: 0, app: AppEvent::Reply { .. } | AppEvent::Acked { .. } } => {
                self.run.replies += 1
            }
            Event::App { node: 1, app: AppEvent::Delivered { .. } } => self.delivered += 1,
            _ => {}
        }
    }
}

/// udplab's engine on the pair scenario: the whole trace kept, or streamed to a counter.
pub fn udplab(n: u32, row: Row, streamed: bool) -> Result<Run, String> {
    let s = scenario(n, row);
    let mut tally = Tally::default();
    if streamed {
        udplab_sim::net::run_streaming(&s, 1, &mut |r| tally.see(r)).map_err(|e| format!("{e:?}"))?;
    } else {
        let trace = udplab_sim::run(&s, 1).map_err(|e| format!("{e:?}"))?;
        trace.iter().for_each(|r| tally.see(r));
    }
    if row == Row::Arq32 && tally.delivered != u64::from(n) {
        return Err(format!("reliable mode delivered {} of {n} messages", tally.delivered));
    }
    Ok(tally.run)
}

// ---- the floor's app on udplab's engine ------------------------------------------------------

/// The floor's closed-loop client as an [`App`]: the same checks and the same sends, replies
/// counted in a cell the caller reads (no app events, as the floor has none).
struct LoopClient {
    n: u32,
    window: u32,
    next_seq: u32,
    replies: Rc<Cell<u64>>,
    buf: [u8; 1500],
}

impl App for LoopClient {
    fn port(&self) -> u16 {
        CLIENT_PORT
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        const SERVER: Endpoint = Endpoint { addr: SERVER_ADDR, port: SERVER_PORT };
        let mut may_send = if cx.now_us() == 0 { first_burst(self.n, self.window) } else { 0 };
        while let Some((len, _)) = cx.recv_from(&mut self.buf) {
            if is_reply(&self.buf[..len], self.next_seq) {
                self.replies.set(self.replies.get() + 1);
                may_send += 1;
            }
        }
        while may_send > 0 && self.next_seq <= self.n {
            if cx.send_to(&payload(self.next_seq), SERVER).is_err() {
                // Never with a window within the socket's buffer; the run's check would say so.
                break;
            }
            self.next_seq += 1;
            may_send -= 1;
        }
        None
    }

    fn is_done(&self) -> bool {
        self.replies.get() == u64::from(self.n)
    }
}

/// The floor's echo as an [`App`].
struct Echo {
    buf: [u8; 1500],
}

impl App for Echo {
    fn port(&self) -> u16 {
        SERVER_PORT
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        while let Some((len, from)) = cx.recv_from(&mut self.buf) {
            let _ = cx.send_to(&self.buf[..len], from);
        }
        None
    }

    fn is_done(&self) -> bool {
        true
    }
}

/// udplab's engine on the pair scenario's network (same addresses, links and duration), its
/// nodes running the floor's client and echo; the whole trace kept and then counted.
pub fn your_app(n: u32, window: u32) -> Result<Run, String> {
    let s = scenario(n, Row::PingPong);
    let replies = Rc::new(Cell::new(0));
    let apps: udplab_sim::net::Apps<'_> = vec![
        Box::new(LoopClient { n, window, next_seq: 1, replies: Rc::clone(&replies), buf: [0; 1500] }),
        Box::new(Echo { buf: [0; 1500] }),
    ];
    let mut net = udplab_sim::net::Network::new(&s, 1, apps).map_err(|e| format!("{e:?}"))?;
    net.run_until(s.duration_us);
    let trace = net.finish();
    let mut tally = Tally::default();
    trace.iter().for_each(|r| tally.see(r));
    Ok(Run { replies: replies.get(), ..tally.run })
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u32 = 200;

    #[test]
    fn every_system_delivers_every_reply_and_counts_two_datagrams_a_message() {
        for row in Row::ALL {
            for system in System::ALL {
                let r = run(system, row, N).unwrap_or_else(|e| panic!("{system:?} {row:?}: {e}"));
                r.check(row, N).unwrap_or_else(|e| panic!("{system:?} {row:?}: {e}"));
                assert_eq!(r.datagrams, 2 * u64::from(N), "{system:?} {row:?}");
            }
        }
    }

    /// The three systems simulate the same network: a closed loop of W over a 2 ms round trip
    /// takes 2 ms x N / W of virtual time (turmoil's tick may add to it).
    #[test]
    fn the_systems_take_the_virtual_time_the_workload_needs() {
        for row in [Row::PingPong, Row::InFlight32] {
            let rounds = u64::from(N.div_ceil(row.window()));
            for system in System::ALL {
                let r = run(system, row, N).unwrap();
                let want = rounds * 2 * DELAY_US;
                assert!(
                    r.virtual_us >= want - 2 * DELAY_US && r.virtual_us <= 2 * want,
                    "{system:?} {row:?}: {} us of virtual time, expected about {want}",
                    r.virtual_us
                );
            }
        }
    }

    /// Every line of a table has as many cells as its header, and the ratios are what they say.
    #[test]
    fn a_table_has_a_cell_for_every_column() {
        let results: Vec<_> = cases()
            .into_iter()
            .map(|c| {
                let v = match c.1 {
                    System::Floor => 100.0,
                    System::Turmoil => 400.0,
                    System::Kept => 200.0,
                    System::Streamed => 160.0,
                    System::YourApp => 120.0,
                };
                (c, v)
            })
            .collect();
        assert_eq!(results.len(), 12);
        let t = table(&results, |v| format!("{v:.0}"));
        let lines: Vec<_> = t.lines().take_while(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 2 + Row::ALL.len());
        for l in &lines {
            assert_eq!(l.matches('|').count(), 12, "{l}");
        }
        assert!(
            lines[2].contains("| 100 | 400 | 200 | 160 | 120 | 2.00x | 1.60x | 1.20x | 2.00x | 2.50x |"),
            "{}",
            lines[2]
        );
        assert!(lines[4].contains("| 100 * | 400 * | 200 | 160 | 120 * |"), "{}", lines[4]);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_short_run_fails_the_check() {
        let r = Run { datagrams: 398, replies: 199, virtual_us: 0 };
        assert!(r.check(Row::PingPong, N).is_err());
        let r = Run { datagrams: 400, replies: 200, virtual_us: 0 };
        assert!(r.check(Row::PingPong, N).is_ok());
    }
}
