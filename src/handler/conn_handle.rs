//! [`ConnHandle`]: one connection, from any task or thread — write and
//! close later, after the callback that made it has returned — and the
//! small command queue behind it in the per-task driver (`TaskQueue`).
//!
//! | driver | a handle sends through | carried out | `Err(Closed)` once |
//! |--------|------------------------|-------------|--------------------|
//! | [`Server`](crate::Server) | the [`PollerHandle`] of its worker's poller | on the poller's next turn | the connection's `Closed` was yielded (just before `on_close`), or the server stopped |
//! | [`drive`](crate::drive), [`connect`](crate::connect) | a `TaskQueue` the driver polls beside its reads | on the driver's next step (not during a callback) | the driver has left its loop (the peer's end, a close, an error), just before `on_close` |
//!
//! It touches nothing else: the drivers own the connections, and take
//! what a handle queued in the order it was queued.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Context;

use bytes::Bytes;
use futures::task::AtomicWaker;

use super::info::ConnId;
use crate::{ChannelId, Error, PollerHandle, Result};

/// A connection, for other tasks and threads; from [`Conn::handle`](crate::Conn::handle).
///
/// A [`Handler`](crate::Handler)'s callbacks run one at a time, and a
/// server's share one task (one per worker): a callback that waits holds
/// up every connection (of its worker). Long work (a database query, a slow computation) belongs in
/// a spawned task, which replies through this handle when it is done.
///
/// - [`write`](ConnHandle::write) queues bytes and never waits; they go
///   out in the order this handle's caller queued them, after what the
///   connection had queued when the driver takes them in. The order
///   between a handle's writes and the handler's own `conn.write`s is the
///   order in which they reach the driver.
/// - [`close`](ConnHandle::close) closes gracefully after the writes the
///   same caller queued before it; `on_close` follows as usual.
/// - Writes through a handle do not call [`on_write`](crate::Handler::on_write):
///   that callback paces what the handler itself writes.
/// - Once the connection is gone (its `on_close` is next, or done), every
///   call fails with [`Error::Closed`]; a write that reaches a connection
///   already closing is dropped.
///
/// Works the same in both drivers: over a [`Server`](crate::Server) it is
/// built on the poller's [`PollerHandle`]; over [`drive`](crate::drive),
/// [`connect`](crate::connect) and [`connect_unix`](crate::connect_unix),
/// on a small queue that the driver polls beside the connection, so a
/// handler written for one runs unchanged on the other.
///
/// Cheap to clone; `Send + Sync + 'static`.
///
/// # Examples
///
/// A handler whose `on_read` hands each request to a spawned task, which
/// replies after a while and closes; the server goes on meanwhile:
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use iochannels::{serve, Conn, Framing, Handler, PeerAddr};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// struct Slow;
/// impl Handler for Slow {
///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
///         let handle = conn.handle();
///         tokio::spawn(async move {
///             tokio::time::sleep(Duration::from_millis(20)).await;
///             let _ = handle.write(format!("done: {}", String::from_utf8_lossy(&line)));
///             let _ = handle.close();
///         });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = serve(listener, Framing::Lines, |_: &PeerAddr| Slow);
/// let stop = server.handle();
/// let running = tokio::spawn(server.run());
///
/// let mut client = tokio::net::TcpStream::connect(addr).await?;
/// client.write_all(b"work\n").await?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply).await?; // until the handle's close
/// assert_eq!(reply, "done: work\n");
///
/// stop.shutdown();
/// running.await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConnHandle {
    id: ConnId,
    /// The server worker (shard) whose poller `to` reaches; 0 elsewhere.
    worker: usize,
    to: To,
}

#[derive(Clone)]
enum To {
    Poller(PollerHandle, ChannelId),
    Task(Arc<TaskQueue>),
}

impl ConnHandle {
    /// `poller` must be the handle of the poller (the worker's shard) that
    /// owns `channel`: writes go through that shard's queue alone.
    pub(crate) fn on_poller(
        id: ConnId,
        worker: usize,
        poller: PollerHandle,
        channel: ChannelId,
    ) -> ConnHandle {
        ConnHandle {
            id,
            worker,
            to: To::Poller(poller, channel),
        }
    }

    pub(crate) fn on_task(id: ConnId, queue: Arc<TaskQueue>) -> ConnHandle {
        ConnHandle {
            id,
            worker: 0,
            to: To::Task(queue),
        }
    }

