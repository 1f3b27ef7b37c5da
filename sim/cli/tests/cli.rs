//! The `udplab` binary as a user meets it: exit codes, error messages, output formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn udplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_udplab")).args(args).output().expect("udplab runs")
}

fn lesson(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let found = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(name))
        .unwrap_or_else(|| panic!("no lesson named *{name}*"));
    found.to_string_lossy().into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const TWO_NODES: &str = r#"
duration = "2s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 10
[[node]]
name = "board"
role = "server"
port = 3333
"#;

#[test]
fn a_lesson_passes_with_exit_status_zero() {
    let out = udplab(&["run", &lesson("perfect-link")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("laptop->board"), "{stdout}");
    assert!(stdout.contains("expectations: all"), "{stdout}");
}

#[test]
fn an_expectation_that_does_not_hold_exits_one_and_says_which() {
    let body = format!(
        "{TWO_NODES}\n[[link]]\nfrom = \"laptop\"\nto = \"board\"\nloss = 1.0\n[expect]\nall_delivered = true\n"
    );
    let path = temp_file("fails.toml", &body);
    let out = udplab(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("expected every message delivered, 10 of 10 were not"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_scenario_exits_two_with_file_line_and_column() {
    let body = TWO_NODES.replace("count = 10", "count = 10\nlsos = 0.1");
    let path = temp_file("bad.toml", &body);
    let out = udplab(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:8:1", path.display())), "{err}");
    assert!(err.contains("lsos"), "{err}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
}

#[test]
fn a_missing_file_exits_two() {
    let out = udplab(&["run", "/nonexistent/udplab.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/udplab.toml"));
}

#[test]
fn json_output_is_the_full_trace_and_summary() {
    let out = udplab(&["run", "--json", &lesson("random-loss")]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let trace = v["trace"].as_array().expect("trace array");
    let offers = trace.iter().filter(|e| e["event"] == "offer").count();
    assert!(offers > 0);
    assert_eq!(
        v["summary"]["links"][0]["offered"].as_u64().unwrap() as usize
            + v["summary"]["links"]
                .as_array()
                .unwrap()
                .iter()
                .skip(1)
                .map(|l| l["offered"].as_u64().unwrap() as usize)
                .sum::<usize>(),
        offers
    );
    assert_eq!(v["passed"], true);
}

#[test]
fn seed_overrides_the_scenario_seed() {
    let l = lesson("random-loss");
    let a = udplab(&["run", "--summary", &l]);
    let b = udplab(&["run", "--summary", "--seed", "999", &l]);
    assert_ne!(text(&a.stdout), text(&b.stdout));
    assert!(text(&b.stdout).contains("seed 999"));
}

#[test]
fn tap_without_privileges_says_what_is_missing_and_exits_four() {
    // As root, drop to `nobody` for this one command; otherwise we already are unprivileged.
    let l = lesson("random-loss");
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let out = if root {
        // `nobody` may not be able to read the checkout (a clone in a 0700 temporary folder):
        // give it a copy of the lesson in the world-readable temporary folder.
        let copy = std::env::temp_dir().join(format!("udplab-tap-nobody-{}.toml", std::process::id()));
        std::fs::copy(&l, &copy).expect("copy the lesson");
        let l = copy.to_string_lossy().into_owned();
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_udplab"),
                "tap",
                &l,
            ])
            .output()
            .expect("setpriv (util-linux) runs");
        let _ = std::fs::remove_file(&l);
        out
    } else {
        udplab(&["tap", &l])
    };
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("run it as root"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

/// README's "What a run shows" quotes a run of lesson 02: every line it quotes (between the
/// `...` cuts) must be a line the run prints now, in the same order.
#[test]
fn the_readme_quotes_a_run_the_code_prints_now() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let section = readme.split("## What a run shows").nth(1).expect("the section exists");
    let block = section.split("```text\n").nth(1).and_then(|b| b.split("```").next()).expect("a text block");
    let run = udplab(&["run", &lesson("02-random-loss")]);
    assert_eq!(run.status.code(), Some(0));
    let out = text(&run.stdout);
    let mut printed = out.lines();
    let mut quoted = 0;
    for line in block.lines().filter(|l| l.trim() != "...") {
        assert!(
            printed.any(|p| p == line),
            "README quotes a line the run does not print (in this order): {line:?}"
        );
        quoted += 1;
    }
    assert!(quoted > 20, "the README quotes a real run ({quoted} lines)");
}

#[test]
fn tap_refuses_hold_with_json_and_unwritable_outputs_before_it_starts() {
    let l = lesson("01-perfect");
    let held = udplab(&["tap", &l, "--hold", "--json"]);
    assert_eq!(held.status.code(), Some(2), "{}", text(&held.stderr));
    assert!(
        text(&held.stderr).contains("--hold prints each datagram's fate as it happens"),
        "{}",
        text(&held.stderr)
    );
    let bad = udplab(&["tap", &l, "--pcap", "/nonexistent-udplab-dir/x.pcapng"]);
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("the folder /nonexistent-udplab-dir does not exist"),
        "{}",
        text(&bad.stderr)
    );
    assert!(text(&bad.stdout).is_empty(), "nothing ran: {}", text(&bad.stdout));
}
