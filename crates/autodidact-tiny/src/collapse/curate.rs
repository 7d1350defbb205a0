//! The `curated` arm's treatment of a generation's samples, in order: a quality grade (the
//! sample's loss under the model that wrote it: the lowest tail is loops and stock phrases,
//! the highest garbled text), repetition and exact or near duplicates (against the batch and
//! everything kept before, by [`autodidact_curate::Curator`]), then diversity-aware
//! selection (greedy coverage of character 4-grams).

use std::collections::{BTreeMap, BinaryHeap, HashSet};

use autodidact_curate::{CurateConfig, Curator, NearDupConfig};
use autodidact_data::{Grade, Record, Verdict};

use super::config::CurateSection;

/// The grader name of the quality grade.
pub const SELF_LOSS: &str = "self-loss";

/// A sample as a record: no prompt (samples are unconditional), the text as the response,
/// graded by its loss under the model that wrote it.
pub fn sample_record(text: &str, bits_per_char: f64, generation: usize, model: &str) -> Record {
    let mut r = Record::new("", text, None);
    r.task = super::config::TASK.into();
    r.generation = generation as u32;
    r.model = Some(model.into());
    r.grades.push(Grade {
        grader: SELF_LOSS.into(),
        score: None,
        explanation: Some(format!("{bits_per_char:.3} bits/char under the model that wrote it")),
        error: None,
        details: Some(format!("{{\"bits_per_char\":{bits_per_char}}}")),
    });
    r.verdict = Verdict::Kept;
    r
}

/// The own loss recorded by [`sample_record`].
pub fn own_loss(r: &Record) -> Option<f64> {
    let details = r.grade(SELF_LOSS)?.details.as_deref()?;
    let value: serde_json::Value = serde_json::from_str(details).ok()?;
    value.get("bits_per_char")?.as_f64()
}

/// Curates samples generation after generation; remembers what it kept.
pub struct SampleCurator {
    cfg: CurateSection,
    dedup: Curator,
}

impl SampleCurator {
    /// A curator with nothing kept yet.
    pub fn new(cfg: &CurateSection) -> SampleCurator {
        let dedup = CurateConfig {
            min_score: None,
            min_words: 1,
            max_words: None,
            max_repetition: cfg.max_repetition,
            exact_duplicates: true,
            near_duplicates: Some(NearDupConfig {
                threshold: cfg.near_duplicate_threshold,
                ngram: 3,
                ..NearDupConfig::default()
            }),
            ..CurateConfig::default()
        };
        SampleCurator {
            cfg: cfg.clone(),
            dedup: Curator::new(&dedup).expect("the curated arm's dedup settings are valid"),
        }
    }

    /// Tells the curator what an earlier generation kept (on resume).
    pub fn remember(&mut self, kept: &[Record]) {
        self.dedup.remember(kept);
    }

    /// Decides each record (graded by [`sample_record`]): kept, or rejected with a reason.
    /// Returns them in input order.
    pub fn curate(&mut self, records: Vec<Record>) -> Vec<Record> {
        let n = records.len();
        let mut records = records;
        // 1. Quality: the tails of the own loss.
        let mut by_loss: Vec<(usize, f64)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i, own_loss(r).unwrap_or(f64::NAN)))
            .collect();
        by_loss.sort_by(|a, b| a.1.total_cmp(&b.1));
        let low = (n as f64 * self.cfg.drop_lowest_loss).floor() as usize;
        let high = (n as f64 * self.cfg.drop_highest_loss).floor() as usize;
        for (rank, &(i, loss)) in by_loss.iter().enumerate() {
            if rank < low {
                records[i].reject(format!(
                    "quality: own loss {loss:.2} bits/char, among the lowest {:.0}% (predictable: loops, stock phrases)",
                    100.0 * self.cfg.drop_lowest_loss
                ));
            } else if rank >= n - high || !loss.is_finite() {
                records[i].reject(format!(
                    "quality: own loss {loss:.2} bits/char, among the highest {:.0}% (garbled)",
                    100.0 * self.cfg.drop_highest_loss
                ));
            }
        }
        // 2. Repetition and duplicates, against this batch and everything kept before.
        let (passed, mut out): (Vec<(usize, Record)>, Vec<(usize, Record)>) = records
            .into_iter()
            .enumerate()
            .partition(|(_, r)| r.verdict != Verdict::Rejected);
        let (index, batch): (Vec<usize>, Vec<Record>) = passed.into_iter().unzip();
        let decided = self.dedup.curate(batch);
        // 3. Diversity: keep `select` of the survivors, each adding the most new 4-grams.
        let survivors: Vec<usize> = (0..decided.len()).filter(|&k| decided[k].verdict == Verdict::Kept).collect();
        let keep = (survivors.len() as f64 * self.cfg.select).ceil() as usize;
        let texts: Vec<&str> = survivors.iter().map(|&k| decided[k].response.as_str()).collect();
        let chosen: HashSet<usize> = select_diverse(&texts, keep).into_iter().map(|j| survivors[j]).collect();
        for (k, mut r) in decided.into_iter().enumerate() {
            if r.verdict == Verdict::Kept && !chosen.contains(&k) {
                r.reject(format!(
                    "diversity: adds few character 4-grams not already covered (keeping {:.0}% of the rest)",
                    100.0 * self.cfg.select
                ));
            }
            out.push((index[k], r));
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect()
    }
}

