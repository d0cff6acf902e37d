//! The producers' transitions: a put that enters, is refused or parks
//! (exactly, under both locks, when the back's estimate says full), and a
//! parked put polled or withdrawn. Touches the back half, and the front
//! only through `lock_both`; the invariants are in `state.rs`.

use std::task::Waker;

use super::Shared;
use crate::queue::errors::TryPutError;

/// What a put that cannot enter at once should do.
#[derive(Clone, Copy)]
pub(in crate::queue) enum IfFull<'a> {
    /// Give the item back (`try_put`).
    Refuse,
    /// Park it in line, with this waker if there is one yet.
    Park(Option<&'a Waker>),
}

/// How a put went.
pub(in crate::queue) enum Put<T> {
    Done,
    Parked(u64),
    Refused(TryPutError<T>),
}

impl<T> Shared<T> {
    /// Puts `item` if there is room and no parked put ahead; otherwise
    /// refuses or parks it as `if_full` says.
    #[inline]
    pub(in crate::queue) fn put(&self, item: T, if_full: IfFull<'_>) -> Put<T> {
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
    pub(in crate::queue) fn poll_parked_put(
        &self,
        id: u64,
        waker: &Waker,
    ) -> Option<Result<(), T>> {
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
    /// `putters_parked` is harmless (see
    /// [`Front::putters_parked`](super::Front::putters_parked)).
    pub(in crate::queue) fn cancel_put(&self, id: u64) -> Option<T> {
        self.lock_back().putters.remove(id)
    }
}
