//! The virtual-time network: every node is a smoltcp interface running the firmware app, every
//! directed pair of nodes is joined by an impaired link, and a discrete-event loop jumps from
//! one event to the next. Nothing here reads a clock: 60 simulated seconds take milliseconds.

use alloc::boxed::Box;
use alloc::vec::Vec;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Packet};
use udplab_firmware::{App, AppError, Context, SmoltcpSocket, add_smoltcp_socket};

use crate::device::QueueDevice;
use crate::due::{Due, overtaken};
use crate::link::{Fate, LinkState};
use crate::link_index::LinkIndex;
use crate::repeats::Mixed;
use crate::rng::{mix, name_key};
use crate::scenario::Scenario;
pub use crate::trace::Captured;
use crate::trace::{Event, Label, Labeller, Record, Trace};
use crate::wakes::Wakes;
use core::hash::BuildHasherDefault;
use hashbrown::HashMap;

/// Why a scenario could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub node: usize,
    pub error: AppError,
}

/// One app per node, in the scenario's node order.
pub type Apps<'a> = Vec<Box<dyn App + 'a>>;

/// The built-in app of every node, as its role describes it; a node whose role is `code` is a
/// [`StartError`] naming it ([`AppError::NeedsCode`]).
pub fn builtin_apps(scenario: &Scenario) -> Result<Apps<'static>, StartError> {
    scenario
        .nodes
        .iter()
        .enumerate()
        .map(|(node, n)| n.role.build().map_err(|error| StartError { node, error }))
        .collect()
}

struct Node<'a> {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    socket: SocketHandle,
    app: Box<dyn App + 'a>,
    wake_us: Option<u64>,
    /// Datagrams the socket still holds after a step: none unless smoltcp declined one, and
    /// then the next step tries them again before what its app adds.
    unsent: usize,
}

/// A copy of a datagram on its way through a link.
struct InFlight {
    link: usize,
    /// Where the link's state is in [`Network::links`].
    slot: usize,
    index: u64,
    copy: u8,
    label: Label,
    sent_us: u64,
    packet: Vec<u8>,
}

/// A node's socket that counts the datagrams its app queued in one step.
struct Counted<'a, 'b> {
    socket: SmoltcpSocket<'a, 'b>,
    sent: usize,
}

impl udplab_firmware::Socket for Counted<'_, '_> {
    fn recv_from(&mut self, buf: &mut [u8]) -> Option<(usize, udplab_firmware::Endpoint)> {
        self.socket.recv_from(buf)
    }

    fn send_to(
        &mut self,
        bytes: &[u8],
        to: udplab_firmware::Endpoint,
    ) -> Result<(), udplab_firmware::SendFailure> {
        self.socket.send_to(bytes, to)?;
        self.sent += 1;
        Ok(())
    }
}

/// The state of a link a datagram has crossed (links nobody uses have none).
struct Used {
    link: usize,
    /// The node it leads to.
    to: usize,
    state: LinkState,
    /// Highest index that has arrived on the link (reordering detection).
    highest_arrived: u64,
}

/// Keys that are already well mixed hash to themselves.
type MixedMap<V> = HashMap<u64, V, BuildHasherDefault<Mixed>>;

/// One run of a scenario in virtual time.
pub struct Network<'s> {
    scenario: &'s Scenario,
    nodes: Vec<Node<'s>>,
    /// Each node's index by its address (mixed), the first node of an address winning.
    by_addr: MixedMap<usize>,
    index: LinkIndex,
    /// The used links' slots in `links` by their direction (mixed `from << 32 | to`), made
    /// when the first datagram crosses: LinkState::new depends on nothing but the link.
    slots: MixedMap<usize>,
    links: Vec<Used>,
    wakes: Wakes,
    /// The nodes due at one instant (kept to reuse its memory).
    due: Vec<usize>,
    in_flight: Due<InFlight>,
    trace: Trace,
    /// The frames a node just sent, between its device and the links (kept for its memory).
    frames: Vec<Vec<u8>>,
    capture: Option<Vec<Captured>>,
    labeller: Option<Labeller>,
    seed: u64,
}

