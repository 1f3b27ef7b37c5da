//! Captures in, fates out, fates replayed: `udplab capture-import` and `trace = FILE` links.
//!
//! Every lesson is run in memory with its capture, the capture is imported, and the recovered
//! fates must equal the run's trace datagram by datagram; the traces are then replayed under
//! another seed and every datagram must get the fate it had. The same run is also written as
//! two ordinary pcap files, one per end, with different link types and a clock offset (what two
//! `tcpdump -w` give), and as one end only (what a laptop's capture gives).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use udplab_capture::{self as capture, Import, Options};
use udplab_scenario::link_trace;
use udplab_sim::link::Fate;
use udplab_sim::scenario::Impairment;
use udplab_sim::{Event, Record, Scenario, Sim};
use udplab_teach::story::Story;

fn lessons() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("udplab-replay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A run's trace and its capture (udplab's pcapng, both ends of every link).
fn run(scenario: &Scenario, seed: u64) -> (Vec<Record>, Vec<u8>, Vec<udplab_sim::net::Captured>) {
    let sim = Sim::new(scenario.clone());
    let (out, captured) = udplab_teach::run_sim_captured(&sim, seed, true).unwrap();
    let story = Story::new(&out.scenario, &out.trace);
    let pcap = udplab_teach::pcapng::capture(&story, &out.trace, &captured).unwrap();
    (out.trace.clone(), pcap, captured)
}

/// What the capture can tell about a datagram: lost, or each copy's delay, and whether it came
/// out damaged (and which bit).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    label: String,
    delays: Option<(u64, Option<u64>)>,
    damage_bit: Option<Option<u32>>,
}

