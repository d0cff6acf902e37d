//! What a [`Poller`](crate::Poller) yields: [`Event`], and the ids and
//! addresses events carry.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;

use crate::{DatagramAddr, Error};

/// A channel registered in a [`Poller`](crate::Poller).
///
/// Ids are never reused while a poller lives: an id whose channel is gone
/// stays unknown (writes to it fail, `unregister` returns `None`) even after
/// its slot serves a new channel.
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
/// let id = poller.register(channel.framed(Framing::Lines));
/// assert!(poller.unregister(id).is_some());
/// assert!(poller.unregister(id).is_none());
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A listening server added to a [`Poller`](crate::Poller) with
/// [`add_server`](crate::Poller::add_server).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({}.{})", self.index, self.generation)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {}.{}", self.index, self.generation)
    }
}

impl fmt::Debug for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerId({}.{})", self.index, self.generation)
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server {}.{}", self.index, self.generation)
    }
}

/// Where an accepted client connected from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A TCP client's address.
    Tcp(SocketAddr),
    /// A Unix socket client's path; `None` for the usual unnamed client socket.
    Unix(Option<PathBuf>),
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(addr) => write!(f, "{addr}"),
            PeerAddr::Unix(Some(path)) => write!(f, "{}", path.display()),
            PeerAddr::Unix(None) => f.write_str("unix client"),
        }
    }
}

/// One thing that happened in a [`Poller`](crate::Poller).
///
/// Per channel, events come in order: `Accepted` (for accepted clients)
/// before any `Data`, every `Data` frame before `Closed`, and nothing after
/// `Closed`.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{Channel, Event, Framing, Poller};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, mut peer) = Channel::test();
/// let id = poller.register(channel.framed(Framing::Lines));
/// peer.put("hi\n");
/// peer.close();
/// match poller.next().await {
///     Some(Event::Data { id: from, data }) => {
///         assert_eq!(from, id);
///         assert_eq!(&data[..], b"hi\n");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(matches!(poller.next().await, Some(Event::Closed { error: None, .. })));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// One frame read from a channel.
    Data {
        /// The channel it came from.
        id: ChannelId,
        /// The frame.
        data: Bytes,
    },
    /// A server accepted a client and registered it with the poller's framing.
    Accepted {
        /// The server that accepted it.
        server: ServerId,
        /// The new channel.
        id: ChannelId,
        /// Where the client connected from.
        peer: PeerAddr,
    },
    /// One packet received by a datagram channel
    /// ([`Poller::register_datagram`](crate::Poller::register_datagram)).
    Datagram {
        /// The datagram channel it came to.
        id: ChannelId,
        /// The packet, whole.
        data: Bytes,
        /// Who sent it.
        peer: DatagramAddr,
    },
    /// One packet of a datagram channel failed (too long, refused, a bad
    /// address to send to); the channel goes on.
    DatagramError {
        /// The datagram channel.
        id: ChannelId,
        /// What went wrong.
        error: Error,
    },
    /// Everything written to a channel so far has gone out: its queue is
    /// empty. Only after [`Poller::notify_flushed`](crate::Poller::notify_flushed)
    /// asked for it, once per ask.
    Flushed {
        /// The channel whose output is all sent.
        id: ChannelId,
    },
    /// Accepting a client failed. The server goes on: an error of one
    /// connection (aborted before it was accepted) is skipped, a resource
    /// error (out of fds: EMFILE, ENFILE; out of memory) pauses accepting
    /// from that server for `retry_in` (10 ms, doubling up to 1 s), so an
    /// operator sees why clients are not served.
    AcceptError {
        /// The server that failed to accept.
        server: ServerId,
        /// What failed.
        error: Error,
        /// How long accepting from this server pauses; `None` if it goes on at once.
        retry_in: Option<std::time::Duration>,
    },
    /// A channel ended and is no longer registered: the peer closed
    /// (`error: None`), a local `close` finished (`error: None`), or reading
    /// or writing failed (`error: Some`).
    Closed {
        /// The channel that ended.
        id: ChannelId,
        /// Why, if it was not a clean end.
        error: Option<Error>,
    },
}
