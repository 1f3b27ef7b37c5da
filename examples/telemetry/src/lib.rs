//! A small telemetry protocol, written the way a firmware developer would write it, to show how
//! udplab tests code that is not udplab's: a sensor reports numbered readings to a gateway and
//! retransmits each until the gateway acknowledges it; the gateway stores every reading.
//!
//! ```text
//!  reading  'T' 1 id:u32 value:i32      sensor -> gateway, 10 bytes, big-endian
//!  ack      'T' 2 id:u32                gateway -> sensor, 6 bytes
//! ```
//!
//! The gateway comes in two versions. [`Gateway::naive`] stores whatever arrives, as a first
//! version usually does; it works on a clean network and stores a reading twice as soon as an
//! ack is lost (the sensor retransmits) or the network duplicates a datagram.
//! [`Gateway::new`] remembers which readings it has (a bounded window) and stores each once.
//! The tests in `tests/` find the naive version's bug with one property and keep it found.
#![no_std]
#![forbid(unsafe_code)]

use udplab_firmware::{App, Context, Endpoint, Note};

/// The gateway's UDP port.
pub const GATEWAY_PORT: u16 = 4210;
/// The sensor's UDP port.
pub const SENSOR_PORT: u16 = 4211;

const MAGIC: u8 = b'T';
const READING: u8 = 1;
const ACK: u8 = 2;

/// A datagram of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Reading { id: u32, value: i32 },
    Ack { id: u32 },
}

impl Message {
    /// Parses a datagram; `None` for anything that is not exactly one of ours.
    pub fn parse(bytes: &[u8]) -> Option<Message> {
        match bytes {
            [MAGIC, READING, id @ ..] if id.len() == 8 => Some(Message::Reading {
                id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
                value: i32::from_be_bytes([id[4], id[5], id[6], id[7]]),
            }),
            [MAGIC, ACK, a, b, c, d] => Some(Message::Ack { id: u32::from_be_bytes([*a, *b, *c, *d]) }),
            _ => None,
        }
    }

    /// Writes the datagram into `buf` and returns its length (at most 10 bytes).
    pub fn emit(&self, buf: &mut [u8; 10]) -> usize {
        match *self {
            Message::Reading { id, value } => {
                buf[0] = MAGIC;
                buf[1] = READING;
                buf[2..6].copy_from_slice(&id.to_be_bytes());
                buf[6..10].copy_from_slice(&value.to_be_bytes());
                10
            }
            Message::Ack { id } => {
                buf[0] = MAGIC;
                buf[1] = ACK;
                buf[2..6].copy_from_slice(&id.to_be_bytes());
                6
            }
        }
    }

    pub fn id(&self) -> u32 {
        match *self {
            Message::Reading { id, .. } | Message::Ack { id } => id,
        }
    }
}

/// How the sensor behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorConfig {
    pub gateway: Endpoint,
    /// Readings to report, one every `period_us`, ids from 1.
    pub readings: u32,
    pub period_us: u64,
    /// Retransmit an unacknowledged reading after this long.
    pub retry_us: u64,
    /// Give up on a reading after this many transmissions.
    pub max_attempts: u16,
}

/// The sensor of the example scenario (`scenarios/telemetry.toml`): 30 readings to the
/// gateway at 10.0.0.1, one every 100 ms, each retransmitted every 50 ms up to 6 times. The
/// tests, the lab binary and the ESP32 image all build it here, so they run the same app.
pub fn example_sensor() -> Sensor {
    Sensor::new(SensorConfig {
        gateway: Endpoint { addr: [10, 0, 0, 1], port: GATEWAY_PORT },
        readings: 30,
        period_us: 100_000,
        retry_us: 50_000,
        max_attempts: 6,
    })
}

/// Most readings waiting for an ack at once; older ones are given up (bounded memory).
const PENDING: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Pending {
    id: u32,
    attempts: u16,
    due_us: u64,
}

/// Reports readings and retransmits each until acknowledged.
#[derive(Debug)]
pub struct Sensor {
    cfg: SensorConfig,
    next_id: u32,
    pending: [Option<Pending>; PENDING],
}

impl Sensor {
    pub fn new(cfg: SensorConfig) -> Sensor {
        Sensor { cfg, next_id: 1, pending: [None; PENDING] }
    }

    /// The reading a sensor reports as `id`: a made-up temperature in tenths of a degree.
    pub fn value(id: u32) -> i32 {
        200 + (id % 37) as i32
    }

    fn transmit(&self, cx: &mut Context<'_>, p: &Pending) {
        let mut buf = [0; 10];
        let n = Message::Reading { id: p.id, value: Sensor::value(p.id) }.emit(&mut buf);
        let _ = cx.send_message(p.id, p.attempts, &buf[..n], self.cfg.gateway);
    }
}

