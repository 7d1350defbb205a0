//! Curator decisions: every reason, clusters, history, completeness and determinism.

use std::collections::HashSet;

use autodidact_curate::minhash::MinHasher;
use autodidact_curate::normalize::normalize;
use autodidact_curate::{CurateConfig, Curator, NearDupConfig};
use autodidact_data::{Record, Verdict};

use crate::support::{curate, jaccard_in, rec, ungraded, words};

/// One record through a fresh curator: its verdict's reason (None when kept) and the stats key
/// it was counted under.
fn decide(cfg: &CurateConfig, r: Record) -> (Option<String>, String) {
    let mut c = Curator::new(cfg).unwrap();
    let out = c.curate(vec![r]);
    assert_eq!(out.len(), 1);
    let stats = c.stats();
    assert_eq!(stats.seen, 1);
    let key = match out[0].verdict {
        Verdict::Kept => {
            assert_eq!(stats.kept, 1);
            "kept".to_string()
        }
        Verdict::Rejected => {
            assert_eq!(stats.rejected(), 1);
            stats.rejected_by.keys().next().unwrap().clone()
        }
        Verdict::Pending => panic!("pending after curation"),
    };
    (out[0].reason.clone(), key)
}

#[test]
fn each_filter_rejects_with_its_reason() {
    let base = CurateConfig::default;
    let upstream = {
        let mut r = rec("p", "an answer", 0.9);
        r.reject("generation failed: timeout after 30s");
        r
    };
    let upstream_silent = {
        let mut r = rec("p", "an answer", 0.9);
        r.verdict = Verdict::Rejected;
        r
    };
    let ungraded_rec = Record::new("p", "an answer", None);
    let nan = rec("p", "an answer", f64::NAN);
    let cases: Vec<(&str, CurateConfig, Record, Option<&str>, &str)> = vec![
        ("upstream", base(), upstream, Some("generation failed: timeout after 30s"), "failed"),
        ("upstream without reason", base(), upstream_silent, Some("rejected before curation"), "failed"),
        ("low score", base(), rec("p", "an answer", 0.55), Some("score 0.55 below min_score 0.70"), "score"),
        ("just below", base(), rec("p", "an answer", 0.699), Some("score 0.699 below min_score 0.7"), "score"),
        ("at threshold", base(), rec("p", "an answer", 0.7), None, "kept"),
        ("not graded", base(), ungraded_rec.clone(), Some("not graded"), "score"),
        ("NaN score", base(), nan, Some("not graded (score is NaN)"), "score"),
        ("no threshold", ungraded(), ungraded_rec, None, "kept"),
        (
            "too short",
            CurateConfig { min_words: 20, ..base() },
            rec("p", "Only three words.", 0.9),
            Some("too short: 3 words < min_words 20"),
            "length",
        ),
        ("empty", base(), rec("p", " ... ", 0.9), Some("too short: 0 words < min_words 1"), "length"),
        (
            "too long",
            CurateConfig { max_words: Some(5), ..base() },
            rec("p", "one two three four five six seven eight", 0.9),
            Some("too long: 8 words > max_words 5"),
            "length",
        ),
        ("at max", CurateConfig { max_words: Some(5), ..base() }, rec("p", "a b c d e", 0.9), None, "kept"),
        (
            // 9 words, 7 trigrams, 4 of them repeats.
            "repetitive",
            base(),
            rec("p", "The cat sat, the cat sat, the cat sat.", 0.9),
            Some("repetitive: 0.57 of word 3-grams repeated > max_repetition 0.50"),
            "repetition",
        ),
        (
            "repetition allowed",
            CurateConfig { max_repetition: 0.6, ..base() },
            rec("p", "The cat sat, the cat sat, the cat sat.", 0.9),
            None,
            "kept",
        ),
    ];
    for (name, cfg, r, reason, key) in cases {
        let (got, got_key) = decide(&cfg, r);
        assert_eq!(got.as_deref(), reason, "{name}");
        assert_eq!(got_key, key, "{name}");
    }
}

#[test]
fn a_kept_input_is_decided_again_and_loses_its_old_reason() {
    let mut r = rec("p", "an answer", 0.2);
    r.verdict = Verdict::Kept;
    r.reason = Some("kept by hand".into());
    let (reason, key) = decide(&CurateConfig::default(), r);
    assert_eq!((reason.as_deref(), key.as_str()), (Some("score 0.20 below min_score 0.70"), "score"));
    let mut r = rec("p", "an answer", 0.9);
    r.reason = Some("stale".into());
    assert_eq!(decide(&CurateConfig::default(), r), (None, "kept".to_string()));
}

