//! The `poller` scenario: lines/s from many connections through one
//! consumer, at 100, 1,000 and 10,000 connections, with all of them active
//! and with 1% active (the rest idle, open, never sending).
//!
//! Transport: `Channel::test()` pairs for every contender (in memory, no
//! fds: 10,000 TCP sockets would need 20,000 fds). The peers read the same
//! `Channel` values through `FramedRead`, so every contender pays the same
//! transport (the test channel's mutex and copies) and the tables compare
//! multiplexing and framing only. Each active connection's lines are all
//! `put` before the clock starts; the clock covers registering the
//! connections with the contender and reading every line. Nothing closes:
//! the consumer stops at the expected count (the tally is checked).
//!
//! | row | consumer |
//! |-----|----------|
//! | iochannels Poller | `Poller::new(Lines)`, `FramedChannel`s registered, `Event::Data` counted |
//! | iochannels Poller, unconstrained (diag) | the same inside `tokio::task::unconstrained`: not a contender, it shows what tokio's cooperative budget costs the poller (see the report) |
//! | select_all LinesCodec (baseline) | `futures::stream::select_all` of `FramedRead<Channel, LinesCodec>` |
//! | select_all FrameCodec | the same with iochannels' `FrameCodec(Lines)`: the multiplexer alone |
//! | StreamMap LinesCodec | `tokio_stream::StreamMap` of the same; it polls every stream per item, O(n), so it gets fewer lines per active connection (see the row name; `STREAMMAP_SCALE`), normalised to lines/s |
//! | task per connection | one task per `FramedRead<Channel, LinesCodec>` sending each line into a bounded(1024) `tokio::sync::mpsc` |
//!
//! Current-thread runtime: everything on one core, as a single poller task is.
//! `IOCHANNELS_BENCH_POLLER_LINES=N` sets the lines per case (default 1,000,000).

use std::time::{Duration, Instant};

use futures::StreamExt;
use iochannels::{Channel, Event, FrameCodec, Framing, Poller, TestPeer};
use tokio::task::JoinSet;
use tokio_stream::StreamMap;
use tokio_util::codec::{Decoder, FramedRead, LinesCodec};

use crate::harness::{poller_cases, runtime, Harness, Table};
use crate::lines::{env_usize, make_lines, FrameBytes, Rows, Tally};

const DEFAULT_LINES: usize = 1_000_000;
const LINE: usize = 16;
/// StreamMap's lines per case are the total times this over the connection
/// count (at least one line per active connection): 100,000 at 100
/// connections, 10,000 at 1,000, one per active connection at 10,000.
const STREAMMAP_SCALE: usize = 10;

pub fn run(h: &Harness) {
    if !h.wants("poller") {
        return;
    }
    let total = env_usize("IOCHANNELS_BENCH_POLLER_LINES", DEFAULT_LINES);
    println!(
        "\n# poller: {total} lines of {LINE} B per case over Channel::test() pairs, \
         current_thread runtime"
    );
    let rt = &runtime(0);
    // `IOCHANNELS_BENCH_POLLER_CASES=10000:100,100:1` runs only those
    // (connections:percent active) cases.
    let cases = poller_cases("IOCHANNELS_BENCH_POLLER_CASES");
    for (n, active_pct) in cases {
        let active = (n * active_pct / 100).max(1);
        let case = Case::new(n, active, total / active);
        let title = format!(
            "poller: {n} connections, {active} active ({active_pct}%), {} lines each",
            case.per_active
        );
        let mut table = Rows::new(Table::new(title, "lines/s", case.total() as u64));
        let reps = h.reps;
        table.time("iochannels Poller", reps, move || {
            rt.block_on(case.poller())
        });
        table.time("iochannels Poller, unconstrained (diag)", reps, move || {
            rt.block_on(tokio::task::unconstrained(case.poller()))
        });
        table.time("select_all FramedRead<LinesCodec>", reps, move || {
            rt.block_on(case.select_all(LinesCodec::new, 1))
        });
        table.time("select_all FramedRead<FrameCodec Lines>", reps, move || {
            rt.block_on(case.select_all(|| FrameCodec::new(Framing::Lines), 0))
        });
        let small = case.scaled_for_streammap();
        let name = if small.per_active == case.per_active {
            "StreamMap FramedRead<LinesCodec>".to_owned()
        } else {
            format!("StreamMap LinesCodec ({} lines each)*", small.per_active)
        };
        // Its own amount of work, normalised to the table's: the time
        // the full case would take at this rate.
        let scale = case.total() as f64 / small.total() as f64;
        table.time(&name, reps, move || {
            rt.block_on(small.stream_map()).mul_f64(scale)
        });
        table.time("task per connection + mpsc(1024)", reps, move || {
            rt.block_on(case.task_per_connection())
        });
        table.print("select_all FramedRead<LinesCodec>");
    }
    println!("\n(* StreamMap: fewer lines per active connection, rate normalised to lines/s)");
}

