//! Durations, percentages and bit rates written as strings, converted exactly (decimal
//! arithmetic in integers, never through a float).

/// The longest duration a scenario may use anywhere: 24 hours.
pub const MAX_DURATION_US: u64 = 24 * 3600 * 1_000_000;

/// A non-negative decimal number as written: `int.frac`, with `frac` stripped of trailing
/// zeros and `digits` its remaining length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    int: u128,
    frac: u128,
    digits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaled {
    Whole(u128),
    /// The value times the scale has a fractional part.
    NotWhole,
    TooLarge,
}

impl Decimal {
    /// Parses `123`, `1.5`, `0.25`; `None` for anything else (signs, exponents, `.5`, `5.`).
    fn parse(s: &str) -> Option<Decimal> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        // Leading zeros cannot overflow; more than 39 significant digits can.
        let int_digits = int.trim_start_matches('0');
        let int = if int_digits.len() > 38 { u128::MAX } else { int_digits.parse().unwrap_or(0) };
        let frac = frac.unwrap_or("").trim_end_matches('0');
        if frac.len() > 30 {
            // Far more precise than any unit here can represent.
            return Some(Decimal { int, frac: 1, digits: 31 });
        }
        let digits = frac.len() as u32;
        let frac = if frac.is_empty() { 0 } else { frac.parse().unwrap_or(0) };
        Some(Decimal { int, frac, digits })
    }

    /// `self * scale`, exactly.
    fn times(self, scale: u128) -> Scaled {
        if self.digits > 30 {
            return Scaled::NotWhole;
        }
        let Some(whole) = self.int.checked_mul(scale) else {
            return Scaled::TooLarge;
        };
        let pow = 10u128.pow(self.digits);
        let Some(part) = self.frac.checked_mul(scale) else {
            return Scaled::TooLarge;
        };
        if !part.is_multiple_of(pow) {
            return Scaled::NotWhole;
        }
        whole.checked_add(part / pow).map_or(Scaled::TooLarge, Scaled::Whole)
    }
}

/// Splits `20ms` into `("20", "ms")` and `1.5 s` into `("1.5", "s")` (one plain space may
/// separate them; [`spacing`] has already refused any other).
fn split_unit(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    (&s[..end], s[end..].strip_prefix(' ').unwrap_or(&s[end..]))
}

