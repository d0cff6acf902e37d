//! [`PipeChannel`]: a channel over a pair of raw fds — pipes, FIFOs, sockets,
//! ttys, `/dev/null`, regular files — and [`Channel::stdio`](crate::Channel::stdio).
//!
//! Each fd becomes an `FdEnd` (`pipe/fd_end.rs`), whose backend is picked
//! by what the fd is (pitfall 18: epoll refuses regular files and `/dev/null`):
//!
//! | fd is                               | backend  | how it reads and writes                 |
//! |-------------------------------------|----------|-----------------------------------------|
//! | anonymous pipe, tty, named FIFO's write end (reopenable) | `Polled` | a private non-blocking open file description, on tokio's reactor |
//! | named FIFO's read end, socket, not reopenable, or given to [`PipeChannel::new_shared`] | `Polled` | O_NONBLOCK set on the shared description, restored on drop |
//! | regular file, `/dev/null`, anything epoll refuses | `Direct` | plain blocking `read`/`write`, each spending a unit of tokio's cooperative budget |
//!
//! Why reopen: O_NONBLOCK lives on the open file description, which an
//! inherited stdin/stdout shares with the shell and the rest of a pipeline
//! (pitfall 19). Opening `/proc/self/fd/N` gives a description of our own, so
//! nothing leaks even while the channel lives; where that is impossible the
//! original flags are restored when the channel is dropped or shut down.
//!
//! Why not a named FIFO's read end: Linux opens a FIFO's read end
//! non-blocking while no writer is open so that it reports no hangup
//! until a writer comes. Reopened after the last writer left, it would
//! never report EOF, and tokio, woken by edges only, would wait for ever.
//! The description the user opened reports hangups as they expect.
//!
//! Why the budget: a `Direct` call never returns `Pending`, so without it a
//! long file would hold a current_thread runtime until its end.
//!
//! Nothing here uses `tokio::io::stdin`, whose blocking thread cannot be
//! cancelled (pitfall 20).

mod fd_end;

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

use self::fd_end::{Description, Direction, FdEnd};
use crate::error::MissingSide;

/// A channel over a pair of file descriptors: `faucet` to read from, `sink`
/// to write to, either optional.
///
/// Works whatever the fds are: a pipe, a FIFO, a socket, a tty, `/dev/null`
/// or a regular file. Build it with [`Channel::pipe`](crate::Channel::pipe)
/// or [`Channel::stdio`](crate::Channel::stdio), or directly with
/// [`PipeChannel::new`].
///
/// The channel owns its fds and closes them when dropped. It never leaves
/// O_NONBLOCK behind on a description it shares with other processes: it
/// reads and writes a private reopened description where it can, and
/// otherwise restores the fd's original flags on drop. A named FIFO's read
/// end is never reopened: a private description opened after the last
/// writer left would never see EOF.
///
/// Regular files and other fds that epoll refuses are read and written with
/// plain blocking calls on the calling thread: such calls never wait for a
/// peer, only for the disk. Each spends a unit of tokio's cooperative
/// budget, so a long file still lets other tasks run.
///
/// # Examples
///
/// ```
/// use iochannels::PipeChannel;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (reader, writer) = std::io::pipe()?;
/// let mut tx = PipeChannel::new(None, Some(writer.into()))?;
/// let mut rx = PipeChannel::new(Some(reader.into()), None)?;
/// tx.write_all(b"hello").await?;
/// drop(tx);
/// let mut got = Vec::new();
/// rx.read_to_end(&mut got).await?;
/// assert_eq!(got, b"hello");
/// # Ok(())
/// # }
/// ```
pub struct PipeChannel {
    /// Boxed so that `Channel`, as large as its largest kind, stays small.
    faucet: Option<Box<FdEnd>>,
    sink: Option<Box<FdEnd>>,
    /// Set by `poll_shutdown`: the sink was closed on purpose, so writes fail
    /// as a closed pipe would rather than as a missing side.
    sink_shut: bool,
}

