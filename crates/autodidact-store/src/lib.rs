//! The SQLite run store of autodidact: `DIR/run.db` holds the response cache (what makes a
//! resumed run send no request twice), which stages are done, and per-generation metrics.
//!
//! ```
//! use autodidact_store::RunStore;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = RunStore::open(&dir.path().join("run.db"))?;
//!
//! // Writes are queued to one writer thread; `wait` (or `.await`) returns once committed.
//! store.put_response("3f2a…", "tiny", r#"{"text":"4"}"#).wait()?;
//! assert_eq!(store.get_response("3f2a…")?.as_deref(), Some(r#"{"text":"4"}"#));
//!
//! store.mark_stage_done(0, "generate")?;
//! assert!(store.stage_done(0, "generate")?);
//! # Ok(()) }
//! ```
//!
//! Writes go through one dedicated thread that commits whatever is queued as one
//! transaction (group commit); reads use their own connections, which WAL lets run beside
//! the writer. This is the only crate of autodidact that speaks SQL.

#![deny(missing_docs)]

mod commit;
mod error;
mod schema;
mod writer;

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};

pub use commit::Commit;
use commit::Unreported;
pub use error::StoreError;
use writer::{Job, Op};

/// Idle read connections kept for reuse; more are opened while more threads read at once.
const MAX_IDLE_READERS: usize = 8;

/// A handle on one run's `run.db`. Cheap to clone; all clones share the writer thread, which
/// commits what is queued and ends when the last clone is dropped (so dropping the last clone
/// blocks until then).
#[derive(Clone)]
pub struct RunStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// `None` only while dropping: closing the channel is what stops the writer.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
    /// The tag ([`key_tag`]) of every response key in the file when it was opened and of
    /// every one put through this store since: a key whose tag is missing has no response,
    /// so a fresh run's lookups never touch SQLite. Tags may collide; a collision only costs
    /// a lookup that finds nothing.
    stored: Mutex<Tags>,
    /// Shared with the writer and every `Commit`: see [`RunStore::flush`].
    unreported: Unreported,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            // A panicked writer has already failed its waiters with `WriterGone`.
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for RunStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl RunStore {
    /// Opens the store at `path`, creating the file and its schema if missing.
    ///
    /// Fails with [`StoreError::Version`] if the file's schema is newer than this build's, and
    /// with [`StoreError::Sqlite`] naming `path` if it cannot be opened (missing directory,
    /// not a SQLite file, …).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open_writer(path)?;
        let reader = schema::open_reader(path)?;
        let stored = load_tags(&reader).map_err(|e| StoreError::sqlite(path, e))?;
        let (jobs, queue) = mpsc::channel();
        let unreported = Unreported::default();
        let (writer_path, writer_unreported) = (path.to_path_buf(), Arc::clone(&unreported));
        let writer = std::thread::Builder::new()
            .name("autodidact-store-writer".into())
            .spawn(move || writer::run(conn, writer_path, queue, writer_unreported))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(RunStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: Some(jobs),
                writer: Some(writer),
                readers: Mutex::new(vec![reader]),
                stored: Mutex::new(stored),
                unreported,
            }),
        })
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The response body (JSON text) stored for a request key, if any.
    ///
    /// The store knows which keys the file held when it was opened and which were put
    /// through it since, and answers `None` for any other key without reading the file:
    /// a response another process stores in the same file meanwhile is not seen.
    pub fn get_response(&self, key: &str) -> Result<Option<String>, StoreError> {
        if !self.inner.stored.lock().unwrap_or_else(PoisonError::into_inner).contains(&key_tag(key)) {
            return Ok(None);
        }
        self.read(|conn| {
            conn.prepare_cached("SELECT body FROM responses WHERE key = ?1")?
                .query_row(params![key], |row| row.get(0))
                .optional()
        })
    }

    /// Queues a response to be stored under `key` (replacing any earlier one), with the
    /// model that wrote it. The returned [`Commit`] completes once it is committed.
    pub fn put_response(&self, key: &str, model: &str, body: &str) -> Commit {
        self.inner.stored.lock().unwrap_or_else(PoisonError::into_inner).insert(key_tag(key));
        self.submit(Op::Response {
            key: key.into(),
            model: model.into(),
            body: body.into(),
        })
    }

    /// How many responses are stored (committed ones only).
    pub fn response_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .read(|conn| conn.query_row("SELECT COUNT(*) FROM responses", [], |row| row.get(0)))?;
        // COUNT(*) is never negative.
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Whether `stage` of `generation` was marked done.
    pub fn stage_done(&self, generation: u32, stage: &str) -> Result<bool, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT 1 FROM stages WHERE generation = ?1 AND stage = ?2")?
                .exists(params![generation, stage])
        })
    }

    /// Marks `stage` of `generation` done (with the current time); committed when it returns.
    pub fn mark_stage_done(&self, generation: u32, stage: &str) -> Result<(), StoreError> {
        self.submit(Op::StageDone {
            generation,
            stage: stage.into(),
        })
        .wait()
    }

    /// Stores a generation's metrics (JSON text), replacing earlier ones; committed when it
    /// returns.
    pub fn put_metrics(&self, generation: u32, json: &str) -> Result<(), StoreError> {
        self.submit(Op::Metrics {
            generation,
            json: json.into(),
        })
        .wait()
    }

    /// Every generation's metrics, ordered by generation.
    pub fn metrics(&self) -> Result<Vec<(u32, String)>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT generation, json FROM metrics ORDER BY generation")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
    }

    /// A run-level value stored with [`set_meta`](Self::set_meta).
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row(params![key], |row| row.get(0))
                .optional()
        })
    }

    /// Stores a run-level value, replacing an earlier one; committed when it returns.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.submit(Op::Meta {
            key: key.into(),
            value: value.into(),
        })
        .wait()
    }

    /// Binds the run to its configuration: records a digest of `config_text` the first time
    /// and returns true; later returns whether the text is the same as the one recorded (a
    /// run directory holds one configuration's run).
    pub fn bind_config(&self, config_text: &str) -> Result<bool, StoreError> {
        let hash = blake3::hash(config_text.as_bytes()).to_hex().to_string();
        match self.get_meta("config_hash")? {
            Some(h) => Ok(h == hash),
            None => self.set_meta("config_hash", &hash).map(|()| true),
        }
    }

    /// Waits until everything queued so far is committed.
    ///
    /// Also reports a failed write whose [`Commit`] was dropped unawaited, so fire-and-forget
    /// writers learn about it here (the first such error since the last flush; later ones
    /// failed in the same way or for the same cause).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.submit(Op::Flush).wait()
    }

    fn submit(&self, op: Op) -> Commit {
        let (done, commit) = commit::pair(&self.inner.unreported);
        if let Some(jobs) = &self.inner.jobs {
            // If the writer is gone the job comes back and is dropped here, and with it
            // `done`: the Commit then resolves to `WriterGone`.
            let _ = jobs.send(Job { op, done });
        }
        commit
    }

    /// Runs a query on an idle read connection, opening one if all are busy.
    fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        // The pool is a plain Vec that no code can leave half-changed: poisoning is harmless.
        let idle = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => schema::open_reader(&self.inner.path)?,
        };
        let result = query(&conn).map_err(|e| StoreError::sqlite(&self.inner.path, e));
        let mut readers = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        result
    }
}

