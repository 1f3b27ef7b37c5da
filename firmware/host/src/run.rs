//! `udplab tap`: one firmware node on a TAP device, the scenario's other nodes as kernel
//! sockets on the other side of it, the scenario's links in between, on the real clock.
//!
//! ```text
//!   kernel peers (tokio UdpSocket)          firmware node (smoltcp)
//!   192.0.2.1:49152 ──┐                     ┌── App (same code as in memory and on the ESP32)
//!                     │  udplab0 (TAP)      │
//!        Linux stack ─┴─────────────────────┴─ Impaired<TapDevice>: the scenario's links
//! ```
//!
//! Pitfalls handled (see DESIGN.md): the kernel learns the firmware's MAC from a permanent
//! neighbour entry and smoltcp learns the kernel's from an injected ARP request, so no ARP
//! crosses the impaired link and no "first frame after attach" is lost to it; the TAP has no
//! checksum offload, so the kernel hands over complete checksums; datagrams stay under the
//! 1500-byte MTU (the app's maximum is 1472 bytes); device errors are counted, never fatal.

use std::future::poll_fn;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    HardwareAddress, IpAddress, IpCidr, Ipv4Address,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use udplab_firmware::{App, AppEvent, Context, Role, SmoltcpSocket, add_smoltcp_socket};
use udplab_sim::impaired::{Direction, Impaired, PathLink};
use udplab_sim::net::{Apps, builtin_apps};
use udplab_sim::{Event, Labeller, Record, Scenario, Trace};

use crate::kernel::KernelSocket;
use crate::kernel_view;
use crate::netns::{self, Missing};
use crate::program::{self, Exec, Placement, Program, ProgramEnd};
use crate::tap::{DeviceErrors, TapDevice};

/// The firmware's MAC address on the TAP (locally administered).
const FIRMWARE_MAC: [u8; 6] = [0x02, 0x75, 0x64, 0x70, 0x00, 0x01];
/// The kernel side's MAC, set rather than read: /sys shows the namespace it was mounted in, not
/// this thread's.
const KERNEL_MAC: [u8; 6] = [0x02, 0x75, 0x64, 0x70, 0x00, 0x02];
/// How long the run waits, once every client is done and no datagram is held, for stragglers.
const QUIET: Duration = Duration::from_millis(300);
/// Longest sleep between polls: a safety net, not a timing assumption.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// How often the run asks the kernel whether the TAP is still up (a TAP set down keeps its
/// descriptor; only the routes through it vanish).
const LINK_CHECK_US: u64 = 200_000;
/// How long the run waits for a program playing a server to bind its port.
const PROGRAM_BIND_WAIT: Duration = Duration::from_secs(10);
/// How long a program still running at the end has between SIGTERM and SIGKILL.
const PROGRAM_GRACE: Duration = Duration::from_millis(300);
/// Wake-ups closer than this are waited for by polling rather than by the millisecond timer.
const SPIN_BELOW: Duration = Duration::from_micros(1_500);

#[derive(Debug, Clone)]
pub struct TapOptions {
    /// Name of the node that runs as firmware on the TAP; default: the first server.
    pub firmware: Option<String>,
    /// Keep the firmware running until Ctrl-C, without starting the kernel peers, so a person
    /// can talk to it.
    pub hold: bool,
    /// End a `hold` after this long (default: until Ctrl-C).
    pub hold_for: Option<Duration>,
    /// Stop a run that is not done after this much wall-clock time, as incomplete.
    pub time_limit: Option<Duration>,
    /// TAP device name inside the namespace.
    pub tap_name: String,
    /// Set to end the run from another thread (checked every loop, at least every 50 ms).
    pub stop: Option<Arc<AtomicBool>>,
    /// Keep the bytes of every datagram crossing a link, for a packet capture.
    pub capture: bool,
    /// Names the datagrams of a user's own protocol in the trace, as in memory
    /// (`udplab_sim::Sim::labeller`); `None`: udplab's own labels.
    pub labeller: Option<Labeller>,
    /// Nodes played by programs of your own instead of their app (see [`crate::program`]):
    /// each runs on the kernel side, inside the run's namespace, from its node's address.
    pub exec: Vec<Exec>,
}

