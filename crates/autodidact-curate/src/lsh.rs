//! Locality-sensitive hashing by banding: finds the pairs of MinHash signatures likely to be
//! similar without comparing every pair.
//!
//! A signature of `bands × rows` values is cut into `bands` bands of `rows` consecutive values;
//! two texts are candidates when all the values of at least one band agree. For texts of
//! Jaccard similarity `s` that happens with probability `1 − (1 − sʳ)ᵇ`
//! ([`catch_probability`]), an S-curve whose steep part sits near `(1/b)^(1/r)`.
//! Candidates are then verified on the full signature, so banding decides only the cost and
//! the chance of missing a pair, never a false match.
//!
//! ```
//! use autodidact_curate::{lsh::{LshIndex, optimal_params}, minhash::MinHasher};
//! let (bands, rows) = optimal_params(0.8, 128);
//! let m = MinHasher::new(128, 1, 0);
//! let mut index = LshIndex::new(bands, rows, 128);
//! let first = index.insert(&m.signature("a b c d e f g h i j"));
//! let hit = index.query(&m.signature("a b c d e f g h i j k"), 0.8);
//! assert_eq!(hit.map(|(item, _)| item), Some(first));
//! ```

use rayon::prelude::*;

use crate::hash::combine;
use crate::minhash::{Signature, jaccard_slices};

/// Marks the end of a bucket's chain.
const NONE: u32 = u32::MAX;

/// A banded LSH index over signatures, which it stores for verification.
///
/// Items are numbered `0, 1, 2, …` in insertion order. Each band is a hash table from the
/// band's key to the newest item in that bucket plus, per item, a link to the previous item of
/// the same bucket: one 8-byte slot per bucket (at most half full) and four bytes per item and
/// band, and no allocation per bucket.
/// Bands are independent, so a batch of items is inserted into all of them at once, one band
/// per thread ([`insert_many`](Self::insert_many)); the result does not depend on the threads.
#[derive(Clone, Debug)]
pub struct LshIndex {
    bands: usize,
    rows: usize,
    stride: usize,
    tables: Vec<Band>,
    signatures: Vec<u32>,
    len: u32,
}

/// One band: the newest item of each bucket, and per item the previous item of its bucket.
///
/// Written by hand rather than a `HashMap<u64, u32>`: at a million items per band every
/// lookup is a cache miss, and here a bucket is one 8-byte slot (a 32-bit fingerprint of the
/// band's key and the newest item), found with one miss instead of two (control bytes and
/// entry) in half the memory, and slots can be prefetched a batch ahead. Two keys with the
/// same fingerprint share a bucket: their items become each other's candidates, which
/// verification on the full signature then rejects, so that costs a comparison, never a
/// wrong match (about `n² / 2³³` such pairs for `n` items per band).
#[derive(Clone, Debug, Default)]
struct Band {
    /// Open addressing, linear probing, at most half full; `0` is an empty slot, else
    /// `fingerprint << 32 | newest item`.
    slots: Vec<u64>,
    /// Buckets in use.
    used: usize,
    links: Vec<u32>,
}

/// The fingerprint of a band key: its high 32 bits, never 0 (0 marks an empty slot).
#[inline]
fn fingerprint(key: u64) -> u32 {
    (key >> 32) as u32 | 1
}

