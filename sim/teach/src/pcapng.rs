//! The packet capture (pcapng) of a virtual-time run, for Wireshark and tshark.
//!
//! Layout, chosen so a student can filter and read it without udplab:
//! - one section; its header names udplab (`shb_userappl`) and says what the file holds;
//! - **one interface per link**, in the scenario's link order (interface `i` is link `i`),
//!   named after the link (`if_name` = `laptop->board`) and described by its impairments, with
//!   microsecond timestamps (`if_tsresol` = 6). `frame.interface_name == "laptop->board"`
//!   selects one direction;
//! - **one frame per trace event that has bytes**: each datagram as the sender offered it to
//!   the link (at the offer time, lost ones included) and each copy that came out of the link
//!   (at its arrival time, corruption included), in trace order. So the frame count is the
//!   number of `Offer` plus `Arrive` events; copies still in flight at the end have no frame;
//! - timestamps are the run's virtual time, counted from the Unix epoch (Wireshark shows
//!   1970-01-01 00:00:00 as the start of the run), so the same run gives the same file;
//! - each IPv4 packet is wrapped in an Ethernet II header with made-up, locally administered
//!   MAC addresses derived from the node index: `02:75:6c:00:HH:LL` (`0x02`: locally
//!   administered unicast; `75 6c`: "ul"; `HHLL`: node index + 1, so the first node is
//!   `02:75:6c:00:00:01`), destination the link's receiver, source its sender;
//! - each frame carries a packet comment (`opt_comment`, shown by Wireshark as
//!   `frame.comment` / `pkt_comment`) with what happened to it: `laptop->board #3 seq=3: LOST,
//!   random loss (20%)`, `... : duplicate of #12, arrived after 6.100ms`, `...: arrived after
//!   50.000ms, delayed 40.000ms extra (held back to be overtaken); REORDERED: #11 arrived
//!   first`, `...; overtook #10`, `...: corrupted: payload bit 192 flipped, UDP checksum fixed`.
//!
//! The blocks are written with rusticata's `pcap-parser` serializer (feature `serialize`),
//! which writes packet comments and lets the timestamp resolution be set per interface.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use pcap_parser::pcapng::{EnhancedPacketBlock, InterfaceDescriptionBlock, SectionHeaderBlock};
use pcap_parser::{Linktype, OptionCode, PcapNGOption, ToVec};
use udplab_firmware::AppEvent;
use udplab_sim::net::Captured;
use udplab_sim::trace::{Event, Record};

use super::story::{Datagram, Story, Words};

/// Why a capture could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError(pub String);

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

/// The made-up MAC address of node `node` (see the module documentation).
pub fn mac(node: usize) -> [u8; 6] {
    let n = u16::try_from(node + 1).unwrap_or(u16::MAX);
    let [hi, lo] = n.to_be_bytes();
    [0x02, 0x75, 0x6c, 0x00, hi, lo]
}

/// The pcapng file of a run: `trace` (whose story is `story`) and the bytes the engine kept.
/// [`crate::streamed`] writes the same bytes as a run goes.
pub fn capture(story: &Story, trace: &[Record], captured: &[Captured]) -> Result<Vec<u8>, CaptureError> {
    let mut bytes: BTreeMap<(usize, u64, Option<u8>), &Captured> = BTreeMap::new();
    for c in captured {
        bytes.insert((c.link, c.index, c.copy), c);
    }
    let mut out = head(story, story.incomplete.as_deref())?;
    for (i, r) in trace.iter().enumerate() {
        let Some((link, index, copy)) = frame_of(r) else { continue };
        let Some(d) = story.find(link, index) else {
            return Err(unknown_datagram(link, index));
        };
        let Some(c) = bytes.get(&(link, index, copy)) else {
            return Err(no_bytes(story, link, index, copy));
        };
        let mut notes = String::new();
        if copy.is_some() {
            // What the receiving app noted on this arrival (its own events, `Context::note`):
            // the app records right after an arrival, at its instant, are the receiver's poll.
            for n in &trace[i + 1..] {
                let Event::App { node, app } = n.event else { break };
                if n.at_us != r.at_us {
                    break;
                }
                if let AppEvent::Note(note) = app
                    && node == d.to
                {
                    add_note(&mut notes, story, node, note);
                }
            }
        }
        out.extend(frame(story, d, copy, r.at_us, &c.packet, &notes)?);
    }
    Ok(out)
}

/// `(link, index, copy)` of the frame record `r` makes: `None` for the offer, the copy for an
/// arrival; no frame for other records.
pub(crate) fn frame_of(r: &Record) -> Option<(usize, u64, Option<u8>)> {
    match r.event {
        Event::Offer { link, index, .. } => Some((link, index, None)),
        Event::Arrive { link, index, copy, .. } => Some((link, index, Some(copy))),
        _ => None,
    }
}

