//! The consumers' transitions: a get that pops the front, swaps in the
//! back's items or waits, a waiting get withdrawn, and what follows a take
//! under both locks (room handed to parked puts, joiners released). The
//! invariants are in `state.rs`.

use std::sync::MutexGuard;
use std::task::Waker;

use super::{Back, Front, Shared};
use crate::queue::errors::TryGetError;
use crate::queue::waiters::Wake;

impl<T> Shared<T> {
    /// Takes the oldest item. With `waiter` (a get's id slot and waker), an
    /// empty open queue registers it and answers `Empty`; an id it already
    /// has keeps its place in line.
    #[inline]
    pub(in crate::queue) fn take(
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
    pub(in crate::queue) fn cancel_get(&self, id: u64) -> Option<Waker> {
        let (front, mut back) = self.lock_both();
        if back.getters.remove(id) || (front.items.is_empty() && back.items.is_empty()) {
            return None;
        }
        back.getters.pop_front()
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
