//! Records and datasets for autodidact: JSONL and Parquet files of [`Record`]s, read and
//! written as streams, and exports in the shapes training tools read.
//!
//! ```
//! use autodidact_data::{open_records, write_records, Record};
//!
//! # fn main() -> Result<(), autodidact_data::DataError> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("curated.parquet");
//! let mut record = Record::new("What is 2 + 2?", "4", None);
//! record.score = Some(0.9);
//! write_records(&path, [&record])?; // the format follows the extension
//!
//! for read in open_records(&path)? {
//!     assert_eq!(read?, record);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! - [`jsonl`](JsonlRecordReader) and [`parquet`](ParquetRecordReader) readers and writers,
//!   and [`open_records`] / [`RecordWriter`] choosing between them by file name
//!   ([`Format::from_path`]).
//! - Writers write to `<path>.partial` and rename onto `path` when finished, so a file
//!   under its real name is always complete.
//! - Errors ([`DataError`]) name the file and the line (JSONL) or row and column (Parquet).
//! - [`export`] writes `messages`, `prompt-completion` or `preference` (DPO) JSONL.
#![deny(missing_docs)]

mod dataset;
mod error;
mod export;
mod jsonl;
mod parquet;
mod partial;
mod record;
mod rows;

pub use crate::parquet::{
    DEFAULT_ROW_GROUP_SIZE, ParquetOptions, ParquetRecordReader, ParquetRecordWriter, record_schema,
};
pub use dataset::{Format, RecordReader, RecordWriter, open_records, write_records};
pub use error::DataError;
pub use export::{ExportFormat, ExportOptions, ExportStats, export, training_prompt};
pub use jsonl::{JsonValueReader, JsonlRecordReader, JsonlWriter, read_json_values};
pub use partial::partial_path;
pub use record::{Grade, Origin, Record, Verdict};
pub use rows::{DEFAULT_FIELDS, RowBatch, RowReader, RowWriter, open_rows};
