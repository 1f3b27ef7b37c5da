//! The firmware on a real TAP device with kernel peers, each run in its own network namespace.
//!
//! These need root and /dev/net/tun. Without them each test says loudly that it was skipped;
//! under CI (`CI=true`, where .ci/run runs as root) a missing privilege is a failure instead.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use udplab_firmware::{AppEvent, ArqConfig, Reply};
use udplab_host::{Hooks, HostError, Ready, Stop, TapOptions, TapRun, run_tap};
use udplab_sim::link::{Fate, LossReason};
use udplab_sim::report::{Clock, Summary};
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Impairment, Loss};
use udplab_sim::{Event, Scenario, Trace};
use udplab_tests::{Traffic, link, two_nodes};

/// Runs on a thread of its own, so the namespace (and the TAP) go away with that thread and
/// the test's thread stays in the root namespace.
fn tap(
    scenario: Scenario,
    opts: TapOptions,
    on_ready: impl FnOnce(Ready) + Send + 'static,
) -> Result<TapRun, HostError> {
    std::thread::spawn(move || {
        let mut on_ready = Some(on_ready);
        let mut ready = |r: &Ready| {
            if let Some(f) = on_ready.take() {
                f(r.clone());
            }
        };
        run_tap(&scenario, scenario.seed, &opts, Hooks { ready: &mut ready, live: &mut |_| {} })
    })
    .join()
    .expect("the TAP run does not panic")
}

fn traffic(count: u32, interval_us: u64, reliable: Option<ArqConfig>) -> Traffic {
    Traffic { count, interval_us, size: 64, reply: Reply::Echo, reliable }
}

/// What the receiving application got, in order.
fn delivered(trace: &Trace, server: usize, reliable: bool) -> Vec<u32> {
    trace
        .iter()
        .filter_map(|r| match r.event {
            Event::App { node, app: AppEvent::Delivered { seq, .. } } if node == server && reliable => {
                Some(seq)
            }
            Event::App { node, app: AppEvent::Received { seq, .. } } if node == server && !reliable => {
                Some(seq)
            }
            _ => None,
        })
        .collect()
}

/// Each link's decisions by datagram, keyed as the dice are: what the datagram is and how many
/// times the same content crossed that link before (not its number on the link, which a real
/// clock may change). The fate leaves out what depends on *when* a datagram came: absolute
/// times and the wait at a rate limit; on a link with phases (an outage) or a queue that
/// filled, a loss for those reasons is accepted as "time-based" on either side.
fn fates(trace: &Trace) -> BTreeMap<(usize, String, u32), String> {
    let mut seen: BTreeMap<(usize, String), u32> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for r in trace {
        if let Event::Offer { link, label, bytes, fate, .. } = r.event {
            let what = match fate {
                Fate::Lost(LossReason::Outage { .. } | LossReason::QueueFull { .. }) => {
                    "time-based".to_string()
                }
                Fate::Lost(reason) => format!("{reason:?}"),
                Fate::Passed(p) => {
                    let delays: Vec<u64> = p.arrive_us[..usize::from(p.copies)]
                        .iter()
                        .map(|a| a - r.at_us - p.queued_us)
                        .collect();
                    format!(
                        "{bytes}B passed delays={delays:?} held={} corrupted={:?}",
                        p.held_us, p.corrupted
                    )
                }
            };
            let n = seen.entry((link, label.to_string())).or_default();
            out.insert((link, label.to_string(), *n), what);
            *n += 1;
        }
    }
    out
}

/// Where two fate maps differ, for the failure message (empty when equal).
fn fate_differences(
    scenario: &Scenario,
    memory: &BTreeMap<(usize, String, u32), String>,
    tap: &BTreeMap<(usize, String, u32), String>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<_> = memory.keys().chain(tap.keys()).collect();
    keys.into_iter()
        .filter(|k| memory.get(*k) != tap.get(*k))
        .filter(|k| {
            !(memory.get(*k).is_some_and(|m| m == "time-based")
                || tap.get(*k).is_some_and(|t| t == "time-based"))
        })
        .map(|k| {
            format!(
                "{} {} (occurrence {}): memory {:?}, TAP {:?}",
                scenario.link_name(k.0),
                k.1,
                k.2,
                memory.get(k),
                tap.get(k)
            )
        })
        .collect()
}

