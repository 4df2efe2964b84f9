//! A tiny seeded pseudo-random generator (SplitMix64) and the few draws the payloads need.
//!
//! Our own ~40 lines rather than `rand`: the sequence for a seed can then never change with a
//! dependency upgrade, so a run recorded with `--seed 42` replays the same bodies later.
//! Not cryptographic, and it need not be.

/// SplitMix64 (Steele, Lea, Flood 2014): one `u64` of state, passes BigCrush, and any seed
/// (zero included) is fine.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    /// An independent stream for `seed` and a path of integers (a domain tag, then indexes):
    /// body `k` gets its own stream, so bodies are reproducible one by one, whatever order the
    /// connections happen to claim them in.
    pub fn stream(seed: u64, path: &[u64]) -> Self {
        let mut state = mix(seed.wrapping_add(GOLDEN_GAMMA));
        for part in path {
            state = mix(state ^ mix(part.wrapping_add(GOLDEN_GAMMA)));
        }
        Self(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is ~n/2^64, irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One item of a weighted table `[(item, weight)]`.
    pub fn pick<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let total: u64 = table.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut ticket = self.below(total);
        for (item, weight) in table {
            let weight = u64::from(*weight);
            if ticket < weight {
                return *item;
            }
            ticket -= weight;
        }
        unreachable!("ticket is below the total weight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_path_give_the_same_sequence() {
        let mut a = SplitMix64::stream(42, &[1, 7]);
        let mut b = SplitMix64::stream(42, &[1, 7]);
        let a: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let b: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn neighbouring_paths_give_different_streams() {
        let first = SplitMix64::stream(42, &[1, 7]).next_u64();
        assert_ne!(first, SplitMix64::stream(42, &[1, 8]).next_u64());
        assert_ne!(first, SplitMix64::stream(43, &[1, 7]).next_u64());
        assert_ne!(first, SplitMix64::stream(42, &[7, 1]).next_u64());
    }

    #[test]
    fn weighted_picks_follow_their_weights_roughly() {
        let mut rng = SplitMix64::stream(1, &[]);
        let table = [("often", 70), ("rarely", 30)];
        let often = (0..10_000).filter(|_| rng.pick(&table) == "often").count();
        assert!((6_500..7_500).contains(&often), "{often} of 10000");
    }

    #[test]
    fn between_stays_inside_its_inclusive_bounds_and_reaches_both() {
        let mut rng = SplitMix64::stream(9, &[]);
        let draws: Vec<u64> = (0..2_000).map(|_| rng.between(3, 6)).collect();
        assert!(draws.iter().all(|d| (3..=6).contains(d)));
        assert!(draws.contains(&3) && draws.contains(&6));
    }
}
