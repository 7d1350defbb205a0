//! Opening: persistence across reopen, schema version, bad paths.

use autodidact_store::{RunStore, StoreError};

use crate::{fresh, other_connection};

#[test]
fn data_survives_reopen() {
    let (dir, path, store) = fresh();
    store
        .put_response("k", "m", r#"{"text":"kept"}"#)
        .wait()
        .expect("put");
    store.mark_stage_done(3, "curate").expect("stage");
    store
        .put_metrics(3, r#"{"distinct_2":0.5}"#)
        .expect("metrics");
    store.set_meta("seed", "7").expect("meta");
    drop(store);

    let store = RunStore::open(&path).expect("reopen");
    assert_eq!(
        store.get_response("k").expect("get").as_deref(),
        Some(r#"{"text":"kept"}"#)
    );
    assert_eq!(store.response_count().expect("count"), 1);
    assert!(store.stage_done(3, "curate").expect("stage"));
    assert_eq!(
        store.metrics().expect("metrics"),
        vec![(3, r#"{"distinct_2":0.5}"#.to_string())]
    );
    assert_eq!(store.get_meta("seed").expect("meta").as_deref(), Some("7"));
    drop(dir);
}

#[test]
fn file_is_wal_with_schema_version() {
    let (_dir, path, _store) = fresh();
    let conn = other_connection(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(mode, "wal");
    assert_eq!(version, 1);
}

#[test]
fn unknown_schema_version_is_an_error() {
    for found in [2, 99, -1] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("run.db");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.pragma_update(None, "user_version", found))
            .expect("prepare file");
        let err = RunStore::open(&path).expect_err("newer version must not open");
        match &err {
            StoreError::Version {
                path: p,
                found: f,
                supported,
            } => {
                assert_eq!((p, *f, *supported), (&path, found, 1));
            }
            other => panic!("expected Version, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&found.to_string()), "{message}");
        // The file was left as it was.
        let kept: i64 = other_connection(&path)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(kept, found);
    }
}

#[test]
fn bad_paths_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_db,
        "this is not a SQLite database, just text that is long enough\n".repeat(20),
    )
    .expect("write");
    let cases = [dir.path().join("missing").join("run.db"), not_a_db];
    for path in cases {
        let err = RunStore::open(&path).expect_err("must fail");
        match &err {
            StoreError::Sqlite { path: p, .. } => assert_eq!(p, &path),
            other => panic!("expected Sqlite for {}, got {other:?}", path.display()),
        }
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    assert!(
        !dir.path().join("missing").exists(),
        "open must not create directories"
    );
}
