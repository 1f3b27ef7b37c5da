//! Turning a grid point into a scenario: each parameter overrides one setting everywhere.
//!
//! - `loss`: Bernoulli loss with that probability on every link, replacing the scenario's loss
//!   model (Gilbert-Elliott included); `0` means no loss;
//! - `delay`, `jitter`, `duplicate`, `corrupt`: that value on every link;
//! - `reorder`: that probability on every link; a link without a `reorder_hold` gets the
//!   scenario format's default, 20 ms;
//! - all of these also apply inside every `[[link.phase]]` window (the phase's own value is
//!   replaced); outages stay outages;
//! - `count`, `interval`: on every client;
//! - `reliable`: every client and its server switch to reliable mode (keeping their settings if
//!   they had some, else the defaults) or to plain mode;
//! - `worse`: K times worse. Every link that replays a trace switches to its own settings (the
//!   model `capture-import` fitted: recorded fates cannot be scaled), and on every link the
//!   chance of a loss starting is multiplied by K (at most 100%): Bernoulli `p`, and
//!   Gilbert-Elliott `p` (good to bad) and `loss_good`, with bursts as long as before. So
//!   `worse=1` is the fitted model itself, the baseline to compare the replay with.

use udplab_firmware::{ArqConfig, Role};
use udplab_sim::Scenario;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Impairment, Loss};

use super::grid::{Param, Value};

/// `reorder_hold` of the scenario format when a file does not give one.
const DEFAULT_REORDER_HOLD_US: u64 = 20_000;

/// Sets `param` to `value` in `scenario`. `seed` is not a scenario setting: it is ignored here.
pub fn apply(scenario: &mut Scenario, param: Param, value: Value) -> Result<(), String> {
    let prob = |ppb: u64| Prob::from_ppb(ppb).ok_or_else(|| format!("{ppb} ppb is not a probability"));
    match (param, value) {
        (Param::Loss, Value::Prob(ppb)) => {
            let loss = if ppb == 0 { Loss::None } else { Loss::Bernoulli { p: prob(ppb)? } };
            every_link(scenario, |imp| imp.loss = loss);
        }
        (Param::Delay, Value::Duration(us)) => every_link(scenario, |imp| imp.delay_us = us),
        (Param::Jitter, Value::Duration(us)) => every_link(scenario, |imp| imp.jitter_us = us),
        (Param::Duplicate, Value::Prob(ppb)) => {
            let p = prob(ppb)?;
            every_link(scenario, |imp| imp.duplicate = p);
        }
        (Param::Corrupt, Value::Prob(ppb)) => {
            let p = prob(ppb)?;
            every_link(scenario, |imp| imp.corrupt = p);
        }
        (Param::Reorder, Value::Prob(ppb)) => {
            let p = prob(ppb)?;
            every_link(scenario, |imp| {
                imp.reorder = p;
                if imp.reorder_hold_us == 0 {
                    imp.reorder_hold_us = DEFAULT_REORDER_HOLD_US;
                }
                imp.reorder_gap = imp.reorder_gap.max(1);
            });
        }
        (Param::Count, Value::Count(n)) => {
            let n = u32::try_from(n).map_err(|_| format!("count {n} is too large"))?;
            every_client(scenario, |c| c.count = n);
        }
        (Param::Interval, Value::Duration(us)) => every_client(scenario, |c| c.interval_us = us),
        (Param::Reliable, Value::Bool(on)) => reliable(scenario, on),
        (Param::Worse, Value::Count(k)) => {
            for link in &mut scenario.links {
                link.trace = None;
            }
            every_link(scenario, |imp| imp.loss = scaled(imp.loss, k));
        }
        (Param::Seed, _) => {}
        (p, v) => return Err(format!("`{}` cannot take the value {v}", p.name())),
    }
    Ok(())
}

/// `loss` with the chance of a loss starting multiplied by `k` (capped at 100%).
fn scaled(loss: Loss, k: u64) -> Loss {
    // Exact on the threshold (out of 2^32), as every probability in the engine.
    let times = |p: Prob| {
        Prob::from_threshold(p.threshold().saturating_mul(k).min(Prob::ONE_THRESHOLD)).unwrap_or(Prob::ALWAYS)
    };
    match loss {
        Loss::None => Loss::None,
        Loss::Bernoulli { p } => Loss::Bernoulli { p: times(p) },
        Loss::GilbertElliott { p, r, loss_bad, loss_good, order } => {
            Loss::GilbertElliott { p: times(p), r, loss_bad, loss_good: times(loss_good), order }
        }
    }
}

/// Runs `f` on every link's settings and on every phase that is not an outage.
fn every_link(scenario: &mut Scenario, f: impl Fn(&mut Impairment)) {
    for link in &mut scenario.links {
        f(&mut link.impairment);
        for phase in link.phases.iter_mut().filter(|p| !p.impairment.down) {
            f(&mut phase.impairment);
        }
    }
}

fn every_client(scenario: &mut Scenario, f: impl Fn(&mut udplab_firmware::ClientConfig)) {
    for node in &mut scenario.nodes {
        if let Role::Client(c) = &mut node.role {
            f(c);
        }
    }
}

fn reliable(scenario: &mut Scenario, on: bool) {
    let clients: Vec<(usize, [u8; 4], u16, Option<ArqConfig>)> = scenario
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n.role {
            Role::Client(c) => Some((i, c.server_addr, c.server_port, c.reliable)),
            Role::Server(_) | Role::Code => None,
        })
        .collect();
    for (client, addr, port, had) in clients {
        let arq = if on { Some(had.unwrap_or_default()) } else { None };
        if let Role::Client(c) = &mut scenario.nodes[client].role {
            c.reliable = arq;
        }
        for node in scenario.nodes.iter_mut().filter(|n| n.addr == addr) {
            if let Role::Server(s) = &mut node.role
                && s.port == port
            {
                s.reliable = if on { Some(s.reliable.or(arq).unwrap_or_default()) } else { None };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name);
        udplab_scenario::load(&path).unwrap()
    }

    #[test]
    fn loss_replaces_every_links_model_and_reliable_switches_both_ends() {
        let mut s = lesson("03-burst-loss.toml");
        apply(&mut s, Param::Loss, Value::Prob(100_000_000)).unwrap();
        assert!(s.links.iter().all(|l| matches!(l.impairment.loss, Loss::Bernoulli { .. })));
        apply(&mut s, Param::Reliable, Value::Bool(true)).unwrap();
        assert!(s.nodes.iter().all(|n| match n.role {
            Role::Client(c) => c.reliable.is_some(),
            Role::Server(c) => c.reliable.is_some(),
            Role::Code => false,
        }));
        apply(&mut s, Param::Reliable, Value::Bool(false)).unwrap();
        assert!(s.nodes.iter().all(|n| match n.role {
            Role::Client(c) => c.reliable.is_none(),
            Role::Server(c) => c.reliable.is_none(),
            Role::Code => false,
        }));
        assert!(apply(&mut s, Param::Loss, Value::Bool(true)).is_err());
    }

    #[test]
    fn outages_stay_outages() {
        let mut s = lesson("08-outage-and-rate.toml");
        apply(&mut s, Param::Loss, Value::Prob(0)).unwrap();
        assert!(s.links.iter().flat_map(|l| &l.phases).any(|p| p.impairment.down));
    }
}
