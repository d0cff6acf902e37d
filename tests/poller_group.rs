//! PollerGroup over real TCP on 127.0.0.1: clients spread over every shard,
//! a client's events kept on its shard in order, cross-shard broadcast,
//! shutdown that loses nothing queued, and a panicking shard.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use iochannels::{
    ChannelId, Error, Event, Framing, GroupHandle, GroupId, PeerAddr, PollerGroup, Result,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use support::within;

/// What a shard's task did with one event, in the order it came.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Accepted(SocketAddr),
    Data(String),
    Closed,
}

/// One shard's record of its events, per channel.
#[derive(Debug, Default)]
struct Log {
    events: HashMap<ChannelId, Vec<Seen>>,
}

/// Told to the test as it happens.
#[derive(Debug)]
enum Report {
    Accepted(GroupId),
    Data(GroupId),
    Closed,
}

/// How the shards answer a line.
#[derive(Clone)]
enum Reply {
    /// `"<shard> <line>"` to the sender.
    Echo,
    /// The line to every connection listed, once the list is set.
    Broadcast(Arc<OnceLock<Vec<GroupId>>>),
}

/// A group of `shards` with one TCP server, each shard on its own task;
/// a line `boom` makes that shard's task panic.
async fn start(
    shards: usize,
    reply: Reply,
) -> Result<(
    SocketAddr,
    GroupHandle,
    Vec<JoinHandle<Log>>,
    UnboundedReceiver<Report>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut group = PollerGroup::new(shards, Framing::Lines);
    let server = group.add_server(listener);
    let handle = group.handle();
    let (reports, rx) = unbounded_channel();
    let tasks = group
        .into_shards()
        .into_iter()
        .map(|mut shard| {
            let (reply, reports): (Reply, UnboundedSender<Report>) =
                (reply.clone(), reports.clone());
            tokio::spawn(async move {
                let mut log = Log::default();
                while let Some(event) = shard.next().await {
                    match event {
                        Event::Accepted {
                            server: from,
                            id,
                            peer,
                        } => {
                            assert_eq!(from, server);
                            let PeerAddr::Tcp(peer) = peer else {
                                panic!("not TCP: {peer:?}")
                            };
                            log.events.entry(id).or_default().push(Seen::Accepted(peer));
                            let _ = reports.send(Report::Accepted(shard.group_id(id)));
                        }
                        Event::Data { id, data } => {
                            let line = String::from_utf8(data.to_vec()).expect("utf-8");
                            assert!(line != "boom\n", "shard {} told to panic", shard.index());
                            match &reply {
                                Reply::Echo => {
                                    let echo = format!("{} {line}", shard.index());
                                    shard.poller_mut().write(id, echo).expect("echo");
                                }
                                Reply::Broadcast(all) => {
                                    for &to in all.get().expect("clients listed") {
                                        shard.write(to, line.clone()).expect("broadcast");
                                    }
                                }
                            }
                            log.events.entry(id).or_default().push(Seen::Data(line));
                            let _ = reports.send(Report::Data(shard.group_id(id)));
                        }
                        Event::Closed { id, .. } => {
                            log.events.entry(id).or_default().push(Seen::Closed);
                            let _ = reports.send(Report::Closed);
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                log
            })
        })
        .collect();
    Ok((addr, handle, tasks, rx))
}

/// Waits for `n` reports matching `pred`, returning them.
async fn wait_for(
    rx: &mut UnboundedReceiver<Report>,
    n: usize,
    pred: impl Fn(&Report) -> bool,
) -> Vec<Report> {
    let mut seen = Vec::new();
    within(async {
        while seen.len() < n {
            let report = rx.recv().await.expect("shards gone");
            if pred(&report) {
                seen.push(report);
            }
        }
    })
    .await;
    seen
}

/// Shuts the group down and gathers every shard's log.
async fn finish(handle: &GroupHandle, tasks: Vec<JoinHandle<Log>>) -> Vec<Log> {
    handle.shutdown();
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(within(task).await.expect("shard task"));
    }
    logs
}

/// Sends `line`, returns the shard that echoed it.
async fn ask_shard(client: &mut BufReader<TcpStream>, line: &str) -> usize {
    client
        .get_mut()
        .write_all(line.as_bytes())
        .await
        .expect("write");
    let mut reply = String::new();
    within(client.read_line(&mut reply)).await.expect("read");
    let (shard, rest) = reply.split_once(' ').expect("shard prefix");
    assert_eq!(rest, line);
    shard.parse().expect("shard index")
}

async fn spread_over(shards: usize, clients: usize) -> Result<()> {
    let (addr, handle, tasks, mut rx) = start(shards, Reply::Echo).await?;
    let mut per_shard = vec![0; shards];
    let mut conns = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..clients {
        let mut client = BufReader::new(within(TcpStream::connect(addr)).await?);
        per_shard[ask_shard(&mut client, "hi\n").await] += 1;
        conns.push(client);
    }
    eprintln!(
        "{shards} shards, {clients} clients: {per_shard:?} in {:?}",
        started.elapsed()
    );
    // Round-robin over shards with room: exactly even.
    assert_eq!(per_shard, vec![clients / shards; shards]);
    drop(conns);
    wait_for(&mut rx, clients, |r| matches!(r, Report::Closed)).await;
    let logs = finish(&handle, tasks).await;
    for log in &logs {
        assert_eq!(log.events.len(), clients / shards);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_land_on_every_shard_of_two() -> Result<()> {
    spread_over(2, 40).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_land_on_every_shard_of_four() -> Result<()> {
    spread_over(4, 40).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_events_stay_on_its_shard_in_order() -> Result<()> {
    const CLIENTS: usize = 8;
    const LINES: usize = 100;
    let (addr, handle, tasks, mut rx) = start(2, Reply::Echo).await?;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        clients.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let local = stream.local_addr().expect("local addr");
            let mut stream = BufReader::new(stream);
            let sent: String = (0..LINES).map(|k| format!("c{c} l{k}\n")).collect();
            stream
                .get_mut()
                .write_all(sent.as_bytes())
                .await
                .expect("write");
            let mut shard = None;
            for k in 0..LINES {
                let mut reply = String::new();
                stream.read_line(&mut reply).await.expect("read");
                let (from, line) = reply.split_once(' ').expect("shard prefix");
                assert_eq!(line, format!("c{c} l{k}\n"), "client {c}: out of order");
                assert!(
                    shard.is_none() || shard == Some(from.to_owned()),
                    "moved shard"
                );
                shard = Some(from.to_owned());
            }
            (
                local,
                shard.expect("a reply").parse::<usize>().expect("index"),
                c,
            )
        }));
    }
    let mut placed = HashMap::new();
    for client in clients {
        let (local, shard, c) = within(client).await.expect("client");
        placed.insert(local, (shard, c));
    }
    wait_for(&mut rx, CLIENTS, |r| matches!(r, Report::Closed)).await;
    let logs = finish(&handle, tasks).await;
    let mut found = 0;
    for (index, log) in logs.iter().enumerate() {
        for events in log.events.values() {
            let Some(Seen::Accepted(peer)) = events.first() else {
                panic!("shard {index}: no Accepted first: {events:?}");
            };
            let (shard, c) = placed[peer];
            assert_eq!(shard, index, "client {c} answered by another shard");
            let mut expected = vec![Seen::Accepted(*peer)];
            expected.extend((0..LINES).map(|k| Seen::Data(format!("c{c} l{k}\n"))));
            expected.push(Seen::Closed);
            assert_eq!(events, &expected, "client {c} on shard {index}");
            found += 1;
        }
    }
    assert_eq!(found, CLIENTS);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_shard_broadcast_delivers_every_line_once() -> Result<()> {
    const SHARDS: usize = 4;
    const CLIENTS: usize = 50 * SHARDS;
    const LINES: usize = 20;
    let all = Arc::new(OnceLock::new());
    let (addr, handle, tasks, mut rx) = start(SHARDS, Reply::Broadcast(Arc::clone(&all))).await?;
    let mut conns = Vec::new();
    for _ in 0..CLIENTS {
        conns.push(within(TcpStream::connect(addr)).await?);
    }
    let accepted = wait_for(&mut rx, CLIENTS, |r| matches!(r, Report::Accepted(_))).await;
    let ids: Vec<GroupId> = accepted
        .into_iter()
        .map(|r| match r {
            Report::Accepted(id) => id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let on: HashSet<usize> = ids.iter().map(|id| id.shard).collect();
    assert_eq!(on.len(), SHARDS, "every shard has clients");
    all.set(ids).expect("set once");
    let clients: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, stream)| {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let sent: String = (0..LINES).map(|k| format!("c{c} l{k}\n")).collect();
                write.write_all(sent.as_bytes()).await.expect("write");
                // Per sender, lines come in the order sent, each once.
                let mut next = vec![0; CLIENTS];
                let mut lines = BufReader::new(read).lines();
                for _ in 0..CLIENTS * LINES {
                    let line = lines.next_line().await.expect("read").expect("a line");
                    let (from, k) = line.split_once(' ').expect("c? l?");
                    let from: usize = from[1..].parse().expect("client");
                    let k: usize = k[1..].parse().expect("line");
                    assert_eq!(k, next[from], "client {c}: line of {from} out of order");
                    next[from] += 1;
                }
                assert!(next.iter().all(|&n| n == LINES), "client {c}: {next:?}");
            })
        })
        .collect();
    for client in clients {
        within(client).await.expect("client");
    }
    // Every line arrived at every client; none more came before the close.
    wait_for(&mut rx, CLIENTS, |r| matches!(r, Report::Closed)).await;
    let logs = finish(&handle, tasks).await;
    let lines: usize = logs
        .iter()
        .flat_map(|log| log.events.values())
        .map(|events| events.iter().filter(|e| matches!(e, Seen::Data(_))).count())
        .sum();
    assert_eq!(lines, CLIENTS * LINES);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_clients_mid_write_loses_nothing_queued() -> Result<()> {
    const CLIENTS: usize = 20;
    let (addr, handle, tasks, mut rx) = start(2, Reply::Echo).await?;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let stream = within(TcpStream::connect(addr)).await?;
        let local = stream.local_addr()?;
        clients.push(tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            // Writes numbered lines until the server is gone.
            let writer = tokio::spawn(async move {
                for k in 0u64.. {
                    if write.write_all(format!("{k}\n").as_bytes()).await.is_err() {
                        break;
                    }
                    if k % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
            let mut echoed = Vec::new();
            let mut lines = BufReader::new(read).lines();
            while let Some(line) = lines.next_line().await.expect("read to the end") {
                let (_, k) = line.split_once(' ').expect("shard prefix");
                echoed.push(k.parse::<u64>().expect("number"));
            }
            // EOF: the server closed; stop writing, so its linger ends.
            writer.abort();
            let _ = writer.await;
            (local, echoed)
        }));
    }
    // Shut down while every client is still writing, each answered a while.
    let mut answered: HashMap<GroupId, usize> = HashMap::new();
    within(async {
        while answered.len() < CLIENTS || answered.values().any(|&n| n < 20) {
            if let Some(Report::Data(id)) = rx.recv().await {
                *answered.entry(id).or_default() += 1;
            }
        }
    })
    .await;
    let logs = finish(&handle, tasks).await;
    let mut echoed_by_shard = HashMap::new();
    for log in &logs {
        for events in log.events.values() {
            let Some(Seen::Accepted(peer)) = events.first() else {
                panic!("no Accepted first: {events:?}");
            };
            assert_eq!(events.last(), Some(&Seen::Closed));
            let data = events.iter().filter(|e| matches!(e, Seen::Data(_))).count();
            echoed_by_shard.insert(*peer, data as u64);
        }
    }
    for client in clients {
        let (local, echoed) = within(client).await.expect("client");
        // Every line the shard answered arrived, in order, nothing after.
        let expected: Vec<u64> = (0..echoed_by_shard[&local]).collect();
        assert!(expected.len() >= 20);
        assert_eq!(echoed, expected, "client {local}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_shard_leaves_the_others_serving() -> Result<()> {
    let (addr, handle, mut tasks, mut rx) = start(3, Reply::Echo).await?;
    let mut conns = Vec::new();
    for _ in 0..6 {
        let mut client = BufReader::new(within(TcpStream::connect(addr)).await?);
        let shard = ask_shard(&mut client, "hi\n").await;
        conns.push((shard, client));
    }
    let accepted = wait_for(&mut rx, 6, |r| matches!(r, Report::Accepted(_))).await;
    let on_one = accepted
        .iter()
        .find_map(|r| match r {
            Report::Accepted(id) if id.shard == 1 => Some(*id),
            _ => None,
        })
        .expect("a client on shard 1");
    let victim = conns
        .iter()
        .position(|(shard, _)| *shard == 1)
        .expect("on 1");
    let (_, mut doomed) = conns.remove(victim);
    doomed.get_mut().write_all(b"boom\n").await?;
    let panicked = within(tasks.remove(1)).await;
    assert!(panicked.expect_err("shard 1 panicked").is_panic());
    // Its connections went with it.
    let mut rest = String::new();
    let n = within(doomed.read_line(&mut rest)).await.unwrap_or(0);
    assert_eq!(n, 0, "shard 1's client got {rest:?}");
    assert!(matches!(handle.write(on_one, "x\n"), Err(Error::Closed)));
    // The others still answer; new clients land on the shards left.
    for (shard, client) in &mut conns {
        if *shard != 1 {
            assert_eq!(ask_shard(client, "still\n").await, *shard);
        }
    }
    for _ in 0..4 {
        let mut client = BufReader::new(within(TcpStream::connect(addr)).await?);
        assert_ne!(ask_shard(&mut client, "new\n").await, 1);
        conns.push((0, client));
    }
    drop(conns);
    let logs = finish(&handle, tasks).await;
    assert_eq!(logs.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_clients_are_spread_too() -> Result<()> {
    let (_dir, path) = support::socket_path("group.sock");
    let listener = iochannels::UnixSocketListener::bind(&path).await?;
    let mut group = PollerGroup::new(2, Framing::Lines);
    group.add_server(listener);
    let handle = group.handle();
    let tasks: Vec<_> = group
        .into_shards()
        .into_iter()
        .map(|mut shard| {
            tokio::spawn(async move {
                while let Some(event) = shard.next().await {
                    if let Event::Data { id, .. } = event {
                        let index = shard.index().to_string();
                        shard.poller_mut().write(id, index + "\n").expect("reply");
                    }
                }
            })
        })
        .collect();
    let mut per_shard = [0; 2];
    let mut conns = Vec::new();
    for _ in 0..6 {
        let stream = within(tokio::net::UnixStream::connect(&path)).await?;
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(b"which\n").await?;
        let mut reply = String::new();
        within(stream.read_line(&mut reply)).await?;
        per_shard[reply.trim_end().parse::<usize>().expect("index")] += 1;
        conns.push(stream);
    }
    assert_eq!(per_shard, [3, 3]);
    handle.shutdown();
    for task in tasks {
        within(task).await.expect("shard task");
    }
    Ok(())
}

#[test]
fn group_types_cross_threads() {
    fn send<T: Send + 'static>() {}
    fn send_sync<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    send::<PollerGroup>();
    send::<iochannels::Shard>();
    send_sync::<GroupHandle>();
    send_sync::<GroupId>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_shard_still_takes_new_clients_in() -> Result<()> {
    let (addr, handle, tasks, _rx) = start(1, Reply::Echo).await?;
    // One client keeps its shard busy: lines arrive faster than it answers.
    let flood = TcpStream::connect(addr).await?;
    let (flood_read, mut flood_write) = flood.into_split();
    let flooding = tokio::spawn(async move {
        let lines = "x\n".repeat(4096);
        while flood_write.write_all(lines.as_bytes()).await.is_ok() {}
    });
    let draining = tokio::spawn(async move {
        let mut lines = BufReader::new(flood_read).lines();
        while let Ok(Some(_)) = lines.next_line().await {}
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut client = BufReader::new(within(TcpStream::connect(addr)).await?);
    assert_eq!(ask_shard(&mut client, "me too\n").await, 0);
    flooding.abort();
    finish(&handle, tasks).await;
    within(draining).await.expect("flood reader");
    Ok(())
}
