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

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use super::errors::{TryGetError, TryPutError};
use super::waiters::{ParkedPuts, Waiters, Wake};

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

/// What a put that cannot enter at once should do.
#[derive(Clone, Copy)]
pub(super) enum IfFull<'a> {
    /// Give the item back (`try_put`).
    Refuse,
    /// Park it in line, with this waker if there is one yet.
    Park(Option<&'a Waker>),
}

/// How a put went.
pub(super) enum Put<T> {
    Done,
    Parked(u64),
    Refused(TryPutError<T>),
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

    /// Puts `item` if there is room and no parked put ahead; otherwise
    /// refuses or parks it as `if_full` says.
    #[inline]
    pub(super) fn put(&self, item: T, if_full: IfFull<'_>) -> Put<T> {
        let mut back = self.lock_back();
        if back.closed {
            return Put::Refused(TryPutError::Closed(item));
        }
        if back.has_room() {
            let getter = back.push(item);
            drop(back);
            if let Some(getter) = getter {
                getter.wake();
            }
            return Put::Done;
        }
        drop(back);
        self.put_exact(item, if_full)
    }

    /// The put for when the back's estimate says full: decides exactly,
    /// holding both locks.
    #[cold]
    fn put_exact(&self, item: T, if_full: IfFull<'_>) -> Put<T> {
        let (mut front, mut back) = self.lock_both();
        if back.closed {
            return Put::Refused(TryPutError::Closed(item));
        }
        back.front_len = front.items.len();
        if back.has_room() {
            let getter = back.push(item);
            drop((front, back));
            if let Some(getter) = getter {
                getter.wake();
            }
            return Put::Done;
        }
        match if_full {
            IfFull::Refuse => Put::Refused(TryPutError::Full(item)),
            IfFull::Park(waker) => {
                let waker = waker.cloned();
                let id = back.new_id();
                back.putters.push_back(id, item, waker);
                front.putters_parked = true;
                Put::Parked(id)
            }
        }
    }

    /// Polls a parked put: `Some(Ok)` once its item entered the queue,
    /// `Some(Err(item))` if the queue was closed first, `None` while it waits.
    pub(super) fn poll_parked_put(&self, id: u64, waker: &Waker) -> Option<Result<(), T>> {
        let mut back = self.lock_back();
        if back.closed {
            return Some(back.putters.remove(id).map_or(Ok(()), Err));
        }
        if back.putters.refresh(id, waker) {
            None
        } else {
            Some(Ok(()))
        }
    }

    /// Withdraws a parked put: its item, or `None` if it already entered the
    /// queue. The caller drops the item once the lock is released.
    ///
    /// Nothing is passed on: room is only ever handed to a parked put by
    /// moving its item in, so a parked put never holds a wake-up. A stale
    /// `putters_parked` is harmless (see [`Front::putters_parked`]).
    pub(super) fn cancel_put(&self, id: u64) -> Option<T> {
        self.lock_back().putters.remove(id)
    }

    /// Takes the oldest item. With `waiter` (a get's id slot and waker), an
    /// empty open queue registers it and answers `Empty`; an id it already
    /// has keeps its place in line.
    #[inline]
    pub(super) fn take(
        &self,
        waiter: Option<(&mut Option<u64>, &Waker)>,
    ) -> Result<T, TryGetError> {
        let mut front = self.lock_front();
        if let Some(item) = front.items.pop_front() {
            let waited = waiter.as_ref().is_some_and(|(id, _)| id.is_some());
            if front.putters_parked || (front.closed && front.items.is_empty()) || waited {
                let mut back = self.lock_back();
                let wake = after_take(&mut front, &mut back, waiter);
                drop((front, back));
                wake.run();
            }
            return Ok(item);
        }
        self.take_from_back(front, waiter)
    }

    /// The get for an empty front: swaps in the back's items, or waits.
    fn take_from_back(
        &self,
        mut front: MutexGuard<'_, Front<T>>,
        waiter: Option<(&mut Option<u64>, &Waker)>,
    ) -> Result<T, TryGetError> {
        let mut back = self.lock_back();
        std::mem::swap(&mut front.items, &mut back.items);
        if let Some(item) = front.items.pop_front() {
            let wake = after_take(&mut front, &mut back, waiter);
            drop((front, back));
            wake.run();
            return Ok(item);
        }
        back.front_len = 0;
        if back.closed {
            if let Some((Some(id), _)) = waiter.map(|(id, w)| (id.take(), w)) {
                back.getters.remove(id);
            }
            return Err(TryGetError::Closed);
        }
        if let Some((id, waker)) = waiter {
            let id = *id.get_or_insert_with(|| back.new_id());
            back.getters.register(id, waker);
        }
        Err(TryGetError::Empty)
    }

    /// Withdraws a waiting get; returns the getter to wake in its place.
    ///
    /// A getter that is no longer registered was woken for an item it will
    /// now never take: if items remain, that wake-up goes to the next getter.
    pub(super) fn cancel_get(&self, id: u64) -> Option<Waker> {
        let (front, mut back) = self.lock_both();
        if back.getters.remove(id) || (front.items.is_empty() && back.items.is_empty()) {
            return None;
        }
        back.getters.pop_front()
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

/// After an item was taken, holding both locks: hands the room to parked
/// puts (oldest first), or, once closed and drained, releases the joiners;
/// unregisters the getter if it was still registered (a poll its wake-up
/// did not cause: that wake-up went to someone else, nothing is lost).
fn after_take<T>(
    front: &mut Front<T>,
    back: &mut Back<T>,
    waiter: Option<(&mut Option<u64>, &Waker)>,
) -> Wake {
    let mut wake = Wake::default();
    if let Some((Some(id), _)) = waiter.map(|(id, w)| (id.take(), w)) {
        back.getters.remove(id);
    }
    if back.closed {
        if front.items.is_empty() && back.items.is_empty() {
            back.joiners.drain_into(&mut wake.many);
        }
    } else {
        while front.items.len() + back.items.len() < back.limit {
            let Some(parked) = back.putters.pop_front() else {
                break;
            };
            back.items.push_back(parked.item);
            match (&wake.one, parked.waker) {
                (None, waker) => wake.one = waker,
                (Some(_), Some(waker)) => wake.many.push(waker),
                (Some(_), None) => {}
            }
            // An item entering is an item put: it announces itself to a
            // waiting getter like any other (one may have registered before
            // the queue filled up, while this getter was woken for another).
            if let Some(getter) = back.getters.pop_front() {
                wake.many.push(getter);
            }
        }
        front.putters_parked = !back.putters.is_empty();
    }
    back.front_len = front.items.len();
    wake
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
