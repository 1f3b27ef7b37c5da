//! Where a ladder's labels go so that none covers another: each label tries its candidate
//! positions in order of preference and takes the first whose box is free.
//!
//! Boxes are estimated, not measured (an SVG has no font metrics): a character is taken as
//! [`EM_PER_CHAR`] of the font size wide, a little more than Helvetica's average, and a box is
//! rotated with its label. The test that checks every lesson's SVG (`sim/cli/tests/pictures.rs`)
//! estimates a little less generously, so what is placed here passes there with room to spare.

/// A character's advance, in em: Helvetica's digits and lower case are 0.5 to 0.56.
pub const EM_PER_CHAR: f64 = 0.58;

/// Four corners, in order around the box.
pub type Quad = [(f64, f64); 4];

/// Where one `<text>` goes: its point, its `dy`, anchor, size and rotation about the point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spot {
    pub x: f64,
    pub y: f64,
    pub dy: f64,
    /// -1: `end`, 0: `middle`, 1: `start`.
    pub anchor: i8,
    pub size: f64,
    /// Degrees, about (x, y).
    pub angle: f64,
}

impl Spot {
    /// The box `chars` characters cover at this spot, one pixel of air around it.
    pub fn quad(&self, chars: usize) -> Quad {
        let w = chars as f64 * EM_PER_CHAR * self.size;
        let left = match self.anchor {
            -1 => self.x - w,
            0 => self.x - w / 2.0,
            _ => self.x,
        };
        let base = self.y + self.dy;
        let (top, bottom) = (base - 0.8 * self.size - 1.0, base + 0.25 * self.size + 1.0);
        let (l, r) = (left - 1.0, left + w + 1.0);
        let mut q = [(l, top), (r, top), (r, bottom), (l, bottom)];
        if self.angle != 0.0 {
            let a = self.angle.to_radians();
            for c in &mut q {
                let (dx, dy) = (c.0 - self.x, c.1 - self.y);
                *c = (self.x + dx * a.cos() - dy * a.sin(), self.y + dx * a.sin() + dy * a.cos());
            }
        }
        q
    }
}

/// The boxes taken so far.
#[derive(Debug, Default)]
pub struct Placer {
    taken: Vec<Quad>,
}

impl Placer {
    /// Marks an area as taken (an X mark, a label that cannot move).
    pub fn take(&mut self, q: Quad) {
        self.taken.push(q);
    }

    /// An axis-aligned rectangle as a quad.
    pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Quad {
        [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    }

    pub fn is_free(&self, q: &Quad) -> bool {
        !self.taken.iter().any(|t| overlap(t, q))
    }

    /// The first of `spots` where `chars` characters fit, taken; `None` if none is free.
    pub fn place_if_free(&mut self, chars: usize, spots: impl IntoIterator<Item = Spot>) -> Option<Spot> {
        let spot = spots.into_iter().find(|spot| self.is_free(&spot.quad(chars)))?;
        self.taken.push(spot.quad(chars));
        Some(spot)
    }

    /// The first of `spots` where `chars` characters fit, taken; if none is free, the first
    /// (the label is drawn where it prefers, and the pictures test reports it).
    pub fn place(&mut self, chars: usize, spots: impl IntoIterator<Item = Spot>) -> Spot {
        let mut first = None;
        for spot in spots {
            let q = spot.quad(chars);
            if self.is_free(&q) {
                self.taken.push(q);
                return spot;
            }
            first.get_or_insert(spot);
        }
        let spot = first.expect("at least one spot");
        self.taken.push(spot.quad(chars));
        spot
    }
}

/// Separating-axis test for two convex quadrilaterals.
pub fn overlap(a: &Quad, b: &Quad) -> bool {
    for quad in [a, b] {
        for i in 0..4 {
            let (p, q) = (quad[i], quad[(i + 1) % 4]);
            let axis = (q.1 - p.1, p.0 - q.0);
            let span = |pts: &Quad| {
                pts.iter()
                    .map(|c| c.0 * axis.0 + c.1 * axis.1)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), d| (lo.min(d), hi.max(d)))
            };
            let ((a0, a1), (b0, b1)) = (span(a), span(b));
            if a1 <= b0 || b1 <= a0 {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot(x: f64, y: f64) -> Spot {
        Spot { x, y, dy: 0.0, anchor: 1, size: 10.0, angle: 0.0 }
    }

    #[test]
    fn a_label_takes_the_first_free_spot() {
        let mut p = Placer::default();
        assert_eq!(p.place(5, [spot(0.0, 20.0)]), spot(0.0, 20.0));
        // Its first wish is taken: it moves to the next.
        assert_eq!(p.place(5, [spot(0.0, 20.0), spot(0.0, 40.0)]), spot(0.0, 40.0));
        // Nowhere free: the first wish, drawn anyway.
        assert_eq!(p.place(5, [spot(5.0, 20.0), spot(5.0, 40.0)]), spot(5.0, 20.0));
        assert!(p.is_free(&spot(200.0, 20.0).quad(5)));
    }

    #[test]
    fn rotated_boxes_turn_with_their_label() {
        let flat = Spot { x: 50.0, y: 50.0, dy: 0.0, anchor: 0, size: 10.0, angle: 0.0 };
        let upright = Spot { angle: 90.0, ..flat };
        let across = Spot { x: 50.0, y: 80.0, ..flat };
        // 20 characters: 116 px wide flat, 116 px tall upright (reaching y = 108).
        assert!(!overlap(&flat.quad(20), &across.quad(20)));
        assert!(overlap(&upright.quad(20), &across.quad(20)));
    }
}
