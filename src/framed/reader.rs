//! The read half of a [`FramedChannel`](crate::FramedChannel): the read
//! buffer, its size policy, and the decode loop.
//!
//! Buffer policy (pitfall 7): nothing is allocated until a read is made; a
//! read that finds nothing (`Pending`) with no partial frame buffered gives
//! the buffer back, so an idle channel holds no read buffer at all. Reads
//! start at 4 KiB and double while they fill the buffer, up to 64 KiB. After
//! a large frame the remainder is moved to a fresh small buffer, so one 8 MiB
//! line does not pin 8 MiB for the life of the connection.
//!
//! Frames are split off the buffer, never copied, at the price that a frame
//! kept alive keeps its part of the buffer's allocation alive too. Cutting
//! a frame off a `BytesMut` costs about three times cutting it off a
//! frozen `Bytes`, so when a read brought many frames (what is left after a
//! frame is at least four times that frame) the rest is frozen once and the
//! next frames are cut from the frozen part:
//!
//! | `frozen`  | `buf`      | next frame                      | when it has none                 |
//! |-----------|------------|---------------------------------|----------------------------------|
//! | empty     | any        | cut from `buf`                  | read into `buf`                  |
//! | not empty | empty      | cut from `frozen`               | what is left of `frozen` (part of one frame) moves into `buf`, copied only if a frame still shares it |
//!
//! Reads only happen with `frozen` empty, so the buffered bytes are always
//! one slice (`frozen`'s or `buf`'s) and the codec sees one buffer whose
//! front only ever leaves and whose back only ever grows, whichever of the
//! two holds it: `set_framing` applies exactly to the bytes after the last
//! frame, as before.

use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncRead;
use tokio_util::codec::Decoder;

use crate::{Error, FrameCodec, Result};

/// First read size, and the floor the adaptive size falls back to.
const MIN_READ: usize = 4 * 1024;
/// Largest single read.
const MAX_READ: usize = 64 * 1024;
/// A buffer whose capacity is past this, holding little, is replaced by a
/// fresh one sized to what it holds.
const SHRINK_ABOVE: usize = 2 * MAX_READ;
/// A partial frame up to this long moves to a fresh buffer when the read
/// size grows (see `make_room`).
const SMALL_TAIL: usize = 4 * 1024;
/// The least to be left after a frame for the rest to be frozen: below it
/// the freezing, and moving the partial frame back, cost more than it saves.
const FREEZE_AT_LEAST: usize = 64;

/// Where the read side is in its life.
///
/// | state  | next frame comes from           | then                    |
/// |--------|---------------------------------|-------------------------|
/// | `Open` | `decode`, reading when it needs | `Eof` when a read gives 0 |
/// | `Eof`  | `decode_eof` on what is left    | `Done` once it gives `None`, reported as `Ok(None)` |
/// | `Done` | nothing: `Err(Closed)`          | stays                   |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadState {
    Open,
    Eof,
    Done,
}

/// The read buffer with its state.
#[derive(Debug)]
pub(crate) struct Reader {
    /// Where reads append; empty while `frozen` is not.
    buf: BytesMut,
    /// Bytes read and frozen, cut into frames before anything in `buf`.
    /// Boxed: a channel holds one per connection, mostly idle, and this
    /// way the frozen state costs it 8 bytes, not 32 (one allocation per
    /// read that brought many frames, which is nothing beside them).
    frozen: Option<Box<Bytes>>,
    pub(crate) state: ReadState,
    /// Bytes to make room for before the next read; adapts to the traffic.
    /// (`u32`: at most `MAX_READ`, and 4 bytes of every channel saved.)
    read_size: u32,
    /// When bytes last arrived, if `note_times` (for idle timeouts).
    pub(crate) last_input: Option<tokio::time::Instant>,
    /// Whether to note `last_input`: a clock read per read, only when asked.
    pub(crate) note_times: bool,
    /// Whether `read_size` grew since the last read (see `make_room`).
    grew: bool,
    /// Bytes read so far.
    pub(crate) bytes_in: u64,
}

impl Reader {
    pub(crate) fn new() -> Reader {
        Reader {
            buf: BytesMut::new(),
            frozen: None,
            state: ReadState::Open,
            read_size: MIN_READ as u32,
            last_input: None,
            note_times: false,
            grew: false,
            bytes_in: 0,
        }
    }

    /// A frame already whole in the buffer, decoded without touching the
    /// channel: the hot path when one read brought many frames. `Ok(None)`
    /// when the slow path must run (nothing whole buffered, or past the end).
    #[inline]
    pub(crate) fn buffered_frame(&mut self, codec: &mut FrameCodec) -> Result<Option<Bytes>> {
        if self.state != ReadState::Open {
            return Ok(None);
        }
        self.next_buffered(codec)
    }

    /// The next whole frame in `frozen`, then in `buf` (see the table above).
    #[inline]
    fn next_buffered(&mut self, codec: &mut FrameCodec) -> Result<Option<Bytes>> {
        if let Some(frozen) = self.frozen.as_deref_mut() {
            if let Some(frame) = codec.decode_from(frozen)? {
                return Ok(Some(frame));
            }
            self.thaw();
        }
        let Some(frame) = codec.decode_from(&mut self.buf)? else {
            return Ok(None);
        };
        if self.buf.len() >= FREEZE_AT_LEAST.max(frame.len().saturating_mul(4)) {
            self.frozen = Some(Box::new(self.buf.split().freeze()));
        } else {
            self.shrink_if_oversized();
        }
        Ok(Some(frame))
    }

