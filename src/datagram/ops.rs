//! Sending and receiving on a [`DatagramChannel`]: the poll-level methods a
//! [`Poller`](crate::Poller) drives, and the async methods built on them
//! (as is the `Stream`, in `stream.rs`).

use std::future::poll_fn;
use std::io;
use std::task::{ready, Context, Poll};

use bytes::Bytes;

use super::socket::Socket;
use super::{DatagramAddr, DatagramChannel, Kind};
use crate::error::io_at;
use crate::{Error, Result};

impl DatagramChannel {
    /// Connects the socket to `addr`: afterwards [`send`](Self::send) goes
    /// there, and only datagrams from there are received. Connecting again
    /// changes the peer. (No packet is sent: a datagram "connection" is a
    /// filter and a default destination.)
    ///
    /// # Errors
    ///
    /// `Error::Io` naming both ends; kind `InvalidInput` for an address of
    /// the other family (a path for a UDP socket, a `SocketAddr` for a Unix
    /// one) or an unnamed Unix address; [`Error::Closed`] after
    /// [`close`](Self::close).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: connecting a datagram socket does not wait on the network.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut a = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let mut b = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"hello").await?;
    /// assert_eq!(&b.recv().await?[..], b"hello");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(&mut self, addr: impl Into<DatagramAddr>) -> Result<()> {
        let addr = addr.into();
        let socket = self.socket()?;
        let what = || format!("connecting {} to {addr}", socket.endpoint());
        let connected = match (&socket.kind, &addr) {
            (Kind::Udp(s), DatagramAddr::Udp(a)) => s.connect(*a).await,
            (Kind::Unix(s), DatagramAddr::Unix(Some(p))) => s.connect(p),
            _ => Err(socket.unreachable(&addr)),
        };
        connected.map_err(|e| Error::Io(io_at(what(), e)))
    }

    /// Sends `data` as one datagram to `addr` (Pants' `write(data, addr)`).
    ///
    /// A datagram is sent whole or not at all: data larger than the socket
    /// can carry (over 65,507 bytes for UDP over IPv4) is an error, never
    /// split. An empty `data` sends an empty datagram.
    ///
    /// Taking `impl Into<DatagramAddr>` clones a `&DatagramAddr`; to send to
    /// a Unix path without that allocation, use
    /// [`poll_send_to`](Self::poll_send_to), which borrows it.
    ///
    /// A Unix receiver whose queue is full makes the send wait. Linux wakes
    /// an unconnected sender when one of *its own* queued datagrams is read;
    /// to wait on a receiver that others fill, [`connect`](Self::connect)
    /// to it (the kernel then wakes on any room).
    ///
    /// # Errors
    ///
    /// `Error::Io` naming the local socket and `addr`: kind `InvalidInput`
    /// for an address of the other family or an unnamed Unix address; the
    /// system's error otherwise (message too long, `ConnectionRefused` for a
    /// Unix path nobody is bound to, ...). [`Error::Closed`] after
    /// [`close`](Self::close). The channel stays usable after any of them.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent in the one poll that returns
    /// `Ready`, so a cancelled send sent nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut a = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let mut b = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// a.send_to(b"", b.local_addr()?).await?;
    /// assert!(b.recv_from().await?.0.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_to(
        &mut self,
        data: impl AsRef<[u8]>,
        addr: impl Into<DatagramAddr>,
    ) -> Result<()> {
        let (data, addr) = (data.as_ref(), addr.into());
        poll_fn(|cx| self.poll_send_to(cx, data, &addr)).await
    }

    /// Sends `data` as one datagram to the connected peer (see
    /// [`connect`](Self::connect) and [`unix_pair`](Self::unix_pair)).
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to); a socket that is not connected gives
    /// `Error::Io` (`NotConnected` or "destination address required"), and
    /// a connected UDP socket whose peer has no listener may give
    /// `ConnectionRefused` (reported by an earlier ICMP message).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`send_to`](Self::send_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// b.send(b"from b").await?;
    /// assert_eq!(&a.recv().await?[..], b"from b");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        let data = data.as_ref();
        poll_fn(|cx| self.poll_send(cx, data)).await
    }

    /// Receives the next datagram and its sender's address.
    ///
    /// The datagram is exactly what one send sent. A datagram longer than
    /// [`max_datagram_len`](Self::max_datagram_len) gives
    /// [`Error::FrameTooLong`] (its bytes are dropped), and the next call
    /// receives the next datagram.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLong`] as above; `Error::Io` naming the socket for a
    /// receive error — on a connected UDP socket, kind `ConnectionRefused`
    /// when an earlier datagram found no listener; [`Error::Closed`] after
    /// [`close`](Self::close). None of them ends the channel.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the socket only in the poll
    /// that returns it, so a cancelled receive loses nothing.
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
    /// client.send_to(b"first", server.local_addr()?).await?;
    /// client.send_to(b"second", server.local_addr()?).await?;
    /// let (one, from) = server.recv_from().await?;
    /// let (two, _) = server.recv_from().await?;
    /// assert_eq!((&one[..], &two[..]), (&b"first"[..], &b"second"[..]));
    /// assert_eq!(from, client.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv_from(&mut self) -> Result<(Bytes, DatagramAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx)).await
    }

    /// Receives the next datagram, without its sender's address: for a
    /// connected socket, whose datagrams all come from its peer.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// a.send(vec![7u8; 3000]).await?;
    /// assert_eq!(b.recv().await?, vec![7u8; 3000]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<Bytes> {
        self.recv_from().await.map(|(data, _)| data)
    }

    /// Polls for the next datagram and its sender: the poll-level
    /// [`recv_from`](Self::recv_from), for a [`Poller`](crate::Poller) or a
    /// hand-written future.
    ///
    /// `Pending` registers `cx` to be woken when a datagram arrives or the
    /// socket reports an error (only the latest `cx` is woken), and releases
    /// the receive buffer, so an idle channel holds none.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from); errors are per datagram and the
    /// channel stays usable, except [`Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// a.send(b"polled").await?;
    /// let (data, from) = poll_fn(|cx| b.poll_recv_from(cx)).await?;
    /// assert_eq!(&data[..], b"polled");
    /// assert_eq!(from.as_path(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_recv_from(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Bytes, DatagramAddr)>> {
        let Some(socket) = self.socket.as_ref() else {
            return Poll::Ready(Err(Error::Closed));
        };
        loop {
            match socket.poll_recv_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(recv_error(socket, e))),
                Poll::Pending => {
                    // No datagram: a pending socket error (ICMP) is the answer, if any.
                    return match self.errors.poll_error(cx, socket) {
                        Poll::Ready(e) => Poll::Ready(Err(recv_error(socket, e))),
                        Poll::Pending => {
                            self.buf.release();
                            Poll::Pending
                        }
                    };
                }
            }
            match socket.try_recv_from(&mut self.buf.spare()) {
                Ok((n, from)) => return Poll::Ready(self.buf.take(n).map(|data| (data, from))),
                Err(e) if retry(&e) => continue,
                Err(e) => return Poll::Ready(Err(recv_error(socket, e))),
            }
        }
    }

    /// Polls to send `data` as one datagram to `addr`: the poll-level
    /// [`send_to`](Self::send_to), borrowing the address.
    ///
    /// `Pending` means the socket's send buffer is full (for a Unix socket:
    /// the receiver's queue is); nothing was sent, and `cx` is woken when
    /// there is room. Call again with the same datagram.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut a = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let mut b = DatagramChannel::bind_udp("127.0.0.1:0").await?;
    /// let to = b.local_addr()?;
    /// poll_fn(|cx| a.poll_send_to(cx, b"polled", &to)).await?;
    /// assert_eq!(&b.recv_from().await?.0[..], b"polled");
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_send_to(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        addr: &DatagramAddr,
    ) -> Poll<Result<()>> {
        let Some(socket) = self.socket.as_ref() else {
            return Poll::Ready(Err(Error::Closed));
        };
        let sent = ready!(socket.poll_send(cx, data, Some(addr)));
        Poll::Ready(sent_whole(sent, data.len()).map_err(|e| {
            let what = format!(
                "sending {} bytes to {addr} from {}",
                data.len(),
                socket.endpoint()
            );
            Error::Io(io_at(what, e))
        }))
    }

    /// Polls to send `data` as one datagram to the connected peer: the
    /// poll-level [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use iochannels::DatagramChannel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (mut a, mut b) = DatagramChannel::unix_pair()?;
    /// poll_fn(|cx| a.poll_send(cx, b"polled")).await?;
    /// assert_eq!(&b.recv().await?[..], b"polled");
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_send(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<()>> {
        let Some(socket) = self.socket.as_ref() else {
            return Poll::Ready(Err(Error::Closed));
        };
        let sent = ready!(socket.poll_send(cx, data, None));
        Poll::Ready(sent_whole(sent, data.len()).map_err(|e| {
            let what = format!("sending {} bytes from {}", data.len(), socket.endpoint());
            Error::Io(io_at(what, e))
        }))
    }
}

/// A send that took fewer bytes than the datagram had is an error: a
/// datagram is never split.
fn sent_whole(sent: io::Result<usize>, len: usize) -> io::Result<()> {
    match sent? {
        n if n == len => Ok(()),
        n => Err(io::Error::other(format!(
            "the datagram was cut short: {n} of {len} bytes sent"
        ))),
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn recv_error(socket: &Socket, e: io::Error) -> Error {
    Error::Io(io_at(format!("receiving on {}", socket.endpoint()), e))
}
