//! [`FramedChannel`] as a `Stream` of frames and a `Sink` of frames: the
//! poll halves of `read` and of encoded writes.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};
use tokio_util::codec::Encoder;

use super::writer::SINK_HIGH_WATER;
use super::FramedChannel;
use crate::{Error, Result};

impl Stream for FramedChannel {
    type Item = Result<Bytes>;

    /// Frames and errors; `None` at the end of input, after `close()`, or
    /// after an error that would only repeat.
    ///
    /// [`Error::FrameTooLong`] is yielded and the stream goes on (the rest
    /// of that frame is skipped). Any other error (a read failure, an
    /// invalid framing, no read side) is yielded once and the stream ends,
    /// as tokio-util's `FramedRead` does: a consumer that logs errors and
    /// polls on would otherwise spin on the same error for ever.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = self.get_mut();
        if !this.stream_ended {
            if let Some(frame) = this.buffered_frame() {
                return Poll::Ready(Some(Ok(frame)));
            }
        }
        if this.closed || this.stream_ended || !this.reader.has_more() {
            return Poll::Ready(None);
        }
        let next = ready!(this.poll_read_unbuffered(cx)).transpose();
        if let Some(Err(e)) = &next {
            this.stream_ended = !matches!(e, Error::FrameTooLong { .. });
        }
        Poll::Ready(next)
    }
}

impl Sink<Bytes> for FramedChannel {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.check_writable()?;
        if this.writer.buf.len() >= SINK_HIGH_WATER {
            ready!(this.poll_flush_sink(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Encodes `item` as one frame of the current framing (see [`Framing`](crate::Framing)).
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<()> {
        let this = self.get_mut();
        this.check_writable()?;
        this.codec.encode(item, &mut this.writer.buf)?;
        this.count_frame_out();
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_sink(cx)
    }

    /// The same as [`FramedChannel::close`].
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_close(cx)
    }
}
