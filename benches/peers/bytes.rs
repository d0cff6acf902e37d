//! The `bytes` scenario: bulk throughput of a `FramedChannel` with
//! `Framing::Bytes` — a writer task sending 64 KiB chunks with
//! `framed.write`, the reader looping on `framed.read()` — against raw tokio
//! (`AsyncReadExt::read` into a 64 KiB buffer, `write_all` of the same
//! chunks) over the same transport, with a plain `memcpy` of the same volume
//! as the ceiling (64 KiB to 64 KiB, cache-resident: far above what a kernel
//! copy through a socket can do).
//!
//! Transports: TCP over 127.0.0.1, a Unix socketpair, an OS pipe
//! (`std::io::pipe()`, `Channel::pipe` for iochannels, tokio's
//! `unix::pipe` for raw tokio), and in-memory. In memory there is no
//! like-for-like pair: the only in-memory `Channel` is `Channel::test()`,
//! whose peer is synchronous (`put` copies into a backlog, every read of the
//! channel pumps the backlog into a `tokio::io::duplex` under a mutex). So
//! that table has raw tokio over a plain `duplex(64 KiB)` (the baseline) and
//! also raw `read` on the same `TestChannel` fed the same way: the
//! `FramedChannel` row compares with that one for the framing's cost.
//!
//! Everything runs on a current-thread runtime (writer task and reader
//! interleave on one core). Each run gets a fresh connection. The data is a
//! pattern (`offset % 251`): the reader checks every piece's first and last
//! byte against its offset in the stream, and the total.
//!
//! `IOCHANNELS_BENCH_BYTES_MIB=N` sets the volume per run (default 512).

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iochannels::{Channel, Framing, TestPeer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};

use crate::harness::{runtime, Harness, Table};
use crate::lines::{env_usize, Rows};

const CHUNK: usize = 64 * 1024;
const PERIOD: usize = 251;

pub fn run(h: &Harness) {
    if !h.wants("bytes") {
        return;
    }
    let mib = env_usize("IOCHANNELS_BENCH_BYTES_MIB", 512).max(1) as u64;
    let volume = mib * 1024 * 1024 / CHUNK as u64 * CHUNK as u64;
    println!("\n# bytes: {mib} MiB per run in 64 KiB writes, current_thread runtime");
    let rt = runtime(0);
    let pattern = Arc::new(Pattern::new());
    let reps = h.reps;

    for transport in [
        Transport::Tcp,
        Transport::Unix,
        Transport::Pipe,
        Transport::Memory,
    ] {
        // Items are GiB, so the rate column reads GiB/s.
        let mut table = Rows::new(Table::new(
            format!("bytes over {}, {mib} MiB per run", transport.name()),
            "GiB/s",
            1,
        ));
        let gib = volume as f64 / (1u64 << 30) as f64;
        let scale = move |d: Duration| d.div_f64(gib);
        let (p, rt) = (&pattern, &rt);
        if transport == Transport::Memory {
            table.time(
                "iochannels FramedChannel Bytes (TestChannel)",
                reps,
                move || scale(rt.block_on(test_channel(p, volume, true))),
            );
            table.time("raw read on TestChannel (same feeder)", reps, move || {
                scale(rt.block_on(test_channel(p, volume, false)))
            });
            table.time("raw tokio duplex(64 KiB)", reps, move || {
                scale(rt.block_on(raw_duplex(p, volume)))
            });
        } else {
            table.time("iochannels FramedChannel Bytes", reps, move || {
                scale(rt.block_on(framed(transport, p, volume)))
            });
            table.time("raw tokio read/write_all", reps, move || {
                scale(rt.block_on(raw(transport, p, volume)))
            });
        }
        table.time("memcpy ceiling (64 KiB -> 64 KiB)", reps, move || {
            scale(memcpy(p, volume))
        });
        let base = if transport == Transport::Memory {
            "raw tokio duplex(64 KiB)"
        } else {
            "raw tokio read/write_all"
        };
        table.print(base);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Unix,
    Pipe,
    Memory,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP 127.0.0.1",
            Transport::Unix => "a Unix socketpair",
            Transport::Pipe => "an OS pipe",
            Transport::Memory => "memory",
        }
    }
}

/// The stream's bytes: `offset % 251`, so that 64 KiB chunks do not repeat
/// in step with the chunk size.
struct Pattern {
    buf: Vec<u8>,
}

impl Pattern {
    fn new() -> Pattern {
        Pattern {
            buf: (0..CHUNK + PERIOD).map(|i| (i % PERIOD) as u8).collect(),
        }
    }

    /// The 64 KiB that go at stream offset `at`.
    fn chunk(&self, at: u64) -> &[u8] {
        let s = (at % PERIOD as u64) as usize;
        &self.buf[s..s + CHUNK]
    }
}

/// What the reader got: bytes so far and pieces whose ends were wrong.
#[derive(Default)]
struct Received {
    bytes: u64,
    bad: u64,
}

impl Received {
    #[inline]
    fn take(&mut self, piece: &[u8]) {
        let (Some(&first), Some(&last)) = (piece.first(), piece.last()) else {
            return;
        };
        let end = self.bytes + piece.len() as u64 - 1;
        if u64::from(first) != self.bytes % PERIOD as u64 || u64::from(last) != end % PERIOD as u64
        {
            self.bad += 1;
        }
        self.bytes += piece.len() as u64;
    }

    fn check(&self, contender: &str, volume: u64) {
        assert_eq!(self.bytes, volume, "{contender}: wrong byte count");
        assert_eq!(self.bad, 0, "{contender}: bytes out of place");
    }
}

