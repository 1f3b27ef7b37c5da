//! Small hand-made SVG charts: a line chart (lines, steps, points, min-max whiskers) and a
//! histogram, for the HTML report and sweep plots.
//!
//! Hand-made rather than a plotting crate so the output is small, needs no fonts or scripts,
//! and is byte-for-byte the same on every machine: ticks are exact decimals (a mantissa of 1,
//! 2 or 5 and a power of ten, printed without floating-point formatting) and coordinates are
//! printed with one decimal.

use std::fmt::Write;

use super::text::{num, xml};

/// Colours for series, in order. No red: in every picture udplab draws, red means lost.
pub const PALETTE: [&str; 8] =
    ["#1565c0", "#827717", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#4e342e", "#ad1457"];

/// One line on a chart.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub color: String,
    /// `(x, y)`, in increasing x.
    pub points: Vec<(f64, f64)>,
    /// Draw as a staircase (a count that changes at each point) instead of straight segments.
    pub step: bool,
    pub dashed: bool,
    /// Mark each point with a dot.
    pub dots: bool,
    /// `(x, low, high)` vertical bars, e.g. the spread over seeds.
    pub whiskers: Vec<(f64, f64, f64)>,
}

/// How an axis labels its ticks.
#[derive(Debug, Clone)]
pub enum Ticks {
    /// Round numbers over the range, with a unit suffix (`ms`, `%`, ...).
    Numbers { unit: String },
    /// One label per position `0, 1, 2, ...` (for values like `true`/`false`).
    Categories(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub ticks: Ticks,
}

impl Axis {
    /// A numeric axis over the values, starting at zero when `from_zero`.
    pub fn fit(label: &str, unit: &str, values: impl IntoIterator<Item = f64>, from_zero: bool) -> Axis {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            min = min.min(v);
            max = max.max(v);
        }
        if !min.is_finite() {
            (min, max) = (0.0, 1.0);
        }
        if from_zero {
            min = min.min(0.0);
        }
        if max - min < 1e-9 {
            max = min + if min.abs() > 1e-9 { min.abs() } else { 1.0 };
        }
        // Widen to round numbers, so the ends have ticks.
        if let Some(step) = nice_step(min, max, 6) {
            min = (min / step + 1e-9).floor() * step;
            max = (max / step - 1e-9).ceil() * step;
        }
        Axis { label: label.to_string(), min, max, ticks: Ticks::Numbers { unit: unit.to_string() } }
    }

    fn pos(&self, v: f64, from: f64, to: f64) -> f64 {
        let span = self.max - self.min;
        if span <= 0.0 || !v.is_finite() {
            return from;
        }
        from + (to - from) * ((v - self.min) / span)
    }

    /// Tick positions and labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        match &self.ticks {
            Ticks::Categories(names) => {
                names.iter().enumerate().map(|(i, n)| (i as f64, n.clone())).collect()
            }
            Ticks::Numbers { unit } => nice_ticks(self.min, self.max, 6)
                .into_iter()
                .map(|(v, text)| (v, if unit.is_empty() { text } else { format!("{text}{unit}") }))
                .collect(),
        }
    }
}

/// A chart to draw in a box.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Bars `(x from, x to, height)` drawn under the series (a histogram).
    pub bars: Vec<(f64, f64, f64)>,
    pub bar_color: String,
}

const PAD_LEFT: f64 = 64.0;
const PAD_RIGHT: f64 = 16.0;
const PAD_TOP: f64 = 30.0;
const PAD_BOTTOM: f64 = 44.0;

impl Chart {
    pub fn new(title: &str, x: Axis, y: Axis) -> Chart {
        Chart {
            title: title.to_string(),
            x,
            y,
            series: Vec::new(),
            bars: Vec::new(),
            bar_color: PALETTE[0].into(),
        }
    }