impl Default for TapOptions {
    fn default() -> Self {
        TapOptions {
            firmware: None,
            hold: false,
            hold_for: None,
            time_limit: None,
            tap_name: "udplab0".into(),
            stop: None,
            capture: false,
            labeller: None,
            exec: Vec::new(),
        }
    }
}

/// Where things are once the namespace is up: what a person (or a test) needs to reach the
/// firmware from the kernel side.
#[derive(Debug, Clone)]
pub struct Ready {
    /// For `nsenter --net=PATH`.
    pub namespace: String,
    pub tap: String,
    pub firmware_name: String,
    pub firmware_addr: [u8; 4],
    pub firmware_port: u16,
    /// Kernel-side addresses on the TAP, with the node each belongs to.
    pub kernel_addrs: Vec<(String, [u8; 4])>,
}

/// Callbacks a caller can hang on a run.
pub struct Hooks<'a> {
    /// Called once the namespace, TAP and firmware are up, before the clock starts.
    pub ready: &'a mut dyn FnMut(&Ready),
    /// Every trace record, in time order, as it happens.
    pub live: &'a mut dyn FnMut(&Record),
}

/// Why a TAP run did not happen or stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Privileges, devices or tools are missing: the run did not start.
    Missing(String),
    /// The scenario cannot run on a TAP as asked.
    Scenario(String),
    /// Setting up the namespace or sockets failed.
    Setup(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Missing(m) | HostError::Scenario(m) | HostError::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostError {}

impl From<Missing> for HostError {
    fn from(m: Missing) -> Self {
        HostError::Setup(m.0)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every client finished and the links fell quiet.
    Done,
    /// The scenario's duration ran out.
    Duration,
    /// Ctrl-C (SIGINT).
    Interrupted,
    /// [`TapOptions::stop`] was set by the caller.
    Stopped,
    /// SIGTERM.
    Terminated,
    /// [`TapOptions::time_limit`] ran out.
    TimeLimit,
    /// The TAP device went away.
    DeviceGone,
}

impl Stop {
    /// Why the run did not finish, or `None` when it did (every client done, or the
    /// scenario's duration over, as in memory). Expectations are judged only on a finished run.
    pub fn incomplete(self) -> Option<&'static str> {
        match self {
            Stop::Done | Stop::Duration => None,
            Stop::Interrupted => Some("interrupted (SIGINT) before the scenario was done"),
            Stop::Terminated => Some("terminated (SIGTERM) before the scenario was done"),
            Stop::Stopped => Some("stopped by the caller before the scenario was done"),
            Stop::TimeLimit => Some("the wall-clock limit (--timeout) ran out before the scenario was done"),
            Stop::DeviceGone => Some("the TAP device went away (or went down) before the scenario was done"),
        }
    }
}

#[derive(Debug)]
pub struct TapRun {
    pub trace: Trace,
    pub firmware: usize,
    pub stop: Stop,
    pub device_errors: DeviceErrors,
    /// Frames towards the firmware that the kernel dropped in the TAP's queue (its transmit
    /// drop counter over the run): datagrams the kernel peers sent that never reached a link.
    pub kernel_dropped: u64,
    /// UDP datagrams towards the firmware still in the TAP's queue when the run ended: sent by
    /// the kernel peers, never dropped by the kernel and never offered to a link.
    pub unread_at_end: u64,
    /// Times the TAP went down and came back during a hold, and the route and neighbour entry
    /// to the firmware were put back.
    pub link_restored: u32,
    /// Received frames dropped because the stack's ready queue was full.
    pub overflow: u64,
    /// Packet bytes, when [`TapOptions::capture`] asked for them.
    pub captured: Vec<udplab_sim::net::Captured>,
    /// How each [`TapOptions::exec`] program ended, in the order given.
    pub programs: Vec<ProgramEnd>,
}

/// Who is who on the TAP.
struct Plan {
    firmware: usize,
    peers: Vec<usize>,
    links: Vec<PathLink>,
    /// (node, what to run as it), for `TapOptions::exec`.
    programs: Vec<(usize, Exec)>,
}

fn plan(scenario: &Scenario, opts: &TapOptions) -> Result<Plan, HostError> {
    let firmware = match &opts.firmware {
        Some(name) => scenario
            .nodes
            .iter()
            .position(|n| &n.name == name)
            .ok_or_else(|| HostError::Scenario(format!("no node named `{name}` in the scenario")))?,
        None => scenario.nodes.iter().position(|n| matches!(n.role, Role::Server(_))).ok_or_else(|| {
            HostError::Scenario("the scenario has no server node to run as firmware".into())
        })?,
    };
    let peers: Vec<usize> = (0..scenario.nodes.len()).filter(|&i| i != firmware).collect();
    let mut programs = Vec::new();
    for exec in &opts.exec {
        let names = || scenario.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
        let node = scenario.nodes.iter().position(|n| n.name == exec.node).ok_or_else(|| {
            HostError::Scenario(format!(
                "--exec {}=...: no node named `{}` (its nodes: {})",
                exec.node,
                exec.node,
                names()
            ))
        })?;
        if node == firmware {
            return Err(HostError::Scenario(format!(
                "--exec {}=...: `{}` runs as firmware on the TAP; a program can play any other node \
                 (choose the firmware with --firmware)",
                exec.node, exec.node
            )));
        }
        if programs.iter().any(|(n, _)| *n == node) {
            return Err(HostError::Scenario(format!("--exec {}=... is given twice", exec.node)));
        }
        if opts.hold {
            return Err(HostError::Scenario(
                "--exec and --hold do not go together: a hold has no peers but the person at the keyboard"
                    .into(),
            ));
        }
        programs.push((node, exec.clone()));
    }
    let mut links = Vec::new();
    for &p in &peers {
        for (from, to) in [(p, firmware), (firmware, p)] {
            if let Some(index) = scenario.link_between(from, to) {
                links.push(PathLink {
                    index,
                    name: scenario.link_name(index),
                    src: Some(scenario.nodes[from].addr),
                    dst: Some(scenario.nodes[to].addr),
                    direction: Some(if from == firmware { Direction::Out } else { Direction::In }),
                    port: None,
                    spec: scenario.links[index].clone(),
                });
            }
        }
    }
    Ok(Plan { firmware, peers, links, programs })
}

/// Lets the stack take only what the firmware's socket has room for, so smoltcp never drops a
/// datagram silently ("buffer full"): the rest waits in the device, whose own overflow is traced.
/// Room for frames is counted only while the socket is empty (smoltcp does not say how many
/// datagrams it holds); the built-in apps read everything at each poll.
fn budget(device: &mut Impaired<TapDevice>, sockets: &SocketSet<'_>, handle: smoltcp::iface::SocketHandle) {
    let sock = sockets.get::<udp::Socket>(handle);
    let frames = if sock.can_recv() { 0 } else { sock.packet_recv_capacity() };
    let bytes = sock.payload_recv_capacity().saturating_sub(sock.recv_queue());
    device.set_rx_budget(frames, bytes);
}

/// The host route and permanent neighbour entry through which the kernel reaches the firmware
/// without ARP on the impaired link. The kernel flushes both when the TAP goes down. `src`: the
/// address a socket that did not bind one sends from (a program's node).
fn reach_firmware(dev: &str, fw_addr: [u8; 4], src: Option<[u8; 4]>) -> Result<(), netns::Missing> {
    let dst = format!("{}/32", dotted(fw_addr));
    match src {
        Some(src) => netns::ip(&["route", "replace", &dst, "dev", dev, "src", &dotted(src)])?,
        None => netns::ip(&["route", "replace", &dst, "dev", dev])?,
    }
    let fw_mac = mac_text(FIRMWARE_MAC);
    netns::ip(&["neigh", "replace", &dotted(fw_addr), "lladdr", &fw_mac, "dev", dev, "nud", "permanent"])
}

fn dotted(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

/// An ARP request from the kernel side asking for the firmware's address: smoltcp fills its
/// neighbour cache from it.
fn arp_request(kernel_mac: [u8; 6], kernel_ip: [u8; 4], firmware_ip: [u8; 4]) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(kernel_mac),
        source_protocol_addr: Ipv4Address::from_octets(kernel_ip),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::from_octets(firmware_ip),
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress(kernel_mac),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut frame = vec![0; eth.buffer_len() + arp.buffer_len()];
    let mut f = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut f);
    arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    frame
}

