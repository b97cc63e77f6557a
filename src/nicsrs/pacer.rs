//! Pacing shared by every worker of a run: a calls-per-second limit, the pause that
//! follows a 429/503, and jittered exponential backoff.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Calls per second, the pause every worker observes after a 429/503, and the jitter of
/// their backoffs.
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
    paused_until: Mutex<Instant>,
    jitter: Jitter,
}

impl Pacer {
    /// A pacer allowing `rate` calls per second (unlimited when `None`).
    pub fn new(rate: Option<f64>) -> Self {
        let now = Instant::now();
        Pacer {
            interval: rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(now),
            paused_until: Mutex::new(now),
            jitter: Jitter::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
                    ^ u64::from(std::process::id()),
            ),
        }
    }

    /// Jittered exponential backoff: `base * 2^n`, times 0.5 to 1.5.
    pub fn backoff(&self, base: Duration, n: u32) -> Duration {
        self.jitter.backoff(base, n)
    }

    /// Waits until a call may start.
    pub async fn wait(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if until <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(until).await;
        }
        if let Some(interval) = self.interval {
            let slot = {
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                let slot = (*next).max(Instant::now());
                *next = slot + interval;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
    }

    /// Holds every call back for `d` (after a 429/503).
    pub fn pause(&self, d: Duration) {
        let mut until = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *until = (*until).max(Instant::now() + d);
    }
}

/// How a free call (a lookup, a collect, a product list) is tried again after a transient
/// failure: how many tries, and the jittered exponential wait before each retry; every try
/// waits for the pacer too, so a rate limit and a 429's pause hold for it.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all.
    pub tries: u32,
    /// The wait before the first retry, doubled for each one after.
    pub base: Duration,
}

impl Retry {
    /// The free calls of `refresh`, `products` and lookups outside `apply`.
    pub const FREE_CALL: Retry = Retry {
        tries: 5,
        base: Duration::from_millis(300),
    };

    /// The tries, numbered from 0.
    pub fn attempts(&self) -> std::ops::Range<u32> {
        0..self.tries
    }

    /// Waits before try `attempt`: the backoff (none before the first), then the pacer.
    pub async fn before(&self, attempt: u32, pacer: &Pacer) {
        if attempt > 0 {
            tokio::time::sleep(self.backoff(attempt, pacer)).await;
        }
        pacer.wait().await;
    }

    /// The jittered wait before try `attempt` (1 for the first retry): `base` doubled for
    /// each retry before it. Zero before the first try.
    pub fn backoff(&self, attempt: u32, pacer: &Pacer) -> Duration {
        match attempt {
            0 => Duration::ZERO,
            n => pacer.backoff(self.base, n - 1),
        }
    }
}

/// Jittered exponential backoff, so that retries of many workers do not arrive together.
pub struct Jitter {
    random: crate::random::SharedSplitMix64,
}

impl Jitter {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Jitter {
            random: crate::random::SharedSplitMix64::new(seed),
        }
    }

    /// `base * 2^n` (n capped at 10), times a factor between 0.5 and 1.5.
    pub fn backoff(&self, base: Duration, n: u32) -> Duration {
        let factor = 0.5 + self.random.unit();
        base.saturating_mul(1 << n.min(10)).mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter() {
        let j = Jitter::new(1);
        for n in 0..5 {
            let d = j.backoff(Duration::from_millis(100), n);
            let nominal = 100u64 << n;
            assert!(
                d >= Duration::from_millis(nominal / 2)
                    && d <= Duration::from_millis(nominal * 3 / 2),
                "{n}: {d:?}"
            );
        }
    }
}
