//! From a parsed TOML document to a validated [`Scenario`]: every key checked, every default
//! applied, every error pointing at the key or value it is about.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use udplab_firmware::app::{DEFAULT_REPLY_TIMEOUT_US, MAX_DATAGRAM};
use udplab_firmware::wire::HEADER_LEN;
use udplab_firmware::{ArqConfig, ClientConfig, Reply, Role, ServerConfig};
use udplab_sim::Scenario;
use udplab_sim::rng::Prob;
use udplab_sim::scenario::{Expect, GeOrder, Impairment, Jitter, Link, Loss, Node, Phase};

use super::error::{Fail, fail};
use super::table::{Table, Value, boolean, choice, closest, describe, duration, integer, list, rate, string};
use super::units::show_duration;

/// Most nodes a scenario may have: a classroom or a campus. Every ordered pair of them gets a
/// link, but links nobody declared cost nothing until a datagram crosses them
/// ([`udplab_sim::Scenario::add_default_links`]); each node's stack keeps its socket buffers
/// (32 KiB), so 4 096 nodes take about 130 MB.
pub const MAX_NODES: usize = 4096;

/// How many nodes get a default address in 192.0.2.0/24 (TEST-NET-1: `.1` to `.254`).
const TEST_NET_NODES: usize = 254;

/// The address of the `i`-th node (from 0) when the file gives none: `192.0.2.(i+1)` for the
/// first 254 (what scenarios always had), then 198.18.0.0/15, the range set aside for
/// benchmarking (RFC 2544), counting `198.18.0.1` to `198.18.0.254`, `198.18.1.1`, ... so no
/// address ends in `.0` or `.255`. Unique for every node up to [`MAX_NODES`] (and far beyond:
/// 130 048 more fit).
pub fn default_addr(i: usize) -> [u8; 4] {
    if i < TEST_NET_NODES {
        return [192, 0, 2, (i + 1) as u8];
    }
    let k = i - TEST_NET_NODES;
    let (block, last) = (k / 254, (k % 254 + 1) as u8);
    [198, 18 + (block / 256) as u8, (block % 256) as u8, last]
}
/// Largest reliable-mode window (the receiver's duplicate tracker remembers 1024 seqs).
pub const MAX_WINDOW: u32 = 1024;
/// Most messages one client may send.
pub const MAX_COUNT: u32 = 1_000_000;
/// Longest node name.
pub const MAX_NAME: usize = 16;
/// `reorder_hold` when a link does not say (so a `[[link]]` without impairment keys is
/// `Impairment::default()` with this `reorder_hold_us`).
pub const DEFAULT_REORDER_HOLD_US: u64 = 20_000;
/// The largest seed: TOML integers are signed 64-bit, so a file cannot hold more, and every
/// other place that takes a seed (`--seed`, `--seeds`, a sweep's `seed=`) stops here too so that
/// any run can be written down as a file and replayed.
pub const MAX_SEED: u64 = i64::MAX as u64;
/// A client's `interval` when it does not say.
pub const DEFAULT_INTERVAL_US: u64 = 100_000;
/// A client's `size` when it does not say.
pub const DEFAULT_SIZE: usize = 64;
/// A client's local port is this plus its node index unless it says.
pub const CLIENT_PORT_BASE: u16 = 49152;

const TOP_KEYS: &[&str] = &["name", "description", "seed", "duration", "node", "link", "expect"];
const TOP_ONLY: &[&str] = &["description", "seed", "duration", "node", "link", "expect"];
const NODE_KEYS: &[&str] = &[
    "name",
    "addr",
    "role",
    "port",
    "reply",
    "reliable",
    "server",
    "count",
    "interval",
    "start",
    "size",
    "in_flight",
    "reply_timeout",
];
const SERVER_ONLY: &[&str] = &["reply"];
const CLIENT_ONLY: &[&str] = &["server", "count", "interval", "start", "size", "in_flight", "reply_timeout"];
/// Most messages a closed-loop client may have unanswered (as many as a reliable window).
pub const MAX_IN_FLIGHT: u32 = 1024;
const IMPAIRMENT_KEYS: &[&str] = &[
    "loss",
    "delay",
    "jitter",
    "jitter_distribution",
    "reorder",
    "reorder_gap",
    "reorder_hold",
    "duplicate",
    "corrupt",
    "corrupt_fix_checksum",
    "rate",
    "mtu",
    "queue",
];
const LINK_ONLY: &[&str] = &["from", "to", "between", "drop", "phase", "outage", "trace"];
const LINK_KEYS: &[&str] = &[
    "from",
    "to",
    "between",
    "loss",
    "drop",
    "delay",
    "jitter",
    "jitter_distribution",
    "reorder",
    "reorder_gap",
    "reorder_hold",
    "duplicate",
    "corrupt",
    "corrupt_fix_checksum",
    "rate",
    "mtu",
    "queue",
    "phase",
    "outage",
    "trace",
];
const PHASE_KEYS: &[&str] = &[
    "start",
    "end",
    "name",
    "loss",
    "delay",
    "jitter",
    "jitter_distribution",
    "reorder",
    "reorder_gap",
    "reorder_hold",
    "duplicate",
    "corrupt",
    "corrupt_fix_checksum",
    "rate",
    "mtu",
    "queue",
];
const OUTAGE_KEYS: &[&str] = &["start", "end", "name"];
const EXPECT_KEYS: &[&str] = &[
    "delivered_min",
    "all_delivered",
    "duplicates_max",
    "in_order",
    "latency_max",
    "latency_tolerance",
    "lost_max",
];
const ARQ_KEYS: &[&str] = &["window", "rto", "rto_max", "max_attempts"];
const LOSS_KEYS: &[&str] = &["model", "p", "r", "loss_bad", "loss_good", "order"];

