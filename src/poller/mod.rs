//! [`Poller`]: one `Stream` of [`Event`]s over many channels and listening
//! servers — the seed's `Poller` made a `futures::Stream`.
//!
//! Files: `event.rs` (what it yields), `ready.rs` (per-channel wakers and the
//! ready queue), `slab.rs` (generational storage behind every id),
//! `channels.rs` (stream channels: their life and registry),
//! `channel_turn.rs` (what one turn of one channel does), `channel_close.rs`
//! (how one leaves), `datagrams.rs`
//! (datagram channels), `server.rs` and `unix_listener.rs` (listeners,
//! accepting with back-off), `write_queue.rs` (queued output and
//! [`Poller::write`]),
//! `closing.rs` (close, abort, close_all), `settings.rs` (limits and
//! per-channel settings), `handle.rs` and `ids.rs` ([`PollerHandle`] and the
//! ids it shares), `idle.rs` (idle timeouts), `stats.rs` (counters). This file
//! is the public face: the type, registering and unregistering; the batch
//! `poll` and the turn loop behind the `Stream` are in `stream.rs`.

mod channel_close;
mod channel_map;
mod channel_turn;
mod channels;
mod closing;
mod datagrams;
mod event;
mod handle;
mod idle;
mod ids;
mod ready;
mod server;
mod settings;
mod slab;
mod stats;
mod stream;
mod unix_listener;
mod write_queue;

use std::collections::{HashMap, VecDeque};
use std::fmt;

use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use self::channels::{Channels, Limits};
use self::datagrams::{is_datagram, Datagrams};
use self::handle::{Command, Shared};
use self::idle::Idle;
use self::ids::Ids;
use self::ready::{ReadyQueue, SlotWaker, SERVER_KEY};
use self::server::Server;
use self::slab::Slab;
use crate::{FramedChannel, Framing};

pub use self::channel_map::ChannelMap;
pub use self::event::{ChannelId, Event, PeerAddr, ServerId};
pub use self::handle::PollerHandle;
pub use self::server::Listener;
pub use self::stats::{ClosedCounts, PollerTotals};
pub use self::unix_listener::UnixSocketListener;

/// Most events gathered in one turn before they are handed out.
const MAX_EVENTS_PER_TURN: usize = 1024;
/// Most clients one server accepts in one turn.
const ACCEPTS_PER_TURN: usize = 32;
/// Steps (turns, or channels with no frame to cut) one `poll_next` may take
/// finding nothing to yield before it gives the thread back.
const EMPTY_STEPS: usize = 64;

