//! [`Commit`]: the completion of one queued write.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;

use crate::StoreError;

/// Completes once the write it stands for is committed to disk (or failed).
///
/// Await it in async code, or call [`Commit::wait`] in sync code. Dropping it does not cancel
/// the write; an error nobody received is reported by the next [`RunStore::flush`].
///
/// [`RunStore::flush`]: crate::RunStore::flush
#[must_use = "a write is only known to be stored once its Commit completes; if you drop it, call `flush` later to learn about errors"]
#[derive(Debug)]
pub struct Commit {
    rx: oneshot::Receiver<Result<(), StoreError>>,
}

impl Commit {
    pub(crate) fn new(rx: oneshot::Receiver<Result<(), StoreError>>) -> Self {
        Commit { rx }
    }

    /// Blocks the calling thread until the write is committed (for sync code; in async code,
    /// `.await` the `Commit` instead).
    pub fn wait(self) -> Result<(), StoreError> {
        futures::executor::block_on(self)
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            // The writer dropped the job without answering: it panicked or never started.
            Poll::Ready(Err(oneshot::Canceled)) => Poll::Ready(Err(StoreError::WriterGone)),
            Poll::Pending => Poll::Pending,
        }
    }
}
