//! The decode loop shared by every framing: the frame limit, the skipping
//! of an over-long frame, and the end of stream.
//!
//! Written once here so that every kind reports an over-long frame the same
//! way (once, as soon as it is certain) and skips it the same way (the
//! buffer never holds much more than the limit).

use bytes::Bytes;

use super::buf::FrameBuf;
use super::kind::{invalid_input, too_long, Kind, Scan};

/// Most room reserved ahead of data for a frame whose length is known.
const RESERVE_AHEAD: usize = 64 * 1024;
use super::FrameCodec;
use crate::Result;

/// How the rest of an over-long frame is being skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discard {
    /// The frame's length is known (`Exact`, `LengthPrefixed`): this many
    /// bytes of it are still to drop.
    Count(usize),
    /// The frame ends at its delimiter (`Lines`, `Delimited`): drop until
    /// the scanner finds it.
    ToDelimiter,
}

impl FrameCodec {
    /// `Decoder::decode` on either kind of buffer: the hot path, kept lean
    /// for the most common framing (a whole line within the limit while
    /// nothing is being skipped), then the loop below.
    #[inline]
    pub(crate) fn decode_from<B: FrameBuf>(&mut self, buf: &mut B) -> Result<Option<Bytes>> {
        if let (Kind::Lines(scanner), None) = (&mut self.kind, self.discard) {
            if let Some(line) = scanner.next_line(buf, self.max_frame_len) {
                return Ok(Some(line));
            }
        }
        self.decode_frame(buf, false)
    }

    /// One `decode` (or, with `eof`, `decode_eof`) call.
    ///
    /// | state                      | buffer holds                   | result                                   |
    /// |----------------------------|--------------------------------|------------------------------------------|
    /// | skipping (`discard` set)   | the end of the bad frame       | drop through it, go on as not skipping   |
    /// | skipping                   | no end yet                     | drop what can go, `Ok(None)`             |
    /// | not skipping               | nothing                        | `Ok(None)`                               |
    /// | not skipping               | a whole frame within the limit | `Ok(Some(frame))`, split off             |
    /// | not skipping               | a whole frame over the limit   | drop it, `FrameTooLong`                  |
    /// | not skipping               | a part certain to pass it      | start skipping, `FrameTooLong`           |
    /// | not skipping               | a part within it               | `Ok(None)`; at EOF the part as a frame   |
    ///
    /// At EOF a skip that has not reached the frame's end drops the rest
    /// silently, and a partial frame empties the buffer, so the caller's
    /// loop ends with `Ok(None)` and an empty buffer.
    #[inline]
    pub(super) fn decode_frame<B: FrameBuf>(
        &mut self,
        buf: &mut B,
        eof: bool,
    ) -> Result<Option<Bytes>> {
        loop {
            if let Some(discard) = self.discard {
                if !self.skip(discard, buf, eof)? {
                    return Ok(None);
                }
                continue;
            }
            if let Kind::Invalid(why) = self.kind {
                // Said on every call, an empty buffer included: a channel
                // with an invalid framing must not look like a quiet one.
                return Err(invalid_input(why));
            }
            if buf.is_empty() {
                return Ok(None);
            }
            let limit = self.max_frame_len;
            match self.kind.scan(buf, eof) {
                Scan::Frame { header, len } => {
                    if len > limit && self.kind.is_limited() {
                        self.drop_front(buf, header.saturating_add(len));
                        return Err(too_long(limit));
                    }
                    if header > 0 {
                        buf.advance(header);
                    }
                    let frame = buf.cut(len);
                    self.kind.consumed(header + len);
                    return Ok(Some(frame));
                }
                Scan::Partial {
                    header,
                    min_len,
                    known,
                } => {
                    if min_len > limit && self.kind.is_limited() {
                        self.drop_front(buf, header);
                        let discard = if known {
                            Discard::Count(min_len)
                        } else {
                            Discard::ToDelimiter
                        };
                        self.discard = Some(discard);
                        // Drop what is buffered of the bad frame now rather
                        // than on the next call, so the buffer shrinks at once.
                        // It cannot reach the frame's end: the scan said
                        // `Partial`.
                        self.skip(discard, buf, eof)?;
                        return Err(too_long(limit));
                    }
                    if eof {
                        return self.kind.partial_at_eof(buf);
                    }
                    if known {
                        // Room for the rest of the frame, which is within the
                        // limit: a hostile length prefix reserves nothing, and
                        // a large announced frame gets room as it arrives
                        // (at most 64 KiB ahead), so a 4-byte header cannot
                        // make an idle peer pin 8 MiB.
                        let missing = (header + min_len).saturating_sub(buf.len());
                        buf.reserve_for(missing.min(RESERVE_AHEAD));
                    }
                    return Ok(None);
                }
                Scan::Invalid(why) => return Err(invalid_input(why)),
            }
        }
    }

    /// Drops buffered bytes of the frame being skipped. Returns whether its
    /// end was reached (then `discard` is cleared and decoding goes on).
    fn skip<B: FrameBuf>(&mut self, discard: Discard, buf: &mut B, eof: bool) -> Result<bool> {
        let done = match discard {
            Discard::Count(left) => {
                let n = left.min(buf.len());
                self.drop_front(buf, n);
                if n == left {
                    true
                } else {
                    self.discard = Some(Discard::Count(left - n));
                    false
                }
            }
            Discard::ToDelimiter if buf.is_empty() => false,
            Discard::ToDelimiter => match self.kind.scan(buf, eof) {
                Scan::Frame { header, len } => {
                    self.drop_front(buf, header.saturating_add(len));
                    true
                }
                Scan::Partial { .. } => {
                    let n = self.kind.droppable(buf.len());
                    self.drop_front(buf, n);
                    false
                }
                // Unreachable: an invalid framing never starts a skip.
                Scan::Invalid(why) => return Err(invalid_input(why)),
            },
        };
        if done {
            self.discard = None;
        } else if eof {
            // The frame's end will never come; its error was reported.
            buf.advance(buf.len());
            self.kind.reset();
            self.discard = None;
        }
        Ok(done)
    }

    /// Removes `n` bytes (at most all) from the buffer's front, keeping the
    /// scan state in step.
    #[inline]
    fn drop_front<B: FrameBuf>(&mut self, buf: &mut B, n: usize) {
        let n = n.min(buf.len());
        if n > 0 {
            buf.advance(n);
            self.kind.consumed(n);
        }
    }
}
