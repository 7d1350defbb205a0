use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, LargeListBuilder, LargeStringBuilder, StringBuilder, StructBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Fields, Schema};
use autodidact_data::{
    DataError, Grade, Origin, ParquetOptions, ParquetRecordReader, ParquetRecordWriter, Record,
    Verdict, partial_path, record_schema,
};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{ListAccessor, RowAccessor};

use crate::{full_record, sparse_record};

fn write(path: &Path, records: &[Record], options: &ParquetOptions) {
    let mut w = ParquetRecordWriter::create_with(path, options).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    assert_eq!(w.finish().unwrap(), records.len());
}

fn read(path: &Path) -> Vec<Result<Record, DataError>> {
    ParquetRecordReader::open(path).unwrap().collect()
}

/// Writes one batch with the schema given, as another tool would.
fn write_foreign(path: &Path, columns: Vec<(&str, ArrayRef, bool)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a, nullable)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|c| c.1).collect(),
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// The required columns of a two-row record file in the canonical types, minus `omit`.
fn required_columns(omit: &str) -> Vec<(&'static str, ArrayRef, bool)> {
    let grades = {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse.parquet");
        write(
            &path,
            &[sparse_record(0), sparse_record(1)],
            &ParquetOptions::default(),
        );
        let mut batches = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batch = batches.next().unwrap().unwrap();
        batch.column_by_name("grades").unwrap().clone()
    };
    let all: Vec<(&'static str, ArrayRef, bool)> = vec![
        ("id", strings(&["a", "b"]), false),
        ("origin", strings(&["real", "synthetic"]), false),
        ("generation", Arc::new(UInt32Array::from(vec![0, 1])), false),
        ("task", strings(&["t", "t"]), false),
        ("prompt", strings(&["p0", "p1"]), false),
        ("response", strings(&["r0", "r1"]), false),
        ("grades", grades, false),
        ("verdict", strings(&["kept", "pending"]), false),
    ];
    all.into_iter()
        .filter(|(name, _, _)| *name != omit)
        .collect()
}

#[test]
fn round_trip_full_and_sparse_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.parquet");
    let records = vec![
        full_record(0),
        sparse_record(1),
        full_record(2),
        sparse_record(3),
    ];
    write(&path, &records, &ParquetOptions::default());
    let back: Vec<Record> = read(&path).into_iter().map(Result::unwrap).collect();
    assert_eq!(back, records);
}

#[test]
fn arrow_reader_sees_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.parquet");
    write(
        &path,
        &[full_record(0), sparse_record(1)],
        &ParquetOptions::default(),
    );

    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    let grade = DataType::Struct(Fields::from(vec![
        Field::new("grader", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("explanation", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        Field::new("details", DataType::Utf8, true),
    ]));
    let expected = [
        ("id", DataType::Utf8, false),
        ("origin", DataType::Utf8, false),
        ("generation", DataType::UInt32, false),
        ("task", DataType::Utf8, false),
        ("prompt", DataType::Utf8, false),
        ("response", DataType::Utf8, false),
        ("context", DataType::Utf8, true),
        ("model", DataType::Utf8, true),
        ("parent", DataType::Utf8, true),
        (
            "grades",
            DataType::List(Arc::new(Field::new("item", grade, true))),
            false,
        ),
        ("score", DataType::Float64, true),
        ("verdict", DataType::Utf8, false),
        ("reason", DataType::Utf8, true),
    ];
    let got: Vec<(&str, DataType, bool)> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(builder.schema().fields(), record_schema().fields());

    let meta = builder.metadata();
    for column in meta.row_group(0).columns() {
        assert_eq!(
            column.compression(),
            Compression::SNAPPY,
            "{}",
            column.column_path()
        );
    }

    let batch = builder.build().unwrap().next().unwrap().unwrap();
    assert_eq!(batch.num_rows(), 2);
    let context = batch.column_by_name("context").unwrap();
    assert_eq!((context.is_valid(0), context.is_valid(1)), (true, false));
}

#[test]
fn row_api_reads_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.parquet");
    let record = full_record(7);
    write(
        &path,
        &[record.clone(), sparse_record(1)],
        &ParquetOptions::default(),
    );

    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
    let rows: Vec<_> = reader.into_iter().map(Result::unwrap).collect();
    let row = &rows[0];
    assert_eq!(row.get_string(0).unwrap(), &record.id);
    assert_eq!(row.get_string(1).unwrap(), "real");
    assert_eq!(row.get_uint(2).unwrap(), 10);
    assert_eq!(row.get_string(4).unwrap(), &record.prompt);
    let grades = row.get_list(9).unwrap();
    assert_eq!(grades.len(), 2);
    assert_eq!(
        grades.get_group(1).unwrap().get_string(0).unwrap(),
        "grounding"
    );
    assert_eq!(row.get_double(10).unwrap(), record.score.unwrap());
    assert_eq!(rows[1].get_string(11).unwrap(), "pending");
}

