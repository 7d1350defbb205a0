//! Counting character n-grams and words: the one pass over text every metric starts from.

use crate::hash::FastMap;

/// The longest character n-gram counted.
pub(crate) const MAX_N: usize = 4;

/// Character n-gram counts for n = 1..=[`MAX_N`]: `counts[n - 1]` maps a packed n-gram to its
/// count, `totals[n - 1]` is the number of n-gram occurrences.
///
/// An n-gram of characters is packed into a `u128`, 32 bits per character, first character in
/// the low bits. Packing is injective for a fixed n, and each n has its own table.
#[derive(Clone, Default)]
pub(crate) struct CharNgrams {
    pub(crate) counts: [FastMap<u128, u64>; MAX_N],
    pub(crate) totals: [u64; MAX_N],
}

impl CharNgrams {
    /// Adds the n-grams of `text`, none of which crosses its ends; returns its length in chars.
    /// `buf` is scratch space, kept by the caller to reuse its allocation.
    pub(crate) fn add(&mut self, text: &str, buf: &mut Vec<u32>) -> usize {
        buf.clear();
        buf.extend(text.chars().map(u32::from));
        for start in 0..buf.len() {
            let mut key = 0u128;
            for (i, &c) in buf[start..].iter().take(MAX_N).enumerate() {
                key |= u128::from(c) << (32 * i);
                *self.counts[i].entry(key).or_insert(0) += 1;
                self.totals[i] += 1;
            }
        }
        buf.len()
    }
}

/// The words of `text`: its whitespace-separated tokens, as they are (case and punctuation
/// kept, so `The`, `the` and `the,` are three words).
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}
