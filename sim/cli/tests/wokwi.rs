//! `udplab wokwi` without Wokwi: a stand-in wokwi-cli replays a serial log that the real core
//! code printed (through the same serial protocol the ESP32 uses), so everything but the chip
//! is exercised: the command line, the automation file, process handling and the comparison.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, script, tmp};
use udplab_cli::wokwi::automation::{KNOWN_FLAGS, KNOWN_STEPS};

/// A wokwi-cli stand-in: records its arguments, copies $FAKE_LOG to the --serial-log-file path
/// and exits with $FAKE_EXIT (after sleeping $FAKE_SLEEP seconds, if set).
fn fake_cli(dir: &Path) -> PathBuf {
    script(
        &dir.join("wokwi-cli"),
        r#"#!/bin/sh
printf '%s\n' "$@" > "$FAKE_ARGS"
while [ $# -gt 0 ]; do
  if [ "$1" = "--serial-log-file" ]; then cp "$FAKE_LOG" "$2"; fi
  if [ "$1" = "--scenario" ]; then cp "$2" "$FAKE_YAML"; fi
  shift
done
if [ -n "$FAKE_SLEEP" ]; then exec sleep "$FAKE_SLEEP"; fi
exit "${FAKE_EXIT:-0}"
"#,
    )
}

/// The serial log of a chip that ran `lesson` with `seed` but claims `claimed_seed`.
fn chip_log(lesson: &str, seed: u64, claimed_seed: u64) -> String {
    common::boot_log() + &common::block(lesson, seed, claimed_seed)
}

struct Run {
    out: Output,
    args: Vec<String>,
    yaml: String,
}

fn wokwi(case: &str, log: &str, env: &[(&str, &str)], extra: &[&str]) -> Run {
    let dir = tmp(case);
    let cli = fake_cli(&dir);
    std::fs::write(dir.join("log"), log).unwrap();
    let lesson = root().join("scenarios/01-perfect-link.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args([
            "wokwi",
            lesson.to_str().unwrap(),
            "--elf",
            "/dev/null",
            "--project",
            root().to_str().unwrap(),
        ])
        .args(extra)
        .env("WOKWI_CLI", &cli)
        .env("WOKWI_CLI_TOKEN", "test-token")
        .env("FAKE_LOG", dir.join("log"))
        .env("FAKE_ARGS", dir.join("args"))
        .env("FAKE_YAML", dir.join("yaml"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let args =
        std::fs::read_to_string(dir.join("args")).unwrap_or_default().lines().map(String::from).collect();
    let yaml = std::fs::read_to_string(dir.join("yaml")).unwrap_or_default();
    Run { out, args, yaml }
}

fn stderr(r: &Run) -> String {
    String::from_utf8_lossy(&r.out.stderr).into_owned()
}

#[test]
fn without_wokwi_cli_it_says_not_run_and_exits_four() {
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(["wokwi", root().join("scenarios/01-perfect-link.toml").to_str().unwrap()])
        .env_remove("WOKWI_CLI")
        .env("PATH", "/nonexistent")
        .env("WOKWI_CLI_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOT RUN") && err.contains("wokwi-cli was not found"), "{err}");
}

#[test]
fn without_a_token_it_says_not_run_and_exits_four() {
    let dir = tmp("no-token");
    let cli = fake_cli(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(["wokwi", root().join("scenarios/01-perfect-link.toml").to_str().unwrap()])
        .env("WOKWI_CLI", &cli)
        .env_remove("WOKWI_CLI_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WOKWI_CLI_TOKEN is not set"), "{stderr}");
    assert!(stderr.contains("https://wokwi.com/dashboard/ci"), "where to get a token: {stderr}");
}

#[test]
fn a_matching_chip_trace_passes() {
    let r = wokwi("pass", &chip_log("01-perfect-link", 1, 1), &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    assert!(String::from_utf8_lossy(&r.out.stdout).contains("PASS"));
}

#[test]
fn the_command_line_and_automation_use_only_what_wokwi_cli_accepts() {
    let r = wokwi("flags", &chip_log("01-perfect-link", 1, 1), &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    for a in r.args.iter().filter(|a| a.starts_with('-')) {
        assert!(KNOWN_FLAGS.contains(&a.as_str()), "unknown wokwi-cli flag {a}");
    }
    for flag in ["--elf", "--diagram-file", "--scenario", "--serial-log-file", "--timeout", "--fail-text"] {
        assert!(r.args.iter().any(|a| a == flag), "{flag} missing from {:?}", r.args);
    }
    check_automation(&r.yaml);
    assert!(r.yaml.contains("run 01-perfect-link 1\\n"), "{}", r.yaml);
}

/// Parses automation YAML and checks its shape and step names.
fn check_automation(text: &str) {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).expect("valid YAML");
    let doc = &docs[0];
    assert!(doc["name"].as_str().is_some(), "automation needs a name");
    assert_eq!(doc["version"].as_i64(), Some(1));
    let steps = doc["steps"].as_vec().expect("steps list");
    assert!(!steps.is_empty());
    for step in steps {
        let map = step.as_hash().expect("each step is a map");
        for key in map.keys() {
            let key = key.as_str().unwrap();
            assert!(KNOWN_STEPS.contains(&key), "unknown step {key}");
        }
    }
}

#[test]
fn the_committed_automation_files_use_only_known_steps() {
    let dir = root().join("wokwi");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect()
        })
        .unwrap_or_default();
    assert!(!files.is_empty(), "no automation files in {}", dir.display());
    for f in files {
        check_automation(&std::fs::read_to_string(&f).unwrap());
    }
}

