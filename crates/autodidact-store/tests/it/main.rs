//! Integration tests of the run store: every test works on a real `run.db` in its own
//! temporary directory, and checks what it can through a second, plain SQLite connection.

mod errors;
mod open;
mod responses;
mod state;

use std::path::PathBuf;

use autodidact_store::RunStore;
use tempfile::TempDir;

/// A fresh store in its own temporary directory (kept alive by the returned `TempDir`).
fn fresh() -> (TempDir, PathBuf, RunStore) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("run.db");
    let store = RunStore::open(&path).expect("open fresh store");
    (dir, path, store)
}

/// A plain connection on the same file, independent of the store's own connections.
fn other_connection(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open second connection");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn
}
