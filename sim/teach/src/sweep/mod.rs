//! `udplab sweep`: one scenario over a grid of parameter values and seeds, run in parallel.
//!
//! The grid is the product of the `--vary` dimensions (in the order given, the first one
//! outermost) and the seeds (innermost). Runs are independent and deterministic, so they are
//! shared among worker threads in any order and the rows are put back in grid order: the same
//! sweep gives the same CSV and plot byte for byte, whatever the number of threads, and, cut
//! into shards on many machines and merged ([`shard`]), whatever the number of machines.

pub mod apply;
pub mod grid;
pub mod output;
pub mod shard;

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use udplab_sim::report::{Spread, Summary};
use udplab_sim::{Scenario, SimError};

use grid::{Dimension, Param, Value};
use shard::Shard;

use crate::MakeSim;

/// Most runs one sweep may ask for.
pub const MAX_RUNS: usize = 1_000_000;

/// What to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The varied parameters (never `seed`: seeds are below).
    pub dims: Vec<Dimension>,
    pub seeds: Vec<u64>,
}

impl Plan {
    /// Builds a plan from `--vary` and `--seeds` arguments; `default_seed` is the scenario's.
    pub fn parse(vary: &[String], seeds: Option<&str>, default_seed: u64) -> Result<Plan, String> {
        let mut dims: Vec<Dimension> = Vec::new();
        let mut seed_values: Option<Vec<u64>> = None;
        for arg in vary {
            let d = grid::parse_vary(arg)?;
            if d.param == Param::Seed {
                if seed_values.is_some() {
                    return Err("seeds are given twice (--vary seed=... and --seeds): give them once".into());
                }
                seed_values =
                    Some(d.values.iter().map(|v| if let Value::Count(n) = v { *n } else { 0 }).collect());
                continue;
            }
            if dims.iter().any(|x| x.param == d.param) {
                return Err(format!(
                    "--vary `{}` is given twice: list all its values in one --vary",
                    d.param.name()
                ));
            }
            dims.push(d);
        }
        if let Some(s) = seeds {
            if seed_values.is_some() {
                return Err("seeds are given twice (--vary seed=... and --seeds): give them once".into());
            }
            seed_values = Some(grid::parse_seeds(s)?);
        }
        let plan = Plan { dims, seeds: seed_values.unwrap_or_else(|| vec![default_seed]) };
        let runs = plan.points().saturating_mul(plan.seeds.len());
        if runs > MAX_RUNS {
            return Err(format!("the sweep asks for {runs} runs; at most {MAX_RUNS} are allowed"));
        }
        Ok(plan)
    }

    /// Grid points (without seeds).
    pub fn points(&self) -> usize {
        self.dims
            .iter()
            .map(|d| d.values.len())
            .try_fold(1usize, |a, n| a.checked_mul(n))
            .unwrap_or(usize::MAX)
    }

    /// Every run, in grid order: `(values, one per dimension; seed)`.
    pub fn runs(&self) -> Vec<(Vec<Value>, u64)> {
        let points = self.grid_points();
        points.into_iter().flat_map(|p| self.seeds.iter().map(move |s| (p.clone(), *s))).collect()
    }

    /// Every grid point, in grid order: one value per dimension.
    pub fn grid_points(&self) -> Vec<Vec<Value>> {
        let mut points: Vec<Vec<Value>> = vec![Vec::new()];
        for d in &self.dims {
            points = points
                .into_iter()
                .flat_map(|p| {
                    d.values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push(*v);
                        q
                    })
                })
                .collect();
        }
        points
    }
}

/// What one run measured, over all its client/server flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub values: Vec<Value>,
    pub seed: u64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// One-way latency to the receiving application, over all flows.
    pub latency: Spread,
    pub goodput_bps: u64,
    pub retransmissions: u64,
    /// Whether the scenario's `[expect]` held.
    pub expectations_hold: bool,
}

