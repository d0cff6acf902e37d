//! [`Channel`]: every kind of byte pipe behind one `AsyncRead + AsyncWrite`
//! enum, and its constructors.
//!
//! One file per kind: `pipe.rs` (fds and stdio), `process.rs` (a child's
//! stdin/stdout; waiting, killing and terminating it in `process/exit.rs`), `test.rs` (in-memory), `stream.rs` (any stream, and what a
//! closed framed channel keeps). TCP and Unix streams are tokio's own
//! types, used as they are; `connect.rs` connects them, `nonblock.rs` keeps
//! O_NONBLOCK on shared descriptions, `dispatch.rs` passes `AsyncRead` /
//! `AsyncWrite` and `From` on to the kinds. This file holds the
//! constructors and no I/O logic.

/// Runs `$body` with `$c` bound to the inner value of whichever variant `$self` is.
macro_rules! each_kind {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            Channel::Pipe($c) => $body,
            Channel::Tcp($c) => $body,
            Channel::Unix($c) => $body,
            Channel::Process($c) => $body,
            Channel::Test($c) => $body,
            Channel::Io($c) => $body,
        }
    };
}

mod connect;
mod dispatch;
pub(crate) mod endpoint;
pub(crate) mod nonblock;
mod pipe;
mod process;
mod stream;
mod test;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::Command;

use self::endpoint::Endpoint;
use crate::error::io_at;
use crate::{FramedChannel, Framing, Result};

pub use self::pipe::PipeChannel;
pub use self::process::ProcessChannel;
pub use self::stream::IoChannel;
pub use self::test::{TestChannel, TestPeer};

/// A byte pipe of any kind: raw bytes in and out, as `AsyncRead + AsyncWrite`.
///
/// Every kind is its own type that can be used alone; `Channel` puts them
/// behind one type so code (and a [`Poller`](crate::Poller)) can hold any of
/// them. Wrap it with [`framed`](Channel::framed) to read frames.
///
/// | kind | made with | reads | writes |
/// |------|-----------|-------|--------|
/// | [`Pipe`](Channel::Pipe) | [`pipe`](Channel::pipe), [`stdio`](Channel::stdio) | faucet fd | sink fd |
/// | [`Tcp`](Channel::Tcp) | [`connect_tcp`](Channel::connect_tcp), `From<TcpStream>` | socket | socket |
/// | [`Unix`](Channel::Unix) | [`connect_unix`](Channel::connect_unix), `From<UnixStream>` | socket | socket |
/// | [`Process`](Channel::Process) | [`spawn`](Channel::spawn) | child's stdout | child's stdin |
/// | [`Test`](Channel::Test) | [`test`](Channel::test) | what the [`TestPeer`] puts | what the peer gets |
/// | [`Io`](Channel::Io) | [`from_io`](Channel::from_io) | the stream | the stream |
///
/// # Examples
///
/// ```
/// use iochannels::Channel;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let (mut channel, mut peer) = Channel::test();
/// channel.write_all(b"out").await?;
/// assert_eq!(peer.get(), "out");
/// peer.put("in");
/// let mut buf = [0u8; 2];
/// channel.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"in");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Channel {
    /// Any pair of fds: pipes, FIFOs, ttys, sockets, regular files, `/dev/null`.
    Pipe(PipeChannel),
    /// A TCP stream.
    Tcp(TcpStream),
    /// A Unix stream socket.
    Unix(UnixStream),
    /// A child process's stdin (written) and stdout (read).
    Process(ProcessChannel),
    /// In memory, backed by `tokio::io::duplex`, with a [`TestPeer`] at the other end.
    Test(TestChannel),
    /// Any `AsyncRead + AsyncWrite` stream (a TLS stream, a duplex, ...).
    Io(IoChannel),
}

impl Channel {
    /// A channel over `faucet` (read from) and `sink` (write to), whatever
    /// they are: pipe, FIFO, socket, tty, `/dev/null` or regular file. See
    /// [`PipeChannel`] for how each is handled.
    ///
    /// # Errors
    ///
    /// An `Error::Io` if an fd cannot be inspected or registered, or if no
    /// tokio runtime is running.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (reader, writer) = std::io::pipe()?;
    /// let mut framed = Channel::pipe(Some(reader.into()), Some(writer.into()))?.framed(Framing::Lines);
    /// framed.write(b"loop\n").await?;
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"loop\n"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pipe(faucet: Option<OwnedFd>, sink: Option<OwnedFd>) -> Result<Channel> {
        PipeChannel::new(faucet, sink).map(Channel::Pipe)
    }

