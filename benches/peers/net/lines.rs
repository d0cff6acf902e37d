//! The `lines_net` scenario: one connection, TCP on 127.0.0.1 or a Unix
//! socket, 16- and 64-byte lines written by the sender process as fast as
//! the reader takes them, cut into lines by each contender (see `mod.rs`
//! for what the clock covers).
//!
//! | row | reader |
//! |-----|--------|
//! | iochannels FramedChannel::read() | `Channel::from(stream).framed(Lines)`, `read().await` per line |
//! | iochannels FramedChannel Stream | the same through `StreamExt::next` |
//! | tokio-util FramedRead<LinesCodec> (baseline) | `FramedRead<TcpStream/UnixStream, LinesCodec>` |
//! | raw epoll ceiling | `ceiling.rs`: mio, 64 KiB reads, newlines counted |
//!
//! Current-thread runtime. `IOCHANNELS_BENCH_LINES_NET_N=N` sets the lines
//! per run (default 2,000,000); `IOCHANNELS_BENCH_LINES_LEN=16` one length.

use std::time::Instant;

use futures::StreamExt;
use iochannels::Framing;
use tokio_util::codec::{FramedRead, LinesCodec};

use super::{ceiling, on, with_net, Conns, Got, Load, Shared, Sock, Transport};
use crate::harness::{runtime, Harness, Table};
use crate::lines::{env_usize, Rows, Tally};

const DEFAULT_N: usize = 2_000_000;
const BASELINE: &str = "tokio-util FramedRead<LinesCodec>";
const CEILING: &str = "raw epoll ceiling (mio, 64 KiB reads)";

pub fn run(h: &Harness) {
    if !h.wants("lines_net") {
        return;
    }
    let n = env_usize("IOCHANNELS_BENCH_LINES_NET_N", DEFAULT_N);
    let lens: Vec<usize> = match std::env::var("IOCHANNELS_BENCH_LINES_LEN") {
        Ok(v) => v.split(',').filter_map(|l| l.parse().ok()).collect(),
        Err(_) => vec![16, 64],
    };
    println!(
        "\n# lines_net: {n} lines per run over one real socket, sender in another process, \
         current_thread runtime"
    );
    let rt = &runtime(0);
    for transport in Transport::wanted() {
        with_net(rt, transport, 1, &mut |conns| {
            for &len in &lens {
                let load = Load {
                    active: 1,
                    per_active: n,
                    len,
                };
                let title = format!("lines_net: {}, {n} lines of {len} B", transport.name());
                match conns {
                    Conns::Tcp(net) => table(h, rt, net, load, title),
                    Conns::Unix(net) => table(h, rt, net, load, title),
                }
            }
        });
    }
}

fn table<S: Sock>(
    h: &Harness,
    rt: &tokio::runtime::Runtime,
    net: &Shared<S>,
    load: Load,
    title: String,
) {
    let table = Table::new(title, "lines/s", load.lines()).also_ratio_to(CEILING);
    let mut rows = Rows::new(table);
    let reps = h.reps;
    rows.time("iochannels FramedChannel::read()", reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, framed_read(c, lines)))
    });
    rows.time("iochannels FramedChannel Stream", reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, framed_stream(c, lines)))
    });
    rows.time(BASELINE, reps, || {
        net.borrow_mut()
            .run(load, |c, lines| on(rt, lines_codec(c, lines)))
    });
    rows.time(CEILING, reps, || {
        net.borrow_mut().run(load, ceiling::read_lines)
    });
    rows.print(BASELINE);
}

fn one<S>(mut conns: Vec<S>) -> S {
    assert_eq!(conns.len(), 1, "lines_net reads one connection");
    conns.pop().expect("one connection")
}

async fn framed_read<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut framed = one(conns).into_channel().framed(Framing::Lines);
    let mut t = Tally::default();
    while t.frames < lines {
        let line = framed.read().await.expect("reading").expect("a line");
        t.add(&line, 0);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    (vec![S::from_channel(framed.into_inner())], t, done)
}

async fn framed_stream<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut framed = one(conns).into_channel().framed(Framing::Lines);
    let mut t = Tally::default();
    while t.frames < lines {
        let line = framed.next().await.expect("a line").expect("reading");
        t.add(&line, 0);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    (vec![S::from_channel(framed.into_inner())], t, done)
}

async fn lines_codec<S: Sock>(conns: Vec<S>, lines: u64) -> Got<S> {
    let mut framed = FramedRead::new(one(conns).into_tokio(), LinesCodec::new());
    let mut t = Tally::default();
    while t.frames < lines {
        let line = framed.next().await.expect("a line").expect("decoding");
        t.add(line.as_bytes(), 1);
    }
    // The clock stops here: giving the sockets back is not timed.
    let done = Instant::now();
    (vec![S::from_tokio(framed.into_inner())], t, done)
}
