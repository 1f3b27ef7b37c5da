//! The ladder as a standalone SVG: time runs down, each node is a lifeline, each datagram a
//! sloped arrow from its sender (when sent) to its receiver (when it arrived), so the slope is
//! the latency and reordered datagrams cross. A lost datagram's arrow stops half way with an X
//! and the reason; a duplicate copy is dashed; one still in flight at the end fades out.
//!
//! Every datagram is a `<g class="datagram">` with `data-link`, `data-index` and a `<title>`
//! (the tooltip) holding its whole story, so the file is searchable and testable.
//!
//! The file needs nothing else (no fonts, scripts or images) and has a white background, so it
//! reads the same in a browser, in GitHub's dark mode and inside the HTML report.

use std::collections::BTreeMap;
use std::fmt::Write;

use udplab_firmware::app::Ms;
use udplab_sim::trace::Time;

use super::placement::{Placer, Spot};
use super::story::{CopyEnd, Datagram, Note, Step, Story};
use super::text::{num, xml};
use super::timeaxis::Axis;

/// Most datagrams drawn; a larger run is cut (the timeline and capture keep everything).
pub const MAX_DATAGRAMS: usize = 2_000;

const TOP: f64 = 104.0;
const BOTTOM: f64 = 44.0;
const TIME_LABELS: f64 = 74.0;
const LEFT_NOTES: f64 = 250.0;
const COLUMN: f64 = 300.0;
const RIGHT_NOTES: f64 = 260.0;
/// The axis never gets taller than this (the scale shrinks instead).
const MAX_AXIS_PX: f64 = 2_400.0;
/// The shortest latency in the run is drawn at least this tall, if the page allows.
const SHORTEST_FLIGHT_PX: f64 = 24.0;

pub const INK: &str = "#37474f";
pub const LOST: &str = "#c62828";
pub const REORDERED: &str = "#8e24aa";
pub const DUPLICATE: &str = "#ef6c00";
pub const CORRUPTED: &str = "#00897b";
pub const IN_FLIGHT: &str = "#9e9e9e";
pub const INFO: &str = "#1565c0";