/// A node's address as a map key (mixed, so the map's hash can be the key itself).
fn addr_key(addr: [u8; 4]) -> u64 {
    mix(u64::from(u32::from_be_bytes(addr)))
}

/// Runs `scenario` with `seed` to its end and returns the trace.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Trace, StartError> {
    // The network's own record vector is the trace: draining it into another would copy every
    // record twice (about 350 instructions per datagram at ping-pong, `udplab-bench`).
    let mut net = Network::new(scenario, seed, builtin_apps(scenario)?)?;
    net.run_until(scenario.duration_us);
    Ok(net.finish())
}

/// Runs `scenario` handing each record to `emit` as soon as it exists, keeping none: memory
/// stays bounded by what is in flight, not by the length of the run. Returns the record count.
pub fn run_streaming(
    scenario: &Scenario,
    seed: u64,
    emit: &mut dyn FnMut(&Record),
) -> Result<usize, StartError> {
    Ok(Network::new(scenario, seed, builtin_apps(scenario)?)?.run_streaming(emit))
}

/// Like [`run`], also keeping the bytes of every datagram offered to and arriving from a link.
/// Opt-in: captures cost a copy of every packet.
pub fn run_with_capture(scenario: &Scenario, seed: u64) -> Result<(Trace, Vec<Captured>), StartError> {
    let mut net = Network::new(scenario, seed, builtin_apps(scenario)?)?;
    net.capture = Some(Vec::new());
    net.run_until(scenario.duration_us);
    let captured = net.capture.take().unwrap_or_default();
    Ok((net.finish(), captured))
}

