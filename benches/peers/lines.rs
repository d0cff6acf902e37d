//! The `lines` scenario: 2,000,000 pre-generated lines of 16 and of 64
//! bytes cut into frames by every line reader a tokio user might pick.
//!
//! The source is the same for every contender but one: the input as a
//! `&[u8]`, which implements `AsyncRead` (each read is one `memcpy` out of
//! the input). `FramedChannel` takes a `Channel` (`Channel::from_io` needs a
//! writer too, which `&[u8]` is not), so it reads from `Channel::test()` with
//! the whole input `put` up front (not timed); every read of that channel
//! locks the peer's mutex twice and copies the bytes twice (backlog ->
//! duplex -> read buffer). A second row reads the same test channel boxed
//! behind `Channel::from_io`: the difference is what the box costs. The "FrameCodec decode loop" row is the loop the
//! `FramedChannel` runs (decode on a `BytesMut` fed by 64 KiB reads) over
//! the `&[u8]`, so framing cost shows apart from the test transport.
//!
//! Every contender's frames are tallied (count, bytes with the delimiter,
//! sum of first bytes) and checked against the input's.
//!
//! This file also holds the helpers `framings.rs` and `poller.rs` share:
//! the tally, line generation and the drain loops.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use iochannels::{Channel, FrameCodec, Framing};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::codec::{AnyDelimiterCodec, Decoder, FramedRead, LinesCodec};

use crate::harness::{runtime, Harness, Table};

/// Lines per run (`IOCHANNELS_BENCH_LINES_N` overrides).
const DEFAULT_N: usize = 2_000_000;
/// The read size of the codec-level loop: `FramedChannel`'s largest read.
pub const READ_SIZE: usize = 64 * 1024;

pub fn run(h: &Harness) {
    if !h.wants("lines") {
        return;
    }
    let n = env_usize("IOCHANNELS_BENCH_LINES_N", DEFAULT_N);
    println!("\n# lines: {n} lines per run, current_thread runtime, input in memory");
    let rt = runtime(0);
    // `IOCHANNELS_BENCH_LINES_LEN=16` runs one line length only.
    let lens: Vec<usize> = match std::env::var("IOCHANNELS_BENCH_LINES_LEN") {
        Ok(v) => v.split(',').filter_map(|l| l.parse().ok()).collect(),
        Err(_) => vec![16, 64],
    };
    for len in lens {
        let input = make_lines(n, len);
        let expected = Tally::of_delimited(&input, b'\n');
        assert_eq!(expected.frames, n as u64);
        let title = format!(
            "lines: {n} lines of {len} B ({} MB)",
            input.len() / 1_000_000
        );
        let mut table = Rows::new(Table::new(title, "lines/s", n as u64));
        let reps = h.reps;
        table.time("iochannels FramedChannel Lines (TestChannel)", reps, || {
            let (tally, elapsed) = rt.block_on(framed_test_channel(&input, Framing::Lines));
            expected.check("FramedChannel Lines", &tally);
            elapsed
        });
        table.time(
            "iochannels FramedChannel Lines (TestChannel via from_io)",
            reps,
            || {
                let boxed = |channel| match channel {
                    Channel::Test(inner) => Channel::from_io(inner),
                    other => other,
                };
                let (tally, elapsed) = rt.block_on(framed_over(&input, Framing::Lines, boxed));
                expected.check("FramedChannel Lines, boxed", &tally);
                elapsed
            },
        );
        table.time(
            "iochannels FrameCodec decode loop (64 KiB reads)",
            reps,
            || {
                timed(&rt, &expected, "FrameCodec decode loop", || {
                    codec_loop(&input, FrameCodec::new(Framing::Lines))
                })
            },
        );
        table.time("iochannels FrameCodec via FramedRead", reps, || {
            timed(&rt, &expected, "FrameCodec via FramedRead", || {
                drain_framed_read(&input, FrameCodec::new(Framing::Lines), 0)
            })
        });
        table.time("tokio-util LinesCodec via FramedRead", reps, || {
            timed(&rt, &expected, "LinesCodec", || {
                drain_framed_read(&input, LinesCodec::new(), 1)
            })
        });
        table.time("tokio-util AnyDelimiterCodec(\\n)", reps, || {
            timed(&rt, &expected, "AnyDelimiterCodec", || {
                let codec = AnyDelimiterCodec::new(b"\n".to_vec(), b"\n".to_vec());
                drain_framed_read(&input, codec, 1)
            })
        });
        table.time("BufReader::read_until, reused Vec", reps, || {
            timed(&rt, &expected, "read_until", || read_until(&input, b'\n'))
        });
        table.print("tokio-util LinesCodec via FramedRead");
    }
}