impl PipeChannel {
    /// Wraps `faucet` (read from) and `sink` (write to); either may be `None`.
    ///
    /// # Errors
    ///
    /// An `Error::Io` if an fd cannot be inspected or registered with the
    /// runtime, or if no tokio runtime is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let file = std::fs::File::open("/dev/null")?;
    /// let channel = iochannels::PipeChannel::new(Some(file.into()), None)?;
    /// assert!(channel.fd().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(faucet: Option<OwnedFd>, sink: Option<OwnedFd>) -> crate::Result<PipeChannel> {
        PipeChannel::with(faucet, sink, Description::Private)
    }

    /// Like [`new`](PipeChannel::new), but always reads and writes the open
    /// file descriptions given, never private reopens of them.
    ///
    /// For when the description itself matters: flags you set on it, a
    /// position or state another holder of it relies on, or no `/proc`. The
    /// price is that O_NONBLOCK is set on each description while the
    /// channel lives, where every other holder of it sees it; the channel
    /// takes it off again when dropped (or, for the sink, shut down), and
    /// leaves it on a description that already had it. Both ends of one
    /// pipe may be given: each is made non-blocking and restored on its own.
    ///
    /// # Errors
    ///
    /// As [`new`](PipeChannel::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use iochannels::PipeChannel;
    /// use rustix::fs::{fcntl_getfl, OFlags};
    /// use tokio::io::AsyncReadExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (reader, mut writer) = std::io::pipe()?;
    /// let watcher = reader.try_clone()?;
    /// let mut channel = PipeChannel::new_shared(Some(reader.into()), None)?;
    /// // The very description given: its holders see O_NONBLOCK meanwhile.
    /// assert!(fcntl_getfl(&watcher)?.contains(OFlags::NONBLOCK));
    /// writer.write_all(b"hello")?;
    /// let mut got = [0u8; 5];
    /// channel.read_exact(&mut got).await?;
    /// assert_eq!(&got, b"hello");
    /// drop(channel);
    /// assert!(!fcntl_getfl(&watcher)?.contains(OFlags::NONBLOCK));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new_shared(
        faucet: Option<OwnedFd>,
        sink: Option<OwnedFd>,
    ) -> crate::Result<PipeChannel> {
        PipeChannel::with(faucet, sink, Description::Given)
    }

    fn with(
        faucet: Option<OwnedFd>,
        sink: Option<OwnedFd>,
        want: Description,
    ) -> crate::Result<PipeChannel> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(
                io::Error::other("a PipeChannel must be made inside a tokio runtime").into(),
            );
        }
        Ok(PipeChannel {
            faucet: faucet
                .map(|fd| FdEnd::new(fd, Direction::Read, want).map(Box::new))
                .transpose()?,
            sink: sink
                .map(|fd| FdEnd::new(fd, Direction::Write, want).map(Box::new))
                .transpose()?,
            sink_shut: false,
        })
    }

    /// The fd to poll for reading, if the channel has a read side.
    ///
    /// This may differ from the fd given to [`PipeChannel::new`] when the
    /// channel reopened it privately (see the type's docs).
    pub fn fd(&self) -> Option<RawFd> {
        self.faucet.as_ref().map(|end| end.fd().as_raw_fd())
    }

    /// The fd written to, if the channel has a write side still open.
    pub fn sink_fd(&self) -> Option<RawFd> {
        self.sink.as_ref().map(|end| end.fd().as_raw_fd())
    }

    /// Whether the channel was made with a read side.
    pub fn has_reader(&self) -> bool {
        self.faucet.is_some()
    }

    /// Whether the channel has a write side (made with one, not shut down).
    pub fn has_writer(&self) -> bool {
        self.sink.is_some()
    }

    /// The sink as tokio's pipe `Sender` when it is polled (a pipe, FIFO,
    /// socket or tty), for syscalls such as sendfile(2) that write it
    /// directly with its readiness; `None` for a `Direct` sink or none.
    pub(crate) fn polled_sink(&self) -> Option<&pipe::Sender> {
        self.sink.as_ref().and_then(|end| end.polled_sender())
    }
}

impl fmt::Debug for PipeChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeChannel")
            .field("faucet", &self.faucet)
            .field("sink", &self.sink)
            .finish()
    }
}

impl AsyncRead for PipeChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().faucet.as_mut() {
            Some(end) => end.poll_read(cx, buf),
            None => Poll::Ready(Err(MissingSide::Read.into_io())),
        }
    }
}

impl AsyncWrite for PipeChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.sink.as_mut() {
            Some(end) => end.poll_write(cx, data),
            None if this.sink_shut => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            None => Poll::Ready(Err(MissingSide::Write.into_io())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the sink fd (restoring its flags first), so the reader at the
    /// other end sees EOF. The read side stays open.
    ///
    /// A socket sink is shut down for writing first: the same socket may
    /// also be the faucet (stdin and stdout on one socket, as inetd and
    /// systemd's `Accept=yes` give a program), and closing one of its fds
    /// would then send no EOF at all.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(end) = this.sink.take() {
            this.sink_shut = true;
            end.shutdown_socket()?;
        }
        Poll::Ready(Ok(()))
    }
}
