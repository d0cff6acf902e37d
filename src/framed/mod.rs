//! [`FramedChannel`]: what the seeds call a channel — frames in, bytes out —
//! over any [`Channel`]. Its public face and reading live here, writing
//! (`write`, `flush`, `queue`) in `write.rs`;
//! `parts.rs` has the accessors and unwrapping, `close.rs` the endings
//! (`linger.rs` the last steps of a graceful close),
//! `stream_sink.rs` the `Stream`/`Sink` impls, `connecting.rs` writes queued
//! before a connection exists, `write_file.rs` sendfile; the machinery is
//! in `reader.rs` (read buffer, decode loop) and `writer.rs` (write buffer).

mod close;
mod connecting;
mod linger;
mod parts;
mod reader;
mod stats;
mod stream_sink;
mod write;
mod write_file;
mod writer;

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use self::close::{Ending, DEFAULT_CLOSE_TIMEOUT};
use self::linger::CloseClock;
pub(crate) use self::linger::LINGER_IDLE;
use self::reader::Reader;
use self::writer::Writer;
use crate::channel::endpoint::Endpoint;

pub use self::connecting::Connecting;
pub use self::stats::ChannelStats;

/// Most bytes [`FramedChannel::queue`] lets wait by default (kaa's `queue_size`).
const DEFAULT_QUEUE_LIMIT: usize = 8 * 1024 * 1024;
use crate::{Channel, Error, FrameCodec, Framing, Result};

/// A [`Channel`] that reads frames and writes bytes: the seeds' channel.
///
/// Reads return one frame of the current [`Framing`] at a time, split off
/// the read buffer without copying. [`write`](FramedChannel::write) sends
/// bytes verbatim; the [`Sink`](futures::Sink) sends one frame per item, encoded so that a
/// peer reading with the same framing gets that frame back.
///
/// | call | gives |
/// |------|-------|
/// | [`read`](FramedChannel::read) | `Ok(Some(frame))`; `Ok(None)` once the peer closed and all is delivered; then `Err(Closed)` |
/// | [`try_read`](FramedChannel::try_read) | the same without waiting: `Ok(None)` means nothing complete yet; `Err(Closed)` ended and drained |
/// | [`write`](FramedChannel::write) | all bytes written and flushed; `Err(Closed)` if the peer is gone |
/// | [`close`](FramedChannel::close) | pending writes flushed, both sides closed; later calls `Err(Closed)` |
/// | [`shutdown_write`](FramedChannel::shutdown_write) | pending writes flushed, EOF sent; reading goes on |
///
/// An over-long frame gives `Err(FrameTooLong)` once; its rest is skipped
/// and the next read returns the next frame. As a [`Stream`](futures::Stream) the channel
/// yields `Ok(frame)`s and errors and ends (`None`) at the end of input,
/// after `close()`, or right after any error but `FrameTooLong`.
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
/// peer.put("GET /\nrest");
/// peer.close();
/// assert_eq!(framed.read().await?.as_deref(), Some(&b"GET /\n"[..]));
/// assert_eq!(framed.read().await?.as_deref(), Some(&b"rest"[..]));
/// assert_eq!(framed.read().await?, None);
/// # Ok(())
/// # }
/// ```
pub struct FramedChannel {
    channel: Channel,
    /// Who is at the other end, for error messages; taken when wrapped,
    /// since a reset socket no longer knows its peer.
    endpoint: Endpoint,
    codec: FrameCodec,
    reader: Reader,
    writer: Writer,
    /// `close()` or `abort()` has run: every read and write is `Err(Closed)`.
    closed: bool,
    /// How it ended, once it has: local close, or the peer / an error.
    ending: Option<Ending>,
    /// The `Stream` yielded an error that is not recoverable and has ended.
    stream_ended: bool,
    /// Frames returned, and writes made (bytes are counted by the reader
    /// and the writer).
    frames_in: u64,
    frames_out: u64,
    /// An error met by `buffered_frame`, for the next read to report
    /// (boxed: rare, and a poller holds thousands of these).
    pending_error: Option<Box<Error>>,
    /// The close timeout, the linger time and the queue limit, when one was
    /// set (boxed: most channels keep the defaults, and a poller holds
    /// thousands of channels).
    settings: Option<Box<Settings>>,
    /// Running while a graceful close is under way (boxed: it is rare).
    close_clock: Option<Box<CloseClock>>,
    /// The close is over and the channel's fds are released.
    released: bool,
}

