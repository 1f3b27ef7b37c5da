//! What a class downloads from a release (`scripts/release.sh`, which the release workflow runs):
//! the binary's bundle works as the lessons guide says, with no Rust toolchain on the PATH, and
//! the lessons bundle holds every lesson's report, capture and picture.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn release(what: &str, name: &str, out: &Path) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/release.sh"))
        .args([what, env!("CARGO_BIN_EXE_udplab"), name])
        .arg(out)
        .output()
        .expect("bash runs scripts/release.sh")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The lines of the guide's `sh` block that starts with `tar xzf`: what a student types.
fn download_lines(guide: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in guide.lines() {
        if line == "```sh" {
            inside = true;
            lines.clear();
        } else if inside && line == "```" {
            if lines.first().is_some_and(|l: &String| l.starts_with("tar xzf ")) {
                return lines;
            }
            inside = false;
        } else if inside {
            lines.push(line.to_string());
        }
    }
    panic!("docs/lessons.md has no sh block starting with `tar xzf`");
}

fn lesson_names() -> BTreeSet<String> {
    std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect()
}

#[test]
fn the_downloaded_binary_runs_the_guide_s_lines_without_a_toolchain() {
    let guide = std::fs::read_to_string(root().join("docs/lessons.md")).unwrap();
    let lines = download_lines(&guide);
    let bundle = lines[0].strip_prefix("tar xzf ").unwrap().strip_suffix(".tar.gz").expect("a .tar.gz");
    let dir = tempfile::tempdir().unwrap();
    ok(&release("binary", bundle, dir.path()), "release.sh binary");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // What a fresh laptop has: the system's tools, not cargo.
    let shell = |script: &str| {
        Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    assert!(
        !shell("command -v cargo").status.success(),
        "cargo is on /usr/bin:/bin; the test proves nothing"
    );
    let run = shell(&format!("set -e\n{}", lines.join("\n")));
    ok(&run, &lines.join("; "));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("scenario 02-random-loss: seed"), "{stdout}");
    let unpacked = dir.path().join(bundle);
    let html = std::fs::read_to_string(unpacked.join("02.html")).expect("02.html written");
    assert!(html.contains("02-random-loss") && html.contains("</html>"), "a whole report");
    let pcap = std::fs::read(unpacked.join("02.pcapng")).expect("02.pcapng written");
    assert_eq!(pcap.get(..4), Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]), "a pcapng section header");
    assert!(home.join(".local/lib/wireshark/plugins/udplab.lua").is_file(), "dissector installed");
    assert!(home.join(".config/wireshark/profiles/udplab/colorfilters").is_file(), "profile installed");
    // The rest of the guide's material came along.
    for name in lesson_names() {
        assert!(unpacked.join(format!("scenarios/{name}.toml")).is_file(), "{name} in the bundle");
    }
    for file in
        ["README.md", "lessons.md", "examples/classroom/udp_client.py", "examples/classroom/udp_server.py"]
    {
        assert!(unpacked.join(file).is_file(), "{file} in the bundle");
    }
}

#[test]
fn the_lessons_bundle_holds_every_lesson_s_report_capture_and_picture() {
    let dir = tempfile::tempdir().unwrap();
    ok(&release("lessons", "udplab-lessons-VERSION", dir.path()), "release.sh lessons");
    let zip = dir.path().join("udplab-lessons-VERSION.zip");
    let list = Command::new("unzip").arg("-Z1").arg(&zip).output().expect("unzip runs");
    ok(&list, "unzip -Z1");
    let files: BTreeSet<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::to_string).collect();
    let names = lesson_names();
    assert!(names.len() >= 9, "{names:?}");
    for name in &names {
        for ext in ["html", "pcapng", "svg"] {
            let f = format!("udplab-lessons-VERSION/{name}.{ext}");
            assert!(files.contains(&f), "{f} missing from {files:?}");
        }
    }
    for f in ["lessons.md", "wireshark/udplab.lua", "wireshark/install.sh"] {
        assert!(files.contains(&format!("udplab-lessons-VERSION/{f}")), "{f} missing");
    }
    // A picture in the bundle is the one the run draws.
    let unzip =
        Command::new("unzip").arg("-p").arg(&zip).arg("udplab-lessons-VERSION/04-reordering.svg").output();
    let svg = unzip.unwrap().stdout;
    let drawn = dir.path().join("04.svg");
    let direct = Command::new(env!("CARGO_BIN_EXE_udplab"))
        .arg("run")
        .arg(root().join("scenarios/04-reordering.toml"))
        .args(["--summary", "--svg"])
        .arg(&drawn)
        .output()
        .unwrap();
    ok(&direct, "udplab run --svg");
    assert_eq!(svg, std::fs::read(&drawn).unwrap(), "the bundle's 04-reordering.svg is the run's");
}

#[test]
fn a_bad_release_call_says_why_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = Command::new("bash")
        .arg(root().join("scripts/release.sh"))
        .args(["binary", "/nonexistent/udplab", "x"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an executable"));
    assert!(!out.exists(), "nothing written");
    let o = Command::new("bash").arg(root().join("scripts/release.sh")).arg("binary").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("usage:"));
}