impl Row {
    fn measure(values: Vec<Value>, seed: u64, scenario: &Scenario, summary: &Summary) -> Row {
        let mut row = Row {
            values,
            seed,
            sent: 0,
            delivered: 0,
            lost: 0,
            duplicates: 0,
            out_of_order: 0,
            latency: Spread::default(),
            goodput_bps: 0,
            retransmissions: 0,
            expectations_hold: summary.check(scenario).is_empty(),
        };
        for f in &summary.flows {
            row.sent += f.sent;
            row.delivered += f.delivered;
            row.lost += f.lost;
            row.duplicates += f.duplicates;
            row.out_of_order += f.out_of_order;
            row.goodput_bps += f.goodput_bps;
            row.retransmissions += f.retransmissions;
            let l = &f.latency;
            if l.count > 0 {
                let r = &mut row.latency;
                r.min_us = if r.count == 0 { l.min_us } else { r.min_us.min(l.min_us) };
                r.max_us = r.max_us.max(l.max_us);
                r.sum_us += l.sum_us;
                r.count += l.count;
            }
        }
        row
    }
}

/// Runs the plan over `scenario` on `jobs` threads with the built-in apps; `progress` shows a
/// bar on stderr (only when stderr is a terminal). Rows come back in grid order.
pub fn run(scenario: &Scenario, plan: &Plan, jobs: usize, progress: bool) -> Result<Vec<Row>, String> {
    run_with(&crate::builtin, scenario, plan, jobs, progress)
}

/// [`run`] with the apps `make` attaches: every run builds its own [`Sim`](udplab_sim::Sim)
/// with `make`, on the worker thread that runs it, from the grid point's scenario.
pub fn run_with(
    make: &MakeSim<'_>,
    scenario: &Scenario,
    plan: &Plan,
    jobs: usize,
    progress: bool,
) -> Result<Vec<Row>, String> {
    run_some(make, scenario, plan, None, jobs, progress)
}

