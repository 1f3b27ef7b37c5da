//! `udplab_cli::Lab`: the `udplab` command with a user's apps attached (the telemetry example's
//! sensor and gateway), run in process; and the plain `udplab` binary on a file whose `code`
//! nodes need apps it does not have. What a lab binary prints is checked by spawning the
//! example's own `telemetry-lab` in examples/telemetry/lab/tests/lab.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

use telemetry::{Gateway, example_sensor as sensor};
use udplab_cli::{Lab, Label};
use udplab_sim::Scenario;
use udplab_teach::sweep::{Plan, run as sweep_builtin, run_with as sweep_with};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn telemetry_file() -> PathBuf {
    root().join("examples/telemetry/scenarios/telemetry.toml")
}

fn load(path: &Path) -> Scenario {
    udplab_scenario::load(path).unwrap_or_else(|e| panic!("{e}"))
}

fn label(payload: &[u8]) -> Option<Label> {
    telemetry::label(payload).map(|(kind, id)| Label::Named { kind, id: Some(u64::from(id)) })
}

/// What examples/telemetry/lab/src/main.rs builds.
fn telemetry_lab() -> Lab {
    Lab::new().app("sensor", sensor).app("gateway", Gateway::new).labeller(label)
}

/// A fresh folder for one test's files.
fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_args(lab: Lab, args: &[&str]) -> ExitCode {
    lab.run_args(std::iter::once("telemetry-lab").chain(args.iter().copied()))
}

fn udplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_udplab")).args(args).output().expect("udplab runs")
}

#[test]
fn the_lab_attaches_the_apps_a_scenario_has_and_its_labeller() {
    let lab = telemetry_lab();
    assert_eq!(lab.nodes().collect::<Vec<_>>(), ["sensor", "gateway"]);
    let sim = lab.sim(load(&telemetry_file()));
    assert!(sim.missing_apps().is_empty());
    let out = sim.run(4).unwrap();
    let flow = out.flow("sensor", "gateway");
    flow.check_no_duplicates().unwrap();
    assert_eq!(flow.delivered().len(), 30, "the fixed gateway stores all 30 readings once");
    assert_eq!(out.notes("gateway", "stored").count(), 30);
    let timeline = out.timeline();
    assert!(timeline.contains("gateway          stored id=1 value=201"), "{timeline}");
    assert!(timeline.contains("sensor->gateway  #1 reading=1 38B"), "{timeline}");

    // A lab that lacks an app leaves that code node unattached, and says so.
    let half = Lab::new().app("sensor", sensor);
    assert_eq!(half.sim(load(&telemetry_file())).missing_apps(), ["gateway"]);
    assert_eq!(Lab::new().sim(load(&telemetry_file())).missing_apps(), ["sensor", "gateway"]);
}

#[test]
fn names_a_scenario_does_not_have_are_ignored_so_lessons_run_as_with_udplab() {
    let lab = telemetry_lab();
    let lessons = udplab_teach::lessons::lesson_files(&root()).unwrap();
    assert!(lessons.len() >= 8);
    for file in &lessons {
        let s = load(file);
        let expected = udplab_teach::run_scenario(&s, s.seed).unwrap();
        for (name, lab) in [("plain", &Lab::new()), ("telemetry", &lab)] {
            let sim = lab.sim(s.clone());
            assert!(sim.missing_apps().is_empty());
            let got = udplab_teach::run_sim(&sim, s.seed).unwrap();
            assert_eq!(got.text(), expected.text(), "{} with the {name} lab", file.display());
            assert_eq!(got.json(), expected.json(), "{} with the {name} lab", file.display());
            let (with_capture, captured) = udplab_teach::run_sim_captured(&sim, s.seed, true).unwrap();
            let (builtin, builtin_captured) = udplab_teach::run(&s, s.seed, true).unwrap();
            assert_eq!(with_capture.text(), builtin.text(), "{}", file.display());
            assert_eq!(captured, builtin_captured, "{}: the capture", file.display());
        }
    }
    // Sweeps too, whatever the number of threads.
    let s = load(&lessons[1]);
    let plan = Plan::parse(&["loss=0..0.2:0.1".into()], Some("1..3"), s.seed).unwrap();
    let expected = sweep_builtin(&s, &plan, 1, false).unwrap();
    assert_eq!(sweep_with(&|s| lab.sim(s), &s, &plan, 2, false).unwrap(), expected);
}

