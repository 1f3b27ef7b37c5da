//! The teaching outputs as a student and a teacher meet them: ladders (snapshots of every
//! lesson, reviewed), SVG and HTML parsed by real parsers, the pcapng read back by a pcap
//! reader, and sweeps through the `udplab` binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcap_parser::pcapng::Block;
use pcap_parser::{OptionCode, PcapBlockOwned, PcapError, PcapNGReader, traits::PcapReaderIterator};
use udplab_sim::link::Fate;
use udplab_sim::{Event, Scenario};
use udplab_teach::story::Story;
use udplab_teach::{ladder, mermaid, svg};

fn udplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_udplab")).args(args).output().expect("udplab runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lesson files, sorted.
fn lessons() -> Vec<PathBuf> {
    let files = udplab_teach::lessons::lesson_files(&root()).unwrap();
    assert!(files.len() >= 8, "expected the eight lessons, found {}", files.len());
    files
}

fn lesson(name: &str) -> PathBuf {
    lessons()
        .into_iter()
        .find(|p| p.to_string_lossy().contains(name))
        .unwrap_or_else(|| panic!("no lesson {name}"))
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// A fresh folder for one test's files.
fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("teach").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load(path: &Path) -> (Scenario, udplab_teach::RunOutput) {
    let scenario = udplab_scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let out = udplab_teach::run_scenario(&scenario, scenario.seed).unwrap();
    (scenario, out)
}

/// `(link name, index)` of every datagram offered to a link.
fn offered(scenario: &Scenario, trace: &[udplab_sim::Record]) -> BTreeSet<(String, u64)> {
    trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Offer { link, index, .. } => Some((scenario.link_name(link), index)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_lesson_has_reviewed_terminal_and_mermaid_ladders() {
    for path in lessons() {
        let (scenario, out) = load(&path);
        let story = Story::new(&scenario, &out.trace);
        let name = stem(&path);
        let plain = ladder::render(&story, out.seed, false, None);
        assert!(!plain.contains('\x1b'), "{name}: plain ladder has colour codes");
        assert!(plain.is_ascii(), "{name}: the terminal ladder is ASCII");
        let coloured = ladder::render(&story, out.seed, true, None);
        if plain.contains("LOST: ") {
            assert!(coloured.contains("\x1b[31m"), "{name}: losses are red");
        }
        // Colour wraps rows; without the codes the text is the same.
        let stripped = coloured.replace("\x1b[0m", "").replace("\x1b[31m", "").replace("\x1b[35m", "");
        let stripped = stripped
            .replace("\x1b[33m", "")
            .replace("\x1b[36m", "")
            .replace("\x1b[2m", "")
            .replace("\x1b[94m", "");
        assert_eq!(stripped, plain, "{name}: colour changes the text");

        // One X per lost datagram, one `==` row per duplicate copy.
        let lost = story.datagrams.iter().filter(|d| d.lost().is_some()).count();
        assert_eq!(plain.lines().filter(|l| l.contains("LOST: ")).count(), lost, "{name}");
        let copies = story.datagrams.iter().filter(|d| d.copies.len() > 1).count();
        assert_eq!(plain.matches("|== #").count(), copies, "{name}");

        let diagram = mermaid::render(&story, out.seed);
        assert!(diagram.starts_with("sequenceDiagram\n"));
        // A loss is a note beside its sender, never an arrow (Mermaid ends every arrow, `-x`
        // too, at the receiver's lifeline, where it looks like an arrival).
        let notes: Vec<&str> = diagram.lines().filter(|l| l.contains(" LOST ")).collect();
        assert_eq!(notes.len(), lost, "{name}: one note per loss");
        for note in &notes {
            let body = note.trim_start();
            assert!(
                body.starts_with("Note right of ") || body.starts_with("Note left of "),
                "{name}: {note}"
            );
            let sender = body.split(" of ").nth(1).and_then(|r| r.split(':').next()).unwrap();
            let receiver = body.split(" to ").nth(1).and_then(|r| r.split(' ').next()).unwrap();
            assert_ne!(sender, receiver, "{name}: the note is on the sender's side: {note}");
        }
        assert!(!diagram.contains("-x"), "{name}: no lost arrow");
        for line in diagram.lines().skip(1) {
            let body = line.trim_start();
            // Only `#` of the `#35;` entity, no `;` outside it: Mermaid would end the message there.
            let without_entity = body.replace("#35;", "").replace("#10007;", "");
            assert!(!without_entity.contains('#') && !without_entity.contains(';'), "{name}: unsafe: {line}");
        }
        insta::assert_snapshot!(format!("{name}-ladder"), plain);
        insta::assert_snapshot!(format!("{name}-mermaid"), diagram);
    }
}

#[test]
fn the_svg_ladder_is_well_formed_and_draws_every_datagram() {
    for path in lessons() {
        let (scenario, out) = load(&path);
        let story = Story::new(&scenario, &out.trace);
        let doc = svg::ladder(&story, out.seed);
        let name = stem(&path);
        let xml = roxmltree::Document::parse(&doc)
            .unwrap_or_else(|e| panic!("{name}: SVG is not well-formed: {e}"));
        let root = xml.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let mut drawn = BTreeSet::new();
        for g in
            root.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("datagram")))
        {
            let link = g.attribute("data-link").expect("data-link").to_string();
            let index: u64 = g.attribute("data-index").expect("data-index").parse().unwrap();
            // The tooltip tells the datagram's story, and the arrow is labelled with its number.
            let title = g.children().find(|c| c.has_tag_name("title")).and_then(|t| t.text()).unwrap_or("");
            assert!(title.starts_with(&format!("{link} #{index} ")), "{name}: title {title:?}");
            let label =
                g.descendants().filter_map(|n| n.text()).any(|t| t.starts_with(&format!("#{index} ")));
            assert!(label, "{name}: {link} #{index} has no label");
            let d =
                story.datagrams.iter().find(|d| story.link_name(d.link) == link && d.index == index).unwrap();
            let lost_class = g.attribute("class").unwrap().contains("lost");
            assert_eq!(lost_class, matches!(d.fate, Fate::Lost(_)), "{name}: {link} #{index}");
            assert!(drawn.insert((link, index)), "{name}: drawn twice");
        }
        assert_eq!(drawn, offered(&scenario, &out.trace), "{name}: every datagram is drawn once");
        // Deterministic: the same run draws the same bytes.
        assert_eq!(doc, svg::ladder(&Story::new(&scenario, &out.trace), out.seed));
    }
}

#[test]
fn the_html_report_is_one_well_formed_self_contained_file() {
    let dir = tmp("html");
    for path in lessons() {
        let name = stem(&path);
        let file = dir.join(format!("{name}.html"));
        let run = udplab(&["run", path.to_str().unwrap(), "--html", file.to_str().unwrap(), "--quiet"]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        assert!(run.stdout.is_empty(), "--quiet prints nothing");
        let html = std::fs::read_to_string(&file).unwrap();
        let doc = scraper::Html::parse_document(&html);
        assert!(doc.errors.is_empty(), "{name}: HTML parse errors: {:?}", doc.errors);
        let select = |css: &str| scraper::Selector::parse(css).unwrap();
        // Nothing to fetch: no scripts, external styles, images, frames or remote references.
        for css in ["script", "link", "img", "iframe", "object", "embed", "[src]", "image"] {
            assert_eq!(doc.select(&select(css)).count(), 0, "{name}: has {css}");
        }
        for el in doc.root_element().descendants().filter_map(scraper::ElementRef::wrap) {
            for (attr, value) in el.value().attrs() {
                assert!(
                    !value.contains("http") || attr == "xmlns",
                    "{name}: external reference {attr}={value}"
                );
            }
        }
        let (scenario, out) = load(&path);
        let title = doc.select(&select("title")).next().unwrap().text().collect::<String>();
        assert_eq!(title, format!("udplab: {name}, seed {}", out.seed));
        // The ladder is inline and has every datagram; the charts are there.
        let drawn: BTreeSet<(String, u64)> = doc
            .select(&select("svg g.datagram"))
            .map(|g| {
                let v = g.value();
                (v.attr("data-link").unwrap().to_string(), v.attr("data-index").unwrap().parse().unwrap())
            })
            .collect();
        assert_eq!(drawn, offered(&scenario, &out.trace), "{name}");
        assert!(doc.select(&select("svg g.chart")).count() >= 2, "{name}: histogram and loss plot");
        // The summary table shows the run's numbers.
        let cells: Vec<String> = doc.select(&select("td")).map(|c| c.text().collect()).collect();
        for f in &out.summary.flows {
            assert!(cells.contains(&f.sent.to_string()), "{name}: sent {}", f.sent);
        }
        let timeline = doc.select(&select("details pre")).next().unwrap().text().collect::<String>();
        assert_eq!(timeline, out.timeline, "{name}: the folded timeline is the run's");
    }
}

/// The blocks of a pcapng file, in order (owned copies of what the test needs).
struct Frame {
    interface: u32,
    at_us: u64,
    data: Vec<u8>,
    comments: Vec<String>,
}

fn read_pcapng(bytes: &[u8]) -> (Vec<(String, u8)>, Vec<Frame>) {
    let mut reader = PcapNGReader::new(65536, bytes).expect("a pcapng section header");
    let (mut interfaces, mut frames) = (Vec::new(), Vec::new());
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let name = idb
                            .options
                            .iter()
                            .find(|o| o.code == OptionCode::IfName)
                            .map(|o| String::from_utf8(o.value[..usize::from(o.len)].to_vec()).unwrap())
                            .unwrap_or_default();
                        interfaces.push((name, idb.if_tsresol));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let comments = epb
                            .options
                            .iter()
                            .filter(|o| o.code == OptionCode::Comment)
                            .map(|o| String::from_utf8(o.value[..usize::from(o.len)].to_vec()).unwrap())
                            .collect();
                        frames.push(Frame {
                            interface: epb.if_id,
                            at_us: (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low),
                            data: epb.data[..epb.caplen as usize].to_vec(),
                            comments,
                        });
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("pcapng does not parse: {e:?}"),
        }
    }
    (interfaces, frames)
}

