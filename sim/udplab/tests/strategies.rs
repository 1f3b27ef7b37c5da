//! The public strategies: what they generate, that it can be written as a scenario file, and
//! that a failing property prints a file that reproduces its minimal case.
#![cfg(feature = "proptest")]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use udplab::strategies::{ScenarioCase, Space, perfect_link, scenario, scenarios, with_links};
use udplab::{App, Context, Endpoint, Impairment, Loss, Prob, Scenario, Sim, parse, to_toml};

/// Sends messages 1 to 10, one every 10 ms, each once.
struct Sender {
    next: u32,
}

impl App for Sender {
    fn port(&self) -> u16 {
        5000
    }
    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let to = Endpoint { addr: [10, 0, 0, 2], port: 6000 };
        while self.next <= 10 && u64::from(self.next - 1) * 10_000 <= cx.now_us() {
            let _ = cx.send_message(self.next, 1, &self.next.to_be_bytes(), to);
            self.next += 1;
        }
        (self.next <= 10).then(|| u64::from(self.next - 1) * 10_000)
    }
}

/// Delivers every 4-byte datagram it gets.
struct Receiver;

impl App for Receiver {
    fn port(&self) -> u16 {
        6000
    }
    fn poll(&mut self, cx: &mut Context<'_>) -> Option<u64> {
        let mut buf = [0u8; 64];
        while let Some((n, from)) = cx.recv_from(&mut buf) {
            if let Ok(id) = <[u8; 4]>::try_from(&buf[..n]) {
                cx.deliver(u32::from_be_bytes(id), from);
            }
        }
        None
    }
}

fn lab() -> Scenario {
    parse(
        r#"
        name = "lab"
        description = "Two apps in code, \"a\" and \"b\"."
        duration = "1s"
        [[node]]
        name = "a"
        addr = "10.0.0.1"
        role = "code"
        [[node]]
        name = "b"
        addr = "10.0.0.2"
        role = "code"
        [[link]]
        between = ["a", "b"]
        delay = "5ms"
        [[link.outage]]
        start = "0.5s"
        end = "0.6s"
        "#,
        "lab.toml",
    )
    .unwrap()
}

