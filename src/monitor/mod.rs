//! [`IoMonitor`]: kaa's `IOMonitor` — readiness of any pollable fd that is
//! not a channel, as a `Stream` of [`Readiness`] events.
//!
//! `readiness.rs` holds the two small types ([`Interest`], [`Readiness`]),
//! `setup.rs` the checks and flag handling around the fd; this file holds
//! the monitor and its `Stream`.
//!
//! How, without `unsafe`: `AsyncFd::new` is deprecated as unsound and
//! `AsyncFd::register` is `unsafe`, but tokio's `pipe::Receiver` /
//! `pipe::Sender` take an `OwnedFd` safely and register any pollable fd with
//! the reactor (for reading resp. writing) — they assume nothing about it
//! being a pipe. The monitor registers private duplicates of the fd through
//! them, only for readiness; the user's I/O goes to the fd itself.

mod readiness;
mod setup;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FusedStream;
use futures::{FutureExt, Stream};
use rustix::fs::FileType;
use tokio::io::Interest as TokioInterest;
use tokio::net::unix::pipe;

use self::setup::{check_access, dup, registration_error, unwatchable};
use crate::channel::nonblock::NonBlocking;
use crate::error::io_at;
use crate::Result;

pub use self::readiness::{Interest, Readiness};

/// Watches an fd that is not a channel — an eventfd, a timerfd, an inotify
/// fd, a device, a socket or pipe used by other code — for read and write
/// readiness, as a [`Stream`] of [`Readiness`] events.
///
/// The monitor owns the fd (so it cannot be closed and reused under the
/// reactor's feet) and sets it non-blocking; do the I/O on
/// [`fd`](IoMonitor::fd), and take it back with
/// [`into_inner`](IoMonitor::into_inner).
///
/// # Edge semantics: drain before the next event
///
/// Each event is yielded once, and the monitor forgets it as it yields it.
/// The next event comes when the fd becomes ready *again*: new data
/// arrives, room frees up. So after an event, read (or write) on the fd
/// until it fails with `WouldBlock` (EAGAIN), then poll the monitor again.
/// Stopping early is allowed, but the data (or room) left over does not make
/// another event by itself — as with tokio's `AsyncFd` or `epoll` with
/// `EPOLLET`. An event can also be spurious (the I/O finds `WouldBlock` at
/// once); that is harmless.
///
/// A closed direction is final: the event that reports
/// [`is_read_closed`](Readiness::is_read_closed) (resp.
/// [`is_write_closed`](Readiness::is_write_closed)) is the last one for that
/// direction, and once every watched direction is closed the stream ends.
///
/// # O_NONBLOCK
///
/// The flag lives on the open file description, shared with every
/// duplicate of the fd (an inherited stdin is shared with the shell,
/// pitfall 19). The monitor sets it when the fd lacks it and puts the
/// original flags back when it is dropped or [`into_inner`](IoMonitor::into_inner)
/// is called.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{Interest, IoMonitor};
/// use std::io::Write;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (reader, mut writer) = std::io::pipe()?;
/// let mut monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
/// writer.write_all(b"ping")?;
/// let event = monitor.next().await.expect("an event")?;
/// assert!(event.is_readable());
/// // Drain until WouldBlock before waiting for the next event.
/// let mut buf = [0u8; 64];
/// assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Ok(4));
/// assert_eq!(rustix::io::read(monitor.fd(), &mut buf), Err(rustix::io::Errno::AGAIN));
/// # Ok(())
/// # }
/// ```
pub struct IoMonitor {
    /// Registered duplicates, one per watched direction; `None` once that
    /// direction was reported closed (or was never watched).
    read: Option<pipe::Receiver>,
    write: Option<pipe::Sender>,
    /// Puts O_NONBLOCK back as it was; dropped after the registrations.
    restore: Option<NonBlocking>,
    /// The fd itself, never registered: the user's I/O goes here.
    fd: OwnedFd,
}

