//! `udplab tap --exec NODE=COMMAND`: a student's own program as a scenario node, the way a
//! class runs it (the classroom programs in examples/classroom, CPython), under CPU load. Needs
//! root and /dev/net/tun; skipped loudly without them, a failure under CI.

mod not_run;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn lesson(name: &str) -> String {
    repo(&format!("scenarios/{name}.toml")).to_str().unwrap().to_string()
}

/// A lesson with a longer duration: a client program waits 0.5 s for each lost reply, and the
/// run ends when the program does, not at the duration, unless it runs past it.
fn lesson_lasting(name: &str, duration: &str) -> String {
    let text = std::fs::read_to_string(lesson(name)).unwrap();
    let lines: Vec<String> =
        text.lines()
            .map(|l| {
                if l.starts_with("duration = ") {
                    format!("duration = \"{duration}\"")
                } else {
                    l.to_string()
                }
            })
            .collect();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{duration}.toml"));
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.to_str().unwrap().to_string()
}

fn program(name: &str) -> String {
    format!("python3 {}", repo(&format!("examples/classroom/{name}")).display())
}

/// Two busy loops beside the run, as on a student's laptop doing other things; stopped on drop.
struct Load(Vec<Child>);

impl Load {
    fn start() -> Load {
        Load(
            (0..2)
                .map(|_| Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("sh runs"))
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `udplab tap ARGS` with `env` set; `None` (after saying so) where a TAP cannot be made here.
fn tap(args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .arg("tap")
        .args(args)
        // Run as the test runs (root), unless a test says whom to be: under `sudo` the programs
        // would otherwise be the user behind it, whose PATH and files these tests cannot know.
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .envs(env.iter().copied())
        // The programs start in udplab's directory, as the user behind sudo when there is one,
        // who may not be able to enter a root-only checkout: every path here is absolute.
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("udplab runs");
    if not_run::tap_not_run(out.status.code(), &String::from_utf8_lossy(&out.stderr), "--exec run") {
        return None;
    }
    Some(out)
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out).0))
}

/// (offered, lost, arrived) on the link named `name` in a `--json` summary.
fn link(j: &serde_json::Value, name: &str) -> (u64, u64, u64) {
    let l = j["summary"]["links"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap();
    let n = |k: &str| l[k].as_u64().unwrap();
    (n("offered"), n("lost"), n("arrived"))
}

/// The number before `what` in the program's last line `N sent, N replies, N without a reply`.
fn count_before(line: &str, what: &str) -> u64 {
    let at = line.find(what).unwrap_or_else(|| panic!("`{what}` in `{line}`"));
    line[..at].trim_end().rsplit([' ', ',']).next().unwrap().parse().unwrap()
}

#[test]
fn a_students_python_client_sees_the_very_losses_the_trace_shows() {
    let _load = Load::start();
    let client = program("udp_client.py");
    let exec = format!("laptop={client}");
    let scenario = lesson_lasting("02-random-loss", "20s");
    let started = std::time::Instant::now();
    let Some(out) = tap(&[&scenario, "--json", "--exec", &exec], &[]) else { return };
    // Not a speed bound: a run that waited for the scenario's 20 s instead of the program
    // could not end sooner than that.
    assert!(started.elapsed() < Duration::from_secs(20), "the run ends when the client program does");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let j = json(&out);
    let (offered_up, lost_up, arrived_up) = link(&j, "laptop->board");
    let (offered_down, lost_down, arrived_down) = link(&j, "board->laptop");
    let last = stderr.lines().rfind(|l| l.contains(" sent, ")).expect("the client's own tally");
    // The program's datagrams cross the scenario's links, every one accounted for.
    assert_eq!(count_before(last, "sent"), 10, "{last}");
    assert_eq!(offered_up, 10, "every datagram the program sent is on the link");
    assert_eq!(offered_up, lost_up + arrived_up);
    assert_eq!(offered_down, arrived_up, "the firmware echoed each that arrived");
    // What the student sees is what the trace says: each missing reply is a LOST line.
    assert_eq!(count_before(last, "replies"), arrived_down, "{last}");
    assert_eq!(count_before(last, "without a reply"), lost_up + lost_down, "{last}");
    // The verdict is the program's exit; the scenario's expectations (about udplab's own
    // client's messages) are set aside, and say so.
    assert_eq!(j["passed"], true);
    assert!(j["checks"][0].as_str().unwrap().contains("exited with status 0"), "{}", j["checks"]);
    assert!(j["expectations_set_aside"].as_str().unwrap().contains("`laptop`"));
    assert_eq!(j["summary"]["flows"][0]["program"], "laptop", "the flow says who plays its client");
}

#[test]
fn a_students_python_server_answers_the_firmware_client() {
    let _load = Load::start();
    let exec = format!("board={}", program("udp_server.py"));
    let Some(out) = tap(&[&lesson("02-random-loss"), "--json", "--firmware", "laptop", "--exec", &exec], &[])
    else {
        return;
    };
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let j = json(&out);
    // udplab's client follows its messages, but what arrives is the program's to see.
    assert!(j["expectations_set_aside"].as_str().unwrap().contains("`board`"));
    assert_eq!(j["summary"]["flows"][0]["program"], "board", "the flow says who plays its server");
    let (offered_up, _, arrived_up) = link(&j, "laptop->board");
    let (offered_down, _, _) = link(&j, "board->laptop");
    assert_eq!(offered_up, 20, "the firmware client sent all its messages");
    let heard = stderr.lines().filter(|l| l.starts_with("from 192.0.2.1:")).count() as u64;
    assert_eq!(heard, arrived_up, "the server printed each datagram that crossed the link\n{stderr}");
    assert_eq!(offered_down, heard, "and answered each");
    let (_, _, arrived_down) = link(&j, "board->laptop");
    let flow = &j["summary"]["flows"][0];
    assert_eq!(flow["sent"], 20);
    assert_eq!(flow["answered"].as_u64(), Some(arrived_down), "and each answer that came back");
    // The firmware's datagrams are udplab's own, so their fates are the in-memory run's.
    let memory = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(["run", &lesson("02-random-loss"), "--json"])
        .output()
        .expect("udplab runs");
    let memory = json(&memory);
    for name in ["laptop->board", "board->laptop"] {
        assert_eq!(link(&j, name), link(&memory, name), "{name}: the same fates as `udplab run`");
    }
    // A server serves until it is stopped: that is not a failure.
    assert!(j["checks"][0].as_str().unwrap().contains("stopped at the end of the run"), "{}", j["checks"]);
}

#[test]
fn a_program_that_fails_fails_the_run() {
    let Some(out) = tap(&[&lesson("02-random-loss"), "--exec", "laptop=echo trying; exit 3"], &[]) else {
        return;
    };
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("program for `laptop` (echo trying; exit 3) exited with status 3"), "{stdout}");
    assert!(stderr.contains("trying"), "the program's output is on standard error: {stderr}");
}