impl<'s> Network<'s> {
    /// A network running `apps[i]` on node `i`. Panics if `apps` does not have one app per
    /// node (a caller's bug, not an input error).
    pub fn new(scenario: &'s Scenario, seed: u64, apps: Apps<'s>) -> Result<Network<'s>, StartError> {
        assert_eq!(apps.len(), scenario.nodes.len(), "one app per node");
        let mut nodes = Vec::with_capacity(scenario.nodes.len());
        for ((i, spec), app) in scenario.nodes.iter().enumerate().zip(apps) {
            let mut device = QueueDevice::default();
            let mut config = Config::new(HardwareAddress::Ip);
            config.random_seed = 0;
            let mut iface = Interface::new(config, &mut device, Instant::ZERO);
            // A /0 prefix makes every address on-link: with Medium::Ip there is no ARP, and the
            // scenario's links, not a routing table, decide where a datagram goes.
            let addr = IpAddress::Ipv4(Ipv4Address::from_octets(spec.addr));
            iface.update_ip_addrs(|a| {
                let _ = a.push(IpCidr::new(addr, 0));
            });
            let mut sockets = SocketSet::new(Vec::new());
            let fail = |error| StartError { node: i, error };
            if app.port() == 0 {
                return Err(fail(AppError::Bind));
            }
            let socket = add_smoltcp_socket(&mut sockets, app.port()).map_err(fail)?;
            nodes.push(Node { iface, device, sockets, socket, app, wake_us: Some(0), unsent: 0 });
        }
        let mut by_addr = MixedMap::default();
        let mut wakes = Wakes::default();
        for (i, n) in scenario.nodes.iter().enumerate() {
            by_addr.entry(addr_key(n.addr)).or_insert(i);
            wakes.push(i, 0);
        }
        Ok(Network {
            scenario,
            nodes,
            by_addr,
            index: LinkIndex::of(scenario),
            slots: MixedMap::default(),
            links: Vec::new(),
            wakes,
            due: Vec::new(),
            seed,
            in_flight: Due::default(),
            trace: Trace::new(),
            frames: Vec::new(),
            capture: None,
            labeller: None,
        })
    }

    /// Keeps the bytes of every datagram offered to and coming out of a link from now on
    /// (opt-in: a copy per packet); [`Network::take_captured`] hands them over.
    pub fn capture(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// The packets captured so far.
    pub fn take_captured(&mut self) -> Vec<Captured> {
        self.capture.as_mut().map(core::mem::take).unwrap_or_default()
    }

    /// The scenario this network runs.
    pub fn scenario(&self) -> &'s Scenario {
        self.scenario
    }

    /// Names datagrams of the user's own protocol in the trace (see [`Labeller`]).
    pub fn set_labeller(&mut self, labeller: Labeller) {
        self.labeller = Some(labeller);
    }

    /// Whether every node's app says it is done ([`App::is_done`]).
    pub fn all_done(&self) -> bool {
        self.nodes.iter().all(|n| n.app.is_done())
    }

    /// Runs to the scenario's end handing each record to `emit` as soon as it exists, keeping
    /// none (see [`run_streaming`]). Returns the record count.
    pub fn run_streaming(mut self, emit: &mut dyn FnMut(&Record)) -> usize {
        let end_us = self.scenario.duration_us;
        let mut count = 0;
        loop {
            let more = self.advance(end_us);
            // Lent, not moved out: a drain copies each record once more (see `run`).
            for r in &self.trace {
                emit(r);
            }
            count += self.trace.len();
            self.trace.clear();
            if !more {
                break;
            }
        }
        for r in self.finish() {
            emit(&r);
            count += 1;
        }
        count
    }

    /// Processes every event up to and including `end_us`.
    pub fn run_until(&mut self, end_us: u64) {
        while self.advance(end_us) {}
    }

    /// Processes the next event (one arrival, or every node due to wake) if it is due by
    /// `end_us`; returns false when nothing is left to do by then.
    pub fn advance(&mut self, end_us: u64) -> bool {
        let next_arrival = self.in_flight.next_us();
        let nodes = &self.nodes;
        let next_wake = self.wakes.next_us(|i| nodes[i].wake_us);
        let now = match (next_arrival, next_wake) {
            (Some(a), Some(w)) => a.min(w),
            (a, w) => match a.or(w) {
                Some(t) => t,
                None => return false,
            },
        };
        if now > end_us {
            return false;
        }
        if next_arrival == Some(now) {
            if let Some((at_us, f)) = self.in_flight.pop_due(now) {
                self.arrive(at_us, f);
            }
        } else {
            let mut due = core::mem::take(&mut self.due);
            let nodes = &self.nodes;
            self.wakes.take_due(now, |i| nodes[i].wake_us, &mut due);
            for &i in &due {
                self.step(i, now);
            }
            self.due = due;
        }
        true
    }

    /// Takes the records made so far (they are in time order), so a runner with little memory
    /// can print them as the run goes instead of keeping the whole trace.
    pub fn take_records(&mut self) -> Trace {
        core::mem::take(&mut self.trace)
    }

    /// Hands over the records made so far, like [`Network::take_records`], but keeps the
    /// trace's memory for the next ones: a streaming runner calls this after every event, and a
    /// fresh vector each time is an allocation and a free per event.
    pub fn drain_records(&mut self) -> alloc::vec::Drain<'_, Record> {
        self.trace.drain(..)
    }

    /// The records made since the last [`Network::clear_records`], lent: the cheapest way to
    /// stream (no record is copied out; [`Network::drain_records`] moves each one), for a
    /// runner that reads them all and then clears.
    pub fn records(&self) -> &[Record] {
        &self.trace
    }

    /// Forgets the records made so far, keeping the memory for the next ones.
    pub fn clear_records(&mut self) {
        self.trace.clear();
    }

    /// Ends the run: whatever is still inside a link is recorded as in flight at the end.
    pub fn finish(mut self) -> Trace {
        let end = self.scenario.duration_us;
        for (_, f) in self.in_flight.drain_in_order() {
            let event = Event::InFlightAtEnd { link: f.link, index: f.index, label: f.label, copy: f.copy };
            self.trace.push(Record { at_us: end, event });
        }
        self.trace
    }

    fn arrive(&mut self, at_us: u64, f: InFlight) {
        let dst = self.links[f.slot].to;
        let overtaken_by = overtaken(&mut self.links[f.slot].highest_arrived, f.index, f.copy);
        let event = Event::Arrive {
            link: f.link,
            index: f.index,
            label: f.label,
            copy: f.copy,
            latency_us: at_us - f.sent_us,
            overtaken_by,
            late_us: 0,
        };
        self.trace.push(Record { at_us, event });
        if let Some(c) = &mut self.capture {
            let packet = f.packet.clone();
            c.push(Captured { at_us, link: f.link, index: f.index, copy: Some(f.copy), packet });
        }
        self.nodes[dst].device.rx.push_back(f.packet);
        self.step(dst, at_us);
    }

    /// Lets node `i` process what it received, run its app, and send.
    fn step(&mut self, i: usize, now_us: u64) {
        let now = Instant::from_micros(now_us as i64);
        let node = &mut self.nodes[i];
        let trace = &mut self.trace;
        // Ingress only before the app and egress only after it: the socket has nothing to send
        // before the app has run (every earlier step sent all it had), and nothing arrives
        // during a step. A full `poll` each time would walk both halves twice (about 120
        // instructions per datagram, `udplab-bench`).
        // One frame per call: as many calls as frames, not one more to find none (a step
        // woken by a timer has none).
        while !node.device.rx.is_empty()
            && node.iface.poll_ingress_single(now, &mut node.device, &mut node.sockets)
                != PollIngressSingleResult::None
        {}
        let mut socket =
            Counted { socket: SmoltcpSocket(node.sockets.get_mut::<udp::Socket>(node.socket)), sent: 0 };
        let mut out = |app| trace.push(Record { at_us: now_us, event: Event::App { node: i, app } });
        let app_wake = node.app.poll(&mut Context::new(now_us, &mut socket, &mut out));
        // One datagram per socket per call, and the node's one socket holds only what the app
        // just queued (and anything an earlier step could not send): one call per datagram,
        // not one more to find nothing left (about 60 instructions a step, `udplab-bench`).
        let mut queued = node.unsent + socket.sent;
        while queued > 0
            && node.iface.poll_egress(now, &mut node.device, &mut node.sockets)
                == PollResult::SocketStateChanged
        {
            queued -= 1;
        }
        node.unsent = queued;
        // The node's one UDP socket is smoltcp's only reason to want a poll in this build (no
        // fragmentation, no SLAAC), and it wants one, now, exactly while it holds a datagram:
        // known without `poll_at`'s walk over the sockets (about 40 instructions a step). Debug
        // builds, so every test, check that smoltcp agrees.
        let iface_wake = (queued > 0).then_some(now_us);
        debug_assert_eq!(
            iface_wake.is_some(),
            node.iface.poll_at(now, &node.sockets).is_some(),
            "node {i}: smoltcp wants a poll the step did not expect"
        );
        let wake = match (app_wake, iface_wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Never ask to run again at the same instant: that could spin without progress.
        let wake = wake.map(|w| w.max(now_us + 1));
        if let Some(at_us) = wake
            && node.wake_us != wake
        {
            self.wakes.push(i, at_us);
        }
        node.wake_us = wake;
        // Swapped with a kept vector, not taken: taking leaves the device a vector without
        // capacity, and its next frame would allocate one.
        let mut frames = core::mem::take(&mut self.frames);
        core::mem::swap(&mut frames, &mut self.nodes[i].device.tx);
        for packet in frames.drain(..) {
            self.route(i, now_us, packet);
        }
        self.frames = frames;
    }

    fn route(&mut self, from: usize, now_us: u64, mut packet: Vec<u8>) {
        let bytes = packet.len() as u32;
        let Ok(ip) = Ipv4Packet::new_checked(&packet[..]) else {
            return;
        };
        let dst = ip.dst_addr().octets();
        let label = Label::of_ipv4(&packet, self.labeller);
        let Some(slot) = self.by_addr.get(&addr_key(dst)).copied().and_then(|to| self.slot(from, to)) else {
            self.trace.push(Record { at_us: now_us, event: Event::NoRoute { node: from, dst, bytes } });
            return;
        };
        let link = self.links[slot].link;
        let offered = self.capture.is_some().then(|| packet.clone());
        let settings = self.scenario.link_settings(link);
        let (index, fate) =
            self.links[slot].state.offer_with(settings, now_us, &mut packet, || label.identity());
        self.trace.push(Record { at_us: now_us, event: Event::Offer { link, index, label, bytes, fate } });
        if let (Some(c), Some(packet)) = (&mut self.capture, offered) {
            c.push(Captured { at_us: now_us, link, index, copy: None, packet });
        }
        if let Fate::Passed(p) = fate {
            for copy in 0..p.copies {
                let at_us = p.arrive_us[usize::from(copy)];
                let packet = if copy + 1 == p.copies { core::mem::take(&mut packet) } else { packet.clone() };
                self.in_flight
                    .push(at_us, InFlight { link, slot, index, copy, label, sent_us: now_us, packet });
            }
        }
    }

    /// The slot of the link from `from` to `to`, made the first time a datagram crosses it.
    fn slot(&mut self, from: usize, to: usize) -> Option<usize> {
        let key = mix((from as u64) << 32 | to as u64);
        if let Some(&slot) = self.slots.get(&key) {
            return Some(slot);
        }
        let link = self.index.between(from, to)?;
        let state = LinkState::new(self.seed, name_key(&self.scenario.link_name(link)));
        self.links.push(Used { link, to, state, highest_arrived: 0 });
        self.slots.insert(key, self.links.len() - 1);
        Some(self.links.len() - 1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::report::Summary;
    use crate::rng::Prob;
    use crate::scenario::{Impairment, Loss};
    use crate::trace::Lines;
    use udplab_firmware::ArqConfig;

    pub(crate) fn echo(loss_ppb: u64, reliable: bool) -> Scenario {
        Pair {
            reliable: reliable.then(ArqConfig::default),
            up: Impairment {
                loss: Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() },
                delay_us: 5_000,
                ..Impairment::default()
            },
            seed: 7,
            ..Pair::default()
        }
        .build()
    }

    /// `run` keeps the network's own records and `run_streaming` hands them out as they come:
    /// the same records in the same order, reliable or not, lossy or not.
    #[test]
    fn a_kept_run_is_the_streamed_run() {
        for (loss, reliable) in [(0, false), (300_000_000, false), (300_000_000, true)] {
            let s = echo(loss, reliable);
            let kept = run(&s, 7).unwrap();
            let mut streamed = Vec::new();
            let count = run_streaming(&s, 7, &mut |r| streamed.push(*r)).unwrap();
            assert_eq!(count, streamed.len());
            assert!(kept.len() > 20, "{}", kept.len());
            assert!(kept.iter().eq(streamed.iter()), "loss {loss} reliable {reliable}");
        }
    }

    /// On a real clock a release 1 ms or more after its due time is pointed out on its line;
    /// less is left to the summary's percentiles.
    #[test]
    fn the_timeline_says_when_a_real_clock_released_a_datagram_late() {
        use crate::trace::{Label, Lines};
        let s = echo(0, false);
        let line = |late_us| {
            let event = Event::Arrive {
                link: 0,
                index: 1,
                label: Label::Data { seq: 1, attempt: 1 },
                copy: 0,
                latency_us: 5_000 + late_us,
                overtaken_by: None,
                late_us,
            };
            let mut out = alloc::string::String::new();
            Lines::new(&s).write(&mut out, &Record { at_us: 5_000 + late_us, event }).unwrap();
            out
        };
        assert!(
            line(1_500).ends_with("arrived after 6.500ms (real clock: released 1.500ms late)"),
            "{}",
            line(1_500)
        );
        assert!(line(999).ends_with("arrived after 5.999ms"), "{}", line(999));
        let summary = Summary::from_trace(&s, 7, &run(&s, 7).unwrap());
        assert_eq!(summary.late, None, "virtual time is never late");
    }

    /// A trace whose worst latency is 0.3 ms over `latency_max`, as a real clock delivers it.
    #[test]
    fn latency_max_gets_the_real_clock_tolerance_and_only_there() {
        use crate::report::Clock;
        let mut s = echo(0, false);
        s.expect.latency_max_us = Some(4_700);
        let summary = Summary::from_trace(&s, 7, &run(&s, 7).unwrap());
        assert_eq!(summary.check_on(&s, Clock::Virtual).len(), 1, "virtual time is exact");
        assert!(summary.check_on(&s, Clock::Real).is_empty(), "the default tolerance covers 0.3 ms");
        s.expect.latency_tolerance_us = Some(200);
        let failures = summary.check_on(&s, Clock::Real);
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].contains("4.700ms (+0.200ms real-clock tolerance), worst was 5.000ms"),
            "{failures:?}"
        );
    }

    #[test]
    fn capture_has_one_packet_per_offer_and_arrival_and_shows_the_damage() {
        let mut s = echo(0, false);
        s.links[0].impairment.corrupt = Prob::ALWAYS;
        let (trace, captured) = run_with_capture(&s, 1).unwrap();
        assert_eq!(trace, run(&s, 1).unwrap(), "capturing changes nothing");
        let link_events =
            trace.iter().filter(|r| matches!(r.event, Event::Offer { .. } | Event::Arrive { .. })).count();
        assert_eq!(captured.len(), link_events);
        let offered = captured.iter().find(|c| c.link == 0 && c.index == 1 && c.copy.is_none()).unwrap();
        let arrived = captured.iter().find(|c| c.link == 0 && c.index == 1 && c.copy == Some(0)).unwrap();
        assert_eq!(offered.packet.len(), arrived.packet.len());
        // Exactly one bit of the UDP payload (after 20 bytes of IPv4 and 8 of UDP header).
        let flipped: u32 =
            offered.packet[28..].iter().zip(&arrived.packet[28..]).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(flipped, 1);
    }

    #[test]
    fn perfect_echo_delivers_everything_in_order() {
        let s = echo(0, false);
        let trace = run(&s, 1).unwrap();
        let sum = Summary::from_trace(&s, 1, &trace);
        let f = &sum.flows[0];
        assert_eq!((f.sent, f.delivered, f.answered, f.duplicates, f.out_of_order), (20, 20, 20, 0, 0));
        assert_eq!(f.latency.min_us, 5_000);
        assert_eq!(f.round_trip.max_us, 5_000);
    }

    #[test]
    fn lossy_echo_loses_some_and_reliable_recovers_them() {
        let s = echo(300_000_000, false);
        let trace = run(&s, 3).unwrap();
        let sum = Summary::from_trace(&s, 3, &trace);
        std::println!("{}", Lines::new(&s).render(&trace));
        std::println!("{}", sum.render());
        assert!(sum.flows[0].lost > 0);

        let s = echo(300_000_000, true);
        let trace = run(&s, 3).unwrap();
        let sum = Summary::from_trace(&s, 3, &trace);
        std::println!("{}", Lines::new(&s).render(&trace));
        std::println!("{}", sum.render());
        let f = &sum.flows[0];
        assert_eq!((f.sent, f.delivered, f.duplicates, f.out_of_order), (20, 20, 0, 0));
        assert!(f.retransmissions > 0);
    }
}

