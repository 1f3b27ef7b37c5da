//! The limits as a user meets them through `udplab`: input that is too large (a device, a FIFO,
//! a huge file) and seeds outside the range a file can hold are refused with exit status 2 and a
//! message that says why, instead of a hang or a silent wrap; valid files that ask for more than
//! a machine has are refused before the run with the estimate and the flag that allows it, or
//! stopped by `--timeout` and marked INCOMPLETE.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Exit status of `udplab` for bad input.
const BAD_INPUT: i32 = 2;

/// Runs `udplab` with `args`, reading its output as it comes (a run that prints its timeline
/// must not block on a full pipe); a child still running after a minute has hung (the bug these
/// tests guard against), so it is killed and the test fails rather than waiting forever.
fn udplab(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("udplab runs");
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("udplab's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let out = finished.recv().expect("the waiting thread").expect("udplab's output");
            panic!(
                "udplab {args:?} still running after 60 s; stderr so far:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `contents` as `NAME.toml` in a scratch folder of its own.
fn in_scratch(name: &str, contents: &str) -> PathBuf {
    let path = scratch(name).join(format!("{name}.toml"));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Exit status 2, and stderr says the file is too large and names it.
fn assert_too_large(out: &Output, path: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(BAD_INPUT), "{stderr}");
    assert!(
        stderr.starts_with("error: the scenario file is larger than 1 MiB (the limit is 1048576 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("--> {path}\n")), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is run");
}

#[test]
fn dev_zero_is_refused_as_too_large() {
    assert_too_large(&udplab(&["run", "/dev/zero"]), "/dev/zero");
}

#[test]
fn a_huge_sparse_file_is_refused_as_too_large() {
    let path = scratch("limits-sparse").join("huge.toml");
    std::fs::File::create(&path).unwrap().set_len(2 << 30).unwrap();
    let shown = path.to_str().unwrap();
    assert_too_large(&udplab(&["run", shown]), shown);
}

#[test]
fn a_fifo_fed_endlessly_is_refused_as_too_large() {
    let path = scratch("limits-fifo").join("endless.toml");
    let made = Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
    // Feeds the FIFO until udplab closes it (the write then fails: SIGPIPE is ignored in Rust
    // programs). Opening blocks until udplab opens the other end; if udplab never does, the
    // thread stays blocked and ends with the test process.
    let feeder = path.clone();
    std::thread::spawn(move || {
        let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&feeder) else {
            return;
        };
        let line = format!("# {}\n", "x".repeat(1000));
        while fifo.write_all(line.as_bytes()).is_ok() {}
    });
    let shown = path.to_str().unwrap();
    assert_too_large(&udplab(&["run", shown]), shown);
}

#[test]
fn a_seed_beyond_what_a_file_can_hold_is_refused() {
    let lesson = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/01-perfect-link.toml");
    let lesson = lesson.to_str().unwrap();
    let largest = udplab(&["run", "--summary", "--seed", "9223372036854775807", lesson]);
    assert_eq!(largest.status.code(), Some(0), "{}", String::from_utf8_lossy(&largest.stderr));
    assert!(String::from_utf8_lossy(&largest.stdout).contains("seed 9223372036854775807"));

    let out = udplab(&["run", "--seed", "9223372036854775808", lesson]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(BAD_INPUT), "{stderr}");
    assert!(stderr.contains("9223372036854775808"), "{stderr}");
    assert!(stderr.contains("0..=9223372036854775807"), "{stderr}");
    assert!(out.stdout.is_empty());
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
    let path = in_scratch("storm", RETRANSMIT_STORM);
    let out = udplab(&["run", path.to_str().unwrap(), "--summary"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could record up to") && stderr.contains("--max-events"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is printed before the refusal");

    // The flag's value is what the message names; a lower one refuses, the estimate allows.
    let estimate: u64 = stderr
        .split("--max-events ")
        .nth(1)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number after --max-events: {stderr}"));
    let small = in_scratch(
        "small",
        "duration = \"1s\"\n[[node]]\nname = \"a\"\nrole = \"client\"\nserver = \"b\"\ncount = 10\n\
         [[node]]\nname = \"b\"\nrole = \"server\"\nport = 3333\n",
    );
    let out = udplab(&["run", small.to_str().unwrap(), "--summary", "--max-events", "10"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "10 echoes need 80 events: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = udplab(&["run", small.to_str().unwrap(), "--summary", "--max-events", "80"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
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
    let path = in_scratch("long", &file);
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
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopped by the wall-clock limit (1 s) at virtual time"), "{stderr}");
    assert!(!stderr.contains("expectation failed"), "an incomplete run is not judged: {stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("INCOMPLETE"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("INCOMPLETE"));

    // The same without files: printed as it runs (nothing kept), stopped and marked the same way.
    for how in [&["--summary"][..], &[]] {
        let args = [&["run", path.to_str().unwrap(), "--timeout", "1", "--max-events", "100000000"][..], how]
            .concat();
        let out = udplab(&args);
        assert_eq!(out.status.code(), Some(6), "{how:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("INCOMPLETE: stopped by the wall-clock limit (1 s)"), "{how:?}");
        assert!(stdout.lines().last().is_some_and(|l| l.starts_with("trace digest ")), "{how:?}");
    }
}

#[test]
fn a_sweep_with_a_grid_point_past_the_event_limit_is_refused_before_any_run() {
    let path = in_scratch(
        "sweep-limit",
        "duration = \"1s\"\n[[node]]\nname = \"a\"\nrole = \"client\"\nserver = \"b\"\ncount = 10\ninterval = \"1ms\"\n\
         [[node]]\nname = \"b\"\nrole = \"server\"\nport = 3333\n",
    );
    let csv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-limit.csv");
    let _ = std::fs::remove_file(&csv);
    let args = ["sweep", path.to_str().unwrap(), "--vary", "count=10,900", "--csv", csv.to_str().unwrap()];
    let out = udplab(&[&args[..], &["--max-events", "1000"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("count=900") && stderr.contains("--max-events 7200"), "{stderr}");
    assert!(!csv.exists(), "nothing ran, nothing was written");
    let out = udplab(&[&args[..], &["--max-events", "7200"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(csv.exists());
}