/// The SVG document of `story`'s ladder.
pub fn ladder(story: &Story, seed: u64) -> String {
    let shown: Vec<&Datagram> = story.datagrams.iter().take(MAX_DATAGRAMS).collect();
    let last_shown_us = shown.last().map_or(u64::MAX, |d| d.sent_us);
    let axis = axis_for(story, &shown, last_shown_us);
    let nodes = story.scenario.nodes.len().max(1);
    let lifeline = |node: usize| TIME_LABELS + LEFT_NOTES + node as f64 * COLUMN;
    // Room on the right for the last node's notes, the longest of them included (a note there
    // starts 8 px right of the lifeline, in 10 px type).
    let longest_right = story
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Note(n) if n.node + 1 == nodes && nodes > 1 => Some(n.text.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let right_notes =
        RIGHT_NOTES.max(8.0 + longest_right as f64 * crate::placement::EM_PER_CHAR * 10.0 + 12.0);
    let width = TIME_LABELS + LEFT_NOTES + (nodes - 1) as f64 * COLUMN + right_notes;
    let height = TOP + axis.height() + BOTTOM;
    let y = |t: u64| TOP + axis.y(t);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#,
        w = num(width),
        h = num(height)
    );
    let mut title = format!("udplab ladder of {}, seed {}", story.scenario.name, seed);
    if let Some(why) = &story.incomplete {
        title.push_str(&format!(" (INCOMPLETE: {why})"));
    }
    let _ = writeln!(s, "<title>{}</title>", xml(&title));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        num(width),
        num(height)
    );
    let _ = writeln!(
        s,
        r#"<text x="12" y="22" font-size="15" font-weight="bold" fill="{INK}">{}</text>"#,
        xml(&title)
    );
    let mut subtitle =
        "time runs down; each arrow is one datagram, its slope its latency; grey bands: quiet time cut short"
            .to_string();
    if shown.len() < story.datagrams.len() {
        let _ = write!(subtitle, "; first {} of {} datagrams shown", shown.len(), story.datagrams.len());
    }
    let _ = writeln!(s, r#"<text x="12" y="40" fill="{INK}">{}</text>"#, xml(&subtitle));
    legend(&mut s, 12.0, 60.0);

    // Lifelines and node names.
    for (i, n) in story.scenario.nodes.iter().enumerate() {
        let x = lifeline(i);
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="100" height="22" rx="4" fill="#eceff1" stroke="{INK}"/>"##,
            num(x - 50.0),
            num(TOP - 30.0)
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold" fill="{INK}">{}</text>"#,
            num(x),
            num(TOP - 15.0),
            xml(&n.name)
        );
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#b0bec5" stroke-width="1.5"/>"##,
            num(TOP - 8.0),
            num(height - BOTTOM + 8.0),
            x = num(x)
        );
    }

    let mut placer = Placer::default();
    let band_labels = time_axis(&mut s, &axis, width, &mut placer);
    // X marks cannot move: every label, earlier or later, goes round them.
    for d in shown.iter().filter(|d| d.lost().is_some()) {
        let (xm, ym) = cross_at(story, d, &lifeline, &y);
        placer.take(Placer::rect(xm - 7.0, ym - 7.0, xm + 7.0, ym + 7.0));
    }

    // Datagrams a node sends at the same instant share one line (they travel together): their
    // labels are spread along it. Notes at the same instant are stacked.
    let mut same_send: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    let mut same_note: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    for step in &story.steps {
        match step {
            Step::Datagram(i) if *i < shown.len() => {
                let d = &story.datagrams[*i];
                let k = same_send.entry((d.from, d.sent_us)).or_insert(0);
                datagram(&mut s, &mut placer, story, d, *k, &lifeline, &y);
                *k += 1;
            }
            Step::Note(n) if n.at_us <= last_shown_us => {
                let k = same_note.entry((n.node, n.at_us)).or_insert(0);
                note(&mut s, &mut placer, n, *k, nodes, &lifeline, &y);
                *k += 1;
            }
            _ => {}
        }
    }
    // A quiet band's "... later" goes last, wherever along its band the arrows' labels left
    // room: nothing is in flight then, so only labels near its edges compete with it.
    for (y, text) in band_labels {
        let chars = text.chars().count();
        let at = |x: f64| Spot { x, y, dy: 0.0, anchor: 0, size: 11.0, angle: 0.0 };
        let centre = width / 2.0;
        let spots = [0.0, 80.0, -80.0, 160.0, -160.0, 240.0, -240.0, 320.0, -320.0]
            .map(|dx| at(centre + dx))
            .into_iter()
            .filter(|spot| spot.quad(chars).iter().all(|c| c.0 > TIME_LABELS && c.0 < width));
        let spot = placer.place(chars, spots.chain([at(centre)]));
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" font-style="italic" fill="#757575">{}</text>"##,
            num(spot.x),
            num(spot.y),
            xml(&text)
        );
    }
    match &story.incomplete {
        Some(why) => {
            let _ = writeln!(
                s,
                r#"<text x="12" y="{}" font-size="11" fill="{LOST}">INCOMPLETE: {}</text>"#,
                num(height - 14.0),
                xml(why)
            );
        }
        None => {
            let _ = writeln!(
                s,
                r#"<text x="12" y="{}" font-size="11" fill="{IN_FLIGHT}">udplab {}: the same scenario and seed always draw the same picture</text>"#,
                num(height - 14.0),
                env!("CARGO_PKG_VERSION")
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The axis: busy while a shown datagram is in flight or a note is made.
fn axis_for(story: &Story, shown: &[&Datagram], last_shown_us: u64) -> Axis {
    let mut spans: Vec<(u64, u64)> = Vec::with_capacity(shown.len());
    let mut shortest = u64::MAX;
    for d in shown {
        let mut end = d.sent_us;
        if d.lost().is_some() {
            end = d.sent_us + story.nominal_delay_us(d) / 2;
        }
        for c in &d.copies {
            match c.end {
                CopyEnd::Arrived { at_us, latency_us, .. } => {
                    end = end.max(at_us);
                    if latency_us > 0 {
                        shortest = shortest.min(latency_us);
                    }
                }
                CopyEnd::InFlight { due_us } => end = end.max(due_us.min(story.end_us)),
            }
        }
        spans.push((d.sent_us, end));
    }
    for step in &story.steps {
        if let Step::Note(n) = step
            && n.at_us <= last_shown_us
        {
            spans.push((n.at_us, n.at_us));
        }
    }
    let shortest = if shortest == u64::MAX { 10_000 } else { shortest };
    let mut scale = SHORTEST_FLIGHT_PX / shortest as f64;
    let axis = Axis::new(&spans, scale);
    if axis.height() > MAX_AXIS_PX {
        // Shrink so the busy time fits; cut stretches keep their fixed height.
        let busy = axis.busy_us().max(1) as f64;
        let cuts = axis.pieces.iter().filter(|p| p.cut).count() as f64;
        let room = (MAX_AXIS_PX - cuts * super::timeaxis::BREAK_PX).max(MAX_AXIS_PX / 4.0);
        scale = scale.min(room / busy);
        return Axis::new(&spans, scale);
    }
    axis
}

fn legend(s: &mut String, x0: f64, y0: f64) {
    let items: [(&str, &str, &str); 6] = [
        (INK, "", "arrived"),
        (LOST, "", "lost (X)"),
        (REORDERED, "", "reordered"),
        (DUPLICATE, "6 3", "duplicate copy"),
        (CORRUPTED, "", "corrupted"),
        (IN_FLIGHT, "2 3", "in flight at the end"),
    ];
    let mut x = x0;
    for (color, dash, text) in items {
        let dash = if dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{dash}""#) };
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>"#,
            num(x),
            num(x + 22.0),
            y = num(y0 - 4.0)
        );
        let _ = writeln!(s, r#"<text x="{}" y="{}" fill="{color}">{text}</text>"#, num(x + 27.0), num(y0));
        x += 34.0 + 7.0 * text.len() as f64;
    }
}

/// Draws the axis and the quiet bands, and returns the bands' labels (y, text) for the caller
/// to place once the datagrams' labels are down.
fn time_axis(s: &mut String, axis: &Axis, width: f64, placer: &mut Placer) -> Vec<(f64, String)> {
    let mut band_labels = Vec::new();
    let step = tick_step(axis.scale);
    for p in &axis.pieces {
        let (y0, y1) = (TOP + p.y0, TOP + p.y1);
        if p.cut {
            // Right of the time labels, so that none is hidden under it.
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f5f5f5"/>"##,
                num(TIME_LABELS + 2.0),
                num(y0 + 3.0),
                num(width - TIME_LABELS - 6.0),
                num((y1 - y0 - 6.0).max(1.0))
            );
            band_labels.push(((y0 + y1) / 2.0 + 4.0, format!("{} later", Ms(p.t1 - p.t0))));
            continue;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#90a4ae"/>"##,
            num(y0),
            num(y1),
            x = num(TIME_LABELS)
        );
        // The piece's start, then round times inside it far enough from each other.
        let mut ticks = vec![p.t0];
        let mut t = p.t0.div_ceil(step) * step;
        while t <= p.t1 {
            if axis.y(t) - axis.y(*ticks.last().unwrap_or(&p.t0)) >= 30.0 {
                ticks.push(t);
            }
            t += step;
        }
        for t in ticks {
            let ty = TOP + axis.y(t);
            let text = format!("{} s", TickTime(t));
            let spot =
                Spot { x: TIME_LABELS - 7.0, y: ty + 3.5, dy: 0.0, anchor: -1, size: 10.0, angle: 0.0 };
            placer.take(spot.quad(text.chars().count()));
            let _ = writeln!(
                s,
                r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#90a4ae"/><text x="{}" y="{}" text-anchor="end" font-size="10" fill="#607d8b">{} s</text>"##,
                num(TIME_LABELS - 4.0),
                num(TIME_LABELS),
                num(TIME_LABELS - 7.0),
                num(ty + 3.5),
                TickTime(t),
                y = num(ty)
            );
        }
    }
    band_labels
}

/// A round tick interval (1, 2 or 5 times a power of ten microseconds) at least 40 px apart.
fn tick_step(scale: f64) -> u64 {
    let want = 40.0 / scale.max(1e-12);
    let mut step: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if s as f64 >= want || s >= 1_000_000_000_000 {
                return s;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A time for the axis: milliseconds when it is a whole number of them (`0.250 s`), else
/// microseconds (`0.250125 s`).
struct TickTime(u64);

impl std::fmt::Display for TickTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        if t.is_multiple_of(1_000) {
            write!(f, "{}.{:03}", t / 1_000_000, t % 1_000_000 / 1_000)
        } else {
            write!(f, "{}", Time(t))
        }
    }
}

/// Draws one datagram; `nth` counts the datagrams its sender sent before at the same instant.
fn datagram(
    s: &mut String,
    placer: &mut Placer,
    story: &Story,
    d: &Datagram,
    nth: usize,
    lifeline: &dyn Fn(usize) -> f64,
    y: &dyn Fn(u64) -> f64,
) {
    let (x1, y1) = (lifeline(d.from), y(d.sent_us));
    let x2 = lifeline(d.to);
    let mut classes = vec!["datagram"];
    let color = if d.lost().is_some() {
        classes.push("lost");
        LOST
    } else if d.reordered() || d.overtook.count > 0 {
        classes.push("reordered");
        REORDERED
    } else if d.corrupted().is_some() {
        classes.push("corrupted");
        CORRUPTED
    } else {
        INK
    };
    if d.copies.len() > 1 {
        classes.push("duplicated");
    }
    let _ = writeln!(
        s,
        r#"<g class="{}" id="d-{}-{}" data-link="{}" data-index="{}">"#,
        classes.join(" "),
        d.link,
        d.index,
        xml(&story.link_name(d.link)),
        d.index
    );
    let _ = writeln!(s, "<title>{}</title>", xml(&story.whole_sentence(d)));
    let short = d.short_label();
    let mut label = short.clone();
    if let Some(a) = d.attempt() {
        let _ = write!(label, " (attempt {a})");
    }
    if let Some(p) = d.passage().filter(|p| p.held_us > 0) {
        let _ = write!(label, " (held {})", Ms(p.held_us));
    }
    if let Some(c) = d.corrupted() {
        let fix = if c.checksum_fixed { "" } else { ", bad checksum" };
        let _ = write!(label, " (bit {} flipped{fix})", c.bit);
    }

    if let Some(reason) = d.lost() {
        let (xm, ym) = cross_at(story, d, lifeline, y);
        line(s, (x1, y1), (xm, ym), color, "");
        cross(s, xm, ym, color);
        let right = x2 > x1;
        let text = format!("LOST: {}", story.loss_reason(d.link, reason));
        // Ahead of the X (where the datagram was going), else behind it, then a line further
        // down or up at a time: close to its X before anything else.
        let ahead = if right { (xm + 9.0, 1) } else { (xm - 9.0, -1) };
        let behind = (if right { xm - 9.0 } else { xm + 9.0 }, -ahead.1);
        let near =
            [(ahead, 4.0), (ahead, 16.0), (behind, 4.0), (ahead, -8.0), (behind, 16.0), (behind, -8.0)];
        let far = [28.0, -20.0, 40.0, -32.0, 52.0, 64.0, -44.0, 76.0, 88.0, 100.0]
            .into_iter()
            .flat_map(|dy| [(ahead, dy), (behind, dy)]);
        let spots = near.into_iter().chain(far).map(|((x, anchor), dy)| Spot {
            x,
            y: ym + dy,
            dy: 0.0,
            anchor,
            size: 11.0,
            angle: 0.0,
        });
        let spot = placer.place(text.chars().count(), spots);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="{}" font-size="11" fill="{color}">{}</text>"#,
            num(spot.x),
            num(spot.y),
            if spot.anchor > 0 { "start" } else { "end" },
            xml(&text)
        );
        let (at, below) = [(0.4, false), (0.6, true)][nth % 2];
        arrow_label(s, placer, (x1, y1), (xm, ym), [&label, &short], color, at, below);
        s.push_str("</g>\n");
        return;
    }

    for c in &d.copies {
        match c.end {
            CopyEnd::Arrived { at_us, overtaken_by, .. } => {
                let y2 = y(at_us);
                let (stroke, dash) = if c.copy > 0 { (DUPLICATE, "6 3") } else { (color, "") };
                line(s, (x1, y1), (x2, y2), stroke, dash);
                head(s, (x1, y1), (x2, y2), stroke);
                if c.copy == 0 {
                    let (at, below) = [(0.3, false), (0.7, true), (0.72, false), (0.28, true)][nth % 4];
                    arrow_label(s, placer, (x1, y1), (x2, y2), [&label, &short], color, at, below);
                }
                let right = x2 > x1;
                let mut side = |text: String, color: &str| {
                    let (x, anchor) = if right { (x2 - 10.0, -1) } else { (x2 + 10.0, 1) };
                    // Under the arrow's head, or further down a line at a time.
                    let spots = [13.0, 25.0, 37.0, 49.0, 61.0, 73.0, 85.0, -11.0].map(|dy| Spot {
                        x,
                        y: y2 + dy,
                        dy: 0.0,
                        anchor,
                        size: 10.0,
                        angle: 0.0,
                    });
                    let spot = placer.place(text.chars().count(), spots);
                    format!(
                        r#"<text x="{}" y="{}" text-anchor="{}" font-size="10" fill="{color}">{}</text>"#,
                        num(spot.x),
                        num(spot.y),
                        if right { "end" } else { "start" },
                        xml(&text)
                    )
                };
                if let Some(later) = overtaken_by {
                    let _ = writeln!(s, "{}", side(format!("REORDERED: #{later} arrived first"), REORDERED));
                }
                if c.copy > 0 {
                    let _ = writeln!(s, "{}", side(format!("duplicate of #{}", d.index), DUPLICATE));
                }
            }
            CopyEnd::InFlight { due_us } => {
                // Towards the receiver at its slope, until the run ended.
                let end = story.end_us.min(due_us);
                let span = due_us.saturating_sub(d.sent_us).max(1) as f64;
                let f = (end.saturating_sub(d.sent_us) as f64 / span).clamp(0.0, 1.0);
                let (xe, ye) = (x1 + (x2 - x1) * f, y(end));
                line(s, (x1, y1), (xe, ye), IN_FLIGHT, "2 3");
                if c.copy == 0 {
                    let text = format!("{label} (in flight)");
                    arrow_label(s, placer, (x1, y1), (xe, ye), [&text, &short], IN_FLIGHT, 0.5, false);
                }
            }
        }
    }
    s.push_str("</g>\n");
}

/// Draws one note; `nth` counts the notes of the same node at the same instant before it.
fn note(
    s: &mut String,
    placer: &mut Placer,
    n: &Note,
    nth: usize,
    nodes: usize,
    lifeline: &dyn Fn(usize) -> f64,
    y: &dyn Fn(u64) -> f64,
) {
    let (x, ny) = (lifeline(n.node), y(n.at_us));
    let ty = ny + 3.5 + 12.0 * nth as f64;
    let color = if n.problem { LOST } else { INFO };
    // Outside the diagram for the first and last node, to the right for the others.
    let (tx, anchor) = if n.node == 0 && nodes > 1 { (x - 8.0, "end") } else { (x + 8.0, "start") };
    // At its dot, or a line lower at a time while that is taken (the dot stays at its time).
    let spots = (0..12).map(|k| Spot {
        x: tx,
        y: ty + 12.0 * k as f64,
        dy: 0.0,
        anchor: if anchor == "end" { -1 } else { 1 },
        size: 10.0,
        angle: 0.0,
    });
    let ty = placer.place(n.text.chars().count(), spots).y;
    let _ = writeln!(
        s,
        r#"<g class="note"><circle cx="{}" cy="{}" r="3.5" fill="{color}"/><text x="{}" y="{}" text-anchor="{anchor}" font-size="10" fill="{color}">{}</text></g>"#,
        num(x),
        num(ny),
        num(tx),
        num(ty),
        xml(&n.text)
    );
}

fn line(s: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), color: &str, dash: &str) {
    let dash = if dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{dash}""#) };
    let _ = writeln!(
        s,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="1.6"{dash}/>"#,
        num(x1),
        num(y1),
        num(x2),
        num(y2)
    );
}

