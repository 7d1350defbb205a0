//! Shared builders: records and texts with known overlap.

use autodidact_curate::{CurateConfig, Curator};
use autodidact_data::Record;

/// A graded record.
pub fn rec(prompt: &str, response: &str, score: f64) -> Record {
    let mut r = Record::new(prompt, response, None);
    r.score = Some(score);
    r
}

/// `n` distinct words that no other `tag` shares: `tag0 tag1 ...` from `from`.
pub fn words(tag: &str, from: usize, to: usize) -> String {
    (from..to).map(|i| format!("{tag}{i}")).collect::<Vec<_>>().join(" ")
}

/// The default config without a score threshold, so texts alone decide.
pub fn ungraded() -> CurateConfig {
    CurateConfig { min_score: None, ..CurateConfig::default() }
}

/// Curates `records` with `cfg` in a fresh curator.
pub fn curate(cfg: &CurateConfig, records: Vec<Record>) -> Vec<Record> {
    Curator::new(cfg).expect("valid config").curate(records)
}

/// The estimated Jaccard in a near-duplicate reason.
pub fn jaccard_in(reason: &str) -> f64 {
    let start = reason.find("estimated Jaccard ").expect("a Jaccard estimate") + "estimated Jaccard ".len();
    let num: String = reason[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    num.parse().expect("a number")
}