#[test]
fn the_pcapng_has_one_commented_frame_per_offer_and_arrival_at_virtual_times() {
    let dir = tmp("pcap");
    for path in lessons() {
        let name = stem(&path);
        let file = dir.join(format!("{name}.pcapng"));
        let run = udplab(&["run", path.to_str().unwrap(), "--pcap", file.to_str().unwrap(), "--summary"]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        let (interfaces, frames) = read_pcapng(&std::fs::read(&file).unwrap());

        let (scenario, out) = load(&path);
        let (trace, captured) = udplab_sim::net::run_with_capture(&scenario, scenario.seed).unwrap();
        assert_eq!(trace, out.trace, "{name}: capturing does not change the run");
        let names: Vec<(String, u8)> =
            (0..scenario.links.len()).map(|l| (scenario.link_name(l), 6)).collect();
        assert_eq!(interfaces, names, "{name}: one interface per link, microseconds");

        let events: Vec<_> = out
            .trace
            .iter()
            .filter(|r| matches!(r.event, Event::Offer { .. } | Event::Arrive { .. }))
            .collect();
        assert_eq!(frames.len(), events.len(), "{name}: one frame per Offer and Arrive");
        for (f, r) in frames.iter().zip(&events) {
            let (link, index, copy) = match r.event {
                Event::Offer { link, index, .. } => (link, index, None),
                Event::Arrive { link, index, copy, .. } => (link, index, Some(copy)),
                _ => unreachable!(),
            };
            assert_eq!(f.at_us, r.at_us, "{name}: timestamp");
            assert_eq!(f.interface as usize, link, "{name}: interface");
            // Ethernet: receiver, sender, IPv4; then the bytes the engine had.
            let l = &scenario.links[link];
            assert_eq!(f.data[..6], udplab_teach::pcapng::mac(l.to), "{name}: destination MAC");
            assert_eq!(f.data[6..12], udplab_teach::pcapng::mac(l.from), "{name}: source MAC");
            assert_eq!(f.data[12..14], [0x08, 0x00]);
            let c = captured.iter().find(|c| c.link == link && c.index == index && c.copy == copy).unwrap();
            assert_eq!(f.data[14..], c.packet[..], "{name}: packet bytes");
            // A comment that says which datagram and what happened to it.
            assert_eq!(f.comments.len(), 1, "{name}: one comment");
            let comment = &f.comments[0];
            assert!(
                comment.starts_with(&format!("{} #{index} ", scenario.link_name(link))),
                "{name}: {comment}"
            );
            match r.event {
                Event::Offer { fate: Fate::Lost(_), .. } => {
                    assert!(comment.contains(": LOST, "), "{comment}")
                }
                Event::Offer { .. } => assert!(comment.contains(": sent, arrives after "), "{comment}"),
                Event::Arrive { copy: 1, .. } => {
                    assert!(comment.contains(&format!("duplicate of #{index}")), "{comment}")
                }
                Event::Arrive { overtaken_by: Some(n), .. } => {
                    assert!(comment.contains(&format!("REORDERED: #{n} arrived first")), "{comment}")
                }
                _ => assert!(comment.contains("arrived after "), "{comment}"),
            }
        }
    }
}

#[test]
fn pcapng_comments_name_the_reason_for_each_impairment() {
    let dir = tmp("pcap-reasons");
    let comments = |lesson_name: &str| -> Vec<String> {
        let file = dir.join(format!("{lesson_name}.pcapng"));
        let run =
            udplab(&["run", lesson(lesson_name).to_str().unwrap(), "--pcap", file.to_str().unwrap(), "-q"]);
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        read_pcapng(&std::fs::read(&file).unwrap()).1.into_iter().flat_map(|f| f.comments).collect()
    };
    let c = comments("02-random-loss");
    assert!(c.iter().any(|c| c.starts_with("laptop->board #3 seq=3: LOST, random loss (20%)")), "{c:?}");
    let c = comments("03-burst-loss");
    assert!(c.iter().any(|c| c.contains(": LOST, burst loss, link in BAD state")), "{c:?}");
    let c = comments("04-reordering");
    assert!(c.iter().any(|c| c.contains("held back 40.000ms to be overtaken")), "{c:?}");
    assert!(c.iter().any(|c| c.contains("; REORDERED: #6 arrived first")), "{c:?}");
    assert!(
        c.iter().any(|c| c.starts_with("laptop->board #6 seq=6: arrived after 10.000ms; overtook #5")),
        "{c:?}"
    );
    let c = comments("05-duplication");
    assert!(c.iter().any(|c| c.contains(": duplicate of #1, arrived after")), "{c:?}");
    let c = comments("07-corruption");
    assert!(c.iter().any(|c| c.contains("corrupted: payload bit 221 flipped, UDP checksum fixed")), "{c:?}");
    assert!(c.iter().any(|c| c.contains("UDP checksum left wrong")), "{c:?}");
    let c = comments("08-outage-and-rate");
    assert!(c.iter().any(|c| c.contains(": LOST, link down (outage)")), "{c:?}");
    assert!(c.iter().any(|c| c.contains("at the rate limit")), "{c:?}");
}

#[test]
fn run_writes_every_picture_whole_and_keeps_its_text_output() {
    let dir = tmp("run-files");
    let l = lesson("04-reordering");
    let (svg, md, mmd, html, pcap) =
        (dir.join("a.svg"), dir.join("a.md"), dir.join("a.mmd"), dir.join("a.html"), dir.join("a.pcapng"));
    let plain = udplab(&["run", l.to_str().unwrap()]);
    let with_files = udplab(&[
        "run",
        l.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--mermaid",
        md.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(with_files.status.code(), Some(0), "{}", text(&with_files.stderr));
    assert_eq!(with_files.stdout, plain.stdout, "the text output is unchanged by file flags");
    let _ = udplab(&["run", l.to_str().unwrap(), "--mermaid", mmd.to_str().unwrap(), "-q"]);
    let md_text = std::fs::read_to_string(&md).unwrap();
    let mmd_text = std::fs::read_to_string(&mmd).unwrap();
    assert!(mmd_text.starts_with("sequenceDiagram\n"), "a .mmd file is raw Mermaid");
    assert!(md_text.contains(&format!("```mermaid\n{mmd_text}```\n")), "a .md file wraps it for GitHub");
    for f in [&svg, &html, &pcap] {
        assert!(std::fs::metadata(f).unwrap().len() > 0);
    }
    // Only the five files: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 5);
    // Twice: byte-identical files.
    let again = dir.join("b.pcapng");
    let _ = udplab(&["run", l.to_str().unwrap(), "--pcap", again.to_str().unwrap(), "-q"]);
    assert_eq!(std::fs::read(&pcap).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn the_ladder_replaces_the_timeline_and_colours_only_when_asked() {
    let l = lesson("02-random-loss");
    let plain = udplab(&["run", l.to_str().unwrap(), "--ladder", "--color", "never"]);
    assert_eq!(plain.status.code(), Some(0));
    let out = text(&plain.stdout);
    assert!(out.starts_with("scenario 02-random-loss: seed 5"), "{out}");
    assert!(out.contains("ladder of 02-random-loss, seed 5"), "{out}");
    assert!(out.contains("|-- #3 seq=3 ---X"), "{out}");
    assert!(!out.contains("0.000000  laptop->board  #1"), "the timeline is replaced: {out}");
    assert!(out.contains("summary: seed 5") && out.contains("expectations: all 3 hold"), "{out}");
    assert!(!out.contains('\x1b'));
    // Not a terminal: auto means no colour; always forces it.
    let auto = udplab(&["run", l.to_str().unwrap(), "--ladder"]);
    assert_eq!(auto.stdout, plain.stdout);
    let always = udplab(&["run", l.to_str().unwrap(), "--ladder", "--color", "always"]);
    assert!(text(&always.stdout).contains("\x1b[31m"));
    // Conflicting outputs are refused like other argument errors.
    let both = udplab(&["run", l.to_str().unwrap(), "--ladder", "--json"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn an_output_file_that_cannot_be_written_exits_three_and_says_which() {
    let l = lesson("01-perfect-link");
    let dir = tmp("unwritable");
    let missing = dir.join("no/such/folder/out.svg");
    let out = udplab(&["run", l.to_str().unwrap(), "--svg", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot write") && text(&out.stderr).contains("out.svg"),
        "{}",
        text(&out.stderr)
    );
    let onto_folder = udplab(&["run", l.to_str().unwrap(), "--html", dir.to_str().unwrap(), "-q"]);
    assert_eq!(onto_folder.status.code(), Some(3));
}

#[test]
fn tap_writes_pictures_and_a_capture_from_the_real_clock_run() {
    // A real TAP run needs root and /dev/net/tun.
    let l = lesson("02-random-loss");
    let dir = tmp("tap");
    let (svg, pcap) = (dir.join("tap.svg"), dir.join("tap.pcapng"));
    let run = udplab(&[
        "tap",
        l.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
        "--ladder",
        "--color",
        "never",
    ]);
    if run.status.code() == Some(4) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "TAP must run in CI: {}", text(&run.stderr));
        eprintln!("\n*** SKIPPED tap pictures: {} ***\n", text(&run.stderr).trim());
        return;
    }
    // Real time, but latency_max gets the real-clock tolerance: the lesson passes.
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("ladder of 02-random-loss"));
    let doc = std::fs::read_to_string(&svg).unwrap();
    let xml = roxmltree::Document::parse(&doc).unwrap();
    let datagrams =
        xml.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("datagram"))).count();
    // The fates are keyed by what each datagram is, so the TAP run loses the same four.
    assert_eq!(datagrams, 20 + 16, "20 messages and 16 echoes");
    let (interfaces, frames) = read_pcapng(&std::fs::read(&pcap).unwrap());
    assert_eq!(interfaces.len(), 2);
    // 36 datagrams offered; 16 + 16 came out of the links (the four lost ones did not).
    assert_eq!(frames.len(), 36 + 32);
    assert!(frames.iter().all(|f| f.comments.len() == 1));
    assert_eq!(frames.iter().filter(|f| f.comments[0].contains(": LOST, ")).count(), 4);
    assert!(frames.windows(2).all(|w| w[0].at_us <= w[1].at_us), "frames in time order");
}

#[test]
fn a_sweep_writes_one_csv_row_per_point_and_seed_the_same_every_time() {
    let l = lesson("02-random-loss");
    let dir = tmp("sweep");
    let (csv1, csv2, svg1, svg2) =
        (dir.join("1.csv"), dir.join("2.csv"), dir.join("1.svg"), dir.join("2.svg"));
    let sweep = |csv: &Path, svg: &Path, jobs: &str| {
        udplab(&[
            "sweep",
            l.to_str().unwrap(),
            "--vary",
            "loss=0..0.5:0.1",
            "--vary",
            "reliable=false,true",
            "--seeds",
            "1..3",
            "--csv",
            csv.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--jobs",
            jobs,
        ])
    };
    let a = sweep(&csv1, &svg1, "2");
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let b = sweep(&csv2, &svg2, "1");
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    let csv = std::fs::read_to_string(&csv1).unwrap();
    assert_eq!(csv, std::fs::read_to_string(&csv2).unwrap(), "same sweep, same CSV, whatever the threads");
    assert_eq!(std::fs::read(&svg1).unwrap(), std::fs::read(&svg2).unwrap(), "and the same plot");
    assert_eq!(a.stdout, b.stdout, "and the same table");

    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "loss,reliable,seed,sent,delivered,lost,duplicates,out_of_order,latency_min_us,latency_mean_us,\
         latency_max_us,goodput_bps,retransmissions,expectations,latency_samples,latency_sum_us"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 6 * 2 * 3, "one row per grid point and seed");
    let mut keys = BTreeSet::new();
    for r in &rows {
        assert_eq!(r.len(), 16);
        if r[14] != "0" {
            let (samples, sum, mean): (u64, u64, u64) =
                (r[14].parse().unwrap(), r[15].parse().unwrap(), r[9].parse().unwrap());
            assert_eq!(sum / samples, mean, "the mean's ingredients are the mean's ({r:?})");
        }
        assert!(keys.insert((r[0], r[1], r[2])), "each point and seed once");
        let (sent, delivered, lost): (u64, u64, u64) =
            (r[3].parse().unwrap(), r[4].parse().unwrap(), r[5].parse().unwrap());
        assert_eq!(delivered + lost, sent, "{r:?}");
        if r[0] == "0" {
            assert_eq!((sent, delivered), (20, 20), "no loss: everything arrives ({r:?})");
        }
        if r[1] == "false" {
            // Plain mode sends every message once, never retransmits.
            assert_eq!((sent, r[12]), (20, "0"), "{r:?}");
        }
    }
    assert!(rows.iter().any(|r| r[1] == "true" && r[12] != "0"), "reliable mode retransmits under loss");
    assert_eq!(rows[0][..3], ["0", "false", "1"], "grid order: first --vary outermost, seeds innermost");
    assert_eq!(rows[1][..3], ["0", "false", "2"]);
    assert_eq!(rows[3][..3], ["0", "true", "1"]);
    let plot = std::fs::read_to_string(&svg1).unwrap();
    roxmltree::Document::parse(&plot).expect("the sweep plot is well-formed SVG");
    assert!(plot.contains("reliable=false") && plot.contains("reliable=true"), "one series per mode");
}

/// Issue 10's promise: a sweep cut into shards on many machines and merged is the sweep one
/// machine runs, byte for byte (table, CSV and plot), whatever order the shards come in.
#[test]
fn sharded_sweeps_merge_into_the_same_table_csv_and_plot_as_one_run() {
    let l = lesson("06-reliable-heavy-loss");
    let l = l.to_str().unwrap();
    let dir = tmp("shards");
    let grid = ["--vary", "loss=0..0.4:0.2", "--vary", "reliable=false,true", "--seeds", "1..4"];
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let with = |extra: &[&str]| {
        let mut args = vec!["sweep", l];
        args.extend(grid);
        args.extend(extra);
        udplab(&args)
    };
    let whole = with(&["--csv", &path("whole.csv"), "--svg", &path("whole.svg")]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    for k in 1..=5 {
        let shard = format!("{k}/5");
        let out = with(&["--shard", &shard, "--csv", &path(&format!("shard-{k}.csv")), "--jobs", "1"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "a shard prints no table: it has only part of each point");
        assert!(text(&out.stderr).contains(&format!("shard {shard}: ")), "{}", text(&out.stderr));
    }
    // 3 x 2 points x 4 seeds = 24 runs over 5 shards: 5, 5, 5, 5, 4 rows.
    let rows =
        |k: usize| std::fs::read_to_string(dir.join(format!("shard-{k}.csv"))).unwrap().lines().count() - 1;
    assert_eq!((1..=5).map(rows).collect::<Vec<_>>(), [5, 5, 5, 5, 4]);
    let shards: Vec<String> = [3, 1, 5, 2, 4].iter().map(|k| path(&format!("shard-{k}.csv"))).collect();
    let mut merge_args =
        vec!["--csv".to_string(), path("merged.csv"), "--svg".to_string(), path("merged.svg")];
    merge_args.push("--merge".into());
    merge_args.extend(shards.iter().cloned());
    let merged = with(&merge_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    assert_eq!(text(&merged.stdout), text(&whole.stdout), "the same table");
    assert!(text(&whole.stdout).lines().count() == 7, "a header and six points:\n{}", text(&whole.stdout));
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(read("merged.csv"), read("whole.csv"), "the same CSV");
    assert_eq!(read("merged.svg"), read("whole.svg"), "the same plot");

    // A missing shard, a shard given twice, a shard of another grid and a damaged line are
    // refused with what and where, and write nothing.
    let refused = |args: Vec<String>, says: &str| {
        let _ = std::fs::remove_file(dir.join("refused.csv"));
        let mut all = vec!["--csv".to_string(), path("refused.csv"), "--merge".to_string()];
        all.extend(args);
        let out = with(&all.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{all:?}: {}", text(&out.stderr));
        assert!(!dir.join("refused.csv").exists(), "nothing written when the merge is refused");
    };
    refused(
        shards[..4].to_vec(),
        "the shards lack 5 of the sweep's 24 runs; the first is loss=0 reliable=false seed=4",
    );
    let twice = [shards.clone(), vec![shards[0].clone()]].concat();
    refused(twice, "is also at");
    std::fs::write(dir.join("other.csv"), "loss,seed,sent\n0,1,20\n").unwrap();
    refused(vec![path("other.csv")], "other.csv:1:1: expected the header `loss,reliable,seed,");
    let damaged = std::fs::read_to_string(dir.join("shard-1.csv")).unwrap().replacen(",pass,", ",maybe,", 1);
    let damaged = if damaged.contains("maybe") {
        damaged
    } else {
        std::fs::read_to_string(dir.join("shard-1.csv")).unwrap().replacen(",fail,", ",maybe,", 1)
    };
    std::fs::write(dir.join("damaged.csv"), damaged).unwrap();
    refused(vec![path("damaged.csv")], "damaged.csv:2:");
    let bad_shard = with(&["--shard", "6/5", "--csv", &path("x.csv")]);
    assert_eq!(bad_shard.status.code(), Some(2));
    assert!(text(&bad_shard.stderr).contains("expected K/N"), "{}", text(&bad_shard.stderr));
    let no_csv = with(&["--shard", "1/5"]);
    assert_eq!(no_csv.status.code(), Some(2));
    assert!(text(&no_csv.stderr).contains("needs --csv"), "{}", text(&no_csv.stderr));
}

/// docs/sweeps.md's first shell block, run with bash as a reader would (from a folder with the
/// lessons, `udplab` on the PATH), makes the CSV one unsharded sweep makes.
#[test]
fn the_sweeps_guide_runs_as_written() {
    let guide = std::fs::read_to_string(root().join("docs/sweeps.md")).unwrap();
    let start = guide.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let block = &guide[start..start + guide[start..].find("```").unwrap()];
    let dir = tmp("sweeps-guide");
    let _ = std::fs::remove_file(dir.join("scenarios"));
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_udplab")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(&dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{block}\n{}", text(&out.stderr));
    let whole = udplab(&[
        "sweep",
        lesson("06-reliable-heavy-loss").to_str().unwrap(),
        "--vary",
        "loss=0..0.4:0.2",
        "--vary",
        "reliable=false,true",
        "--seeds",
        "1..4",
        "--csv",
        dir.join("whole.csv").to_str().unwrap(),
    ]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    assert!(block.contains("--vary loss=0..0.4:0.2 --vary reliable=false,true --seeds 1..4"), "{block}");
    assert_eq!(
        std::fs::read(dir.join("sweep.csv")).unwrap(),
        std::fs::read(dir.join("whole.csv")).unwrap(),
        "the guide's merged sweep is one machine's"
    );
    assert_eq!(text(&out.stdout), text(&whole.stdout), "and prints the same table");
}

#[test]
fn bad_sweep_arguments_exit_two_with_a_clear_message() {
    let l = lesson("02-random-loss");
    let l = l.to_str().unwrap();
    for (args, says) in [
        (vec!["--vary", "loss"], "expected NAME=FROM..TO:STEP"),
        (vec!["--vary", "lose=0..0.5:0.1"], "did you mean `loss`"),
        (vec!["--vary", "loss=0..0.5"], "needs a step"),
        (vec!["--vary", "loss=0..1.5:0.1"], "at most 1"),
        (vec!["--vary", "delay=1..5:1"], "no unit"),
        (vec!["--vary", "loss=0.1", "--vary", "loss=0.2"], "given twice"),
        (vec!["--seeds", "ten"], "--seeds `ten`"),
    ] {
        let mut all = vec!["sweep", l];
        all.extend(args);
        let out = udplab(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{all:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    let zero_jobs = udplab(&["sweep", l, "--jobs", "0"]);
    assert_eq!(zero_jobs.status.code(), Some(2));
    let unwritable = udplab(&["sweep", l, "--csv", "/nonexistent/folder/s.csv"]);
    assert_eq!(unwritable.status.code(), Some(3), "{}", text(&unwritable.stderr));
}

/// A scenario file written for one test.
fn scenario_file(name: &str, body: &str) -> PathBuf {
    let path = tmp(name).join(format!("{name}.toml"));
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_run_cut_short_shows_datagrams_still_in_flight() {
    // 500 ms each way, but the run ends after 1.2 s: the last request and echoes are in flight.
    let path = scenario_file(
        "cut-short",
        r#"
duration = "1.2s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 3
interval = "400ms"
[[node]]
name = "board"
role = "server"
port = 3333
[[link]]
between = ["laptop", "board"]
delay = "500ms"
"#,
    );
    let (scenario, out) = load(&path);
    let story = Story::new(&scenario, &out.trace);
    let in_flight = out.trace.iter().filter(|r| matches!(r.event, Event::InFlightAtEnd { .. })).count();
    assert!(in_flight >= 2, "the scenario leaves datagrams in flight");
    let ladder = ladder::render(&story, out.seed, false, None);
    assert_eq!(ladder.matches("still in flight when the run ended").count(), in_flight + 1, "{ladder}");
    assert!(ladder.contains(". . ."), "{ladder}");
    let diagram = mermaid::render(&story, out.seed);
    assert_eq!(diagram.matches("--)").count(), in_flight, "{diagram}");
    let doc = svg::ladder(&story, out.seed);
    roxmltree::Document::parse(&doc).unwrap();
    assert!(doc.contains("(in flight)"));
    // No frame for what never came out of the link.
    let pcap = path.with_extension("pcapng");
    let run = udplab(&["run", path.to_str().unwrap(), "--pcap", pcap.to_str().unwrap(), "-q"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let (_, frames) = read_pcapng(&std::fs::read(&pcap).unwrap());
    let events =
        out.trace.iter().filter(|r| matches!(r.event, Event::Offer { .. } | Event::Arrive { .. })).count();
    assert_eq!(frames.len(), events);
    assert!(frames.iter().any(|f| f.comments[0].contains("still in flight when the run ended")));
}

#[test]
fn three_nodes_get_three_lifelines_and_arrows_across_the_middle_one() {
    let path = scenario_file(
        "three-nodes",
        r#"
duration = "1s"
[[node]]
name = "laptop"
role = "client"
server = "board"
count = 2
[[node]]
name = "phone"
role = "client"
server = "board"
count = 2
start = "50ms"
[[node]]
name = "board"
role = "server"
port = 3333
[[link]]
from = "laptop"
to = "board"
delay = "5ms"
drop = [2]
[[link]]
from = "phone"
to = "board"
delay = "5ms"
duplicate = 1.0
"#,
    );
    let (scenario, out) = load(&path);
    let story = Story::new(&scenario, &out.trace);
    let ladder = ladder::render(&story, out.seed, false, None);
    assert!(ladder.contains("LOST: on the drop list"), "{ladder}");
    let diagram = mermaid::render(&story, out.seed);
    let doc = svg::ladder(&story, out.seed);
    let xml = roxmltree::Document::parse(&doc).unwrap();
    let lifelines =
        xml.descendants().filter(|n| n.has_tag_name("line") && n.attribute("stroke") == Some("#b0bec5"));
    assert_eq!(lifelines.count(), 3);
    insta::assert_snapshot!("three-nodes-ladder", ladder);
    insta::assert_snapshot!("three-nodes-mermaid", diagram);
}

#[test]
fn the_reports_latency_charts_are_not_drawn_in_the_colour_of_loss() {
    for path in lessons() {
        let (scenario, out) = load(&path);
        let story = Story::new(&scenario, &out.trace);
        let page = udplab_teach::html::report(&out, &story);
        let start =
            page.find("<h2>Latency</h2>").unwrap_or_else(|| panic!("{}: a latency section", scenario.name));
        let rest = &page[start + 1..];
        let charts = &rest[..rest.find("<h2>").unwrap_or(rest.len())];
        assert!(charts.contains("<rect"), "{}: the charts have bars", scenario.name);
        assert!(
            !charts.contains(svg::LOST),
            "{}: a latency chart uses the red of a lost datagram",
            scenario.name
        );
    }
}

#[test]
fn at_80_columns_every_ladder_row_fits_and_its_note_wraps_under_it() {
    for path in lessons() {
        let (scenario, out) = load(&path);
        let story = Story::new(&scenario, &out.trace);
        let name = stem(&path);
        let wide = ladder::render(&story, out.seed, false, None);
        let narrow = ladder::render(&story, out.seed, false, Some(80));
        let too_long: Vec<&str> = narrow.lines().filter(|l| l.len() > 80).collect();
        assert!(too_long.is_empty(), "{name}: rows wider than 80 columns:\n{}", too_long.join("\n"));
        // Continuation lines carry the lifelines on, never start in column 0, and lose no word:
        // joined back, they are the wide ladder's rows.
        // The lane is as wide as the header row's last lifeline reaches.
        let first_row = wide.lines().find(|l| l.len() > 12 && l[12..].starts_with('|')).unwrap();
        let lane_width = first_row[12..].rfind('|').unwrap() + 1;
        let mut rejoined: Vec<String> = Vec::new();
        for line in narrow.lines() {
            let lane = line.get(12..12 + lane_width);
            let continued = line.starts_with("            |")
                && lane.is_some_and(|l| l.chars().all(|c| c == '|' || c == ' '))
                && line.get(12 + lane_width..12 + lane_width + 2) == Some("  ");
            match rejoined.last_mut() {
                Some(prev) if continued => {
                    prev.push(' ');
                    prev.push_str(&line[12 + lane_width + 2..]);
                }
                _ => rejoined.push(line.to_string()),
            }
        }
        let wide_rows: Vec<&str> = wide.lines().skip_while(|l| !l.trim_start().starts_with("sent")).collect();
        let narrow_rows: Vec<&str> =
            rejoined.iter().map(String::as_str).skip_while(|l| !l.trim_start().starts_with("sent")).collect();
        assert_eq!(narrow_rows, wide_rows, "{name}: wrapping changed the rows' text");
        assert!(
            narrow.lines().count() > wide.lines().count() || name.starts_with("01"),
            "{name}: something wrapped"
        );
    }
}

/// Around the ladder, the run's header and the summary fit 80 columns too, and say the same
/// words as at full width.
#[test]
fn at_80_columns_the_header_and_summary_fit_and_keep_every_word() {
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    for path in lessons() {
        let (scenario, out) = load(&path);
        let story = Story::new(&scenario, &out.trace);
        let name = stem(&path);
        let around = |columns: Option<usize>| {
            let whole = udplab_teach::ladder_text(&out, false, columns);
            let ladder = ladder::render(&story, out.seed, false, columns);
            let at = whole.find(&ladder).unwrap_or_else(|| panic!("{name}: the ladder is in the output"));
            (whole[..at].to_string(), whole[at + ladder.len()..].to_string(), whole)
        };
        let (head, tail, whole) = around(Some(80));
        let too_long: Vec<&str> = whole.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(too_long.is_empty(), "{name}: lines wider than 80 columns:\n{}", too_long.join("\n"));
        let (wide_head, wide_tail, _) = around(None);
        assert_eq!(words(&head), words(&wide_head), "{name}: the header's words");
        assert_eq!(words(&tail), words(&wide_tail), "{name}: the summary's words");
        for l in head.lines().chain(tail.lines()) {
            assert!(!l.starts_with(' ') || l.starts_with("  "), "{name}: a continuation in column 1: {l:?}");
        }
    }
}