impl Band {
    /// The slot of a fingerprint's bucket: where it is, or the empty slot where it goes.
    #[inline]
    fn find(&self, fp: u32) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = fp as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 || (s >> 32) as u32 == fp {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The newest item of the bucket `key`.
    #[inline]
    fn head(&self, key: u64) -> u32 {
        if self.slots.is_empty() {
            return NONE;
        }
        match self.slots[self.find(fingerprint(key))] {
            0 => NONE,
            s => s as u32,
        }
    }

    /// Asks the memory for the slot where `key`'s bucket starts, ahead of its use.
    #[inline]
    fn prefetch(&self, key: u64) {
        if self.slots.is_empty() {
            return;
        }
        let i = fingerprint(key) as usize & (self.slots.len() - 1);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint that never faults, and the address is inside `slots`.
        unsafe {
            std::arch::x86_64::_mm_prefetch(self.slots.as_ptr().add(i).cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Makes room for `additional` more buckets, keeping the table at most half full.
    fn reserve(&mut self, additional: usize) {
        let need = (self.used + additional).saturating_mul(2).max(16).next_power_of_two();
        if need <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![0; need]);
        advise_huge_pages(&self.slots);
        for s in old.into_iter().filter(|&s| s != 0) {
            let i = self.find((s >> 32) as u32);
            self.slots[i] = s;
        }
    }

    /// Makes `item` the newest of the bucket `key`.
    #[inline]
    fn insert(&mut self, key: u64, item: u32) {
        if (self.used + 1) * 2 > self.slots.len() {
            self.reserve(self.used.max(8));
        }
        let fp = fingerprint(key);
        let i = self.find(fp);
        let prev = match self.slots[i] {
            0 => {
                self.used += 1;
                NONE
            }
            s => s as u32,
        };
        self.slots[i] = u64::from(fp) << 32 | u64::from(item);
        self.links.push(prev);
    }

    fn clear(&mut self) {
        self.slots.fill(0);
        self.used = 0;
        self.links.clear();
    }
}

/// Asks Linux to back a large, long-lived buffer (a band's slots, the stored signatures)
/// with 2 MiB pages where transparent huge pages are on request (`madvise`, a common default):
/// at a million items these buffers are hundreds of MiB touched at random, and faulting them
/// in 4 KiB pages cost a tenth of the run. Only the whole huge pages inside the buffer are
/// advised; elsewhere, or when refused, nothing changes.
fn advise_huge_pages<T>(buffer: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = buffer.capacity() * std::mem::size_of::<T>();
    if bytes < 4 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = buffer.as_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: madvise with MADV_HUGEPAGE only changes how the kernel backs pages of
            // this process's own allocation (whole pages inside `buffer`), never their contents.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// How many items ahead of its insertion a bucket's slot is prefetched.
const PREFETCH_AHEAD: usize = 16;

/// Below this many items a batch is inserted band after band on the calling thread.
const PARALLEL_INSERT: usize = 256;

impl LshIndex {
    /// An empty index of `bands` bands of `rows` values, for signatures of `permutations`
    /// values (`bands × rows ≤ permutations`; values past the bands are only used to verify).
    /// Zero bands or rows are taken as one.
    pub fn new(bands: usize, rows: usize, permutations: usize) -> Self {
        let bands = bands.max(1);
        let rows = rows.max(1);
        LshIndex {
            bands,
            rows,
            stride: permutations.max(bands * rows),
            tables: vec![Band::default(); bands],
            signatures: Vec::new(),
            len: 0,
        }
    }

    /// The number of bands.
    pub fn bands(&self) -> usize {
        self.bands
    }

    /// The number of rows per band.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the index holds no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key of band `band` of a signature: a hash of its values, seeded by the band number
    /// so that equal values in different bands do not share buckets.
    #[inline]
    fn band_key(&self, values: &[u32], band: usize) -> u64 {
        band_key(values, band, self.rows)
    }

    /// Removes every item, keeping the memory for the next ones.
    pub fn clear(&mut self) {
        for t in &mut self.tables {
            t.clear();
        }
        self.signatures.clear();
        self.len = 0;
    }

    /// Makes room for `additional` more items without growing the tables on the way.
    pub fn reserve(&mut self, additional: usize) {
        for t in &mut self.tables {
            t.reserve(additional);
            t.links.reserve(additional);
        }
        self.signatures.reserve(additional.saturating_mul(self.stride));
        advise_huge_pages(&self.signatures);
    }

    /// Adds a signature and returns its item number.
    pub fn insert(&mut self, signature: &Signature) -> u32 {
        self.insert_values(signature.as_slice())
    }

    /// Adds a signature given as its values (shorter ones are padded with `u32::MAX`, longer
    /// ones cut to the index's stride).
    pub fn insert_values(&mut self, values: &[u32]) -> u32 {
        let item = self.len;
        let rows = self.rows;
        for (band, t) in self.tables.iter_mut().enumerate() {
            t.insert(band_key(values, band, rows), item);
        }
        self.store(values);
        item
    }

    /// Adds signatures given as their values, in order (the same index as inserting them one
    /// by one), and returns the item number of the first.
    pub fn insert_many(&mut self, items: &[&[u32]]) -> u32 {
        let first = self.len;
        let rows = self.rows;
        let fill = |(band, t): (usize, &mut Band)| {
            t.reserve(items.len());
            t.links.reserve(items.len());
            let keys: Vec<u64> = items.iter().map(|values| band_key(values, band, rows)).collect();
            for (k, &key) in keys.iter().enumerate() {
                if let Some(&ahead) = keys.get(k + PREFETCH_AHEAD) {
                    t.prefetch(ahead);
                }
                t.insert(key, first + k as u32);
            }
        };
        if items.len() < PARALLEL_INSERT {
            self.tables.iter_mut().enumerate().for_each(fill);
        } else {
            self.tables.par_iter_mut().enumerate().for_each(fill);
        }
        self.signatures.reserve(items.len() * self.stride);
        for values in items {
            self.store(values);
        }
        first
    }

    /// Stores an item's values for verification, padded or cut to the stride.
    fn store(&mut self, values: &[u32]) {
        let take = values.len().min(self.stride);
        self.signatures.extend_from_slice(&values[..take]);
        self.signatures.extend(std::iter::repeat_n(u32::MAX, self.stride - take));
        self.len += 1;
    }

    /// The stored signature values of an item.
    pub fn signature(&self, item: u32) -> &[u32] {
        let s = item as usize * self.stride;
        self.signatures.get(s..s + self.stride).unwrap_or(&[])
    }

    /// Appends to `out` every item sharing at least one band with `signature`, in increasing
    /// order and without repeats.
    pub fn candidates(&self, signature: &[u32], out: &mut Vec<u32>) {
        let from = out.len();
        // The keys first and their slots asked for, then the probes: the bands' cache misses
        // overlap instead of following one another.
        let mut keys = [0u64; 32];
        for start in (0..self.bands).step_by(keys.len()) {
            let chunk = start..self.bands.min(start + keys.len());
            for (k, band) in keys.iter_mut().zip(chunk.clone()) {
                *k = self.band_key(signature, band);
                self.tables[band].prefetch(*k);
            }
            for (&key, band) in keys.iter().zip(chunk) {
                let t = &self.tables[band];
                let mut item = t.head(key);
                while item != NONE {
                    out.push(item);
                    item = t.links[item as usize];
                }
            }
        }
        out[from..].sort_unstable();
        // Repeats removed in place: no allocation per query.
        let mut kept = from;
        for r in from..out.len() {
            if kept == from || out[r] != out[kept - 1] {
                out[kept] = out[r];
                kept += 1;
            }
        }
        out.truncate(kept);
    }

    /// The most similar candidate whose estimated Jaccard similarity with `signature` is at
    /// least `threshold`, with that similarity; ties go to the earliest item.
    pub fn query(&self, signature: &Signature, threshold: f64) -> Option<(u32, f64)> {
        if signature.is_empty() {
            return None;
        }
        let mut cands = Vec::new();
        self.candidates(signature.as_slice(), &mut cands);
        best_match(signature.as_slice(), cands.iter().map(|&c| (c, self.signature(c))), threshold)
    }
}


/// The key of band `band` (of `rows` values) of a signature: a hash of its values, seeded by
/// the band number so that equal values in different bands do not share buckets.
#[inline]
fn band_key(values: &[u32], band: usize, rows: usize) -> u64 {
    let start = (band * rows).min(values.len());
    let end = ((band + 1) * rows).min(values.len());
    let mut h = combine(0x6c73_685f_6261_6e64, band as u64);
    let mut chunks = values[start..end].chunks_exact(2);
    for pair in &mut chunks {
        h = combine(h, (pair[0] as u64) << 32 | pair[1] as u64);
    }
    if let [last] = chunks.remainder() {
        h = combine(h, *last as u64 | 1 << 63);
    }
    h
}

/// Among `candidates` (in increasing item order), the one most similar to `values` with
/// similarity at least `threshold`; the first wins ties.
fn best_match<'a>(
    values: &[u32],
    candidates: impl Iterator<Item = (u32, &'a [u32])>,
    threshold: f64,
) -> Option<(u32, f64)> {
    let mut best: Option<(u32, f64)> = None;
    for (item, sig) in candidates {
        let j = jaccard_slices(values, sig);
        if j >= threshold && best.is_none_or(|(_, b)| j > b) {
            best = Some((item, j));
        }
    }
    best
}

/// The probability that two texts of Jaccard similarity `s` share at least one band:
/// `1 − (1 − sʳ)ᵇ`.
pub fn catch_probability(s: f64, bands: usize, rows: usize) -> f64 {
    let b = i32::try_from(bands).unwrap_or(i32::MAX);
    let r = i32::try_from(rows).unwrap_or(i32::MAX);
    1.0 - (1.0 - s.powi(r)).powi(b)
}

/// Composite Simpson integral of `f` over `[lo, hi]` with 128 intervals; the S-curves here
/// are smooth, so this is accurate to far better than the differences being compared.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const N: usize = 128;
    if hi <= lo {
        return 0.0;
    }
    let h = (hi - lo) / N as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..N {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + i as f64 * h);
    }
    sum * h / 3.0
}

/// How much more a missed pair (a duplicate kept) weighs than a false candidate (one wasted
/// comparison of two signatures) in [`optimal_params`].
pub const MISS_WEIGHT: f64 = 9.0;

/// The bands and rows (`bands × rows ≤ permutations`) that best separate pairs above
/// `threshold` from pairs below it, for an index whose candidates are verified.
///
/// The rule: minimise `∫₀ᵗ P(s) ds + 9·∫ₜ¹ (1 − P(s)) ds`, where `P` is the
/// [`catch_probability`], the first integral the false positives (pairs below the threshold
/// that become candidates) and the second the false negatives (pairs above it that are
/// missed); ties go to fewer bands, then fewer rows. Equal weights (datasketch's rule, see
/// [`optimal_params_weighted`]) suit an index whose candidates are taken as they are; here
/// every candidate is verified on the full signature, so a false positive costs one
/// comparison while a false negative keeps a duplicate, hence [`MISS_WEIGHT`].
/// For 128 permutations at 0.8 this gives 14 bands of 9 rows, which catch 87% of pairs at
/// similarity 0.8, 97.5% at 0.85 and 99.9% at 0.9 (equal weights: 9 × 13, with 40%, 69%
/// and 93%), while pairs at 0.3 become candidates 0.03% of the time.
pub fn optimal_params(threshold: f64, permutations: usize) -> (usize, usize) {
    optimal_params_weighted(threshold, permutations, 1.0, MISS_WEIGHT)
}

/// [`optimal_params`] with explicit weights of the false-positive and false-negative areas.
pub fn optimal_params_weighted(
    threshold: f64,
    permutations: usize,
    false_positive_weight: f64,
    false_negative_weight: f64,
) -> (usize, usize) {
    let t = threshold.clamp(0.0, 1.0);
    let mut best = (1, 1);
    let mut best_err = f64::INFINITY;
    for b in 1..=permutations.max(1) {
        for r in 1..=permutations.max(1) / b {
            let fp = integrate(|s| catch_probability(s, b, r), 0.0, t);
            let fn_ = integrate(|s| 1.0 - catch_probability(s, b, r), t, 1.0);
            let err = false_positive_weight * fp + false_negative_weight * fn_;
            if err < best_err {
                best_err = err;
                best = (b, r);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::MinHasher;

    #[test]
    fn parameters_follow_the_rule() {
        // With equal weights the rule is datasketch's: MinHashLSH(threshold=0.8, num_perm=128)
        // uses b=9, r=13, and (threshold=0.5, num_perm=128) b=25, r=5.
        assert_eq!(optimal_params_weighted(0.8, 128, 0.5, 0.5), (9, 13));
        assert_eq!(optimal_params_weighted(0.5, 128, 0.5, 0.5), (25, 5));
        assert_eq!(optimal_params(0.8, 128), (14, 9));
        // Leaning toward recall catches more pairs just above the threshold.
        assert!(catch_probability(0.85, 14, 9) > 0.97 && catch_probability(0.85, 9, 13) < 0.7);
        for (t, p) in [(0.5, 64), (0.9, 256), (0.7, 100), (1.0, 16), (0.01, 8)] {
            let (b, r) = optimal_params(t, p);
            assert!(b * r <= p, "{b}x{r} > {p}");
            // The steep part of the S-curve sits near the threshold.
            let knee = (1.0 / b as f64).powf(1.0 / r as f64);
            assert!((knee - t).abs() < 0.2, "t={t} p={p}: {b}x{r} knee {knee}");
        }
    }

    #[test]
    fn catch_rate_matches_theory_on_a_planted_set() {
        // Plant pairs of shingle sets with exact Jaccard s, index one side, query the other,
        // and count how often banding makes them candidates.
        let (bands, rows) = (16, 8);
        let perms = bands * rows;
        let trials = 300;
        for (common, only) in [(90u64, 5u64), (80, 10), (70, 15), (60, 20), (50, 25)] {
            let s = common as f64 / (common + 2 * only) as f64;
            let mut caught = 0;
            for t in 0..trials {
                let m = MinHasher::new(perms, 1, t);
                let base = t * 10_000;
                let a = m.signature_of_hashes((0..common + only).map(|i| base + i));
                let b = m.signature_of_hashes((0..common).chain(common + only..common + 2 * only).map(|i| base + i));
                let mut index = LshIndex::new(bands, rows, perms);
                index.insert(&a);
                let mut cands = Vec::new();
                index.candidates(b.as_slice(), &mut cands);
                caught += usize::from(cands == [0]);
            }
            let rate = caught as f64 / trials as f64;
            let theory = catch_probability(s, bands, rows);
            // The rate of 300 trials has a standard deviation of at most 0.029.
            assert!((rate - theory).abs() < 0.1, "s={s:.3}: caught {rate:.3}, theory {theory:.3}");
        }
    }

    #[test]
    fn query_returns_the_best_verified_match() {
        let m = MinHasher::new(64, 1, 3);
        let mut index = LshIndex::new(16, 4, 64);
        let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let far = index.insert(&m.signature("completely different text here"));
        // True Jaccard with the probe: 0.4 and 0.9.
        let close = index.insert(&m.signature(&words(20)));
        let closer = index.insert(&m.signature(&words(45)));
        let probe = m.signature(&words(50));
        let (item, j) = index.query(&probe, 0.3).expect("a match");
        assert_eq!(item, closer, "estimated {j}");
        assert!(j > 0.75, "estimated {j}");
        // The shorter text finds its own copy, not the longer one (true Jaccard 0.44).
        assert_eq!(index.query(&m.signature(&words(20)), 0.7).map(|x| x.0), Some(close));
        assert_eq!(index.query(&probe, 1.0), None);
        assert_eq!(index.signature(close).len(), 64);
        assert_eq!(index.signature(far), m.signature("completely different text here").as_slice());
        assert_eq!(index.len(), 3);
        // An exact copy is always found, with similarity 1.
        assert_eq!(index.query(&m.signature(&words(45)), 1.0), Some((closer, 1.0)));
        assert_eq!(index.query(&m.signature(""), 0.0), None);
    }

    #[test]
    fn a_batch_insert_builds_the_index_one_by_one_inserts_build() {
        // Few rows per band, so buckets are shared and chains long; more items than the
        // parallel threshold, and signatures of every length (short ones are padded).
        let m = MinHasher::new(32, 1, 9);
        let sigs: Vec<Signature> = (0..PARALLEL_INSERT as u64 * 3)
            .map(|i| m.signature_of_hashes((0..i % 7).map(|k| k * 31 + i % 5)))
            .collect();
        let values: Vec<&[u32]> = sigs.iter().map(|s| &s.as_slice()[..s.len().min(24 + sigs.len() % 3)]).collect();
        let mut one = LshIndex::new(16, 2, 32);
        for v in &values {
            one.insert_values(v);
        }
        let mut many = LshIndex::new(16, 2, 32);
        many.insert_many(&values[..5]);
        let first = many.insert_many(&values[5..]);
        assert_eq!(first, 5);
        assert_eq!(many.len(), one.len());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (item, s) in sigs.iter().enumerate() {
            assert_eq!(many.signature(item as u32), one.signature(item as u32));
            a.clear();
            b.clear();
            one.candidates(s.as_slice(), &mut a);
            many.candidates(s.as_slice(), &mut b);
            assert_eq!(a, b, "item {item}");
            assert!(a.contains(&(item as u32)));
        }
        // Cleared, it is empty and fills again the same way.
        many.clear();
        assert!(many.is_empty());
        many.insert_many(&values);
        a.clear();
        many.candidates(sigs[7].as_slice(), &mut a);
        b.clear();
        one.candidates(sigs[7].as_slice(), &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn a_band_keeps_every_bucket_through_growth_and_shares_fingerprints() {
        let mut band = Band::default();
        assert_eq!(band.head(7), NONE);
        let key = |i: u64| crate::hash::mix64(i);
        // Keys 0..5000, each twice: the second insertion links to the first.
        for round in 0..2u32 {
            for i in 0..5000u32 {
                band.insert(key(u64::from(i)), round * 5000 + i);
            }
        }
        assert!(band.slots.len().is_power_of_two() && band.used * 2 <= band.slots.len());
        assert_eq!(band.used, 5000);
        for i in 0..5000u32 {
            let head = band.head(key(u64::from(i)));
            assert_eq!(head, 5000 + i);
            assert_eq!(band.links[head as usize], i);
            assert_eq!(band.links[i as usize], NONE);
        }
        assert_eq!(band.head(key(99_999)), NONE);
        // Keys equal in their high 32 bits share a bucket (a candidate more, never a miss).
        let (a, b) = (0xdead_beef_0000_0001u64, 0xdead_beef_ffff_0000u64);
        let mut band = Band::default();
        band.insert(a, 0);
        band.insert(b, 1);
        assert_eq!((band.head(a), band.links[1]), (1, 0));
        band.clear();
        assert_eq!((band.head(a), band.used, band.links.len()), (NONE, 0, 0));
    }
}
