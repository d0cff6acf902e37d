//! FrameCodec: frames per framing, chunk independence, the end of stream,
//! the frame limit and skipping, the encoder, and switching framing.

mod support;

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use iochannels::{Error, FrameCodec, Framing, DEFAULT_MAX_FRAME_LEN};
use support::frames::{drain, Out};
use tokio_util::codec::{Decoder, Encoder};

// ===== helpers =====

fn f(bytes: &[u8]) -> Out {
    Out::Frame(Bytes::copy_from_slice(bytes))
}

fn delimited(list: &[&[u8]]) -> Framing {
    Framing::Delimited(list.iter().map(|d| Bytes::copy_from_slice(d)).collect())
}

fn codec(framing: Framing, limit: usize) -> FrameCodec {
    let mut codec = FrameCodec::new(framing);
    codec.set_max_frame_len(limit);
    codec
}

/// Feeds `chunks` one at a time (decoding after each), then decodes to the
/// end of stream; the buffer must end up empty.
#[track_caller]
fn run(mut codec: FrameCodec, chunks: &[&[u8]]) -> Vec<Out> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        drain(&mut codec, &mut buf, &mut out, false);
    }
    drain(&mut codec, &mut buf, &mut out, true);
    assert!(buf.is_empty(), "buffer left with {:?}", buf);
    assert!(!codec.is_discarding());
    out
}

/// Asserts that `input` gives `expected` read whole, and the same in every
/// split into two chunks, every split into three (for small inputs), and
/// byte by byte.
#[track_caller]
fn assert_frames(make: impl Fn() -> FrameCodec, input: &[u8], expected: &[Out]) {
    assert_eq!(run(make(), &[input]), expected, "input read whole");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(run(make(), &[a, b]), expected, "split at {i}");
        if input.len() <= 40 {
            for j in i..=input.len() {
                let (b, c) = input[i..].split_at(j - i);
                assert_eq!(run(make(), &[a, b, c]), expected, "split at {i}, {j}");
            }
        }
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(make(), &bytes), expected, "byte by byte");
}

#[track_caller]
fn assert_too_long(result: Result<Option<Bytes>, Error>, expected: usize) {
    match result {
        Err(Error::FrameTooLong { limit }) => assert_eq!(limit, expected),
        other => panic!("expected FrameTooLong {{ limit: {expected} }}, got {other:?}"),
    }
}

#[track_caller]
fn assert_io(result: Result<Option<Bytes>, Error>, kind: io::ErrorKind, message: &str) {
    match result {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.to_string(), message);
        }
        other => panic!("expected an Io error of kind {kind:?}, got {other:?}"),
    }
}

fn decode(codec: &mut FrameCodec, buf: &mut BytesMut) -> Option<Bytes> {
    codec.decode(buf).expect("decode")
}

fn encoded(codec: &mut FrameCodec, item: &[u8]) -> Result<BytesMut, Error> {
    let mut dst = BytesMut::new();
    codec.encode(Bytes::copy_from_slice(item), &mut dst)?;
    Ok(dst)
}

// ===== Bytes =====

#[test]
fn bytes_frame_is_everything_buffered() {
    let mut codec = FrameCodec::new(Framing::Bytes);
    let mut buf = BytesMut::from(&b"any\nthing"[..]);
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"any\nthing"[..])
    );
    assert_eq!(decode(&mut codec, &mut buf), None);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn bytes_ignore_the_frame_limit() {
    let mut codec = codec(Framing::Bytes, 2);
    let mut buf = BytesMut::from(&b"longer than two"[..]);
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"longer than two"[..])
    );
    let mut dst = BytesMut::new();
    codec
        .encode(Bytes::from_static(b"also longer"), &mut dst)
        .unwrap();
    assert_eq!(&dst[..], b"also longer");
}

#[test]
fn bytes_deliver_everything_whatever_the_chunks() {
    let out = run(FrameCodec::new(Framing::Bytes), &[b"ab", b"", b"c"]);
    assert_eq!(out, [f(b"ab"), f(b"c")]);
}

// ===== Lines =====

#[test]
fn lines_split_after_each_newline_keeping_it() {
    let input = b"one\ntwo\r\n\nthree\n";
    let expected = [f(b"one\n"), f(b"two\r\n"), f(b"\n"), f(b"three\n")];
    assert_frames(|| FrameCodec::new(Framing::Lines), input, &expected);
}

