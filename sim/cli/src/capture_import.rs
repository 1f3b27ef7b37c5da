//! `udplab capture-import`: a capture of a real network in, link traces and a fitted model out
//! (see `udplab_capture`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use udplab_capture::{self as capture, Options, SeqField};

use crate::exit::{EXIT_BAD_INPUT, EXIT_IO};

/// What the command was asked.
pub struct Request {
    pub files: Vec<PathBuf>,
    pub seq_at: Option<String>,
    pub seq_kind: String,
    pub at: Option<std::net::Ipv4Addr>,
    pub same_clock: bool,
    pub names: Vec<String>,
    pub out: Option<PathBuf>,
    pub quiet: bool,
}

pub fn main(req: Request) -> ExitCode {
    let bad = |msg: String| {
        crate::say!("error: {msg}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if req.files.is_empty() || req.files.len() > 2 {
        return bad(format!(
            "give one capture (taken at one end) or two (one at each end), not {}",
            req.files.len()
        ));
    }
    // The kind names the replay's labels for the whole run: leaked once, like a literal.
    let kind: &'static str = Box::leak(req.seq_kind.clone().into_boxed_str());
    let seq_at = match req.seq_at.as_deref().map(|s| SeqField::parse(s, kind)).transpose() {
        Ok(s) => s,
        Err(e) => return bad(format!("--seq-at: {e}")),
    };
    let mut names = Vec::new();
    for n in &req.names {
        let Some((a, name)) = n.split_once('=') else {
            return bad(format!("--name: expected ADDRESS=NODE like 10.0.0.2=board, found {n:?}"));
        };
        let Ok(addr) = a.parse::<std::net::Ipv4Addr>() else {
            return bad(format!("--name: {a:?} is not an IPv4 address"));
        };
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || name.len() > 16 || !name.chars().all(ok) {
            return bad(format!("--name: {name:?} is not a node name (1 to 16 letters, digits, `_` or `-`)"));
        }
        names.push((addr.octets(), name.to_owned()));
    }
    let opts = Options { seq_at, at: req.at.map(|a| a.octets()), same_clock: req.same_clock };
    let files: Vec<&Path> = req.files.iter().map(PathBuf::as_path).collect();
    let import = match capture::import(&files, &opts, &names) {
        Ok(i) => i,
        Err(e) => return bad(e.to_string()),
    };
    if let Some(dir) = &req.out
        && let Err(e) = write_out(&import, dir)
    {
        crate::say!("error: {e}");
        return ExitCode::from(EXIT_IO);
    }
    if req.quiet {
        return ExitCode::SUCCESS;
    }
    let mut text = import.to_string();
    if let Some(dir) = &req.out {
        text.push_str(&format!(
            "\nwrote {} trace file(s) and {} (the [[link]] sections to paste into a scenario)\n",
            import.paths.len(),
            dir.join("links.toml").display()
        ));
    }
    match crate::streams::to_stdout(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_IO),
    }
}

/// Writes every trace and `links.toml` into `dir` (created if missing), each file whole or not
/// at all.
fn write_out(import: &capture::Import, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    for p in &import.paths {
        let path = dir.join(import.trace_file_name(p));
        udplab_teach::files::write(&path, import.trace_file(p).as_bytes()).map_err(|e| e.to_string())?;
    }
    let links = dir.join("links.toml");
    udplab_teach::files::write(&links, import.link_sections("").as_bytes()).map_err(|e| e.to_string())
}
