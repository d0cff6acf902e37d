//! The futures behind [`Queue::put`](super::Queue::put),
//! [`Queue::get`](super::Queue::get) and [`Queue::join`](super::Queue::join):
//! each borrows the queue (no reference count touched per call), takes the
//! lock once on the fast path, and on drop withdraws whatever it left in the
//! waiting lists, which is what makes them cancel safe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::errors::{Closed, QueueClosed, TryGetError};
use super::state::{IfFull, Put as PutOutcome, Shared};

/// Waits to put one item; see [`Queue::put`](super::Queue::put).
pub(super) struct Put<'a, T> {
    shared: &'a Shared<T>,
    /// The item until it is tried; `None` once it is in the queue, parked or given back.
    item: Option<T>,
    /// The parked put's id while its item waits in the queue's state.
    parked: Option<u64>,
}

impl<'a, T> Put<'a, T> {
    pub(super) fn new(shared: &'a Shared<T>, item: T) -> Self {
        Put {
            shared,
            item: Some(item),
            parked: None,
        }
    }
}

// The item is moved, never pinned: no pinning guarantee is ever relied on.
impl<T> Unpin for Put<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = Result<(), Closed<T>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(id) = this.parked {
            return match this.shared.poll_parked_put(id, cx.waker()) {
                Some(done) => {
                    this.parked = None;
                    Poll::Ready(done.map_err(Closed))
                }
                None => Poll::Pending,
            };
        }
        let Some(item) = this.item.take() else {
            panic!("`Queue::put` future polled after it completed");
        };
        match this.shared.put(item, IfFull::Park(Some(cx.waker()))) {
            PutOutcome::Done => Poll::Ready(Ok(())),
            PutOutcome::Parked(id) => {
                this.parked = Some(id);
                Poll::Pending
            }
            // Parking never refuses for fullness: this is a close.
            PutOutcome::Refused(refused) => Poll::Ready(Err(Closed(refused.into_inner()))),
        }
    }
}

impl<T> Drop for Put<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(id) = self.parked {
            cancel_put(self.shared, id);
        }
    }
}

/// Withdraws a parked put.
///
/// Either the item is still parked and comes back here, to be dropped after
/// the lock is released (an item's drop is foreign code), or it was already
/// moved into the queue: never both, never neither.
#[cold]
pub(super) fn cancel_put<T>(shared: &Shared<T>, id: u64) {
    drop(shared.cancel_put(id));
}

impl<T> fmt::Debug for Put<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("parked", &self.parked.is_some())
            .finish_non_exhaustive()
    }
}

/// Waits to get one item; see [`Queue::get`](super::Queue::get).
pub(super) struct Get<'a, T> {
    shared: &'a Shared<T>,
    /// This getter's id once it has waited (registered, or woken and not yet back).
    waiting: Option<u64>,
}

impl<'a, T> Get<'a, T> {
    pub(super) fn new(shared: &'a Shared<T>) -> Self {
        Get {
            shared,
            waiting: None,
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = Result<T, QueueClosed>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        poll_get(this.shared, &mut this.waiting, cx)
    }
}

impl<T> Drop for Get<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(id) = self.waiting {
            cancel_get(self.shared, id);
        }
    }
}

impl<T> fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}

/// One poll of a get, shared by [`Get`] and the queue's stream.
#[inline]
pub(super) fn poll_get<T>(
    shared: &Shared<T>,
    waiting: &mut Option<u64>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, QueueClosed>> {
    match shared.take(Some((waiting, cx.waker()))) {
        Ok(item) => Poll::Ready(Ok(item)),
        Err(TryGetError::Closed) => Poll::Ready(Err(QueueClosed)),
        Err(TryGetError::Empty) => Poll::Pending,
    }
}

/// Withdraws a get that waited, passing on a wake-up it would otherwise swallow.
#[cold]
pub(super) fn cancel_get<T>(shared: &Shared<T>, id: u64) {
    if let Some(next) = shared.cancel_get(id) {
        next.wake();
    }
}

/// Waits until the queue is closed and drained; see [`Queue::join`](super::Queue::join).
pub(super) struct Join<'a, T> {
    shared: &'a Shared<T>,
    waiting: Option<u64>,
}

impl<'a, T> Join<'a, T> {
    pub(super) fn new(shared: &'a Shared<T>) -> Self {
        Join {
            shared,
            waiting: None,
        }
    }
}

impl<T> Future for Join<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.shared.poll_join(&mut this.waiting, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> Drop for Join<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.waiting.take() {
            self.shared.cancel_join(id);
        }
    }
}

impl<T> fmt::Debug for Join<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}
