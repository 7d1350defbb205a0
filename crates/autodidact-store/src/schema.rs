//! Opening connections: pragmas, the schema and its version.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::StoreError;

/// The schema version this build writes and reads (`PRAGMA user_version`); a fresh file has 0.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Long enough to ride out a checkpoint or another process briefly holding the write lock;
/// short enough that a truly stuck lock becomes an error instead of a hang.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `bytes` is `body`'s length in bytes, kept so sizes can be summed without reading bodies.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS responses (
    key       TEXT PRIMARY KEY NOT NULL,
    model     TEXT NOT NULL,
    body      TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    generation INTEGER NOT NULL,
    stage      TEXT NOT NULL,
    done_at    INTEGER NOT NULL,
    PRIMARY KEY (generation, stage)
);
CREATE TABLE IF NOT EXISTS metrics (
    generation INTEGER PRIMARY KEY NOT NULL,
    json       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
";

/// Opens (creating if needed) the writer's connection and brings the schema up to date.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let sqlite = |e| StoreError::sqlite(path, e);
    // No SQLITE_OPEN_URI: a run directory named `file:…` must stay a plain path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    // Refuse a newer file before changing anything in it (even the journal mode).
    check_version(path, user_version(&conn).map_err(sqlite)?)?;
    // WAL lets readers run beside the writer; with WAL, NORMAL stays consistent after a crash
    // and only risks the last commits on power loss, which resume simply redoes.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;

    // Immediate: two processes creating the same fresh file must not both create the schema.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let found = user_version(&tx).map_err(sqlite)?;
    check_version(path, found)?;
    if found == 0 {
        tx.execute_batch(SCHEMA).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite)?;
    }
    tx.commit().map_err(sqlite)?;
    Ok(conn)
}

/// Opens a connection for reading; the file and schema already exist.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let sqlite = |e| StoreError::sqlite(path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    // Read-write open (a read-only WAL reader needs extra care with the -shm file), but all
    // writes belong to the writer thread: enforce that.
    conn.pragma_update(None, "query_only", true)
        .map_err(sqlite)?;
    Ok(conn)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn check_version(path: &Path, found: i64) -> Result<(), StoreError> {
    if found == 0 || found == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(StoreError::Version {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        })
    }
}
