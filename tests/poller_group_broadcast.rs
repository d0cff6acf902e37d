//! Cross-shard broadcast at scale: a `PollerGroup` of 4 shards × 250 TCP
//! clients on 127.0.0.1, each client sending 100 lines, every line checked
//! byte for byte, exactly once and in per-sender order.
//!
//! Who gets what: the clients form 250 rooms of four, one client from each
//! shard (room r holds the r-th client each shard was handed), and each
//! line a client sends goes to the three others of its room — all on other
//! shards, so every line delivered is a cross-shard write, and every shard
//! writes to every other. That is 100,000 lines sent and 300,000 delivered,
//! and "exactly once" is exact: each client knows its three senders, expects
//! exactly their 100 lines each, in the order sent, and then the end of the
//! stream with nothing more. (A broadcast to all 1,000 clients would be
//! 10^8 lines: too much for a test.)

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use iochannels::{Event, Framing, GroupId, PeerAddr, PollerGroup, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::unbounded_channel;

use support::lines::client_line;
use support::{bounded, within};

const SHARDS: usize = 4;
const PER_SHARD: usize = 250;
const CLIENTS: usize = SHARDS * PER_SHARD;
const LINES: usize = 100;
/// A client's room-mates: one on each other shard.
const MATES: usize = SHARDS - 1;
/// Both ends of every connection, the listener, the runtime's own, and slack.
const FDS: u64 = 2 * CLIENTS as u64 + 100;
/// Clients connected before waiting for all of them to be announced: under
/// the group's inbox of 128 per shard, so none is ever full and the
/// round-robin stays exact (250 per shard).
const BATCH: usize = 100;
/// The whole exchange; each step is bounded by `within` as well.
const LIMIT: Duration = Duration::from_secs(120);

/// Where each connection's lines go, set once every client is placed.
type Routes = Arc<OnceLock<HashMap<GroupId, Vec<GroupId>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_of_250_clients_get_every_cross_shard_line_exactly_once() -> Result<()> {
    if !support::ensure_fds(FDS) {
        return Ok(());
    }
    // A backlog of 4096, not `TcpListener::bind`'s 1024: the accept task
    // may lag behind a burst of connects, and a refused one fails the test.
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = socket.listen(4096)?;
    let addr = listener.local_addr()?;
    let mut group = PollerGroup::new(SHARDS, Framing::Lines);
    group.add_server(listener);
    let handle = group.handle();
    let routes: Routes = Arc::new(OnceLock::new());
    let (placed, mut placements) = unbounded_channel::<(SocketAddr, GroupId)>();

    // Each shard: announce its clients, relay each line to the line's
    // sender's room-mates, and count what it relayed.
    let shards: Vec<_> = group
        .into_shards()
        .into_iter()
        .map(|mut shard| {
            let (routes, placed) = (Arc::clone(&routes), placed.clone());
            tokio::spawn(async move {
                let (mut lines, mut writes) = (0usize, 0usize);
                while let Some(event) = shard.next().await {
                    match event {
                        Event::Accepted {
                            id,
                            peer: PeerAddr::Tcp(peer),
                            ..
                        } => placed.send((peer, shard.group_id(id))).expect("test alive"),
                        Event::Data { id, data } => {
                            let from = shard.group_id(id);
                            let to = &routes.get().expect("lines come once routes are set")[&from];
                            for &mate in to {
                                assert_ne!(mate.shard, from.shard, "a route stays on its shard");
                                shard.write(mate, data.clone()).expect("relaying a line");
                                writes += 1;
                            }
                            lines += 1;
                        }
                        Event::Closed { error: None, .. } => {}
                        other => panic!("shard {}: unexpected {other:?}", shard.index()),
                    }
                }
                (lines, writes)
            })
        })
        .collect();
    drop(placed);

    // Connect in batches, each announced before the next.
    let mut streams = Vec::with_capacity(CLIENTS);
    let mut at: HashMap<SocketAddr, GroupId> = HashMap::with_capacity(CLIENTS);
    while streams.len() < CLIENTS {
        for _ in 0..BATCH {
            streams.push(within(TcpStream::connect(addr)).await?);
        }
        while at.len() < streams.len() {
            let (peer, id) = within(placements.recv()).await.expect("shards alive");
            at.insert(peer, id);
        }
    }

    // Rooms: the r-th client of each shard, in the order each shard took them.
    let mut by_shard: Vec<Vec<(GroupId, usize)>> = vec![Vec::new(); SHARDS];
    for (c, stream) in streams.iter().enumerate() {
        let id = at[&stream.local_addr()?];
        by_shard[id.shard].push((id, c));
    }
    for (shard, clients) in by_shard.iter_mut().enumerate() {
        assert_eq!(clients.len(), PER_SHARD, "clients on shard {shard}");
        // Any order makes rooms of one client per shard; sorted, the
        // layout does not depend on the order of the connects.
        clients.sort_unstable();
    }
    let mut table = HashMap::with_capacity(CLIENTS);
    let mut mates_of = vec![Vec::new(); CLIENTS];
    for r in 0..PER_SHARD {
        let room: Vec<(GroupId, usize)> = by_shard.iter().map(|clients| clients[r]).collect();
        for &(id, c) in &room {
            let others = room.iter().filter(|(other, _)| *other != id);
            table.insert(id, others.clone().map(|&(other, _)| other).collect());
            mates_of[c] = others.map(|&(_, other)| other).collect();
        }
    }
    routes.set(table).expect("routes set once");

    let started = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .zip(mates_of)
        .enumerate()
        .map(|(c, (stream, mates))| tokio::spawn(client(c, stream, mates)))
        .collect();
    let mut ends = Vec::with_capacity(CLIENTS);
    for client in clients {
        ends.push(
            bounded(LIMIT, "the clients' exchange", client)
                .await
                .expect("client"),
        );
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{SHARDS} shards x {PER_SHARD} clients x {LINES} lines: {} lines delivered in {:.3} s ({:.0} lines/s)",
        CLIENTS * LINES * MATES,
        elapsed.as_secs_f64(),
        (CLIENTS * LINES * MATES) as f64 / elapsed.as_secs_f64()
    );

    // Nothing more was on its way: after the shutdown each client reads
    // the end of its stream, with no byte before it.
    handle.shutdown();
    let (mut lines, mut writes) = (0, 0);
    for shard in shards {
        let (l, w) = within(shard).await.expect("shard task");
        lines += l;
        writes += w;
    }
    assert_eq!(lines, CLIENTS * LINES, "lines the shards read");
    assert_eq!(writes, CLIENTS * LINES * MATES, "lines the shards relayed");
    for (c, (mut reader, _write)) in ends.into_iter().enumerate() {
        let mut rest = Vec::new();
        within(reader.read_to_end(&mut rest)).await?;
        assert!(
            rest.is_empty(),
            "client {c} got more: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    Ok(())
}

/// Client `c`: sends its lines, then reads exactly `LINES` from each of its
/// `mates`, each line byte for byte as its sender made it and in the order
/// sent; gives back both halves, the reader to check the end of the stream
/// (the write half stays open: its end would close the connection while
/// its mates may still be sending to it).
async fn client(
    c: usize,
    stream: TcpStream,
    mates: Vec<usize>,
) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    assert_eq!(mates.len(), MATES);
    let (read, mut write) = stream.into_split();
    let mut sent = Vec::new();
    for k in 0..LINES {
        client_line(c, k, &mut sent);
    }
    // Written whole while the reads below go on: a mate's reads do not wait
    // for this client's writes, nor the other way round.
    let writer = tokio::spawn(async move {
        write.write_all(&sent).await.expect("sending lines");
        write
    });
    let mut reader = BufReader::new(read);
    let mut next: HashMap<usize, usize> = mates.iter().map(|&m| (m, 0)).collect();
    let (mut line, mut want) = (Vec::new(), Vec::new());
    for _ in 0..LINES * MATES {
        line.clear();
        reader
            .read_until(b'\n', &mut line)
            .await
            .expect("reading lines");
        let from = sender(&line).unwrap_or_else(|| {
            panic!(
                "client {c}: not a client line: {:?}",
                String::from_utf8_lossy(&line)
            )
        });
        let k = next
            .get_mut(&from)
            .unwrap_or_else(|| panic!("client {c}: a line of {from}, not a mate ({mates:?})"));
        assert!(*k < LINES, "client {c}: more than {LINES} lines of {from}");
        want.clear();
        client_line(from, *k, &mut want);
        assert_eq!(
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&want),
            "client {c}: line {k} of {from} lost, repeated, reordered or changed"
        );
        *k += 1;
    }
    assert!(next.values().all(|&k| k == LINES), "client {c}: {next:?}");
    (reader, writer.await.expect("writer"))
}

/// The sender of a line made by `client_line`: the N of its `cN ` prefix.
fn sender(line: &[u8]) -> Option<usize> {
    let rest = line.strip_prefix(b"c")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}
