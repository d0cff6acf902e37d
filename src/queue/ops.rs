//! The moving parts of [`Queue`]'s public face: `put`/`try_put`,
//! `get`/`try_get`, `join`, and the `stream` and `sink` adapters.

use std::fmt::Debug;
use std::future::Future;

use futures::sink::Sink;
use futures::stream::FusedStream;

use super::errors::{Closed, QueueClosed, TryGetError, TryPutError};
use super::futures::{Get, Join, Put as PutFuture};
use super::sink::QueueSink;
use super::state::{IfFull, Put};
use super::stream::QueueStream;
use super::Queue;

impl<T> Queue<T> {
    /// Puts `item` at the back of the queue, waiting while it is full.
    ///
    /// Waiting puts are served first come, first served: each enters the
    /// queue as soon as room frees up and every put that started waiting
    /// before it has entered, and a new put (or [`try_put`](Queue::try_put))
    /// never overtakes one that waits.
    ///
    /// # Errors
    ///
    /// [`Closed`] with the item given back if the queue is closed before the
    /// item could enter, including while this put waited.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future never loses track of the item: either the put
    /// already happened (the item is in the queue and will be delivered), or
    /// the item is dropped with the future. It is never both queued and
    /// dropped, nor queued twice, and the dropped put gives up its place in
    /// line to the next waiting put. In `select!`, the item of a losing
    /// branch may thus be gone; to keep it, use [`try_put`](Queue::try_put),
    /// which gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Closed, Queue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = Queue::bounded(1);
    /// queue.put(1).await.unwrap();
    /// let consumer = tokio::spawn({
    ///     let queue = queue.clone();
    ///     async move { queue.get().await }
    /// });
    /// queue.put(2).await.unwrap(); // waits until the consumer took 1
    /// assert_eq!(consumer.await.unwrap(), Ok(1));
    /// queue.close();
    /// assert_eq!(queue.put(3).await, Err(Closed(3)));
    /// # }
    /// ```
    pub fn put(&self, item: T) -> impl Future<Output = Result<(), Closed<T>>> + Debug + '_ {
        PutFuture::new(&self.shared, item)
    }

    /// Puts `item` if that needs no waiting.
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] if the queue is full or other puts are waiting
    /// for room (they go first), [`TryPutError::Closed`] if it is closed;
    /// either gives the item back.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Queue, TryPutError};
    ///
    /// let queue = Queue::bounded(1);
    /// assert_eq!(queue.try_put(1), Ok(()));
    /// assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
    /// queue.close();
    /// assert_eq!(queue.try_put(3), Err(TryPutError::Closed(3)));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        match self.shared.put(item, IfFull::Refuse) {
            Put::Done => Ok(()),
            Put::Refused(refused) => Err(refused),
            Put::Parked(_) => unreachable!("a put told to refuse never parks"),
        }
    }

    /// Takes the item at the front of the queue, waiting while it is empty.
    ///
    /// After [`close`](Queue::close) the items left are still delivered, in
    /// order; only then does `get` fail.
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future never loses an item. Items are never
    /// handed to a waiting get, only announced to it; a get dropped after it
    /// was woken passes the wake-up on to the next waiting get, so no item
    /// is left unannounced while gets wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Queue, QueueClosed};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = Queue::unbounded();
    /// let producer = tokio::spawn({
    ///     let queue = queue.clone();
    ///     async move {
    ///         queue.put("hello").await.unwrap();
    ///         queue.close();
    ///     }
    /// });
    /// assert_eq!(queue.get().await, Ok("hello")); // waits for the producer
    /// assert_eq!(queue.get().await, Err(QueueClosed));
    /// producer.await.unwrap();
    /// # }
    /// ```
    pub fn get(&self) -> impl Future<Output = Result<T, QueueClosed>> + Debug + '_ {
        Get::new(&self.shared)
    }

    /// Takes the item at the front of the queue if there is one.
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`] if the queue is empty but open,
    /// [`TryGetError::Closed`] if it is closed and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Queue, TryGetError};
    ///
    /// let queue = Queue::bounded(8);
    /// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
    /// queue.try_put(5).unwrap();
    /// assert_eq!(queue.try_get(), Ok(5));
    /// queue.close();
    /// assert_eq!(queue.try_get(), Err(TryGetError::Closed));
    /// ```
    pub fn try_get(&self) -> Result<T, TryGetError> {
        self.shared.take(None)
    }

    /// Waits until the queue is closed and every item in it was taken.
    ///
    /// Returns at once if that is already so; puts that were still waiting
    /// at the close do not count (they fail).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches, and a dropped `join` takes nothing with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::Queue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = Queue::unbounded();
    /// queue.put(1).await.unwrap();
    /// queue.close();
    /// let consumer = tokio::spawn({
    ///     let queue = queue.clone();
    ///     async move { while queue.get().await.is_ok() {} }
    /// });
    /// queue.join().await; // returns once the consumer took the 1
    /// assert!(queue.is_empty());
    /// consumer.await.unwrap();
    /// # }
    /// ```
    pub fn join(&self) -> impl Future<Output = ()> + Debug + '_ {
        Join::new(&self.shared)
    }

    /// The items of the queue as a `Stream`, ending once it is closed and drained.
    ///
    /// The stream owns a handle to the queue (it can move into another task)
    /// and is fused: after it ended it keeps returning `None`. Several
    /// streams, and gets, share the items: each item goes to one of them.
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](Queue::get): dropping the stream, or a `next()` future,
    /// while it waits never loses an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::Queue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = Queue::unbounded();
    /// for n in 1..=3 {
    ///     queue.put(n).await.unwrap();
    /// }
    /// queue.close();
    /// let all: Vec<i32> = queue.stream().collect().await;
    /// assert_eq!(all, [1, 2, 3]);
    /// # }
    /// ```
    pub fn stream(&self) -> impl FusedStream<Item = T> + Unpin + Debug {
        QueueStream::new(self.clone())
    }

    /// The queue as a `Sink`: every item sent is [`put`](Queue::put), in order.
    ///
    /// The sink owns a handle to the queue. An item sent while the queue is
    /// full waits, in line with other waiting puts, until `poll_ready` or
    /// `poll_flush` sees it enter; so `send` and `feed` + `flush` wait for
    /// room as `put` does. Closing the sink only flushes it: the queue stays
    /// open for its other handles; call [`close`](Queue::close) to close it.
    ///
    /// # Errors
    ///
    /// [`Closed`] with the item given back if the queue is closed before it
    /// entered (from `start_send`, or from the next `poll_ready`/`poll_flush`
    /// for an item that had to wait).
    ///
    /// # Cancel safety
    ///
    /// An item accepted by `start_send` but still waiting for room when the
    /// sink is dropped is dropped with it, never put; flush first to be sure
    /// every item went in.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{SinkExt, StreamExt};
    /// use iochannels::Queue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = Queue::bounded(16);
    /// let mut sink = queue.sink();
    /// sink.send(1).await.unwrap();
    /// let mut more = futures::stream::iter([2, 3]).map(Ok);
    /// sink.send_all(&mut more).await.unwrap();
    /// queue.close();
    /// assert_eq!(queue.stream().collect::<Vec<_>>().await, [1, 2, 3]);
    /// # }
    /// ```
    pub fn sink(&self) -> impl Sink<T, Error = Closed<T>> + Unpin + Debug {
        QueueSink::new(self.clone())
    }
}
