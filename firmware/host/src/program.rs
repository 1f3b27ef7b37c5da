//! Someone else's program as a scenario node (`udplab tap --exec NODE=COMMAND`): a student's
//! Python client, a developer's server, anything that speaks UDP through the kernel.
//!
//! The program runs on the kernel side of the TAP, in the run's network namespace (a child
//! forked from the thread that entered it inherits it), so its datagrams to the firmware cross
//! the scenario's links like a kernel peer's. It runs as the user behind `sudo` (not root), in
//! a process group of its own, and the group is killed when the run ends, whatever way it
//! ends: normally, on a limit or a signal (here, SIGTERM then SIGKILL), or with udplab killed
//! outright (the kernel's parent-death signal kills the program's first process; anything it
//! started and left behind can reach nothing: the namespace has no route out).

use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// What the program is told about where it runs, through its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The scenario node the program stands in for.
    pub node: String,
    /// The node's address, on the TAP's kernel side: what the program sends from.
    pub addr: [u8; 4],
    /// The port the scenario gives the node (a server's `port`; 0 for a client).
    pub port: u16,
    /// Where the firmware listens (or, for a firmware client, where it sends from).
    pub firmware_addr: [u8; 4],
    pub firmware_port: u16,
}

/// One `--exec NODE=COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub node: String,
    /// Run by `/bin/sh -c`, so quoting, `cd dir && ...` and variables work as in a terminal.
    pub command: String,
}

impl std::str::FromStr for Exec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((node, command)) if !node.trim().is_empty() && !command.trim().is_empty() => {
                Ok(Exec { node: node.trim().to_string(), command: command.to_string() })
            }
            _ => Err(format!(
                "expected NODE=COMMAND (a node of the scenario, then the command line to run as it), \
                 for example laptop='python3 client.py'; got `{s}`"
            )),
        }
    }
}

/// How a program's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this status.
    Exited(i32),
    /// A signal it did not get from udplab killed it.
    Signalled(i32),
    /// It was still running when the run ended, and udplab stopped it.
    StoppedAtEnd,
}

/// What became of one program, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramEnd {
    pub node: String,
    pub command: String,
    pub ending: Ending,
    /// The node is a client: the run waits for its program, which must finish by itself.
    pub must_finish: bool,
}

impl ProgramEnd {
    /// Why this ending fails the run, if it does: a non-zero exit or a foreign signal always;
    /// being stopped at the end only for a client, which the run waited for in vain (a server's
    /// program serves until it is stopped).
    pub fn failure(&self) -> Option<String> {
        let who = format!("program for `{}` ({})", self.node, self.command);
        match self.ending {
            Ending::Exited(0) => None,
            Ending::Exited(code) => Some(format!("{who} exited with status {code}")),
            Ending::Signalled(sig) => Some(format!("{who} was killed by signal {sig}")),
            Ending::StoppedAtEnd if self.must_finish => {
                Some(format!("{who} had not finished when the run ended, and was stopped"))
            }
            Ending::StoppedAtEnd => None,
        }
    }

    /// One line for the summary.
    pub fn describe(&self) -> String {
        let how = match self.ending {
            Ending::Exited(code) => format!("exited with status {code}"),
            Ending::Signalled(sig) => format!("killed by signal {sig}"),
            Ending::StoppedAtEnd => "stopped at the end of the run".into(),
        };
        format!("program for `{}` ({}): {how}", self.node, self.command)
    }
}

/// A running program.
pub struct Program {
    pub node: usize,
    pub must_finish: bool,
    exec: Exec,
    child: Child,
    ended: Option<ExitStatus>,
}

/// The user `sudo` ran udplab for, when udplab runs as root under sudo: the program gets that
/// user's ids, not root's. `None`: run as udplab runs (root without sudo stays root).
fn invoking_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let id = |var: &str| std::env::var(var).ok()?.parse::<u32>().ok();
    match (id("SUDO_UID"), id("SUDO_GID")) {
        (Some(0), _) | (None, _) | (_, None) => None,
        (Some(uid), Some(gid)) => Some((uid, gid)),
    }
}

