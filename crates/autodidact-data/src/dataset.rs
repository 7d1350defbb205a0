//! Datasets on disk: the format chosen by the file name, one reader and one writer type
//! over both formats.

use std::path::Path;

use crate::jsonl::{JsonlRecordReader, JsonlWriter};
use crate::parquet::{ParquetRecordReader, ParquetRecordWriter};
use crate::{DataError, Record};

/// The on-disk formats of record files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON Lines: one record per line.
    Jsonl,
    /// Apache Parquet with [`crate::record_schema`].
    Parquet,
}

impl Format {
    /// The format a file name says, by extension (case-insensitive): `.jsonl`, `.json`,
    /// `.ndjson` → JSONL (a `.json` file must hold one value per line, not an array);
    /// `.parquet` → Parquet; anything else is [`DataError::UnknownFormat`].
    pub fn from_path(path: &Path) -> Result<Format, DataError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "json" | "ndjson") => Ok(Format::Jsonl),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Opens a record file in the format its name says.
pub fn open_records(path: &Path) -> Result<RecordReader, DataError> {
    Ok(match Format::from_path(path)? {
        Format::Jsonl => RecordReader::Jsonl(JsonlRecordReader::open(path)?),
        Format::Parquet => RecordReader::Parquet(Box::new(ParquetRecordReader::open(path)?)),
    })
}

/// A streaming reader of records from either format; see [`open_records`].
#[derive(Debug)]
pub enum RecordReader {
    /// Reading JSON Lines.
    Jsonl(JsonlRecordReader),
    /// Reading Parquet (boxed: its decoder state is large).
    Parquet(Box<ParquetRecordReader>),
}

impl RecordReader {
    /// The file being read.
    pub fn path(&self) -> &Path {
        match self {
            RecordReader::Jsonl(r) => r.path(),
            RecordReader::Parquet(r) => r.path(),
        }
    }
}

impl Iterator for RecordReader {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RecordReader::Jsonl(r) => r.next(),
            RecordReader::Parquet(r) => r.next(),
        }
    }
}

/// A writer of records in the format its file name says.
///
/// Both formats write to `<path>.partial` and rename in [`RecordWriter::finish`].
#[derive(Debug)]
pub enum RecordWriter {
    /// Writing JSON Lines.
    Jsonl(JsonlWriter<Record>),
    /// Writing Parquet (boxed: its buffers are large).
    Parquet(Box<ParquetRecordWriter>),
}

impl RecordWriter {
    /// Creates a writer for `path` in the format its name says.
    pub fn create(path: &Path) -> Result<RecordWriter, DataError> {
        Ok(match Format::from_path(path)? {
            Format::Jsonl => RecordWriter::Jsonl(JsonlWriter::create(path)?),
            Format::Parquet => RecordWriter::Parquet(Box::new(ParquetRecordWriter::create(path)?)),
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> Result<(), DataError> {
        match self {
            RecordWriter::Jsonl(w) => w.write(record),
            RecordWriter::Parquet(w) => w.write(record),
        }
    }

    /// Completes the file under its real name; returns the number of records.
    pub fn finish(self) -> Result<usize, DataError> {
        match self {
            RecordWriter::Jsonl(w) => w.finish(),
            RecordWriter::Parquet(w) => (*w).finish(),
        }
    }
}

/// Writes records to `path` in the format its name says; returns how many.
pub fn write_records<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<usize, DataError> {
    let mut writer = RecordWriter::create(path)?;
    for record in records {
        writer.write(record)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        let check = |name: &str, expected: Option<Format>| {
            let got = Format::from_path(Path::new(name)).ok();
            assert_eq!(got, expected, "for {name}");
        };
        check("a.jsonl", Some(Format::Jsonl));
        check("dir.v2/a.json", Some(Format::Jsonl));
        check("a.NDJSON", Some(Format::Jsonl));
        check("a.parquet", Some(Format::Parquet));
        check("a.Parquet", Some(Format::Parquet));
        check("a.csv", None);
        check("a.jsonl.gz", None);
        check("parquet", None);
        check("a.parquet.partial", None);
    }
}
