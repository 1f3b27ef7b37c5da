//! Loss models fitted to a recorded loss sequence: one `bool` per datagram offered on one
//! direction of a link, `true` for lost, in the order the datagrams were offered. The capture
//! importer uses it to choose and write the `loss` of a scenario link that reproduces a real
//! network, and prints its [`Display`](fmt::Display) report so the user can judge whether a
//! simple model is good enough.
//!
//! Three models, from simple to rich:
//! - **Bernoulli**: every datagram lost independently with one probability;
//! - **simple Gilbert**: a two-state chain where the bad state loses every datagram and the good
//!   state none, so the chain's state is seen directly (closed form, from transition counts);
//! - **Gilbert-Elliott**: the same chain, with a loss probability in each state ([`GeParams`],
//!   netem's `gemodel p r 1-h 1-k`), fitted by maximum likelihood (Baum-Welch).
//!
//! Conventions, those of udplab's own engine (`udplab_sim::link`), so a fitted model run by
//! udplab reproduces what was fitted: the chain starts in the good state before the first
//! datagram, steps once per datagram, then decides that datagram's loss by its new state ("step
//! then decide"). Every log-likelihood below is that of the whole sequence under this
//! convention, so the three are comparable (each model is a special case of the next). For the
//! simple Gilbert model it means the moment before the first datagram counts as a kept
//! datagram in the transition counts: one transition more than the datagrams themselves show,
//! which makes the closed form the exact maximum-likelihood estimate.
//!
//! Models are compared by AIC (`2 * parameters - 2 * log-likelihood`, lower is better), and
//! checked against what matters to an application, the lengths of loss bursts
//! ([`BurstTable`]).
//!
//! Everything is a deterministic function of the input: no randomness, no threads, no hash
//! maps, a fixed order of floating-point operations; the same sequence gives the same numbers
//! bit for bit, and the same report (on one platform: logarithms and exponentials are the
//! platform's own, and may differ in the last bit elsewhere).

use std::fmt;

/// Two-sided 95% quantile of the standard normal distribution.
const Z95: f64 = 1.959_963_984_540_054;
/// Baum-Welch stops when a plain EM step changes the log-likelihood by less than this fraction
/// of itself.
const EM_TOLERANCE: f64 = 1e-9;
/// Most Baum-Welch iterations (forward-backward passes) spent on one starting point, its
/// trial included.
const EM_MAX_ITERATIONS: u32 = 500;
/// Iterations every starting point gets before only the most likely one goes on to convergence.
const EM_TRIAL_ITERATIONS: u32 = 10;
/// Baum-Welch keeps the four probabilities within `[PROB_FLOOR, 1 - PROB_FLOOR]`, so every
/// logarithm stays finite (a probability of 1e-9 per datagram is zero in practice).
const PROB_FLOOR: f64 = 1e-9;
/// SQUAREM jumps tried per cycle, each half way closer to the plain EM step than the last.
const SQUAREM_TRIES: u32 = 3;
/// Step of the numerical second derivative, as a fraction of the distance to 0 or 1 (and the
/// smallest such distance it is taken of).
const HESSIAN_STEP: f64 = 1e-3;
/// A Cholesky pivot below this fraction of its diagonal entry counts as zero: the information
/// matrix is then not positive definite on those parameters.
const PIVOT_FLOOR: f64 = 1e-10;

/// Burst lengths counted in a [`BurstTable`]: 1 to 7, then 8 or more.
pub const BURST_BUCKETS: usize = 8;

/// An estimate with its 95% confidence interval (both ends clamped to [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// `successes / trials` with the Wilson score interval (good for small counts and for
    /// rates near 0 or 1, unlike `value ± 1.96 standard errors`). No trials: 0, interval [0, 1].
    pub fn wilson(successes: u64, trials: u64) -> Estimate {
        if trials == 0 {
            return Estimate { value: 0.0, low: 0.0, high: 1.0 };
        }
        let (x, n) = (successes as f64, trials as f64);
        let z2 = Z95 * Z95;
        let center = (x + z2 / 2.0) / (n + z2);
        let half = Z95 * (x * (n - x) / n + z2 / 4.0).sqrt() / (n + z2);
        Estimate { value: x / n, low: clamp01(center - half), high: clamp01(center + half) }
    }

    /// Whether `x` lies in the interval, ends included.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }
}

/// The Gilbert-Elliott model in netem's `gemodel p r 1-h 1-k` terms: p = P(good->bad),
/// r = P(bad->good), loss_bad = 1-h = loss probability in the bad state, loss_good = 1-k = loss
/// probability in the good state. The chain steps once per datagram, THEN the datagram's loss
/// is decided by the new state ("step then decide": the state at datagram i is drawn from the
/// state at i-1, and datagram i is lost with probability loss_bad or loss_good according to
/// state i). The stationary loss rate is (p*loss_bad + r*loss_good)/(p+r).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeParams {
    pub p: f64,
    pub r: f64,
    pub loss_bad: f64,
    pub loss_good: f64,
}

impl GeParams {
    /// The long-run loss rate, `(p * loss_bad + r * loss_good) / (p + r)`; `loss_good` when
    /// the chain never leaves the good state (`p = 0`).
    pub fn stationary_loss(&self) -> f64 {
        if self.p <= 0.0 {
            return self.loss_good;
        }
        (self.p * self.loss_bad + self.r * self.loss_good) / (self.p + self.r)
    }

    /// Independent loss at `rate`, as a Gilbert-Elliott model (both states lose alike).
    pub fn bernoulli(rate: f64) -> GeParams {
        GeParams { p: 0.0, r: 1.0, loss_bad: rate, loss_good: rate }
    }

    /// The simple Gilbert model: the bad state loses everything, the good state nothing.
    pub fn gilbert(p: f64, r: f64) -> GeParams {
        GeParams { p, r, loss_bad: 1.0, loss_good: 0.0 }
    }

    fn transition(&self) -> [[f64; 2]; 2] {
        [[1.0 - self.p, self.p], [self.r, 1.0 - self.r]]
    }

    /// Loss probability per state, good first.
    fn lost(&self) -> [f64; 2] {
        [self.loss_good, self.loss_bad]
    }

    fn kept(&self) -> [f64; 2] {
        [1.0 - self.loss_good, 1.0 - self.loss_bad]
    }

    fn clamped(self) -> GeParams {
        let c = |x: f64| x.clamp(PROB_FLOOR, 1.0 - PROB_FLOOR);
        GeParams { p: c(self.p), r: c(self.r), loss_bad: c(self.loss_bad), loss_good: c(self.loss_good) }
    }

    fn to_array(self) -> [f64; 4] {
        [self.p, self.r, self.loss_bad, self.loss_good]
    }

