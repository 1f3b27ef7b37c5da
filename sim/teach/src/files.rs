//! Writing output files as a careful Unix tool does.
//!
//! - A regular file (new or existing) is written whole: into a temporary file in the same folder,
//!   then renamed over the target, so a reader (a browser reloading the report, Wireshark, a test)
//!   never sees half a file and a failed run leaves the previous file as it was.
//! - A symlink is followed: the file it points to is replaced that way, the link stays a link.
//! - `-`, anything that is not a regular file (a device such as `/dev/full`, a FIFO, a socket)
//!   and any path under `/dev/` or `/proc/` (such as `/dev/stdout`, which may resolve to the
//!   regular file the shell redirected stdout to) are written in place: replacing them would
//!   swap a device node for a file, or cut the shell's redirect off.
//!
//! Error messages name the path the user gave, never the temporary file.

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

/// Where the bytes for a path go.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `-`: standard output.
    Stdout,
    /// Opened and written where it is (devices, FIFOs, `/dev/...`, `/proc/...`).
    InPlace(PathBuf),
    /// A regular file, to be replaced atomically; the path has its symlinks resolved.
    Replace(PathBuf),
}

/// Symlinks followed before giving up (as the kernel's own limit, ELOOP).
const MAX_LINKS: usize = 40;

fn target(path: &Path) -> Result<Target, WriteError> {
    let fail = |message: String| WriteError { path: path.to_path_buf(), message };
    if path.as_os_str() == "-" {
        return Ok(Target::Stdout);
    }
    if path.starts_with("/dev") || path.starts_with("/proc") {
        return Ok(Target::InPlace(path.to_path_buf()));
    }
    let mut real = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&real) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Replace(real)),
            Err(e) => return Err(fail(plain(&e))),
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&real).map_err(|e| fail(plain(&e)))?;
                real = folder_of(&real).join(to);
            }
            Ok(m) if m.is_dir() => return Err(fail("it is a folder".to_string())),
            Ok(m) if m.is_file() => return Ok(Target::Replace(real)),
            Ok(_) => return Ok(Target::InPlace(real)),
        }
    }
    Err(fail(format!("more than {MAX_LINKS} symbolic links in a row")))
}

/// Writes `bytes` to `path` as the module explains. A replaced or new regular file is readable by
/// everyone (mode 0644 on Unix), like a file written directly.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_with(path, &mut |out| out.write_all(bytes))
}

/// Writes what `fill` writes to `path` as [`write`] does.
fn write_with(
    path: &Path,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let fail = |e: std::io::Error| WriteError { path: path.to_path_buf(), message: plain(&e) };
    match target(path)? {
        Target::Stdout => {
            let mut out = std::io::stdout().lock();
            fill(&mut out).and_then(|()| out.flush()).map_err(fail)
        }
        Target::InPlace(real) => {
            let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(real).map_err(fail)?;
            fill(&mut file).and_then(|()| file.flush()).map_err(fail)
        }
        Target::Replace(real) => {
            let mut tmp = temporary_beside(path, &real)?;
            fill(&mut tmp).and_then(|()| tmp.flush()).map_err(fail)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
            }
            tmp.persist(&real).map_err(|e| fail(e.error))?;
            Ok(())
        }
    }
}

/// A file written as a run goes whose head is known only at its end (a pcapng's section
/// header says whether the run finished): the body goes to an unnamed temporary file (beside
/// the target when that is a regular file, so it is on the same disk; the system's temporary
/// folder otherwise) and [`Parts::commit`] writes head then body to the target as [`write()`]
/// does. Memory stays a buffer's, whatever the size; a run that never commits leaves nothing.
#[derive(Debug)]
pub struct Parts {
    path: PathBuf,
    body: std::io::BufWriter<std::fs::File>,
}

impl Parts {
    pub fn create(path: &Path) -> Result<Parts, WriteError> {
        let fail = |e: std::io::Error| WriteError { path: path.to_path_buf(), message: plain(&e) };
        let body = match target(path)? {
            Target::Replace(real) => {
                // The same checks (and messages) as the file the commit will rename.
                drop(temporary_beside(path, &real)?);
                tempfile::tempfile_in(folder_of(&real)).map_err(fail)?
            }
            Target::Stdout | Target::InPlace(_) => tempfile::tempfile().map_err(fail)?,
        };
        Ok(Parts { path: path.to_path_buf(), body: std::io::BufWriter::with_capacity(64 * 1024, body) })
    }