    /// The connection's id, as [`Conn::id`](crate::Conn::id) gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.handle().id(), conn.id());
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The worker the connection lives on, as
    /// [`ConnInfo::worker`](crate::ConnInfo::worker) gives it. A handle
    /// writes straight into that worker's poller queue, from any task: a
    /// broadcast over connections of every worker shares no lock between
    /// them.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.handle().worker(), conn.info().worker());
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Queues `data` to be written verbatim; never waits.
    ///
    /// The queue limit (8 MiB by default) is checked when the driver takes
    /// the write in, after this call has returned: a write that would pass
    /// it ends the connection, whose `on_close` gets
    /// [`Error::QueueFull`] (the peer is not reading).
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] once the connection is gone or its driver has
    ///   stopped.
    /// - [`Error::NotWritable`] if the connection has no write side.
    ///
    /// # Examples
    ///
    /// From a plain thread, over the per-task driver:
    ///
    /// ```
    /// use iochannels::{drive, Channel, Conn, Framing, Handler};
    ///
    /// struct FromThread;
    /// impl Handler for FromThread {
    ///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    ///         let handle = conn.handle();
    ///         std::thread::spawn(move || {
    ///             handle.write("from a thread\n").expect("connection open");
    ///             handle.close().expect("connection open");
    ///         });
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (channel, mut peer) = Channel::test();
    /// drive(channel.framed(Framing::Lines), FromThread).await;
    /// assert_eq!(peer.get(), "from a thread\n");
    /// # }
    /// ```
    pub fn write(&self, data: impl Into<Bytes>) -> Result<()> {
        match &self.to {
            To::Poller(poller, id) => poller.write(*id, data),
            To::Task(queue) => queue.send(Command::Write(data.into())),
        }
    }

    /// Closes the connection gracefully once the writes this caller queued
    /// before are sent; as [`Conn::close`](crate::Conn::close).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection is gone or its driver has stopped.
    ///
    /// # Examples
    ///
    /// See [`ConnHandle`] and [`write`](ConnHandle::write).
    pub fn close(&self) -> Result<()> {
        match &self.to {
            To::Poller(poller, id) => poller.close(*id),
            To::Task(queue) => queue.send(Command::Close),
        }
    }
}

impl fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let driver = match &self.to {
            To::Poller(..) => "server",
            To::Task(..) => "task",
        };
        f.debug_struct("ConnHandle")
            .field("id", &self.id)
            .field("worker", &self.worker)
            .field("driver", &driver)
            .finish()
    }
}

/// What a handle asks the per-task driver to do.
#[derive(Debug)]
pub(crate) enum Command {
    Write(Bytes),
    Close,
}

/// The per-task driver's end of its handles: commands in the order they
/// were sent, and the driver task's waker.
#[derive(Debug)]
pub(crate) struct TaskQueue {
    commands: Mutex<Commands>,
    waker: AtomicWaker,
    writable: bool,
}

#[derive(Debug, Default)]
struct Commands {
    queued: Vec<Command>,
    /// The driver has left its loop: every call fails.
    gone: bool,
}

impl TaskQueue {
    pub(crate) fn new(writable: bool) -> TaskQueue {
        TaskQueue {
            commands: Mutex::new(Commands::default()),
            waker: AtomicWaker::new(),
            writable,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Commands> {
        // Every change under the lock is one push or swap: a panic cannot
        // leave it half-done.
        self.commands.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, command: Command) -> Result<()> {
        let mut commands = self.lock();
        if commands.gone {
            return Err(Error::Closed);
        }
        if matches!(command, Command::Write(_)) && !self.writable {
            return Err(Error::NotWritable);
        }
        commands.queued.push(command);
        drop(commands);
        self.waker.wake();
        Ok(())
    }

    /// Takes what was sent, in order, into `into`; registers the driver's
    /// task to be woken by the next send.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut Vec<Command>) {
        self.waker.register(cx.waker());
        std::mem::swap(&mut self.lock().queued, into);
    }

    /// The driver has left its loop: later sends fail. Returns what was
    /// sent and not yet taken, so that writes made before this still go out.
    pub(crate) fn end(&self) -> Vec<Command> {
        let mut commands = self.lock();
        commands.gone = true;
        std::mem::take(&mut commands.queued)
    }
}
