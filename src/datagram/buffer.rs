//! The receive buffer of a [`DatagramChannel`](crate::DatagramChannel) and
//! its allocation policy.
//!
//! Every receive offers the kernel `limit + 1` bytes of room, so a datagram
//! longer than the limit is *seen* to be longer (it fills all the room) and
//! reported as [`Error::FrameTooLong`] instead of being silently truncated;
//! the kernel drops the rest of it and the next receive gets the next
//! datagram. The room is uninitialised spare capacity of a `BytesMut`
//! (tokio's `try_recv_buf_from` fills it), so nothing is zeroed.
//!
//! What a received datagram of `n` bytes costs:
//!
//! - `n > (limit + 1) / 8` (a large datagram): no copy. The frame is split
//!   off the buffer (`split().freeze()`) and keeps that allocation alive
//!   while it lives — at most about 8× its own size. The next receive
//!   reclaims the allocation in place if the frame is already gone, or
//!   allocates a fresh `limit + 1` bytes.
//! - otherwise (a small datagram): the bytes are copied into an allocation
//!   of exactly `n` bytes (none for `n == 0`) and the buffer is reused as is.
//!   Without the copy, every small frame an application keeps (a queue of
//!   requests, say) would pin a whole 64 KiB buffer.
//!
//! Idle costs nothing: when a receive finds no datagram (`Pending`), the
//! buffer is released, as the framed reader does. The price is one
//! `limit + 1` allocation per wake-up in sparse traffic; a burst reuses one
//! buffer for all its small datagrams.

use bytes::buf::Limit;
use bytes::{BufMut, Bytes, BytesMut};

use crate::{Error, Result};

/// Frames larger than `room / COPY_RATIO` are split off without a copy.
const COPY_RATIO: usize = 8;

/// The largest datagram limit [`RecvBuf::set_limit`] accepts; larger values
/// are clamped to it. No socket delivers datagrams this large (Linux caps
/// Unix datagrams at the socket buffer size, about 208 KiB by default).
pub(crate) const MAX_LIMIT: usize = 64 * 1024 * 1024;

/// The receive buffer and the datagram limit it enforces.
#[derive(Debug)]
pub(crate) struct RecvBuf {
    buf: BytesMut,
    limit: usize,
}

impl RecvBuf {
    /// An empty buffer (nothing allocated) for datagrams of up to `limit` bytes.
    pub(crate) fn new(limit: usize) -> RecvBuf {
        RecvBuf {
            buf: BytesMut::new(),
            limit: limit.min(MAX_LIMIT),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the limit (clamped to [`MAX_LIMIT`]); takes effect at the next receive.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_LIMIT);
    }

    /// Bytes of room one receive is offered: one more than the limit.
    fn room(&self) -> usize {
        self.limit + 1
    }

    /// Room for exactly one receive: `limit + 1` bytes of spare capacity,
    /// and no more may be filled.
    pub(crate) fn spare(&mut self) -> Limit<&mut BytesMut> {
        let room = self.room();
        self.buf.clear();
        // Reclaims the allocation in place when no frame still uses it.
        self.buf.reserve(room);
        (&mut self.buf).limit(room)
    }

    /// The datagram the last receive put in the buffer, `n` bytes long, as
    /// a frame — or [`Error::FrameTooLong`] if it filled all the room.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes> {
        debug_assert_eq!(self.buf.len(), n);
        if n > self.limit {
            self.buf.clear();
            return Err(Error::FrameTooLong { limit: self.limit });
        }
        if n * COPY_RATIO > self.room() {
            Ok(self.buf.split().freeze())
        } else {
            let frame = Bytes::copy_from_slice(&self.buf[..n]);
            self.buf.clear();
            Ok(frame)
        }
    }

    /// Gives the buffer back: called when a receive found nothing.
    pub(crate) fn release(&mut self) {
        if self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// The capacity held right now (for tests of the policy).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(buf: &mut RecvBuf, n: usize) {
        let mut spare = buf.spare();
        assert!(spare.remaining_mut() >= n);
        spare.put_bytes(0xab, n);
    }

    #[test]
    fn nothing_held_until_a_receive_and_after_release() {
        let mut buf = RecvBuf::new(1000);
        assert_eq!(buf.held(), 0);
        assert_eq!(buf.spare().remaining_mut(), 1001);
        assert!(buf.held() >= 1001);
        buf.release();
        assert_eq!(buf.held(), 0);
    }

    #[test]
    fn small_frames_are_copied_and_the_buffer_reused() {
        let mut buf = RecvBuf::new(1000);
        fill(&mut buf, 10);
        let held = buf.held();
        let frame = buf.take(10).expect("a 10-byte frame");
        assert_eq!(&frame[..], &[0xab; 10][..]);
        // The buffer kept its whole allocation: the frame has its own.
        assert_eq!(buf.held(), held);
        fill(&mut buf, 0);
        assert_eq!(buf.take(0).expect("an empty frame"), Bytes::new());
    }

    #[test]
    fn large_frames_are_split_and_the_allocation_reclaimed() {
        let mut buf = RecvBuf::new(1000);
        fill(&mut buf, 900);
        let frame = buf.take(900).expect("a 900-byte frame");
        assert_eq!(frame.len(), 900);
        drop(frame);
        // The frame is gone: the next receive reuses the same allocation.
        let spare = buf.spare();
        assert_eq!(spare.remaining_mut(), 1001);
    }

    #[test]
    fn a_full_buffer_is_too_long_and_leaves_nothing_behind() {
        let mut buf = RecvBuf::new(100);
        fill(&mut buf, 101);
        assert!(matches!(
            buf.take(101),
            Err(Error::FrameTooLong { limit: 100 })
        ));
        fill(&mut buf, 100);
        assert_eq!(buf.take(100).expect("a frame at the limit").len(), 100);
    }

    #[test]
    fn limits_are_clamped() {
        let mut buf = RecvBuf::new(usize::MAX);
        assert_eq!(buf.limit(), MAX_LIMIT);
        buf.set_limit(0);
        assert_eq!(buf.spare().remaining_mut(), 1);
    }
}
