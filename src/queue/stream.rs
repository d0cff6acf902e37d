//! [`QueueStream`], the `Stream` behind [`Queue::stream`](super::Queue::stream):
//! repeated `get`s that end once the queue is closed and drained.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FusedStream, Stream};

use super::futures::{cancel_get, poll_get};
use super::Queue;

/// Yields the queue's items in order until it is closed and drained.
///
/// Owns a handle to the queue, so it can move into another task. Dropping it
/// mid-wait loses nothing, exactly like dropping a `get`.
pub(super) struct QueueStream<T> {
    queue: Queue<T>,
    /// The waiting getter's id, as in `Get`.
    waiting: Option<u64>,
    /// Set once `None` was yielded: the end is final, so the stream is fused.
    done: bool,
}

impl<T> QueueStream<T> {
    pub(super) fn new(queue: Queue<T>) -> Self {
        QueueStream {
            queue,
            waiting: None,
            done: false,
        }
    }
}

impl<T> Stream for QueueStream<T> {
    type Item = T;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match poll_get(&this.queue.shared, &mut this.waiting, cx) {
            Poll::Ready(Ok(item)) => Poll::Ready(Some(item)),
            Poll::Ready(Err(_closed)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> FusedStream for QueueStream<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for QueueStream<T> {
    fn drop(&mut self) {
        if let Some(id) = self.waiting {
            cancel_get(&self.queue.shared, id);
        }
    }
}

impl<T> fmt::Debug for QueueStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", &self.queue)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
