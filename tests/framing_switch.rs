//! FrameCodec switching framing mid-buffer: nothing lost or re-ordered, the
//! buffer rescanned the new way, a skip abandoned, and frames that do not
//! depend on where reads cut the input.

mod support;

use bytes::{Buf, Bytes, BytesMut};
use iochannels::{FrameCodec, Framing};
use support::frames::{assert_frames, assert_too_long, codec, decode, delimited, prefixed, run};
use tokio_util::codec::Decoder;

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
