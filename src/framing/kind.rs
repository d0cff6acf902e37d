//! [`Kind`]: a [`Framing`] compiled for scanning, with its scan state, and
//! the one `match` that dispatches each codec call to the framing's file.
//!
//! A scanner answers one question about the buffer, "where does the frame
//! at its start end?", with a [`Scan`]; what to do with the answer (the
//! limit, skipping, the end of stream) is decided once for all kinds in
//! `limit.rs`.

use std::io;

use bytes::BytesMut;

use super::buf::FrameBuf;

use super::delimited::DelimitedScanner;
use super::lines::LineScanner;
use super::{exact, length_prefixed, lines, Framing};
use crate::{Error, Result};

/// A framing ready to scan: the small enum the hot path matches on.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// `Framing::Bytes`.
    Bytes,
    /// `Framing::Lines`, with how far the buffer has been searched.
    Lines(LineScanner),
    /// `Framing::Delimited`, with per-delimiter search state.
    Delimited(DelimitedScanner),
    /// `Framing::Exact(n)`, `n >= 1`.
    Exact(usize),
    /// `Framing::LengthPrefixed`.
    LengthPrefixed,
    /// A framing that cannot frame anything; every call reports why.
    Invalid(&'static str),
}

/// What a scanner found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A whole frame is buffered: `header` bytes to drop, then `len` bytes
    /// of frame.
    Frame { header: usize, len: usize },
    /// The frame is not all here. `header` bytes of header are buffered (and
    /// understood); the frame will be at least `min_len` bytes long, and
    /// exactly that if `known`.
    Partial {
        header: usize,
        min_len: usize,
        known: bool,
    },
    /// The framing cannot frame anything, for this reason.
    Invalid(&'static str),
}

impl Kind {
    /// Compiles `framing`; an invalid one becomes [`Kind::Invalid`].
    pub(crate) fn new(framing: &Framing) -> Kind {
        match framing {
            Framing::Bytes => Kind::Bytes,
            Framing::Lines => Kind::Lines(LineScanner::default()),
            Framing::Delimited(list) => match DelimitedScanner::new(list) {
                Ok(scanner) => Kind::Delimited(scanner),
                Err(why) => Kind::Invalid(why),
            },
            Framing::Exact(0) => Kind::Invalid(exact::ZERO),
            Framing::Exact(n) => Kind::Exact(*n),
            Framing::LengthPrefixed => Kind::LengthPrefixed,
        }
    }

    /// Whether the frame limit applies (everything but `Bytes`).
    #[inline]
    pub(crate) fn is_limited(&self) -> bool {
        !matches!(self, Kind::Bytes)
    }

    /// Where the frame at the start of `buf` ends. With `eof`, no more input
    /// will come (a `Delimited` occurrence is then final at once).
    ///
    /// `buf` must not be empty.
    #[inline]
    pub(crate) fn scan(&mut self, buf: &[u8], eof: bool) -> Scan {
        match self {
            Kind::Bytes => Scan::Frame {
                header: 0,
                len: buf.len(),
            },
            Kind::Lines(scanner) => scanner.scan(buf),
            Kind::Delimited(scanner) => scanner.scan(buf, eof),
            Kind::Exact(n) => exact::scan(*n, buf),
            Kind::LengthPrefixed => length_prefixed::scan(buf),
            Kind::Invalid(why) => Scan::Invalid(why),
        }
    }

    /// Keeps the scan state right after `n` bytes left the buffer's front.
    #[inline]
    pub(crate) fn consumed(&mut self, n: usize) {
        match self {
            Kind::Lines(scanner) => scanner.consumed(n),
            Kind::Delimited(scanner) => scanner.consumed(n),
            Kind::Bytes | Kind::Exact(_) | Kind::LengthPrefixed | Kind::Invalid(_) => {}
        }
    }

    /// Forgets the scan state: the next scan starts at the buffer's start.
    pub(crate) fn reset(&mut self) {
        match self {
            Kind::Lines(scanner) => scanner.reset(),
            Kind::Delimited(scanner) => scanner.reset(),
            Kind::Bytes | Kind::Exact(_) | Kind::LengthPrefixed | Kind::Invalid(_) => {}
        }
    }

    /// While skipping an over-long delimited frame whose last scan of a
    /// `buf_len`-byte buffer was `Partial`: how many leading bytes can be
    /// dropped because no delimiter occurrence can start in them.
    pub(crate) fn droppable(&self, buf_len: usize) -> usize {
        match self {
            Kind::Delimited(scanner) => scanner.droppable(buf_len),
            _ => buf_len,
        }
    }

    /// At the end of the stream, the final partial frame (`buf` is not empty
    /// and holds no complete frame): delivered as it is, or for
    /// `LengthPrefixed` an `UnexpectedEof` error. Either way `buf` ends up
    /// empty.
    pub(crate) fn partial_at_eof<B: FrameBuf>(
        &mut self,
        buf: &mut B,
    ) -> Result<Option<bytes::Bytes>> {
        self.reset();
        match self {
            Kind::LengthPrefixed => {
                let error = length_prefixed::truncated(buf);
                buf.advance(buf.len());
                Err(Error::Io(error))
            }
            _ => Ok(Some(buf.cut_all())),
        }
    }

    /// Appends `item` to `dst` as one frame of this framing.
    #[inline]
    pub(crate) fn encode(&self, item: &[u8], limit: usize, dst: &mut BytesMut) -> Result<()> {
        match self {
            Kind::Bytes => {
                dst.extend_from_slice(item);
                Ok(())
            }
            Kind::Lines(_) => lines::encode(item, limit, dst),
            Kind::Delimited(scanner) => scanner.encode(item, limit, dst),
            Kind::Exact(n) => exact::encode(*n, item, limit, dst),
            Kind::LengthPrefixed => length_prefixed::encode(item, limit, dst),
            Kind::Invalid(why) => Err(invalid_input(why)),
        }
    }
}

/// An [`Error::Io`] of kind `InvalidInput` carrying `why`.
pub(crate) fn invalid_input(why: &str) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, why.to_owned()))
}

/// The error for a frame that would be longer than `limit` bytes.
#[inline]
pub(crate) fn too_long(limit: usize) -> Error {
    Error::FrameTooLong { limit }
}
