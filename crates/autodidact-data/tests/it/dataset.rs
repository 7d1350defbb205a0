use std::fs;

use autodidact_data::{
    DataError, Format, RecordReader, RecordWriter, open_records, partial_path, write_records,
};

use crate::{full_record, sparse_record};

#[test]
fn both_formats_round_trip_through_the_common_api() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![full_record(0), sparse_record(1), full_record(2)];
    for name in ["a.jsonl", "a.ndjson", "a.json", "a.parquet"] {
        let path = dir.path().join(name);
        assert_eq!(write_records(&path, &records).unwrap(), 3, "{name}");
        let reader = open_records(&path).unwrap();
        let is_parquet = matches!(reader, RecordReader::Parquet(_));
        assert_eq!(
            is_parquet,
            Format::from_path(&path).unwrap() == Format::Parquet,
            "{name}"
        );
        assert_eq!(reader.path(), path);
        let back: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(back, records, "{name}");
    }
    // The Parquet file really is Parquet, the JSONL file really is text.
    assert_eq!(
        &fs::read(dir.path().join("a.parquet")).unwrap()[..4],
        b"PAR1"
    );
    assert!(
        fs::read_to_string(dir.path().join("a.jsonl"))
            .unwrap()
            .starts_with("{\"id\":")
    );
}

#[test]
fn record_writer_finishes_under_the_real_name() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["w.jsonl", "w.parquet"] {
        let path = dir.path().join(name);
        let mut w = RecordWriter::create(&path).unwrap();
        w.write(&full_record(0)).unwrap();
        w.write(&sparse_record(1)).unwrap();
        assert!(!path.exists() && partial_path(&path).exists(), "{name}");
        assert_eq!(w.finish().unwrap(), 2);
        assert!(path.exists() && !partial_path(&path).exists(), "{name}");
        assert_eq!(open_records(&path).unwrap().count(), 2);
    }
}

#[test]
fn unknown_extensions_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    fs::write(&path, "prompt\nhello\n").unwrap();
    let err = open_records(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::UnknownFormat { path: p } if p == &path),
        "{err:?}"
    );
    let err = write_records(&dir.path().join("out.txt"), &[sparse_record(0)]).unwrap_err();
    assert!(err.to_string().contains("out.txt"), "{err}");
    assert!(!dir.path().join("out.txt").exists());
}
