//! The reconnect schedule: exponential backoff with full jitter (a random wait in
//! `[0, min(cap, base·2ⁿ)]`), so that clients dropped together by a restarting server do not come
//! back together. Pure and clock-free: the network task measures time and asks for delays; the
//! RNG is injectable so tests can check the schedule.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Beyond this many doublings the ceiling is far past any sane cap; stops `2ⁿ` overflowing.
const MAX_DOUBLINGS: u32 = 31;

/// Exponential backoff with full jitter. `failures` counts the attempts that failed since the
/// last reset; each [`Backoff::next_delay`] counts one more.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    stable_after: Duration,
    failures: u32,
    rng: SmallRng,
}

impl Backoff {
    /// The first ceiling: the first retry waits at most this long.
    pub const BASE: Duration = Duration::from_millis(500);
    /// The ceiling never grows past this.
    pub const CAP: Duration = Duration::from_secs(30);
    /// A connection that stayed up this long proves the server healthy: the schedule restarts.
    pub const STABLE_AFTER: Duration = Duration::from_secs(60);

    /// The standard schedule, with an RNG seeded from the operating system.
    pub fn new() -> Backoff {
        Backoff::with_rng(SmallRng::from_os_rng())
    }

    /// The standard schedule with a fixed seed: the same seed gives the same delays.
    pub fn seeded(seed: u64) -> Backoff {
        Backoff::with_rng(SmallRng::seed_from_u64(seed))
    }

    pub fn with_rng(rng: SmallRng) -> Backoff {
        Backoff {
            base: Backoff::BASE,
            cap: Backoff::CAP,
            stable_after: Backoff::STABLE_AFTER,
            failures: 0,
            rng,
        }
    }

    /// Replaces the timings (tests use short ones); `cap` is raised to `base` if below it.
    pub fn with_timings(
        mut self,
        base: Duration,
        cap: Duration,
        stable_after: Duration,
    ) -> Backoff {
        self.base = base;
        self.cap = cap.max(base);
        self.stable_after = stable_after;
        self
    }

    /// Failed attempts since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The upper bound of the next delay: `min(cap, base·2^failures)`.
    pub fn ceiling(&self) -> Duration {
        let doublings = self.failures.min(MAX_DOUBLINGS);
        self.base
            .checked_mul(1u32 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The wait before the next attempt, uniformly random in `[0, ceiling]`; counts a failure.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = u64::try_from(self.ceiling().as_nanos()).unwrap_or(u64::MAX);
        self.failures = self.failures.saturating_add(1);
        Duration::from_nanos(self.rng.random_range(0..=ceiling))
    }

    /// Starts the schedule over (a new server, or a connection that proved stable).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Tells the schedule that a connection which was up for `up_for` ended: a stable one resets
    /// it, a short-lived one does not (a server that accepts and drops at once is still failing).
    pub fn connection_ended(&mut self, up_for: Duration) {
        if up_for >= self.stable_after {
            self.reset();
        }
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ceiling_doubles_from_half_a_second_to_the_thirty_second_cap() {
        let mut backoff = Backoff::seeded(1);
        let mut ceilings = Vec::new();
        for _ in 0..9 {
            ceilings.push(backoff.ceiling());
            backoff.next_delay();
        }
        let expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000].map(ms);
        assert_eq!(ceilings, expected);
    }

    #[test]
    fn every_delay_lies_between_zero_and_its_ceiling() {
        let mut backoff = Backoff::seeded(7);
        for _ in 0..200 {
            let ceiling = backoff.ceiling();
            let delay = backoff.next_delay();
            assert!(delay <= ceiling, "{delay:?} > {ceiling:?}");
        }
        assert_eq!(backoff.failures(), 200);
    }

    #[test]
    fn cap_holds_without_overflow_after_very_many_failures() {
        let mut backoff = Backoff::seeded(3);
        for _ in 0..100_000 {
            backoff.next_delay();
        }
        assert_eq!(backoff.ceiling(), Backoff::CAP);
        assert!(backoff.next_delay() <= Backoff::CAP);
        let huge = Backoff::seeded(3).with_timings(
            Duration::from_secs(u64::MAX / 4),
            Duration::MAX,
            Backoff::STABLE_AFTER,
        );
        assert_eq!(huge.ceiling(), Duration::from_secs(u64::MAX / 4));
    }

    #[test]
    fn same_seed_gives_the_same_schedule_and_another_seed_differs() {
        let schedule = |seed| {
            let mut backoff = Backoff::seeded(seed);
            (0..10).map(|_| backoff.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(schedule(42), schedule(42));
        assert_ne!(schedule(42), schedule(43));
    }

    #[test]
    fn a_stable_connection_resets_the_schedule_and_a_short_one_does_not() {
        let mut backoff = Backoff::seeded(5);
        for _ in 0..4 {
            backoff.next_delay();
        }
        backoff.connection_ended(Duration::from_secs(59));
        assert_eq!(backoff.failures(), 4);
        assert_eq!(backoff.ceiling(), ms(8000));
        backoff.connection_ended(Duration::from_secs(60));
        assert_eq!(backoff.failures(), 0);
        assert_eq!(backoff.ceiling(), Backoff::BASE);
        assert!(backoff.next_delay() <= Backoff::BASE);
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        // Full jitter: uniform on [0, cap]. 2000 draws from a fixed seed should cover the range
        // (some near zero, some near the cap) and average near the middle.
        let mut backoff = Backoff::seeded(2024);
        for _ in 0..10 {
            backoff.next_delay();
        }
        let draws: Vec<Duration> = (0..2000).map(|_| backoff.next_delay()).collect();
        let cap = Backoff::CAP.as_secs_f64();
        let secs: Vec<f64> = draws.iter().map(Duration::as_secs_f64).collect();
        let mean = secs.iter().sum::<f64>() / secs.len() as f64;
        assert!((0.45 * cap..0.55 * cap).contains(&mean), "mean {mean}");
        assert!(secs.iter().any(|&s| s < 0.05 * cap), "nothing near zero");
        assert!(secs.iter().any(|&s| s > 0.95 * cap), "nothing near the cap");
        let buckets = secs.iter().fold([0usize; 10], |mut b, &s| {
            b[((s / cap * 10.0) as usize).min(9)] += 1;
            b
        });
        assert!(
            buckets.iter().all(|&n| n > 120),
            "uneven spread {buckets:?}"
        );
    }

    #[test]
    fn custom_timings_are_honoured_and_cap_is_never_below_base() {
        let mut backoff = Backoff::seeded(9).with_timings(ms(10), ms(40), ms(100));
        let ceilings: Vec<_> = (0..4)
            .map(|_| {
                let c = backoff.ceiling();
                backoff.next_delay();
                c
            })
            .collect();
        assert_eq!(ceilings, [10, 20, 40, 40].map(ms));
        backoff.connection_ended(ms(100));
        assert_eq!(backoff.failures(), 0);
        let odd = Backoff::seeded(9).with_timings(ms(50), ms(10), ms(100));
        assert_eq!(odd.ceiling(), ms(50));
    }
}
