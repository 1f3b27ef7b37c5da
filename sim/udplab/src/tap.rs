//! Your apps on a real TAP device (Linux, root or CAP_NET_ADMIN, `/dev/net/tun`): one node's
//! app runs over smoltcp on the TAP with the scenario's links in the device path, the other
//! nodes' apps over kernel UDP sockets on the other side, on the real clock.
//!
//! The run happens inside a network namespace made for it, which the calling thread enters for
//! good and which disappears (TAP included) with that thread: run it on a thread of its own if
//! the caller needs the ordinary network afterwards, as the example below does.
//!
//! ```no_run
//! # fn my_sim() -> udplab::Sim<'static> { unimplemented!() }
//! // The Sim is built on the thread that runs it (apps need not be Send).
//! let out = std::thread::spawn(|| udplab::tap::run(&my_sim(), 7, "gateway")).join().unwrap();
//! match out {
//!     Ok((outcome, stop)) => println!("{stop:?}\n{}", outcome.timeline()),
//!     Err(e) => eprintln!("not run: {e}"),
//! }
//! ```

pub use udplab_host::{Hooks, HostError, Ready, Stop, TapOptions, TapRun};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Outcome, Sim};

/// Busy threads for as long as it lives: real-clock runs are tested the way users run them, on a
/// machine doing something else, where timers fire late. One thread per `threads`.
///
/// ```no_run
/// let _load = udplab::tap::CpuLoad::new(2); // two busy loops beside the run
/// // ... udplab::tap::run(...)
/// ```
pub struct CpuLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl CpuLoad {
    pub fn new(threads: usize) -> CpuLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        CpuLoad { stop, threads }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Whether TAP runs can happen here (root or the capabilities, `/dev/net/tun`); `Err` says
/// what is missing and how to get it.
pub fn check_privileges() -> Result<(), String> {
    udplab_host::netns::check_privileges().map_err(|m| m.0)
}

/// For a test that needs a TAP: `true` when TAP runs can happen here. Otherwise it says loudly
/// on stderr that `test` is skipped and why, and returns `false`, except under CI (`CI=true`),
/// where such tests must run: there it panics, so a missing privilege never looks like a pass.
///
/// ```no_run
/// #[test]
/// fn my_app_on_a_tap() {
///     if !udplab::tap::privileged_or_skip("my_app_on_a_tap") {
///         return;
///     }
///     // ... udplab::tap::run(...)
/// }
/// ```
pub fn privileged_or_skip(test: &str) -> bool {
    let Err(why) = check_privileges() else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: TAP tests must run in CI but cannot: {why}");
    }
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
    false
}

/// Runs `sim` with `seed`, node `firmware`'s app on the TAP, and returns the outcome (a trace
/// on the real clock) and how the run ended. [`HostError::Missing`] when the machine lacks
/// privileges or devices: nothing ran.
pub fn run(sim: &Sim<'_>, seed: u64, firmware: &str) -> Result<(Outcome, Stop), HostError> {
    let opts = TapOptions { firmware: Some(firmware.to_string()), ..TapOptions::default() };
    // The labeller comes from the Sim (run_with), so the trace names datagrams as in memory.
    let run = run_with(sim, seed, &opts, Hooks { ready: &mut |_| {}, live: &mut |_| {} })?;
    Ok((Outcome::new(sim.scenario().clone(), seed, run.trace), run.stop))
}

/// [`run`] with every option and hook of the TAP runner. The Sim's labeller is used unless
/// `opts` names one.
pub fn run_with(sim: &Sim<'_>, seed: u64, opts: &TapOptions, hooks: Hooks<'_>) -> Result<TapRun, HostError> {
    let apps = sim.apps().map_err(|e| HostError::Scenario(e.to_string()))?;
    let opts = TapOptions { labeller: opts.labeller.or(sim.current_labeller()), ..opts.clone() };
    udplab_host::run_tap_apps(sim.scenario(), seed, apps, &opts, hooks)
}