/// Which table a key was found in, for the hint about where it belongs instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Node,
    Link,
    Phase,
    Outage,
    Expect,
}

fn hint(ctx: Ctx, key: &str) -> Option<String> {
    let is = |keys: &[&str]| keys.contains(&key);
    let link_key = is(IMPAIRMENT_KEYS) || is(LINK_ONLY);
    Some(match ctx {
        Ctx::Top | Ctx::Node | Ctx::Expect if link_key => {
            format!("`{key}` is a link setting: put it in a [[link]] table")
        }
        Ctx::Node | Ctx::Link | Ctx::Phase | Ctx::Outage | Ctx::Expect if is(TOP_ONLY) => format!(
            "`{key}` belongs at the top of the file, before the first [table] header (keys after a header belong to that table)"
        ),
        Ctx::Phase if is(LINK_ONLY) => {
            format!("a phase changes impairments only; `{key}` belongs to the [[link]] itself")
        }
        Ctx::Outage if is(IMPAIRMENT_KEYS) => {
            format!("an outage loses everything; to change `{key}` for a while, use [[link.phase]]")
        }
        Ctx::Top | Ctx::Link | Ctx::Phase | Ctx::Outage | Ctx::Expect if is(NODE_KEYS) => {
            format!("`{key}` is a node setting: put it in a [[node]] table")
        }
        Ctx::Top | Ctx::Node | Ctx::Link | Ctx::Phase | Ctx::Outage if is(EXPECT_KEYS) => {
            format!("`{key}` is an expectation: put it in the [expect] table")
        }
        _ => return None,
    })
}

/// Keys that only the top level has, whatever table they are found in; `name` is one too, but
/// nodes, phases and outages have a `name` of their own.
const TOP_SCALARS: &[&str] = &["description", "seed", "duration"];

/// Fails at the first (in file order) top-level key written inside a table. TOML gives a key
/// to the last header above it, so `duration = "2s"` after a `[[node]]` is the node's: checked
/// before anything else, because otherwise the top level would first be reported as missing
/// `duration` (at 1:1, far from the line to fix). Tables of the wrong type are left to the
/// checks that report them.
fn misplaced_top_keys(top: &Table<'_, '_>, source: &str) -> Result<(), Fail> {
    let mut tables: Vec<(Table<'_, '_>, bool)> = Vec::new();
    tables.extend(self::tables(top, "node", "[[node]]").unwrap_or_default().into_iter().map(|t| (t, true)));
    for link in self::tables(top, "link", "[[link]]").unwrap_or_default() {
        for (key, what) in [("phase", "[[link.phase]]"), ("outage", "[[link.outage]]")] {
            tables.extend(self::tables(&link, key, what).unwrap_or_default().into_iter().map(|t| (t, true)));
        }
        tables.push((link, false));
    }
    if let Some(Ok(t)) = top.get("expect").map(|v| Table::of(v, "[expect]", "an [expect] table")) {
        tables.push((t, false));
    }
    let mut first: Option<(Range<usize>, &str, &Table<'_, '_>)> = None;
    for (t, has_name) in &tables {
        for (key, _) in t.entries() {
            let misplaced = TOP_SCALARS.contains(&key) || (key == "name" && !has_name);
            let Some(span) = t.key_span(key).filter(|_| misplaced) else {
                continue;
            };
            if first.as_ref().is_none_or(|(f, ..)| span.start < f.start) {
                first = Some((span, key, t));
            }
        }
    }
    let Some((span, key, t)) = first else {
        return Ok(());
    };
    let what = &t.what;
    let line = line_of(source, t.span.start);
    let mut msg = if key == "name" {
        format!(
            "`name` is not a key of {what}; the scenario's `name` is a top-level key, but this one is under the {what} header at line {line} (a key belongs to the last [table] header above it)"
        )
    } else {
        format!(
            "`{key}` is a top-level key, but this one is under the {what} header at line {line} (a key belongs to the last [table] header above it)"
        )
    };
    match top.key_span(key) {
        Some(at) => msg.push_str(&format!(
            "; the top level already sets `{key}` at line {}: remove this one",
            line_of(source, at.start)
        )),
        None => msg.push_str(": move it to the top of the file, before the first [table] header"),
    }
    Err(Fail::new(span, msg))
}

