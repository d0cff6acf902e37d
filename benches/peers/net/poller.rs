//! The `poller_net` scenario: the `poller` scenario's contenders over real
//! sockets. 100, 1,000 and 10,000 connections over TCP and over a Unix
//! socket, all active or 1% active (the rest open and idle), 16-byte lines
//! written by the sender process as fast as the reader takes them (see
//! `mod.rs` for what the clock covers).
//!
//! | row | consumer |
//! |-----|----------|
//! | iochannels Poller Stream | `Poller::new(Lines)`, `Channel::from(stream).framed(Lines)` registered, `poller.next()` |
//! | iochannels Poller poll(timeout) | the same through the batch `poller.poll(Some(1 s))` |
//! | select_all FramedRead<LinesCodec> (baseline) | `futures::stream::select_all` of `FramedRead<TcpStream/UnixStream, LinesCodec>` |
//! | StreamMap LinesCodec | `tokio_stream::StreamMap` of the same, with fewer lines (it is O(n) per item: see `poller.rs`), normalised to lines/s |
//! | task per connection + mpsc(1024) | one task per `FramedRead<_, LinesCodec>` sending each line into a bounded `tokio::sync::mpsc` |
//! | raw epoll ceiling | `ceiling.rs`: one thread, mio, 64 KiB reads, newlines counted |
//!
//! Current-thread runtime. `IOCHANNELS_BENCH_POLLER_NET_LINES=N` sets the
//! lines per case (default 1,000,000); `IOCHANNELS_BENCH_POLLER_NET_CASES=10000:100,100:1`
//! runs only those (connections:percent active) cases;
//! `IOCHANNELS_BENCH_NET=tcp` one transport.

use std::pin::Pin;
use std::task::{Context, Poll as TaskPoll};
use std::time::{Duration, Instant};

use futures::StreamExt;
use iochannels::{ChannelId, Event, Framing, Poller};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinSet;
use tokio_stream::StreamMap;
use tokio_util::codec::{FramedRead, LinesCodec};

use super::{ceiling, on, with_net, Conns, Got, Load, Shared, Sock, Transport};
use crate::harness::{poller_cases, runtime, Harness, Table};
use crate::lines::{env_usize, Rows, Tally};

const DEFAULT_LINES: usize = 1_000_000;
const LINE: usize = 16;
/// As in `poller.rs`: StreamMap gets the total times this over the
/// connection count (at least one line per active connection).
const STREAMMAP_SCALE: usize = 10;
const BASELINE: &str = "select_all FramedRead<LinesCodec>";
const CEILING: &str = "raw epoll ceiling (mio, 64 KiB reads)";

pub fn run(h: &Harness) {
    if !h.wants("poller_net") {
        return;
    }
    let total = env_usize("IOCHANNELS_BENCH_POLLER_NET_LINES", DEFAULT_LINES);
    println!(
        "\n# poller_net: {total} lines of {LINE} B per case over real sockets, \
         sender in another process, current_thread runtime"
    );
    let cases = poller_cases("IOCHANNELS_BENCH_POLLER_NET_CASES");
    let rt = &runtime(0);
    for transport in Transport::wanted() {
        let mut ns: Vec<usize> = cases.iter().map(|&(n, _)| n).collect();
        ns.dedup();
        for n in ns {
            // One set of connections for every activity of this count.
            with_net(rt, transport, n, &mut |conns| {
                for &(_, pct) in cases.iter().filter(|&&(m, _)| m == n) {
                    let active = (n * pct / 100).max(1);
                    let load = Load {
                        active,
                        per_active: (total / active).max(1),
                        len: LINE,
                    };
                    let title = format!(
                        "poller_net: {}, {n} connections, {active} active ({pct}%), {} lines each",
                        transport.name(),
                        load.per_active
                    );
                    match conns {
                        Conns::Tcp(net) => table(h, rt, net, n, load, title),
                        Conns::Unix(net) => table(h, rt, net, n, load, title),
                    }
                }
            });
        }
    }
    println!("\n(* StreamMap: fewer lines per active connection, rate normalised to lines/s)");
}