fn dotted(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

impl Program {
    /// Starts `exec` as `place.node`, its output on udplab's standard error (udplab's standard
    /// output stays the run's timeline or JSON), its standard input empty.
    pub fn start(node: usize, must_finish: bool, exec: &Exec, place: &Placement) -> Result<Program, String> {
        let err = |e: std::io::Error| format!("cannot start the program for `{}`: {e}", place.node);
        let stderr = || std::io::stderr().as_fd().try_clone_to_owned();
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&exec.command)
            .stdin(Stdio::null())
            .stdout(stderr().map_err(err)?)
            .stderr(stderr().map_err(err)?)
            .env("UDPLAB_NODE", &place.node)
            .env("UDPLAB_ADDR", dotted(place.addr))
            .env("UDPLAB_PORT", place.port.to_string())
            .env("UDPLAB_FIRMWARE_ADDR", dotted(place.firmware_addr))
            .env("UDPLAB_FIRMWARE_PORT", place.firmware_port.to_string())
            // A student's prints should show up as they happen, not when Python exits.
            .env("PYTHONUNBUFFERED", "1")
            .process_group(0);
        if let Some((uid, gid)) = invoking_user() {
            cmd.uid(uid).gid(gid);
        }
        let parent = nix::unistd::getpid();
        // SAFETY: between fork and exec only async-signal-safe calls: prctl and getppid.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                // udplab died between fork and prctl: the signal will never come.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("udplab is gone"));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(err)?;
        Ok(Program { node, must_finish, exec: exec.clone(), child, ended: None })
    }

    /// Whether the program has ended (checked without waiting).
    pub fn has_ended(&mut self) -> bool {
        if self.ended.is_none() {
            self.ended = self.child.try_wait().ok().flatten();
        }
        self.ended.is_some()
    }

    /// Stops the program's whole process group (SIGTERM, then SIGKILL after `grace`) and says
    /// how it ended. Members of the group that outlive its first process are killed too.
    pub fn stop(mut self, name: &str, grace: Duration) -> ProgramEnd {
        let group = Pid::from_raw(self.child.id() as i32);
        let ending = if self.has_ended() {
            self.ending_by_itself()
        } else {
            let _ = killpg(group, Signal::SIGTERM);
            let until = Instant::now() + grace;
            while !self.has_ended() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ending::StoppedAtEnd
        };
        let _ = killpg(group, Signal::SIGKILL);
        if self.ended.is_none() {
            self.ended = self.child.wait().ok();
        }
        let command = std::mem::take(&mut self.exec.command);
        ProgramEnd { node: name.to_string(), command, ending, must_finish: self.must_finish }
    }

    fn ending_by_itself(&self) -> Ending {
        let status = self.ended.expect("ended");
        match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(sig)) => Ending::Signalled(sig),
            (None, None) => Ending::Exited(-1),
        }
    }
}

/// Whether a UDP socket in the calling thread's network namespace is bound to `port` (any
/// address): what the run waits for before a program playing a server gets traffic.
pub fn udp_port_bound(port: u16) -> bool {
    // /proc/thread-self: this thread's namespace, which need not be the process's.
    let Ok(table) = std::fs::read_to_string("/proc/thread-self/net/udp") else { return false };
    table.lines().skip(1).any(|l| local_port(l) == Some(port))
}

/// The local port of one `/proc/net/udp` line: `  sl  local_address ...`, the address as
/// `HEXIP:HEXPORT`.
fn local_port(line: &str) -> Option<u16> {
    let local = line.split_whitespace().nth(1)?;
    u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
}

/// A run that ends by an error or a panic still takes its programs with it.
impl Drop for Program {
    fn drop(&mut self) {
        if self.ended.is_none() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_is_a_node_then_a_command_line() {
        let e: Exec = "laptop=python3 client.py --count 3".parse().unwrap();
        assert_eq!((e.node.as_str(), e.command.as_str()), ("laptop", "python3 client.py --count 3"));
        // Only the first `=` splits: the command may hold its own.
        let e: Exec = "board=env A=1 ./server".parse().unwrap();
        assert_eq!((e.node.as_str(), e.command.as_str()), ("board", "env A=1 ./server"));
        for bad in ["laptop", "=python3", "laptop=", " = "] {
            let err = bad.parse::<Exec>().unwrap_err();
            assert!(err.contains("NODE=COMMAND"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bound_port_is_read_from_the_kernels_table() {
        let line = "  123: 00000000:0D05 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 ffff 0";
        assert_eq!(local_port(line), Some(3333));
        assert_eq!(local_port("garbage"), None);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(udp_port_bound(sock.local_addr().unwrap().port()));
    }

    #[test]
    fn only_a_client_must_finish_and_only_failures_fail() {
        let end =
            |ending, must_finish| ProgramEnd { node: "n".into(), command: "c".into(), ending, must_finish };
        assert_eq!(end(Ending::Exited(0), true).failure(), None);
        assert!(end(Ending::Exited(3), false).failure().unwrap().contains("status 3"));
        assert!(end(Ending::Signalled(11), false).failure().unwrap().contains("signal 11"));
        assert!(end(Ending::StoppedAtEnd, true).failure().unwrap().contains("had not finished"));
        assert_eq!(end(Ending::StoppedAtEnd, false).failure(), None);
    }
}
