//! Rows of any JSONL or Parquet file, read in batches with one text field picked out, and
//! written back filtered with every field as it was: what `autodidact dedup` and
//! `autodidact decontaminate` work on (files that need not be autodidact's records).
//!
//! The text field is the one named, else `text`, else `response` (a record's answer). A row's
//! `id` (a string or a number), when it has one, names it in reasons; otherwise its line
//! (JSONL, 1-based) or row (Parquet, 0-based) does.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Lines, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use rayon::prelude::*;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::partial::PartialFile;
use crate::{DataError, Format};

/// Text fields tried, in order, when none is named.
pub const DEFAULT_FIELDS: [&str; 2] = ["text", "response"];

/// Some consecutive rows of a file.
pub struct RowBatch {
    /// Each row's text field.
    pub texts: Vec<String>,
    /// How each row is named: its `id` if it has one, else `line N` (JSONL) or `row N` (Parquet).
    pub names: Vec<String>,
    raw: Raw,
}

enum Raw {
    Lines(Vec<String>),
    Arrow(RecordBatch),
}

impl RowBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// Reads a file's rows in batches.
pub struct RowReader {
    path: PathBuf,
    field: Option<String>,
    inner: Inner,
    total: u64,
}

enum Inner {
    Jsonl { lines: Lines<BufReader<File>>, line: usize },
    Parquet { reader: ParquetRecordBatchReader, text: usize, id: Option<usize>, row: usize },
}

/// Opens `path` (`.jsonl` or `.parquet`) to read the text of `field` (or the default fields).
pub fn open_rows(path: &Path, field: Option<&str>) -> Result<RowReader, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let mut total = 0u64;
    let inner = match Format::from_path(path)? {
        Format::Jsonl => {
            // One quick pass for the progress bar's total: the lines (blank ones included).
            let mut counter = File::open(path).map_err(io)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut last = b'\n';
            loop {
                let n = std::io::Read::read(&mut counter, &mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                total += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                last = buf[n - 1];
            }
            total += u64::from(last != b'\n');
            Inner::Jsonl { lines: BufReader::new(file).lines(), line: 0 }
        }
        Format::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|source| DataError::Parquet { path: path.to_path_buf(), source })?;
            total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let schema = builder.schema().clone();
            let names: Vec<&str> = match field {
                Some(f) => vec![f],
                None => DEFAULT_FIELDS.to_vec(),
            };
            let text = names.iter().find_map(|n| schema.index_of(n).ok()).ok_or_else(|| DataError::Schema {
                path: path.to_path_buf(),
                message: format!(
                    "no column {} (columns: {}); name the text column with --field",
                    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(" or "),
                    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                ),
            })?;
            if !is_text(schema.field(text).data_type()) {
                return Err(DataError::Schema {
                    path: path.to_path_buf(),
                    message: format!("column '{}' holds {}, not text", schema.field(text).name(), schema.field(text).data_type()),
                });
            }
            let id = schema.index_of("id").ok().filter(|&i| is_text(schema.field(i).data_type()));
            let reader = builder
                .with_batch_size(8192)
                .build()
                .map_err(|source| DataError::Parquet { path: path.to_path_buf(), source })?;
            Inner::Parquet { reader, text, id, row: 0 }
        }
    };
    Ok(RowReader { path: path.to_path_buf(), field: field.map(str::to_string), inner, total })
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The strings of a text column (nulls as empty text).
fn strings(array: &dyn Array) -> Vec<Option<String>> {
    let pick = |i: usize, s: &str| (!array.is_null(i)).then(|| s.to_string());
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().enumerate().map(|(i, s)| pick(i, s.unwrap_or(""))).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().enumerate().map(|(i, s)| pick(i, s.unwrap_or(""))).collect(),
        _ => array.as_string_view().iter().enumerate().map(|(i, s)| pick(i, s.unwrap_or(""))).collect(),
    }
}

impl RowReader {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows in the file (for progress).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The schema of a Parquet file (`None` for JSONL).
    fn schema(&self) -> Option<SchemaRef> {
        match &self.inner {
            Inner::Parquet { reader, .. } => {
                use arrow_array::RecordBatchReader;
                Some(reader.schema())
            }
            Inner::Jsonl { .. } => None,
        }
    }

