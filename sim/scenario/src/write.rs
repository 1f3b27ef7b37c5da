//! Scenarios back to scenario files: [`to_toml`].

use std::fmt::Write as _;

use udplab_firmware::{ArqConfig, ClientConfig, Reply, Role, ServerConfig};
use udplab_sim::Scenario;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Expect, GeOrder, Impairment, Jitter, Link, Loss, Phase};

use super::convert::{CLIENT_PORT_BASE, DEFAULT_INTERVAL_US, DEFAULT_REORDER_HOLD_US, DEFAULT_SIZE};

/// Lines of a description longer than this are wrapped (at spaces) into a `"""` string.
const WRAP: usize = 96;

/// Writes `scenario` as a scenario file (the format of `scenarios/README.md`) that
/// [`parse`](crate::parse) reads back to an equal [`Scenario`].
///
/// Every node, link, phase and outage is written explicitly and in the scenario's order: each
/// link direction as its own `[[link]]` with `from` and `to` (never `between`), node addresses
/// always, other keys only where they differ from the parser's default. Durations are written
/// in whole units (`"1500us"`, `"20ms"`, `"2s"`), probabilities as exact percentages with up to
/// seven decimals (`"12.5%"`, `"0.0000001%"`, one part per billion), rates with an SI unit
/// (`"64kbit"`). The output depends on nothing but `scenario`.
///
/// # Exactness
///
/// For every scenario the parser produces, `parse(&to_toml(&s), ..) == Ok(s)`. Beyond that, the
/// writer never changes a value silently, with these exceptions, where the scenario has no
/// spelling in the format and the parser's reading of what is written is the closest one:
///
/// - A probability is a threshold out of 2^32 ([`Prob`]), but a file holds parts per billion:
///   the parser reads `ppb` as the threshold `round(ppb * 2^32 / 10^9)`, so it produces one
///   threshold in about 4.3. Every threshold that [`Prob::from_ppb`] gives (every threshold a
///   file or a strategy in `udplab::strategies` yields) is written exactly; any other is
///   written as the nearest part per billion, with a comment saying so (a difference below
///   2.4 * 10^-10 in probability).
/// - The scenario's name and description, and phase names, come back as the parser normalises
///   them: runs of whitespace (line breaks included) as one space, trimmed.
/// - A `drop` list comes back sorted and without repeats.
/// - A direction between two nodes that has no link comes back as a perfect link (the parser
///   adds one, after the declared links); `Loss::Bernoulli` with probability 0 comes back as
///   `Loss::None`.
///
/// Anything else the format cannot hold is written as it is, so that parsing the output fails
/// with an error pointing at it, rather than giving another scenario: a link that is always
/// `down` (a `down` key; use an outage), a phase with its own `drop` list or with `down` and
/// other changes, a phase that lifts the link's `mtu` (`mtu = 0`), a client whose server
/// address and port are no server node's, seeds above 2^63 - 1, and every value out of the
/// ranges the format documents (an empty name, more than [`crate::MAX_NODES`] nodes, `count` 0, ...).
pub fn to_toml(scenario: &Scenario) -> String {
    let mut w = Writer { out: String::with_capacity(1024) };
    w.top(scenario);
    for (i, _) in scenario.nodes.iter().enumerate() {
        w.node(scenario, i);
    }
    for link in &scenario.links {
        w.link(scenario, link);
    }
    if scenario.expect != Expect::default() {
        w.expect(&scenario.expect);
    }
    w.out
}

struct Writer {
    out: String,
}