/// Characters a reader cannot tell from a space or from nothing: any Unicode white space other
/// than the plain space, control characters, and the zero-width ones.
fn invisible(c: char) -> bool {
    (c.is_whitespace() && c != ' ')
        || c.is_control()
        || matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// `U+00A0 (no-break space)`: a character that does not show, named so the message can be acted
/// on (a quoted string would show it as the very blank the user could not see).
fn name_char(c: char) -> String {
    let name = match c {
        '\t' => "tab",
        '\n' => "line feed",
        '\r' => "carriage return",
        '\u{0B}' => "vertical tab",
        '\u{0C}' => "form feed",
        '\u{85}' => "next line",
        '\u{A0}' => "no-break space",
        '\u{AD}' => "soft hyphen",
        '\u{1680}' => "ogham space mark",
        '\u{180E}' => "mongolian vowel separator",
        '\u{2000}'..='\u{200A}' => "a typographic space",
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' | '\u{200F}' => "a direction mark",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{202F}' => "narrow no-break space",
        '\u{205F}' => "medium mathematical space",
        '\u{2060}' => "word joiner",
        '\u{2061}'..='\u{2064}' => "an invisible operator",
        '\u{3000}' => "ideographic space",
        '\u{FEFF}' => "zero-width no-break space (byte order mark)",
        c if c.is_control() => "a control character",
        _ => "a space character",
    };
    format!("U+{:04X} ({name})", c as u32)
}

/// The spacing rule shared by durations, percentages and rates: the text is written as
/// `<number><unit>` or `<number> <unit>`, with at most one plain space (U+0020) and none
/// around it. Anything else that looks blank (a tab, a no-break space pasted from a document,
/// U+2028 from a web page) is refused by name rather than quietly accepted, so the file means
/// the same to every tool that reads it.
fn spacing(text: &str, like: &str, between: &str) -> Result<(), String> {
    if let Some((n, c)) = text.chars().enumerate().find(|&(_, c)| invisible(c)) {
        return Err(format!(
            "{like}, found {text:?}: {} at character {}; only one plain space (U+0020) may separate {between}",
            name_char(c),
            n + 1
        ));
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        return Err(format!("{like}, found {text:?}: no spaces before or after it"));
    }
    if text.contains("  ") {
        return Err(format!("{like}, found {text:?}: at most one space may separate {between}"));
    }
    Ok(())
}

/// A duration string (`250us`, `20ms`, `1.5s`, `20 ms`) in microseconds, at most 24 hours. The
/// units are `us` (also written `µs` or `μs`, the micro sign and the Greek letter mu, which look
/// the same), `ms` and `s`; scenarios/README.md documents exactly this.
pub fn duration_us(text: &str) -> Result<u64, String> {
    let like = "expected a duration like \"20ms\", \"1.5s\" or \"250us\"";
    spacing(text, like, "the number and the unit")?;
    if text.starts_with('-') {
        return Err(format!("{like}, found {text:?}: a duration cannot be negative"));
    }
    let (number, unit) = split_unit(text);
    let Some(number) = Decimal::parse(number) else {
        return Err(format!("{like}, found {text:?}"));
    };
    let scale = match unit {
        "us" | "\u{B5}s" | "\u{3BC}s" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "" => return Err(format!("{like}, found {text:?} (no unit: use us, ms or s)")),
        other => return Err(format!("{like}, found {text:?} (unknown unit {other:?}: use us, ms or s)")),
    };
    match number.times(scale) {
        Scaled::Whole(us) if us <= u128::from(MAX_DURATION_US) => Ok(us as u64),
        Scaled::NotWhole => Err(format!("{text:?} is not a whole number of microseconds")),
        _ => Err(format!("{text:?} is too long: durations are at most 24 hours (\"86400s\")")),
    }
}

/// A percentage string (`10%`, `12.5%`) as parts per billion.
pub fn percent_ppb(text: &str) -> Result<u64, String> {
    let like = "expected a probability: a number from 0 to 1 like 0.1, or a percentage like \"10%\"";
    spacing(text, like, "the number and the %")?;
    let Some(number) = text.strip_suffix('%') else {
        return Err(format!("{like}, found {text:?}"));
    };
    let Some(number) = Decimal::parse(number.strip_suffix(' ').unwrap_or(number)) else {
        return Err(format!("{like}, found {text:?}"));
    };
    match number.times(10_000_000) {
        Scaled::Whole(ppb) if ppb <= 1_000_000_000 => Ok(ppb as u64),
        Scaled::NotWhole => Err(format!("{text:?} is more precise than a probability can be (0.0000001%)")),
        _ => Err(format!("a probability is at most 100%, found {text:?}")),
    }
}

/// A probability written as a TOML float, as parts per billion: `(p * 1e9).round()`.
pub fn float_ppb(text: &str) -> Result<u64, String> {
    let like = "expected a probability from 0 to 1 (like 0.1) or a percentage (like \"10%\")";
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok((p * 1e9).round() as u64),
        _ => Err(format!("{like}, found {text}")),
    }
}

/// A bit rate string (`500bit`, `64kbit`, `1.5Mbit`, `1Gbit`; SI prefixes) in bits per second.
pub fn rate_bps(text: &str) -> Result<u64, String> {
    let like = "expected a rate in bits per second like \"64kbit\", \"1.5Mbit\" or 1000000";
    spacing(text, like, "the number and the unit")?;
    let (number, unit) = split_unit(text);
    let Some(number) = Decimal::parse(number) else {
        return Err(format!("{like}, found {text:?}"));
    };
    let unit = unit.strip_suffix("/s").unwrap_or(unit);
    let scale: u128 = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1,
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        "" => return Err(format!("{like}, found {text:?} (no unit: use bit, kbit, Mbit or Gbit)")),
        u if u.ends_with("bps") || u.ends_with('b') || u.contains("byte") => {
            return Err(format!(
                "{like}, found {text:?}: write the unit as bit, kbit, Mbit or Gbit (bits per second)"
            ));
        }
        _ => {
            return Err(format!(
                "{like}, found {text:?} (unknown unit {unit:?}: use bit, kbit, Mbit or Gbit)"
            ));
        }
    };
    match number.times(scale) {
        Scaled::Whole(bps) if bps <= u128::from(u64::MAX) => Ok(bps as u64),
        Scaled::NotWhole => Err(format!("{text:?} is not a whole number of bits per second")),
        _ => Err(format!("{text:?} is too large")),
    }
}

