//! Transfer speed over the last few seconds, from samples of bytes done: a pure value fed
//! with the caller's clock, so the numbers a progress bar shows are testable.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the speed looks.
const WINDOW: Duration = Duration::from_secs(3);

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    /// Over the last few seconds; 0 until two samples are apart in time.
    pub bytes_per_sec: f64,
}

impl Progress {
    /// Whole percent done (100 for an empty file).
    pub fn percent(&self) -> u8 {
        if self.total == 0 {
            return 100;
        }
        u8::try_from(self.done.min(self.total) * 100 / self.total).unwrap_or(100)
    }
}

/// Samples of (time, bytes done) within the window.
#[derive(Debug, Default)]
pub struct Meter {
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    pub fn new() -> Meter {
        Meter::default()
    }

    /// Records `done` at `now` and reports. A `done` lower than before (a restart from the
    /// server's offset) starts the window again.
    pub fn sample(&mut self, now: Instant, done: u64, total: u64) -> Progress {
        if self.samples.back().is_some_and(|&(_, d)| d > done) {
            self.samples.clear();
        }
        self.samples.push_back((now, done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|&(t, _)| now.saturating_duration_since(t) > WINDOW)
        {
            self.samples.pop_front();
        }
        let bytes_per_sec = match self.samples.front() {
            Some(&(t0, d0)) if now > t0 => (done - d0) as f64 / (now - t0).as_secs_f64(),
            _ => 0.0,
        };
        Progress {
            done,
            total,
            bytes_per_sec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_measured_over_the_recent_window() {
        let t0 = Instant::now();
        let mut m = Meter::new();
        assert_eq!(m.sample(t0, 0, 1000).bytes_per_sec, 0.0);
        let p = m.sample(t0 + Duration::from_secs(1), 100, 1000);
        assert_eq!((p.bytes_per_sec, p.percent()), (100.0, 10));
        // A stall shows as a falling speed once the window slides past the fast part.
        m.sample(t0 + Duration::from_secs(2), 200, 1000);
        let p = m.sample(t0 + Duration::from_secs(10), 200, 1000);
        assert!(p.bytes_per_sec < 20.0, "{p:?}");
        // Going back (a resume from the server's offset) restarts the window.
        let p = m.sample(t0 + Duration::from_secs(11), 150, 1000);
        assert_eq!(p.bytes_per_sec, 0.0);
        assert_eq!(
            Progress {
                done: 0,
                total: 0,
                bytes_per_sec: 0.0
            }
            .percent(),
            100
        );
    }
}