#[test]
fn lines_empty_lines_are_one_byte_frames() {
    assert_frames(
        || FrameCodec::new(Framing::Lines),
        b"\n\n\n",
        &[f(b"\n"), f(b"\n"), f(b"\n")],
    );
}

#[test]
fn lines_keep_partial_last_line_at_eof() {
    let expected = [f(b"a\n"), f(b"b\n"), f(b"tail")];
    assert_frames(|| FrameCodec::new(Framing::Lines), b"a\nb\ntail", &expected);
}

#[test]
fn lines_come_out_as_soon_as_the_newline_is_buffered() {
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(&b"par"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.extend_from_slice(b"t\nnext");
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"part\n"[..])
    );
    assert_eq!(&buf[..], b"next");
}

#[test]
fn lines_pass_invalid_utf8_through_untouched() {
    let input = b"\xff\xfe\n\xc3\x28\n\x80";
    let expected = [f(b"\xff\xfe\n"), f(b"\xc3\x28\n"), f(b"\x80")];
    assert_frames(|| FrameCodec::new(Framing::Lines), input, &expected);
}

#[test]
fn frames_are_split_off_the_read_buffer_without_copying() {
    for framing in [Framing::Lines, delimited(&[b";"]), Framing::Exact(3)] {
        let mut codec = FrameCodec::new(framing);
        let mut buf = BytesMut::from(&b"ab\n;cdef"[..]);
        let start = buf.as_ptr() as usize;
        let frame = decode(&mut codec, &mut buf).unwrap();
        assert_eq!(frame.as_ptr() as usize, start);
    }
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut buf = BytesMut::from(&b"\0\0\0\x02hi"[..]);
    let start = buf.as_ptr() as usize;
    let frame = decode(&mut codec, &mut buf).unwrap();
    assert_eq!(frame.as_ptr() as usize, start + 4);
}

#[test]
fn lines_long_line_fed_byte_by_byte_is_scanned_once() {
    // Quadratic rescanning would take minutes here; linear takes milliseconds.
    const LEN: usize = 1 << 20;
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::with_capacity(LEN + 1);
    for _ in 0..LEN {
        buf.put_u8(b'x');
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }
    buf.put_u8(b'\n');
    let line = decode(&mut codec, &mut buf).unwrap();
    assert_eq!(line.len(), LEN + 1);
    assert!(buf.is_empty());
}

// ===== Delimited =====

#[test]
fn delimited_keeps_the_delimiter() {
    let make = || FrameCodec::new(delimited(&[b"\r\n"]));
    let expected = [f(b"a\r\n"), f(b"\r\n"), f(b"b\rc\nd\r\n"), f(b"e")];
    assert_frames(make, b"a\r\n\r\nb\rc\nd\r\ne", &expected);
}

#[test]
fn delimited_multibyte_delimiter_split_across_every_boundary() {
    let make = || FrameCodec::new(delimited(&[b"<END>", b"|"]));
    let input = b"x<END>y<EN|z<END><END>";
    let expected = [f(b"x<END>"), f(b"y<EN|"), f(b"z<END>"), f(b"<END>")];
    assert_frames(make, input, &expected);
}

#[test]
fn delimited_frame_ends_at_the_earliest_starting_delimiter() {
    // "xyz" starts before "y" although "y" ends first.
    let make = || FrameCodec::new(delimited(&[b"y", b"xyz"]));
    assert_frames(make, b"axyzby", &[f(b"axyz"), f(b"by")]);
    // Overlapping occurrences: "ab" at 1 wins over "b" at 2.
    let make = || FrameCodec::new(delimited(&[b"b", b"ab"]));
    assert_frames(make, b"xabbq", &[f(b"xab"), f(b"b"), f(b"q")]);
}

#[test]
fn delimited_longest_delimiter_wins_at_the_same_start() {
    let make = || FrameCodec::new(delimited(&[b"\r", b"\r\n"]));
    let expected = [f(b"a\r\n"), f(b"b\r"), f(b"\r\n"), f(b"c\r")];
    assert_frames(make, b"a\r\nb\r\r\nc\r", &expected);
    let make = || FrameCodec::new(delimited(&[b"--", b"-", b"---"]));
    assert_frames(make, b"a---b--c-", &[f(b"a---"), f(b"b--"), f(b"c-")]);
}