    /// The chart as an SVG group placed at `(left, top)`, `width` by `height` pixels, with the
    /// legend (when there are named series) below it. Returns the group and its full height.
    pub fn draw(&self, left: f64, top: f64, width: f64, height: f64) -> (String, f64) {
        let mut s = String::new();
        let (x0, x1) = (left + PAD_LEFT, left + width - PAD_RIGHT);
        let (y0, y1) = (top + height - PAD_BOTTOM, top + PAD_TOP);
        let px = |v: f64| self.x.pos(v, x0, x1);
        let py = |v: f64| self.y.pos(v, y0, y1);
        let _ = writeln!(s, r#"<g class="chart">"#);
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-size="13" font-weight="bold" fill="#37474f">{}</text>"##,
            num(left + 8.0),
            num(top + 16.0),
            xml(&self.title)
        );
        for (v, text) in self.y.ticks() {
            let y = py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#eceff1"/><text x="{}" y="{}" text-anchor="end" font-size="10" fill="#607d8b">{}</text>"##,
                num(x0),
                num(x1),
                num(x0 - 5.0),
                num(y + 3.5),
                xml(&text),
                y = num(y)
            );
        }
        for (v, text) in self.x.ticks() {
            let x = px(v);
            let _ = writeln!(
                s,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#90a4ae"/><text x="{x}" y="{}" text-anchor="middle" font-size="10" fill="#607d8b">{}</text>"##,
                num(y0),
                num(y0 + 4.0),
                num(y0 + 15.0),
                xml(&text),
                x = num(x)
            );
        }
        for &(a, b, h) in &self.bars {
            let (xa, xb, yh) = (px(a), px(b), py(h));
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.75" stroke="#ffffff"/>"##,
                num(xa.min(xb)),
                num(yh.min(y0)),
                num((xb - xa).abs().max(1.0)),
                num((y0 - yh).abs()),
                self.bar_color
            );
        }
        for series in &self.series {
            let color = &series.color;
            for &(x, lo, hi) in &series.whiskers {
                let _ = writeln!(
                    s,
                    r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{color}" stroke-opacity="0.45" stroke-width="5"/>"#,
                    num(py(lo)),
                    num(py(hi)),
                    x = num(px(x))
                );
            }
            if series.points.len() > 1 {
                let mut d = String::new();
                for (i, &(x, y)) in series.points.iter().enumerate() {
                    if i == 0 {
                        let _ = write!(d, "M{} {}", num(px(x)), num(py(y)));
                    } else if series.step {
                        let _ = write!(d, " H{} V{}", num(px(x)), num(py(y)));
                    } else {
                        let _ = write!(d, " L{} {}", num(px(x)), num(py(y)));
                    }
                }
                let dash = if series.dashed { r#" stroke-dasharray="6 4""# } else { "" };
                let _ = writeln!(s, r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#);
            }
            if series.dots || series.points.len() == 1 {
                for &(x, y) in &series.points {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{}" cy="{}" r="2.8" fill="{color}"/>"#,
                        num(px(x)),
                        num(py(y))
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            r##"<path d="M{} {} V{} H{}" fill="none" stroke="#607d8b"/>"##,
            num(x0),
            num(y1),
            num(y0),
            num(x1)
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#37474f">{}</text>"##,
            num((x0 + x1) / 2.0),
            num(y0 + 32.0),
            xml(&self.x.label)
        );
        let _ = writeln!(
            s,
            r##"<text x="{x}" y="{y}" text-anchor="middle" font-size="11" fill="#37474f" transform="rotate(-90 {x} {y})">{}</text>"##,
            xml(&self.y.label),
            x = num(left + 14.0),
            y = num((y0 + y1) / 2.0)
        );
        let mut full = height;
        let named: Vec<&Series> = self.series.iter().filter(|s| !s.name.is_empty()).collect();
        let mut lx = x0;
        let mut ly = top + height + 4.0;
        if !named.is_empty() {
            full += 18.0;
        }
        for series in named {
            let w = 40.0 + 6.5 * series.name.len() as f64;
            if lx + w > left + width && lx > x0 {
                lx = x0;
                ly += 18.0;
                full += 18.0;
            }
            let dash = if series.dashed { r#" stroke-dasharray="6 4""# } else { "" };
            let _ = writeln!(
                s,
                r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}" font-size="11" fill="#37474f">{}</text>"##,
                num(lx),
                num(ly),
                num(lx + 20.0),
                num(ly),
                series.color,
                num(lx + 25.0),
                num(ly + 4.0),
                xml(&series.name)
            );
            lx += w;
        }
        s.push_str("</g>\n");
        (s, full)
    }
}

/// A standalone SVG document holding `body` (groups drawn with [`Chart::draw`]).
pub fn document(title: &str, width: f64, height: f64, body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<title>{}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{body}</svg>\n",
        xml(title),
        w = num(width),
        h = num(height)
    )
}

/// Round tick values covering `[min, max]`, about `want` of them, with their exact labels.
pub fn nice_ticks(min: f64, max: f64, want: usize) -> Vec<(f64, String)> {
    let Some((m, e)) = nice_mantissa(min, max, want) else {
        return Vec::new();
    };
    let step = m as f64 * 10f64.powi(e);
    let first = (min / step - 1e-9).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last.min(first + 100))
        .map(|i| {
            let units = i * m as i64;
            (units as f64 * 10f64.powi(e), decimal(units, e))
        })
        .collect()
}

