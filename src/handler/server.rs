//! The Poller-based server: [`serve`] → [`Server::run`], a
//! [`Handler`](crate::Handler) per accepted connection, all in one task
//! (or spread over several with [`Server::workers`], in `server/workers.rs`);
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
mod workers;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::task::AtomicWaker;

use self::dispatch::Dispatch;
use self::workers::{Settings, Workers};
use super::Acceptor;
use crate::{Framing, Listener, PeerAddr, Poller};

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
        listeners: Vec::new(),
        listening: Vec::new(),
        dispatch: Dispatch::new(framing, 0),
        settings: Settings::default(),
        workers: None,
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
/// work belongs in a spawned task. To use more cores, spread the
/// connections over several pollers, each in its own task, with
/// [`workers`](Server::workers).
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
    /// The one poller of a one-worker server (unused with several).
    poller: Poller,
    acceptor: A,
    /// Listeners still to hand to the poller, or to the workers' group, in `run`.
    listeners: Vec<Listener>,
    /// Listener addresses still to announce with `on_listen`.
    listening: Vec<PeerAddr>,
    /// The one-worker server's connections; also keeps the framing.
    dispatch: Dispatch<A::Handler>,
    /// What the setters set, for the workers' pollers.
    settings: Settings,
    /// Set by `workers(n)` with n > 1.
    workers: Option<Workers<A>>,
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
        // Given to a poller by `run`, once it knows how many workers.
        self.listeners.push(listener);
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
        self.settings.max_frame_len = Some(n);
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
        self.settings.close_timeout = Some(timeout);
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
        // The poller checks them (the panic comes from here, not from `run`).
        self.poller
            .set_write_limits(low_water, high_water, max_queued);
        self.settings.write_limits = Some((low_water, high_water, max_queued));
    }

    /// Runs the server until its [`ServerHandle::shutdown`]: `on_listen`
    /// for each listener, then the connections' callbacks as their events
    /// come; at shutdown every connection is flushed and closed (each gets
    /// `on_close`), then it returns.
    ///
    /// With [`workers(n)`](Server::workers), n > 1, the workers' tasks are
    /// spawned on the current runtime (with the accept task) and this
    /// future only waits: for the shutdown, which it passes to every worker
    /// at once, then for every worker to finish closing its connections
    /// and for the accept task to close the listeners. If a worker's task
    /// panicked (a handler's panic), the others went on; this then panics
    /// with that payload once they have all finished.
    ///
    /// # Panics
    ///
    /// With a panic of a handler or acceptor: at once with one worker,
    /// after the other workers have finished with several.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before it returns, every connection is
    /// dropped at once (unsent output lost) without `on_close` (with
    /// several workers, their tasks are aborted). Use the handle to stop it.
    ///
    /// # Examples
    ///
    /// See [`serve`] and [`workers`](Server::workers).
    pub async fn run(mut self) {
        for local in std::mem::take(&mut self.listening) {
            self.acceptor.on_listen(&local).await;
        }
        if let Some(workers) = self.workers.take() {
            return workers.run(self).await;
        }
        for listener in std::mem::take(&mut self.listeners) {
            self.poller.add_server(listener);
        }
        self.serve_until_shutdown().await;
        self.close_everything().await;
    }
}

impl<A: Acceptor> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("poller", &self.poller)
            .field("framing", self.dispatch.framing())
            .field("workers", &self.workers.as_ref().map_or(1, Workers::count))
            .field("connections", &self.dispatch.len())
            .field("shutdown", &self.shared.stop.load(Ordering::Relaxed))
            .finish()
    }
}
