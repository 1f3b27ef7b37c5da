//! Counter-based randomness: every decision is a pure function of
//! `(seed, link, datagram content, purpose)` (the content key: see [`crate::link`]).
//!
//! There is no RNG stream to share, so nothing a runner does (ARP frames, polling order, real
//! clocks, how many datagrams another link carried) can shift a later decision. Each draw runs
//! the inputs through SplitMix64's finaliser, a bijective mixer with full avalanche.

use core::fmt;
use serde::{Deserialize, Serialize};

/// What a draw decides; part of the key so two decisions about one datagram are independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    Loss = 1,
    GilbertElliott = 2,
    Duplicate = 3,
    Corrupt = 4,
    CorruptBit = 5,
    Reorder = 6,
    /// Delay of copy 0; copy `c` uses `Delay as u64 + 16 * c`.
    Delay = 7,
}

/// SplitMix64's output function.
pub const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The draw for one decision, uniformly distributed over `u64`.
pub fn draw(seed: u64, link: u64, index: u64, purpose: u64) -> u64 {
    let mut h = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    h = mix(h ^ link);
    h = mix(h ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    mix(h ^ purpose.wrapping_mul(0xd6e8_feb8_6659_fd93))
}

/// A stable 64-bit key for a name (FNV-1a), so a link's randomness depends on its endpoints'
/// names and on nothing else in the scenario.
pub fn name_key(name: &str) -> u64 {
    name_key_bytes(name.as_bytes())
}

/// FNV-1a over bytes.
pub fn name_key_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A probability as an exact fixed-point threshold out of 2^32: `p = threshold / 2^32`.
///
/// A decision compares the top 32 bits of a draw with the threshold, so the configured rate is
/// the expected observed rate exactly (up to 2^-32), with no floating point on any target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Prob(u64);

impl TryFrom<u64> for Prob {
    type Error = &'static str;
    fn try_from(threshold: u64) -> Result<Prob, Self::Error> {
        Prob::from_threshold(threshold).ok_or("probability threshold above 2^32")
    }
}

impl From<Prob> for u64 {
    fn from(p: Prob) -> u64 {
        p.0
    }
}

impl Prob {
    pub const ONE_THRESHOLD: u64 = 1 << 32;
    pub const NEVER: Prob = Prob(0);
    pub const ALWAYS: Prob = Prob(Self::ONE_THRESHOLD);

    /// `threshold / 2^32`; `None` above 1.
    pub const fn from_threshold(threshold: u64) -> Option<Prob> {
        if threshold > Self::ONE_THRESHOLD { None } else { Some(Prob(threshold)) }
    }

    /// `parts_per_billion / 10^9`, rounded to the nearest threshold; `None` above 1.
    pub const fn from_ppb(ppb: u64) -> Option<Prob> {
        if ppb > 1_000_000_000 {
            return None;
        }
        Some(Prob(((ppb as u128 * Self::ONE_THRESHOLD as u128 + 500_000_000) / 1_000_000_000) as u64))
    }

    pub const fn threshold(self) -> u64 {
        self.0
    }

    pub const fn is_never(self) -> bool {
        self.0 == 0
    }

    /// Whether a draw falls under this probability.
    pub const fn hit(self, draw: u64) -> bool {
        (draw >> 32) < self.0
    }

    /// Parts per million, rounded, for display.
    pub const fn ppm(self) -> u64 {
        ((self.0 as u128 * 1_000_000 + (1 << 31)) >> 32) as u64
    }
}

impl fmt::Display for Prob {
    /// A percentage with up to four decimals, trailing zeros dropped: `10%`, `0.25%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ppm = self.ppm();
        let (whole, mut frac, mut digits) = (ppm / 10_000, ppm % 10_000, 4);
        if frac == 0 {
            return write!(f, "{whole}%");
        }
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{whole}.{frac:0digits$}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_edges_are_exact() {
        assert!(!Prob::NEVER.hit(0));
        assert!(Prob::ALWAYS.hit(u64::MAX));
        let half = Prob::from_ppb(500_000_000).unwrap();
        assert!(half.hit((1u64 << 63) - 1));
        assert!(!half.hit(1u64 << 63));
        assert_eq!(Prob::from_ppb(1_000_000_001), None);
    }

    #[test]
    fn displays_as_percent() {
        let p = |ppb| alloc::format!("{}", Prob::from_ppb(ppb).unwrap());
        assert_eq!(p(100_000_000), "10%");
        assert_eq!(p(2_500_000), "0.25%");
        assert_eq!(p(1_000_000_000), "100%");
        assert_eq!(p(0), "0%");
    }

    #[test]
    fn draws_depend_on_every_key_part() {
        let base = draw(1, 2, 3, 4);
        assert_ne!(base, draw(0, 2, 3, 4));
        assert_ne!(base, draw(1, 0, 3, 4));
        assert_ne!(base, draw(1, 2, 0, 4));
        assert_ne!(base, draw(1, 2, 3, 0));
        assert_eq!(base, draw(1, 2, 3, 4));
    }
}
