//! The `shard` scenario: how a drain scales over cores with a
//! `PollerGroup` — 10,000 connections with 100 lines each already put,
//! consumed by one shard and by two, beside tokio's multi-threaded runtime
//! with a task per connection.
//!
//! Transport: `Channel::test()` pairs (in memory, as in the `poller`
//! scenario), set up before the clock. The clock covers registering every
//! connection with its consumer and reading every line; each consumer
//! counts its own lines (no central queue), and the sum is checked.
//! Consumers are dropped after the clock, as in the `poller` scenario.
//!
//! | row | consumer |
//! |-----|----------|
//! | 1 shard, current_thread (baseline) | `PollerGroup::new(1, Lines)`: one `Shard` on one thread's current-thread runtime |
//! | 2 shards, a thread each | two `Shard`s, each on its own thread with its own current-thread runtime; connection `i` on shard `i % 2` |
//! | 2 shards, 2-worker runtime | the two `Shard`s as two tasks of one multi-thread runtime with 2 workers |
//! | task per connection, 2 workers | tokio's way: a task per `FramedRead<Channel, LinesCodec>` on a 2-worker runtime, each reading its 100 lines |
//!
//! `IOCHANNELS_BENCH_SHARD_CONNS=N` sets the connections (default 10,000).
//! Under the table, what the machine gives at that moment: how much more
//! 2 threads of pure arithmetic do than 1 (2.0 on two free cores).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{Channel, Event, Framing, PollerGroup, Shard, TestPeer};
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, LinesCodec};

use crate::harness::{runtime, Harness, Table};
use crate::lines::{env_usize, make_lines, Rows, Tally};

const LINES_PER_CONN: usize = 100;
const LINE: usize = 16;

pub fn run(h: &Harness) {
    if !h.wants("shard") {
        return;
    }
    let conns = env_usize("IOCHANNELS_BENCH_SHARD_CONNS", 10_000);
    let block = make_lines(LINES_PER_CONN, LINE);
    println!(
        "\n# shard: {conns} connections x {LINES_PER_CONN} lines of {LINE} B over \
         Channel::test() pairs, drained by shards on {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let title = format!("shard: drain {conns} connections x {LINES_PER_CONN} lines");
    let total = (conns * LINES_PER_CONN) as u64;
    let rt2 = &runtime(2);
    let mut table = Rows::new(Table::new(title, "lines/s", total));
    let reps = h.reps;
    let block = &block;
    table.time("1 shard, current_thread (baseline)", reps, move || {
        shards_on_threads(1, conns, block)
    });
    table.time("2 shards, a thread each", reps, move || {
        shards_on_threads(2, conns, block)
    });
    table.time("2 shards, 2-worker runtime", reps, move || {
        rt2.block_on(shards_as_tasks(2, conns, block))
    });
    table.time("task per connection, 2 workers", reps, move || {
        rt2.block_on(task_per_connection(conns, block))
    });
    table.print("1 shard, current_thread (baseline)");
    println!(
        "(the machine now: 2 threads of arithmetic alone do {:.2}x the work of 1 in the same \
         time — the most any 2-core row can gain over 1 core)",
        machine_parallelism()
    );
}

/// How much more work 2 threads get done than 1 in the same time, on
/// arithmetic that touches no memory: 2.0 on 2 free cores, less when other
/// load holds one or the cores are siblings of one physical core.
fn machine_parallelism() -> f64 {
    fn spin() -> Duration {
        let start = Instant::now();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        start.elapsed()
    }
    let one = spin();
    let start = Instant::now();
    let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(spin)).collect();
    for t in threads {
        t.join().expect("spin thread");
    }
    2.0 * one.as_secs_f64() / start.elapsed().as_secs_f64()
}

/// `conns` connections with `block` put in each, dealt to `shards` piles
/// (connection `i` to pile `i % shards`), and the tally of one pile's
/// lines per connection.
fn setup(shards: usize, conns: usize, block: &Bytes) -> (Vec<Vec<Channel>>, Vec<TestPeer>, Tally) {
    let mut piles: Vec<Vec<Channel>> = (0..shards).map(|_| Vec::new()).collect();
    let mut peers = Vec::with_capacity(conns);
    for i in 0..conns {
        let (channel, mut peer) = Channel::test();
        peer.put(block);
        piles[i % shards].push(channel);
        peers.push(peer);
    }
    (piles, peers, Tally::of_delimited(block, b'\n'))
}