impl FramedChannel {
    /// Wraps `channel` to read frames of `framing`; the same as
    /// [`Channel::framed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, FramedChannel, Framing};
    ///
    /// let (channel, _peer) = Channel::test();
    /// let framed = FramedChannel::new(channel, Framing::LengthPrefixed);
    /// assert_eq!(framed.framing(), &Framing::LengthPrefixed);
    /// ```
    pub fn new(channel: Channel, framing: Framing) -> FramedChannel {
        FramedChannel {
            endpoint: Endpoint::of(&channel),
            channel,
            codec: FrameCodec::new(framing),
            reader: Reader::new(),
            writer: Writer::new(),
            closed: false,
            ending: None,
            stream_ended: false,
            pending_error: None,
            frames_in: 0,
            frames_out: 0,
            settings: None,
            close_clock: None,
            released: false,
        }
    }

    /// The next frame if one is whole in the read buffer now, without
    /// reading from the channel; `None` otherwise (or on an error, which the
    /// next read reports). The hot path of every read: the Stream, `read`
    /// and the Poller start here.
    #[inline]
    pub(crate) fn buffered_frame(&mut self) -> Option<Bytes> {
        // An error waiting to be reported goes before any frame after it.
        if self.closed || self.pending_error.is_some() {
            return None;
        }
        match self.reader.buffered_frame(&mut self.codec) {
            Ok(Some(frame)) => {
                crate::trace::count!(self.frames_in += 1);
                Some(frame)
            }
            Ok(None) => None,
            Err(e) => {
                self.hold_error(e);
                None
            }
        }
    }

    /// Keeps a decode error for the next read to report (the codec's state
    /// says so); out of the hot path.
    #[cold]
    fn hold_error(&mut self, e: Error) {
        self.pending_error = Some(Box::new(e));
    }

