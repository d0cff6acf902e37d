//! [`GroupHandle`]: every shard of a [`PollerGroup`](super::PollerGroup)
//! from any task or thread — write to and close any connection by its
//! [`GroupId`], and shut the whole group down.
//!
//! A write goes through the target shard's own [`PollerHandle`], whose
//! command queue belongs to that shard alone: shards never share a lock.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::acceptor::Inbox;
use super::GroupId;
use crate::{Error, PollerHandle, PollerTotals, Result};

/// What every handle of one group shares.
struct Shared {
    /// Each shard's poller handle, by shard index.
    pollers: Vec<PollerHandle>,
    /// Each shard's inbox, to wake it at shutdown.
    inboxes: Vec<Sender<Inbox>>,
    /// Set once, by `shutdown`; each shard loads it on every `next`. Not
    /// the token: `CancellationToken::is_cancelled` takes a mutex, which
    /// every shard would share.
    shutdown: AtomicBool,
    /// Cancelled with `shutdown`; only the accept task waits on it.
    stop_accepting: CancellationToken,
}

/// A handle to every shard of a [`PollerGroup`](crate::PollerGroup), for
/// any task or thread: [`write`](GroupHandle::write) to and
/// [`close`](GroupHandle::close) any connection of the group by its
/// [`GroupId`], and [`shutdown`](GroupHandle::shutdown) every shard at once.
///
/// Calls never wait: each queues a request on the target shard's
/// [`PollerHandle`], which its shard carries out on its next turn, with the
/// same guarantees (what one sender queued for a connection keeps its
/// order). Cheap to clone; `Send + Sync + 'static`.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Event, Framing, PollerGroup};
///
/// # #[tokio::main]
/// # async fn main() -> iochannels::Result<()> {
/// let group = PollerGroup::new(2, Framing::Lines);
/// let handle = group.handle();
/// let mut shards = group.into_shards();
/// let (channel, mut peer) = Channel::test();
/// let id = shards[1].poller_mut().register(channel.framed(Framing::Lines));
/// let to = shards[1].group_id(id);
/// // Anyone holding the handle reaches the connection on shard 1.
/// handle.write(to, "hello\n")?;
/// handle.close(to)?;
/// assert!(matches!(shards[1].next().await, Some(Event::Closed { error: None, .. })));
/// assert_eq!(peer.get(), "hello\n");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct GroupHandle {
    shared: Arc<Shared>,
}

impl GroupHandle {
    pub(super) fn new(pollers: Vec<PollerHandle>, inboxes: Vec<Sender<Inbox>>) -> GroupHandle {
        GroupHandle {
            shared: Arc::new(Shared {
                pollers,
                inboxes,
                shutdown: AtomicBool::new(false),
                stop_accepting: CancellationToken::new(),
            }),
        }
    }

    pub(super) fn inboxes(&self) -> &[Sender<Inbox>] {
        &self.shared.inboxes
    }

    pub(super) fn stop_accepting(&self) -> &CancellationToken {
        &self.shared.stop_accepting
    }

    /// How many shards the group has.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = iochannels::PollerGroup::new(3, iochannels::Framing::Lines);
    /// assert_eq!(group.handle().shards(), 3);
    /// ```
    pub fn shards(&self) -> usize {
        self.shared.pollers.len()
    }

    /// Shard `shard`'s own [`PollerHandle`]; `None` past the last shard.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = iochannels::PollerGroup::new(2, iochannels::Framing::Lines);
    /// let handle = group.handle();
    /// assert!(handle.poller(1).is_some());
    /// assert!(handle.poller(2).is_none());
    /// ```
    pub fn poller(&self, shard: usize) -> Option<&PollerHandle> {
        self.shared.pollers.get(shard)
    }

    /// Every shard's [`PollerHandle::totals`], summed: the group's counters
    /// as of each shard's last turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Event, Framing, PollerGroup};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = PollerGroup::new(2, Framing::Lines);
    /// let handle = group.handle();
    /// let mut peers = Vec::new();
    /// for mut shard in group.into_shards() {
    ///     let (channel, mut peer) = Channel::test();
    ///     shard.poller_mut().register(channel.framed(Framing::Lines));
    ///     peer.put("hello\n");
    ///     peers.push(peer);
    ///     // A shard publishes its totals as it turns.
    ///     assert!(matches!(shard.next().await, Some(Event::Data { .. })));
    /// }
    /// assert_eq!(handle.totals().registered, 2);
    /// # }
    /// ```
    pub fn totals(&self) -> PollerTotals {
        let mut sum = PollerTotals::default();
        for poller in &self.shared.pollers {
            sum += poller.totals();
        }
        sum
    }

    /// Queues `data` to be written to connection `to`, on its shard; as
    /// [`PollerHandle::write`].
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] if the connection is gone, its shard is gone
    ///   (dropped, panicked, shut down), or `to.shard` is not a shard of
    ///   this group.
    /// - [`Error::NotWritable`] if the channel has no write side.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn write(&self, to: GroupId, data: impl Into<Bytes>) -> Result<()> {
        self.poller(to.shard)
            .ok_or(Error::Closed)?
            .write(to.id, data)
    }

    /// Closes connection `to` gracefully once the writes queued before are
    /// sent; as [`PollerHandle::close`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the connection or its shard is gone, or
    /// `to.shard` is not a shard of this group.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn close(&self, to: GroupId) -> Result<()> {
        self.poller(to.shard).ok_or(Error::Closed)?.close(to.id)
    }

    /// Shuts every shard down: the group's servers stop accepting (their
    /// listeners are dropped), and each shard, on its next
    /// [`next`](crate::Shard::next), runs [`Poller::close_all`](crate::Poller::close_all)
    /// — every connection flushed and closed, each yielding its
    /// `Event::Closed` — and then ends (`next` gives `None`). Clients
    /// accepted but not yet announced by their shard are dropped unannounced.
    ///
    /// Returns at once; await the shards' tasks to know they are done.
    /// Calling it again does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, PollerGroup};
    ///
    /// # #[tokio::main]
    /// # async fn main() {
    /// let group = PollerGroup::new(2, Framing::Lines);
    /// let handle = group.handle();
    /// let mut shards = group.into_shards();
    /// let (channel, mut peer) = Channel::test();
    /// let id = shards[0].poller_mut().register(channel.framed(Framing::Lines));
    /// shards[0].poller_mut().write(id, "last words\n").expect("registered");
    /// let tasks: Vec<_> = shards
    ///     .into_iter()
    ///     .map(|mut shard| tokio::spawn(async move { while shard.next().await.is_some() {} }))
    ///     .collect();
    /// handle.shutdown();
    /// for task in tasks {
    ///     task.await.expect("shard task");
    /// }
    /// assert_eq!(peer.get(), "last words\n");
    /// assert!(handle.is_shutdown());
    /// # }
    /// ```
    pub fn shutdown(&self) {
        if self.shared.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.stop_accepting.cancel();
        for inbox in &self.shared.inboxes {
            // A full inbox already woke its shard, which sees the flag on
            // its next `next`; a closed one belongs to a shard gone.
            let _ = inbox.try_send(Inbox::Shutdown);
        }
    }

    /// Whether [`shutdown`](GroupHandle::shutdown) was called.
    ///
    /// # Examples
    ///
    /// See [`shutdown`](GroupHandle::shutdown).
    pub fn is_shutdown(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
    }
}

impl fmt::Debug for GroupHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle")
            .field("shards", &self.shards())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}