impl App for Sensor {
    fn port(&self) -> u16 {
        SENSOR_PORT
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let now = cx.now_us();
        let mut buf = [0u8; 16];
        while let Some((n, _)) = cx.recv_from(&mut buf) {
            if let Some(Message::Ack { id }) = Message::parse(&buf[..n]) {
                for slot in self.pending.iter_mut() {
                    if slot.is_some_and(|p| p.id == id) {
                        *slot = None;
                    }
                }
            }
        }
        // Retransmit what is due, give up on what has had its attempts.
        for i in 0..PENDING {
            let Some(mut p) = self.pending[i] else { continue };
            if p.due_us > now {
                continue;
            }
            if p.attempts >= self.cfg.max_attempts {
                cx.note(Note::new("gave up").with("id", i64::from(p.id)));
                self.pending[i] = None;
                continue;
            }
            p.attempts += 1;
            // From when it was due, not from now: a poll that comes late on a real clock then
            // shifts nothing after it, and timers due together stay together.
            p.due_us += self.cfg.retry_us;
            self.transmit(cx, &p);
            self.pending[i] = Some(p);
        }
        // New readings on schedule.
        while self.next_id <= self.cfg.readings && u64::from(self.next_id - 1) * self.cfg.period_us <= now {
            let scheduled = u64::from(self.next_id - 1) * self.cfg.period_us;
            let p = Pending { id: self.next_id, attempts: 1, due_us: scheduled + self.cfg.retry_us };
            self.next_id += 1;
            // A full table gives up its oldest reading: bounded memory on the chip.
            let slot = match self.pending.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    let oldest =
                        (0..PENDING).min_by_key(|&i| self.pending[i].map_or(0, |p| p.id)).unwrap_or(0);
                    if let Some(old) = self.pending[oldest] {
                        cx.note(Note::new("gave up").with("id", i64::from(old.id)));
                    }
                    oldest
                }
            };
            self.transmit(cx, &p);
            self.pending[slot] = Some(p);
        }
        let next_reading =
            (self.next_id <= self.cfg.readings).then(|| u64::from(self.next_id - 1) * self.cfg.period_us);
        self.pending.iter().flatten().map(|p| p.due_us).chain(next_reading).min()
    }

    fn is_done(&self) -> bool {
        self.next_id > self.cfg.readings && self.pending.iter().all(Option::is_none)
    }
}

/// How many ids below the highest the fixed gateway remembers.
pub const DEDUP_WINDOW: u32 = 256;

/// Stores readings and acknowledges each one it receives.
#[derive(Debug)]
pub struct Gateway {
    dedup: bool,
    /// Bit i set: reading `highest - i` is stored.
    seen: [u64; (DEDUP_WINDOW / 64) as usize],
    highest: u32,
    stored: u32,
}

impl Gateway {
    /// Stores each reading once, however often it arrives.
    pub fn new() -> Gateway {
        Gateway { dedup: true, seen: [0; (DEDUP_WINDOW / 64) as usize], highest: 0, stored: 0 }
    }

    /// The first version: stores whatever arrives (the bug the tests find).
    pub fn naive() -> Gateway {
        Gateway { dedup: false, ..Gateway::new() }
    }

    /// Readings stored so far.
    pub fn stored(&self) -> u32 {
        self.stored
    }

    /// Marks `id` as seen; false if it already was (or is too old to tell, which counts as seen:
    /// better to drop a very late reading than to store it twice).
    fn first_time(&mut self, id: u32) -> bool {
        if id > self.highest {
            let shift = id - self.highest;
            for _ in 0..shift.min(DEDUP_WINDOW) {
                let mut carry = 0;
                for w in self.seen.iter_mut() {
                    let next = *w >> 63;
                    *w = (*w << 1) | carry;
                    carry = next;
                }
            }
            self.highest = id;
        }
        let back = self.highest - id;
        if back >= DEDUP_WINDOW {
            return false;
        }
        let (word, bit) = ((back / 64) as usize, back % 64);
        let was = self.seen[word] & (1 << bit) != 0;
        self.seen[word] |= 1 << bit;
        !was
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway::new()
    }
}

impl App for Gateway {
    fn port(&self) -> u16 {
        GATEWAY_PORT
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let mut buf = [0u8; 16];
        while let Some((n, from)) = cx.recv_from(&mut buf) {
            let Some(Message::Reading { id, value }) = Message::parse(&buf[..n]) else {
                cx.note(Note::new("ignored").with("bytes", n as i64));
                continue;
            };
            if !self.dedup || self.first_time(id) {
                self.stored += 1;
                cx.deliver(id, from);
                cx.note(Note::new("stored").with("id", i64::from(id)).with("value", i64::from(value)));
            }
            // Ack every copy: the sensor may have missed the ack of the first.
            let mut ack = [0; 10];
            let len = Message::Ack { id }.emit(&mut ack);
            let _ = cx.send_to(&ack[..len], from);
        }
        None
    }

    /// The gateway only answers: nothing to do on its own.
    fn is_done(&self) -> bool {
        true
    }
}

/// Names the protocol's datagrams in udplab's traces and pictures (`reading=7`, `ack=7`).
pub fn label(payload: &[u8]) -> Option<(&'static str, u32)> {
    match Message::parse(payload)? {
        Message::Reading { id, .. } => Some(("reading", id)),
        Message::Ack { id } => Some(("ack", id)),
    }
}