    /// Polls for the next frame; the poll half of [`read`](FramedChannel::read).
    ///
    /// # Errors
    ///
    /// As [`read`](FramedChannel::read).
    #[inline]
    pub fn poll_read_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        if let Some(frame) = self.buffered_frame() {
            return Poll::Ready(Ok(Some(frame)));
        }
        self.poll_read_unbuffered(cx)
    }

    /// `poll_read_frame` once no frame is whole in the buffer: errors, the
    /// end, and reading. Kept out of line so the hot path above stays small
    /// where it is inlined.
    #[inline(never)]
    pub(crate) fn poll_read_unbuffered(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>>> {
        if self.closed {
            return Poll::Ready(Err(Error::Closed));
        }
        if let Some(e) = self.pending_error.take() {
            return Poll::Ready(Err(self.name_endpoint(*e)));
        }
        let polled = self
            .reader
            .poll_frame(cx, &mut self.channel, &mut self.codec);
        match &polled {
            Poll::Ready(Ok(Some(_))) => crate::trace::count!(self.frames_in += 1),
            Poll::Ready(Ok(None) | Err(Error::Io(_))) => {
                self.ending.get_or_insert(Ending::Remote);
            }
            _ => {}
        }
        polled.map_err(|e| self.name_endpoint(e))
    }

    /// The next frame, waiting for it.
    ///
    /// Returns `Ok(None)` once the peer has closed and every frame, the last
    /// partial one included, has been returned.
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`] after `Ok(None)` was returned, or after `close()`.
    /// - [`Error::FrameTooLong`] for an over-long frame; the next read
    ///   returns the frame after it.
    /// - [`Error::NotReadable`] if the channel has no read side.
    /// - [`Error::Io`] for a read failure (a reset peer, ...), naming the endpoint.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if dropped before it completes, no frame is lost; bytes
    /// read so far stay buffered for the next call.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Exact(3));
    /// peer.put("abcde");
    /// peer.close();
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"abc"[..]));
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"de"[..]));
    /// assert_eq!(framed.read().await?, None);
    /// assert!(matches!(framed.read().await, Err(Error::Closed)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read(&mut self) -> Result<Option<Bytes>> {
        std::future::poll_fn(|cx| self.poll_read_frame(cx)).await
    }

    /// The next frame if one is complete now, without waiting.
    ///
    /// Reads what the channel has ready, then returns `Ok(Some(frame))`, or
    /// `Ok(None)` if no complete frame is there yet.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the input has ended and every frame was
    /// returned (or after `close()`); otherwise as [`read`](FramedChannel::read).
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
    /// peer.put("half");
    /// assert_eq!(framed.try_read()?, None);
    /// peer.put(" a line\n");
    /// assert_eq!(framed.try_read()?.as_deref(), Some(&b"half a line\n"[..]));
    /// peer.close();
    /// assert!(matches!(framed.try_read(), Err(Error::Closed)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_read(&mut self) -> Result<Option<Bytes>> {
        match crate::poll_now::poll_now(|cx| self.poll_read_frame(cx)) {
            Some(Ok(Some(frame))) => Ok(Some(frame)),
            // The end, reported here as the error the contract gives to a drained channel.
            Some(Ok(None)) => Err(Error::Closed),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    /// How long a graceful close may take.
    pub(crate) fn close_timeout(&self) -> Duration {
        self.settings
            .as_ref()
            .map_or(DEFAULT_CLOSE_TIMEOUT, |s| s.close_timeout)
    }

    /// How long a closing socket waits for more input before release.
    pub(crate) fn linger(&self) -> Duration {
        self.settings.as_ref().map_or(LINGER_IDLE, |s| s.linger)
    }

    pub(crate) fn settings_mut(&mut self) -> &mut Settings {
        self.settings.get_or_insert_with(|| {
            Box::new(Settings {
                close_timeout: DEFAULT_CLOSE_TIMEOUT,
                linger: LINGER_IDLE,
                queue_limit: DEFAULT_QUEUE_LIMIT,
            })
        })
    }

    /// What went through this channel so far.
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            bytes_in: self.reader.bytes_in,
            frames_in: self.frames_in,
            bytes_out: self.writer.bytes_out,
            frames_out: self.frames_out,
            queued: self.writer.buf.len(),
            ..ChannelStats::default()
        }
    }

    /// A Sink item was encoded.
    pub(crate) fn count_frame_out(&mut self) {
        crate::trace::count!(self.frames_out += 1);
    }

    /// What [`Channel::describe`] said of its channel: kind and addresses.
    #[cfg(feature = "tracing")]
    pub(crate) fn endpoint_text(&self) -> String {
        self.endpoint.describe(&self.channel)
    }

    /// Adds the endpoint's description to I/O errors.
    pub(crate) fn name_endpoint(&self, e: Error) -> Error {
        match e {
            Error::Io(io) => Error::Io(crate::error::io_at(
                self.endpoint.describe(&self.channel),
                io,
            )),
            other => other,
        }
    }
}

/// What a channel was told instead of the defaults.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) close_timeout: Duration,
    pub(crate) linger: Duration,
    pub(crate) queue_limit: usize,
}

impl fmt::Debug for FramedChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramedChannel")
            .field("channel", &self.channel)
            .field("framing", self.codec.framing())
            .field("read_buffered", &self.reader.buffered().len())
            .field("write_buffered", &self.writer.buf.len())
            .field("closed", &self.closed)
            .finish()
    }
}
