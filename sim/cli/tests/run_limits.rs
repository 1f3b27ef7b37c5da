//! `udplab run` on valid files that ask for more than a machine has: refused before the run with
//! the estimate and the flag that allows it, or stopped by `--timeout` and marked INCOMPLETE.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn udplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_udplab")).args(args).output().expect("udplab runs")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The file the hardening issue measured: it reached 2.5 GB in 30 s and then aborted.
const RETRANSMIT_STORM: &str = r#"
duration = "60s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 1000000
interval = "0s"
reliable = { window = 1024, rto = "1us" }
[[node]]
name = "board"
role = "server"
port = 3333
reliable = true
[[link]]
between = ["laptop", "board"]
loss = "99%"
"#;

#[test]
fn a_run_past_the_event_limit_is_refused_with_the_estimate_and_the_flag() {
    let path = temp_file("storm.toml", RETRANSMIT_STORM);
    let out = udplab(&["run", path.to_str().unwrap(), "--summary"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("could record up to") && stderr.contains("--max-events"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is printed before the refusal");

    // The flag's value is what the message names; a lower one refuses, the estimate allows.
    let estimate: u64 = stderr
        .split("--max-events ")
        .nth(1)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number after --max-events: {stderr}"));
    let small = temp_file(
        "small.toml",
        "duration = \"1s\"\n[[node]]\nname = \"a\"\nrole = \"client\"\nserver = \"b\"\ncount = 10\n\
         [[node]]\nname = \"b\"\nrole = \"server\"\nport = 3333\n",
    );
    let out = udplab(&["run", small.to_str().unwrap(), "--summary", "--max-events", "10"]);
    assert_eq!(out.status.code(), Some(2), "10 echoes need 80 events: {}", text(&out.stderr));
    let out = udplab(&["run", small.to_str().unwrap(), "--summary", "--max-events", "80"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(estimate > 4_000_000, "{estimate}");
}

#[test]
fn a_run_stopped_by_the_timeout_is_incomplete_and_says_where_it_stopped() {
    // Eight million echoes: a minute or more of work on any machine, stopped after one second.
    let mut file =
        String::from("duration = \"2000s\"\n[[node]]\nname = \"board\"\nrole = \"server\"\nport = 3333\n");
    for i in 0..8 {
        file += &format!(
            "[[node]]\nname = \"c{i}\"\nrole = \"client\"\nserver = \"board\"\ncount = 1000000\ninterval = \"1ms\"\n"
        );
    }
    file += "[expect]\nall_delivered = true\n";
    let path = temp_file("long.toml", &file);
    let html = Path::new(env!("CARGO_TARGET_TMPDIR")).join("long.html");
    let _ = std::fs::remove_file(&html);
    let out = udplab(&[
        "run",
        path.to_str().unwrap(),
        "--summary",
        "--timeout",
        "1",
        "--max-events",
        "100000000",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("stopped by the wall-clock limit (1 s) at virtual time"), "{stderr}");
    assert!(!stderr.contains("expectation failed"), "an incomplete run is not judged: {stderr}");
    assert!(text(&out.stdout).contains("INCOMPLETE"), "{}", text(&out.stdout));
    assert!(std::fs::read_to_string(&html).unwrap().contains("INCOMPLETE"));
}

#[test]
fn a_sweep_with_a_grid_point_past_the_event_limit_is_refused_before_any_run() {
    let path = temp_file(
        "sweep-limit.toml",
        "duration = \"1s\"\n[[node]]\nname = \"a\"\nrole = \"client\"\nserver = \"b\"\ncount = 10\ninterval = \"1ms\"\n\
         [[node]]\nname = \"b\"\nrole = \"server\"\nport = 3333\n",
    );
    let csv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-limit.csv");
    let _ = std::fs::remove_file(&csv);
    let args = ["sweep", path.to_str().unwrap(), "--vary", "count=10,900", "--csv", csv.to_str().unwrap()];
    let out = udplab(&[&args[..], &["--max-events", "1000"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("count=900") && stderr.contains("--max-events 7200"), "{stderr}");
    assert!(!csv.exists(), "nothing ran, nothing was written");
    let out = udplab(&[&args[..], &["--max-events", "7200"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(csv.exists());
}