#[test]
fn many_records_stream_through_several_row_groups_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.parquet");
    let n = 50_000;
    let mut w = ParquetRecordWriter::create_with(
        &path,
        &ParquetOptions {
            row_group_size: 4096,
        },
    )
    .unwrap();
    for i in 0..n {
        let mut r = Record::new(format!("p{i}"), format!("r{i}"), None);
        r.generation = (i % 7) as u32;
        w.write(&r).unwrap();
    }
    assert_eq!(w.finish().unwrap(), n);

    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups.len(), n.div_ceil(4096), "{groups:?}");
    assert!(
        groups[..groups.len() - 1].iter().all(|&g| g == 4096),
        "{groups:?}"
    );
    assert_eq!(groups.iter().sum::<i64>(), n as i64);

    let reader = ParquetRecordReader::open(&path).unwrap();
    assert_eq!(reader.num_rows(), n);
    let mut count = 0;
    for (i, r) in reader.enumerate() {
        let r = r.unwrap();
        assert_eq!(r.prompt, format!("p{i}"));
        assert_eq!(r.generation, (i % 7) as u32);
        count += 1;
    }
    assert_eq!(count, n);
}

#[test]
fn missing_required_column_is_named() {
    for column in ["id", "prompt", "grades", "verdict"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign.parquet");
        write_foreign(&path, required_columns(column));
        let err = ParquetRecordReader::open(&path).unwrap_err();
        assert!(
            matches!(&err, DataError::Schema { path: p, .. } if p == &path),
            "{err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("missing required column '{column}'")),
            "{shown}"
        );
        assert!(shown.contains("foreign.parquet"), "{shown}");
    }
}

#[test]
fn wrong_column_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.parquet");
    let mut columns = required_columns("generation");
    columns.push(("generation", strings(&["0", "1"]), false));
    write_foreign(&path, columns);
    let err = ParquetRecordReader::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("column 'generation' has type Utf8, expected an integer type"),
        "{err}"
    );
}

#[test]
fn only_required_columns_read_with_optional_ones_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minimal.parquet");
    write_foreign(&path, required_columns(""));
    let got: Vec<Record> = read(&path).into_iter().map(Result::unwrap).collect();
    let expected = vec![
        Record {
            id: "a".into(),
            origin: Origin::Real,
            task: "t".into(),
            prompt: "p0".into(),
            response: "r0".into(),
            verdict: Verdict::Kept,
            ..Record::default()
        },
        Record {
            id: "b".into(),
            generation: 1,
            task: "t".into(),
            prompt: "p1".into(),
            response: "r1".into(),
            ..Record::default()
        },
    ];
    assert_eq!(got, expected);
}

