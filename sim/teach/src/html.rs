//! The HTML report: one self-contained file for students to open offline.
//!
//! No scripts, external fonts, stylesheets or images: the CSS is inline and every picture is
//! inline SVG (the ladder, a latency histogram per link, loss over time), so the file can be
//! mailed, opened from a USB stick, or kept next to the capture. The full timeline is at the
//! end, folded.

use std::fmt::Write;

use udplab_sim::report::Spread;
use udplab_sim::trace::Time;

use super::plot::{self, Axis, Chart, Series};
use super::story::{CopyEnd, Story};
use super::svg;
use super::text::{bps, percent, xml};
use crate::run::RunOutput;

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;color:#263238;max-width:1180px;margin:24px auto;padding:0 16px;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:34px;border-bottom:1px solid #cfd8dc;padding-bottom:4px}\
.meta{color:#546e7a}.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}\
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #cfd8dc;padding:4px 8px;text-align:right}\
th{background:#eceff1}td.name,th.name{text-align:left}pre{background:#f5f5f5;padding:10px;overflow-x:auto;font-size:12px}\
.picture{overflow-x:auto;border:1px solid #cfd8dc;padding:4px;background:#fff}";

/// The whole report for one run.
pub fn report(out: &RunOutput, story: &Story) -> String {
    let sc = &out.scenario;
    let mut h = String::new();
    let title = format!("udplab: {}, seed {}", sc.name, out.seed);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        xml(&title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", xml(&format!("udplab report: {}", sc.name)));
    let verdict = if let Some(why) = &out.incomplete {
        format!("<span class=\"fail\">INCOMPLETE: {}</span>", xml(why))
    } else if out.failures.is_empty() {
        "<span class=\"pass\">expectations hold</span>".to_string()
    } else {
        format!("<span class=\"fail\">{} expectation(s) FAILED</span>", out.failures.len())
    };
    let _ = writeln!(
        h,
        "<p class=\"meta\">seed {} &middot; {} s {} &middot; {} events &middot; trace digest {:08x} &middot; {verdict}</p>",
        out.seed,
        Time(sc.duration_us),
        if out.clock == udplab_sim::report::Clock::Real { "on the real clock" } else { "of virtual time" },
        out.trace.len(),
        out.digest
    );
    if !sc.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", xml(&sc.description));
    }
    let _ = writeln!(h, "<h2>Network</h2>\n<pre>{}</pre>", xml(&network_text(out)));

    summary_tables(&mut h, out);
    expectations(&mut h, out);

    let _ = writeln!(
        h,
        "<h2>Ladder</h2>\n<p>Time runs down; each arrow is one datagram from its sender to its receiver, \
         its slope its latency. Hover over an arrow for its whole story.</p>\n<div class=\"picture\">\n{}</div>",
        svg::ladder(story, out.seed)
    );
    latency_histograms(&mut h, story);
    loss_over_time(&mut h, story);

    let _ = writeln!(
        h,
        "<h2>Timeline</h2>\n<details>\n<summary>Every event, as <code>udplab run</code> prints it</summary>\n<pre>{}</pre>\n</details>",
        xml(&out.timeline)
    );
    let _ = writeln!(
        h,
        "<p class=\"meta\">Made by udplab {} from scenario {} with seed {}: the same scenario and seed give the same report.</p>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        xml(&sc.name),
        out.seed
    );
    h
}

/// The header of `udplab run`'s text (nodes and links), without its first line and description.
fn network_text(out: &RunOutput) -> String {
    let header = super::ladder_header(out);
    let mut lines = header.lines().skip_while(|l| *l != "nodes").collect::<Vec<_>>().join("\n");
    lines.push('\n');
    lines
}

fn summary_tables(h: &mut String, out: &RunOutput) {
    let s = &out.summary;
    h.push_str("<h2>Summary</h2>\n");
    if !s.flows.is_empty() {
        h.push_str(
            "<table>\n<tr><th class=\"name\">flow</th><th>mode</th><th>sent</th><th>retransmissions</th><th>delivered</th>\
             <th>lost</th><th>duplicates</th><th>out of order</th><th>corrupted</th><th>latency min / mean / max</th>\
             <th>goodput</th><th>answered</th><th>round trip min / mean / max</th></tr>\n",
        );
        for f in &s.flows {
            let mode = match (f.reliable, f.echo) {
                (true, _) => "reliable",
                (false, true) => "echo",
                (false, false) => "sink",
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"name\">{} &rarr; {}</td><td>{mode}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                xml(&f.client),
                xml(&f.server),
                f.sent,
                f.retransmissions,
                f.delivered,
                percent(f.delivered, f.sent),
                f.lost,
                f.duplicates,
                f.out_of_order,
                f.corrupted,
                spread(&f.latency),
                bps(f.goodput_bps),
                if f.reliable || f.echo {
                    format!("{} ({})", f.answered, percent(f.answered, f.sent))
                } else {
                    "-".into()
                },
                spread(&f.round_trip)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<table>\n<tr><th class=\"name\">link</th><th>offered</th><th>lost</th><th>duplicated</th><th>corrupted</th>\
         <th>arrived</th><th>reordered</th><th>in flight at the end</th><th>latency min / mean / max</th></tr>\n",
    );
    for l in &s.links {
        let _ = writeln!(
            h,
            "<tr><td class=\"name\">{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            xml(&l.name),
            l.offered,
            l.lost,
            percent(l.lost, l.offered),
            l.duplicated,
            l.corrupted,
            l.arrived,
            l.reordered,
            l.in_flight_at_end,
            spread(&l.latency)
        );
    }
    h.push_str("</table>\n");
}

fn spread(s: &Spread) -> String {
    xml(&s.to_string())
}

fn expectations(h: &mut String, out: &RunOutput) {
    if out.failures.is_empty() {
        return;
    }
    h.push_str("<h2>Expectations that failed</h2>\n<ul>\n");
    for f in &out.failures {
        let _ = writeln!(h, "<li class=\"fail\">{}</li>", xml(f));
    }
    h.push_str("</ul>\n");
}

/// One histogram of arrival latencies (every copy) per link that delivered something.
fn latency_histograms(h: &mut String, story: &Story) {
    h.push_str(
        "<h2>Latency</h2>\n<p>How long each copy that arrived spent in its link, one chart per link.</p>\n",
    );
    for link in 0..story.scenario.links.len() {
        let mut lat: Vec<u64> = story
            .datagrams
            .iter()
            .filter(|d| d.link == link)
            .flat_map(|d| d.copies.iter())
            .filter_map(|c| match c.end {
                CopyEnd::Arrived { latency_us, .. } => Some(latency_us),
                CopyEnd::InFlight { .. } => None,
            })
            .collect();
        if lat.is_empty() {
            continue;
        }
        lat.sort_unstable();
        let bins = histogram_bins(&lat);
        let ms = |us: f64| us / 1000.0;
        let top = bins.iter().map(|b| b.2).max().unwrap_or(1) as f64;
        let x = Axis::fit("latency (ms)", "", bins.iter().flat_map(|b| [ms(b.0), ms(b.1)]), false);
        let y = Axis::fit("copies", "", [0.0, top], true);
        let name = story.link_name(link);
        let mut chart = Chart::new(&format!("{name}: {} copies arrived", lat.len()), x, y);
        chart.bars = bins.iter().map(|&(a, b, n)| (ms(a), ms(b), n as f64)).collect();
        // The ladder's colour for an arrival: these are arrivals, and red would say "lost".
        chart.bar_color = svg::INK.into();
        let (body, height) = chart.draw(0.0, 0.0, 560.0, 220.0);
        let _ = writeln!(h, "<div class=\"picture\">{}</div>", plot::document(&name, 560.0, height, &body));
    }
}

/// At most 20 equal bins `(from_us, to_us, count)` over sorted `values`.
fn histogram_bins(values: &[u64]) -> Vec<(f64, f64, u64)> {
    let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
        return Vec::new();
    };
    if lo == hi {
        let half = (lo / 20).max(50) as f64;
        return vec![(lo as f64 - half, lo as f64 + half, values.len() as u64)];
    }
    let n = ((values.len() as f64).sqrt().ceil() as u64).clamp(1, 20);
    let mut counts = vec![0u64; n as usize];
    for &v in values {
        let i = (u128::from(v - lo) * u128::from(n) / u128::from(hi - lo)).min(u128::from(n - 1));
        counts[i as usize] += 1;
    }
    let width = (hi - lo) as f64 / n as f64;
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (lo as f64 + i as f64 * width, lo as f64 + (i + 1) as f64 * width, c))
        .collect()
}

/// Datagrams offered and lost so far on each link, against time.
fn loss_over_time(h: &mut String, story: &Story) {
    let secs = |us: u64| us as f64 / 1e6;
    let mut series = Vec::new();
    for link in 0..story.scenario.links.len() {
        let mut offered = vec![(0.0, 0.0)];
        let mut lost = vec![(0.0, 0.0)];
        let (mut n, mut l) = (0u64, 0u64);
        for d in story.datagrams.iter().filter(|d| d.link == link) {
            n += 1;
            offered.push((secs(d.sent_us), n as f64));
            if d.lost().is_some() {
                l += 1;
                lost.push((secs(d.sent_us), l as f64));
            }
        }
        if n == 0 {
            continue;
        }
        offered.push((secs(story.end_us), n as f64));
        lost.push((secs(story.end_us), l as f64));
        let color = plot::PALETTE[link % plot::PALETTE.len()].to_string();
        let name = story.link_name(link);
        series.push(Series {
            name: format!("{name}: offered so far"),
            color: color.clone(),
            points: thin(offered),
            step: true,
            dashed: true,
            ..Series::default()
        });
        series.push(Series {
            name: format!("{name}: lost so far"),
            color,
            points: thin(lost),
            step: true,
            ..Series::default()
        });
    }
    h.push_str(
        "<h2>Loss over time</h2>\n<p>For each link, datagrams offered so far (dashed) and lost so far (solid): \
         steep solid stretches are bursts or outages, the gap between the lines is what got through.</p>\n",
    );
    let x = Axis::fit("time (s)", "", [0.0, secs(story.end_us)], true);
    let y = Axis::fit("datagrams", "", series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), true);
    let mut chart = Chart::new("offered and lost so far, per link", x, y);
    chart.series = series;
    let (body, height) = chart.draw(0.0, 0.0, 760.0, 300.0);
    let _ = writeln!(
        h,
        "<div class=\"picture\">{}</div>",
        plot::document("loss over time", 760.0, height, &body)
    );
}

/// Keeps a staircase drawable: at most about 1000 points, always the first and last.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let every = points.len().div_ceil(1000).max(1);
    if every == 1 {
        return points;
    }
    let last = points.len() - 1;
    points.into_iter().enumerate().filter(|(i, _)| i % every == 0 || *i == last).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_cover_every_value() {
        let v: Vec<u64> = (0..100).map(|i| 5_000 + i * 10).collect();
        let bins = histogram_bins(&v);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), 100);
        let one = histogram_bins(&[5_000, 5_000]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].2, 2);
        assert!(histogram_bins(&[]).is_empty());
    }
}
