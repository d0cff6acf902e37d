//! [`Conn`]: what a [`Handler`](crate::Handler) callback acts on its
//! connection through, over either driver. It only forwards: frames are
//! cut, and output queued, by the poller (a server's) or by the
//! `FramedChannel` (a per-task driver's); [`ConnHandle`] (in
//! `conn_handle.rs`) is the same connection for other tasks. How frames
//! are cut (`framing`, `set_framing`, `set_max_frame_len`) is in
//! `conn/framing.rs`.

mod framing;

use bytes::Bytes;

use super::conn_handle::{ConnHandle, TaskQueue};
use super::info::{ConnId, ConnInfo};
use crate::{ChannelId, Error, FramedChannel, Framing, PeerAddr, Poller, Result};

/// What the driver keeps about a connection between callbacks.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Bytes were written since the last `on_write` (or the connection began).
    pub(crate) wrote: bool,
    /// `close()` or `abort()` was called, or the driver is ending it.
    pub(crate) closing: bool,
    /// `abort()` was called: queued output is dropped.
    pub(crate) aborted: bool,
    /// Why the driver ended the connection, for `on_close`.
    pub(crate) error: Option<Error>,
}

/// The connection a [`Handler`](crate::Handler) callback acts on: writes,
/// close, framing. Borrowed for the length of one callback.
///
/// | call | effect |
/// |------|--------|
/// | [`write`](Conn::write) | queues bytes, sent verbatim in order once the callback returns; `on_write` follows when all is flushed |
/// | [`close`](Conn::close) | graceful: what is queued goes out, then the connection closes; no more `on_read` |
/// | [`abort`](Conn::abort) | now: what is queued is dropped |
/// | [`set_framing`](Conn::set_framing) | the next frame, and those after, are cut this way |
/// | [`handle`](Conn::handle) | a [`ConnHandle`]: write and close from another task, later |
///
/// # Examples
///
/// A header line giving the length of a body (Pants changes its read
/// delimiter at runtime this way):
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{drive, Channel, Conn, Framing, Handler};
///
/// #[derive(Default)]
/// struct Upload {
///     body: Option<Bytes>,
/// }
/// impl Handler for Upload {
///     async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
///         if conn.framing() == &Framing::Lines {
///             let len = std::str::from_utf8(&frame).ok().and_then(|l| l.trim().parse().ok());
///             conn.set_framing(Framing::Exact(len.unwrap_or(1)));
///         } else {
///             self.body = Some(frame);
///             let _ = conn.write("thanks\n");
///             conn.close();
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (channel, mut peer) = Channel::test();
/// peer.put("5\nhello, and more");
/// let upload = drive(channel.framed(Framing::Lines), Upload::default()).await;
/// assert_eq!(upload.body.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(peer.get(), "thanks\n");
/// # }
/// ```
#[derive(Debug)]
pub struct Conn<'a> {
    info: &'a ConnInfo,
    state: &'a mut ConnState,
    io: Io<'a>,
}

/// The connection underneath, by driver.
#[derive(Debug)]
enum Io<'a> {
    /// A [`Server`](crate::Server)'s: the poller cuts frames and writes.
    Poller {
        poller: &'a mut Poller,
        id: ChannelId,
        /// The framing last given to the poller for `id`, kept by the
        /// server because the poller lends its channels only mutably.
        framing: &'a mut Framing,
    },
    /// A per-task driver's channel, which cuts frames lazily itself, and
    /// the queue its [`ConnHandle`]s send through.
    Framed {
        framed: &'a mut FramedChannel,
        queue: &'a std::sync::Arc<TaskQueue>,
    },
}

