//! [`Lab`]: the whole `udplab` command, every subcommand and output, with your own apps attached
//! to the scenario's nodes. The plain `udplab` binary is `Lab::new().main()`; a firmware
//! developer's lab binary is the same line with `.app(...)` calls in it.

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use udplab_firmware::App;
use udplab_sim::{Labeller, Scenario, Sim};

use crate::cli::Args;

/// Builds a fresh app for a node, once per run. `Send + Sync` so that sweeps can build apps on
/// their worker threads.
pub type AppFactory = Arc<dyn Fn() -> Box<dyn App> + Send + Sync>;

/// The `udplab` command with your apps attached: `run` (timeline, summary, `--json`,
/// `--ladder`, `--svg`, `--mermaid`, `--html`, `--pcap`), `tap`, `wokwi`, `qemu` and `sweep` all
/// run the app you attach to a node instead of the built-in app its role describes. A node whose
/// role is `code` must have one: a scenario with a `code` node that has no app attached exits
/// with status 2 and names every such node.
///
/// Apps are attached by node name, as factories: every run (every seed of a sweep, on any of
/// its threads) starts from a fresh app. A name that a scenario does not have is ignored for
/// that scenario, so one lab binary can serve several scenario files.
///
/// A lab binary is a few lines, best in a small package of its own (so your protocol crate
/// does not depend on the CLI), with `udplab-cli` as a dependency:
///
/// ```no_run
/// use udplab_cli::{Label, Lab};
/// use udplab_firmware::{App, Context};
///
/// /// Your protocol's server: here it only listens.
/// struct Gateway;
///
/// impl App for Gateway {
///     fn port(&self) -> u16 {
///         4210
///     }
///     fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
///         let mut buf = [0u8; 64];
///         while cx.recv_from(&mut buf).is_some() {}
///         None
///     }
/// }
///
/// /// Names your datagrams in timelines and pictures (`reading=7`).
/// fn label(payload: &[u8]) -> Option<Label> {
///     let id: [u8; 4] = payload.get(2..6)?.try_into().ok()?;
///     Some(Label::Named { kind: "reading", id: Some(u64::from(u32::from_be_bytes(id))) })
/// }
///
/// fn main() -> std::process::ExitCode {
///     // `my-lab run scenario.toml --ladder`, `my-lab sweep ...`, `sudo my-lab tap ...`: the
///     // same arguments as `udplab`.
///     Lab::new().app("gateway", || Gateway).labeller(label).main()
/// }
/// ```
///
/// The worked example is `examples/telemetry/lab/src/main.rs`. In a test, attach your
/// apps to a [`Sim`] instead ([`Lab::sim`] gives the one a lab runs).
#[derive(Clone, Default)]
pub struct Lab {
    apps: Vec<(String, AppFactory)>,
    labeller: Option<Labeller>,
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("apps", &self.nodes().collect::<Vec<_>>())
            .field("labeller", &self.labeller.is_some())
            .finish()
    }
}

impl Lab {
    /// A lab with no apps attached: the plain `udplab` command.
    pub fn new() -> Lab {
        Lab::default()
    }

    /// Runs the app `make` builds on every node named `node` (a `code` node, or a built-in one
    /// you want to replace). `make` is called once per run. Attaching to the same name again
    /// replaces the earlier factory.
    pub fn app<A: App + 'static>(mut self, node: &str, make: impl Fn() -> A + Send + Sync + 'static) -> Lab {
        let factory: AppFactory = Arc::new(move || Box::new(make()) as Box<dyn App>);
        match self.apps.iter_mut().find(|(name, _)| name == node) {
            Some((_, slot)) => *slot = factory,
            None => self.apps.push((node.to_string(), factory)),
        }
        self
    }

    /// Names the datagrams of your protocol in timelines, ladders, reports and captures, in
    /// memory and on the TAP (see [`Labeller`]).
    pub fn labeller(mut self, labeller: Labeller) -> Lab {
        self.labeller = Some(labeller);
        self
    }

    /// The node names apps are attached to, in the order they were first attached.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|(name, _)| name.as_str())
    }

    /// `scenario` with this lab's apps attached to the nodes it has (names it does not have are
    /// ignored) and the labeller set: what every command of the lab runs.
    pub fn sim(&self, scenario: Scenario) -> Sim<'static> {
        let mut sim = Sim::new(scenario);
        for (name, make) in &self.apps {
            if sim.scenario().nodes.iter().any(|n| n.name == *name) {
                let make = Arc::clone(make);
                sim.app(name, move || make());
            }
        }
        if let Some(labeller) = self.labeller {
            sim.labeller(labeller);
        }
        sim
    }

    /// Parses the process's arguments exactly as `udplab` does and runs the command: what a
    /// lab binary's `main` returns.
    pub fn main(self) -> ExitCode {
        self.run_args(std::env::args_os())
    }

    /// [`Lab::main`] with the arguments given, the program name first (as in
    /// `std::env::args`). Usage errors print clap's message and return status 2, `--help` and
    /// `--version` print and return 0, as `udplab` does; nothing here exits the process. Output
    /// goes to the process's stdout and stderr. `tap` moves the calling thread into a network
    /// namespace of its own for good (see `udplab_host::run_tap`): call it on a thread you can
    /// spare.
    pub fn run_args<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        crate::streams::check_standard_streams();
        let code = match Args::try_parse_from(args) {
            Ok(args) => crate::cli::run(&|scenario| self.sim(scenario), args),
            Err(e) => {
                if e.print().is_err() {
                    crate::streams::stderr_lost();
                }
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(crate::exit::EXIT_BAD_INPUT))
            }
        };
        crate::streams::exit_status(code)
    }
}
