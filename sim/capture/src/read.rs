//! Reading pcap and pcapng files into the UDP datagrams they hold.
//!
//! Link types read: Ethernet, Linux cooked (SLL and SLL2, `tcpdump -i any`), raw IP, IPv4 and
//! BSD loopback; IPv4 UDP only. What cannot be used is counted, not fatal (IPv6, other
//! protocols, fragments, frames cut short by the snap length), and a capture that ends in the
//! middle of a frame (tcpdump killed) keeps what came before, with a warning. A file that is not
//! a capture at all, or a block that is damaged, is an error that names the file and the byte.
//!
//! A **capture point** is where a datagram was seen: one per file for pcap, one per interface
//! for pcapng (tcpdump on two interfaces, or Wireshark). udplab's own captures (`--pcap`) are
//! recognised by their section header: each link's interface holds what the sender offered and
//! what came out, told apart by the frame comment, so they are read as two points per node (as
//! sent and as received), on one clock.

use std::io::Cursor;
use std::path::Path;

use pcap_parser::data::{ETHERTYPE_IPV4, PacketData, get_packetdata};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, OptionCode, PcapBlockOwned, PcapError};
use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Packet, UdpPacket};

/// The largest capture file read: 1 GiB. Captures are read whole; a bigger one can be cut with
/// `editcap -c` or filtered with `tshark -w` first.
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

/// The largest timestamp kept, in microseconds either side of the Unix epoch (2^52 us).
const TIME_LIMIT_US: i64 = 1 << 52;

/// Which end of its link a datagram was seen at, when the capture says (udplab's own captures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Sender,
    Receiver,
}

/// One UDP datagram as a capture point saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub point: usize,
    /// Microseconds since the Unix epoch, on the point's clock.
    pub at_us: i64,
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub payload: Vec<u8>,
    /// The UDP checksum matched (or the sender sent none).
    pub checksum_ok: bool,
    /// Known from the capture (udplab's own), else inferred later.
    pub side: Option<Side>,
    /// Frame number in its file, from 1 (what Wireshark shows), for messages.
    pub frame: u64,
}

/// A place datagrams were seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// `laptop.pcapng`, `both.pcapng interface eth0`, `lesson.pcapng: board (sent)`.
    pub name: String,
    /// Which file (index into the files given).
    pub file: usize,
}

/// What the files held.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub points: Vec<Point>,
    pub seen: Vec<Seen>,
    /// Every capture point shares one clock (one udplab capture).
    pub one_clock: bool,
    /// Frames that were not IPv4 UDP, by what they were.
    pub skipped: Vec<(String, u64)>,
    pub warnings: Vec<String>,
    /// Node names of addresses, where the capture says (udplab's own captures).
    pub names: Vec<([u8; 4], String)>,
}

impl Captured {
    fn skip(&mut self, what: &str) {
        match self.skipped.iter_mut().find(|(w, _)| w == what) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((what.to_owned(), 1)),
        }
    }
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Reads the capture files at `paths`.
pub fn read_files(paths: &[&Path]) -> Result<Captured, ReadError> {
    use udplab_scenario::{BoundedReadError, read_bounded};
    let mut out = Captured { one_clock: paths.len() == 1, ..Captured::default() };
    for (file, path) in paths.iter().enumerate() {
        let shown = path.display().to_string();
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err(ReadError(format!("{shown} is a folder, not a capture file")));
        }
        let bytes = read_bounded(path, MAX_CAPTURE_BYTES).map_err(|e| match e {
            BoundedReadError::Io(e) => ReadError(format!("cannot read {shown}: {e}")),
            BoundedReadError::TooLarge => ReadError(format!(
                "{shown} is larger than 1 GiB: cut it first (editcap -c, or tshark -Y udp -w)"
            )),
        })?;
        read_bytes(&bytes, &shown, file, &mut out)?;
    }
    Ok(out)
}

