//! Failing writes: a failed batch fails every waiter in it, and an error whose `Commit` was
//! dropped surfaces at the next `flush`.
//!
//! Failures are provoked for real: a trigger, added through a second connection, rejects
//! one key.

use autodidact_store::StoreError;
use rusqlite::TransactionBehavior;

use crate::{fresh, other_connection};

const REJECT_BAD: &str = "CREATE TRIGGER reject_bad BEFORE INSERT ON responses
    WHEN NEW.key = 'bad' BEGIN SELECT RAISE(ABORT, 'key rejected by test trigger'); END;";

fn assert_rejected(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::Sqlite { source, .. }) => {
            assert!(
                source.to_string().contains("key rejected by test trigger"),
                "{what}: {source}"
            )
        }
        other => panic!("{what}: expected the trigger's error, got {other:?}"),
    }
}

#[test]
fn a_failed_batch_fails_every_waiter_and_stores_nothing() {
    let (_dir, path, store) = fresh();
    let mut other = other_connection(&path);
    other.execute_batch(REJECT_BAD).expect("create trigger");

    // Hold the write lock so the three puts are all queued when the writer gets the lock:
    // it gathers the queue after taking the lock, so they land in one batch.
    let lock = other
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("lock");
    let commits = [
        store.put_response("good-1", "m", "{}"),
        store.put_response("bad", "m", "{}"),
        store.put_response("good-2", "m", "{}"),
    ];
    lock.commit().expect("release lock");

    for (commit, what) in commits.into_iter().zip(["good-1", "bad", "good-2"]) {
        assert_rejected(commit.wait(), what);
    }
    for key in ["good-1", "bad", "good-2"] {
        assert_eq!(
            store.get_response(key).expect("get"),
            None,
            "{key} must be rolled back"
        );
    }
    // The writer carries on.
    store
        .put_response("good-3", "m", "{}")
        .wait()
        .expect("later put");
    assert_eq!(store.response_count().expect("count"), 1);
}

/// (The case where the flush shares the failed batch is a unit test in `lib.rs`: only there
/// can a flush be queued without blocking.)
#[test]
fn flush_reports_an_error_nobody_awaited_once() {
    let (_dir, path, store) = fresh();
    other_connection(&path)
        .execute_batch(REJECT_BAD)
        .expect("create trigger");

    drop(store.put_response("bad", "m", "{}"));
    // A later write that succeeds was in a later batch (the queue is FIFO): by then the
    // failure has happened, and nobody has heard of it yet.
    let mut probe = 0;
    while store
        .put_response(&format!("probe-{probe}"), "m", "{}")
        .wait()
        .is_err()
    {
        probe += 1;
    }
    assert_rejected(store.flush(), "first flush");
    store
        .flush()
        .expect("second flush: reported once, not forever");
    assert_eq!(store.get_response("bad").expect("get"), None);
}
