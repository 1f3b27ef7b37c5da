//! Target `app_receive`: arbitrary datagrams delivered to udplab's built-in apps through the
//! normal receive path, in the in-memory engine.
//!
//! The harness is a lesson-like scenario ([`SCENARIO`]): a plain client and its echo server, a
//! reliable client and its reliable server, a sink server, and a sixth node, `intruder`, whose
//! app (supplied in code, as a user's would be) sends the fuzzer's datagrams to the others while
//! their own traffic runs. So every injected datagram takes the path a real one takes: the
//! intruder's smoltcp socket, a link of the engine (labelled for the trace), the receiver's
//! smoltcp interface and socket, `recvfrom` in the app, the app's state machine, and then the
//! trace, the summary, the timeline and the flow checks that a test or lesson reads. Nothing of
//! that may panic, whatever arrives.
//!
//! The input is a list of records (see [`records`]); a record can ask for the udplab CRC to be
//! filled in, so the fuzzer can forge valid data and acknowledgements (a CRC-32 is beyond its
//! guessing) and reach the apps' sequence and window logic, not only their rejection of junk.

use std::sync::OnceLock;

use udplab_firmware::wire::Datagram;
use udplab_firmware::{App, Context, Endpoint};
use udplab_sim::{Outcome, Scenario, Sim};

/// The network the fuzzer's datagrams are injected into. Short (2 s of virtual time, a few
/// messages per client) so that one run costs about a millisecond.
pub const SCENARIO: &str = r#"
name = "fuzz-app-receive"
seed = 1
duration = "2s"

[[node]]
name = "laptop"
role = "client"
port = 49152
server = "board"
count = 5
interval = "30ms"

[[node]]
name = "board"
role = "server"
port = 3333

[[node]]
name = "rlaptop"
role = "client"
port = 49154
server = "rboard"
count = 5
interval = "20ms"
reliable = { window = 4, rto = "50ms", rto_max = "200ms", max_attempts = 6 }

[[node]]
name = "rboard"
role = "server"
port = 4444
reliable = { window = 4 }

[[node]]
name = "sink"
role = "server"
port = 5555
reply = "sink"

[[node]]
name = "intruder"
role = "code"

[[link]]
between = ["laptop", "board"]
delay = "5ms"

[[link]]
between = ["rlaptop", "rboard"]
delay = "5ms"
"#;

/// The intruder's targets, in the order a record's low bits pick them: each node's name and
/// the port its app is bound to.
pub const TARGETS: [(&str, u16); 5] =
    [("laptop", 49152), ("board", 3333), ("rlaptop", 49154), ("rboard", 4444), ("sink", 5555)];

/// Port of the intruder's own socket.
const INTRUDER_PORT: u16 = 6666;
/// Most records one input may hold, so that no input runs for long.
pub const MAX_RECORDS: usize = 64;
/// A record's wait is counted in steps of this, up to 15 steps after the previous record.
pub const WAIT_STEP_US: u64 = 20_000;

/// Control byte: which target (low 3 bits, modulo the number of targets).
pub const TARGET_MASK: u8 = 0b0000_0111;
/// Control byte: fill in the udplab CRC before sending (on datagrams of a header or more).
pub const FIX_CRC: u8 = 0b0000_1000;
/// Length byte meaning "the rest of the input".
pub const REST: u8 = 0xff;

/// One datagram the intruder sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at_us: u64,
    pub to: usize,
    pub bytes: Vec<u8>,
}

/// Splits an input into records: `[control][length][length bytes]`, repeated. Control: bits
/// 0-2 the target ([`TARGETS`], modulo 5), bit 3 [`FIX_CRC`], bits 4-7 the wait after the
/// previous record in steps of [`WAIT_STEP_US`]. A length of [`REST`] takes the rest of the
/// input (so datagrams longer than 254 bytes are possible); a record cut short by the end of
/// the input keeps what there is.
pub fn records(data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut at_us = 0;
    let mut rest = data;
    while let [control, tail @ ..] = rest {
        if out.len() == MAX_RECORDS {
            break;
        }
        at_us += u64::from(control >> 4) * WAIT_STEP_US;
        let (bytes, after) = match tail {
            [REST, body @ ..] => (body, &[][..]),
            [len, body @ ..] => body.split_at(usize::from(*len).min(body.len())),
            [] => (&[][..], &[][..]),
        };
        let mut bytes = bytes.to_vec();
        if control & FIX_CRC != 0
            && let Ok(mut d) = Datagram::new_checked(&mut bytes[..])
        {
            d.fill_crc();
        }
        out.push(Record { at_us, to: usize::from(control & TARGET_MASK) % TARGETS.len(), bytes });
        rest = after;
    }
    out
}