fn no_tap_left_behind() {
    let links = Command::new("ip").args(["-o", "link"]).output().expect("ip link");
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains("udplab"), "a udplab device is left in the root namespace:\n{links}");
    let ns = Command::new("ip").args(["netns", "list"]).output().expect("ip netns");
    assert!(!String::from_utf8_lossy(&ns.stdout).contains("udplab"), "a named namespace is left behind");
}

#[test]
fn kernel_client_and_firmware_server_over_a_perfect_link() {
    if !udplab::tap::privileged_or_skip("kernel_client_and_firmware_server_over_a_perfect_link") {
        return;
    }
    let imp = Impairment { delay_us: 2_000, ..Impairment::default() };
    let s = two_nodes(
        traffic(20, 10_000, None),
        link(0, 1, imp.clone(), vec![]),
        link(1, 0, imp, vec![]),
        10_000_000,
        1,
    );
    let run = tap(s.clone(), TapOptions::default(), |_| {}).expect("runs");
    assert_eq!(run.firmware, 1, "the server runs as firmware by default");
    assert_eq!(run.stop, Stop::Done);
    assert_eq!(delivered(&run.trace, 1, false), (1..=20).collect::<Vec<_>>());
    let f = &Summary::from_trace(&s, 1, &run.trace).flows[0];
    assert_eq!((f.sent, f.delivered, f.answered, f.duplicates), (20, 20, 20, 0));
    no_tap_left_behind();
}

#[test]
fn firmware_client_and_kernel_server() {
    if !udplab::tap::privileged_or_skip("firmware_client_and_kernel_server") {
        return;
    }
    let s = two_nodes(
        traffic(15, 10_000, None),
        link(0, 1, Impairment::default(), vec![]),
        link(1, 0, Impairment::default(), vec![]),
        10_000_000,
        1,
    );
    let opts = TapOptions { firmware: Some("laptop".into()), ..TapOptions::default() };
    let run = tap(s.clone(), opts, |_| {}).expect("runs");
    assert_eq!(run.firmware, 0);
    assert_eq!(delivered(&run.trace, 1, false), (1..=15).collect::<Vec<_>>());
    let f = &Summary::from_trace(&s, 1, &run.trace).flows[0];
    assert_eq!((f.sent, f.delivered, f.answered), (15, 15, 15));
    no_tap_left_behind();
}

#[test]
fn impaired_fates_match_the_in_memory_run_datagram_by_datagram() {
    if !udplab::tap::privileged_or_skip("impaired_fates_match_the_in_memory_run_datagram_by_datagram") {
        return;
    }
    // The firmware as the server (a kernel client), then as the client (a kernel server).
    for firmware in ["board", "laptop"] {
        fates_match_with_firmware(firmware);
    }
}

fn fates_match_with_firmware(firmware: &str) {
    // Datagrams 30 ms apart, a held one 45 ms late: arrivals never come within 15 ms of each
    // other, so timing noise on the real clock cannot change which arrives first, and the echoes
    // go back in the same order as in memory (a tie, say a 60 ms hold, could go either way).
    let up = Impairment {
        loss: Loss::Bernoulli { p: Prob::from_ppb(200_000_000).unwrap() },
        duplicate: Prob::from_ppb(200_000_000).unwrap(),
        reorder: Prob::from_ppb(200_000_000).unwrap(),
        reorder_hold_us: 45_000,
        delay_us: 5_000,
        ..Impairment::default()
    };
    let down = Impairment {
        loss: Loss::Bernoulli { p: Prob::from_ppb(100_000_000).unwrap() },
        ..Impairment::default()
    };
    let s = two_nodes(
        traffic(30, 30_000, None),
        link(0, 1, up, vec![]),
        link(1, 0, down, vec![]),
        10_000_000,
        77,
    );
    let memory = udplab_sim::run(&s, 77).unwrap();
    let opts = TapOptions { firmware: Some(firmware.into()), ..TapOptions::default() };
    // Two busy loops beside the run, as on a loaded laptop: timers fire late.
    let load = udplab::tap::CpuLoad::new(2);
    let run = tap(s.clone(), opts, |_| {}).expect("runs");
    drop(load);
    let (m, t) = (fates(&memory), fates(&run.trace));
    assert!(m.values().any(|f| f.contains("Random")), "the scenario loses something");
    let diff = fate_differences(&s, &m, &t);
    assert!(diff.is_empty(), "with {firmware} as firmware:\n{}", diff.join("\n"));
    no_tap_left_behind();
}