#[test]
fn a_different_trace_is_a_mismatch_reported_line_by_line() {
    // The chip says seed 1 but its dice fell as for seed 2: whole and self-consistent, yet wrong.
    let r = wokwi(
        "mismatch",
        &chip_log("02-random-loss", 2, 1).replace("02-random-loss", "01-perfect-link"),
        &[],
        &["--seed", "1"],
    );
    assert_eq!(r.out.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("MISMATCH") && err.contains("host:") && err.contains("chip:"), "{err}");
}

#[test]
fn a_truncated_log_is_reported_as_such() {
    let log = chip_log("01-perfect-link", 1, 1);
    let cut = &log[..log.len() / 2];
    let r = wokwi("truncated", cut, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5));
    assert!(stderr(&r).contains("truncated"), "{}", stderr(&r));
}

#[test]
fn a_garbled_line_is_caught_by_the_digest() {
    let log = chip_log("01-perfect-link", 1, 1).replacen("arrived after", "arrived aftxr", 1);
    let r = wokwi("garbled", &log, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5));
    assert!(stderr(&r).contains("garbled"), "{}", stderr(&r));
}

#[test]
fn a_panic_on_the_chip_fails_the_run() {
    let log = chip_log("01-perfect-link", 1, 1).replace("@@ end", "====== PANIC ======\r\n@@ end");
    let r = wokwi("panic", &log, &[("FAKE_EXIT", "1")], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5));
    assert!(stderr(&r).contains("panicked"), "{}", stderr(&r));
}

#[test]
fn a_simulation_timeout_fails_the_run() {
    let log = chip_log("01-perfect-link", 1, 1);
    let r = wokwi("timeout", &log[..log.len() / 3], &[("FAKE_EXIT", "42")], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5));
    assert!(stderr(&r).contains("simulated time ran out"), "{}", stderr(&r));
}

#[test]
fn a_hanging_wokwi_cli_is_killed_at_the_wall_clock_limit() {
    let r = wokwi("hang", "", &[("FAKE_SLEEP", "30")], &["--wall-timeout", "1"]);
    assert_eq!(r.out.status.code(), Some(5));
    assert!(stderr(&r).contains("killed after 1 s"), "{}", stderr(&r));
}

/// The workflow installs one pinned wokwi-cli release, not whatever is latest, and the comment
/// beside the pin names every flag udplab may pass: adding a flag to `KNOWN_FLAGS` means
/// checking it against the pinned release's source, and saying so there.
#[test]
fn the_workflow_pins_a_wokwi_cli_release_that_takes_every_flag_udplab_passes() {
    let ci = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).unwrap();
    let pin = ci
        .lines()
        .find_map(|l| l.trim().strip_prefix("WOKWI_CLI_VERSION: "))
        .expect("WOKWI_CLI_VERSION set in the workflow")
        .trim_matches('"');
    let parts: Vec<&str> = pin.split('.').collect();
    assert!(parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()), "a release number: {pin}");
    assert!(ci.contains(r#"install.sh | sh -s -- "$WOKWI_CLI_VERSION""#), "the installer is given the pin");
    assert!(!ci.contains("install.sh | sh\n"), "no unpinned install left");
    let note: String = ci
        .lines()
        .skip_while(|l| !l.contains(&format!("v{pin}")))
        .take_while(|l| l.trim_start().starts_with('#'))
        .collect();
    assert!(!note.is_empty(), "a comment names v{pin}");
    for flag in KNOWN_FLAGS.iter().filter(|f| f.starts_with("--")) {
        assert!(note.contains(flag), "the pin's comment does not say v{pin} takes {flag}");
    }
}
