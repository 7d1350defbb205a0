//! The one error type of this crate: every variant names the file, and the line, row or
//! column where that helps the user find the problem.

use std::path::PathBuf;

/// Why reading or writing a dataset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Opening, reading, writing or renaming a file failed.
    #[error("error accessing '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A JSONL line is not valid JSON, or not the JSON expected (a record, an object).
    #[error("error reading '{}' line {line}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },

    /// A value could not be written as JSON (for example a map with non-string keys).
    #[error("error writing '{}' line {line}: {message}", path.display())]
    JsonWrite {
        /// The file.
        path: PathBuf,
        /// The 1-based line number the value would have had.
        line: usize,
        /// What serde_json said.
        message: String,
    },

    /// The Parquet library failed: a corrupt file, an unsupported encoding, a write error.
    #[error("error in Parquet file '{}': {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet library said.
        source: parquet::errors::ParquetError,
    },

    /// Arrow failed while decoding or assembling a batch of a Parquet file.
    #[error("error in Parquet file '{}': {source}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// What Arrow said.
        source: arrow_schema::ArrowError,
    },

    /// The file's columns are not those of a record file: a required column is missing or
    /// has a type that cannot hold its values.
    #[error("unexpected schema in '{}': {message}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Which column and what is wrong with it.
        message: String,
    },

    /// One value of a columnar file is unusable: a null in a required column, an unknown
    /// verdict, a generation out of range.
    #[error("error in '{}' row {row} column '{column}': {message}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The 0-based row in the file (as pandas and polars count).
        row: usize,
        /// The column, `grades.grader` for a field inside `grades`.
        column: String,
        /// What is wrong with the value.
        message: String,
    },

    /// The file name does not say which format the file is in.
    #[error(
        "unknown data format for '{}': expected a name ending in .jsonl, .json, .ndjson or .parquet",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },

    /// An export format name that is not one of ours.
    #[error(
        "unknown export format '{name}': expected messages (or sft), prompt-completion, or preference (or dpo)"
    )]
    UnknownExportFormat {
        /// The name given.
        name: String,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        DataError::Parquet {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn schema(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Schema {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_place() {
        let cases: Vec<(DataError, &str)> = vec![
            (
                DataError::Json {
                    path: "seeds.jsonl".into(),
                    line: 3,
                    message: "expected value at column 1".into(),
                },
                "error reading 'seeds.jsonl' line 3: expected value at column 1",
            ),
            (
                DataError::schema("a.parquet", "missing required column 'prompt'"),
                "unexpected schema in 'a.parquet': missing required column 'prompt'",
            ),
            (
                DataError::Value {
                    path: "a.parquet".into(),
                    row: 7,
                    column: "verdict".into(),
                    message: "unknown verdict 'maybe'".into(),
                },
                "error in 'a.parquet' row 7 column 'verdict': unknown verdict 'maybe'",
            ),
            (
                DataError::UnknownFormat {
                    path: "data.csv".into(),
                },
                "unknown data format for 'data.csv': expected a name ending in .jsonl, .json, .ndjson or .parquet",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }
}
