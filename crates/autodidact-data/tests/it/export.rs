use std::fs;

use autodidact_data::{DataError, ExportFormat, ExportOptions, ExportStats, Record, export};
use serde_json::{Value, json};

/// A record for a prompt and context, with a response and maybe a score.
fn rec(prompt: &str, context: Option<&str>, response: &str, score: Option<f64>) -> Record {
    let mut r = Record::new(prompt, response, context.map(str::to_string));
    r.score = score;
    r
}

/// Exports `records` and checks the lines written and the counts.
fn check(records: Vec<Record>, format: ExportFormat, opts: &ExportOptions, expected: Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train.jsonl");
    let read = records.len();
    let stats = export(records.into_iter().map(Ok), format, &out, opts).unwrap();
    let text = fs::read_to_string(&out).unwrap();
    let got: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, expected, "{format}");
    assert_eq!(
        stats,
        ExportStats {
            read,
            written: expected.len()
        }
    );
}

#[test]
fn messages_put_the_context_before_the_prompt() {
    let records = vec![
        rec("Q1", None, "A1", None),
        rec("Q2", Some("Doc."), "A2", Some(0.1)),
    ];
    let expected = vec![
        json!({"messages":[{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"}]}),
        json!({"messages":[{"role":"user","content":"Doc.\n\nQ2"},{"role":"assistant","content":"A2"}]}),
    ];
    check(
        records,
        ExportFormat::Messages,
        &ExportOptions::default(),
        expected,
    );
}

#[test]
fn prompt_completion_writes_every_record_given() {
    let records = vec![
        rec("Q1", Some("Doc."), "A1", None),
        rec("Q1", Some("Doc."), "A1", None),
        rec("", None, "", None),
    ];
    let expected = vec![
        json!({"prompt":"Doc.\n\nQ1","completion":"A1"}),
        json!({"prompt":"Doc.\n\nQ1","completion":"A1"}),
        json!({"prompt":"","completion":""}),
    ];
    check(
        records,
        ExportFormat::PromptCompletion,
        &ExportOptions::default(),
        expected,
    );
}

#[test]
fn preference_pairs_best_and_worst_per_prompt() {
    let records = vec![
        // Spread: best 0.9, worst 0.2.
        rec("spread", None, "mid", Some(0.5)),
        rec("spread", None, "best", Some(0.9)),
        // Single response: no pair.
        rec("single", None, "only", Some(0.9)),
        // Below the margin: 0.55 - 0.5.
        rec("close", None, "a", Some(0.55)),
        rec("spread", None, "worst", Some(0.2)),
        rec("close", None, "b", Some(0.5)),
        // Tie at the top: the earlier is chosen.
        rec("tie", None, "first-top", Some(0.8)),
        rec("tie", None, "low", Some(0.3)),
        rec("tie", None, "second-top", Some(0.8)),
        // Same prompt, other context: its own group, whose prompt includes the context.
        rec("spread", Some("Doc."), "ctx-good", Some(1.0)),
        rec("spread", Some("Doc."), "ctx-bad", Some(0.0)),
        // Ungraded records take no part.
        rec("single", None, "ungraded", None),
        // A repeated response counts once, with its first score.
        rec("dup", None, "same", Some(0.9)),
        rec("dup", None, "same", Some(0.1)),
        // Exactly at the margin, despite floating point (0.7 - 0.6 < 0.1 in f64).
        rec("edge", None, "hi", Some(0.7)),
        rec("edge", None, "lo", Some(0.6)),
    ];
    let expected = vec![
        json!({"prompt":"spread","chosen":"best","rejected":"worst","score_chosen":0.9,"score_rejected":0.2}),
        json!({"prompt":"tie","chosen":"first-top","rejected":"low","score_chosen":0.8,"score_rejected":0.3}),
        json!({"prompt":"Doc.\n\nspread","chosen":"ctx-good","rejected":"ctx-bad","score_chosen":1.0,"score_rejected":0.0}),
        json!({"prompt":"edge","chosen":"hi","rejected":"lo","score_chosen":0.7,"score_rejected":0.6}),
    ];
    check(
        records,
        ExportFormat::Preference,
        &ExportOptions::default(),
        expected,
    );
}

#[test]
fn preference_full_tie_pairs_the_first_two_when_margin_is_zero() {
    let records = vec![
        rec("p", None, "one", Some(0.5)),
        rec("p", None, "two", Some(0.5)),
        rec("p", None, "three", Some(0.5)),
    ];
    let zero = ExportOptions { min_margin: 0.0 };
    let expected = vec![
        json!({"prompt":"p","chosen":"one","rejected":"two","score_chosen":0.5,"score_rejected":0.5}),
    ];
    check(records.clone(), ExportFormat::Preference, &zero, expected);
    check(
        records,
        ExportFormat::Preference,
        &ExportOptions::default(),
        vec![],
    );
}

#[test]
fn preference_tie_at_the_bottom_rejects_the_earlier() {
    let records = vec![
        rec("p", None, "x", Some(0.9)),
        rec("p", None, "y", Some(0.2)),
        rec("p", None, "z", Some(0.2)),
    ];
    let expected = vec![
        json!({"prompt":"p","chosen":"x","rejected":"y","score_chosen":0.9,"score_rejected":0.2}),
    ];
    check(
        records,
        ExportFormat::Preference,
        &ExportOptions::default(),
        expected,
    );
}

#[test]
fn an_input_error_stops_the_export_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train.jsonl");
    let input = [
        Ok(rec("Q", None, "A", None)),
        Err(DataError::Json {
            path: "in.jsonl".into(),
            line: 2,
            message: "bad".into(),
        }),
    ];
    for format in [ExportFormat::Messages, ExportFormat::Preference] {
        let err = export(
            input.iter().map(clone_result),
            format,
            &out,
            &ExportOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, DataError::Json { line: 2, .. }), "{err:?}");
        assert!(!out.exists());
        assert!(!autodidact_data::partial_path(&out).exists());
    }
}

fn clone_result(r: &Result<Record, DataError>) -> Result<Record, DataError> {
    match r {
        Ok(r) => Ok(r.clone()),
        Err(DataError::Json {
            path,
            line,
            message,
        }) => Err(DataError::Json {
            path: path.clone(),
            line: *line,
            message: message.clone(),
        }),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn format_names() {
    let cases = [
        ("messages", Some(ExportFormat::Messages)),
        ("sft", Some(ExportFormat::Messages)),
        ("prompt-completion", Some(ExportFormat::PromptCompletion)),
        ("preference", Some(ExportFormat::Preference)),
        ("dpo", Some(ExportFormat::Preference)),
        ("DPO", None),
        ("chat", None),
    ];
    for (name, expected) in cases {
        assert_eq!(ExportFormat::from_name(name).ok(), expected, "{name}");
        if let Some(format) = expected {
            assert_eq!(format.name().parse::<ExportFormat>().unwrap(), format);
        }
    }
    let err = "chat".parse::<ExportFormat>().unwrap_err().to_string();
    assert!(err.starts_with("unknown export format 'chat'"), "{err}");
}