/// The runs of `plan` that `shard` deals to this machine (all of them without one), in grid
/// order.
fn run_some(
    make: &MakeSim<'_>,
    scenario: &Scenario,
    plan: &Plan,
    shard: Option<Shard>,
    jobs: usize,
    progress: bool,
) -> Result<Vec<Row>, String> {
    let mut runs = plan.runs();
    if let Some(shard) = shard {
        runs = runs.into_iter().enumerate().filter(|(i, _)| shard.has(*i)).map(|(_, r)| r).collect();
    }
    let jobs = jobs.clamp(1, runs.len().max(1));
    let bar = if progress {
        let bar = ProgressBar::with_draw_target(Some(runs.len() as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs ({eta} left)") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Row, String>)>> = Mutex::new(Vec::with_capacity(runs.len()));
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((values, seed)) = runs.get(i) else { break };
                    mine.push((i, one_run(make, scenario, &plan.dims, values, *seed)));
                    bar.inc(1);
                }
                if let Ok(mut all) = results.lock() {
                    all.extend(mine);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut results = results.into_inner().map_err(|_| "a sweep worker failed".to_string())?;
    results.sort_unstable_by_key(|(i, _)| *i);
    if results.len() != runs.len() {
        return Err("a sweep worker failed".to_string());
    }
    results.into_iter().map(|(_, r)| r).collect()
}

fn one_run(
    make: &MakeSim<'_>,
    scenario: &Scenario,
    dims: &[Dimension],
    values: &[Value],
    seed: u64,
) -> Result<Row, String> {
    let sc = point_scenario(scenario, dims, values)?;
    let point = || {
        let name = point_name(dims, values);
        if name.is_empty() { format!("seed={seed}") } else { format!("{name} seed={seed}") }
    };
    let outcome = make(sc).run(seed).map_err(|e| match e {
        SimError::Start { node, error } => format!("at {}: node {node} cannot start: {error}", point()),
        e @ SimError::UnknownNode { .. } => format!("at {}: {e}", point()),
    })?;
    let summary = Summary::from_trace(&outcome.scenario, seed, &outcome.trace);
    Ok(Row::measure(values.to_vec(), seed, &outcome.scenario, &summary))
}

/// Whether every grid point of `plan` stays within `max` trace events by its upper bound
/// ([`crate::within_max_events`]); the first that does not is named. Points are checked before
/// any run starts, so a sweep whose last point is enormous does not die of it after hours.
/// A link that replays a trace gives its recorded datagrams their recorded fates whatever its
/// settings say: varying `loss`, `delay` and the like there would give a table of identical
/// rows that looks like an answer. `worse` is the way to ask "what if".
fn check_traces(scenario: &Scenario, plan: &Plan) -> Result<(), String> {
    let traced: Vec<String> = (0..scenario.links.len())
        .filter(|&l| scenario.links[l].trace.is_some())
        .map(|l| scenario.link_name(l))
        .collect();
    let link_params =
        [Param::Loss, Param::Delay, Param::Jitter, Param::Duplicate, Param::Reorder, Param::Corrupt];
    match plan.dims.iter().find(|d| link_params.contains(&d.param)) {
        Some(d) if !traced.is_empty() && !plan.dims.iter().any(|d| d.param == Param::Worse) => Err(format!(
            "--vary {} would not change the datagrams that {} replay{} from a trace (they get their recorded fates): \
             vary `worse` instead (worse=1..3 runs the fitted model 1, 2 and 3 times worse), or sweep a scenario without `trace`",
            d.param.name(),
            traced.join(", "),
            if traced.len() == 1 { "s" } else { "" }
        )),
        _ => Ok(()),
    }
}

fn check_max_events(scenario: &Scenario, plan: &Plan, max: u64) -> Result<(), String> {
    for values in plan.grid_points() {
        let sc = point_scenario(scenario, &plan.dims, &values)?;
        crate::within_max_events(&sc, max)
            .map_err(|why| format!("at the grid point {}: {why}", point_name(&plan.dims, &values)))?;
    }
    Ok(())
}

/// `scenario` with each dimension set to its value at one grid point.
fn point_scenario(scenario: &Scenario, dims: &[Dimension], values: &[Value]) -> Result<Scenario, String> {
    let mut sc = scenario.clone();
    for (d, v) in dims.iter().zip(values) {
        apply::apply(&mut sc, d.param, *v)?;
    }
    Ok(sc)
}

/// A grid point as `name=value ...`, for messages.
fn point_name(dims: &[Dimension], values: &[Value]) -> String {
    let parts: Vec<String> =
        dims.iter().zip(values).map(|(d, v)| format!("{}={v}", d.param.name())).collect();
    parts.join(" ")
}

/// What `udplab sweep` was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub vary: Vec<String>,
    pub seeds: Option<String>,
    pub csv: Option<std::path::PathBuf>,
    pub svg: Option<std::path::PathBuf>,
    /// Worker threads; `None`: one per core.
    pub jobs: Option<usize>,
    /// Show a progress bar (on stderr, when it is a terminal).
    pub progress: bool,
    /// Refuse the sweep before any run when a grid point could record more trace events than
    /// this (see [`udplab_sim::estimate::Estimate`]); `None`: no limit.
    pub max_events: Option<u64>,
    /// Run only this slice of the grid and write its rows to `csv` (which a shard needs); no
    /// table or plot, which need every run: [`Request::merge`] makes them.
    pub shard: Option<Shard>,
    /// Run nothing: read these shards' CSVs (in any order) and write the table, CSV and plot of
    /// the whole sweep, the same bytes as one unsharded run.
    pub merge: Vec<std::path::PathBuf>,
}

/// Why a sweep failed.
#[derive(Debug)]
pub enum SweepError {
    /// Bad `--vary`/`--seeds`, or a grid point the scenario cannot run.
    BadInput(String),
    /// An output file could not be written.
    Io(super::files::WriteError),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::BadInput(e) => f.write_str(e),
            SweepError::Io(e) => e.fmt(f),
        }
    }
}

/// Runs a sweep of `scenario` as asked, with the built-in apps, writes the requested files, and
/// returns the table for the terminal. A line about the plan goes to stderr first.
pub fn command(scenario: &Scenario, req: &Request) -> Result<String, SweepError> {
    command_with(&crate::builtin, scenario, req)
}