#[test]
fn delimited_waits_while_a_longer_delimiter_could_still_match() {
    let mut codec = FrameCodec::new(delimited(&[b"\r", b"\r\n"]));
    let mut buf = BytesMut::from(&b"a\r"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.extend_from_slice(b"x");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"a\r"[..]));
    buf.extend_from_slice(b"\r");
    assert_eq!(decode(&mut codec, &mut buf), None);
    // At the end of the stream nothing more can come: the "\r" is final.
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap().as_deref(),
        Some(&b"x\r"[..])
    );
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn delimited_keeps_partial_tail_at_eof() {
    let make = || FrameCodec::new(delimited(&[b"::"]));
    assert_frames(make, b"a::b:", &[f(b"a::"), f(b"b:")]);
}

#[test]
fn delimited_with_newline_frames_like_lines() {
    let input = b"one\n\ntwo\nrest";
    let lines = run(FrameCodec::new(Framing::Lines), &[input]);
    assert_eq!(run(FrameCodec::new(delimited(&[b"\n"])), &[input]), lines);
}

#[test]
fn delimited_rare_delimiter_does_not_rescan_per_frame() {
    // 200k frames in one buffer, one delimiter never present: rescanning the
    // buffer for it per frame would be quadratic (minutes in debug).
    let input = b"ab;".repeat(200_000);
    let mut codec = FrameCodec::new(delimited(&[b"NEVER", b";", b"\r\n"]));
    let mut buf = BytesMut::from(&input[..]);
    let mut count = 0;
    while let Some(frame) = decode(&mut codec, &mut buf) {
        assert_eq!(&frame[..], b"ab;");
        count += 1;
    }
    assert_eq!(count, 200_000);
}