/// A filled arrow head at `to`, pointing along the line.
fn head(s: &mut String, from: (f64, f64), to: (f64, f64), color: &str) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let (nx, ny) = (-uy, ux);
    let (bx, by) = (to.0 - 9.0 * ux, to.1 - 9.0 * uy);
    let _ = writeln!(
        s,
        r#"<polygon points="{},{} {},{} {},{}" fill="{color}"/>"#,
        num(to.0),
        num(to.1),
        num(bx + 3.5 * nx),
        num(by + 3.5 * ny),
        num(bx - 3.5 * nx),
        num(by - 3.5 * ny)
    );
}

/// Where a lost datagram's X goes: half way across, at half its link's delay.
fn cross_at(
    story: &Story,
    d: &Datagram,
    lifeline: &dyn Fn(usize) -> f64,
    y: &dyn Fn(u64) -> f64,
) -> (f64, f64) {
    ((lifeline(d.from) + lifeline(d.to)) / 2.0, y(d.sent_us + story.nominal_delay_us(d) / 2))
}

fn cross(s: &mut String, x: f64, y: f64, color: &str) {
    let _ = writeln!(
        s,
        r#"<path d="M{} {} L{} {} M{} {} L{} {}" stroke="{color}" stroke-width="2.4"/>"#,
        num(x - 6.0),
        num(y - 6.0),
        num(x + 6.0),
        num(y + 6.0),
        num(x - 6.0),
        num(y + 6.0),
        num(x + 6.0),
        num(y - 6.0)
    );
}

