//! `Framing::Lines`: the line scanner and the line encoder.
//!
//! The scanner remembers how much of the buffer is known to hold no
//! `b'\n'`, so a long line arriving in many small reads is searched once
//! (O(n) in its length, not O(n²)). Short lines are found by looking at
//! their first 16 bytes as two words, long ones with one `memchr`.

use bytes::{Bytes, BytesMut};

use super::buf::FrameBuf;
use super::kind::{too_long, Scan};
use crate::Result;

/// Searches for the end of the line at the buffer's start.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineScanner {
    /// The first `searched` bytes of the buffer hold no `b'\n'`.
    searched: usize,
    /// The last line found was long: search straight with `memchr`, the
    /// word-by-word look at its head would be wasted (lines in one stream
    /// tend to be alike).
    long_lines: bool,
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
    pub(crate) fn next_line<B: FrameBuf>(&mut self, buf: &mut B, limit: usize) -> Option<Bytes> {
        let len = self.find(buf)?;
        if len > limit {
            return None;
        }
        self.searched = 0;
        Some(buf.cut(len))
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
        let found = if self.long_lines {
            memchr::memchr(b'\n', rest)
        } else {
            find_newline(rest)
        };
        match found {
            Some(i) => {
                self.searched = from + i;
                self.long_lines = from + i >= SHORT;
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

/// Bytes looked at word by word before handing the search to `memchr`.
const SHORT: usize = 16;

/// The first `b'\n'` in `hay`. Most lines are short, and for a short line
/// `memchr`'s dispatch costs more than the search (about 60 instructions a
/// call here): the first 16 bytes are checked as two 64-bit words first.
#[inline]
fn find_newline(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = hay.chunks_exact(8);
    for (k, chunk) in (&mut words).take(SHORT / 8).enumerate() {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default()) ^ NEWLINES;
        // A byte of `word` is zero where `hay` holds b'\n'; the lowest such
        // byte sets the lowest flagged bit (borrows only flag bytes above it).
        let zero = word.wrapping_sub(ONES) & !word & HIGHS;
        if zero != 0 {
            return Some(k * 8 + (zero.trailing_zeros() / 8) as usize);
        }
    }
    let checked = (hay.len() - words.remainder().len()).min(SHORT);
    let rest = hay.get(checked..).unwrap_or_default();
    memchr::memchr(b'\n', rest).map(|i| checked + i)
}

#[cfg(test)]
mod tests {
    use super::find_newline;

    #[test]
    fn finds_the_first_newline_wherever_it_is() {
        // Every length up to past the word-checked head, every position, and
        // bytes that differ from b'\n' by one bit (borrow traps).
        for len in 0..48 {
            for at in 0..=len {
                let mut hay: Vec<u8> = (0..len)
                    .map(|i| [b'\x0b', b'\x8a', b'\x09', b'x'][i % 4])
                    .collect();
                if at < len {
                    hay[at] = b'\n';
                    if at + 1 < len {
                        hay[at + 1] = b'\n';
                    }
                }
                let naive = hay.iter().position(|&b| b == b'\n');
                assert_eq!(find_newline(&hay), naive, "len {len}, newline at {at}");
            }
        }
    }
}
