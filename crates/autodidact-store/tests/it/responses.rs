//! The response cache: round trips, concurrency, and "committed when `wait` returns".

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::OptionalExtension;

use autodidact_store::RunStore;

use crate::{fresh, other_connection};

#[test]
fn round_trip() {
    let (_dir, _path, store) = fresh();
    let big = format!("{{\"text\":\"{}\"}}", "x".repeat(1 << 20));
    // (key, body): ordinary, non-ASCII, empty, large, and a key that looks like SQL.
    let cases: &[(&str, &str)] = &[
        ("a1b2", r#"{"choices":[{"text":"4"}]}"#),
        ("ключ-🔑", r#"{"text":"naïve café — 汉字"}"#),
        ("empty", ""),
        ("big", &big),
        ("'; DROP TABLE responses; --", r#"{"text":"still here"}"#),
    ];
    for (key, body) in cases {
        store
            .put_response(key, "writer-model", body)
            .wait()
            .expect("put");
    }
    for (key, body) in cases {
        assert_eq!(
            store.get_response(key).expect("get").as_deref(),
            Some(*body),
            "key {key:?}"
        );
    }
    assert_eq!(store.get_response("never-stored").expect("get"), None);
    assert_eq!(store.response_count().expect("count"), cases.len() as u64);
}

#[test]
fn put_replaces_earlier_body() {
    let (_dir, _path, store) = fresh();
    store
        .put_response("k", "m1", r#"{"v":1}"#)
        .wait()
        .expect("put 1");
    store
        .put_response("k", "m2", r#"{"v":2}"#)
        .wait()
        .expect("put 2");
    assert_eq!(
        store.get_response("k").expect("get").as_deref(),
        Some(r#"{"v":2}"#)
    );
    assert_eq!(store.response_count().expect("count"), 1);
}

#[test]
fn stores_model_size_and_time() {
    let (_dir, path, store) = fresh();
    let body = r#"{"text":"é漢🙂"}"#; // multi-byte: size is bytes, not chars
    let before = unix_now();
    store
        .put_response("k", "qwen2.5-7b", body)
        .wait()
        .expect("put");
    let after = unix_now();
    let (model, bytes, stored_at): (String, i64, i64) = other_connection(&path)
        .query_row(
            "SELECT model, bytes, stored_at FROM responses WHERE key = 'k'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    assert_eq!(model, "qwen2.5-7b");
    assert_eq!(bytes, body.len() as i64);
    assert!(
        (before..=after).contains(&stored_at),
        "{before} <= {stored_at} <= {after}"
    );
}

/// 20 threads × 500 puts, each checked through a separate connection right after its `wait`:
/// a completed `Commit` must mean committed, not merely queued.
#[test]
fn concurrent_puts_are_committed_when_wait_returns() {
    const THREADS: usize = 20;
    const PUTS: usize = 500;
    let (_dir, path, store) = fresh();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (store, path) = (store.clone(), &path);
            s.spawn(move || {
                let other = other_connection(path);
                for i in 0..PUTS {
                    let (key, body) = (format!("t{t}-{i}"), format!(r#"{{"t":{t},"i":{i}}}"#));
                    store.put_response(&key, "m", &body).wait().expect("put");
                    let seen: Option<String> = other
                        .query_row("SELECT body FROM responses WHERE key = ?1", [&key], |r| {
                            r.get(0)
                        })
                        .optional()
                        .expect("query from second connection");
                    assert_eq!(seen.as_deref(), Some(body.as_str()), "{key} not committed");
                }
            });
        }
    });
    assert_eq!(
        store.response_count().expect("count"),
        (THREADS * PUTS) as u64
    );
    for t in 0..THREADS {
        for i in 0..PUTS {
            let body = store.get_response(&format!("t{t}-{i}")).expect("get");
            assert_eq!(body, Some(format!(r#"{{"t":{t},"i":{i}}}"#)));
        }
    }
}

#[test]
fn commit_is_a_future() {
    let (_dir, path, store) = fresh();
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    futures::executor::block_on(async {
        // All queued before any is awaited: they may share batches.
        let commits: Vec<_> = keys.iter().map(|k| store.put_response(k, "m", k)).collect();
        for result in futures::future::join_all(commits).await {
            result.expect("commit");
        }
    });
    let stored: i64 = other_connection(&path)
        .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 100);
    for k in &keys {
        assert_eq!(
            store.get_response(k).expect("get").as_deref(),
            Some(k.as_str())
        );
    }
}

/// Dropping the last handle commits what is still queued, and the `Commit`s still complete.
#[test]
fn drop_commits_what_is_queued() {
    let (_dir, path, store) = fresh();
    let clone = store.clone();
    let commits: Vec<_> = (0..2000)
        .map(|i| store.put_response(&format!("k{i}"), "m", "{}"))
        .collect();
    drop(store);
    // The clone keeps the writer alive and sees everything once flushed.
    clone.flush().expect("flush");
    assert_eq!(clone.response_count().expect("count"), 2000);
    let more: Vec<_> = (2000..4000)
        .map(|i| clone.put_response(&format!("k{i}"), "m", "{}"))
        .collect();
    drop(clone);
    for commit in commits.into_iter().chain(more) {
        commit.wait().expect("commit after drop");
    }
    let stored: i64 = other_connection(&path)
        .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 4000);
}

#[test]
fn flush_waits_for_unawaited_puts() {
    let (_dir, path, store) = fresh();
    for i in 0..1000 {
        drop(store.put_response(&format!("k{i}"), "m", "{}"));
    }
    store.flush().expect("flush");
    let stored: i64 = other_connection(&path)
        .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 1000);
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

#[test]
fn keys_in_the_file_at_open_are_found_later_ones_from_elsewhere_are_not() {
    let (_dir, path, store) = fresh();
    store.put_response("mine", "m", "1").wait().expect("put");
    drop(store);
    // Another writer adds a row while no store is open, then while one is.
    let conn = other_connection(&path);
    let insert = "INSERT INTO responses (key, model, body, bytes, stored_at) VALUES (?1, 'm', ?2, 1, 0)";
    conn.execute(insert, ["before-open", "2"]).expect("insert");
    let store = RunStore::open(&path).expect("reopen");
    conn.execute(insert, ["after-open", "3"]).expect("insert");
    assert_eq!(store.get_response("mine").expect("get").as_deref(), Some("1"));
    assert_eq!(store.get_response("before-open").expect("get").as_deref(), Some("2"));
    // Documented: the store does not look for keys another process stored after it opened.
    assert_eq!(store.get_response("after-open").expect("get"), None);
    assert_eq!(store.response_count().expect("count"), 3);
    drop(store);
    let store = RunStore::open(&path).expect("reopen");
    assert_eq!(store.get_response("after-open").expect("get").as_deref(), Some("3"));
}
