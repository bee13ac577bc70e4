//! Seeded randomness: one ChaCha8 stream per scenario part, derived from the run's seed and a
//! name, so adding an attack or a sensor does not reshuffle the others' traffic.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A stream for `name` under `seed` (FNV-1a of the name mixed into the seed by SplitMix64).
pub fn derive(seed: u64, name: &str) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(splitmix(seed ^ splitmix(h)))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws used by the simulator.
pub trait Rand {
    /// Uniform in `0..n` (`n` > 0; 0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64;
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64;
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64;
    /// A new independent stream seeded from this one.
    fn fork(&mut self) -> ChaCha8Rng;
    /// 32 random bits.
    fn next_u32(&mut self) -> u32;
    /// Appends `n` random bytes to `out`.
    fn extend_bytes(&mut self, out: &mut Vec<u8>, n: usize);
}

impl Rand for ChaCha8Rng {
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the bias (< n / 2^64) is irrelevant at our ranges.
        ((u128::from(RngCore::next_u64(self)) * u128::from(n)) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (RngCore::next_u64(self) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn fork(&mut self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(RngCore::next_u64(self))
    }
    fn next_u32(&mut self) -> u32 {
        RngCore::next_u32(self)
    }
    fn extend_bytes(&mut self, out: &mut Vec<u8>, n: usize) {
        let start = out.len();
        out.resize(start + n, 0);
        RngCore::fill_bytes(self, &mut out[start..]);
    }
}
