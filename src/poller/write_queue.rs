//! The bytes [`Poller::write`](crate::Poller::write) queued for one channel:
//! kept as the `Bytes` the user gave (a broadcast shares one allocation
//! among all receivers) and written with vectored writes.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;

/// Chunks handed to one `writev`.
const MAX_SLICES: usize = 64;

/// Queued output of one channel.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl WriteQueue {
    pub(crate) fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands the queued bytes over (to a `FramedChannel` being unregistered).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Bytes> + '_ {
        self.len = 0;
        self.chunks.drain(..)
    }

    /// Writes until the queue is empty (`Ready(Ok)`) or the channel is full (`Pending`).
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<std::io::Result<()>> {
        while !self.chunks.is_empty() {
            let n = if io.is_write_vectored() && self.chunks.len() > 1 {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self
                    .chunks
                    .iter()
                    .take(MAX_SLICES)
                    .zip(slices.iter_mut())
                    .map(|(c, s)| *s = IoSlice::new(c))
                    .count();
                ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
            } else {
                let front = &self.chunks[0];
                ready!(Pin::new(&mut *io).poll_write(cx, front))?
            };
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.advance(n);
        }
        if self.chunks.capacity() > 4 * MAX_SLICES {
            // A burst grew it; give the memory back now it is empty.
            self.chunks = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}