    fn from_array(x: [f64; 4]) -> GeParams {
        GeParams { p: x[0], r: x[1], loss_bad: x[2], loss_good: x[3] }
    }
}

/// The four-parameter Gilbert-Elliott fit (see [`GeParams`] for what each parameter means).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeFit {
    pub p: Estimate,
    pub r: Estimate,
    pub loss_bad: Estimate,
    pub loss_good: Estimate,
    pub log_likelihood: f64,
    /// Baum-Welch iterations (forward-backward passes, SQUAREM's extrapolations included) spent
    /// on the starting point that won, its trial iterations included.
    pub iterations: u32,
    /// Whether Baum-Welch stopped because a plain EM step no longer changed the
    /// log-likelihood (relative change below 1e-9) rather than at the limit of 500 iterations.
    pub converged: bool,
}

impl GeFit {
    /// The fitted values.
    pub fn params(&self) -> GeParams {
        GeParams {
            p: self.p.value,
            r: self.r.value,
            loss_bad: self.loss_bad.value,
            loss_good: self.loss_good.value,
        }
    }
}

/// One of the three models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Bernoulli,
    Gilbert,
    GilbertElliott,
}

impl Model {
    /// The model's name as the report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Model::Bernoulli => "Bernoulli",
            Model::Gilbert => "Gilbert",
            Model::GilbertElliott => "Gilbert-Elliott",
        }
    }
}

/// How well one model explains the sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelScore {
    /// Natural logarithm of the probability of the whole sequence under the fitted model.
    pub log_likelihood: f64,
    /// Free parameters: 1, 2 or 4.
    pub parameters: u32,
    /// Akaike's information criterion, `2 * parameters - 2 * log_likelihood`: lower is better;
    /// each extra parameter must raise the log-likelihood by more than 1 to pay for itself.
    pub aic: f64,
}

impl ModelScore {
    fn new(log_likelihood: f64, parameters: u32) -> ModelScore {
        ModelScore { log_likelihood, parameters, aic: 2.0 * f64::from(parameters) - 2.0 * log_likelihood }
    }
}

/// The three models side by side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub bernoulli: ModelScore,
    /// `None` when the model was not fitted.
    pub gilbert: Option<ModelScore>,
    pub gilbert_elliott: Option<ModelScore>,
    /// The fitted model with the lowest AIC (the simpler one on a tie).
    pub preferred: Model,
}

impl Comparison {
    fn new(bernoulli: ModelScore, gilbert: Option<ModelScore>, gilbert_elliott: Option<ModelScore>) -> Self {
        let mut c = Comparison { bernoulli, gilbert, gilbert_elliott, preferred: Model::Bernoulli };
        let mut best = bernoulli.aic;
        for model in [Model::Gilbert, Model::GilbertElliott] {
            if let Some(score) = c.score(model)
                && score.aic < best
            {
                best = score.aic;
                c.preferred = model;
            }
        }
        c
    }

    /// The score of `model`, if it was fitted.
    pub fn score(&self, model: Model) -> Option<ModelScore> {
        match model {
            Model::Bernoulli => Some(self.bernoulli),
            Model::Gilbert => self.gilbert,
            Model::GilbertElliott => self.gilbert_elliott,
        }
    }

    /// How much lower the preferred model's AIC is than the next best's (`None` when only one
    /// model was fitted).
    pub fn margin(&self) -> Option<f64> {
        let best = self.score(self.preferred)?.aic;
        [Model::Bernoulli, Model::Gilbert, Model::GilbertElliott]
            .into_iter()
            .filter(|&m| m != self.preferred)
            .filter_map(|m| self.score(m))
            .map(|s| s.aic - best)
            .reduce(f64::min)
    }
}

/// What a model predicts for the burst lengths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstPrediction {
    /// Expected number of bursts of each length (as [`BurstTable::observed`]) in a sequence
    /// of the same number of datagrams.
    pub expected: [f64; BURST_BUCKETS],
    /// Total variation distance between the observed and the expected burst-length
    /// distributions (each table row divided by its own total): half the sum of the
    /// differences of the shares, 0 when the shapes agree, 1 when they have nothing in
    /// common. It compares shapes only: the number of bursts is the loss rate's business.
    /// `None` when there is no burst to compare (none observed or none expected).
    pub distance: Option<f64>,
}

impl BurstPrediction {
    fn new(params: &GeParams, datagrams: u64, observed: &[u64; BURST_BUCKETS]) -> BurstPrediction {
        let expected = expected_bursts(params, datagrams);
        BurstPrediction { expected, distance: total_variation(observed, &expected) }
    }
}

/// Observed against expected loss-burst lengths. A burst is a maximal run of consecutive
/// losses; index `i` counts bursts of length `i + 1` for `i < 7`, and index 7 those of length
/// 8 or more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstTable {
    pub observed: [u64; BURST_BUCKETS],
    /// The longest burst seen (0 when nothing was lost).
    pub longest: u64,
    pub bernoulli: BurstPrediction,
    pub gilbert: Option<BurstPrediction>,
    pub gilbert_elliott: Option<BurstPrediction>,
}

/// Everything fitted to one loss sequence; its [`Display`](fmt::Display) is the report for
/// people.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossFit {
    pub datagrams: u64,
    pub lost: u64,
    /// Independent loss: rate with a Wilson 95% interval.
    pub bernoulli: Estimate,
    /// Simple Gilbert (loss_bad = 1, loss_good = 0): `(p, r)` in closed form from transition
    /// counts (p = #(kept -> lost) / #(kept followed by anything), r = #(lost -> kept) / #(lost
    /// followed by anything), the moment before the first datagram counting as kept: see the
    /// module documentation), Wilson intervals. `None` when nothing or everything was lost, or
    /// when the only loss is the last datagram (no lost datagram is followed by anything, so
    /// nothing is known about `r`).
    pub gilbert: Option<(Estimate, Estimate)>,
    /// Full 4-parameter Gilbert-Elliott by maximum likelihood (Baum-Welch on the two-state
    /// hidden Markov model), intervals from the observed information (see
    /// [`fit_gilbert_elliott`]). `None` when nothing or everything was lost.
    pub gilbert_elliott: Option<GeFit>,
    /// Log-likelihoods and AIC of the three models, and which one AIC prefers.
    pub comparison: Comparison,
    /// Observed against expected loss-burst lengths, with one distance per model.
    pub bursts: BurstTable,
}

impl LossFit {
    /// The preferred model's parameters as a [`GeParams`] (Bernoulli and simple Gilbert as
    /// special cases), e.g. to write a scenario link.
    pub fn preferred_params(&self) -> GeParams {
        match (self.comparison.preferred, self.gilbert, self.gilbert_elliott) {
            (Model::Gilbert, Some((p, r)), _) => GeParams::gilbert(p.value, r.value),
            (Model::GilbertElliott, _, Some(ge)) => ge.params(),
            _ => GeParams::bernoulli(self.bernoulli.value),
        }
    }
}