#[test]
fn delimited_long_record_fed_byte_by_byte_is_scanned_once() {
    const LEN: usize = 1 << 20;
    let mut codec = FrameCodec::new(delimited(&[b"\r\n", b"<END>", b"\n"]));
    let mut buf = BytesMut::with_capacity(LEN + 5);
    for i in 0..LEN {
        // Near misses of every delimiter on the way.
        buf.put_u8(b"<EN\rx"[i % 5]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }
    buf.extend_from_slice(b"<END>");
    let record = decode(&mut codec, &mut buf).unwrap();
    assert_eq!(record.len(), LEN + 5);
    assert_eq!(&record[LEN - 2..], b"x<<END>");
}

#[test]
fn delimited_empty_list_is_invalid_input() {
    let mut codec = FrameCodec::new(Framing::Delimited(Vec::new()));
    let mut buf = BytesMut::from(&b"abc"[..]);
    let message = "Delimited framing needs at least one delimiter";
    assert_io(codec.decode(&mut buf), io::ErrorKind::InvalidInput, message);
    assert_io(
        codec.decode_eof(&mut buf),
        io::ErrorKind::InvalidInput,
        message,
    );
    assert_eq!(&buf[..], b"abc", "nothing consumed");
    match encoded(&mut codec, b"x") {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
        other => panic!("{other:?}"),
    }
}

#[test]
fn delimited_empty_delimiter_is_invalid_input() {
    let mut codec = FrameCodec::new(delimited(&[b";", b""]));
    let mut buf = BytesMut::from(&b"a;"[..]);
    let message = "Delimited framing: a delimiter must not be empty";
    assert_io(codec.decode(&mut buf), io::ErrorKind::InvalidInput, message);
}

// ===== Exact =====

#[test]
fn exact_frames_are_n_bytes() {
    let make = || FrameCodec::new(Framing::Exact(3));
    let expected = [f(b"abc"), f(b"\n\nd"), f(b"efg")];
    assert_frames(make, b"abc\n\ndefg", &expected);
}

#[test]
fn exact_short_tail_is_delivered_at_eof() {
    let make = || FrameCodec::new(Framing::Exact(4));
    assert_frames(make, b"abcdefg", &[f(b"abcd"), f(b"efg")]);
}

#[test]
fn exact_zero_is_invalid_input_not_a_hang() {
    let mut codec = FrameCodec::new(Framing::Exact(0));
    let mut buf = BytesMut::from(&b"abc"[..]);
    let message = "Exact(0) framing: a frame must be at least one byte";
    assert_io(codec.decode(&mut buf), io::ErrorKind::InvalidInput, message);
    assert_io(
        codec.decode_eof(&mut buf),
        io::ErrorKind::InvalidInput,
        message,
    );
    assert_eq!(&buf[..], b"abc");
}

// ===== LengthPrefixed =====

fn prefixed(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn length_prefixed_frame_is_the_payload() {
    let input = prefixed(&[b"hello", b"\n", b"w\0rld"]);
    let expected = [f(b"hello"), f(b"\n"), f(b"w\0rld")];
    assert_frames(
        || FrameCodec::new(Framing::LengthPrefixed),
        &input,
        &expected,
    );
}

#[test]
fn length_prefixed_zero_length_is_an_empty_frame() {
    let input = prefixed(&[b"", b"x", b""]);
    let expected = [f(b""), f(b"x"), f(b"")];
    assert_frames(
        || FrameCodec::new(Framing::LengthPrefixed),
        &input,
        &expected,
    );
}

#[test]
fn length_prefixed_truncated_header_at_eof_is_unexpected_eof_then_none() {
    let mut input = prefixed(&[b"ok"]);
    input.extend_from_slice(&[0, 0, 1]);
    let message = "end of stream inside a length prefix: 1 of its 4 bytes missing";
    let expected = [
        f(b"ok"),
        Out::Io(io::ErrorKind::UnexpectedEof, message.into()),
    ];
    assert_frames(
        || FrameCodec::new(Framing::LengthPrefixed),
        &input,
        &expected,
    );

    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut buf = BytesMut::from(&[0u8, 0][..]);
    let message = "end of stream inside a length prefix: 2 of its 4 bytes missing";
    assert_io(
        codec.decode_eof(&mut buf),
        io::ErrorKind::UnexpectedEof,
        message,
    );
    assert!(buf.is_empty());
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn length_prefixed_truncated_payload_at_eof_is_unexpected_eof_then_none() {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut buf = BytesMut::from(&b"\0\0\0\x0aabcd"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    let message = "end of stream inside a length-prefixed frame: 6 of its 10 payload bytes missing";
    assert_io(
        codec.decode_eof(&mut buf),
        io::ErrorKind::UnexpectedEof,
        message,
    );
    assert!(buf.is_empty());
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
}

#[test]
fn length_prefixed_4gib_prefix_is_too_long_without_allocating() {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, b'a', b'b']);
    assert_too_long(codec.decode(&mut buf), DEFAULT_MAX_FRAME_LEN);
    assert!(buf.capacity() <= 64, "reserved {} bytes", buf.capacity());
    assert!(buf.is_empty());
    assert!(codec.is_discarding());
    buf.extend_from_slice(&[0; 1000]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    assert!(buf.is_empty());
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    assert!(!codec.is_discarding());
}

#[test]
fn length_prefixed_reserves_room_for_a_payload_within_the_limit() {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut buf = BytesMut::from(&[0u8, 0, 0x10, 0][..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    assert!(buf.capacity() >= 4 + 0x1000);
}

// ===== the end of stream =====

#[test]
fn eof_delivers_complete_frames_before_the_partial_one_then_none() {
    type Case = (Framing, &'static [u8], &'static [&'static [u8]]);
    let cases: [Case; 5] = [
        (Framing::Bytes, b"ab", &[b"ab"]),
        (Framing::Lines, b"a\nb\nc", &[b"a\n", b"b\n", b"c"]),
        (delimited(&[b";;"]), b"a;;b;", &[b"a;;", b"b;"]),
        (Framing::Exact(2), b"abcde", &[b"ab", b"cd", b"e"]),
        (
            Framing::LengthPrefixed,
            b"\0\0\0\x01a\0\0\0\0",
            &[b"a", b""],
        ),
    ];
    for (framing, input, frames) in cases {
        let mut codec = FrameCodec::new(framing.clone());
        let mut buf = BytesMut::from(input);
        for frame in frames {
            let got = codec.decode_eof(&mut buf).unwrap();
            assert_eq!(got.as_deref(), Some(*frame), "{framing:?}");
        }
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None, "{framing:?}");
        assert!(buf.is_empty());
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None, "{framing:?}");
    }
}

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

// ===== the encoder =====

#[test]
fn encoder_writes_one_frame_per_item_per_framing() {
    let cases: [(Framing, &[u8], &[u8]); 9] = [
        (Framing::Bytes, b"raw", b"raw"),
        (Framing::Lines, b"line", b"line\n"),
        (Framing::Lines, b"line\n", b"line\n"),
        (Framing::Lines, b"", b"\n"),
        (delimited(&[b"\r\n", b";"]), b"rec", b"rec\r\n"),
        (delimited(&[b"\r\n", b";"]), b"rec;", b"rec;"),
        (delimited(&[b"\r\n", b";"]), b"rec\r\n", b"rec\r\n"),
        (Framing::Exact(3), b"abc", b"abc"),
        (Framing::LengthPrefixed, b"hi", b"\0\0\0\x02hi"),
    ];
    for (framing, item, wire) in cases {
        let mut codec = FrameCodec::new(framing.clone());
        assert_eq!(&encoded(&mut codec, item).unwrap()[..], wire, "{framing:?}");
        let mut dst = BytesMut::new();
        codec.encode(item, &mut dst).unwrap();
        assert_eq!(&dst[..], wire, "{framing:?} from a slice");
    }
}

#[test]
fn encoder_refuses_exact_items_of_another_length() {
    let mut codec = FrameCodec::new(Framing::Exact(3));
    let mut dst = BytesMut::from(&b"before"[..]);
    match codec.encode(Bytes::from_static(b"abcd"), &mut dst) {
        Err(e @ Error::FrameLength { .. }) => {
            assert!(matches!(
                e,
                Error::FrameLength {
                    expected: 3,
                    actual: 4
                }
            ));
            let message = "frame of 4 bytes where Exact(3) framing needs exactly 3";
            assert_eq!(e.to_string(), message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(&dst[..], b"before", "nothing written on error");
}

#[test]
fn encoder_refuses_frames_over_the_limit() {
    let cases: [(Framing, &[u8]); 5] = [
        (Framing::Lines, b"abcd"),
        (Framing::Lines, b"abcd\n"),
        (delimited(&[b";;"]), b"abc"),
        (Framing::Exact(5), b"abcde"),
        (Framing::LengthPrefixed, b"abcde"),
    ];
    for (framing, item) in cases {
        let mut codec = codec(framing.clone(), 4);
        let mut dst = BytesMut::new();
        let result = codec.encode(Bytes::copy_from_slice(item), &mut dst);
        assert!(
            matches!(result, Err(Error::FrameTooLong { limit: 4 })),
            "{framing:?}: {result:?}"
        );
        assert!(dst.is_empty());
    }
    // Exactly at the limit is fine (for LengthPrefixed the limit is the payload's).
    let mut codec = codec(Framing::LengthPrefixed, 4);
    assert_eq!(encoded(&mut codec, b"abcd").unwrap().len(), 8);
}

#[test]
fn length_prefixed_round_trip() {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let items: [&[u8]; 4] = [b"", b"one", &[0xff; 300], b"\0\0\0\x01"];
    let mut wire = BytesMut::new();
    for item in items {
        codec.encode(item, &mut wire).unwrap();
    }
    for item in items {
        assert_eq!(decode(&mut codec, &mut wire).as_deref(), Some(item));
    }
    assert_eq!(codec.decode_eof(&mut wire).unwrap(), None);
}

#[test]
fn frame_read_from_one_channel_and_sent_into_another_arrives_unchanged() {
    let framings = [
        Framing::Bytes,
        Framing::Lines,
        delimited(&[b"\r\n", b"\n"]),
        Framing::Exact(2),
        Framing::LengthPrefixed,
    ];
    // Every frame complete: a partial last frame would be re-sent terminated.
    let input: &[u8] = b"ab\r\ncd\nef\n";
    for framing in framings {
        let wire_in = if framing == Framing::LengthPrefixed {
            prefixed(&[b"ab\r\n", b"", b"cd\nef"])
        } else {
            input.to_vec()
        };
        let mut reader = FrameCodec::new(framing.clone());
        let mut buf = BytesMut::from(&wire_in[..]);
        let mut frames = Vec::new();
        while let Some(frame) = reader.decode_eof(&mut buf).unwrap() {
            frames.push(frame);
        }
        let mut writer = FrameCodec::new(framing.clone());
        let mut wire_out = BytesMut::new();
        for frame in &frames {
            writer.encode(frame.clone(), &mut wire_out).unwrap();
        }
        let mut again = Vec::new();
        let mut second = FrameCodec::new(framing.clone());
        while let Some(frame) = second.decode_eof(&mut wire_out).unwrap() {
            again.push(frame);
        }
        if framing == Framing::Bytes {
            assert_eq!(again.concat(), frames.concat());
        } else {
            assert_eq!(again, frames, "{framing:?}");
        }
    }
}

// ===== switching framing =====

#[test]
fn set_framing_mid_buffer_header_line_then_exact_body_loses_nothing() {
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(&b"LEN 5\nhel"[..]);
    let header = decode(&mut codec, &mut buf).unwrap();
    assert_eq!(&header[..], b"LEN 5\n");
    codec.set_framing(Framing::Exact(5));
    assert_eq!(codec.framing(), &Framing::Exact(5));
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.extend_from_slice(b"lo\nLEN 1\nz");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"hello"[..]));
    codec.set_framing(Framing::Lines);
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"\n"[..]));
    assert_eq!(
        decode(&mut codec, &mut buf).as_deref(),
        Some(&b"LEN 1\n"[..])
    );
    codec.set_framing(Framing::Exact(1));
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap().as_deref(),
        Some(&b"z"[..])
    );
}

#[test]
fn set_framing_rescans_the_buffer_from_its_start() {
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(&b"abc;def"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    codec.set_framing(delimited(&[b";"]));
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"abc;"[..]));
    codec.set_framing(Framing::Bytes);
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"def"[..]));
}

