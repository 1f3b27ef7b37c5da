//! Loss bursts: the ones a sequence shows, the ones a model expects, and how far apart their
//! shapes are.

use super::*;

/// Observed loss bursts by length (see [`BurstTable::observed`]) and the longest one.
pub fn observed_bursts(lost: &[bool]) -> ([u64; BURST_BUCKETS], u64) {
    let mut counts = [0; BURST_BUCKETS];
    let mut longest = 0;
    let mut run = 0u64;
    for l in lost.iter().copied().chain([false]) {
        if l {
            run += 1;
        } else if run > 0 {
            counts[bucket(run)] += 1;
            longest = longest.max(run);
            run = 0;
        }
    }
    (counts, longest)
}

/// The expected number of loss bursts of each length (see [`BurstTable::observed`]) in
/// `datagrams` datagrams under `params`, exactly (no simulation), the edges of the sequence
/// included: a burst is counted at its first datagram, as the probability that the datagram
/// before it was kept (or that there is none) times that of the run of losses and of its end.
/// Linear in those probabilities, so the sum over positions is taken over the chain's state
/// probabilities first: one pass over `datagrams` steps of a two-state chain.
pub fn expected_bursts(params: &GeParams, datagrams: u64) -> [f64; BURST_BUCKETS] {
    let n = datagrams;
    let t = params.transition();
    let (e_lost, e_kept) = (params.lost(), params.kept());
    // A row vector through one more datagram with the given emission probabilities.
    let step = |v: [f64; 2], e: [f64; 2]| {
        [(v[0] * t[0][0] + v[1] * t[1][0]) * e[0], (v[0] * t[0][1] + v[1] * t[1][1]) * e[1]]
    };
    // a_j = P(state j, datagram j kept) (a_0: the start, in the good state, with no datagram);
    // S_m = a_0 + ... + a_(m-1). Needed: S_(n-L) and a_(n-L) for L = 1..=7.
    let mut at_end = [[0.0; 2]; BURST_BUCKETS - 1];
    let mut sum_before = [[0.0; 2]; BURST_BUCKETS - 1];
    let mut state = [1.0, 0.0];
    let mut sum = [0.0, 0.0];
    for j in 0..n {
        if j > 0 {
            state = [state[0] * t[0][0] + state[1] * t[1][0], state[0] * t[0][1] + state[1] * t[1][1]];
        }
        let a = if j == 0 { [1.0, 0.0] } else { [state[0] * e_kept[0], state[1] * e_kept[1]] };
        let from_end = n - j;
        if (1..BURST_BUCKETS as u64).contains(&from_end) {
            at_end[from_end as usize - 1] = a;
            sum_before[from_end as usize - 1] = sum;
        }
        sum = [sum[0] + a[0], sum[1] + a[1]];
    }
    let total = |v: [f64; 2]| v[0] + v[1];
    let mut expected = [0.0; BURST_BUCKETS];
    for len in 1..BURST_BUCKETS {
        if (len as u64) > n {
            break;
        }
        // Bursts of exactly `len` that end before the last datagram, then the one that ends
        // with it.
        let mut inner = sum_before[len - 1];
        let mut last = at_end[len - 1];
        for _ in 0..len {
            inner = step(inner, e_lost);
            last = step(last, e_lost);
        }
        expected[len - 1] = total(step(inner, e_kept)) + total(last);
    }
    if n >= BURST_BUCKETS as u64 {
        // Bursts of 8 or more: a kept datagram (or the start) and 8 losses, starting no later
        // than datagram n - 7.
        let mut long = sum_before[BURST_BUCKETS - 2];
        for _ in 0..BURST_BUCKETS {
            long = step(long, e_lost);
        }
        expected[BURST_BUCKETS - 1] = total(long);
    }
    expected
}

pub(super) fn bucket(len: u64) -> usize {
    (len.min(BURST_BUCKETS as u64) - 1) as usize
}

pub(super) fn total_variation(
    observed: &[u64; BURST_BUCKETS],
    expected: &[f64; BURST_BUCKETS],
) -> Option<f64> {
    let seen: u64 = observed.iter().sum();
    let predicted: f64 = expected.iter().sum();
    if seen == 0 || predicted.is_nan() || predicted <= 0.0 || !predicted.is_finite() {
        return None;
    }
    let diff: f64 =
        observed.iter().zip(expected).map(|(&o, &e)| (o as f64 / seen as f64 - e / predicted).abs()).sum();
    Some(diff / 2.0)
}
