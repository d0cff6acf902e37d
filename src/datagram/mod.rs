//! Datagram channels: [`DatagramChannel`] over UDP and Unix datagram
//! sockets (Pants' `Datagram`: listen, `write(data, addr)`, close), and
//! [`DatagramAddr`], the peer address every datagram comes with.
//!
//! A datagram is the unit: every send is one datagram, sent whole or not at
//! all, and every receive returns one datagram, never merged with another and
//! never split. A datagram longer than the channel's limit is reported as
//! [`Error::FrameTooLong`] rather than truncated. The buffer policy is
//! described in `buffer.rs`: small datagrams are copied into frames of their
//! own size, large ones are split off the receive buffer without a copy, and
//! an idle channel holds no receive buffer.
//!
//! The poll-level methods ([`DatagramChannel::poll_recv_from`],
//! [`DatagramChannel::poll_send_to`], [`DatagramChannel::poll_send`]) are what
//! a [`Poller`](crate::Poller) drives; the async methods and the `Stream`
//! are built on them.

mod addr;
mod bind;
mod buffer;
mod ops;
mod socket;
mod stream;

use std::fmt;
use std::os::fd::RawFd;
use std::sync::Arc;

pub use self::addr::DatagramAddr;
use self::buffer::RecvBuf;
use self::socket::{ErrorWatch, Kind, Socket, SocketFile};
use crate::error::io_at;
use crate::{Error, Result};

/// The datagram limit a new [`DatagramChannel`] starts with: 64 KiB, more
/// than the largest UDP payload (65,507 bytes over IPv4).
pub const DEFAULT_MAX_DATAGRAM_LEN: usize = 65_536;

/// A datagram socket — UDP or Unix — as a channel of whole datagrams, each
/// with its peer address.
///
/// Bind one with [`bind_udp`](Self::bind_udp) or [`bind_unix`](Self::bind_unix)
/// (Pants' `listen`), send with [`send_to`](Self::send_to) (Pants'
/// `write(data, addr)`), receive with [`recv_from`](Self::recv_from) or as a
/// [`Stream`](futures::Stream) of `(datagram, sender)`. After
/// [`connect`](Self::connect), [`send`](Self::send) and [`recv`](Self::recv)
/// talk to that one peer, and datagrams from anyone else are dropped by the
/// kernel.
///
/// Errors never end the channel: a datagram over the limit
/// ([`Error::FrameTooLong`]), a refused connected send or receive
/// (`Error::Io` of kind `ConnectionRefused`) or a bad address is reported,
/// and the next call works as usual. Only [`close`](Self::close) ends it;
/// then every call returns [`Error::Closed`] and the stream ends.
///
/// # Memory
///
/// A receive offers the kernel [`max_datagram_len`](Self::max_datagram_len)
/// `+ 1` bytes (64 KiB by default), so that an over-long datagram is seen
/// and reported instead of truncated. That buffer is held only while
/// datagrams flow: a receive that finds nothing releases it, so an idle
/// channel holds none. A datagram of up to 1/8 of the buffer is copied into
/// a `Bytes` of its own size; a larger one is handed out without a copy and
/// shares the buffer's allocation, keeping at most about 8× its own size
/// alive for as long as it is held.
///
/// # Examples
///
/// ```
/// use iochannels::DatagramChannel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let mut server = DatagramChannel::bind_udp("127.0.0.1:0").await?;
/// let mut client = DatagramChannel::bind_udp("127.0.0.1:0").await?;
/// client.send_to(b"ping", server.local_addr()?).await?;
/// let (data, from) = server.recv_from().await?;
/// assert_eq!(&data[..], b"ping");
/// assert_eq!(from, client.local_addr()?);
/// server.send_to(b"pong", &from).await?;
/// assert_eq!(&client.recv_from().await?.0[..], b"pong");
/// # Ok(())
/// # }
/// ```
pub struct DatagramChannel {
    /// `None` once closed.
    socket: Option<Arc<Socket>>,
    buf: RecvBuf,
    errors: ErrorWatch,
}

impl DatagramChannel {
    fn new(kind: Kind, file: Option<SocketFile>) -> DatagramChannel {
        DatagramChannel {
            socket: Some(Socket::new(kind, file)),
            buf: RecvBuf::new(DEFAULT_MAX_DATAGRAM_LEN),
            errors: ErrorWatch::default(),
        }
    }

