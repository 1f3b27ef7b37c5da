//! Scenario mode: run an embedded scenario, with the image's apps attached to the nodes they
//! name, through the deterministic core on the chip (`udplab_sim::Sim`, as on the host) and
//! print its trace as it runs, framed by `udplab_sim::serial::emit_network` (the protocol's one
//! implementation) so the host can compare it byte for byte with `udplab run` (or, for your
//! apps, with your lab binary's run), then the heap:
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
use udplab_sim::{Scenario, Sim, serial};

use crate::console::Console;
use crate::{Image, Scenarios, say};

/// `list`: one name per line.
pub fn list(image: &Image, console: &mut Console) {
    for (name, _) in image.scenarios {
        console.line(name);
    }
}

/// `all`: every embedded scenario in order, with its own seed.
pub fn run_all(image: &Image, console: &mut Console) {
    for (name, _) in image.scenarios {
        run(image, console, name, None);
    }
    say!(console, "@@ done scenarios={}", image.scenarios.len());
}

/// An embedded scenario by name, decoded.
pub fn load(scenarios: Scenarios, name: &str) -> Result<(&'static str, Scenario), String> {
    let Some((name, bytes)) = scenarios.iter().find(|(n, _)| *n == name) else {
        return Err(alloc::format!("no scenario named `{name}` (`list` shows them)"));
    };
    serde_json::from_slice(bytes)
        .map(|s| (*name, s))
        .map_err(|e| alloc::format!("{name}: embedded scenario does not decode: {e}"))
}

/// The scenario with the image's apps attached to the nodes they name (a `Sim`, as on the
/// host): nodes without one run the built-in app their role describes.
pub fn sim(image: &Image, scenario: Scenario) -> Sim<'static> {
    let mut sim = Sim::new(scenario);
    for &(node, make) in image.apps {
        // One table serves every embedded scenario: names a scenario lacks are not an error.
        if sim.scenario().nodes.iter().any(|n| n.name == node) {
            sim.app(node, make);
        }
    }
    if let Some(labeller) = image.labeller {
        sim.labeller(labeller);
    }
    sim
}

/// `run NAME [SEED]`. Problems are reported as `error: ...` lines (a `code` node the image has
/// no app for names the node); nothing here panics on bad input (running out of heap does panic,
/// and prints `PANIC`). The trace is printed as the run goes and never held whole, so memory
/// does not grow with the length of the scenario.
pub fn run(image: &Image, console: &mut Console, name: &str, seed: Option<u64>) {
    let (name, scenario) = match load(image.scenarios, name) {
        Ok(found) => found,
        Err(e) => {
            say!(console, "error: {e}");
            return;
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    let sim = sim(image, scenario);
    // The host's `Sim::run` and this stream give the same lines (udplab-sim's tests check it).
    match sim.network(seed) {
        Ok(net) => {
            serial::emit_network(name, seed, net, &mut |line| console.line(line));
        }
        Err(e) => {
            say!(console, "error: {name}: {e}");
            return;
        }
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