/// The category of a rejection reason, for counting: its words before the first colon.
pub fn reason_category(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).trim().to_string()
}

/// Rejections counted by category.
pub fn rejections(records: &[Record]) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for r in records.iter().filter(|r| r.verdict == Verdict::Rejected) {
        *by.entry(reason_category(r.reason.as_deref().unwrap_or("rejected"))).or_insert(0) += 1;
    }
    by
}

/// Indices of `keep` texts chosen greedily, each covering the most character 4-grams that the
/// ones chosen before do not (lazy greedy: a gain only shrinks as more is covered). Ties go to
/// the earlier text.
pub fn select_diverse(texts: &[&str], keep: usize) -> Vec<usize> {
    let grams: Vec<HashSet<u64>> = texts.iter().map(|t| char_grams(t)).collect();
    let mut covered: HashSet<u64> = HashSet::new();
    // (gain, earlier first, index)
    let mut heap: BinaryHeap<(usize, std::cmp::Reverse<usize>)> =
        grams.iter().enumerate().map(|(i, g)| (g.len(), std::cmp::Reverse(i))).collect();
    let mut chosen = Vec::with_capacity(keep.min(texts.len()));
    while chosen.len() < keep {
        let Some((gain, std::cmp::Reverse(i))) = heap.pop() else { break };
        let fresh = grams[i].iter().filter(|g| !covered.contains(g)).count();
        if fresh < gain && heap.peek().is_some_and(|&(next, _)| next > fresh) {
            heap.push((fresh, std::cmp::Reverse(i)));
            continue;
        }
        covered.extend(grams[i].iter().copied());
        chosen.push(i);
    }
    chosen
}

fn char_grams(text: &str) -> HashSet<u64> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().fold(0u64, |h, &c| h.wrapping_mul(0x100_0000_01b3) ^ u64::from(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diversity_prefers_text_that_covers_new_ground() {
        let texts = ["abcdefgh", "abcdefgh", "abcdefgX", "zyxwvuts"];
        // First the earliest of the largest; then the one sharing nothing with it.
        assert_eq!(select_diverse(&texts, 2), vec![0, 3]);
        assert_eq!(select_diverse(&texts, 3), vec![0, 3, 2]);
        assert_eq!(select_diverse(&texts, 9).len(), 4);
    }

    #[test]
    fn curation_drops_loss_tails_loops_duplicates_and_gives_reasons() {
        let cfg = CurateSection {
            drop_lowest_loss: 0.1,
            drop_highest_loss: 0.1,
            select: 1.0,
            ..CurateSection::default()
        };
        let texts = [
            "the the the the the the the the the the the the",
            "o sweet my lord what news from france today",
            "o sweet my lord what news from france today",
            "and let us hear no more of this sad tale",
            "qx zzv kkp wqq",
            "whose house is this that stands upon the hill",
            "my heart is heavy and my purse is light",
            "good night sweet prince and flights of angels",
            "i come to bury caesar not to praise him",
            "what light through yonder window breaks o",
        ];
        let losses = [0.4, 2.0, 2.0, 2.1, 5.0, 2.2, 2.3, 2.4, 2.5, 2.6];
        let records: Vec<Record> = texts
            .iter()
            .zip(losses)
            .map(|(t, l)| sample_record(t, l, 1, "tiny"))
            .collect();
        assert_eq!(own_loss(&records[4]), Some(5.0));
        let mut c = SampleCurator::new(&cfg);
        let out = c.curate(records);
        assert_eq!(out.len(), 10);
        let reason = |i: usize| out[i].reason.clone().unwrap_or_default();
        assert!(reason(0).starts_with("quality") && reason(0).contains("lowest"), "{}", reason(0));
        assert!(reason(4).starts_with("quality") && reason(4).contains("highest"), "{}", reason(4));
        assert_eq!(out[1].verdict, Verdict::Kept);
        assert_eq!(out[2].verdict, Verdict::Rejected, "an exact duplicate");
        let by = rejections(&out);
        assert_eq!(by.get("quality"), Some(&2));
        assert_eq!(by.values().sum::<usize>(), 3);
        // What was kept is remembered: the same text in a later generation is a duplicate.
        let again = c.curate(vec![sample_record(texts[3], 2.0, 2, "tiny"), sample_record(texts[3], 2.0, 2, "tiny")]);
        assert!(again.iter().all(|r| r.verdict == Verdict::Rejected), "{again:?}");
    }
}