/// A table whose contenders are timed in rounds — one untimed warm-up run
/// each, then `reps` rounds of one run per contender — rather than all runs
/// of one contender in a row: on a shared machine, load that comes and goes
/// then spreads over every contender instead of landing on one. Rows can be
/// narrowed with `IOCHANNELS_BENCH_ROWS=a,b` (rows whose name contains one
/// of the words, or is exactly a `=word`; all when unset), to run one contender under a profiler.
pub struct Rows<'a> {
    table: Table,
    reps: usize,
    rows: Vec<(String, Box<dyn FnMut() -> Duration + 'a>)>,
}

impl<'a> Rows<'a> {
    pub fn new(table: Table) -> Rows<'a> {
        Rows {
            table,
            reps: 1,
            rows: Vec::new(),
        }
    }

    /// Adds a contender: `run` does the work once and returns the time it took.
    pub fn time(&mut self, name: &str, reps: usize, run: impl FnMut() -> Duration + 'a) {
        self.reps = self.reps.max(reps);
        if row_wanted(name) {
            self.rows.push((name.to_owned(), Box::new(run)));
        }
    }

    /// Runs every contender, then prints the table with ratios to `baseline`.
    pub fn print(mut self, baseline: &str) {
        for (_, run) in &mut self.rows {
            run();
        }
        let mut samples = vec![Vec::with_capacity(self.reps); self.rows.len()];
        for _ in 0..self.reps {
            for ((_, run), s) in self.rows.iter_mut().zip(&mut samples) {
                s.push(run());
            }
        }
        for ((name, _), s) in self.rows.iter().zip(samples) {
            self.table.record(name, s);
        }
        self.table.print(baseline);
    }
}

/// Whether `IOCHANNELS_BENCH_ROWS` lets the row `name` run: a word matches
/// the rows whose name contains it, `=word` only the row named exactly that.
pub fn row_wanted(name: &str) -> bool {
    match std::env::var("IOCHANNELS_BENCH_ROWS") {
        Ok(v) if !v.is_empty() => v.split(',').any(|w| match w.strip_prefix('=') {
            Some(exact) => name == exact,
            None => !w.is_empty() && name.contains(w),
        }),
        _ => true,
    }
}

/// `name`'s value as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a contender read: frames, bytes (delimiters included) and the sum of
/// the frames' first bytes. Equal tallies mean the same frames, in practice.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub frames: u64,
    pub bytes: u64,
    pub first_bytes: u64,
}

impl Tally {
    /// Counts one frame; `stripped` delimiter bytes the reader removed.
    #[inline]
    pub fn add(&mut self, frame: &[u8], stripped: u64) {
        self.frames += 1;
        self.bytes += frame.len() as u64 + stripped;
        self.first_bytes += u64::from(frame.first().copied().unwrap_or(0));
    }

    /// The tally of `input` cut after every `delim` (a last unterminated
    /// piece counts as a frame too).
    pub fn of_delimited(input: &[u8], delim: u8) -> Tally {
        let mut t = Tally::default();
        let mut start = 0;
        for end in memchr::memchr_iter(delim, input) {
            t.add(&input[start..=end], 0);
            start = end + 1;
        }
        if start < input.len() {
            t.add(&input[start..], 0);
        }
        t
    }

    /// Panics unless `got` equals this expected tally.
    pub fn check(&self, contender: &str, got: &Tally) {
        assert_eq!(self, got, "{contender} read something else than was sent");
    }
}

