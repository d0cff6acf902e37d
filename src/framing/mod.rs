//! Framing: how a byte stream is cut into frames, and back.
//!
//! This file holds the public face: the [`Framing`] enum, the
//! [`DEFAULT_MAX_FRAME_LEN`] constant and [`FrameCodec`] with its
//! `Decoder`/`Encoder` impls. The machinery lives beside it:
//!
//! - `kind.rs`: `Kind`, a framing compiled for scanning, and the
//!   dispatch from the codec to the kinds;
//! - `limit.rs`: the decode loop shared by every kind: the frame limit, the
//!   skipping of an over-long frame and the end of stream;
//! - `buf.rs`: `FrameBuf`, the two buffers that loop cuts frames from (the
//!   `BytesMut` reads append to, and a frozen `Bytes` a reader cuts many
//!   frames from at a third of the cost);
//! - `lines.rs`, `delimited.rs`, `exact.rs`, `length_prefixed.rs`: one file per
//!   framing, each with its scanner and its encoder.

mod buf;
mod delimited;
mod exact;
mod kind;
mod length_prefixed;
mod limit;
mod lines;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use self::kind::Kind;
use self::limit::Discard;
use crate::{Error, Result};

/// The frame limit a [`FrameCodec`] starts with: 8 MiB.
///
/// Every framing but [`Framing::Bytes`] refuses frames longer than the limit;
/// change it with [`FrameCodec::set_max_frame_len`].
///
/// # Examples
///
/// ```
/// use iochannels::{FrameCodec, Framing, DEFAULT_MAX_FRAME_LEN};
///
/// let codec = FrameCodec::new(Framing::Lines);
/// assert_eq!(codec.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
/// assert_eq!(DEFAULT_MAX_FRAME_LEN, 8 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// How a byte stream is cut into frames.
///
/// Each frame is a [`Bytes`] split off the read buffer, never copied. Frames
/// do not depend on how the input was chunked: the same bytes read in any
/// pieces give the same frames. At the end of the stream, the frames already
/// complete come first, then the final partial frame as it is (a last line
/// without `b'\n'`, a short [`Exact`](Framing::Exact) tail), then the end; a
/// truncated [`LengthPrefixed`](Framing::LengthPrefixed) frame is an error
/// instead.
///
/// Every framing but [`Bytes`](Framing::Bytes) has a frame limit (see
/// [`FrameCodec::set_max_frame_len`]) that bounds a whole frame, delimiter
/// included.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use iochannels::{FrameCodec, Framing};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = FrameCodec::new(Framing::Delimited(vec!["\r\n".into(), ";".into()]));
/// let mut buf = BytesMut::from(&b"a;b\r\nc"[..]);
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"a;"[..]));
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"b\r\n"[..]));
/// assert_eq!(codec.decode(&mut buf)?, None);
/// assert_eq!(codec.decode_eof(&mut buf)?.as_deref(), Some(&b"c"[..]));
/// # Ok::<(), iochannels::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// Whatever has arrived, as one frame: every buffered byte. No limit
    /// applies, and an empty buffer is no frame.
    Bytes,
    /// One line per frame, the `b'\n'` kept. Bytes are not checked for UTF-8.
    Lines,
    /// Up to and including the first of any of these delimiters.
    ///
    /// A frame ends at the delimiter occurrence that starts earliest; of
    /// several starting at the same place, the longest wins. So with
    /// `[b"\r", b"\r\n"]` a buffer ending in `b"\r"` waits for one more byte
    /// (or the end of the stream) before the frame is known. The list must
    /// not be empty and no delimiter may be empty: decoding and encoding
    /// with such a list fail with an [`Error::Io`] of kind `InvalidInput`.
    Delimited(Vec<Bytes>),
    /// Exactly `n` bytes per frame (the last frame of a stream may be
    /// shorter). `Exact(0)` is refused with an [`Error::Io`] of kind
    /// `InvalidInput`: a frame is at least one byte.
    Exact(usize),
    /// A `u32` big-endian length, then that many bytes; the frame is the
    /// payload alone, and a zero length is an empty frame. The limit bounds
    /// the payload.
    LengthPrefixed,
}

