//! Wireshark shows the lesson: `wireshark/install.sh` installs the dissector and the `udplab`
//! profile into a scratch home, and tshark reads every lesson's capture with them, as a student's
//! Wireshark would. Needs tshark with Lua (.ci/run installs it); skipped loudly without, a
//! failure under CI.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch home with the dissector and profile installed, or `None` (said loudly) without tshark.
fn installed(test: &str) -> Option<PathBuf> {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "tshark must be installed in CI");
        eprintln!("\n*** SKIPPED the Wireshark dissector tests: no tshark on PATH ***\n");
        return None;
    }
    // One per test: tests run in parallel.
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("wireshark-{test}")).join("home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new("sh")
        .arg(root().join("wireshark/install.sh"))
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(out.status.success(), "install.sh: {}", String::from_utf8_lossy(&out.stderr));
    Some(home)
}

/// `tshark -C udplab -r FILE ARGS` with the scratch home, its output lines.
fn tshark(home: &Path, file: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new("tshark")
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .args(["-C", "udplab", "-r"])
        .arg(file)
        .args(args)
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("Running as user")).collect();
    assert!(out.status.success() && complaints.is_empty(), "tshark {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// Every lesson's capture, written by this build.
fn captures(home: &Path) -> Vec<(String, PathBuf)> {
    let dir = home.join("../captures");
    std::fs::create_dir_all(&dir).unwrap();
    udplab_teach::lessons::lesson_files(&root())
        .unwrap()
        .into_iter()
        .map(|lesson| {
            let name = lesson.file_stem().unwrap().to_string_lossy().into_owned();
            let pcap = dir.join(format!("{name}.pcapng"));
            let out = Command::new(env!("CARGO_BIN_EXE_udplab"))
                .args(["run", lesson.to_str().unwrap(), "--summary", "--pcap", pcap.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                out.status.code().is_some_and(|c| c <= 1),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            (name, pcap)
        })
        .collect()
}

/// tshark's arguments for one tab-separated line per frame with `fields`.
fn fields<'a>(fields: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-T", "fields", "-E", "separator=\t"];
    for f in fields {
        args.extend(["-e", f]);
    }
    args
}

/// Whether the comment says a flipped bit landed in the magic or version (bits 0 to 23): the
/// bytes are then not recognisable as udplab's, and the dissector rightly leaves them alone.
fn magic_hit(comment: &str) -> bool {
    comment
        .split("bit ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|b| b.parse::<u32>().ok())
        .is_some_and(|bit| comment.contains("corrupted") && bit < 24)
}

#[test]
fn every_lessons_frames_are_decoded_with_their_fate_and_told_apart() {
    let Some(home) = installed("fates") else { return };
    for (name, pcap) in captures(&home) {
        let rows = tshark(
            &home,
            &pcap,
            &fields(&[
                "frame.comment",
                "udplab_fate.fate",
                "udplab.seq",
                "udplab.crc.status",
                "_ws.col.Info",
            ]),
        );
        assert!(!rows.is_empty(), "{name}: frames");
        let mut lost = 0;
        for row in &rows {
            let f: Vec<&str> = row.split('\t').collect();
            let (comment, fate, seq, crc, info) = (f[0], f[1], f[2], f[3], f[4]);
            let story = comment.split_once(": ").map(|(_, s)| s).unwrap_or_else(|| panic!("{name}: {row}"));
            let expected = if story.starts_with("LOST") {
                lost += 1;
                "lost"
            } else if story.starts_with("sent") {
                "offered"
            } else if story.starts_with("duplicate of") {
                "duplicate"
            } else {
                "arrived"
            };
            assert_eq!(fate, expected, "{name}: {comment}");
            // The Info column says which copy this is: offered and arrived frames of one
            // datagram no longer look alike.
            let link_and_index =
                comment.split(" seq=").next().unwrap().split(' ').take(2).collect::<Vec<_>>().join(" ");
            let head = if fate == "lost" { "LOST" } else { fate };
            assert!(info.starts_with(&format!("[{link_and_index} {head}")), "{name}: {info} for {comment}");
            // The header decoded: the seq the comment names (unless the bytes are damaged).
            if let Some(said) = comment.split(" seq=").nth(1).and_then(|r| r.split([':', ' ']).next())
                && !said.ends_with('?')
                && !comment.contains("ack ")
                && !magic_hit(comment)
            {
                assert_eq!(seq, said, "{name}: {comment}");
            }
            if !seq.is_empty() {
                assert!(crc == "good" || crc == "bad", "{name}: {row}");
            }
        }
        let said_lost = rows.iter().filter(|r| r.contains(": LOST")).count();
        assert_eq!(lost, said_lost, "{name}");
    }
}

#[test]
fn a_damaged_datagram_shows_a_bad_crc_and_the_profile_checks_udp_checksums() {
    let Some(home) = installed("damage") else { return };
    let (_, pcap) = captures(&home).into_iter().find(|(n, _)| n.starts_with("07-")).expect("lesson 7");
    let rows = tshark(&home, &pcap, &fields(&["frame.comment", "udplab.crc.status", "udp.checksum.status"]));
    let mut bad_crc = 0;
    let mut bad_checksum = 0;
    for row in &rows {
        let f: Vec<&str> = row.split('\t').collect();
        let (comment, crc, checksum) = (f[0], f[1], f[2]);
        // An arrival the link damaged, checksum fixed up: the udplab CRC catches it.
        if comment.contains("arrived") && comment.contains("corrupted") && comment.contains("checksum fixed")
        {
            let expected = if magic_hit(comment) { "" } else { "bad" };
            assert_eq!(crc, expected, "{comment}");
            bad_crc += usize::from(expected == "bad");
        }
        // Checksum left wrong: with the profile's validation on, Wireshark flags it (0 = Bad).
        if comment.contains("arrived") && comment.contains("checksum left wrong") {
            assert_eq!(checksum, "0", "{comment}");
            bad_checksum += 1;
        }
        if comment.contains(": sent") && !comment.contains("CORRUPTED") && crc == "good" {
            assert_eq!(checksum, "1", "an untouched frame's checksum is good: {comment}");
        }
    }
    assert!(bad_crc > 0 && bad_checksum > 0, "lesson 7 has both kinds of damage ({bad_crc}, {bad_checksum})");
}

#[test]
fn every_colouring_rule_is_a_valid_filter_and_the_lost_rule_picks_the_lost_frames() {
    let Some(home) = installed("colours") else { return };
    let rules = std::fs::read_to_string(root().join("wireshark/colorfilters")).unwrap();
    let (_, pcap) = captures(&home).into_iter().find(|(n, _)| n.starts_with("02-")).expect("lesson 2");
    let lost = tshark(&home, &pcap, &["-Y", "frame.comment contains \": LOST\""]).len();
    assert!(lost > 0);
    let mut names = Vec::new();
    for rule in rules.lines().filter(|l| l.starts_with('@')) {
        let mut parts = rule.split('@').skip(1);
        let (name, filter) = (parts.next().unwrap(), parts.next().unwrap());
        let matched = tshark(&home, &pcap, &["-Y", filter]).len();
        if name == "udplab: lost" {
            assert_eq!(matched, lost, "{filter}");
        }
        names.push(name.to_string());
    }
    for kind in ["lost", "corrupted", "duplicate copy", "reordered"] {
        assert!(names.contains(&format!("udplab: {kind}")), "a rule for {kind}: {names:?}");
    }
}
