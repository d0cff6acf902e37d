//! [`Listener`]: the servers a [`Poller`](crate::Poller) accepts clients
//! from, and accepting with back-off.
//!
//! An accept error never ends a server, and never spins (pitfall 10): errors
//! that concern one connection (aborted, reset, interrupted) are skipped at
//! once; the others (EMFILE, ENFILE, ENOBUFS, ENOMEM, anything unknown) stop
//! accepting for a while — 10 ms, doubling up to 1 s — then accepting resumes.
//! Either way the poller reports it (`Event::AcceptError`).
//!
//! A [`Listener::Stream`] is any stream of accepted channels: the user's own
//! accept logic (TLS, the PROXY protocol, a filter) in front of the poller.
//! Its errors go through the same back-off; once it ends, the server
//! accepts nothing more and says nothing more.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, UnixListener};
use tokio::time::Sleep;

use super::PeerAddr;
use crate::{Channel, Error};

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A listening socket a [`Poller`](crate::Poller) can accept clients from.
///
/// # Examples
///
/// ```
/// use iochannels::{Framing, Listener, Poller};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let listener = Listener::from(tcp);
/// let mut poller = Poller::new(Framing::Lines);
/// poller.add_server(listener);
/// # Ok(())
/// # }
/// ```
#[non_exhaustive]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener.
    Unix(UnixListener),
    /// A Unix stream listener owning its socket file, removed when it goes.
    UnixPath(crate::UnixSocketListener),
    /// Any stream of accepted channels, each with its peer's address: made
    /// with [`Listener::from_stream`], which says how it is polled.
    // Spelled out, not aliased: the docs then show users what to give.
    #[allow(clippy::type_complexity)]
    Stream(Pin<Box<dyn Stream<Item = io::Result<(Channel, PeerAddr)>> + Send + 'static>>),
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listener::Tcp(l) => f.debug_tuple("Tcp").field(l).finish(),
            Listener::Unix(l) => f.debug_tuple("Unix").field(l).finish(),
            Listener::UnixPath(l) => f.debug_tuple("UnixPath").field(l).finish(),
            // A trait object has no `Debug` to show.
            Listener::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Listener {
        Listener::Tcp(listener)
    }
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Listener {
        Listener::Unix(listener)
    }
}

impl Listener {
    /// A listener that is any stream of accepted channels with their peer's
    /// address: put your own accept logic (a TLS handshake, the PROXY
    /// protocol, a filter) in front of a [`Poller`](crate::Poller) or
    /// [`serve`](crate::serve), and each channel the stream yields is still
    /// registered with the poller's framing and announced by
    /// `Event::Accepted`.
    ///
    /// - The stream is polled from the poller's turn, up to 32 items per
    ///   turn, so `poll_next` must not do long work: run slow steps (a
    ///   handshake) in tasks of their own and yield what they finish, as
    ///   the `tls` feature's `TlsListener` does.
    /// - `Err` items are reported as `Event::AcceptError` and the server
    ///   goes on. Errors of one connection (kinds `ConnectionAborted`,
    ///   `ConnectionReset`, `TimedOut`, `InvalidData`, `UnexpectedEof`, ...)
    ///   are skipped at once; any other kind (out of fds) pauses polling the
    ///   stream, 10 ms doubling up to 1 s, so a stream that keeps failing
    ///   cannot spin. An `io::Error` whose inner error is an
    ///   [`Error`] (`io::Error::new(kind, Error::TimedOut)`) is reported
    ///   as that `Error`.
    /// - When the stream ends, the server is done: nothing more is accepted
    ///   and no event says so (an end is the stream's own choice, not an
    ///   error); channels accepted before go on, and the server stays
    ///   listed until [`remove_server`](crate::Poller::remove_server).
    /// - Removing the server or dropping the poller drops the stream.
    ///
    /// # Examples
    ///
    /// A filter: only clients from loopback are accepted.
    ///
    /// ```
    /// use futures::{future, stream, StreamExt};
    /// use iochannels::{Channel, Event, Framing, Listener, PeerAddr, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = tcp.local_addr()?;
    /// let accepted = stream::unfold(tcp, |tcp| async move {
    ///     let next = tcp.accept().await;
    ///     Some((next.map(|(s, a)| (Channel::from(s), PeerAddr::Tcp(a))), tcp))
    /// })
    /// .filter(|next| {
    ///     future::ready(match next {
    ///         Ok((_, PeerAddr::Tcp(a))) => a.ip().is_loopback(),
    ///         _ => true, // errors and other kinds go on to the poller
    ///     })
    /// });
    /// let mut poller = Poller::new(Framing::Lines);
    /// let server = poller.add_server(Listener::from_stream(accepted));
    /// let _client = Channel::connect_tcp(addr).await?;
    /// match poller.next().await {
    ///     Some(Event::Accepted { server: from, .. }) => assert_eq!(from, server),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_stream(
        accepted: impl Stream<Item = io::Result<(Channel, PeerAddr)>> + Send + 'static,
    ) -> Listener {
        Listener::Stream(Box::pin(accepted))
    }

    /// The next accepted client (the poller's servers and the TLS
    /// listener accept through this). `Ready(None)` only for a stream that
    /// ended.
    pub(crate) fn poll_next_client(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<(Channel, PeerAddr)>>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx).map(|accepted| {
                Some(accepted.map(|(stream, addr)| {
                    // Frames are written whole: let them go out at once.
                    let _ = stream.set_nodelay(true);
                    (Channel::Tcp(stream), PeerAddr::Tcp(addr))
                }))
            }),
            Listener::Unix(l) => l.poll_accept(cx).map(|accepted| {
                Some(accepted.map(|(stream, addr)| {
                    let path = addr.as_pathname().map(|p| p.to_path_buf());
                    (Channel::Unix(stream), PeerAddr::Unix(path))
                }))
            }),
            Listener::UnixPath(l) => l.poll_accept(cx).map(Some),
            Listener::Stream(s) => s.as_mut().poll_next(cx),
        }
    }
}

