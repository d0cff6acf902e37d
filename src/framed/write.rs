//! [`FramedChannel`]'s write side: [`write`](FramedChannel::write),
//! [`flush`](FramedChannel::flush), [`queue`](FramedChannel::queue) and its
//! limit. Bytes go out verbatim whatever the framing, after anything the
//! Sink queued; the buffer and its counters are the [`Writer`]'s.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

use super::writer::Writer;
use super::{FramedChannel, DEFAULT_QUEUE_LIMIT};
use crate::{Error, Result};

impl FramedChannel {
    /// Writes all of `data`, verbatim whatever the framing, and flushes.
    /// Frames queued through the [`Sink`](futures::Sink) and not yet flushed go first.
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] after `close()`/`shutdown_write()`, or when the
    ///   peer is gone (EPIPE, ECONNRESET): never a SIGPIPE death.
    /// - [`Error::NotWritable`] if the channel has no write side.
    /// - [`Error::Io`] for any other failure, naming the endpoint.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if dropped before it completes, a prefix of `data`
    /// may have been written.
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
    /// framed.write(b"no newline added").await?;
    /// assert_eq!(peer.get(), "no newline added");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn write(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        let data = data.as_ref();
        self.check_writable()?;
        crate::trace::count!(self.frames_out += 1);
        let mut written = 0;
        std::future::poll_fn(|cx| {
            ready!(self.writer.poll_flush(cx, &mut self.channel))
                .map_err(|e| self.name_endpoint(e))?;
            let before = written;
            let all = Writer::poll_write_all(cx, &mut self.channel, data, &mut written);
            crate::trace::count!(self.writer.bytes_out += (written - before) as u64);
            ready!(all).map_err(|e| self.name_endpoint(Error::from_io_write(e)))?;
            let flushed = ready!(Pin::new(&mut self.channel).poll_flush(cx));
            Poll::Ready(flushed.map_err(|e| self.name_endpoint(Error::from_io_write(e))))
        })
        .await
    }

    /// Writes out every frame queued through the [`Sink`](futures::Sink), and flushes.
    ///
    /// # Errors
    ///
    /// As [`write`](FramedChannel::write).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: what was not written stays queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::SinkExt;
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// framed.feed(Bytes::from_static(b"a")).await?;
    /// framed.feed(Bytes::from_static(b"b")).await?;
    /// framed.flush().await?;
    /// assert_eq!(peer.get(), "a\nb\n");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_flush_sink(cx)).await
    }

    /// Queues `data` to be written verbatim, without waiting; it goes out
    /// with the next [`flush`](FramedChannel::flush), `write` or `close`,
    /// in order. kaa's write queue: past the queue limit (8 MiB unless
    /// [`set_queue_limit`](FramedChannel::set_queue_limit) says otherwise)
    /// the write is refused rather than grow memory.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] past the limit (nothing is queued then);
    /// [`Error::Closed`] after `close()` or `shutdown_write()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// framed.set_queue_limit(8);
    /// framed.queue(b"hello\n")?;
    /// assert!(matches!(framed.queue(b"world\n"), Err(Error::QueueFull { limit: 8 })));
    /// assert_eq!(framed.write_buffer_len(), 6);
    /// framed.flush().await?;
    /// assert_eq!(peer.get(), "hello\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn queue(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        self.check_writable()?;
        let data = data.as_ref();
        let limit = self.queue_limit();
        if self.writer.buf.len() + data.len() > limit {
            return Err(Error::QueueFull { limit });
        }
        self.writer.buf.extend_from_slice(data);
        crate::trace::count!(self.frames_out += 1);
        Ok(())
    }

    /// Sets the most bytes [`queue`](FramedChannel::queue) lets wait (default 8 MiB).
    pub fn set_queue_limit(&mut self, limit: usize) {
        self.settings_mut().queue_limit = limit;
    }

    fn queue_limit(&self) -> usize {
        self.settings
            .as_ref()
            .map_or(DEFAULT_QUEUE_LIMIT, |s| s.queue_limit)
    }

    pub(crate) fn poll_flush_sink(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let flushed = ready!(self.writer.poll_flush(cx, &mut self.channel));
        Poll::Ready(flushed.map_err(|e| self.name_endpoint(e)))
    }

    /// Appends bytes to be written verbatim before anything sent later (a
    /// poller hands its queue back this way on `unregister`).
    pub(crate) fn queue_unsent(&mut self, data: &[u8]) {
        self.writer.buf.extend_from_slice(data);
    }
}
