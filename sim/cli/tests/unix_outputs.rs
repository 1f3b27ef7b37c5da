//! Where `udplab`'s output goes when the user points it somewhere unusual: a device node, a
//! symlink, `-`, a folder that does not exist, a closed or full stdout or stderr. Each case here
//! was measured broken once (a device node replaced by a file, a panic, a silent exit 0).
#![cfg(unix)]

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UDPLAB: &str = env!("CARGO_BIN_EXE_udplab");

fn lesson() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/01-perfect-link.toml");
    p.to_string_lossy().into_owned()
}

fn udplab(args: &[&str]) -> Output {
    Command::new(UDPLAB).args(args).output().expect("udplab runs")
}

/// Runs `udplab ARGS` under `sh` with `redirect` (such as `>&-`) applied to it.
fn udplab_redirected(args: &[&str], redirect: &str) -> Output {
    let script = format!("exec \"$0\" \"$@\" {redirect}");
    Command::new("sh").arg("-c").arg(script).arg(UDPLAB).args(args).output().expect("sh runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_device_node_is_written_in_place_not_replaced() {
    let out = udplab(&["run", &lesson(), "-q", "--html", "/dev/full"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot write /dev/full") && stderr.contains("No space left"), "{stderr}");
    // Still the device (as root, the old code replaced it with a regular file).
    assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());
}

#[test]
fn html_to_dev_stdout_and_pcap_to_dash_go_to_stdout() {
    let out = udplab(&["run", &lesson(), "-q", "--html", "/dev/stdout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = text(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "{html:.200}");

    let out = udplab(&["run", &lesson(), "-q", "--pcap", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A pcapng file starts with a section header block (type 0x0A0D0D0A).
    assert_eq!(out.stdout.get(..4), Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]));
}

#[test]
fn a_symlink_is_written_through() {
    let dir = temp_dir("symlinked-output");
    std::fs::write(dir.join("ladder.svg"), "old").unwrap();
    std::os::unix::fs::symlink("ladder.svg", dir.join("link.svg")).unwrap();
    let link = dir.join("link.svg");
    let out = udplab(&["run", &lesson(), "-q", "--svg", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    let svg = std::fs::read_to_string(dir.join("ladder.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg:.100}");
}

#[test]
fn a_missing_folder_is_named_and_no_temporary_file_is() {
    let out = udplab(&["run", &lesson(), "-q", "--html", "/nonexistent/dir/x.html"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/dir/x.html") && stderr.contains("does not exist"), "{stderr}");
    assert!(!stderr.contains(".udplab-") && !stderr.contains(".tmp"), "{stderr}");
}

#[test]
fn a_closed_stdout_is_exit_3_unless_nothing_is_printed() {
    let out = udplab_redirected(&["run", &lesson()], ">&-");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("standard output is closed"), "{}", text(&out.stderr));

    let dir = temp_dir("closed-stdout");
    let html = dir.join("r.html");
    let out = udplab_redirected(&["run", &lesson(), "-q", "--html", html.to_str().unwrap()], ">&-");
    assert_eq!(out.status.code(), Some(0), "-q prints nothing: {}", text(&out.stderr));
    assert!(html.is_file());

    // Output thrown away on purpose is not an error.
    let out = udplab_redirected(&["run", &lesson()], ">/dev/null");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_full_stdout_is_exit_3() {
    let out = udplab_redirected(&["run", &lesson()], ">/dev/full");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("No space left"), "{}", text(&out.stderr));
}

#[test]
fn a_message_that_cannot_reach_stderr_is_exit_3_never_a_panic() {
    // Before: `failed printing to stderr`, a panic with status 101.
    let out = udplab_redirected(&["run", "missing.toml"], "2>/dev/full");
    assert_eq!(out.status.code(), Some(3));
    let out = udplab_redirected(&["run", "missing.toml"], "2>&-");
    assert_eq!(out.status.code(), Some(3));
    // A run that has nothing to say on stderr is fine without one.
    let out = udplab_redirected(&["run", &lesson()], "2>&-");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("expectations: all"));
}
