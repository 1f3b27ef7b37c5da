//! Fitting the lines around the ladder (the run's header, the summary) to a terminal's width.
//!
//! The ladder wraps its own notes under their rows; these lines are prose and tables, so a long
//! one breaks at the last space that fits and goes on indented four columns past where it
//! started. The first piece keeps its spacing, so a table row's columns stay where they were.

/// `text` with every line wider than `width` characters broken at spaces.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        fit_line(&mut out, body, width);
        out.push_str(end);
    }
    out
}

/// The shortest room a continuation gets, however deep the line's indent.
const MIN_ROOM: usize = 20;

fn fit_line(out: &mut String, line: &str, width: usize) {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let cont = (indent + 4).min(width.saturating_sub(MIN_ROOM));
    let mut rest = line;
    let mut room = width;
    let mut first = true;
    loop {
        if !first {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', cont));
        }
        if rest.chars().count() <= room {
            out.push_str(rest);
            return;
        }
        let (piece, after) = split_at_room(rest, room, if first { indent } else { 0 });
        out.push_str(piece.trim_end());
        rest = after.trim_start();
        if rest.is_empty() {
            return;
        }
        first = false;
        room = width.saturating_sub(cont).max(1);
    }
}

/// `s` split at its last space within `room` characters (after the first `skip` bytes, the
/// indent), or hard at `room` when no space is there.
fn split_at_room(s: &str, room: usize, skip: usize) -> (&str, &str) {
    let limit = s.char_indices().nth(room).map_or(s.len(), |(i, _)| i);
    match s[..limit].rfind(' ').filter(|&i| i > skip) {
        Some(i) => s.split_at(i),
        None => s.split_at(limit),
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn short_lines_are_untouched() {
        let text = "summary: seed 6\n  laptop -> board\n";
        assert_eq!(fit(text, 80), text);
    }

    #[test]
    fn a_long_line_breaks_at_spaces_and_goes_on_indented() {
        let line =
            "    messages   sent 20 (+12 retransmissions), delivered 20 (100.0%), lost 0, duplicates 0";
        let got = fit(line, 40);
        for l in got.lines() {
            assert!(l.chars().count() <= 40, "{l:?}");
        }
        let lines: Vec<&str> = got.lines().collect();
        assert!(lines[0].starts_with("    messages   sent"), "the first piece keeps its spacing: {got}");
        assert!(lines[1..].iter().all(|l| l.starts_with("        ") && !l.starts_with("         ")));
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&got), words(line), "no word lost or split");
    }

    #[test]
    fn a_word_longer_than_the_room_is_cut_rather_than_overflowing() {
        let got = fit(&"x".repeat(50), 20);
        assert!(got.lines().all(|l| l.chars().count() <= 20), "{got}");
        assert_eq!(got.replace([' ', '\n'], ""), "x".repeat(50));
    }

    #[test]
    fn wide_characters_count_once_and_the_text_s_end_is_kept() {
        let got = fit("  ✗ lost ✗ lost ✗ lost ✗ lost", 12);
        assert!(got.lines().all(|l| l.chars().count() <= 12), "{got}");
        assert!(!got.ends_with('\n'));
        assert!(fit("a\n", 12).ends_with('\n'));
    }
}