impl IoMonitor {
    /// Starts watching `fd` for `interest`.
    ///
    /// The fd can be anything epoll can watch: a pipe, FIFO, socket, tty,
    /// eventfd, timerfd, signalfd, inotify fd, most character devices. It is
    /// set non-blocking (see the type's docs).
    ///
    /// # Errors
    ///
    /// An `Error::Io` whose message names the fd:
    ///
    /// - of kind `Unsupported` for an fd epoll cannot watch — a regular
    ///   file, a directory, a block device, `/dev/null`: those are always
    ///   ready, so read or write them directly;
    /// - of kind `InvalidInput` for an fd not open for the direction asked
    ///   (`Readable` on a write-only fd, `Writable` on a read-only one);
    /// - for any failing `fstat`/`fcntl`/registration, or when no tokio
    ///   runtime is running.
    ///
    /// The fd is closed on error; its flags are left as they were.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Error, Interest, IoMonitor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let file = tempfile::tempfile()?;
    /// match IoMonitor::new(file.into(), Interest::Readable) {
    ///     Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
    ///     other => panic!("a regular file cannot be watched: {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(fd: OwnedFd, interest: Interest) -> Result<IoMonitor> {
        let raw = fd.as_raw_fd();
        let at = |what: &str| format!("watching fd {raw}: {what}");
        if tokio::runtime::Handle::try_current().is_err() {
            let e = io::Error::other("an IoMonitor must be made inside a tokio runtime");
            return Err(io_at(at("no runtime"), e).into());
        }
        let stat = rustix::fs::fstat(&fd).map_err(|e| io_at(at("fstat"), e.into()))?;
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Some("a regular file"),
            FileType::Directory => Some("a directory"),
            FileType::BlockDevice => Some("a block device"),
            _ => None,
        };
        if let Some(kind) = kind {
            return Err(unwatchable(raw, kind).into());
        }
        let flags = rustix::fs::fcntl_getfl(&fd).map_err(|e| io_at(at("fcntl"), e.into()))?;
        check_access(raw, flags, interest)?;

        let mut monitor = IoMonitor {
            read: None,
            write: None,
            restore: None,
            fd,
        };
        // Set before registering, so an error below restores it too; also
        // when already non-blocking: a channel may have set it, and must not
        // take it off while the monitor still watches.
        monitor.restore = Some(NonBlocking::set(monitor.fd.as_fd())?);
        // epoll keys its entries on (fd, open file description): duplicates
        // of one description register side by side, each for its direction.
        if interest.is_readable() {
            let copy = dup(&monitor.fd)?;
            let rx = pipe::Receiver::from_owned_fd_unchecked(copy)
                .map_err(|e| registration_error(raw, e))?;
            monitor.read = Some(rx);
        }
        if interest.is_writable() {
            let copy = dup(&monitor.fd)?;
            let tx = pipe::Sender::from_owned_fd_unchecked(copy)
                .map_err(|e| registration_error(raw, e))?;
            monitor.write = Some(tx);
        }
        Ok(monitor)
    }

    /// The watched fd, to read from or write to after an event (until
    /// `WouldBlock`: see the type's docs). It is non-blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use iochannels::{Interest, IoMonitor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (reader, _writer) = std::io::pipe()?;
    /// let raw = reader.as_raw_fd();
    /// let monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    /// assert_eq!(monitor.fd().as_raw_fd(), raw);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Stops watching and gives the fd back, with the flags it came with
    /// (O_NONBLOCK cleared again if the monitor set it).
    ///
    /// Putting the flags back is best effort: `fcntl(F_SETFL)` on an open fd
    /// does not fail on Linux, and the fd is returned either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Interest, IoMonitor};
    /// use rustix::fs::{fcntl_getfl, OFlags};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (reader, _writer) = std::io::pipe()?;
    /// let monitor = IoMonitor::new(reader.into(), Interest::Readable)?;
    /// assert!(fcntl_getfl(monitor.fd())?.contains(OFlags::NONBLOCK));
    /// let fd = monitor.into_inner();
    /// assert!(!fcntl_getfl(&fd)?.contains(OFlags::NONBLOCK));
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(self) -> OwnedFd {
        let IoMonitor {
            read,
            write,
            restore,
            fd,
        } = self;
        // Deregister first, then restore the flags, then hand the fd over.
        drop((read, write));
        drop(restore);
        fd
    }
}

