//! Flood control for one session: a token bucket per connection and a temporary mute for
//! repeat flooders (the seed's "message time out from spamming"). Pure values driven by the
//! caller's clock, so every rule is tested without sleeping.

use std::time::{Duration, Instant};

/// How a session's frames are limited. `rate == 0.0` turns the limit (and muting) off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodPolicy {
    /// Frames per second a session may send on average.
    pub rate: f64,
    /// Frames a session may send at once after being quiet.
    pub burst: u32,
    /// Refused frames within `strike_window` that earn a mute.
    pub mute_after: u32,
    pub strike_window: Duration,
    pub mute_for: Duration,
}

impl Default for FloodPolicy {
    fn default() -> Self {
        FloodPolicy {
            rate: 5.0,
            burst: 10,
            mute_after: 10,
            strike_window: Duration::from_secs(30),
            mute_for: Duration::from_secs(60),
        }
    }
}

/// A classic token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `burst` is at least one token, so a positive rate always lets frames through.
    pub fn new(rate: f64, burst: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one. A clock that goes backwards refills nothing.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A new rate and burst from `now` on: what was earned so far at the old rate is kept, up
    /// to the new burst.
    pub fn retune(&mut self, rate: f64, burst: u32, now: Instant) {
        self.refill(now);
        self.rate = rate;
        self.burst = f64::from(burst.max(1));
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }
}

/// What to do with one incoming frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the rate: refuse this frame.
    RateLimited,
    /// Over the rate once too often: refuse this frame; the session is now muted for this long.
    MutedNow(Duration),
}

/// One session's flood state: its bucket, its recent strikes and its mute.
#[derive(Debug, Clone)]
pub struct FloodGuard {
    policy: FloodPolicy,
    bucket: Option<TokenBucket>,
    strikes: u32,
    first_strike: Option<Instant>,
    muted_until: Option<Instant>,
}

impl FloodGuard {
    pub fn new(policy: FloodPolicy, now: Instant) -> FloodGuard {
        let bucket = (policy.rate > 0.0).then(|| TokenBucket::new(policy.rate, policy.burst, now));
        FloodGuard {
            policy,
            bucket,
            strikes: 0,
            first_strike: None,
            muted_until: None,
        }
    }

    /// A new policy for a session already here (settings reloaded): its bucket keeps what it
    /// has earned (a full one when the limit was off), and a mute under way runs its course.
    pub fn set_policy(&mut self, policy: FloodPolicy, now: Instant) {
        self.bucket = match self.bucket.take() {
            _ if policy.rate <= 0.0 => None,
            Some(mut bucket) => {
                bucket.retune(policy.rate, policy.burst, now);
                Some(bucket)
            }
            None => Some(TokenBucket::new(policy.rate, policy.burst, now)),
        };
        self.policy = policy;
    }

    /// Charges one frame. Frames refused while already muted earn no further strikes.
    pub fn admit(&mut self, now: Instant) -> Verdict {
        let Some(bucket) = &mut self.bucket else {
            return Verdict::Allowed;
        };
        if bucket.try_take(now) {
            return Verdict::Allowed;
        }
        if self.muted_for(now).is_some() {
            return Verdict::RateLimited;
        }
        let window_over = self
            .first_strike
            .is_none_or(|first| now.saturating_duration_since(first) > self.policy.strike_window);
        if window_over {
            self.strikes = 0;
            self.first_strike = Some(now);
        }
        self.strikes += 1;
        if self.policy.mute_after > 0 && self.strikes >= self.policy.mute_after {
            self.strikes = 0;
            self.first_strike = None;
            self.muted_until = Some(now + self.policy.mute_for);
            return Verdict::MutedNow(self.policy.mute_for);
        }
        Verdict::RateLimited
    }

