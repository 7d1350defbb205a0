//! MinHash signatures: a fixed-size sketch of a text's shingle set whose agreement rate
//! estimates Jaccard similarity.
//!
//! Each shingle (word n-gram of the normalised text) is hashed once with the seeded
//! [`hash`](crate::hash) function, mixed and folded to a 32-bit key `x`. Permutation `i` is
//! then the multiply-add-shift map `x ↦ (a_i·x + b_i) mod 2⁶⁴ div 2³²` with random 64-bit
//! `a_i`, `b_i` derived from the seed, which is strongly universal from 32-bit keys to 32-bit
//! values (Dietzfelbinger, 1996), computed in 32-bit halves (one 32×32→64 and one 32-bit
//! multiply, which SIMD units have natively) in a loop over plain arrays that vectorises, with
//! an AVX2 version chosen at run time where the processor has it.
//! Two different shingles share a key with probability 2⁻³², far below the estimator's own
//! noise (a standard deviation of `√(J(1−J)/permutations)`).
//!
//! ```
//! use autodidact_curate::minhash::MinHasher;
//! let m = MinHasher::new(128, 1, 7);
//! let a = m.signature("alpha beta gamma delta");
//! let b = m.signature("Alpha, beta, gamma... delta!");
//! assert_eq!(a.jaccard(&b), 1.0);
//! ```

use crate::hash::{hash_bytes, hash_str, mix64};
use crate::normalize::Words;

/// Computes MinHash signatures with a fixed number of permutations, shingle size and seed.
#[derive(Clone, Debug)]
pub struct MinHasher {
    ngram: usize,
    seed: u64,
    a: Vec<u64>,
    /// The additive parameters (the tests' reference computes with them; runs use `halves`).
    #[cfg_attr(not(test), allow(dead_code))]
    b: Vec<u64>,
    /// `a` and `b` cut into 32-bit halves, for [`permute_min_split`].
    halves: Halves,
}

/// The permutations' parameters as four arrays of 32-bit halves.
#[derive(Clone, Debug, Default)]
struct Halves {
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    b_lo: Vec<u32>,
    b_hi: Vec<u32>,
}

impl Halves {
    fn new(a: &[u64], b: &[u64]) -> Self {
        Halves {
            a_lo: a.iter().map(|&v| v as u32).collect(),
            a_hi: a.iter().map(|&v| (v >> 32) as u32).collect(),
            b_lo: b.iter().map(|&v| v as u32).collect(),
            b_hi: b.iter().map(|&v| (v >> 32) as u32).collect(),
        }
    }
}

/// The MinHash signature of one text: for each permutation, the minimum permuted shingle hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    values: Vec<u32>,
    empty: bool,
}

impl MinHasher {
    /// A hasher with `permutations` permutations over word `ngram`-grams; the same arguments
    /// always give the same signatures. `ngram` 0 is taken as 1.
    pub fn new(permutations: usize, ngram: usize, seed: u64) -> Self {
        let mut a = Vec::with_capacity(permutations);
        let mut b = Vec::with_capacity(permutations);
        // splitmix64-style stream: consecutive counters through a strong mixer give
        // independent-looking parameters for every permutation.
        let mut state = mix64(seed ^ 0x6d69_6e68_6173_6821);
        for _ in 0..permutations {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            a.push(mix64(state));
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            b.push(mix64(state));
        }
        let halves = Halves::new(&a, &b);
        MinHasher { ngram: ngram.max(1), seed, a, b, halves }
    }

    /// The number of permutations (the signature length).
    pub fn permutations(&self) -> usize {
        self.a.len()
    }

    /// The shingle size in words.
    pub fn ngram(&self) -> usize {
        self.ngram
    }

    /// The 64-bit hash of one shingle, as [`MinHasher::signature`] computes it.
    #[inline]
    pub fn shingle_hash(&self, shingle: &str) -> u64 {
        hash_str(shingle, self.seed)
    }

    /// The signature of `text` (normalised and shingled into word n-grams; see
    /// [`Words::shingles`] for texts shorter than the shingle size).
    pub fn signature(&self, text: &str) -> Signature {
        self.signature_of_words(&Words::new(text))
    }

