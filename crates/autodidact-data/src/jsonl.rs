//! JSON Lines: one JSON value per line, read and written one line at a time.
//!
//! Readers skip blank lines, accept a UTF-8 byte order mark and `\r\n` line ends, and name
//! the file and the 1-based line in every error. A malformed line is an error for that line
//! only: iteration goes on with the next line, so a caller may count bad lines and carry on.
//! An I/O error ends the iteration.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::partial::PartialFile;
use crate::{DataError, Record};

/// Splits a stream into numbered lines and parses each one.
struct Lines {
    reader: Box<dyn BufRead + Send>,
    path: PathBuf,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish()
    }
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, DataError> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        Ok(Lines::new(
            Box::new(BufReader::with_capacity(1 << 16, file)),
            path.to_path_buf(),
        ))
    }

    fn new(reader: Box<dyn BufRead + Send>, path: PathBuf) -> Lines {
        Lines {
            reader,
            path,
            line: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The next non-blank line, parsed as `T`, with its 1-based number.
    fn next_parsed<T: DeserializeOwned>(&mut self) -> Option<Result<(usize, T), DataError>> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => self.line += 1,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(DataError::io(&self.path, e)));
                }
            }
            let mut bytes = &self.buf[..];
            if self.line == 1 {
                // Editors on Windows save UTF-8 with a byte order mark; serde_json rejects it.
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => return Some(Err(self.error(format!("invalid UTF-8: {e}")))),
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(match serde_json::from_str::<T>(text) {
                Ok(value) => Ok((self.line, value)),
                Err(e) => Err(self.error(json_message(&e, text))),
            });
        }
    }

    fn error(&self, message: String) -> DataError {
        DataError::Json {
            path: self.path.clone(),
            line: self.line,
            message,
        }
    }
}

/// serde_json's message without its "at line 1" (every line is line 1 to serde_json; the
/// real line number is in [`DataError::Json`]), plus a hint for a common mistake.
fn json_message(e: &serde_json::Error, text: &str) -> String {
    if text.trim_start().starts_with('[') && e.is_data() {
        return "expected one JSON object per line (JSON Lines), found a JSON array".to_string();
    }
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(message) if e.column() > 0 => format!("{message} at column {}", e.column()),
        Some(message) => message.to_string(),
        None => full,
    }
}

/// Reads [`Record`]s from a JSONL file, one line at a time.
///
/// Fields with defaults may be absent (only `prompt` is required); unknown fields are
/// ignored. A record without an `id` (or with an empty one) gets its content id
/// ([`Record::content_id`]), so records read from hand-written seed files are identified
/// like any other.
#[derive(Debug)]
pub struct JsonlRecordReader {
    lines: Lines,
}

impl JsonlRecordReader {
    /// Opens a JSONL file; errors only if it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<JsonlRecordReader, DataError> {
        Ok(JsonlRecordReader {
            lines: Lines::open(path.as_ref())?,
        })
    }

    /// Reads from any buffered reader (standard input, an archive member); `name` is the
    /// name errors give the source.
    pub fn from_reader(
        reader: impl BufRead + Send + 'static,
        name: impl Into<PathBuf>,
    ) -> JsonlRecordReader {
        JsonlRecordReader {
            lines: Lines::new(Box::new(reader), name.into()),
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }
}

impl Iterator for JsonlRecordReader {
    type Item = Result<Record, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.lines.next_parsed::<Record>()?.map(|(_, mut record)| {
            if record.id.is_empty() {
                record.rehash();
            }
            record
        }))
    }
}

/// Reads arbitrary JSON values from a JSONL file (seed files, foreign datasets), each with
/// its 1-based line number so that callers can name the line in their own errors.
#[derive(Debug)]
pub struct JsonValueReader {
    lines: Lines,
}

impl JsonValueReader {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }
}

impl Iterator for JsonValueReader {
    type Item = Result<(usize, serde_json::Value), DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.lines.next_parsed::<serde_json::Value>()
    }
}

/// Opens a JSONL file of arbitrary JSON values; see [`JsonValueReader`].
pub fn read_json_values(path: impl AsRef<Path>) -> Result<JsonValueReader, DataError> {
    Ok(JsonValueReader {
        lines: Lines::open(path.as_ref())?,
    })
}

/// Writes values as JSON Lines through a buffer.
///
/// The data goes to `<path>.partial`, renamed onto `path` by [`JsonlWriter::finish`]: the
/// file under its real name is always complete. Dropping the writer without finishing
/// removes the partial file.
#[derive(Debug)]
pub struct JsonlWriter<T: Serialize + ?Sized> {
    out: BufWriter<File>,
    file: PartialFile,
    scratch: Vec<u8>,
    lines: usize,
    _values: PhantomData<fn(&T)>,
}

impl<T: Serialize + ?Sized> JsonlWriter<T> {
    /// Creates `<path>.partial` (the parent directory must exist).
    pub fn create(path: impl AsRef<Path>) -> Result<JsonlWriter<T>, DataError> {
        let (file, out) = PartialFile::create(path.as_ref())?;
        Ok(JsonlWriter {
            out: BufWriter::with_capacity(1 << 16, out),
            file,
            scratch: Vec::new(),
            lines: 0,
            _values: PhantomData,
        })
    }

    /// Appends one value as one line.
    pub fn write(&mut self, value: &T) -> Result<(), DataError> {
        // Serializing into a scratch buffer first means a value that fails halfway
        // leaves no half line in the file.
        self.scratch.clear();
        if let Err(e) = serde_json::to_writer(&mut self.scratch, value) {
            return Err(DataError::JsonWrite {
                path: self.file.target().to_path_buf(),
                line: self.lines + 1,
                message: e.to_string(),
            });
        }
        self.scratch.push(b'\n');
        self.out
            .write_all(&self.scratch)
            .map_err(|e| DataError::io(self.file.target(), e))?;
        self.lines += 1;
        Ok(())
    }

    /// The number of lines written so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Flushes, syncs and renames the file onto its real name; returns the number of lines.
    pub fn finish(self) -> Result<usize, DataError> {
        let JsonlWriter {
            out, file, lines, ..
        } = self;
        let out = out
            .into_inner()
            .map_err(|e| DataError::io(file.target(), e.into_error()))?;
        file.commit(out)?;
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_messages_drop_serde_line_and_keep_column() {
        let check = |text: &str, expected: &str| {
            let e = serde_json::from_str::<Record>(text).unwrap_err();
            assert_eq!(json_message(&e, text), expected, "for {text:?}");
        };
        check("oops", "expected value at column 1");
        check(r#"{"response":"r"}"#, "missing field `prompt` at column 16");
        check(
            r#"[{"prompt":"p"}]"#,
            "expected one JSON object per line (JSON Lines), found a JSON array",
        );
        check(
            r#"{"prompt":"p","#,
            "EOF while parsing a value at column 14",
        );
    }
}
