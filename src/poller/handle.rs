//! [`PollerHandle`]: a poller's channels from any task or thread — write,
//! close, register — without waiting for the poller.
//!
//! A handle call checks the id against the shared [`Ids`] (a gone id is
//! `Err(Closed)` at once), queues a command, and wakes the poller's task,
//! which applies the commands, in the order they were queued, at the start
//! of its next turn. One queue for every handle: what one sender queued
//! keeps its order, so its writes to an id go out before its close of it.
//! Events still come only from the poller's own `Stream`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::datagrams::is_datagram;
use super::ids::Ids;
use super::ready::ReadyQueue;
use super::{ChannelId, Poller, PollerTotals};
use crate::{Error, FramedChannel, Result};

/// What a handle asks the poller to do.
pub(crate) enum Command {
    Write(ChannelId, Bytes),
    Close(ChannelId),
    // Boxed: writes are the common command, a channel is large.
    Register(ChannelId, Box<FramedChannel>),
}

/// What a poller shares with its handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ids: Arc<Ids>,
    queue: Arc<ReadyQueue>,
    commands: Mutex<Vec<Command>>,
    /// Commands wait: the poller looks without taking the lock otherwise.
    pending: AtomicBool,
    /// The poller is dropped or ended (`close_all`): every call fails.
    gone: AtomicBool,
    /// The poller's totals as of its last turn, for handles to read.
    totals: Mutex<PollerTotals>,
}

impl Shared {
    pub(crate) fn new(ids: Arc<Ids>, queue: Arc<ReadyQueue>) -> Shared {
        Shared {
            ids,
            queue,
            commands: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            totals: Mutex::new(PollerTotals::default()),
        }
    }

    /// Copies the poller's totals out for handles; never waits (a handle
    /// reading them at that moment makes this turn skip it).
    pub(crate) fn publish(&self, totals: PollerTotals) {
        if let Ok(mut shared) = self.totals.try_lock() {
            *shared = totals;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Command>> {
        self.commands.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, command: Command) -> Result<()> {
        let mut commands = self.lock();
        // Checked under the lock: `end` takes it too, so no command slips
        // in after the poller stopped taking them.
        if self.gone.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        commands.push(command);
        self.pending.store(true, Ordering::Release);
        drop(commands);
        self.queue.wake_task();
        Ok(())
    }

    /// Whether handles queued commands the poller has not taken yet.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes every queued command into `into` (in order), if any.
    pub(crate) fn take(&self, into: &mut Vec<Command>) {
        if self.pending.swap(false, Ordering::AcqRel) {
            std::mem::swap(&mut *self.lock(), into);
        }
    }

    /// The poller is gone: later calls fail; queued commands are dropped.
    pub(crate) fn end(&self) {
        let mut commands = self.lock();
        self.gone.store(true, Ordering::Release);
        commands.clear();
    }

    fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }
}

/// A handle to a [`Poller`](crate::Poller)'s channels, for any task or
/// thread: [`write`](PollerHandle::write), [`close`](PollerHandle::close)
/// and [`register`](PollerHandle::register) as the poller's own methods do,
/// while the poller's task owns the poller and takes its events.
///
/// A call never waits for the poller: it queues the request and wakes the
/// poller's task, which carries it out on its next turn. Requests from one
/// sender are carried out in the order they were made, so writes made
/// before a `close(id)` go out before it. Events (for channels registered
/// here too) come only from the poller's `Stream`.
///
/// Cheap to clone; `Send + Sync + 'static`.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{Channel, Event, Framing, Poller};
///
/// # #[tokio::main]
/// # async fn main() -> iochannels::Result<()> {
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, mut peer) = Channel::test();
/// let id = poller.register(channel.framed(Framing::Lines));
/// let handle = poller.handle();
/// // Another task replies later, through the handle.
/// let worker = tokio::spawn(async move {
///     handle.write(id, "done\n")?;
///     handle.close(id)
/// });
/// while let Some(event) = poller.next().await {
///     if let Event::Closed { error: None, .. } = event {
///         break;
///     }
/// }
/// worker.await.expect("worker")?;
/// assert_eq!(peer.get(), "done\n");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PollerHandle {
    shared: Arc<Shared>,
}

