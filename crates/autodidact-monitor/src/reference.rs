//! The real text's profile, computed once and measured against every generation.

use std::collections::BTreeMap;
use std::fmt;

use crate::hash::{FastMap, FastSet};
use crate::ngram::{self, CharNgrams, MAX_N};

/// The share of the real text's character 4-gram occurrences that the rare set ("tail") covers,
/// at least: see [`Reference`].
pub const TAIL_MASS: f64 = 0.10;

/// The real text's profile: character n-gram counts (n = 1..=4), word counts, and the rare set
/// of character 4-grams that [`TextMetrics::tail_coverage`](crate::TextMetrics::tail_coverage)
/// looks for.
///
/// # The rare set
///
/// Sort the real text's distinct character 4-grams by count, rarest first, and take the
/// shortest prefix whose occurrences add up to at least [`TAIL_MASS`] (10%) of all 4-gram
/// occurrences; then extend it to the end of its count tier. Equivalently: the rare set is
/// every 4-gram seen at most `c` times, for the smallest `c` such that those 4-grams make up at
/// least 10% of the text. No tie-breaking is needed, so the set is deterministic and does not
/// depend on the order of n-grams with equal counts.
///
/// Why not "the rarest 10% of distinct 4-grams"? In natural text most distinct 4-grams are seen
/// once (on tinyshakespeare 30% are), so that decile is a byte-order-chosen slice of hapaxes:
/// names and oddities that even real held-out text of 50,000 characters hits only ~4% of the
/// time, too noisy to compare generations. The 10%-of-mass rule takes the whole low-frequency
/// end of the distribution, the part that collapse erodes first (on tinyshakespeare, 4-grams
/// seen at most 10 times in a million characters; held-out real text of 50,000 characters
/// covers ~11% of them).
#[derive(Clone)]
pub struct Reference {
    pub(crate) chars: usize,
    pub(crate) ngrams: CharNgrams,
    pub(crate) word_counts: FastMap<String, u64>,
    pub(crate) words: u64,
    pub(crate) tail: FastSet<u128>,
    tail_max_count: u64,
}

impl Reference {
    /// Profiles `real`, in time linear in its length.
    pub fn new(real: &str) -> Reference {
        let mut ngrams = CharNgrams::default();
        let chars = ngrams.add(real, &mut Vec::new());

        let mut borrowed: FastMap<&str, u64> = FastMap::default();
        for word in ngram::words(real) {
            *borrowed.entry(word).or_insert(0) += 1;
        }
        let words = borrowed.values().sum();
        let word_counts = borrowed
            .into_iter()
            .map(|(word, count)| (word.to_owned(), count))
            .collect();

        let (tail, tail_max_count) = rare_set(&ngrams.counts[MAX_N - 1], ngrams.totals[MAX_N - 1]);
        Reference {
            chars,
            ngrams,
            word_counts,
            words,
            tail,
            tail_max_count,
        }
    }

    /// The real text's length in characters.
    pub fn chars(&self) -> usize {
        self.chars
    }

    /// The real text's number of words (whitespace-separated tokens).
    pub fn words(&self) -> u64 {
        self.words
    }

    /// The number of distinct character 4-grams in the rare set.
    pub fn tail_len(&self) -> usize {
        self.tail.len()
    }

    /// The largest count, in the real text, of a 4-gram in the rare set (0 if it is empty).
    pub fn tail_max_count(&self) -> u64 {
        self.tail_max_count
    }
}

impl fmt::Debug for Reference {
    // The tables hold tens of thousands of entries: show their sizes, not their contents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("chars", &self.chars)
            .field("words", &self.words)
            .field("distinct_words", &self.word_counts.len())
            .field(
                "distinct_char_ngrams",
                &self.ngrams.counts.each_ref().map(|c| c.len()),
            )
            .field("tail_len", &self.tail.len())
            .field("tail_max_count", &self.tail_max_count)
            .finish()
    }
}

/// The rare set of `counts` (see [`Reference`]) and the largest count in it.
fn rare_set(counts: &FastMap<u128, u64>, total: u64) -> (FastSet<u128>, u64) {
    // Occurrences per count tier: a tier of k 4-grams each seen c times holds k * c of them.
    let mut mass: BTreeMap<u64, u64> = BTreeMap::new();
    for &count in counts.values() {
        *mass.entry(count).or_insert(0) += count;
    }
    let mut covered = 0u64;
    let mut max_count = 0u64;
    for (&count, &occurrences) in &mass {
        covered += occurrences;
        max_count = count;
        if covered as f64 >= TAIL_MASS * total as f64 {
            break;
        }
    }
    let tail = counts
        .iter()
        .filter(|&(_, &count)| count <= max_count)
        .map(|(&key, _)| key)
        .collect();
    (tail, max_count)
}