/// Writes microseconds back the way a scenario would: `20ms`, `1.5s`, `250us`.
pub fn show_duration(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000_000 && (us % 1_000_000).is_multiple_of(1_000) {
        let frac = format!("{:03}", (us % 1_000_000) / 1_000);
        format!("{}.{}s", us / 1_000_000, frac.trim_end_matches('0'))
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_exact_microseconds() {
        assert_eq!(duration_us("250us"), Ok(250));
        assert_eq!(duration_us("20ms"), Ok(20_000));
        assert_eq!(duration_us("1.5s"), Ok(1_500_000));
        assert_eq!(duration_us("0.000001s"), Ok(1));
        assert_eq!(duration_us("2.250ms"), Ok(2_250));
        assert_eq!(duration_us("2 s"), Ok(2_000_000));
        assert_eq!(duration_us("86400s"), Ok(MAX_DURATION_US));
        assert_eq!(duration_us("0ms"), Ok(0));
        let err = |s| duration_us(s).unwrap_err();
        assert!(err("20").contains("no unit"), "{}", err("20"));
        assert!(err("20").starts_with("expected a duration like \"20ms\""));
        assert!(err("2min").contains("unknown unit \"min\""), "{}", err("2min"));
        assert!(err("-5ms").contains("negative"));
        assert!(err("1.5us").contains("whole number of microseconds"));
        assert!(err("0.0000001s").contains("whole number of microseconds"));
        assert!(err("86400.000001s").contains("at most 24 hours"));
        assert!(err("99999999999999999999999999999999999999999999s").contains("at most 24 hours"));
        for bad in ["", "ms", ".5s", "5.s", "1e3ms", "1..2s", "+5s", "five s"] {
            assert!(duration_us(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_take_the_documented_forms_only() {
        for (text, us) in [
            ("250us", 250),
            ("250 us", 250),
            ("250\u{B5}s", 250),
            ("250 \u{B5}s", 250),
            ("250\u{3BC}s", 250),
            ("20ms", 20_000),
            ("20 ms", 20_000),
            ("1.5s", 1_500_000),
            ("1.5 s", 1_500_000),
        ] {
            assert_eq!(duration_us(text), Ok(us), "{text:?}");
        }
        let err = |s: &str| duration_us(s).unwrap_err();
        for (text, found) in [
            ("5\tms", "U+0009 (tab) at character 2"),
            ("5\u{A0}ms", "U+00A0 (no-break space) at character 2"),
            ("5ms\u{2028}", "U+2028 (line separator) at character 4"),
            ("\u{2028}5ms", "U+2028 (line separator) at character 1"),
            ("5\u{202F}ms", "U+202F (narrow no-break space)"),
            ("5\u{3000}ms", "U+3000 (ideographic space)"),
            ("5\u{200B}ms", "U+200B (zero-width space)"),
            ("\u{FEFF}5ms", "U+FEFF (zero-width no-break space (byte order mark))"),
            ("5\nms", "U+000A (line feed)"),
            ("5\u{0}ms", "U+0000 (a control character)"),
        ] {
            let e = err(text);
            assert!(e.starts_with("expected a duration like \"20ms\""), "{e}");
            assert!(e.contains(found), "{text:?}: {e}");
            assert!(e.ends_with("only one plain space (U+0020) may separate the number and the unit"), "{e}");
        }
        for text in [" 5ms", "5ms ", " 5 ms "] {
            assert!(err(text).ends_with("no spaces before or after it"), "{text:?}: {}", err(text));
        }
        assert!(err("5  ms").ends_with("at most one space may separate the number and the unit"));
        assert!(err("5 m s").contains("unknown unit \"m s\""));
        assert!(err("5MS").contains("unknown unit \"MS\""));
        assert!(err("5 sec").contains("unknown unit \"sec\""));
    }

    #[test]
    fn percentages_and_rates_follow_the_same_spacing_rule() {
        assert_eq!(percent_ppb("10 %"), Ok(100_000_000));
        assert_eq!(rate_bps("64 kbit"), Ok(64_000));
        assert_eq!(rate_bps("64 kbit/s"), Ok(64_000));
        let pe = percent_ppb("10\u{A0}%").unwrap_err();
        assert!(pe.contains("U+00A0 (no-break space) at character 3"), "{pe}");
        assert!(pe.ends_with("separate the number and the %"), "{pe}");
        assert!(percent_ppb(" 10%").unwrap_err().ends_with("no spaces before or after it"));
        assert!(percent_ppb("10%\t").unwrap_err().contains("U+0009 (tab)"));
        assert!(rate_bps("64\tkbit").unwrap_err().contains("U+0009 (tab) at character 3"));
        assert!(rate_bps("64kbit ").unwrap_err().ends_with("no spaces before or after it"));
        assert!(rate_bps("64  kbit").unwrap_err().contains("at most one space"));
    }

    #[test]
    fn percentages_and_floats_are_parts_per_billion() {
        assert_eq!(percent_ppb("10%"), Ok(100_000_000));
        assert_eq!(percent_ppb("12.5%"), Ok(125_000_000));
        assert_eq!(percent_ppb("100%"), Ok(1_000_000_000));
        assert_eq!(percent_ppb("0.0000001%"), Ok(1));
        assert_eq!(percent_ppb("33.3300000%"), Ok(333_300_000));
        assert!(percent_ppb("100.0000001%").unwrap_err().contains("at most 100%"));
        assert!(percent_ppb("0.00000001%").unwrap_err().contains("more precise"));
        assert!(percent_ppb("10").unwrap_err().contains("percentage like \"10%\""));
        assert!(percent_ppb("-1%").is_err());
        assert_eq!(float_ppb("0.1"), Ok(100_000_000));
        assert_eq!(float_ppb("0.3"), Ok(300_000_000));
        assert_eq!(float_ppb("1.0"), Ok(1_000_000_000));
        assert_eq!(float_ppb("2.5e-1"), Ok(250_000_000));
        assert_eq!(float_ppb("0.0000000004"), Ok(0));
        for bad in ["1.5", "-0.1", "nan", "inf", "-inf"] {
            assert!(float_ppb(bad).unwrap_err().contains("from 0 to 1"), "{bad}");
        }
    }

    #[test]
    fn rates_use_si_prefixes() {
        assert_eq!(rate_bps("500bit"), Ok(500));
        assert_eq!(rate_bps("64kbit"), Ok(64_000));
        assert_eq!(rate_bps("1Mbit"), Ok(1_000_000));
        assert_eq!(rate_bps("1.5Mbit"), Ok(1_500_000));
        assert_eq!(rate_bps("1Gbit/s"), Ok(1_000_000_000));
        assert!(rate_bps("64kbps").unwrap_err().contains("write the unit as bit, kbit"));
        assert!(rate_bps("1.5bit").unwrap_err().contains("whole number"));
        assert!(rate_bps("64").unwrap_err().contains("no unit"));
        assert!(rate_bps("99999999999Gbit").unwrap_err().contains("too large"));
    }

    #[test]
    fn durations_show_as_written() {
        assert_eq!(show_duration(1_600_000), "1.6s");
        assert_eq!(show_duration(2_000_000), "2s");
        assert_eq!(show_duration(20_000), "20ms");
        assert_eq!(show_duration(250), "250us");
        assert_eq!(show_duration(1_000_500), "1000500us");
    }
}