/// What one accept gave.
pub(crate) enum Accept {
    Client(Channel, PeerAddr),
    /// The error, and the pause it started (none for an error of one connection).
    Failed(AcceptFailure, Option<Duration>),
}

/// An accept error as the crate's [`Error`] (`.into()` gives it): a
/// wrapper, so the turn loop's conversion stays the same whatever the
/// error was built from.
pub(crate) struct AcceptFailure(Error);

impl From<AcceptFailure> for Error {
    fn from(failure: AcceptFailure) -> Error {
        failure.0
    }
}

/// A listener with its back-off state.
pub(crate) struct Server {
    listener: Listener,
    /// Set while accepting is paused after a resource error.
    backoff: Option<Pin<Box<Sleep>>>,
    next_backoff: Duration,
    /// A stream listener that ended: never polled again.
    ended: bool,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("backing_off", &self.backoff.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Server {
    pub(crate) fn new(listener: Listener) -> Server {
        Server {
            listener,
            backoff: None,
            next_backoff: FIRST_BACKOFF,
            ended: false,
        }
    }

    /// The next client or accept error, or `Pending` (also while backing
    /// off; `cx` is woken when accepting may resume). An error of one
    /// connection comes back as it is (the next call accepts on); any other
    /// starts a pause, whose length comes with it.
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Accept> {
        if self.ended {
            return Poll::Pending;
        }
        if let Some(sleep) = self.backoff.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.backoff = None;
        }
        let accepted = match self.listener.poll_next_client(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                // Nothing will wake this server again, nor need to.
                self.ended = true;
                return Poll::Pending;
            }
            Poll::Ready(Some(accepted)) => accepted,
        };
        match accepted {
            Ok((channel, peer)) => {
                self.next_backoff = FIRST_BACKOFF;
                Poll::Ready(Accept::Client(channel, peer))
            }
            Err(error) if concerns_one_connection(&error) => {
                Poll::Ready(Accept::Failed(into_error(error), None))
            }
            Err(error) => {
                let pause = self.next_backoff;
                let mut sleep = Box::pin(tokio::time::sleep(pause));
                self.next_backoff = (self.next_backoff * 2).min(MAX_BACKOFF);
                // Registers `cx` with the timer, to be woken when the pause ends.
                if sleep.as_mut().poll(cx).is_pending() {
                    self.backoff = Some(sleep);
                }
                Poll::Ready(Accept::Failed(into_error(error), Some(pause)))
            }
        }
    }
}

/// The crate's error for an accept error: the [`Error`] a stream listener
/// wrapped in it (a handshake's `Error::TimedOut`), else `Error::Io`.
fn into_error(error: io::Error) -> AcceptFailure {
    if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return AcceptFailure(Error::Io(error));
    }
    AcceptFailure(
        match error.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            // Unreachable after the check above; kept total without a panic.
            Some(Err(inner)) => Error::Io(io::Error::other(inner)),
            None => Error::Io(io::Error::other("accept failed")),
        },
    )
}

/// An error that ends one connection only: skip it and accept on. Besides
/// what `accept(2)` reports for a client gone before it was accepted, these
/// are what a stream listener's per-client step (a handshake) fails with:
/// pausing the whole server for them would let one bad client slow others.
fn concerns_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::PermissionDenied
    )
}
