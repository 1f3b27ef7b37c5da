//! An app over smoltcp on a Wi-Fi interface: the part station and access-point mode share. The
//! app is the same `udplab_firmware::App` the simulation and the host run (the image's own app
//! for the scenario node the board plays, else the built-in app the settings describe); here its
//! clock is the chip's microsecond timer and its socket a smoltcp UDP socket on the radio.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use embassy_net_driver::Driver;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};
use udplab_firmware::{
    App, AppError, ArqConfig, ClientConfig, Context, Reply, Role, ServerConfig, SmoltcpSocket,
};
use udplab_sim::Record;
use udplab_sim::Scenario;
use udplab_sim::impaired::{Direction, Impaired, PathLink};
use udplab_sim::trace::{Lines, Time};

use crate::clock::{now_us, sleep_us};
use crate::console::Console;
use crate::radio_device::{Drops, RadioDevice};
use crate::shell::Target;
use crate::{AppFactory, Image, Settings, say, scenario_mode};

fn instant(us: u64) -> Instant {
    Instant::from_micros(us as i64)
}

/// What the network loop needs from its device besides smoltcp's `Device`.
pub trait RadioLink: Device {
    /// Associated (station) or started (access point).
    fn link_up(&mut self) -> bool;
    fn drops(&self) -> Drops;
    /// The link decisions made since the last call.
    fn take_records(&mut self) -> Vec<Record>;
}

/// The device smoltcp runs on: the radio with the scenario's links (if any) in its path.
pub type NetDevice<D> = Impaired<RadioDevice<D>>;

impl<D: Driver> RadioLink for NetDevice<D> {
    fn link_up(&mut self) -> bool {
        self.inner_mut().link_up()
    }
    fn drops(&self) -> Drops {
        self.inner().drops
    }
    fn take_records(&mut self) -> Vec<Record> {
        Impaired::take_records(self)
    }
}

/// A scenario's links placed in the radio's path (`wifi NAME [SEED] [NODE]`, `ap ...`): the board
/// plays one of the scenario's nodes, and every datagram of the app's port gets the fate the
/// scenario's link between that node and its peer gives it, on the same keys as in memory, on
/// the chip's clock.
///
/// Which node the board plays: the NODE argument if given; else, when the scenario has a
/// client, its server (or the client itself when the board is the built-in client, with
/// `UDPLAB_PEER`), as the lessons do; else the one node the image has an app for. Its peer is
/// the other node: a scenario for the radio has two nodes (or, without NODE, a client and its
/// server).
pub struct Impairments {
    pub name: &'static str,
    pub scenario: Scenario,
    pub seed: u64,
    board: usize,
    peer: usize,
}

impl Impairments {
    /// `None` when no scenario was named.
    pub fn load(
        image: &Image,
        target: Option<Target<'_>>,
        client_allowed: bool,
    ) -> Result<Option<Impairments>, String> {
        let Some(Target { name, seed, node }) = target else { return Ok(None) };
        let (name, scenario) = scenario_mode::load(image.scenarios, name)?;
        let nodes = || {
            let names: Vec<&str> = scenario.nodes.iter().map(|n| n.name.as_str()).collect();
            names.join(", ")
        };
        let client = scenario.nodes.iter().position(|n| matches!(n.role, Role::Client(_)));
        let (board, peer) = match (node, client) {
            (Some(node), _) => {
                let board =
                    scenario.nodes.iter().position(|n| n.name == node).ok_or_else(|| {
                        alloc::format!("{name} has no node `{node}` (its nodes: {})", nodes())
                    })?;
                (board, only_peer(name, &scenario, board)?)
            }
            (None, Some(client)) => {
                let Role::Client(c) = &scenario.nodes[client].role else { unreachable!("found as a client") };
                let server = scenario
                    .nodes
                    .iter()
                    .position(|n| n.addr == c.server_addr)
                    .ok_or_else(|| alloc::format!("{name}: the client's server is not a node"))?;
                match role(&image.settings, client_allowed, 0) {
                    Role::Client(_) => (client, server),
                    Role::Server(_) | Role::Code => (server, client),
                }
            }
            (None, None) => {
                let mut with_app =
                    (0..scenario.nodes.len()).filter(|&i| image.app_for(&scenario.nodes[i].name).is_some());
                match (with_app.next(), with_app.next()) {
                    (Some(board), None) => (board, only_peer(name, &scenario, board)?),
                    (None, _) if image.apps.is_empty() => {
                        return Err(alloc::format!("{name} has no client node"));
                    }
                    _ => {
                        let mode = if client_allowed { "wifi" } else { "ap" };
                        return Err(alloc::format!(
                            "{name}: which node does the board play? `{mode} {name} [SEED] NODE` (its nodes: {})",
                            nodes()
                        ));
                    }
                }
            }
        };
        let node = &scenario.nodes[board];
        if node.role == Role::Code && image.app_for(&node.name).is_none() {
            return Err(alloc::format!(
                "{name}: node `{}` runs an app supplied in code, and this image has none for it",
                node.name
            ));
        }
        Ok(Some(Impairments { name, seed: seed.unwrap_or(scenario.seed), scenario, board, peer }))
    }