    /// How much longer the session may not speak, if it is muted.
    pub fn muted_for(&self, now: Instant) -> Option<Duration> {
        self.muted_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2.0, 3, t0);
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0), "the burst is spent");
        assert!(
            !bucket.try_take(t0 + ms(400)),
            "0.8 of a token is not enough"
        );
        assert!(
            bucket.try_take(t0 + ms(500)),
            "one token after half a second at 2/s"
        );
        assert!(!bucket.try_take(t0 + ms(500)));
    }

    #[test]
    fn bucket_never_holds_more_than_the_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 2, t0);
        let later = t0 + Duration::from_secs(3600);
        assert!(bucket.try_take(later));
        assert!(bucket.try_take(later));
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn bucket_ignores_a_clock_going_backwards() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1.0, 1, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 - Duration::from_secs(5)));
        assert!(!bucket.try_take(t0 + ms(900)));
        assert!(bucket.try_take(t0 + ms(1000)));
    }

    #[test]
    fn a_new_policy_applies_to_a_session_already_here() {
        let t0 = Instant::now();
        let never_mute = FloodPolicy {
            mute_after: 0,
            ..policy()
        };
        let mut guard = FloodGuard::new(never_mute, t0);
        assert_eq!(guard.admit(t0), Verdict::Allowed);
        assert_eq!(guard.admit(t0), Verdict::Allowed);
        assert_eq!(guard.admit(t0), Verdict::RateLimited, "burst 2 spent");
        let wider = FloodPolicy {
            rate: 10.0,
            burst: 5,
            ..never_mute
        };
        guard.set_policy(wider, t0);
        assert_eq!(guard.admit(t0), Verdict::RateLimited, "earned nothing yet");
        assert_eq!(guard.admit(t0 + ms(100)), Verdict::Allowed, "at 10/s now");
        let off = FloodPolicy {
            rate: 0.0,
            ..never_mute
        };
        guard.set_policy(off, t0 + ms(100));
        for _ in 0..100 {
            assert_eq!(guard.admit(t0 + ms(100)), Verdict::Allowed);
        }
        guard.set_policy(never_mute, t0 + ms(100));
        assert_eq!(guard.admit(t0 + ms(100)), Verdict::Allowed, "a full bucket");
        assert_eq!(guard.admit(t0 + ms(100)), Verdict::Allowed);
        assert_eq!(guard.admit(t0 + ms(100)), Verdict::RateLimited);
    }

    fn policy() -> FloodPolicy {
        FloodPolicy {
            rate: 1.0,
            burst: 2,
            mute_after: 3,
            strike_window: Duration::from_secs(10),
            mute_for: Duration::from_secs(60),
        }
    }

    #[test]
    fn repeat_flooder_is_muted_after_enough_strikes() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(policy(), t0);
        assert_eq!(guard.admit(t0), Verdict::Allowed);
        assert_eq!(guard.admit(t0), Verdict::Allowed);
        assert_eq!(guard.admit(t0), Verdict::RateLimited);
        assert_eq!(guard.admit(t0), Verdict::RateLimited);
        assert_eq!(guard.muted_for(t0), None);
        assert_eq!(guard.admit(t0), Verdict::MutedNow(Duration::from_secs(60)));
        assert_eq!(
            guard.muted_for(t0 + ms(1)),
            Some(Duration::from_secs(60) - ms(1))
        );
        assert_eq!(
            guard.muted_for(t0 + Duration::from_secs(60)),
            None,
            "the mute ends"
        );
    }

    #[test]
    fn occasional_overruns_far_apart_never_mute() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(policy(), t0);
        let mut now = t0;
        for _ in 0..20 {
            // Spend the bucket and overrun once, then wait longer than the strike window.
            while guard.admit(now) == Verdict::Allowed {}
            now += Duration::from_secs(11);
        }
        assert_eq!(guard.muted_for(now), None);
    }

    #[test]
    fn strikes_while_muted_do_not_extend_the_mute() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(policy(), t0);
        for _ in 0..5 {
            guard.admit(t0);
        }
        assert!(guard.muted_for(t0).is_some());
        for _ in 0..100 {
            assert_eq!(guard.admit(t0 + ms(10)), Verdict::RateLimited);
        }
        assert_eq!(guard.muted_for(t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn rate_zero_turns_everything_off() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(
            FloodPolicy {
                rate: 0.0,
                ..policy()
            },
            t0,
        );
        for _ in 0..10_000 {
            assert_eq!(guard.admit(t0), Verdict::Allowed);
        }
        assert_eq!(guard.muted_for(t0), None);
    }
}
