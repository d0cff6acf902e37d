//! [`FrameBuf`]: what the decode loop cuts frames from — the `BytesMut`
//! reads append to, or a frozen `Bytes` of bytes already read.
//!
//! Why two: cutting a frame off a `BytesMut` (`split_to` + `freeze`) costs
//! about three times cutting it off a `Bytes` (`Bytes::split_to`, a refcount
//! increment and two pointer moves). When one read brought many frames the
//! reader freezes the rest of its buffer once and cuts the frames from that
//! (see `framed/reader.rs`); the decode loop in `limit.rs` is written once
//! over this trait so every framing, `set_framing` and the frame limit
//! behave the same on both.

use bytes::{Buf, Bytes, BytesMut};

/// A buffer whose front frames are cut from (bytes are dropped from its
/// front with `Buf::advance`, which both types have).
pub(crate) trait FrameBuf: Buf + std::ops::Deref<Target = [u8]> {
    /// Splits off and returns the first `n` bytes (`n <= len`).
    fn cut(&mut self, n: usize) -> Bytes;
    /// Splits off and returns every byte.
    fn cut_all(&mut self) -> Bytes;
    /// Makes room for `n` more bytes to arrive, where bytes arrive.
    fn reserve_for(&mut self, n: usize);
}

impl FrameBuf for BytesMut {
    #[inline]
    fn cut(&mut self, n: usize) -> Bytes {
        self.split_to(n).freeze()
    }

    fn cut_all(&mut self) -> Bytes {
        self.split().freeze()
    }

    fn reserve_for(&mut self, n: usize) {
        self.reserve(n);
    }
}

impl FrameBuf for Bytes {
    #[inline]
    fn cut(&mut self, n: usize) -> Bytes {
        self.split_to(n)
    }

    fn cut_all(&mut self) -> Bytes {
        std::mem::take(self)
    }

    /// Nothing arrives in a frozen buffer: the reader moves what is left of
    /// it back into its `BytesMut` before reading more.
    fn reserve_for(&mut self, _n: usize) {}
}
