//! Decoding helpers shared by the codec tests: what a decoder produced, as
//! values that compare, a drain loop that cannot spin for ever, and the
//! builders and assertions of the `framing*.rs` tests (chunk independence
//! checked by `assert_frames`).

use std::io;

use bytes::{Bytes, BytesMut};
use iochannels::{Error, FrameCodec, Framing};
use tokio_util::codec::{Decoder, Encoder};

/// One thing a decoder produced: a frame, or an error as a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Frame(Bytes),
    TooLong(usize),
    Io(std::io::ErrorKind, String),
}

/// The marker of a decoder error.
pub fn marker(e: Error) -> Out {
    match e {
        Error::FrameTooLong { limit } => Out::TooLong(limit),
        Error::Io(e) => Out::Io(e.kind(), e.to_string()),
        other => panic!("unexpected decoder error {other:?}"),
    }
}

/// Decodes until `Ok(None)` (`decode_eof` if `eof`), pushing frames and
/// errors; panics if the decoder never says `Ok(None)`.
pub fn drain(codec: &mut FrameCodec, buf: &mut BytesMut, out: &mut Vec<Out>, eof: bool) {
    for _ in 0..1_000_000 {
        let next = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match next {
            Ok(Some(frame)) => out.push(Out::Frame(frame)),
            Ok(None) => return,
            Err(e) => out.push(marker(e)),
        }
    }
    panic!("decoder never returned Ok(None)");
}

// ===== the framing tests' helpers =====

pub fn f(bytes: &[u8]) -> Out {
    Out::Frame(Bytes::copy_from_slice(bytes))
}

pub fn delimited(list: &[&[u8]]) -> Framing {
    Framing::Delimited(list.iter().map(|d| Bytes::copy_from_slice(d)).collect())
}

pub fn codec(framing: Framing, limit: usize) -> FrameCodec {
    let mut codec = FrameCodec::new(framing);
    codec.set_max_frame_len(limit);
    codec
}

/// Feeds `chunks` one at a time (decoding after each), then decodes to the
/// end of stream; the buffer must end up empty.
#[track_caller]
pub fn run(mut codec: FrameCodec, chunks: &[&[u8]]) -> Vec<Out> {
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
pub fn assert_frames(make: impl Fn() -> FrameCodec, input: &[u8], expected: &[Out]) {
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
pub fn assert_too_long(result: Result<Option<Bytes>, Error>, expected: usize) {
    match result {
        Err(Error::FrameTooLong { limit }) => assert_eq!(limit, expected),
        other => panic!("expected FrameTooLong {{ limit: {expected} }}, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_io(result: Result<Option<Bytes>, Error>, kind: io::ErrorKind, message: &str) {
    match result {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.to_string(), message);
        }
        other => panic!("expected an Io error of kind {kind:?}, got {other:?}"),
    }
}

pub fn decode(codec: &mut FrameCodec, buf: &mut BytesMut) -> Option<Bytes> {
    codec.decode(buf).expect("decode")
}

pub fn encoded(codec: &mut FrameCodec, item: &[u8]) -> Result<BytesMut, Error> {
    let mut dst = BytesMut::new();
    codec.encode(Bytes::copy_from_slice(item), &mut dst)?;
    Ok(dst)
}

pub fn prefixed(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}
