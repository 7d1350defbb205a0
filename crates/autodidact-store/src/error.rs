//! The one error type of the run store.

use std::path::PathBuf;

/// Everything that can go wrong in the run store.
///
/// The `Display` text names the database file; the SQLite message is the
/// [`source`](std::error::Error::source), so print the chain (`{:#}` with anyhow) to see it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed: opening, reading, or a write batch (every write in a failed batch gets
    /// this error, because the whole batch is one transaction and was rolled back).
    #[error("SQLite error in run store {}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written with a schema this build does not know (usually a newer autodidact).
    #[error(
        "run store {} has schema version {found}, but this build of autodidact only reads version {supported}",
        path.display()
    )]
    Version {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The schema version this build writes and reads.
        supported: i64,
    },
    /// The writer thread is gone (it panicked, or could not be started), so the write was
    /// not stored.
    #[error("the run store's writer thread has stopped; the write was not stored")]
    WriterGone,
}

impl StoreError {
    pub(crate) fn sqlite(path: impl Into<PathBuf>, source: rusqlite::Error) -> Self {
        StoreError::Sqlite {
            path: path.into(),
            source,
        }
    }

    /// A copy for the next waiter of a failed batch: every waiter gets its own error, and
    /// `rusqlite::Error` is not `Clone`.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            StoreError::Sqlite { path, source } => StoreError::Sqlite {
                path: path.clone(),
                source: duplicate_sqlite(source),
            },
            StoreError::Version {
                path,
                found,
                supported,
            } => StoreError::Version {
                path: path.clone(),
                found: *found,
                supported: *supported,
            },
            StoreError::WriterGone => StoreError::WriterGone,
        }
    }
}

/// SQLite failures (the only kind the writer meets in practice: I/O, disk full, busy,
/// constraints) copy exactly; any other kind keeps its message under a generic SQLite code.
fn duplicate_sqlite(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keeps_code_and_message() {
        let check = |source: rusqlite::Error, code: rusqlite::ErrorCode, message: &str| {
            let original = StoreError::sqlite("/x/run.db", source);
            match original.duplicate() {
                StoreError::Sqlite { path, source } => {
                    assert_eq!(path, PathBuf::from("/x/run.db"));
                    assert_eq!(source.sqlite_error_code(), Some(code));
                    assert_eq!(source.to_string(), message);
                }
                other => panic!("expected Sqlite, got {other:?}"),
            }
        };
        check(
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            ),
            rusqlite::ErrorCode::DiskFull,
            "database or disk is full",
        );
        check(
            rusqlite::Error::QueryReturnedNoRows,
            rusqlite::ErrorCode::Unknown,
            "Query returned no rows",
        );
    }
}
