//! [`PollerGroup`]: N pollers, one per task or thread, whose servers'
//! clients are spread over them — sharding by hand, done once.
//!
//! Files: `shard.rs` ([`Shard`]: one poller for its own task),
//! `handle.rs` ([`GroupHandle`]: any connection of the group from anywhere,
//! and shutdown), `acceptor.rs` (the accept loop handing clients
//! round-robin to the shards). This file: the group before it is split,
//! and [`GroupId`].
//!
//! # Why one acceptor, not a listener per shard
//!
//! A listener per shard (SO_REUSEPORT) would let each shard's poller
//! accept for itself, but it balances only on Linux (FreeBSD's does not),
//! only by a hash of the client's address (uneven for few clients, and
//! not testable as "every shard gets some"), does not apply to Unix
//! sockets, and needs the group to bind the sockets itself. One accept
//! task taking any [`Listener`] and handing clients round-robin spreads
//! them exactly evenly, everywhere, for every listener kind, at the cost of
//! one hop (a bounded channel) per accepted client — a bottleneck only for
//! very high connection turnover. A shard that is gone or whose inbox is
//! full is skipped.

mod acceptor;
mod handle;
mod shard;

use std::fmt;
use std::future::Future;

use tokio::sync::mpsc;

use self::acceptor::INBOX_CAPACITY;
use crate::{ChannelId, Framing, Listener, Poller, ServerId};

pub use self::handle::GroupHandle;
pub use self::shard::Shard;

/// A connection of a [`PollerGroup`]: its shard and its id in that shard's
/// poller. Any shard, or anyone with the [`GroupHandle`], writes to it by
/// this address.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing, GroupId, PollerGroup};
///
/// # #[tokio::main]
/// # async fn main() {
/// let mut shards = PollerGroup::new(2, Framing::Lines).into_shards();
/// let (channel, _peer) = Channel::test();
/// let id = shards[1].poller_mut().register(channel.framed(Framing::Lines));
/// let to: GroupId = shards[1].group_id(id);
/// assert_eq!((to.shard, to.id), (1, id));
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId {
    /// The shard's index, `0..shards`.
    pub shard: usize,
    /// The channel's id in that shard's poller.
    pub id: ChannelId,
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({}, {:?})", self.shard, self.id)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} {}", self.shard, self.id)
    }
}

/// N [`Poller`]s meant to run on N tasks or threads, and servers whose
/// clients are spread over them: what sharding a server over cores needs,
/// without writing the accept loop.
///
/// 1. [`new`](PollerGroup::new) makes the pollers;
///    [`add_server`](PollerGroup::add_server) adds listeners.
/// 2. [`into_shards`](PollerGroup::into_shards) gives one [`Shard`] per
///    poller, to move into its own task (or thread with its own runtime),
///    and starts the accept task.
/// 3. Each shard runs `while let Some(event) = shard.next().await`: its
///    clients come as [`Event::Accepted`](crate::Event::Accepted), then
///    their `Data` and `Closed`, all on that shard.
/// 4. Any connection is reached from any shard by its [`GroupId`]
///    ([`Shard::write`], [`GroupHandle::write`]);
///    [`GroupHandle::shutdown`] closes every shard at once.
///
/// # Implementation
///
/// One accept task takes clients from every server of the group and hands
/// them round-robin to the shards (see the module docs for why not a
/// listener per shard). A shard's events, reads and writes stay on its
/// task; cross-shard writes go through the target shard's own
/// [`PollerHandle`](crate::PollerHandle) queue, so no lock is shared by
/// all shards.
///
/// # Examples
///
/// ```
/// use iochannels::{Event, Framing, PollerGroup};
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
///
/// # #[tokio::main]
/// # async fn main() -> iochannels::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let mut group = PollerGroup::new(2, Framing::Lines);
/// group.add_server(listener);
/// let handle = group.handle();
/// for mut shard in group.into_shards() {
///     tokio::spawn(async move {
///         while let Some(event) = shard.next().await {
///             if let Event::Data { id, data } = event {
///                 let reply = format!("shard {} got {}", shard.index(), String::from_utf8_lossy(&data));
///                 let _ = shard.poller_mut().write(id, reply);
///             }
///         }
///     });
/// }
/// let mut client = tokio::net::TcpStream::connect(addr).await?;
/// client.write_all(b"hi\n").await?;
/// let mut reply = String::new();
/// BufReader::new(&mut client).read_line(&mut reply).await?;
/// assert!(reply.starts_with("shard ") && reply.ends_with(" got hi\n"));
/// handle.shutdown();
/// # Ok(())
/// # }
/// ```
pub struct PollerGroup {
    pollers: Vec<Poller>,
    inboxes: Vec<mpsc::Receiver<acceptor::Inbox>>,
    /// Accepts for every server of the group; its task starts in `into_shards`.
    acceptor: Poller,
    servers: usize,
    handle: GroupHandle,
}

