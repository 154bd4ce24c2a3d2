//! The reconnect delay the storm bench gives each simulated client: the same policy as the chat
//! client (full jitter, 0.5 s doubling to a 30 s cap), with a seeded RNG so runs are repeatable.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub const BASE: Duration = Duration::from_millis(500);
pub const CAP: Duration = Duration::from_secs(30);

/// Delay before reconnect attempt n (n = 1 after the first failure): uniform in
/// `[0, min(cap, base * 2^(n-1))]`, so a crowd that lost the server together spreads out.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// Consecutive failures since the last successful join.
    failures: u32,
    rng: SmallRng,
}

impl Backoff {
    pub fn new(seed: u64) -> Backoff {
        Backoff::with_limits(BASE, CAP, seed)
    }

    pub fn with_limits(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            failures: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let doublings = self.failures.min(20);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// Draws the delay before the next attempt and counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        ceiling.mul_f64(self.rng.random::<f64>())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_half_a_second_to_the_cap() {
        let mut b = Backoff::new(1);
        let mut ceilings = Vec::new();
        for _ in 0..9 {
            ceilings.push(b.ceiling().as_millis());
            b.next_delay();
        }
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.ceiling(), BASE);
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling_and_seeded() {
        let draw = |seed| {
            let mut b = Backoff::new(seed);
            (0..50).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7), "same seed, same delays");
        assert_ne!(a, draw(8), "different seeds spread clients apart");
        let mut b = Backoff::new(7);
        for d in &a {
            assert!(*d <= b.ceiling());
            b.next_delay();
        }
        let first: Vec<_> = (0..100).map(|s| Backoff::new(s).next_delay()).collect();
        assert!(first.iter().all(|d| *d <= BASE));
        assert!(
            first.iter().any(|d| *d < BASE / 4) && first.iter().any(|d| *d > BASE * 3 / 4),
            "full jitter uses the whole range: {first:?}"
        );
    }
}
