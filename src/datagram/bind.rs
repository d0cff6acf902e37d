//! Making a [`DatagramChannel`]: binding UDP and Unix datagram sockets,
//! unbound and paired Unix sockets, and wrapping tokio's sockets.

use std::io;
use std::path::Path;

use tokio::net::{ToSocketAddrs, UdpSocket, UnixDatagram};

use super::socket::{Kind, SocketFile};
use super::DatagramChannel;
use crate::error::io_at;
use crate::{Error, Result};

impl DatagramChannel {
    /// Binds a UDP socket to `addr` (`"127.0.0.1:0"` picks a free port).
    /// Each address `addr` resolves to is tried in turn.
    ///
    /// # Errors
    ///
    /// `Error::Io` if `addr` does not resolve or no address can be bound;
    /// the message names the last address tried and the kind is kept
    /// (`AddrInUse`, `AddrNotAvailable`, ...).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled bind leaves no socket behind.
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
    /// assert_ne!(addr.port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind_udp(addr: impl ToSocketAddrs) -> Result<DatagramChannel> {
        let mut last = None;
        for addr in tokio::net::lookup_host(addr).await? {
            match UdpSocket::bind(addr).await {
                Ok(socket) => return Ok(socket.into()),
                Err(e) => last = Some(io_at(format!("binding UDP socket to {addr}"), e)),
            }
        }
        Err(Error::Io(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "binding UDP socket: the address resolved to nothing",
            )
        })))
    }

    /// Binds a Unix datagram socket to `path`, creating the socket file.
    ///
    /// The file is removed when the channel is closed or dropped — unless it
    /// is no longer this socket's file (it was removed, or replaced by
    /// another socket's): only a file with the same device and inode is
    /// removed.
    ///
    /// # Errors
    ///
    /// `Error::Io` naming the path: `AddrInUse` if something already exists
    /// there (a stale socket file is not removed for you), `NotFound` if the
    /// directory does not exist, `InvalidInput` for a path too long for a
    /// socket address.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled, as tokio's sockets do.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("server.sock");
    /// let channel = DatagramChannel::bind_unix(&path)?;
    /// assert_eq!(channel.local_addr()?.as_path(), Some(path.as_path()));
    /// drop(channel);
    /// assert!(!path.exists());
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind_unix(path: impl AsRef<Path>) -> Result<DatagramChannel> {
        let path = path.as_ref();
        let what = || format!("binding unix datagram socket to {}", path.display());
        let socket = UnixDatagram::bind(path).map_err(|e| io_at(what(), e))?;
        // The file was just made; if it is already gone there is nothing to remove later.
        let file = SocketFile::record(path).ok();
        Ok(DatagramChannel::new(Kind::Unix(socket), file))
    }

    /// A Unix datagram socket bound to no path: it can send to named
    /// sockets (which see it as `DatagramAddr::Unix(None)`), but nobody can
    /// send to it unless it [`connect`](Self::connect)s to a peer.
    ///
    /// # Errors
    ///
    /// `Error::Io` if the socket cannot be created (out of fds).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled, as tokio's sockets do.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{DatagramAddr, DatagramChannel};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let channel = DatagramChannel::unbound_unix()?;
    /// assert_eq!(channel.local_addr()?, DatagramAddr::Unix(None));
    /// # Ok(())
    /// # }
    /// ```
    pub fn unbound_unix() -> Result<DatagramChannel> {
        let socket = UnixDatagram::unbound()
            .map_err(|e| io_at("creating an unbound unix datagram socket", e))?;
        Ok(socket.into())
    }

    /// Two Unix datagram sockets connected to each other (`socketpair`):
    /// what one [`send`](Self::send)s, the other [`recv`](Self::recv)s.
    ///
    /// # Errors
    ///
    /// `Error::Io` if the sockets cannot be created (out of fds).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled, as tokio's sockets do.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// a.send(b"one").await?;
    /// a.send(b"two").await?;
    /// assert_eq!(&b.recv().await?[..], b"one");
    /// assert_eq!(&b.recv().await?[..], b"two");
    /// # Ok(())
    /// # }
    /// ```
    pub fn unix_pair() -> Result<(DatagramChannel, DatagramChannel)> {
        let (a, b) =
            UnixDatagram::pair().map_err(|e| io_at("creating a unix datagram socket pair", e))?;
        Ok((a.into(), b.into()))
    }
}

/// Wraps a bound (and maybe connected) UDP socket.
///
/// # Examples
///
/// ```
/// use iochannels::DatagramChannel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
/// let addr = socket.local_addr()?;
/// let channel = DatagramChannel::from(socket);
/// assert_eq!(channel.local_addr()?.as_socket_addr(), Some(addr));
/// # Ok(())
/// # }
/// ```
impl From<UdpSocket> for DatagramChannel {
    fn from(socket: UdpSocket) -> DatagramChannel {
        DatagramChannel::new(Kind::Udp(socket), None)
    }
}

/// Wraps a Unix datagram socket. Its socket file, if any, is left alone on
/// drop: whoever bound it owns it.
///
/// # Examples
///
/// ```
/// use iochannels::DatagramChannel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (a, b) = tokio::net::UnixDatagram::pair()?;
/// let (mut a, mut b) = (DatagramChannel::from(a), DatagramChannel::from(b));
/// a.send(b"hi").await?;
/// assert_eq!(&b.recv().await?[..], b"hi");
/// # Ok(())
/// # }
/// ```
impl From<UnixDatagram> for DatagramChannel {
    fn from(socket: UnixDatagram) -> DatagramChannel {
        DatagramChannel::new(Kind::Unix(socket), None)
    }
}