impl Writer {
    /// `key = value`, and a trailing comment when `note` has one.
    fn line(&mut self, key: &str, value: &str, note: Option<String>) {
        let _ = write!(self.out, "{key} = {value}");
        if let Some(n) = note {
            let _ = write!(self.out, "  # {n}");
        }
        self.out.push('\n');
    }

    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.out, "# {text}");
    }

    fn top(&mut self, s: &Scenario) {
        self.line("name", &quoted(&s.name), None);
        if !s.description.is_empty() {
            self.line("description", &description(&s.description), None);
        }
        let note = (s.seed > i64::MAX as u64)
            .then(|| "above 2^63 - 1: a scenario file cannot hold this seed".into());
        self.line("seed", &s.seed.to_string(), note);
        self.line("duration", &duration(s.duration_us), None);
    }

    fn node(&mut self, s: &Scenario, i: usize) {
        let n = &s.nodes[i];
        let [a, b, c, d] = n.addr;
        self.out.push_str("\n[[node]]\n");
        self.line("name", &quoted(&n.name), None);
        self.line("addr", &quoted(&format!("{a}.{b}.{c}.{d}")), None);
        match &n.role {
            Role::Server(server) => self.server(server),
            Role::Client(client) => self.client(s, i, client),
            Role::Code => self.line("role", &quoted("code"), None),
        }
    }

    fn server(&mut self, server: &ServerConfig) {
        self.line("role", &quoted("server"), None);
        self.line("port", &server.port.to_string(), None);
        if server.reply == Reply::Sink {
            self.line("reply", &quoted("sink"), None);
        }
        self.reliable(server.reliable);
    }

    fn client(&mut self, s: &Scenario, i: usize, c: &ClientConfig) {
        self.line("role", &quoted("client"), None);
        // The file names the server; the scenario holds its address and port.
        let server = s.nodes.iter().find(|n| {
            n.addr == c.server_addr && matches!(n.role, Role::Server(sc) if sc.port == c.server_port)
        });
        match server {
            Some(n) => self.line("server", &quoted(&n.name), None),
            None => {
                let [a, b, cc, d] = c.server_addr;
                let addr = format!("{a}.{b}.{cc}.{d}:{}", c.server_port);
                let note = format!("no server node listens on {addr}");
                self.line("server", &quoted(&addr), Some(note));
            }
        }
        self.line("count", &c.count.to_string(), None);
        if c.interval_us != DEFAULT_INTERVAL_US {
            self.line("interval", &duration(c.interval_us), None);
        }
        if c.start_us != 0 {
            self.line("start", &duration(c.start_us), None);
        }
        if c.size != DEFAULT_SIZE {
            self.line("size", &c.size.to_string(), None);
        }
        if u32::from(c.port) != u32::from(CLIENT_PORT_BASE) + i as u32 {
            self.line("port", &c.port.to_string(), None);
        }
        if c.in_flight > 0 {
            self.line("in_flight", &c.in_flight.to_string(), None);
            if c.reply_timeout_us != udplab_firmware::app::DEFAULT_REPLY_TIMEOUT_US {
                self.line("reply_timeout", &duration(c.reply_timeout_us), None);
            }
        }
        self.reliable(c.reliable);
    }

    fn reliable(&mut self, arq: Option<ArqConfig>) {
        match arq {
            None => {}
            Some(a) if a == ArqConfig::default() => self.line("reliable", "true", None),
            Some(a) => {
                let table = format!(
                    "{{ window = {}, rto = {}, rto_max = {}, max_attempts = {} }}",
                    a.window,
                    duration(a.rto_us),
                    duration(a.rto_max_us),
                    a.max_attempts
                );
                self.line("reliable", &table, None);
            }
        }
    }

    fn link(&mut self, s: &Scenario, link: &Link) {
        let name = |i: usize| s.nodes.get(i).map_or_else(|| format!("node #{i}"), |n| n.name.clone());
        self.out.push_str("\n[[link]]\n");
        self.line("from", &quoted(&name(link.from)), None);
        self.line("to", &quoted(&name(link.to)), None);
        // What a [[link]] without impairment keys is.
        let plain = Impairment { reorder_hold_us: DEFAULT_REORDER_HOLD_US, ..Impairment::default() };
        if link.impairment.down {
            self.comment("a link that is always down has no key in a scenario file: use a [[link.outage]]");
        }
        if let Some(t) = &link.trace {
            // The trace's name is its path as the scenario that loaded it wrote it.
            self.line("trace", &quoted(&t.name), None);
        }
        self.impairment(&plain, &link.impairment);
        for (n, phase) in link.phases.iter().enumerate() {
            self.phase(link, n, phase);
        }
    }

    fn phase(&mut self, link: &Link, n: usize, phase: &Phase) {
        let outage = Impairment { down: true, ..link.impairment.clone() };
        let is_outage = phase.impairment == outage;
        self.out.push_str(if is_outage { "\n[[link.outage]]\n" } else { "\n[[link.phase]]\n" });
        self.line("start", &duration(phase.from_us), None);
        self.line("end", &duration(phase.until_us), None);
        let default_name = if is_outage { "outage".to_owned() } else { format!("phase {}", n + 1) };
        if phase.name != default_name {
            self.line("name", &quoted(&phase.name), None);
        }
        if is_outage {
            return;
        }
        if phase.impairment.down {
            self.comment(
                "a phase that is down and changes other settings has no spelling in a scenario file",
            );
        }
        if phase.impairment.drop != link.impairment.drop {
            self.comment("a phase keeps its link's drop list: it cannot have its own");
        }
        if phase.impairment.mtu == 0 && link.impairment.mtu != 0 {
            self.comment("a phase cannot lift its link's mtu: `mtu` is 68 to 1500 or left out");
        }
        self.impairment(&link.impairment, &phase.impairment);
    }

    /// The keys of `imp` that differ from `base` (what the table starts from).
    fn impairment(&mut self, base: &Impairment, imp: &Impairment) {
        if imp.down != base.down {
            self.line("down", &imp.down.to_string(), None);
        }
        if imp.loss != base.loss {
            self.loss(imp.loss);
        }
        if imp.drop != base.drop {
            let list: Vec<String> = imp.drop.iter().map(u64::to_string).collect();
            self.line("drop", &format!("[{}]", list.join(", ")), None);
        }
        if imp.delay_us != base.delay_us {
            self.line("delay", &duration(imp.delay_us), None);
        }
        if imp.jitter_us != base.jitter_us {
            self.line("jitter", &duration(imp.jitter_us), None);
        }
        if imp.jitter != base.jitter {
            let shape = match imp.jitter {
                Jitter::Uniform => "uniform",
                Jitter::Normal => "normal",
            };
            self.line("jitter_distribution", &quoted(shape), None);
        }
        if imp.reorder != base.reorder {
            self.prob("reorder", imp.reorder);
        }
        if imp.reorder_gap != base.reorder_gap {
            self.line("reorder_gap", &imp.reorder_gap.to_string(), None);
        }
        if imp.reorder_hold_us != base.reorder_hold_us {
            self.line("reorder_hold", &duration(imp.reorder_hold_us), None);
        }
        if imp.duplicate != base.duplicate {
            self.prob("duplicate", imp.duplicate);
        }
        if imp.corrupt != base.corrupt {
            self.prob("corrupt", imp.corrupt);
        }
        if imp.corrupt_fix_checksum != base.corrupt_fix_checksum {
            self.line("corrupt_fix_checksum", &imp.corrupt_fix_checksum.to_string(), None);
        }
        if imp.rate_bps != base.rate_bps {
            self.line("rate", &rate(imp.rate_bps), None);
        }
        if imp.mtu != base.mtu {
            self.line("mtu", &imp.mtu.to_string(), None);
        }
        if imp.queue != base.queue {
            self.line("queue", &imp.queue.to_string(), None);
        }
    }

    fn prob(&mut self, key: &str, p: Prob) {
        let (text, note) = probability(p);
        self.line(key, &text, note);
    }

    fn loss(&mut self, loss: Loss) {
        match loss {
            Loss::None => self.line("loss", "0", None),
            Loss::Bernoulli { p } => self.prob("loss", p),
            Loss::GilbertElliott { p, r, loss_bad, loss_good, order } => {
                let parts = [("p", p), ("r", r), ("loss_bad", loss_bad), ("loss_good", loss_good)];
                let mut notes = Vec::new();
                let fields: Vec<String> = parts
                    .iter()
                    .map(|(k, v)| {
                        let (text, note) = probability(*v);
                        notes.extend(note.map(|n| format!("{k}: {n}")));
                        format!("{k} = {text}")
                    })
                    .collect();
                let order = if order == GeOrder::Netem { ", order = \"netem\"" } else { "" };
                let table = format!("{{ model = \"gilbert-elliott\", {}{order} }}", fields.join(", "));
                let note = (!notes.is_empty()).then(|| notes.join("; "));
                self.line("loss", &table, note);
            }
        }
    }

    fn expect(&mut self, e: &Expect) {
        self.out.push_str("\n[expect]\n");
        if let Some(ppm) = e.delivered_min_ppm {
            // The parser reads a probability in parts per billion and rounds up to ppm.
            self.line("delivered_min", &quoted(&percent(ppm.saturating_mul(1000))), None);
        }
        if e.all_delivered {
            self.line("all_delivered", "true", None);
        }
        if let Some(n) = e.duplicates_max {
            self.line("duplicates_max", &n.to_string(), None);
        }
        if e.in_order {
            self.line("in_order", "true", None);
        }
        if let Some(us) = e.latency_max_us {
            self.line("latency_max", &duration(us), None);
        }
        if let Some(us) = e.latency_tolerance_us {
            self.line("latency_tolerance", &duration(us), None);
        }
        if let Some(n) = e.lost_max {
            self.line("lost_max", &n.to_string(), None);
        }
    }
}