impl PollerHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> PollerHandle {
        PollerHandle { shared }
    }

    /// Queues `data` to be written to channel `id`, after everything this
    /// handle's caller queued before; as [`Poller::write`](crate::Poller::write).
    ///
    /// The queue limit is checked when the poller carries the write out,
    /// after this call has returned: a write that would pass it ends the
    /// channel with `Event::Closed { error: Some(Error::QueueFull { .. }) }`
    /// (its peer is not reading).
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] if `id` is gone (its `Closed` was yielded) or
    ///   the poller is dropped or ended.
    /// - [`Error::NotWritable`] if the channel has no write side.
    ///
    /// # Examples
    ///
    /// See [`PollerHandle`].
    pub fn write(&self, id: ChannelId, data: impl Into<Bytes>) -> Result<()> {
        self.check(id)?;
        self.shared.send(Command::Write(id, data.into()))
    }

    /// Closes channel `id` gracefully once the writes queued before are
    /// sent; as [`Poller::close`](crate::Poller::close).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if `id` is gone or the poller is dropped or ended.
    pub fn close(&self, id: ChannelId) -> Result<()> {
        match self.check(id) {
            Ok(()) | Err(Error::NotWritable) => self.shared.send(Command::Close(id)),
            Err(e) => Err(e),
        }
    }

    /// Registers `channel` with the poller; its events (all of them, from
    /// the first `Data`) come from the poller's `Stream` under the id
    /// returned, which is valid at once (a write to it queued now goes out
    /// once the poller has taken the channel in).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the poller is dropped or ended; the channel is
    /// dropped then.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Event, Framing, Poller};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let handle = poller.handle();
    /// let (channel, mut peer) = Channel::test();
    /// let id = std::thread::spawn(move || handle.register(channel.framed(Framing::Lines)))
    ///     .join()
    ///     .expect("thread")?;
    /// peer.put("from a thread\n");
    /// match poller.next().await {
    ///     Some(Event::Data { id: from, data }) => {
    ///         assert_eq!(from, id);
    ///         assert_eq!(&data[..], b"from a thread\n");
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn register(&self, channel: FramedChannel) -> Result<ChannelId> {
        if self.shared.is_gone() {
            return Err(Error::Closed);
        }
        let id = self.shared.ids.allocate(channel.is_writable());
        match self.shared.send(Command::Register(id, Box::new(channel))) {
            Ok(()) => Ok(id),
            Err(e) => {
                self.shared.ids.free(id.index);
                Err(e)
            }
        }
    }

    /// The poller's [`totals`](crate::Poller::totals) as of its last turn,
    /// from any task or thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let handle = poller.handle();
    /// let (channel, mut peer) = Channel::test();
    /// poller.register(channel.framed(Framing::Lines));
    /// peer.put("hi\n");
    /// poller.next().await;
    /// let totals = std::thread::spawn(move || handle.totals()).join().expect("thread");
    /// assert_eq!(totals.registered, 1);
    /// # }
    /// ```
    pub fn totals(&self) -> PollerTotals {
        *self.shared.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the poller is gone (dropped, or ended by `close_all`).
    pub fn is_closed(&self) -> bool {
        self.shared.is_gone()
    }

    fn check(&self, id: ChannelId) -> Result<()> {
        if self.shared.is_gone() {
            return Err(Error::Closed);
        }
        if is_datagram(id) {
            // Datagram channels are not in the shared ids: the poller drops
            // a request for one that is gone.
            return Ok(());
        }
        self.shared.ids.check_writable(id)
    }
}

impl fmt::Debug for PollerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerHandle")
            .field("closed", &self.shared.is_gone())
            .finish()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Write(id, data) => write!(f, "Write({id:?}, {} bytes)", data.len()),
            Command::Close(id) => write!(f, "Close({id:?})"),
            Command::Register(id, _) => write!(f, "Register({id:?})"),
        }
    }
}

impl Poller {
    /// Carries out what handles asked for, in the order they asked.
    pub(super) fn apply_commands(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        self.shared.take(&mut commands);
        for command in commands.drain(..) {
            match command {
                Command::Write(id, data) if is_datagram(id) => {
                    let _ = self.datagrams.send(id, data, None, &self.limits);
                }
                Command::Write(id, data) => {
                    if let Err(e @ Error::QueueFull { .. }) =
                        self.channels.write(id, data, &self.limits)
                    {
                        // The caller has returned: the channel's end says it.
                        let _ = self.channels.abort(id, Some(e), &mut self.events);
                    }
                }
                // Gone meanwhile: its `Closed` is out, nothing to do.
                Command::Close(id) => {
                    let _ = self.close(id);
                }
                Command::Register(id, framed) => {
                    self.channels.insert_as(id, *framed);
                    self.idle.watch(id, &mut self.channels);
                }
            }
        }
        self.commands = commands;
    }
}
