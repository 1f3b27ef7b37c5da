//! Pictures without collisions: in every lesson's SVG ladder, no two labels overlap. Each
//! `<text>` becomes the box its characters cover (anchor, font size, rotation about its point
//! included; widths from a Helvetica-like 0.55 em per character, a little generous), and every
//! pair of boxes is tested with the separating-axis test for rotated rectangles.

use std::path::{Path, PathBuf};

use udplab_teach::story::Story;
use udplab_teach::svg;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A label's box: its four corners, in drawing order.
#[derive(Debug, Clone)]
struct Label {
    text: String,
    corners: [(f64, f64); 4],
}

/// Average advance of a character, in em: Helvetica's lower case and digits are 0.5 to 0.56,
/// upper case wider; 0.55 errs towards seeing an overlap.
const EM_PER_CHAR: f64 = 0.55;
/// Boxes are shrunk by this much on each side, so that labels that merely touch (one line right
/// under another) do not count.
const SLACK: f64 = 0.5;

fn number(node: &roxmltree::Node<'_, '_>, name: &str) -> Option<f64> {
    node.attribute(name).and_then(|v| v.trim_end_matches("px").parse().ok())
}

/// The inherited font size of `node` (the root sets 12).
fn font_size(node: &roxmltree::Node<'_, '_>) -> f64 {
    node.ancestors().find_map(|n| number(&n, "font-size")).unwrap_or(16.0)
}

/// `rotate(A X Y)` of `node`, in radians, about (X, Y).
fn rotation(node: &roxmltree::Node<'_, '_>) -> Option<(f64, f64, f64)> {
    let t = node.attribute("transform")?;
    let inner = t.strip_prefix("rotate(")?.strip_suffix(')')?;
    let v: Vec<f64> = inner.split([' ', ',']).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    match v.as_slice() {
        [a] => Some((a.to_radians(), 0.0, 0.0)),
        [a, x, y] => Some((a.to_radians(), *x, *y)),
        _ => panic!("unexpected transform {t}"),
    }
}

fn labels(doc: &str) -> Vec<Label> {
    let doc = roxmltree::Document::parse(doc).expect("well-formed SVG");
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let text: String = node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
        let text = text.trim().to_string();
        if text.is_empty() {
            continue;
        }
        let size = font_size(&node);
        let width = text.chars().count() as f64 * EM_PER_CHAR * size;
        let x = number(&node, "x").unwrap_or(0.0) + number(&node, "dx").unwrap_or(0.0);
        let y = number(&node, "y").unwrap_or(0.0) + number(&node, "dy").unwrap_or(0.0);
        let left = match node.attribute("text-anchor") {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        // From the ascender to the descender around the baseline.
        let (top, bottom) = (y - 0.75 * size + SLACK, y + 0.2 * size - SLACK);
        let (l, r) = (left + SLACK, left + width - SLACK);
        let mut corners = [(l, top), (r, top), (r, bottom), (l, bottom)];
        if let Some((a, cx, cy)) = rotation(&node) {
            for c in &mut corners {
                let (dx, dy) = (c.0 - cx, c.1 - cy);
                *c = (cx + dx * a.cos() - dy * a.sin(), cy + dx * a.sin() + dy * a.cos());
            }
        }
        out.push(Label { text, corners });
    }
    out
}

