//! Maximum likelihood for the Gilbert-Elliott model: scaled forward-backward passes, Baum-Welch
//! accelerated by SQUAREM, and the observed information that gives the intervals.

use super::*;

/// A product of many probabilities kept as a mantissa and a power of two (scaled by exact
/// powers of two), so the log-likelihood costs one logarithm per pass and no rounding beyond
/// the multiplications' own.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogProduct {
    /// Within [2^-RESCALE_BITS, 1] after each multiplication by a positive factor at most 1.
    pub(super) mantissa: f64,
    /// The product is `mantissa * 2^(-RESCALE_BITS * rescaled)`.
    pub(super) rescaled: i64,
}

/// Far enough from the smallest normal `f64` (2^-1022) that the product of two numbers above
/// 2^-RESCALE_BITS is normal.
pub(super) const RESCALE_BITS: i32 = 400;

impl Default for LogProduct {
    fn default() -> Self {
        LogProduct { mantissa: 1.0, rescaled: 0 }
    }
}

impl LogProduct {
    /// Multiplies by `x`, a positive probability.
    pub(super) fn mul(&mut self, mut x: f64) {
        let (tiny, scale) = (f64::powi(2.0, -RESCALE_BITS), f64::powi(2.0, RESCALE_BITS));
        while x < tiny && x > 0.0 {
            x *= scale;
            self.rescaled += 1;
        }
        self.mantissa *= x;
        if self.mantissa < tiny {
            self.mantissa *= scale;
            self.rescaled += 1;
        }
    }

    pub(super) fn ln(&self) -> f64 {
        self.mantissa.ln() - (self.rescaled as f64) * f64::from(RESCALE_BITS) * std::f64::consts::LN_2
    }
}

/// What one forward-backward pass gives: the log-likelihood and the expected counts of the
/// complete data (states known). Index 0 is the good state, 1 the bad one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Expected {
    pub(super) log_likelihood: f64,
    /// `transitions[from][to]`, the start's step into the first datagram included.
    pub(super) transitions: [[f64; 2]; 2],
    pub(super) lost: [f64; 2],
    pub(super) kept: [f64; 2],
}

impl Expected {
    /// The next Baum-Welch estimate (the M-step).
    pub(super) fn maximise(&self) -> GeParams {
        let ratio = |a: f64, b: f64| if a + b > 0.0 { a / (a + b) } else { 0.5 };
        GeParams {
            p: ratio(self.transitions[0][1], self.transitions[0][0]),
            r: ratio(self.transitions[1][0], self.transitions[1][1]),
            loss_bad: ratio(self.lost[1], self.kept[1]),
            loss_good: ratio(self.lost[0], self.kept[0]),
        }
        .clamped()
    }

    /// The gradient of the log-likelihood (Fisher's identity: that of the expected
    /// complete-data log-likelihood), in the order p, r, loss_bad, loss_good.
    pub(super) fn gradient(&self, at: &GeParams) -> [f64; 4] {
        let d = |hits: f64, misses: f64, x: f64| hits / x - misses / (1.0 - x);
        [
            d(self.transitions[0][1], self.transitions[0][0], at.p),
            d(self.transitions[1][0], self.transitions[1][1], at.r),
            d(self.lost[1], self.kept[1], at.loss_bad),
            d(self.lost[0], self.kept[0], at.loss_good),
        ]
    }
}

/// One scaled forward-backward pass. `alpha` is scratch space (the normalised forward
/// probabilities, one pair per datagram and one for the start).
pub(super) fn forward_backward(lost: &[bool], params: &GeParams, alpha: &mut Vec<[f64; 2]>) -> Expected {
    let t = params.transition();
    let (e_lost, e_kept) = (params.lost(), params.kept());
    alpha.clear();
    alpha.reserve(lost.len() + 1);
    let mut a = [1.0, 0.0];
    alpha.push(a);
    let mut ll = LogProduct::default();
    for &l in lost {
        let e = if l { e_lost } else { e_kept };
        let u0 = (a[0] * t[0][0] + a[1] * t[1][0]) * e[0];
        let u1 = (a[0] * t[0][1] + a[1] * t[1][1]) * e[1];
        let c = u0 + u1;
        ll.mul(c);
        let inv = 1.0 / c;
        a = [u0 * inv, u1 * inv];
        alpha.push(a);
    }
    let mut out = Expected { log_likelihood: ll.ln(), ..Expected::default() };
    // Backward, normalised: b is proportional to P(datagrams after i | state i).
    let mut b = [1.0, 1.0];
    for (i, &l) in lost.iter().enumerate().rev() {
        let e = if l { e_lost } else { e_kept };
        let a = alpha[i];
        let w0 = e[0] * b[0];
        let w1 = e[1] * b[1];
        // Proportional to P(state i-1 = s, state i = s' | everything).
        let x00 = a[0] * t[0][0] * w0;
        let x01 = a[0] * t[0][1] * w1;
        let x10 = a[1] * t[1][0] * w0;
        let x11 = a[1] * t[1][1] * w1;
        let inv = 1.0 / (x00 + x01 + x10 + x11);
        out.transitions[0][0] += x00 * inv;
        out.transitions[0][1] += x01 * inv;
        out.transitions[1][0] += x10 * inv;
        out.transitions[1][1] += x11 * inv;
        let good = (x00 + x10) * inv;
        let bad = (x01 + x11) * inv;
        let counts = if l { &mut out.lost } else { &mut out.kept };
        counts[0] += good;
        counts[1] += bad;
        let b0 = t[0][0] * w0 + t[0][1] * w1;
        let b1 = t[1][0] * w0 + t[1][1] * w1;
        let s = 1.0 / (b0 + b1);
        b = [b0 * s, b1 * s];
    }
    out
}