/// One task, many channels and listeners: every registered channel's frames
/// and every server's new clients, as one [`Stream`](futures::Stream) of [`Event`]s.
///
/// - [`register`](Poller::register) a [`FramedChannel`]; [`add_server`](Poller::add_server)
///   a listener, whose clients are registered with the poller's framing and
///   announced by [`Event::Accepted`] before any of their data.
/// - [`write`](Poller::write) queues bytes and never waits: they go out as
///   the poller is polled, so `while let Some(ev) = poller.next().await` is
///   the whole loop.
/// - A channel that ends yields [`Event::Closed`] (with the error, if it was
///   not a clean end) after all its frames, and is gone.
///
/// # Implementation
///
/// Each channel has its own waker; a wake-up puts that channel on a ready
/// list and a turn polls only the channels on it, so the cost of an event
/// does not grow with the number of idle channels (unlike
/// `tokio_stream::StreamMap`, which polls all of them). Ids index a slab:
/// `register`, `unregister`, `write` and `close` are O(1). Frames are cut
/// one at a time as they are yielded (so [`set_framing`](Poller::set_framing)
/// is exact), ready channels taking turns in runs of up to 64 frames; every turn
/// (and every read) spends one unit of tokio's cooperative budget, so neither
/// a busy channel nor the poller as a whole can starve the rest, while the
/// frames of a read are handed out without a trip through the scheduler
/// every 128 events. An idle channel holds no read buffer.
///
/// Other tasks and threads reach the channels through a [`PollerHandle`]
/// ([`handle`](Poller::handle)); a channel silent for the idle timeout is
/// closed ([`set_idle_timeout`](Poller::set_idle_timeout)); what the poller
/// does on its own shows in [`Event::AcceptError`] and [`stats`](Poller::stats).
///
/// Flow control: once a channel's queued output passes the high-water mark
/// (256 KiB) the poller stops reading from it until the queue drains under
/// the low-water mark (64 KiB); a write that would queue more than 8 MiB is
/// refused with [`Error::QueueFull`](crate::Error::QueueFull). See
/// [`set_write_limits`](Poller::set_write_limits).
///
/// A peer's EOF ends its channel: its last frames, then [`Event::Closed`].
/// Replies written while handling those frames still go out (after the
/// `Closed`, within the close timeout), but once `Closed` is yielded the id
/// is gone and `write` fails: a half-closed peer is not written to after.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{Channel, Event, Framing, Poller};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, mut peer) = Channel::test();
/// let id = poller.register(channel.framed(Framing::Lines));
/// peer.put("ping\n");
/// while let Some(event) = poller.next().await {
///     match event {
///         Event::Data { id, data } => {
///             assert_eq!(&data[..], b"ping\n");
///             poller.write(id, &b"pong\n"[..])?;
///             poller.close(id)?;
///         }
///         Event::Closed { error, .. } => {
///             assert!(error.is_none());
///             break;
///         }
///         _ => {}
///     }
/// }
/// assert_eq!(peer.get(), "pong\n");
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
pub struct Poller {
    framing: Framing,
    max_frame_len: usize,
    channels: Channels,
    datagrams: Datagrams,
    servers: Slab<ServerEntry>,
    queue: Arc<ReadyQueue>,
    /// Keys taken from the ready queue, polled in order from `next_key`;
    /// what a turn could not poll waits here for the next (kept, not
    /// copied back: with thousands woken at once, copying the rest back
    /// after every turn cost O(woken) per turn). Reused, not reallocated.
    keys: Vec<u32>,
    next_key: usize,
    /// Events gathered and not yet yielded.
    events: VecDeque<Event>,
    /// Channels to cut a frame from, in turn (after `events`).
    frames: VecDeque<ChannelId>,
    /// Frames cut in a row from the channel at the front of `frames`.
    run: u32,
    /// A run of frames ended: take a turn before cutting more.
    turn_due: bool,
    limits: Limits,
    /// `close_all` has run: the stream ends once `events` is empty.
    ended: bool,
    /// How channels freed by `close_all` before their `Closed` was yielded
    /// ended (locally or not).
    ended_early: HashMap<ChannelId, bool>,
    /// The channel of the last `Closed` yielded, and whether it was closed locally.
    last_closed: Option<(ChannelId, bool)>,
    /// What the poller shares with its handles.
    shared: Arc<Shared>,
    /// Commands taken from handles; kept to reuse its memory.
    commands: Vec<Command>,
    /// The idle timeout and the channels it watches.
    idle: Idle,
    /// Counters kept by the poller itself (see `totals`).
    counts: PollerTotals,
    /// Events in the last batch `poll` returned: the next one's capacity.
    batch_len: usize,
}

/// A listener with its waker.
type ServerEntry = (Server, Arc<SlotWaker>, Waker);

impl Poller {
    /// An empty poller; clients accepted by its servers get `framing`.
    ///
    /// # Examples
    ///
    /// ```
    /// let poller = iochannels::Poller::new(iochannels::Framing::Lines);
    /// assert_eq!(poller.len(), 0);
    /// ```
    pub fn new(framing: Framing) -> Poller {
        let queue = Arc::new(ReadyQueue::default());
        let ids = Arc::new(Ids::default());
        Poller {
            framing,
            max_frame_len: crate::DEFAULT_MAX_FRAME_LEN,
            channels: Channels::new(Arc::clone(&queue), Arc::clone(&ids)),
            shared: Arc::new(Shared::new(ids, Arc::clone(&queue))),
            commands: Vec::new(),
            idle: Idle::default(),
            counts: PollerTotals::default(),
            datagrams: Datagrams::new(Arc::clone(&queue)),
            servers: Slab::new(),
            queue,
            keys: Vec::new(),
            next_key: 0,
            events: VecDeque::new(),
            frames: VecDeque::new(),
            run: 0,
            turn_due: false,
            limits: Limits {
                high_water: 256 * 1024,
                low_water: 64 * 1024,
                max_queued: 8 * 1024 * 1024,
                close_timeout: Duration::from_secs(10),
                linger: crate::framed::LINGER_IDLE,
            },
            ended: false,
            ended_early: HashMap::new(),
            last_closed: None,
            batch_len: 0,
        }
    }

