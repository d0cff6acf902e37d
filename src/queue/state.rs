//! The queue's state machine: two halves, each behind its own
//! `std::sync::Mutex`, and every transition, each a short critical section
//! that runs its wake-ups after releasing the locks.
//!
//! The items form one FIFO split in two: [`Front`] holds the oldest (gets pop
//! there) and [`Back`] the newest (puts push there). When the front runs dry
//! a get swaps the two buffers, moving every waiting item across in O(1). So
//! producers and consumers each take their own lock, and on a multi-thread
//! runtime they rarely touch each other's cache lines.
//!
//! Lock order: front, then back. A put takes only the back lock; a get only
//! the front one, unless it must swap, hand room to a parked put, release the
//! joiners, or wait.
//!
//! Invariants (while no lock is held):
//! - `back.front_len >= front.items.len()`: it is refreshed whenever both
//!   locks are held, and the front only shrinks under its lock alone. So
//!   `back.items.len() + back.front_len` bounds the length from above, and a
//!   put that finds room by it truly has room; one that finds none checks
//!   exactly under both locks before calling the queue full.
//! - Some put parked (and open) ⇒ the queue is exactly full and
//!   `front.putters_parked` is set (parking holds both locks). The get that
//!   frees room moves the oldest parked put's item into the back in the same
//!   critical section: puts enter in FIFO order, a new put never overtakes a
//!   parked one, and a parked put has no wake-up in flight that could be lost.
//! - A registered getter registered while both halves were empty, holding
//!   both locks. Each item that enters (pushed, or moved in from a parked
//!   put) unregisters and wakes at most one getter; a woken getter takes an
//!   item, registers again, or (dropped) passes its wake-up to the next
//!   getter if items remain. Items are never handed to a getter, so a
//!   dropped `get` cannot lose one.
//! - Closed (set in both halves at once) is permanent: nothing enters after
//!   it, parked puts keep their items until their futures take them back, and
//!   the joiners are released once both halves are empty, which is then final.
//!
//! This file holds the two halves, their locks, and the transitions that
//! touch the queue as a whole (join, close, length); the producers' are in
//! `state/put.rs`, the consumers' in `state/get.rs`.

mod get;
mod put;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use super::waiters::{ParkedPuts, Waiters, Wake};

pub(super) use self::put::{IfFull, Put};

/// Most slots reserved up front for a bounded queue; a larger one grows as it fills.
const PREALLOCATE_AT_MOST: usize = 1024;

/// What the handles of one queue share.
pub(super) struct Shared<T> {
    front: CachePadded<Mutex<Front<T>>>,
    back: CachePadded<Mutex<Back<T>>>,
    /// `None` for an unbounded queue; outside the locks because it never changes.
    capacity: Option<usize>,
}

/// Keeps its content on cache lines of its own (128 bytes: adjacent-line
/// prefetchers pair 64-byte lines), so the consumers' lock and the
/// producers' lock do not falsely share one.
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The consumers' half.
struct Front<T> {
    /// The oldest items, in order.
    items: VecDeque<T>,
    /// A copy of `Back::closed`, so a get knows without the back lock when it
    /// may have taken the last item.
    closed: bool,
    /// Set when a put parks; may stay set after the parked puts are gone
    /// (cleared by the next get that looks), never clear while one is parked.
    putters_parked: bool,
}

/// The producers' half, and every waiting list.
struct Back<T> {
    /// The newest items, in order, all after those of the front.
    items: VecDeque<T>,
    /// The capacity, or `usize::MAX` when unbounded.
    limit: usize,
    /// At least the front's length (see the module invariants).
    front_len: usize,
    closed: bool,
    /// The next waiter id: ids only grow, which keeps every waiting list sorted.
    next_id: u64,
    putters: ParkedPuts<T>,
    getters: Waiters,
    joiners: Waiters,
}

impl<T> Back<T> {
    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    #[inline]
    fn has_room(&self) -> bool {
        self.putters.is_empty() && self.items.len() + self.front_len < self.limit
    }

    /// Pushes an item that has room; returns the getter to wake.
    #[inline]
    fn push(&mut self, item: T) -> Option<Waker> {
        self.items.push_back(item);
        self.getters.pop_front()
    }
}

impl<T> Shared<T> {
    pub(super) fn new(capacity: Option<usize>) -> Shared<T> {
        let reserve = capacity.map_or(0, |cap| cap.min(PREALLOCATE_AT_MOST));
        Shared {
            front: CachePadded(Mutex::new(Front {
                // The two buffers trade places at every swap: both get room.
                items: VecDeque::with_capacity(reserve),
                closed: false,
                putters_parked: false,
            })),
            back: CachePadded(Mutex::new(Back {
                items: VecDeque::with_capacity(reserve),
                limit: capacity.unwrap_or(usize::MAX),
                front_len: 0,
                closed: false,
                next_id: 0,
                putters: ParkedPuts::default(),
                getters: Waiters::default(),
                joiners: Waiters::default(),
            })),
            capacity,
        }
    }

    pub(super) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    // Poisoning is recovered from: no foreign code (item drops, wakers) runs
    // under a lock except `Waker::clone`, which every transition calls before
    // changing anything, so a panic cannot leave a half changed.
    #[inline]
    fn lock_front(&self) -> MutexGuard<'_, Front<T>> {
        self.front.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    fn lock_back(&self) -> MutexGuard<'_, Back<T>> {
        self.back.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Both halves, in lock order.
    fn lock_both(&self) -> (MutexGuard<'_, Front<T>>, MutexGuard<'_, Back<T>>) {
        let front = self.lock_front();
        (front, self.lock_back())
    }

    /// Whether the queue is closed and drained; if not, registers the joiner.
    pub(super) fn poll_join(&self, waiting: &mut Option<u64>, waker: &Waker) -> bool {
        let (front, mut back) = self.lock_both();
        if back.closed && front.items.is_empty() && back.items.is_empty() {
            if let Some(id) = waiting.take() {
                back.joiners.remove(id);
            }
            return true;
        }
        let id = *waiting.get_or_insert_with(|| back.new_id());
        back.joiners.register(id, waker);
        false
    }

    /// Withdraws a waiting join (joiners are all woken together: nothing to pass on).
    pub(super) fn cancel_join(&self, id: u64) {
        self.lock_back().joiners.remove(id);
    }

    /// Closes the queue; false if it already was. Wakes every getter (they
    /// take what is left, then fail), every parked put (they take their items
    /// back) and, if nothing is left, every joiner.
    pub(super) fn close(&self) -> bool {
        let (mut front, mut back) = self.lock_both();
        if back.closed {
            return false;
        }
        back.closed = true;
        front.closed = true;
        let mut wake = Wake::default();
        back.getters.drain_into(&mut wake.many);
        back.putters.take_wakers_into(&mut wake.many);
        if front.items.is_empty() && back.items.is_empty() {
            back.joiners.drain_into(&mut wake.many);
        }
        drop((front, back));
        wake.run();
        true
    }

    pub(super) fn is_closed(&self) -> bool {
        self.lock_back().closed
    }

    pub(super) fn len(&self) -> usize {
        let (front, back) = self.lock_both();
        front.items.len() + back.items.len()
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (front, back) = self.lock_both();
        f.debug_struct("Queue")
            .field("len", &(front.items.len() + back.items.len()))
            .field("capacity", &self.capacity)
            .field("closed", &back.closed)
            .field("waiting_puts", &back.putters.len())
            .field("waiting_gets", &back.getters.len())
            .finish_non_exhaustive()
    }
}
