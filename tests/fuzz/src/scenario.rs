//! Target `scenario`: any bytes as a scenario file.
//!
//! Checks that the parser never panics (nor does showing its error, which slices the source at
//! the error's span), that bytes which are not UTF-8 are always an error (what `udplab run` does
//! with such a file), and the round trip the tests and the proptest shrinker rely on: a scenario
//! that parses, written back with `to_toml`, parses again to an equal scenario. A scenario that
//! parses also gets its event estimate (what `udplab run` checks before running), which must
//! not overflow whatever the file says.

use udplab_scenario::{parse, parse_bytes, to_toml};

/// The name errors show; its stem is the name of a scenario that has none.
const PATH: &str = "fuzz.toml";

pub fn run(data: &[u8]) {
    let parsed = parse_bytes(data, PATH);
    if let Err(e) = &parsed {
        // Display computes line, column and carets from the span: it must not panic either.
        let shown = e.to_string();
        assert!(shown.starts_with("error: "), "{shown}");
    }
    if std::str::from_utf8(data).is_err() {
        assert!(parsed.is_err(), "bytes that are not UTF-8 parsed as a scenario");
        return;
    }
    let Ok(scenario) = parsed else { return };
    let estimate = udplab_sim::estimate::Estimate::of(&scenario);
    assert!(estimate.records >= estimate.datagrams, "{estimate:?}");
    let written = to_toml(&scenario);
    let again = parse(&written, PATH).unwrap_or_else(|e| {
        panic!("to_toml wrote a file that does not parse:\n{e}\n--- file ---\n{written}")
    });
    assert_eq!(again, scenario, "to_toml then parse changed the scenario; the file:\n{written}");
}
