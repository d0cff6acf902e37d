//! FrameCodec's frame limit: an over-long frame reported once, as soon as
//! it is known, then skipped with a bounded buffer, per framing; the limit
//! changed between frames. Decoding within the limit is in framing.rs.

mod support;

use bytes::BytesMut;
use iochannels::{FrameCodec, Framing};
use support::frames::{
    assert_frames, assert_too_long, codec, decode, delimited, drain, f, prefixed, Out,
};
use tokio_util::codec::Decoder;

// ===== the frame limit =====

#[test]
fn overlong_line_reported_once_then_next_line_returned() {
    let make = || codec(Framing::Lines, 4);
    let expected = [f(b"abc\n"), Out::TooLong(4), f(b"ok\n"), f(b"\n")];
    assert_frames(make, b"abc\nabcd\nok\n\n", &expected);
    let expected = [Out::TooLong(4), f(b"ok\n")];
    assert_frames(make, b"a very long line indeed\nok\n", &expected);
}

#[test]
fn frame_limit_counts_the_delimiter() {
    assert_frames(|| codec(Framing::Lines, 3), b"abc\n", &[Out::TooLong(3)]);
    assert_frames(|| codec(Framing::Lines, 4), b"abc\n", &[f(b"abc\n")]);
    let make = || codec(delimited(&[b"\r\n"]), 4);
    assert_frames(
        make,
        b"ab\r\nabc\r\nx",
        &[f(b"ab\r\n"), Out::TooLong(4), f(b"x")],
    );
}

#[test]
fn overlong_line_reported_as_soon_as_the_buffer_reaches_the_limit() {
    let mut codec = codec(Framing::Lines, 4);
    let mut buf = BytesMut::from(&b"abc"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.extend_from_slice(b"d");
    assert_too_long(codec.decode(&mut buf), 4);
    assert!(codec.is_discarding());
    assert!(buf.is_empty(), "the bad line's bytes are dropped at once");
    buf.extend_from_slice(b"efg\nnxt\n");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"nxt\n"[..]));
    assert!(!codec.is_discarding());
}

#[test]
fn overlong_delimited_frame_waits_for_a_longer_delimiter_before_judging() {
    // "abc\r" fits in 4 bytes, "abc\r\n" does not: only the next byte tells.
    let make = || codec(delimited(&[b"\r", b"\r\n"]), 4);
    assert_frames(make, b"abc\r\nok\r", &[Out::TooLong(4), f(b"ok\r")]);
    assert_frames(make, b"abc\rok\r", &[f(b"abc\r"), f(b"ok\r")]);
    assert_frames(make, b"abc\r", &[f(b"abc\r")]);
}

/// Streams a frame 100 times the limit through in `chunk`-byte reads
/// followed by `after`, and checks the buffer stays within limit + chunk
/// after every decode, the error comes once, and `after` arrives intact.
#[track_caller]
fn assert_streamed_overlong_frame_is_skipped(
    framing: Framing,
    bad: &[u8],
    after: &[u8],
    expected_after: &[Out],
) {
    const LIMIT: usize = 64;
    for chunk in [1, 7, 64, 100] {
        let mut codec = codec(framing.clone(), LIMIT);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let input = [bad, after].concat();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            drain(&mut codec, &mut buf, &mut out, false);
            assert!(buf.len() <= LIMIT + chunk, "buffer grew to {}", buf.len());
        }
        drain(&mut codec, &mut buf, &mut out, true);
        let mut expected = vec![Out::TooLong(LIMIT)];
        expected.extend_from_slice(expected_after);
        assert_eq!(out, expected, "{framing:?} in {chunk}-byte chunks");
    }
}

#[test]
fn overlong_frames_stream_through_with_a_bounded_buffer() {
    let long = vec![b'x'; 6400];
    let line = [&long[..], b"\n"].concat();
    assert_streamed_overlong_frame_is_skipped(Framing::Lines, &line, b"next\n", &[f(b"next\n")]);
    let record = [&long[..], b"<<END>>"].concat();
    assert_streamed_overlong_frame_is_skipped(
        delimited(&[b"<<END>>", b"<<!"]),
        &record,
        b"next<<END>>",
        &[f(b"next<<END>>")],
    );
    // Every Exact(6400) frame is over the limit: the tail starts another.
    assert_streamed_overlong_frame_is_skipped(
        Framing::Exact(6400),
        &long,
        b"tail",
        &[Out::TooLong(64)],
    );
    let frame = prefixed(&[&long]);
    assert_streamed_overlong_frame_is_skipped(
        Framing::LengthPrefixed,
        &frame,
        &prefixed(&[b"next"]),
        &[f(b"next")],
    );
}

#[test]
fn overlong_delimited_skip_ends_at_a_delimiter_split_across_reads() {
    let mut codec = codec(delimited(&[b"\r\n"]), 4);
    let mut buf = BytesMut::from(&b"abcdef\r"[..]);
    assert_too_long(codec.decode(&mut buf), 4);
    assert_eq!(&buf[..], b"\r", "only a possible delimiter start is kept");
    buf.extend_from_slice(b"\nok\r\n");
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"ok\r\n"[..])
    );
}

#[test]
fn overlong_exact_frame_reported_when_it_starts_then_skipped() {
    let mut codec = codec(Framing::Exact(10), 4);
    let mut buf = BytesMut::from(&b"a"[..]);
    assert_too_long(codec.decode(&mut buf), 4);
    assert!(buf.is_empty());
    buf.extend_from_slice(b"bcdefghijKLMNOPQRSTUVW");
    // The rest of the first frame is skipped; the next one, all here, is
    // dropped whole and reported; the third starts and is reported.
    assert_too_long(codec.decode(&mut buf), 4);
    assert_eq!(&buf[..], b"UVW");
    assert!(!codec.is_discarding());
    assert_too_long(codec.decode(&mut buf), 4);
    assert!(buf.is_empty());
    assert!(codec.is_discarding());
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn overlong_length_prefixed_payload_reported_from_the_header() {
    let mut codec = codec(Framing::LengthPrefixed, 4);
    let mut buf = BytesMut::from(&b"\0\0\0\x05"[..]);
    assert_too_long(codec.decode(&mut buf), 4);
    buf.extend_from_slice(b"abcde\0\0\0\x04abcd");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"abcd"[..]));
}

#[test]
fn overlong_frame_cut_by_eof_is_dropped_silently() {
    let expected = [f(b"a\n"), Out::TooLong(4)];
    assert_frames(|| codec(Framing::Lines, 4), b"a\nlong line", &expected);
    let input = [&b"\0\0\0\x09"[..], b"abc"].concat();
    assert_frames(
        || codec(Framing::LengthPrefixed, 4),
        &input,
        &[Out::TooLong(4)],
    );
}

#[test]
fn set_max_frame_len_applies_to_the_next_frame() {
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(&b"abcdef\nabcdef\n"[..]);
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"abcdef\n"[..])
    );
    codec.set_max_frame_len(3);
    assert_eq!(codec.max_frame_len(), 3);
    assert_too_long(codec.decode(&mut buf), 3);
    assert_eq!(decode(&mut codec, &mut buf), None);
}