/// `n` lines of `len` bytes each, `b'\n'` included: the line number in
/// decimal, padded with letters. Valid UTF-8, so `LinesCodec` accepts it.
pub fn make_lines(n: usize, len: usize) -> Bytes {
    assert!(len >= 2);
    let mut out = Vec::with_capacity(n * len);
    let mut digits = Vec::with_capacity(24);
    for i in 0..n {
        digits.clear();
        let mut v = i;
        loop {
            digits.push(b'0' + (v % 10) as u8);
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let body = len - 1;
        let start = out.len();
        out.extend(digits.iter().rev().take(body));
        while out.len() - start < body {
            out.push(b'a' + ((out.len() - start) % 26) as u8);
        }
        out.push(b'\n');
    }
    Bytes::from(out)
}

/// Runs `work` on `rt`, checks its tally and returns how long it took.
pub fn timed<F, Fut>(
    rt: &tokio::runtime::Runtime,
    expected: &Tally,
    contender: &str,
    work: F,
) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Tally>,
{
    let start = Instant::now();
    let tally = rt.block_on(work());
    let elapsed = start.elapsed();
    expected.check(contender, &tally);
    elapsed
}

/// Bytes of a frame, whatever type a decoder yields.
pub trait FrameBytes {
    fn frame_bytes(&self) -> &[u8];
}

impl FrameBytes for Bytes {
    fn frame_bytes(&self) -> &[u8] {
        self
    }
}

impl FrameBytes for BytesMut {
    fn frame_bytes(&self) -> &[u8] {
        self
    }
}

impl FrameBytes for String {
    fn frame_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Every frame `decoder` cuts from `input` read through `FramedRead`;
/// `stripped` delimiter bytes per frame that the decoder drops. The input's
/// last frame must be terminated (the decoders differ on an unterminated one).
pub async fn drain_framed_read<D>(input: &[u8], decoder: D, stripped: u64) -> Tally
where
    D: Decoder,
    D::Item: FrameBytes,
    D::Error: Debug,
{
    let mut framed = FramedRead::new(input, decoder);
    let mut t = Tally::default();
    while let Some(frame) = framed.next().await {
        t.add(frame.expect("decoding").frame_bytes(), stripped);
    }
    t
}

/// The loop a `FramedChannel` runs, without the channel: decode frames off a
/// `BytesMut` until none is complete, then make room for a 64 KiB read from
/// `input` and read.
pub async fn codec_loop(input: &[u8], mut codec: FrameCodec) -> Tally {
    let mut src = input;
    let mut buf = BytesMut::new();
    let mut t = Tally::default();
    loop {
        while let Some(frame) = codec.decode(&mut buf).expect("decoding") {
            t.add(&frame, 0);
        }
        buf.reserve(READ_SIZE);
        // At most 64 KiB per read, as from a socket: `&[u8]` would fill
        // whatever room the buffer has.
        let mut piece = &src[..src.len().min(READ_SIZE)];
        let n = piece.read_buf(&mut buf).await.expect("reading a slice");
        if n == 0 {
            break;
        }
        src = &src[n..];
    }
    while let Some(frame) = codec.decode_eof(&mut buf).expect("decoding") {
        t.add(&frame, 0);
    }
    t
}

/// A `FramedChannel` of `framing` over `Channel::test()` with all of `input`
/// put (and the end announced) before the clock starts; returns the tally
/// and the time the reads took.
pub async fn framed_test_channel(input: &[u8], framing: Framing) -> (Tally, Duration) {
    framed_over(input, framing, |channel| channel).await
}

/// As [`framed_test_channel`], with the test channel made into another
/// `Channel` by `wrap` first (`Channel::from_io` shows what its box costs).
async fn framed_over(
    input: &[u8],
    framing: Framing,
    wrap: impl FnOnce(Channel) -> Channel,
) -> (Tally, Duration) {
    let (channel, mut peer) = Channel::test();
    let mut framed = wrap(channel).framed(framing);
    peer.put(input);
    peer.close();
    let start = Instant::now();
    let mut t = Tally::default();
    while let Some(frame) = framed.read().await.expect("reading a frame") {
        t.add(&frame, 0);
    }
    let elapsed = start.elapsed();
    drop(peer);
    (t, elapsed)
}

/// `BufReader::read_until` over `input` into one reused `Vec`.
async fn read_until(input: &[u8], delim: u8) -> Tally {
    let mut reader = BufReader::new(input);
    let mut line = Vec::with_capacity(128);
    let mut t = Tally::default();
    loop {
        line.clear();
        let n = reader
            .read_until(delim, &mut line)
            .await
            .expect("reading a slice");
        if n == 0 {
            break;
        }
        t.add(&line, 0);
    }
    t
}