#[test]
fn other_tools_types_are_read() {
    // As pandas, polars or HF datasets may write: 64-bit ints, large strings, dictionary
    // strings, a large list of a struct with fewer fields, float32 scores, extra columns,
    // null-free but nullable columns, and no optional columns.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.parquet");
    let large = |values: &[Option<&str>]| -> ArrayRef {
        let mut b = LargeStringBuilder::new();
        values.iter().for_each(|v| b.append_option(*v));
        Arc::new(b.finish())
    };
    let grade_fields = Fields::from(vec![
        Field::new("grader", DataType::LargeUtf8, true),
        Field::new("score", DataType::Float32, true),
    ]);
    let mut grades = LargeListBuilder::new(StructBuilder::new(
        grade_fields.clone(),
        vec![
            Box::new(LargeStringBuilder::new()),
            Box::new(Float32Builder::new()),
        ],
    ))
    .with_field(Arc::new(Field::new(
        "element",
        DataType::Struct(grade_fields),
        true,
    )));
    grades
        .values()
        .field_builder::<LargeStringBuilder>(0)
        .unwrap()
        .append_value("judge");
    grades
        .values()
        .field_builder::<Float32Builder>(1)
        .unwrap()
        .append_value(0.5);
    grades.values().append(true);
    grades.append(true);
    grades.append(false); // a null list: no grades
    let verdict: DictionaryArray<Int32Type> = vec!["kept", "rejected"].into_iter().collect();
    write_foreign(
        &path,
        vec![
            ("source", large(&[Some("web"), Some("books")]), true),
            ("prompt", large(&[Some("p0"), Some("p1")]), true),
            ("response", large(&[Some("r0"), Some("r1")]), true),
            ("id", large(&[Some(""), Some("id1")]), true),
            ("origin", large(&[Some("real"), Some("real")]), true),
            (
                "generation",
                Arc::new(Int64Array::from(vec![0, 4_000_000_000])),
                true,
            ),
            ("task", large(&[Some("seed"), Some("seed")]), true),
            ("context", large(&[Some("doc"), None]), true),
            ("grades", Arc::new(grades.finish()), true),
            ("verdict", Arc::new(verdict), true),
        ],
    );
    let got: Vec<Record> = read(&path).into_iter().map(Result::unwrap).collect();
    let mut first = Record::new("p0", "r0", Some("doc".into()));
    first.origin = Origin::Real;
    first.task = "seed".into();
    first.grades = vec![Grade {
        grader: "judge".into(),
        score: Some(0.5),
        ..Grade::default()
    }];
    first.verdict = Verdict::Kept;
    let second = Record {
        id: "id1".into(),
        origin: Origin::Real,
        generation: 4_000_000_000,
        task: "seed".into(),
        prompt: "p1".into(),
        response: "r1".into(),
        verdict: Verdict::Rejected,
        ..Record::default()
    };
    assert_eq!(got, vec![first, second]);
}

#[test]
fn bad_values_name_row_and_column_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.parquet");
    let mut columns = required_columns("prompt");
    columns.retain(|c| c.0 != "verdict" && c.0 != "generation");
    let mut prompts = StringBuilder::new();
    prompts.append_null();
    prompts.append_value("p1");
    columns.push(("prompt", Arc::new(prompts.finish()), true));
    columns.push(("verdict", strings(&["kept", "maybe"]), false));
    columns.push(("generation", Arc::new(Int64Array::from(vec![0, -1])), false));
    write_foreign(&path, columns);
    let got: Vec<String> = read(&path)
        .into_iter()
        .map(|r| r.unwrap_err().to_string())
        .collect();
    let name = path.display();
    assert_eq!(
        got,
        [
            format!("error in '{name}' row 0 column 'prompt': null in a required column"),
            format!(
                "error in '{name}' row 1 column 'generation': generation -1 is out of range (0 to 4294967295)"
            ),
        ]
    );

    let mut columns = required_columns("verdict");
    columns.push(("verdict", strings(&["kept", "maybe"]), false));
    write_foreign(&path, columns);
    let got = read(&path);
    assert!(got[0].is_ok());
    let err = got[1].as_ref().unwrap_err();
    assert!(
        matches!(err, DataError::Value { row: 1, column, message, .. } if column == "verdict" && message.contains("unknown verdict 'maybe'")),
        "{err:?}"
    );
}

#[test]
fn writer_uses_a_partial_file_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let partial = partial_path(&path);
    let mut w = ParquetRecordWriter::create(&path).unwrap();
    w.write(&full_record(0)).unwrap();
    assert!(!path.exists());
    assert!(partial.exists());
    w.finish().unwrap();
    assert!(path.exists());
    assert!(!partial.exists());
    assert_eq!(read(&path).len(), 1);

    let other = dir.path().join("abandoned.parquet");
    let mut w = ParquetRecordWriter::create(&other).unwrap();
    w.write(&full_record(0)).unwrap();
    drop(w);
    assert!(!other.exists());
    assert!(!partial_path(&other).exists());
}

#[test]
fn truncated_file_is_a_parquet_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whole.parquet");
    write(
        &path,
        &[full_record(0), full_record(1)],
        &ParquetOptions::default(),
    );
    let bytes = fs::read(&path).unwrap();
    let cut = dir.path().join("cut.parquet");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = ParquetRecordReader::open(&cut).unwrap_err();
    assert!(
        matches!(&err, DataError::Parquet { path, .. } if path == &cut),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("error in Parquet file '{}'", cut.display())),
        "{err}"
    );
}

#[test]
fn empty_file_has_the_schema_and_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    write(&path, &[], &ParquetOptions::default());
    assert!(read(&path).is_empty());
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    assert_eq!(builder.schema().fields(), record_schema().fields());
}
