//! `udplab tap` as a user meets it when a run does not finish: Ctrl-C, SIGTERM. Needs root
//! and /dev/net/tun; skipped loudly without them, a failure under CI.

mod not_run;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lesson(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(format!("{name}.toml"))
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `udplab tap` on lesson 06 (a run of several seconds), waits until its timeline has
/// begun, sends `signal`, and returns (exit status, stdout, stderr, html file).
fn interrupted_run(signal: &str, dir: &Path) -> Option<(Option<i32>, String, String, PathBuf)> {
    let html = dir.join("run.html");
    let mut child = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(["tap", lesson("06-reliable-heavy-loss").to_str().unwrap(), "--html", html.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("udplab starts");
    // Long enough to be past the setup and well before lesson 06 ends (3 s and more).
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_500) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
    let out = child.wait_with_output().expect("udplab ends");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if not_run::tap_not_run(out.status.code(), &stderr, "interrupted TAP run") {
        return None;
    }
    Some((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr, html))
}

fn assert_incomplete(signal: &str, why: &str) {
    let dir = tmp(&format!("tap-{}", signal.trim_start_matches('-')));
    let Some((code, stdout, stderr, html)) = interrupted_run(signal, &dir) else { return };
    assert_eq!(code, Some(6), "an unfinished run exits 6\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("INCOMPLETE: {why}")), "{stdout}");
    assert!(!stdout.contains("expectations: all"), "nothing is judged: {stdout}");
    assert!(stdout.contains("summary: seed 6"), "the summary of what happened is printed: {stdout}");
    let page = std::fs::read_to_string(&html).expect("the requested file is written for what happened");
    assert!(page.contains("INCOMPLETE"), "the report says so");
}

#[test]
fn ctrl_c_mid_run_is_incomplete_exits_6_and_still_writes_the_files() {
    assert_incomplete("-INT", "interrupted (SIGINT)");
}

#[test]
fn sigterm_mid_run_is_incomplete_too() {
    assert_incomplete("-TERM", "terminated (SIGTERM)");
}

/// /dev/net/tun that is not the TUN/TAP device (here /dev/null bound over it, in a private
/// mount namespace) is the machine's problem, reported as such: exit 4, not "bad input".
#[test]
fn a_wrong_dev_net_tun_is_an_environment_problem() {
    let udplab = env!("CARGO_BIN_EXE_udplab");
    let script = format!(
        "mount --bind /dev/null /dev/net/tun && exec {udplab} tap {}",
        lesson("01-perfect-link").display()
    );
    let out = Command::new("unshare").args(["--mount", "sh", "-c", &script]).output().expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("unshare: ") || stderr.contains("mount: ") {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "must run in CI: {stderr}");
        eprintln!("\n*** SKIPPED wrong /dev/net/tun: {} ***\n", stderr.trim());
        return;
    }
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("/dev/net/tun"), "{stderr}");
}

/// Runs `udplab tap ARGS`; `None` (after saying so) where a TAP cannot be made here.
fn tap_run(args: &[&str]) -> Option<std::process::Output> {
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .arg("tap")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("udplab runs");
    if not_run::tap_not_run(out.status.code(), &String::from_utf8_lossy(&out.stderr), "TAP run") {
        return None;
    }
    Some(out)
}

/// A TAP run's `--json` carries what the runner counted beside the trace (`device`); a run in
/// memory has no device and no such key.
#[test]
fn a_tap_run_s_json_carries_the_device_counts() {
    let lesson = lesson("02-random-loss");
    let Some(out) = tap_run(&[lesson.to_str().unwrap(), "--json"]) else { return };
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let device = &j["device"];
    for k in ["kernel_dropped", "unread_at_end", "stack_overflow", "rx_errors", "tx_errors", "link_restored"]
    {
        assert!(device[k].is_u64(), "device.{k} in {device}");
    }
    // Lesson 2 sends 20 datagrams each way, far under the TAP queue's 1 000 frames.
    assert_eq!(device["kernel_dropped"], 0, "{device}");
    assert_eq!(device["unread_at_end"], 0, "{device}");
    let memory =
        Command::new(env!("CARGO_BIN_EXE_udplab")).arg("run").arg(&lesson).arg("--json").output().unwrap();
    let m: serde_json::Value = serde_json::from_slice(&memory.stdout).expect("JSON on stdout");
    assert!(m.get("device").is_none(), "an in-memory run has no device");
}

#[test]
fn a_run_past_its_timeout_is_incomplete_and_every_file_says_so() {
    let dir = tmp("tap-timeout");
    let (svg, mmd, pcap) = (dir.join("a.svg"), dir.join("a.mmd"), dir.join("a.pcapng"));
    let lesson = lesson("06-reliable-heavy-loss");
    let Some(out) = tap_run(&[
        lesson.to_str().unwrap(),
        "--timeout",
        "1",
        "--svg",
        svg.to_str().unwrap(),
        "--mermaid",
        mmd.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("INCOMPLETE: the wall-clock limit (--timeout) ran out"), "{stdout}");
    let why = "INCOMPLETE: the wall-clock limit";
    assert!(std::fs::read_to_string(&svg).unwrap().contains(why), "the SVG says so");
    assert!(std::fs::read_to_string(&mmd).unwrap().contains(&format!("%% {why}")), "the Mermaid says so");
    let capture = std::fs::read(&pcap).unwrap();
    let needle = b"INCOMPLETE run (the wall-clock limit";
    assert!(capture.windows(needle.len()).any(|w| w == needle), "the capture's section comment says so");
}

/// With the firmware as a client, a hold tells the person where to listen (the scenario's
/// server address and port, on the kernel side) and waits for Enter before the client starts.
#[test]
fn a_held_firmware_client_says_where_to_listen() {
    let Some(out) =
        tap_run(&[lesson("01-perfect-link").to_str().unwrap(), "--firmware", "laptop", "--hold", "1"])
    else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("firmware `laptop` is a client: it will send 10 datagrams to 192.0.2.2:3333"),
        "{stderr}"
    );
    assert!(stderr.contains("nc -u -l -s 192.0.2.2 -p 3333"), "{stderr}");
    assert!(stderr.contains("press Enter here to start the firmware client"), "{stderr}");
}