/// One Baum-Welch run from one starting point, accelerated by SQUAREM (Varadhan and Roland,
/// 2008, scheme S3): two plain EM steps, then a jump along the direction they took, sized by
/// how that direction changed, clamped into [1e-9, 1 - 1e-9]; the jump is kept when its
/// likelihood is at least that of the second step, else tried again half way closer to the
/// plain EM step (three tries), else the run goes on from the plain EM step. Near a boundary
/// (a loss probability heading for 0 or 1) plain EM moves by ever smaller steps and can take
/// thousands of iterations; the jump gets there in a few. (Tried in logit coordinates first:
/// there a probability heading for 0 moves by steady steps, so the jump size was set by it
/// alone and overshot the others nearly every time.)
#[derive(Debug, Clone, Copy)]
pub(super) struct EmRun {
    /// The most likely parameters evaluated so far, and their log-likelihood.
    pub(super) params: GeParams,
    pub(super) log_likelihood: f64,
    /// Where the next cycle starts (not evaluated yet).
    pub(super) next: GeParams,
    /// Forward-backward passes so far.
    pub(super) iterations: u32,
    pub(super) converged: bool,
}

impl EmRun {
    pub(super) fn new(start: GeParams) -> EmRun {
        EmRun {
            params: start,
            log_likelihood: f64::NEG_INFINITY,
            next: start,
            iterations: 0,
            converged: false,
        }
    }

    /// One E-step at `at`: its log-likelihood (kept if the best so far) and the M-step's
    /// estimate from it.
    pub(super) fn evaluate(
        &mut self,
        lost: &[bool],
        work: &mut Vec<[f64; 2]>,
        at: GeParams,
    ) -> (f64, GeParams) {
        let ex = forward_backward(lost, &at, work);
        self.iterations += 1;
        if ex.log_likelihood > self.log_likelihood {
            self.params = at;
            self.log_likelihood = ex.log_likelihood;
        }
        (ex.log_likelihood, ex.maximise())
    }

    /// Iterates until a plain EM step changes the log-likelihood by less than
    /// [`EM_TOLERANCE`] of itself, or `limit` forward-backward passes in all.
    pub(super) fn iterate(&mut self, lost: &[bool], work: &mut Vec<[f64; 2]>, limit: u32) {
        while !self.converged && self.iterations < limit {
            let x0 = self.next;
            let (ll0, x1) = self.evaluate(lost, work, x0);
            self.next = x1;
            if self.iterations >= limit {
                break;
            }
            let (ll1, x2) = self.evaluate(lost, work, x1);
            self.next = x2;
            if (ll1 - ll0).abs() <= EM_TOLERANCE * ll1.abs() {
                self.converged = true;
                break;
            }
            if self.iterations >= limit {
                break;
            }
            let (v0, v1, v2) = (x0.to_array(), x1.to_array(), x2.to_array());
            let step: [f64; 4] = std::array::from_fn(|i| v1[i] - v0[i]);
            let bend: [f64; 4] = std::array::from_fn(|i| v2[i] - 2.0 * v1[i] + v0[i]);
            let norm = |v: &[f64; 4]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let (s, b) = (norm(&step), norm(&bend));
            if b.is_nan() || b <= 0.0 || !s.is_finite() || !b.is_finite() {
                continue;
            }
            // alpha = -1 would land on x2 itself; halve the way towards it when a jump fails.
            let mut alpha = (-s / b).min(-1.0);
            for _ in 0..SQUAREM_TRIES {
                if self.iterations >= limit || alpha >= -1.0 {
                    break;
                }
                let jump = GeParams::from_array(std::array::from_fn(|i| {
                    v0[i] - 2.0 * alpha * step[i] + alpha * alpha * bend[i]
                }))
                .clamped();
                let (ll_jump, after_jump) = self.evaluate(lost, work, jump);
                if ll_jump >= ll1 {
                    self.next = after_jump;
                    break;
                }
                alpha = (alpha - 1.0) / 2.0;
            }
        }
    }
}

