//! `udplab qemu` without an ESP32-C3 QEMU: a stand-in `qemu-system-riscv32` answers
//! `-machine help` like Espressif's builds, and on boot replays serial output that the real core
//! printed at test time (through the serial protocol the ESP32 uses) on its stdout, reading the
//! typed command from its stdin as the emulated UART would. Everything but the chip is
//! exercised: finding the tools, the command lines, typing at the banner, process handling,
//! the wall-clock limit and the comparison.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, script, tmp};

/// The stand-in QEMU. `-machine help` lists esp32c3 unless $FAKE_NO_C3 is set. A boot records
/// the arguments ($FAKE_ARGS) and the process id ($FAKE_PID), prints $FAKE_BOOT, reads one line
/// from the console and records it ($FAKE_TYPED), prints $FAKE_LOG (and 70 MB of `x` when
/// $FAKE_FLOOD is set), then exits with $FAKE_EXIT if set, or else runs on like a board does
/// until it is killed.
fn fake_qemu(dir: &Path) -> PathBuf {
    script(
        &dir.join("qemu-system-riscv32"),
        r#"#!/bin/sh
if [ "$1" = "-machine" ] && [ "$2" = "help" ]; then
  echo "Supported machines are:"
  if [ -z "$FAKE_NO_C3" ]; then echo "esp32c3              Espressif ESP32-C3 machine"; fi
  echo "none                 empty machine (alias of empty)"
  exit 0
fi
printf '%s\n' "$@" > "$FAKE_ARGS"
echo $$ > "$FAKE_PID"
cat "$FAKE_BOOT"
# Only a whole typed line is recorded: when udplab gives up it closes the console before the
# kill lands, and an unchecked `read` at end of input would record an empty line as typed.
if IFS= read -r typed; then printf '%s\n' "$typed" > "$FAKE_TYPED"; fi
cat "$FAKE_LOG"
if [ -n "$FAKE_FLOOD" ]; then head -c 70000000 /dev/zero | tr '\0' x; fi
if [ -n "$FAKE_EXIT" ]; then exit "$FAKE_EXIT"; fi
exec sleep 60
"#,
    )
}

/// A stand-in espflash: records its arguments and environment, writes the image it was asked for.
fn fake_espflash(dir: &Path) -> PathBuf {
    script(
        &dir.join("espflash"),
        r#"#!/bin/sh
printf '%s\n' "$@" > "$FAKE_ESPFLASH_ARGS"
echo "skip update check: $ESPFLASH_SKIP_UPDATE_CHECK" >> "$FAKE_ESPFLASH_ARGS"
for out; do :; done
printf 'merged image' > "$out"
"#,
    )
}

struct Run {
    out: Output,
    dir: PathBuf,
    args: Vec<String>,
    typed: String,
}

fn stderr(r: &Run) -> String {
    String::from_utf8_lossy(&r.out.stderr).into_owned()
}

