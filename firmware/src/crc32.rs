//! CRC-32/ISO-HDLC (the zlib and Ethernet CRC), for udplab's header and the trace digest.
//!
//! Two implementations of the one algorithm, chosen by target: on 64-bit hosts with an
//! operating system `crc32fast`
//! (carry-less multiplication where the CPU has it, slice-by-16 otherwise), because every
//! simulated datagram is checksummed three times and every trace line once, and a byte-wise
//! table made that a quarter of the engine's time; on the chip the `crc` crate's one 1 KiB
//! table, because flash is the scarcer resource there. A test checks the two agree.

/// A CRC being computed over pieces.
#[derive(Clone)]
pub struct Crc32(Inner);

#[cfg(all(target_pointer_width = "64", not(target_os = "none")))]
type Inner = crc32fast::Hasher;

#[cfg(not(all(target_pointer_width = "64", not(target_os = "none"))))]
type Inner = crc::Digest<'static, u32>;

#[cfg(not(all(target_pointer_width = "64", not(target_os = "none"))))]
const TABLE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

impl Crc32 {
    pub fn new() -> Crc32 {
        #[cfg(all(target_pointer_width = "64", not(target_os = "none")))]
        return Crc32(crc32fast::Hasher::new());
        #[cfg(not(all(target_pointer_width = "64", not(target_os = "none"))))]
        return Crc32(TABLE.digest());
    }

    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

/// The CRC of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_crc_is_the_chips_crc() {
        let table = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        assert_eq!(checksum(b"123456789"), 0xcbf4_3926, "the algorithm's check value");
        let mut bytes = alloc::vec::Vec::new();
        let mut x: u64 = 7;
        for len in 0..600 {
            bytes.clear();
            for _ in 0..len {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                bytes.push((x >> 56) as u8);
            }
            assert_eq!(checksum(&bytes), table.checksum(&bytes), "{len} bytes");
            let mut split = Crc32::new();
            let (a, b) = bytes.split_at(len / 3);
            split.update(a);
            split.update(b);
            assert_eq!(split.finish(), table.checksum(&bytes), "in two pieces, {len} bytes");
        }
    }
}