/// The parts per billion that the parser turns into `p`: `Ok` if there is one, otherwise
/// `Err` with the nearest.
pub(crate) fn parts_per_billion(p: Prob) -> Result<u64, u64> {
    // `Prob::from_ppb` is `round(ppb * 2^32 / 10^9)`, strictly increasing (2^32 / 10^9 > 1), so
    // the only candidate is `round(threshold * 10^9 / 2^32)`.
    let t = u128::from(p.threshold());
    let near = ((t * 1_000_000_000 + (1 << 31)) >> 32) as u64;
    if Prob::from_ppb(near) == Some(p) { Ok(near) } else { Err(near) }
}

/// A probability as the file writes it, and a note if it is not exact.
fn probability(p: Prob) -> (String, Option<String>) {
    match parts_per_billion(p) {
        Ok(ppb) => (quoted(&percent(ppb)), None),
        Err(ppb) => {
            let note = format!(
                "threshold {}/2^32 is no whole number of parts per billion: written as the nearest",
                p.threshold()
            );
            (quoted(&percent(ppb)), Some(note))
        }
    }
}

/// Parts per billion as an exact percentage: `12.5%`, `0.0000001%`, `100%`.
fn percent(ppb: u64) -> String {
    let (whole, frac) = (ppb / 10_000_000, ppb % 10_000_000);
    if frac == 0 {
        return format!("{whole}%");
    }
    let frac = format!("{frac:07}");
    format!("{whole}.{}%", frac.trim_end_matches('0'))
}

