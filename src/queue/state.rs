//! The queue's state machine: everything that lives behind its one
//! `std::sync::Mutex`, and every transition, each a short critical section
//! that returns the wake-ups to run once the lock is released.
//!
//! Invariants (while the lock is free):
//! - `items.len() <= limit`.
//! - Open and some put parked ⇒ the queue is full. Room is handed to the
//!   oldest parked put in the same critical section that freed it, by moving
//!   its item in; so puts enter in FIFO order, a new put never overtakes a
//!   parked one, and a parked put has no wake-up in flight that could be lost.
//! - A registered getter was registered while the queue was empty. Each item
//!   put unregisters and wakes at most one getter; a woken getter either takes
//!   an item, registers again, or (dropped) passes its wake-up to the next
//!   getter if items remain. Items are never handed to a getter directly, so
//!   a dropped `get` cannot lose one.
//! - Closed is permanent. From then on nothing enters the queue (parked puts
//!   keep their items until their futures take them back), and `join`ers are
//!   woken once `items` is empty, which is then final.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use super::errors::{QueueClosed, TryGetError, TryPutError};
use super::waiters::{ParkedPuts, Waiters, Wake};

/// Most slots reserved up front for a bounded queue; a larger one grows as it fills.
const PREALLOCATE_AT_MOST: usize = 1024;

/// What the handles of one queue share.
pub(super) struct Shared<T> {
    state: Mutex<State<T>>,
    /// `None` for an unbounded queue; kept outside the lock because it never changes.
    capacity: Option<usize>,
}

impl<T> Shared<T> {
    pub(super) fn new(capacity: Option<usize>) -> Shared<T> {
        let items = match capacity {
            Some(cap) => VecDeque::with_capacity(cap.min(PREALLOCATE_AT_MOST)),
            None => VecDeque::new(),
        };
        Shared {
            state: Mutex::new(State {
                items,
                limit: capacity.unwrap_or(usize::MAX),
                closed: false,
                next_id: 0,
                putters: ParkedPuts::default(),
                getters: Waiters::default(),
                joiners: Waiters::default(),
            }),
            capacity,
        }
    }

    pub(super) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Locks the state.
    ///
    /// Poisoning is recovered from: no foreign code (item drops, wakers) runs
    /// under the lock except `Waker::clone`, which every transition calls
    /// before changing anything, so a panic cannot leave the state half-changed.
    #[inline]
    pub(super) fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Queue")
            .field("len", &state.items.len())
            .field("capacity", &self.capacity)
            .field("closed", &state.closed)
            .field("waiting_puts", &state.putters.len())
            .field("waiting_gets", &state.getters.len())
            .finish_non_exhaustive()
    }
}

/// The locked state; see the module docs for its invariants.
pub(super) struct State<T> {
    items: VecDeque<T>,
    /// The capacity, or `usize::MAX` when unbounded.
    limit: usize,
    closed: bool,
    /// The next waiter id: ids only grow, which keeps every waiting list sorted.
    next_id: u64,
    putters: ParkedPuts<T>,
    getters: Waiters,
    joiners: Waiters,
}

impl<T> State<T> {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Puts `item` if that needs no waiting; returns the getter to wake.
    #[inline]
    pub(super) fn try_put(&mut self, item: T) -> Result<Option<Waker>, TryPutError<T>> {
        if self.closed {
            return Err(TryPutError::Closed(item));
        }
        // Parked puts imply a full queue; testing them too keeps a new put
        // behind them even if that invariant were ever broken.
        if self.items.len() >= self.limit || !self.putters.is_empty() {
            return Err(TryPutError::Full(item));
        }
        self.items.push_back(item);
        Ok(self.getters.pop_front())
    }

    /// Parks a put that `try_put` found `Full`, behind every parked put.
    ///
    /// `waker` may be `None` (a sink's `start_send` has no context); the next
    /// poll supplies it, and since that poll looks before it waits, nothing is missed.
    pub(super) fn park_put(&mut self, item: T, waker: Option<&Waker>) -> u64 {
        let waker = waker.cloned();
        let id = self.new_id();
        self.putters.push_back(id, item, waker);
        id
    }

