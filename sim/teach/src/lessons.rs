//! The pictures of the lessons guide (`docs/lessons.md`), generated from real runs of the
//! lessons in `scenarios/`: an SVG ladder per lesson (`docs/lessons/NN-name.svg`), sweep plots
//! for the lessons whose knob is a parameter (`docs/lessons/NN-name-sweep.svg`), and the Mermaid
//! ladders embedded in the guide between markers:
//!
//! ~~~text
//! <!-- udplab:mermaid 02-random-loss -->
//! ```mermaid
//! ...
//! ```
//! <!-- udplab:end -->
//! ~~~
//!
//! A test regenerates all of it and fails when the committed files differ; with
//! `UDPLAB_REGENERATE=1` it writes them instead (see `tests/lessons.rs`).

use std::path::{Path, PathBuf};

use super::story::Story;
use super::sweep::{self, Plan};
use super::{mermaid, svg};

/// The lessons whose knob the guide shows as a sweep: (lesson file stem, `--vary` arguments,
/// `--seeds`).
pub const SWEEPS: &[(&str, &[&str], &str)] = &[
    ("02-random-loss", &["loss=0..0.5:0.05"], "1..5"),
    ("04-reordering", &["reorder=0..0.5:0.1"], "1..5"),
    ("06-reliable-heavy-loss", &["loss=0..0.5:0.1", "reliable=false,true"], "1..5"),
    ("08-outage-and-rate", &["interval=10ms..50ms:5ms"], "8"),
    ("09-replayed-capture", &["worse=1..4:1", "reliable=false,true"], "1..10"),
];

/// One generated file, its path relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub contents: String,
}

/// The lesson files in `root/scenarios`, sorted.
pub fn lesson_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join("scenarios");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every lesson of this repository, parsed: what the crate's unit tests run.
#[cfg(test)]
pub(crate) fn parsed_lessons() -> Vec<udplab_sim::Scenario> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = lesson_files(&root).unwrap();
    assert!(files.len() >= 8, "{files:?}");
    files.iter().map(|f| udplab_scenario::load(f).unwrap()).collect()
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every picture file of the guide.
pub fn artifacts(root: &Path) -> Result<Vec<Artifact>, String> {
    let mut out = Vec::new();
    for path in lesson_files(root)? {
        let scenario = udplab_scenario::load(&path).map_err(|e| e.to_string())?;
        let run = crate::run::run_scenario(&scenario, scenario.seed).map_err(|e| e.to_string())?;
        let story = Story::new(&scenario, &run.trace);
        let name = stem(&path);
        out.push(Artifact {
            path: PathBuf::from(format!("docs/lessons/{name}.svg")),
            contents: svg::ladder(&story, run.seed),
        });
        if let Some((_, vary, seeds)) = SWEEPS.iter().find(|(n, ..)| *n == name) {
            let vary: Vec<String> = vary.iter().map(|s| s.to_string()).collect();
            let plan = Plan::parse(&vary, Some(seeds), scenario.seed)?;
            let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
            let rows = sweep::run(&scenario, &plan, jobs, false)?;
            let title = format!("udplab sweep of {name}");
            let args = sweep::output::arguments(&vary, Some(seeds));
            out.push(Artifact {
                path: PathBuf::from(format!("docs/lessons/{name}-sweep.svg")),
                contents: sweep::output::plot(&title, &args, &plan, &rows),
            });
        }
    }
    Ok(out)
}

/// The Mermaid ladder of every lesson: (file stem, diagram).
pub fn mermaid_blocks(root: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for path in lesson_files(root)? {
        let scenario = udplab_scenario::load(&path).map_err(|e| e.to_string())?;
        let run = crate::run::run_scenario(&scenario, scenario.seed).map_err(|e| e.to_string())?;
        out.push((stem(&path), mermaid::render(&Story::new(&scenario, &run.trace), run.seed)));
    }
    Ok(out)
}

const BEGIN: &str = "<!-- udplab:mermaid ";
const END: &str = "<!-- udplab:end -->";

/// `guide` with the block after each `<!-- udplab:mermaid NAME -->` marker replaced by that
/// lesson's diagram. Every lesson must have exactly one block, and every block a lesson.
pub fn update_guide(guide: &str, blocks: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(guide.len());
    let mut rest = guide;
    let mut seen: Vec<&str> = Vec::new();
    while let Some(at) = rest.find(BEGIN) {
        let after = &rest[at + BEGIN.len()..];
        let Some(close) = after.find("-->") else {
            return Err("a `<!-- udplab:mermaid` marker is not closed with `-->`".to_string());
        };
        let name = after[..close].trim();
        let Some((_, diagram)) = blocks.iter().find(|(n, _)| n == name) else {
            return Err(format!("the guide has a Mermaid block for `{name}`, which is not a lesson"));
        };
        if seen.contains(&name) {
            return Err(format!("the guide has two Mermaid blocks for `{name}`"));
        }
        seen.push(name);
        let body_start = at + BEGIN.len() + close + 3;
        let Some(end) = rest[body_start..].find(END) else {
            return Err(format!("the Mermaid block for `{name}` has no `{END}`"));
        };
        out.push_str(&rest[..body_start]);
        out.push_str("\n```mermaid\n");
        out.push_str(diagram);
        out.push_str("```\n");
        rest = &rest[body_start + end..];
    }
    out.push_str(rest);
    if let Some((missing, _)) = blocks.iter().find(|(n, _)| !seen.contains(&n.as_str())) {
        return Err(format!(
            "the guide has no Mermaid block for lesson `{missing}`: add `{BEGIN}{missing} -->` and `{END}` lines"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_blocks_are_replaced_and_checked() {
        let blocks = vec![("a".to_string(), "sequenceDiagram\n".to_string())];
        let guide = "intro\n<!-- udplab:mermaid a -->\nold\n<!-- udplab:end -->\nend\n";
        let new = update_guide(guide, &blocks).unwrap();
        assert_eq!(
            new,
            "intro\n<!-- udplab:mermaid a -->\n```mermaid\nsequenceDiagram\n```\n<!-- udplab:end -->\nend\n"
        );
        assert_eq!(update_guide(&new, &blocks).unwrap(), new);
        assert!(update_guide("nothing", &blocks).unwrap_err().contains("no Mermaid block for lesson `a`"));
        assert!(update_guide("<!-- udplab:mermaid b -->\n<!-- udplab:end -->", &blocks).is_err());
    }
}