#[test]
fn set_framing_while_skipping_abandons_the_skip() {
    let mut codec = codec(Framing::Lines, 4);
    let mut buf = BytesMut::from(&b"too long"[..]);
    assert_too_long(codec.decode(&mut buf), 4);
    assert!(codec.is_discarding());
    codec.set_framing(Framing::Exact(2));
    assert!(!codec.is_discarding());
    buf.extend_from_slice(b"rest\n");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"re"[..]));
}

#[test]
fn chunk_boundaries_never_change_frames_for_any_framing() {
    let text = b"a\r\nbb\n\r\r\nccc;d\r";
    let framings = [
        Framing::Bytes,
        Framing::Lines,
        delimited(&[b"\r", b"\r\n", b";"]),
        delimited(&[b"\n\r", b"c;"]),
        Framing::Exact(1),
        Framing::Exact(4),
    ];
    for framing in framings {
        for limit in [2, 3, 100] {
            let make = || codec(framing.clone(), limit);
            let whole = run(make(), &[text]);
            if framing == Framing::Bytes {
                // Bytes frames are whatever arrived: only their concatenation is fixed.
                continue;
            }
            assert_frames(make, text, &whole);
        }
    }
    let input = [prefixed(&[b"ab", b"", b"abcdef"]), vec![0, 0]].concat();
    for limit in [1, 2, 100] {
        let make = || codec(Framing::LengthPrefixed, limit);
        let whole = run(make(), &[&input]);
        assert_frames(make, &input, &whole);
    }
}

