//! The scenario most tests, benchmarks and measurements need: one client (`laptop`,
//! 192.0.2.1:49152) and one server (`board`, 192.0.2.2), a link each way. Built in code rather
//! than parsed, for callers that vary it programmatically.

use alloc::string::ToString;
use alloc::vec::Vec;
use udplab_firmware::{ArqConfig, ClientConfig, Reply, Role, ServerConfig};

use crate::scenario::{Expect, Impairment, Link, Node, Phase, Scenario};

/// Everything that varies between two-node scenarios; [`Pair::build`] makes the scenario.
#[derive(Debug, Clone)]
pub struct Pair {
    pub count: u32,
    pub interval_us: u64,
    pub size: usize,
    pub port: u16,
    pub reply: Reply,
    /// Reliable mode on both ends.
    pub reliable: Option<ArqConfig>,
    /// A closed-loop client: at most this many messages unanswered (0: open loop).
    pub in_flight: u32,
    /// laptop->board, and its phases.
    pub up: Impairment,
    pub up_phases: Vec<Phase>,
    /// board->laptop, and its phases.
    pub down: Impairment,
    pub down_phases: Vec<Phase>,
    pub duration_us: u64,
    pub seed: u64,
}

impl Default for Pair {
    fn default() -> Self {
        Pair {
            count: 20,
            interval_us: 100_000,
            size: 64,
            port: 3333,
            reply: Reply::Echo,
            reliable: None,
            in_flight: 0,
            up: Impairment::default(),
            up_phases: Vec::new(),
            down: Impairment::default(),
            down_phases: Vec::new(),
            duration_us: 20_000_000,
            seed: 1,
        }
    }
}

impl Pair {
    pub fn build(self) -> Scenario {
        let client = ClientConfig {
            port: 49152,
            server_addr: [192, 0, 2, 2],
            server_port: self.port,
            count: self.count,
            interval_us: self.interval_us,
            start_us: 0,
            size: self.size,
            reliable: self.reliable,
            in_flight: self.in_flight,
            reply_timeout_us: udplab_firmware::app::DEFAULT_REPLY_TIMEOUT_US,
        };
        let server = ServerConfig { port: self.port, reply: self.reply, reliable: self.reliable };
        Scenario {
            name: "pair".to_string(),
            description: alloc::string::String::new(),
            seed: self.seed,
            duration_us: self.duration_us,
            nodes: alloc::vec![
                Node { name: "laptop".to_string(), addr: [192, 0, 2, 1], role: Role::Client(client) },
                Node { name: "board".to_string(), addr: [192, 0, 2, 2], role: Role::Server(server) },
            ],
            links: alloc::vec![
                Link { from: 0, to: 1, impairment: self.up, phases: self.up_phases, trace: None },
                Link { from: 1, to: 0, impairment: self.down, phases: self.down_phases, trace: None },
            ],
            implicit_links: false,
            expect: Expect::default(),
        }
    }
}