fn mac_text(mac: [u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// Readiness of the TAP for tokio, through a duplicate of its descriptor that the `AsyncFd`
/// owns (the device keeps reading and writing through its own).
fn watch(tap_fd: RawFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `tap_fd` belongs to the TapDevice, which outlives this call.
    let dup = unsafe { BorrowedFd::borrow_raw(tap_fd) }.try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns `dup`, a valid descriptor, and closes it only when dropped.
    unsafe { AsyncFd::register_with_interest(dup, Interest::READABLE) }.map_err(std::io::Error::from)
}

/// Runs `scenario` with one node as firmware on a TAP device in a new network namespace, every
/// node running the built-in app its role describes.
///
/// The calling thread is moved into that namespace for good (the CLI calls this on its main
/// thread; tests call it on threads of their own).
pub fn run_tap(
    scenario: &Scenario,
    seed: u64,
    opts: &TapOptions,
    hooks: Hooks<'_>,
) -> Result<TapRun, HostError> {
    let apps = builtin_apps(scenario)
        .map_err(|e| HostError::Scenario(format!("node {}: {}", scenario.nodes[e.node].name, e.error)))?;
    run_tap_apps(scenario, seed, apps, opts, hooks)
}

/// [`run_tap`] with `apps[i]` on node `i`: the firmware node's app runs over smoltcp on the
/// TAP, the others over kernel sockets (`udplab_sim::Sim::apps` builds them, with your apps
/// attached; pass its labeller in [`TapOptions::labeller`]). Panics if `apps` does not have one
/// app per node.
pub fn run_tap_apps(
    scenario: &Scenario,
    seed: u64,
    apps: Apps<'_>,
    opts: &TapOptions,
    hooks: Hooks<'_>,
) -> Result<TapRun, HostError> {
    assert_eq!(apps.len(), scenario.nodes.len(), "one app per node");
    // What the scenario and options ask for is checked first: a mistake there is reported the
    // same with or without root.
    let plan = plan(scenario, opts)?;
    netns::check_privileges().map_err(|m| HostError::Missing(m.0))?;
    netns::enter_new_namespace()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HostError::Setup(format!("tokio runtime: {e}")))?;
    rt.block_on(run_in_namespace(scenario, seed, apps, opts, plan, hooks))
}

async fn run_in_namespace(
    scenario: &Scenario,
    seed: u64,
    apps: Apps<'_>,
    opts: &TapOptions,
    plan: Plan,
    hooks: Hooks<'_>,
) -> Result<TapRun, HostError> {
    let mut apps: Vec<Option<Box<dyn App + '_>>> = apps.into_iter().map(Some).collect();
    let fw = &scenario.nodes[plan.firmware];
    let mut tap = TapDevice::open(&opts.tap_name).map_err(|e| {
        // Nothing about the scenario can make this fail: it is the machine.
        HostError::Missing(format!(
            "cannot create a TAP device through /dev/net/tun: {e} (is it the TUN/TAP character device, \
                 major 10 minor 200, and is the tun module loaded?)"
        ))
    })?;
    let dev = tap.name().to_string();
    for &p in &plan.peers {
        netns::ip(&["addr", "add", &format!("{}/32", dotted(scenario.nodes[p].addr)), "dev", &dev])?;
    }
    netns::ip(&["link", "set", "dev", &dev, "address", &mac_text(KERNEL_MAC)])?;
    // No IPv6 on the TAP: the kernel's router and multicast-listener chatter would share the
    // TAP's queue with the scenario's datagrams and blur its drop counter. (/proc/sys/net is
    // this thread's namespace's; best effort: a kernel without IPv6 has no such file.)
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
    netns::ip(&["link", "set", &dev, "up"])?;
    // A program that does not bind (most clients) sends from its node's address.
    let program_src = plan.programs.first().map(|(p, _)| scenario.nodes[*p].addr);
    reach_firmware(&dev, fw.addr, program_src)?;
    // Programs run as the user behind sudo: let them bind low ports (a board's port 80, 53)
    // in this namespace as root could. Best effort: older kernels have no such setting.
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    for &p in &plan.peers {
        tap.inject(arp_request(KERNEL_MAC, scenario.nodes[p].addr, fw.addr));
    }
    let tap_fd: RawFd = tap.as_raw_fd();

    // The firmware node.
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(FIRMWARE_MAC)));
    config.random_seed = seed;
    let mut device = Impaired::new(tap, seed, plan.links.clone());
    if opts.capture {
        device.capture();
    }
    if let Some(labeller) = opts.labeller {
        device.set_labeller(labeller);
    }
    let mut iface = Interface::new(config, &mut device, Instant::ZERO);
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from_octets(fw.addr)), 0));
    });
    let mut sockets = SocketSet::new(Vec::new());
    let app_err = |e| HostError::Scenario(format!("node {}: {e}", fw.name));
    let mut app = apps[plan.firmware].take().expect("one app per node");
    let handle = add_smoltcp_socket(&mut sockets, app.port()).map_err(app_err)?;

    // The kernel peers (none while holding: the person at the keyboard is the peer).
    let mut peers = Vec::new();
    if !opts.hold {
        for &p in &plan.peers {
            let node = &scenario.nodes[p];
            let peer_app = apps[p].take().expect("one app per node");
            if plan.programs.iter().any(|(n, _)| *n == p) {
                continue;
            }
            if peer_app.port() == 0 {
                return Err(HostError::Scenario(format!(
                    "node {}: {}",
                    node.name,
                    udplab_firmware::AppError::Bind
                )));
            }
            let addr = std::net::SocketAddrV4::new(node.addr.into(), peer_app.port());
            let sock = tokio::net::UdpSocket::bind(addr)
                .await
                .map_err(|e| HostError::Setup(format!("binding {addr} for {}: {e}", node.name)))?;
            peers.push((p, peer_app, sock, Some(0u64)));
        }
    }

    let afd = watch(tap_fd).map_err(|e| HostError::Setup(format!("watching the TAP: {e}")))?;
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| HostError::Setup(format!("watching for SIGTERM: {e}")))?;

    // Let the injected ARP request be answered before the clock starts.
    iface.poll(Instant::ZERO, &mut device, &mut sockets);
    let _ = device.take_records();
    tokio::time::sleep(Duration::from_millis(20)).await;
    (hooks.ready)(&Ready {
        namespace: netns::namespace_path(),
        tap: dev.clone(),
        firmware_name: fw.name.clone(),
        firmware_addr: fw.addr,
        firmware_port: app.port(),
        kernel_addrs: plan
            .peers
            .iter()
            .map(|&p| (scenario.nodes[p].name.clone(), scenario.nodes[p].addr))
            .collect(),
    });

    let mut programs = Vec::new();
    for (p, exec) in &plan.programs {
        let node = &scenario.nodes[*p];
        let (port, must_finish) = match node.role {
            Role::Server(s) => (s.port, false),
            Role::Client(c) => (c.port, true),
            Role::Code => (0, true),
        };
        let place = Placement {
            node: node.name.clone(),
            addr: node.addr,
            port,
            firmware_addr: fw.addr,
            firmware_port: app.port(),
        };
        let mut program = Program::start(*p, must_finish, exec, &place).map_err(HostError::Setup)?;
        if matches!(node.role, Role::Server(_)) {
            // The firmware client's clock starts once the program listens, as a person would
            // start the server first: an interpreter starting under load can take a second, and
            // datagrams sent before it binds would be refused by the kernel, not by a link.
            let until = std::time::Instant::now() + PROGRAM_BIND_WAIT;
            while !program::udp_port_bound(port) && !program.has_ended() && std::time::Instant::now() < until
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        programs.push(program);
    }

    let dropped_before = kernel_view::tx_dropped(&dev).unwrap_or_default();
    let mut link_checked_us = 0;
    let mut link_restored = 0;
    let start = tokio::time::Instant::now();
    let now_us = || start.elapsed().as_micros() as u64;
    let mut records: Vec<Record> = Vec::new();
    let mut printed = 0;
    let mut quiet_since: Option<u64> = None;
    let duration = scenario.duration_us;
    let stop = loop {
        let now = now_us();
        let t = Instant::from_micros(now as i64);
        device.pump(now);
        budget(&mut device, &sockets, handle);
        iface.poll(t, &mut device, &mut sockets);
        records.extend(device.take_records());
        let mut events: Vec<(usize, AppEvent)> = Vec::new();
        let fw_wake = {
            let mut sock = SmoltcpSocket(sockets.get_mut::<udp::Socket>(handle));
            let mut out = |e| events.push((plan.firmware, e));
            app.poll(&mut Context::new(now, &mut sock, &mut out))
        };
        budget(&mut device, &sockets, handle);
        iface.poll(t, &mut device, &mut sockets);
        for (node, ev) in events.drain(..) {
            records.push(Record { at_us: now, event: Event::App { node, app: ev } });
        }
        records.extend(device.take_records());
        for (node, peer_app, sock, wake) in peers.iter_mut() {
            let mut out = |e| events.push((*node, e));
            *wake = peer_app.poll(&mut Context::new(now, &mut KernelSocket(sock), &mut out));
        }
        for (node, ev) in events.drain(..) {
            records.push(Record { at_us: now, event: Event::App { node, app: ev } });
        }
        // Records arrive in order per source; order them by time for the live view.
        records[printed..].sort_by_key(|r| r.at_us);
        for r in &records[printed..] {
            (hooks.live)(r);
        }
        printed = records.len();

        if device.inner_mut().errors.gone {
            break Stop::DeviceGone;
        }
        if now >= link_checked_us + LINK_CHECK_US {
            link_checked_us = now;
            if kernel_view::route_present(&dev, fw.addr) == Some(false) {
                if !opts.hold {
                    break Stop::DeviceGone;
                }
                // A person bounced the TAP during a hold: once it is up again, make the
                // firmware reachable again (fails quietly while it is still down).
                if reach_firmware(&dev, fw.addr, program_src).is_ok() {
                    link_restored += 1;
                }
            }
        }
        if !opts.hold && now >= duration {
            break Stop::Duration;
        }
        if !opts.hold && opts.time_limit.is_some_and(|l| now >= l.as_micros() as u64) {
            break Stop::TimeLimit;
        }
        if opts.hold && opts.hold_for.is_some_and(|h| now >= h.as_micros() as u64) {
            break Stop::Duration;
        }
        if opts.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            break Stop::Stopped;
        }
        let clients_done = app.is_done();
        let peers_done = peers.iter().all(|(_, a, _, _)| a.is_done())
            && programs.iter_mut().all(|p| !p.must_finish || p.has_ended());
        if !opts.hold && clients_done && peers_done && device.next_release_us().is_none() {
            let since = *quiet_since.get_or_insert(now);
            if now - since >= QUIET.as_micros() as u64 {
                break Stop::Done;
            }
        } else {
            quiet_since = None;
        }

        let iface_wake = iface.poll_at(t, &sockets).map(|i| i.total_micros().max(0) as u64);
        let wake = [fw_wake, iface_wake, device.next_release_us()]
            .into_iter()
            .chain(peers.iter().map(|p| p.3))
            .flatten()
            .min();
        let sleep =
            wake.map_or(MAX_SLEEP, |w| Duration::from_micros(w.saturating_sub(now_us()))).min(MAX_SLEEP);
        if sleep < SPIN_BELOW {
            // tokio's timer counts whole milliseconds: sleeping would deliver a 5 ms delay after
            // 6 ms. Close to a due time, poll again instead (the TAP and sockets are non-blocking).
            tokio::task::yield_now().await;
            continue;
        }
        let peer_socks: Vec<&tokio::net::UdpSocket> = peers.iter().map(|p| &p.2).collect();
        let any_peer = poll_fn(|cx| {
            if peer_socks.iter().any(|s| s.poll_recv_ready(cx).is_ready()) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        tokio::select! {
            guard = afd.readable() => {
                if let Ok(mut g) = guard {
                    g.clear_ready();
                }
            }
            _ = any_peer => {}
            // Wake early and poll the rest of the way (see SPIN_BELOW).
            _ = tokio::time::sleep(sleep - SPIN_BELOW) => {}
            _ = &mut ctrl_c => break Stop::Interrupted,
            _ = sigterm.recv() => break Stop::Terminated,
        }
    };
    let end = now_us();
    let programs: Vec<ProgramEnd> = programs
        .into_iter()
        .map(|p| {
            let name = scenario.nodes[p.node].name.clone();
            p.stop(&name, PROGRAM_GRACE)
        })
        .collect();
    let unread_at_end = device.inner_mut().drain_unread();
    let kernel_dropped =
        kernel_view::tx_dropped(&dev).map_or(0, |after| after.saturating_sub(dropped_before));
    records.extend(device.finish(end));
    records.sort_by_key(|r| r.at_us);
    drop(afd);
    let overflow = device.overflow;
    let captured = device.take_captured();
    let device_errors = device.inner_mut().errors.clone();
    Ok(TapRun {
        trace: records,
        firmware: plan.firmware,
        stop,
        device_errors,
        kernel_dropped,
        unread_at_end,
        link_restored,
        overflow,
        captured,
        programs,
    })
}