#[test]
fn buffer_drained_between_frames_with_buf_advance_is_scanned_afresh() {
    // The caller consumed bytes behind the codec's back: it must not panic
    // or read stale offsets.
    let mut codec = FrameCodec::new(delimited(&[b"::", b";"]));
    let mut buf = BytesMut::from(&b"aaaa:"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.advance(5);
    buf.extend_from_slice(b"b;");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"b;"[..]));
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(&b"aaaa"[..]);
    assert_eq!(decode(&mut codec, &mut buf), None);
    buf.clear();
    buf.extend_from_slice(b"\n");
    assert_eq!(decode(&mut codec, &mut buf).as_deref(), Some(&b"\n"[..]));
}

#[test]
fn switching_back_to_a_delimited_framing_starts_its_search_afresh() {
    // The searchers of the delimited framing are kept across the switch to
    // Exact and back; their positions must not be.
    let crlf = || Framing::Delimited(vec![Bytes::from_static(b"\r\n")]);
    let mut codec = FrameCodec::new(crlf());
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for round in 0..50 {
        let body = format!("{round}\r\n{round}");
        buf.extend_from_slice(format!("LEN {}\r\n{body}", body.len()).as_bytes());
        let header = codec.decode(&mut buf).expect("decode").expect("a header");
        let len: usize = std::str::from_utf8(&header[4..header.len() - 2])
            .expect("utf-8")
            .parse()
            .expect("a length");
        codec.set_framing(Framing::Exact(len));
        frames.push(codec.decode(&mut buf).expect("decode").expect("a body"));
        codec.set_framing(crlf());
        assert_eq!(codec.framing(), &crlf());
    }
    for (round, body) in frames.iter().enumerate() {
        assert_eq!(&body[..], format!("{round}\r\n{round}").as_bytes());
    }
    assert!(buf.is_empty());
}
