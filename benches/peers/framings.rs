//! The `framings` scenario: 2,000,000 frames of 64 B payload per framing,
//! each framing beside the tokio-util (or hand-written) reader a user would
//! otherwise write.
//!
//! | table | iochannels | peer (baseline) |
//! |-------|------------|-----------------|
//! | 2 delimiters | `Delimited([b"\r\n", b";"])` | `AnyDelimiterCodec(b"\n;")`: single bytes only, so `\r` stays in its frame; the frame boundaries are the same |
//! | 3 delimiters | `Delimited([b"\n", b";", b"\|"])` | `AnyDelimiterCodec(b"\n;\|")` |
//! | exact | `Exact(64)` | `read_exact` of 64 B at a time on a `BufReader` |
//! | length prefix | `LengthPrefixed` | `LengthDelimitedCodec` (default: u32 BE, payload only) |
//!
//! Sources as in `lines.rs`: a `&[u8]` for every `FramedRead` and
//! hand-written loop, `Channel::test()` with everything put up front for
//! `FramedChannel`. Every contender's frames are tallied and checked.

use tokio::io::{AsyncReadExt, BufReader};
use tokio_util::codec::{AnyDelimiterCodec, LengthDelimitedCodec};

use iochannels::{FrameCodec, Framing};

use crate::harness::{runtime, Harness, Table};
use crate::lines::{
    drain_framed_read, env_usize, framed_test_channel, timed, Rows, Tally, READ_SIZE,
};

const DEFAULT_N: usize = 2_000_000;
const PAYLOAD: usize = 64;

pub fn run(h: &Harness) {
    if !h.wants("framings") {
        return;
    }
    let n = env_usize("IOCHANNELS_BENCH_FRAMINGS_N", DEFAULT_N);
    println!("\n# framings: {n} frames of {PAYLOAD} B payload per run, current_thread runtime");
    let rt = &runtime(0);
    let reps = h.reps;

    // Delimited, two delimiters, one of them two bytes long.
    {
        let input = delimited_input(n, &[b"\r\n", b";"]);
        let expected = tally_delimited(&input, b"\n;");
        assert_eq!(expected.frames, n as u64);
        let framing = Framing::Delimited(vec!["\r\n".into(), ";".into()]);
        let mut table = Rows::new(Table::new(
            format!("framings: Delimited([\\r\\n, ;]), {n} frames"),
            "frames/s",
            n as u64,
        ));
        iochannels_rows(rt, reps, &mut table, &input, &framing, &expected);
        table.time("tokio-util AnyDelimiterCodec(\\n;)", reps, || {
            timed(rt, &expected, "AnyDelimiterCodec", || {
                drain_framed_read(&input, AnyDelimiterCodec::new(b"\n;".to_vec(), vec![]), 1)
            })
        });
        table.print("tokio-util AnyDelimiterCodec(\\n;)");
    }

    // Delimited, three one-byte delimiters.
    {
        let input = delimited_input(n, &[b"\n", b";", b"|"]);
        let expected = tally_delimited(&input, b"\n;|");
        assert_eq!(expected.frames, n as u64);
        let framing = Framing::Delimited(vec!["\n".into(), ";".into(), "|".into()]);
        let mut table = Rows::new(Table::new(
            format!("framings: Delimited([\\n, ;, |]), {n} frames"),
            "frames/s",
            n as u64,
        ));
        iochannels_rows(rt, reps, &mut table, &input, &framing, &expected);
        table.time("tokio-util AnyDelimiterCodec(\\n;|)", reps, || {
            timed(rt, &expected, "AnyDelimiterCodec", || {
                let codec = AnyDelimiterCodec::new(b"\n;|".to_vec(), vec![]);
                drain_framed_read(&input, codec, 1)
            })
        });
        table.print("tokio-util AnyDelimiterCodec(\\n;|)");
    }

    // Exact(64).
    {
        let input: Vec<u8> = (0..n * PAYLOAD).map(|i| (i % 251) as u8).collect();
        let mut expected = Tally::default();
        for frame in input.chunks(PAYLOAD) {
            expected.add(frame, 0);
        }
        let framing = Framing::Exact(PAYLOAD);
        let mut table = Rows::new(Table::new(
            format!("framings: Exact({PAYLOAD}), {n} frames"),
            "frames/s",
            n as u64,
        ));
        iochannels_rows(rt, reps, &mut table, &input, &framing, &expected);
        table.time("read_exact(64) loop on BufReader", reps, || {
            timed(rt, &expected, "read_exact", || read_exact_loop(&input))
        });
        table.print("read_exact(64) loop on BufReader");
    }

    // LengthPrefixed.
    {
        let mut input = Vec::with_capacity(n * (4 + PAYLOAD));
        let mut expected = Tally::default();
        for i in 0..n {
            let payload: Vec<u8> = (0..PAYLOAD).map(|j| ((i + j) % 251) as u8).collect();
            input.extend_from_slice(&(PAYLOAD as u32).to_be_bytes());
            input.extend_from_slice(&payload);
            expected.add(&payload, 0);
        }
        let mut table = Rows::new(Table::new(
            format!("framings: LengthPrefixed (u32 BE + {PAYLOAD} B), {n} frames"),
            "frames/s",
            n as u64,
        ));
        iochannels_rows(
            rt,
            reps,
            &mut table,
            &input,
            &Framing::LengthPrefixed,
            &expected,
        );
        table.time("tokio-util LengthDelimitedCodec", reps, || {
            timed(rt, &expected, "LengthDelimitedCodec", || {
                drain_framed_read(&input, LengthDelimitedCodec::new(), 0)
            })
        });
        table.print("tokio-util LengthDelimitedCodec");
    }
}

