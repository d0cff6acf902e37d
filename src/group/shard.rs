//! [`Shard`]: one poller of a [`PollerGroup`](super::PollerGroup), for its
//! own task — its events, the clients the group hands it, and the group's
//! shutdown.
//!
//! `next` checks the group's shutdown, then polls the poller, and the
//! shard's inbox whenever the poller has nothing or every
//! [`INBOX_EVERY`] events: often enough that a busy shard takes its new
//! clients in promptly, rarely enough to cost nothing per event. The inbox
//! is always polled before `next` waits, so a client sent meanwhile wakes
//! the task. A client handed over is registered and announced in the same
//! poll, so its `Accepted` comes before any of its `Data`.
//!
//! States: `Open` (serving) → `Closing` (shutdown seen: `close_all`
//! running, again on the next call if cancelled) → `Ended` (only the
//! poller's last `Closed` events, then `None`).

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc::Receiver;

use super::acceptor::Inbox;
use super::{GroupHandle, GroupId};
use crate::{ChannelId, Event, Poller, Result};

/// Events yielded from the poller before the inbox is looked at again.
const INBOX_EVERY: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closing,
    Ended,
}

/// What one poll of an open shard found.
enum Step {
    Event(Event),
    Shutdown,
    /// The poller's stream ended (its `close_all` was called directly).
    Ended,
}

/// One shard of a [`PollerGroup`](crate::PollerGroup): a [`Poller`] for one
/// task, which also takes in the clients the group's servers hand it, and
/// ends when the group shuts down.
///
/// Drive it with `while let Some(event) = shard.next().await`, as a
/// `Poller`. Its channels are reached through [`poller_mut`](Shard::poller_mut)
/// (its own, without locks) and every connection of the group through
/// [`write`](Shard::write) or the [`GroupHandle`] ([`handle`](Shard::handle)),
/// by [`GroupId`].
///
/// A shard is not a `Stream`: shutting down runs the poller's async
/// `close_all`, which borrows the poller; an `async fn next` awaits it
/// where a `poll_next` could not.
///
/// If a shard's task panics or drops it, the shard's connections are
/// dropped with it (closed at once); the other shards go on, the group's
/// servers hand their clients to the shards left, and writes to the gone
/// shard's connections give [`Error::Closed`](crate::Error::Closed).
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Event, Framing, PollerGroup};
///
/// # #[tokio::main]
/// # async fn main() -> iochannels::Result<()> {
/// let mut shards = PollerGroup::new(2, Framing::Lines).into_shards();
/// let (channel, mut peer) = Channel::test();
/// let id = shards[0].poller_mut().register(channel.framed(Framing::Lines));
/// peer.put("ping\n");
/// match shards[0].next().await {
///     Some(Event::Data { id: from, data }) => {
///         assert_eq!(from, id);
///         assert_eq!(&data[..], b"ping\n");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
pub struct Shard {
    index: usize,
    /// Dropped before the poller (fields drop in order): once a dropped
    /// shard's clients see their connections end, the accept task already
    /// finds this inbox closed and hands new clients to the other shards.
    inbox: Receiver<Inbox>,
    poller: Poller,
    handle: GroupHandle,
    state: State,
    /// Events yielded since the inbox was last polled.
    since_inbox: u32,
}

impl Shard {
    pub(super) fn new(
        index: usize,
        poller: Poller,
        inbox: Receiver<Inbox>,
        handle: GroupHandle,
    ) -> Shard {
        Shard {
            index,
            poller,
            inbox,
            handle,
            state: State::Open,
            since_inbox: 0,
        }
    }

