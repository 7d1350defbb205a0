//! Records as Parquet: one column per field, grades as a list of structs.
//!
//! The schema ([`record_schema`]) uses only plain Arrow types (strings, `uint32`,
//! `float64`, `list<struct>`), so pandas, polars, DuckDB and Hugging Face `datasets` read the
//! files as they are. Both directions stream: the writer holds at most one row group, the
//! reader one batch.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use ::parquet::arrow::ArrowWriter;
use ::parquet::arrow::ProjectionMask;
use ::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{Float64Builder, OffsetBufferBuilder, StringBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, LargeStringArray, ListArray, RecordBatch, StringArray, StringViewArray,
    StructArray,
};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};

use crate::partial::PartialFile;
use crate::{DataError, Grade, Origin, Record, Verdict};

/// Rows per row group unless [`ParquetOptions::row_group_size`] says otherwise.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 4096;

/// A row group is also cut when its text reaches this size, so that long documents in
/// `context` cannot make one row group (held in memory whole) arbitrarily large, and no
/// string column of a row group can overflow Arrow's 32-bit offsets.
const MAX_BUFFERED_TEXT: usize = 256 << 20;

/// Rows per batch when reading: small enough to bound memory, large enough to amortize.
const READ_BATCH_SIZE: usize = 1024;

static GRADE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("grader", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("explanation", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        Field::new("details", DataType::Utf8, true),
    ])
});

/// The list's item field as Arrow and pyarrow name it by default (`item`, nullable), so
/// that files look like those other tools write.
static GRADE_ITEM: LazyLock<FieldRef> = LazyLock::new(|| {
    Arc::new(Field::new_list_field(
        DataType::Struct(GRADE_FIELDS.clone()),
        true,
    ))
});

static RECORD_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("generation", DataType::UInt32, false),
        Field::new("task", DataType::Utf8, false),
        Field::new("prompt", DataType::Utf8, false),
        Field::new("response", DataType::Utf8, false),
        Field::new("context", DataType::Utf8, true),
        Field::new("model", DataType::Utf8, true),
        Field::new("parent", DataType::Utf8, true),
        Field::new("grades", DataType::List(GRADE_ITEM.clone()), false),
        Field::new("score", DataType::Float64, true),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
    ]))
});

/// The Arrow schema of record files, in column order:
///
/// | column | type |
/// | --- | --- |
/// | `id`, `origin`, `task`, `prompt`, `response`, `verdict` | `Utf8` |
/// | `generation` | `UInt32` |
/// | `context`, `model`, `parent`, `reason` | `Utf8`, nullable |
/// | `grades` | `List<Struct{grader Utf8, score Float64?, explanation Utf8?, error Utf8?, details Utf8?}>` |
/// | `score` | `Float64`, nullable |
pub fn record_schema() -> SchemaRef {
    RECORD_SCHEMA.clone()
}

/// How [`ParquetRecordWriter`] lays out its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Rows per row group (default [`DEFAULT_ROW_GROUP_SIZE`]); the writer buffers at most
    /// this many rows. A row group is cut earlier when its text passes 256 MiB. 0 counts as 1.
    pub row_group_size: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
        }
    }
}

/// Writes records to a Snappy-compressed Parquet file, one row group at a time.
///
/// The data goes to `<path>.partial`, renamed onto `path` by [`ParquetRecordWriter::finish`]:
/// a killed process never leaves a truncated file under the real name. Dropping the writer
/// without finishing removes the partial file.
pub struct ParquetRecordWriter {
    writer: ArrowWriter<File>,
    file: PartialFile,
    buffer: Columns,
    row_group_size: usize,
    rows: usize,
}

impl std::fmt::Debug for ParquetRecordWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetRecordWriter")
            .field("path", &self.file.target())
            .field("rows", &self.rows)
            .field("buffered", &self.buffer.rows)
            .finish()
    }
}

