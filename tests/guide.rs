//! docs/testing-your-firmware.md, run as written: every file it shows is written into a fresh
//! crate next to a link to this checkout, every command it shows is run, commands marked
//! `# fails` / `# passes` must do so, and the output excerpt after a command must appear in what
//! the command printed. A guide that drifts from the code fails here, not in a reader's hands.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fenced block of the guide: its info string and its lines.
struct Block {
    info: String,
    lines: Vec<String>,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some(Block { info: info.trim().to_string(), lines: Vec::new() }),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(b), None) => b.lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    out
}

/// The file a block belongs in: its first line is `// file: PATH` or `# file: PATH`.
fn file_of(block: &Block) -> Option<&str> {
    let first = block.lines.first()?;
    first.strip_prefix("// file: ").or_else(|| first.strip_prefix("# file: "))
}

fn run(cmd: &str, dir: &Path, target: &Path) -> (bool, String) {
    let mut words: Vec<&str> = cmd.split_whitespace().collect();
    if words.len() > 1 && words[0] == "cargo" && ["test", "run"].contains(&words[1]) {
        // The machine that runs this has the registry cached already; never reach for the
        // network (before any `--`, which passes the rest to the program).
        words.insert(2, "--offline");
    }
    let mut c = Command::new(words[0]);
    c.args(&words[1..]).current_dir(dir).env("CARGO_TARGET_DIR", target).env_remove("CARGO_MANIFEST_DIR");
    let out = c.output().unwrap_or_else(|e| panic!("running `{cmd}`: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_testing_guide_works_as_written() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    let guide = std::fs::read_to_string(repo.join("docs/testing-your-firmware.md")).unwrap();
    let work = std::env::temp_dir().join(format!("udplab-guide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(&repo, work.join("udplab")).unwrap();
    // Its own target dir: a cargo inside `cargo test` must not wait on the outer one's lock.
    let target = repo.join("target/guide");

    let blocks = blocks(&guide);
    let mut crate_dir: Option<PathBuf> = None;
    let mut expect_output: Option<String> = None;
    let mut ran = 0;
    for (i, b) in blocks.iter().enumerate() {
        if let Some(path) = file_of(b) {
            let dir = crate_dir.as_ref().expect("a file block comes after `cargo new`");
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, b.lines.join("\n") + "\n").unwrap();
            if path == "Cargo.toml" {
                // Resolve to the versions this checkout was tested with (and has cached).
                std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
            }
            continue;
        }
        if b.info != "sh" {
            continue;
        }
        for line in &b.lines {
            let (cmd, mark) = match line.split_once('#') {
                Some((c, m)) => (c.trim(), m.trim()),
                None => (line.trim(), ""),
            };
            if cmd.is_empty() {
                continue;
            }
            let dir = crate_dir.clone().unwrap_or_else(|| work.clone());
            let (ok, output) = run(cmd, &dir, &target);
            ran += 1;
            match mark {
                m if m.starts_with("fails") => assert!(!ok, "`{cmd}` should fail:\n{output}"),
                _ => assert!(ok, "`{cmd}` failed:\n{output}"),
            }
            if let Some(name) = cmd.strip_prefix("cargo new --lib ") {
                crate_dir = Some(work.join(name));
            }
            // The excerpt shown right after a command is what it prints.
            if let Some(next) = blocks.get(i + 1).filter(|n| n.info == "text") {
                for want in next.lines.iter().filter(|l| !l.trim().is_empty()) {
                    assert!(output.contains(want.trim()), "`{cmd}` did not print {want:?}:\n{output}");
                }
            }
            expect_output = Some(output);
        }
    }
    assert!(ran >= 3 && expect_output.is_some(), "the guide's commands ran");
    std::fs::remove_dir_all(&work).unwrap();
}