/// Fits the three models to `lost` (one entry per datagram offered, `true` = lost, in
/// offering order). Never panics; an empty sequence gives a Bernoulli rate of 0 with the
/// interval [0, 1] and no other model.
///
/// Time: linear in the length; mostly the Gilbert-Elliott fit's forward-backward passes over
/// the sequence, typically 10 to 60 of them and 8 more for the intervals (see
/// [`fit_gilbert_elliott`]): about 0.1 to 0.3 s for 100 000 datagrams in the dev profile.
/// Memory: two `f64` per datagram while fitting.
pub fn fit_loss(lost: &[bool]) -> LossFit {
    let datagrams = lost.len() as u64;
    let n_lost = lost.iter().filter(|&&l| l).count() as u64;
    let rate = if datagrams == 0 { 0.0 } else { n_lost as f64 / datagrams as f64 };

    let bernoulli = Estimate::wilson(n_lost, datagrams);
    let bernoulli_score = ModelScore::new(xlny(n_lost, rate) + xlny(datagrams - n_lost, 1.0 - rate), 1);

    // Transition counts, `t[from][to]`, 0 kept and 1 lost; the chain starts kept.
    let mut t = [[0u64; 2]; 2];
    let mut prev = 0;
    for &l in lost {
        let now = usize::from(l);
        t[prev][now] += 1;
        prev = now;
    }
    let from_kept = t[0][0] + t[0][1];
    let from_lost = t[1][0] + t[1][1];
    let gilbert = (n_lost > 0 && n_lost < datagrams && from_lost > 0)
        .then(|| (Estimate::wilson(t[0][1], from_kept), Estimate::wilson(t[1][0], from_lost)));
    let gilbert_score = gilbert.map(|(p, r)| {
        let ll = xlny(t[0][1], p.value)
            + xlny(t[0][0], 1.0 - p.value)
            + xlny(t[1][0], r.value)
            + xlny(t[1][1], 1.0 - r.value);
        ModelScore::new(ll, 2)
    });

    let ge = fit_gilbert_elliott(lost, gilbert.map(|(p, r)| (p.value, r.value)));
    let ge_score = ge.map(|g| ModelScore::new(g.log_likelihood, 4));

    let (observed, longest) = observed_bursts(lost);
    let bursts = BurstTable {
        observed,
        longest,
        bernoulli: BurstPrediction::new(&GeParams::bernoulli(rate), datagrams, &observed),
        gilbert: gilbert
            .map(|(p, r)| BurstPrediction::new(&GeParams::gilbert(p.value, r.value), datagrams, &observed)),
        gilbert_elliott: ge.map(|g| BurstPrediction::new(&g.params(), datagrams, &observed)),
    };

    LossFit {
        datagrams,
        lost: n_lost,
        bernoulli,
        gilbert,
        gilbert_elliott: ge,
        comparison: Comparison::new(bernoulli_score, gilbert_score, ge_score),
        bursts,
    }
}

/// The 4-parameter Gilbert-Elliott model fitted to `lost` by maximum likelihood; `None` when
/// nothing or everything was lost (no information on one of the states). `gilbert` is the
/// simple Gilbert estimate `(p, r)`, one of the starting points.
///
/// Baum-Welch (EM) with the forward-backward pass scaled at every step (the forward
/// probabilities normalised to sum to 1, the backward ones too), so a million datagrams do
/// not underflow; it stores the two forward probabilities of each datagram, nothing more.
/// Plain EM crawls when a probability heads for 0 or 1 (it is often the case of `loss_bad`
/// and `loss_good` on simple Gilbert data: hundreds of iterations without converging), so it
/// is accelerated by SQUAREM (see `EmRun`), which keeps EM's fixed points and its stopping
/// rule. It starts from four points (the simple Gilbert estimate, three with longer, leakier
/// bad spells or with independent background loss), gives each 10 forward-backward passes,
/// then takes the most likely (among those whose bad state is the lossier) on until a plain
/// EM step changes the log-likelihood by less than 1e-9 of itself, or 500 passes in all.
/// Probabilities are kept within [1e-9, 1 - 1e-9]. The simple Gilbert model itself (within
/// those bounds) replaces the result when it is more likely, which happens when EM stops just
/// short of it.
///
/// The intervals come from the observed information at the optimum: minus the Hessian of the
/// log-likelihood in the four probabilities, inverted (the covariance), the interval being the
/// estimate ± 1.96 standard errors, clamped to [0, 1]. The gradient is exact (Fisher's
/// identity: the expected complete-data score, from one forward-backward pass); the Hessian is
/// its central difference, symmetrised. Keeping away from 0 and 1: the step of each
/// difference is a thousandth of the parameter's distance to the nearer end (at least 1e-6),
/// and when the estimate is closer to an end than two steps the pair of points is moved
/// inwards to one and three steps from it (the curvature is then that of a point a few
/// millionths away, the same at the precision that matters). Not logit coordinates with the
/// delta method back: at an estimate on the boundary (0 in the good state on simple Gilbert data, the usual
/// case) the log-likelihood is flat in the logit, so the delta method gives an interval that
/// shrinks with how close to 0 the iterations happened to get, and the Hessian's flat row
/// hides how that parameter trades off against the others; in the probabilities themselves
/// the curvature there is finite and the other intervals account for it. Checked on 40 seeds
/// of udplab's own simple Gilbert and Gilbert-Elliott links (`coverage_study` in the tests):
/// per parameter, the intervals missed the truth 0 to 3 times in 40, where a 95% interval
/// should miss 2.
///
/// Where the information matrix is not positive definite (a parameter the data say nothing
/// about: on independent loss, the two states look alike and `p` and `r` are anything), the
/// largest set of parameters on which it is gets intervals from that part alone, and the
/// others [0, 1]. Like every interval of this kind, that of a parameter estimated at or next
/// to 0 or 1 is only a rough guide.
pub fn fit_gilbert_elliott(lost: &[bool], gilbert: Option<(f64, f64)>) -> Option<GeFit> {
    let n = lost.len();
    let n_lost = lost.iter().filter(|&&l| l).count();
    if n_lost == 0 || n_lost == n {
        return None;
    }
    let rate = n_lost as f64 / n as f64;
    let mut work = Vec::new();
    let mut runs: Vec<EmRun> = starting_points(gilbert, rate).into_iter().map(EmRun::new).collect();
    for run in &mut runs {
        run.iterate(lost, &mut work, EM_TRIAL_ITERATIONS);
    }
    // The most likely with the bad state the lossier (the two states could swap roles).
    let ordered = |r: &&EmRun| r.params.loss_bad >= r.params.loss_good;
    let pick = |runs: &[EmRun], ordered_only: bool| {
        runs.iter()
            .enumerate()
            .filter(|(_, r)| !ordered_only || ordered(r))
            .fold(None, |best: Option<(usize, f64)>, (i, r)| match best {
                Some((_, ll)) if ll >= r.log_likelihood => best,
                _ => Some((i, r.log_likelihood)),
            })
            .map(|(i, _)| i)
    };
    let best = pick(&runs, true).or_else(|| pick(&runs, false))?;
    let mut run = runs.swap_remove(best);
    run.iterate(lost, &mut work, EM_MAX_ITERATIONS);
    // EM stops when a step gains little, which can leave it a hair short of the boundary where
    // the simple Gilbert model lies: take that model itself when it is more likely, so the
    // fit is never less likely than the simple one (but for the 1e-9 bounds).
    if let Some((p, r)) = gilbert {
        let simple = GeParams::gilbert(p, r).clamped();
        let ll = ge_log_likelihood(lost, &simple);
        if ll > run.log_likelihood {
            (run.params, run.log_likelihood) = (simple, ll);
        }
    }

    let [p, r, loss_bad, loss_good] = intervals(lost, &run.params, &mut work);
    Some(GeFit {
        p,
        r,
        loss_bad,
        loss_good,
        log_likelihood: run.log_likelihood,
        iterations: run.iterations,
        converged: run.converged,
    })
}