#[test]
fn reliable_mode_over_the_tap_delivers_exactly_once_in_order() {
    if !udplab::tap::privileged_or_skip("reliable_mode_over_the_tap_delivers_exactly_once_in_order") {
        return;
    }
    let lossy = Impairment {
        loss: Loss::Bernoulli { p: Prob::from_ppb(300_000_000).unwrap() },
        duplicate: Prob::from_ppb(100_000_000).unwrap(),
        delay_us: 2_000,
        ..Impairment::default()
    };
    let arq = ArqConfig { window: 4, rto_us: 40_000, rto_max_us: 160_000, max_attempts: 0 };
    let s = two_nodes(
        traffic(20, 5_000, Some(arq)),
        link(0, 1, lossy.clone(), vec![]),
        link(1, 0, lossy, vec![]),
        30_000_000,
        5,
    );
    let run = tap(s.clone(), TapOptions::default(), |_| {}).expect("runs");
    assert_eq!(run.stop, Stop::Done);
    assert_eq!(delivered(&run.trace, 1, true), (1..=20).collect::<Vec<_>>());
    no_tap_left_behind();
}

#[test]
fn an_outside_tool_talks_to_the_firmware_while_it_holds() {
    if !udplab::tap::privileged_or_skip("an_outside_tool_talks_to_the_firmware_while_it_holds") {
        return;
    }
    talk_to_the_held_firmware(false);
}

/// A person bounces the TAP (down, up) during a hold: the firmware is reachable again, as
/// before (the kernel flushed the route and neighbour entry; the runner puts them back).
#[test]
fn the_held_firmware_is_reachable_again_after_the_tap_bounces() {
    if !udplab::tap::privileged_or_skip("the_held_firmware_is_reachable_again_after_the_tap_bounces") {
        return;
    }
    let run = talk_to_the_held_firmware(true);
    assert!(run.link_restored >= 1, "the runner put the route back");
}

fn talk_to_the_held_firmware(bounce_first: bool) -> TapRun {
    let s = two_nodes(
        traffic(1, 10_000, None),
        link(0, 1, Impairment::default(), vec![]),
        link(1, 0, Impairment::default(), vec![]),
        10_000_000,
        1,
    );
    let opts = TapOptions { hold: true, hold_for: Some(Duration::from_secs(3)), ..TapOptions::default() };
    let (tx, rx) = mpsc::channel();
    let run = std::thread::spawn(move || {
        tap(s, opts, move |ready| {
            // Python's socket module, the way a student would, from inside the namespace.
            let [a, b, c, d] = ready.firmware_addr;
            let [x, y, z, w] = ready.kernel_addrs[0].1;
            let script = format!(
                "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(2)\n\
                 s.bind(('{x}.{y}.{z}.{w}', 40000))\ns.sendto(b'hello board', ('{a}.{b}.{c}.{d}', {}))\n\
                 print(s.recvfrom(2048)[0].decode())",
                ready.firmware_port
            );
            let ns = ready.namespace.clone();
            let tap = ready.tap.clone();
            std::thread::spawn(move || {
                if bounce_first {
                    for state in ["down", "up"] {
                        let _ = Command::new("nsenter")
                            .arg(format!("--net={ns}"))
                            .args(["ip", "link", "set", &tap, state])
                            .status();
                    }
                    // The runner looks at the link every 200 ms and puts the route back.
                    std::thread::sleep(Duration::from_millis(600));
                }
                let out = Command::new("nsenter")
                    .arg(format!("--net={ns}"))
                    .args(["python3", "-c", &script])
                    .output();
                let _ = tx.send(out);
            });
        })
    });
    let out =
        rx.recv_timeout(Duration::from_secs(10)).expect("the client ran").expect("nsenter + python3 run");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello board", "the echo came back");
    let run = run.join().unwrap().expect("runs");
    let saw = run.trace.iter().any(|r| {
        matches!(
            r.event,
            Event::App {
                node: 1,
                app: AppEvent::Invalid { error: udplab_firmware::wire::Error::Truncated, bytes: 11, .. }
            }
        )
    });
    assert!(saw, "the firmware logged the foreign datagram");
    no_tap_left_behind();
    run
}

