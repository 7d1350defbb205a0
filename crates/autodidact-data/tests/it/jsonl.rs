use std::fs;

use autodidact_data::{
    DataError, JsonlRecordReader, JsonlWriter, Record, partial_path, read_json_values,
};
use serde_json::json;

use crate::{full_record, sparse_record};

fn read_all(path: &std::path::Path) -> Vec<Result<Record, DataError>> {
    JsonlRecordReader::open(path).unwrap().collect()
}

#[test]
fn round_trip_full_and_sparse_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    let records = vec![
        full_record(0),
        sparse_record(1),
        full_record(2),
        sparse_record(3),
    ];
    let mut w = JsonlWriter::create(&path).unwrap();
    for r in &records {
        w.write(r).unwrap();
    }
    assert_eq!(w.finish().unwrap(), 4);
    let back: Vec<Record> = read_all(&path).into_iter().map(Result::unwrap).collect();
    assert_eq!(back, records);
    // Empty optional fields are left out of the line rather than written as null.
    let text = fs::read_to_string(&path).unwrap();
    let line2: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let mut keys: Vec<&str> = line2
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "generation",
            "id",
            "origin",
            "prompt",
            "response",
            "task",
            "verdict"
        ]
    );
}

#[test]
fn malformed_line_names_file_and_line_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeds.jsonl");
    fs::write(
        &path,
        "{\"prompt\":\"a\"}\n{\"prompt\": oops}\n{\"prompt\":\"c\"}\n",
    )
    .unwrap();
    let got = read_all(&path);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap().prompt, "a");
    match &got[1] {
        Err(DataError::Json {
            path: p,
            line,
            message,
        }) => {
            assert_eq!(p, &path);
            assert_eq!(*line, 2);
            assert!(message.contains("column 12"), "{message}");
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let shown = got[1].as_ref().unwrap_err().to_string();
    assert!(
        shown.starts_with(&format!("error reading '{}' line 2: ", path.display())),
        "{shown}"
    );
    assert_eq!(got[2].as_ref().unwrap().prompt, "c");
}

#[test]
fn line_numbers_count_blank_lines_crlf_and_bom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeds.jsonl");
    let text = "\u{feff}{\"prompt\":\"a\"}\r\n\r\n   \n{\"prompt\":\"b\",\"response\":\"r\"}\r\n{\"response\":\"no prompt\"}\n\n";
    fs::write(&path, text).unwrap();
    let got = read_all(&path);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].as_ref().unwrap().prompt, "a");
    assert_eq!(got[1].as_ref().unwrap().response, "r");
    match &got[2] {
        Err(DataError::Json {
            line: 5, message, ..
        }) => assert!(message.contains("missing field `prompt`"), "{message}"),
        other => panic!("expected a JSON error on line 5, got {other:?}"),
    }
}

#[test]
fn records_without_id_get_their_content_id_and_given_ids_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeds.jsonl");
    fs::write(&path, "{\"prompt\":\"p\",\"response\":\"r\"}\n{\"id\":\"\",\"prompt\":\"p\"}\n{\"id\":\"mine\",\"prompt\":\"p\"}\n").unwrap();
    let ids: Vec<String> = read_all(&path).into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(
        ids,
        [
            Record::content_id("p", "r", None),
            Record::content_id("p", "", None),
            "mine".to_string()
        ]
    );
}

#[test]
fn json_array_files_get_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeds.json");
    fs::write(&path, "[{\"prompt\":\"a\"},{\"prompt\":\"b\"}]\n").unwrap();
    let err = read_all(&path).remove(0).unwrap_err().to_string();
    assert!(
        err.contains("line 1: expected one JSON object per line"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_is_an_error_for_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeds.jsonl");
    fs::write(
        &path,
        b"{\"prompt\":\"a\"}\n{\"prompt\":\"\xff\"}\n".as_slice(),
    )
    .unwrap();
    let got = read_all(&path);
    assert!(
        matches!(&got[1], Err(DataError::Json { line: 2, message, .. }) if message.contains("UTF-8")),
        "{got:?}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.jsonl");
    let err = JsonlRecordReader::open(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("absent.jsonl"));
}

#[test]
fn json_values_come_with_their_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topics.jsonl");
    fs::write(&path, "{\"topic\":\"rust\"}\n\n[1,2]\n\"text\"\n{bad\n").unwrap();
    let got: Vec<_> = read_json_values(&path).unwrap().collect();
    let ok: Vec<(usize, serde_json::Value)> = got[..3]
        .iter()
        .map(|r| r.as_ref().unwrap().clone())
        .collect();
    assert_eq!(
        ok,
        [
            (1, json!({"topic":"rust"})),
            (3, json!([1, 2])),
            (4, json!("text"))
        ]
    );
    assert!(
        matches!(&got[3], Err(DataError::Json { line: 5, .. })),
        "{:?}",
        got[3]
    );
    assert_eq!(got.len(), 4);
}

#[test]
fn writer_uses_a_partial_file_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let partial = partial_path(&path);
    assert_eq!(partial, dir.path().join("out.jsonl.partial"));
    let mut w = JsonlWriter::create(&path).unwrap();
    w.write(&json!({"a": 1})).unwrap();
    assert!(!path.exists());
    assert!(partial.exists());
    assert_eq!(w.finish().unwrap(), 1);
    assert!(path.exists());
    assert!(!partial.exists());
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");

    // Dropped without finishing: nothing is left under either name.
    let other = dir.path().join("abandoned.jsonl");
    let mut w = JsonlWriter::create(&other).unwrap();
    w.write(&json!({"a": 1})).unwrap();
    drop(w);
    assert!(!other.exists());
    assert!(!partial_path(&other).exists());
}

#[test]
fn unserializable_value_is_an_error_and_leaves_no_half_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let mut w = JsonlWriter::<std::collections::HashMap<(u8, u8), u8>>::create(&path).unwrap();
    w.write(&Default::default()).unwrap();
    let err = w.write(&[((1, 2), 3)].into_iter().collect()).unwrap_err();
    assert!(
        matches!(&err, DataError::JsonWrite { line: 2, .. }),
        "{err:?}"
    );
    assert_eq!(w.finish().unwrap(), 1);
    assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
}

#[test]
fn creating_in_a_missing_directory_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/out.jsonl");
    let err = JsonlWriter::<Record>::create(&path).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/out.jsonl"), "{err}");
}
