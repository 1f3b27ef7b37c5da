//! A private network namespace for the calling thread, and the `ip` commands that set it up.

use std::fmt;
use std::process::Command;

/// What stops a TAP run from starting, with what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks, without changing anything, that this process can create a namespace and a TAP.
pub fn check_privileges() -> Result<(), Missing> {
    if !is_root() {
        return Err(Missing(
            "a TAP run needs CAP_NET_ADMIN and CAP_SYS_ADMIN (to create a network namespace and a TAP device): \
             run it as root, e.g. `sudo udplab tap FILE`"
                .into(),
        ));
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        return Err(Missing(format!(
            "cannot open /dev/net/tun ({e}): load the tun module (`modprobe tun`) or, in a container, \
             pass the device through (`--device /dev/net/tun`)"
        )));
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Err(Missing(
            "the `ip` command is missing: install iproute2 (`apt-get install iproute2`)".into(),
        ));
    }
    Ok(())
}

fn is_root() -> bool {
    // /proc/self/status "Uid: real effective saved fs"; effective is what counts.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Moves the calling thread into a new, empty network namespace (only `lo`, brought up).
/// Sockets and devices this thread creates from now on live there; the namespace goes away
/// when the last of them and the thread are gone.
pub fn enter_new_namespace() -> Result<(), Missing> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| Missing(format!("unshare(CLONE_NEWNET) failed: {e}; run as root")))?;
    ip(&["link", "set", "lo", "up"])
}

/// Runs `ip ARGS` in the calling thread's namespace.
pub fn ip(args: &[&str]) -> Result<(), Missing> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Missing(format!("cannot run `ip {}`: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Missing(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The path a user can hand to `nsenter --net=` to enter this thread's namespace.
pub fn namespace_path() -> String {
    // /proc/thread-self links to "PID/task/TID".
    match std::fs::read_link("/proc/thread-self") {
        Ok(p) => format!("/proc/{}/ns/net", p.display()),
        Err(_) => format!("/proc/{}/ns/net", std::process::id()),
    }
}