/// Runs 100 datagrams over 1 s and, 300 ms in, runs `ip link ... ` on the TAP from inside the
/// run's namespace: the run stops as incomplete, whatever the command did to the device.
fn tap_changed_mid_run(what: &'static [&'static str]) -> TapRun {
    let s = two_nodes(
        traffic(100, 10_000, None),
        link(0, 1, Impairment::default(), vec![]),
        link(1, 0, Impairment::default(), vec![]),
        3_000_000,
        1,
    );
    let run = tap(s.clone(), TapOptions::default(), move |ready| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let args: Vec<&str> =
                what.iter().map(|a| if *a == "TAP" { ready.tap.as_str() } else { a }).collect();
            let _ = Command::new("nsenter")
                .arg(format!("--net={}", ready.namespace))
                .arg("ip")
                .args(&args)
                .status();
        });
    })
    .expect("the run ends cleanly");
    let f = &Summary::from_trace(&s, 1, &run.trace).flows[0];
    assert!(f.delivered < 100, "datagrams after the change were not delivered ({} were)", f.delivered);
    run
}

#[test]
fn taking_the_tap_down_mid_run_stops_it_as_incomplete() {
    if !udplab::tap::privileged_or_skip("taking_the_tap_down_mid_run_stops_it_as_incomplete") {
        return;
    }
    let run = tap_changed_mid_run(&["link", "set", "TAP", "down"]);
    assert_eq!(run.stop, Stop::DeviceGone);
    assert!(run.stop.incomplete().is_some_and(|why| why.contains("went away (or went down)")));
    no_tap_left_behind();
}

#[test]
fn deleting_the_tap_mid_run_stops_it_as_incomplete() {
    if !udplab::tap::privileged_or_skip("deleting_the_tap_mid_run_stops_it_as_incomplete") {
        return;
    }
    let run = tap_changed_mid_run(&["link", "delete", "TAP"]);
    assert_eq!(run.stop, Stop::DeviceGone);
    assert!(run.stop.incomplete().is_some());
    no_tap_left_behind();
}

/// The promise of the README, the way a user meets it: every lesson, with the firmware as the
/// board and as the laptop, five times each, with two busy loops beside the run. Every
/// datagram's fate equals the in-memory run's, every expectation holds (with the real-clock
/// latency tolerance), and the run finishes.
#[test]
fn every_lesson_on_the_tap_gets_the_in_memory_fates_under_load() {
    if !udplab::tap::privileged_or_skip("every_lesson_on_the_tap_gets_the_in_memory_fates_under_load") {
        return;
    }
    let _load = udplab::tap::CpuLoad::new(2);
    let mut late = Vec::new();
    for path in udplab_tests::lesson_files() {
        let s = udplab_scenario::load(&path).unwrap();
        let memory = fates(&udplab_sim::run(&s, s.seed).unwrap());
        for firmware in ["board", "laptop"] {
            for rep in 1..=5 {
                let opts = TapOptions { firmware: Some(firmware.into()), ..TapOptions::default() };
                let run = tap(s.clone(), opts, |_| {}).expect("runs");
                let what = format!("{} with {firmware} as firmware, run {rep}", s.name);
                assert_eq!(run.stop.incomplete(), None, "{what}: {:?}", run.stop);
                let diff = fate_differences(&s, &memory, &fates(&run.trace));
                assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
                let summary = Summary::from_trace(&s, s.seed, &run.trace);
                let failures = summary.check_on(&s, Clock::Real);
                assert!(failures.is_empty(), "{what}: {failures:?}");
                late.extend(run.trace.iter().filter_map(|r| match r.event {
                    Event::Arrive { late_us, .. } => Some(late_us),
                    _ => None,
                }));
            }
        }
    }
    late.sort_unstable();
    let at = |q: usize| late[(late.len() - 1) * q / 100];
    // Not asserted (timing): printed for the README's numbers (`--nocapture`).
    eprintln!(
        "TAP releases under load: {} arrivals, late by median {} us, p90 {} us, p99 {} us, max {} us",
        late.len(),
        at(50),
        at(90),
        at(99),
        at(100)
    );
    no_tap_left_behind();
}