impl<'a> Conn<'a> {
    pub(crate) fn on_poller(
        info: &'a ConnInfo,
        state: &'a mut ConnState,
        poller: &'a mut Poller,
        id: ChannelId,
        framing: &'a mut Framing,
    ) -> Conn<'a> {
        Conn {
            info,
            state,
            io: Io::Poller {
                poller,
                id,
                framing,
            },
        }
    }

    pub(crate) fn on_framed(
        info: &'a ConnInfo,
        state: &'a mut ConnState,
        framed: &'a mut FramedChannel,
        queue: &'a std::sync::Arc<TaskQueue>,
    ) -> Conn<'a> {
        Conn {
            info,
            state,
            io: Io::Framed { framed, queue },
        }
    }

    /// A handle to this connection for other tasks and threads: a callback
    /// can hand long work to a spawned task, return, and let the task reply
    /// (and close) through it later. See [`ConnHandle`] for what it can do
    /// and when it stops working.
    ///
    /// # Examples
    ///
    /// See [`ConnHandle`].
    pub fn handle(&self) -> ConnHandle {
        match &self.io {
            // The poller lent here is the one of this connection's worker.
            Io::Poller { poller, id, .. } => {
                ConnHandle::on_poller(self.id(), self.info.worker(), poller.handle(), *id)
            }
            Io::Framed { queue, .. } => {
                ConnHandle::on_task(self.id(), std::sync::Arc::clone(queue))
            }
        }
    }

    /// The connection's id and peer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.info().id(), conn.id());
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn info(&self) -> &ConnInfo {
        self.info
    }

    /// The connection's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// let id = conn.id();
    /// assert_eq!(id.to_string(), format!("conn {}", id.get()));
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn id(&self) -> ConnId {
        self.info.id()
    }

    /// Where the other end is; see [`ConnInfo::peer`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.peer(), None); // `drive` was given no address
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn peer(&self) -> Option<&PeerAddr> {
        self.info.peer()
    }

    /// Queues `data` to be written verbatim, whatever the framing; it goes
    /// out in order once the callback has returned, and
    /// [`on_write`](crate::Handler::on_write) follows when all is flushed.
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] after [`close`](Conn::close) or
    ///   [`abort`](Conn::abort), or when the connection is already gone.
    ///   (A reply to the final partial frame that came with the peer's end
    ///   of input is not refused: it goes out in every driver.)
    /// - [`Error::QueueFull`] if the queued output would pass its limit (8
    ///   MiB by default): the peer is not reading. Nothing is queued then.
    /// - [`Error::NotWritable`] if the channel has no write side; nothing is
    ///   queued and the connection goes on being read.
    ///
    /// # Examples
    ///
    /// See [`Handler::on_read`](crate::Handler::on_read).
    pub fn write(&mut self, data: impl Into<Bytes>) -> Result<()> {
        if self.state.closing {
            return Err(Error::Closed);
        }
        let data = data.into();
        match &mut self.io {
            Io::Poller { poller, id, .. } => poller.write(*id, data)?,
            Io::Framed { framed, .. } => framed.queue(&data)?,
        }
        self.state.wrote = true;
        Ok(())
    }

    /// Bytes written and not yet sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Check;
    /// impl Handler for Check {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         assert_eq!(conn.queued(), 0);
    ///         let _ = conn.write("four");
    ///         assert_eq!(conn.queued(), 4);
    ///         conn.close();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, _peer) = Channel::test();
    /// drive(channel.framed(Framing::Lines), Check).await;
    /// # }
    /// ```
    pub fn queued(&mut self) -> usize {
        match &mut self.io {
            Io::Poller { poller, id, .. } => poller.queued(*id).unwrap_or(0),
            Io::Framed { framed, .. } => framed.write_buffer_len(),
        }
    }

    /// Closes the connection gracefully: what is queued is sent, then it
    /// closes and [`on_close`](crate::Handler::on_close) follows (with an
    /// error if the output could not all be sent within the close timeout,
    /// 10 s by default). No more frames are delivered, even ones already
    /// received. Closing twice is harmless.
    ///
    /// # Examples
    ///
    /// See [`Handler::on_connect`](crate::Handler::on_connect).
    pub fn close(&mut self) {
        if self.state.closing {
            return;
        }
        self.state.closing = true;
        if let Io::Poller { poller, id, .. } = &mut self.io {
            // Err only if the poller has ended it already: its `Closed` is coming.
            let _ = poller.close(*id);
        }
    }

    /// Closes the connection now: output still queued is dropped; then
    /// [`on_close`](crate::Handler::on_close) follows. For a peer that does
    /// not read, where [`close`](Conn::close) would wait for the close
    /// timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct Hangup;
    /// impl Handler for Hangup {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         let _ = conn.write("never sent\n");
    ///         conn.abort();
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// drive(channel.framed(Framing::Lines), Hangup).await;
    /// assert_eq!(peer.get(), "");
    /// # }
    /// ```
    pub fn abort(&mut self) {
        if self.state.aborted {
            return;
        }
        self.state.closing = true;
        self.state.aborted = true;
        match &mut self.io {
            Io::Poller { poller, id, .. } => {
                let _ = poller.abort(*id);
            }
            Io::Framed { framed, .. } => framed.abort(),
        }
    }

    /// Whether [`close`](Conn::close) or [`abort`](Conn::abort) was called
    /// (or the driver is ending the connection): writes are refused.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert!(!conn.is_closing());
    /// conn.close();
    /// assert!(conn.is_closing());
    /// assert!(conn.write("late").is_err());
    /// #  } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn is_closing(&self) -> bool {
        self.state.closing
    }
}
