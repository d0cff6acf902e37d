//! The ready queue: per-channel wakers that put their channel's key on a
//! shared list and wake the poller's task, so a wake-up costs O(1) and a
//! poll visits only the channels that were woken (pitfall 8), the way
//! `FuturesUnordered` works.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use futures::task::AtomicWaker;

/// Keys of servers carry this bit; channel keys don't.
pub(crate) const SERVER_KEY: u32 = 1 << 31;
/// Keys of datagram channels carry this bit.
pub(crate) const DATAGRAM_KEY: u32 = 1 << 30;

/// Keys woken since the poller last looked, and the poller task's waker.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    keys: Mutex<Vec<u32>>,
    task: AtomicWaker,
}

impl ReadyQueue {
    /// Registers the task to wake when a key is pushed.
    pub(crate) fn register(&self, waker: &Waker) {
        self.task.register(waker);
    }

    /// Moves every queued key into `into` (which the caller keeps empty and
    /// reuses, so this allocates nothing in the steady state).
    pub(crate) fn take(&self, into: &mut Vec<u32>) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *keys, into);
    }

    /// Wakes the poller's task without queueing a key (a handle's command).
    pub(crate) fn wake_task(&self) {
        self.task.wake();
    }

    fn push(&self, key: u32) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(key);
        self.task.wake();
    }
}

/// The waker of one channel or server.
///
/// `queued` is true from the wake that pushed the key until the poller
/// starts polling it: wakes in between push nothing more. The poller clears
/// it *before* polling, so a wake during or after the poll queues again.
#[derive(Debug)]
pub(crate) struct SlotWaker {
    queue: Arc<ReadyQueue>,
    key: u32,
    queued: AtomicBool,
}

impl SlotWaker {
    /// A waker for `key`, and the handle to clear its flag with.
    pub(crate) fn new(queue: &Arc<ReadyQueue>, key: u32) -> (Arc<SlotWaker>, Waker) {
        let slot = Arc::new(SlotWaker {
            queue: Arc::clone(queue),
            key,
            queued: AtomicBool::new(false),
        });
        let waker = Waker::from(Arc::clone(&slot));
        (slot, waker)
    }

    /// Called right before the poller polls this slot.
    pub(crate) fn clear(&self) {
        self.queued.store(false, Ordering::Release);
    }

    /// Queues the slot (at most once until it is next polled).
    pub(crate) fn notify(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.push(self.key);
        }
    }
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}
