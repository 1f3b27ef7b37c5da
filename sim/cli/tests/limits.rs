//! The limits of the scenario front end as a user meets them through `udplab`: input that is
//! too large (a device, a FIFO, a huge file) and seeds outside the range a file can hold are
//! refused with exit status 2 and a message that says why, instead of a hang or a silent wrap.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exit status of `udplab` for bad input.
const BAD_INPUT: i32 = 2;

/// Runs `udplab` with `args`; a child still running after a minute has hung (the bug these tests
/// guard against), so it is killed and the test fails rather than waiting forever.
fn udplab(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("udplab runs");
    let watchdog = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("waiting for udplab").is_some() {
            return child.wait_with_output().expect("udplab's output");
        }
        if Instant::now() > watchdog {
            let _ = child.kill();
            let out = child.wait_with_output().expect("udplab's output");
            panic!(
                "udplab {args:?} still running after 60 s; stderr so far:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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
