//! The telemetry lab binary (`src/main.rs`) as its user meets it: every `udplab`
//! command on `scenarios/telemetry.toml`, with the sensor and gateway of this crate attached.
//!
//! The TAP test needs root and /dev/net/tun. Without them it says loudly that it was skipped;
//! under CI (`CI=true`, where .ci/run runs as root) a missing privilege is a failure instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_telemetry-lab")).args(args).output().expect("telemetry-lab runs")
}

fn scenario() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/telemetry.toml");
    path.to_string_lossy().into_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder for one test's files.
fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("telemetry-lab").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn run_prints_the_timeline_with_the_apps_notes_and_labels() {
    let out = lab(&["run", &scenario()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "no expectations in the file: exit 0\n{}", text(&out.stderr));
    assert!(stdout.contains("sensor   10.0.0.10  app supplied in code"), "{stdout}");
    assert!(stdout.contains("gateway          stored id=1 value=201"), "the gateway's notes:\n{stdout}");
    assert!(stdout.contains("sensor->gateway  #1 reading=1 38B"), "the labeller names readings:\n{stdout}");
    assert!(stdout.contains("gateway->sensor  #1 ack=1 34B"), "and acks:\n{stdout}");
    assert!(stdout.contains("LOST: random loss (20%)"), "{stdout}");
    assert!(stdout.contains("sensor -> gateway (app)"), "the summary has the app's flow:\n{stdout}");
    assert!(stdout.contains("expectations: none set"), "{stdout}");
    // Same file, same seed: same bytes.
    assert_eq!(lab(&["run", &scenario()]).stdout, out.stdout);
}

#[test]
fn json_has_the_named_datagrams_and_the_notes() {
    let out = lab(&["run", "--json", &scenario()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["passed"], true);
    assert_eq!(v["scenario"]["nodes"][0]["role"]["role"], "code");
    let trace = v["trace"].as_array().expect("trace array");
    let readings = trace
        .iter()
        .filter(|r| r["event"] == "offer" && r["label"]["is"] == "named" && r["label"]["kind"] == "reading")
        .count();
    assert!(readings >= 30, "every reading is offered at least once: {readings}");
    let stored = trace.iter().filter(|r| r["app"]["app"] == "note" && r["app"]["label"] == "stored").count();
    assert_eq!(stored, 30, "the fixed gateway stores each of the 30 readings once");
    assert_eq!(v["summary"]["flows"][0]["delivered"], 30);
}

#[test]
fn the_ladder_shows_the_notes_and_the_files_are_written() {
    let out = lab(&["run", "--ladder", "--color", "never", &scenario()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ladder = text(&out.stdout);
    assert!(ladder.contains("|-- #1 reading=1 "), "{ladder}");
    assert!(ladder.contains("o  gateway: stored id=1 value=201"), "{ladder}");

    let dir = tmp("files");
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (svg, html, md, pcap) = (file("t.svg"), file("t.html"), file("t.md"), file("t.pcapng"));
    let out =
        lab(&["run", "-q", "--svg", &svg, "--html", &html, "--mermaid", &md, "--pcap", &pcap, &scenario()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    for f in [&svg, &html, &md] {
        let body = std::fs::read_to_string(f).unwrap();
        assert!(body.contains("reading=1"), "{f} names the readings");
        assert!(body.contains("stored id=1"), "{f} has the gateway's notes");
    }
    let capture = std::fs::read(&pcap).unwrap();
    assert_eq!(&capture[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header");
    assert!(capture.windows(9).any(|w| w == b"reading=1"), "frame comments name the readings");
}

#[test]
fn sweep_runs_the_apps_on_every_grid_point_and_thread() {
    let dir = tmp("sweep");
    let csv = |jobs: &str| {
        let path = dir.join(format!("jobs{jobs}.csv"));
        let p = path.to_string_lossy().into_owned();
        let out = lab(&[
            "sweep",
            &scenario(),
            "--vary",
            "loss=0,0.3",
            "--seeds",
            "1..3",
            "--jobs",
            jobs,
            "--csv",
            &p,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let table = text(&out.stdout);
        assert!(table.lines().next().unwrap().starts_with("loss  runs  sent"), "{table}");
        std::fs::read_to_string(path).unwrap()
    };
    let one = csv("1");
    assert_eq!(one, csv("2"), "the same rows whatever the number of threads");
    let rows: Vec<&str> = one.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "2 grid points x 3 seeds:\n{one}");
    for row in &rows[..3] {
        assert!(row.starts_with("0,"), "{row}");
        assert!(row.contains(",30,30,0,"), "no loss: 30 sent, 30 delivered, none lost: {row}");
    }
}

/// A wokwi-cli stand-in (as sim/cli/tests/wokwi.rs uses): copies $FAKE_LOG to the
/// --serial-log-file path and exits 0.
fn fake_wokwi_cli(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("wokwi-cli");
    std::fs::write(
        &path,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = \"--serial-log-file\" ]; then cp \"$FAKE_LOG\" \"$2\"; fi\n  shift\ndone\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The serial log of a chip that ran the telemetry scenario with `gateway`.
fn chip_log(gateway: fn() -> telemetry::Gateway) -> String {
    let scenario = udplab::load(Path::new(&scenario())).unwrap();
    let mut sim = udplab::Sim::new(scenario.clone());
    sim.app("sensor", telemetry::example_sensor).app("gateway", gateway).labeller(|p| {
        telemetry::label(p).map(|(kind, id)| udplab::Label::Named { kind, id: Some(u64::from(id)) })
    });
    let out = sim.run(scenario.seed).unwrap();
    let mut log = String::from("udplab-esp32 ready\r\n");
    udplab::engine::serial::emit_block("telemetry", scenario.seed, &scenario, &out.trace, &mut |l| {
        log.push_str(l);
        log.push_str("\r\n");
    });
    log
}

#[test]
fn wokwi_compares_the_chip_with_the_labs_own_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..").canonicalize().unwrap();
    let dir = tmp("wokwi");
    let cli = fake_wokwi_cli(&dir);
    let wokwi = |log: &str| {
        std::fs::write(dir.join("log"), log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_telemetry-lab"))
            .args(["wokwi", &scenario(), "--elf", "/dev/null", "--project", root.to_str().unwrap()])
            .env("WOKWI_CLI", &cli)
            .env("WOKWI_CLI_TOKEN", "test-token")
            .env("FAKE_LOG", dir.join("log"))
            .output()
            .unwrap()
    };
    // A chip running the same apps prints the lab's trace line for line.
    let out = wokwi(&chip_log(telemetry::Gateway::new));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("PASS: telemetry seed 4"), "{}", text(&out.stdout));
    // A chip running the naive gateway stores readings twice: not what the lab runs.
    let out = wokwi(&chip_log(telemetry::Gateway::naive));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("MISMATCH: telemetry seed 4"), "{}", text(&out.stderr));
}

/// Each link's decisions, datagram by datagram, without absolute times (as tests/tap.rs
/// compares the built-in apps), from `--json` output.
/// Each link's fates keyed as the dice are: the datagram's label and how many times that label
/// crossed the link before (its number on the link can differ on a real clock).
fn fates(json: &[u8]) -> BTreeMap<u64, BTreeMap<String, String>> {
    let v: Value = serde_json::from_slice(json).expect("valid JSON");
    let mut out: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
    for r in v["trace"].as_array().expect("trace") {
        if r["event"] != "offer" {
            continue;
        }
        let at = r["at_us"].as_u64().unwrap();
        let fate = &r["fate"];
        let what = if fate["fate"] == "passed" {
            let copies = fate["copies"].as_u64().unwrap() as usize;
            let delays: Vec<u64> = fate["arrive_us"].as_array().unwrap()[..copies]
                .iter()
                .map(|a| a.as_u64().unwrap() - at)
                .collect();
            format!("passed delays={delays:?} held={} corrupted={}", fate["held_us"], fate["corrupted"])
        } else {
            format!("lost {fate}")
        };
        let label = &r["label"];
        let link = out.entry(r["link"].as_u64().unwrap()).or_default();
        let name = format!("{}={}", label["kind"].as_str().unwrap_or("?"), label["id"]);
        let occurrence = link.keys().filter(|k| k.split(" #").next() == Some(name.as_str())).count();
        link.insert(format!("{name} #{occurrence}"), format!("{}B {what}", r["bytes"]));
    }
    out
}

fn no_tap_left_behind() {
    let links = Command::new("ip").args(["-o", "link"]).output().expect("ip link");
    let links = text(&links.stdout);
    assert!(!links.contains("udplab"), "a udplab device is left in the root namespace:\n{links}");
}

/// The sensor as firmware on a TAP device (smoltcp), the gateway as a kernel-socket peer, in a
/// network namespace of the `tap` process's own: the lab's apps run there, and the labeller
/// names the datagrams inside the TAP device as it does in memory.
#[test]
fn tap_runs_the_apps_with_the_sensor_as_firmware() {
    let test = "tap_runs_the_apps_with_the_sensor_as_firmware";
    if !udplab::tap::privileged_or_skip(test) {
        return;
    }
    let tap = lab(&["tap", "--json", "--firmware", "sensor", &scenario()]);
    assert_eq!(tap.status.code(), Some(0), "{}", text(&tap.stderr));
    no_tap_left_behind();
    let t = fates(&tap.stdout);
    assert!(
        t[&0].keys().all(|k| k.starts_with("reading=")),
        "every sensor datagram is a reading: {:?}",
        t[&0]
    );
    assert!(t[&1].keys().all(|k| k.starts_with("ack=")), "every gateway datagram is an ack: {:?}", t[&1]);
    let v: Value = serde_json::from_slice(&tap.stdout).unwrap();
    let stored = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["app"]["app"] == "note" && r["app"]["label"] == "stored")
        .count();
    assert!(stored > 0, "the gateway (a kernel-socket peer) stored readings");
    assert_eq!(v["summary"]["flows"][0]["code"], true);
}

/// As above, and every datagram gets the fate it gets in memory, datagram by datagram (as
/// tests/tap.rs checks for the built-in apps).
#[test]
fn tap_fates_match_the_in_memory_run_datagram_by_datagram() {
    let test = "tap_fates_match_the_in_memory_run_datagram_by_datagram";
    if !udplab::tap::privileged_or_skip(test) {
        return;
    }
    let tap = lab(&["tap", "--json", "--firmware", "sensor", &scenario()]);
    assert_eq!(tap.status.code(), Some(0), "{}", text(&tap.stderr));
    let memory = lab(&["run", "--json", &scenario()]);
    assert_eq!(memory.status.code(), Some(0));
    let (m, t) = (fates(&memory.stdout), fates(&tap.stdout));
    assert!(
        m.values().flat_map(|l| l.values()).any(|f| f.contains("random")),
        "the scenario loses something"
    );
    assert!(m[&0].keys().any(|k| k.starts_with("reading=")), "the labeller runs in memory");
    assert!(t[&0].keys().any(|k| k.starts_with("reading=")), "and in the TAP device");
    no_tap_left_behind();
    let mut differ = Vec::new();
    for (link, ms) in &m {
        let ts = t.get(link).cloned().unwrap_or_default();
        for (key, a) in ms {
            let b = ts.get(key);
            if Some(a) != b {
                differ.push(format!("link {link} {key}:\n  memory: {a:?}\n  tap:    {b:?}"));
            }
        }
        for key in ts.keys().filter(|k| !ms.contains_key(*k)) {
            differ.push(format!("link {link} {key}: only on the TAP: {:?}", ts[key]));
        }
    }
    assert!(
        differ.is_empty(),
        "{} datagrams got another fate on the TAP than in memory:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