    /// Registers a channel; its frames come as [`Event::Data`] with the id
    /// returned. Input it already buffered is delivered too.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, _peer) = Channel::test();
    /// let _id = poller.register(channel.framed(Framing::Lines));
    /// assert_eq!(poller.len(), 1);
    /// # }
    /// ```
    pub fn register(&mut self, channel: FramedChannel) -> ChannelId {
        let id = self.channels.insert(channel);
        crate::trace::debug_event!(%id, "registered");
        self.idle.watch(id, &mut self.channels);
        id
    }

    /// Adds a listening server: its clients are accepted, registered with
    /// the poller's framing and announced by [`Event::Accepted`].
    ///
    /// Accept errors never end the server: per-connection ones are skipped,
    /// resource ones (out of fds, EMFILE) pause accepting for 10 ms to 1 s.
    ///
    /// The kernel queues connections the poller has not accepted yet up to
    /// the listener's backlog (128 for tokio's `bind`); past it, clients are
    /// refused or retried. For bursts of thousands of connects, build the
    /// listener with `tokio::net::TcpSocket` and a larger `listen` backlog.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let mut poller = Poller::new(Framing::Lines);
    /// let server = poller.add_server(listener);
    /// let _client = Channel::connect_tcp(addr).await?;
    /// match poller.next().await {
    ///     Some(Event::Accepted { server: from, .. }) => assert_eq!(from, server),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_server(&mut self, listener: impl Into<Listener>) -> ServerId {
        let queue = &self.queue;
        let (index, generation) = self.servers.insert_with(|index| {
            let (notify, waker) = SlotWaker::new(queue, SERVER_KEY | index);
            notify.notify();
            (Server::new(listener.into()), notify, waker)
        });
        ServerId { index, generation }
    }

    /// Takes a channel out of the poller and gives it back. Output queued
    /// with [`write`](Poller::write) and not yet sent moves into the
    /// channel's own write buffer (send it with
    /// [`FramedChannel::flush`]). Frames the poller had already read are
    /// still yielded as [`Event::Data`]. `None`, silently, if `id` is not
    /// registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// poller.write(id, &b"queued\n"[..])?;
    /// let mut framed = poller.unregister(id).expect("registered");
    /// framed.flush().await?;
    /// assert_eq!(peer.get(), "queued\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn unregister(&mut self, id: ChannelId) -> Option<FramedChannel> {
        if is_datagram(id) {
            return None;
        }
        let mut entry = self.channels.remove(id)?;
        for chunk in entry.out.drain() {
            entry.framed.queue_unsent(&chunk);
        }
        Some(entry.framed)
    }

    /// Stops accepting from a server and drops its listener. `false` if
    /// `id` is not a server of this poller.
    pub fn remove_server(&mut self, id: ServerId) -> bool {
        self.servers.get_mut(id.index, id.generation).is_some()
            && self.servers.remove(id.index).is_some()
    }

    /// A handle to this poller's channels for other tasks and threads:
    /// [`write`](PollerHandle::write), [`close`](PollerHandle::close) and
    /// [`register`](PollerHandle::register) without owning the poller.
    ///
    /// # Examples
    ///
    /// See [`PollerHandle`].
    pub fn handle(&self) -> PollerHandle {
        // Turns publish only while a handle is alive: catch this one up.
        self.shared.publish(self.totals());
        PollerHandle::new(Arc::clone(&self.shared))
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.end();
    }
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("framing", &self.framing)
            .field("channels", &self.channels.len())
            .field("servers", &self.servers.count())
            .field("pending_events", &self.events.len())
            .field("channels_to_read", &self.frames.len())
            .field("ended", &self.ended)
            .finish()
    }
}
