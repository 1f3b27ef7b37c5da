//! The udplab datagram: a small fixed header in front of a filler payload.
//!
//! Written in smoltcp's `wire` style: [`Datagram`] is a typed view over any byte buffer with
//! checked accessors, [`Repr`] is the parsed, validated form that can be emitted again.
//!
//! ```text
//!  offset size field
//!  0      2    magic    "UL"
//!  2      1    version  1
//!  3      1    kind     0 = data, 2 = ack   (an echo returns a data datagram verbatim)
//!  4      4    seq      message sequence number, from 1
//!  8      8    sent_us  sender's clock when this copy was sent, microseconds
//!  16     4    ack      ack: every seq below this has been delivered (cumulative); else 0
//!  20     2    attempt  transmission attempt of this seq, from 1
//!  22     2    reserved zero
//!  24     4    crc      CRC-32/ISO-HDLC over the whole datagram with this field zeroed
//!  28     ..   payload  filler, byte i = (seq + i) mod 256
//! ```
//!
//! All integers are big-endian. The CRC lets an application notice damage that a link made
//! after fixing up the UDP checksum (see the corruption impairment): UDP's own checksum is
//! optional and only 16 bits, which is a point the corruption lesson makes.

use core::fmt;
use serde::Serialize;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 28;
/// First two bytes of every udplab datagram.
pub const MAGIC: [u8; 2] = *b"UL";
/// Wire format version this crate speaks.
pub const VERSION: u8 = 1;

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..2;
    pub const VERSION: usize = 2;
    pub const KIND: usize = 3;
    pub const SEQ: Range<usize> = 4..8;
    pub const SENT_US: Range<usize> = 8..16;
    pub const ACK: Range<usize> = 16..20;
    pub const ATTEMPT: Range<usize> = 20..22;
    pub const RESERVED: Range<usize> = 22..24;
    pub const CRC: Range<usize> = 24..28;
}

/// Why bytes are not a valid udplab datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Error {
    /// Shorter than the header.
    Truncated,
    /// Does not start with "UL": not ours (for example typed into `nc -u`).
    BadMagic,
    /// A version this build does not speak.
    BadVersion,
    /// Unknown kind byte.
    BadKind,
    /// The CRC does not match: the datagram was damaged on the way.
    BadCrc,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "shorter than a udplab header",
            Error::BadMagic => "not a udplab datagram",
            Error::BadVersion => "unknown udplab version",
            Error::BadKind => "unknown udplab kind",
            Error::BadCrc => "CRC mismatch (damaged)",
        })
    }
}

/// What a datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A message from a client (echoed back unchanged by an echo server).
    Data,
    /// A reliable-mode acknowledgement.
    Ack,
}

impl Kind {
    fn to_byte(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::Ack => 2,
        }
    }
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Data),
            2 => Some(Kind::Ack),
            _ => None,
        }
    }
}

/// A typed view over the bytes of a datagram.
#[derive(Debug, Clone)]
pub struct Datagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    /// Wraps a buffer without any check; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Datagram { buffer }
    }

    /// Wraps a buffer after checking it holds at least a header, so accessors cannot panic.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Datagram { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes<const N: usize>(&self, range: core::ops::Range<usize>) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.buffer.as_ref()[range]);
        out
    }

    pub fn magic(&self) -> [u8; 2] {
        self.bytes(field::MAGIC)
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }
    pub fn kind_byte(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes(self.bytes(field::SEQ))
    }
    pub fn sent_us(&self) -> u64 {
        u64::from_be_bytes(self.bytes(field::SENT_US))
    }
    pub fn ack(&self) -> u32 {
        u32::from_be_bytes(self.bytes(field::ACK))
    }
    pub fn attempt(&self) -> u16 {
        u16::from_be_bytes(self.bytes(field::ATTEMPT))
    }
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(self.bytes(field::CRC))
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The CRC the datagram should carry, computed with the CRC field taken as zero.
    pub fn compute_crc(&self) -> u32 {
        // The header is copied with its CRC zeroed so the digest takes two pieces, not three:
        // every piece pays the digest's set-up, which for a short datagram costs as much as
        // its bytes (about 100 instructions a datagram, three times per simulated datagram).
        const _: () = assert!(field::CRC.end == HEADER_LEN);
        let data = self.buffer.as_ref();
        let mut head = [0; HEADER_LEN];
        head[..field::CRC.start].copy_from_slice(&data[..field::CRC.start]);
        let mut digest = crate::crc32::Crc32::new();
        digest.update(&head);
        digest.update(&data[HEADER_LEN..]);
        digest.finish()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Datagram<T> {
    fn put(&mut self, range: core::ops::Range<usize>, value: &[u8]) {
        self.buffer.as_mut()[range].copy_from_slice(value);
    }
    pub fn set_seq(&mut self, v: u32) {
        self.put(field::SEQ, &v.to_be_bytes());
    }
    pub fn set_sent_us(&mut self, v: u64) {
        self.put(field::SENT_US, &v.to_be_bytes());
    }
    pub fn set_ack(&mut self, v: u32) {
        self.put(field::ACK, &v.to_be_bytes());
    }
    pub fn set_attempt(&mut self, v: u16) {
        self.put(field::ATTEMPT, &v.to_be_bytes());
    }
    /// Recomputes and stores the CRC over the current contents.
    pub fn fill_crc(&mut self) {
        let crc = self.compute_crc();
        self.put(field::CRC, &crc.to_be_bytes());
    }
}

/// A parsed, validated udplab datagram header (the payload is filler and not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Repr {
    pub kind: Kind,
    pub seq: u32,
    pub sent_us: u64,
    pub ack: u32,
    pub attempt: u16,
    /// Payload bytes after the header.
    pub payload_len: usize,
}

