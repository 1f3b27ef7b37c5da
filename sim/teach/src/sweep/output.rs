//! A sweep's results: CSV (one row per grid point and seed), a table for the terminal (one line
//! per grid point, averaged over seeds) and an SVG plot against the first varied parameter.
//!
//! The CSV holds only numbers, `true`/`false` and `pass`/`fail`, so it needs no quoting; times
//! are whole microseconds and probabilities exact decimals.

use std::fmt::Write;

use super::super::plot::{self, Axis, Chart, Series, Ticks};
use super::super::text::{bps, percent};
use super::grid::{Dimension, Kind};
use super::{Plan, Row};
use udplab_firmware::app::Ms;

/// The columns after the varied parameters'. The last two are the mean's exact ingredients, so
/// that shards' CSVs merge into the table and plot one run gives (see `super::shard`).
pub const COLUMNS: [&str; 14] = [
    "seed",
    "sent",
    "delivered",
    "lost",
    "duplicates",
    "out_of_order",
    "latency_min_us",
    "latency_mean_us",
    "latency_max_us",
    "goodput_bps",
    "retransmissions",
    "expectations",
    "latency_samples",
    "latency_sum_us",
];

/// The CSV's first line.
pub fn header(plan: &Plan) -> String {
    let mut names: Vec<String> = plan.dims.iter().map(|d| d.param.column()).collect();
    names.extend(COLUMNS.iter().map(|c| c.to_string()));
    names.join(",")
}

/// The CSV text, rows in grid order.
pub fn csv(plan: &Plan, rows: &[Row]) -> String {
    let mut s = header(plan);
    s.push('\n');
    for r in rows {
        for v in &r.values {
            s.push_str(&v.csv());
            s.push(',');
        }
        let lat = |v: u64| if r.latency.count == 0 { String::new() } else { v.to_string() };
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.seed,
            r.sent,
            r.delivered,
            r.lost,
            r.duplicates,
            r.out_of_order,
            lat(r.latency.min_us),
            lat(r.latency.mean_us()),
            lat(r.latency.max_us),
            r.goodput_bps,
            r.retransmissions,
            if r.expectations_hold { "pass" } else { "fail" },
            r.latency.count,
            r.latency.sum_us
        );
    }
    s
}

/// Rows of one grid point (all its seeds), with the averages a table and a plot show.
struct Point<'a> {
    rows: &'a [Row],
}

impl Point<'_> {
    fn mean(&self, f: impl Fn(&Row) -> f64) -> f64 {
        self.rows.iter().map(&f).sum::<f64>() / self.rows.len().max(1) as f64
    }
    fn range(&self, f: impl Fn(&Row) -> f64) -> (f64, f64) {
        self.rows.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
    }
    fn delivered_pct(r: &Row) -> f64 {
        if r.sent == 0 { 0.0 } else { 100.0 * r.delivered as f64 / r.sent as f64 }
    }
}

fn points<'a>(plan: &Plan, rows: &'a [Row]) -> Vec<Point<'a>> {
    rows.chunks(plan.seeds.len().max(1)).map(|rows| Point { rows }).collect()
}

/// One line per grid point, averaged over its seeds.
pub fn table(plan: &Plan, rows: &[Row]) -> String {
    let mut header: Vec<String> = plan.dims.iter().map(|d| d.param.name().to_string()).collect();
    for h in
        ["runs", "sent", "delivered", "lost", "dup", "late", "latency mean", "goodput", "retx", "expect ok"]
    {
        header.push(h.to_string());
    }
    let mut lines: Vec<Vec<String>> = vec![header];
    for p in points(plan, rows) {
        let Some(first) = p.rows.first() else { continue };
        let mut line: Vec<String> = first.values.iter().map(|v| v.to_string()).collect();
        let sum = |f: fn(&Row) -> u64| p.rows.iter().map(f).sum::<u64>();
        let n = p.rows.len() as u64;
        let lat_sum: u64 = p.rows.iter().map(|r| r.latency.sum_us).sum();
        let lat_count: u64 = p.rows.iter().map(|r| r.latency.count).sum();
        line.push(n.to_string());
        line.push(sum(|r| r.sent).to_string());
        line.push(format!("{} ({})", sum(|r| r.delivered), percent(sum(|r| r.delivered), sum(|r| r.sent))));
        line.push(sum(|r| r.lost).to_string());
        line.push(sum(|r| r.duplicates).to_string());
        line.push(sum(|r| r.out_of_order).to_string());
        line.push(lat_sum.checked_div(lat_count).map_or_else(|| "-".to_string(), |m| Ms(m).to_string()));
        line.push(bps(sum(|r| r.goodput_bps) / n.max(1)));
        line.push(sum(|r| r.retransmissions).to_string());
        line.push(format!("{} of {n}", p.rows.iter().filter(|r| r.expectations_hold).count()));
        lines.push(line);
    }
    let cols = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> =
        (0..cols).map(|c| lines.iter().map(|l| l.get(c).map_or(0, String::len)).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(cell, w)| format!("{cell:>w$}")).collect();
        let _ = writeln!(s, "{}", cells.join("  ").trim_end());
    }
    s
}