/// The tick step [`nice_ticks`] uses.
fn nice_step(min: f64, max: f64, want: usize) -> Option<f64> {
    nice_mantissa(min, max, want).map(|(m, e)| m as f64 * 10f64.powi(e))
}

/// The round step `m * 10^e` (m in 1, 2, 5) giving about `want` ticks over `[min, max]`.
fn nice_mantissa(min: f64, max: f64, want: usize) -> Option<(u64, i32)> {
    if !(min.is_finite() && max.is_finite()) || max <= min {
        return None;
    }
    let raw = (max - min) / want.max(1) as f64;
    // The step is m * 10^e with m in {1, 2, 5}: find the smallest one at least `raw`.
    let mut e: i32 = -12;
    let (mut m, mut found) = (1u64, false);
    while e <= 15 && !found {
        for cand in [1u64, 2, 5] {
            if cand as f64 * 10f64.powi(e) >= raw * (1.0 - 1e-9) {
                m = cand;
                found = true;
                break;
            }
        }
        if !found {
            e += 1;
        }
    }
    found.then_some((m, e))
}

/// `units * 10^e` written exactly: `decimal(25, -2)` is `0.25`.
fn decimal(units: i64, e: i32) -> String {
    if units == 0 {
        return "0".to_string();
    }
    if e >= 0 {
        let mut s = units.to_string();
        if units != 0 {
            s.extend(std::iter::repeat_n('0', e as usize));
        }
        return s;
    }
    let digits = (-e) as usize;
    let neg = units < 0;
    let abs = units.unsigned_abs().to_string();
    let padded = format!("{abs:0>width$}", width = digits + 1);
    let (whole, frac) = padded.split_at(padded.len() - digits);
    let frac = frac.trim_end_matches('0');
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(whole);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_exact_decimals() {
        let t: Vec<String> = nice_ticks(0.0, 0.5, 5).into_iter().map(|(_, s)| s).collect();
        assert_eq!(t, ["0", "0.1", "0.2", "0.3", "0.4", "0.5"]);
        let t: Vec<String> = nice_ticks(0.0, 100.0, 6).into_iter().map(|(_, s)| s).collect();
        assert_eq!(t, ["0", "20", "40", "60", "80", "100"]);
        assert!(nice_ticks(1.0, 1.0, 5).is_empty());
        assert_eq!(decimal(-5, -3), "-0.005");
        assert_eq!(decimal(3, 2), "300");
    }

    #[test]
    fn a_chart_with_no_data_still_draws() {
        let c = Chart::new("empty", Axis::fit("x", "", [], true), Axis::fit("y", "", [f64::NAN], true));
        let (svg, h) = c.draw(0.0, 0.0, 300.0, 200.0);
        assert!(svg.contains("empty") && h >= 200.0);
    }
}