/// Runs `udplab qemu` on lesson 01 with the stand-in, which prints `boot` and, once a command
/// was typed, `log`. Without --image or --elf in `extra`, it boots an `--image` made here.
fn qemu(case: &str, boot: &str, log: &str, env: &[(&str, &str)], extra: &[&str]) -> Run {
    let dir = tmp(&format!("qemu-{case}"));
    let fake = fake_qemu(&dir);
    std::fs::write(dir.join("boot"), boot).unwrap();
    std::fs::write(dir.join("log"), log).unwrap();
    let image = dir.join("udplab-esp32c3.bin");
    std::fs::write(&image, "a flash image").unwrap();
    let lesson = root().join("scenarios/01-perfect-link.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_udplab"));
    cmd.args(["qemu", lesson.to_str().unwrap()]);
    if !extra.iter().any(|a| *a == "--elf" || *a == "--image") {
        cmd.arg("--image").arg(&image);
    }
    let out = cmd
        .args(extra)
        .env("UDPLAB_QEMU", &fake)
        .env_remove("ESPFLASH")
        .env("FAKE_BOOT", dir.join("boot"))
        .env("FAKE_LOG", dir.join("log"))
        .env("FAKE_ARGS", dir.join("args"))
        .env("FAKE_PID", dir.join("pid"))
        .env("FAKE_TYPED", dir.join("typed"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let args =
        std::fs::read_to_string(dir.join("args")).unwrap_or_default().lines().map(String::from).collect();
    let typed = std::fs::read_to_string(dir.join("typed")).unwrap_or_default();
    Run { out, dir, args, typed }
}

/// The stand-in's process is gone (killed and reaped, or exited).
fn assert_qemu_gone(r: &Run) {
    let pid = std::fs::read_to_string(r.dir.join("pid")).expect("the stand-in booted");
    let proc = Path::new("/proc").join(pid.trim());
    assert!(!proc.exists(), "QEMU (pid {}) is still running after udplab returned", pid.trim());
}

fn blank(env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_udplab"));
    cmd.args(["qemu", root().join("scenarios/01-perfect-link.toml").to_str().unwrap()]);
    cmd.env_remove("UDPLAB_QEMU").env_remove("ESPFLASH").envs(env.iter().copied()).output().unwrap()
}

#[test]
fn without_qemu_it_says_not_run_where_to_get_it_and_exits_four() {
    let out = blank(&[("PATH", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOT RUN") && err.contains("qemu-system-riscv32 was not found"), "{err}");
    assert!(err.contains("https://github.com/espressif/qemu/releases"), "{err}");
    assert!(!err.contains("PASS"));

    let out = blank(&[("UDPLAB_QEMU", "/nonexistent/qemu-system-riscv32")]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOT RUN") && err.contains("$UDPLAB_QEMU is /nonexistent"), "{err}");
}

#[test]
fn a_qemu_without_the_esp32c3_machine_is_not_run() {
    let r = qemu("no-c3", &common::boot_log(), "", &[("FAKE_NO_C3", "1")], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(4), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("NOT RUN") && err.contains("has no esp32c3 machine"), "{err}");
    assert!(err.contains("https://github.com/espressif/qemu/releases"), "{err}");
    assert!(r.args.is_empty(), "QEMU was booted: {:?}", r.args);
}

#[test]
fn without_espflash_and_without_an_image_it_is_not_run() {
    let elf = tmp("qemu-no-espflash-elf").join("app.elf");
    std::fs::write(&elf, "an ELF").unwrap();
    let r = qemu(
        "no-espflash",
        &common::boot_log(),
        "",
        &[("ESPFLASH", "/nonexistent/espflash")],
        &["--elf", elf.to_str().unwrap()],
    );
    assert_eq!(r.out.status.code(), Some(4), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("NOT RUN") && err.contains("espflash was not found"), "{err}");
    assert!(err.contains("--image"), "{err}");
}

#[test]
fn a_matching_chip_trace_passes_and_qemu_is_killed() {
    let r = qemu("pass", &common::boot_log(), &common::block("01-perfect-link", 1, 1), &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    let out = String::from_utf8_lossy(&r.out.stdout);
    assert!(out.contains("PASS: 01-perfect-link seed 1") && out.contains("QEMU"), "{out}");
    assert_eq!(r.typed, "run 01-perfect-link 1\n", "what was typed into the console");
    assert_qemu_gone(&r);
}

#[test]
fn without_a_seed_it_types_the_scenarios_own() {
    let path = root().join("scenarios/01-perfect-link.toml");
    let seed = udplab_scenario::load(&path).unwrap().seed;
    let r = qemu("own-seed", &common::boot_log(), &common::block("01-perfect-link", seed, seed), &[], &[]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(r.typed, format!("run 01-perfect-link {seed}\n"));
}

#[test]
fn a_command_that_comes_after_the_board_started_its_own_run_still_gets_its_block() {
    // Two seconds after its banner with no command, the board runs `all`: the lesson's block
    // with its own seed comes first, and only the block for the seed typed counts.
    let boot = common::boot_log() + &common::block("01-perfect-link", 3, 3);
    let r = qemu("late", &boot, &common::block("01-perfect-link", 1, 1), &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(r.typed, "run 01-perfect-link 1\n");
}

#[test]
fn qemu_boots_the_image_with_deterministic_time_the_console_on_pipes_and_no_network() {
    let r = qemu("argv", &common::boot_log(), &common::block("01-perfect-link", 1, 1), &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    let after = |flag: &str| r.args.iter().position(|a| a == flag).and_then(|i| r.args.get(i + 1)).cloned();
    assert_eq!(after("-M").as_deref(), Some("esp32c3"), "{:?}", r.args);
    assert_eq!(after("-icount").as_deref(), Some("3"), "{:?}", r.args);
    assert_eq!(after("-serial").as_deref(), Some("stdio"), "{:?}", r.args);
    assert_eq!(after("-monitor").as_deref(), Some("none"), "{:?}", r.args);
    assert_eq!(after("-nic").as_deref(), Some("none"), "{:?}", r.args);
    let image = r.dir.join("udplab-esp32c3.bin");
    assert_eq!(after("-drive"), Some(format!("file={},if=mtd,format=raw", image.display())));
    assert!(r.args.iter().any(|a| a == "-nographic"), "{:?}", r.args);
    for a in &r.args {
        assert!(!["-netdev", "-net", "-device", "-chardev"].contains(&a.as_str()), "{a} in {:?}", r.args);
        assert!(!a.contains("socket") && !a.contains("tcp:") && !a.contains("udp:"), "{a}");
    }
}

#[test]
fn an_elf_is_merged_with_espflash_and_the_merged_image_booted() {
    let dir = tmp("qemu-merge-tools");
    let espflash = fake_espflash(&dir);
    let elf = dir.join("app.elf");
    std::fs::write(&elf, "an ELF").unwrap();
    let recorded = dir.join("espflash-args");
    let r = qemu(
        "merge",
        &common::boot_log(),
        &common::block("01-perfect-link", 1, 1),
        &[("ESPFLASH", espflash.to_str().unwrap()), ("FAKE_ESPFLASH_ARGS", recorded.to_str().unwrap())],
        &["--seed", "1", "--elf", elf.to_str().unwrap()],
    );
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    let merge: Vec<String> = std::fs::read_to_string(&recorded).unwrap().lines().map(String::from).collect();
    assert_eq!(merge[..5], ["save-image", "--chip", "esp32c3", "--merge", elf.to_str().unwrap()]);
    assert_eq!(merge[6], "skip update check: true");
    let image = &merge[5];
    let drive = r.args.iter().position(|a| a == "-drive").map(|i| r.args[i + 1].clone());
    assert_eq!(drive, Some(format!("file={image},if=mtd,format=raw")));
    assert!(!Path::new(image).exists(), "the merged image {image} was left behind");
}

#[test]
fn a_different_trace_is_a_mismatch_reported_line_by_line() {
    // The chip says seed 1 but its dice fell as for seed 2 of another lesson: whole and
    // self-consistent, yet wrong.
    let log = common::block("02-random-loss", 2, 1).replace("02-random-loss", "01-perfect-link");
    let r = qemu("mismatch", &common::boot_log(), &log, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("MISMATCH") && err.contains("host:") && err.contains("chip:"), "{err}");
    assert_qemu_gone(&r);
}

#[test]
fn a_qemu_that_dies_mid_trace_is_a_truncated_log() {
    let block = common::block("01-perfect-link", 1, 1);
    let cut = &block[..block.len() / 2];
    let r = qemu("truncated-exit", &common::boot_log(), cut, &[("FAKE_EXIT", "1")], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("QEMU FAILED") && err.contains("exited (exit status 1)"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn a_trace_that_stops_is_killed_at_the_wall_clock_limit_and_called_truncated() {
    let block = common::block("01-perfect-link", 1, 1);
    let cut = &block[..block.len() / 2];
    let r = qemu("truncated-hang", &common::boot_log(), cut, &[], &["--seed", "1", "--wall-timeout", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("killed after 1 s") && err.contains("truncated"), "{err}");
    assert_qemu_gone(&r);
}

#[test]
fn an_image_that_hangs_before_its_banner_is_killed_and_the_pitfall_named() {
    let boot = "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\nrst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n";
    let r = qemu("hang", boot, "", &[], &["--seed", "1", "--wall-timeout", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("no `udplab-esp32 ready` banner within 1 s"), "{err}");
    assert!(err.contains("interrupt matrix") && err.contains("0xF8/0xFC"), "{err}");
    assert!(err.contains("rst:0x1 (POWERON)"), "the end of the log is shown: {err}");
    assert_eq!(r.typed, "", "nothing may be typed before the banner");
    assert_qemu_gone(&r);
}

#[test]
fn a_garbled_line_is_caught_by_the_digest() {
    let log = common::block("01-perfect-link", 1, 1).replacen("arrived after", "arrived aftxr", 1);
    let r = qemu("garbled", &common::boot_log(), &log, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    assert!(stderr(&r).contains("garbled"), "{}", stderr(&r));
}

#[test]
fn a_panic_on_the_chip_fails_the_run() {
    let block = common::block("01-perfect-link", 1, 1);
    let log = block.replace(
        "@@ end",
        "====================== PANIC ======================\r\npanicked at src/x.rs:1:1\r\n@@ end",
    );
    let r = qemu("panic", &common::boot_log(), &log, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    assert!(stderr(&r).contains("panicked"), "{}", stderr(&r));
    assert_qemu_gone(&r);
}

#[test]
fn a_command_the_console_refuses_fails_at_once() {
    let log = "error: unknown scenario `01-perfect-link` (try `list`)\r\n";
    let r = qemu("refused", &common::boot_log(), log, &[], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(err.contains("answered `run 01-perfect-link 1` with `error: unknown scenario"), "{err}");
    assert_qemu_gone(&r);
}

#[test]
fn a_flooding_serial_port_is_cut_off() {
    let r = qemu("flood", &common::boot_log(), "", &[("FAKE_FLOOD", "1")], &["--seed", "1"]);
    assert_eq!(r.out.status.code(), Some(5), "{}", stderr(&r).len());
    let err = stderr(&r);
    assert!(err.contains("printed more than 64 MiB without finishing the run"), "{}", &err[..200]);
    assert!(err.len() < 20_000, "the report quotes a bounded part of the log ({} bytes)", err.len());
}

#[test]
fn the_serial_log_is_kept_on_request() {
    let dir = tmp("qemu-log-kept");
    let path = dir.join("serial.log");
    let block = common::block("01-perfect-link", 1, 1);
    let r = qemu(
        "log",
        &common::boot_log(),
        &block,
        &[],
        &["--seed", "1", "--serial-log", path.to_str().unwrap()],
    );
    assert_eq!(r.out.status.code(), Some(0), "{}", stderr(&r));
    let kept = std::fs::read_to_string(&path).unwrap();
    assert!(kept.starts_with(&common::boot_log()), "{kept}");
    let end = block.lines().find(|l| l.starts_with("@@ end")).unwrap();
    assert!(kept.contains(end), "{kept}");
}

#[test]
fn bad_paths_are_bad_input_before_anything_runs() {
    let r = qemu("bad-log", &common::boot_log(), "", &[], &["--serial-log", "/nonexistent/dir/serial.log"]);
    assert_eq!(r.out.status.code(), Some(2), "{}", stderr(&r));
    assert!(r.args.is_empty(), "QEMU was booted: {:?}", r.args);

    let r = qemu("bad-image", &common::boot_log(), "", &[], &["--image", "/nonexistent/image.bin"]);
    assert_eq!(r.out.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("/nonexistent/image.bin: no such file"), "{}", stderr(&r));

    let r = qemu("elf-and-image", &common::boot_log(), "", &[], &["--elf", "a.elf", "--image", "b.bin"]);
    assert_eq!(r.out.status.code(), Some(2), "{}", stderr(&r));
}