impl Repr {
    /// Parses and validates a datagram, CRC included.
    pub fn parse<T: AsRef<[u8]>>(d: &Datagram<T>) -> Result<Repr, Error> {
        let repr = Self::parse_unverified(d)?;
        if d.crc() != d.compute_crc() {
            return Err(Error::BadCrc);
        }
        Ok(repr)
    }

    /// Parses the header without checking the CRC: what a link label uses to name a
    /// datagram it is about to damage.
    pub fn parse_unverified<T: AsRef<[u8]>>(d: &Datagram<T>) -> Result<Repr, Error> {
        if d.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if d.magic() != MAGIC {
            return Err(Error::BadMagic);
        }
        if d.version() != VERSION {
            return Err(Error::BadVersion);
        }
        let kind = Kind::from_byte(d.kind_byte()).ok_or(Error::BadKind)?;
        Ok(Repr {
            kind,
            seq: d.seq(),
            sent_us: d.sent_us(),
            ack: d.ack(),
            attempt: d.attempt(),
            payload_len: d.buffer.as_ref().len() - HEADER_LEN,
        })
    }

    /// Total bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes header, filler payload and CRC into `buf`, which must be exactly
    /// [`Repr::buffer_len`] bytes long.
    pub fn emit(&self, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.buffer_len(), "emit buffer length");
        let mut d = Datagram::new_unchecked(buf);
        d.put(field::MAGIC, &MAGIC);
        d.buffer[field::VERSION] = VERSION;
        d.buffer[field::KIND] = self.kind.to_byte();
        d.set_seq(self.seq);
        d.set_sent_us(self.sent_us);
        d.set_ack(self.ack);
        d.set_attempt(self.attempt);
        d.put(field::RESERVED, &[0, 0]);
        for (i, b) in d.buffer[HEADER_LEN..].iter_mut().enumerate() {
            *b = (self.seq as usize).wrapping_add(i) as u8;
        }
        d.fill_crc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Repr {
        Repr { kind: Kind::Data, seq: 7, sent_us: 1_234_567, ack: 0, attempt: 1, payload_len: 36 }
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let r = sample();
        let mut buf = vec![0; r.buffer_len()];
        r.emit(&mut buf);
        assert_eq!(&buf[..2], b"UL");
        assert_eq!(Repr::parse(&Datagram::new_checked(&buf[..]).unwrap()), Ok(r));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let r = sample();
        let mut buf = vec![0; r.buffer_len()];
        r.emit(&mut buf);
        for bit in 0..buf.len() * 8 {
            let mut damaged = buf.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let parsed = Repr::parse(&Datagram::new_unchecked(&damaged[..]));
            assert!(parsed.is_err(), "bit {bit} flip went unnoticed");
        }
    }

    #[test]
    fn short_and_foreign_bytes_are_rejected() {
        assert_eq!(Datagram::new_checked(&b"hello"[..]).unwrap_err(), Error::Truncated);
        let text = [b'x'; 40];
        let d = Datagram::new_checked(&text[..]).unwrap();
        assert_eq!(Repr::parse(&d), Err(Error::BadMagic));
    }
}