fn table<S: Sock>(
    h: &Harness,
    rt: &tokio::runtime::Runtime,
    net: &Shared<S>,
    n: usize,
    load: Load,
    title: String,
) {
    let table = Table::new(title, "lines/s", load.lines()).also_ratio_to(CEILING);
    let mut rows = Rows::new(table);
    let reps = h.reps;
    rows.time("iochannels Poller Stream", reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, poller_stream(c, lines)))
    });
    rows.time("iochannels Poller poll(timeout)", reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, poller_batch(c, lines)))
    });
    rows.time(BASELINE, reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, select_all(c, lines)))
    });
    let budget = (load.lines() as usize * STREAMMAP_SCALE / n).min(load.lines() as usize);
    let small = Load {
        per_active: (budget / load.active).max(1),
        ..load
    };
    let name = if small.per_active == load.per_active {
        "StreamMap FramedRead<LinesCodec>".to_owned()
    } else {
        format!("StreamMap LinesCodec ({} lines each)*", small.per_active)
    };
    // Its own amount of work, normalised to the table's.
    let scale = load.lines() as f64 / small.lines() as f64;
    rows.time(&name, reps, || {
        net.borrow_mut()
            .run(small, |c, lines| on(rt, stream_map(c, lines)))
            .mul_f64(scale)
    });
    rows.time("task per connection + mpsc(1024)", reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, task_per_connection(c, lines)))
    });
    rows.time(CEILING, reps, || {
        net.borrow_mut().run(load, ceiling::read_lines)
    });
    rows.print(BASELINE);
}

fn register<S: Sock>(poller: &mut Poller, conns: Vec<S>) -> Vec<ChannelId> {
    conns
        .into_iter()
        .map(|c| poller.register(c.into_channel().framed(Framing::Lines)))
        .collect()
}

fn give_back<S: Sock>(poller: &mut Poller, ids: Vec<ChannelId>) -> Vec<S> {
    ids.into_iter()
        .map(|id| S::from_channel(poller.unregister(id).expect("registered").into_inner()))
        .collect()
}

async fn poller_stream<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut poller = Poller::new(Framing::Lines);
    let ids = register(&mut poller, conns);
    let mut t = Tally::default();
    while t.frames < lines {
        match poller.next().await {
            Some(Event::Data { data, .. }) => t.add(&data, 0),
            other => panic!("unexpected poller event {other:?}"),
        }
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    (give_back(&mut poller, ids), t, done)
}

async fn poller_batch<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut poller = Poller::new(Framing::Lines);
    let ids = register(&mut poller, conns);
    let mut t = Tally::default();
    while t.frames < lines {
        for event in poller.poll(Some(Duration::from_secs(1))).await {
            match event {
                Event::Data { data, .. } => t.add(&data, 0),
                other => panic!("unexpected poller event {other:?}"),
            }
        }
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    (give_back(&mut poller, ids), t, done)
}

async fn select_all<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut all = futures::stream::select_all(
        conns
            .into_iter()
            .map(|c| FramedRead::new(c.into_tokio(), LinesCodec::new())),
    );
    let mut t = Tally::default();
    while t.frames < lines {
        let line = all.next().await.expect("a line").expect("decoding");
        t.add(line.as_bytes(), 1);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    let back = all
        .into_iter()
        .map(|f| S::from_tokio(f.into_inner()))
        .collect();
    (back, t, done)
}

async fn stream_map<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let n = conns.len();
    let mut map = StreamMap::with_capacity(n);
    for (i, c) in conns.into_iter().enumerate() {
        map.insert(i, FramedRead::new(c.into_tokio(), LinesCodec::new()));
    }
    let mut t = Tally::default();
    while t.frames < lines {
        let (_, line) = map.next().await.expect("a line");
        t.add(line.expect("decoding").as_bytes(), 1);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    let back = (0..n)
        .map(|i| S::from_tokio(map.remove(&i).expect("inserted").into_inner()))
        .collect();
    (back, t, done)
}

async fn task_per_connection<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
    let (back_tx, back_rx) = std::sync::mpsc::channel();
    let mut tasks = JoinSet::new();
    for c in conns {
        let tx = tx.clone();
        let io = Lease {
            io: Some(c.into_tokio()),
            back: back_tx.clone(),
        };
        tasks.spawn(async move {
            let mut lines = FramedRead::new(io, LinesCodec::new());
            while let Some(line) = lines.next().await {
                if tx.send(line.expect("decoding")).await.is_err() {
                    return;
                }
            }
        });
    }
    drop((tx, back_tx));
    let mut t = Tally::default();
    while t.frames < lines {
        let line = rx.recv().await.expect("a line");
        t.add(line.as_bytes(), 1);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    // The tasks wait on sockets with nothing more to come: cancelled, each
    // gives its socket back as it is dropped.
    tasks.shutdown().await;
    let back = back_rx.try_iter().map(S::from_tokio).collect();
    (back, t, done)
}

/// A socket lent to a task that cannot return it (it is cancelled): sent
/// back through `back` when dropped.
struct Lease<T> {
    io: Option<T>,
    back: std::sync::mpsc::Sender<T>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Lease<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> TaskPoll<std::io::Result<()>> {
        let io = self.get_mut().io.as_mut().expect("held until dropped");
        Pin::new(io).poll_read(cx, buf)
    }
}

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            let _ = self.back.send(io);
        }
    }
}