/// A client and an echo server over perfect links (the server is held, the client unused).
fn perfect_echo() -> Scenario {
    two_nodes(
        traffic(1, 10_000, None),
        link(0, 1, Impairment::default(), vec![]),
        link(1, 0, Impairment::default(), vec![]),
        30_000_000,
        1,
    )
}

/// Holds the firmware echo server for `hold_s` seconds and runs `script` (Python, from the
/// first kernel node's address, `FW` and `PORT` set) against it once it is up. Returns the
/// run and what the script printed.
fn hold_and_run_python(script: &'static str, hold_s: u64) -> (TapRun, String) {
    let s = perfect_echo();
    let opts =
        TapOptions { hold: true, hold_for: Some(Duration::from_secs(hold_s)), ..TapOptions::default() };
    let (tx, rx) = mpsc::channel();
    let run = std::thread::spawn(move || {
        tap(s, opts, move |ready| {
            let [a, b, c, d] = ready.firmware_addr;
            let [x, y, z, w] = ready.kernel_addrs[0].1;
            let prelude = format!(
                "import socket\nFW=('{a}.{b}.{c}.{d}', {})\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                 s.bind(('{x}.{y}.{z}.{w}', 40000))\n",
                ready.firmware_port
            );
            let ns = ready.namespace.clone();
            std::thread::spawn(move || {
                let out = Command::new("nsenter")
                    .arg(format!("--net={ns}"))
                    .args(["python3", "-c", &format!("{prelude}{script}")])
                    .output();
                let _ = tx.send(out);
            });
        })
    });
    let out =
        rx.recv_timeout(Duration::from_secs(hold_s + 10)).expect("python ran").expect("nsenter + python3");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    let run = run.join().unwrap().expect("runs");
    no_tap_left_behind();
    (run, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every datagram of a 10 000-datagram burst is accounted for: dropped by the kernel in the
/// TAP's queue, or offered to the link and then lost, still in flight, not taken by the
/// firmware's stack, or received by its app.
#[test]
fn a_burst_of_10000_datagrams_is_accounted_for_to_the_last() {
    if !udplab::tap::privileged_or_skip("a_burst_of_10000_datagrams_is_accounted_for_to_the_last") {
        return;
    }
    let script = "sent=0\nerrors=0\nfor i in range(10000):\n    try:\n        s.sendto(b'%05d' % i + bytes(59), FW); sent+=1\n    except OSError:\n        errors+=1\nprint(sent, errors)\nimport time\ntime.sleep(5)\n";
    let (run, printed) = hold_and_run_python(script, 4);
    let mut words = printed.split_whitespace().map(|w| w.parse::<u64>().unwrap());
    let (sent, errors) = (words.next().unwrap(), words.next().unwrap());
    assert_eq!(sent + errors, 10_000);
    let count = |f: &dyn Fn(&Event) -> bool| run.trace.iter().filter(|r| f(&r.event)).count() as u64;
    let offered = count(&|e| matches!(e, Event::Offer { link: 0, .. }));
    let lost = count(&|e| matches!(e, Event::Offer { link: 0, fate: Fate::Lost(_), .. }));
    let arrived = count(&|e| matches!(e, Event::Arrive { link: 0, .. }));
    let in_flight = count(&|e| matches!(e, Event::InFlightAtEnd { link: 0, .. }));
    let not_taken = count(&|e| matches!(e, Event::Dropped { link: 0, .. }));
    let received = count(&|e| {
        matches!(e, Event::App { node: 1, app: AppEvent::Received { .. } | AppEvent::Invalid { .. } })
    });
    eprintln!(
        "burst: sent {sent} (errors {errors}), kernel TAP queue dropped {}, left in it at the end {}, offered {offered}, lost {lost}, \
         in flight {in_flight}, not taken by the stack {not_taken}, received {received}",
        run.kernel_dropped, run.unread_at_end
    );
    // The kernel's transmit drop counter counts every frame it dropped in the TAP's queue, its
    // own ICMP errors too: a socket closed while echoes are still coming back makes the kernel
    // answer "port unreachable" (up to 6 at once, its per-host rate limit), and with the queue
    // full those are dropped and counted. CI once saw exactly 6 extra. So the script keeps its
    // socket open (it sleeps) until the run is over, and the identity is exact.
    assert_eq!(
        run.kernel_dropped + run.unread_at_end + offered,
        sent,
        "every datagram sent reached the link, was dropped by the kernel, or was left in the TAP's queue"
    );
    assert_eq!(arrived, not_taken + received, "every arrival was taken by the app or traced as not taken");
    assert_eq!(
        offered,
        lost + in_flight + not_taken + received,
        "offered = lost + in flight + not taken + received"
    );
}

/// Datagrams from a kernel socket of 0, 1472 (the most one Ethernet frame carries), 1473, 9000
/// and 65507 bytes (fragmented by the kernel): the first two are echoed, the fragments are
/// traced as dropped, with the reason, never lost without a word.
#[test]
fn fragmented_datagrams_are_traced_as_dropped_with_the_reason() {
    if !udplab::tap::privileged_or_skip("fragmented_datagrams_are_traced_as_dropped_with_the_reason") {
        return;
    }
    let script = "s.settimeout(0.5)\nfor n in [0, 1472, 1473, 9000, 65507]:\n    s.sendto(bytes(n), FW)\n    try:\n        d, _ = s.recvfrom(70000); print(n, len(d))\n    except socket.timeout:\n        print(n, 'none')\n";
    let (run, printed) = hold_and_run_python(script, 5);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines, ["0 0", "1472 1472", "1473 none", "9000 none", "65507 none"], "{printed}");
    let fragments: Vec<_> = run
        .trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Dropped {
                reason: udplab_sim::trace::DropReason::Fragment { id, offset, more }, ..
            } => Some((id, offset, more)),
            _ => None,
        })
        .collect();
    // 1473 bytes: 2 fragments; 9000: 7; 65507: 45 (1480 bytes of IP payload per fragment).
    assert_eq!(fragments.len(), 2 + 7 + 45, "{fragments:?}");
    assert_eq!(fragments.iter().filter(|f| !f.2).count(), 3, "three last fragments");
    let lines = udplab_sim::trace::Lines::new(&perfect_echo()).render(&run.trace);
    assert!(lines.contains("DROPPED: IP fragment"), "{lines}");
    assert!(lines.contains("keep UDP payloads at or under 1472 bytes"));
}

