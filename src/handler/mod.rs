//! Callbacks, Pants style: a [`Handler`] per connection, with async
//! `on_connect`, `on_connect_error`, `on_read`, `on_write` and `on_close`,
//! an [`Acceptor`] for the server's `on_listen` and `on_accept`, and the
//! drivers that call them.
//!
//! | driver | runs | decodes frames |
//! |--------|------|----------------|
//! | [`serve`] → [`Server::run`] | every connection of one or more listeners, in one task, on one [`Poller`](crate::Poller); or spread over N tasks, a poller each, with [`Server::workers`] | lazily, one frame at a time, by the poller |
//! | [`connect`], [`connect_unix`] | one client connection, in the caller's task | lazily, by its [`FramedChannel`](crate::FramedChannel) |
//! | [`drive`] | any [`FramedChannel`](crate::FramedChannel) (a pipe, a child process, the test channel), in the caller's task | the same |
//!
//! Files: `conn.rs` ([`Conn`], what a callback acts through; its framing
//! methods in `conn/framing.rs`),
//! `conn_handle.rs` ([`ConnHandle`], the connection for other tasks),
//! `info.rs` (the ids), `server.rs` (the Poller-based server, its event
//! loop in `server/dispatch.rs`, its N workers in `server/workers.rs`),
//! `client.rs` (the per-task driver).

mod client;
mod conn;
mod conn_handle;
mod info;
mod server;

use std::future::Future;

use bytes::Bytes;

use crate::{Error, PeerAddr};

pub use self::client::{connect, connect_unix, drive};
pub use self::conn::Conn;
pub use self::conn_handle::ConnHandle;
pub use self::info::{ConnId, ConnInfo};
pub use self::server::{serve, Server, ServerHandle};

/// What one connection does, as callbacks (Pants' connection class).
///
/// Every method is optional: the defaults do nothing. A driver calls them
/// one at a time, in this order for a connection:
///
/// 1. `on_connect`, once it is connected (a client) or accepted (a server's);
///    or, for a client whose connection failed, `on_connect_error` alone;
/// 2. `on_read` once per frame, in order, and `on_write` whenever what the
///    handler wrote has all been flushed;
/// 3. `on_close`, last, once the connection is gone.
///
/// The callbacks act on the connection through [`Conn`]: `conn.write(..)`
/// queues bytes (sent when the callback has returned), `conn.close()` ends
/// it gracefully, `conn.set_framing(..)` changes how the *next* frame is cut
/// (Pants' `read_delimiter`), exactly, in every driver, and `conn.handle()`
/// gives a [`ConnHandle`] through which another task replies later.
///
/// The methods return `impl Future + Send` so that a [`Server`] and a
/// client's future can be spawned on a multi-threaded runtime; implement
/// them with plain `async fn` (the compiler checks that the future is `Send`).
///
/// # Examples
///
/// Pants' `LineOriented` connection, answering each line:
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{drive, Channel, Conn, ConnInfo, Error, Framing, Handler};
///
/// struct LineOriented {
///     lines: usize,
/// }
///
/// impl Handler for LineOriented {
///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
///         conn.set_framing(Framing::Delimited(vec!["\r\n".into()]));
///     }
///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
///         self.lines += 1;
///         let _ = conn.write(format!("{} {}", self.lines, String::from_utf8_lossy(&line)));
///     }
///     async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
///         assert!(error.is_none());
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (channel, mut peer) = Channel::test();
/// peer.put("hello\r\nworld\r\n");
/// peer.close();
/// let handler = drive(channel.framed(Framing::Bytes), LineOriented { lines: 0 }).await;
/// assert_eq!(handler.lines, 2);
/// assert_eq!(peer.get(), "1 hello\r\n2 world\r\n");
/// # }
/// ```
pub trait Handler: Send {
    /// Called once the connection is made: a client's connect succeeded, or
    /// a server accepted it. A good place to set the framing, or greet.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Greeter;
    /// impl Handler for Greeter {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         let _ = conn.write("hello\n");
    ///         conn.close();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// drive(channel.framed(Framing::Lines), Greeter).await;
    /// assert_eq!(peer.get(), "hello\n");
    /// # }
    /// ```
    fn on_connect(&mut self, conn: &mut Conn<'_>) -> impl Future<Output = ()> + Send {
        let _ = conn;
        async {}
    }

    /// Called instead of everything else when a client could not connect;
    /// the error names the address ([`Error::Io`], its `io::ErrorKind` kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{connect_unix, Error, Framing, Handler};
    ///
    /// #[derive(Default)]
    /// struct Client {
    ///     failed: Option<String>,
    /// }
    /// impl Handler for Client {
    ///     async fn on_connect_error(&mut self, error: Error) {
    ///         self.failed = Some(error.to_string());
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let client = connect_unix("/nonexistent/iochannels.sock", Framing::Lines, Client::default()).await;
    /// assert!(client.failed.unwrap().contains("/nonexistent/iochannels.sock"));
    /// # }
    /// ```
    fn on_connect_error(&mut self, error: Error) -> impl Future<Output = ()> + Send {
        let _ = error;
        async {}
    }

