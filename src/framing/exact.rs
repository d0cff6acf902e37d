//! `Framing::Exact(n)`: frames of exactly `n` bytes, scanned and encoded.
//!
//! The frame's length is known before any of it arrives, so an `Exact(n)`
//! with `n` over the limit is reported as soon as a frame starts and then
//! skipped by counting (see `limit.rs`).

use bytes::BytesMut;

use super::kind::{too_long, Scan};
use crate::{Error, Result};

/// Why `Exact(0)` is refused.
pub(crate) const ZERO: &str = "Exact(0) framing: a frame must be at least one byte";

/// The frame at the start of `buf`: its first `n` bytes once they are here.
#[inline]
pub(crate) fn scan(n: usize, buf: &[u8]) -> Scan {
    if buf.len() >= n {
        Scan::Frame { header: 0, len: n }
    } else {
        Scan::Partial {
            header: 0,
            min_len: n,
            known: true,
        }
    }
}

/// Appends `item`, which must be exactly `n` bytes, verbatim.
pub(crate) fn encode(n: usize, item: &[u8], limit: usize, dst: &mut BytesMut) -> Result<()> {
    if item.len() != n {
        return Err(wrong_length(n, item.len()));
    }
    if n > limit {
        return Err(too_long(limit));
    }
    dst.extend_from_slice(item);
    Ok(())
}

/// An item of `actual` bytes offered to `Exact(expected)`.
fn wrong_length(expected: usize, actual: usize) -> Error {
    Error::FrameLength { expected, actual }
}
