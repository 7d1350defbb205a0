//! A budget in curation: what is chosen, what is rejected, and the diversity reported.

use autodidact_curate::{CurateConfig, Curator, Selection};
use autodidact_data::{Record, Verdict};

use crate::support::{rec, ungraded};

/// 8 topics, each its own 12-word vocabulary; topic 0 has 40 texts with the best scores, the
/// others 4 texts each with lower scores. Every text is 15 words of its topic's vocabulary.
fn topical() -> Vec<Record> {
    let mut out = Vec::new();
    let mut state = 11u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for t in 0..8 {
        let n = if t == 0 { 40 } else { 4 };
        for i in 0..n {
            let text: Vec<String> = (0..15).map(|_| format!("t{t}w{}", next() % 12)).collect();
            let score = if t == 0 { 0.99 - i as f64 * 0.001 } else { 0.8 };
            out.push(rec(&format!("t{t}i{i}"), &text.join(" "), score));
        }
    }
    out
}

fn budgeted(selection: Selection, budget: usize) -> (Vec<Record>, Curator) {
    let cfg = CurateConfig { budget: Some(budget), selection, ..ungraded() };
    let mut c = Curator::new(&cfg).unwrap();
    (c.curate(topical()), c)
}

fn topics_kept(out: &[Record]) -> usize {
    let mut topics: Vec<&str> = out.iter().filter(|r| r.verdict == Verdict::Kept).map(|r| &r.prompt[..2]).collect();
    topics.sort_unstable();
    topics.dedup();
    topics.len()
}

#[test]
fn a_diverse_budget_covers_the_topics_that_scores_alone_leave_out() {
    let (out, c) = budgeted(Selection::Diverse, 8);
    assert_eq!(out.iter().filter(|r| r.verdict == Verdict::Kept).count(), 8);
    assert_eq!(topics_kept(&out), 8, "one per topic");
    let first = out.iter().find(|r| r.verdict == Verdict::Rejected).unwrap();
    assert_eq!(first.reason.as_deref(), Some("not selected: 68 records passed and the budget keeps 8 (diverse selection)"));
    assert_eq!(c.stats().rejected_by["budget"], 60);
    let s = c.last_selection().expect("a selection report");
    assert_eq!((s.method.as_str(), s.candidates, s.budget), ("diverse", 68, 8));
    assert!(s.kept.mean_distance > s.random.mean_distance, "{s:?}");
    assert!(s.kept.mean_distance > s.by_score.mean_distance + 0.3, "{s:?}");
    assert!(s.kept.distinct_words > s.by_score.distinct_words, "{s:?}");

    let (out, c) = budgeted(Selection::Score, 8);
    assert_eq!(topics_kept(&out), 1, "the best scores are all one topic");
    let s = c.last_selection().unwrap();
    assert_eq!(s.kept, s.by_score);

    let (out, _) = budgeted(Selection::Random, 8);
    assert_eq!(out.iter().filter(|r| r.verdict == Verdict::Kept).count(), 8);
}

#[test]
fn a_budget_that_is_not_reached_chooses_nothing() {
    let (out, c) = budgeted(Selection::Diverse, 68);
    assert!(out.iter().all(|r| r.verdict == Verdict::Kept));
    assert!(c.last_selection().is_none());
    let err = Curator::new(&CurateConfig { budget: Some(0), ..ungraded() }).err().unwrap().to_string();
    assert!(err.contains("budget"), "{err}");
}

#[test]
fn the_choice_is_the_same_whatever_the_thread_count() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let (out, c) = budgeted(Selection::Diverse, 20);
            (out, c.last_selection().cloned())
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}
