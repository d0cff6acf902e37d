//! The harness shared by the fuzz targets: one target per decoder of
//! [`iochannels::FrameCodec`], each fed arbitrary bytes, an arbitrary
//! chunking and an arbitrary frame limit.
//!
//! [`check_decoder`] runs the data through the codec three times (in the
//! fuzzer's chunks, in one chunk, byte by byte), calling `decode` until
//! `Ok(None)` after each append and then `decode_eof` until `Ok(None)`, and
//! asserts on every call:
//!
//! - no panic, and every loop ends (each result but `Ok(None)` consumes input);
//! - every frame is within the limit (all framings but `Bytes`), is not
//!   empty (but for `LengthPrefixed`), and has the framing's shape (a line
//!   holds one `b'\n'`, at its end; a delimited frame ends with a delimiter;
//!   an `Exact(n)` frame is `n` bytes, a short tail only at the end);
//! - errors are only `FrameTooLong` carrying the limit in force, and at the
//!   end of a `LengthPrefixed` stream one `UnexpectedEof` (then the end);
//! - after each decode loop the buffer holds less than the limit plus the
//!   framing's slack (the longest delimiter; the 4-byte length header), and
//!   its capacity has not grown past what a frame within the limit needs;
//! - after the end of stream the buffer is empty and nothing is skipped;
//! - the three runs give the same frames and errors (rendered as strings),
//!   and they are those of a plain reference model of the documented
//!   framing, written from `API.md` and the `FrameCodec` docs.
//!
//! [`check_encoder`] checks one item against the encoder's documented output,
//! and [`check_length_prefixed_round_trip`] encodes payloads and decodes the
//! wire in arbitrary chunks: the identity.

use std::io;

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use iochannels::{Error, FrameCodec, Framing};
use tokio_util::codec::{Decoder, Encoder};

/// One append to the read buffer: `len` bytes (times 16 if `big`), after
/// moving the buffered bytes to a fresh `BytesMut` if `realloc` (as
/// `FramedChannel` does when it shrinks its buffer: the codec allows it).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Chunk {
    pub len: u8,
    pub big: bool,
    pub realloc: bool,
}

impl Chunk {
    fn bytes(self) -> usize {
        if self.big {
            usize::from(self.len) * 16
        } else {
            usize::from(self.len)
        }
    }
}

/// The frame limit a target uses: 1..=4096.
pub fn limit(raw: u16) -> usize {
    1 + usize::from(raw) % 4096
}

/// Maps every byte into `alphabet`, so delimiters occur, overlap and get
/// split across chunks far more often than in raw bytes.
pub fn narrow(bytes: &[u8], alphabet: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| alphabet[usize::from(b) % alphabet.len()])
        .collect()
}

/// One thing a decoder produced: a frame, or an error rendered as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Frame(Bytes),
    Error(String),
}

/// An error as compared between runs: the variant with its fields, and for
/// `Io` the kind and the message.
pub fn render(e: &Error) -> String {
    match e {
        Error::Io(io) => format!("Io({:?}: {io})", io.kind()),
        other => format!("{other:?}"),
    }
}

fn too_long(limit: usize) -> Out {
    Out::Error(render(&Error::FrameTooLong { limit }))
}

fn unexpected_eof(message: String) -> Out {
    Out::Error(render(&Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        message,
    ))))
}

/// Whether the framing can frame anything (`Exact(0)`, an empty delimiter
/// list and an empty delimiter cannot).
fn is_valid(framing: &Framing) -> bool {
    match framing {
        Framing::Exact(0) => false,
        Framing::Delimited(list) => !list.is_empty() && list.iter().all(|d| !d.is_empty()),
        _ => true,
    }
}

/// What the buffer may hold beyond the limit after a decode loop.
fn slack(framing: &Framing) -> usize {
    match framing {
        Framing::Delimited(list) => list.iter().map(Bytes::len).max().unwrap_or(0),
        Framing::LengthPrefixed => 4,
        _ => 0,
    }
}

/// Feeds `data` to a fresh codec in `chunks` (cycled; an empty or all-zero
/// list feeds the rest in one piece), decoding to `Ok(None)` after each
/// append, then to the end of stream. Asserts the per-call properties.
pub fn feed(framing: &Framing, limit: usize, data: &[u8], chunks: &[Chunk]) -> Vec<Out> {
    let mut codec = FrameCodec::new(framing.clone());
    codec.set_max_frame_len(limit);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let cycle_sum: usize = chunks.iter().map(|c| c.bytes()).sum();
    let (mut pos, mut i) = (0, 0);
    while pos < data.len() {
        let rest = data.len() - pos;
        let (len, realloc) = if chunks.is_empty() || (cycle_sum == 0 && i >= chunks.len()) {
            (rest, false)
        } else {
            let c = chunks[i % chunks.len()];
            (c.bytes().min(rest), c.realloc)
        };
        if realloc {
            buf = BytesMut::from(&buf[..]);
        }
        buf.extend_from_slice(&data[pos..pos + len]);
        pos += len;
        i += 1;
        drain(
            framing,
            limit,
            &mut codec,
            &mut buf,
            &mut out,
            false,
            data.len(),
        );
    }
    drain(
        framing,
        limit,
        &mut codec,
        &mut buf,
        &mut out,
        true,
        data.len(),
    );
    // The end is stable: more calls find nothing.
    assert!(matches!(codec.decode_eof(&mut buf), Ok(None)));
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    assert!(buf.is_empty());
    out
}

