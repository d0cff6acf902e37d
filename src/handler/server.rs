//! The Poller-based server: [`serve`] → [`Server::run`], a
//! [`Handler`](crate::Handler) per accepted connection, all in one task;
//! [`ServerHandle`] stops it.
//!
//! The poller reads each connection's bytes as they come (its framing is
//! `Bytes`); the driver keeps a [`FrameCodec`](crate::FrameCodec) and a buffer per connection
//! and cuts one frame at a time, calling `on_read` and waiting for it before
//! cutting the next. So a framing changed in `on_read` cuts the very next
//! frame, exactly, although the poller reads ahead (pitfall 6).
//!
//! | event | callbacks |
//! |-------|-----------|
//! | (start) | `Acceptor::on_listen` per listener |
//! | `Accepted` | `Acceptor::on_accept` → handler, then `on_connect` |
//! | `Data` | `on_read` per complete frame, in order |
//! | the poller's turns emptied a connection's queue | `on_write` |
//! | `Closed` | the last partial frame (clean end only) → `on_read`, then `on_close` |
//! | shutdown | `close_all`; `on_close` for each connection |

mod dispatch;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::task::AtomicWaker;

use self::dispatch::Slot;
use super::Acceptor;
use crate::{ChannelId, Framing, Listener, PeerAddr, Poller};

/// Runs `acceptor`'s handlers on the connections of `listener`, each
/// reading frames of `framing` (until a handler changes its own). Nothing
/// happens until [`Server::run`] is awaited.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{serve, Conn, Framing, Handler, PeerAddr};
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
///
/// struct Echo;
/// impl Handler for Echo {
///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
///         let _ = conn.write(line);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = serve(listener, Framing::Lines, |_peer: &PeerAddr| Echo);
/// let handle = server.handle();
/// let running = tokio::spawn(server.run());
///
/// let mut client = BufReader::new(tokio::net::TcpStream::connect(addr).await?);
/// client.write_all(b"hello\n").await?;
/// let mut line = String::new();
/// client.read_line(&mut line).await?;
/// assert_eq!(line, "hello\n");
///
/// handle.shutdown();
/// running.await?;
/// # Ok(())
/// # }
/// ```
pub fn serve<A: Acceptor>(
    listener: impl Into<Listener>,
    framing: Framing,
    acceptor: A,
) -> Server<A> {
    let mut server = Server {
        poller: Poller::new(Framing::Bytes),
        acceptor,
        framing,
        max_frame_len: crate::DEFAULT_MAX_FRAME_LEN,
        listening: Vec::new(),
        conns: HashMap::new(),
        awaiting: Vec::new(),
        flushed: VecDeque::new(),
        since_check: 0,
        shared: Arc::new(Shared::default()),
    };
    server.add_listener(listener);
    server
}

/// A callback server on one [`Poller`]: made by [`serve`], run by
/// [`run`](Server::run), stopped by a [`ServerHandle`].
///
/// Everything runs in the task that awaits `run`, one callback at a time:
/// a callback that waits holds up every connection (as in Pants), so long
/// work belongs in a spawned task.
///
/// - Frames are cut by the server, one at a time as the handlers take them
///   (the poller only reads bytes): a framing changed with
///   [`Conn::set_framing`](crate::Conn::set_framing) cuts the very next
///   frame, exactly, even from bytes already received.
/// - `conn.write` queues in the poller, which sends as it turns; `on_write`
///   comes once a connection's queue is seen empty (see below).
/// - A frame error ([`Error::FrameTooLong`](crate::Error::FrameTooLong), an
///   invalid framing) ends the connection: it is closed gracefully, replies
///   already queued go out, and `on_close` gets the error.
/// - At the peer's end of input every complete frame has been delivered
///   (and replies to them go out). The connection has then left the poller,
///   so a final *partial* frame (a last line without its newline) is still
///   given to `on_read`, but a reply to it fails with
///   [`Error::Closed`](crate::Error::Closed). The per-task drivers
///   ([`connect`](crate::connect), [`drive`](crate::drive)) have no such limit.
///
/// # Implementation
///
/// Per event: O(1) map work, one copy of the received bytes into the
/// connection's buffer, and the codec's scan. `on_write` is found by
/// checking the queues of the connections that wrote (`Poller::queued`)
/// whenever the poller has nothing more to yield, and at least once per as
/// many events as there are such connections: amortised O(1) per event, at
/// the price that under a steady stream of events `on_write` may come a
/// little after the flush.
///
/// # Examples
///
/// See [`serve`].
pub struct Server<A: Acceptor> {
    poller: Poller,
    acceptor: A,
    /// What new connections start with.
    framing: Framing,
    max_frame_len: usize,
    /// Listener addresses still to announce with `on_listen`.
    listening: Vec<PeerAddr>,
    conns: HashMap<ChannelId, Slot<A::Handler>>,
    /// Connections that wrote, whose queue was not yet seen empty.
    awaiting: Vec<ChannelId>,
    /// Connections whose queue was seen empty: `on_write` is due.
    flushed: VecDeque<ChannelId>,
    /// Events yielded since `awaiting` was last checked.
    since_check: usize,
    shared: Arc<Shared>,
}