/// The inverse of [`records`] for one record sent with no wait (what the seed writer uses).
pub fn encode(to: usize, fix_crc: bool, wait_steps: u8, bytes: &[u8]) -> Vec<u8> {
    assert!(to < TARGETS.len() && wait_steps < 16);
    let control = (wait_steps << 4) | if fix_crc { FIX_CRC } else { 0 } | to as u8;
    let mut out = vec![control];
    if bytes.len() < usize::from(REST) {
        out.push(bytes.len() as u8);
    } else {
        out.push(REST);
    }
    out.extend_from_slice(bytes);
    out
}

/// The intruder's app: sends each record when it is due, to the target's address and port, and
/// throws away whatever comes back (echoes, acknowledgements).
struct Intruder {
    records: Vec<Record>,
    addrs: [[u8; 4]; TARGETS.len()],
    next: usize,
}

impl App for Intruder {
    fn port(&self) -> u16 {
        INTRUDER_PORT
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let mut junk = [0u8; 64];
        while cx.recv_from(&mut junk).is_some() {}
        while let Some(r) = self.records.get(self.next).filter(|r| r.at_us <= cx.now_us()) {
            let to = Endpoint { addr: self.addrs[r.to], port: TARGETS[r.to].1 };
            // A full socket or a refused size is traced by the context; either is fine here.
            let _ = cx.send_to(&r.bytes, to);
            self.next += 1;
        }
        self.records.get(self.next).map(|r| r.at_us)
    }

    fn is_done(&self) -> bool {
        self.next == self.records.len()
    }
}

fn scenario() -> &'static Scenario {
    static SCENARIO_PARSED: OnceLock<Scenario> = OnceLock::new();
    SCENARIO_PARSED
        .get_or_init(|| udplab_scenario::parse(SCENARIO, "fuzz-app-receive.toml").expect("SCENARIO"))
}

/// Runs the scenario with the intruder sending `data`'s records.
pub fn outcome(data: &[u8]) -> Outcome {
    let scenario = scenario();
    let records = records(data);
    let addrs =
        TARGETS.map(|(name, _)| scenario.nodes.iter().find(|n| n.name == name).expect("a target node").addr);
    let mut sim = Sim::new(scenario.clone());
    sim.app("intruder", move || Intruder { records: records.clone(), addrs, next: 0 });
    sim.run(scenario.seed).expect("the fuzz scenario starts")
}

pub fn run(data: &[u8]) {
    let out = outcome(data);

    // Everything a test, a lesson or the CLI reads from an outcome.
    let _ = out.summary().render();
    let _ = out.timeline();
    let _ = out.check_expectations();
    let _ = out.losses();
    for (from, to) in
        [("laptop", "board"), ("rlaptop", "rboard"), ("intruder", "board"), ("intruder", "sink")]
    {
        let flow = out.flow(from, to);
        let _ = (flow.check_exactly_once(), flow.check_no_duplicates(), flow.check_in_order());
        let _ = (flow.check_latency_within(1_000), flow.max_latency_us());
        let _ = (flow.duplicates(), flow.out_of_order(), flow.unexpected(), flow.retransmissions());
        for seq in flow.delivered().into_iter().chain(flow.lost()).take(8) {
            let _ = (flow.why(seq), flow.latency_us(seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_wait_target_and_length() {
        let mut input = encode(1, false, 2, b"abc");
        input.extend(encode(4, false, 0, &[7; 300]));
        let r = records(&input);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], Record { at_us: 2 * WAIT_STEP_US, to: 1, bytes: b"abc".to_vec() });
        assert_eq!((r[1].at_us, r[1].to, r[1].bytes.len()), (2 * WAIT_STEP_US, 4, 300));
        // A length past the end keeps what there is; a lone control byte is an empty datagram.
        assert_eq!(records(&[0x02, 9, 1, 2])[0].bytes, vec![1, 2]);
        assert_eq!(records(&[0x07]), vec![Record { at_us: 0, to: 2, bytes: vec![] }]);
        assert_eq!(records(&[0; 1000]).len(), MAX_RECORDS);
    }

    #[test]
    fn fix_crc_forges_a_datagram_the_wire_format_accepts() {
        let mut header = vec![0u8; 28];
        header[..4].copy_from_slice(&[b'U', b'L', 1, 0]);
        let plain = records(&encode(1, false, 0, &header));
        let forged = records(&encode(1, true, 0, &header));
        let parse = |b: &[u8]| udplab_firmware::wire::Repr::parse(&Datagram::new_checked(b).unwrap());
        assert!(parse(&plain[0].bytes).is_err());
        assert!(parse(&forged[0].bytes).is_ok());
    }

    /// The intruder really reaches the apps: a forged reply shows in the client's events.
    #[test]
    fn injected_datagrams_reach_the_apps() {
        let mut header = vec![0u8; 28];
        header[..4].copy_from_slice(&[b'U', b'L', 1, 0]);
        header[7] = 1; // seq 1, a reply the laptop is waiting for once it has sent seq 1
        let sim_out = |input: &[u8]| outcome(input).events("laptop").count();
        let without = sim_out(&[]);
        let with = sim_out(&encode(0, true, 1, &header));
        assert_eq!(with, without + 1, "one more event at the laptop: the forged reply");
    }
}