#[test]
fn exact_duplicates_keep_the_highest_score_then_the_earliest() {
    let a = rec("q1", "The answer is FORTY-two.", 0.8);
    let b = rec("q2", "the answer is forty two", 0.95);
    let c = rec("q3", "  The answer... is fortytwo!", 0.95);
    let d = rec("q4", "Something else entirely.", 0.9);
    let out = curate(&CurateConfig::default(), vec![a.clone(), b.clone(), c.clone(), d.clone()]);
    // "forty two" (two words) differs from "fortytwo": b and c are not the same text.
    assert_eq!(normalize(&a.response), normalize(&c.response));
    assert_eq!(out[0].reason.as_deref(), Some(format!("exact duplicate of {}", c.id).as_str()));
    assert_eq!(out[1].verdict, Verdict::Kept, "{:?}", out[1].reason);
    assert_eq!(out[2].verdict, Verdict::Kept);
    assert_eq!(out[3].verdict, Verdict::Kept);

    // Equal scores: the earliest wins.
    let out = curate(&ungraded(), vec![rec("a", "Same text.", 0.5), rec("b", "same TEXT", 0.5)]);
    assert_eq!(out[0].verdict, Verdict::Kept);
    assert_eq!(out[1].reason.as_deref(), Some(format!("exact duplicate of {}", out[0].id).as_str()));
}

#[test]
fn near_duplicates_keep_the_highest_score_in_the_cluster() {
    let base = words("w", 0, 60);
    let v1 = format!("{base} end1");
    let v2 = format!("{base} end2");
    let v3 = format!("{base} end3 end4");
    let other = words("x", 0, 60);
    let records = vec![rec("a", &v1, 0.75), rec("b", &v2, 0.95), rec("c", &other, 0.8), rec("d", &v3, 0.85)];
    let mut c = Curator::new(&CurateConfig::default()).unwrap();
    let out = c.curate(records.clone());
    let kept: Vec<bool> = out.iter().map(|r| r.verdict == Verdict::Kept).collect();
    assert_eq!(kept, [false, true, true, false]);
    for i in [0, 3] {
        let reason = out[i].reason.as_deref().unwrap();
        let prefix = format!("near duplicate of {} (estimated Jaccard ", records[1].id);
        assert!(reason.starts_with(&prefix), "{reason}");
        let j = jaccard_in(reason);
        assert!((0.8..=1.0).contains(&j), "{reason}");
    }
    assert_eq!(c.stats().rejected_by["near_duplicate"], 2);
    assert_eq!(c.stats().kept, 2);
}

#[test]
fn clusters_are_transitive_and_say_through_whom() {
    // Word sets (1-word shingles): J(A,B) = J(B,C) = 0.67, J(A,C) = 0.43; threshold 0.55.
    // 256 permutations keep each estimate about 4 standard deviations from the threshold;
    // 64 bands of 4 rows make every pair above it a candidate.
    let cfg = CurateConfig {
        min_score: None,
        near_duplicates: Some(NearDupConfig {
            threshold: 0.55,
            permutations: 256,
            ngram: 1,
            bands: Some(64),
            rows: Some(4),
        }),
        ..CurateConfig::default()
    };
    let a = rec("a", &words("w", 0, 100), 0.9);
    let b = rec("b", &words("w", 20, 120), 0.8);
    let c = rec("c", &words("w", 40, 140), 0.85);
    let out = curate(&cfg, vec![b.clone(), a.clone(), c.clone()]);
    assert_eq!(out[1].verdict, Verdict::Kept);
    let rb = out[0].reason.as_deref().unwrap();
    assert!(rb.starts_with(&format!("near duplicate of {} (estimated Jaccard 0.", a.id)), "{rb}");
    assert!(!rb.contains("linked"), "{rb}");
    let rc = out[2].reason.as_deref().unwrap();
    assert!(rc.starts_with(&format!("near duplicate of {} (estimated Jaccard 0.", a.id)), "{rc}");
    assert!(jaccard_in(rc) < 0.55, "{rc}");
    assert!(rc.contains(&format!("; linked through {} at 0.", b.id)), "{rc}");
}