    /// Polls a parked put: `Ok` once its item was moved into the queue,
    /// `Err(item)` if the queue was closed first.
    pub(super) fn poll_parked_put(&mut self, id: u64, waker: &Waker) -> Poll<Result<(), T>> {
        if self.closed {
            return Poll::Ready(match self.putters.remove(id) {
                Some(item) => Err(item),
                None => Ok(()),
            });
        }
        if self.putters.refresh(id, waker) {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    /// Withdraws a parked put: its item, or `None` if it already entered the
    /// queue. The caller drops the item after unlocking.
    ///
    /// Nothing is passed on: room is only ever handed to a parked put by
    /// moving its item in, so a parked put never holds a wake-up.
    pub(super) fn cancel_put(&mut self, id: u64) -> Option<T> {
        self.putters.remove(id)
    }

    /// Takes the oldest item if there is one, with the wake-ups that frees.
    #[inline]
    pub(super) fn try_get(&mut self) -> Result<(T, Wake), TryGetError> {
        match self.items.pop_front() {
            Some(item) => Ok((item, self.after_take())),
            None if self.closed => Err(TryGetError::Closed),
            None => Err(TryGetError::Empty),
        }
    }

    /// Hands the room just freed to the oldest parked put, or, once closed
    /// and drained, releases the joiners.
    #[inline]
    fn after_take(&mut self) -> Wake {
        if self.closed {
            let mut wake = Wake::default();
            if self.items.is_empty() {
                self.joiners.drain_into(&mut wake.many);
            }
            return wake;
        }
        match self.putters.pop_front() {
            Some(parked) => {
                debug_assert!(self.items.len() < self.limit);
                self.items.push_back(parked.item);
                Wake::one(parked.waker)
            }
            None => Wake::default(),
        }
    }

    /// Polls a get: an item, `QueueClosed` once closed and drained, or
    /// `Pending` with the getter registered under `waiting` (given an id on
    /// its first wait, kept across wake-ups so it keeps its place).
    #[inline]
    pub(super) fn poll_get(
        &mut self,
        waiting: &mut Option<u64>,
        waker: &Waker,
    ) -> Poll<Result<(T, Wake), QueueClosed>> {
        let got = match self.try_get() {
            Ok(got) => Ok(got),
            Err(TryGetError::Closed) => Err(QueueClosed),
            Err(TryGetError::Empty) => {
                let id = match *waiting {
                    Some(id) => id,
                    None => {
                        let id = self.new_id();
                        *waiting = Some(id);
                        id
                    }
                };
                self.getters.register(id, waker);
                return Poll::Pending;
            }
        };
        if let Some(id) = waiting.take() {
            // Still registered if this poll was not caused by our wake-up;
            // then the wake-up that brought the item went to someone else.
            self.getters.remove(id);
        }
        Poll::Ready(got)
    }

    /// Withdraws a waiting get; returns the getter to wake in its place.
    ///
    /// A getter that is no longer registered was woken for an item it will
    /// now never take: if items remain, that wake-up goes to the next getter.
    pub(super) fn cancel_get(&mut self, id: u64) -> Option<Waker> {
        if self.getters.remove(id) || self.items.is_empty() {
            return None;
        }
        self.getters.pop_front()
    }

    /// Polls a join: ready once closed and drained.
    pub(super) fn poll_join(&mut self, waiting: &mut Option<u64>, waker: &Waker) -> Poll<()> {
        if self.closed && self.items.is_empty() {
            if let Some(id) = waiting.take() {
                self.joiners.remove(id);
            }
            return Poll::Ready(());
        }
        let id = match *waiting {
            Some(id) => id,
            None => {
                let id = self.new_id();
                *waiting = Some(id);
                id
            }
        };
        self.joiners.register(id, waker);
        Poll::Pending
    }

    /// Withdraws a waiting join (joiners are all woken together: nothing to pass on).
    pub(super) fn cancel_join(&mut self, id: u64) {
        self.joiners.remove(id);
    }

    /// Closes the queue; `None` if it already was. Wakes every getter (they
    /// take what is left, then fail), every parked put (they take their
    /// items back) and, if nothing is left, every joiner.
    pub(super) fn close(&mut self) -> Option<Wake> {
        if self.closed {
            return None;
        }
        self.closed = true;
        let mut wake = Wake::default();
        self.getters.drain_into(&mut wake.many);
        self.putters.take_wakers_into(&mut wake.many);
        if self.items.is_empty() {
            self.joiners.drain_into(&mut wake.many);
        }
        Some(wake)
    }
}
