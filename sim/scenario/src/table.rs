//! Reading a parsed TOML document with every key and value's position at hand: a table that
//! knows its allowed keys, and readers that turn one value into a typed one or a [`Fail`]
//! pointing at it.

use std::ops::{Range, RangeInclusive};

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::error::{Fail, fail};
use super::units;

pub type Value<'i> = Spanned<DeValue<'i>>;

/// One table of the document (the top level, a `[[node]]`, an inline table, ...).
pub struct Table<'a, 'i> {
    /// Where the table starts: its `[[header]]`, or `{` of an inline table.
    pub span: Range<usize>,
    /// What to call it in messages: `[[node]]`, `the top level`, `` `reliable` ``.
    pub what: String,
    /// Entries in the order they are written.
    entries: Vec<(&'a Spanned<DeString<'i>>, &'a Value<'i>)>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub fn new(span: Range<usize>, table: &'a DeTable<'i>, what: impl Into<String>) -> Table<'a, 'i> {
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        Table { span, what: what.into(), entries }
    }

    /// `value` as a table, or an error saying `expected`.
    pub fn of(value: &'a Value<'i>, what: impl Into<String>, expected: &str) -> Result<Table<'a, 'i>, Fail> {
        match value.get_ref() {
            DeValue::Table(t) => Ok(Table::new(value.span(), t, what)),
            other => fail!(value.span(), "expected {expected}, found {}", describe(other)),
        }
    }

    /// Fails at the first key (in file order) that is not in `allowed`, naming the expected
    /// ones; `hint` may add a sentence about where the key belongs instead.
    pub fn allow(&self, allowed: &[&str], hint: impl Fn(&str) -> Option<String>) -> Result<(), Fail> {
        for (key, _) in &self.entries {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let mut msg = format!("unknown key `{}` in {}", name.escape_debug(), self.what);
            if let Some(near) = closest(name, allowed) {
                msg.push_str(&format!(" (did you mean `{near}`?)"));
            }
            if let Some(h) = hint(name) {
                msg.push_str("; ");
                msg.push_str(&h);
            }
            msg.push_str("; expected one of ");
            msg.push_str(&list(allowed));
            return Err(Fail::new(key.span(), msg));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.entries.iter().find(|(k, _)| k.get_ref() == key).map(|&(_, v)| v)
    }

    /// Where `key` is written, if it is.
    pub fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.entries.iter().find(|(k, _)| k.get_ref() == key).map(|(k, _)| k.span())
    }

    /// The value of `key`, which must be there: the error points at the table and says what
    /// the key is for.
    pub fn require(&self, key: &str, about: &str) -> Result<&'a Value<'i>, Fail> {
        match self.get(key) {
            Some(v) => Ok(v),
            None => fail!(self.span.clone(), "{} is missing `{key}` ({about})", self.what),
        }
    }

    /// Keys with their values, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a Value<'i>)> + '_ {
        self.entries.iter().map(|&(k, v)| (k.get_ref().as_ref(), v))
    }
}

