//! The write half of a [`FramedChannel`](crate::FramedChannel): the buffer
//! of encoded Sink frames, and writing it out to completion.
//!
//! A short write is not a closed peer (pitfall 12): writes loop until all is
//! out; `Ok(0)` is `WriteZero`. EPIPE/ECONNRESET become `Error::Closed`
//! through [`Error::from_io_write`]. Sink items are encoded into one buffer
//! and flushed once per `poll_flush`, not once per item (pitfall 15).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;

use crate::{Error, Result};

/// Sink items buffered past this are written out before another is accepted.
pub(crate) const SINK_HIGH_WATER: usize = 64 * 1024;

/// Where the write side is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteState {
    /// Writes are accepted.
    Open,
    /// `shutdown_write()` or `close()` has sent EOF: writes fail with `Closed`.
    Shut,
}

/// Encoded frames waiting to be written, and the write side's state.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) buf: BytesMut,
    pub(crate) state: WriteState,
    /// Bytes written so far.
    pub(crate) bytes_out: u64,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            buf: BytesMut::new(),
            state: WriteState::Open,
            bytes_out: 0,
        }
    }

    /// Writes `data` out until all of it is gone; `*written` counts progress
    /// so the call can resume after `Pending`.
    pub(crate) fn poll_write_all<W: AsyncWrite + Unpin>(
        cx: &mut Context<'_>,
        io: &mut W,
        data: &[u8],
        written: &mut usize,
    ) -> Poll<std::io::Result<()>> {
        while *written < data.len() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, &data[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes the buffered frames out, then flushes the channel.
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<Result<()>> {
        let result = ready!(self.poll_drain(cx, io));
        let result = match result {
            Ok(()) => ready!(Pin::new(&mut *io).poll_flush(cx)),
            Err(e) => Err(e),
        };
        Poll::Ready(result.map_err(Error::from_io_write))
    }

    fn poll_drain<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<std::io::Result<()>> {
        while !self.buf.is_empty() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, &self.buf))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.buf.advance(n);
            crate::trace::count!(self.bytes_out += n as u64);
        }
        if self.buf.capacity() > 4 * SINK_HIGH_WATER {
            // A burst grew it; don't keep that for ever.
            self.buf = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Fails with `Closed` once the write side has been shut.
    pub(crate) fn check_open(&self) -> Result<()> {
        match self.state {
            WriteState::Open => Ok(()),
            WriteState::Shut => Err(Error::Closed),
        }
    }
}