/// The codec behind every framed channel: [`Framing`] plus a frame limit.
///
/// It implements tokio-util's [`Decoder`] (item [`Bytes`]) and [`Encoder`]
/// (for [`Bytes`] and `&[u8]`), so it also works with `FramedRead` and
/// `FramedWrite`. Frames are split off the read buffer without copying.
///
/// The decoder keeps how far it has already searched the buffer, so a long
/// frame arriving in many small reads is scanned once (O(n) overall). It
/// assumes that between calls the caller only appends to the buffer (moving
/// the buffered bytes to another `BytesMut` is fine too); after removing or
/// changing buffered bytes, call [`set_framing`] to make it re-scan from the
/// start.
///
/// A frame longer than the limit yields [`Error::FrameTooLong`] once, as soon
/// as the buffered part passes the limit; the codec then skips the rest of
/// that frame (dropping its bytes from the buffer as they arrive, so the
/// buffer never holds much more than the limit) and the next call returns
/// the next frame. See [`set_max_frame_len`] for the details per framing.
///
/// [`set_framing`]: FrameCodec::set_framing
/// [`set_max_frame_len`]: FrameCodec::set_max_frame_len
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use iochannels::{FrameCodec, Framing};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new(Framing::LengthPrefixed);
/// let mut wire = BytesMut::new();
/// codec.encode(Bytes::from_static(b"hello"), &mut wire)?;
/// assert_eq!(&wire[..], b"\0\0\0\x05hello");
/// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::from_static(b"hello")));
/// assert!(wire.is_empty());
/// # Ok::<(), iochannels::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    /// The framing as the user gave it, returned by `framing()`.
    framing: Framing,
    /// The framing compiled for scanning, with its scan state.
    kind: Kind,
    /// The frame limit in bytes.
    max_frame_len: usize,
    /// `Some` while the rest of an over-long frame is being skipped.
    discard: Option<Discard>,
    /// The last `Delimited` framing switched away from, compiled: switching
    /// back to it (header line, body, header line, ...: Pants' read
    /// delimiter) reuses its searchers instead of building them again.
    spare: Option<Box<(Framing, Kind)>>,
}

// ===== impl FrameCodec =====

impl FrameCodec {
    /// Creates a codec for `framing` with the default frame limit.
    ///
    /// The limit is [`DEFAULT_MAX_FRAME_LEN`] (8 MiB). An invalid framing
    /// (`Exact(0)`, an empty delimiter list or an empty delimiter) is
    /// accepted here and reported by each `decode`/`encode` call.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use iochannels::{FrameCodec, Framing};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Exact(2));
    /// let mut buf = BytesMut::from(&b"abc"[..]);
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"ab"[..]));
    /// assert_eq!(codec.decode(&mut buf)?, None);
    /// # Ok::<(), iochannels::Error>(())
    /// ```
    pub fn new(framing: Framing) -> FrameCodec {
        FrameCodec {
            kind: Kind::new(&framing),
            spare: None,
            framing,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            discard: None,
        }
    }

    /// The framing in force.
    ///
    /// This is the framing given to [`new`](FrameCodec::new) or to the last
    /// [`set_framing`](FrameCodec::set_framing).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{FrameCodec, Framing};
    ///
    /// let codec = FrameCodec::new(Framing::Lines);
    /// assert_eq!(codec.framing(), &Framing::Lines);
    /// ```
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Changes the framing; it takes effect for the next frame.
    ///
    /// Nothing buffered is lost: the next `decode` scans the buffer from its
    /// start with the new framing. If the rest of an over-long frame is being
    /// skipped at that moment (see [`is_discarding`]), the skip is abandoned
    /// and the new framing starts at the current buffer position, that is at
    /// the first byte not skipped yet.
    ///
    /// [`is_discarding`]: FrameCodec::is_discarding
    ///
    /// # Examples
    ///
    /// A header line, then a body of known size:
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use iochannels::{FrameCodec, Framing};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Lines);
    /// let mut buf = BytesMut::from(&b"len 3\nabcnext\n"[..]);
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"len 3\n"[..]));
    /// codec.set_framing(Framing::Exact(3));
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"abc"[..]));
    /// codec.set_framing(Framing::Lines);
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"next\n"[..]));
    /// # Ok::<(), iochannels::Error>(())
    /// ```
    pub fn set_framing(&mut self, framing: Framing) {
        let kind = match self.spare.take() {
            Some(spare) if spare.0 == framing => {
                let (_, mut kind) = *spare;
                kind.reset();
                kind
            }
            other => {
                self.spare = other;
                Kind::new(&framing)
            }
        };
        let old_kind = std::mem::replace(&mut self.kind, kind);
        let old_framing = std::mem::replace(&mut self.framing, framing);
        if let Kind::Delimited(_) = old_kind {
            self.spare = Some(Box::new((old_framing, old_kind)));
        }
        self.discard = None;
    }

    /// The frame limit in bytes.
    ///
    /// It starts at [`DEFAULT_MAX_FRAME_LEN`]; see
    /// [`set_max_frame_len`](FrameCodec::set_max_frame_len).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{FrameCodec, Framing};
    ///
    /// let mut codec = FrameCodec::new(Framing::Lines);
    /// codec.set_max_frame_len(1024);
    /// assert_eq!(codec.max_frame_len(), 1024);
    /// ```
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Sets the frame limit in bytes; it applies from the next call on.
    ///
    /// The limit bounds a whole frame, delimiter included; it does not apply
    /// to [`Framing::Bytes`]. A frame over the limit yields
    /// [`Error::FrameTooLong`] once, as soon as that is certain:
    ///
    /// - `Lines` and `Delimited`: when the buffer holds `limit` bytes and no
    ///   delimiter can end within the first `limit` of them;
    /// - `LengthPrefixed`: when the header announces more than `limit` bytes
    ///   of payload (no room is reserved for such a payload);
    /// - `Exact(n)` with `n > limit`: when the first byte of a frame arrives.
    ///
    /// Then the rest of that frame is skipped: each call drops its buffered
    /// bytes (keeping at most a possible partial delimiter) until its end,
    /// after which frames come as usual. A skip still running at the end of
    /// the stream drops the tail silently, its error having been reported.
    /// A skip already running goes on under the new limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use iochannels::{Error, FrameCodec, Framing};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Lines);
    /// codec.set_max_frame_len(4);
    /// let mut buf = BytesMut::from(&b"much too long\nok\n"[..]);
    /// assert!(matches!(codec.decode(&mut buf), Err(Error::FrameTooLong { limit: 4 })));
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"ok\n"[..]));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_max_frame_len(&mut self, n: usize) {
        self.max_frame_len = n;
    }

    /// Whether the rest of an over-long frame is being skipped.
    ///
    /// True from the [`Error::FrameTooLong`] of a frame whose end has not
    /// arrived yet until that end has been read and dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use iochannels::{FrameCodec, Framing};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = FrameCodec::new(Framing::Lines);
    /// codec.set_max_frame_len(4);
    /// let mut buf = BytesMut::from(&b"too long"[..]);
    /// assert!(codec.decode(&mut buf).is_err());
    /// assert!(codec.is_discarding());
    /// assert!(buf.is_empty());
    /// buf.extend_from_slice(b" still\nok\n");
    /// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"ok\n"[..]));
    /// assert!(!codec.is_discarding());
    /// # Ok::<(), iochannels::Error>(())
    /// ```
    pub fn is_discarding(&self) -> bool {
        self.discard.is_some()
    }
}