    /// The scenario node the board plays.
    pub fn board_node(&self) -> &str {
        &self.scenario.nodes[self.board].name
    }

    fn path_links(&self, port: u16) -> Vec<PathLink> {
        let dirs = [(self.board, self.peer, Direction::Out), (self.peer, self.board, Direction::In)];
        dirs.iter()
            .filter_map(|&(from, to, direction)| {
                let index = self.scenario.link_between(from, to)?;
                Some(PathLink {
                    index,
                    name: self.scenario.link_name(index),
                    src: None,
                    dst: None,
                    direction: Some(direction),
                    port: Some(port),
                    spec: self.scenario.links[index].clone(),
                })
            })
            .collect()
    }

    /// One line per link: which way it applies and what it does.
    pub fn describe(&self, console: &mut Console) {
        let board = &self.scenario.nodes[self.board].name;
        say!(console, "impair: scenario {} seed {}, the board plays `{board}`", self.name, self.seed);
        for (i, l) in self.scenario.links.iter().enumerate() {
            if (l.from, l.to) == (self.board, self.peer) || (l.from, l.to) == (self.peer, self.board) {
                say!(console, "impair: {}  {}", self.scenario.link_name(i), l.impairment);
            }
        }
    }
}

/// The board's one peer in a two-node scenario.
fn only_peer(name: &str, scenario: &Scenario, board: usize) -> Result<usize, String> {
    match scenario.nodes.len() {
        2 => Ok(1 - board),
        n => Err(alloc::format!(
            "{name} has {n} nodes: the radio's path takes the links between the board's node and one peer"
        )),
    }
}

/// Wraps the radio interface for smoltcp, with the scenario's links for the app's `port` in
/// its path when there are impairments (else the wrapper passes everything through).
pub fn wrap<D: Driver>(image: &Image, driver: D, impair: Option<&Impairments>, port: u16) -> NetDevice<D> {
    let (seed, links) = impair.map_or((0, Vec::new()), |i| (i.seed, i.path_links(port)));
    let mut device = Impaired::new(RadioDevice::new(driver), seed, links);
    if let Some(labeller) = image.labeller {
        device.set_labeller(labeller);
    }
    device
}

/// Prints the link decisions as trace lines (the same format as `udplab run`).
pub fn show_links<D: RadioLink>(net: &mut Net<D>, impair: Option<&Impairments>, console: &mut Console) {
    let records = net.device.take_records();
    let Some(impair) = impair else { return };
    if records.is_empty() {
        return;
    }
    let lines = Lines::new(&impair.scenario);
    let mut text = String::new();
    for r in &records {
        text.clear();
        let _ = lines.write(&mut text, r);
        console.line(&text);
    }
}

/// A smoltcp interface with its device and sockets.
pub struct Net<D: RadioLink> {
    pub iface: Interface,
    pub device: D,
    pub sockets: SocketSet<'static>,
}

impl<D: RadioLink> Net<D> {
    pub fn new(mut device: D, mac: [u8; 6], seed: u64) -> Net<D> {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = seed;
        let iface = Interface::new(config, &mut device, instant(now_us()));
        Net { iface, device, sockets: SocketSet::new(Vec::new()) }
    }

    pub fn poll(&mut self, now_us: u64) {
        self.iface.poll(instant(now_us), &mut self.device, &mut self.sockets);
    }

    /// When smoltcp next needs to run (retransmit a DHCP request, ARP, ...).
    pub fn poll_at_us(&mut self, now_us: u64) -> Option<u64> {
        self.iface.poll_at(instant(now_us), &self.sockets).map(|t| t.total_micros().max(0) as u64)
    }

