//! Integration tests of autodidact-data, one binary with a module per theme; each test
//! works in its own temporary directory on real files.

mod dataset;
mod export;
mod jsonl;
mod parquet;

use autodidact_data::{Grade, Origin, Record, Verdict};

/// A record with every field set, different for every `i`.
pub fn full_record(i: usize) -> Record {
    let mut r = Record::new(
        format!("Question {i}: why is the sky blue? \u{00e9}\u{4e2d}"),
        format!("Answer {i}: Rayleigh scattering.\nSecond line with \"quotes\"."),
        Some(format!("Document {i} about light.")),
    );
    r.origin = Origin::Real;
    r.generation = 3 + i as u32;
    r.task = "qa-from-docs".into();
    r.model = Some("tiny-g3".into());
    r.parent = Some(format!("seed-{i}"));
    r.grades = vec![
        Grade {
            grader: "judge".into(),
            score: Some(0.75),
            explanation: Some("Grounded and clear.".into()),
            error: None,
            details: Some(r#"{"clarity":0.8}"#.into()),
        },
        Grade {
            grader: "grounding".into(),
            score: None,
            explanation: None,
            error: Some("timeout".into()),
            details: None,
        },
    ];
    r.score = Some(0.5 + i as f64 / 1000.0);
    r.verdict = Verdict::Rejected;
    r.reason = Some("below threshold".into());
    r
}

/// A record with every optional field empty.
pub fn sparse_record(i: usize) -> Record {
    Record::new(format!("p{i}"), "", None)
}
