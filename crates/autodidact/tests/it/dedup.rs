//! Issue 6 (first part): `autodidact dedup` and `autodidact decontaminate` on files that are
//! not autodidact's records, JSONL and Parquet.

use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use crate::util::{Sandbox, run};

/// A paragraph of 60 distinct words; `variant` changes one word (Jaccard of word 5-gram
/// shingles with the original: 51 / 61 ≈ 0.84, above the default 0.8).
fn paragraph(seed: usize, variant: bool) -> String {
    let words: Vec<String> = (0..60)
        .map(|i| if variant && i == 30 { "CHANGED".to_string() } else { format!("w{}x{}", seed, i) })
        .collect();
    words.join(" ")
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn dedup_keeps_jsonl_rows_as_they_were_and_names_the_kept_twin() {
    let sb = Sandbox::new();
    let rows = [
        json!({"id": "a", "text": paragraph(1, false), "source": "x", "n": 1}),
        json!({"id": "b", "text": paragraph(2, false), "source": "y", "n": 2}),
        json!({"id": "c", "text": paragraph(1, true), "source": "z", "n": 3}),
        json!({"id": "d", "text": paragraph(2, false).to_uppercase() + " !", "source": "w", "n": 4}),
        json!({"id": "e", "text": paragraph(3, false), "nested": {"k": [1, 2]}}),
    ];
    let input = sb.write("in.jsonl", &(rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n") + "\n\n"));
    let out = sb.path().join("out.jsonl");
    let output = run(sb.cmd(&["dedup", input.to_str().unwrap(), out.to_str().unwrap(), "--json"]));
    output.expect_code(0);
    let summary: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!((summary["read"].as_u64(), summary["kept"].as_u64(), summary["removed"].as_u64()), (Some(5), Some(3), Some(2)));
    assert_eq!(summary["removed_by"]["near_duplicate"], 1);
    assert_eq!(summary["removed_by"]["exact_duplicate"], 1);
    // The rows kept, byte for byte as read, in input order.
    assert_eq!(lines(&out), vec![rows[0].clone(), rows[1].clone(), rows[4].clone()]);
    let rejected = lines(&sb.path().join("out.rejected.jsonl"));
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["id"], "c");
    assert!(rejected[0]["reason"].as_str().unwrap().starts_with("near duplicate of a"), "{}", rejected[0]);
    assert_eq!(rejected[1]["id"], "d");
    assert!(rejected[1]["reason"].as_str().unwrap().starts_with("exact duplicate of b"), "{}", rejected[1]);

    // Exact only: the near duplicate stays.
    let out2 = sb.path().join("exact.jsonl");
    run(sb.cmd(&["dedup", input.to_str().unwrap(), out2.to_str().unwrap(), "--exact-only"])).expect_code(0);
    assert_eq!(lines(&out2).len(), 4);
}

#[test]
fn dedup_filters_any_parquet_schema_and_keeps_its_columns() {
    let sb = Sandbox::new();
    let input = sb.path().join("in.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("body", DataType::Utf8, true),
        Field::new("score", DataType::Int64, false),
    ]));
    let texts = [paragraph(1, false), paragraph(1, true), paragraph(2, false), paragraph(1, false)];
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(texts.iter().map(|t| Some(t.as_str())).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(vec![10, 20, 30, 40])),
        ],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&input).unwrap(), schema.clone(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let out = sb.path().join("out.parquet");
    // Without --field there is no `text` or `response` column: a clear error.
    run(sb.cmd(&["dedup", input.to_str().unwrap(), out.to_str().unwrap()]))
        .expect_code(2)
        .expect_stderr(&["body", "--field"]);
    run(sb.cmd(&["dedup", input.to_str().unwrap(), out.to_str().unwrap(), "--field", "body"])).expect_code(0);
    // Read back by arrow-rs's own reader: the same columns and types, the rows kept in order.
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(batches[0].schema().fields(), schema.fields());
    let scores: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(1).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
        .collect();
    assert_eq!(scores, vec![10, 30]);
    let rejected = lines(&sb.path().join("out.rejected.jsonl"));
    assert_eq!(rejected.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ["row 1", "row 3"]);
    assert!(rejected[1]["reason"].as_str().unwrap().contains("row 0"));
}