impl ParquetRecordWriter {
    /// Creates `<path>.partial` with the default options.
    pub fn create(path: impl AsRef<Path>) -> Result<ParquetRecordWriter, DataError> {
        ParquetRecordWriter::create_with(path, &ParquetOptions::default())
    }

    /// Creates `<path>.partial` with the given options.
    pub fn create_with(
        path: impl AsRef<Path>,
        options: &ParquetOptions,
    ) -> Result<ParquetRecordWriter, DataError> {
        let row_group_size = options.row_group_size.max(1);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(row_group_size))
            .build();
        let (file, out) = PartialFile::create(path.as_ref())?;
        let writer = ArrowWriter::try_new(out, record_schema(), Some(props))
            .map_err(|e| DataError::parquet(file.target(), e))?;
        Ok(ParquetRecordWriter {
            writer,
            file,
            buffer: Columns::default(),
            row_group_size,
            rows: 0,
        })
    }

    /// Appends one record; writes a row group when the buffer is full.
    pub fn write(&mut self, record: &Record) -> Result<(), DataError> {
        let text = text_len(record);
        if text > i32::MAX as usize {
            // Arrow's Utf8 offsets are 32-bit; refuse rather than let the builder panic.
            return Err(DataError::Value {
                path: self.file.target().to_path_buf(),
                row: self.rows,
                column: largest_text_column(record).to_string(),
                message: format!(
                    "{text} bytes of text in one record; Parquet record files hold at most 2 GiB"
                ),
            });
        }
        if self.buffer.rows > 0 && self.buffer.text + text > MAX_BUFFERED_TEXT {
            self.flush()?;
        }
        self.buffer.push(record);
        self.rows += 1;
        if self.buffer.rows >= self.row_group_size {
            self.flush()?;
        }
        Ok(())
    }

    /// The number of records written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> Result<(), DataError> {
        if self.buffer.rows == 0 {
            return Ok(());
        }
        let path = self.file.target();
        let batch = self
            .buffer
            .take_batch()
            .map_err(|source| DataError::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
        self.writer
            .write(&batch)
            .map_err(|e| DataError::parquet(path, e))?;
        // Close the row group now, whatever its size: the buffer is the row group.
        self.writer.flush().map_err(|e| DataError::parquet(path, e))
    }

    /// Writes the last row group and the footer, syncs, and renames the file onto its real
    /// name; returns the number of records.
    pub fn finish(mut self) -> Result<usize, DataError> {
        self.flush()?;
        let ParquetRecordWriter {
            writer, file, rows, ..
        } = self;
        let out = writer
            .into_inner()
            .map_err(|e| DataError::parquet(file.target(), e))?;
        file.commit(out)?;
        Ok(rows)
    }
}

fn text_len(r: &Record) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let grades: usize = r
        .grades
        .iter()
        .map(|g| g.grader.len() + opt(&g.explanation) + opt(&g.error) + opt(&g.details))
        .sum();
    r.id.len()
        + r.task.len()
        + r.prompt.len()
        + r.response.len()
        + opt(&r.context)
        + opt(&r.model)
        + opt(&r.parent)
        + opt(&r.reason)
        + grades
        + 16
}

fn largest_text_column(r: &Record) -> &'static str {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let sizes = [
        ("prompt", r.prompt.len()),
        ("response", r.response.len()),
        ("context", opt(&r.context)),
        ("reason", opt(&r.reason)),
        (
            "grades",
            r.grades
                .iter()
                .map(|g| opt(&g.explanation) + opt(&g.details))
                .sum(),
        ),
    ];
    sizes
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or("prompt", |(name, _)| name)
}

