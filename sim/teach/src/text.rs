//! Small text helpers shared by the SVG, HTML and CSV writers.

use std::fmt::Write;

/// `s` with the five XML special characters escaped, for SVG and HTML text and attributes.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0; none should occur, drop them.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A drawing coordinate with one decimal, never `NaN` or infinite (so the output is always
/// well-formed and the same on every machine).
pub fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some("-0") => "0".to_string(),
        Some(whole) => whole.to_string(),
        None => s,
    }
}

/// Parts per billion as a short decimal fraction: `50000000` -> `0.05`, `0` -> `0`.
pub fn ppb_decimal(ppb: u64) -> String {
    let whole = ppb / 1_000_000_000;
    let frac = ppb % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let mut s = format!("{whole}.{frac:09}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

/// Microseconds as the shortest exact duration: `20ms`, `1.5s`, `250us`.
pub fn duration(us: u64) -> String {
    if us == 0 {
        "0ms".to_string()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        let ms = us / 1_000;
        if ms >= 1_000 {
            let mut s = format!("{}.{:03}", ms / 1_000, ms % 1_000);
            while s.ends_with('0') {
                s.pop();
            }
            s.push('s');
            s
        } else {
            format!("{ms}ms")
        }
    } else {
        format!("{us}us")
    }
}

/// Bits per second in a compact form: `26.2 kbit/s`.
pub fn bps(b: u64) -> String {
    let mut s = String::new();
    let _ = match b {
        0..1_000 => write!(s, "{b} bit/s"),
        1_000..1_000_000 => write!(s, "{}.{} kbit/s", b / 1_000, b % 1_000 / 100),
        _ => write!(s, "{}.{} Mbit/s", b / 1_000_000, b % 1_000_000 / 100_000),
    };
    s
}

/// `a / b` as a percentage with one decimal, `-` when `b` is 0.
pub fn percent(a: u64, b: u64) -> String {
    if b == 0 {
        return "-".to_string();
    }
    let tenths = (u128::from(a) * 1000 + u128::from(b) / 2) / u128::from(b);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_the_same_everywhere() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(2.25), "2.2");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(ppb_decimal(50_000_000), "0.05");
        assert_eq!(ppb_decimal(1_000_000_000), "1");
        assert_eq!(duration(1_500_000), "1.5s");
        assert_eq!(duration(20_000), "20ms");
        assert_eq!(duration(250), "250us");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
