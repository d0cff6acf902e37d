//! Decoding helpers shared by the codec tests: what a decoder produced, as
//! values that compare, and a drain loop that cannot spin for ever.

use bytes::{Bytes, BytesMut};
use iochannels::{Error, FrameCodec};
use tokio_util::codec::Decoder;

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
