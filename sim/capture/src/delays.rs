//! The one-way delays a capture measured, summarised, and the `delay` and `jitter` a link
//! needs to give datagrams past a trace's end a similar spread.

use std::fmt;

use udplab_firmware::app::Ms;

/// Percentiles of the measured delays and the link settings they suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayFit {
    pub count: usize,
    /// (percentile, delay) for 0, 10, 25, 50, 75, 90, 99 and 100.
    pub percentiles: Vec<(u8, u64)>,
    /// The median: half the datagrams were faster.
    pub suggested_delay_us: u64,
    /// A normal jitter's standard deviation: half the spread between the 16th and 84th
    /// percentiles (robust to the rare very late datagram, which a mean and standard deviation
    /// are not). The trace itself keeps the real shape, tail included; this is for datagrams
    /// past its end.
    pub suggested_jitter_us: u64,
}

const SHOWN: [u8; 8] = [0, 10, 25, 50, 75, 90, 99, 100];

impl DelayFit {
    /// `None` when nothing was measured.
    pub fn of(delays: &[u64]) -> Option<DelayFit> {
        if delays.is_empty() {
            return None;
        }
        let mut sorted = delays.to_vec();
        sorted.sort_unstable();
        // Nearest rank.
        let at = |p: u8| {
            let rank = (usize::from(p) * sorted.len()).div_ceil(100).max(1);
            sorted[rank.min(sorted.len()) - 1]
        };
        let percentiles = SHOWN.iter().map(|&p| (p, at(p))).collect();
        Some(DelayFit {
            count: sorted.len(),
            percentiles,
            suggested_delay_us: at(50),
            suggested_jitter_us: (at(84) - at(16)) / 2,
        })
    }
}

impl fmt::Display for DelayFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one-way delay over {} datagrams:", self.count)?;
        for (p, d) in &self.percentiles {
            let name = match p {
                0 => "min".to_owned(),
                100 => "max".to_owned(),
                50 => "median".to_owned(),
                p => format!("p{p}"),
            };
            write!(f, " {name} {}", Ms(*d))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_the_jitter_is_half_the_middle_spread() {
        let d: Vec<u64> = (1..=100).collect();
        let fit = DelayFit::of(&d).unwrap();
        assert_eq!(
            fit.percentiles,
            vec![(0, 1), (10, 10), (25, 25), (50, 50), (75, 75), (90, 90), (99, 99), (100, 100)]
        );
        assert_eq!(fit.suggested_delay_us, 50);
        assert_eq!(fit.suggested_jitter_us, (84 - 16) / 2);
        assert_eq!(DelayFit::of(&[]), None);
        let one = DelayFit::of(&[7]).unwrap();
        assert_eq!((one.suggested_delay_us, one.suggested_jitter_us), (7, 0));
    }
}
