//! Decontamination against JSONL evaluation files, and their errors.

use std::path::{Path, PathBuf};

use autodidact_curate::decontaminate::EvalSet;
use autodidact_curate::normalize::Words;
use autodidact_curate::{CurateConfig, CurateError, Curator};
use autodidact_data::{Record, Verdict};

use crate::support::rec;

const QUESTION: &str = "In the year 1887, which Scottish physician published the first \
    detective novel featuring a consulting detective living on Baker Street?";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn eval_file(dir: &Path) -> PathBuf {
    let obj = serde_json::json!({
        "id": 7,
        "question": QUESTION,
        "meta": { "choices": ["Arthur Conan Doyle", "a text whose thirteen words are all here to be matched by the checker today"] },
    });
    write(
        dir,
        "eval.jsonl",
        &format!("{obj}\n\n\"A standalone string line about the quick brown fox that jumps over the lazy dog twice\"\r\n"),
    )
}

fn curator(evals: Vec<PathBuf>) -> Curator {
    Curator::new(&CurateConfig { min_score: None, decontaminate: evals, ..CurateConfig::default() }).unwrap()
}

#[test]
fn a_planted_13_gram_is_found_and_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let eval = eval_file(dir.path());
    let mut c = curator(vec![eval.clone()]);
    let files = c.eval_files();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].texts, files[0].short_texts), (4, 1), "{files:?}");

    // The planted 13 words, with different case and punctuation, inside other text.
    let planted = "Essay: in THE year 1887 -- which Scottish physician published the first detective novel, featuring...";
    let twelve = "In the year 1887, which Scottish physician published the first detective novel, I wonder.";
    let in_prompt = Record::new(
        "Rewrite: a standalone string line about the quick brown fox that jumps over the lazy dog",
        "ok done",
        None,
    );
    let nested = rec("q", "Note: a text whose thirteen words are all here to be matched by the checker today.", 0.9);
    let mut in_context = Record::new("q", "fine answer", Some(QUESTION.to_string()));
    in_context.score = Some(0.9);
    let out = c.curate(vec![
        rec("q", planted, 0.9),
        rec("q", twelve, 0.9),
        in_prompt,
        nested,
        in_context,
        rec("q", "Arthur Conan Doyle", 0.9),
    ]);
    let expect = format!(
        "contaminated: shares 13-gram \"in the year 1887 which scottish physician published the first detective novel featuring\" with {} (in the response)",
        eval.display()
    );
    assert_eq!(out[0].reason.as_deref(), Some(expect.as_str()));
    assert_eq!(out[1].verdict, Verdict::Kept, "12 shared words are not enough: {:?}", out[1].reason);
    assert!(out[2].reason.as_deref().unwrap().ends_with("(in the prompt)"), "{:?}", out[2].reason);
    assert!(out[3].reason.as_deref().unwrap().starts_with("contaminated: shares 13-gram \"a text whose"), "{:?}", out[3].reason);
    assert!(out[4].reason.as_deref().unwrap().ends_with("(in the context)"), "{:?}", out[4].reason);
    // Eval texts shorter than 13 words cannot match (counted in short_texts).
    assert_eq!(out[5].verdict, Verdict::Kept);
    assert_eq!(c.stats().rejected_by["contaminated"], 4);
}

#[test]
fn the_first_file_with_the_ngram_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = "one two three four five six seven eight nine ten eleven twelve thirteen";
    let a = write(dir.path(), "a.jsonl", "\"unrelated words only here in this file at all, nothing to see here really\"\n");
    let b = write(dir.path(), "b.jsonl", &format!("{{\"t\": \"{text}\"}}\n"));
    let c2 = write(dir.path(), "c.jsonl", &format!("\"{text}\"\n"));
    let set = EvalSet::load(&[a, b.clone(), c2], 13).unwrap();
    let words = Words::new(&format!("Count: {text}."));
    let hit = set.find(&words).expect("found");
    assert_eq!(hit.file, b.as_path());
    assert_eq!(hit.ngram, text);
    assert_eq!(set.find(&Words::new("one two three")), None);
    // A smaller n finds shorter overlaps.
    let set = EvalSet::load(&[b], 3).unwrap();
    assert_eq!(set.find(&Words::new("say six seven eight now")).map(|h| h.ngram), Some("six seven eight"));
}

#[test]
fn bad_eval_files_are_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = "\"a fine line\"\n";
    let cases: Vec<(&str, &str, Option<usize>, &str)> = vec![
        ("broken.jsonl", "{\"q\": \"ok\"}\n\n{\"q\": \"unterminated}\n", Some(3), "not JSON"),
        ("number.jsonl", "\"ok\"\n42\n", Some(2), "expected a JSON object or string, found a number"),
        ("array.jsonl", "[\"a\", \"b\"]\n", Some(1), "found an array"),
        ("latin1.jsonl", "\"caf\u{e9}\"\n", None, ""),
        ("empty.jsonl", "\n  \n", None, "holds no text"),
        ("nostrings.jsonl", "{\"n\": 1}\n", None, "holds no text"),
    ];
    for (name, text, line, message) in cases {
        let p = write(dir.path(), name, text);
        if name == "latin1.jsonl" {
            // Write invalid UTF-8 by hand: \xE9 alone.
            std::fs::write(&p, [good.as_bytes(), b"\"caf\xE9\"\n"].concat()).unwrap();
        }
        let err = Curator::new(&CurateConfig { decontaminate: vec![p.clone()], ..CurateConfig::default() })
            .err()
            .unwrap_or_else(|| panic!("{name} accepted"));
        let shown = err.to_string();
        assert!(shown.contains(&p.display().to_string()), "{name}: {shown}");
        assert!(shown.contains(message), "{name}: {shown}");
        match (&err, line, name) {
            (CurateError::EvalLine { line: l, .. }, Some(expected), _) => assert_eq!(*l, expected, "{shown}"),
            (CurateError::EvalLine { line: l, message: m, .. }, None, "latin1.jsonl") => {
                assert_eq!(*l, 2);
                assert!(m.contains("UTF-8"), "{shown}");
            }
            (CurateError::EmptyEval { .. }, None, _) => {}
            _ => panic!("{name}: unexpected {err:?}"),
        }
    }
    let missing = dir.path().join("missing.jsonl");
    let err = Curator::new(&CurateConfig { decontaminate: vec![missing.clone()], ..CurateConfig::default() })
        .err()
        .unwrap();
    assert!(matches!(&err, CurateError::Io { path, .. } if path == &missing), "{err}");
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}