#[test]
fn run_writes_every_output_with_the_users_apps() {
    let dir = tmp("run");
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (svg, html, md, pcap) = (file("t.svg"), file("t.html"), file("t.md"), file("t.pcapng"));
    let scenario = telemetry_file().to_string_lossy().into_owned();
    let args = ["run", "-q", "--svg", &svg, "--html", &html, "--mermaid", &md, "--pcap", &pcap, &scenario];
    assert_eq!(run_args(telemetry_lab(), &args), ExitCode::SUCCESS);
    for f in [&svg, &html, &md] {
        let body = std::fs::read_to_string(f).unwrap();
        assert!(body.contains("reading=1"), "{f} names the readings");
        assert!(body.contains("ack=1"), "{f} names the acks");
        assert!(body.contains("stored id=1"), "{f} has the gateway's notes");
    }
    let capture = std::fs::read(&pcap).unwrap();
    assert!(capture.windows(9).any(|w| w == b"reading=1"), "frame comments name the readings");
    // --seed changes the dice, not the apps.
    assert_eq!(run_args(telemetry_lab(), &["run", "-q", "--seed", "99", &scenario]), ExitCode::SUCCESS);
}

#[test]
fn sweep_builds_the_apps_on_its_worker_threads() {
    let dir = tmp("sweep");
    let scenario = telemetry_file().to_string_lossy().into_owned();
    let csv = |jobs: &str| {
        let path = dir.join(format!("jobs{jobs}.csv"));
        let p = path.to_string_lossy().into_owned();
        let args = [
            "sweep",
            &scenario,
            "--vary",
            "loss=0,0.3",
            "--seeds",
            "1..4",
            "--jobs",
            jobs,
            "--csv",
            &p,
            "-q",
        ];
        assert_eq!(run_args(telemetry_lab(), &args), ExitCode::SUCCESS);
        std::fs::read_to_string(path).unwrap()
    };
    let two = csv("2");
    assert_eq!(two, csv("1"), "the same rows whatever the number of threads");
    let rows: Vec<&str> = two.lines().skip(1).collect();
    assert_eq!(rows.len(), 8, "{two}");
    assert!(rows.iter().all(|r| r.contains(",30,30,0,")), "30 readings sent and stored in every run:\n{two}");
    assert!(rows[4..].iter().all(|r| !r.ends_with(",0,pass")), "30% loss costs retransmissions:\n{two}");
}

#[test]
fn a_lab_without_an_app_for_a_code_node_exits_two() {
    let scenario = telemetry_file().to_string_lossy().into_owned();
    let half = Lab::new().app("sensor", sensor);
    assert_eq!(run_args(half, &["run", &scenario]), ExitCode::from(2));
    let message = udplab_cli::cli::missing_apps(&["gateway"]);
    assert!(message.starts_with("node `gateway` has role = \"code\" but no app attached"), "{message}");
    assert!(message.contains("Attach it with `udplab::Sim::app`"), "{message}");
    assert!(message.contains("Lab::new().app(\"gateway\", || ...).main()"), "{message}");
}

#[test]
fn plain_udplab_names_every_code_node_without_an_app_and_says_how_to_attach_one() {
    let file = telemetry_file().to_string_lossy().into_owned();
    for args in [
        vec!["run", &file],
        vec!["run", "--json", &file],
        vec!["tap", "--firmware", "sensor", &file],
        vec!["sweep", &file, "--vary", "loss=0,0.1"],
        vec!["wokwi", &file],
    ] {
        let out = udplab(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            err.contains("nodes `sensor` and `gateway` have role = \"code\" but no app attached"),
            "{args:?}: {err}"
        );
        assert!(err.contains(&file), "{args:?} names the file: {err}");
        assert!(err.contains("`udplab::Sim::app` in a test"), "{args:?}: {err}");
        assert!(err.contains("a lab binary built on `udplab_cli::Lab`"), "{args:?}: {err}");
        assert!(err.contains(".app(\"sensor\", || ...).app(\"gateway\", || ...).main()"), "{args:?}: {err}");
    }
}
