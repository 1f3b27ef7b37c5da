//! Target `capture`: any bytes as a capture file for `udplab capture-import`
//! (`udplab_capture`), and as a link-trace file for a scenario's `trace = FILE`.
//!
//! Checks that reading, recovering and fitting never panic; that every direction's rows are
//! keyed without two rows on one key (a replay could not hold them); and that a trace the
//! importer writes reads back to the same rows.

use udplab_capture::{Options, read};
use udplab_scenario::link_trace;

pub fn run(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = link_trace::parse(text, "fuzz.csv");
    }
    let mut cap = read::Captured::default();
    if read::read_bytes(data, "fuzz.pcap", 0, &mut cap).is_err() {
        return;
    }
    // One end as it is read, and the same capture read as taken at its first destination.
    let at = cap.seen.first().map(|s| s.dst.0);
    for opts in [Options::default(), Options { at, ..Options::default() }] {
        let Ok(import) = udplab_capture::import_captured(cap.clone(), vec!["fuzz.pcap".into()], &opts, &[])
        else {
            continue;
        };
        let _ = import.to_string();
        let _ = import.link_sections("traces");
        for p in &import.paths {
            let text = import.trace_file(p);
            let rows = link_trace::parse(&text, "written.csv").unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(rows.len(), p.rows().count());
            if let Err((a, b)) = link_trace::to_link_trace("t", &rows) {
                panic!("rows {a} and {b} of {} have the same key:\n{text}", import.trace_file_name(p));
            }
        }
    }
}