    /// `frozen` holds no whole frame: what is left of it goes back to where
    /// reads append, without a copy if no frame cut from it is alive.
    #[cold]
    fn thaw(&mut self) {
        let Some(rest) = self.frozen.take() else {
            return;
        };
        if rest.is_empty() {
            // Every byte was a frame: `buf` (the allocation's spare room)
            // takes the next read.
            return;
        }
        // `buf` is empty (reads wait until `frozen` is); dropping it first
        // lets `rest` be the only owner of their shared allocation.
        self.buf = BytesMut::new();
        self.buf = BytesMut::from(*rest);
        self.shrink_if_oversized();
    }

    /// The bytes read and not yet returned as frames.
    pub(crate) fn buffered(&self) -> &[u8] {
        match self.frozen.as_deref() {
            Some(frozen) if !frozen.is_empty() => frozen,
            _ => &self.buf,
        }
    }

    /// Bytes of memory the buffered input holds: the read buffer's capacity
    /// and the frozen bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity() + self.frozen.as_ref().map_or(0, |f| f.len())
    }

    /// The buffered bytes, taken out (the reader is left empty).
    pub(crate) fn take_buffered(&mut self) -> Bytes {
        match self.frozen.take() {
            Some(frozen) if !frozen.is_empty() => *frozen,
            _ => std::mem::take(&mut self.buf).freeze(),
        }
    }

    /// The buffered bytes, to append to.
    pub(crate) fn into_buffered(mut self) -> BytesMut {
        match self.frozen.take() {
            Some(frozen) if !frozen.is_empty() => BytesMut::from(*frozen),
            _ => self.buf,
        }
    }

    /// The next frame: `Ok(Some)`, `Ok(None)` once at the end, then `Err(Closed)`.
    pub(crate) fn poll_frame<R: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut R,
        codec: &mut FrameCodec,
    ) -> Poll<Result<Option<Bytes>>> {
        loop {
            match self.state {
                ReadState::Done => return Poll::Ready(Err(Error::Closed)),
                ReadState::Eof => {
                    return Poll::Ready(match codec.decode_eof(&mut self.buf) {
                        Ok(Some(frame)) => Ok(Some(frame)),
                        Ok(None) => {
                            self.state = ReadState::Done;
                            self.buf = BytesMut::new();
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    });
                }
                ReadState::Open => {}
            }
            if let Some(frame) = self.next_buffered(codec)? {
                return Poll::Ready(Ok(Some(frame)));
            }
            self.make_room();
            let room = self.buf.capacity() - self.buf.len();
            match tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut *io), cx, &mut self.buf) {
                Poll::Pending => {
                    if self.buf.is_empty() {
                        // Idle: hold no memory while nothing arrives.
                        self.buf = BytesMut::new();
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => self.state = ReadState::Eof,
                Poll::Ready(Ok(n)) => {
                    crate::trace::count!(self.bytes_in += n as u64);
                    if self.note_times {
                        self.last_input = Some(tokio::time::Instant::now());
                    }
                    self.adapt(n, room);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::from_io_read(e))),
            }
        }
    }

    /// Room for the next read. Right after the read size grew, a buffer
    /// holding a small partial frame (or nothing) is replaced by a fresh one
    /// of the new size with that part copied: `reserve` would grow the old
    /// allocation with `realloc`, which copies all of it (4 + 8 + 16 + 32
    /// KiB on the way to 64 KiB reads) to keep a few bytes.
    #[inline]
    fn make_room(&mut self) {
        let size = self.read_size as usize;
        let len = self.buf.len();
        if std::mem::take(&mut self.grew) && len <= SMALL_TAIL && self.buf.capacity() - len < size {
            let mut fresh = BytesMut::with_capacity(size + len);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        } else {
            self.buf.reserve(size);
        }
    }

    /// Reads that fill the room they were given ask for more next time;
    /// reads far smaller than it ask for less.
    fn adapt(&mut self, got: usize, room: usize) {
        let size = self.read_size as usize;
        let size = if got >= room && size < MAX_READ {
            self.grew = true;
            (size * 2).min(MAX_READ)
        } else if got < size / 4 && size > MIN_READ {
            (size / 2).max(MIN_READ)
        } else {
            return;
        };
        // Within MIN_READ..=MAX_READ, so it fits.
        self.read_size = u32::try_from(size).unwrap_or(MAX_READ as u32);
    }

    /// After a large frame, moves what is left into a buffer sized to it.
    #[inline]
    fn shrink_if_oversized(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() > SHRINK_ABOVE && len <= MAX_READ {
            self.buf = if len == 0 {
                BytesMut::new()
            } else {
                BytesMut::from(&self.buf[..])
            };
        }
    }

    /// Marks the end as reported: later reads give `Err(Closed)`.
    pub(crate) fn finish(&mut self) {
        self.state = ReadState::Done;
        self.buf = BytesMut::new();
        self.frozen = None;
    }

    /// Whether a read could still give data: not ended, or bytes buffered.
    pub(crate) fn has_more(&self) -> bool {
        self.state != ReadState::Done
    }
}