/// Microseconds in the largest whole unit, quoted: `"2s"`, `"20ms"`, `"1500us"`, `"0s"`.
fn duration(us: u64) -> String {
    let text = if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    };
    quoted(&text)
}

/// Bits per second in the largest whole SI unit, quoted (`"64kbit"`); 0 (unlimited) as `0`.
fn rate(bps: u64) -> String {
    if bps == 0 {
        return "0".to_owned();
    }
    let (n, unit) = [(1_000_000_000, "Gbit"), (1_000_000, "Mbit"), (1_000, "kbit")]
        .into_iter()
        .find(|(scale, _)| bps.is_multiple_of(*scale))
        .map_or((bps, "bit"), |(scale, unit)| (bps / scale, unit));
    quoted(&format!("{n}{unit}"))
}

/// The characters a TOML basic string must escape, escaped; everything else (any Unicode
/// outside the control characters) as it is.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// `s` as a TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape(s, &mut out);
    out.push('"');
    out
}

/// A description: one basic string if it is short, otherwise a `"""` string wrapped at
/// spaces (the parser reads line breaks in it as spaces, like every run of whitespace).
fn description(s: &str) -> String {
    if s.chars().count() <= WRAP {
        return quoted(s);
    }
    let mut out = String::from("\"\"\"\n");
    let mut width = 0;
    for (i, word) in s.split(' ').enumerate() {
        let mut escaped = String::with_capacity(word.len());
        escape(word, &mut escaped);
        let len = escaped.chars().count();
        if i > 0 {
            if width > 0 && width + 1 + len > WRAP {
                out.push('\n');
                width = 0;
            } else {
                out.push(' ');
                width += 1;
            }
        }
        out.push_str(&escaped);
        width += len;
    }
    out.push_str("\n\"\"\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_exact_percentages() {
        assert_eq!(percent(0), "0%");
        assert_eq!(percent(1), "0.0000001%");
        assert_eq!(percent(125_000_000), "12.5%");
        assert_eq!(percent(1_000_000_000), "100%");
        assert_eq!(percent(333_333_333), "33.3333333%");
        for ppb in (0..=1_000_000_000).step_by(999_983).chain(0..5_000).chain(999_995_000..=1_000_000_000) {
            let p = Prob::from_ppb(ppb).unwrap();
            assert_eq!(parts_per_billion(p), Ok(ppb));
            assert_eq!(crate::units::percent_ppb(&percent(ppb)), Ok(ppb));
        }
        // Thresholds between two parts per billion: the nearest one, flagged.
        assert_eq!(parts_per_billion(Prob::from_threshold(1).unwrap()), Err(0));
        assert_eq!(parts_per_billion(Prob::from_threshold(3).unwrap()), Err(1));
        assert_eq!(parts_per_billion(Prob::ALWAYS), Ok(1_000_000_000));
    }

    #[test]
    fn units_are_whole() {
        assert_eq!(duration(0), "\"0s\"");
        assert_eq!(duration(1_500), "\"1500us\"");
        assert_eq!(duration(1_600_000), "\"1600ms\"");
        assert_eq!(duration(86_400_000_000), "\"86400s\"");
        assert_eq!(rate(0), "0");
        assert_eq!(rate(64_000), "\"64kbit\"");
        assert_eq!(rate(1_500_000), "\"1500kbit\"");
        assert_eq!(rate(2_000_000_000), "\"2Gbit\"");
        assert_eq!(rate(1_234_567), "\"1234567bit\"");
        assert_eq!(rate(u64::MAX), format!("\"{}bit\"", u64::MAX));
    }

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(quoted("say \"hi\"\\"), r#""say \"hi\"\\""#);
        assert_eq!(quoted("a\nb\tc\u{0}\u{7f}é→"), "\"a\\nb\\tc\\u0000\\u007Fé→\"");
        let long = "word \"quoted\" back\\slash ".repeat(10);
        let written = description(long.trim_end());
        assert!(written.starts_with("\"\"\"\n") && written.lines().all(|l| l.chars().count() <= WRAP));
    }
}
