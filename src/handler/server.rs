//! The Poller-based server: [`serve`] → [`Server::run`], a
//! [`Handler`](crate::Handler) per accepted connection, all in one task;
//! [`ServerHandle`] stops it.
//!
//! The server sits directly on its [`Poller`]: the poller accepts, cuts
//! each connection's frames (with the server's framing, and the frame
//! limit) one at a time as it yields them, and queues and sends output.
//! The driver only turns events into callbacks, awaiting each before it
//! asks for the next event; so `Conn::set_framing`, which goes to
//! [`Poller::set_framing`], cuts the very next frame, exactly (pitfall 6).
//!
//! | event | callbacks |
//! |-------|-----------|
//! | (start) | `Acceptor::on_listen` per listener |
//! | `Accepted` | `Acceptor::on_accept` → handler, then `on_connect` |
//! | `Data` | `on_read` (the last partial frame at the peer's EOF too) |
//! | `Flushed`, asked for after a callback wrote, queue still empty | `on_write` |
//! | `Closed` | `on_close` |
//! | shutdown | `close_all`; `on_close` for each connection |

mod dispatch;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::task::AtomicWaker;

use self::dispatch::Slot;
use super::Acceptor;
use crate::{ChannelMap, Framing, Listener, PeerAddr, Poller};

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
        poller: Poller::new(framing.clone()),
        acceptor,
        framing,
        listening: Vec::new(),
        conns: ChannelMap::new(),
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
/// - Frames are cut by the poller, one at a time as the handlers take
///   them: a framing changed with
///   [`Conn::set_framing`](crate::Conn::set_framing) cuts the very next
///   frame, exactly, even from bytes already received.
/// - `conn.write` queues in the poller, which sends as it turns; after a
///   callback that wrote, `on_write` comes once everything queued for that
///   connection has been handed to the OS (the poller's
///   [`Event::Flushed`](crate::Event::Flushed)), once however many writes
///   filled the queue.
/// - A callback may hand long work to a spawned task, which replies later
///   through a [`ConnHandle`](crate::ConnHandle) from
///   [`Conn::handle`](crate::Conn::handle).
/// - A frame error ([`Error::FrameTooLong`](crate::Error::FrameTooLong), an
///   invalid framing) ends the connection and `on_close` gets the error.
/// - At the peer's end of input every frame has been delivered, the final
///   partial one (a last line without its newline) included, while the
///   connection is still open: replies to them all go out.
///
/// # Implementation
///
/// Per event: one map lookup and the callback; no copy of the received
/// bytes (each frame is the poller's), no scan of idle connections (`on_write`
/// comes from the poller's `Flushed`, asked for per connection that wrote).
///
/// # Examples
///
/// See [`serve`].
pub struct Server<A: Acceptor> {
    poller: Poller,
    acceptor: A,
    /// What new connections start with (the poller's framing too).
    framing: Framing,
    /// Listener addresses still to announce with `on_listen`.
    listening: Vec<PeerAddr>,
    conns: ChannelMap<Slot<A::Handler>>,
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
        // The poller cuts the frames: it gives accepted clients this limit.
        self.poller.set_max_frame_len(n);
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