    /// The path the user gave.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the body goes.
    pub fn body(&mut self) -> &mut dyn Write {
        &mut self.body
    }

    /// What a failed body write says (the path the user gave, as every write error here).
    pub fn error(&self, e: &std::io::Error) -> WriteError {
        WriteError { path: self.path.clone(), message: plain(e) }
    }

    /// Writes `head` and then the body to the target.
    pub fn commit(self, head: &[u8]) -> Result<(), WriteError> {
        use std::io::{Seek, SeekFrom};
        let fail = |e: std::io::Error| WriteError { path: self.path.clone(), message: plain(&e) };
        let mut body = self.body.into_inner().map_err(|e| fail(e.into_error()))?;
        body.seek(SeekFrom::Start(0)).map_err(fail)?;
        write_with(&self.path, &mut |out| {
            out.write_all(head)?;
            std::io::copy(&mut body, out).map(drop)
        })
    }
}

/// Checks, before a long run, that [`write`] will be able to write `path`: for a regular file,
/// creates (and removes) the same temporary file it would; for anything written in place,
/// checks that it can be opened for writing (without truncating it). A FIFO is not opened (that
/// would wait for a reader).
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    match target(path)? {
        Target::Stdout => Ok(()),
        Target::InPlace(real) => {
            let is_fifo = {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::FileTypeExt;
                    std::fs::metadata(&real).is_ok_and(|m| m.file_type().is_fifo())
                }
                #[cfg(not(unix))]
                false
            };
            if is_fifo {
                return Ok(());
            }
            std::fs::OpenOptions::new()
                .write(true)
                .open(&real)
                .map(drop)
                .map_err(|e| WriteError { path: path.to_path_buf(), message: plain(&e) })
        }
        Target::Replace(real) => temporary_beside(path, &real).map(drop),
    }
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary file [`write`] fills and then renames over `real` (the resolved `path`).
fn temporary_beside(path: &Path, real: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    let fail = |message: String| WriteError { path: path.to_path_buf(), message };
    let folder = folder_of(real);
    match std::fs::metadata(folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(fail(format!("{} is not a folder", folder.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!("the folder {} does not exist", folder.display())));
        }
        Err(e) => return Err(fail(format!("{}: {}", folder.display(), plain(&e)))),
    }
    tempfile::Builder::new()
        .prefix(".udplab-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|e| fail(format!("cannot create a file in {}: {}", folder.display(), plain(&e))))
}

/// What an I/O error says, without any path the library that raised it attached (tempfile
/// names its temporary file, which the user never asked for).
fn plain(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.kind().to_string(),
    }
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
        assert!(err.to_string().contains("missing") && err.to_string().contains("does not exist"), "{err}");
        assert!(!err.to_string().contains(".udplab-"), "names the temporary file: {err}");
        let err = write(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("folder"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.svg");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.svg");
        std::os::unix::fs::symlink("real.svg", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.svg");
        std::os::unix::fs::symlink("made.svg", &dangling).unwrap();
        write(&dangling, b"made").unwrap();
        assert_eq!(std::fs::read(dir.path().join("made.svg")).unwrap(), b"made");
        assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        write(Path::new("/dev/null"), b"x").unwrap();
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        let err = write(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(err.to_string().contains("No space left"), "{err}");
        assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());

        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        check_writable(&fifo).unwrap();
        write(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn where_each_path_goes() {
        assert_eq!(target(Path::new("-")).unwrap(), Target::Stdout);
        assert_eq!(target(Path::new("/dev/stdout")).unwrap(), Target::InPlace("/dev/stdout".into()));
        assert_eq!(target(Path::new("/proc/self/fd/1")).unwrap(), Target::InPlace("/proc/self/fd/1".into()));
        assert_eq!(target(Path::new("new.svg")).unwrap(), Target::Replace("new.svg".into()));
    }
}