/// [`command`] with the apps `make` attaches (see [`run_with`]): what `udplab sweep` does.
pub fn command_with(make: &MakeSim<'_>, scenario: &Scenario, req: &Request) -> Result<String, SweepError> {
    let plan = Plan::parse(&req.vary, req.seeds.as_deref(), scenario.seed).map_err(SweepError::BadInput)?;
    check_traces(scenario, &plan).map_err(SweepError::BadInput)?;
    if let Some(max) = req.max_events {
        check_max_events(scenario, &plan, max).map_err(SweepError::BadInput)?;
    }
    if !req.merge.is_empty() {
        let rows = merge_files(&plan, &req.merge)?;
        return outputs(scenario, req, &plan, &rows);
    }
    if let Some(shard) = req.shard {
        if req.csv.is_none() {
            return Err(SweepError::BadInput(format!(
                "--shard {shard} needs --csv FILE: the shard's rows are what --merge reads"
            )));
        }
        if req.svg.is_some() {
            return Err(SweepError::BadInput(format!(
                "--shard {shard} cannot draw --svg: the plot needs every run (give --svg to --merge)"
            )));
        }
    }
    let all_runs = plan.points() * plan.seeds.len();
    let runs = match req.shard {
        Some(s) => (0..all_runs).filter(|&i| s.has(i)).count(),
        None => all_runs,
    };
    let jobs = req.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    // The plan line is a courtesy: a stderr that cannot take it must not stop the sweep.
    let slice = match req.shard {
        Some(s) => format!(", shard {s}: {runs} of them"),
        None => String::new(),
    };
    let _ = writeln!(
        std::io::stderr(),
        "sweep {}: {} grid point(s) x {} seed(s) = {all_runs} run(s){slice} on {} thread(s)",
        scenario.name,
        plan.points(),
        plan.seeds.len(),
        jobs.min(runs.max(1))
    );
    let rows =
        run_some(make, scenario, &plan, req.shard, jobs, req.progress).map_err(SweepError::BadInput)?;
    if req.shard.is_some() {
        if let Some(path) = &req.csv {
            super::files::write(path, output::csv(&plan, &rows).as_bytes()).map_err(SweepError::Io)?;
        }
        return Ok(String::new());
    }
    outputs(scenario, req, &plan, &rows)
}

/// The shards' CSVs, read and merged.
fn merge_files(plan: &Plan, paths: &[std::path::PathBuf]) -> Result<Vec<Row>, SweepError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SweepError::BadInput(format!("{}: cannot read the shard: {e}", path.display())))?;
        files.push((path.clone(), text));
    }
    shard::merge(plan, &files).map_err(SweepError::BadInput)
}

/// The files asked for and the table, from every row of the sweep.
fn outputs(scenario: &Scenario, req: &Request, plan: &Plan, rows: &[Row]) -> Result<String, SweepError> {
    if let Some(path) = &req.csv {
        super::files::write(path, output::csv(plan, rows).as_bytes()).map_err(SweepError::Io)?;
    }
    if let Some(path) = &req.svg {
        let title = format!("udplab sweep of {}", scenario.name);
        let args = output::arguments(&req.vary, req.seeds.as_deref());
        super::files::write(path, output::plot(&title, &args, plan, rows).as_bytes())
            .map_err(SweepError::Io)?;
    }
    Ok(output::table(plan, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_the_product_with_seeds_innermost() {
        let vary = ["loss=0,0.5".to_string(), "reliable=false,true".to_string()];
        let plan = Plan::parse(&vary, Some("1..3"), 9).unwrap();
        let runs = plan.runs();
        assert_eq!(runs.len(), 12);
        assert_eq!(runs[0], (vec![Value::Prob(0), Value::Bool(false)], 1));
        assert_eq!(runs[3], (vec![Value::Prob(0), Value::Bool(true)], 1));
        assert_eq!(runs[11], (vec![Value::Prob(500_000_000), Value::Bool(true)], 3));
        assert_eq!(Plan::parse(&[], None, 9).unwrap().runs(), vec![(vec![], 9)]);
        assert!(Plan::parse(&["seed=1..2".into()], Some("3"), 9).is_err());
        assert!(Plan::parse(&["loss=0.1".into(), "loss=0.2".into()], None, 9).is_err());
        assert!(
            Plan::parse(&["count=1..1000".into(), "loss=0..1:0.001".into(), "seed=1..2".into()], None, 9)
                .is_err()
        );
    }
}
