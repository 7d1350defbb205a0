//! Diversity-aware selection: when more records pass than a budget keeps, choose for
//! coverage rather than for score alone, and measure how diverse the choice is.
//!
//! Records are compared by the MinHash signatures of their word sets (single words, not the
//! 5-gram shingles of deduplication: two texts on one topic share words long before they share
//! phrases), so the distance `1 − Ĵ` of two records is one minus the estimated Jaccard
//! similarity of their vocabularies. [`k_center`] is the greedy 2-approximation of the k-center
//! problem (Gonzalez, 1985): start from the best-scored record, then repeatedly take the record
//! farthest from everything taken so far. A choice that crowds one topic leaves a far record
//! out and pays for it in [`Diversity::mean_distance`].
//!
//! ```
//! use autodidact_curate::{minhash::MinHasher, select::k_center};
//! let m = MinHasher::new(64, 1, 1);
//! let texts = ["red apples and red cherries", "red apples and ripe red cherries", "the stock market fell"];
//! let sigs: Vec<_> = texts.iter().map(|t| m.signature(t)).collect();
//! // Scores favour the two fruit texts; coverage takes the market one second.
//! assert_eq!(k_center(&sigs, &[0.9, 0.8, 0.1], 2), vec![0, 2]);
//! ```

use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::hash::{PassThrough, hash_str, mix64};
use crate::minhash::Signature;
use crate::normalize::Words;

/// Permutations of the word-set signatures used to choose: distances to ±0.06 (one standard
/// deviation at worst), which is plenty to tell one topic from another.
pub const SELECT_PERMUTATIONS: usize = 64;

/// Pairs compared at most to measure a set's mean distance; larger sets are sampled.
const MAX_PAIRS: usize = 200_000;

/// The distance of two records: one minus the estimated Jaccard similarity of their word sets.
#[inline]
pub fn distance(a: &Signature, b: &Signature) -> f64 {
    1.0 - a.jaccard(b)
}

/// Greedy k-center: the index of the highest `rank` first (the earliest on ties), then each
/// time the candidate whose distance to the nearest chosen one is largest (ties: higher rank,
/// then earliest). Returns at most `k` indices, in the order chosen. Deterministic whatever
/// the number of threads: each step's distances are computed in parallel, but the choice is a
/// fixed function of them.
pub fn k_center(sigs: &[Signature], ranks: &[f64], k: usize) -> Vec<usize> {
    let n = sigs.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let better = |i: usize, j: usize| ranks[i] > ranks[j] || (ranks[i] == ranks[j] && i < j);
    let first = (0..n).fold(0, |b, i| if better(i, b) { i } else { b });
    let mut chosen = vec![first];
    let mut taken = vec![false; n];
    taken[first] = true;
    let mut nearest: Vec<f64> = vec![f64::INFINITY; n];
    let mut last = first;
    while chosen.len() < k {
        nearest.par_iter_mut().with_min_len(256).enumerate().for_each(|(i, d)| {
            *d = d.min(distance(&sigs[i], &sigs[last]));
        });
        let mut pick = usize::MAX;
        for i in 0..n {
            if taken[i] {
                continue;
            }
            if pick == usize::MAX || nearest[i] > nearest[pick] || (nearest[i] == nearest[pick] && better(i, pick)) {
                pick = i;
            }
        }
        taken[pick] = true;
        chosen.push(pick);
        last = pick;
    }
    chosen
}

/// `k` of `0..n` chosen uniformly at random by a partial Fisher–Yates shuffle seeded with
/// `seed`, in increasing order.
pub fn random_choice(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let k = k.min(n);
    let mut all: Vec<usize> = (0..n).collect();
    let mut state = mix64(seed);
    for i in 0..k {
        state = mix64(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
        let j = i + (state % (n - i) as u64) as usize;
        all.swap(i, j);
    }
    let mut out = all[..k].to_vec();
    out.sort_unstable();
    out
}

/// How diverse a set of records is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Diversity {
    /// Records in the set.
    pub records: usize,
    /// The mean distance (one minus the estimated word-set Jaccard similarity) over pairs of
    /// the set: all pairs up to 200,000, else that many pairs drawn at random.
    pub mean_distance: f64,
    /// The distance from each record to its nearest other record, averaged: low when the set
    /// holds clumps of near-copies even if their mean distance is high.
    pub mean_nearest: f64,
    /// Distinct normalised words over the whole set.
    pub distinct_words: usize,
}

/// Measures the diversity of `members` (indices into `sigs` and `words`).
pub fn diversity(sigs: &[Signature], words: &[Words], members: &[usize], seed: u64) -> Diversity {
    let n = members.len();
    let mut vocab: HashSet<u64, PassThrough> = HashSet::default();
    for &m in members {
        for w in words[m].shingles(1) {
            vocab.insert(hash_str(w, 0));
        }
    }
    if n < 2 {
        return Diversity { records: n, mean_distance: 0.0, mean_nearest: 0.0, distinct_words: vocab.len() };
    }
    let pairs = n * (n - 1) / 2;
    let mean_distance = if pairs <= MAX_PAIRS {
        let total: f64 = (0..n)
            .into_par_iter()
            .map(|a| (a + 1..n).map(|b| distance(&sigs[members[a]], &sigs[members[b]])).sum::<f64>())
            .sum();
        total / pairs as f64
    } else {
        let mut state = mix64(seed ^ 0x6469_7665_7273_6974);
        let mut total = 0.0;
        for _ in 0..MAX_PAIRS {
            state = mix64(state.wrapping_add(1));
            let a = (state % n as u64) as usize;
            let b = ((state >> 32) % (n as u64 - 1)) as usize;
            let b = if b >= a { b + 1 } else { b };
            total += distance(&sigs[members[a]], &sigs[members[b]]);
        }
        total / MAX_PAIRS as f64
    };
    // Nearest neighbours: all pairs up to a few thousand records, else a sample of records
    // against the whole set.
    let probes: Vec<usize> = if n <= 4096 { (0..n).collect() } else { random_choice(n, 4096, seed) };
    let nearest: f64 = probes
        .par_iter()
        .map(|&a| {
            (0..n)
                .filter(|&b| b != a)
                .map(|b| distance(&sigs[members[a]], &sigs[members[b]]))
                .fold(f64::INFINITY, f64::min)
        })
        .sum();
    Diversity {
        records: n,
        mean_distance,
        mean_nearest: nearest / probes.len() as f64,
        distinct_words: vocab.len(),
    }
}