#[test]
fn history_from_remember_and_earlier_batches_is_checked() {
    let base = words("h", 0, 50);
    let old = rec("old", &base, 0.75);
    let mut rejected_old = rec("bad", &words("r", 0, 50), 0.9);
    rejected_old.reject("score 0.1 below min_score 0.70");
    let mut c = Curator::new(&CurateConfig::default()).unwrap();
    c.remember(&[old.clone(), rejected_old.clone()]);
    assert_eq!(c.history_len(), 1, "rejected records are not remembered");
    assert_eq!(c.stats().seen, 0, "remembering decides nothing");

    let near = rec("n", &format!("{base} extra"), 0.99);
    let exact = rec("e", &base.to_uppercase(), 0.99);
    let fresh = rec("f", &words("f", 0, 50), 0.9);
    let like_rejected = rec("l", &words("r", 0, 50), 0.9);
    let out = c.curate(vec![near, exact, fresh.clone(), like_rejected]);
    let near_reason = out[0].reason.as_deref().unwrap();
    assert!(near_reason.starts_with(&format!("near duplicate of {} (estimated Jaccard", old.id)), "{near_reason}");
    // A higher score does not beat history.
    assert_eq!(out[1].reason.as_deref(), Some(format!("exact duplicate of {}", old.id).as_str()));
    assert_eq!(out[2].verdict, Verdict::Kept);
    assert_eq!(out[3].verdict, Verdict::Kept);

    // What this batch kept is history for the next one.
    let out = c.curate(vec![rec("again", &format!("{}!", words("f", 0, 50)), 1.0)]);
    assert_eq!(out[0].reason.as_deref(), Some(format!("exact duplicate of {}", fresh.id).as_str()));
    let s = c.stats();
    assert_eq!((s.seen, s.kept), (5, 2));
    assert_eq!(s.rejected_by["exact_duplicate"], 2);
    assert_eq!(s.rejected_by["near_duplicate"], 1);
}

#[test]
fn the_dedup_field_chooses_the_text_compared() {
    let same_prompt = || vec![rec("What is 2+2?", "Four.", 0.8), rec("what is 2+2", "It is 4.", 0.9)];
    let by = |field: &str| CurateConfig { field: Some(field.into()), ..CurateConfig::default() };
    let kept = |out: &[Record]| out.iter().map(|r| r.verdict == Verdict::Kept).collect::<Vec<_>>();
    assert_eq!(kept(&curate(&by("response"), same_prompt())), [true, true]);
    let out = curate(&by("prompt"), same_prompt());
    assert_eq!(kept(&out), [false, true]);
    assert_eq!(out[0].reason.as_deref(), Some(format!("exact duplicate of {}", out[1].id).as_str()));
    assert_eq!(kept(&curate(&by("prompt+response"), same_prompt())), [true, true]);
    let out = curate(&by("prompt+response"), vec![rec("Q?", "A b.", 0.8), rec("q", "a B", 0.8)]);
    assert_eq!(kept(&out), [true, false]);
    // The boundary between prompt and response matters to the exact key (near duplicates see
    // one word sequence, so they would join these two).
    let exact_only = CurateConfig { near_duplicates: None, ..by("prompt+response") };
    assert_eq!(kept(&curate(&exact_only, vec![rec("q a", "b", 0.8), rec("q", "a b", 0.8)])), [true, true]);
    assert_eq!(kept(&curate(&by("prompt+response"), vec![rec("q a", "b", 0.8), rec("q", "a b", 0.8)])), [true, false]);
}

#[test]
fn switches_turn_deduplication_off() {
    let twins = || vec![rec("a", "Same words here.", 0.8), rec("b", "same words here", 0.8)];
    // Exact off, near on: identical texts are near duplicates with similarity 1.
    let cfg = CurateConfig { exact_duplicates: false, ..CurateConfig::default() };
    let out = curate(&cfg, twins());
    assert_eq!(out[1].reason.as_deref(), Some(format!("near duplicate of {} (estimated Jaccard 1.00)", out[0].id).as_str()));
    // Both off: both kept.
    let cfg = CurateConfig { exact_duplicates: false, near_duplicates: None, ..CurateConfig::default() };
    let out = curate(&cfg, twins());
    assert!(out.iter().all(|r| r.verdict == Verdict::Kept));
    // Near off: a one-word change survives.
    let cfg = CurateConfig { near_duplicates: None, ..CurateConfig::default() };
    let base = words("w", 0, 40);
    let out = curate(&cfg, vec![rec("a", &base, 0.8), rec("b", &format!("{base} more"), 0.8)]);
    assert!(out.iter().all(|r| r.verdict == Verdict::Kept));
}