    /// The signature of an already normalised text.
    pub fn signature_of_words(&self, words: &Words) -> Signature {
        // What `signature_of_hashes(words.shingles(n).map(shingle_hash))` computes, straight
        // from the word spans: no iterator of string slices in between.
        let (text, spans, n) = (words.as_str().as_bytes(), words.spans(), self.ngram);
        let mut keys = Vec::with_capacity(spans.len());
        if !spans.is_empty() && spans.len() < n {
            keys.push(self.key(hash_bytes(text, self.seed)));
        } else {
            for w in spans.windows(n) {
                let (start, end) = (w[0].0 as usize, w[n - 1].1 as usize);
                keys.push(self.key(hash_bytes(&text[start..end], self.seed)));
            }
        }
        self.signature_of_keys(keys)
    }

    /// The 32-bit key of a shingle's hash: mixed first, see [`signature_of_hashes`](Self::signature_of_hashes).
    #[inline(always)]
    fn key(&self, h: u64) -> u32 {
        let m = mix64(h ^ self.seed);
        (m ^ (m >> 32)) as u32
    }

    fn signature_of_keys(&self, keys: Vec<u32>) -> Signature {
        let mut values = vec![u32::MAX; self.a.len()];
        permute_min(&mut values, &self.halves, &keys);
        Signature { values, empty: keys.is_empty() }
    }

    /// The signature of a set of shingles given by 64-bit values, any values (they are mixed
    /// first), repeats being harmless.
    pub fn signature_of_hashes(&self, hashes: impl IntoIterator<Item = u64>) -> Signature {
        // Multiply-add-shift is only as good as its keys are random: on structured keys
        // (consecutive integers, hashes of a weak function) the permutations' minima become
        // correlated and the estimates biased. One mix per shingle (against one multiply per
        // shingle and permutation) makes any input safe.
        let keys: Vec<u32> = hashes.into_iter().map(|h| self.key(h)).collect();
        self.signature_of_keys(keys)
    }
}

/// Folds every key through every permutation into the running minima.
fn permute_min(values: &mut [u32], h: &Halves, keys: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { permute_min_avx2(values, h, keys) };
        return;
    }
    permute_min_split(values, h, keys);
}

/// [`permute_min_split`] written in AVX2, bit for bit the same: 8 permutations per register,
/// whose minima stay in it through all the keys. The 32×32→64 multiply (`vpmuludq`) takes
/// the even lanes; the odd ones, shifted down, take a second; a blend puts both high halves
/// back in place without crossing lanes (the compiler's own vectorisation of the portable
/// loop shuffled and spilled, at about twice the time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn permute_min_avx2(values: &mut [u32], h: &Halves, keys: &[u32]) {
    use std::arch::x86_64::*;
    const LANES: usize = 8;
    let n = values.len();
    let (a_lo, a_hi, b_lo, b_hi) = (&h.a_lo[..n], &h.a_hi[..n], &h.b_lo[..n], &h.b_hi[..n]);
    let blocks = n / LANES * LANES;
    let load = |v: &[u32], at: usize| -> __m256i {
        let block: &[u32; LANES] = v[at..at + LANES].try_into().expect("a block");
        // SAFETY: `block` is 8 readable u32s; an unaligned load reads exactly those.
        unsafe { _mm256_loadu_si256(block.as_ptr().cast()) }
    };
    for start in (0..blocks).step_by(LANES) {
        let alo = load(a_lo, start);
        let alo_odd = _mm256_srli_epi64::<32>(alo);
        let blo = load(b_lo, start);
        let blo_even = _mm256_and_si256(blo, _mm256_set1_epi64x(0xffff_ffff));
        let blo_odd = _mm256_srli_epi64::<32>(blo);
        let (ahi, bhi) = (load(a_hi, start), load(b_hi, start));
        let mut acc = load(values, start);
        for &x in keys {
            let xv = _mm256_set1_epi32(x as i32);
            let even = _mm256_add_epi64(_mm256_mul_epu32(alo, xv), blo_even);
            let odd = _mm256_add_epi64(_mm256_mul_epu32(alo_odd, xv), blo_odd);
            let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let p = _mm256_add_epi32(_mm256_add_epi32(high, _mm256_mullo_epi32(ahi, xv)), bhi);
            acc = _mm256_min_epu32(acc, p);
        }
        let out: &mut [u32; LANES] = (&mut values[start..start + LANES]).try_into().expect("a block");
        // SAFETY: `out` is 8 writable u32s; an unaligned store writes exactly those.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), acc) };
    }
    for &x in keys {
        for i in blocks..n {
            values[i] = values[i].min(permuted(a_lo[i], a_hi[i], b_lo[i], b_hi[i], x));
        }
    }
}