/// The line (from 1) of byte `pos` of `source`.
fn line_of(source: &str, pos: usize) -> usize {
    source.as_bytes()[..pos.min(source.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Whitespace runs (newlines included) as single spaces, trimmed.
fn one_paragraph(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn default_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "scenario".to_owned())
}

fn prob(key: &str, v: &Value<'_>) -> Result<Prob, Fail> {
    let ppb = super::table::probability(key, v)?;
    Prob::from_ppb(ppb).ok_or_else(|| Fail::new(v.span(), format!("`{key}`: a probability is at most 1")))
}

fn count(key: &str, v: &Value<'_>) -> Result<u64, Fail> {
    integer(key, v, 0..=i128::from(i64::MAX), "a count, 0 or more").map(|n| n as u64)
}

/// The tables of `[[key]]` (an array of tables) in `table`, in file order; none if absent.
fn tables<'a, 'i>(table: &Table<'a, 'i>, key: &str, what: &str) -> Result<Vec<Table<'a, 'i>>, Fail> {
    let Some(v) = table.get(key) else {
        return Ok(Vec::new());
    };
    match v.get_ref() {
        DeValue::Array(items) => {
            items.iter().map(|item| Table::of(item, what, &format!("a {what} table"))).collect()
        }
        other => fail!(
            table.key_span(key).unwrap_or(v.span()),
            "`{key}` must be a list of tables, each one written under a {what} header, found {}",
            describe(other)
        ),
    }
}

/// A `trace = "FILE"` of a link: the link's index, the file as written, and where it was written.
pub(crate) struct TraceRef {
    pub link: usize,
    pub file: String,
    pub span: Range<usize>,
}

/// The scenario in `source`, and the link traces it names (read by the caller, which knows
/// where the file is).
pub(crate) fn scenario(source: &str, path: &str) -> Result<(Scenario, Vec<TraceRef>), Fail> {
    let doc = DeTable::parse(source)
        .map_err(|e| Fail::new(e.span().unwrap_or(0..0), format!("invalid TOML: {}", e.message().trim())))?;
    let top = Table::new(0..0, doc.get_ref(), "the top level");
    top.allow(TOP_KEYS, |k| hint(Ctx::Top, k))?;
    misplaced_top_keys(&top, source)?;

    let name = match top.get("name") {
        Some(v) => {
            let s = one_paragraph(string("name", v, "a name for the scenario")?);
            if s.is_empty() {
                return fail!(v.span(), "`name` cannot be empty (leave it out to use the file name)");
            }
            s
        }
        None => default_name(path),
    };
    let description = match top.get("description") {
        Some(v) => one_paragraph(string("description", v, "a paragraph of text")?),
        None => String::new(),
    };
    let seed = match top.get("seed") {
        Some(v) => {
            integer("seed", v, 0..=i128::from(MAX_SEED), &format!("an integer from 0 to {MAX_SEED}"))? as u64
        }
        None => 1,
    };
    let dv = top.require("duration", "how long the run lasts in virtual time, like duration = \"10s\"")?;
    let duration_us = duration("duration", dv)?;
    if duration_us == 0 {
        return fail!(dv.span(), "`duration` must be above zero");
    }

    let nodes = nodes(&top, source)?;
    let (links, traces) = links(&top, &nodes, duration_us, source)?;
    let expect = expect(&top)?;

    let mut scenario =
        Scenario { name, description, seed, duration_us, nodes, links, implicit_links: false, expect };
    scenario.add_default_links();
    Ok((scenario, traces))
}

enum Kind<'a, 'i> {
    Server(ServerConfig),
    /// `server` is the value naming the server, resolved once every node is known.
    Client(ClientConfig, &'a Value<'i>),
    /// `role = "code"`: the app is attached in code.
    Code,
}

struct Draft<'a, 'i> {
    name: String,
    addr: [u8; 4],
    kind: Kind<'a, 'i>,
}

fn node_name(v: &Value<'_>) -> Result<String, Fail> {
    let expected = "a node name like \"laptop\": 1 to 16 letters, digits, `_` or `-`";
    let s = string("name", v, expected)?;
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if s.is_empty() || s.len() > MAX_NAME || !s.chars().all(ok) {
        return fail!(v.span(), "`name`: expected {expected}, found {}", describe(v.get_ref()));
    }
    Ok(s.to_owned())
}

fn address(v: &Value<'_>) -> Result<[u8; 4], Fail> {
    let expected = "an IPv4 address like \"192.0.2.1\"";
    let s = string("addr", v, expected)?;
    let Ok(a) = s.trim().parse::<Ipv4Addr>() else {
        return fail!(v.span(), "`addr`: expected {expected}, found {s:?}");
    };
    let kind = if a.is_unspecified() {
        "the unspecified address"
    } else if a.is_broadcast() {
        "the broadcast address"
    } else if a.is_multicast() {
        "a multicast address"
    } else if a.is_loopback() {
        "a loopback address"
    } else {
        return Ok(a.octets());
    };
    fail!(v.span(), "`addr`: {a} is {kind}; a node needs a unicast address like \"192.0.2.1\"")
}

/// Reliable mode: `true`, `false`, or a table of [`ArqConfig`] settings.
fn reliable(v: &Value<'_>) -> Result<Option<ArqConfig>, Fail> {
    let expected = "true, false or a table like { window = 8, rto = \"200ms\" }";
    if let DeValue::Boolean(b) = v.get_ref() {
        return Ok(b.then(ArqConfig::default));
    }
    let t = Table::of(v, "`reliable`", expected)
        .map_err(|f| Fail::new(f.span, format!("`reliable`: {}", f.message)))?;
    t.allow(ARQ_KEYS, |_| None)?;
    let mut arq = ArqConfig::default();
    for (key, v) in t.entries() {
        match key {
            "window" => {
                let w = integer(key, v, 1..=i128::from(MAX_WINDOW), "a window of 1 to 1024 messages")?;
                arq.window = w as u32;
            }
            "rto" => {
                arq.rto_us = duration(key, v)?;
                if arq.rto_us == 0 {
                    return fail!(v.span(), "`rto`: the retransmission timeout must be above zero");
                }
            }
            "rto_max" => arq.rto_max_us = duration(key, v)?,
            "max_attempts" => {
                let expected = "a number of attempts from 1 to 65535, or 0 for no limit";
                arq.max_attempts = integer(key, v, 0..=i128::from(u16::MAX), expected)? as u16;
            }
            _ => {}
        }
    }
    if arq.rto_max_us < arq.rto_us {
        let span = t.get("rto_max").or(t.get("rto")).map_or(v.span(), |v| v.span());
        let default = if t.get("rto_max").is_none() { " by default" } else { "" };
        return fail!(
            span,
            "`rto_max` ({}{default}) must be at least `rto` ({})",
            show_duration(arq.rto_max_us),
            show_duration(arq.rto_us)
        );
    }
    Ok(Some(arq))
}

fn nodes(top: &Table<'_, '_>, source: &str) -> Result<Vec<Node>, Fail> {
    let tables = tables(top, "node", "[[node]]")?;
    if tables.is_empty() {
        return fail!(
            top.span.clone(),
            "a scenario needs nodes: add a [[node]] table for each (a client and a server)"
        );
    }
    if let Some(t) = tables.get(MAX_NODES) {
        return fail!(
            t.span.clone(),
            "too many nodes: this is node {} and a scenario has at most {MAX_NODES}",
            MAX_NODES + 1
        );
    }
    let mut drafts: Vec<Draft<'_, '_>> = Vec::with_capacity(tables.len());
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut addrs: HashMap<[u8; 4], (usize, Range<usize>)> = HashMap::new();
    for (i, t) in tables.iter().enumerate() {
        t.allow(NODE_KEYS, |k| hint(Ctx::Node, k))?;
        let nv = t.require("name", "a name like \"laptop\", used by links and in the timeline")?;
        let name = node_name(nv)?;
        if let Some(first) = names.get(&name) {
            return fail!(
                nv.span(),
                "there is already a node named `{name}` (line {}): node names must be unique",
                line_of(source, first.start)
            );
        }
        names.insert(name.clone(), nv.span());

        let (addr, addr_span) = match t.get("addr") {
            Some(v) => (address(v)?, Some(v.span())),
            None => (default_addr(i), None),
        };
        if let Some((other, first)) = addrs.get(&addr) {
            let [a, b, c, d] = addr;
            let other = &drafts[*other].name;
            let line = line_of(source, first.start);
            return match addr_span {
                Some(span) => {
                    fail!(span, "node `{other}` (line {line}) already has the address {a}.{b}.{c}.{d}")
                }
                None => fail!(
                    t.span.clone(),
                    "node `{name}` gets the default address {a}.{b}.{c}.{d} (192.0.2.N for the Nth node up to 254, then 198.18.0.1 on), which node `{other}` (line {line}) already has: give one of them another `addr`"
                ),
            };
        }
        addrs.insert(addr, (i, addr_span.unwrap_or(t.span.clone())));

        let rv = t.require("role", "role = \"client\", role = \"server\" or role = \"code\"")?;
        let role = choice("role", rv, &["client", "server", "code"])?;
        if role == "code" {
            // The app is attached in code (udplab::Sim::app): it decides its own port and
            // traffic, so only the node's name and address belong here.
            for (key, _) in t.entries() {
                if !["name", "addr", "role"].contains(&key) {
                    let span = t.key_span(key).unwrap_or(t.span.clone());
                    return fail!(
                        span,
                        "`{key}` configures a built-in app, but node `{name}` runs an app supplied in code (role = \"code\"): only `name`, `addr` and `role` belong here"
                    );
                }
            }
            drafts.push(Draft { name, addr, kind: Kind::Code });
            continue;
        }
        let (others, this) = if role == "client" { (SERVER_ONLY, "client") } else { (CLIENT_ONLY, "server") };
        for (key, _) in t.entries() {
            if others.contains(&key) {
                let span = t.key_span(key).unwrap_or(t.span.clone());
                let other = if this == "client" { "server" } else { "client" };
                return fail!(
                    span,
                    "`{key}` is a {other} setting, but node `{name}` is a {this} (role = \"{this}\")"
                );
            }
        }
        let reliable = t.get("reliable").map(reliable).transpose()?.flatten();
        let port = |about: &str| -> Result<Option<u16>, Fail> {
            let Some(v) = t.get("port") else {
                return Ok(None);
            };
            Ok(Some(integer("port", v, 1..=65535, about)? as u16))
        };
        let kind = if role == "server" {
            let about = "a UDP port from 1 to 65535";
            let Some(port) = port(about)? else {
                return fail!(
                    t.span.clone(),
                    "[[node]] `{name}` is missing `port` (the server's UDP port, {about})"
                );
            };
            let reply = match t.get("reply") {
                Some(v) => match choice("reply", v, &["echo", "sink"])? {
                    "sink" => Reply::Sink,
                    _ => Reply::Echo,
                },
                None => Reply::Echo,
            };
            Kind::Server(ServerConfig { port, reply, reliable })
        } else {
            let server =
                t.require("server", "the name of the server node it sends to, like server = \"board\"")?;
            let cv = t.require("count", "how many messages it sends, like count = 20")?;
            let count =
                integer("count", cv, 1..=i128::from(MAX_COUNT), "a number of messages from 1 to 1000000")?;
            let port = port("a local UDP port from 1 to 65535 (leave it out for 49152 + node index)")?
                .unwrap_or(CLIENT_PORT_BASE + i as u16);
            let interval_us = t.get("interval").map(|v| duration("interval", v)).transpose()?;
            let start_us = t.get("start").map(|v| duration("start", v)).transpose()?;
            let size = match t.get("size") {
                Some(v) => {
                    let range = HEADER_LEN as i128..=MAX_DATAGRAM as i128;
                    let expected = format!(
                        "a datagram size from {HEADER_LEN} (the udplab header) to {MAX_DATAGRAM} bytes (fits a 1500-byte MTU)"
                    );
                    integer("size", v, range, &expected)? as usize
                }
                None => DEFAULT_SIZE,
            };
            let in_flight = match t.get("in_flight") {
                Some(v) => {
                    if reliable.is_some() {
                        return fail!(
                            t.key_span("in_flight").unwrap_or(v.span()),
                            "`in_flight` is for a plain client; a reliable client already keeps at most `window` messages unacknowledged: set `window` in `reliable` instead"
                        );
                    }
                    let expected = format!(
                        "how many messages may wait for their reply at once, from 1 (stop-and-wait) to {MAX_IN_FLIGHT}"
                    );
                    integer("in_flight", v, 1..=i128::from(MAX_IN_FLIGHT), &expected)? as u32
                }
                None => 0,
            };
            let reply_timeout_us = match t.get("reply_timeout") {
                Some(v) if in_flight == 0 => {
                    return fail!(
                        t.key_span("reply_timeout").unwrap_or(v.span()),
                        "`reply_timeout` only applies to a closed-loop client: add `in_flight` (1 for stop-and-wait), or remove it"
                    );
                }
                Some(v) => {
                    let d = duration("reply_timeout", v)?;
                    if d == 0 {
                        return fail!(v.span(), "`reply_timeout`: expected a duration above 0, like \"1s\"");
                    }
                    d
                }
                None => DEFAULT_REPLY_TIMEOUT_US,
            };
            let config = ClientConfig {
                port,
                server_addr: [0; 4],
                server_port: 0,
                count: count as u32,
                interval_us: interval_us.unwrap_or(DEFAULT_INTERVAL_US),
                start_us: start_us.unwrap_or(0),
                size,
                reliable,
                in_flight,
                reply_timeout_us,
            };
            Kind::Client(config, server)
        };
        drafts.push(Draft { name, addr, kind });
    }

    // Clients name their servers, which may come later in the file.
    let index: HashMap<&str, usize> = drafts.iter().enumerate().map(|(i, d)| (d.name.as_str(), i)).collect();
    let all: Vec<&str> = drafts.iter().map(|d| d.name.as_str()).collect();
    let mut resolved: Vec<Option<(u16, [u8; 4])>> = vec![None; drafts.len()];
    for (i, d) in drafts.iter().enumerate() {
        let Kind::Client(c, sv) = &d.kind else {
            continue;
        };
        let s = string("server", sv, "the name of a server node, like \"board\"")?;
        let Some(&j) = index.get(s) else {
            let near = closest(s, &all).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            return fail!(sv.span(), "`server`: no node is named {s:?}{near}; the nodes are {}", list(&all));
        };
        let Kind::Server(server) = &drafts[j].kind else {
            let what = match drafts[j].kind {
                _ if i == j => "itself",
                Kind::Code => "an app supplied in code",
                _ => "a client",
            };
            return fail!(
                sv.span(),
                "`server`: node `{s}` is {what}; `server` must name a node with role = \"server\""
            );
        };
        match (c.reliable.is_some(), server.reliable.is_some()) {
            (true, false) => {
                return fail!(
                    sv.span(),
                    "client `{}` is reliable but its server `{s}` is not: set `reliable` on both nodes or on neither",
                    d.name
                );
            }
            (false, true) => {
                return fail!(
                    sv.span(),
                    "server `{s}` is reliable but its client `{}` is not: set `reliable` on both nodes or on neither",
                    d.name
                );
            }
            _ => {}
        }
        resolved[i] = Some((server.port, drafts[j].addr));
    }

    Ok(drafts
        .into_iter()
        .zip(resolved)
        .map(|(d, r)| {
            let role = match d.kind {
                Kind::Server(s) => Role::Server(s),
                Kind::Client(mut c, _) => {
                    let (port, addr) = r.unwrap_or((0, [0; 4]));
                    c.server_port = port;
                    c.server_addr = addr;
                    Role::Client(c)
                }
                Kind::Code => Role::Code,
            };
            Node { name: d.name, addr: d.addr, role }
        })
        .collect())
}

/// The node `v` names, for `key`.
fn node_ref(key: &str, v: &Value<'_>, nodes: &[Node]) -> Result<usize, Fail> {
    let s = string(key, v, "a node name, like \"board\"")?;
    if let Some(i) = nodes.iter().position(|n| n.name == s) {
        return Ok(i);
    }
    let all: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let near = closest(s, &all).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
    fail!(v.span(), "`{key}`: no node is named {s:?}{near}; the nodes are {}", list(&all))
}

/// The directions a `[[link]]` declares, each with the span to blame if it is declared twice.
fn directions(t: &Table<'_, '_>, nodes: &[Node]) -> Result<Vec<(usize, usize, Range<usize>)>, Fail> {
    let (from, to) = (t.get("from"), t.get("to"));
    if let Some(b) = t.get("between") {
        if from.is_some() || to.is_some() {
            return fail!(
                t.key_span("between").unwrap_or(b.span()),
                "use either `between` (both directions) or `from` and `to` (one direction), not both"
            );
        }
        let expected = "two node names, like [\"laptop\", \"board\"]";
        let items = match b.get_ref() {
            DeValue::Array(items) if items.len() == 2 => items,
            other => {
                let found = match other {
                    DeValue::Array(items) if items.len() == 1 => "an array of 1 value".to_owned(),
                    DeValue::Array(items) => format!("an array of {} values", items.len()),
                    other => describe(other),
                };
                return fail!(b.span(), "`between`: expected {expected}, found {found}");
            }
        };
        let a = node_ref("between", &items[0], nodes)?;
        let c = node_ref("between", &items[1], nodes)?;
        if a == c {
            return fail!(
                items[1].span(),
                "`between`: a link joins two different nodes, found `{}` twice",
                nodes[a].name
            );
        }
        return Ok(vec![(a, c, b.span()), (c, a, b.span())]);
    }
    match (from, to) {
        (Some(f), Some(tv)) => {
            let a = node_ref("from", f, nodes)?;
            let c = node_ref("to", tv, nodes)?;
            if a == c {
                return fail!(
                    tv.span(),
                    "`to`: a link joins two different nodes, but `from` is `{}` too",
                    nodes[a].name
                );
            }
            Ok(vec![(a, c, f.span())])
        }
        (Some(_), None) => fail!(
            t.span.clone(),
            "[[link]] has `from` but no `to` (or write between = [\"a\", \"b\"] for both directions)"
        ),
        (None, Some(_)) => fail!(
            t.span.clone(),
            "[[link]] has `to` but no `from` (or write between = [\"a\", \"b\"] for both directions)"
        ),
        (None, None) => fail!(
            t.span.clone(),
            "[[link]] needs `from` and `to` (one direction) or `between` (both directions)"
        ),
    }
}

fn bernoulli(p: Prob) -> Loss {
    if p.is_never() { Loss::None } else { Loss::Bernoulli { p } }
}

fn loss(v: &Value<'_>) -> Result<Loss, Fail> {
    if !matches!(v.get_ref(), DeValue::Table(_)) {
        return Ok(bernoulli(prob("loss", v)?));
    }
    let t = Table::of(v, "`loss`", "a table")?;
    t.allow(LOSS_KEYS, |_| None)?;
    let models = ["bernoulli", "gilbert-elliott"];
    let model = choice(
        "model",
        t.require("model", "model = \"bernoulli\" or model = \"gilbert-elliott\"")?,
        &models,
    )?;
    if model == "bernoulli" {
        for k in ["r", "loss_bad", "loss_good", "order"] {
            if let Some(span) = t.key_span(k) {
                return fail!(
                    span,
                    "`{k}` belongs to model = \"gilbert-elliott\"; model = \"bernoulli\" takes only `p`"
                );
            }
        }
        return Ok(bernoulli(prob("p", t.require("p", "the probability that a datagram is lost")?)?));
    }
    let p =
        prob("p", t.require("p", "per datagram, the probability of going from the good to the bad state")?)?;
    let r = prob(
        "r",
        t.require("r", "per datagram, the probability of going from the bad back to the good state")?,
    )?;
    let loss_bad = t.get("loss_bad").map(|v| prob("loss_bad", v)).transpose()?.unwrap_or(Prob::ALWAYS);
    let loss_good = t.get("loss_good").map(|v| prob("loss_good", v)).transpose()?.unwrap_or(Prob::NEVER);
    let order = match t.get("order") {
        None => GeOrder::StepThenDecide,
        Some(v) => match choice("order", v, &["step-then-decide", "netem"])? {
            "netem" => GeOrder::Netem,
            _ => GeOrder::StepThenDecide,
        },
    };
    Ok(Loss::GilbertElliott { p, r, loss_bad, loss_good, order })
}

fn drop_list(v: &Value<'_>) -> Result<Vec<u64>, Fail> {
    let expected = "a list of datagram numbers on this link (from 1), like [3, 17]";
    let DeValue::Array(items) = v.get_ref() else {
        return fail!(v.span(), "`drop`: expected {expected}, found {}", describe(v.get_ref()));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        out.push(integer("drop", item, 1..=i128::from(i64::MAX), "a datagram number, 1 or more")? as u64);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Applies the impairment keys of `t` (a link or a phase) to `imp`.
fn impairment(t: &Table<'_, '_>, imp: &mut Impairment) -> Result<(), Fail> {
    for (key, v) in t.entries() {
        match key {
            "loss" => imp.loss = loss(v)?,
            "drop" => imp.drop = drop_list(v)?,
            "delay" => imp.delay_us = duration(key, v)?,
            "jitter" => imp.jitter_us = duration(key, v)?,
            "jitter_distribution" => {
                imp.jitter = match choice(key, v, &["uniform", "normal"])? {
                    "normal" => Jitter::Normal,
                    _ => Jitter::Uniform,
                }
            }
            "reorder" => imp.reorder = prob(key, v)?,
            "reorder_gap" => {
                let expected = "a whole number, 1 (every datagram may be held back) or more";
                imp.reorder_gap = integer(key, v, 1..=i128::from(u32::MAX), expected)? as u32;
            }
            "reorder_hold" => imp.reorder_hold_us = duration(key, v)?,
            "duplicate" => imp.duplicate = prob(key, v)?,
            "corrupt" => imp.corrupt = prob(key, v)?,
            "corrupt_fix_checksum" => imp.corrupt_fix_checksum = boolean(key, v)?,
            "rate" => imp.rate_bps = rate(key, v)?,
            "mtu" => {
                let expected = "an IP packet size from 68 to 1500 bytes (leave it out for no limit)";
                imp.mtu = integer(key, v, 68..=1500, expected)? as u32;
            }
            "queue" => {
                let expected = "a number of datagrams the link holds, 1 or more";
                imp.queue = integer(key, v, 1..=i128::from(u32::MAX), expected)? as u32;
            }
            _ => {}
        }
    }
    if !imp.reorder.is_never() && imp.reorder_hold_us == 0 {
        let span = t.get("reorder_hold").or(t.get("reorder")).map_or(t.span.clone(), |v| v.span());
        return fail!(
            span,
            "`reorder_hold` is 0, so `reorder` would hold nothing back: give it a duration like \"20ms\" so later datagrams can overtake"
        );
    }
    Ok(())
}

/// The phases and outages of a link, in file order.
fn phases(t: &Table<'_, '_>, base: &Impairment, duration_us: u64) -> Result<Vec<Phase>, Fail> {
    let mut items: Vec<(bool, Table<'_, '_>)> = Vec::new();
    for pt in tables(t, "phase", "[[link.phase]]")? {
        items.push((false, pt));
    }
    for pt in tables(t, "outage", "[[link.outage]]")? {
        items.push((true, pt));
    }
    items.sort_by_key(|(_, pt)| pt.span.start);
    let mut out = Vec::with_capacity(items.len());
    for (n, (outage, pt)) in items.iter().enumerate() {
        if *outage {
            pt.allow(OUTAGE_KEYS, |k| hint(Ctx::Outage, k))?;
        } else {
            pt.allow(PHASE_KEYS, |k| hint(Ctx::Phase, k))?;
        }
        let sv = pt.require("start", "when the window opens, like start = \"5s\"")?;
        let from_us = duration("start", sv)?;
        let ev = pt.require("end", "when the window closes, like end = \"8s\"")?;
        let until_us = duration("end", ev)?;
        if until_us <= from_us {
            return fail!(
                ev.span(),
                "`end` ({}) must be after `start` ({})",
                show_duration(until_us),
                show_duration(from_us)
            );
        }
        if from_us >= duration_us {
            return fail!(
                sv.span(),
                "`start` ({}) is not before the end of the run (duration = \"{}\")",
                show_duration(from_us),
                show_duration(duration_us)
            );
        }
        let name = match pt.get("name") {
            Some(v) => {
                let s = one_paragraph(string("name", v, "a name for the timeline")?);
                if s.is_empty() {
                    return fail!(v.span(), "`name` cannot be empty (leave it out for the default)");
                }
                s
            }
            None if *outage => "outage".to_owned(),
            None => format!("phase {}", n + 1),
        };
        let mut imp = base.clone();
        if *outage {
            imp.down = true;
        } else {
            impairment(pt, &mut imp)?;
        }
        out.push(Phase { from_us, until_us, name, impairment: imp });
    }
    Ok(out)
}

fn links(
    top: &Table<'_, '_>,
    nodes: &[Node],
    duration_us: u64,
    source: &str,
) -> Result<(Vec<Link>, Vec<TraceRef>), Fail> {
    let mut out = Vec::new();
    let mut traces = Vec::new();
    let mut declared: HashMap<(usize, usize), usize> = HashMap::new();
    for t in tables(top, "link", "[[link]]")? {
        t.allow(LINK_KEYS, |k| hint(Ctx::Link, k))?;
        let dirs = directions(&t, nodes)?;
        let mut imp = Impairment { reorder_hold_us: DEFAULT_REORDER_HOLD_US, ..Impairment::default() };
        impairment(&t, &mut imp)?;
        let phases = phases(&t, &imp, duration_us)?;
        let trace = match t.get("trace") {
            Some(v) => {
                let file =
                    string("trace", v, "the path of a link trace, like trace = \"traces/classroom.csv\"")?;
                if t.get("between").is_some() {
                    return fail!(
                        t.key_span("trace").unwrap_or(v.span()),
                        "`trace` replays one direction: a trace holds what happened to the datagrams one side sent. Use from/to (one [[link]] per direction, each with its own trace)"
                    );
                }
                if file.is_empty() {
                    return fail!(v.span(), "`trace` cannot be empty");
                }
                Some((file.to_owned(), v.span()))
            }
            None => None,
        };
        for (from, to, span) in dirs {
            if let Some(&first) = declared.get(&(from, to)) {
                return fail!(
                    span,
                    "the direction {}->{} is already declared by the [[link]] at line {}: each direction has one [[link]]",
                    nodes[from].name,
                    nodes[to].name,
                    line_of(source, first)
                );
            }
            declared.insert((from, to), t.span.start);
            if let Some((file, span)) = &trace {
                traces.push(TraceRef { link: out.len(), file: file.clone(), span: span.clone() });
            }
            out.push(Link { from, to, impairment: imp.clone(), phases: phases.clone(), trace: None });
        }
    }
    Ok((out, traces))
}

fn expect(top: &Table<'_, '_>) -> Result<Expect, Fail> {
    let mut e = Expect::default();
    let Some(v) = top.get("expect") else {
        return Ok(e);
    };
    let t = Table::of(v, "[expect]", "an [expect] table")?;
    t.allow(EXPECT_KEYS, |k| hint(Ctx::Expect, k))?;
    for (key, v) in t.entries() {
        match key {
            // Rounded up: the check is never weaker than written.
            "delivered_min" => e.delivered_min_ppm = Some(super::table::probability(key, v)?.div_ceil(1000)),
            "all_delivered" => e.all_delivered = boolean(key, v)?,
            "duplicates_max" => e.duplicates_max = Some(count(key, v)?),
            "in_order" => e.in_order = boolean(key, v)?,
            "latency_max" => e.latency_max_us = Some(duration(key, v)?),
            "latency_tolerance" => e.latency_tolerance_us = Some(duration(key, v)?),
            "lost_max" => e.lost_max = Some(count(key, v)?),
            _ => {}
        }
    }
    Ok(e)
}
