//! A tiny seeded PRNG (SplitMix64): the workload must be the same bytes on
//! every machine and every version, which no external generator promises.

/// SplitMix64 (Steele, Lea and Flood), good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One item, uniformly.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// One item with Zipf-like weights 1, 1/2, 1/3, ... so the first items
    /// dominate, as a few model types dominate real tracking servers.
    pub fn zipf<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let total: f64 = (1..=items.len()).map(|k| 1.0 / k as f64).sum();
        let mut x = self.unit() * total;
        for (k, item) in items.iter().enumerate() {
            x -= 1.0 / (k + 1) as f64;
            if x < 0.0 {
                return item;
            }
        }
        items[items.len() - 1]
    }

    /// Roughly normal noise with standard deviation `sd` (sum of uniforms).
    pub fn noise(&mut self, sd: f64) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        (sum - 2.0) * sd * 1.732
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_values_are_fixed() {
        // SplitMix64's published first output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn zipf_prefers_the_first_item() {
        let mut rng = Rng::new(7);
        let items = ["a", "b", "c", "d"];
        let firsts = (0..10_000).filter(|_| rng.zipf(&items) == "a").count();
        // Weight 1 / (1 + 1/2 + 1/3 + 1/4) = 0.48.
        assert!((4_500..5_100).contains(&firsts), "{firsts}");
    }
}
