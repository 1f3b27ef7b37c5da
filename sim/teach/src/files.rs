//! Writing output files whole: into a temporary file in the same folder, then renamed over the
//! target, so a reader (a browser reloading the report, Wireshark, a test) never sees half a file
//! and a failed run leaves the previous file as it was.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file that could not be written, and why.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for WriteError {}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename). The
/// file is readable by everyone (mode 0644 on Unix), like a file written directly.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let fail = |message: String| WriteError { path: path.to_path_buf(), message };
    let mut tmp = temporary_beside(path)?;
    tmp.write_all(bytes).and_then(|()| tmp.flush()).map_err(|e| fail(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    Ok(())
}

/// Checks, before a long run, that [`write`] will be able to write `path`: creates (and
/// removes) the same temporary file it would.
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    let folder = folder_of(path);
    if !folder.is_dir() {
        let message = format!("{} is not a directory", folder.display());
        return Err(WriteError { path: path.to_path_buf(), message });
    }
    temporary_beside(path).map(drop)
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary file [`write`] fills and then renames over `path`.
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    let fail = |message: String| WriteError { path: path.to_path_buf(), message };
    let folder = folder_of(path);
    if path.is_dir() {
        return Err(fail("it is a folder".to_string()));
    }
    tempfile::Builder::new()
        .prefix(".udplab-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|e| fail(format!("cannot create a file in {}: {e}", folder.display())))
}

/// Whether `path` names a Markdown file (`.md`, `.markdown`).
pub fn is_markdown(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.svg");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = write(&dir.path().join("missing/out.svg"), b"x").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let err = write(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("folder"), "{err}");
    }
}