fn running(marker: &str) -> bool {
    let out = Command::new("pgrep").args(["-f", marker]).output().expect("pgrep runs");
    !out.stdout.is_empty()
}

#[test]
fn a_client_program_still_running_at_the_end_is_killed_with_everything_it_started() {
    // Two processes in the program's group: the shell's background child and its foreground one.
    // `$((1))`: the marker the processes get is not in udplab's own command line.
    let exec = "laptop=sleep 987.6$((1)) & sleep 987.6$((2))";
    let Some(out) = tap(&[&lesson("02-random-loss"), "--exec", exec], &[]) else { return };
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("had not finished when the run ended, and was stopped"), "{stdout}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!running("sleep 987[.]6[12]"), "no process of the program is left");
}

#[test]
fn a_program_goes_with_udplab_however_udplab_ends() {
    for (signal, digit) in [("-TERM", 1), ("-INT", 2), ("-KILL", 3)] {
        // The shell computes the marker, so udplab's own command line does not match it: what
        // pgrep finds is the program, started by udplab.
        let marker = format!("sleep 986[.]5{digit}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_udplab"))
            .args([
                "tap",
                &lesson("06-reliable-heavy-loss"),
                "--exec",
                &format!("laptop=exec sleep 986.5$(({digit}))"),
            ])
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("udplab starts");
        let started = std::time::Instant::now();
        while !running(&marker) && started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            if not_run::tap_not_run(status.code(), &err, "--exec run") {
                return;
            }
            panic!("udplab ended before its program started: {status}\n{err}");
        }
        assert!(running(&marker), "the program runs while udplab does");
        let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{signal}: {status}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!running(&marker), "{signal}: the program is gone with udplab");
    }
}