/// Decodes until `Ok(None)` (`decode_eof` if `eof`), checking each result.
fn drain(
    framing: &Framing,
    limit: usize,
    codec: &mut FrameCodec,
    buf: &mut BytesMut,
    out: &mut Vec<Out>,
    eof: bool,
    total: usize,
) {
    let limited = !matches!(framing, Framing::Bytes);
    let cap_before = buf.capacity();
    // Every result but `Ok(None)` consumes at least one buffered byte,
    // except one call that starts a skip and one `UnexpectedEof`.
    let budget = buf.len() + 3;
    let mut ended_with_error = false;
    for _ in 0..budget {
        let result = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match result {
            Ok(None) => {
                if eof {
                    assert!(buf.is_empty(), "{framing:?}: buffer not empty at the end");
                    assert!(
                        !codec.is_discarding(),
                        "{framing:?}: still skipping at the end"
                    );
                } else if limited {
                    assert!(
                        buf.len() <= limit + slack(framing),
                        "{framing:?} limit {limit}: {} bytes buffered after a decode loop",
                        buf.len()
                    );
                } else {
                    assert!(buf.is_empty(), "Bytes left {} bytes buffered", buf.len());
                }
                // Only a frame within the limit may be reserved for; the
                // bound is loose (the buffer's own growth and offset) but
                // far below any hostile length prefix.
                let bound = 2 * (cap_before + total + limit + 8);
                assert!(
                    buf.capacity() <= cap_before.max(bound),
                    "{framing:?} limit {limit}: capacity grew from {cap_before} to {}",
                    buf.capacity()
                );
                return;
            }
            Ok(Some(frame)) => {
                assert!(!ended_with_error, "a frame after UnexpectedEof");
                check_frame(framing, limit, &frame, eof);
                out.push(Out::Frame(frame));
            }
            Err(e) => {
                assert!(!ended_with_error, "an error after UnexpectedEof");
                match &e {
                    Error::FrameTooLong { limit: l } => {
                        assert!(limited, "FrameTooLong from Bytes framing");
                        assert_eq!(*l, limit, "FrameTooLong carries the limit in force");
                    }
                    Error::Io(io)
                        if io.kind() == io::ErrorKind::UnexpectedEof
                            && eof
                            && matches!(framing, Framing::LengthPrefixed) =>
                    {
                        assert!(buf.is_empty(), "buffer not cleared by UnexpectedEof");
                        ended_with_error = true;
                    }
                    other => panic!("{framing:?}: unexpected error {other:?} (eof: {eof})"),
                }
                out.push(Out::Error(render(&e)));
            }
        }
    }
    panic!("{framing:?} limit {limit}: decode loop did not reach Ok(None) in {budget} calls");
}

/// The shape every frame of `framing` must have.
fn check_frame(framing: &Framing, limit: usize, frame: &[u8], eof: bool) {
    if !matches!(framing, Framing::Bytes) {
        assert!(
            frame.len() <= limit,
            "{framing:?}: frame of {} bytes over the limit {limit}",
            frame.len()
        );
    }
    if !matches!(framing, Framing::LengthPrefixed) {
        assert!(!frame.is_empty(), "{framing:?}: empty frame");
    }
    match framing {
        Framing::Lines => {
            let body = &frame[..frame.len() - 1];
            assert!(!body.contains(&b'\n'), "a line holding a newline inside");
            if !eof {
                assert_eq!(frame.last(), Some(&b'\n'), "a line without its newline");
            }
        }
        Framing::Delimited(list) if !eof => {
            assert!(
                list.iter().any(|d| frame.ends_with(d)),
                "a delimited frame without its delimiter: {frame:?}"
            );
        }
        Framing::Exact(n) => {
            if eof {
                assert!(frame.len() <= *n);
            } else {
                assert_eq!(frame.len(), *n, "Exact({n}) frame of another length");
            }
        }
        _ => {}
    }
}

