//! Scenario mode: run an embedded scenario through the deterministic core on the chip and
//! print its trace as it runs, framed by `udplab_sim::serial::run_and_emit` (the protocol's one
//! implementation) so the host can compare it byte for byte with `udplab run`, then the heap:
//!
//! ```text
//! @@ begin NAME seed=SEED
//! <one line per trace record>
//! @@ end NAME events=COUNT digest=XXXXXXXX
//! @@ heap used=BYTES free=BYTES peak=BYTES
//! ```
//!
//! `used`/`free` are sampled when the run is complete; `peak` is the most the heap has held since
//! boot (esp-alloc's `internal-heap-stats`), which is what a scenario costs.

use alloc::string::String;
use udplab_sim::{Scenario, serial};

use crate::console::Console;
use crate::say;

// `SCENARIOS: &[(&str, &[u8])]`, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// How many scenarios the image holds.
pub fn count() -> usize {
    SCENARIOS.len()
}

/// `list`: one name per line.
pub fn list(console: &mut Console) {
    for (name, _) in SCENARIOS {
        console.line(name);
    }
}

/// `all`: every embedded scenario in order, with its own seed.
pub fn run_all(console: &mut Console) {
    for (name, _) in SCENARIOS {
        run(console, name, None);
    }
    say!(console, "@@ done scenarios={}", SCENARIOS.len());
}

/// An embedded scenario by name, decoded.
pub fn load(name: &str) -> Result<(&'static str, Scenario), String> {
    let Some((name, bytes)) = SCENARIOS.iter().find(|(n, _)| *n == name) else {
        return Err(alloc::format!("no scenario named `{name}` (`list` shows them)"));
    };
    serde_json::from_slice(bytes)
        .map(|s| (*name, s))
        .map_err(|e| alloc::format!("{name}: embedded scenario does not decode: {e}"))
}

/// `run NAME [SEED]`. Problems are reported as `error: ...` lines; nothing here panics on bad
/// input (running out of heap does panic, and prints `PANIC`). The trace is printed as the run
/// goes and never held whole, so memory does not grow with the length of the scenario.
pub fn run(console: &mut Console, name: &str, seed: Option<u64>) {
    let (name, scenario) = match load(name) {
        Ok(found) => found,
        Err(e) => {
            say!(console, "error: {e}");
            return;
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    if let Err(e) = serial::run_and_emit(name, seed, &scenario, &mut |line| console.line(line)) {
        let node = scenario.nodes.get(e.node).map_or("?", |n| n.name.as_str());
        say!(console, "error: {name}: node {node} cannot start: {}", e.error);
        return;
    }
    print_heap(console);
}

/// `@@ heap used=BYTES free=BYTES peak=BYTES` (peak: the most held since boot).
pub fn print_heap(console: &mut Console) {
    let heap = esp_alloc::HEAP.stats();
    say!(
        console,
        "@@ heap used={} free={} peak={}",
        heap.current_usage,
        heap.size - heap.current_usage,
        heap.max_usage
    );
}
