//! A vertical time axis with the quiet stretches cut out.
//!
//! A lesson sends a datagram every 100 ms over a 5 ms link: drawn to scale, the arrows would be
//! specks in a tall empty page. So time is linear (one scale everywhere, so an arrow's slope is
//! its latency) while something is in flight, and each long stretch with nothing in flight is
//! drawn as a short fixed-height break that says how long it was.

/// Height in pixels of a cut-out stretch.
pub const BREAK_PX: f64 = 26.0;

/// One piece of the axis: times `t0..=t1` drawn from `y0` to `y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub t0: u64,
    pub t1: u64,
    pub y0: f64,
    pub y1: f64,
    /// A cut-out quiet stretch (not to scale).
    pub cut: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub pieces: Vec<Piece>,
    /// Pixels per microsecond inside the busy pieces.
    pub scale: f64,
}

impl Axis {
    /// An axis over the busy `spans` (`(from, to)` in microseconds, any order) at `scale`
    /// pixels per microsecond. A quiet stretch is cut when drawing it would take more than
    /// twice [`BREAK_PX`].
    pub fn new(spans: &[(u64, u64)], scale: f64) -> Axis {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1e-3 };
        let mut spans: Vec<(u64, u64)> = spans.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        spans.sort_unstable();
        let slack = (2.0 * BREAK_PX / scale) as u64;
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(slack) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        if merged.is_empty() {
            merged.push((0, 0));
        }
        let mut pieces = Vec::with_capacity(merged.len() * 2);
        let mut y = 0.0;
        for (i, &(a, b)) in merged.iter().enumerate() {
            if i > 0 {
                let prev = merged[i - 1].1;
                pieces.push(Piece { t0: prev, t1: a, y0: y, y1: y + BREAK_PX, cut: true });
                y += BREAK_PX;
            }
            let h = (b - a) as f64 * scale;
            pieces.push(Piece { t0: a, t1: b, y0: y, y1: y + h, cut: false });
            y += h;
        }
        Axis { pieces, scale }
    }

    /// Total height in pixels.
    pub fn height(&self) -> f64 {
        self.pieces.last().map_or(0.0, |p| p.y1)
    }

    /// The y of time `t` (clamped to the axis).
    pub fn y(&self, t: u64) -> f64 {
        let i = self.pieces.partition_point(|p| p.t1 < t);
        let Some(p) = self.pieces.get(i) else {
            return self.height();
        };
        if t <= p.t0 || p.t1 == p.t0 {
            return p.y0;
        }
        p.y0 + (p.y1 - p.y0) * ((t - p.t0) as f64 / (p.t1 - p.t0) as f64)
    }

    /// Busy (to scale) time spent by the axis, in microseconds.
    pub fn busy_us(&self) -> u64 {
        self.pieces.iter().filter(|p| !p.cut).map(|p| p.t1 - p.t0).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_stretches_are_cut_and_busy_ones_keep_their_scale() {
        // 1 px per ms: two 5 ms flights 100 ms apart.
        let a = Axis::new(&[(0, 5_000), (100_000, 105_000)], 0.001);
        assert_eq!(a.pieces.len(), 3);
        assert_eq!(a.y(0), 0.0);
        assert_eq!(a.y(5_000), 5.0);
        assert_eq!(a.y(100_000), 5.0 + BREAK_PX);
        assert_eq!(a.y(102_500), 7.5 + BREAK_PX);
        assert_eq!(a.height(), 10.0 + BREAK_PX);
        assert_eq!(a.busy_us(), 10_000);
        // Close flights are merged, drawn to scale.
        let b = Axis::new(&[(0, 5_000), (20_000, 25_000)], 0.001);
        assert_eq!(b.pieces.len(), 1);
        assert_eq!(b.y(20_000), 20.0);
    }

    #[test]
    fn empty_and_degenerate_axes_do_not_panic() {
        let a = Axis::new(&[], f64::NAN);
        assert_eq!(a.y(1_000), 0.0);
        let b = Axis::new(&[(7, 7)], 0.0);
        assert_eq!(b.y(7), 0.0);
    }
}