/// tshark started inside the run's namespace on its TAP, writing a capture the way a student
/// runs tcpdump on the laptop. Returns once it has captured a frame: "Capturing on" comes a
/// little before the capture is live, so an ICMP echo request to the firmware (not UDP, so
/// nothing the scenario traces) is sent until tshark prints a packet. Called on the TAP
/// thread, inside the namespace, so python3 starts there too.
fn capture_in(r: &Ready, file: &std::path::Path) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", r.namespace))
        .args(["tshark", "-l", "-P", "-n", "-i", &r.tap, "-w"])
        .arg(file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tshark starts");
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("tshark's stdout was not piped");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(());
        }
    });
    let [a, b, c, d] = r.firmware_addr;
    let ping = format!(
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); \
         s.sendto(b'\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00', ('{a}.{b}.{c}.{d}', 0))"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sent = Command::new("python3").args(["-c", &ping]).status();
        let failure = match sent {
            Ok(s) if s.success() => None,
            other => Some(format!("the ICMP probe could not be sent: {other:?}")),
        };
        if failure.is_none() && rx.recv_timeout(Duration::from_millis(500)).is_ok() {
            return child;
        }
        if let Some(why) = failure.or_else(|| {
            (std::time::Instant::now() > deadline).then(|| "tshark captured nothing within 30 s".to_owned())
        }) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{why}");
        }
    }
}