    /// Called with each frame, in order. A framing changed here with
    /// [`Conn::set_framing`] cuts the very next frame.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Echo;
    /// impl Handler for Echo {
    ///     async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
    ///         let _ = conn.write(frame);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// peer.put("one\ntwo\n");
    /// peer.close();
    /// drive(channel.framed(Framing::Lines), Echo).await;
    /// assert_eq!(peer.get(), "one\ntwo\n");
    /// # }
    /// ```
    fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) -> impl Future<Output = ()> + Send {
        let _ = (conn, frame);
        async {}
    }

    /// Whether the drivers call [`on_write`](Handler::on_write): `true`
    /// unless a handler says otherwise. A handler whose `on_write` does
    /// nothing sets it to `false`: a [`Server`] then stops asking its
    /// poller to say when each reply has gone out: one event less per reply
    /// (`cargo bench -- resp` has a row each way). Writes go out the same
    /// either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Echo;
    /// impl Handler for Echo {
    ///     const WANTS_ON_WRITE: bool = false;
    ///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
    ///         let _ = conn.write(line);
    ///     }
    ///     async fn on_write(&mut self, _conn: &mut Conn<'_>) {
    ///         unreachable!("not called: WANTS_ON_WRITE is false");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// peer.put("one\ntwo\n");
    /// peer.close();
    /// drive(channel.framed(Framing::Lines), Echo).await;
    /// assert_eq!(peer.get(), "one\ntwo\n");
    /// # }
    /// ```
    const WANTS_ON_WRITE: bool = true;

    /// Called once everything the handler wrote has been flushed (handed to
    /// the OS), Pants' "finished writing data": after callbacks that wrote,
    /// one call when the connection's output queue has drained, however
    /// many writes filled it (in a [`Server`], the poller's
    /// [`Event::Flushed`](crate::Event::Flushed)). Writes made through a
    /// [`ConnHandle`] do not call it.
    /// Not called at all if [`WANTS_ON_WRITE`](Handler::WANTS_ON_WRITE) is false.
    /// Writing from here again is how to stream a large body piece by piece
    /// without queuing it all. Not called once the connection is closing
    /// or its input has ended: `on_close` says whether the last writes went
    /// out.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Countdown(u32);
    /// impl Handler for Countdown {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         let _ = conn.write(format!("{}\n", self.0));
    ///     }
    ///     async fn on_write(&mut self, conn: &mut Conn<'_>) {
    ///         self.0 -= 1;
    ///         let _ = conn.write(format!("{}\n", self.0));
    ///         if self.0 == 0 {
    ///             conn.close();
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// drive(channel.framed(Framing::Lines), Countdown(3)).await;
    /// assert_eq!(peer.get(), "3\n2\n1\n0\n");
    /// # }
    /// ```
    fn on_write(&mut self, conn: &mut Conn<'_>) -> impl Future<Output = ()> + Send {
        let _ = conn;
        async {}
    }

    /// Called last, once the connection is gone: `None` after a clean end
    /// (the peer's EOF, or a `close()` whose writes all went out), else why
    /// ([`Error::FrameTooLong`], a reset, a close that timed out with data
    /// unsent, ...). The handler is dropped after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, ConnInfo, Error, Framing, Handler};
    ///
    /// #[derive(Default)]
    /// struct Watch {
    ///     ended: Option<Option<String>>,
    /// }
    /// impl Handler for Watch {
    ///     async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
    ///         self.ended = Some(error.map(|e| e.to_string()));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// peer.close();
    /// let watch = drive(channel.framed(Framing::Lines), Watch::default()).await;
    /// assert_eq!(watch.ended, Some(None));
    /// # }
    /// ```
    fn on_close(
        &mut self,
        info: &ConnInfo,
        error: Option<Error>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (info, error);
        async {}
    }
}

/// A server's own callbacks (Pants' `Server` channel): `on_listen` as it
/// starts, and `on_accept`, which makes the [`Handler`] for each accepted
/// connection (Pants' server takes a connection class; ours takes this
/// factory).
///
/// Any `FnMut(&PeerAddr) -> H + Send` closure is an `Acceptor`; implement
/// the trait on a type to hear `on_listen` too, or to keep state shared by
/// all connections' creation.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use iochannels::{serve, Acceptor, Framing, Handler, PeerAddr};
///
/// struct Noop;
/// impl Handler for Noop {}
///
/// #[derive(Default)]
/// struct Factory {
///     listening: Arc<Mutex<Vec<PeerAddr>>>,
///     accepted: usize,
/// }
/// impl Acceptor for Factory {
///     type Handler = Noop;
///     fn on_accept(&mut self, _peer: &PeerAddr) -> Noop {
///         self.accepted += 1;
///         Noop
///     }
///     async fn on_listen(&mut self, local: &PeerAddr) {
///         self.listening.lock().unwrap().push(local.clone());
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let factory = Factory::default();
/// let listening = Arc::clone(&factory.listening);
/// let server = serve(listener, Framing::Lines, factory);
/// server.handle().shutdown();
/// server.run().await;
/// assert_eq!(*listening.lock().unwrap(), [PeerAddr::Tcp(addr)]);
/// # Ok(())
/// # }
/// ```
pub trait Acceptor: Send {
    /// The handler each connection gets.
    type Handler: Handler;

    /// Called for each accepted connection, with where it came from; returns
    /// its handler, whose `on_connect` comes next.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Acceptor, Handler, PeerAddr};
    ///
    /// struct Noop;
    /// impl Handler for Noop {}
    ///
    /// let mut factory = |_peer: &PeerAddr| Noop;
    /// let _handler: Noop = factory.on_accept(&PeerAddr::Unix(None));
    /// ```
    fn on_accept(&mut self, peer: &PeerAddr) -> Self::Handler;

    /// Called once per listener as the server starts, before any
    /// connection is accepted, with the address it listens on (a
    /// [`PeerAddr`] naming our own socket here).
    ///
    /// # Examples
    ///
    /// See [`Acceptor`].
    fn on_listen(&mut self, local: &PeerAddr) -> impl Future<Output = ()> + Send {
        let _ = local;
        async {}
    }
}

impl<F, H> Acceptor for F
where
    F: FnMut(&PeerAddr) -> H + Send,
    H: Handler,
{
    type Handler = H;

    fn on_accept(&mut self, peer: &PeerAddr) -> H {
        self(peer)
    }
}