/// Where Baum-Welch starts: the simple Gilbert estimate (nudged off 0 and 1, where EM could
/// not move), then bad spells two and five times longer and rarer that lose less, with some
/// loss in the good state, and mostly independent loss with rare bad spells.
pub(super) fn starting_points(gilbert: Option<(f64, f64)>, rate: f64) -> [GeParams; 4] {
    let (p, r) = gilbert.unwrap_or((rate, 1.0 - rate));
    let c = |x: f64| x.clamp(1e-3, 0.999);
    [
        GeParams { p: c(p), r: c(r), loss_bad: 0.999, loss_good: (rate / 2.0).clamp(1e-6, 1e-3) },
        GeParams { p: c(p / 2.0), r: c(r / 2.0), loss_bad: 0.7, loss_good: rate / 3.0 },
        GeParams { p: c(p / 5.0), r: c(r / 5.0), loss_bad: 0.5, loss_good: rate / 2.0 },
        GeParams { p: c(rate / 10.0), r: 0.3, loss_bad: 0.9, loss_good: 0.8 * rate },
    ]
}

/// The 95% intervals of the four parameters (p, r, loss_bad, loss_good) at the estimate `at`.
/// See [`fit_gilbert_elliott`].
pub(super) fn intervals(lost: &[bool], at: &GeParams, work: &mut Vec<[f64; 2]>) -> [Estimate; 4] {
    let values = at.to_array();
    // The Hessian of the log-likelihood, a column at a time: the central difference of the
    // exact gradient along one parameter. The step is a thousandth of the parameter's distance
    // to the nearer end (at least 1e-6), and the pair of points moves inwards when the
    // estimate is closer to an end than two steps, so both stay well inside (0, 1).
    let mut hessian = [[0.0; 4]; 4];
    for j in 0..4 {
        let q = values[j];
        let h = HESSIAN_STEP * q.min(1.0 - q).max(HESSIAN_STEP);
        let centre = q.clamp(2.0 * h, 1.0 - 2.0 * h);
        let point = |x: f64| {
            let mut v = values;
            v[j] = x;
            GeParams::from_array(v)
        };
        let (plus, minus) = (point(centre + h), point(centre - h));
        let gp = forward_backward(lost, &plus, work).gradient(&plus);
        let gm = forward_backward(lost, &minus, work).gradient(&minus);
        for i in 0..4 {
            hessian[i][j] = (gp[i] - gm[i]) / (2.0 * h);
        }
    }
    // The observed information: minus the symmetrised Hessian.
    let mut info = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            info[i][j] = -(hessian[i][j] + hessian[j][i]) / 2.0;
        }
    }
    // The largest set of parameters on which it is positive definite (all four when all is
    // well); among sets of one size, the best conditioned. The others keep [0, 1].
    let mut out = values.map(|value| Estimate { value, low: 0.0, high: 1.0 });
    let mut chosen: Option<(Vec<usize>, f64, [f64; 4])> = None;
    for mask in (1u32..16).rev() {
        let keep: Vec<usize> = (0..4).filter(|&i| mask & (1 << i) != 0).collect();
        let Some((variances, pivot)) = inverse_diagonal(&info, &keep) else { continue };
        let better = match &chosen {
            None => true,
            Some((k, best, _)) => keep.len() > k.len() || (keep.len() == k.len() && pivot > *best),
        };
        if better {
            chosen = Some((keep, pivot, variances));
        }
    }
    if let Some((keep, _, variances)) = chosen {
        for i in keep {
            let se = variances[i].sqrt();
            if se.is_finite() {
                out[i].low = clamp01(values[i] - Z95 * se);
                out[i].high = clamp01(values[i] + Z95 * se);
            }
        }
    }
    out
}

/// The diagonal of the inverse of `a` restricted to the rows and columns `keep` (placed at
/// those indices), with the smallest relative Cholesky pivot; `None` when that part of `a` is
/// not positive definite.
pub(super) fn inverse_diagonal(a: &[[f64; 4]; 4], keep: &[usize]) -> Option<([f64; 4], f64)> {
    let k = keep.len();
    let mut l = [[0.0; 4]; 4];
    let mut min_pivot = f64::INFINITY;
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[keep[i]][keep[j]];
            for (x, y) in l[i][..j].iter().zip(&l[j][..j]) {
                s -= x * y;
            }
            if i == j {
                let diag = a[keep[i]][keep[i]];
                // Written so that a NaN fails too.
                let positive = diag > 0.0 && s > PIVOT_FLOOR * diag;
                if !s.is_finite() || !positive {
                    return None;
                }
                min_pivot = min_pivot.min(s / diag);
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // The inverse is L^-T L^-1: its diagonal holds the squared column norms of L^-1, each
    // column found by forward substitution.
    let mut diag = [f64::NAN; 4];
    for (c, &index) in keep.iter().enumerate() {
        let mut column = [0.0; 4];
        for i in c..k {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for (x, y) in l[i][c..i].iter().zip(&column[c..i]) {
                s -= x * y;
            }
            column[i] = s / l[i][i];
        }
        diag[index] = column[c..k].iter().map(|x| x * x).sum();
    }
    Some((diag, min_pivot))
}
