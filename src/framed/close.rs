//! Ending a [`FramedChannel`]: half-close, graceful close with a deadline
//! and a lingering end, immediate abort, and how it ended (kaa's
//! `closed(expected)`). The [`Poller`](crate::Poller) closes its channels
//! through the same steps.
//!
//! A graceful close goes: flush → shut the write side down (the peer reads
//! EOF) → linger → release the fds. It must not hang on a peer that stops
//! reading (pitfall 14): the whole close has a deadline (the close timeout,
//! 10 s by default), after which it gives up, releases the fds anyway and
//! says how many bytes were left unsent.
//!
//! The linger and the release are in `linger.rs`.

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWrite;

use super::writer::WriteState;
use super::FramedChannel;
use crate::{Error, Result};

/// How long `close()` waits for pending writes by default.
pub(crate) const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How a channel ended, as far as it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A local `close()` or `abort()`: expected.
    Local,
    /// The peer ended its output, or reading failed: not expected.
    Remote,
}

impl FramedChannel {
    /// Flushes pending writes, then sends EOF to the peer; reading goes on.
    ///
    /// This is a half-close: the peer sees the end of our output, and can
    /// still answer. Later writes fail with [`Error::Closed`]. Idempotent.
    ///
    /// # Errors
    ///
    /// As [`write`](FramedChannel::write), for the pending writes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: calling it again finishes the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut cat = Channel::spawn(&mut tokio::process::Command::new("cat"))?.framed(Framing::Lines);
    /// cat.write(b"last words").await?;
    /// cat.shutdown_write().await?;
    /// assert_eq!(cat.read().await?.as_deref(), Some(&b"last words"[..]));
    /// assert_eq!(cat.read().await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown_write(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_shutdown_write(cx)).await
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.writer.state == WriteState::Shut {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_flush_sink(cx))?;
        let shut = ready!(Pin::new(&mut self.channel).poll_shutdown(cx));
        self.writer.state = WriteState::Shut;
        Poll::Ready(shut.map_err(|e| self.name_endpoint(Error::from_io_write(e))))
    }

    /// Closes the channel gracefully: flushes pending writes, sends EOF,
    /// ends reading and releases the channel's fds. Afterwards `read`,
    /// `try_read` and `write` return [`Error::Closed`], [`fd`](FramedChannel::fd)
    /// is `None`, and the peer's writes fail. Idempotent: a second call
    /// returns `Ok(())`.
    ///
    /// A TCP or Unix socket lingers before it is released: input still
    /// arriving is read and thrown away until the peer's EOF, until it has
    /// been quiet for 2 s (see [`set_linger`](FramedChannel::set_linger)),
    /// or until the close timeout. Releasing a socket with unread input
    /// would make the kernel reset the connection, and the peer would lose
    /// the replies still in flight to it. A peer that reads our output and
    /// then closes ends the linger at once.
    ///
    /// A peer that stops reading cannot hold it up for ever: after the close
    /// timeout (10 s unless [`set_close_timeout`](FramedChannel::set_close_timeout)
    /// says otherwise) the pending writes are dropped and the channel is
    /// closed all the same.
    ///
    /// # Errors
    ///
    /// If the pending writes could not be sent (the peer is gone:
    /// [`Error::Closed`]; the deadline passed: [`Error::Io`] of kind
    /// `TimedOut` saying how many bytes were unsent; another failure:
    /// [`Error::Io`]) the channel is closed all the same and the error says
    /// the data was not delivered.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: calling it again finishes the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Bytes);
    /// framed.close().await?;
    /// framed.close().await?;
    /// assert!(matches!(framed.write(b"late").await, Err(Error::Closed)));
    /// assert!(matches!(framed.read().await, Err(Error::Closed)));
    /// assert_eq!(peer.get(), "");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_close(cx)).await
    }

    /// Closes the channel now: pending writes are dropped, EOF is sent if
    /// that can be done without waiting, reading ends. Afterwards every
    /// call returns [`Error::Closed`], as after [`close`](FramedChannel::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::SinkExt;
    /// use iochannels::{Channel, Error, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// framed.feed(Bytes::from_static(b"never sent")).await?;
    /// framed.abort();
    /// assert_eq!(peer.get(), "");
    /// assert_eq!(framed.closed_expected(), Some(true));
    /// assert!(matches!(framed.write(b"x").await, Err(Error::Closed)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn abort(&mut self) {
        if self.closed {
            self.release();
            return;
        }
        self.writer.buf = BytesMut::new();
        if self.writer.state == WriteState::Open {
            // One try: shutdown(2) on a socket, closing a pipe or a child's stdin never waits.
            let channel = &mut self.channel;
            let _ = crate::poll_now::poll_now(|cx| Pin::new(&mut *channel).poll_shutdown(cx));
            self.writer.state = WriteState::Shut;
        }
        self.mark_closed();
        self.release();
    }

    /// Sets how long [`close`](FramedChannel::close) may take, writes and
    /// lingering included, before it gives up (default 10 s).
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.settings_mut().close_timeout = timeout;
    }

    /// How the channel ended, as kaa's `closed(expected)` tells: `None` while
    /// it has not; `Some(true)` after a local [`close`](FramedChannel::close)
    /// or [`abort`](FramedChannel::abort); `Some(false)` once the peer ended
    /// its output (a read returned `Ok(None)`) or reading failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// assert_eq!(framed.closed_expected(), None);
    /// peer.close();
    /// assert_eq!(framed.read().await?, None);
    /// assert_eq!(framed.closed_expected(), Some(false));
    /// # Ok(())
    /// # }
    /// ```
    pub fn closed_expected(&self) -> Option<bool> {
        self.ending.map(|e| e == Ending::Local)
    }

    /// Whether [`write`](FramedChannel::write) may be called: not closed,
    /// the write side not shut down, and the channel has one.
    pub fn is_writable(&self) -> bool {
        self.check_writable().is_ok()
    }

    /// The whole graceful close, as [`close`](FramedChannel::close) (and the
    /// `Sink`'s `poll_close`) runs it.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.released {
            return Poll::Ready(Ok(()));
        }
        self.start_close_clock(self.close_timeout());
        if !self.closed {
            match self.poll_shutdown_for_close(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    self.release();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending if self.close_clock_fired(cx) => {
                    let error = self.close_timed_out(0);
                    self.abort();
                    return Poll::Ready(Err(error));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        ready!(self.poll_linger(cx));
        Poll::Ready(Ok(()))
    }

    /// The error of a graceful close that ran out of time with bytes unsent
    /// (this channel's and `also_unsent` more of a poller's queue).
    pub(crate) fn close_timed_out(&self, also_unsent: usize) -> Error {
        let unsent = self.writer.buf.len() + also_unsent;
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "{}: graceful close gave up after {:?} with {unsent} bytes unsent: the peer is not reading",
                self.endpoint.describe(&self.channel),
                self.close_timeout()
            ),
        ))
    }

    pub(crate) fn poll_shutdown_for_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        let shut = ready!(self.poll_shutdown_write(cx));
        self.mark_closed();
        Poll::Ready(shut)
    }

    fn mark_closed(&mut self) {
        self.closed = true;
        self.ending.get_or_insert(Ending::Local);
        self.reader.finish();
        self.writer.buf = BytesMut::new();
    }

    /// Whether `close()` has been called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// `Closed` after a close or half-close, `NotWritable` for a channel
    /// made without a write side: refused before anything is queued, so a
    /// write that can never go out does not fail later and end the channel.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.writer.check_open()?;
        if !self.channel.has_writer() {
            return Err(Error::NotWritable);
        }
        Ok(())
    }
}
