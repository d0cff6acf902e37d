//! The errors of [`Queue`](super::Queue): [`Closed`] (a `put` into a closed
//! queue, with the item given back), [`TryPutError`], [`TryGetError`] and
//! [`QueueClosed`] (a `get` from a closed and drained queue).
//!
//! They follow async-channel's style: messages are lower-case without a full
//! stop, and `Debug` never requires `T: Debug` (the item shows as `..`), so
//! `Result<_, Closed<T>>` can be `unwrap`ped and `?`-ed for any `T`.

use std::error::Error;
use std::fmt;

/// A `put` into a closed queue; the item is given back.
///
/// Returned by [`Queue::put`](super::Queue::put) and, as the error of the
/// [`Queue::sink`](super::Queue::sink), when the queue is closed. The field is
/// public: `Closed(item)` destructures it.
///
/// # Examples
///
/// ```
/// use iochannels::{Closed, Queue};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue = Queue::bounded(1);
/// queue.close();
/// let Closed(item) = queue.put("lost?").await.unwrap_err();
/// assert_eq!(item, "lost?");
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closed<T>(pub T);

impl<T> Closed<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Closed;
    ///
    /// assert_eq!(Closed(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("putting into a closed queue")
    }
}

impl<T> Error for Closed<T> {}

/// Why [`Queue::try_put`](super::Queue::try_put) did not put; the item is given back.
///
/// `Full` means the put would have had to wait: the queue is at capacity, or
/// earlier `put`s are still waiting (a `try_put` never overtakes them).
///
/// # Examples
///
/// ```
/// use iochannels::{Queue, TryPutError};
///
/// let queue = Queue::bounded(1);
/// assert_eq!(queue.try_put(1), Ok(()));
/// let full = queue.try_put(2).unwrap_err();
/// assert!(full.is_full());
/// assert_eq!(full.into_inner(), 2);
/// queue.close();
/// assert_eq!(queue.try_put(3), Err(TryPutError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPutError<T> {
    /// The queue is full, or other `put`s are already waiting for room.
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::TryPutError;
    ///
    /// assert_eq!(TryPutError::Full('a').into_inner(), 'a');
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::Closed(item) => item,
        }
    }

    /// Whether the put failed because the queue was full (it may succeed later).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::TryPutError;
    ///
    /// assert!(TryPutError::Full(()).is_full());
    /// assert!(!TryPutError::Closed(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the put failed because the queue was closed (it never succeeds again).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::TryPutError;
    ///
    /// assert!(TryPutError::Closed(()).is_closed());
    /// assert!(!TryPutError::Full(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPutError::Closed(_))
    }
}

impl<T> From<Closed<T>> for TryPutError<T> {
    fn from(Closed(item): Closed<T>) -> Self {
        TryPutError::Closed(item)
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("putting into a full queue"),
            TryPutError::Closed(_) => f.write_str("putting into a closed queue"),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// Why [`Queue::try_get`](super::Queue::try_get) returned no item.
///
/// # Examples
///
/// ```
/// use iochannels::{Queue, TryGetError};
///
/// let queue = Queue::<u8>::unbounded();
/// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
/// queue.close();
/// assert_eq!(queue.try_get(), Err(TryGetError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryGetError {
    /// The queue is empty but still open: an item may come later.
    Empty,
    /// The queue is closed and empty: no item will ever come.
    Closed,
}

impl TryGetError {
    /// Whether the queue was empty but open.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::TryGetError;
    ///
    /// assert!(TryGetError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryGetError::Empty)
    }

    /// Whether the queue was closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::TryGetError;
    ///
    /// assert!(TryGetError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryGetError::Closed)
    }
}

impl From<QueueClosed> for TryGetError {
    fn from(_: QueueClosed) -> Self {
        TryGetError::Closed
    }
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("getting from an empty queue"),
            TryGetError::Closed => f.write_str("queue is closed and empty"),
        }
    }
}

impl Error for TryGetError {}

/// A `get` from a queue that is closed and empty: no item will ever come.
///
/// Returned by [`Queue::get`](super::Queue::get). Items put before the close
/// are still delivered; this error only comes once they are all taken.
///
/// # Examples
///
/// ```
/// use iochannels::{Queue, QueueClosed};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue = Queue::unbounded();
/// queue.put(1).await.unwrap();
/// queue.close();
/// assert_eq!(queue.get().await, Ok(1));
/// assert_eq!(queue.get().await, Err(QueueClosed));
/// assert_eq!(QueueClosed.to_string(), "queue is closed and empty");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueClosed;

impl fmt::Display for QueueClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is closed and empty")
    }
}

impl Error for QueueClosed {}