    /// The socket, or [`Error::Closed`] after [`close`](Self::close).
    fn socket(&self) -> Result<&Arc<Socket>> {
        self.socket.as_ref().ok_or(Error::Closed)
    }

    /// This socket's own address: the bound UDP address, or the Unix path
    /// (`DatagramAddr::Unix(None)` when it has none).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close); `Error::Io` if the
    /// system cannot tell.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let channel = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let addr = channel.local_addr()?.as_socket_addr().expect("a UDP address");
    /// assert!(addr.ip().is_loopback());
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> Result<DatagramAddr> {
        let socket = self.socket()?;
        socket
            .local_addr()
            .map_err(|e| Error::Io(io_at(format!("fd {}: local address", socket.fd()), e)))
    }

    /// The peer this socket is [`connect`](Self::connect)ed to
    /// (`DatagramAddr::Unix(None)` for an unnamed Unix peer, such as the
    /// other end of a [`unix_pair`](Self::unix_pair)).
    ///
    /// # Errors
    ///
    /// `Error::Io` of kind `NotConnected` if the socket is not connected;
    /// [`Error::Closed`] after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use iochannels::{DatagramChannel, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut a = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let b = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// assert!(matches!(a.peer_addr(), Err(Error::Io(e)) if e.kind() == ErrorKind::NotConnected));
    /// a.connect(b.local_addr()?).await?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_addr(&self) -> Result<DatagramAddr> {
        let socket = self.socket()?;
        socket
            .peer_addr()
            .map_err(|e| Error::Io(io_at(format!("fd {}: peer address", socket.fd()), e)))
    }

    /// The socket's fd, to poll for readability; `None` once closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut channel = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// assert!(channel.fd().is_some());
    /// channel.close();
    /// assert_eq!(channel.fd(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.fd())
    }

    /// The largest datagram a receive accepts, in bytes
    /// ([`DEFAULT_MAX_DATAGRAM_LEN`] unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{DatagramChannel, DEFAULT_MAX_DATAGRAM_LEN};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let channel = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// assert_eq!(channel.max_datagram_len(), DEFAULT_MAX_DATAGRAM_LEN);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_datagram_len(&self) -> usize {
        self.buf.limit()
    }

    /// Sets the largest datagram a receive accepts; a longer one is reported
    /// as [`Error::FrameTooLong`] (and dropped), and the next receive gets
    /// the next datagram. Takes effect at the next receive.
    ///
    /// Every receive offers the kernel `n + 1` bytes, so `n` bounds the
    /// receive buffer too. Values above 64 MiB are clamped to 64 MiB; raise
    /// the limit past 64 KiB only for Unix datagram sockets, as no UDP
    /// payload is larger.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{DatagramChannel, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// b.set_max_datagram_len(4);
    /// a.send(b"too long").await?;
    /// a.send(b"fits").await?;
    /// assert!(matches!(b.recv().await, Err(Error::FrameTooLong { limit: 4 })));
    /// assert_eq!(&b.recv().await?[..], b"fits");
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_max_datagram_len(&mut self, n: usize) {
        self.buf.set_limit(n);
    }

    /// Closes the socket now (Pants' `close`; sends are never queued, so
    /// there is nothing to wait for as with `end`). A socket file made by
    /// [`bind_unix`](Self::bind_unix) is removed. Afterwards every send and
    /// receive returns [`Error::Closed`] and the stream ends. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{DatagramChannel, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut channel = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// channel.close();
    /// assert!(channel.is_closed());
    /// assert!(matches!(channel.recv_from().await, Err(Error::Closed)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&mut self) {
        // The error watch holds the socket too: drop it first, so the fd
        // (and the socket file) go now.
        self.errors.clear();
        self.socket = None;
        self.buf.release();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, _b) = DatagramChannel::unix_pair()?;
    /// assert!(!a.is_closed());
    /// a.close();
    /// assert!(a.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.socket.is_none()
    }
}

impl fmt::Debug for DatagramChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DatagramChannel");
        match &self.socket {
            Some(socket) => d
                .field("kind", &socket.kind_name())
                .field("fd", &socket.fd()),
            None => d.field("closed", &true),
        };
        d.field("max_datagram_len", &self.buf.limit()).finish()
    }
}