/// The column builders of the row group being filled.
#[derive(Default)]
struct Columns {
    id: StringBuilder,
    origin: StringBuilder,
    generation: UInt32Builder,
    task: StringBuilder,
    prompt: StringBuilder,
    response: StringBuilder,
    context: StringBuilder,
    model: StringBuilder,
    parent: StringBuilder,
    grade_counts: Vec<usize>,
    grader: StringBuilder,
    grade_score: Float64Builder,
    explanation: StringBuilder,
    error: StringBuilder,
    details: StringBuilder,
    score: Float64Builder,
    verdict: StringBuilder,
    reason: StringBuilder,
    rows: usize,
    text: usize,
}

impl Columns {
    fn push(&mut self, r: &Record) {
        self.id.append_value(&r.id);
        self.origin.append_value(r.origin.as_str());
        self.generation.append_value(r.generation);
        self.task.append_value(&r.task);
        self.prompt.append_value(&r.prompt);
        self.response.append_value(&r.response);
        self.context.append_option(r.context.as_deref());
        self.model.append_option(r.model.as_deref());
        self.parent.append_option(r.parent.as_deref());
        for g in &r.grades {
            self.grader.append_value(&g.grader);
            self.grade_score.append_option(g.score);
            self.explanation.append_option(g.explanation.as_deref());
            self.error.append_option(g.error.as_deref());
            self.details.append_option(g.details.as_deref());
        }
        self.grade_counts.push(r.grades.len());
        self.score.append_option(r.score);
        self.verdict.append_value(r.verdict.as_str());
        self.reason.append_option(r.reason.as_deref());
        self.rows += 1;
        self.text += text_len(r);
    }

    /// Finishes every builder into a batch and leaves the builders empty.
    fn take_batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let grades = StructArray::try_new(
            GRADE_FIELDS.clone(),
            vec![
                Arc::new(self.grader.finish()),
                Arc::new(self.grade_score.finish()),
                Arc::new(self.explanation.finish()),
                Arc::new(self.error.finish()),
                Arc::new(self.details.finish()),
            ],
            None,
        )?;
        let mut offsets = OffsetBufferBuilder::<i32>::new(self.grade_counts.len());
        for n in self.grade_counts.drain(..) {
            offsets.push_length(n);
        }
        let grades =
            ListArray::try_new(GRADE_ITEM.clone(), offsets.finish(), Arc::new(grades), None)?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.origin.finish()),
            Arc::new(self.generation.finish()),
            Arc::new(self.task.finish()),
            Arc::new(self.prompt.finish()),
            Arc::new(self.response.finish()),
            Arc::new(self.context.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.parent.finish()),
            Arc::new(grades),
            Arc::new(self.score.finish()),
            Arc::new(self.verdict.finish()),
            Arc::new(self.reason.finish()),
        ];
        self.rows = 0;
        self.text = 0;
        RecordBatch::try_new(record_schema(), columns)
    }
}

/// Reads records from a Parquet file, one batch of rows at a time.
///
/// Besides the files [`ParquetRecordWriter`] writes, it reads what other tools write for
/// the same columns: strings as `large_string`, `string_view` or dictionary-encoded,
/// `generation` as any integer type that fits, scores as `float32`, `grades` as a large
/// list, extra columns (ignored). Nullable columns and `grades` fields other than `grader`
/// may be missing (read as `None`); a missing required column is an error from
/// [`ParquetRecordReader::open`] naming it. A null `grades` list reads as no grades, and an
/// empty `id` as the record's content id.
///
/// An unusable value (a null `prompt`, an unknown `verdict`) is an error for that row only;
/// iteration goes on with the next row. A decoding error ends the iteration.
pub struct ParquetRecordReader {
    path: PathBuf,
    batches: ParquetRecordBatchReader,
    batch: Option<Batch>,
    /// The file row of the current batch's first row.
    batch_start: usize,
    /// The next row to yield within the current batch.
    pos: usize,
    rows: usize,
    done: bool,
}

impl std::fmt::Debug for ParquetRecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetRecordReader")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .field("next_row", &(self.batch_start + self.pos))
            .finish()
    }
}

/// What a column must hold, as far as the reader is concerned.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Float,
    Grades,
}

