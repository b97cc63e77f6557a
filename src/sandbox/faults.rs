//! Injected faults and latency, drawn from a seeded generator so that runs repeat.

use std::sync::Mutex;
use std::time::Duration;

use crate::duration::parse_duration;

/// How long the sandbox waits before answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Always this long.
    Fixed(Duration),
    /// Uniformly between the two.
    Range(Duration, Duration),
}

impl std::str::FromStr for Latency {
    type Err = String;

    /// `50ms`, `2s`, `0`, or a range `20ms..200ms`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once("..") {
            Some((lo, hi)) => {
                let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
                if lo > hi {
                    return Err(format!("`{s}`: the range runs backwards"));
                }
                Ok(Latency::Range(lo, hi))
            }
            None => parse_duration(s).map(Latency::Fixed),
        }
    }
}

/// Parses a probability between 0 and 1.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}

/// The faults a sandbox injects; each rate is a probability per request.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Delay before every answer.
    pub latency: Option<Latency>,
    /// HTTP 500 before anything is stored.
    pub fail_rate: f64,
    /// The order is stored, then the connection is closed without a reply.
    pub drop_rate: f64,
    /// The order is stored, then the reply is never sent.
    pub timeout_rate: f64,
    /// HTTP 429 with `Retry-After`, before anything is stored.
    pub throttle_rate: f64,
    /// The order is stored, then code -2 (unknown error) is answered.
    pub unknown_rate: f64,
    /// Paid orders accepted before code -4 (insufficient credit).
    pub credit: Option<u64>,
    /// Once the credit has run out, answer -2 (unknown error) instead of -4, storing
    /// nothing, as one client saw the live API do for an empty balance.
    pub out_of_credit_unknown: bool,
    /// Every paid call (place, renew, reissue, replace) stores its order and is then never
    /// answered: a client killed then is certainly killed in the middle of a call.
    pub hold_paid: bool,
}

/// What happens to one request, decided when it arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fate {
    /// Delay before answering.
    pub delay: Duration,
    /// Answer 429.
    pub throttle: bool,
    /// Answer 500.
    pub fail: bool,
    /// After storing, answer -2.
    pub unknown: bool,
    /// After storing, close the connection.
    pub drop: bool,
    /// After storing, never answer.
    pub timeout: bool,
}

/// A seeded SplitMix64 generator behind a lock: the same seed and the same order of
/// requests give the same faults.
#[derive(Debug)]
pub struct Dice {
    state: Mutex<crate::random::SplitMix64>,
}

impl Dice {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Dice {
            state: Mutex::new(crate::random::SplitMix64(seed)),
        }
    }

    /// Draws the fate of one request: always the same number of draws, in the same order.
    pub fn roll(&self, faults: &Faults) -> Fate {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut unit = || state.unit();
        let delay = match faults.latency {
            None => Duration::ZERO,
            Some(Latency::Fixed(d)) => d,
            Some(Latency::Range(lo, hi)) => lo + (hi - lo).mul_f64(unit()),
        };
        Fate {
            delay,
            throttle: unit() < faults.throttle_rate,
            fail: unit() < faults.fail_rate,
            unknown: unit() < faults.unknown_rate,
            drop: unit() < faults.drop_rate,
            timeout: unit() < faults.timeout_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_latencies_and_rates_parse() {
        assert_eq!(
            "20ms..200ms".parse::<Latency>(),
            Ok(Latency::Range(
                Duration::from_millis(20),
                Duration::from_millis(200)
            ))
        );
        assert!("2s..1s".parse::<Latency>().is_err());
        assert_eq!(parse_rate("0.2"), Ok(0.2));
        assert!(parse_rate("1.5").is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let faults = Faults {
            drop_rate: 0.5,
            fail_rate: 0.3,
            latency: Some(Latency::Range(Duration::ZERO, Duration::from_millis(100))),
            ..Faults::default()
        };
        let a: Vec<Fate> = (0..50)
            .map(|_| Dice::new(7))
            .map(|d| d.roll(&faults))
            .collect();
        let (x, y) = (Dice::new(7), Dice::new(7));
        let run = |d: &Dice| (0..200).map(|_| d.roll(&faults)).collect::<Vec<_>>();
        assert_eq!(run(&x), run(&y));
        assert!(a.iter().all(|f| *f == a[0]));
        let drops = run(&Dice::new(1)).iter().filter(|f| f.drop).count();
        assert!(
            (60..140).contains(&drops),
            "about half of 200 dropped: {drops}"
        );
    }
}
