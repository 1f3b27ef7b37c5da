//! The library surface for testing your own apps: a scenario, your apps attached to its nodes,
//! runs for any seed, and an [`Outcome`] to assert on.
//!
//! In the spirit of turmoil's `Builder`/`Sim`, but the network is a scenario (a file or built
//! in code) and the result is udplab's trace, so the same timeline, summary, ladders and
//! captures the lessons get are there for your protocol. Apps are attached as factories, so
//! one `Sim` runs any number of seeds (a proptest property runs thousands) from fresh state.
//!
//! ```
//! use udplab_sim::pair::Pair;
//! use udplab_sim::Sim;
//!
//! // laptop (built-in client, 20 messages) -> board (built-in echo server), perfect links.
//! let sim = Sim::new(Pair::default().build());
//! let out = sim.run(7).unwrap();
//! out.flow("laptop", "board").check_exactly_once().unwrap();
//! ```

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use udplab_firmware::{App, AppError, Role};

use crate::net::{Apps, Captured, Network, StartError};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use crate::trace::Labeller;

type Factory<'a> = Box<dyn Fn() -> Box<dyn App + 'a> + 'a>;

/// A scenario with apps attached to its nodes. Nodes without an attached app run the built-in
/// app their role describes; a node with `role = "code"` must have one.
pub struct Sim<'a> {
    scenario: Scenario,
    factories: Vec<Option<Factory<'a>>>,
    labeller: Option<Labeller>,
    unknown: Vec<String>,
}

/// Why a [`Sim`] could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// [`Sim::app`] named a node the scenario does not have.
    UnknownNode { name: String, known: Vec<String> },
    /// A node's app could not start (a `code` node without an app, port 0, a bad built-in
    /// configuration).
    Start { node: String, error: AppError },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::UnknownNode { name, known } => {
                write!(f, "no node named `{name}` in the scenario (its nodes: {})", known.join(", "))
            }
            SimError::Start { node, error } => write!(f, "node `{node}` cannot start: {error}"),
        }
    }
}

impl core::error::Error for SimError {}