#[test]
fn a_kernel_side_capture_of_a_tap_run_gives_back_what_the_laptop_saw() {
    let test = "a_kernel_side_capture_of_a_tap_run_gives_back_what_the_laptop_saw";
    if !udplab::tap::privileged_or_skip(test) {
        return;
    }
    if Command::new("tshark").arg("--version").output().is_err() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: tshark is missing in CI (.ci/run installs it)");
        }
        eprintln!("\n*** SKIPPED {test}: tshark is not installed (apt-get install tshark) ***\n");
        return;
    }
    let _load = udplab::tap::CpuLoad::new(2);
    let dir = std::env::temp_dir().join(format!("udplab-tap-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kernel_file = dir.join("laptop.pcapng");
    // The network behind lesson 09's capture; with UDPLAB_REGENERATE=1 this run's capture
    // becomes the shipped one.
    let captures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/captures");
    let s = udplab_scenario::load(&captures.join("classroom-wifi.toml")).unwrap();
    let dumpcap = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (d, k) = (dumpcap.clone(), kernel_file.clone());
    let opts = TapOptions { firmware: Some("board".into()), capture: true, ..TapOptions::default() };
    let run = tap(s.clone(), opts, move |r| *d.lock().unwrap() = Some(capture_in(&r, &k))).expect("runs");
    assert_eq!(run.stop.incomplete(), None);
    // The TAP went with the run: the capture stops by itself ("no longer attached").
    let mut child = dumpcap.lock().unwrap().take().expect("tshark ran");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tshark did not stop after the TAP went away");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    // What the laptop saw, from its own capture alone: a datagram whose echo came back was
    // delivered, one whose echo never came is recorded lost (either way of the round trip).
    let laptop = s.nodes.iter().position(|n| n.name == "laptop").unwrap();
    let opts = udplab_capture::Options { at: Some(s.nodes[laptop].addr), ..Default::default() };
    let import = udplab_capture::import(&[&kernel_file], &opts, &[]).unwrap_or_else(|e| panic!("{e}"));
    let out = import.paths.iter().find(|p| p.src == s.nodes[laptop].addr).expect("laptop's datagrams");
    let sent: Vec<String> = run
        .trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Offer { link, label, .. } if s.links[link].from == laptop => Some(label.to_string()),
            _ => None,
        })
        .collect();
    let answered: std::collections::BTreeSet<String> = run
        .trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Arrive { link, label, .. } if s.links[link].to == laptop => Some(label.to_string()),
            _ => None,
        })
        .collect();
    let rows: Vec<_> = out.rows().collect();
    assert_eq!(rows.iter().map(|r| r.label.clone()).collect::<Vec<_>>(), sent, "{import}");
    for r in &rows {
        assert_eq!(r.delay_us.is_some(), answered.contains(&r.label), "{}\n{import}", r.label);
    }
    assert!(rows.iter().any(|r| r.delay_us.is_none()), "the classroom loses some:\n{import}");
    if std::env::var("UDPLAB_REGENERATE").is_ok_and(|v| v == "1") {
        std::fs::copy(&kernel_file, captures.join("classroom-wifi.pcapng")).unwrap();
        eprintln!("wrote scenarios/captures/classroom-wifi.pcapng");
    }

    // The run's own capture holds both ends: every fate comes back exactly.
    let story = udplab_teach::story::Story::new(&s, &run.trace);
    let pcap = udplab_teach::pcapng::capture(&story, &run.trace, &run.captured).unwrap();
    let fw_file = dir.join("run.pcapng");
    std::fs::write(&fw_file, pcap).unwrap();
    let both = udplab_capture::import(&[&fw_file], &Default::default(), &[]).unwrap();
    let lost_in_trace =
        run.trace.iter().filter(|r| matches!(r.event, Event::Offer { fate: Fate::Lost(_), .. })).count();
    let lost_recovered: usize =
        both.paths.iter().map(|p| p.rows().filter(|r| r.delay_us.is_none()).count()).sum();
    assert_eq!(lost_recovered, lost_in_trace, "{both}");
    std::fs::remove_dir_all(&dir).unwrap();
    no_tap_left_behind();
}
