//! What one generation's samples look like next to the real text.

use std::borrow::Borrow;
use std::hash::Hash;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::hash::{FastMap, FastSet};
use crate::ngram::{self, CharNgrams, MAX_N};
use crate::reference::Reference;

/// The add-alpha smoothing constant of every KL divergence (Jeffreys' prior).
pub const KL_ALPHA: f64 = 0.5;

/// The gzip level of [`TextMetrics::compression_ratio`] (the default of `gzip`).
pub const GZIP_LEVEL: u32 = 6;

/// Everything measured on one generation's samples.
///
/// Words are whitespace-separated tokens, as they are (case and punctuation kept). N-grams,
/// of words or characters, never cross from one sample into the next. A ratio over nothing (no
/// samples, or samples too short for any n-gram) is 0.
///
/// Several values depend on how much text is measured (as samples grow, distinct-n and KL fall
/// and tail coverage rises): compare generations measured on the same number and length of
/// samples, and measure real held-out text cut the same way (see [`excerpts`](crate::excerpts))
/// for the values an uncollapsed model would reach.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TextMetrics {
    /// The number of samples.
    pub samples: usize,
    /// Their total length in characters (Unicode scalar values).
    pub chars: usize,
    /// Distinct-n over word n-grams, n = 1..=4 (Li et al. 2016): distinct n-grams / n-gram
    /// occurrences, all samples pooled. Lower = less diverse.
    pub distinct: [f64; 4],
    /// The same over character n-grams, n = 1..=4.
    pub char_distinct: [f64; 4],
    /// Bytes of the samples concatenated / bytes of their gzip (level [`GZIP_LEVEL`]). Higher =
    /// more repetitive; gzip's 32 KiB window sees repeats only that close together, and its ~20
    /// bytes of header make tiny inputs score below 1.
    pub compression_ratio: f64,
    /// The share of word 3-grams that already occurred earlier in the same sample, pooled over
    /// samples (repeated 3-grams / 3-grams). Higher = loops within a sample.
    pub repetition_rate: f64,
    /// KL(real ‖ samples) in nats of the character n-gram distributions, n = 1..=3, each
    /// smoothed add-[`KL_ALPHA`] over the union of the n-grams of both. 0 for identical counts.
    pub kl_char: [f64; 3],
    /// The same for word unigrams.
    pub kl_word: f64,
    /// The share of the real text's rare character 4-grams (see [`Reference`]) that occur at
    /// least once in the samples. Lower = the tail is being lost.
    pub tail_coverage: f64,
    /// Entropy in bits of the samples' word unigram distribution (maximum likelihood, no
    /// smoothing). Lower = a narrower vocabulary.
    pub vocab_entropy: f64,
}

/// The longest word n-gram counted.
const WORD_N: usize = 4;

/// Measures `samples` (one generation's texts) against `reference`, in time linear in their
/// total length.
pub fn measure<S: AsRef<str>>(reference: &Reference, samples: &[S]) -> TextMetrics {
    let mut chars = 0;
    let mut char_ngrams = CharNgrams::default();
    let mut char_buf = Vec::new();

    // Words become dense ids so that a word n-gram packs into a u128, 32 bits per word.
    let mut ids: FastMap<&str, u32> = FastMap::default();
    let mut word_counts: Vec<u64> = Vec::new();
    let mut word_buf: Vec<u32> = Vec::new();
    let mut word_ngrams: [FastSet<u128>; WORD_N] = Default::default();
    let mut word_totals = [0u64; WORD_N];
    let mut in_sample: FastSet<u128> = FastSet::default();
    let (mut repeated, mut trigrams) = (0u64, 0u64);

    let mut gzip = GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL));
    let mut bytes = 0usize;

    for sample in samples {
        let sample = sample.as_ref();
        chars += char_ngrams.add(sample, &mut char_buf);
        bytes += sample.len();
        gzip.write_all(sample.as_bytes())
            .expect("writing to a Vec cannot fail");

        word_buf.clear();
        for word in ngram::words(sample) {
            let next = ids.len() as u32;
            let id = *ids.entry(word).or_insert(next);
            if id == next {
                word_counts.push(0);
            }
            word_counts[id as usize] += 1;
            word_buf.push(id);
        }
        in_sample.clear();
        for start in 0..word_buf.len() {
            let mut key = 0u128;
            for (i, &id) in word_buf[start..].iter().take(WORD_N).enumerate() {
                key |= u128::from(id) << (32 * i);
                word_ngrams[i].insert(key);
                word_totals[i] += 1;
                if i == 2 {
                    trigrams += 1;
                    if !in_sample.insert(key) {
                        repeated += 1;
                    }
                }
            }
        }
    }

    let gzipped = gzip.finish().expect("writing to a Vec cannot fail").len();
    let sample_words: FastMap<&str, u64> = ids
        .iter()
        .map(|(&word, &id)| (word, word_counts[id as usize]))
        .collect();
    let tail_hits = reference
        .tail
        .iter()
        .filter(|key| char_ngrams.counts[MAX_N - 1].contains_key(*key))
        .count();

    TextMetrics {
        samples: samples.len(),
        chars,
        distinct: std::array::from_fn(|i| ratio(word_ngrams[i].len() as u64, word_totals[i])),
        char_distinct: std::array::from_fn(|i| {
            ratio(char_ngrams.counts[i].len() as u64, char_ngrams.totals[i])
        }),
        compression_ratio: bytes as f64 / gzipped as f64,
        repetition_rate: ratio(repeated, trigrams),
        kl_char: std::array::from_fn(|i| {
            kl_divergence::<_, _, u128>(&reference.ngrams.counts[i], &char_ngrams.counts[i])
        }),
        kl_word: kl_divergence::<_, _, str>(&reference.word_counts, &sample_words),
        tail_coverage: ratio(tail_hits as u64, reference.tail.len() as u64),
        vocab_entropy: entropy_bits(&word_counts),
    }
}

/// `part / whole`, or 0 when `whole` is 0.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// KL(p ‖ q) in nats between the distributions of two count tables, each smoothed add-[`KL_ALPHA`]
/// over the union of their keys: `p(x) = (count_p(x) + α) / (total_p + α·|union|)`.
fn kl_divergence<A, B, K>(p: &FastMap<A, u64>, q: &FastMap<B, u64>) -> f64
where
    A: Borrow<K> + Hash + Eq,
    B: Borrow<K> + Hash + Eq,
    K: Hash + Eq + ?Sized,
{
    let q_only = q
        .keys()
        .filter(|&key| !p.contains_key(key.borrow()))
        .count();
    let union = (p.len() + q_only) as f64;
    if union == 0.0 {
        return 0.0;
    }
    let p_total = p.values().sum::<u64>() as f64 + KL_ALPHA * union;
    let q_total = q.values().sum::<u64>() as f64 + KL_ALPHA * union;
    let term = |p_count: u64, q_count: u64| {
        let p_x = (p_count as f64 + KL_ALPHA) / p_total;
        let q_x = (q_count as f64 + KL_ALPHA) / q_total;
        p_x * (p_x / q_x).ln()
    };
    let mut kl = 0.0;
    for (key, &count) in p {
        kl += term(count, q.get(key.borrow()).copied().unwrap_or(0));
    }
    for (key, &count) in q {
        if !p.contains_key(key.borrow()) {
            kl += term(0, count);
        }
    }
    // A sum of terms that cancel exactly can round a hair below 0.
    kl.max(0.0)
}

/// Entropy in bits of the distribution given by `counts`; 0 if they are all 0.
fn entropy_bits(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let total = total as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.log2()
        })
        .sum();
    h.max(0.0)
}
