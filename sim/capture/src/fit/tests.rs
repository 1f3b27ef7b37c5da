//! The fits checked against sequences from udplab's own Gilbert-Elliott engine, edge inputs,
//! exact burst expectations and the calibration of the intervals.
use super::em::{forward_backward, inverse_diagonal};
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
    let truth = GeParams { p: exact(p), r: exact(r), loss_bad: exact(loss_bad), loss_good: exact(loss_good) };
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
        assert!((count as f64 - e).abs() < 5.0 * e.sqrt() + 2.0, "bucket {i}: seen {count}, expected {e}");
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

    let lost = [true, true, true, false, true, true, true, false, true, true, true, true, true, true, true];
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
    let lost = simulate(ge_loss(GeParams { p: 0.02, r: 0.25, loss_bad: 0.8, loss_good: 0.01 }), 5, 20_000);
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