/// The three iochannels rows: `FramedChannel` over the test channel, the
/// codec's own loop over 64 KiB reads, and `FrameCodec` in `FramedRead`.
fn iochannels_rows<'a>(
    rt: &'a tokio::runtime::Runtime,
    reps: usize,
    table: &mut Rows<'a>,
    input: &'a [u8],
    framing: &'a Framing,
    expected: &'a Tally,
) {
    table.time("iochannels FramedChannel (TestChannel)", reps, move || {
        let (tally, elapsed) = rt.block_on(framed_test_channel(input, framing.clone()));
        expected.check("FramedChannel", &tally);
        elapsed
    });
    table.time("iochannels FrameCodec decode loop", reps, move || {
        timed(rt, expected, "FrameCodec decode loop", || {
            crate::lines::codec_loop(input, FrameCodec::new(framing.clone()))
        })
    });
    table.time("iochannels FrameCodec via FramedRead", reps, move || {
        timed(rt, expected, "FrameCodec via FramedRead", || {
            drain_framed_read(input, FrameCodec::new(framing.clone()), 0)
        })
    });
}

/// `n` frames of `PAYLOAD` bytes (digits and letters, no delimiter byte),
/// each followed by the next of `delims` in turn.
fn delimited_input(n: usize, delims: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * (PAYLOAD + 2));
    for i in 0..n {
        out.extend((0..PAYLOAD).map(|j| b"0123456789abcdefghijklmnopqrstuvwxyz"[(i + j) % 36]));
        out.extend_from_slice(delims[i % delims.len()]);
    }
    out
}

/// The tally of `input` cut after any byte of `set` (for `[\r\n, ;]`, the
/// `\n` of `\r\n` ends the frame, which is where `\r\n` ends it too).
fn tally_delimited(input: &[u8], set: &[u8]) -> Tally {
    let mut t = Tally::default();
    let mut start = 0;
    for (i, b) in input.iter().enumerate() {
        if set.contains(b) {
            t.add(&input[start..=i], 0);
            start = i + 1;
        }
    }
    assert_eq!(start, input.len(), "the input ends with a delimiter");
    t
}

/// The hand-written reader for fixed-size records: `read_exact` into a
/// 64-byte array on a `BufReader` (64 KiB, as `FramedChannel` reads).
async fn read_exact_loop(input: &[u8]) -> Tally {
    let mut reader = BufReader::with_capacity(READ_SIZE, input);
    let mut frame = [0u8; PAYLOAD];
    let mut t = Tally::default();
    loop {
        match reader.read_exact(&mut frame).await {
            Ok(_) => t.add(&frame, 0),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("reading a slice: {e}"),
        }
    }
    t
}
