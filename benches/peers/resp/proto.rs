//! The `resp` scenario's wire format, shared by the client process and every
//! server contender: the hand-written request parser a tokio user would
//! write over a `BytesMut`, the tiny key-value store the servers run, and
//! the encoders for requests and replies.
//!
//! Requests are `*N\r\n` then N bulk strings `$LEN\r\n` + LEN bytes + `\r\n`
//! (`SET key value`, `GET key`); replies are `+OK\r\n` or `$LEN\r\n...\r\n`
//! (`$-1\r\n` for a missing key, which the client never asks for).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

/// Most arguments a request may have (ours have 2 or 3): the parser keeps
/// their offsets on the stack, so a request costs no allocation to check.
const MAX_ARGS: usize = 8;
/// Longest bulk string accepted; the client sends at most 256 bytes.
const MAX_BULK: usize = 64 * 1024;

/// One connection's data. Keys are per connection in this scenario, so a
/// store per connection is what a shared store would hold, without a lock
/// that only the multi-threaded contender would pay for.
pub type Store = HashMap<Bytes, Bytes>;

/// Appends `n` in decimal.
pub fn put_decimal(out: &mut BytesMut, mut n: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends one bulk string: `$LEN\r\n` + `data` + `\r\n`.
pub fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.extend_from_slice(b"$");
    put_decimal(out, data.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends a request: `*N\r\n` and the bulk strings.
pub fn put_request(out: &mut BytesMut, args: &[&[u8]]) {
    out.extend_from_slice(b"*");
    put_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        put_bulk(out, arg);
    }
}

/// The number after a one-byte type marker in a header line (`*3`, `$16`),
/// the line given without its `\r\n`.
pub fn parse_header(line: &[u8], marker: u8) -> Result<usize, String> {
    let digits = match line.split_first() {
        Some((&m, digits)) if m == marker && !digits.is_empty() && digits.len() <= 9 => digits,
        _ => {
            return Err(format!(
                "bad header line {:?}",
                String::from_utf8_lossy(line)
            ))
        }
    };
    let mut n = 0usize;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(format!("bad number in {:?}", String::from_utf8_lossy(line)));
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Ok(n)
}

/// The header line starting at `pos`: (its number, where the line after it
/// starts), or `None` if its `\r\n` has not arrived yet.
fn header_at(buf: &[u8], pos: usize, marker: u8) -> Result<Option<(usize, usize)>, String> {
    let Some(cr) = memchr::memchr(b'\r', &buf[pos..]) else {
        return Ok(None);
    };
    let cr = pos + cr;
    match buf.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((parse_header(&buf[pos..cr], marker)?, cr + 2))),
        Some(_) => Err("a header line's \\r is not followed by \\n".to_owned()),
    }
}

/// Cuts one complete request off the front of `buf` into `args` (cleared
/// first) and returns true; false, consuming nothing, if the request is not
/// all here yet. Zero-copy: the request is split off once and each argument
/// is a slice of it, as mini-redis does.
pub fn parse_request(buf: &mut BytesMut, args: &mut Vec<Bytes>) -> Result<bool, String> {
    args.clear();
    if buf.is_empty() {
        return Ok(false);
    }
    let Some((n, mut pos)) = header_at(buf, 0, b'*')? else {
        return Ok(false);
    };
    if n == 0 || n > MAX_ARGS {
        return Err(format!("a request with {n} arguments"));
    }
    let mut spans = [(0usize, 0usize); MAX_ARGS];
    for span in spans.iter_mut().take(n) {
        let Some((len, start)) = header_at(buf, pos, b'$')? else {
            return Ok(false);
        };
        if len > MAX_BULK {
            return Err(format!("a bulk string of {len} bytes"));
        }
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(false);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err("a bulk string not followed by \\r\\n".to_owned());
        }
        *span = (start, len);
        pos = end + 2;
    }
    let request = buf.split_to(pos).freeze();
    args.extend(spans[..n].iter().map(|&(s, len)| request.slice(s..s + len)));
    Ok(true)
}

/// Runs one request against `store`, appending its reply to `out`.
pub fn execute(store: &mut Store, args: &[Bytes], out: &mut BytesMut) -> Result<(), String> {
    match args {
        [cmd, key, value] if cmd.as_ref() == b"SET" => {
            store.insert(key.clone(), value.clone());
            out.extend_from_slice(b"+OK\r\n");
        }
        [cmd, key] if cmd.as_ref() == b"GET" => match store.get(key) {
            Some(value) => put_bulk(out, value),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        _ => return Err(format!("unknown request {args:?}")),
    }
    Ok(())
}
