//! The `resp` scenario's client process: `conns` TCP connections to
//! 127.0.0.1:PORT, each keeping `depth` requests in flight (it sends `depth`,
//! then one more per reply read) until it has had `per_conn` replies, every
//! one checked byte for byte. It prints `done replies=R nanos=N` (the wall
//! time from all connected to the last reply) or `error ...`.
//!
//! Requests are mixed SET/GET over 64 keys per connection, values of 16 to
//! 256 bytes, from a per-connection xorshift, so every run sends the same
//! bytes. The client keeps what it set: the reply a GET must get is the
//! value last SET for that key on this connection (a connection's requests
//! are run in order), known when the GET is sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::proto::{put_decimal, put_request};
use crate::harness::runtime;

/// Keys per connection.
const KEYS: usize = 64;
const MIN_VALUE: usize = 16;
const MAX_VALUE: usize = 256;

/// The reply a request must get.
enum Expect {
    Ok,
    Bulk(Bytes),
}

/// A connection's request stream and what it set.
struct Generator {
    rng: u64,
    model: Vec<Option<Bytes>>,
    sets: usize,
}

impl Generator {
    fn new(conn: usize) -> Generator {
        Generator {
            // Any non-zero seed; distinct per connection.
            rng: 0x9E37_79B9_7F4A_7C15 ^ (conn as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            model: vec![None; KEYS],
            sets: 0,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Appends the next request to `out` and its reply to `expected`.
    fn next(&mut self, out: &mut BytesMut, expected: &mut VecDeque<Expect>) {
        let r = self.next_random();
        let k = (r % KEYS as u64) as usize;
        let mut key = BytesMut::with_capacity(8);
        key.extend_from_slice(b"key:");
        put_decimal(&mut key, k);
        // About half SETs; a key never set yet is SET, so no GET misses.
        let set = (r >> 32) & 1 == 0 || self.model[k].is_none();
        if set {
            let len = MIN_VALUE + ((r >> 40) as usize % (MAX_VALUE - MIN_VALUE + 1));
            let value = self.value(len);
            put_request(out, &[b"SET", &key, &value]);
            self.model[k] = Some(value);
            expected.push_back(Expect::Ok);
        } else {
            put_request(out, &[b"GET", &key]);
            let value = self.model[k].clone().unwrap_or_default();
            expected.push_back(Expect::Bulk(value));
        }
    }

    /// `len` bytes that differ from one SET to the next (their number first).
    fn value(&mut self, len: usize) -> Bytes {
        self.sets += 1;
        let mut v = BytesMut::with_capacity(len);
        put_decimal(&mut v, self.sets);
        v.extend_from_slice(b"-");
        let start = v.len();
        v.extend((start..len).map(|j| b'a' + ((j + self.sets) % 26) as u8));
        v.truncate(len);
        v.freeze()
    }
}

/// Checks the reply at the front of `buf` against `expect` and consumes it:
/// true; false if it has not all arrived; an error if it differs.
fn check(buf: &mut BytesMut, expect: &Expect) -> Result<bool, String> {
    let mismatch = |buf: &BytesMut| {
        let shown = &buf[..buf.len().min(64)];
        format!("wrong reply: got {:?}", String::from_utf8_lossy(shown))
    };
    match expect {
        Expect::Ok => {
            if buf.len() < 5 {
                return Ok(false);
            }
            if &buf[..5] != b"+OK\r\n" {
                return Err(mismatch(buf));
            }
            buf.advance(5);
        }
        Expect::Bulk(value) => {
            let mut header = BytesMut::with_capacity(8);
            header.extend_from_slice(b"$");
            put_decimal(&mut header, value.len());
            header.extend_from_slice(b"\r\n");
            let need = header.len() + value.len() + 2;
            if buf.len() < need {
                return Ok(false);
            }
            let body = &buf[header.len()..need - 2];
            if buf[..header.len()] != header[..]
                || body != &value[..]
                || &buf[need - 2..need] != b"\r\n"
            {
                return Err(mismatch(buf));
            }
            buf.advance(need);
        }
    }
    Ok(true)
}

/// One connection's whole exchange; returns the replies checked.
async fn drive(
    mut stream: TcpStream,
    conn: usize,
    per_conn: usize,
    depth: usize,
) -> Result<usize, String> {
    let mut generator = Generator::new(conn);
    let mut expected = VecDeque::with_capacity(depth);
    let mut out = BytesMut::with_capacity(depth * 300);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut sent = 0;
    let mut got = 0;
    while sent < depth.min(per_conn) {
        generator.next(&mut out, &mut expected);
        sent += 1;
    }
    let fail = |what: &str, e: std::io::Error| format!("connection {conn}: {what}: {e}");
    while got < per_conn {
        if !out.is_empty() {
            // Never blocks long: at most `depth` requests are unanswered, so
            // the server never stops reading for want of our reading.
            stream.write_all(&out).await.map_err(|e| fail("write", e))?;
            out.clear();
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(16 * 1024);
        }
        if stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| fail("read", e))?
            == 0
        {
            return Err(format!(
                "connection {conn}: the server closed after {got} replies"
            ));
        }
        while let Some(expect) = expected.front() {
            if !check(&mut buf, expect)
                .map_err(|e| format!("connection {conn}, reply {got}: {e}"))?
            {
                break;
            }
            expected.pop_front();
            got += 1;
            if sent < per_conn {
                generator.next(&mut out, &mut expected);
                sent += 1;
            }
        }
    }
    if !buf.is_empty() {
        return Err(format!(
            "connection {conn}: {} bytes after the last reply",
            buf.len()
        ));
    }
    // Dropping the stream sends FIN: the server sees the end of input.
    Ok(got)
}

/// The client process's work: connect, run, report on stdout.
pub fn run(
    port: u16,
    conns: usize,
    per_conn: usize,
    depth: usize,
    guard: Duration,
) -> Result<(), String> {
    let rt = runtime(0);
    rt.block_on(async move {
        let mut streams = Vec::with_capacity(conns);
        for i in 0..conns {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("connection {i} to 127.0.0.1:{port}: {e}"))?;
            // Pipelined small writes must not wait for Nagle.
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            streams.push(stream);
        }
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for (conn, stream) in streams.into_iter().enumerate() {
            tasks.spawn(drive(stream, conn, per_conn, depth));
        }
        let all = async {
            let mut replies = 0;
            while let Some(joined) = tasks.join_next().await {
                replies += joined.map_err(|e| format!("a client task: {e}"))??;
            }
            Ok::<usize, String>(replies)
        };
        // The wall-clock guard: a stuck server must not hold the bench for ever.
        let replies = tokio::time::timeout(guard, all)
            .await
            .map_err(|_| format!("no answer within {guard:?}"))??;
        let nanos = start.elapsed().as_nanos();
        println!("done replies={replies} nanos={nanos}");
        Ok(())
    })
}