/// `a`, `b` and `c` as "`a`, `b`, `c`".
pub fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The candidate closest to `word` by edit distance (with transpositions), if it is close.
pub fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = match word.chars().count() {
        // Nothing here is that long; don't spend quadratic time on it.
        65.. => return None,
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    };
    candidates
        .iter()
        .map(|c| (edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()), *c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each cost 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A value as a message shows it: `"20"`, `20`, `true`, `an array`.
pub fn describe(v: &DeValue<'_>) -> String {
    let short = |s: String| {
        if s.chars().count() > 40 { format!("{}...", s.chars().take(40).collect::<String>()) } else { s }
    };
    match v {
        DeValue::String(s) => short(format!("{s:?}")),
        DeValue::Integer(i) => short(i.to_string()),
        DeValue::Float(f) => short(f.to_string()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => format!("the date/time {d}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

pub fn string<'v>(key: &str, v: &'v Value<'_>, expected: &str) -> Result<&'v str, Fail> {
    match v.get_ref() {
        DeValue::String(s) => Ok(s),
        other => fail!(v.span(), "`{key}`: expected {expected}, found {}", describe(other)),
    }
}

pub fn boolean(key: &str, v: &Value<'_>) -> Result<bool, Fail> {
    match v.get_ref() {
        DeValue::Boolean(b) => Ok(*b),
        other => fail!(v.span(), "`{key}`: expected true or false, found {}", describe(other)),
    }
}

/// The integer value of `v`, which must lie in `range`; `expected` describes the range.
pub fn integer(key: &str, v: &Value<'_>, range: RangeInclusive<i128>, expected: &str) -> Result<i128, Fail> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        other => return fail!(v.span(), "`{key}`: expected {expected}, found {}", describe(other)),
    };
    match n {
        Some(n) if range.contains(&n) => Ok(n),
        _ => fail!(v.span(), "`{key}`: expected {expected}, found {}", describe(v.get_ref())),
    }
}

/// A duration string in microseconds (at most 24 hours).
pub fn duration(key: &str, v: &Value<'_>) -> Result<u64, Fail> {
    match v.get_ref() {
        DeValue::String(s) => units::duration_us(s).map_err(|m| Fail::new(v.span(), format!("`{key}`: {m}"))),
        DeValue::Integer(_) | DeValue::Float(_) => fail!(
            v.span(),
            "`{key}`: expected a duration like \"20ms\", found {} (a number without a unit: write \"{}ms\" or \"{}s\")",
            describe(v.get_ref()),
            describe(v.get_ref()),
            describe(v.get_ref())
        ),
        other => fail!(v.span(), "`{key}`: expected a duration like \"20ms\", found {}", describe(other)),
    }
}

/// A probability (float 0..=1, integer 0 or 1, or a percentage string) in parts per billion.
pub fn probability(key: &str, v: &Value<'_>) -> Result<u64, Fail> {
    let msg = match v.get_ref() {
        DeValue::Float(f) => units::float_ppb(f.as_str()),
        DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(0) => Ok(0),
            Ok(1) => Ok(1_000_000_000),
            _ => Err(format!(
                "expected a probability from 0 to 1 (like 0.1) or a percentage (like \"10%\"), found {i}"
            )),
        },
        DeValue::String(s) => units::percent_ppb(s),
        other => Err(format!(
            "expected a probability from 0 to 1 (like 0.1) or a percentage (like \"10%\"), found {}",
            describe(other)
        )),
    };
    msg.map_err(|m| Fail::new(v.span(), format!("`{key}`: {m}")))
}

/// A rate in bits per second: a plain integer or a string with a unit.
pub fn rate(key: &str, v: &Value<'_>) -> Result<u64, Fail> {
    match v.get_ref() {
        DeValue::Integer(_) => {
            let like = "a rate in bits per second (0 = unlimited) like 64000 or \"64kbit\"";
            integer(key, v, 0..=i128::from(u64::MAX), like).map(|n| n as u64)
        }
        DeValue::String(s) => units::rate_bps(s).map_err(|m| Fail::new(v.span(), format!("`{key}`: {m}"))),
        other => fail!(
            v.span(),
            "`{key}`: expected a rate in bits per second like \"64kbit\" or 64000, found {}",
            describe(other)
        ),
    }
}

/// One of `choices`.
pub fn choice<'c>(key: &str, v: &Value<'_>, choices: &[&'c str]) -> Result<&'c str, Fail> {
    let expected =
        format!("one of {}", choices.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", "));
    let s = string(key, v, &expected)?;
    match choices.iter().find(|c| **c == s) {
        Some(c) => Ok(c),
        None => {
            let hint = closest(s, choices).map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default();
            fail!(v.span(), "`{key}`: expected {expected}, found {s:?}{hint}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        let keys = ["loss", "delay", "jitter", "reorder_hold", "duplicate"];
        assert_eq!(closest("lsos", &keys), Some("loss"));
        assert_eq!(closest("dealy", &keys), Some("delay"));
        assert_eq!(closest("reorder_hld", &keys), Some("reorder_hold"));
        assert_eq!(closest("Delay", &keys), Some("delay"));
        assert_eq!(closest("banana", &keys), None);
        assert_eq!(closest("x", &keys), None);
    }
}
