//! The curation index on disk: what a saved history decides, and what it refuses.

use autodidact_curate::{CurateConfig, CurateError, Curator, NearDupConfig};
use autodidact_data::{Record, Verdict};

use crate::support::{rec, ungraded, words};

/// 40 distinct documents, ten of them empty of words, as the first batch.
fn first_batch() -> Vec<Record> {
    (0..40).map(|i| rec(&format!("p{i}"), &if i % 4 == 3 { "?!".to_string() } else { words(&format!("a{i}x"), 0, 40) }, 0.9)).collect()
}

/// Near copies, exact copies and new documents: what a second batch brings.
fn second_batch() -> Vec<Record> {
    (0..60)
        .map(|i| {
            let text = match i % 3 {
                0 => format!("{} extra", words(&format!("a{i}x"), 0, 40)),
                1 => words(&format!("a{}x", i % 40), 0, 40).to_uppercase(),
                _ => words(&format!("new{i}x"), 0, 40),
            };
            rec(&format!("q{i}"), &text, 0.9)
        })
        .collect()
}

#[test]
fn a_loaded_index_decides_like_the_curator_that_saved_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curate.index");
    let cfg = ungraded();
    let mut first = Curator::new(&cfg).unwrap();
    first.curate(first_batch());
    first.save_index(&path).unwrap();
    assert!(!dir.path().join("curate.index.partial").exists());

    let mut loaded = Curator::new(&cfg).unwrap();
    assert_eq!(loaded.load_index(&path).unwrap(), first.history_len());
    assert_eq!(loaded.history_len(), first.history_len());
    let from_memory = first.curate(second_batch());
    let from_disk = loaded.curate(second_batch());
    assert_eq!(from_memory, from_disk);
    let rejected = from_disk.iter().filter(|r| r.verdict == Verdict::Rejected).count();
    assert!(rejected >= 25, "the copies of the first batch are found: {rejected} rejected");
    // Reasons name the first batch's ids, read back from the file.
    let ids: Vec<String> = first_batch().into_iter().map(|r| r.id).collect();
    let r = from_disk[1].reason.as_deref().unwrap();
    assert_eq!(r, format!("exact duplicate of {}", ids[1]));

    // Another threshold, bands and rows are fine: the LSH index is rebuilt from signatures.
    let mut other = ungraded();
    other.near_duplicates = Some(NearDupConfig { threshold: 0.6, bands: Some(20), rows: Some(5), ..NearDupConfig::default() });
    Curator::new(&other).unwrap().load_index(&path).unwrap();
    // An exact-only curator reads it too.
    let exact = CurateConfig { near_duplicates: None, ..ungraded() };
    let mut c = Curator::new(&exact).unwrap();
    c.load_index(&path).unwrap();
    assert_eq!(c.curate(second_batch())[1].reason.as_deref(), Some(r));
}

#[test]
fn an_index_of_other_settings_or_a_broken_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curate.index");
    let mut c = Curator::new(&ungraded()).unwrap();
    c.curate(first_batch());
    c.save_index(&path).unwrap();

    let mut shingles3 = ungraded();
    shingles3.near_duplicates = Some(NearDupConfig { ngram: 3, ..NearDupConfig::default() });
    let err = Curator::new(&shingles3).unwrap().load_index(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CurateError::Index { .. }), "{err:?}");
    assert!(msg.contains("curate.index") && msg.contains("word 5-grams") && msg.contains("word 3-grams"), "{msg}");

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let msg = Curator::new(&ungraded()).unwrap().load_index(&path).unwrap_err().to_string();
    assert!(msg.contains("truncated"), "{msg}");
    std::fs::write(&path, b"{\"id\": 1}\n").unwrap();
    let msg = Curator::new(&ungraded()).unwrap().load_index(&path).unwrap_err().to_string();
    assert!(msg.contains("not an autodidact curation index"), "{msg}");
    let msg = Curator::new(&ungraded()).unwrap().load_index(&dir.path().join("missing")).unwrap_err().to_string();
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn remembered_files_are_history_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.jsonl");
    let doc = words("real", 0, 40);
    std::fs::write(&real, format!("{{\"text\": \"{doc}\"}}\n{{\"id\": \"r2\", \"text\": \"{}\"}}\n", words("two", 0, 40))).unwrap();
    let mut c = Curator::new(&ungraded()).unwrap();
    assert_eq!(c.remember_file(&real).unwrap(), 2);
    let out = c.curate(vec![rec("p", &doc.to_uppercase(), 0.9), rec("q", &format!("{} more", words("two", 0, 40)), 0.9)]);
    assert_eq!(out[0].reason.as_deref(), Some("exact duplicate of real.jsonl line 1"));
    assert!(out[1].reason.as_deref().unwrap().starts_with("near duplicate of r2 "), "{:?}", out[1].reason);

    std::fs::write(&real, "{\"text\": \"fine\"}\nnot json\n").unwrap();
    let msg = Curator::new(&ungraded()).unwrap().remember_file(&real).unwrap_err().to_string();
    assert!(msg.contains("real.jsonl") && msg.contains("line 2"), "{msg}");
}
