//! Injectable randomness for routing and balancing.
//!
//! Every random choice of the engine (weighted splits, P2C candidates,
//! random picks, jitter) draws from a [`MeshRng`] passed in by the caller,
//! so tests use a fixed seed and production a fast per-thread generator.
//! The generator is xoshiro256++ seeded through SplitMix64: not for
//! cryptography, fast and of good statistical quality.

use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};

/// A source of random numbers.
pub trait MeshRng {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A uniform value in `[0, bound)`; `bound` must be positive.
    fn below(&mut self, bound: u64) -> u64 {
        // Lemire's multiply-shift: unbiased enough for balancing (bias
        // below 2^-32 for bounds under 2^32).
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// xoshiro256++, seeded deterministically from a `u64`.
#[derive(Debug, Clone)]
pub struct SeededRng {
    s: [u64; 4],
}

impl SeededRng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// A generator seeded from the process's random hash keys.
    pub fn from_entropy() -> Self {
        Self::new(RandomState::new().hash_one(0u8))
    }
}

impl MeshRng for SeededRng {
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

thread_local! {
    static THREAD_RNG: RefCell<SeededRng> = RefCell::new(SeededRng::from_entropy());
}

/// The calling thread's generator, seeded from entropy: what the request
/// path uses when no generator is injected.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRng;

impl MeshRng for ThreadRng {
    fn next_u64(&mut self) -> u64 {
        THREAD_RNG.with(|r| r.borrow_mut().next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_differ_by_seed() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn below_is_uniform_enough() {
        let mut rng = SeededRng::new(1);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[rng.below(4) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}
