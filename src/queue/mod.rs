//! [`Queue`]: a closable async multi-producer multi-consumer queue, a port of
//! Python's aiochannel. This file holds the public face: the type, its
//! construction, inspection and `close`; `ops.rs` holds put/get/join and the
//! stream and sink; `state.rs` the locked state machine and its invariants (its put
//! and get transitions in `state/put.rs` and `state/get.rs`);
//! `waiters.rs` the waiting lists; `futures.rs`, `stream.rs`, `sink.rs` the
//! poll-level types; `errors.rs` the errors.

mod errors;
mod futures;
mod ops;
mod sink;
mod state;
mod stream;
mod waiters;

use std::fmt;
use std::sync::Arc;

pub use self::errors::{Closed, QueueClosed, TryGetError, TryPutError};
use self::state::Shared;

/// A closable async queue: many producers, many consumers, bounded or not.
///
/// Every clone is a handle to the same queue. [`put`](Queue::put) waits for
/// room (waiting puts enter strictly in the order they started waiting),
/// [`get`](Queue::get) waits for an item, and [`close`](Queue::close) ends the
/// queue for good: waiting and later puts fail and give their item back,
/// items already queued are still delivered, and once they are all taken
/// `get` fails and [`join`](Queue::join) returns. [`stream`](Queue::stream)
/// and [`sink`](Queue::sink) adapt it to `futures`' `Stream` and `Sink`.
///
/// `Queue<T>` is `Send + Sync` when `T: Send`, works from any task of any
/// runtime, and implements `Debug` whatever `T` is. Every operation is a
/// short critical section under a `std::sync::Mutex`, one for the putting end
/// and one for the getting end (items cross between them in whole batches),
/// a task is woken only when someone is waiting, and no item is allocated
/// for on its own.
///
/// # Examples
///
/// ```
/// use iochannels::Queue;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue = Queue::bounded(2);
///
/// let producer = tokio::spawn({
///     let queue = queue.clone();
///     async move {
///         for n in 0..5 {
///             queue.put(n).await.expect("the queue is open until every item is in");
///         }
///         queue.close();
///     }
/// });
///
/// let mut got = Vec::new();
/// while let Ok(n) = queue.get().await {
///     got.push(n);
/// }
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// queue.join().await;
/// producer.await.unwrap();
/// # }
/// ```
pub struct Queue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Queue<T> {
    /// A queue that holds at most `capacity` items; `put` waits while it is full.
    ///
    /// The item buffers are reserved at once (for up to 1024 items each), so
    /// those of a queue of that size or smaller never grow.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (a queue that can hold nothing could never pass an item).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::bounded(1);
    /// queue.try_put('a').unwrap();
    /// assert!(queue.is_full());
    /// assert!(queue.try_put('b').unwrap_err().is_full());
    /// ```
    pub fn bounded(capacity: usize) -> Queue<T> {
        assert!(
            capacity >= 1,
            "a bounded Queue needs a capacity of at least 1"
        );
        Queue {
            shared: Arc::new(Shared::new(Some(capacity))),
        }
    }

    /// A queue without a limit; `put` never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::unbounded();
    /// for n in 0..10_000 {
    ///     queue.try_put(n).unwrap();
    /// }
    /// assert_eq!(queue.len(), 10_000);
    /// assert_eq!(queue.capacity(), None);
    /// ```
    pub fn unbounded() -> Queue<T> {
        Queue {
            shared: Arc::new(Shared::new(None)),
        }
    }

    /// Closes the queue; true if this call closed it, false if it already was.
    ///
    /// Closing is permanent. Every waiting [`put`](Queue::put) fails with its
    /// item given back, and so does every later put. Items already in the
    /// queue stay there for [`get`](Queue::get); once they are taken (at once
    /// if there are none) waiting and later gets fail with [`QueueClosed`] and
    /// [`join`](Queue::join) returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Queue, TryGetError};
    ///
    /// let queue = Queue::unbounded();
    /// queue.try_put(1).unwrap();
    /// assert!(queue.close());
    /// assert!(!queue.close());
    /// assert!(queue.try_put(2).unwrap_err().is_closed());
    /// assert_eq!(queue.try_get(), Ok(1));
    /// assert_eq!(queue.try_get(), Err(TryGetError::Closed));
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Whether the queue was closed (it may still hold items to get).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::<()>::unbounded();
    /// assert!(!queue.is_closed());
    /// queue.close();
    /// assert!(queue.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// How many items are in the queue now.
    ///
    /// Puts still waiting for room are not counted: their items are not in
    /// the queue yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::bounded(4);
    /// queue.try_put("a").unwrap();
    /// queue.try_put("b").unwrap();
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether the queue holds no item now.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::bounded(4);
    /// assert!(queue.is_empty());
    /// queue.try_put(1).unwrap();
    /// assert!(!queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds as many items as its capacity (never, if unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// let queue = Queue::bounded(1);
    /// assert!(!queue.is_full());
    /// queue.try_put(1).unwrap();
    /// assert!(queue.is_full());
    /// assert!(!Queue::<u8>::unbounded().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.capacity().is_some_and(|cap| self.len() >= cap)
    }

    /// The most items the queue holds: `Some(capacity)` if bounded, `None` if not.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// assert_eq!(Queue::<u8>::bounded(64).capacity(), Some(64));
    /// assert_eq!(Queue::<u8>::unbounded().capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity()
    }
}

/// Another handle to the same queue (a reference count, no copy of the items).
impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Shows the length, capacity, whether it is closed and how many puts and
/// gets wait; never the items, so `T` need not be `Debug`.
impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shared, f)
    }
}