/// Refuses a pcapng file with a block shorter than a block's own 12 bytes of framing.
/// pcap-parser 0.17 subtracts 12 from such a length after checking it only against the block's
/// header size, which is smaller for some block types: an overflow panic where overflow checks
/// are on (tests, fuzzing), a nonsense length elsewhere. Found by the `capture` fuzz target
/// (fuzz/regressions/capture/crash-db49...). Cut files are left to the reader, which keeps what
/// came before the cut.
fn check_block_lengths(bytes: &[u8], name: &str) -> Result<(), ReadError> {
    const SHB: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
    let u32_at = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
    if u32_at(0) != Some(SHB) {
        return Ok(());
    }
    let (mut at, mut little) = (0usize, true);
    while let Some(kind) = u32_at(at) {
        if kind == SHB {
            match u32_at(at + 8) {
                Some([0x4D, 0x3C, 0x2B, 0x1A]) => little = true,
                Some([0x1A, 0x2B, 0x3C, 0x4D]) => little = false,
                _ => return Ok(()), // the reader says what is wrong with this section header
            }
        }
        let Some(len) = u32_at(at + 4) else { return Ok(()) };
        let len = if little { u32::from_le_bytes(len) } else { u32::from_be_bytes(len) };
        if len < 12 {
            return Err(ReadError(format!(
                "{name} is damaged: the pcapng block at byte {at} says it is {len} bytes long, \
                 but a block is at least 12 bytes"
            )));
        }
        at = at.saturating_add(len as usize);
    }
    Ok(())
}

/// Reads one capture file's bytes into `out`; `name` names it in messages.
pub fn read_bytes(bytes: &[u8], name: &str, file: usize, out: &mut Captured) -> Result<(), ReadError> {
    let mut reader = match pcap_parser::create_reader(1 << 20, Cursor::new(bytes)) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(ReadError(format!("{name} is empty: not a capture file"))),
        Err(PcapError::Incomplete(_)) => {
            return Err(ReadError(format!("{name} ends inside its file header: not a whole capture file")));
        }
        Err(_) => {
            return Err(ReadError(format!(
                "{name} is not a pcap or pcapng capture (its first bytes are not a capture file header; \
                 save it from Wireshark as pcapng, or write it with tcpdump -w)"
            )));
        }
    };
    check_block_lengths(bytes, name)?;
    // pcapng: interfaces of the current section (link type, units per second, offset seconds,
    // the point each maps to). pcap: one interface.
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut udplab = false;
    let mut frame = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        interfaces = vec![Interface {
                            linktype: h.network,
                            per_second: if h.is_nanosecond_precision() { 1_000_000_000 } else { 1_000_000 },
                            offset_s: 0,
                            point: new_point(out, name.to_owned(), file),
                            name: String::new(),
                        }];
                    }
                    PcapBlockOwned::Legacy(b) => {
                        frame += 1;
                        let Some(i) = interfaces.first() else {
                            return Err(ReadError(format!("{name}: a frame before the file header")));
                        };
                        let ts = i64::from(b.ts_sec) * 1_000_000
                            + scale(u64::from(b.ts_usec), i.per_second).min(999_999) as i64;
                        let caplen = (b.caplen as usize).min(b.data.len());
                        frame_in(out, i, &b.data[..caplen], b.origlen as usize, ts, None, frame);
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                        interfaces.clear();
                        udplab = shb
                            .options
                            .iter()
                            .any(|o| o.code == OptionCode::ShbUserAppl && o.value.starts_with(b"udplab"));
                        out.one_clock &= udplab || out.points.is_empty();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let if_name = idb.if_name().and_then(Result::ok).unwrap_or("").to_owned();
                        let Some(per_second) = idb.ts_resolution() else {
                            return Err(ReadError(format!(
                                "{name}: interface {} has a timestamp resolution no clock has (if_tsresol {})",
                                interfaces.len(),
                                idb.if_tsresol
                            )));
                        };
                        let point = if udplab {
                            usize::MAX
                        } else {
                            let shown = if if_name.is_empty() {
                                format!("{name} interface {}", interfaces.len())
                            } else {
                                format!("{name} interface {if_name}")
                            };
                            new_point(out, shown, file)
                        };
                        interfaces.push(Interface {
                            linktype: idb.linktype,
                            per_second,
                            offset_s: idb.ts_offset(),
                            point,
                            name: if_name,
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        frame += 1;
                        let Some(i) = interfaces.get(epb.if_id as usize) else {
                            return Err(ReadError(format!(
                                "{name}: frame {frame} names interface {} but the file describes {}",
                                epb.if_id,
                                interfaces.len()
                            )));
                        };
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ts = i
                            .offset_s
                            .saturating_mul(1_000_000)
                            .saturating_add(scale(raw, i.per_second) as i64);
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        let data = &epb.data[..caplen];
                        if udplab {
                            // `a->b`: offers were seen at a (sent), arrivals at b (received).
                            let comment = epb
                                .options
                                .iter()
                                .find(|o| o.code == OptionCode::Comment)
                                .map(|o| String::from_utf8_lossy(&o.value).into_owned())
                                .unwrap_or_default();
                            let (from, to) = i.name.split_once("->").unwrap_or((&i.name, &i.name));
                            let offered = is_offer_comment(&comment);
                            let (node, side) =
                                if offered { (from, Side::Sender) } else { (to, Side::Receiver) };
                            let pname = format!("{name}: {node}");
                            let point =
                                match out.points.iter().position(|p| p.name == pname && p.file == file) {
                                    Some(p) => p,
                                    None => new_point(out, pname, file),
                                };
                            let i = Interface { point, ..i.clone() };
                            let before = out.seen.len();
                            frame_in(out, &i, data, epb.origlen as usize, ts, Some(side), frame);
                            if let Some(s) = out.seen.get(before) {
                                for (a, n) in [(s.src.0, from), (s.dst.0, to)] {
                                    if !out.names.iter().any(|(x, _)| *x == a) {
                                        out.names.push((a, n.to_owned()));
                                    }
                                }
                            }
                        } else {
                            frame_in(out, i, data, epb.origlen as usize, ts, None, frame);
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        frame += 1;
                        out.skip("frames without a timestamp (simple packet blocks)");
                        let _ = spb;
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::UnexpectedEof) => {
                out.warnings.push(format!(
                    "{name} ends in the middle of a frame (after frame {frame}): the capture was cut short; \
                     the {frame} frames before it were read"
                ));
                break;
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    if reader.data().is_empty() {
                        break;
                    }
                    out.warnings.push(format!(
                        "{name} ends in the middle of a frame (after frame {frame}): the capture was cut short; \
                         the {frame} frames before it were read"
                    ));
                    break;
                }
                reader.refill().map_err(|e| ReadError(format!("{name}: {e}")))?;
            }
            Err(PcapError::BufferTooSmall) => {
                let size = reader.data().len().max(1 << 20) * 2;
                if size > 64 << 20 || !reader.grow(size) {
                    return Err(ReadError(format!(
                        "{name}: a block after frame {frame} is larger than 64 MiB"
                    )));
                }
                reader.refill().map_err(|e| ReadError(format!("{name}: {e}")))?;
            }
            Err(e) => {
                let why = short(&e);
                return Err(ReadError(format!(
                    "{name}: damaged block after frame {frame} (byte {}): {why}",
                    reader.consumed()
                )));
            }
        }
    }
    if interfaces.is_empty() && out.points.iter().all(|p| p.file != file) {
        return Err(ReadError(format!("{name}: the capture describes no interface")));
    }
    Ok(())
}