#[test]
fn decontaminate_catches_planted_gsm8k_questions_and_keeps_the_rest() {
    let sb = Sandbox::new();
    let gsm8k = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/gsm8k-test.jsonl");
    let questions: Vec<String> = std::fs::read_to_string(&gsm8k)
        .unwrap()
        .lines()
        .take(3)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["question"].as_str().unwrap().to_string())
        .collect();
    let rows = [
        json!({"text": format!("Here is a problem for you. {}", questions[0])}),
        json!({"text": paragraph(7, false)}),
        json!({"text": questions[2].clone()}),
        json!({"text": "A short clean sentence about ducks and eggs at the market."}),
    ];
    let input = sb.write("in.jsonl", &(rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n") + "\n"));
    let out = sb.path().join("clean.jsonl");
    let output = run(sb.cmd(&["decontaminate", input.to_str().unwrap(), out.to_str().unwrap(), "--against", gsm8k.to_str().unwrap(), "--json"]));
    output.expect_code(0);
    assert_eq!(lines(&out), vec![rows[1].clone(), rows[3].clone()]);
    let rejected = lines(&sb.path().join("clean.rejected.jsonl"));
    assert_eq!(rejected.len(), 2);
    for r in &rejected {
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("gsm8k-test.jsonl"), "the reason names the evaluation set: {reason}");
    }
    assert_eq!(rejected[0]["id"], "line 1");
    assert_eq!(rejected[1]["id"], "line 3");
}

#[test]
fn a_malformed_line_is_named_with_file_and_line() {
    let sb = Sandbox::new();
    let input = sb.write("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": oops}\n");
    let out = sb.path().join("o.jsonl");
    run(sb.cmd(&["dedup", input.to_str().unwrap(), out.to_str().unwrap()]))
        .expect_code(2)
        .expect_stderr(&["bad.jsonl", "line 2"]);
    assert!(!out.exists(), "no output under the real name after a failure");
    let input = sb.write("nofield.jsonl", "{\"body\": \"x\"}\n");
    run(sb.cmd(&["dedup", input.to_str().unwrap(), out.to_str().unwrap()]))
        .expect_code(2)
        .expect_stderr(&["nofield.jsonl", "line 1", "body", "--field"]);
}

#[test]
fn an_index_carries_what_was_kept_into_the_next_file() {
    let sb = Sandbox::new();
    let write = |name: &str, rows: &[Value]| sb.write(name, &(rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n") + "\n"));
    let first = write("first.jsonl", &[json!({"id": "a", "text": paragraph(1, false)}), json!({"id": "b", "text": paragraph(2, false)})]);
    let second = write(
        "second.jsonl",
        &[
            json!({"id": "c", "text": paragraph(1, true)}),
            json!({"id": "d", "text": paragraph(3, false)}),
            json!({"id": "e", "text": paragraph(2, false)}),
        ],
    );
    let index = sb.path().join("kept.index");
    let dedup = |input: &std::path::Path, out: &str, extra: &[&str]| {
        let out = sb.path().join(out);
        let mut args = vec!["dedup", input.to_str().unwrap(), out.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = run(sb.cmd(&args));
        o.expect_code(0);
        (serde_json::from_str::<Value>(&o.stdout).unwrap(), lines(&out))
    };
    let idx = index.to_str().unwrap();
    let (s, kept) = dedup(&first, "out1.jsonl", &["--index", idx]);
    assert_eq!((s["kept"].as_u64(), s["earlier"].as_u64(), kept.len()), (Some(2), Some(0), 2));
    assert!(index.is_file());
    let (s, kept) = dedup(&second, "out2.jsonl", &["--index", idx]);
    assert_eq!((s["kept"].as_u64(), s["earlier"].as_u64()), (Some(1), Some(2)));
    assert_eq!(kept, vec![json!({"id": "d", "text": paragraph(3, false)})]);
    let rejected = lines(&sb.path().join("out2.rejected.jsonl"));
    assert!(rejected[0]["reason"].as_str().unwrap().starts_with("near duplicate of a "), "{}", rejected[0]);
    assert_eq!(rejected[1]["reason"], "exact duplicate of b");

    // Without the index, the same file against the first one as remembered data.
    let (s, kept) = dedup(&second, "out3.jsonl", &["--remember", first.to_str().unwrap()]);
    assert_eq!((s["kept"].as_u64(), s["earlier"].as_u64(), kept.len()), (Some(1), Some(2), 1));

    // An index made with other settings is refused, naming it.
    let out = sb.path().join("out4.jsonl");
    let o = run(sb.cmd(&["dedup", second.to_str().unwrap(), out.to_str().unwrap(), "--index", idx, "--ngram", "3"]));
    o.expect_code(2);
    assert!(o.stderr.contains("kept.index") && o.stderr.contains("word 3-grams"), "{}", o.stderr);
}