    pub fn set_ipv4(&mut self, cidr: Ipv4Cidr, gateway: Option<Ipv4Address>) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            let _ = addrs.push(IpCidr::Ipv4(cidr));
        });
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some(gw) = gateway {
            let _ = self.iface.routes_mut().add_default_ipv4_route(gw);
        }
    }

    pub fn clear_ipv4(&mut self) {
        self.iface.update_ip_addrs(|addrs| addrs.clear());
        self.iface.routes_mut().remove_default_ipv4_route();
    }
}

/// The built-in app's role on a real network, from the settings: a client towards `peer` if set
/// (station mode only), else a server on `port`.
pub fn role(settings: &Settings, client_allowed: bool, start_us: u64) -> Role {
    let arq = settings.reliable.then(ArqConfig::default);
    match settings.peer {
        Some((server_addr, server_port)) if client_allowed => Role::Client(ClientConfig {
            port: 49152,
            server_addr,
            server_port,
            count: settings.count,
            interval_us: settings.interval_ms * 1000,
            start_us,
            size: settings.size,
            reliable: arq,
            in_flight: 0,
            reply_timeout_us: udplab_firmware::app::DEFAULT_REPLY_TIMEOUT_US,
        }),
        _ => Role::Server(ServerConfig { port: settings.port, reply: Reply::Echo, reliable: arq }),
    }
}

/// The app the board runs on a real network.
pub enum BoardApp {
    /// The built-in app the settings describe ([`role`]), on the chip's clock.
    BuiltIn,
    /// The image's app for the scenario node the board plays, on a clock that starts at 0 when
    /// the app starts (as in memory and on the host's TAP).
    Image { node: String, make: AppFactory },
}

impl BoardApp {
    /// The image's app for the node the board plays, if it has one.
    pub fn choose(image: &Image, impair: Option<&Impairments>) -> BoardApp {
        let Some(i) = impair else { return BoardApp::BuiltIn };
        let node = i.board_node();
        match image.app_for(node) {
            Some(make) => BoardApp::Image { node: String::from(node), make },
            None => BoardApp::BuiltIn,
        }
    }

    /// The UDP port the app binds (what the impairments watch).
    pub fn port(&self, settings: &Settings, client_allowed: bool) -> u16 {
        match self {
            BoardApp::BuiltIn => match role(settings, client_allowed, 0) {
                Role::Server(s) => s.port,
                Role::Client(c) => c.port,
                Role::Code => 0,
            },
            BoardApp::Image { make, .. } => make().port(),
        }
    }
}

/// Prints the role in one line.
pub fn describe(console: &mut Console, role: &Role) {
    match role {
        Role::Server(s) => {
            let what = if s.reliable.is_some() { "reliable receiver" } else { "echo" };
            say!(console, "app: udp {what} server on port {}", s.port);
        }
        Role::Client(c) => {
            let [a, b, cc, d] = c.server_addr;
            say!(
                console,
                "app: client, {} x {}B to {a}.{b}.{cc}.{d}:{} every {} ms{}",
                c.count,
                c.size,
                c.server_port,
                c.interval_us / 1000,
                if c.reliable.is_some() { ", reliable" } else { "" }
            );
        }
        Role::Code => say!(console, "app: supplied in code"),
    }
}

/// Most app events printed per second; the rest are counted (the UART carries about 11 kB/s).
const EVENTS_PER_SECOND: u32 = 20;

/// The app, its socket, and a bounded printer for what it reports.
pub struct AppNode {
    app: Box<dyn App>,
    socket: SocketHandle,
    /// The node the image's app plays (its events are printed under this name); `None` for the
    /// built-in app, printed as `board`.
    node: Option<String>,
    /// The chip time that is the app's time 0 (0 for the built-in app: the chip's clock).
    origin_us: u64,
    window_start_us: u64,
    shown: u32,
    hidden: u32,
    done_reported: bool,
}

impl AppNode {
    pub fn start<D: RadioLink>(
        net: &mut Net<D>,
        app: Box<dyn App>,
        node: Option<String>,
        origin_us: u64,
    ) -> Result<AppNode, AppError> {
        if app.port() == 0 {
            return Err(AppError::Bind);
        }
        let socket = udplab_firmware::add_smoltcp_socket(&mut net.sockets, app.port())?;
        // Only an app that becomes done is reported (a client that sent everything); a server
        // says it is done from the start (it only answers) and is never reported.
        let done_reported = app.is_done();
        Ok(AppNode { app, socket, node, origin_us, window_start_us: 0, shown: 0, hidden: 0, done_reported })
    }

