//! `Framing::LengthPrefixed`: a `u32` big-endian length, then the payload.
//!
//! The header is read as soon as its four bytes are here, so a payload over
//! the limit is reported before any of it arrives, and the decode loop
//! (`limit.rs`) reserves room only for payloads within the limit: a hostile
//! 4 GiB prefix allocates nothing.

use std::io;

use bytes::{BufMut, BytesMut};

use super::kind::{too_long, Scan};
use crate::Result;

/// Bytes in the length header.
const HEADER: usize = 4;

/// The frame at the start of `buf`: the payload after the header, once the
/// header and all of the payload are here.
#[inline]
pub(crate) fn scan(buf: &[u8]) -> Scan {
    let Some(header) = header(buf) else {
        // Nothing known yet; an empty payload is possible.
        return Scan::Partial {
            header: 0,
            min_len: 0,
            known: false,
        };
    };
    let len = header as usize;
    if buf.len() - HEADER >= len {
        Scan::Frame {
            header: HEADER,
            len,
        }
    } else {
        Scan::Partial {
            header: HEADER,
            min_len: len,
            known: true,
        }
    }
}

/// The announced payload length, once the whole header is buffered.
#[inline]
fn header(buf: &[u8]) -> Option<u32> {
    let bytes: [u8; HEADER] = buf.get(..HEADER)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// The `UnexpectedEof` error for `buf`, a truncated frame at the end of the
/// stream, saying how many bytes are missing.
pub(crate) fn truncated(buf: &[u8]) -> io::Error {
    let message = match header(buf) {
        None => format!(
            "end of stream inside a length prefix: {} of its {HEADER} bytes missing",
            HEADER - buf.len().min(HEADER)
        ),
        Some(len) => {
            let len = len as usize;
            let have = buf.len() - HEADER;
            format!(
                "end of stream inside a length-prefixed frame: {} of its {len} payload bytes missing",
                len.saturating_sub(have)
            )
        }
    };
    io::Error::new(io::ErrorKind::UnexpectedEof, message)
}

/// Appends the `u32` big-endian length of `item`, then `item`.
///
/// The limit in force is the smaller of `limit` and `u32::MAX`, and that is
/// the limit an over-long item's error carries.
pub(crate) fn encode(item: &[u8], limit: usize, dst: &mut BytesMut) -> Result<()> {
    let limit = limit.min(u32::MAX as usize);
    let len = match u32::try_from(item.len()) {
        Ok(len) if item.len() <= limit => len,
        _ => return Err(too_long(limit)),
    };
    dst.reserve(HEADER + item.len());
    dst.put_u32(len);
    dst.extend_from_slice(item);
    Ok(())
}
