//! [`Commit`]: the completion of one queued write, and its writer-side half.
//!
//! A small mutex-guarded cell rather than a oneshot channel, because a failed write whose
//! `Commit` is dropped must never vanish: either the writer finds the `Commit` already gone,
//! or the `Commit` finds an unread error when it is dropped. Under one lock exactly one of
//! the two happens, and that one keeps the error for the next [`RunStore::flush`].
//! (A oneshot channel leaves a window in which the answer is sent but never read.)
//!
//! [`RunStore::flush`]: crate::RunStore::flush

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::StoreError;

/// The first failed write nobody received, reported by the next flush.
pub(crate) type Unreported = Arc<Mutex<Option<StoreError>>>;

/// Keeps `error` for the next flush unless an earlier one is already waiting there (later
/// failures before a flush almost always share its cause).
pub(crate) fn keep_unreported(unreported: &Mutex<Option<StoreError>>, error: StoreError) {
    lock(unreported).get_or_insert(error);
}

/// A flush's answer: the kept failure, if any, now reported.
pub(crate) fn take_unreported(unreported: &Mutex<Option<StoreError>>) -> Result<(), StoreError> {
    lock(unreported).take().map_or(Ok(()), Err)
}

/// A new write's two halves: the writer completes one, the caller waits on the other.
pub(crate) fn pair(unreported: &Unreported) -> (Completion, Commit) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::Waiting(None)),
        ready: Condvar::new(),
        unreported: Arc::clone(unreported),
    });
    (
        Completion {
            shared: Some(Arc::clone(&shared)),
        },
        Commit { shared },
    )
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on completion, for [`Commit::wait`].
    ready: Condvar,
    unreported: Unreported,
}

enum State {
    /// Not answered yet; the waker of the task that last polled, if any.
    Waiting(Option<Waker>),
    /// Answered, not yet read. The flag: a flush of the same batch already reported this
    /// failure, so dropping it unread loses nothing.
    Answered(Result<(), StoreError>, bool),
    /// The answer was read.
    Read,
    /// The `Commit` was dropped.
    Dropped,
}

/// Completes once the write it stands for is committed (or failed).
///
/// Await it in async code, or call [`Commit::wait`] in sync code. Dropping it does not cancel
/// the write; if the write fails, the next [`RunStore::flush`] reports the error.
///
/// # Panics
///
/// Like other futures, polling it again after it returned `Ready` panics.
///
/// [`RunStore::flush`]: crate::RunStore::flush
#[must_use = "a write is only known to be stored once its Commit completes; if you drop it, call `flush` later to learn about errors"]
pub struct Commit {
    shared: Arc<Shared>,
}

impl Commit {
    /// Blocks the calling thread until the write is committed (for sync code; in async code,
    /// `.await` the `Commit` instead).
    pub fn wait(self) -> Result<(), StoreError> {
        let mut state = lock(&self.shared.state);
        loop {
            match std::mem::replace(&mut *state, State::Read) {
                State::Answered(result, _) => return result,
                waiting @ State::Waiting(_) => {
                    *state = waiting;
                    state = self
                        .shared
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                State::Read | State::Dropped => panic!("Commit waited on after it completed"),
            }
        }
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.shared.state);
        match std::mem::replace(&mut *state, State::Read) {
            State::Answered(result, _) => Poll::Ready(result),
            State::Waiting(_) => {
                *state = State::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            State::Read | State::Dropped => panic!("Commit polled after it completed"),
        }
    }
}

impl Drop for Commit {
    fn drop(&mut self) {
        let unread = std::mem::replace(&mut *lock(&self.shared.state), State::Dropped);
        if let State::Answered(Err(error), false) = unread {
            keep_unreported(&self.shared.unreported, error);
        }
    }
}

impl fmt::Debug for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*lock(&self.shared.state) {
            State::Waiting(_) => "waiting",
            State::Answered(Ok(()), _) => "committed",
            State::Answered(Err(_), _) => "failed",
            State::Read => "read",
            State::Dropped => "dropped",
        };
        f.debug_struct("Commit").field("state", &state).finish()
    }
}

/// The writer's half: answered exactly once, by [`Completion::complete`] or, if the writer
/// drops the job unanswered (it panicked or is gone), with [`StoreError::WriterGone`].
pub(crate) struct Completion {
    /// `None` once answered.
    shared: Option<Arc<Shared>>,
}

impl Completion {
    /// Whether the caller dropped its `Commit` (nobody will read the answer).
    pub(crate) fn is_dropped(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| matches!(*lock(&shared.state), State::Dropped))
    }

    /// Answers the waiter; `flush_heard`: a flush of the same batch reports this failure.
    pub(crate) fn complete(mut self, result: Result<(), StoreError>, flush_heard: bool) {
        if let Some(shared) = self.shared.take() {
            answer(&shared, result, flush_heard);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            answer(&shared, Err(StoreError::WriterGone), false);
        }
    }
}

fn answer(shared: &Shared, result: Result<(), StoreError>, flush_heard: bool) {
    let mut state = lock(&shared.state);
    match &mut *state {
        State::Waiting(waker) => {
            let waker = waker.take();
            *state = State::Answered(result, flush_heard);
            drop(state);
            shared.ready.notify_all();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        State::Dropped => {
            drop(state);
            if let (Err(error), false) = (result, flush_heard) {
                keep_unreported(&shared.unreported, error);
            }
        }
        // A `Completion` answers once (it is consumed), so the state was still `Waiting` or
        // the `Commit` is gone.
        State::Answered(..) | State::Read => {}
    }
}

/// Every critical section here only moves whole values in and out: a panic elsewhere cannot
/// leave the state half-changed, so a poisoned lock is safe to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> StoreError {
        StoreError::sqlite(
            "/x/run.db",
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("disk full".into()),
            ),
        )
    }

    /// Whatever the order of "answered" and "dropped", a failure nobody read is kept for
    /// the next flush, unless a flush of its batch already reported it.
    #[test]
    fn unread_failures_are_kept() {
        // (commit dropped before the answer?, flush_heard, kept?)
        let cases = [
            (true, false, true),
            (false, false, true),
            (true, true, false),
            (false, true, false),
        ];
        for (drop_first, flush_heard, kept) in cases {
            let unreported = Unreported::default();
            let (done, commit) = pair(&unreported);
            if drop_first {
                drop(commit);
                done.complete(Err(failure()), flush_heard);
            } else {
                done.complete(Err(failure()), flush_heard);
                drop(commit);
            }
            let what = format!("drop_first {drop_first}, flush_heard {flush_heard}");
            assert_eq!(take_unreported(&unreported).is_err(), kept, "{what}");
            // Taken once, then gone.
            assert!(take_unreported(&unreported).is_ok(), "{what}");
        }
    }

    #[test]
    fn read_answers_are_not_kept() {
        let unreported = Unreported::default();
        let (done, commit) = pair(&unreported);
        done.complete(Err(failure()), false);
        assert!(commit.wait().is_err());
        assert!(take_unreported(&unreported).is_ok());
    }

    #[test]
    fn unanswered_job_means_writer_gone() {
        let unreported = Unreported::default();
        let (done, commit) = pair(&unreported);
        drop(done);
        assert!(matches!(commit.wait(), Err(StoreError::WriterGone)));
    }

    #[test]
    fn wait_blocks_until_answered_from_another_thread() {
        let unreported = Unreported::default();
        let (done, commit) = pair(&unreported);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            done.complete(Ok(()), false);
        });
        assert!(commit.wait().is_ok());
        writer.join().expect("writer thread");
    }
}