/// A connected (reader, writer) pair of raw streams for `transport`.
enum Pair {
    Tcp(TcpStream, TcpStream),
    Unix(UnixStream, UnixStream),
    Pipe(OwnedFd, OwnedFd),
}

async fn connect(transport: Transport) -> Pair {
    match transport {
        Transport::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local addr");
            let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
            Pair::Tcp(accepted.expect("accept").0, client.expect("connect"))
        }
        Transport::Unix => {
            let (a, b) = UnixStream::pair().expect("socketpair");
            Pair::Unix(a, b)
        }
        Transport::Pipe => {
            let (r, w) = std::io::pipe().expect("pipe");
            Pair::Pipe(r.into(), w.into())
        }
        Transport::Memory => unreachable!("memory has its own contenders"),
    }
}

/// FramedChannel(Bytes) reader, FramedChannel writer task.
async fn framed(transport: Transport, p: &Arc<Pattern>, volume: u64) -> Duration {
    let (reader, writer) = match connect(transport).await {
        Pair::Tcp(r, w) => (Channel::from(r), Channel::from(w)),
        Pair::Unix(r, w) => (Channel::from(r), Channel::from(w)),
        Pair::Pipe(r, w) => (
            Channel::pipe(Some(r), None).expect("pipe channel"),
            Channel::pipe(None, Some(w)).expect("pipe channel"),
        ),
    };
    let start = Instant::now();
    let pattern = Arc::clone(p);
    let task = tokio::spawn(async move {
        let mut out = writer.framed(Framing::Bytes);
        let mut at = 0;
        while at < volume {
            out.write(pattern.chunk(at)).await.expect("framed write");
            at += CHUNK as u64;
        }
        out.close().await.expect("framed close");
    });
    let mut input = reader.framed(Framing::Bytes);
    let mut got = Received::default();
    while let Some(frame) = input.read().await.expect("framed read") {
        got.take(&frame);
    }
    // Our end goes as a reader's would at EOF: the writer's graceful close
    // lingers (up to 2 s) until it sees that close.
    drop(input);
    task.await.expect("writer task");
    let elapsed = start.elapsed();
    got.check("FramedChannel", volume);
    elapsed
}

/// Raw tokio: `read` into 64 KiB, `write_all` of 64 KiB chunks.
async fn raw(transport: Transport, p: &Arc<Pattern>, volume: u64) -> Duration {
    match connect(transport).await {
        Pair::Tcp(r, w) => raw_over(r, w, p, volume).await,
        Pair::Unix(r, w) => raw_over(r, w, p, volume).await,
        Pair::Pipe(r, w) => {
            let r = tokio::net::unix::pipe::Receiver::from_owned_fd(r).expect("pipe receiver");
            let w = tokio::net::unix::pipe::Sender::from_owned_fd(w).expect("pipe sender");
            raw_over(r, w, p, volume).await
        }
    }
}

async fn raw_over<R, W>(mut reader: R, mut writer: W, p: &Arc<Pattern>, volume: u64) -> Duration
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now();
    let pattern = Arc::clone(p);
    let task = tokio::spawn(async move {
        let mut at = 0;
        while at < volume {
            writer
                .write_all(pattern.chunk(at))
                .await
                .expect("write_all");
            at += CHUNK as u64;
        }
        writer.shutdown().await.expect("shutdown");
    });
    let mut buf = vec![0u8; CHUNK];
    let mut got = Received::default();
    loop {
        let n = reader.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got.take(&buf[..n]);
    }
    task.await.expect("writer task");
    let elapsed = start.elapsed();
    got.check("raw tokio", volume);
    elapsed
}

/// `Channel::test()`: a writer task `put`s 64 KiB chunks (waiting, by
/// yielding, while the peer's backlog is a chunk or more so memory stays
/// bounded); the reader is a `FramedChannel` (`framed`) or raw `read`s.
async fn test_channel(p: &Arc<Pattern>, volume: u64, framed: bool) -> Duration {
    let (channel, peer) = Channel::test();
    let start = Instant::now();
    let pattern = Arc::clone(p);
    let task = tokio::spawn(feed_test_peer(peer, pattern, volume));
    let mut got = Received::default();
    if framed {
        let mut input = channel.framed(Framing::Bytes);
        while let Some(frame) = input.read().await.expect("framed read") {
            got.take(&frame);
        }
    } else {
        let mut channel = channel;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = channel.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            got.take(&buf[..n]);
        }
    }
    let peer = task.await.expect("feeder task");
    let elapsed = start.elapsed();
    drop(peer);
    got.check("TestChannel", volume);
    elapsed
}

async fn feed_test_peer(mut peer: TestPeer, pattern: Arc<Pattern>, volume: u64) -> TestPeer {
    let mut at = 0;
    while at < volume {
        while peer.pending() >= CHUNK {
            tokio::task::yield_now().await;
        }
        peer.put(pattern.chunk(at));
        at += CHUNK as u64;
    }
    peer.close();
    peer
}

/// Raw tokio over a plain `tokio::io::duplex(64 KiB)`.
async fn raw_duplex(p: &Arc<Pattern>, volume: u64) -> Duration {
    let (reader, writer) = tokio::io::duplex(CHUNK);
    raw_over(reader, writer, p, volume).await
}

/// The ceiling: the same volume copied 64 KiB at a time, in cache.
fn memcpy(p: &Pattern, volume: u64) -> Duration {
    let mut dst = vec![0u8; CHUNK];
    let mut got = Received::default();
    let start = Instant::now();
    let mut at = 0;
    while at < volume {
        dst.copy_from_slice(black_box(p.chunk(at)));
        got.take(black_box(&dst));
        at += CHUNK as u64;
    }
    let elapsed = start.elapsed();
    got.check("memcpy", volume);
    elapsed
}
