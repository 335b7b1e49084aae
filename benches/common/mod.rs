//! What the benchmarks share: the user count, a small deterministic generator and Criterion's settings.

use std::time::Duration;

use criterion::Criterion;

/// 20 samples after 1 s of warm-up, over 3 s: enough on 2 cores, a few minutes for a whole bench.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// The number of users: `USERSTORE_BENCH_USERS` from the environment, else `default`.
pub fn users(default: usize) -> usize {
    std::env::var("USERSTORE_BENCH_USERS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a small, deterministic pseudo-random generator (no extra dependency).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