/// Separating-axis test for two convex quadrilaterals.
fn overlap(a: &[(f64, f64); 4], b: &[(f64, f64); 4]) -> bool {
    for quad in [a, b] {
        for i in 0..4 {
            let (p, q) = (quad[i], quad[(i + 1) % 4]);
            let axis = (q.1 - p.1, p.0 - q.0);
            let project = |pts: &[(f64, f64); 4]| {
                let d: Vec<f64> = pts.iter().map(|c| c.0 * axis.0 + c.1 * axis.1).collect();
                (
                    d.iter().cloned().fold(f64::INFINITY, f64::min),
                    d.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            };
            let (a0, a1) = project(a);
            let (b0, b1) = project(b);
            if a1 <= b0 || b1 <= a0 {
                return false;
            }
        }
    }
    true
}

/// The bounding boxes of the ladder's X marks (a lost datagram's cross: a two-stroke path).
fn crosses(doc: &str) -> Vec<[(f64, f64); 4]> {
    let doc = roxmltree::Document::parse(doc).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("stroke-width") == Some("2.4"))
        .map(|n| {
            let v: Vec<f64> =
                n.attribute("d").unwrap().split([' ', 'M', 'L']).filter_map(|t| t.parse().ok()).collect();
            let xs = v.iter().step_by(2);
            let ys = v.iter().skip(1).step_by(2);
            let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
            [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        })
        .collect()
}

/// The grey bands that stand for quiet time cut short.
fn bands(doc: &str) -> Vec<[(f64, f64); 4]> {
    let doc = roxmltree::Document::parse(doc).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#f5f5f5"))
        .map(|n| {
            let v = |a: &str| number(&n, a).unwrap();
            let (x, y, w, h) = (v("x"), v("y"), v("width"), v("height"));
            [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        })
        .collect()
}

/// Every pair of overlapping labels, every label over an X mark, and every time-axis label
/// under a quiet band, as text.
fn collisions(doc: &str) -> Vec<String> {
    let labels = labels(doc);
    let mut out = Vec::new();
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            if overlap(&a.corners, &b.corners) {
                out.push(format!("`{}` over `{}`", a.text, b.text));
            }
        }
    }
    for x in crosses(doc) {
        for l in labels.iter().filter(|l| overlap(&l.corners, &x)) {
            out.push(format!("`{}` over an X mark at {:?}", l.text, x[0]));
        }
    }
    // Inside the picture: a label past its edge is cut off.
    let width: f64 = roxmltree::Document::parse(doc)
        .unwrap()
        .root_element()
        .attribute("width")
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::INFINITY);
    for l in labels.iter().filter(|l| l.corners.iter().any(|c| c.0 < 0.0 || c.0 > width)) {
        out.push(format!("`{}` runs past the picture's edge (width {width})", l.text));
    }
    for b in bands(doc) {
        for l in labels.iter().filter(|l| l.text.ends_with(" s") && overlap(&l.corners, &b)) {
            out.push(format!("time `{}` under a quiet band", l.text));
        }
    }
    out
}

#[test]
fn the_checker_sees_overlaps_and_only_overlaps() {
    let page =
        |texts: &str| format!(r#"<svg xmlns="http://www.w3.org/2000/svg" font-size="12">{texts}</svg>"#);
    // Two labels on one spot, one under the other, side by side, and one rotated across another.
    let same = page(r#"<text x="10" y="20">#13 seq=12</text><text x="10" y="20">#12 seq=13</text>"#);
    assert_eq!(collisions(&same).len(), 1);
    let stacked = page(r#"<text x="10" y="20">first line</text><text x="10" y="34">second line</text>"#);
    assert!(collisions(&stacked).is_empty(), "{:?}", collisions(&stacked));
    let apart = page(r#"<text x="10" y="20">left</text><text x="60" y="20">right</text>"#);
    assert!(collisions(&apart).is_empty());
    let ends =
        page(r#"<text x="100" y="20" text-anchor="end">ends here</text><text x="95" y="20">starts</text>"#);
    assert_eq!(collisions(&ends).len(), 1, "anchors are honoured");
    let crossed = page(
        r#"<text x="50" y="50" text-anchor="middle" transform="rotate(90 50 50)">a long vertical label</text>
           <text x="50" y="50" text-anchor="middle">across it</text>"#,
    );
    assert_eq!(collisions(&crossed).len(), 1);
    let beside = page(
        r#"<text x="50" y="50" text-anchor="middle" transform="rotate(90 50 50)">a long vertical label</text>
           <text x="120" y="50">beside it</text>"#,
    );
    assert!(collisions(&beside).is_empty(), "{:?}", collisions(&beside));
    let on_x = page(
        r##"<path d="M44 44 L56 56 M44 56 L56 44" stroke="#c62828" stroke-width="2.4"/><text x="40" y="54">LOST</text>"##,
    );
    assert_eq!(collisions(&on_x).len(), 1, "a label over an X mark");
    let under = page(
        r##"<text x="67" y="107.5" text-anchor="end" font-size="10">0.100 s</text><rect x="4" y="100" width="800" height="20" fill="#f5f5f5"/>"##,
    );
    assert_eq!(collisions(&under).len(), 1, "a time under a quiet band");
    let cut = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" font-size="12"><text x="60" y="20">far too long for this</text></svg>"#;
    assert_eq!(collisions(cut).len(), 1, "a label past the right edge");
}

#[test]
fn no_label_of_any_lessons_ladder_overlaps_another() {
    let mut report = Vec::new();
    for path in udplab_teach::lessons::lesson_files(&root()).unwrap() {
        let scenario = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let out = udplab_teach::run_scenario(&scenario, scenario.seed).unwrap();
        let story = Story::new(&scenario, &out.trace);
        let found = collisions(&svg::ladder(&story, out.seed));
        if !found.is_empty() {
            report.push(format!("{}: {} overlaps\n  {}", scenario.name, found.len(), found.join("\n  ")));
        }
    }
    assert!(report.is_empty(), "labels drawn over each other:\n{}", report.join("\n"));
}