/// The label along the arrow, centred at fraction `at` of the way, above it (or `below`), read
/// left to right whichever way the arrow points.
///
/// When that spot is taken, the label slides along its arrow and changes side, nearest places
/// first, until it finds a free one.
#[allow(clippy::too_many_arguments)]
fn arrow_label(
    s: &mut String,
    placer: &mut Placer,
    from: (f64, f64),
    to: (f64, f64),
    texts: [&str; 2],
    color: &str,
    at: f64,
    below: bool,
) {
    let mut angle = (to.1 - from.1).atan2(to.0 - from.0).to_degrees();
    if angle > 90.0 {
        angle -= 180.0;
    } else if angle < -90.0 {
        angle += 180.0;
    }
    let spot = |at: f64, dy: f64| Spot {
        x: from.0 + (to.0 - from.0) * at,
        y: from.1 + (to.1 - from.1) * at,
        dy,
        anchor: 0,
        size: 11.0,
        angle,
    };
    // Right above or below the arrow first, then on the other side; then a line further out on
    // either side (arrows that leave together share one line, and their labels stack beside it).
    let (near, far) = if below { (12.0, -4.0) } else { (-4.0, 12.0) };
    let rows = [near, far, -16.0, 24.0, -28.0, 36.0];
    let along = [0.5, 0.3, 0.7, 0.4, 0.6, 0.2, 0.8, 0.25, 0.75, 0.35, 0.65, 0.15, 0.85, 0.45, 0.55, 0.1, 0.9];
    let spots = || {
        [(at, near), (at, far)]
            .into_iter()
            .chain(rows.iter().flat_map(|&dy| along.iter().map(move |&f| (f, dy))))
            .map(|(f, dy)| spot(f, dy))
    };
    // The whole label where it fits; else the short one (`#15 seq=15?`, the details stay in
    // the arrow's hover text); else the whole label where it wanted to be.
    let [text, short] = texts;
    let found = placer
        .place_if_free(text.chars().count(), spots())
        .map(|spot| (spot, text))
        .or_else(|| placer.place_if_free(short.chars().count(), spots()).map(|spot| (spot, short)));
    let (chosen, text) = found.unwrap_or_else(|| (placer.place(text.chars().count(), spots()), text));
    let _ = writeln!(
        s,
        r#"<text x="{x}" y="{y}" dy="{}" text-anchor="middle" font-size="11" fill="{color}" transform="rotate({} {x} {y})">{}</text>"#,
        num(chosen.dy),
        num(angle),
        xml(text),
        x = num(chosen.x),
        y = num(chosen.y)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_far_enough_apart() {
        assert_eq!(tick_step(0.004), 10_000); // 4 px/ms: 10 ms = 40 px
        assert_eq!(tick_step(0.001), 50_000);
        assert_eq!(tick_step(0.0), 1_000_000_000_000);
    }
}