    /// Runs the app once; returns when (chip time) it next wants to run.
    pub fn poll<D: RadioLink>(
        &mut self,
        net: &mut Net<D>,
        console: &mut Console,
        now_us: u64,
    ) -> Option<u64> {
        if now_us.saturating_sub(self.window_start_us) >= 1_000_000 {
            if self.hidden > 0 {
                say!(console, "app: ({} more events not shown)", self.hidden);
            }
            self.window_start_us = now_us;
            self.shown = 0;
            self.hidden = 0;
        }
        let socket = net.sockets.get_mut::<udp::Socket>(self.socket);
        let mut sock = SmoltcpSocket(socket);
        let who = self.node.as_deref().unwrap_or("board");
        let (shown, hidden) = (&mut self.shown, &mut self.hidden);
        let mut out = |event| {
            if *shown < EVENTS_PER_SECOND {
                *shown += 1;
                say!(console, "{:>10}  {who}  {event}", Time(now_us));
            } else {
                *hidden += 1;
            }
        };
        let app_now = now_us.saturating_sub(self.origin_us);
        let wake = self.app.poll(&mut Context::new(app_now, &mut sock, &mut out));
        if self.app.is_done() && !self.done_reported {
            self.done_reported = true;
            match &self.node {
                None => say!(console, "app: client done"),
                Some(node) => say!(console, "app: {node} done"),
            }
        }
        wake.map(|w| w.saturating_add(self.origin_us))
    }
}

/// Sleeps until the earliest of the wake-ups, but at least `MIN` and at most `MAX`
/// microseconds: received frames do not wake this loop (no-op waker), so it polls.
pub fn idle(now_us: u64, wakes: &[Option<u64>]) {
    const MIN: u64 = 500;
    const MAX: u64 = 5_000;
    let next = wakes.iter().flatten().copied().min().unwrap_or(u64::MAX);
    sleep_us(next.saturating_sub(now_us).clamp(MIN, MAX));
}

/// Starts the board's app (see [`BoardApp`]), printing it or why it cannot.
pub fn start_app<D: RadioLink>(
    console: &mut Console,
    net: &mut Net<D>,
    settings: &Settings,
    board_app: &BoardApp,
    client_allowed: bool,
    now_us: u64,
) -> Option<AppNode> {
    let started = match board_app {
        BoardApp::BuiltIn => {
            // A client starts one second after the network is up, so the first lines are readable.
            let role = role(settings, client_allowed, now_us + 1_000_000);
            describe(console, &role);
            role.build().and_then(|app| AppNode::start(net, app, None, 0))
        }
        BoardApp::Image { node, make } => {
            let app = make();
            say!(console, "app: `{node}` (the image's app) on port {}", app.port());
            AppNode::start(net, app, Some(node.clone()), now_us)
        }
    };
    match started {
        Ok(app) => Some(app),
        Err(e) => {
            say!(console, "error: app: {e}");
            None
        }
    }
}

/// Runs a future on this thread until it completes or the chip clock reaches `until_us`: polls
/// it with a no-op waker every 10 ms (at most) and lets the radio tasks run in between (used for
/// the driver's async connect). `None` when time ran out; the future is then dropped, which
/// only stops listening (the caller decides what to do with the driver).
pub fn block_on_until<F: core::future::Future>(fut: F, until_us: u64) -> Option<F::Output> {
    let mut fut = core::pin::pin!(fut);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = now_us();
        if now >= until_us {
            return None;
        }
        sleep_us((until_us - now).min(10_000));
    }
}

/// A MAC address as `aa:bb:cc:dd:ee:ff`.
pub struct Mac(pub [u8; 6]);

impl core::fmt::Display for Mac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A seed for smoltcp (ports, DHCP transaction ids) from the hardware RNG.
pub fn random_seed() -> u64 {
    let rng = esp_hal::rng::Rng::new();
    (u64::from(rng.random()) << 32) | u64::from(rng.random())
}

/// Console commands while a network mode runs: `status` and `heap`. A running mode is left
/// only by a reset, or when a bounded wait (joining, DHCP) runs out.
pub fn command<D: RadioLink>(console: &mut Console, net: &Net<D>, line: &str, mode: &str) {
    match line.trim() {
        "status" => {
            let ip = net.iface.ipv4_addr();
            let d = net.device.drops();
            match ip {
                Some(ip) => {
                    say!(console, "status: {mode} ip {ip}, tx frames dropped (too long) {}", d.tx_too_long)
                }
                None => say!(console, "status: {mode} has no address yet"),
            }
        }
        "heap" => scenario_mode::print_heap(console),
        other => say!(
            console,
            "error: `{other}`: in {mode} mode only `status` and `heap` work (reset to change mode)"
        ),
    }
}