/// The plot: delivered messages, goodput and mean latency against the first varied parameter
/// (against the seed when nothing is varied), one series per combination of the others, each
/// point the mean over seeds with a bar from the lowest to the highest seed.
pub fn plot(title: &str, subtitle: &str, plan: &Plan, rows: &[Row]) -> String {
    let pts = points(plan, rows);
    // x: the first dimension's value, or the seed.
    let (x_name, categorical): (String, Option<Vec<String>>) = match plan.dims.first() {
        Some(d) if d.param.kind() == Kind::Bool => {
            (d.param.name().to_string(), Some(d.values.iter().map(|v| v.to_string()).collect()))
        }
        Some(d) => (axis_name(d), None),
        None => ("seed".to_string(), None),
    };
    let x_of = |r: &Row| -> f64 {
        match (plan.dims.first(), r.values.first()) {
            (Some(d), Some(v)) if d.param.kind() == Kind::Bool => {
                d.values.iter().position(|x| x == v).unwrap_or(0) as f64
            }
            (Some(_), Some(v)) => v.x(),
            _ => r.seed as f64,
        }
    };
    // Series: one per combination of the other dimensions, in grid order. Without dimensions,
    // one series over the seeds (each seed a point).
    let mut keys: Vec<Vec<String>> = Vec::new();
    let mut groups: Vec<Vec<(f64, &Point)>> = Vec::new();
    let single: Vec<Point> =
        if plan.dims.is_empty() { rows.chunks(1).map(|rows| Point { rows }).collect() } else { Vec::new() };
    let all: &[Point] = if plan.dims.is_empty() { &single } else { &pts };
    for p in all {
        let Some(first) = p.rows.first() else { continue };
        let key: Vec<String> = plan
            .dims
            .iter()
            .zip(&first.values)
            .skip(1)
            .map(|(d, v)| format!("{}={v}", d.param.name()))
            .collect();
        let at = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                keys.push(key);
                groups.push(Vec::new());
                keys.len() - 1
            }
        };
        groups[at].push((x_of(first), p));
    }
    type Measure = fn(&Row) -> f64;
    let mut panels: Vec<(&str, &str, Measure)> = vec![
        ("messages delivered", "%", Point::delivered_pct),
        ("goodput", "kbit/s", |r: &Row| r.goodput_bps as f64 / 1000.0),
        ("one-way latency to the application, mean", "ms", |r: &Row| r.latency.mean_us() as f64 / 1000.0),
    ];
    // Reordering and duplication get a chart when they happen at all.
    if rows.iter().any(|r| r.out_of_order > 0) {
        panels.push(("messages that arrived out of order, per run", "", |r: &Row| r.out_of_order as f64));
    }
    if rows.iter().any(|r| r.duplicates > 0) {
        panels.push(("duplicates the application received, per run", "", |r: &Row| r.duplicates as f64));
    }
    let (width, height) = (760.0, 250.0);
    let mut body = String::new();
    let mut top = 52.0;
    let _ = writeln!(
        body,
        r##"<text x="12" y="22" font-size="15" font-weight="bold" fill="#37474f">{}</text>"##,
        super::super::text::xml(title)
    );
    let _ = writeln!(
        body,
        r##"<text x="12" y="40" font-size="11" fill="#546e7a">{}</text>"##,
        super::super::text::xml(subtitle)
    );
    for (name, unit, f) in panels {
        let mut series = Vec::new();
        for (i, (key, group)) in keys.iter().zip(&groups).enumerate() {
            let color = plot::PALETTE[i % plot::PALETTE.len()].to_string();
            let points: Vec<(f64, f64)> = group.iter().map(|(x, p)| (*x, p.mean(f))).collect();
            let whiskers: Vec<(f64, f64, f64)> = if plan.seeds.len() > 1 && !plan.dims.is_empty() {
                group
                    .iter()
                    .map(|(x, p)| {
                        let (lo, hi) = p.range(f);
                        (*x, lo, hi)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            series.push(Series {
                name: key.join(", "),
                color,
                points,
                dots: true,
                whiskers,
                ..Series::default()
            });
        }
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let mut x = Axis::fit(&x_name, "", xs, false);
        if let Some(names) = &categorical {
            x = Axis {
                label: x_name.clone(),
                min: -0.5,
                max: names.len() as f64 - 0.5,
                ticks: Ticks::Categories(names.clone()),
            };
        }
        let ys =
            series.iter().flat_map(|s| s.points.iter().map(|p| p.1).chain(s.whiskers.iter().map(|w| w.2)));
        let y = match unit {
            "%" => Axis::fit(unit, "%", [0.0, 100.0], true),
            "" => Axis::fit("messages", "", ys, true),
            _ => Axis::fit(unit, "", ys, true),
        };
        let mut chart = Chart::new(name, x, y);
        chart.series = series;
        let (g, h) = chart.draw(0.0, top, width, height);
        body.push_str(&g);
        top += h + 10.0;
    }
    let mut note = format!("{} grid point(s) x {} seed(s)", plan.points(), plan.seeds.len());
    if plan.seeds.len() > 1 {
        note.push_str("; each dot is the mean over the seeds, each bar their range");
    }
    let _ = writeln!(
        body,
        r##"<text x="12" y="{}" font-size="11" fill="#757575">{}</text>"##,
        super::super::text::num(top + 12.0),
        super::super::text::xml(&note)
    );
    plot::document(title, width, top + 24.0, &body)
}

/// The sweep's arguments as typed: `--vary loss=0..0.5:0.05 --seeds 1..5`.
pub fn arguments(vary: &[String], seeds: Option<&str>) -> String {
    let mut parts: Vec<String> = vary.iter().map(|v| format!("--vary {v}")).collect();
    if let Some(s) = seeds {
        parts.push(format!("--seeds {s}"));
    }
    parts.join(" ")
}

fn axis_name(d: &Dimension) -> String {
    match d.param.kind() {
        Kind::Probability => format!("{} (probability)", d.param.name()),
        Kind::Duration => format!("{} (ms)", d.param.name()),
        Kind::Count | Kind::Bool => d.param.name().to_string(),
    }
}
