//! Test your own UDP code under an unreliable network.
//!
//! Write your protocol against [`App`] (sans-IO: `no_std`, no smoltcp, no udplab wire format
//! needed; see `udplab-firmware`), describe a network in a scenario file or in code, attach
//! your apps to its nodes with [`Sim`], run any seed in virtual time, and ask the [`Outcome`]
//! whether every message arrived exactly once, in order, in time, and which datagram was lost
//! and why. [`strategies`] generates networks for proptest; [`tap`] (feature `tap`) runs the
//! same apps on a real TAP device; `udplab-esp32` runs them on an ESP32-C3.
//!
//! ```
//! use udplab::{App, Context, Endpoint, Sim};
//!
//! /// Sends five numbered datagrams, one every 10 ms.
//! struct Sender { next: u32 }
//! impl App for Sender {
//!     fn port(&self) -> u16 { 5000 }
//!     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
//!         let to = Endpoint { addr: [10, 0, 0, 2], port: 6000 };
//!         while self.next <= 5 && u64::from(self.next - 1) * 10_000 <= cx.now_us() {
//!             let _ = cx.send_message(self.next, 1, &self.next.to_be_bytes(), to);
//!             self.next += 1;
//!         }
//!         (self.next <= 5).then(|| u64::from(self.next - 1) * 10_000)
//!     }
//! }
//!
//! /// Delivers every 4-byte datagram it gets.
//! struct Receiver;
//! impl App for Receiver {
//!     fn port(&self) -> u16 { 6000 }
//!     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
//!         let mut buf = [0u8; 64];
//!         while let Some((n, from)) = cx.recv_from(&mut buf) {
//!             if let Ok(id) = <[u8; 4]>::try_from(&buf[..n]) {
//!                 cx.deliver(u32::from_be_bytes(id), from);
//!             }
//!         }
//!         None
//!     }
//! }
//!
//! let scenario = udplab::parse(r#"
//!     duration = "1s"
//!     [[node]]
//!     name = "a"
//!     addr = "10.0.0.1"
//!     role = "code"
//!     [[node]]
//!     name = "b"
//!     addr = "10.0.0.2"
//!     role = "code"
//!     [[link]]
//!     between = ["a", "b"]
//!     delay = "5ms"
//! "#, "inline.toml").unwrap();
//! let mut sim = Sim::new(scenario);
//! sim.app("a", || Sender { next: 1 }).app("b", || Receiver);
//! let out = sim.run(1).unwrap();
//! out.flow("a", "b").check_exactly_once().unwrap();
//! out.flow("a", "b").check_latency_within(5_000).unwrap();
//! ```

pub use udplab_firmware::{
    App, AppEvent, ArqConfig, Client, ClientConfig, Context, Endpoint, Note, ReliableReceiver,
    ReliableSender, Reply, Role, SendFailure, Server, ServerConfig, Socket,
};
pub use udplab_scenario::{ScenarioError, load, parse, to_toml};
pub use udplab_sim::link::{Fate, LossReason};
pub use udplab_sim::outcome::Lost;
pub use udplab_sim::pair::Pair;
pub use udplab_sim::rng::Prob;
pub use udplab_sim::scenario::{Expect, Impairment, Jitter, Link, Loss, Node, Phase};
pub use udplab_sim::trace::{Event, Record, Trace};
pub use udplab_sim::{Flow, Label, Labeller, Outcome, Scenario, Sim, SimError, Violation};

#[cfg(feature = "proptest")]
pub mod strategies;

/// The crates underneath, for what this facade does not re-export.
pub use udplab_firmware as firmware;
pub use udplab_sim as engine;

#[cfg(all(feature = "tap", target_os = "linux"))]
pub mod tap;