/// A runner with proptest's default budgets, the same every time, writing no files.
fn runner() -> TestRunner {
    let config = Config { failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// `n` values of `strategy`.
fn sample<S: Strategy>(strategy: &S, n: usize) -> Vec<S::Value> {
    let mut runner = runner();
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

/// The file `case` prints as, without its comment line, parsed.
fn reparse_debug(case: &ScenarioCase) -> Scenario {
    let printed = format!("{case:?}");
    let file: String =
        printed.lines().filter(|l| !l.starts_with("# proptest case")).collect::<Vec<_>>().join("\n");
    parse(&file, "case.toml").unwrap_or_else(|e| panic!("{e}\nin\n{printed}"))
}

#[test]
fn a_failing_property_prints_a_file_that_reproduces_its_minimal_case() {
    let space = Space::new().loss_up_to(0.5).reorder().duplicate_up_to(0.2).delay_up_to_ms(50).jitter();
    let result = runner().run(&with_links(lab(), &space), |case| {
        let mut sim = Sim::new(case.into_inner());
        sim.app("a", || Sender { next: 1 }).app("b", || Receiver);
        let out = sim.run_default()?;
        // Deliberately wrong: loss is in the space and nothing retransmits.
        let lost = out.flow("a", "b").lost();
        prop_assert!(lost.is_empty(), "lost {:?}", lost);
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else { panic!("the property should fail: {result:?}") };
    let printed = format!("{minimal:?}");
    assert!(printed.starts_with("# proptest case: save as scenarios/lab.toml and run it"), "{printed}");
    assert_eq!(reparse_debug(&minimal), *minimal, "{printed}");

    // Shrunk towards less impairment: only loss on a->b is left; b->a is perfect.
    let (up, down) = (&minimal.links[0].impairment, &minimal.links[1].impairment);
    assert_eq!(*down, perfect_link(), "{printed}");
    assert_ne!(up.loss, Loss::None, "{printed}");
    assert_eq!(Impairment { loss: Loss::None, ..up.clone() }, perfect_link(), "{printed}");
    assert!(
        printed.ends_with("[[link]]\nfrom = \"b\"\nto = \"a\"\n"),
        "a perfect link is a bare [[link]]: {printed}"
    );
    assert!(minimal.links.iter().all(|l| l.phases.is_empty()), "the lab's outage is dropped: {printed}");
}

#[test]
fn loss_up_to_a_half_never_loses_more_than_half() {
    let half = Prob::from_ppb(500_000_000).unwrap();
    assert_eq!(half.threshold(), 1 << 31);
    let (mut bernoulli, mut bursts) = (0, 0);
    for imp in sample(&Space::new().loss_up_to(0.5).impairment(), 2_000) {
        match imp.loss {
            Loss::None => {}
            Loss::Bernoulli { p } => {
                bernoulli += 1;
                assert!(p <= half && !p.is_never(), "{p:?}");
            }
            Loss::GilbertElliott { loss_bad, loss_good, .. } => {
                bursts += 1;
                assert!(loss_bad <= half && loss_good <= half, "{imp:?}");
            }
        }
        assert_eq!(Impairment { loss: Loss::None, ..imp }, perfect_link(), "only loss is on");
    }
    assert!(bernoulli > 100 && bursts > 100, "both models: {bernoulli} {bursts}");
}

#[test]
fn an_empty_space_gives_perfect_links() {
    assert_eq!(perfect_link().to_string(), "perfect");
    for imp in sample(&Space::new().impairment(), 200) {
        assert_eq!(imp, perfect_link());
    }
    for case in sample(&with_links(lab(), &Space::new()), 50) {
        assert!(case.links.iter().all(|l| l.impairment == perfect_link() && l.phases.is_empty()));
        assert_eq!(case.nodes, lab().nodes);
    }
}

#[test]
fn every_knob_stays_within_its_bound() {
    let space = Space::new()
        .reorder_up_to(0.1)
        .duplicate_up_to(0.2)
        .corrupt_up_to(0.3)
        .delay_up_to_ms(7)
        .jitter()
        .rate_down_to_kbit(64)
        .mtu_down_to(576)
        .queue_down_to(10);
    let bound = |p: f64| Prob::from_ppb((p * 1e9) as u64).unwrap();
    let mut seen = [false; 6];
    for imp in sample(&space.impairment(), 2_000) {
        assert!(imp.reorder <= bound(0.1) && imp.duplicate <= bound(0.2) && imp.corrupt <= bound(0.3));
        assert!(imp.delay_us <= 7_000 && imp.jitter_us <= 7_000, "jitter up to the delay bound");
        assert!(imp.rate_bps == 0 || (64_000..=Space::MAX_RATE_BPS).contains(&imp.rate_bps));
        assert!(imp.mtu == 0 || (576..=1500).contains(&imp.mtu));
        assert!((10..=1000).contains(&imp.queue));
        assert!(imp.reorder.is_never() || imp.reorder_hold_us > 0);
        assert_eq!(imp.loss, Loss::None);
        for (i, on) in [
            !imp.reorder.is_never(),
            imp.rate_bps > 0,
            imp.mtu > 0,
            imp.queue < 1000,
            imp.jitter_us > 0,
            imp.delay_us > 6_000,
        ]
        .into_iter()
        .enumerate()
        {
            seen[i] |= on;
        }
    }
    assert_eq!(seen, [true; 6], "every knob is exercised, the bound included");
    // Jitter without a delay bound, and an explicit one.
    assert!(sample(&Space::new().jitter().impairment(), 500).iter().all(|i| i.jitter_us <= 20_000));
    assert!(sample(&Space::new().jitter_up_to_ms(3).impairment(), 500).iter().all(|i| i.jitter_us <= 3_000));
}

#[test]
#[should_panic(expected = "expected a probability from 0 to 1")]
fn a_space_refuses_probabilities_above_one() {
    let _ = Space::new().loss_up_to(1.5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_scenarios_are_written_exactly(s in scenario()) {
        let text = to_toml(&s);
        let back = parse(&text, "generated.toml").map_err(|e| TestCaseError::fail(format!("{e}\nin\n{text}")))?;
        prop_assert_eq!(back, s, "written as\n{}", text);
    }

    #[test]
    fn scenario_cases_print_as_their_own_file(case in scenarios()) {
        prop_assert_eq!(reparse_debug(&case), (*case).clone());
        let printed = format!("{case:?}");
        prop_assert!(printed.contains("and run: udplab run scenarios/pair.toml --seed "), "{}", printed);
    }

    #[test]
    fn cases_from_any_space_are_written_exactly_and_run(case in with_links(lab(), &Space::everything())) {
        prop_assert_eq!(reparse_debug(&case), (*case).clone());
        let mut sim = Sim::new(case.into_inner());
        sim.app("a", || Sender { next: 1 }).app("b", || Receiver);
        let out = sim.run_default()?;
        prop_assert!(out.flow("a", "b").sent().len() == 10);
    }
}

#[test]
fn shrinking_switches_off_every_knob_that_does_not_matter() {
    let mut base = lab();
    base.nodes.push(udplab::Node { name: "c".into(), addr: [10, 0, 0, 3], role: udplab::Role::Code });
    let result = runner().run(&with_links(base, &Space::everything()), |case| {
        let mut sim = Sim::new(case.into_inner());
        sim.app("a", || Sender { next: 1 }).app("b", || Receiver).app("c", || Receiver);
        let out = sim.run_default()?;
        prop_assert!(out.flow("a", "b").lost().is_empty());
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else { panic!("the property should fail: {result:?}") };
    let printed = format!("{minimal:?}");
    assert_eq!(reparse_debug(&minimal), *minimal, "{printed}");
    for (i, l) in minimal.links.iter().enumerate() {
        if i != 0 {
            assert_eq!(l.impairment, perfect_link(), "link {i}: {printed}");
            assert!(l.phases.is_empty(), "link {i}: {printed}");
        }
    }
}
