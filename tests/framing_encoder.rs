//! FrameCodec's encoder: one frame per item per framing, items it refuses
//! (another length for `Exact`, over the limit), and frames that survive a
//! decode, encode, decode round trip unchanged.

mod support;

use bytes::{Bytes, BytesMut};
use iochannels::{Error, FrameCodec, Framing};
use support::frames::{codec, decode, delimited, encoded, prefixed};
use tokio_util::codec::{Decoder, Encoder};

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
