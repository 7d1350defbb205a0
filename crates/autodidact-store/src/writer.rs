//! The writer thread: one connection, group commit.
//!
//! Every write is a [`Job`] on one channel. The thread takes the write lock, then gathers
//! everything queued meanwhile (up to [`MAX_BATCH`]) into the same transaction, commits, and
//! only then answers each job's waiter: a completed `Commit` means "on disk". One commit per
//! batch instead of per write is what makes tens of thousands of writes a second cheap.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};

use crate::StoreError;
use crate::commit::{Completion, Unreported};

/// Bounds how long the first waiter of a batch can wait behind the others.
const MAX_BATCH: usize = 8192;

/// One queued write and whom to tell when it is committed.
pub(crate) struct Job {
    pub(crate) op: Op,
    pub(crate) done: Completion,
}

/// What to write.
pub(crate) enum Op {
    Response {
        key: String,
        model: String,
        body: String,
    },
    StageDone {
        generation: u32,
        stage: String,
    },
    Metrics {
        generation: u32,
        json: String,
    },
    Meta {
        key: String,
        value: String,
    },
    /// Writes nothing: answered once everything queued before it is committed.
    Flush,
}

/// Runs until every sender is gone (the last `RunStore` dropped), then returns after the
/// queue is drained and committed.
pub(crate) fn run(
    mut conn: Connection,
    path: PathBuf,
    jobs: Receiver<Job>,
    unreported: Unreported,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        let result = commit_batch(&mut conn, &path, &jobs, &mut batch);
        deliver(result, &mut batch, &unreported);
    }
}

fn commit_batch(
    conn: &mut Connection,
    path: &Path,
    jobs: &Receiver<Job>,
    batch: &mut Vec<Job>,
) -> Result<(), StoreError> {
    let sqlite = |e| StoreError::sqlite(path, e);
    // Lock first, gather second: whatever queued while we waited for the lock joins this batch.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    let now = unix_now();
    {
        let mut put = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO responses (key, model, body, bytes, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sqlite)?;
        for job in batch.iter() {
            match &job.op {
                Op::Response { key, model, body } => {
                    // A String is at most isize::MAX bytes, so this always fits.
                    let bytes = i64::try_from(body.len()).unwrap_or(i64::MAX);
                    put.execute(params![key, model, body, bytes, now]).map(drop)
                }
                Op::StageDone { generation, stage } => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO stages (generation, stage, done_at)
                         VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| s.execute(params![generation, stage, now]))
                    .map(drop),
                Op::Metrics { generation, json } => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO metrics (generation, json) VALUES (?1, ?2)",
                    )
                    .and_then(|mut s| s.execute(params![generation, json]))
                    .map(drop),
                Op::Meta { key, value } => tx
                    .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![key, value]))
                    .map(drop),
                Op::Flush => Ok(()),
            }
            .map_err(sqlite)?;
        }
    }
    // On any error above, dropping `tx` rolls the whole batch back.
    tx.commit().map_err(sqlite)
}

/// Answers every job of the batch: all succeeded, or all get the batch's error.
fn deliver(result: Result<(), StoreError>, batch: &mut Vec<Job>, unreported: &Unreported) {
    // A flush in a failed batch reports the failure itself, so the batch's dropped `Commit`s
    // need not keep it for the next flush (which would report it twice).
    let flush_heard = result.is_err()
        && batch
            .iter()
            .any(|job| matches!(job.op, Op::Flush) && !job.done.is_dropped());
    for job in batch.drain(..) {
        let answer = match (&result, &job.op) {
            (Ok(()), Op::Flush) => crate::commit::take_unreported(unreported),
            (Ok(()), _) => Ok(()),
            (Err(e), _) => Err(e.duplicate()),
        };
        job.done.complete(answer, flush_heard);
    }
}

fn unix_now() -> i64 {
    // A clock before 1970 is broken but not worth failing a write over: store 0.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
