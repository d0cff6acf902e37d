//! `Framing::Delimited`: the multi-delimiter scanner and its encoder.
//!
//! A frame ends at the delimiter occurrence that starts earliest; of several
//! starting there, the longest wins. Each delimiter keeps its own search
//! state (the next occurrence found, or how far the buffer holds none), moved
//! along as frames leave the buffer, so every delimiter's search only ever
//! moves forward through the stream: O(n) overall even when one delimiter is
//! rare and the buffer holds many frames.

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;

use super::kind::{too_long, Scan};
use crate::Result;

/// Why an empty delimiter list is refused.
const NO_DELIMITER: &str = "Delimited framing needs at least one delimiter";
/// Why an empty delimiter is refused.
const EMPTY_DELIMITER: &str = "Delimited framing: a delimiter must not be empty";

/// Searches for the end of the delimited frame at the buffer's start.
#[derive(Debug, Clone)]
pub(crate) struct DelimitedScanner {
    /// In the user's order: the first one is what the encoder appends.
    delims: Vec<Delim>,
}

/// One delimiter and its search state, in buffer offsets.
///
/// Invariant: no occurrence starts before `from`; if `next` is `Some(p)`,
/// an occurrence starts at `p` (whole in the buffer) and `from == p`; if it
/// is `None`, the buffer from `from` on holds no whole occurrence.
#[derive(Debug, Clone)]
struct Delim {
    /// The delimiter, at least one byte.
    bytes: Bytes,
    /// For delimiters of two bytes or more; one byte uses `memchr`.
    finder: Option<Finder<'static>>,
    /// Where the next occurrence starts, once found.
    next: Option<usize>,
    /// Where the search goes on from.
    from: usize,
}

impl Delim {
    /// Where the first occurrence in `haystack` starts.
    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match &self.finder {
            Some(finder) => finder.find(haystack),
            None => memchr::memchr(*self.bytes.first()?, haystack),
        }
    }
}

impl DelimitedScanner {
    /// A scanner for `list`, or why the list cannot frame anything.
    pub(crate) fn new(list: &[Bytes]) -> Result<DelimitedScanner, &'static str> {
        if list.is_empty() {
            return Err(NO_DELIMITER);
        }
        let delims = list
            .iter()
            .map(|bytes| {
                let finder = match bytes.len() {
                    0 => return Err(EMPTY_DELIMITER),
                    1 => None,
                    _ => Some(Finder::new(bytes).into_owned()),
                };
                Ok(Delim {
                    bytes: bytes.clone(),
                    finder,
                    next: None,
                    from: 0,
                })
            })
            .collect::<Result<Vec<_>, &'static str>>()?;
        Ok(DelimitedScanner { delims })
    }

    /// The frame at the start of `buf`.
    ///
    /// The earliest occurrence found (the longest of those starting there)
    /// is final when `eof`, or when no delimiter can still match at or
    /// before its start with bytes not here yet; until then the scan is
    /// `Partial` with the frame at least that long. With no occurrence the
    /// frame is at least one byte longer than `buf`.
    pub(crate) fn scan(&mut self, buf: &[u8], eof: bool) -> Scan {
        let len = buf.len();
        if self.is_stale(len) {
            self.reset();
        }
        // (start, delimiter length) of the frame's end.
        let mut best: Option<(usize, usize)> = None;
        for d in &mut self.delims {
            if d.next.is_none() {
                let rest = buf.get(d.from..).unwrap_or_default();
                match d.find(rest) {
                    Some(i) => {
                        d.from += i;
                        d.next = Some(d.from);
                    }
                    // Only starts within `d.len() - 1` of the end can still
                    // turn into an occurrence.
                    None => d.from = d.from.max(len.saturating_sub(d.bytes.len() - 1)),
                }
            }
            if let Some(p) = d.next {
                let dlen = d.bytes.len();
                best = match best {
                    Some((bp, bl)) if bp < p || (bp == p && bl >= dlen) => Some((bp, bl)),
                    _ => Some((p, dlen)),
                };
            }
        }
        match best {
            Some((p, dlen)) if eof || !self.may_match_at_or_before(buf, p) => Scan::Frame {
                header: 0,
                len: p + dlen,
            },
            Some((p, dlen)) => Scan::Partial {
                header: 0,
                min_len: p + dlen,
                known: false,
            },
            None => Scan::Partial {
                header: 0,
                min_len: len.saturating_add(1),
                known: false,
            },
        }
    }

    /// Whether a delimiter not found whole could still match starting at or
    /// before `p`: `buf` ends with a proper prefix of it that starts there.
    ///
    /// Only delimiters with `next == None` can: one found at `q >= p` has no
    /// occurrence starting before `q`, and a start before `q` would be whole.
    /// Their unchecked starts are the last `len - 1` at most, so this is cheap.
    fn may_match_at_or_before(&self, buf: &[u8], p: usize) -> bool {
        self.delims.iter().filter(|d| d.next.is_none()).any(|d| {
            (d.from..buf.len())
                .take_while(|&q| q <= p)
                .any(|q| buf.get(q..).is_some_and(|tail| d.bytes.starts_with(tail)))
        })
    }

    /// Whether the search state points past a `len`-byte buffer (the caller
    /// shrank it behind our back).
    fn is_stale(&self, len: usize) -> bool {
        self.delims.iter().any(|d| {
            d.from > len
                || d.next
                    .is_some_and(|p| p.saturating_add(d.bytes.len()) > len)
        })
    }

    /// `n` bytes left the buffer's front.
    #[inline]
    pub(crate) fn consumed(&mut self, n: usize) {
        for d in &mut self.delims {
            // An occurrence inside the bytes removed is gone; searching goes
            // on from the new start, which no search has reached yet.
            d.next = d.next.and_then(|p| p.checked_sub(n));
            d.from = d.from.saturating_sub(n);
        }
    }

    /// Search from the buffer's start next time.
    pub(crate) fn reset(&mut self) {
        for d in &mut self.delims {
            d.next = None;
            d.from = 0;
        }
    }

    /// After a `Partial` scan of a `buf_len`-byte buffer: how many leading
    /// bytes no occurrence can start in (so skipping can drop them).
    pub(crate) fn droppable(&self, buf_len: usize) -> usize {
        self.delims
            .iter()
            .map(|d| d.next.unwrap_or(d.from))
            .min()
            .unwrap_or(buf_len)
            .min(buf_len)
    }

    /// Appends `item`, verbatim if it ends with any delimiter, else with the
    /// first delimiter appended.
    pub(crate) fn encode(&self, item: &[u8], limit: usize, dst: &mut BytesMut) -> Result<()> {
        let terminated = self.delims.iter().any(|d| item.ends_with(&d.bytes));
        let suffix: &[u8] = match self.delims.first() {
            Some(first) if !terminated => &first.bytes,
            _ => &[],
        };
        let len = item.len() + suffix.len();
        if len > limit {
            return Err(too_long(limit));
        }
        dst.reserve(len);
        dst.extend_from_slice(item);
        dst.extend_from_slice(suffix);
        Ok(())
    }
}
