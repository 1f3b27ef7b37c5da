//! [`ScenarioError`]: what went wrong, where, and the source line to show it on.

use std::fmt;
use std::ops::Range;

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
    /// How many characters of `source_line`, from `column`, to underline (at least 1).
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

/// What a terminal shows for one source character: tabs as four spaces, other control
/// characters as a replacement character, so the carets line up.
fn shown(c: char) -> &'static str {
    match c {
        '\t' => "    ",
        c if c.is_control() => "\u{fffd}",
        _ => "",
    }
}

fn push_shown(out: &mut String, c: char) {
    match shown(c) {
        "" => out.push(c),
        s => out.push_str(s),
    }
}

fn shown_width(c: char) -> usize {
    match shown(c) {
        "" => 1,
        s => s.chars().count(),
    }
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
        let mut shown_line = String::with_capacity(text.len());
        text.chars().for_each(|c| push_shown(&mut shown_line, c));
        let before: usize = text.chars().take(column.saturating_sub(1)).map(shown_width).sum();
        let under: usize =
            text.chars().skip(column.saturating_sub(1)).take(self.width).map(shown_width).sum();
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line} | {shown_line}")?;
        writeln!(f, "{pad} | {}{}", " ".repeat(before), "^".repeat(under.max(1)))
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