/// Registers `channels` with `shard` and reads every line: `per_conn`
/// lines each. The shard comes back, to be dropped after the clock.
async fn drain(mut shard: Shard, channels: Vec<Channel>, per_conn: Tally) -> (Tally, Shard) {
    let frames = per_conn.frames * channels.len() as u64;
    for channel in channels {
        shard.poller_mut().register(channel.framed(Framing::Lines));
    }
    let mut t = Tally::default();
    while t.frames < frames {
        match shard.next().await {
            Some(Event::Data { data, .. }) => t.add(&data, 0),
            other => panic!("unexpected shard event {other:?}"),
        }
    }
    (t, shard)
}

fn expected(conns: usize, per_conn: Tally) -> Tally {
    let n = conns as u64;
    Tally {
        frames: per_conn.frames * n,
        bytes: per_conn.bytes * n,
        first_bytes: per_conn.first_bytes * n,
    }
}

fn sum(tallies: impl IntoIterator<Item = Tally>) -> Tally {
    tallies.into_iter().fold(Tally::default(), |a, t| Tally {
        frames: a.frames + t.frames,
        bytes: a.bytes + t.bytes,
        first_bytes: a.first_bytes + t.first_bytes,
    })
}

/// Each shard on its own thread with its own current-thread runtime.
fn shards_on_threads(shards: usize, conns: usize, block: &Bytes) -> Duration {
    let (piles, peers, per_conn) = setup(shards, conns, block);
    let group = PollerGroup::new(shards, Framing::Lines);
    let start = Instant::now();
    let threads: Vec<_> = group
        .into_shards()
        .into_iter()
        .zip(piles)
        .map(|(shard, pile)| {
            std::thread::spawn(move || runtime(0).block_on(drain(shard, pile, per_conn)))
        })
        .collect();
    let (tallies, shards): (Vec<_>, Vec<_>) = threads
        .into_iter()
        .map(|t| t.join().expect("shard thread"))
        .unzip();
    let elapsed = start.elapsed();
    drop(shards);
    let got = sum(tallies);
    expected(conns, per_conn).check("shards on threads", &got);
    drop(peers);
    elapsed
}

/// The shards as tasks of the current (multi-thread) runtime.
async fn shards_as_tasks(shards: usize, conns: usize, block: &Bytes) -> Duration {
    let (piles, peers, per_conn) = setup(shards, conns, block);
    let group = PollerGroup::new(shards, Framing::Lines);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (shard, pile) in group.into_shards().into_iter().zip(piles) {
        tasks.spawn(drain(shard, pile, per_conn));
    }
    let (tallies, shards): (Vec<_>, Vec<_>) = tasks.join_all().await.into_iter().unzip();
    let elapsed = start.elapsed();
    drop(shards);
    let got = sum(tallies);
    expected(conns, per_conn).check("shards as tasks", &got);
    drop(peers);
    elapsed
}

/// A task per connection reading its own lines on the current runtime.
async fn task_per_connection(conns: usize, block: &Bytes) -> Duration {
    let (mut piles, peers, per_conn) = setup(1, conns, block);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for channel in piles.remove(0) {
        tasks.spawn(async move {
            let mut lines = FramedRead::new(channel, LinesCodec::new());
            let mut t = Tally::default();
            while t.frames < per_conn.frames {
                let line = lines.next().await.expect("a line").expect("decoding");
                t.add(line.as_bytes(), 1);
            }
            (t, lines)
        });
    }
    let (tallies, readers): (Vec<_>, Vec<_>) = tasks.join_all().await.into_iter().unzip();
    let elapsed = start.elapsed();
    drop(readers);
    let got = sum(tallies);
    expected(conns, per_conn).check("task per connection", &got);
    drop(peers);
    elapsed
}
