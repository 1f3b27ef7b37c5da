//! Scenarios built into a firmware image: what an ESP32 image's `build.rs` calls.
//!
//! [`embed`] parses scenario files with this crate's parser, serialises each as compact JSON into
//! the build's `OUT_DIR`, and writes `scenarios.rs` there: the table the image includes,
//!
//! ```text
//! /// Every scenario built into the image: (name, JSON bytes), in `list` order.
//! pub static SCENARIOS: &[(&str, &[u8])] = &[
//!     ("telemetry", include_bytes!("/.../out/scenario-0.json")),
//! ];
//! ```
//!
//! so a broken scenario fails the image's build with the same `file:line:column` message as
//! `udplab run`, instead of failing on the board. A scenario's name is its file stem (one console
//! word); when two files have the same stem, the later one takes the earlier one's place.
//!
//! Why JSON and not postcard: the model's enums are internally tagged (`Role` has
//! `#[serde(tag = "role")]`, `Loss` `#[serde(tag = "model")]`, so `udplab run --json` reads
//! well), and internally tagged enums need a self-describing format to deserialise; postcard
//! answers "This is a feature that PostCard will never implement". serde_json runs in
//! `no_std` + `alloc` on the chip, and a scenario is about a kilobyte of it. Every scenario is
//! read back here, on the host, so a model the chip could not decode fails the build.
//!
//! A build script usually needs only [`build_script`]:
//!
//! ```no_run
//! // The body of `fn main` in a firmware image's build.rs:
//! udplab_scenario::embed::build_script(&["../scenarios/telemetry.toml"]);
//! ```

use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ScenarioError;

/// Longest scenario name (file stem) accepted: the console's lines are at most 120 bytes.
pub const NAME_MAX: usize = 64;

/// Why the scenarios could not be embedded.
#[derive(Debug)]
pub enum EmbedError {
    /// A file does not parse (or cannot be read): the parser's `file:line:column` message.
    Scenario(ScenarioError),
    /// A file's stem cannot be a scenario name (a console word).
    Name { path: PathBuf },
    /// The scenario does not survive the round trip through JSON (a model the chip cannot read).
    RoundTrip { path: PathBuf, message: String },
    /// Reading a folder or writing into `OUT_DIR` failed.
    Io { path: PathBuf, error: io::Error },
}

impl fmt::Display for EmbedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmbedError::Scenario(e) => write!(f, "{e}"),
            EmbedError::Name { path } => write!(
                f,
                "{}: a scenario's name (its file stem) must be 1 to {NAME_MAX} printable ASCII characters without spaces",
                path.display()
            ),
            EmbedError::RoundTrip { path, message } => write!(f, "{}: {message}", path.display()),
            EmbedError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for EmbedError {}

/// The `*.toml` files directly inside `dir`, sorted by path (so `list` order is file order).
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, EmbedError> {
    let io = |error| EmbedError::Io { path: dir.to_owned(), error };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The name a file gets in the image: its stem, which must be one console word.
pub fn scenario_name(path: &Path) -> Result<String, EmbedError> {
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(name)
            if !name.is_empty() && name.len() <= NAME_MAX && name.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(name.to_owned())
        }
        _ => Err(EmbedError::Name { path: path.to_owned() }),
    }
}

/// Parses `files`, writes one `scenario-N.json` per scenario and the table `scenarios.rs` into
/// `out_dir`, and returns the embedded names in table order. Files are only rewritten when
/// their contents change, so an unchanged table does not recompile the image.
pub fn embed<P: AsRef<Path>>(files: &[P], out_dir: &Path) -> Result<Vec<String>, EmbedError> {
    let mut entries: Vec<(String, &Path)> = Vec::new();
    for file in files {
        let path = file.as_ref();
        let name = scenario_name(path)?;
        match entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = path,
            None => entries.push((name, path)),
        }
    }
    let mut table =
        String::from("/// Every scenario built into the image: (name, JSON bytes), in `list` order.\n");
    table.push_str("pub static SCENARIOS: &[(&str, &[u8])] = &[\n");
    for (i, (name, path)) in entries.iter().enumerate() {
        let bytes = to_json(path)?;
        let file = out_dir.join(format!("scenario-{i}.json"));
        write_if_changed(&file, &bytes)?;
        let _ = writeln!(table, "    ({name:?}, include_bytes!({:?})),", file.display().to_string());
    }
    table.push_str("];\n");
    write_if_changed(&out_dir.join("scenarios.rs"), table.as_bytes())?;
    Ok(entries.into_iter().map(|(name, _)| name).collect())
}