    /// The next rows, up to about `max` (a Parquet file's own batches may be smaller); `None`
    /// at the end. A JSONL line that is not a JSON object, or lacks the text field, is an
    /// error naming the file and line; blank lines are skipped.
    pub fn next_batch(&mut self, max: usize) -> Result<Option<RowBatch>, DataError> {
        let path = self.path.clone();
        match &mut self.inner {
            Inner::Jsonl { lines, line } => {
                let mut raw = Vec::new();
                let mut numbers = Vec::new();
                while raw.len() < max {
                    let Some(text) = lines.next() else { break };
                    *line += 1;
                    let text = text.map_err(|source| DataError::Io { path: path.clone(), source })?;
                    if text.trim().is_empty() {
                        continue;
                    }
                    raw.push(text);
                    numbers.push(*line);
                }
                // Lines are parsed on every core; the first bad line (in file order) is the error.
                let field = self.field.as_deref();
                let parsed: Vec<Result<(String, String), DataError>> = raw
                    .par_iter()
                    .zip(&numbers)
                    .with_min_len(256)
                    .map(|(text, &n)| parse_line(text, field, n, &path))
                    .collect();
                let mut batch = RowBatch { texts: Vec::with_capacity(raw.len()), names: Vec::with_capacity(raw.len()), raw: Raw::Lines(Vec::new()) };
                for p in parsed {
                    let (text, name) = p?;
                    batch.texts.push(text);
                    batch.names.push(name);
                }
                batch.raw = Raw::Lines(raw);
                Ok((!batch.is_empty()).then_some(batch))
            }
            Inner::Parquet { reader, text, id, row } => {
                let Some(batch) = reader.next() else { return Ok(None) };
                let batch = batch.map_err(|source| DataError::Arrow { path: path.clone(), source })?;
                let texts: Vec<String> = strings(batch.column(*text).as_ref()).into_iter().map(Option::unwrap_or_default).collect();
                let ids = id.map(|i| strings(batch.column(i).as_ref()));
                let names = (0..batch.num_rows())
                    .map(|i| match ids.as_ref().and_then(|ids| ids[i].clone()) {
                        Some(id) => id,
                        None => format!("row {}", *row + i),
                    })
                    .collect();
                *row += batch.num_rows();
                Ok(Some(RowBatch { texts, names, raw: Raw::Arrow(batch) }))
            }
        }
    }
}

/// The text and name of one JSONL line. The fast path reads only the text field and `id`
/// (every other value is skipped unparsed into a tree); anything it does not expect (not an
/// object, a missing or non-text field) goes through [`parse_line_slow`], whose error names
/// what is wrong.
fn parse_line(text: &str, field: Option<&str>, line: usize, path: &Path) -> Result<(String, String), DataError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = LineSeed { field: field.unwrap_or(DEFAULT_FIELDS[0]), default: field.is_none() };
    if let Ok(fields) = seed.deserialize(&mut de)
        && de.end().is_ok()
        && let Some(Some(row_text)) = fields.field.or(fields.fallback)
    {
        let name = match fields.id {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => format!("line {line}"),
        };
        return Ok((row_text.unwrap_or_default(), name));
    }
    parse_line_slow(text, field, line, path)
}

/// The fields of a line the fast path keeps: the text field's value (`Some(None)` for null,
/// `None` when not a string), the default fallback field's, and `id`.
#[derive(Default)]
struct LineFields {
    field: Option<Option<Option<String>>>,
    fallback: Option<Option<Option<String>>>,
    id: Option<serde_json::Value>,
}