    /// This process's stdin and stdout as one channel.
    ///
    /// The channel works on duplicates of fds 0 and 1, reopened privately
    /// where possible, so the process's own stdin/stdout stay open, and in
    /// the blocking mode they had, after the channel is dropped. Works when
    /// stdin is a regular file or `/dev/null` too.
    ///
    /// # Errors
    ///
    /// An `Error::Io` if the fds cannot be duplicated or registered.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let stdio = iochannels::Channel::stdio()?;
    /// assert!(stdio.fd().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stdio() -> Result<Channel> {
        let faucet = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| io_at("duplicating stdin", e))?;
        let sink = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| io_at("duplicating stdout", e))?;
        Channel::pipe(Some(faucet), Some(sink))
    }

    /// Spawns `cmd` and talks to it: writes go to its stdin, reads come from
    /// its stdout. Stdin and stdout are set to pipes here; stderr is
    /// inherited unless `cmd` says otherwise. Dropping the channel kills and
    /// reaps the child.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the program if it cannot be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut tr = Channel::spawn(tokio::process::Command::new("tr").arg("a-z").arg("A-Z"))?
    ///     .framed(Framing::Bytes);
    /// tr.write(b"shout").await?;
    /// tr.shutdown_write().await?;
    /// assert_eq!(tr.read().await?.as_deref(), Some(&b"SHOUT"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn(cmd: &mut Command) -> Result<Channel> {
        ProcessChannel::spawn(cmd).map(Channel::Process)
    }

    /// An in-memory channel and the [`TestPeer`] that feeds and drains it.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// peer.put("one\ntwo");
    /// peer.close();
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"one\n"[..]));
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"two"[..]));
    /// assert_eq!(framed.read().await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn test() -> (Channel, TestPeer) {
        let (channel, peer) = test::pair();
        (Channel::Test(channel), peer)
    }

    /// Any `AsyncRead + AsyncWrite` stream as a channel: a TLS stream, a
    /// `tokio::io::duplex`, a serial port, a QUIC stream. It then works with
    /// everything a channel does — framing, close, the
    /// [`Poller`](crate::Poller) — and has no fd ([`fd`](Channel::fd) is `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    /// use tokio::io::AsyncReadExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (ours, mut theirs) = tokio::io::duplex(1024);
    /// let mut framed = Channel::from_io(ours).framed(Framing::Lines);
    /// assert_eq!(framed.fd(), None);
    /// framed.write(b"hi\n").await?;
    /// let mut got = [0; 3];
    /// theirs.read_exact(&mut got).await?;
    /// assert_eq!(&got, b"hi\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_io(io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static) -> Channel {
        Channel::Io(IoChannel::new(io))
    }

    /// The fd to poll for reading; `None` for the test channel, for
    /// [`from_io`](Channel::from_io) streams, for channels with no read side
    /// and for a channel a [`FramedChannel::close`] released.
    ///
    /// # Examples
    ///
    /// ```
    /// let (channel, _peer) = iochannels::Channel::test();
    /// assert_eq!(channel.fd(), None);
    /// ```
    pub fn fd(&self) -> Option<RawFd> {
        match self {
            Channel::Pipe(c) => c.fd(),
            Channel::Tcp(c) => Some(c.as_raw_fd()),
            Channel::Unix(c) => Some(c.as_raw_fd()),
            Channel::Process(c) => c.stdout_fd(),
            Channel::Test(_) | Channel::Io(_) => None,
        }
    }

    /// Whether a graceful close should linger: read and discard input until
    /// the peer's EOF before the fd is released. Only stream sockets need
    /// it: closing one with unread input makes the kernel send a reset,
    /// which throws away the replies still in flight to the peer.
    pub(crate) fn lingers_on_close(&self) -> bool {
        matches!(self, Channel::Tcp(_) | Channel::Unix(_))
    }

    /// Gives the channel's fds back to the system (the peer sees the end and
    /// its writes fail). A child process stays, for waiting on it; every
    /// other kind becomes an [`IoChannel`] whose reads end and writes fail.
    pub(crate) fn release(&mut self) {
        match self {
            Channel::Process(p) => p.release_pipes(),
            _ => *self = Channel::Io(IoChannel::released()),
        }
    }

    /// Whether the channel has a read side (a pipe may have only a sink).
    pub fn has_reader(&self) -> bool {
        match self {
            Channel::Pipe(c) => c.has_reader(),
            _ => true,
        }
    }

    /// Whether the channel has a write side (a pipe may have only a faucet,
    /// or have shut its sink down).
    pub fn has_writer(&self) -> bool {
        match self {
            Channel::Pipe(c) => c.has_writer(),
            _ => true,
        }
    }

    /// Wraps the channel to read and write frames of `framing`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// let (channel, _peer) = Channel::test();
    /// let framed = channel.framed(Framing::Exact(4));
    /// assert_eq!(framed.framing(), &Framing::Exact(4));
    /// ```
    pub fn framed(self, framing: Framing) -> FramedChannel {
        FramedChannel::new(self, framing)
    }

    /// A short description of the endpoint for error messages:
    /// `"tcp 127.0.0.1:40000 -> 127.0.0.1:7878"`, `"process `cat` (pid 42)"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (channel, _peer) = iochannels::Channel::test();
    /// assert_eq!(channel.describe(), "test channel");
    /// ```
    pub fn describe(&self) -> String {
        Endpoint::of(self).describe(self)
    }
}