impl PollerGroup {
    /// `shards` empty pollers; clients of the group's servers get `framing`.
    ///
    /// # Panics
    ///
    /// If `shards` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = iochannels::PollerGroup::new(4, iochannels::Framing::Lines);
    /// assert_eq!(group.shards(), 4);
    /// ```
    pub fn new(shards: usize, framing: Framing) -> PollerGroup {
        assert!(shards > 0, "a poller group needs at least one shard");
        let pollers: Vec<Poller> = (0..shards).map(|_| Poller::new(framing.clone())).collect();
        let (senders, inboxes) = (0..shards).map(|_| mpsc::channel(INBOX_CAPACITY)).unzip();
        let handle = GroupHandle::new(pollers.iter().map(Poller::handle).collect(), senders);
        PollerGroup {
            pollers,
            inboxes,
            acceptor: Poller::new(framing),
            servers: 0,
            handle,
        }
    }

    /// How many shards the group has.
    ///
    /// # Examples
    ///
    /// See [`new`](PollerGroup::new).
    pub fn shards(&self) -> usize {
        self.pollers.len()
    }

    /// Adds a listening server: its clients are accepted by the group's
    /// accept task and handed round-robin to the shards, each announced by
    /// its shard with [`Event::Accepted`](crate::Event::Accepted) carrying
    /// the id returned here. Accept errors are as for
    /// [`Poller::add_server`] (back-off, never the end of the server) and
    /// each is reported by one shard, in turn.
    ///
    /// Any [`Listener`] works, Unix sockets included.
    ///
    /// # Examples
    ///
    /// See [`PollerGroup`].
    pub fn add_server(&mut self, listener: impl Into<Listener>) -> ServerId {
        self.servers += 1;
        self.acceptor.add_server(listener)
    }

    /// Sets the frame limit for the clients the group's servers accept
    /// (default 8 MiB), and for those of servers added to a shard's poller.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut group = iochannels::PollerGroup::new(2, iochannels::Framing::Lines);
    /// group.set_max_frame_len(4096);
    /// ```
    pub fn set_max_frame_len(&mut self, n: usize) {
        self.acceptor.set_max_frame_len(n);
        for poller in &mut self.pollers {
            poller.set_max_frame_len(n);
        }
    }

    /// A handle to every shard: writes by [`GroupId`] and shutdown.
    ///
    /// # Examples
    ///
    /// See [`GroupHandle`].
    pub fn handle(&self) -> GroupHandle {
        self.handle.clone()
    }

    /// Splits the group into its shards, in index order, each to be driven
    /// by its own task or thread; starts the accept task if a server was
    /// added (it ends at [`shutdown`](GroupHandle::shutdown), or once every
    /// shard is dropped).
    ///
    /// # Panics
    ///
    /// If a server was added and this is not called from within a tokio
    /// runtime (as `tokio::spawn`).
    ///
    /// # Examples
    ///
    /// See [`PollerGroup`].
    pub fn into_shards(self) -> Vec<Shard> {
        let (shards, accepting) = self.split();
        if let Some(accepting) = accepting {
            tokio::spawn(accepting);
        }
        shards
    }

    /// The shards, and the accept loop (if a server was added) for the
    /// caller to spawn where it can await it: the callback server's `run`
    /// returns only once its listeners are closed.
    pub(crate) fn split(
        self,
    ) -> (
        Vec<Shard>,
        Option<impl Future<Output = ()> + Send + 'static>,
    ) {
        let accepting = if self.servers > 0 {
            Some(acceptor::accept_loop(
                self.acceptor,
                self.handle.inboxes().to_vec(),
                self.handle.stop_accepting().clone(),
            ))
        } else {
            None
        };
        let handle = self.handle;
        let shards = self
            .pollers
            .into_iter()
            .zip(self.inboxes)
            .enumerate()
            .map(|(index, (poller, inbox))| Shard::new(index, poller, inbox, handle.clone()))
            .collect();
        (shards, accepting)
    }
}

impl fmt::Debug for PollerGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerGroup")
            .field("shards", &self.pollers.len())
            .field("servers", &self.servers)
            .finish()
    }
}