fn short(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("the block does not parse ({kind:?})"),
        PcapError::OwnedNomError(_, kind) => format!("the block does not parse ({kind:?})"),
        other => other.to_string(),
    }
}

/// Whether a udplab capture's frame comment is about the datagram as offered (`... #3 seq=3:
/// sent, ...` or `...: LOST, ...`) rather than a copy that came out of the link.
fn is_offer_comment(comment: &str) -> bool {
    comment.split(": ").nth(1).is_some_and(|rest| rest.starts_with("sent") || rest.starts_with("LOST"))
}

#[derive(Clone)]
struct Interface {
    linktype: Linktype,
    per_second: u64,
    offset_s: i64,
    point: usize,
    name: String,
}

fn new_point(out: &mut Captured, name: String, file: usize) -> usize {
    out.points.push(Point { name, file });
    out.points.len() - 1
}

/// `units` at `per_second` units per second, in microseconds.
fn scale(units: u64, per_second: u64) -> u64 {
    (u128::from(units) * 1_000_000 / u128::from(per_second.max(1))).min(u128::from(u64::MAX / 2)) as u64
}

fn frame_in(
    out: &mut Captured,
    i: &Interface,
    data: &[u8],
    origlen: usize,
    at_us: i64,
    side: Option<Side>,
    frame: u64,
) {
    if data.len() < origlen {
        out.skip("frames cut short by the snap length");
        return;
    }
    let ip = match get_packetdata(data, i.linktype, data.len()) {
        Some(PacketData::L2(eth)) => {
            if eth.len() < 14 {
                out.skip("damaged Ethernet frames");
                return;
            }
            let mut ethertype = u16::from_be_bytes([eth[12], eth[13]]);
            let mut start = 14;
            // One 802.1Q tag (a VLAN on a managed switch port).
            if ethertype == 0x8100 && eth.len() >= 18 {
                ethertype = u16::from_be_bytes([eth[16], eth[17]]);
                start = 18;
            }
            if ethertype != ETHERTYPE_IPV4 {
                out.skip(if ethertype == 0x0806 { "ARP" } else { "not IPv4" });
                return;
            }
            &eth[start..]
        }
        Some(PacketData::L3(ETHERTYPE_IPV4, ip)) => ip,
        Some(PacketData::L3(..)) => {
            out.skip("not IPv4");
            return;
        }
        Some(_) | None => {
            out.skip("frames of a link type udplab does not read");
            return;
        }
    };
    let Ok(packet) = Ipv4Packet::new_checked(ip) else {
        out.skip("damaged IPv4 packets");
        return;
    };
    if packet.next_header() != IpProtocol::Udp {
        out.skip("not UDP");
        return;
    }
    if packet.more_frags() || packet.frag_offset() != 0 {
        out.skip("IP fragments (not reassembled)");
        return;
    }
    let Ok(udp) = UdpPacket::new_checked(packet.payload()) else {
        out.skip("damaged UDP headers");
        return;
    };
    let (s, d) = (packet.src_addr(), packet.dst_addr());
    let checksum_ok = udp.checksum() == 0 || udp.verify_checksum(&IpAddress::Ipv4(s), &IpAddress::Ipv4(d));
    out.seen.push(Seen {
        point: i.point,
        // Within about 142 years of 1970 either way: every difference and offset computed from
        // two timestamps then fits an i64 with room to spare, whatever a file claims.
        at_us: at_us.clamp(-TIME_LIMIT_US, TIME_LIMIT_US),
        src: (s.octets(), udp.src_port()),
        dst: (d.octets(), udp.dst_port()),
        payload: udp.payload().to_vec(),
        checksum_ok,
        side,
        frame,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_capture_is_a_clear_error() {
        let mut out = Captured::default();
        let e = read_bytes(b"hello, this is text", "notes.txt", 0, &mut out).unwrap_err();
        assert!(e.0.contains("notes.txt is not a pcap or pcapng capture"), "{e}");
        let e = read_bytes(b"", "empty.pcap", 0, &mut out).unwrap_err();
        assert!(e.0.contains("empty"), "{e}");
        // A pcap header cut in the middle.
        let e = read_bytes(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4], "cut.pcap", 0, &mut out).unwrap_err();
        assert!(e.0.contains("cut.pcap"), "{e}");
    }

    /// A block too short for its own framing is refused with where it is, in either byte order
    /// (pcap-parser would underflow on it: see `check_block_lengths`).
    #[test]
    fn a_pcapng_block_shorter_than_its_framing_is_damage_not_a_panic() {
        for little in [true, false] {
            let u32b = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
            let mut f = Vec::new();
            f.extend([0x0A, 0x0D, 0x0D, 0x0A]);
            f.extend(u32b(28));
            f.extend(u32b(0x1A2B_3C4D));
            f.extend(if little { [1, 0, 0, 0] } else { [0, 1, 0, 0] }); // version 1.0
            f.extend(u32b(u32::MAX)); // section length unknown
            f.extend(u32b(u32::MAX));
            f.extend(u32b(28));
            // A Process Information block (type 0x80000001) claiming 8 bytes.
            f.extend(u32b(0x8000_0001));
            f.extend(u32b(8));
            f.extend([0; 8]);
            let mut out = Captured::default();
            let e = read_bytes(&f, "short.pcapng", 0, &mut out).unwrap_err();
            assert!(
                e.0.contains("short.pcapng is damaged: the pcapng block at byte 28 says it is 8 bytes"),
                "{e}"
            );
        }
    }

    #[test]
    fn udplab_offer_comments_are_told_from_arrivals() {
        assert!(is_offer_comment("laptop->board #3 seq=3: LOST, random loss (20%)"));
        assert!(is_offer_comment("laptop->board #3 seq=3: sent, arrives after 5.000ms"));
        assert!(!is_offer_comment("laptop->board #3 seq=3: arrived after 5.000ms"));
        assert!(!is_offer_comment("laptop->board #3 seq=3: duplicate of #3, arrived after 6.100ms"));
    }
}