    /// This shard's index in its group, `0..shards`.
    ///
    /// # Examples
    ///
    /// ```
    /// let shards = iochannels::PollerGroup::new(2, iochannels::Framing::Lines).into_shards();
    /// assert_eq!(shards[1].index(), 1);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The group-wide address of this shard's channel `id`.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn group_id(&self, id: ChannelId) -> GroupId {
        GroupId {
            shard: self.index,
            id,
        }
    }

    /// The shard's poller: register, write, close, settings — everything a
    /// [`Poller`] does, without locks. Take its events through
    /// [`next`](Shard::next), not from the poller itself, or clients handed
    /// to this shard are not taken in.
    ///
    /// A server added here directly is this shard's alone; its
    /// [`ServerId`](crate::ServerId)s may equal those of the group's servers.
    ///
    /// # Examples
    ///
    /// See [`Shard`].
    pub fn poller_mut(&mut self) -> &mut Poller {
        &mut self.poller
    }

    /// The shard's poller, to read its state ([`len`](Poller::len),
    /// [`stats`](Poller::stats)).
    ///
    /// # Examples
    ///
    /// ```
    /// let shards = iochannels::PollerGroup::new(1, iochannels::Framing::Lines).into_shards();
    /// assert!(shards[0].poller().is_empty());
    /// ```
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The group's handle: every shard's connections, and shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// let shards = iochannels::PollerGroup::new(2, iochannels::Framing::Lines).into_shards();
    /// assert_eq!(shards[0].handle().shards(), 2);
    /// ```
    pub fn handle(&self) -> &GroupHandle {
        &self.handle
    }

    /// Queues `data` for connection `to`, on whichever shard it lives: this
    /// shard's own are written directly (as [`Poller::write`], no queue in
    /// between), the others through their shard's handle (as
    /// [`GroupHandle::write`]). So a broadcast is a loop over `GroupId`s.
    ///
    /// # Errors
    ///
    /// As [`Poller::write`] for this shard's connections (a full queue is
    /// refused at once), as [`GroupHandle::write`] for the others (a full
    /// queue closes the connection later).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, PollerGroup};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut shards = PollerGroup::new(2, Framing::Lines).into_shards();
    /// let (channel, mut peer) = Channel::test();
    /// let id = shards[1].poller_mut().register(channel.framed(Framing::Lines));
    /// let to = shards[1].group_id(id);
    /// shards[0].write(to, "from shard 0\n")?;
    /// let _ = shards[1].poller_mut().poll(Some(std::time::Duration::from_millis(10))).await;
    /// assert_eq!(peer.get(), "from shard 0\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn write(&mut self, to: GroupId, data: impl Into<Bytes>) -> Result<()> {
        if to.shard == self.index {
            self.poller.write(to.id, data)
        } else {
            self.handle.write(to, data)
        }
    }

    /// Closes connection `to` gracefully, on whichever shard it lives; as
    /// [`Poller::close`] or [`GroupHandle::close`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the connection or its
    /// shard is gone.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn close(&mut self, to: GroupId) -> Result<()> {
        if to.shard == self.index {
            self.poller.close(to.id)
        } else {
            self.handle.close(to)
        }
    }

    /// The shard's next event: its poller's events, with
    /// [`Event::Accepted`] for each client a server of the group hands it
    /// (`server` is the id [`PollerGroup::add_server`](crate::PollerGroup::add_server)
    /// gave) and, in turn with the other shards, that server's
    /// [`Event::AcceptError`]s. Once the group shuts down, the shard closes
    /// every channel as [`Poller::close_all`] does, yields their
    /// [`Event::Closed`] and then `None`; so it does if its poller's
    /// `close_all` is called directly.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no event is lost (a client handed over is registered
    /// and announced in the same poll). If cancelled while shutting down,
    /// the channels go on closing and the next call finishes.
    ///
    /// # Examples
    ///
    /// See [`Shard`].
    pub async fn next(&mut self) -> Option<Event> {
        if self.state == State::Open {
            match poll_fn(|cx| self.poll_open(cx)).await {
                Step::Event(event) => return Some(event),
                Step::Shutdown => self.state = State::Closing,
                Step::Ended => {
                    self.close_inbox();
                    self.state = State::Ended;
                }
            }
        }
        if self.state == State::Closing {
            self.close_inbox();
            self.poller.close_all().await;
            self.state = State::Ended;
        }
        self.poller.next().await
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        if self.handle.is_shutdown() {
            return Poll::Ready(Step::Shutdown);
        }
        if self.since_inbox >= INBOX_EVERY {
            if let Poll::Ready(step) = self.poll_inbox(cx) {
                return Poll::Ready(step);
            }
        }
        match self.poller.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) => {
                self.since_inbox += 1;
                Poll::Ready(Step::Event(event))
            }
            Poll::Ready(None) => Poll::Ready(Step::Ended),
            Poll::Pending => self.poll_inbox(cx),
        }
    }

    /// The next message of the inbox, as a step; `Pending` registers the
    /// task for the next one.
    fn poll_inbox(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        self.since_inbox = 0;
        // `Ready(None)` cannot come while this shard's handle holds a sender.
        let Poll::Ready(Some(message)) = self.inbox.poll_recv(cx) else {
            return Poll::Pending;
        };
        Poll::Ready(match message {
            Inbox::Client {
                server,
                framed,
                peer,
            } => {
                let id = self.poller.register_accepted(*framed);
                Step::Event(Event::Accepted { server, id, peer })
            }
            Inbox::AcceptError(event) => {
                self.poller.count_accept_error();
                Step::Event(event)
            }
            Inbox::Shutdown => Step::Shutdown,
        })
    }

    /// No more clients: the accept loop skips this shard; those already
    /// handed over and not announced are dropped, which closes them.
    fn close_inbox(&mut self) {
        self.inbox.close();
        while self.inbox.try_recv().is_ok() {}
    }
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard")
            .field("index", &self.index)
            .field("poller", &self.poller)
            .field("state", &self.state)
            .finish()
    }
}
