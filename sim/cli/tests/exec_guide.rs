//! The lessons guide's section on students' own programs (docs/lessons.md, lesson 10): every
//! `udplab tap --exec` command in it runs, and every line it quotes from a run is in that run's
//! output. Its own test binary, so that no loaded test runs beside it: the quoted runs are what a
//! student sees on a quiet laptop. Needs root and /dev/net/tun; skipped loudly without them, a
//! failure under CI.

mod not_run;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (command, lines quoted after it) for each `sudo target/release/udplab tap` command of the
/// section, in order.
fn commands(section: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut fence: Option<String> = None;
    for line in section.lines() {
        match (&fence, line.strip_prefix("```")) {
            (None, Some(lang)) => fence = Some(lang.to_string()),
            (Some(_), Some(_)) => fence = None,
            (Some(lang), None) if lang == "sh" && line.starts_with("sudo target/release/udplab tap ") => {
                out.push((line.to_string(), Vec::new()));
            }
            (Some(lang), None) if lang == "text" && !line.trim().is_empty() => {
                out.last_mut().expect("a quote follows a command").1.push(line.trim().to_string());
            }
            _ => {}
        }
    }
    out
}

/// Whether `quoted` is one of `lines`; a quote ending in `...` stands for any line it begins.
fn shown(quoted: &str, lines: &[&str]) -> bool {
    match quoted.strip_suffix("...") {
        Some(start) => lines.iter().any(|l| l.starts_with(start.trim_end())),
        None => lines.contains(&quoted),
    }
}

#[test]
fn every_exec_command_in_the_guide_runs_and_shows_what_the_guide_quotes() {
    let guide = std::fs::read_to_string(root().join("docs/lessons.md")).unwrap();
    let start = guide.find("## 10. Your own programs").expect("the section");
    let end = start + guide[start..].find("\n## Keeping").expect("the next section");
    let commands = commands(&guide[start..end]);
    assert!(commands.len() >= 6, "the section's commands: {commands:?}");
    for (command, quotes) in &commands {
        assert!(!quotes.is_empty(), "`{command}` quotes what it shows");
        // As a student types it, but as root already and with this build's binary.
        let run = command.strip_prefix("sudo ").unwrap().replacen(
            "target/release/udplab",
            env!("CARGO_BIN_EXE_udplab"),
            1,
        );
        let out = Command::new("sh")
            .args(["-c", &run])
            .current_dir(root())
            // As root: the guide's programs read the checkout, which the user behind a `sudo`
            // that started this test may not be able to enter.
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(Stdio::null())
            .output()
            .expect("sh runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        if not_run::tap_not_run(out.status.code(), &stderr, "the guide's --exec commands") {
            return;
        }
        assert_eq!(out.status.code(), Some(0), "`{command}`\nstdout:\n{stdout}\nstderr:\n{stderr}");
        let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).map(str::trim).collect();
        for q in quotes {
            assert!(
                shown(q, &lines),
                "`{command}` does not show `{q}`\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
        }
    }
}

#[test]
fn a_quote_matches_a_whole_line_or_the_start_that_its_dots_leave() {
    let lines = ["10 sent, 9 replies", "replies    16 of 20 (80.0%), duplicate 0, round trip 10.1ms"];
    assert!(shown("10 sent, 9 replies", &lines));
    assert!(!shown("10 sent, 8 replies", &lines));
    assert!(!shown("10 sent", &lines), "a part of a line is not the line");
    assert!(shown("replies    16 of 20 (80.0%), duplicate 0, ...", &lines));
    assert!(!shown("replies    15 of 20 ...", &lines));
}