/// [`permute_min_portable`] in 32-bit halves, bit for bit the same. With `a = a_hi·2³² + a_lo`
/// and `b` likewise, `t = a_lo·x + b_lo` fits in 64 bits, and
/// `(a·x + b) mod 2⁶⁴ div 2³² = (t div 2³² + a_hi·x + b_hi) mod 2³²`: one 32×32→64 multiply
/// (which SIMD units have, unlike a 64-bit one) and one 32-bit multiply per permutation.
#[inline(always)]
fn permute_min_split(values: &mut [u32], h: &Halves, keys: &[u32]) {
    const LANES: usize = 16;
    let n = values.len();
    let (a_lo, a_hi, b_lo, b_hi) = (&h.a_lo[..n], &h.a_hi[..n], &h.b_lo[..n], &h.b_hi[..n]);
    // Blocks of 16 permutations whose minima stay in registers through all the keys (the
    // other order loads and stores every minimum once per key).
    let mut start = 0;
    while start + LANES <= n {
        let block = |v: &[u32]| -> [u32; LANES] { v[start..start + LANES].try_into().expect("a block") };
        let (alo, ahi, blo, bhi) = (block(a_lo), block(a_hi), block(b_lo), block(b_hi));
        let mut acc = block(values);
        for &x in keys {
            for l in 0..LANES {
                acc[l] = acc[l].min(permuted(alo[l], ahi[l], blo[l], bhi[l], x));
            }
        }
        values[start..start + LANES].copy_from_slice(&acc);
        start += LANES;
    }
    for &x in keys {
        for i in start..n {
            values[i] = values[i].min(permuted(a_lo[i], a_hi[i], b_lo[i], b_hi[i], x));
        }
    }
}

/// One permutation of one key in 32-bit halves (see [`permute_min_split`]).
#[inline(always)]
fn permuted(a_lo: u32, a_hi: u32, b_lo: u32, b_hi: u32, x: u32) -> u32 {
    let t = (a_lo as u64) * (x as u64) + b_lo as u64;
    ((t >> 32) as u32).wrapping_add(a_hi.wrapping_mul(x)).wrapping_add(b_hi)
}

/// The definition: `(a·x + b) mod 2⁶⁴ div 2³²`, on 64-bit parameters (the tests' reference).
#[cfg(test)]
fn permute_min_portable(values: &mut [u32], a: &[u64], b: &[u64], keys: &[u32]) {
    for &x in keys {
        let x = x as u64;
        for ((v, &a), &b) in values.iter_mut().zip(a).zip(b) {
            let p = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
            *v = (*v).min(p);
        }
    }
}

impl Signature {
    /// A signature of a non-empty text from its stored values (as [`as_slice`](Self::as_slice)
    /// gave them).
    pub fn from_values(values: Vec<u32>) -> Self {
        Signature { values, empty: false }
    }

    /// The per-permutation minima.
    pub fn as_slice(&self) -> &[u32] {
        &self.values
    }

    /// The number of permutations.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the text had no shingles (no words); such a signature matches nothing but
    /// another empty one.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// The estimated Jaccard similarity of the two texts' shingle sets: the share of
    /// permutations on which the minima agree. Both signatures must come from the same
    /// [`MinHasher`]; two empty texts are identical (1.0), an empty and a non-empty one
    /// share nothing (0.0).
    pub fn jaccard(&self, other: &Signature) -> f64 {
        if self.empty || other.empty {
            return if self.empty && other.empty { 1.0 } else { 0.0 };
        }
        jaccard_slices(&self.values, &other.values)
    }
}