/// A batch with every kind of fate: distinct texts, exact and near copies, low and missing
/// scores, upstream failures.
fn mixed_batch(n: usize) -> Vec<Record> {
    let mut out = Vec::new();
    for i in 0..n {
        // Records n/3 apart share a text (and a kind: n/3 is a multiple of 5 here).
        let group = i % (n / 3);
        let text = words(&format!("d{group}x"), 0, 30 + group % 7);
        let mut r = match i % 5 {
            0 => rec(&format!("p{i}"), &text, 0.5 + (i % 50) as f64 / 100.0),
            1 => rec(&format!("p{i}"), &format!("{text} tail{i}"), 0.9),
            2 => rec(&format!("p{i}"), &text.to_uppercase(), 0.8),
            3 => Record::new(format!("p{i}"), text, None),
            _ => rec(&format!("p{i}"), &format!("{i} {}", words("u", i, i + 20)), 0.75),
        };
        if i % 23 == 0 {
            r.reject(format!("generation {i} failed"));
        }
        out.push(r);
    }
    out
}

#[test]
fn every_record_comes_out_once_in_order_with_a_verdict() {
    let input = mixed_batch(600);
    let mut c = Curator::new(&CurateConfig::default()).unwrap();
    let out = c.curate(input.clone());
    assert_eq!(out.len(), input.len());
    let kept_ids: HashSet<&str> =
        out.iter().filter(|r| r.verdict == Verdict::Kept).map(|r| r.id.as_str()).collect();
    for (a, b) in input.iter().zip(&out) {
        assert_eq!(a.id, b.id, "order kept");
        match b.verdict {
            Verdict::Kept => assert_eq!(b.reason, None),
            Verdict::Rejected => {
                let reason = b.reason.as_deref().expect("a reason");
                // Duplicates point at a record that was kept.
                if let Some(rest) = reason.strip_prefix("exact duplicate of ").or(reason.strip_prefix("near duplicate of ")) {
                    let id = rest.split(' ').next().unwrap();
                    assert!(kept_ids.contains(id), "{reason}");
                }
            }
            Verdict::Pending => panic!("pending: {b:?}"),
        }
    }
    let s = c.stats();
    assert_eq!(s.seen, 600);
    assert_eq!(s.kept + s.rejected(), 600);
    assert_eq!(s.kept as usize, kept_ids.len());
    for key in ["failed", "score", "exact_duplicate", "near_duplicate"] {
        assert!(s.rejected_by.get(key).copied().unwrap_or(0) > 0, "no {key} in {:?}", s.rejected_by);
    }
    // No two kept records are duplicates of each other.
    let m = MinHasher::new(128, 5, 0);
    let kept: Vec<&Record> = out.iter().filter(|r| r.verdict == Verdict::Kept).collect();
    let mut texts = HashSet::new();
    let sigs: Vec<_> = kept.iter().map(|r| m.signature(&r.response)).collect();
    for (i, r) in kept.iter().enumerate() {
        assert!(texts.insert(normalize(&r.response)), "kept twice: {}", r.response);
        for j in 0..i {
            assert!(sigs[i].jaccard(&sigs[j]) < 0.95, "kept both {:?} and {:?}", r.response, kept[j].response);
        }
    }
}

#[test]
fn output_is_the_same_whatever_the_thread_count() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut c = Curator::new(&CurateConfig::default()).unwrap();
            c.remember(&mixed_batch(90)[..30]);
            let mut out = c.curate(mixed_batch(400));
            // A second batch against the history the first one filled (over 256 kept: bands
            // filled in parallel), itself mostly copies of it.
            out.extend(c.curate(mixed_batch(600)));
            (out, c.stats().clone())
        })
    };
    let (one, s1) = run(1);
    let (two, s2) = run(2);
    assert_eq!(one, two);
    assert_eq!(s1, s2);
}

#[test]
fn planted_near_duplicates_are_all_found() {
    // 200 documents and a one-word variant of each (true 5-gram Jaccard 35/37 = 0.95):
    // banding at 14x9 misses such a pair with probability about 2e-6.
    let mut records = Vec::new();
    for i in 0..200 {
        records.push(rec(&format!("p{i}"), &words(&format!("doc{i}w"), 0, 40), 0.9));
    }
    for i in 0..200 {
        records.push(rec(&format!("q{i}"), &format!("{} changed", words(&format!("doc{i}w"), 0, 39)), 0.8));
    }
    let mut c = Curator::new(&CurateConfig::default()).unwrap();
    let out = c.curate(records);
    for i in 0..200 {
        assert_eq!(out[i].verdict, Verdict::Kept, "{i}");
        let reason = out[200 + i].reason.as_deref().unwrap_or("kept");
        assert!(reason.starts_with(&format!("near duplicate of {}", out[i].id)), "{i}: {reason}");
    }
}