impl<'a> Sim<'a> {
    pub fn new(scenario: Scenario) -> Sim<'a> {
        let factories = scenario.nodes.iter().map(|_| None).collect();
        Sim { scenario, factories, labeller: None, unknown: Vec::new() }
    }

    /// Runs the app that `make` builds on node `node` (a `code` node, or a built-in one you
    /// want to replace). `make` is called once per run, so every run starts from fresh state.
    /// An unknown node name is reported by [`Sim::run`].
    pub fn app<A: App + 'a>(&mut self, node: &str, make: impl Fn() -> A + 'a) -> &mut Self {
        match self.scenario.nodes.iter().position(|n| n.name == node) {
            Some(i) => self.factories[i] = Some(Box::new(move || Box::new(make()) as Box<dyn App + 'a>)),
            None => self.unknown.push(node.to_string()),
        }
        self
    }

    /// Names the datagrams of your protocol in the trace and pictures (see [`Labeller`]).
    pub fn labeller(&mut self, labeller: Labeller) -> &mut Self {
        self.labeller = Some(labeller);
        self
    }

    /// The labeller set with [`Sim::labeller`], for runners that label datagrams themselves
    /// (the TAP runner's device).
    pub fn current_labeller(&self) -> Option<Labeller> {
        self.labeller
    }

    /// The nodes whose role is `code` and that have no app attached, in node order: all of
    /// them, where [`Sim::run`] reports only the first.
    pub fn missing_apps(&self) -> Vec<&str> {
        self.scenario
            .nodes
            .iter()
            .zip(&self.factories)
            .filter(|(node, factory)| node.role == Role::Code && factory.is_none())
            .map(|(node, _)| node.name.as_str())
            .collect()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The scenario, to change between runs (a property test varies its links).
    pub fn scenario_mut(&mut self) -> &mut Scenario {
        &mut self.scenario
    }

    /// A fresh app for every node, in node order: what a runner needs.
    pub fn apps(&self) -> Result<Apps<'a>, SimError> {
        if let Some(name) = self.unknown.first() {
            let known = self.scenario.nodes.iter().map(|n| n.name.clone()).collect();
            return Err(SimError::UnknownNode { name: name.clone(), known });
        }
        self.scenario
            .nodes
            .iter()
            .zip(&self.factories)
            .map(|(node, factory)| match factory {
                Some(make) => Ok(make()),
                None => node.role.build().map_err(|error| SimError::Start { node: node.name.clone(), error }),
            })
            .collect()
    }

    /// The virtual-time network for one run with `seed`, for callers that drive it themselves
    /// (streaming the trace, as the ESP32 does).
    pub fn network(&self, seed: u64) -> Result<Network<'_>, SimError> {
        let apps = self.apps()?;
        let mut net = Network::new(&self.scenario, seed, apps).map_err(|e| self.start_error(e))?;
        if let Some(l) = self.labeller {
            net.set_labeller(l);
        }
        Ok(net)
    }

    /// Runs the scenario in virtual time with `seed` and returns what happened.
    pub fn run(&self, seed: u64) -> Result<Outcome, SimError> {
        let mut net = self.network(seed)?;
        net.run_until(self.scenario.duration_us);
        let trace = net.finish();
        Ok(Outcome::new(self.scenario.clone(), seed, trace))
    }

    /// Runs with the scenario's own seed.
    pub fn run_default(&self) -> Result<Outcome, SimError> {
        self.run(self.scenario.seed)
    }

    /// [`Sim::run`], also keeping the bytes of every datagram offered to and coming out of a
    /// link (for packet captures).
    pub fn run_with_capture(&self, seed: u64) -> Result<(Outcome, Vec<Captured>), SimError> {
        let mut net = self.network(seed)?;
        net.capture();
        net.run_until(self.scenario.duration_us);
        let captured = net.take_captured();
        let trace = net.finish();
        Ok((Outcome::new(self.scenario.clone(), seed, trace), captured))
    }

    fn start_error(&self, e: StartError) -> SimError {
        SimError::Start { node: self.scenario.nodes[e.node].name.clone(), error: e.error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::Pair;
    use crate::rng::Prob;
    use crate::scenario::{Impairment, Loss};
    use crate::trace::Label;
    use udplab_firmware::{Context, Endpoint, Note, Role};

    /// A protocol that is not udplab's: 4-byte big-endian message numbers, no header.
    struct Counter {
        to: Endpoint,
        next: u32,
        count: u32,
    }

    impl App for Counter {
        fn port(&self) -> u16 {
            5000
        }
        fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
            while self.next <= self.count && u64::from(self.next - 1) * 10_000 <= cx.now_us() {
                let _ = cx.send_message(self.next, 1, &self.next.to_be_bytes(), self.to);
                self.next += 1;
            }
            (self.next <= self.count).then(|| u64::from(self.next - 1) * 10_000)
        }
        fn is_done(&self) -> bool {
            self.next > self.count
        }
    }

    struct Collector;

    impl App for Collector {
        fn port(&self) -> u16 {
            6000
        }
        fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
            let mut buf = [0u8; 16];
            while let Some((n, from)) = cx.recv_from(&mut buf) {
                if n == 4 {
                    let id = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    cx.deliver(id, from);
                    cx.note(Note::new("stored").with("id", i64::from(id)));
                }
            }
            None
        }
    }

    fn counter_label(payload: &[u8]) -> Option<Label> {
        let id: [u8; 4] = payload.try_into().ok()?;
        Some(Label::Named { kind: "count", id: Some(u64::from(u32::from_be_bytes(id))) })
    }

    fn code_pair(loss_ppb: u64) -> Scenario {
        let mut s = Pair {
            up: Impairment {
                loss: Loss::Bernoulli { p: Prob::from_ppb(loss_ppb).unwrap() },
                delay_us: 2_000,
                ..Impairment::default()
            },
            duration_us: 1_000_000,
            ..Pair::default()
        }
        .build();
        s.nodes[0].role = Role::Code;
        s.nodes[1].role = Role::Code;
        s
    }

    fn sim(loss_ppb: u64) -> Sim<'static> {
        let mut sim = Sim::new(code_pair(loss_ppb));
        sim.app("laptop", || Counter {
            to: Endpoint { addr: [192, 0, 2, 2], port: 6000 },
            next: 1,
            count: 30,
        })
        .app("board", || Collector);
        sim
    }

    #[test]
    fn a_code_node_without_an_app_is_named() {
        let err = Sim::new(code_pair(0)).run(1).unwrap_err();
        assert_eq!(err, SimError::Start { node: "laptop".into(), error: AppError::NeedsCode });
        assert!(err.to_string().contains("role is \"code\""), "{err}");
    }

    #[test]
    fn missing_apps_names_every_code_node_without_one() {
        let mut sim = Sim::new(code_pair(0));
        assert_eq!(sim.missing_apps(), ["laptop", "board"]);
        sim.app("board", || Collector);
        assert_eq!(sim.missing_apps(), ["laptop"]);
        assert!(Sim::new(Pair::default().build()).missing_apps().is_empty(), "built-in roles need none");
        assert!(sim.current_labeller().is_none());
        sim.labeller(counter_label);
        assert!(sim.current_labeller().is_some());
    }

    #[test]
    fn an_unknown_node_is_reported_with_the_known_ones() {
        let mut sim = Sim::new(code_pair(0));
        sim.app("gateway", || Collector);
        let err = sim.run(1).unwrap_err().to_string();
        assert!(err.contains("`gateway`") && err.contains("laptop, board"), "{err}");
    }

    #[test]
    fn user_apps_deliver_over_a_perfect_link_and_their_notes_are_traced() {
        let out = sim(0).run(3).unwrap();
        let flow = out.flow("laptop", "board");
        flow.check_exactly_once().unwrap();
        flow.check_in_order().unwrap();
        flow.check_latency_within(2_000).unwrap();
        assert!(flow.check_latency_within(1_999).is_err());
        assert_eq!(flow.delivered(), (1..=30).collect::<Vec<_>>());
        assert_eq!(out.notes("board", "stored").count(), 30);
        assert!(out.timeline().contains("stored id=30"), "notes are timeline lines");
        // Unlabelled, the datagrams are foreign: ports, size and digest, never "damaged".
        assert!(out.timeline().contains("#1 udp 5000->6000 4B "), "{}", out.timeline());
        assert!(!out.timeline().contains("damaged"));
    }

    #[test]
    fn a_lossy_link_fails_exactly_once_and_says_which_datagram_and_why() {
        let mut sim = sim(300_000_000);
        sim.labeller(counter_label);
        let out = sim.run(3).unwrap();
        let flow = out.flow("laptop", "board");
        let lost = flow.lost();
        assert!(!lost.is_empty());
        let err = flow.check_exactly_once().unwrap_err().to_string();
        assert!(err.contains("seed 3") && err.contains("never delivered"), "{err}");
        assert!(err.contains(&alloc::format!("count={} ", lost[0])), "{err}");
        assert!(err.contains("LOST: random loss (30%)"), "{err}");
        assert_eq!(out.losses().len(), lost.len(), "each lost message is one lost datagram");
        assert_eq!(out.summary().flows[0].lost, lost.len() as u64, "the summary agrees");
    }

    /// What an ESP32 image with the user's apps prints for `run NAME SEED` (the network of
    /// [`Sim::network`] streamed by `serial::emit_network`, never holding the trace) is the block
    /// of the trace the host gets from [`Sim::run`]: `udplab wokwi` compares exactly these.
    #[test]
    fn the_chip_s_streamed_block_of_user_apps_is_the_block_of_the_host_s_run() {
        let mut sim = sim(300_000_000);
        sim.labeller(counter_label);
        for seed in [1, 3, 7, 0xdead_beef] {
            let out = sim.run(seed).unwrap();
            let mut host = Vec::new();
            crate::serial::emit_block("code", seed, sim.scenario(), &out.trace, &mut |l| {
                host.push(l.to_string())
            });
            let mut chip = Vec::new();
            let net = sim.network(seed).unwrap();
            let n = crate::serial::emit_network("code", seed, net, &mut |l| chip.push(l.to_string()));
            assert_eq!(n, out.trace.len());
            assert_eq!(chip, host, "seed {seed}");
            assert!(host.iter().any(|l| l.contains("count=") && l.contains("LOST")), "labelled losses");
        }
    }

    #[test]
    fn built_in_apps_through_sim_give_the_trace_of_run() {
        let s = crate::net::tests::echo(300_000_000, true);
        let out = Sim::new(s.clone()).run(5).unwrap();
        assert_eq!(out.trace, crate::run(&s, 5).unwrap());
        out.flow("laptop", "board").check_exactly_once().unwrap();
    }
}