/// Where the delimited frame starting at `s` ends (exclusive): at the
/// occurrence starting earliest, the longest of those starting there.
fn delimited_end(list: &[Bytes], data: &[u8], s: usize) -> Option<usize> {
    (s..data.len()).find_map(|p| {
        list.iter()
            .filter(|d| data[p..].starts_with(d))
            .map(|d| p + d.len())
            .max()
    })
}

/// The frames and errors `framing` documents for `data` read whole, with
/// the limit; `None` for `Bytes` (its frames are the reads) and invalid
/// framings.
pub fn reference(framing: &Framing, limit: usize, data: &[u8]) -> Option<Vec<Out>> {
    let mut out = Vec::new();
    let frame = |a: usize, b: usize| Out::Frame(Bytes::copy_from_slice(&data[a..b]));
    match framing {
        Framing::Lines | Framing::Delimited(_) => {
            let end = |s: usize| match framing {
                Framing::Delimited(list) => delimited_end(list, data, s),
                _ => data[s..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|i| s + i + 1),
            };
            let mut s = 0;
            while s < data.len() {
                match end(s) {
                    Some(e) => {
                        out.push(if e - s <= limit {
                            frame(s, e)
                        } else {
                            too_long(limit)
                        });
                        s = e;
                    }
                    None => {
                        // The last decode before the end saw this whole tail
                        // and no end in it: at `limit` bytes it is over-long
                        // (and its tail dropped silently); else it is the
                        // final partial frame.
                        out.push(if data.len() - s >= limit {
                            too_long(limit)
                        } else {
                            frame(s, data.len())
                        });
                        break;
                    }
                }
            }
        }
        Framing::Exact(0) => return None,
        Framing::Exact(n) => {
            for start in (0..data.len()).step_by(*n) {
                out.push(if *n <= limit {
                    frame(start, (start + n).min(data.len()))
                } else {
                    too_long(limit)
                });
            }
        }
        Framing::LengthPrefixed => {
            let mut s = 0;
            while s < data.len() {
                let rest = data.len() - s;
                if rest < 4 {
                    out.push(unexpected_eof(format!(
                        "end of stream inside a length prefix: {} of its 4 bytes missing",
                        4 - rest
                    )));
                    break;
                }
                let header: [u8; 4] = data[s..s + 4].try_into().unwrap();
                let len = u32::from_be_bytes(header) as usize;
                if len > limit {
                    out.push(too_long(limit));
                    s = s.saturating_add(4).saturating_add(len);
                } else if rest - 4 >= len {
                    out.push(frame(s + 4, s + 4 + len));
                    s += 4 + len;
                } else {
                    out.push(unexpected_eof(format!(
                        "end of stream inside a length-prefixed frame: {} of its {len} payload bytes missing",
                        len - (rest - 4)
                    )));
                    break;
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

/// An invalid framing: every decode, decode_eof and encode call is an
/// `InvalidInput` error that leaves the buffers alone, an empty buffer
/// included (a finding of this target, fixed; its regression test is
/// `invalid_framing_is_reported_even_on_an_empty_stream` in
/// tests/bad_input.rs).
fn check_invalid(framing: &Framing, limit: usize, data: &[u8]) {
    let mut codec = FrameCodec::new(framing.clone());
    codec.set_max_frame_len(limit);
    let mut buf = BytesMut::from(data);
    let is_invalid_input = |r: &Result<Option<Bytes>, Error>| matches!(r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput);
    for _ in 0..3 {
        let r = codec.decode(&mut buf);
        assert!(is_invalid_input(&r), "{framing:?}: decode gave {r:?}");
        assert_eq!(&buf[..], data);
    }
    let r = codec.decode_eof(&mut buf);
    assert!(is_invalid_input(&r), "{framing:?}: decode_eof gave {r:?}");
    assert_eq!(&buf[..], data);
    let mut dst = BytesMut::from(&b"kept"[..]);
    let r = codec.encode(Bytes::copy_from_slice(data), &mut dst);
    assert!(
        matches!(&r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput),
        "{framing:?}: encode gave {r:?}"
    );
    assert_eq!(&dst[..], b"kept");
}

/// The decoder checks (see the crate docs) for one input.
pub fn check_decoder(framing: &Framing, limit: usize, data: &[u8], chunks: &[Chunk]) {
    if !is_valid(framing) {
        check_invalid(framing, limit, data);
        return;
    }
    let chunked = feed(framing, limit, data, chunks);
    let whole = feed(framing, limit, data, &[]);
    let one = Chunk {
        len: 1,
        big: false,
        realloc: false,
    };
    let bytewise = feed(framing, limit, data, &[one]);
    if let Framing::Bytes = framing {
        // Frames are whatever each read brought: put together, the input.
        for run in [&chunked, &whole, &bytewise] {
            let mut joined = Vec::new();
            for out in run.iter() {
                match out {
                    Out::Frame(f) => joined.extend_from_slice(f),
                    Out::Error(e) => panic!("Bytes framing gave an error: {e}"),
                }
            }
            assert_eq!(joined, data, "Bytes frames do not add up to the input");
        }
        assert!(whole.len() <= 1, "one read, at most one frame");
        assert_eq!(bytewise.len(), data.len(), "one frame per byte read");
        return;
    }
    assert_eq!(
        chunked, whole,
        "{framing:?} limit {limit}: chunked frames differ from one-chunk frames"
    );
    assert_eq!(
        bytewise, whole,
        "{framing:?} limit {limit}: byte-by-byte frames differ from one-chunk frames"
    );
    if let Some(expected) = reference(framing, limit, data) {
        assert_eq!(
            whole, expected,
            "{framing:?} limit {limit}: frames differ from the reference model"
        );
    }
}

/// What the encoder documents for `item`: the bytes appended, or the error.
fn expected_encoding(framing: &Framing, limit: usize, item: &[u8]) -> Result<Vec<u8>, String> {
    let over = |len: usize, limit: usize| {
        if len > limit {
            Err(render(&Error::FrameTooLong { limit }))
        } else {
            Ok(())
        }
    };
    match framing {
        Framing::Bytes => Ok(item.to_vec()),
        Framing::Lines => {
            let mut v = item.to_vec();
            if item.last() != Some(&b'\n') {
                v.push(b'\n');
            }
            over(v.len(), limit).map(|()| v)
        }
        Framing::Delimited(list) => {
            let mut v = item.to_vec();
            if !list.iter().any(|d| item.ends_with(d)) {
                v.extend_from_slice(&list[0]);
            }
            over(v.len(), limit).map(|()| v)
        }
        Framing::Exact(n) => {
            if item.len() != *n {
                return Err(render(&Error::FrameLength {
                    expected: *n,
                    actual: item.len(),
                }));
            }
            over(*n, limit).map(|()| item.to_vec())
        }
        Framing::LengthPrefixed => {
            over(item.len(), limit.min(u32::MAX as usize))?;
            let mut v = (item.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(item);
            Ok(v)
        }
        other => panic!("no encoding known for {other:?}"),
    }
}

/// Encodes `item` (through both `Encoder` impls) after some bytes already in
/// `dst`: exactly the documented bytes appended, or the documented error
/// with nothing appended.
pub fn check_encoder(framing: &Framing, limit: usize, item: &[u8]) {
    if !is_valid(framing) {
        return; // covered by `check_invalid`
    }
    let expected = expected_encoding(framing, limit, item);
    let mut codec = FrameCodec::new(framing.clone());
    codec.set_max_frame_len(limit);
    for as_bytes in [true, false] {
        let mut dst = BytesMut::from(&b"before"[..]);
        let r = if as_bytes {
            codec.encode(Bytes::copy_from_slice(item), &mut dst)
        } else {
            codec.encode(item, &mut dst)
        };
        match (&expected, r) {
            (Ok(bytes), Ok(())) => {
                assert_eq!(&dst[..6], b"before");
                assert_eq!(&dst[6..], &bytes[..], "{framing:?}: encoded {item:?}");
            }
            (Err(want), Err(e)) => {
                assert_eq!(&render(&e), want, "{framing:?}: encoding {item:?}");
                assert_eq!(&dst[..], b"before", "an error wrote something");
            }
            (want, got) => panic!(
                "{framing:?} limit {limit}: encoding {item:?} gave {got:?}, expected {want:?}"
            ),
        }
    }
}

/// Encodes `payloads` as `LengthPrefixed` frames (those over the limit are
/// refused and leave nothing), then decodes the wire in `chunks`: exactly
/// the accepted payloads, in order, and nothing else.
pub fn check_length_prefixed_round_trip(limit: usize, payloads: &[Vec<u8>], chunks: &[Chunk]) {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    codec.set_max_frame_len(limit);
    let mut wire = BytesMut::new();
    let mut accepted = Vec::new();
    for p in payloads {
        let before = wire.len();
        match codec.encode(Bytes::copy_from_slice(p), &mut wire) {
            Ok(()) => {
                assert!(p.len() <= limit);
                assert_eq!(wire.len(), before + 4 + p.len());
                accepted.push(Out::Frame(Bytes::copy_from_slice(p)));
            }
            Err(Error::FrameTooLong { limit: l }) => {
                assert!(p.len() > limit && l == limit);
                assert_eq!(wire.len(), before);
            }
            Err(e) => panic!("encoding {} bytes: {e:?}", p.len()),
        }
    }
    let decoded = feed(&Framing::LengthPrefixed, limit, &wire, chunks);
    assert_eq!(
        decoded, accepted,
        "LengthPrefixed encode-then-decode is not the identity"
    );
}
