//! [`ScenarioError`]: what went wrong, where, and the source line to show it on.

use std::fmt;
use std::ops::Range;

use unicode_width::UnicodeWidthStr;

/// An error in a scenario file, or in reading it. Displays like a compiler error:
///
/// ```text
/// error: unknown key `lsos` in [[node]]; expected one of `name`, `addr`, ...
///  --> scenarios/bad.toml:9:1
///   |
/// 9 | lsos = 0.1
///   | ^^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, as given to [`parse`](super::parse) or [`load`](super::load).
    pub path: String,
    /// 1-based line of the offending key or value; `None` when the file could not be read.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending key or value.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line the error points into, without its line ending.
    pub source_line: Option<String>,
    /// How many characters of `source_line`, from `column`, to underline (at least 1). The
    /// caret line is drawn in terminal columns, not characters, so it lines up under wide and
    /// combining characters.
    pub width: usize,
}

impl ScenarioError {
    /// An error at the byte range `span` of `source`.
    pub(crate) fn at(path: &str, source: &str, span: Range<usize>, message: String) -> ScenarioError {
        let start = floor_char_boundary(source, span.start);
        let end = floor_char_boundary(source, span.end.max(start));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
        let line = source[..line_start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let text = source[line_start..line_end].strip_suffix('\r').unwrap_or(&source[line_start..line_end]);
        let underlined = source[start..end.min(line_end)].chars().count();
        ScenarioError {
            path: path.to_owned(),
            line: Some(line),
            column: Some(column),
            message,
            source_line: Some(text.to_owned()),
            width: underlined.max(1),
        }
    }

    /// An error about the file as a whole (it could not be read).
    pub(crate) fn file(path: &str, message: String) -> ScenarioError {
        ScenarioError {
            path: path.to_owned(),
            line: None,
            column: None,
            message,
            source_line: None,
            width: 1,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The source line as the error shows it: tabs as four spaces, other control characters as a
/// replacement character, so that what is printed has a known width.
fn shown<'t>(chars: impl Iterator<Item = char> + 't) -> impl Iterator<Item = char> + 't {
    chars.flat_map(|c| {
        let (c, n) = match c {
            '\t' => (' ', 4),
            c if c.is_control() => ('\u{fffd}', 1),
            c => (c, 1),
        };
        std::iter::repeat_n(c, n)
    })
}

/// Terminal columns taken by `chars` as shown: East Asian wide characters take two, combining
/// and zero-width characters none, whatever their count in characters. Measured on the text
/// as a whole, not per character, so sequences (an emoji with a variation selector) count as a
/// terminal draws them.
fn columns(chars: impl Iterator<Item = char>) -> usize {
    shown(chars).collect::<String>().width()
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let (Some(line), Some(column)) = (self.line, self.column) else {
            return writeln!(f, " --> {}", self.path);
        };
        let pad = " ".repeat(line.to_string().len());
        writeln!(f, "{pad}--> {}:{line}:{column}", self.path)?;
        let Some(text) = &self.source_line else {
            return Ok(());
        };
        let shown_line: String = shown(text.chars()).collect();
        let before = columns(text.chars().take(column.saturating_sub(1)));
        let through = columns(text.chars().take(column.saturating_sub(1) + self.width));
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line} | {shown_line}")?;
        writeln!(f, "{pad} | {}{}", " ".repeat(before), "^".repeat(through.saturating_sub(before).max(1)))
    }
}

impl std::error::Error for ScenarioError {}

/// An error found while reading the document: where (a byte range of the source) and what.
/// Turned into a [`ScenarioError`] once, at the end, with the path and the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub span: Range<usize>,
    pub message: String,
}

impl Fail {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Fail {
        Fail { span, message: message.into() }
    }
}

/// `Err(Fail)` at `span` with a formatted message.
macro_rules! fail {
    ($span:expr, $($arg:tt)*) => {
        Err($crate::error::Fail::new($span, format!($($arg)*)))
    };
}
pub(crate) use fail;
