//! `Framing::Lines`: the line scanner and the line encoder.
//!
//! The scanner remembers how much of the buffer is known to hold no
//! `b'\n'`, so a long line arriving in many small reads is searched once
//! (O(n) in its length, not O(n²)); each frame costs one `memchr`.

use bytes::{Bytes, BytesMut};

use super::kind::{too_long, Scan};
use crate::Result;

/// Searches for the end of the line at the buffer's start.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineScanner {
    /// The first `searched` bytes of the buffer hold no `b'\n'`.
    searched: usize,
}

impl LineScanner {
    /// The frame at the start of `buf`: through the first `b'\n'`, or
    /// `Partial` (at least one byte longer than `buf`) if there is none.
    #[inline]
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Scan {
        match self.find(buf) {
            Some(len) => Scan::Frame { header: 0, len },
            None => Scan::Partial {
                header: 0,
                min_len: buf.len().saturating_add(1),
                known: false,
            },
        }
    }

    /// The hot path of `decode`: the line at the start of `buf`, split off,
    /// if it is all here and within `limit`. Anything else (no line yet, an
    /// over-long one) is left to the general path, which sees the same line.
    #[inline]
    pub(crate) fn next_line(&mut self, buf: &mut BytesMut, limit: usize) -> Option<Bytes> {
        let len = self.find(buf)?;
        if len > limit {
            return None;
        }
        self.searched = 0;
        Some(buf.split_to(len).freeze())
    }

    /// The length of the line at the start of `buf` (through its `b'\n'`),
    /// if it is all here. Each byte is searched once: the search starts
    /// where the last one gave up.
    #[inline]
    fn find(&mut self, buf: &[u8]) -> Option<usize> {
        // A buffer shorter than what was searched was not only appended to:
        // search it all again.
        let from = if self.searched <= buf.len() {
            self.searched
        } else {
            0
        };
        let rest = buf.get(from..).unwrap_or_default();
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.searched = from + i;
                Some(from + i + 1)
            }
            None => {
                self.searched = buf.len();
                None
            }
        }
    }

    /// `n` bytes left the buffer's front.
    #[inline]
    pub(crate) fn consumed(&mut self, n: usize) {
        self.searched = self.searched.saturating_sub(n);
    }

    /// Search from the buffer's start next time.
    pub(crate) fn reset(&mut self) {
        self.searched = 0;
    }
}

/// Appends `item` as one line: verbatim if it ends in `b'\n'`, else with
/// `b'\n'` appended.
pub(crate) fn encode(item: &[u8], limit: usize, dst: &mut BytesMut) -> Result<()> {
    let terminated = item.last() == Some(&b'\n');
    let len = item.len() + usize::from(!terminated);
    if len > limit {
        return Err(too_long(limit));
    }
    dst.reserve(len);
    dst.extend_from_slice(item);
    if !terminated {
        dst.extend_from_slice(b"\n");
    }
    Ok(())
}
