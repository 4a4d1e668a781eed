//! A tiny seeded RNG (SplitMix64) for data generation: identical on every
//! platform, and cheap to fork per sample so that generated data does not
//! depend on the order samples are made in.

#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

/// SplitMix64's finaliser: a good 64-bit mix of one word.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed: a stable hash for names (held-out sets).
pub fn hash_str(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: mix(seed ^ 0x5851_f42d_4c95_7f2d),
        }
    }

    /// An independent stream for (seed, stream, index).
    pub fn fork(seed: u64, stream: u64, index: u64) -> Rng {
        Rng::new(
            mix(seed.wrapping_add(mix(stream.wrapping_mul(0x9e37_79b9))))
                ^ mix(index.wrapping_add(0x1234_5678)),
        )
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); n must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((self.next_u64() >> 1) % n as u64) as usize
    }

    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index skewed toward the front (popular entries first): `power` > 1
    /// skews harder.
    pub fn skewed(&mut self, n: usize, power: f64) -> usize {
        ((self.f64().powf(power) * n as f64) as usize).min(n - 1)
    }

    /// Index by weights (need not sum to 1).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A choice from `(weight, value)` pairs.
    pub fn pick_weighted<'a, T>(&mut self, items: &'a [(f64, T)]) -> &'a T {
        let weights: Vec<f64> = items.iter().map(|(w, _)| *w).collect();
        &items[self.weighted(&weights)].1
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::fork(1, 2, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::fork(1, 2, 3).next_u64(), Rng::fork(1, 2, 4).next_u64());
        assert_ne!(Rng::fork(1, 2, 3).next_u64(), Rng::fork(2, 2, 3).next_u64());
        let mut r = Rng::new(7);
        for _ in 0..1000 {
            assert!(r.below(5) < 5);
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