/// The closed-loop client ([`udplab_firmware::Client::in_flight`]) driven through real links.
#[cfg(test)]
mod closed_loop {
    use super::*;
    use crate::estimate::Estimate;
    use crate::pair::Pair;
    use crate::rng::Prob;
    use crate::scenario::{Impairment, Loss};
    use udplab_firmware::AppEvent;

    fn pair(in_flight: u32, loss_ppb: u64) -> Scenario {
        let link = Impairment {
            delay_us: 1_000,
            loss: Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() },
            ..Impairment::default()
        };
        Pair {
            count: 200,
            interval_us: 0,
            size: 32,
            in_flight,
            up: link.clone(),
            down: link,
            duration_us: 60_000_000,
            ..Pair::default()
        }
        .build()
    }

    /// (time, seq) of every send by the client (node 0), and the seqs it stopped waiting for.
    fn sends_and_give_ups(trace: &Trace) -> (Vec<(u64, u32)>, Vec<u32>) {
        let (mut sends, mut gave_up) = (Vec::new(), Vec::new());
        for r in trace {
            match r.event {
                Event::App { node: 0, app: AppEvent::Sent { seq, .. } } => sends.push((r.at_us, seq)),
                Event::App { node: 0, app: AppEvent::NoReply { seq, .. } } => gave_up.push(seq),
                _ => {}
            }
        }
        (sends, gave_up)
    }

    #[test]
    fn stop_and_wait_sends_each_message_when_the_last_reply_arrives() {
        let trace = run(&pair(1, 0), 1).unwrap();
        let (sends, gave_up) = sends_and_give_ups(&trace);
        assert_eq!(sends.len(), 200);
        for (k, &(at_us, seq)) in sends.iter().enumerate() {
            assert_eq!((at_us, seq), (2_000 * k as u64, k as u32 + 1), "one round trip (2 ms) apart");
        }
        assert!(gave_up.is_empty());
    }

    #[test]
    fn a_window_keeps_that_many_messages_in_flight() {
        let trace = run(&pair(32, 0), 1).unwrap();
        let (sends, _) = sends_and_give_ups(&trace);
        assert_eq!(sends.len(), 200);
        // 32 at once, then each reply (2 ms later) releases the next: seq k goes at 2 ms x (k-1)/32.
        for &(at_us, seq) in &sends {
            assert_eq!(at_us, 2_000 * u64::from((seq - 1) / 32), "seq {seq}");
        }
    }

    #[test]
    fn a_lost_message_is_given_up_after_the_reply_timeout_and_frees_its_place() {
        let s = pair(4, 200_000_000);
        let trace = run(&s, 3).unwrap();
        let (sends, gave_up) = sends_and_give_ups(&trace);
        assert_eq!(sends.len(), 200, "every message is sent in the end");
        let replied: Vec<u32> = trace
            .iter()
            .filter_map(|r| match r.event {
                Event::App { node: 0, app: AppEvent::Reply { seq, .. } } => Some(seq),
                _ => None,
            })
            .collect();
        assert!(!gave_up.is_empty());
        let mut all: Vec<u32> = replied.iter().chain(&gave_up).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (1..=200).collect::<Vec<_>>(), "each message is answered or given up, once");
        // A message given up was sent one reply timeout before the give-up event.
        for r in &trace {
            if let Event::App { node: 0, app: AppEvent::NoReply { seq, waited_us } } = r.event {
                let sent = sends.iter().find(|s| s.1 == seq).unwrap().0;
                assert_eq!((r.at_us - sent, waited_us), (1_000_000, 1_000_000), "seq {seq}");
            }
        }
        // Never more than 4 waiting: count sends minus answers/give-ups as the trace goes.
        let mut waiting = 0i64;
        for r in &trace {
            match r.event {
                Event::App { node: 0, app: AppEvent::Sent { .. } } => waiting += 1,
                Event::App { node: 0, app: AppEvent::Reply { .. } | AppEvent::NoReply { .. } } => {
                    waiting -= 1
                }
                _ => {}
            }
            assert!((0..=4).contains(&waiting), "{waiting} waiting at {}", r.at_us);
        }
    }

    #[test]
    fn late_and_duplicated_replies_stay_within_the_estimate() {
        for dup_ppb in [0, 300_000_000] {
            let mut s = pair(2, 100_000_000);
            for l in &mut s.links {
                l.impairment.duplicate = Prob::from_ppb(dup_ppb).unwrap();
                l.impairment.jitter_us = 900;
            }
            if let udplab_firmware::Role::Client(c) = &mut s.nodes[0].role {
                c.reply_timeout_us = 1_500; // shorter than many round trips: replies come late
            }
            for seed in 1..5 {
                let trace = run(&s, seed).unwrap();
                let (_, gave_up) = sends_and_give_ups(&trace);
                assert!(gave_up.len() > 20, "seed {seed}: {} given up", gave_up.len());
                assert!(Estimate::of(&s).records >= trace.len() as u64, "seed {seed}, dup {dup_ppb}");
            }
        }
    }
}
