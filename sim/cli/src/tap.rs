//! `udplab tap`: the scenario over a real TAP device (see the `udplab-host` crate).

use std::process::ExitCode;

use udplab_sim::Sim;

#[cfg(target_os = "linux")]
use crate::exit::EXIT_BAD_INPUT;
use crate::exit::EXIT_ENVIRONMENT;
use crate::output::{Output, Pictures};

/// How the TAP run goes: which node is firmware, whether a person holds it, a wall-clock limit.
pub struct How {
    pub firmware: Option<String>,
    /// `--hold [SECONDS]` (0: until Ctrl-C).
    pub hold: Option<u64>,
    /// `--timeout SECONDS`.
    pub timeout: Option<u64>,
    /// `--exec NODE=COMMAND`, as given.
    pub exec: Vec<String>,
}

/// Runs `sim`'s scenario with its apps (`Sim::apps`) and labeller, one node as firmware on the
/// TAP. `pictures` are written as for `udplab run`: the pictures from the trace, the capture
/// from the bytes the TAP runner kept, with real-clock timestamps.
#[cfg(target_os = "linux")]
pub fn main(sim: &Sim<'_>, output: &Output, pictures: &Pictures, how: How) -> ExitCode {
    let How { firmware, hold, timeout, exec } = how;
    use std::time::Duration;
    use udplab_firmware::Role;
    use udplab_host::{Hooks, HostError, Ready, Stop, TapOptions, run_tap_apps};
    use udplab_sim::trace::Lines;

    let scenario = sim.scenario();
    let seed = output.seed.unwrap_or(scenario.seed);
    if firmware.is_none() && !scenario.nodes.iter().any(|n| matches!(n.role, Role::Server(_))) {
        let names: Vec<&str> = scenario.nodes.iter().map(|n| n.name.as_str()).collect();
        crate::say!(
            "error: the scenario has no server node to run as firmware by default: name the node with \
             --firmware NODE (its nodes: {})",
            names.join(", ")
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if hold.is_some() && output.json {
        crate::say!(
            "error: --hold prints each datagram's fate as it happens, as text; --json needs a finished run. \
             Hold without --json (and add --pcap/--html for files), or drop --hold for a JSON run"
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Err(e) = pictures.check_writable() {
        crate::say!("error: {e}");
        return ExitCode::from(crate::exit::EXIT_IO);
    }
    let apps = match sim.apps() {
        Ok(apps) => apps,
        Err(e) => {
            crate::say!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let opts = TapOptions {
        firmware,
        hold: hold.is_some(),
        hold_for: hold.filter(|s| *s > 0).map(Duration::from_secs),
        time_limit: timeout.map(Duration::from_secs),
        capture: pictures.pcap.is_some(),
        labeller: sim.current_labeller(),
        exec: exec.iter().filter_map(|e| e.parse().ok()).collect(),
        ..TapOptions::default()
    };
    let lines = Lines::new(scenario);
    let holding = opts.hold;
    let mut ready = |r: &Ready| {
        if !holding {
            return;
        }
        let fw = scenario.nodes.iter().find(|n| n.name == r.firmware_name);
        match fw.map(|n| n.role) {
            Some(Role::Client(c)) => {
                crate::say!("{}", hold_instructions_client(r, c.server_addr, c.server_port, c.count));
                // The client's clock starts when the person is ready, not before: otherwise it
                // has sent everything before anyone listens.
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }
            _ => crate::say!("{}", hold_instructions(r)),
        }
    };
    let mut live = |rec: &udplab_sim::Record| {
        if holding {
            let mut s = String::new();
            let _ = lines.write(&mut s, rec);
            s.push('\n');
            // Live lines are a view of the run; the run goes on if nobody can see them.
            let _ = crate::streams::to_stdout(&s);
        }
    };
    let run = match run_tap_apps(scenario, seed, apps, &opts, Hooks { ready: &mut ready, live: &mut live }) {
        Ok(run) => run,
        Err(HostError::Missing(why)) => {
            crate::say!("error: cannot run on a TAP here: {why}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
        Err(e) => {
            crate::say!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let device = udplab_teach::DeviceCounts {
        kernel_dropped: run.kernel_dropped,
        unread_at_end: run.unread_at_end,
        stack_overflow: run.overflow,
        rx_errors: run.device_errors.rx,
        tx_errors: run.device_errors.tx,
        link_restored: run.link_restored,
    };
    for note in device_notes(&device, run.device_errors.last.as_deref()) {
        crate::say!("note: {note}");
    }
    if matches!(run.stop, Stop::Interrupted | Stop::Terminated) {
        crate::say!("note: stopped by a signal; the namespace and TAP are gone");
    }
    // Holding ends with Ctrl-C by design: that is not an unfinished scenario.
    let incomplete = if holding { None } else { run.stop.incomplete().map(String::from) };
    let mut out = udplab_teach::RunOutput::from_real_clock(scenario, seed, run.trace, incomplete);
    // The expectations count what udplab's apps send and receive at both ends of a flow; a
    // program at either end sends or receives out of their sight.
    let played: Vec<&str> = run.programs.iter().map(|p| p.node.as_str()).collect();
    out.played_by_programs(&played);
    out.device = Some(device);
    for p in &run.programs {
        out.check(p.describe(), p.failure());
    }
    if holding {
        // The live lines were the output; still write the pictures asked for.
        return match udplab_teach::write_requested(&out, &run.captured, &pictures.requested()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                crate::say!("error: {e}");
                ExitCode::from(crate::exit::EXIT_IO)
            }
        };
    }
    crate::output::report_taught(&out, &run.captured, output, pictures)
}

/// What a person does when the firmware is a client: run a server where it sends, then start it.
#[cfg(target_os = "linux")]
fn hold_instructions_client(r: &udplab_host::Ready, server: [u8; 4], port: u16, count: u32) -> String {
    let ip = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_string();
    format!(
        "firmware `{name}` is a client: it will send {count} datagrams to {srv}:{port}, on the kernel side of \
         the scenario's links (TAP {tap}).\n\
         From another terminal, as root, listen there, for example with an echo server in Python:\n\
         \n  nsenter --net={ns} python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
         s.bind(('{srv}', {port}))\n\
         while True: d, a = s.recvfrom(2048); print(a, len(d)); s.sendto(d, a)\"\n\
         \nor with nc: nsenter --net={ns} nc -u -l -s {srv} -p {port}\n\
         \nThen press Enter here to start the firmware client (its clock starts then). Each datagram's fate is \
         printed below. Ctrl-C ends the run and removes the namespace and TAP.\n",
        name = r.firmware_name,
        srv = ip(server),
        tap = r.tap,
        ns = r.namespace,
    )
}

#[cfg(target_os = "linux")]
fn hold_instructions(r: &udplab_host::Ready) -> String {
    let ip = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_string();
    let fw = format!("{} {}", ip(r.firmware_addr), r.firmware_port);
    let (peer_name, peer) =
        r.kernel_addrs.first().map(|(n, a)| (n.as_str(), ip(*a))).unwrap_or(("", String::new()));
    format!(
        "firmware `{name}` is listening on {fw_addr}:{port} behind the scenario's links (TAP {tap}).\n\
         From another terminal, as root, speak from `{peer_name}`'s address ({peer}) so its links apply:\n\
         \n  nsenter --net={ns} nc -u -s {peer} {fw}\n\
         \nor with Python:\n\
         \n  nsenter --net={ns} python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
         s.bind(('{peer}', 0)); s.sendto(b'hello', ('{fw_addr}', {port})); print(s.recvfrom(2048))\"\n\
         \nEach datagram's fate is printed below. Ctrl-C ends the run and removes the namespace and TAP.\n",
        name = r.firmware_name,
        fw_addr = ip(r.firmware_addr),
        port = r.firmware_port,
        tap = r.tap,
        ns = r.namespace,
    )
}

#[cfg(not(target_os = "linux"))]
pub fn main(_: &Sim<'_>, _: &Output, _: &Pictures, _: How) -> ExitCode {
    crate::say!("error: this udplab was built without TAP support (Linux only)");
    ExitCode::from(EXIT_ENVIRONMENT)
}

/// The device's counts that are not zero, in words, for stderr (`--json` carries the numbers).
fn device_notes(d: &udplab_teach::DeviceCounts, last_error: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    if d.rx_errors + d.tx_errors > 0 {
        notes.push(format!(
            "the TAP reported {} receive and {} send errors (last: {}); those frames were dropped",
            d.rx_errors,
            d.tx_errors,
            last_error.unwrap_or("-")
        ));
    }
    if d.kernel_dropped > 0 {
        notes.push(format!(
            "the kernel dropped {} frames towards the firmware in the TAP's queue (its transmit drop \
             counter): sent by the kernel peers, they never reached a link",
            d.kernel_dropped
        ));
    }
    if d.unread_at_end > 0 {
        notes.push(format!(
            "{} datagrams towards the firmware were still in the TAP's queue when the run ended: \
             sent by the kernel peers, they never reached a link",
            d.unread_at_end
        ));
    }
    if d.link_restored > 0 {
        notes.push(format!(
            "the TAP went down and up {} time(s); the route to the firmware was restored each time",
            d.link_restored
        ));
    }
    if d.stack_overflow > 0 {
        notes.push(format!(
            "{} received frames were dropped because the stack fell behind (queue full)",
            d.stack_overflow
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_printed_for_each_count_that_is_not_zero_and_none_for_a_clean_run() {
        let clean = udplab_teach::DeviceCounts {
            kernel_dropped: 0,
            unread_at_end: 0,
            stack_overflow: 0,
            rx_errors: 0,
            tx_errors: 0,
            link_restored: 0,
        };
        assert!(device_notes(&clean, None).is_empty());
        let busy = udplab_teach::DeviceCounts {
            kernel_dropped: 11,
            unread_at_end: 12,
            stack_overflow: 13,
            rx_errors: 14,
            tx_errors: 15,
            link_restored: 16,
        };
        let notes = device_notes(&busy, Some("EIO"));
        assert_eq!(notes.len(), 5, "{notes:?}");
        for n in [
            "dropped 11 frames",
            "12 datagrams",
            "13 received",
            "14 receive and 15 send errors (last: EIO)",
            "16 time(s)",
        ] {
            assert!(notes.iter().any(|l| l.contains(n)), "{n} in {notes:?}");
        }
    }
}