/// The natural logarithm of the probability of `lost` under `params` (chain starting in the
/// good state, step then decide). Probabilities of exactly 0 or 1 are allowed; a sequence the
/// model cannot produce gives negative infinity.
pub fn ge_log_likelihood(lost: &[bool], params: &GeParams) -> f64 {
    let t = params.transition();
    let (e_lost, e_kept) = (params.lost(), params.kept());
    let mut a = [1.0, 0.0];
    let mut ll = LogProduct::default();
    for &l in lost {
        let e = if l { e_lost } else { e_kept };
        let u = [(a[0] * t[0][0] + a[1] * t[1][0]) * e[0], (a[0] * t[0][1] + a[1] * t[1][1]) * e[1]];
        let c = u[0] + u[1];
        if c <= 0.0 || c.is_nan() {
            return f64::NEG_INFINITY;
        }
        ll.mul(c);
        a = [u[0] / c, u[1] / c];
    }
    ll.ln()
}

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

fn bucket(len: u64) -> usize {
    (len.min(BURST_BUCKETS as u64) - 1) as usize
}

fn total_variation(observed: &[u64; BURST_BUCKETS], expected: &[f64; BURST_BUCKETS]) -> Option<f64> {
    let seen: u64 = observed.iter().sum();
    let predicted: f64 = expected.iter().sum();
    if seen == 0 || predicted.is_nan() || predicted <= 0.0 || !predicted.is_finite() {
        return None;
    }
    let diff: f64 =
        observed.iter().zip(expected).map(|(&o, &e)| (o as f64 / seen as f64 - e / predicted).abs()).sum();
    Some(diff / 2.0)
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// `count * ln(prob)`, with `0 * ln(0) = 0`.
fn xlny(count: u64, prob: f64) -> f64 {
    if count == 0 { 0.0 } else { count as f64 * prob.ln() }
}

/// A product of many probabilities kept as a mantissa and a power of two (scaled by exact
/// powers of two), so the log-likelihood costs one logarithm per pass and no rounding beyond
/// the multiplications' own.
#[derive(Debug, Clone, Copy)]
struct LogProduct {
    /// Within [2^-RESCALE_BITS, 1] after each multiplication by a positive factor at most 1.
    mantissa: f64,
    /// The product is `mantissa * 2^(-RESCALE_BITS * rescaled)`.
    rescaled: i64,
}

/// Far enough from the smallest normal `f64` (2^-1022) that the product of two numbers above
/// 2^-RESCALE_BITS is normal.
const RESCALE_BITS: i32 = 400;

impl Default for LogProduct {
    fn default() -> Self {
        LogProduct { mantissa: 1.0, rescaled: 0 }
    }
}

impl LogProduct {
    /// Multiplies by `x`, a positive probability.
    fn mul(&mut self, mut x: f64) {
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

    fn ln(&self) -> f64 {
        self.mantissa.ln() - (self.rescaled as f64) * f64::from(RESCALE_BITS) * std::f64::consts::LN_2
    }
}

/// What one forward-backward pass gives: the log-likelihood and the expected counts of the
/// complete data (states known). Index 0 is the good state, 1 the bad one.
#[derive(Debug, Clone, Copy, Default)]
struct Expected {
    log_likelihood: f64,
    /// `transitions[from][to]`, the start's step into the first datagram included.
    transitions: [[f64; 2]; 2],
    lost: [f64; 2],
    kept: [f64; 2],
}

impl Expected {
    /// The next Baum-Welch estimate (the M-step).
    fn maximise(&self) -> GeParams {
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
    fn gradient(&self, at: &GeParams) -> [f64; 4] {
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
fn forward_backward(lost: &[bool], params: &GeParams, alpha: &mut Vec<[f64; 2]>) -> Expected {
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
struct EmRun {
    /// The most likely parameters evaluated so far, and their log-likelihood.
    params: GeParams,
    log_likelihood: f64,
    /// Where the next cycle starts (not evaluated yet).
    next: GeParams,
    /// Forward-backward passes so far.
    iterations: u32,
    converged: bool,
}

impl EmRun {
    fn new(start: GeParams) -> EmRun {
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
    fn evaluate(&mut self, lost: &[bool], work: &mut Vec<[f64; 2]>, at: GeParams) -> (f64, GeParams) {
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
    fn iterate(&mut self, lost: &[bool], work: &mut Vec<[f64; 2]>, limit: u32) {
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
fn starting_points(gilbert: Option<(f64, f64)>, rate: f64) -> [GeParams; 4] {
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
fn intervals(lost: &[bool], at: &GeParams, work: &mut Vec<[f64; 2]>) -> [Estimate; 4] {
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
fn inverse_diagonal(a: &[[f64; 4]; 4], keep: &[usize]) -> Option<([f64; 4], f64)> {
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

/// A probability as a percentage with two decimals.
fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

impl fmt::Display for LossFit {
    /// The report: the loss counts, the three models with their 95% intervals in percent,
    /// which model AIC prefers and why, and the burst-length table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bursts: u64 = self.bursts.observed.iter().sum();
        write!(f, "{} datagrams, {} lost ({})", self.datagrams, self.lost, pct(self.bernoulli.value))?;
        match bursts {
            0 => writeln!(f, ".")?,
            1 => writeln!(f, ", in 1 burst (a run of consecutive losses) of {}.", self.bursts.longest)?,
            _ => writeln!(
                f,
                ", in {bursts} bursts (runs of consecutive losses), the longest {}.",
                self.bursts.longest
            )?,
        }

        // The models, one parameter a line.
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, model: &str, name: &str, e: &Estimate| {
            writeln!(f, "{model:<16} {name:<19} {:>8}   {} to {}", pct(e.value), pct(e.low), pct(e.high))
        };
        writeln!(f, "{:<16} {:<19} {:>8}   95% interval", "model", "parameter", "value")?;
        row(f, "Bernoulli", "loss", &self.bernoulli)?;
        match &self.gilbert {
            Some((p, r)) => {
                row(f, "Gilbert", "p (good to bad)", p)?;
                row(f, "", "r (bad to good)", r)?;
            }
            None => writeln!(
                f,
                "{:<16} not fitted: needs lost and kept datagrams, and a loss before the last",
                "Gilbert"
            )?,
        }
        match &self.gilbert_elliott {
            Some(ge) => {
                row(f, "Gilbert-Elliott", "p (good to bad)", &ge.p)?;
                row(f, "", "r (bad to good)", &ge.r)?;
                row(f, "", "loss in bad state", &ge.loss_bad)?;
                row(f, "", "loss in good state", &ge.loss_good)?;
                if !ge.converged {
                    writeln!(f, "{:<16} (not converged: stopped after {} iterations)", "", ge.iterations)?;
                }
            }
            None => writeln!(f, "{:<16} not fitted: needs lost and kept datagrams", "Gilbert-Elliott")?,
        }
        if self.gilbert.is_some() || self.gilbert_elliott.is_some() {
            writeln!(f, "p: the chance per datagram that a good spell turns bad; r: that a bad spell ends.")?;
        }

        // AIC.
        writeln!(f)?;
        let c = &self.comparison;
        let scores: Vec<String> = [Model::Bernoulli, Model::Gilbert, Model::GilbertElliott]
            .into_iter()
            .filter_map(|m| c.score(m).map(|s| format!("{} {:.1}", m.name(), s.aic)))
            .collect();
        writeln!(f, "AIC (lower is better, each parameter costs 2): {}.", scores.join(", "))?;
        let why = match c.preferred {
            Model::Bernoulli => {
                "losses look independent; the burst models' extra parameters do not pay for themselves"
            }
            Model::Gilbert => {
                "losses come in all-or-nothing bursts; two more parameters do not pay for themselves"
            }
            Model::GilbertElliott => {
                concat!(
                    "losses come in bursts that are not all-or-nothing ",
                    "(bad spells keep some datagrams, or good ones lose some)"
                )
            }
        };
        match c.margin() {
            Some(m) => writeln!(f, "AIC prefers {}, by {m:.1}:\n  {why}.", c.preferred.name())?,
            None => writeln!(f, "Only {} could be fitted.", c.preferred.name())?,
        }

        // Bursts.
        writeln!(f)?;
        writeln!(f, "Loss bursts by length, seen and expected from each model:")?;
        write!(f, "{:<16}", "length")?;
        for len in 1..BURST_BUCKETS {
            write!(f, " {len:>8}")?;
        }
        writeln!(f, " {:>8} {:>9}", format!(">={BURST_BUCKETS}"), "distance")?;
        write!(f, "{:<16}", "seen")?;
        for count in self.bursts.observed {
            write!(f, " {count:>8}")?;
        }
        writeln!(f)?;
        let predictions = [
            (Model::Bernoulli, Some(&self.bursts.bernoulli)),
            (Model::Gilbert, self.bursts.gilbert.as_ref()),
            (Model::GilbertElliott, self.bursts.gilbert_elliott.as_ref()),
        ];
        for (model, prediction) in predictions {
            let Some(prediction) = prediction else { continue };
            write!(f, "{:<16}", model.name())?;
            for e in prediction.expected {
                write!(f, " {e:>8.1}")?;
            }
            match prediction.distance {
                Some(d) => writeln!(f, " {d:>9.3}")?,
                None => writeln!(f, " {:>9}", "-")?,
            }
        }
        writeln!(f, "distance: total variation between the seen and the expected shares of each length")?;
        writeln!(f, "(0: the same shape, 1: nothing in common).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use udplab_sim::link::{Fate, LinkState, LossReason};
    use udplab_sim::rng::{Prob, name_key};
    use udplab_sim::scenario::{GeOrder, Impairment, Link, Loss};
    use udplab_sim::trace::Label;

    const DATAGRAMS: u32 = 100_000;
    /// Chosen before any fit was run, and not changed since.
    const SEEDS: [u64; 4] = [1, 2, 3, 4];

    fn prob(fraction: f64) -> Prob {
        Prob::from_ppb((fraction * 1e9).round() as u64).unwrap()
    }

    /// The exact probability a `Prob` stands for (within 2^-32 of the fraction asked for).
    fn exact(p: Prob) -> f64 {
        p.threshold() as f64 / Prob::ONE_THRESHOLD as f64
    }

    fn ge_loss(truth: GeParams) -> Loss {
        Loss::GilbertElliott {
            p: prob(truth.p),
            r: prob(truth.r),
            loss_bad: prob(truth.loss_bad),
            loss_good: prob(truth.loss_good),
            order: GeOrder::StepThenDecide,
        }
    }

    /// `n` datagrams offered to udplab's own link engine with `loss`, one every millisecond:
    /// which were lost. Every loss must come from the loss model (never the queue, the MTU...).
    fn simulate(loss: Loss, seed: u64, n: u32) -> Vec<bool> {
        let link = Link {
            from: 0,
            to: 1,
            impairment: Impairment { loss, ..Impairment::default() },
            phases: Vec::new(),
            trace: None,
        };
        let mut state = LinkState::new(seed, name_key("sender->receiver"));
        let mut packet = [0u8; 28];
        (0..n)
            .map(|i| {
                let identity = Label::Data { seq: i, attempt: 1 }.identity();
                match state.offer(&link, u64::from(i) * 1000, &mut packet, identity).1 {
                    Fate::Passed(_) => false,
                    Fate::Lost(LossReason::Burst { .. } | LossReason::Random { .. }) => true,
                    Fate::Lost(other) => panic!("datagram {i} lost to {other:?}, not to the loss model"),
                }
            })
            .collect()
    }

    /// Every number is finite, every interval holds its value within [0, 1], and the report
    /// prints.
    fn assert_sane(fit: &LossFit) {
        let estimates: Vec<Estimate> = [fit.bernoulli]
            .into_iter()
            .chain(fit.gilbert.into_iter().flat_map(|(p, r)| [p, r]))
            .chain(fit.gilbert_elliott.into_iter().flat_map(|g| [g.p, g.r, g.loss_bad, g.loss_good]))
            .collect();
        for e in estimates {
            assert!(0.0 <= e.low && e.low <= e.value && e.value <= e.high && e.high <= 1.0, "{e:?}");
        }
        let c = &fit.comparison;
        for score in [Some(c.bernoulli), c.gilbert, c.gilbert_elliott].into_iter().flatten() {
            assert!(score.log_likelihood.is_finite() && score.log_likelihood <= 0.0, "{score:?}");
            assert!(score.aic.is_finite(), "{score:?}");
        }
        assert!(c.score(c.preferred).is_some());
        let b = &fit.bursts;
        for prediction in [Some(b.bernoulli), b.gilbert, b.gilbert_elliott].into_iter().flatten() {
            assert!(prediction.expected.iter().all(|e| e.is_finite() && *e >= 0.0), "{prediction:?}");
            assert!(prediction.distance.is_none_or(|d| (0.0..=1.0).contains(&d)), "{prediction:?}");
        }
        assert_eq!(fit.gilbert.is_some(), c.gilbert.is_some());
        assert_eq!(fit.gilbert_elliott.is_some(), c.gilbert_elliott.is_some());
        let text = fit.to_string();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    }

    /// Whether `truth` lies within 3 standard errors of the estimate (99.7% for a normal
    /// estimate), the standard error read off the 95% interval's unclamped side.
    fn within_3_se(e: &Estimate, truth: f64) -> bool {
        let se = (e.value - e.low).max(e.high - e.value) / Z95;
        (truth - e.value).abs() <= 3.0 * se
    }

    /// Test 1. Simple Gilbert loss (bad state loses all, good state none; p = 5%, r = 40%),
    /// four seeds chosen before any fit was run. The true `p` and `r` lie inside the 95%
    /// (Wilson) intervals of the simple Gilbert fit for every seed. For the four-parameter fit
    /// they lie within 3 standard errors (99.7%), not inside the 95% interval: with seed 1 its
    /// `p` interval, 4.54% to 4.98%, misses 5% (2.2 standard errors off), the one miss in
    /// these 16 checks of 95% intervals (over seeds 1 to 40, `coverage_study`, the fit's `p`
    /// interval misses 2 times in 40, `r` never). No interval is wider than 100 000 datagrams
    /// allow (half-widths of about 0.0015 for `p` and 0.009 for `r`, a little more in the
    /// four-parameter fit, which also has to place `loss_bad` and `loss_good`).
    #[test]
    fn simple_gilbert_truth_lies_inside_the_intervals() {
        let loss = ge_loss(GeParams::gilbert(0.05, 0.40));
        let Loss::GilbertElliott { p, r, .. } = loss else { unreachable!() };
        let (p, r) = (exact(p), exact(r));
        for seed in SEEDS {
            let fit = fit_loss(&simulate(loss, seed, DATAGRAMS));
            assert_sane(&fit);
            let (gp, gr) = fit.gilbert.expect("a Gilbert fit");
            let ge = fit.gilbert_elliott.expect("a Gilbert-Elliott fit");
            for (what, estimate, truth, widest) in [("p", gp, p, 0.003), ("r", gr, r, 0.02)] {
                assert!(
                    estimate.contains(truth),
                    "seed {seed}: Gilbert {what} {estimate:?} misses {truth}\n{fit}"
                );
                assert!(
                    estimate.half_width() < widest,
                    "seed {seed}: Gilbert {what} {estimate:?} too wide\n{fit}"
                );
            }
            for (what, estimate, truth, widest) in [("p", ge.p, p, 0.004), ("r", ge.r, r, 0.025)] {
                assert!(
                    within_3_se(&estimate, truth),
                    "seed {seed}: {what} {estimate:?} far from {truth}\n{fit}"
                );
                assert!(estimate.half_width() < widest, "seed {seed}: {what} {estimate:?} too wide\n{fit}");
            }
            assert!(ge.converged, "seed {seed}\n{fit}");
            // The simple model is a special case of the full one (less what keeping the
            // probabilities 1e-9 away from 0 and 1 costs: up to 1e-9 a datagram).
            let gilbert_ll = fit.comparison.gilbert.unwrap().log_likelihood;
            let slack = 2.0 * PROB_FLOOR * f64::from(DATAGRAMS);
            assert!(
                ge.log_likelihood >= gilbert_ll - slack,
                "seed {seed}: {} < {gilbert_ll}: {ge:?}\n{fit}",
                ge.log_likelihood
            );
        }
    }

    /// Test 2. Gilbert-Elliott loss (p = 2%, r = 25%, 80% lost in the bad state, 1% in the
    /// good one), four seeds chosen before any fit was run: the four true values lie within 3
    /// standard errors (99.7%) of the four-parameter fit's estimates, not inside its 95%
    /// intervals: with seed 3 the `loss_bad` interval, 80.71% to 83.67%, misses 80% (2.9
    /// standard errors off), the one miss in these 16 checks (over seeds 1 to 40,
    /// `coverage_study`, the misses are 1, 2, 3 and 0 in 40 for p, r, loss_bad, loss_good).
    /// The intervals are no wider than expected (half-widths of about 0.0013, 0.013, 0.015 and
    /// 0.001), AIC prefers a burst model to independent loss, and the burst lengths seen over
    /// the four runs are those the true model predicts.
    #[test]
    fn gilbert_elliott_truth_lies_inside_the_intervals() {
        let loss = ge_loss(GeParams { p: 0.02, r: 0.25, loss_bad: 0.8, loss_good: 0.01 });
        let Loss::GilbertElliott { p, r, loss_bad, loss_good, .. } = loss else { unreachable!() };
        let truth =
            GeParams { p: exact(p), r: exact(r), loss_bad: exact(loss_bad), loss_good: exact(loss_good) };
        let mut seen = [0u64; BURST_BUCKETS];
        for seed in SEEDS {
            let lost = simulate(loss, seed, DATAGRAMS);
            let fit = fit_loss(&lost);
            assert_sane(&fit);
            let ge = fit.gilbert_elliott.expect("a Gilbert-Elliott fit");
            let checks = [
                ("p", ge.p, truth.p, 0.003),
                ("r", ge.r, truth.r, 0.03),
                ("loss_bad", ge.loss_bad, truth.loss_bad, 0.035),
                ("loss_good", ge.loss_good, truth.loss_good, 0.0025),
            ];
            for (what, estimate, truth, widest) in checks {
                assert!(
                    within_3_se(&estimate, truth),
                    "seed {seed}: {what} {estimate:?} far from {truth}\n{fit}"
                );
                assert!(estimate.half_width() < widest, "seed {seed}: {what} {estimate:?} too wide\n{fit}");
            }
            assert!(ge.converged, "seed {seed}\n{fit}");
            assert_ne!(fit.comparison.preferred, Model::Bernoulli, "seed {seed}\n{fit}");
            for (total, count) in seen.iter_mut().zip(fit.bursts.observed) {
                *total += count;
            }
        }
        // The exact expectation against udplab's engine: each count within 5 standard
        // deviations (counted as Poisson, variance = mean) of what the true model predicts.
        let expected = expected_bursts(&truth, u64::from(DATAGRAMS));
        for (i, (&count, e)) in seen.iter().zip(expected).enumerate() {
            let e = e * SEEDS.len() as f64;
            assert!(
                (count as f64 - e).abs() < 5.0 * e.sqrt() + 2.0,
                "bucket {i}: seen {count}, expected {e}"
            );
        }
    }

    /// Test 3. Independent loss of 10%: the Bernoulli 95% interval contains 10%, and the burst
    /// table shows Bernoulli fitting the burst lengths as well as the burst models (its
    /// distance within 0.01 of the best). That AIC prefers Bernoulli is true of most seeds,
    /// not all (36 of seeds 1 to 40: the burst models find patterns in noise now and then),
    /// so what is asserted of AIC is only that Bernoulli's is within 10 of the preferred
    /// model's (6.7 at worst over those 40 seeds; more than 10 would take a fluctuation of
    /// odds about 1 in 1000).
    #[test]
    fn independent_loss_is_recognised() {
        let loss = Loss::Bernoulli { p: prob(0.10) };
        for seed in SEEDS {
            let fit = fit_loss(&simulate(loss, seed, DATAGRAMS));
            assert_sane(&fit);
            assert!(fit.bernoulli.contains(0.10), "seed {seed}\n{fit}");
            assert!(fit.bernoulli.half_width() < 0.003, "seed {seed}\n{fit}");
            let bernoulli = fit.bursts.bernoulli.distance.unwrap();
            let best = [fit.bursts.gilbert, fit.bursts.gilbert_elliott]
                .into_iter()
                .flatten()
                .filter_map(|b| b.distance)
                .fold(bernoulli, f64::min);
            assert!(bernoulli <= best + 0.01, "seed {seed}\n{fit}");
            let preferred = fit.comparison.score(fit.comparison.preferred).unwrap();
            assert!(fit.comparison.bernoulli.aic <= preferred.aic + 10.0, "seed {seed}\n{fit}");
        }
    }

    /// Test 4. Inputs with little or nothing to fit: no panic, no NaN, and the models that
    /// cannot be fitted are `None`.
    #[test]
    fn edge_inputs() {
        let empty = fit_loss(&[]);
        assert_sane(&empty);
        assert_eq!((empty.datagrams, empty.lost), (0, 0));
        assert_eq!(empty.bernoulli, Estimate { value: 0.0, low: 0.0, high: 1.0 });
        assert!(empty.gilbert.is_none() && empty.gilbert_elliott.is_none());
        assert_eq!(empty.comparison.preferred, Model::Bernoulli);
        assert_eq!(empty.bursts.observed, [0; BURST_BUCKETS]);
        assert_eq!(empty.bursts.bernoulli.expected, [0.0; BURST_BUCKETS]);
        assert_eq!(empty.bursts.bernoulli.distance, None);

        let kept = fit_loss(&[false; 50]);
        assert_sane(&kept);
        assert_eq!(kept.bernoulli.value, 0.0);
        assert!(kept.bernoulli.high > 0.0 && kept.bernoulli.high < 0.1, "{kept}");
        assert!(kept.gilbert.is_none() && kept.gilbert_elliott.is_none());
        assert_eq!(kept.comparison.bernoulli.log_likelihood, 0.0);

        let lost = fit_loss(&[true; 50]);
        assert_sane(&lost);
        assert_eq!(lost.bernoulli.value, 1.0);
        assert!(lost.gilbert.is_none() && lost.gilbert_elliott.is_none());
        assert_eq!(lost.bursts.observed, [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(lost.bursts.longest, 50);

        for one in [[false], [true]] {
            let fit = fit_loss(&one);
            assert_sane(&fit);
            assert_eq!(fit.datagrams, 1);
            assert!(fit.gilbert.is_none() && fit.gilbert_elliott.is_none());
        }

        // Only the last datagram lost: nothing follows a loss, so no Gilbert `r`; the
        // four-parameter fit still runs.
        let mut last = vec![false; 30];
        last.push(true);
        let fit = fit_loss(&last);
        assert_sane(&fit);
        assert!(fit.gilbert.is_none() && fit.gilbert_elliott.is_some());

        let alternating: Vec<bool> = (0..200).map(|i| i % 2 == 1).collect();
        let fit = fit_loss(&alternating);
        assert_sane(&fit);
        let (p, r) = fit.gilbert.unwrap();
        assert_eq!(r.value, 1.0);
        assert!(p.value > 0.98, "{fit}");
        assert_eq!(fit.bursts.observed, [100, 0, 0, 0, 0, 0, 0, 0]);
        assert_ne!(fit.comparison.preferred, Model::Bernoulli, "{fit}");

        for short in [&[true, false][..], &[false, true, true], &[true, false, true, false]] {
            assert_sane(&fit_loss(short));
        }
    }

    /// Test 5. Burst lengths counted by hand: kept, lost x2, kept, lost, kept x3, lost x9
    /// holds one burst each of 2, 1 and 9; and a sequence that starts with a loss.
    #[test]
    fn burst_table_counts_what_it_sees() {
        let mut lost = vec![false, true, true, false, true, false, false, false];
        lost.extend([true; 9]);
        let fit = fit_loss(&lost);
        assert_eq!(fit.bursts.observed, [1, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(fit.bursts.longest, 9);
        assert_eq!(fit.lost, 12);

        let lost =
            [true, true, true, false, true, true, true, false, true, true, true, true, true, true, true];
        assert_eq!(observed_bursts(&lost), ([0, 0, 2, 0, 0, 0, 1, 0], 7));
    }

    /// The expected burst counts are exact: against every sequence of 10 datagrams, weighted
    /// by its probability (the same convention: the chain starts good, steps, then decides).
    #[test]
    fn expected_bursts_are_exact() {
        let models = [
            GeParams { p: 0.2, r: 0.3, loss_bad: 0.7, loss_good: 0.1 },
            GeParams::gilbert(0.1, 0.6),
            GeParams::bernoulli(0.35),
        ];
        for params in models {
            for n in [1u64, 7, 8, 10] {
                let mut brute = [0.0; BURST_BUCKETS];
                let mut total = 0.0;
                for bits in 0u32..(1 << n) {
                    let seq: Vec<bool> = (0..n).map(|i| bits & (1 << i) != 0).collect();
                    let prob = ge_log_likelihood(&seq, &params).exp();
                    total += prob;
                    for (b, c) in brute.iter_mut().zip(observed_bursts(&seq).0) {
                        *b += prob * c as f64;
                    }
                }
                assert!((total - 1.0).abs() < 1e-12, "{params:?} n {n}: probabilities sum to {total}");
                let exact = expected_bursts(&params, n);
                for (a, b) in exact.iter().zip(brute) {
                    assert!((a - b).abs() < 1e-12, "{params:?} n {n}: {exact:?} against {brute:?}");
                }
            }
        }
    }

    /// The three log-likelihoods are of the same thing: the closed forms equal the
    /// four-parameter model's with the matching parameters, the scaled forward-backward pass
    /// gives the plain forward one, and its gradient is the derivative of the log-likelihood.
    #[test]
    fn log_likelihoods_agree() {
        let lost = simulate(ge_loss(GeParams { p: 0.03, r: 0.3, loss_bad: 0.7, loss_good: 0.02 }), 9, 3000);
        let fit = fit_loss(&lost);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * a.abs().max(1.0);
        let b = fit.bernoulli.value;
        assert!(close(
            fit.comparison.bernoulli.log_likelihood,
            ge_log_likelihood(&lost, &GeParams::bernoulli(b))
        ));
        let (p, r) = fit.gilbert.unwrap();
        let gilbert = GeParams::gilbert(p.value, r.value);
        assert!(close(fit.comparison.gilbert.unwrap().log_likelihood, ge_log_likelihood(&lost, &gilbert)));
        let ge = fit.gilbert_elliott.unwrap();
        assert!(close(ge.log_likelihood, ge_log_likelihood(&lost, &ge.params())));

        let at = GeParams { p: 0.05, r: 0.2, loss_bad: 0.6, loss_good: 0.03 };
        let ex = forward_backward(&lost, &at, &mut Vec::new());
        assert!(close(ex.log_likelihood, ge_log_likelihood(&lost, &at)));
        let gradient = ex.gradient(&at);
        for (i, g) in gradient.iter().enumerate() {
            let h = 1e-6;
            let mut plus = at.to_array();
            let mut minus = at.to_array();
            plus[i] += h;
            minus[i] -= h;
            let numeric = (ge_log_likelihood(&lost, &GeParams::from_array(plus))
                - ge_log_likelihood(&lost, &GeParams::from_array(minus)))
                / (2.0 * h);
            assert!((g - numeric).abs() < 1e-4 * g.abs().max(1.0), "parameter {i}: {g} against {numeric}");
        }
        // Expected counts add up: one transition and one emission per datagram.
        let transitions: f64 = ex.transitions.iter().flatten().sum();
        let emissions: f64 = ex.lost.iter().chain(&ex.kept).sum();
        assert!(close(transitions, lost.len() as f64) && close(emissions, lost.len() as f64));
    }

    /// The covariance step: the diagonal of the inverse of a positive definite block, and
    /// `None` for a block that is not.
    #[test]
    fn information_is_inverted_on_its_positive_definite_part() {
        let a = [[4.0, 2.0, 0.0, 0.0], [2.0, 3.0, 0.0, 0.0], [0.0, 0.0, 1.0, 3.0], [0.0, 0.0, 3.0, 2.0]];
        let (diag, _) = inverse_diagonal(&a, &[0, 1]).unwrap();
        assert!((diag[0] - 3.0 / 8.0).abs() < 1e-15 && (diag[1] - 0.5).abs() < 1e-15, "{diag:?}");
        let (diag, _) = inverse_diagonal(&a, &[0, 1, 3]).unwrap();
        assert!((diag[3] - 0.5).abs() < 1e-15 && diag[2].is_nan(), "{diag:?}");
        assert_eq!(inverse_diagonal(&a, &[2, 3]), None);
        assert_eq!(inverse_diagonal(&a, &[0, 1, 2, 3]), None);
    }

    /// Test 6. The same input gives the same fit, bit for bit, and the same report.
    #[test]
    fn fitting_is_deterministic() {
        let lost =
            simulate(ge_loss(GeParams { p: 0.02, r: 0.25, loss_bad: 0.8, loss_good: 0.01 }), 5, 20_000);
        let (a, b) = (fit_loss(&lost), fit_loss(&lost));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
    }

    /// Calibration: over 10 fixed seeds, a 95% interval may miss the truth by chance about
    /// once in 20; more than 3 misses of 10 (probability 0.1% for well-calibrated intervals)
    /// means the intervals are too narrow. More seeds: `STUDY_SEEDS=40 cargo test -p
    /// udplab-teach --lib capture::fit::tests::coverage -- --nocapture` (measured 2026-11-28
    /// over 40 seeds: the Gilbert-Elliott p, r, loss_bad, loss_good intervals missed 2, 0, 0, 1
    /// times on simple-Gilbert data and 1, 2, 3, 0 times on Gilbert-Elliott data).
    #[test]
    fn coverage_of_the_intervals_is_about_95_percent() {
        let seeds: u64 = std::env::var("STUDY_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
        let allowed = usize::try_from(seeds.div_ceil(10) * 3).unwrap_or(usize::MAX);
        let models = [
            ("simple Gilbert", GeParams::gilbert(0.05, 0.40)),
            ("Gilbert-Elliott", GeParams { p: 0.02, r: 0.25, loss_bad: 0.8, loss_good: 0.01 }),
        ];
        for (name, truth) in models {
            let loss = ge_loss(truth);
            let Loss::GilbertElliott { p, r, loss_bad, loss_good, .. } = loss else { unreachable!() };
            let truth = [exact(p), exact(r), exact(loss_bad), exact(loss_good)];
            let mut misses = [0; 4];
            let mut widest = [0.0f64; 4];
            let mut preferred = [0; 3];
            for seed in 1..=seeds {
                let fit = fit_loss(&simulate(loss, seed, DATAGRAMS));
                preferred[fit.comparison.preferred as usize] += 1;
                let g = fit.gilbert_elliott.expect("fitted");
                for (i, e) in [g.p, g.r, g.loss_bad, g.loss_good].into_iter().enumerate() {
                    misses[i] += usize::from(!e.contains(truth[i]));
                    widest[i] = widest[i].max(e.half_width());
                }
            }
            eprintln!(
                "{name}, {seeds} seeds: Gilbert-Elliott (p, r, loss_bad, loss_good) missed {misses:?}, \
                 widest half-widths {widest:.4?}; AIC preferred (Bernoulli, Gilbert, Gilbert-Elliott) {preferred:?}"
            );
            for (i, m) in misses.iter().enumerate() {
                assert!(*m <= allowed, "{name}: parameter {i} missed {m} of {seeds}");
            }
            assert_eq!(preferred[Model::Bernoulli as usize], 0, "{name}: bursts are not independent loss");
        }
    }
}
