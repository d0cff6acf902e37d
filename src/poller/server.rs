//! [`Listener`]: the servers a [`Poller`](crate::Poller) accepts clients
//! from, and accepting with back-off.
//!
//! An accept error never ends a server, and never spins (pitfall 10): errors
//! that concern one connection (aborted, reset, interrupted) are skipped at
//! once; the others (EMFILE, ENFILE, ENOBUFS, ENOMEM, anything unknown) stop
//! accepting for a while — 10 ms, doubling up to 1 s — then accepting resumes.
//! Either way the poller reports it (`Event::AcceptError`).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::time::Sleep;

use super::PeerAddr;
use crate::Channel;

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
#[derive(Debug)]
#[non_exhaustive]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener.
    Unix(UnixListener),
    /// A Unix stream listener owning its socket file, removed when it goes.
    UnixPath(crate::UnixSocketListener),
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
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Channel, PeerAddr)>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(stream, addr)| {
                // Frames are written whole: let them go out at once.
                let _ = stream.set_nodelay(true);
                (Channel::Tcp(stream), PeerAddr::Tcp(addr))
            }),
            Listener::Unix(l) => l.poll_accept(cx).map_ok(|(stream, addr)| {
                let path = addr.as_pathname().map(|p| p.to_path_buf());
                (Channel::Unix(stream), PeerAddr::Unix(path))
            }),
            Listener::UnixPath(l) => l.poll_accept(cx),
        }
    }
}

/// What one accept gave.
pub(crate) enum Accept {
    Client(Channel, PeerAddr),
    /// The error, and the pause it started (none for an error of one connection).
    Failed(io::Error, Option<Duration>),
}

/// A listener with its back-off state.
pub(crate) struct Server {
    listener: Listener,
    /// Set while accepting is paused after a resource error.
    backoff: Option<Pin<Box<Sleep>>>,
    next_backoff: Duration,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("backing_off", &self.backoff.is_some())
            .finish()
    }
}

impl Server {
    pub(crate) fn new(listener: Listener) -> Server {
        Server {
            listener,
            backoff: None,
            next_backoff: FIRST_BACKOFF,
        }
    }

    /// The next client or accept error, or `Pending` (also while backing
    /// off; `cx` is woken when accepting may resume). An error of one
    /// connection comes back as it is (the next call accepts on); any other
    /// starts a pause, whose length comes with it.
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Accept> {
        if let Some(sleep) = self.backoff.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.backoff = None;
        }
        match self.listener.poll_accept(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok((channel, peer))) => {
                self.next_backoff = FIRST_BACKOFF;
                Poll::Ready(Accept::Client(channel, peer))
            }
            Poll::Ready(Err(error)) if concerns_one_connection(&error) => {
                Poll::Ready(Accept::Failed(error, None))
            }
            Poll::Ready(Err(error)) => {
                let pause = self.next_backoff;
                let mut sleep = Box::pin(tokio::time::sleep(pause));
                self.next_backoff = (self.next_backoff * 2).min(MAX_BACKOFF);
                // Registers `cx` with the timer, to be woken when the pause ends.
                if sleep.as_mut().poll(cx).is_pending() {
                    self.backoff = Some(sleep);
                }
                Poll::Ready(Accept::Failed(error, Some(pause)))
            }
        }
    }
}

fn concerns_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