impl Kind {
    fn accepts(self, dt: &DataType) -> bool {
        match self {
            Kind::Text => is_text(dt),
            Kind::Integer => dt.is_integer(),
            Kind::Float => matches!(dt, DataType::Float32 | DataType::Float64),
            Kind::Grades => true, // checked field by field in `check_grades`
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string type (Utf8)",
            Kind::Integer => "an integer type (UInt32)",
            Kind::Float => "a floating-point type (Float64)",
            Kind::Grades => "a list of structs",
        }
    }
}

fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => matches!(
            **values,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

/// Every column the reader uses: name, kind, required.
const COLUMNS: [(&str, Kind, bool); 13] = [
    ("id", Kind::Text, true),
    ("origin", Kind::Text, true),
    ("generation", Kind::Integer, true),
    ("task", Kind::Text, true),
    ("prompt", Kind::Text, true),
    ("response", Kind::Text, true),
    ("context", Kind::Text, false),
    ("model", Kind::Text, false),
    ("parent", Kind::Text, false),
    ("grades", Kind::Grades, true),
    ("score", Kind::Float, false),
    ("verdict", Kind::Text, true),
    ("reason", Kind::Text, false),
];

/// The fields of a grade: name, kind, required.
const GRADE_COLUMNS: [(&str, Kind, bool); 5] = [
    ("grader", Kind::Text, true),
    ("score", Kind::Float, false),
    ("explanation", Kind::Text, false),
    ("error", Kind::Text, false),
    ("details", Kind::Text, false),
];

fn check_grades(path: &Path, dt: &DataType) -> Result<(), DataError> {
    let item = match dt {
        DataType::List(item) | DataType::LargeList(item) => item.data_type(),
        other => {
            return Err(DataError::schema(
                path,
                format!("column 'grades' has type {other}, expected a list of structs"),
            ));
        }
    };
    let DataType::Struct(fields) = item else {
        return Err(DataError::schema(
            path,
            format!("column 'grades' has type {dt}, expected a list of structs"),
        ));
    };
    for (name, kind, required) in GRADE_COLUMNS {
        match fields.iter().find(|f| f.name() == name) {
            None if required => {
                return Err(DataError::schema(
                    path,
                    format!("missing required field 'grades.{name}'"),
                ));
            }
            None => {}
            Some(f) if !kind.accepts(f.data_type()) => {
                return Err(DataError::schema(
                    path,
                    format!(
                        "field 'grades.{name}' has type {}, expected {}",
                        f.data_type(),
                        kind.expected()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

impl ParquetRecordReader {
    /// Opens a file and checks its schema; reads no rows yet.
    pub fn open(path: impl AsRef<Path>) -> Result<ParquetRecordReader, DataError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| DataError::parquet(path, e))?;
        let schema = builder.schema().clone();
        let mut roots = Vec::new();
        for (name, kind, required) in COLUMNS {
            match schema.index_of(name) {
                Err(_) if required => {
                    let have: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    return Err(DataError::schema(
                        path,
                        format!(
                            "missing required column '{name}' (the file has: {})",
                            have.join(", ")
                        ),
                    ));
                }
                Err(_) => {}
                Ok(i) => {
                    let dt = schema.field(i).data_type();
                    if let Kind::Grades = kind {
                        check_grades(path, dt)?;
                    } else if !kind.accepts(dt) {
                        return Err(DataError::schema(
                            path,
                            format!(
                                "column '{name}' has type {dt}, expected {}",
                                kind.expected()
                            ),
                        ));
                    }
                    roots.push(i);
                }
            }
        }
        let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let batches = builder
            .with_projection(mask)
            .with_batch_size(READ_BATCH_SIZE)
            .build()
            .map_err(|e| DataError::parquet(path, e))?;
        Ok(ParquetRecordReader {
            path: path.to_path_buf(),
            batches,
            batch: None,
            batch_start: 0,
            pos: 0,
            rows,
            done: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rows the file holds (from its footer), for progress reporting.
    pub fn num_rows(&self) -> usize {
        self.rows
    }
}

impl Iterator for ParquetRecordReader {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(batch) = &self.batch
                && self.pos < batch.len
            {
                let i = self.pos;
                self.pos += 1;
                return Some(batch.record(i, self.batch_start + i, &self.path));
            }
            let start = match &self.batch {
                Some(batch) => self.batch_start + batch.len,
                None => 0,
            };
            match self.batches.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(source)) => {
                    self.done = true;
                    return Some(Err(DataError::Arrow {
                        path: self.path.clone(),
                        source,
                    }));
                }
                Some(Ok(batch)) => {
                    self.batch = Some(Batch::new(&batch));
                    self.batch_start = start;
                    self.pos = 0;
                }
            }
        }
    }
}

/// A string column of any of the encodings readers may produce.
enum Text {
    Missing,
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
    Dict {
        dict: ArrayRef,
        keys: Vec<usize>,
        values: Box<Text>,
    },
}

impl Text {
    fn new(array: Option<&ArrayRef>) -> Text {
        let Some(array) = array else {
            return Text::Missing;
        };
        match array.data_type() {
            DataType::Utf8 => Text::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Text::Large(array.as_string::<i64>().clone()),
            DataType::Utf8View => Text::View(array.as_string_view().clone()),
            DataType::Dictionary(..) => {
                let dict = array.as_any_dictionary();
                if dict.values().is_empty() {
                    // Every key is null (`normalized_keys` would panic on no values).
                    return Text::Missing;
                }
                Text::Dict {
                    dict: array.clone(),
                    keys: dict.normalized_keys(),
                    values: Box::new(Text::new(Some(dict.values()))),
                }
            }
            // The schema check in `open` admits nothing else.
            _ => Text::Missing,
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Text::Missing => None,
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Text::View(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Dict { dict, keys, values } => {
                if dict.is_valid(i) {
                    values.get(keys[i])
                } else {
                    None
                }
            }
        }
    }
}

/// The values of an integer column of any width and sign.
fn integers(array: Option<&ArrayRef>) -> Vec<Option<i128>> {
    macro_rules! collect {
        ($array:expr, $($dt:ident => $t:ty),*) => {
            match $array.data_type() {
                $(DataType::$dt => $array.as_primitive::<$t>().iter().map(|v| v.map(i128::from)).collect(),)*
                _ => vec![None; $array.len()],
            }
        };
    }
    let Some(array) = array else {
        return Vec::new();
    };
    collect!(array,
        Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
        UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type)
}

/// The values of a float column (`float32` is widened).
fn floats(array: Option<&ArrayRef>) -> Vec<Option<f64>> {
    let Some(array) = array else {
        return Vec::new();
    };
    match array.data_type() {
        DataType::Float64 => array.as_primitive::<Float64Type>().iter().collect(),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        _ => vec![None; array.len()],
    }
}

/// The `grades` column of a batch, flattened.
struct Grades {
    /// `offsets[i]..offsets[i + 1]` are row i's grades.
    offsets: Vec<usize>,
    list: ArrayRef,
    items: StructArray,
    grader: Text,
    score: Vec<Option<f64>>,
    explanation: Text,
    error: Text,
    details: Text,
}

impl Grades {
    fn new(array: &ArrayRef) -> Grades {
        let (offsets, values) = match array.data_type() {
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                    list.values().clone(),
                )
            }
            _ => {
                let list = array.as_list::<i32>();
                (
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                    list.values().clone(),
                )
            }
        };
        let items = values.as_struct().clone();
        Grades {
            offsets,
            list: array.clone(),
            grader: Text::new(items.column_by_name("grader")),
            score: floats(items.column_by_name("score")),
            explanation: Text::new(items.column_by_name("explanation")),
            error: Text::new(items.column_by_name("error")),
            details: Text::new(items.column_by_name("details")),
            items,
        }
    }
}

/// One decoded batch: typed views of its columns.
struct Batch {
    len: usize,
    id: Text,
    origin: Text,
    generation: Vec<Option<i128>>,
    task: Text,
    prompt: Text,
    response: Text,
    context: Text,
    model: Text,
    parent: Text,
    grades: Option<Grades>,
    score: Vec<Option<f64>>,
    verdict: Text,
    reason: Text,
}

impl Batch {
    fn new(batch: &RecordBatch) -> Batch {
        let col = |name: &str| batch.column_by_name(name);
        Batch {
            len: batch.num_rows(),
            id: Text::new(col("id")),
            origin: Text::new(col("origin")),
            generation: integers(col("generation")),
            task: Text::new(col("task")),
            prompt: Text::new(col("prompt")),
            response: Text::new(col("response")),
            context: Text::new(col("context")),
            model: Text::new(col("model")),
            parent: Text::new(col("parent")),
            grades: col("grades").map(Grades::new),
            score: floats(col("score")),
            verdict: Text::new(col("verdict")),
            reason: Text::new(col("reason")),
        }
    }

    /// The record in row `i` of the batch, row `row` of the file (for errors).
    fn record(&self, i: usize, row: usize, path: &Path) -> Result<Record, DataError> {
        let bad = |column: &str, message: String| DataError::Value {
            path: path.to_path_buf(),
            row,
            column: column.to_string(),
            message,
        };
        let required = |text: &Text, column: &str| -> Result<String, DataError> {
            text.get(i)
                .map(str::to_string)
                .ok_or_else(|| bad(column, "null in a required column".to_string()))
        };
        let optional = |text: &Text| text.get(i).map(str::to_string);

        let origin = required(&self.origin, "origin")?;
        let origin = Origin::parse(&origin).ok_or_else(|| {
            bad(
                "origin",
                format!("unknown origin '{origin}' (expected real or synthetic)"),
            )
        })?;
        let generation = match self.generation.get(i).copied().flatten() {
            None => return Err(bad("generation", "null in a required column".to_string())),
            Some(g) => u32::try_from(g).map_err(|_| {
                bad(
                    "generation",
                    format!("generation {g} is out of range (0 to {})", u32::MAX),
                )
            })?,
        };
        let verdict = required(&self.verdict, "verdict")?;
        let verdict = Verdict::parse(&verdict).ok_or_else(|| {
            bad(
                "verdict",
                format!("unknown verdict '{verdict}' (expected pending, kept or rejected)"),
            )
        })?;

        let mut grades = Vec::new();
        if let Some(g) = &self.grades
            && g.list.is_valid(i)
        {
            let items = &g.items;
            for j in g.offsets[i]..g.offsets[i + 1] {
                if !items.is_valid(j) {
                    return Err(bad("grades", "null grade".to_string()));
                }
                grades.push(Grade {
                    grader: g.grader.get(j).map(str::to_string).ok_or_else(|| {
                        bad("grades.grader", "null in a required field".to_string())
                    })?,
                    score: g.score.get(j).copied().flatten(),
                    explanation: g.explanation.get(j).map(str::to_string),
                    error: g.error.get(j).map(str::to_string),
                    details: g.details.get(j).map(str::to_string),
                });
            }
        }

        let mut record = Record {
            id: required(&self.id, "id")?,
            origin,
            generation,
            task: required(&self.task, "task")?,
            prompt: required(&self.prompt, "prompt")?,
            response: required(&self.response, "response")?,
            context: optional(&self.context),
            model: optional(&self.model),
            parent: optional(&self.parent),
            grades,
            score: self.score.get(i).copied().flatten(),
            verdict,
            reason: optional(&self.reason),
        };
        if record.id.is_empty() {
            record.rehash();
        }
        Ok(record)
    }
}