pub(crate) fn unknown_datagram(link: usize, index: u64) -> CaptureError {
    CaptureError(format!("the trace names datagram #{index} on unknown link {link}"))
}

pub(crate) fn no_bytes(words: &Words, link: usize, index: u64, copy: Option<u8>) -> CaptureError {
    let which = copy.map_or_else(|| "as offered".to_string(), |c| format!("copy {c} as it arrived"));
    CaptureError(format!("no packet bytes were kept for {} #{index} ({which})", words.link_name(link)))
}

/// Adds what `node`'s app noted on an arrival to that arrival's comment.
pub(crate) fn add_note(notes: &mut String, words: &Words, node: usize, note: impl fmt::Display) {
    let _ = write!(notes, "; {}: {note}", words.node_name(node));
}

/// The section header and one interface per link: what comes before the first frame. The
/// section's comment says when the run is INCOMPLETE (`incomplete`: why), so it is known only
/// at the end of a run.
pub(crate) fn head(words: &Words, incomplete: Option<&str>) -> Result<Vec<u8>, CaptureError> {
    let mut out = Vec::new();
    let sc = words.scenario;
    let mut about = format!(
        "udplab run of scenario {}: one interface per link, one frame per datagram offered to a link \
         and per copy that came out of it; times count from the start of the run (virtual time for \
         `udplab run`, the real clock for `udplab tap`)",
        sc.name
    );
    if let Some(why) = incomplete {
        about = format!("INCOMPLETE run ({why}): {about}");
    }
    let mut shb = SectionHeaderBlock {
        block_type: 0,
        block_len1: 0,
        bom: 0,
        major_version: 1,
        minor_version: 0,
        section_len: -1,
        options: vec![
            text_option(OptionCode::Comment, &about),
            text_option(OptionCode::ShbUserAppl, &format!("udplab {}", env!("CARGO_PKG_VERSION"))),
        ],
        block_len2: 0,
    };
    out.extend(shb.to_vec().map_err(gen_error)?);
    for link in 0..sc.links.len() {
        let description = format!("udplab link {}: {}", words.link_name(link), sc.links[link].impairment);
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype::ETHERNET,
            reserved: 0,
            snaplen: 0,
            options: vec![
                text_option(OptionCode::IfName, &words.link_name(link)),
                text_option(OptionCode::IfDescription, &description),
            ],
            block_len2: 0,
            if_tsresol: 6,
            if_tsoffset: 0,
        };
        out.extend(idb.to_vec().map_err(gen_error)?);
    }
    Ok(out)
}

/// The block of one frame: datagram `d` as offered (`copy` `None`) or copy `copy` as it arrived,
/// at `at_us`, with its IP `packet` and what the receiver noted on it (`notes`, from
/// [`add_note`]).
pub(crate) fn frame(
    words: &Words,
    d: &Datagram,
    copy: Option<u8>,
    at_us: u64,
    packet: &[u8],
    notes: &str,
) -> Result<Vec<u8>, CaptureError> {
    let mut comment = match copy {
        None => words.offer_sentence(d),
        Some(copy) => words.arrival_sentence(d, copy),
    };
    comment.push_str(notes);
    let mut frame = Vec::with_capacity(14 + packet.len());
    frame.extend_from_slice(&mac(d.to));
    frame.extend_from_slice(&mac(d.from));
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    frame.extend_from_slice(packet);
    let len = u32::try_from(frame.len()).map_err(|_| CaptureError("a frame is larger than 4 GiB".into()))?;
    let mut epb = EnhancedPacketBlock {
        block_type: 0,
        block_len1: 0,
        if_id: u32::try_from(d.link).map_err(|_| CaptureError("too many links".into()))?,
        ts_high: (at_us >> 32) as u32,
        ts_low: at_us as u32,
        caplen: len,
        origlen: len,
        data: &frame,
        options: vec![text_option(OptionCode::Comment, &comment)],
        block_len2: 0,
    };
    epb.to_vec().map_err(gen_error)
}

/// A UTF-8 string option (comments, names). Longer than a pcapng option can hold: cut.
fn text_option(code: OptionCode, text: &str) -> PcapNGOption<'static> {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.len() > usize::from(u16::MAX) {
        let mut end = usize::from(u16::MAX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        bytes.truncate(end);
    }
    PcapNGOption { code, len: bytes.len() as u16, value: bytes.into() }
}

fn gen_error(e: impl fmt::Debug) -> CaptureError {
    CaptureError(format!("encoding a pcapng block: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_locally_administered_unicast_and_distinct() {
        assert_eq!(mac(0), [0x02, 0x75, 0x6c, 0, 0, 1]);
        assert_eq!(mac(63), [0x02, 0x75, 0x6c, 0, 0, 64]);
        assert_eq!(mac(0)[0] & 0b11, 0b10);
    }
}
