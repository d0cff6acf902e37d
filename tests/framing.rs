//! FrameCodec decoding: frames per framing, chunk independence (every split
//! of the input gives the same frames), and the end of stream. The frame
//! limit is in framing_limit.rs, the encoder in framing_encoder.rs,
//! switching framing in framing_switch.rs; the helpers in
//! support/frames.rs.

mod support;

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use iochannels::{Error, FrameCodec, Framing, DEFAULT_MAX_FRAME_LEN};
use support::frames::{
    assert_frames, assert_io, assert_too_long, codec, decode, delimited, encoded, f, prefixed, run,
    Out,
};
use tokio_util::codec::{Decoder, Encoder};

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