/// The scenario in `path` as the compact JSON the chip decodes, checked by reading it back.
///
/// The description is left out: it is for people reading the file or the host's reports, the
/// chip never prints it, and over the lessons it is about 4 KB of flash.
pub fn to_json(path: &Path) -> Result<Vec<u8>, EmbedError> {
    let mut scenario = crate::load(path).map_err(EmbedError::Scenario)?;
    scenario.description.clear();
    let round_trip = |message: String| EmbedError::RoundTrip { path: path.to_owned(), message };
    let bytes = serde_json::to_vec(&scenario).map_err(|e| round_trip(format!("cannot serialise: {e}")))?;
    match serde_json::from_slice::<udplab_sim::Scenario>(&bytes) {
        Ok(back) if back == scenario => Ok(bytes),
        Ok(_) => Err(round_trip("the serialised scenario reads back different".to_owned())),
        Err(e) => Err(round_trip(format!("the serialised scenario does not read back: {e}"))),
    }
}

/// Writes only when the contents change.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<(), EmbedError> {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    fs::write(path, contents).map_err(|error| EmbedError::Io { path: path.to_owned(), error })
}

/// All a firmware image's `build.rs` needs: embeds `files` (relative paths are taken from the
/// package's folder, where cargo runs build scripts) into `$OUT_DIR`, tells cargo to rebuild when
/// one of them changes, and on any error prints it and fails the build.
pub fn build_script<P: AsRef<Path>>(files: &[P]) {
    for file in files {
        println!("cargo:rerun-if-changed={}", file.as_ref().display());
    }
    let Some(out) = std::env::var_os("OUT_DIR") else {
        eprintln!("error: OUT_DIR is not set (udplab_scenario::embed::build_script runs in a build script)");
        std::process::exit(1)
    };
    if let Err(e) = embed(files, Path::new(&out)) {
        eprintln!("{e}");
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("udplab-embed-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    const PAIR: &str = r#"
        duration = "1s"
        [[node]]
        name = "a"
        addr = "10.0.0.1"
        role = "code"
        [[node]]
        name = "b"
        addr = "10.0.0.2"
        role = "code"
    "#;

    #[test]
    fn writes_the_table_and_json_that_reads_back() {
        let dir = temp_dir("ok");
        let (one, two) = (dir.join("one.toml"), dir.join("two.toml"));
        fs::write(&one, PAIR).unwrap();
        fs::write(&two, PAIR.replace("1s", "2s")).unwrap();
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        assert_eq!(embed(&toml_files(&dir).unwrap(), &out).unwrap(), ["one", "two"]);
        let table = fs::read_to_string(out.join("scenarios.rs")).unwrap();
        assert!(table.contains("pub static SCENARIOS: &[(&str, &[u8])]"), "{table}");
        assert!(table.contains("(\"one\", include_bytes!(") && table.contains("scenario-1.json"), "{table}");
        let back: udplab_sim::Scenario =
            serde_json::from_slice(&fs::read(out.join("scenario-1.json")).unwrap()).unwrap();
        assert_eq!(back.duration_us, 2_000_000);
        // A later file with the same stem takes the earlier one's place.
        let other = dir.join("sub");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("one.toml"), PAIR.replace("1s", "3s")).unwrap();
        let names = embed(&[one.clone(), two, other.join("one.toml")], &out).unwrap();
        assert_eq!(names, ["one", "two"]);
        let back: udplab_sim::Scenario =
            serde_json::from_slice(&fs::read(out.join("scenario-0.json")).unwrap()).unwrap();
        assert_eq!(back.duration_us, 3_000_000);
        let _ = fs::remove_dir_all(&dir);
    }

    /// The chip never prints a description, so the image does not carry one; everything else
    /// reads back as the file says.
    #[test]
    fn the_embedded_json_is_the_scenario_without_its_description() {
        let dir = temp_dir("description");
        let file = dir.join("described.toml");
        fs::write(&file, format!("description = \"a long story for people\"\n{PAIR}")).unwrap();
        let bytes = to_json(&file).unwrap();
        let mut parsed = crate::load(&file).unwrap();
        assert_eq!(parsed.description, "a long story for people");
        assert!(!String::from_utf8_lossy(&bytes).contains("a long story"));
        parsed.description.clear();
        assert_eq!(serde_json::from_slice::<udplab_sim::Scenario>(&bytes).unwrap(), parsed);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_broken_file_fails_with_file_line_and_column() {
        let dir = temp_dir("bad");
        let bad = dir.join("bad.toml");
        fs::write(&bad, PAIR.replace("addr = \"10.0.0.2\"", "adr = \"10.0.0.2\"")).unwrap();
        let err = embed(&[&bad], &dir).unwrap_err().to_string();
        assert!(err.contains("bad.toml:9:"), "{err}");
        assert!(err.contains("adr"), "{err}");
        let spaced = dir.join("two words.toml");
        fs::write(&spaced, PAIR).unwrap();
        let err = embed(&[&spaced], &dir).unwrap_err().to_string();
        assert!(err.contains("file stem"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