#[test]
fn a_program_runs_as_the_user_behind_sudo_and_sees_only_the_runs_network() {
    // /usr/bin/python3: the user behind sudo cannot be assumed to reach root's own Python.
    let bind80 = "/usr/bin/python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(('0.0.0.0', 80)); print('bound port 80')\"";
    let exec = format!(
        r"laptop=id -u; id -g; echo $UDPLAB_NODE $UDPLAB_ADDR $UDPLAB_FIRMWARE_ADDR:$UDPLAB_FIRMWARE_PORT; {bind80}; ip -o link | sed 's/^[0-9]*: \([^:@]*\).*/link \1/'"
    );
    let env = [("SUDO_UID", "65534"), ("SUDO_GID", "65534")];
    let Some(out) = tap(&[&lesson("02-random-loss"), "--exec", &exec], &env) else { return };
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let mut lines = stderr.lines();
    assert_eq!(lines.next(), Some("65534"), "{stderr}");
    assert_eq!(lines.next(), Some("65534"), "{stderr}");
    assert_eq!(lines.next(), Some("laptop 192.0.2.1 192.0.2.2:3333"), "where it is, from its environment");
    assert_eq!(lines.next(), Some("bound port 80"), "a low port, without root, in the run's namespace");
    let mut devices: Vec<&str> = stderr.lines().filter_map(|l| l.strip_prefix("link ")).collect();
    devices.sort();
    assert_eq!(devices, ["lo", "udplab0"], "only the namespace's devices\n{stderr}");
}

#[test]
fn an_exec_for_a_node_that_cannot_take_one_is_bad_input() {
    for (exec, why) in
        [("nosuch=true", "no node named `nosuch`"), ("board=true", "runs as firmware on the TAP")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
            .args(["tap", &lesson("02-random-loss"), "--exec", exec])
            .output()
            .expect("udplab runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{exec}: {stderr}");
        assert!(stderr.contains(why), "{exec}: {stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .args(["tap", &lesson("02-random-loss"), "--exec", "laptop"])
        .output()
        .expect("udplab runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NODE=COMMAND"));
}

/// The classroom programs under MicroPython's Unix port, where one is installed, print exactly
/// what they print under CPython through the same lesson: the client its whole tally, the server
/// every datagram it heard (the lesson's dice fall on the same datagrams either way).
#[test]
fn the_classroom_programs_run_under_micropython_as_under_cpython_where_it_is_installed() {
    if Command::new("micropython").arg("-c").arg("pass").output().is_err() {
        eprintln!("\n*** SKIPPED MicroPython: no `micropython` (the Unix port) on PATH ***\n");
        return;
    }
    let lesson2 = lesson("02-random-loss");
    let printed = |python: &str, node: &str, program: &str, firmware: &[&str]| {
        let exec = format!("{node}={python} {}", repo(&format!("examples/classroom/{program}")).display());
        let mut args = vec![lesson2.as_str(), "--exec", &exec];
        args.extend_from_slice(firmware);
        let out = tap(&args, &[])?;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{exec}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        // The program's own lines: udplab's notes on stderr start with "note:" or "program".
        Some(
            stderr
                .lines()
                .filter(|l| !l.starts_with("note:") && !l.starts_with("program"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let Some(cpython) = printed("python3", "laptop", "udp_client.py", &[]) else { return };
    let Some(micro) = printed("micropython", "laptop", "udp_client.py", &[]) else { return };
    assert!(cpython.contains("10 sent, 9 replies, 1 without a reply"), "{cpython}");
    assert_eq!(micro, cpython, "the client under MicroPython");
    let server = ["--firmware", "laptop"];
    let Some(cpython) = printed("python3", "board", "udp_server.py", &server) else { return };
    let Some(micro) = printed("micropython", "board", "udp_server.py", &server) else { return };
    assert!(cpython.contains("from 192.0.2.1: 64 bytes"), "{cpython}");
    assert_eq!(micro, cpython, "the server under MicroPython");
}

#[test]
fn the_students_lost_datagrams_are_in_the_ladder() {
    let exec = format!("laptop={} 192.0.2.2 3333 8", program("udp_client.py"));
    let scenario = lesson_lasting("02-random-loss", "20s");
    let Some(out) = tap(&[&scenario, "--ladder", "--exec", &exec], &[]) else { return };
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stderr.lines().rfind(|l| l.contains(" sent, ")).expect("the client's own tally");
    // Ladder rows are the lines with a lifeline; the timeline above them has none.
    let rows = |mark: &str| stdout.lines().filter(|l| l.contains('|') && l.contains(mark)).count() as u64;
    assert_eq!(rows("|-- #"), 8, "a row for each datagram the student's program sent\n{stdout}");
    assert_eq!(rows("|<-"), count_before(last, "replies"), "a row for each reply it got\n{stdout}");
    assert_eq!(
        rows("LOST"),
        count_before(last, "without a reply"),
        "and a LOST row for each it missed\n{stdout}"
    );
}