/// Stops a running [`Server`]: every connection is flushed and closed, each
/// handler's `on_close` is called, and `run` returns. Cheap to clone; the
/// server keeps running when every handle is dropped.
///
/// # Examples
///
/// See [`serve`].
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    waker: AtomicWaker,
}

impl ServerHandle {
    /// Asks the server to stop; `run` returns once every connection has
    /// closed (waiting at most the close timeout for peers that do not read).
    /// Idempotent; works before `run` starts too.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.waker.wake();
    }

    /// Whether [`shutdown`](ServerHandle::shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{serve, Framing, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let server = serve(listener, Framing::Lines, |_: &PeerAddr| Noop);
    /// let handle = server.handle();
    /// assert!(!handle.is_shutdown());
    /// handle.shutdown();
    /// assert!(handle.is_shutdown());
    /// server.run().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }
}

impl<A: Acceptor> Server<A> {
    /// Accepts from one more listener too (TCP and Unix side by side).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{serve, Framing, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let unix = tokio::net::UnixListener::bind(dir.path().join("s.sock"))?;
    /// let mut server = serve(tcp, Framing::Lines, |_: &PeerAddr| Noop);
    /// server.add_listener(unix);
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_listener(&mut self, listener: impl Into<Listener>) {
        let listener = listener.into();
        let local = match &listener {
            Listener::Tcp(l) => l.local_addr().ok().map(PeerAddr::Tcp),
            Listener::Unix(l) => l
                .local_addr()
                .ok()
                .map(|a| PeerAddr::Unix(a.as_pathname().map(|p| p.to_path_buf()))),
            Listener::UnixPath(l) => Some(PeerAddr::Unix(Some(l.path().to_path_buf()))),
            // A stream listener does not say where it listens.
            Listener::Stream(_) => None,
        };
        self.listening.extend(local);
        self.poller.add_server(listener);
    }

    /// A handle that stops the server.
    ///
    /// # Examples
    ///
    /// See [`serve`].
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Sets the frame limit connections accepted from now on start with
    /// (default 8 MiB); a frame over it ends its connection with
    /// [`Error::FrameTooLong`](crate::Error::FrameTooLong).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{serve, Framing, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut server = serve(listener, Framing::Lines, |_: &PeerAddr| Noop);
    /// server.set_max_frame_len(64 * 1024);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_max_frame_len(&mut self, n: usize) {
        self.max_frame_len = n;
    }

    /// Sets how long a graceful close may wait for a peer that does not
    /// read (default 10 s); see [`Poller::set_close_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iochannels::{serve, Framing, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut server = serve(listener, Framing::Lines, |_: &PeerAddr| Noop);
    /// server.set_close_timeout(Duration::from_secs(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.poller.set_close_timeout(timeout);
    }

    /// Sets flow control and the write limit; see
    /// [`Poller::set_write_limits`]. A `conn.write` past `max_queued` fails
    /// with [`Error::QueueFull`](crate::Error::QueueFull).
    ///
    /// # Panics
    ///
    /// If `low_water > high_water` or `high_water > max_queued`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{serve, Framing, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut server = serve(listener, Framing::Lines, |_: &PeerAddr| Noop);
    /// server.set_write_limits(16 * 1024, 64 * 1024, 1024 * 1024);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_write_limits(&mut self, low_water: usize, high_water: usize, max_queued: usize) {
        self.poller
            .set_write_limits(low_water, high_water, max_queued);
    }

    /// Runs the server until its [`ServerHandle::shutdown`]: `on_listen`
    /// for each listener, then the connections' callbacks as their events
    /// come; at shutdown every connection is flushed and closed (each gets
    /// `on_close`), then it returns.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before it returns, every connection is
    /// dropped at once (unsent output lost) without `on_close`. Use the
    /// handle to stop it.
    ///
    /// # Examples
    ///
    /// See [`serve`].
    pub async fn run(mut self) {
        for local in std::mem::take(&mut self.listening) {
            self.acceptor.on_listen(&local).await;
        }
        self.serve_until_shutdown().await;
        self.close_everything().await;
    }
}

impl<A: Acceptor> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("poller", &self.poller)
            .field("framing", &self.framing)
            .field("connections", &self.conns.len())
            .field("shutdown", &self.shared.stop.load(Ordering::Relaxed))
            .finish()
    }
}
