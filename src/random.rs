//! The one random source: SplitMix64 (Steele, Lea and Flood, 2014), small, seedable, and the
//! same on every machine, for the sandbox's faults, the backoff's jitter and the tests that
//! corrupt inputs. Nothing here is for secrets.

use std::sync::atomic::{AtomicU64, Ordering};

/// The generator's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a well-mixed 64-bit value of `z`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit value as a number in `[0, 1)`.
fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A SplitMix64 sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        to_unit(self.next())
    }
}

/// A SplitMix64 sequence that threads share without a lock (each draw takes the next
/// value; which thread gets which is up to them).
#[derive(Debug)]
pub struct SharedSplitMix64(AtomicU64);

impl SharedSplitMix64 {
    /// A sequence seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SharedSplitMix64(AtomicU64::new(seed))
    }

    /// A number in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        let state = self
            .0
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        to_unit(mix(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_sequence() {
        // SplitMix64 seeded with 0 (the published reference values).
        let mut r = SplitMix64(0);
        assert_eq!(r.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next(), 0x6E78_9E6A_A1B9_65F4);
        let shared = SharedSplitMix64::new(0);
        assert_eq!(shared.unit(), to_unit(0xE220_A839_7B1D_CDAF));
        assert!((0..1000).all(|_| (0.0..1.0).contains(&r.unit())));
    }
}
