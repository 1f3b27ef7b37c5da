//! Bounded waits for a runner's setup steps: joining a network, getting an address, starting a
//! radio. On the ESP32 each of these waits on something outside the board (an access point, a
//! DHCP server, the radio driver), and a wait without an end leaves a person at a silent console.
//!
//! The policy is plain arithmetic on a microsecond clock, kept here (not in the ESP32 crate, which
//! only builds for the chip) so that the host tests it. The runner owns the clock and does the
//! waiting; these types only say until when.

/// A time limit that started at a known instant: "at most `limit_us` after `start_us`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start_us: u64,
    limit_us: u64,
}

impl Deadline {
    /// A deadline `limit_us` microseconds after `now_us`.
    pub const fn after(now_us: u64, limit_us: u64) -> Deadline {
        Deadline { start_us: now_us, limit_us }
    }

    /// The instant it expires (saturates instead of wrapping, so a huge limit means "never").
    pub const fn at_us(&self) -> u64 {
        self.start_us.saturating_add(self.limit_us)
    }

    /// The limit it was made with.
    pub const fn limit_us(&self) -> u64 {
        self.limit_us
    }

    /// Whether the time is up at `now_us`.
    pub const fn expired(&self, now_us: u64) -> bool {
        now_us >= self.at_us()
    }

    /// Time left at `now_us` (0 once expired).
    pub const fn remaining_us(&self, now_us: u64) -> u64 {
        self.at_us().saturating_sub(now_us)
    }
}

/// Retrying a step that can fail (joining a network) until a total deadline, with a pause between
/// attempts so a failing access point is not hammered.
///
/// Why a total deadline and not a number of attempts: an attempt's length depends on the network
/// (a refused password answers at once, a scan of every channel for a missing network takes
/// seconds), and what a person waiting at the console cares about is how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    deadline: Deadline,
    pause_us: u64,
    attempts: u32,
}

impl Retry {
    /// Attempts until `limit_us` after `now_us`, pausing `pause_us` after each failure.
    pub const fn new(now_us: u64, limit_us: u64, pause_us: u64) -> Retry {
        Retry { deadline: Deadline::after(now_us, limit_us), pause_us, attempts: 0 }
    }

    /// Starts an attempt at `now_us` if time is left: returns the instant the attempt must end by
    /// (the total deadline), and counts it. `None` once the deadline has passed.
    pub fn start_attempt(&mut self, now_us: u64) -> Option<u64> {
        if self.deadline.expired(now_us) {
            return None;
        }
        self.attempts = self.attempts.saturating_add(1);
        Some(self.deadline.at_us())
    }

    /// After a failed attempt at `now_us`: the instant to try again, or `None` when the pause
    /// would leave no time for another attempt (give up now rather than sleep and then give up).
    pub fn pause_after_failure(&self, now_us: u64) -> Option<u64> {
        let resume = now_us.saturating_add(self.pause_us);
        (resume < self.deadline.at_us()).then_some(resume)
    }

    /// Attempts started so far.
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The total deadline.
    pub const fn deadline(&self) -> Deadline {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_expires_exactly_at_its_limit() {
        let d = Deadline::after(1_000, 500);
        assert_eq!(d.at_us(), 1_500);
        assert!(!d.expired(1_499));
        assert!(d.expired(1_500));
        assert_eq!(d.remaining_us(1_200), 300);
        assert_eq!(d.remaining_us(9_999), 0);
        assert_eq!(d.limit_us(), 500);
    }

    #[test]
    fn a_huge_limit_saturates_instead_of_wrapping() {
        let d = Deadline::after(u64::MAX - 5, 100);
        assert_eq!(d.at_us(), u64::MAX);
        assert!(!d.expired(u64::MAX - 1));
    }

    #[test]
    fn retry_pauses_between_failures_and_gives_up_at_the_deadline() {
        // 20 s in total, 2 s between attempts, each failing attempt taking 3 s (a scan).
        let mut r = Retry::new(0, 20_000_000, 2_000_000);
        let mut now = 0;
        while let Some(until) = r.start_attempt(now) {
            assert_eq!(until, 20_000_000, "every attempt is cut at the total deadline");
            now += 3_000_000;
            match r.pause_after_failure(now) {
                Some(resume) => {
                    assert_eq!(resume, now + 2_000_000);
                    now = resume;
                }
                None => break,
            }
        }
        // Attempts start at 0, 5, 10 and 15 s; the one ending at 18 s leaves no time after a pause.
        assert_eq!(r.attempts(), 4);
        assert!(now <= r.deadline().at_us());
    }

    #[test]
    fn no_attempt_starts_after_the_deadline() {
        let mut r = Retry::new(100, 1_000, 10);
        assert_eq!(r.start_attempt(1_100), None);
        assert_eq!(r.attempts(), 0);
        assert_eq!(r.start_attempt(1_099), Some(1_100));
        assert_eq!(r.attempts(), 1);
    }

    #[test]
    fn a_pause_that_reaches_the_deadline_means_give_up() {
        let r = Retry::new(0, 10_000, 2_000);
        assert_eq!(r.pause_after_failure(7_999), Some(9_999));
        assert_eq!(r.pause_after_failure(8_000), None);
    }
}
