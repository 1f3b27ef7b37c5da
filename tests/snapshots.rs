//! Snapshots of every lesson's timeline and summary. A change to the core that alters what a
//! lesson shows must be reviewed here (`cargo insta review`), line by line.

use udplab_tests::lesson_files;

#[test]
fn every_lesson_prints_a_reviewed_timeline_and_summary() {
    let files = lesson_files();
    assert!(files.len() >= 6, "expected at least six lessons, found {}", files.len());
    for path in files {
        let scenario = udplab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let out = udplab_teach::run_scenario(&scenario, scenario.seed).expect("lesson starts");
        assert!(out.failures.is_empty(), "{}: expectations fail: {:?}", path.display(), out.failures);
        let again = udplab_teach::run_scenario(&scenario, scenario.seed).expect("lesson starts");
        assert_eq!(out.text(), again.text(), "{}: two runs differ", path.display());
        assert_eq!(out.json(), again.json(), "{}: two JSON runs differ", path.display());
        let name = path.file_stem().expect("file name").to_string_lossy().into_owned();
        insta::assert_snapshot!(name, out.text());
    }
}

#[test]
fn a_lesson_run_with_another_seed_changes_its_fates() {
    let path = lesson_files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("random-loss"))
        .expect("random-loss lesson");
    let scenario = udplab_scenario::load(&path).unwrap();
    let a = udplab_teach::run_scenario(&scenario, scenario.seed).unwrap();
    let b = udplab_teach::run_scenario(&scenario, scenario.seed + 1).unwrap();
    assert_ne!(a.timeline, b.timeline);
}