/// What a budget did in one [`curate`](crate::Curator::curate) call.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SelectionReport {
    /// `diverse`, `score` or `random`.
    pub method: String,
    /// Records that passed every check.
    pub candidates: usize,
    /// The budget.
    pub budget: usize,
    /// The diversity of the records kept.
    pub kept: Diversity,
    /// The diversity of a random choice of the same size among the same candidates, the
    /// baseline.
    pub random: Diversity,
    /// The diversity of the highest-scored choice of the same size.
    pub by_score: Diversity,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::MinHasher;

    /// `topics` topics of `per` texts each, every text 12 words of its topic's 10-word
    /// vocabulary.
    fn clustered(topics: usize, per: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut state = 7u64;
        for t in 0..topics {
            for _ in 0..per {
                let words: Vec<String> = (0..12)
                    .map(|_| {
                        state = mix64(state.wrapping_add(1));
                        format!("t{t}w{}", state % 10)
                    })
                    .collect();
                out.push(words.join(" "));
            }
        }
        out
    }

    #[test]
    fn k_center_covers_every_topic_where_score_crowds_one() {
        // Topic 0 has 50 texts with the best scores; topics 1..5 have 5 texts each.
        let mut texts = clustered(1, 50);
        texts.extend(clustered(6, 5).into_iter().skip(5));
        let m = MinHasher::new(SELECT_PERMUTATIONS, 1, 3);
        let sigs: Vec<Signature> = texts.iter().map(|t| m.signature(t)).collect();
        let ranks: Vec<f64> = (0..texts.len()).map(|i| if i < 50 { 1.0 - i as f64 * 0.001 } else { 0.5 }).collect();
        let chosen = k_center(&sigs, &ranks, 6);
        assert_eq!(chosen[0], 0, "the best-scored record first");
        let topic = |i: usize| if i < 50 { 0 } else { 1 + (i - 50) / 5 };
        let mut topics: Vec<usize> = chosen.iter().map(|&i| topic(i)).collect();
        topics.sort_unstable();
        assert_eq!(topics, vec![0, 1, 2, 3, 4, 5], "chosen {chosen:?}");

        let words: Vec<Words> = texts.iter().map(|t| Words::new(t)).collect();
        let by_score: Vec<usize> = (0..6).collect();
        let kc = diversity(&sigs, &words, &chosen, 1);
        let sc = diversity(&sigs, &words, &by_score, 1);
        assert!(kc.mean_distance > sc.mean_distance + 0.2, "{kc:?} vs {sc:?}");
        assert!(kc.distinct_words > sc.distinct_words, "{kc:?} vs {sc:?}");
    }

    #[test]
    fn k_center_is_the_same_on_any_number_of_threads() {
        let texts = clustered(20, 30);
        let m = MinHasher::new(SELECT_PERMUTATIONS, 1, 5);
        let sigs: Vec<Signature> = texts.iter().map(|t| m.signature(t)).collect();
        let ranks = vec![0.5; texts.len()];
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            pool.install(|| k_center(&sigs, &ranks, 100))
        };
        let one = run(1);
        assert_eq!(one.len(), 100);
        assert_eq!(one, run(2));
        assert_eq!(one, run(4));
    }

    #[test]
    fn random_choice_is_seeded_uniform_and_sorted() {
        let a = random_choice(100, 10, 1);
        assert_eq!(a, random_choice(100, 10, 1));
        assert_ne!(a, random_choice(100, 10, 2));
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.len() == 10);
        assert_eq!(random_choice(5, 10, 3), vec![0, 1, 2, 3, 4]);
        // Each of 20 items is chosen about half the time when choosing 10.
        let mut counts = [0usize; 20];
        for s in 0..2000 {
            for i in random_choice(20, 10, s) {
                counts[i] += 1;
            }
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn diversity_of_copies_is_zero_and_of_disjoint_texts_one() {
        let m = MinHasher::new(SELECT_PERMUTATIONS, 1, 5);
        let texts = ["a b c d", "a b c d", "e f g h", "i j k l"];
        let sigs: Vec<Signature> = texts.iter().map(|t| m.signature(t)).collect();
        let words: Vec<Words> = texts.iter().map(|t| Words::new(t)).collect();
        let copies = diversity(&sigs, &words, &[0, 1], 0);
        assert_eq!((copies.mean_distance, copies.mean_nearest, copies.distinct_words), (0.0, 0.0, 4));
        let apart = diversity(&sigs, &words, &[0, 2, 3], 0);
        assert_eq!((apart.mean_distance, apart.mean_nearest, apart.distinct_words), (1.0, 1.0, 12));
    }
}