// The pipeline shares one store across tasks and threads and awaits `Commit`s in spawned
// tasks: keep these bounds from regressing silently.
const _: () = {
    const fn shared<T: Clone + Send + Sync>() {}
    const fn awaitable<T: std::future::Future + Send + Unpin>() {}
    shared::<RunStore>();
    awaitable::<Commit>();
};

/// A 64-bit hash of a response key (SipHash with fixed keys: the same in every process).
fn key_tag(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The tags of every response key in the file.
fn load_tags(conn: &Connection) -> rusqlite::Result<Tags> {
    let mut tags = HashSet::default();
    let mut stmt = conn.prepare("SELECT key FROM responses")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        tags.insert(key_tag(row.get_ref(0)?.as_str()?));
    }
    Ok(tags)
}

/// A set of key tags.
type Tags = HashSet<u64, BuildHasherDefault<TagHasher>>;

/// Tags are hashes already: the set uses them as they are.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unawaited failure and a flush in the same failed batch: the flush reports it, and
    /// the next flush must not report it again.
    #[test]
    fn flush_in_the_failed_batch_reports_it_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("run.db");
        let store = RunStore::open(&path).expect("open");
        let mut other = Connection::open(&path).expect("second connection");
        other
            .execute_batch(
                "CREATE TRIGGER reject_bad BEFORE INSERT ON responses WHEN NEW.key = 'bad'
                 BEGIN SELECT RAISE(ABORT, 'key rejected by test trigger'); END;",
            )
            .expect("trigger");
        // While `other` holds the write lock, everything queued lands in one batch.
        let lock = other
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("lock");
        drop(store.put_response("bad", "m", "{}"));
        let flush = store.submit(Op::Flush);
        lock.commit().expect("release lock");

        match flush.wait() {
            Err(StoreError::Sqlite { source, .. }) => {
                assert!(
                    source.to_string().contains("rejected by test trigger"),
                    "{source}"
                );
            }
            other => panic!("expected the trigger's error, got {other:?}"),
        }
        store
            .flush()
            .expect("second flush must not repeat the error");
    }
}
