//! [`QueueSink`], the `Sink` behind [`Queue::sink`](super::Queue::sink):
//! `put` as a sink, with at most one item in flight (parked in the queue's
//! FIFO of waiting puts) between `start_send` and the next ready/flush.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::sink::Sink;

use super::errors::Closed;
use super::futures::cancel_put;
use super::state::{IfFull, Put};
use super::Queue;

/// Puts every item sent into the queue, in order, waiting for room.
///
/// `start_send` puts at once when there is room; otherwise the item is parked
/// in the queue's line of waiting puts and `poll_ready`/`poll_flush` wait for
/// it to enter. `poll_close` only flushes: the queue stays open for its other
/// handles. Dropping the sink drops items still parked (not yet flushed).
pub(super) struct QueueSink<T> {
    queue: Queue<T>,
    /// Ids of this sink's parked puts, oldest first. At most one when the
    /// `Sink` contract is kept; more only if `start_send` is called without
    /// waiting for `poll_ready`, which still puts every item, in order.
    parked: VecDeque<u64>,
}

impl<T> QueueSink<T> {
    pub(super) fn new(queue: Queue<T>) -> Self {
        QueueSink {
            queue,
            parked: VecDeque::new(),
        }
    }
}

// Items are moved, never pinned.
impl<T> Unpin for QueueSink<T> {}

impl<T> Sink<T> for QueueSink<T> {
    type Error = Closed<T>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed<T>>> {
        self.poll_flush(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Closed<T>> {
        let this = self.get_mut();
        // No context here: the next poll_ready/poll_flush supplies the waker.
        match this.queue.shared.put(item, IfFull::Park(None)) {
            Put::Done => Ok(()),
            Put::Parked(id) => {
                this.parked.push_back(id);
                Ok(())
            }
            Put::Refused(refused) => Err(Closed(refused.into_inner())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed<T>>> {
        let this = self.get_mut();
        while let Some(&id) = this.parked.front() {
            match this.queue.shared.poll_parked_put(id, cx.waker()) {
                None => return Poll::Pending,
                Some(done) => {
                    this.parked.pop_front();
                    done.map_err(Closed)?;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed<T>>> {
        self.poll_flush(cx)
    }
}

impl<T> Drop for QueueSink<T> {
    fn drop(&mut self) {
        for id in self.parked.drain(..) {
            cancel_put(&self.queue.shared, id);
        }
    }
}

impl<T> fmt::Debug for QueueSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSink")
            .field("queue", &self.queue)
            .field("parked", &self.parked.len())
            .finish_non_exhaustive()
    }
}
