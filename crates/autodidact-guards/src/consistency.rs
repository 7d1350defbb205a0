//! Self-consistency: a response checked against further samples of the same prompt
//! (SelfCheckGPT, Manakul et al. 2023). What a model knows it says again when asked again;
//! what it makes up changes from sample to sample.
//!
//! - Long answers: each sentence's **support** is the share of its content unigrams and
//!   bigrams that a sample also contains, averaged over the samples (the n-gram variant of
//!   SelfCheckGPT, without a model); the response's score is its least supported sentence.
//! - Short answers (a number, a choice, a word): the normalised final answers vote; the
//!   response agrees when its answer is the majority's, and the share of the majority is the
//!   confidence.
//!
//! ```
//! use autodidact_guards::consistency::{majority, normalize_answer};
//! let answers = ["The answer is 18.", "#### 18", "It makes $18.00", "19"];
//! let keys: Vec<String> = answers.iter().map(|a| normalize_answer(a)).collect();
//! let m = majority(&keys).unwrap();
//! assert_eq!((m.answer.as_str(), m.votes, m.share), ("18", 3, 0.75));
//! ```

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::claims::split_claims;
use crate::math::extract_answer;
use crate::words::{is_stopword, words};

/// One sentence and its support among the samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentenceSupport {
    /// The sentence.
    pub sentence: String,
    /// Mean share of its content n-grams found in each sample, in `[0, 1]`.
    pub support: f64,
}

fn grams(text: &str) -> HashSet<String> {
    let w: Vec<String> = words(text).into_iter().filter(|w| !is_stopword(w)).collect();
    let mut out: HashSet<String> = w.iter().cloned().collect();
    for pair in w.windows(2) {
        out.insert(format!("{} {}", pair[0], pair[1]));
    }
    out
}

/// Each sentence of `response` with its support among `samples` (1 for a sentence without
/// content words; 0 support when there are no samples).
pub fn sentence_support(response: &str, samples: &[&str]) -> Vec<SentenceSupport> {
    let sample_grams: Vec<HashSet<String>> = samples.iter().map(|s| grams(s)).collect();
    split_claims(response)
        .into_iter()
        .map(|sentence| {
            let g = grams(&sentence);
            let support = if g.is_empty() {
                1.0
            } else if sample_grams.is_empty() {
                0.0
            } else {
                sample_grams.iter().map(|s| g.iter().filter(|x| s.contains(*x)).count() as f64 / g.len() as f64).sum::<f64>()
                    / sample_grams.len() as f64
            };
            SentenceSupport { sentence, support }
        })
        .collect()
}

/// The response's score: its least supported sentence's support (1 without sentences).
pub fn support_score(sentences: &[SentenceSupport]) -> f64 {
    sentences.iter().map(|s| s.support).fold(1.0, f64::min)
}

/// The comparable form of a short answer: its final number (`18` for `$18.00`), else a choice
/// letter (`(B)`, `B)`, `answer: b`), else its words lowercased and joined.
pub fn normalize_answer(text: &str) -> String {
    if let Some(v) = extract_answer(text) {
        return if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") };
    }
    let t = text.trim();
    let letters: Vec<char> = t.chars().filter(|c| c.is_alphanumeric()).collect();
    if letters.len() == 1 && letters[0].is_ascii_alphabetic() {
        return letters[0].to_ascii_lowercase().to_string();
    }
    words(t).join(" ")
}

/// The outcome of a vote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Majority {
    /// The answer most given (the first given among equals).
    pub answer: String,
    /// Votes for it.
    pub votes: usize,
    /// Its share of all votes.
    pub share: f64,
}

/// The majority of normalised answers (empty answers do not vote); `None` without votes.
pub fn majority(answers: &[String]) -> Option<Majority> {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let valid: Vec<&String> = answers.iter().filter(|a| !a.is_empty()).collect();
    for (i, a) in valid.iter().enumerate() {
        let e = counts.entry(a.as_str()).or_insert((0, i));
        e.0 += 1;
    }
    let (answer, (votes, _)) = counts.into_iter().max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))?;
    Some(Majority { answer: answer.to_string(), votes, share: votes as f64 / valid.len() as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_sentences_get_little_support() {
        let response = "Paris is the capital of France. It was founded by Julius Caesar in 1066.";
        let samples = [
            "Paris is the capital of France. It is on the Seine.",
            "The capital of France is Paris, a city of two million.",
            "France's capital is Paris. Its history goes back to the Parisii tribe.",
        ];
        let s = sentence_support(response, &samples);
        assert_eq!(s.len(), 2);
        assert!(s[0].support > 0.6, "{s:?}");
        assert!(s[1].support < 0.1, "{s:?}");
        assert_eq!(support_score(&s), s[1].support);
        assert_eq!(sentence_support("Anything.", &[])[0].support, 0.0);
        assert_eq!(support_score(&[]), 1.0);
    }

    #[test]
    fn short_answers_are_normalised_then_voted() {
        assert_eq!(normalize_answer("$1,000.00"), "1000");
        assert_eq!(normalize_answer("one thousand"), "1000");
        assert_eq!(normalize_answer("(B)"), "b");
        assert_eq!(normalize_answer(" Blue Whale! "), "blue whale");
        let v: Vec<String> = ["b", "c", "c", "b", "", "a"].iter().map(|s| s.to_string()).collect();
        let m = majority(&v).unwrap();
        assert_eq!((m.answer.as_str(), m.votes), ("b", 2), "ties go to the first given");
        assert_eq!(m.share, 0.4);
        assert!(majority(&[String::new()]).is_none());
    }
}
