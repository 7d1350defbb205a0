//! A fast seeded 64-bit hash for shingles and band keys.
//!
//! This is wyhash (final version 4): two 64-bit reads and one 128-bit multiply per 16 bytes,
//! which is several times faster than a cryptographic hash on the short strings (words and
//! word n-grams) that curation hashes millions of times. It is not collision resistant against
//! an adversary; exact duplicates are keyed by BLAKE3 instead, where that matters.

/// wyhash's default secret (odd, with balanced bits).
const SECRET: [u64; 4] = [0x2d35_8dcc_aa6c_78a5, 0x8bb8_4b93_962e_acc9, 0x4b33_a62e_d433_d4a3, 0x4d5a_2da5_1de1_aa47];

/// The 128-bit product of `a` and `b`, folded to 64 bits by xoring its halves.
#[inline(always)]
pub fn mix(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Mixes one 64-bit value into a running hash; used to combine values already hashed.
#[inline(always)]
pub fn combine(h: u64, v: u64) -> u64 {
    mix(h ^ v ^ SECRET[0], SECRET[1])
}

/// A well-mixed 64-bit function of `x`, to derive seeds and scramble structured keys.
#[inline]
pub fn mix64(x: u64) -> u64 {
    mix(x ^ SECRET[0], x ^ SECRET[1] ^ 0x9e37_79b9_7f4a_7c15)
}

#[inline(always)]
fn r8(p: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[i..i + 8]);
    u64::from_le_bytes(b)
}

#[inline(always)]
fn r4(p: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&p[i..i + 4]);
    u32::from_le_bytes(b) as u64
}

/// Hashes `bytes` with `seed` (wyhash v4).
#[inline]
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let p = bytes;
    let len = p.len();
    let mut seed = seed ^ mix(seed ^ SECRET[0], SECRET[1]);
    let (a, b);
    if len <= 16 {
        if len >= 4 {
            let q = (len >> 3) << 2;
            a = (r4(p, 0) << 32) | r4(p, q);
            b = (r4(p, len - 4) << 32) | r4(p, len - 4 - q);
        } else if len > 0 {
            a = ((p[0] as u64) << 16) | ((p[len >> 1] as u64) << 8) | p[len - 1] as u64;
            b = 0;
        } else {
            a = 0;
            b = 0;
        }
    } else {
        let mut i = len;
        let mut at = 0;
        if i >= 48 {
            let (mut see1, mut see2) = (seed, seed);
            while i >= 48 {
                seed = mix(r8(p, at) ^ SECRET[1], r8(p, at + 8) ^ seed);
                see1 = mix(r8(p, at + 16) ^ SECRET[2], r8(p, at + 24) ^ see1);
                see2 = mix(r8(p, at + 32) ^ SECRET[3], r8(p, at + 40) ^ see2);
                at += 48;
                i -= 48;
            }
            seed ^= see1 ^ see2;
        }
        while i > 16 {
            seed = mix(r8(p, at) ^ SECRET[1], r8(p, at + 8) ^ seed);
            i -= 16;
            at += 16;
        }
        // The last 16 bytes, which may overlap bytes already read: `len > 16` keeps this in range.
        a = r8(p, len - 16);
        b = r8(p, len - 8);
    }
    let r = ((a ^ SECRET[1]) as u128).wrapping_mul((b ^ seed) as u128);
    let (a, b) = (r as u64, (r >> 64) as u64);
    mix(a ^ SECRET[0] ^ len as u64, b ^ SECRET[1])
}

/// Hashes a string with `seed`.
#[inline]
pub fn hash_str(s: &str, seed: u64) -> u64 {
    hash_bytes(s.as_bytes(), seed)
}

/// A `Hasher` for keys that are already uniformly distributed hashes: it passes them through,
/// so hash maps keyed by shingle or band hashes do not hash twice.
#[derive(Default, Clone, Copy, Debug)]
pub struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys that are not integers; hash them properly rather than fail.
        self.0 = hash_bytes(bytes, self.0);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.0 ^= mix64(v as u64);
    }
}

/// Hash-map builder for [`PassThroughHasher`].
pub type PassThrough = std::hash::BuildHasherDefault<PassThroughHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_length_and_seed_gives_a_distinct_hash() {
        // Every prefix of a 200-byte text, under two seeds: a bug in the length branches
        // (ignored tail bytes, wrong offsets) shows up as collisions here.
        let text: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut seen = HashSet::new();
        for seed in [0u64, 1] {
            for n in 0..=text.len() {
                assert!(seen.insert(hash_bytes(&text[..n], seed)), "collision at len {n} seed {seed}");
            }
        }
        // Each single byte matters, wherever it is.
        for n in [1usize, 3, 4, 8, 15, 16, 17, 33, 47, 48, 49, 100, 200] {
            let base = hash_bytes(&text[..n], 9);
            for i in 0..n {
                let mut t = text[..n].to_vec();
                t[i] ^= 1;
                assert_ne!(hash_bytes(&t, 9), base, "flipping byte {i} of {n} did not change the hash");
            }
        }
    }

    #[test]
    fn output_bits_are_balanced() {
        // Avalanche: flipping one input bit flips about half the output bits.
        let mut total = 0u32;
        let mut count = 0u32;
        for k in 0..64u64 {
            let x = k.to_le_bytes();
            let h = hash_bytes(&x, 5);
            for bit in 0..64 {
                let y = (k ^ (1 << bit)).to_le_bytes();
                total += (hash_bytes(&y, 5) ^ h).count_ones();
                count += 1;
            }
        }
        let mean = total as f64 / count as f64;
        assert!((mean - 32.0).abs() < 1.0, "mean flipped bits {mean}");
    }
}