/// `n` connections, `active` of them (spread evenly) sending `per_active`
/// lines each.
#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    active: usize,
    per_active: usize,
}

impl Case {
    fn new(n: usize, active: usize, per_active: usize) -> Case {
        Case {
            n,
            active,
            per_active: per_active.max(1),
        }
    }

    fn total(&self) -> usize {
        self.active * self.per_active
    }

    fn scaled_for_streammap(&self) -> Case {
        let budget = (self.total() * STREAMMAP_SCALE / self.n).min(self.total());
        Case::new(self.n, self.active, budget / self.active)
    }

    /// The connections, the active ones with all their lines put, and the
    /// tally the consumer must reach.
    fn setup(&self) -> (Vec<Channel>, Vec<TestPeer>, Tally) {
        let block = make_lines(self.per_active, LINE);
        let step = self.n / self.active;
        let mut channels = Vec::with_capacity(self.n);
        let mut peers = Vec::with_capacity(self.n);
        let mut expected = Tally::default();
        let one = Tally::of_delimited(&block, b'\n');
        for i in 0..self.n {
            let (channel, mut peer) = Channel::test();
            if i % step == 0 && i / step < self.active {
                peer.put(&block);
                expected.frames += one.frames;
                expected.bytes += one.bytes;
                expected.first_bytes += one.first_bytes;
            }
            channels.push(channel);
            peers.push(peer);
        }
        assert_eq!(expected.frames, self.total() as u64);
        (channels, peers, expected)
    }

    async fn poller(&self) -> Duration {
        let (channels, peers, expected) = self.setup();
        let start = Instant::now();
        let mut poller = Poller::new(Framing::Lines);
        for channel in channels {
            poller.register(channel.framed(Framing::Lines));
        }
        let mut t = Tally::default();
        while t.frames < expected.frames {
            match poller.next().await {
                Some(Event::Data { data, .. }) => t.add(&data, 0),
                other => panic!("unexpected poller event {other:?}"),
            }
        }
        let elapsed = start.elapsed();
        expected.check("Poller", &t);
        drop((poller, peers));
        elapsed
    }

    /// `stripped`: delimiter bytes the codec drops from each line.
    async fn select_all<D, F>(&self, codec: F, stripped: u64) -> Duration
    where
        D: Decoder + Unpin,
        D::Item: FrameBytes,
        D::Error: std::fmt::Debug,
        F: Fn() -> D,
    {
        let (channels, peers, expected) = self.setup();
        let start = Instant::now();
        let mut all =
            futures::stream::select_all(channels.into_iter().map(|c| FramedRead::new(c, codec())));
        let mut t = Tally::default();
        while t.frames < expected.frames {
            let line = all.next().await.expect("a line").expect("decoding");
            t.add(line.frame_bytes(), stripped);
        }
        let elapsed = start.elapsed();
        expected.check("select_all", &t);
        drop((all, peers));
        elapsed
    }

    async fn stream_map(&self) -> Duration {
        let (channels, peers, expected) = self.setup();
        let start = Instant::now();
        let mut map = StreamMap::with_capacity(self.n);
        for (i, channel) in channels.into_iter().enumerate() {
            map.insert(i, FramedRead::new(channel, LinesCodec::new()));
        }
        let mut t = Tally::default();
        while t.frames < expected.frames {
            let (_, line) = map.next().await.expect("a line");
            t.add(line.expect("decoding").as_bytes(), 1);
        }
        let elapsed = start.elapsed();
        expected.check("StreamMap", &t);
        drop((map, peers));
        elapsed
    }

    async fn task_per_connection(&self) -> Duration {
        let (channels, peers, expected) = self.setup();
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
        let mut tasks = JoinSet::new();
        for channel in channels {
            let tx = tx.clone();
            tasks.spawn(async move {
                let mut lines = FramedRead::new(channel, LinesCodec::new());
                while let Some(line) = lines.next().await {
                    if tx.send(line.expect("decoding")).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut t = Tally::default();
        while t.frames < expected.frames {
            let line = rx.recv().await.expect("a line");
            t.add(line.as_bytes(), 1);
        }
        let elapsed = start.elapsed();
        expected.check("task per connection", &t);
        drop(rx);
        tasks.shutdown().await;
        drop(peers);
        elapsed
    }
}