/// Per link, in the order offered: each datagram's fate as a capture shows it. Datagrams with
/// a copy that never came out of the link (still in flight at the end, dropped at the stack)
/// are left out (a capture cannot tell them from a loss) and counted.
fn expected(trace: &[Record], link: usize) -> (Vec<Seen>, usize) {
    let arrived: BTreeSet<(usize, u64, u8)> = trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Arrive { link, index, copy, .. } => Some((link, index, copy)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    let mut unseen = 0;
    for r in trace {
        let Event::Offer { link: l, index, label, fate, .. } = r.event else { continue };
        if l != link {
            continue;
        }
        let seen = match fate {
            Fate::Lost(_) => Seen { label: label.to_string(), delays: None, damage_bit: None },
            Fate::Passed(p) => {
                if (0..p.copies).any(|c| !arrived.contains(&(link, index, c))) {
                    unseen += 1;
                    continue;
                }
                // Two copies are told apart only by when they came out: first, then second.
                let (a, b) = (p.arrive_us[0] - r.at_us, p.arrive_us[1].wrapping_sub(r.at_us));
                let delays = if p.copies == 2 { (a.min(b), Some(a.max(b))) } else { (a, None) };
                Seen {
                    label: label.to_string(),
                    delays: Some(delays),
                    damage_bit: p.corrupted.map(|c| Some(c.bit)),
                }
            }
        };
        out.push(seen);
    }
    (out, unseen)
}

/// The recovered rows of the path `from -> to` (node names), as [`Seen`].
fn recovered(import: &Import, from: &str, to: &str) -> Vec<Seen> {
    let Some(p) = import.paths.iter().find(|p| import.name_of(p.src) == from && import.name_of(p.dst) == to)
    else {
        return Vec::new();
    };
    p.rows()
        .map(|r| {
            // The delays of two copies are kept in the order they came out.
            Seen {
                label: r.label.clone(),
                delays: r.delay_us.map(|d| (d, r.copy_delay_us)),
                damage_bit: r.damage.map(|d| d.bit),
            }
        })
        .collect()
}

fn import_files(files: &[&Path], opts: &Options, names: &[([u8; 4], String)]) -> Import {
    capture::import(files, opts, names).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_lessons_capture_gives_back_its_fates_datagram_by_datagram() {
    let dir = TempDir::new("lessons");
    let mut compared = 0;
    let mut reordered = 0;
    for path in lessons() {
        let scenario = udplab_scenario::load(&path).unwrap();
        let (trace, pcap, _) = run(&scenario, scenario.seed);
        let file = dir.0.join("run.pcapng");
        std::fs::write(&file, &pcap).unwrap();
        let import = import_files(&[&file], &Options::default(), &[]);
        for (i, l) in scenario.links.iter().enumerate() {
            let (from, to) = (&scenario.nodes[l.from].name, &scenario.nodes[l.to].name);
            let (want, unseen) = expected(&trace, i);
            let got = recovered(&import, from, to);
            if unseen > 0 {
                // Only the datagrams the capture cannot know about are allowed to differ, and
                // they are few (the run's last moments).
                assert!(unseen <= 3, "{}: {from}->{to}: {unseen} copies never came out", path.display());
                continue;
            }
            assert_eq!(got, want, "{}: {from}->{to}", path.display());
            compared += want.len();
            // Reordering comes back from the delays, counted as a run's summary counts it.
            let summary = udplab_sim::report::Summary::from_trace(&scenario, scenario.seed, &trace);
            let link =
                import.paths.iter().find(|p| import.name_of(p.src) == from && import.name_of(p.dst) == to);
            if want.iter().all(|s| s.delays.is_none_or(|(_, copy)| copy.is_none())) {
                assert_eq!(
                    link.map_or(0, |p| p.reordered()) as u64,
                    summary.links[i].reordered,
                    "{}: {from}->{to}",
                    path.display()
                );
                reordered += summary.links[i].reordered;
            }
        }
    }
    assert!(compared > 300, "only {compared} datagrams compared");
    assert!(reordered > 0, "lesson 04 reorders");
}

/// The scenario with every link replaced by a replay of `import`'s trace for it, and nothing
/// else (a datagram missing from a trace would cross a perfect link with no delay, which the
/// comparison would catch).
fn replaying(scenario: &Scenario, import: &Import) -> Scenario {
    let mut s = scenario.clone();
    for l in &mut s.links {
        let (from, to) = (&scenario.nodes[l.from].name, &scenario.nodes[l.to].name);
        l.impairment = Impairment::default();
        l.phases.clear();
        l.trace =
            import.paths.iter().find(|p| import.name_of(p.src) == from && import.name_of(p.dst) == to).map(
                |p| {
                    let rows = link_trace::parse(&import.trace_file(p), "t.csv").unwrap();
                    link_trace::to_link_trace(&import.trace_file_name(p), &rows).unwrap()
                },
            );
    }
    s
}

/// What a link did to each datagram, without the reason for a loss (the replay says "as
/// recorded") and without where the delay came from (queue, hold or link).
/// A link's fate for one datagram: `None` lost, else (copies, each copy's delay, flipped bit).
type LinkFate = Option<(u8, [u64; 2], Option<u32>)>;

fn fates(trace: &[Record]) -> Vec<(usize, String, LinkFate)> {
    trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Offer { link, label, fate, .. } => Some((
                link,
                label.to_string(),
                match fate {
                    Fate::Lost(_) => None,
                    Fate::Passed(p) => {
                        let mut a = [0; 2];
                        for (slot, arrive) in a.iter_mut().zip(p.arrive_us).take(usize::from(p.copies)) {
                            *slot = arrive - r.at_us;
                        }
                        // Copies are told apart by when they came out (see `expected`).
                        if p.copies == 2 {
                            a.sort_unstable();
                        }
                        Some((p.copies, a, p.corrupted.map(|c| c.bit)))
                    }
                },
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_replayed_capture_gives_every_datagram_its_recorded_fate_under_any_seed() {
    let dir = TempDir::new("replay");
    let mut replayed = 0;
    for path in lessons() {
        let scenario = udplab_scenario::load(&path).unwrap();
        let (trace, pcap, _) = run(&scenario, scenario.seed);
        if trace.iter().any(|r| matches!(r.event, Event::InFlightAtEnd { .. } | Event::Dropped { .. })) {
            // A copy the capture never saw arrive is replayed as lost: the runs then differ
            // at their very end, by design. Such lessons are checked by the test above.
            continue;
        }
        let file = dir.0.join("run.pcapng");
        std::fs::write(&file, &pcap).unwrap();
        let import = import_files(&[&file], &Options::default(), &[]);
        let again = replaying(&scenario, &import);
        let a = udplab_sim::run(&again, scenario.seed + 1000).unwrap();
        let b = udplab_sim::run(&again, scenario.seed + 2000).unwrap();
        assert_eq!(fates(&trace), fates(&a), "{}", path.display());
        // Same fates whatever the seed: the dice are never asked.
        assert_eq!(a, b, "{}", path.display());
        replayed += 1;
    }
    assert!(replayed >= 5, "only {replayed} lessons replayed");
}

#[test]
fn a_trace_file_in_a_scenario_is_read_relative_to_the_scenario_and_named_in_the_trace() {
    let dir = TempDir::new("file");
    let lesson = lessons().into_iter().find(|p| p.to_string_lossy().contains("02-random-loss")).unwrap();
    let scenario = udplab_scenario::load(&lesson).unwrap();
    let (trace, pcap, _) = run(&scenario, scenario.seed);
    let file = dir.0.join("run.pcapng");
    std::fs::write(&file, &pcap).unwrap();
    let import = import_files(&[&file], &Options::default(), &[]);
    std::fs::create_dir_all(dir.0.join("traces")).unwrap();
    for p in &import.paths {
        std::fs::write(dir.0.join("traces").join(import.trace_file_name(p)), import.trace_file(p)).unwrap();
    }
    let source = std::fs::read_to_string(&lesson).unwrap();
    let head = source.split("[[link]]").next().unwrap();
    let text = format!("{head}\n{}", import.link_sections("traces"));
    let replay = dir.0.join("replay.toml");
    std::fs::write(&replay, &text).unwrap();
    let s = udplab_scenario::load(&replay).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let t = s.links[0].trace.as_ref().expect("the laptop->board trace");
    assert_eq!(t.name, "traces/laptop-to-board.csv");
    let a = udplab_sim::run(&s, 77).unwrap();
    assert_eq!(fates(&trace), fates(&a));
    let lines = udplab_sim::trace::Lines::new(&s);
    let text: Vec<String> = a
        .iter()
        .map(|r| {
            let mut l = String::new();
            lines.write(&mut l, r).unwrap();
            l
        })
        .collect();
    assert!(
        text.iter().any(|l| l.contains("LOST: as recorded (traces/laptop-to-board.csv row 3)")),
        "{}",
        text.join("\n")
    );
    // The scenario written back names the same file.
    assert!(udplab_scenario::to_toml(&s).contains("trace = \"traces/laptop-to-board.csv\""));
}

/// A legacy pcap file (what `tcpdump -w` writes) of `frames` (time, bytes) with `linktype`.
fn pcap_file(linktype: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (at_us, bytes) in frames {
        out.extend_from_slice(&((at_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Not a link type: Ethernet (1) frames with an 802.1Q tag, for [`at_node`].
const VLAN: u32 = 0x1_0001;

/// What a capture at `node` sees of a run: its own offers and the copies that reach it, each
/// IPv4 packet wrapped for `linktype` (1: Ethernet, 101: raw IP, 113: Linux cooked), with
/// `offset_us` added to every time (another machine's clock).
fn at_node(
    scenario: &Scenario,
    trace: &[Record],
    captured: &[udplab_sim::net::Captured],
    node: usize,
    linktype: u32,
    offset_us: u64,
) -> Vec<u8> {
    let mut frames = Vec::new();
    for r in trace {
        let (link, index, copy) = match r.event {
            Event::Offer { link, index, .. } if scenario.links[link].from == node => (link, index, None),
            Event::Arrive { link, index, copy, .. } if scenario.links[link].to == node => {
                (link, index, Some(copy))
            }
            _ => continue,
        };
        let c = captured.iter().find(|c| c.link == link && c.index == index && c.copy == copy).unwrap();
        let wrapped = match linktype {
            1 => [&[2u8, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00][..], &c.packet].concat(),
            101 => c.packet.clone(),
            113 => [&[0u8, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, 0x08, 0x00][..], &c.packet].concat(),
            // Linux cooked v2 (`tcpdump -i any` today): protocol first.
            276 => [&[0x08u8, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0][..], &c.packet]
                .concat(),
            // BSD loopback: the address family in the writer's byte order (little-endian here).
            0 => [&[2u8, 0, 0, 0][..], &c.packet].concat(),
            // Ethernet with one 802.1Q VLAN tag (VLAN 42).
            VLAN => {
                [&[2u8, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 42, 0x08, 0x00][..], &c.packet]
                    .concat()
            }
            _ => unreachable!(),
        };
        frames.push((r.at_us + offset_us, wrapped));
    }
    pcap_file(if linktype == VLAN { 1 } else { linktype }, &frames)
}

#[test]
fn two_tcpdump_files_one_per_end_on_different_clocks_give_back_the_fates() {
    let dir = TempDir::new("two");
    // Lessons 02, 03 and 07 have the same fixed delay both ways, so the fastest datagrams
    // take as long each way and the estimated offset is exact; lesson 05 has jitter one way,
    // so its captures are read as sharing a clock (--same-clock).
    for (lesson, same_clock) in
        [("02-random-loss", false), ("03-burst", false), ("07-corruption", false), ("05-duplication", true)]
    {
        let path = lessons().into_iter().find(|p| p.to_string_lossy().contains(lesson)).unwrap();
        let scenario = udplab_scenario::load(&path).unwrap();
        let (trace, _, captured) = run(&scenario, scenario.seed);
        let a = dir.0.join("laptop.pcap");
        let b = dir.0.join("board.pcap");
        // The board's clock runs 3.7 s ahead; both directions' fastest datagrams take as long
        // in these lessons, so the estimated offset is exact.
        std::fs::write(&a, at_node(&scenario, &trace, &captured, 0, 1, 0)).unwrap();
        let names = vec![([192, 0, 2, 1], "laptop".to_owned()), ([192, 0, 2, 2], "board".to_owned())];
        let offset = if same_clock { 0 } else { 3_700_000 };
        std::fs::write(&b, at_node(&scenario, &trace, &captured, 1, 113, offset)).unwrap();
        let opts = Options { same_clock, ..Options::default() };
        let import = import_files(&[&b, &a], &opts, &names);
        if !same_clock {
            assert_eq!(import.clock_offset_us.map(i64::abs), Some(3_700_000), "{lesson}:\n{import}");
        }
        for (i, l) in scenario.links.iter().enumerate() {
            let (from, to) = (&scenario.nodes[l.from].name, &scenario.nodes[l.to].name);
            let (want, unseen) = expected(&trace, i);
            assert_eq!(unseen, 0);
            assert_eq!(recovered(&import, from, to), want, "{lesson}: {from}->{to}\n{import}");
        }
    }
}

#[test]
fn one_end_records_what_that_end_saw_and_says_what_it_could_not() {
    // Lesson 02 from the laptop only: a datagram whose echo never came back is recorded as
    // lost on the way out (whichever way it really went), and answered ones get half the
    // round trip each way.
    let dir = TempDir::new("one");
    let path = lessons().into_iter().find(|p| p.to_string_lossy().contains("03-burst")).unwrap();
    let scenario = udplab_scenario::load(&path).unwrap();
    let (trace, _, captured) = run(&scenario, scenario.seed);
    let a = dir.0.join("laptop.pcap");
    std::fs::write(&a, at_node(&scenario, &trace, &captured, 0, 101, 1_000_000)).unwrap();
    let import = import_files(&[&a], &Options::default(), &[]);
    let text = import.to_string();
    let out = &import.paths[0];
    assert_eq!(out.flows[0].how, capture::recover::How::AtSender, "{text}");
    // The truth, by seq: answered when the echo of that seq arrived back.
    let answered: BTreeSet<String> = trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Arrive { link, label, .. } if scenario.links[link].to == 0 => Some(label.to_string()),
            _ => None,
        })
        .collect();
    let rows: Vec<_> = out.rows().collect();
    let sent = trace
        .iter()
        .filter(|r| matches!(r.event, Event::Offer { link, .. } if scenario.links[link].from == 0))
        .count();
    assert_eq!(rows.len(), sent);
    for r in &rows {
        assert_eq!(r.delay_us.is_some(), answered.contains(&r.label), "{}: {text}", r.label);
    }
    let unanswered = rows.iter().filter(|r| r.delay_us.is_none()).count() as u64;
    assert!(unanswered > 0, "lesson 03 loses some: {text}");
    assert_eq!(out.flows[0].unanswered, unanswered);
    assert!(text.contains("never answered"), "{text}");
    // Both lesson 03 directions take the same time, so half the round trip is each one-way delay.
    let link0 = &scenario.links[0].impairment;
    for r in rows.iter().filter(|r| r.delay_us.is_some()) {
        assert_eq!(r.delay_us, Some(link0.delay_us), "{}", r.label);
    }
}

#[test]
fn captures_that_cannot_be_used_are_clear_errors_and_cut_ones_keep_what_came_before() {
    let dir = TempDir::new("bad");
    let path = lessons().into_iter().find(|p| p.to_string_lossy().contains("02-random-loss")).unwrap();
    let scenario = udplab_scenario::load(&path).unwrap();
    let (trace, pcapng, captured) = run(&scenario, scenario.seed);
    let pcap = at_node(&scenario, &trace, &captured, 0, 1, 0);
    let f = dir.0.join("x");
    let try_bytes = |bytes: &[u8]| {
        std::fs::write(&f, bytes).unwrap();
        capture::import(&[&f], &Options::default(), &[])
    };
    for (what, bytes) in [("pcapng", &pcapng), ("pcap", &pcap)] {
        // Cut at every length: an error naming the file, or what came before the cut with a
        // warning, never a panic.
        let mut read = 0;
        for len in 0..bytes.len() {
            match try_bytes(&bytes[..len]) {
                Ok(_) => read += 1,
                Err(e) => assert!(
                    e.0.contains(&f.display().to_string()) || e.0.contains("no IPv4 UDP"),
                    "{what} {len}: {e}"
                ),
            }
        }
        assert!(read > bytes.len() / 2, "{what}: a cut capture should mostly still be read");
        // Cut inside the last frame: read up to it, and say so.
        let i = try_bytes(&bytes[..bytes.len() - 5]).unwrap();
        let whole = try_bytes(bytes).unwrap();
        assert_eq!(i.datagrams + 1, whole.datagrams, "{what}");
        assert!(
            i.warnings.iter().any(|w| w.contains("ends in the middle of a frame")),
            "{what}: {:?}",
            i.warnings
        );
        assert!(whole.warnings.is_empty(), "{what}: {:?}", whole.warnings);
        // Damage every byte in turn in the first 200 (headers and the first frames).
        for i in 0..200.min(bytes.len()) {
            let mut b = bytes.clone();
            b[i] ^= 0xa5;
            let _ = try_bytes(&b);
        }
    }
    let e = try_bytes(b"this is a text file, not a capture\n").unwrap_err();
    assert!(e.0.contains("is not a pcap or pcapng capture"), "{e}");
    let e = try_bytes(b"").unwrap_err();
    assert!(e.0.contains("is empty"), "{e}");
    // A capture with frames but no UDP.
    let arp =
        pcap_file(1, &[(0, [[0xffu8; 6].as_slice(), &[2, 0, 0, 0, 0, 1, 0x08, 0x06], &[0; 28]].concat())]);
    let e = try_bytes(&arp).unwrap_err();
    assert!(e.0.contains("no IPv4 UDP datagram") && e.0.contains("ARP 1"), "{e}");
}

/// The remote and the first lamp of docs/testing-your-firmware.md (sections 2), as the guide
/// shows them: the device whose evening the guide's captures recorded. Kept in step with the
/// guide by hand; the guide's own test compiles the guide's copy.
mod guide_lamp {
    use udplab_firmware::{App, Context, Endpoint, Note};

    pub const LAMP_PORT: u16 = 5683;
    pub const REMOTE_PORT: u16 = 5684;

    pub struct Remote {
        pub lamp: Endpoint,
        pub presses: u32,
        id: u32,
        attempt: u16,
        due_us: u64,
    }

    impl Remote {
        pub fn new(lamp: Endpoint, presses: u32) -> Remote {
            Remote { lamp, presses, id: 1, attempt: 0, due_us: 0 }
        }
    }

    impl App for Remote {
        fn port(&self) -> u16 {
            REMOTE_PORT
        }

        fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
            let mut buf = [0u8; 16];
            while let Some((n, _)) = cx.recv_from(&mut buf) {
                if n == 6 && buf[0] == b'=' && buf[1..5] == self.id.to_be_bytes() {
                    self.id += 1;
                    self.attempt = 0;
                    self.due_us = cx.now_us();
                }
            }
            if self.id > self.presses {
                return None;
            }
            if cx.now_us() >= self.due_us {
                let mut cmd = [b'!', 0, 0, 0, 0];
                cmd[1..].copy_from_slice(&self.id.to_be_bytes());
                self.attempt += 1;
                let _ = cx.send_message(self.id, self.attempt, &cmd, self.lamp);
                self.due_us = cx.now_us() + 30_000;
            }
            Some(self.due_us)
        }

        fn is_done(&self) -> bool {
            self.id > self.presses
        }
    }

    #[derive(Default)]
    pub struct Lamp {
        on: bool,
    }

    impl App for Lamp {
        fn port(&self) -> u16 {
            LAMP_PORT
        }

        fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
            let mut buf = [0u8; 16];
            while let Some((n, from)) = cx.recv_from(&mut buf) {
                if n != 5 || buf[0] != b'!' {
                    continue;
                }
                let id = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
                self.on = !self.on;
                cx.deliver(id, from);
                cx.note(Note::new("toggled").with("id", i64::from(id)).with("on", i64::from(self.on)));
                let mut ack = [b'=', 0, 0, 0, 0, 0];
                ack[1..5].copy_from_slice(&id.to_be_bytes());
                ack[5] = u8::from(self.on);
                let _ = cx.send_to(&ack, from);
            }
            None
        }

        fn is_done(&self) -> bool {
            true
        }
    }
}

#[test]
fn the_guides_captures_are_what_the_first_lamp_did_that_evening() {
    use guide_lamp::{LAMP_PORT, Lamp, Remote};
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/captures");
    let scenario = udplab_scenario::load(&docs.join("living-room-evening.toml")).unwrap();
    let mut sim = Sim::new(scenario.clone());
    let lamp = udplab_firmware::Endpoint { addr: [10, 0, 0, 3], port: LAMP_PORT };
    sim.app("remote", move || Remote::new(lamp, 9)).app("lamp", Lamp::default);
    let (out, captured) = sim.run_with_capture(scenario.seed).unwrap();
    // The evening the guide is about: the lamp acted on a press twice.
    assert!(!out.flow("remote", "lamp").duplicates().is_empty(), "{}", out.timeline());
    // 2026-11-20 19:42 UTC on the remote's machine; the lamp's clock is 1.234567 s ahead.
    let evening_us = 1_795_203_720_000_000;
    let remote = at_node(&scenario, &out.trace, &captured, 0, 1, evening_us);
    let lamp = at_node(&scenario, &out.trace, &captured, 1, 113, evening_us + 1_234_567);
    let files = [("living-room-remote.pcap", remote), ("living-room-lamp.pcap", lamp)];
    for (name, bytes) in files {
        let path = docs.join(name);
        if std::env::var("UDPLAB_REGENERATE").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &bytes).unwrap();
        }
        let shipped = std::fs::read(&path).unwrap_or_default();
        assert!(
            shipped == bytes,
            "{name} is not what the first lamp's evening makes: UDPLAB_REGENERATE=1 writes it"
        );
    }
}

/// docs/testing-your-firmware.md section 6 in one test (the guide's own test runs it as a
/// reader would, slower): the two captures of that evening, imported with `--seq-at 1:u32be`,
/// replay the first lamp's double toggle.
#[test]
fn the_guides_captures_replay_the_evening_the_lamp_toggled_twice() {
    use guide_lamp::{LAMP_PORT, Lamp, Remote};
    fn cmd(payload: &[u8]) -> Option<udplab_sim::Label> {
        let id = u32::from_be_bytes(payload.get(1..5)?.try_into().ok()?);
        Some(udplab_sim::Label::Named { kind: "cmd", id: Some(u64::from(id)) })
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/captures");
    let opts =
        Options { seq_at: Some(capture::SeqField::parse("1:u32be", "cmd").unwrap()), ..Options::default() };
    let names = vec![([10, 0, 0, 2], "remote".to_owned()), ([10, 0, 0, 3], "lamp".to_owned())];
    let import = import_files(
        &[&docs.join("living-room-remote.pcap"), &docs.join("living-room-lamp.pcap")],
        &opts,
        &names,
    );
    let evening = udplab_scenario::load(&docs.join("living-room-evening.toml")).unwrap();
    let mut sim = Sim::new(replaying(&evening, &import));
    let lamp = udplab_firmware::Endpoint { addr: [10, 0, 0, 3], port: LAMP_PORT };
    sim.app("remote", move || Remote::new(lamp, 9)).app("lamp", Lamp::default).labeller(cmd);
    let out = sim.run(1).unwrap();
    let e = out.flow("remote", "lamp").check_no_duplicates().unwrap_err().to_string();
    assert!(e.contains("delivered more than once: 1"), "{e}\n{}", out.timeline());
    // And the evening itself (the run the captures were made from, without a labeller): the
    // same losses and the same double toggle.
    let mut real = Sim::new(evening.clone());
    real.app("remote", move || Remote::new(lamp, 9)).app("lamp", Lamp::default);
    let truth = real.run(evening.seed).unwrap();
    let lost = |o: &udplab_sim::Outcome| {
        o.trace.iter().filter(|r| matches!(r.event, Event::Offer { fate: Fate::Lost(_), .. })).count()
    };
    assert_eq!(lost(&out), lost(&truth));
    assert_eq!(out.flow("remote", "lamp").duplicates(), truth.flow("remote", "lamp").duplicates());
}

/// docs/lessons.md, lesson 9: the capture-import excerpt is what the import prints, and every
/// number the knob paragraph quotes is in the table of the sweep the guide draws.
#[test]
fn lesson_9_in_the_guide_quotes_what_the_runs_give() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/lessons.md")).unwrap();
    let section = &guide[guide.find("## 9. ").unwrap()..guide.find("## Keeping the pictures true").unwrap()];

    let names = vec![([192, 0, 2, 1], "laptop".to_owned()), ([192, 0, 2, 2], "board".to_owned())];
    let capture = root.join("scenarios/captures/classroom-wifi.pcapng");
    let printed = import_files(&[&capture], &Options::default(), &names).to_string();
    let excerpt = section.split("```text\n").nth(1).unwrap().split("```").next().unwrap();
    for line in excerpt.lines().filter(|l| !l.trim().is_empty()) {
        assert!(printed.contains(line.trim()), "the import does not print {line:?}:\n{printed}");
    }

    let (_, vary, seeds) =
        udplab_teach::lessons::SWEEPS.iter().find(|(n, _, _)| *n == "09-replayed-capture").unwrap();
    let scenario = udplab_scenario::load(&root.join("scenarios/09-replayed-capture.toml")).unwrap();
    let request = udplab_teach::sweep::Request {
        vary: vary.iter().map(|v| v.to_string()).collect(),
        seeds: Some(seeds.to_string()),
        csv: None,
        svg: None,
        jobs: Some(2),
        progress: false,
        max_events: None,
        ..Default::default()
    };
    let table = udplab_teach::sweep::command(&scenario, &request).unwrap();
    let knob = &section[section.find("**Knob:**").unwrap()..];
    let knob = &knob[..knob.find("```").unwrap()];
    // Every number with a unit in the paragraph, except the whole capture's 90% (the import's
    // number, checked above) and the replayed run's 76.7% (the lesson's own summary, below).
    let quoted: Vec<&str> = knob
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';' || c == ':')
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| w.ends_with('%') || w.ends_with("ms"))
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter(|w| !["90%", "76.7%"].contains(w))
        .collect();
    assert!(quoted.len() >= 8, "{quoted:?}");
    for q in &quoted {
        assert!(table.contains(q), "lesson 9 quotes {q}, the sweep table has no such number:\n{table}");
    }
    for (n, at) in [("25", "worse=1"), ("118", "worse=4")] {
        let row = table.lines().find(|l| l.split_whitespace().take(2).eq([&at[6..], "true"])).unwrap();
        assert!(row.split_whitespace().any(|w| w == n), "{at}: {row}");
        assert!(knob.contains(&format!("{n} at `{at}`")));
    }
    let run = udplab_sim::run(&scenario, scenario.seed).unwrap();
    let summary = udplab_sim::report::Summary::from_trace(&scenario, scenario.seed, &run).render();
    assert!(summary.contains("delivered 23 (76.7%)") && knob.contains("76.7%"), "{summary}");
    assert!(printed.contains("200 datagrams, 20 lost (10.00%)") && knob.contains("90%"), "{printed}");
}

/// Every link layer the importer reads gives the same rows as plain Ethernet: Linux cooked v1
/// and v2, raw IP, BSD loopback, and Ethernet with a VLAN tag.
#[test]
fn every_link_type_gives_the_same_rows() {
    let dir = TempDir::new("linktypes");
    let path = lessons().into_iter().find(|p| p.to_string_lossy().contains("03-burst")).unwrap();
    let scenario = udplab_scenario::load(&path).unwrap();
    let (trace, _, captured) = run(&scenario, scenario.seed);
    let rows = |linktype: u32| {
        let f = dir.0.join(format!("laptop-{linktype}.pcap"));
        std::fs::write(&f, at_node(&scenario, &trace, &captured, 0, linktype, 0)).unwrap();
        let import = import_files(&[&f], &Options::default(), &[]);
        assert!(import.skipped.is_empty(), "{linktype}: {:?}", import.skipped);
        import.paths.iter().map(|p| p.rows.clone()).collect::<Vec<_>>()
    };
    let ethernet = rows(1);
    assert!(ethernet.iter().map(Vec::len).sum::<usize>() > 20);
    for linktype in [113, 276, 101, 0, VLAN] {
        assert_eq!(rows(linktype), ethernet, "link type {linktype}");
    }
}
