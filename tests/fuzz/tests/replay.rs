//! The fuzz targets' inputs that must keep passing, replayed on stable by `cargo test`:
//! every committed crash input (`fuzz/regressions/<target>/`), every seed (`fuzz/seeds/<target>/`
//! and, for `scenario`, the lessons in `scenarios/`), and a check that the committed seeds are
//! still what the lessons produce (the documented way to regenerate them).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use udplab_firmware::wire::{Datagram, Repr};
use udplab_fuzz::{Body, TARGETS, app_receive};
use udplab_sim::{Label, Sim};

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files in `dir`, sorted; a missing folder is an error, so a renamed folder cannot make
/// the replay silently run nothing.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

/// Runs `body` on every file, and fails naming each file whose run panicked.
fn replay(target: &str, body: Body, inputs: &[PathBuf]) {
    let failed: Vec<String> = inputs
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            catch_unwind(AssertUnwindSafe(|| body(&data))).err().map(|_| path.display().to_string())
        })
        .collect();
    assert!(failed.is_empty(), "fuzz target `{target}` fails on {failed:#?} (panic messages above)");
}

#[test]
fn every_committed_crash_input_passes() {
    for (target, body) in TARGETS {
        let inputs = files(&top().join("fuzz/regressions").join(target));
        assert!(!inputs.is_empty(), "fuzz/regressions/{target}/ has no inputs");
        replay(target, body, &inputs);
    }
}

#[test]
fn every_seed_passes() {
    for (target, body) in TARGETS {
        let mut inputs = files(&top().join("fuzz/seeds").join(target));
        if target == "scenario" {
            // The lessons are scenario seeds too, referenced rather than copied.
            inputs.extend(
                files(&top().join("scenarios"))
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "toml")),
            );
        }
        assert!(!inputs.is_empty(), "no seeds for `{target}`");
        replay(target, body, &inputs);
    }
}

/// The scenario seeds are valid files, so the round trip `to_toml` -> `parse` runs on each from
/// the start (a seed the parser rejects would only exercise error paths).
#[test]
fn every_scenario_seed_parses() {
    let mut seeds = files(&top().join("fuzz/seeds/scenario"));
    seeds.extend(
        files(&top().join("scenarios")).into_iter().filter(|p| p.extension().is_some_and(|x| x == "toml")),
    );
    for path in seeds {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = udplab_scenario::parse_bytes(&bytes, &path.display().to_string()) {
            panic!("{e}");
        }
    }
}

/// The UDP payload of a captured IPv4 packet (udplab's packets carry no IP options, but the
/// header length is read anyway).
fn udp_payload(packet: &[u8]) -> &[u8] {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    &packet[ihl + 8..]
}

/// The first datagram of a lesson run whose UDP payload satisfies `pick`: `copy` false for
/// what a sender offered to a link, true for what came out of one (damage included).
fn from_lesson(lesson: &str, copy: bool, pick: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let path = top().join("scenarios").join(lesson);
    let scenario = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let (_, captured) = Sim::new(scenario).run_with_capture(seed).expect("lesson runs");
    captured
        .iter()
        .filter(|c| c.copy.is_some() == copy)
        .map(|c| udp_payload(&c.packet))
        .find(|p| pick(p))
        .unwrap_or_else(|| panic!("no such datagram in {lesson}"))
        .to_vec()
}

/// The seeds of `wire` and `app_receive`, made from real lesson runs: a data datagram
/// (lesson 01), an acknowledgement (lesson 06), a datagram damaged by the corruption lesson
/// (07), and a header cut short. `app_receive` seeds deliver them to each kind of app.
fn seeds() -> BTreeMap<String, Vec<u8>> {
    let is = |want: fn(&Label) -> bool| move |p: &[u8]| Label::of_payload(p).as_ref().is_some_and(want);
    let data = from_lesson("01-perfect-link.toml", false, is(|l| matches!(l, Label::Data { seq: 1, .. })));
    let ack = from_lesson("06-reliable-heavy-loss.toml", false, is(|l| matches!(l, Label::Ack { .. })));
    let damaged = from_lesson("07-corruption.toml", true, |p| {
        Datagram::new_checked(p).is_ok_and(|d| Repr::parse(&d).is_err() && Repr::parse_unverified(&d).is_ok())
    });
    let truncated = data[..27].to_vec();

    let mut s = BTreeMap::new();
    for (name, bytes) in [("data", &data), ("ack", &ack), ("damaged", &damaged), ("truncated", &truncated)] {
        s.insert(format!("wire/{name}"), bytes.clone());
    }
    // Record targets: 0 laptop, 1 board, 2 rlaptop, 3 rboard, 4 sink (app_receive::TARGETS).
    // Waits of 1 step (20 ms) let the clients send seq 1 first, so a reply or ack can match it.
    let enc = app_receive::encode;
    s.insert("app_receive/reply-to-laptop".into(), enc(0, false, 1, &data));
    s.insert("app_receive/data-to-board".into(), enc(1, false, 0, &data));
    s.insert("app_receive/ack-to-rlaptop".into(), enc(2, false, 1, &ack));
    s.insert("app_receive/data-to-rboard".into(), enc(3, false, 0, &data));
    s.insert("app_receive/damaged-to-sink".into(), enc(4, false, 0, &damaged));
    let mut mixed = enc(3, false, 0, &truncated);
    mixed.extend(enc(1, false, 1, &damaged));
    mixed.extend(enc(2, true, 2, &damaged));
    s.insert("app_receive/mixed".into(), mixed);
    s
}

/// The committed seeds are what [`seeds`] makes. To regenerate them after a wire-format or
/// lesson change: `UDPLAB_WRITE_SEEDS=1 cargo test -p udplab-fuzz --test replay`.
#[test]
fn committed_seeds_are_the_ones_the_lessons_give() {
    let dir = top().join("fuzz/seeds");
    let want = seeds();
    if std::env::var_os("UDPLAB_WRITE_SEEDS").is_some() {
        for (name, bytes) in &want {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let mut have = BTreeMap::new();
    for target in ["wire", "app_receive"] {
        for path in files(&dir.join(target)) {
            let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
            have.insert(name, std::fs::read(&path).unwrap());
        }
    }
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "seed files differ; regenerate with UDPLAB_WRITE_SEEDS=1 (and remove stale ones)"
    );
    for (name, bytes) in &want {
        assert_eq!(&have[name], bytes, "fuzz/seeds/{name} is stale; regenerate with UDPLAB_WRITE_SEEDS=1");
    }
}
