//! Target `wire`: any bytes as a UDP payload read as udplab's wire format
//! (`udplab_firmware::wire`), and as the trace labels them.
//!
//! Checks that no accessor or parser panics on any length, that `parse` and `parse_unverified`
//! agree except on the CRC, and that a parsed header emitted again parses to the same `Repr`
//! (and to the very same bytes when the reserved field and the filler were canonical).

use udplab_firmware::wire::{Datagram, Error, HEADER_LEN, Repr};
use udplab_sim::Label;

pub fn run(data: &[u8]) {
    // The trace's view of the same bytes: a udplab payload, damaged, or foreign.
    let _ = Label::of_udp(49152, 3333, data, None);
    let _ = Label::of_ipv4(data, None);

    let Ok(d) = Datagram::new_checked(data) else {
        assert!(data.len() < HEADER_LEN, "new_checked refused a full header");
        assert_eq!(Repr::parse_unverified(&Datagram::new_unchecked(data)), Err(Error::Truncated));
        return;
    };
    assert!(data.len() >= HEADER_LEN);
    // Every accessor is in bounds once new_checked said yes.
    let _ = (d.magic(), d.version(), d.kind_byte(), d.seq(), d.sent_us(), d.ack(), d.attempt());
    assert_eq!(d.payload().len(), data.len() - HEADER_LEN);
    let crc_ok = d.crc() == d.compute_crc();

    let unverified = Repr::parse_unverified(&d);
    let verified = Repr::parse(&d);
    match (&unverified, &verified) {
        (Ok(u), Ok(v)) => assert!(u == v && crc_ok),
        (Ok(_), Err(Error::BadCrc)) => assert!(!crc_ok),
        (Err(u), Err(v)) => assert_eq!(u, v, "parse and parse_unverified disagree on the header"),
        other => panic!("parse and parse_unverified disagree: {other:?}"),
    }
    let Ok(repr) = unverified else { return };
    assert_eq!(repr.payload_len, data.len() - HEADER_LEN);

    let mut emitted = vec![0; repr.buffer_len()];
    repr.emit(&mut emitted);
    let again = Datagram::new_checked(&emitted[..]).and_then(|e| Repr::parse(&e));
    assert_eq!(again, Ok(repr), "emit then parse changed the header");
    let canonical = data[22..24] == [0, 0]
        && d.payload().iter().enumerate().all(|(i, &b)| b == (repr.seq as usize).wrapping_add(i) as u8);
    if crc_ok && canonical {
        assert_eq!(emitted, data, "a canonical datagram emitted again differs");
    }

    // fill_crc repairs any damage past the header's identity: the header then verifies.
    let mut repaired = data.to_vec();
    let mut r = Datagram::new_unchecked(&mut repaired[..]);
    r.fill_crc();
    assert_eq!(Repr::parse(&r), Ok(repr), "fill_crc did not make the datagram verify");
}
