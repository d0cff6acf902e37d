//! [`Poller::write`] and the bytes it queued for one channel.
//!
//! Large writes are kept as the `Bytes` the user gave (a broadcast of a big
//! frame shares one allocation among all receivers); small ones are copied
//! into one contiguous tail buffer, so a flood of tiny frames costs its
//! bytes and not a `Bytes` handle (and a shared allocation) per frame: the
//! queue limit then bounds memory, not just payload.
//!
//! Chunks are written with plain `poll_write`, never `writev`: for sockets
//! tokio's `poll_write` is `send(MSG_NOSIGNAL)`, while `writev` would raise
//! SIGPIPE on a peer that is gone (pitfall 17).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

use super::datagrams::is_datagram;
use super::{ChannelId, Poller};
use crate::Result;

// ===== impl Poller =====

impl Poller {
    /// Queues `data` to be written to channel `id`; never waits. The bytes
    /// go out, in order, as the poller is polled.
    ///
    /// # Errors
    ///
    /// - [`Error::Closed`](crate::Error::Closed) if `id` is not registered,
    ///   or is being closed.
    /// - [`Error::QueueFull`](crate::Error::QueueFull) if the channel's
    ///   queued output would pass the limit: its peer is not reading.
    /// - [`Error::NotWritable`](crate::Error::NotWritable) if the channel
    ///   has no write side (a pipe with only a faucet); nothing is queued
    ///   and the channel goes on being read.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{Channel, Framing, Poller};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// poller.write(id, "hello\n")?;
    /// let _ = poller.poll(Some(std::time::Duration::from_millis(1))).await;
    /// assert_eq!(peer.get(), "hello\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn write(&mut self, id: ChannelId, data: impl Into<Bytes>) -> Result<()> {
        if is_datagram(id) {
            return self.datagrams.send(id, data.into(), None, &self.limits);
        }
        if self.shared.has_pending() {
            // A channel registered through a handle may not be taken in yet:
            // take what handles queued now (one atomic load otherwise).
            self.apply_commands();
        }
        self.channels.write(id, data.into(), &self.limits)
    }
}

// ===== impl WriteQueue =====

/// Writes shorter than this are copied into the tail instead of queued as a handle.
const COPY_BELOW: usize = 512;

/// Queued output of one channel, in order: `chunks`, then `tail`.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
    /// Bytes written out so far.
    pub(crate) sent: u64,
}

impl WriteQueue {
    pub(crate) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        if data.len() < COPY_BELOW {
            self.tail.extend_from_slice(&data);
        } else {
            self.seal_tail();
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

    /// Hands the queued bytes over, in order (to a `FramedChannel` being unregistered).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Bytes> + '_ {
        self.seal_tail();
        self.len = 0;
        self.chunks.drain(..)
    }

    /// Writes until the queue is empty (`Ready(Ok)`) or the channel is full (`Pending`).
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<std::io::Result<()>> {
        self.seal_tail();
        while let Some(front) = self.chunks.front_mut() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, front))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.len -= n;
            crate::trace::count!(self.sent += n as u64);
            if n >= front.len() {
                self.chunks.pop_front();
            } else {
                front.advance(n);
            }
        }
        if self.chunks.capacity() > 64 {
            // A burst grew it; give the memory back now it is empty.
            self.chunks = VecDeque::new();
        }
        if self.tail.capacity() > 64 * 1024 {
            self.tail = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Moves the tail's bytes into the chunk list, so they keep their place in line.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }
}