impl Stream for IoMonitor {
    type Item = Result<Readiness>;

    /// The next readiness event; `None` once every watched direction has
    /// been reported closed.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Readiness>>> {
        let this = self.get_mut();
        if this.is_terminated() {
            return Poll::Ready(None);
        }
        let raw = this.fd.as_raw_fd();
        let mut event = Readiness::NONE;
        // Both directions are polled every time, so both hold `cx`'s waker.
        if let Some(rx) = &this.read {
            if let Poll::Ready(ready) = poll_side(
                cx,
                |cx| rx.poll_read_ready(cx),
                || rx.ready(TokioInterest::READABLE).now_or_never(),
                || rx.try_io(would_block),
            ) {
                let ready = ready.map_err(|e| io_at(format!("watching fd {raw}"), e))?;
                // At the end a read does not block either (it returns 0):
                // readable, as select(2) says, whatever epoll flags came.
                event.read_closed = ready.is_read_closed();
                event.readable = ready.is_readable() || event.read_closed;
            }
        }
        if let Some(tx) = &this.write {
            if let Poll::Ready(ready) = poll_side(
                cx,
                |cx| tx.poll_write_ready(cx),
                || tx.ready(TokioInterest::WRITABLE).now_or_never(),
                || tx.try_io(would_block),
            ) {
                let ready = ready.map_err(|e| io_at(format!("watching fd {raw}"), e))?;
                // Nor does a write to a closed side (it fails with EPIPE).
                event.write_closed = ready.is_write_closed();
                event.writable = ready.is_writable() || event.write_closed;
            }
        }
        if event.is_empty() {
            return Poll::Pending;
        }
        // A closed direction stays "ready" in tokio for ever: stop watching
        // it, or every later poll would report it again.
        if event.read_closed {
            this.read = None;
        }
        if event.write_closed {
            this.write = None;
        }
        Poll::Ready(Some(Ok(event)))
    }
}

impl FusedStream for IoMonitor {
    fn is_terminated(&self) -> bool {
        self.read.is_none() && self.write.is_none()
    }
}

impl AsFd for IoMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for IoMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for IoMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoMonitor")
            .field("fd", &self.fd.as_raw_fd())
            .field("watching_read", &self.read.is_some())
            .field("watching_write", &self.write.is_some())
            .finish()
    }
}

/// One direction's turn: waits for readiness (keeping `cx`'s waker), reads
/// which flags it has, and clears it — the clear is what makes the next
/// event wait for the fd to become ready again.
fn poll_side(
    cx: &mut Context<'_>,
    poll_ready: impl Fn(&mut Context<'_>) -> Poll<io::Result<()>>,
    flags: impl Fn() -> Option<io::Result<tokio::io::Ready>>,
    clear: impl Fn() -> io::Result<()>,
) -> Poll<io::Result<tokio::io::Ready>> {
    // Twice at most: a readiness that turns out empty is cleared, and the
    // second poll then registers the waker (or finds a new event).
    for _ in 0..2 {
        if let Err(e) = std::task::ready!(poll_ready(cx)) {
            return Poll::Ready(Err(e));
        }
        // The flags are set (that is what `poll_ready` saw), so this
        // completes at once; it is how tokio tells closed from ready.
        let ready = flags();
        // Clearing only ever drops a readiness tokio has not seen change
        // since; it returns `WouldBlock` by design.
        let _ = clear();
        match ready {
            Some(Ok(ready)) if !ready.is_empty() => return Poll::Ready(Ok(ready)),
            Some(Err(e)) => return Poll::Ready(Err(e)),
            _ => continue,
        }
    }
    // Still nothing: come back rather than sleep without a waker.
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// The "operation" handed to tokio's `try_io` to clear a readiness.
fn would_block() -> io::Result<()> {
    Err(io::ErrorKind::WouldBlock.into())
}
