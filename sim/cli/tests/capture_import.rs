//! `udplab capture-import` as a user meets it: the shipped capture in, a summary and files out;
//! anything else a clear error with its exit status, and nothing half-written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn udplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_udplab")).args(args).output().expect("udplab runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("udplab-cli-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_shipped_capture_gives_the_shipped_traces_and_a_scenario_that_replays_them() {
    let dir = TempDir::new("shipped");
    let capture = repo().join("scenarios/captures/classroom-wifi.pcapng");
    let out = udplab(&[
        "capture-import",
        capture.to_str().unwrap(),
        "--name",
        "192.0.2.1=laptop",
        "--name",
        "192.0.2.2=board",
        "--out",
        dir.0.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("laptop (192.0.2.1) -> board (192.0.2.2): 200 datagrams, 20 lost"), "{stdout}");
    assert!(stdout.contains("wrote 2 trace file(s)"), "{stdout}");
    // The traces lesson 9 replays are what the importer makes of the capture today.
    for name in ["laptop-to-board.csv", "board-to-laptop.csv", "links.toml"] {
        let made = std::fs::read_to_string(dir.0.join(name)).unwrap();
        let shipped = std::fs::read_to_string(repo().join("scenarios/traces").join(name)).unwrap();
        assert!(
            made == shipped,
            "scenarios/traces/{name} is not what capture-import makes now: run `udplab capture-import \
             scenarios/captures/classroom-wifi.pcapng --name 192.0.2.1=laptop --name 192.0.2.2=board \
             --out scenarios/traces` and review the difference"
        );
    }
    // The links it wrote replay in a scenario next to them.
    let scenario = format!(
        "duration = \"6s\"\n[[node]]\nname = \"laptop\"\nrole = \"client\"\nserver = \"board\"\ncount = 200\ninterval = \"20ms\"\n\
         [[node]]\nname = \"board\"\nrole = \"server\"\nport = 3333\n{}",
        std::fs::read_to_string(dir.0.join("links.toml")).unwrap()
    );
    std::fs::write(dir.0.join("replay.toml"), scenario).unwrap();
    let run = udplab(&["run", "--summary", dir.0.join("replay.toml").to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("sent 200, delivered 180 (90.0%), lost 20"), "{}", text(&run.stdout));
}

#[test]
fn what_cannot_be_imported_says_why_with_exit_status_2() {
    let dir = TempDir::new("bad");
    let notes = dir.0.join("notes.txt");
    std::fs::write(&notes, "not a capture\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![notes.display().to_string()], "is not a pcap or pcapng capture"),
        (vec![dir.0.join("missing.pcap").display().to_string()], "cannot read"),
        (vec![dir.0.display().to_string()], "is a folder"),
        (
            vec![notes.display().to_string(), "--seq-at".into(), "1:u33".into()],
            "--seq-at: expected OFFSET:TYPE like 0:u32be",
        ),
        (vec![notes.display().to_string(), "--name".into(), "laptop".into()], "expected ADDRESS=NODE"),
        (vec![notes.display().to_string(), "--name".into(), "192.0.2.1=a b".into()], "is not a node name"),
    ];
    for (args, want) in cases {
        let mut all = vec!["capture-import".to_owned()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = udplab(&refs);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(want), "{all:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{all:?}");
    }
    // Three files: clap says so (usage error, exit 2).
    let n = notes.to_str().unwrap();
    let out = udplab(&["capture-import", n, n, n]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn an_output_folder_that_cannot_be_written_is_exit_3_and_leaves_nothing() {
    let dir = TempDir::new("out");
    let blocker = dir.0.join("file");
    std::fs::write(&blocker, "a file where the folder should be").unwrap();
    let capture = repo().join("scenarios/captures/classroom-wifi.pcapng");
    let out = udplab(&[
        "capture-import",
        capture.to_str().unwrap(),
        "--out",
        blocker.join("traces").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot create the folder"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "a file where the folder should be");
}

#[test]
fn a_capture_over_1_gib_is_refused_from_its_size() {
    let dir = TempDir::new("huge");
    let huge = dir.0.join("huge.pcap");
    // Sparse: nothing is written, nothing should be read.
    std::fs::File::create(&huge).unwrap().set_len((1 << 30) + 1).unwrap();
    let out = udplab(&["capture-import", huge.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is larger than 1 GiB"), "{}", text(&out.stderr));
}

#[test]
fn a_sweep_of_link_settings_over_a_replayed_capture_is_refused_and_worse_runs() {
    let lesson = repo().join("scenarios/09-replayed-capture.toml");
    let out = udplab(&["sweep", lesson.to_str().unwrap(), "--vary", "loss=0..0.2:0.1", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("vary `worse` instead"), "{}", text(&out.stderr));
    let out = udplab(&["sweep", lesson.to_str().unwrap(), "--vary", "worse=1,2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.lines().next().is_some_and(|l| l.starts_with("worse")), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}