struct LineSeed<'a> {
    /// The field read (`text` when none is named).
    field: &'a str,
    /// Whether `response` is read too, for lines without `text`.
    default: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for LineSeed<'_> {
    type Value = LineFields;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<LineFields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LineSeed<'_> {
    type Value = LineFields;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LineFields, A::Error> {
        let mut out = LineFields::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == self.field {
                out.field = Some(map.next_value::<TextValue>()?.0);
            } else if self.default && key == DEFAULT_FIELDS[1] {
                out.fallback = Some(map.next_value::<TextValue>()?.0);
            } else if key == "id" {
                out.id = Some(map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        // A text field that is not a string or null: the slow path says so.
        if matches!(out.field, Some(None)) || (out.field.is_none() && matches!(out.fallback, Some(None))) {
            return Err(serde::de::Error::custom("not text"));
        }
        Ok(out)
    }
}

/// An object key, borrowed from the line when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string (`Some(Some)`), null (`Some(None)`), or anything else (`None`, skipped).
struct TextValue(Option<Option<String>>);

impl<'de> serde::Deserialize<'de> for TextValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TextValue, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TextValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E>(self, v: &str) -> Result<TextValue, E> {
                Ok(TextValue(Some(Some(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<TextValue, E> {
                Ok(TextValue(Some(Some(v))))
            }
            fn visit_unit<E>(self) -> Result<TextValue, E> {
                Ok(TextValue(Some(None)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<TextValue, E> {
                Ok(TextValue(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<TextValue, E> {
                Ok(TextValue(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<TextValue, E> {
                Ok(TextValue(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<TextValue, E> {
                Ok(TextValue(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TextValue, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TextValue(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TextValue, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(TextValue(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// [`parse_line`] through a JSON tree, for the lines the fast path does not take: the error
/// names the line and what is wrong with it.
fn parse_line_slow(text: &str, field: Option<&str>, line: usize, path: &Path) -> Result<(String, String), DataError> {
    let bad = |message: String| DataError::Json { path: path.to_path_buf(), line, message };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let object = value.as_object().ok_or_else(|| bad("expected a JSON object".into()))?;
    let field = match field {
        Some(f) => f,
        None => DEFAULT_FIELDS.iter().copied().find(|f| object.contains_key(*f)).unwrap_or("text"),
    };
    let row_text = match object.get(field) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) => String::new(),
        Some(other) => return Err(bad(format!("field '{field}' is not text: {other}"))),
        None => {
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(bad(format!("no field '{field}' (fields: {}); name the text field with --field", keys.join(", "))));
        }
    };
    let name = match object.get("id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => format!("line {line}"),
    };
    Ok((row_text, name))
}

/// Writes the rows kept, every field as read, in the input's format.
pub struct RowWriter {
    partial: PartialFile,
    path: PathBuf,
    inner: Writer,
    rows: usize,
}

enum Writer {
    Jsonl(BufWriter<File>),
    Parquet(Box<ArrowWriter<File>>),
}

impl RowWriter {
    /// Creates `path` for rows read by `reader`; its format must be the reader's (a row is
    /// written as it was read).
    pub fn create(path: &Path, reader: &RowReader) -> Result<RowWriter, DataError> {
        let format = Format::from_path(path)?;
        let same = matches!(
            (format, &reader.inner),
            (Format::Jsonl, Inner::Jsonl { .. }) | (Format::Parquet, Inner::Parquet { .. })
        );
        if !same {
            return Err(DataError::Schema {
                path: path.to_path_buf(),
                message: format!(
                    "the output must have the input's format ('{}'): rows are written as they were read",
                    reader.path.display()
                ),
            });
        }
        let (partial, file) = PartialFile::create(path)?;
        let inner = match reader.schema() {
            None => Writer::Jsonl(BufWriter::new(file)),
            Some(schema) => Writer::Parquet(Box::new(
                ArrowWriter::try_new(file, Arc::clone(&schema), None)
                    .map_err(|source| DataError::Parquet { path: path.to_path_buf(), source })?,
            )),
        };
        Ok(RowWriter { partial, path: path.to_path_buf(), inner, rows: 0 })
    }

    /// Writes the rows of `batch` whose `keep` is true, in order.
    pub fn write(&mut self, batch: &RowBatch, keep: &[bool]) -> Result<(), DataError> {
        let path = &self.path;
        match (&mut self.inner, &batch.raw) {
            (Writer::Jsonl(w), Raw::Lines(lines)) => {
                for (line, _) in lines.iter().zip(keep).filter(|(_, k)| **k) {
                    w.write_all(line.as_bytes())
                        .and_then(|()| w.write_all(b"\n"))
                        .map_err(|source| DataError::Io { path: path.clone(), source })?;
                    self.rows += 1;
                }
            }
            (Writer::Parquet(w), Raw::Arrow(rb)) => {
                let mask = BooleanArray::from(keep.to_vec());
                let kept = arrow_select::filter::filter_record_batch(rb, &mask)
                    .map_err(|source| DataError::Arrow { path: path.clone(), source })?;
                self.rows += kept.num_rows();
                w.write(&kept).map_err(|source| DataError::Parquet { path: path.clone(), source })?;
            }
            _ => unreachable!("a RowWriter writes batches of the reader it was created for"),
        }
        Ok(())
    }

    /// Finishes the file (renames it from `.partial` into place); returns the rows written.
    pub fn finish(self) -> Result<usize, DataError> {
        let path = self.path;
        let file = match self.inner {
            Writer::Jsonl(w) => w.into_inner().map_err(|e| DataError::Io { path: path.clone(), source: e.into_error() })?,
            Writer::Parquet(w) => w.into_inner().map_err(|source| DataError::Parquet { path: path.clone(), source })?,
        };
        self.partial.commit(file)?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path reads what the tree does, and leaves every line it cannot read to it.
    #[test]
    fn lines_read_as_the_json_tree_reads_them() {
        let path = Path::new("rows.jsonl");
        let cases = [
            r#"{"id": "a", "text": "hello", "other": {"deep": [1, 2, {"x": null}]}}"#,
            r#"{"text": "no id"}"#,
            r#"{"id": 17, "text": "number id"}"#,
            r#"{"id": 1.5, "text": "float id"}"#,
            r#"{"id": null, "text": "null id"}"#,
            r#"{"response": "an answer", "prompt": "q"}"#,
            r#"{"response": "answer", "text": "text wins"}"#,
            r#"{"text": null}"#,
            r#"{"te\u0078t": "escaped key", "id": "e\"q"}"#,
            r#"{"text": "first", "text": "last"}"#,
            r#"{"text": 5}"#,
            r#"{"text": "ok", "response": 5}"#,
            r#"{"response": ["not", "text"]}"#,
            r#"{"other": "x"}"#,
            r#"["not", "an", "object"]"#,
            r#"{"text": "trailing"} garbage"#,
            r#"{"text": "unterminated"#,
        ];
        for field in [None, Some("text"), Some("response"), Some("other")] {
            for (i, line) in cases.iter().enumerate() {
                let fast = parse_line(line, field, i + 1, path).map_err(|e| e.to_string());
                let slow = parse_line_slow(line, field, i + 1, path).map_err(|e| e.to_string());
                assert_eq!(fast, slow, "{field:?} {line}");
            }
        }
        assert_eq!(parse_line(cases[2], None, 3, path).unwrap(), ("number id".into(), "17".into()));
        assert!(parse_line(cases[10], None, 11, path).unwrap_err().to_string().contains("line 11: field 'text' is not text: 5"));
    }
}
