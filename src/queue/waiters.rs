//! The waiting lists kept under the queue's lock: [`Waiters`] (getters and
//! joiners: an id and a waker each), [`Parked`] puts (an id, the item itself
//! and a waker), and [`Wake`], the wake-ups an operation collected under the
//! lock and runs after releasing it.
//!
//! Every list is ordered by id, and ids only grow (one counter per queue), so
//! a waiter finds itself by binary search and the front is always the oldest.

use std::collections::VecDeque;
use std::task::Waker;

/// Waiting tasks that hold nothing but a waker, oldest first.
#[derive(Default)]
pub(super) struct Waiters {
    list: VecDeque<(u64, Waker)>,
}

impl Waiters {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    fn find(&self, id: u64) -> Result<usize, usize> {
        self.list.binary_search_by_key(&id, |(i, _)| *i)
    }

    /// Registers `id`, or refreshes its waker if it is still registered.
    ///
    /// A waiter that was woken and comes back keeps its old id, so it goes
    /// back in front of everyone who started waiting after it.
    pub(super) fn register(&mut self, id: u64, waker: &Waker) {
        match self.find(id) {
            Ok(at) => {
                let slot = &mut self.list[at].1;
                if !slot.will_wake(waker) {
                    slot.clone_from(waker);
                }
            }
            Err(at) => self.list.insert(at, (id, waker.clone())),
        }
    }

    /// Unregisters `id`; false if it was not registered (it was woken).
    pub(super) fn remove(&mut self, id: u64) -> bool {
        match self.find(id) {
            Ok(at) => {
                self.list.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Unregisters the oldest waiter and returns its waker.
    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Waker> {
        self.list.pop_front().map(|(_, waker)| waker)
    }

    /// Unregisters everyone, moving their wakers into `into`.
    pub(super) fn drain_into(&mut self, into: &mut Vec<Waker>) {
        into.extend(self.list.drain(..).map(|(_, waker)| waker));
    }
}

/// A `put` waiting for room. The item lives here, not in the future, so the
/// task that frees room moves it into the queue under the same lock: a parked
/// put is never "woken but not yet put", and so never has a wake-up to lose.
pub(super) struct Parked<T> {
    pub(super) id: u64,
    pub(super) item: T,
    /// `None` until a poll supplies one, and once `close` took it to wake the put.
    pub(super) waker: Option<Waker>,
}

/// Parked puts, oldest first: the order in which they enter the queue.
pub(super) struct ParkedPuts<T> {
    list: VecDeque<Parked<T>>,
}

impl<T> Default for ParkedPuts<T> {
    fn default() -> Self {
        ParkedPuts {
            list: VecDeque::new(),
        }
    }
}

impl<T> ParkedPuts<T> {
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    fn find(&self, id: u64) -> Result<usize, usize> {
        self.list.binary_search_by_key(&id, |p| p.id)
    }

    /// Parks a put behind every earlier one; `id` must be newer than all of them.
    pub(super) fn push_back(&mut self, id: u64, item: T, waker: Option<Waker>) {
        debug_assert!(self.list.back().is_none_or(|p| p.id < id));
        self.list.push_back(Parked { id, item, waker });
    }

    /// The oldest parked put, taken out of the list (its item is the caller's now).
    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Parked<T>> {
        self.list.pop_front()
    }

    /// Whether `id` is still parked; if so its waker is refreshed.
    pub(super) fn refresh(&mut self, id: u64, waker: &Waker) -> bool {
        match self.find(id) {
            Ok(at) => {
                let slot = &mut self.list[at].waker;
                match slot {
                    Some(w) if w.will_wake(waker) => {}
                    _ => *slot = Some(waker.clone()),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Takes `id` out of the list with its item; `None` if it was already moved into the queue.
    pub(super) fn remove(&mut self, id: u64) -> Option<T> {
        let at = self.find(id).ok()?;
        self.list.remove(at).map(|p| p.item)
    }

    /// Takes every parked put's waker (the puts stay parked with their items).
    pub(super) fn take_wakers_into(&mut self, into: &mut Vec<Waker>) {
        into.extend(self.list.iter_mut().filter_map(|p| p.waker.take()));
    }
}

/// Wake-ups collected under the lock, run once it is released: a woken task
/// on another thread would otherwise wake up only to block on the lock, and a
/// waker is foreign code that must not run while the lock is held.
#[must_use = "collected wake-ups must be run after the lock is released"]
#[derive(Default)]
pub(super) struct Wake {
    pub(super) one: Option<Waker>,
    pub(super) many: Vec<Waker>,
}

impl Wake {
    #[inline]
    pub(super) fn run(self) {
        if let Some(waker) = self.one {
            waker.wake();
        }
        for waker in self.many {
            waker.wake();
        }
    }
}