/// The share of positions where two signatures agree (over the shorter length; 0 when empty).
#[inline]
pub fn jaccard_slices(a: &[u32], b: &[u32]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two word sets over a shared vocabulary with exactly `common` words in common and
    /// `only` words in each alone: true Jaccard = common / (common + 2·only).
    fn pair(common: usize, only: usize, salt: usize) -> (String, String) {
        let w = |i: usize| format!("w{salt}x{i}");
        let shared: Vec<String> = (0..common).map(w).collect();
        let a: Vec<String> = shared.iter().cloned().chain((0..only).map(|i| w(1_000_000 + i))).collect();
        let b: Vec<String> = shared.iter().cloned().chain((0..only).map(|i| w(2_000_000 + i))).collect();
        (a.join(" "), b.join(" "))
    }

    #[test]
    fn jaccard_estimates_are_within_statistical_bounds() {
        // (common, only) → true Jaccard 1.0, 0.8, 0.5, 0.2, 0.0.
        let cases = [(100usize, 0usize), (80, 10), (100, 50), (40, 80), (0, 60)];
        let perms = 128;
        for (common, only) in cases {
            let truth = common as f64 / (common + 2 * only) as f64;
            let mut sum = 0.0;
            let trials = 30;
            for t in 0..trials {
                let (a, b) = pair(common, only, t);
                let m = MinHasher::new(perms, 1, 1000 + t as u64);
                let est = m.signature(&a).jaccard(&m.signature(&b));
                // One estimate is Binomial(128, J)/128: its standard deviation is at most 0.044,
                // so ±0.2 is more than 4.5 sigma.
                assert!((est - truth).abs() <= 0.2, "J={truth}: estimate {est} (trial {t})");
                sum += est;
            }
            let mean = sum / trials as f64;
            // The mean of 30 estimates has a standard deviation of at most 0.008.
            assert!((mean - truth).abs() <= 0.04, "J={truth}: mean estimate {mean}");
        }
    }

    #[test]
    fn estimates_are_unbiased_across_permutation_seeds() {
        // One pair, many seeds: a permutation family with correlated permutations shows up as
        // a variance far above the binomial one.
        let (a, b) = pair(100, 50, 0);
        let truth = 0.5;
        let trials = 200;
        let ests: Vec<f64> = (0..trials)
            .map(|t| {
                let m = MinHasher::new(64, 1, t);
                m.signature(&a).jaccard(&m.signature(&b))
            })
            .collect();
        let mean = ests.iter().sum::<f64>() / trials as f64;
        let var = ests.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (trials - 1) as f64;
        let binomial = truth * (1.0 - truth) / 64.0;
        assert!((mean - truth).abs() < 0.02, "mean {mean}");
        assert!(var < 1.5 * binomial && var > 0.5 * binomial, "variance {var} vs binomial {binomial}");
    }

    #[test]
    fn the_dispatched_kernel_equals_the_portable_one() {
        let m = MinHasher::new(100, 1, 9);
        let mut keys: Vec<u32> = (0..500u64).map(|i| mix64(i) as u32).collect();
        keys.extend([0, 1, u32::MAX, u32::MAX - 1, 1 << 31]);
        let mut fast = vec![u32::MAX; 100];
        let mut portable = vec![u32::MAX; 100];
        permute_min(&mut fast, &m.halves, &keys);
        permute_min_portable(&mut portable, &m.a, &m.b, &keys);
        assert_eq!(fast, portable);
        assert!(fast.iter().all(|&v| v < u32::MAX / 16), "500 keys give small minima");
        // Key by key, where the minima are not yet small: every single value agrees.
        for &x in &keys {
            let (mut one, mut reference) = (vec![u32::MAX; 100], vec![u32::MAX; 100]);
            permute_min_split(&mut one, &m.halves, &[x]);
            permute_min_portable(&mut reference, &m.a, &m.b, &[x]);
            assert_eq!(one, reference, "key {x}");
            let mut dispatched = vec![u32::MAX; 100];
            permute_min(&mut dispatched, &m.halves, &[x]);
            assert_eq!(dispatched, reference, "key {x}, dispatched");
        }
    }

    #[test]
    fn signatures_from_spans_are_those_of_the_shingles() {
        for (n, text) in [(5, "one two three four five six seven"), (5, "two words"), (1, "a b a"), (3, "x y z"), (2, "")] {
            let m = MinHasher::new(64, n, 3);
            let w = Words::new(text);
            let generic = m.signature_of_hashes(w.shingles(n).map(|s| m.shingle_hash(s)));
            assert_eq!(m.signature_of_words(&w), generic, "{n} {text:?}");
        }
    }

    #[test]
    fn signatures_depend_on_text_shingles_and_seed_only() {
        let m = MinHasher::new(32, 2, 1);
        let s = m.signature("one two three four");
        assert_eq!(s, MinHasher::new(32, 2, 1).signature("ONE two, three four."));
        assert_ne!(s, MinHasher::new(32, 2, 2).signature("one two three four"));
        // Word order matters through the bigrams.
        assert!(s.jaccard(&m.signature("four three two one")) < 0.2);
        assert_eq!(s.len(), 32);
        assert!(!s.is_empty());
        let e = m.signature(" ?! ");
        assert!(e.is_empty());
        assert_eq!(e.jaccard(&s), 0.0);
        assert_eq!(e.jaccard(&m.signature("")), 1.0);
    }
}