// ===== impl Decoder =====

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = Error;

    /// Splits the next complete frame off `buf`, if there is one.
    ///
    /// `Ok(None)` means more input is needed. A frame comes out as soon as
    /// its end is buffered, except that a `Delimited` frame waits while a
    /// longer delimiter could still match where the occurrence found starts.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLong`] once per over-long frame (the stream goes on);
    /// [`Error::Io`] of kind `InvalidInput` on every call while the framing
    /// is invalid.
    #[inline]
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>> {
        self.decode_from(buf)
    }

    /// Like `decode`, once the input has ended: complete frames first, then
    /// the final partial frame as it is, then `Ok(None)` with `buf` empty.
    ///
    /// # Errors
    ///
    /// As `decode`; plus, for `LengthPrefixed`, a truncated frame is an
    /// [`Error::Io`] of kind `UnexpectedEof` saying how many bytes are
    /// missing (the buffer is cleared, and the next call returns `Ok(None)`).
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>> {
        self.decode_frame(buf, true)
    }
}

// ===== impl Encoder =====

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    /// Appends `item` to `dst` as one frame, as the `&[u8]` impl does.
    #[inline]
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<()> {
        self.kind.encode(&item, self.max_frame_len, dst)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = Error;

    /// Appends `item` to `dst` as one frame, so that decoding reads it back.
    ///
    /// `Bytes`: verbatim. `Lines`: verbatim if `item` ends in `b'\n'`, else
    /// with `b'\n'` appended. `Delimited`: verbatim if `item` ends with any
    /// of the delimiters, else with the first one appended. `Exact(n)`:
    /// verbatim, `item` must be `n` bytes. `LengthPrefixed`: the `u32`
    /// big-endian length, then `item`. Nothing is written on error.
    ///
    /// An item holding a delimiter inside reads back as several frames, and
    /// with delimiters where one extends another (`[b"\r", b"\r\n"]`) an
    /// item ending in the shorter one can read back joined to the next item's
    /// first bytes; items free of delimiter bytes always read back as sent.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLong`] if the frame (for `LengthPrefixed` the payload)
    /// would be longer than the limit, or than `u32::MAX` for
    /// `LengthPrefixed` (then `limit` is the smaller of the two);
    /// [`Error::FrameLength`] for an `Exact(n)` item of another length; an
    /// invalid framing is an [`Error::Io`] of kind `InvalidInput`.
    #[inline]
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.kind.encode(item, self.max_frame_len, dst)
    }
}
