//! The Poller at scale: many concurrent TCP clients echoed byte for byte,
//! thousands of idle channels beside a busy one (O(woken) turns), a slow
//! reader whose queued output stays bounded by flow control, and a flood
//! that must not starve a server's accepts.
//!
//! Every wait is bounded; every check is on exact bytes and events. All run
//! at full size in the normal suite, each within a few seconds in a debug
//! build on 2 cores (times measured are in each test's comment).

mod support;

use support::lines::{client_line, mix, PAD};
use support::{bounded, next_event};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{Channel, ChannelId, Event, Framing, PeerAddr, Poller, TestPeer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

/// Describes the first difference between what came back and what was sent.
fn first_difference(got: &[u8], expected: &[u8]) -> Option<String> {
    if got == expected {
        return None;
    }
    let at = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let show = |b: &[u8]| String::from_utf8_lossy(&b[at..(at + 60).min(b.len())]).into_owned();
    Some(format!(
        "got {} bytes, expected {}; first difference at byte {at}: got {:?}, expected {:?}",
        got.len(),
        expected.len(),
        show(got),
        show(expected)
    ))
}

// ---------------------------------------------------------------------------
// 1. Many TCP clients echoed byte for byte
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct EchoStats {
    accepted: usize,
    closed_clean: usize,
    frames: usize,
    bytes: usize,
    /// Anything that should not happen: Closed with an error, a refused write, the stream ending.
    problems: Vec<String>,
}

/// An echo server: every `Data` frame is written back to its channel; runs
/// until `stop` fires, so queued echoes still go out after a client's `Closed`.
async fn echo_server(mut poller: Poller, mut stop: oneshot::Receiver<()>) -> EchoStats {
    let mut stats = EchoStats::default();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = poller.next() => match event {
                Some(Event::Data { id, data }) => {
                    stats.frames += 1;
                    stats.bytes += data.len();
                    if let Err(e) = poller.write(id, data) {
                        stats.problems.push(format!("write to {id:?} refused: {e}"));
                    }
                }
                Some(Event::Accepted { .. }) => stats.accepted += 1,
                Some(Event::Closed { error: None, .. }) => stats.closed_clean += 1,
                Some(Event::Closed { id, error: Some(e) }) => {
                    stats.problems.push(format!("{id:?} closed with {e:?}"));
                }
                Some(other) => stats.problems.push(format!("unexpected event {other:?}")),
                None => {
                    stats.problems.push("poller stream ended".into());
                    break;
                }
            },
        }
    }
    stats
}

/// One client: sends `lines` lines (in batches, as one stream), half-closes,
/// and reads the echo to EOF concurrently; `Err` describes any difference.
async fn echo_client(addr: SocketAddr, client: usize, lines: usize) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("client {client}: connect: {e}"))?;
    let (mut rd, mut wr) = stream.into_split();
    let mut expected = Vec::with_capacity(lines * 64);
    for line in 0..lines {
        client_line(client, line, &mut expected);
    }
    let sent = expected.clone();
    let writer = async move {
        // Batches of about 4 KiB, split mid-line, so frames straddle writes.
        for chunk in sent.chunks(4093) {
            wr.write_all(chunk).await?;
        }
        wr.shutdown().await
    };
    let reader = async move {
        let mut got = Vec::with_capacity(expected.len());
        let result = rd.read_to_end(&mut got).await;
        (result, got, expected)
    };
    let (w, (r, got, expected)) = tokio::join!(writer, reader);
    w.map_err(|e| format!("client {client}: write: {e}"))?;
    r.map_err(|e| {
        format!(
            "client {client}: read failed after {} of {} bytes: {e}",
            got.len(),
            expected.len()
        )
    })?;
    match first_difference(&got, &expected) {
        None => Ok(()),
        Some(diff) => Err(format!("client {client}: {diff}")),
    }
}

async fn run_echo(clients: usize, lines: usize) {
    if !support::ensure_fds(2 * clients as u64 + 256) {
        return;
    }
    let started = Instant::now();
    // `TcpListener::bind` listens with a backlog of 128 (mio copies std):
    // 1,000 simultaneous connects overflow it and, with syncookies, the
    // kernel resets the overflowed clients before the poller ever sees them.
    // A server expecting a burst of clients sets its own backlog.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(clients as u32 + 64).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let (stop_tx, stop_rx) = oneshot::channel();
    let server = tokio::spawn(echo_server(poller, stop_rx));

    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(echo_client(addr, c, lines)))
        .collect();
    let mut failures = Vec::new();
    bounded(Duration::from_secs(60), "the echo clients", async {
        for task in tasks {
            if let Err(e) = task.await.expect("client task panicked") {
                failures.push(e);
            }
        }
    })
    .await;
    stop_tx.send(()).unwrap();
    let stats = bounded(STEP, "stopping the echo server", server)
        .await
        .expect("server task panicked");
    assert!(
        failures.is_empty(),
        "{} of {clients} clients got a wrong echo; first: {}",
        failures.len(),
        failures[0]
    );
    assert!(stats.problems.is_empty(), "server: {:?}", stats.problems);
    assert_eq!(stats.accepted, clients, "Accepted events");
    assert_eq!(
        stats.closed_clean, clients,
        "Closed {{ error: None }} events"
    );
    assert_eq!(stats.frames, clients * lines, "Data frames");
    let total: usize = (0..clients)
        .map(|c| {
            let mut v = Vec::new();
            (0..lines).for_each(|l| client_line(c, l, &mut v));
            v.len()
        })
        .sum();
    assert_eq!(stats.bytes, total, "bytes in Data frames");
    eprintln!(
        "{clients} clients x {lines} lines ({total} bytes each way) echoed in {:?}",
        started.elapsed()
    );
}

/// 1,000 concurrent TCP clients, each sending 1,000 lines of its own content
/// (about 51 MB each way in all) and reading the echo: every client gets
/// back exactly what it sent, in order, then EOF; the server saw exactly
/// 1,000 `Accepted`, 1,000,000 `Data` and 1,000 clean `Closed`. Full size
/// in the normal suite: about 3-4 s in a debug build on 2 cores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_clients_thousand_lines_each_arrive_intact() {
    run_echo(1_000, 1_000).await;
}

// ---------------------------------------------------------------------------
// 2. Ten thousand idle channels and one busy one
// ---------------------------------------------------------------------------

fn busy_line(n: usize) -> String {
    format!("busy {n:06} {:08x}\n", mix(n as u64) as u32)
}

/// Registers `idle` idle test channels and one busy one fed `lines` lines,
/// and takes every busy line back in order, then the busy one's `Closed`.
/// Returns the poller, the idle ids and peers (kept alive), and how long
/// the busy lines took.
async fn idle_and_busy(
    idle: usize,
    lines: usize,
) -> (Poller, Vec<(ChannelId, TestPeer)>, Duration) {
    let mut poller = Poller::new(Framing::Lines);
    let mut idle_channels = Vec::with_capacity(idle);
    for _ in 0..idle {
        let (channel, peer) = Channel::test();
        idle_channels.push((poller.register(channel.framed(Framing::Lines)), peer));
    }
    let (busy, mut busy_peer) = Channel::test();
    let busy_id = poller.register(busy.framed(Framing::Lines));
    // The first turn visits every channel once (each is polled on registration).
    assert!(
        poller
            .poll(Some(Duration::from_millis(50)))
            .await
            .is_empty(),
        "idle channels produced events"
    );
    let mut all = String::with_capacity(lines * 24);
    for n in 0..lines {
        all.push_str(&busy_line(n));
    }
    let started = Instant::now();
    busy_peer.put(all);
    for n in 0..lines {
        match next_event(&mut poller).await {
            Event::Data { id, data } => {
                assert_eq!(id, busy_id, "frame {n} came from an idle channel");
                assert_eq!(data, Bytes::from(busy_line(n)), "busy line {n}");
            }
            other => panic!("expected busy line {n}, got {other:?}"),
        }
    }
    let took = started.elapsed();
    drop(busy_peer);
    assert!(matches!(next_event(&mut poller).await,
        Event::Closed { id, error: None } if id == busy_id));
    (poller, idle_channels, took)
}

/// 10,000 idle channels and one that receives 100,000 lines: every line
/// arrives in order, every idle channel stays registered, and the cost of
/// the busy lines does not grow with the idle channels (a StreamMap-like
/// poller that visits every channel per wake-up would do ~1,500 turns x
/// 10,000 polls here). About 0.6 s in a debug build (the busy lines take
/// ~0.2 s with or without the idle channels).
#[tokio::test]
async fn ten_thousand_idle_channels_and_one_busy() {
    const IDLE: usize = 10_000;
    const LINES: usize = 100_000;
    // Baseline: the same busy channel with no idle ones.
    let (_, _, alone) = idle_and_busy(0, LINES).await;
    let (mut poller, mut idle, crowded) = idle_and_busy(IDLE, LINES).await;
    eprintln!("{LINES} busy lines: {alone:?} alone, {crowded:?} beside {IDLE} idle channels");
    assert_eq!(poller.len(), IDLE, "every idle channel is still registered");
    assert!(
        crowded < alone * 3 + Duration::from_millis(500),
        "{IDLE} idle channels slowed the busy one from {alone:?} to {crowded:?}: \
         turns are not O(woken)"
    );

    // A random idle channel still works (seed printed for a rerun).
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let pick = (mix(seed) % IDLE as u64) as usize;
    eprintln!("waking idle channel #{pick} (seed {seed})");
    let (id, peer) = &mut idle[pick];
    let id = *id;
    peer.put(format!("wake up {pick}\n"));
    match next_event(&mut poller).await {
        Event::Data { id: from, data } => {
            assert_eq!(from, id);
            assert_eq!(data, Bytes::from(format!("wake up {pick}\n")));
        }
        other => panic!("expected the idle channel's line, got {other:?}"),
    }
    assert!(poller
        .poll(Some(Duration::from_millis(20)))
        .await
        .is_empty());
    assert_eq!(poller.len(), IDLE);
}

// ---------------------------------------------------------------------------
// 3. A slow reader: queued output bounded, nothing lost
// ---------------------------------------------------------------------------

/// Documented defaults of the Poller (see `Poller` and `set_write_limits`):
/// reading from a channel pauses once its queued output reaches the
/// high-water mark, and a turn reads at most 64 frames of one channel. The
/// mark is checked before each turn, so an echo server that writes each
/// frame back queues at most `HIGH_WATER - 1 + FRAMES_PER_TURN * SLOW_LINE`.
const HIGH_WATER: usize = 256 * 1024;
const FRAMES_PER_TURN: usize = 64;
/// Every line of the slow-reader test is exactly this long.
const SLOW_LINE: usize = 100;

fn slow_line(n: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(format!("s{n:09} {:016x} ", mix(n as u64)).as_bytes());
    let h = mix(!(n as u64));
    while out.len() < start + SLOW_LINE - 1 {
        out.push(PAD[(h as usize + out.len()) % PAD.len()]);
    }
    out.push(b'\n');
}

/// A client sends 20 MB of lines and reads nothing for 1 s, then reads
/// everything: the echo server's queued output for it never passes the
/// high-water mark plus one turn's frames (it does reach the mark: flow
/// control was exercised), the client's writes stall meanwhile, and every
/// byte comes back in order. About 1.7 s in a debug build (1 s is the pause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_memory_bounded_nothing_lost() {
    const LINES: usize = 200_000; // x 100 bytes = 20 MB
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut max_queued = 0usize;
        let mut frames = 0usize;
        let mut problems = Vec::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut stop_rx => break,
                event = poller.next() => match event {
                    Some(Event::Data { id, data }) => {
                        frames += 1;
                        if let Err(e) = poller.write(id, data) {
                            problems.push(format!("write refused: {e:?}"));
                        }
                        max_queued = max_queued.max(poller.queued(id).unwrap_or(0));
                    }
                    Some(Event::Accepted { .. }) | Some(Event::Closed { error: None, .. }) => {}
                    Some(other) => problems.push(format!("unexpected {other:?}")),
                    None => break,
                },
            }
        }
        (max_queued, frames, problems)
    });

    let mut sent = Vec::with_capacity(LINES * SLOW_LINE);
    for n in 0..LINES {
        slow_line(n, &mut sent);
    }
    let total = sent.len();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let expected = sent.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(64 * 1024) {
            wr.write_all(chunk).await?;
        }
        wr.shutdown().await
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !writer.is_finished(),
        "20 MB went out with nobody reading the echo: flow control did not push back"
    );
    let mut got = Vec::with_capacity(total);
    bounded(STEP, "reading the echo", rd.read_to_end(&mut got))
        .await
        .unwrap();
    bounded(STEP, "the writer", writer)
        .await
        .unwrap()
        .expect("client write");
    stop_tx.send(()).unwrap();
    let (max_queued, frames, problems) = bounded(STEP, "the server", server).await.unwrap();
    if let Some(diff) = first_difference(&got, &expected) {
        panic!("echo differs: {diff}");
    }
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(frames, LINES);
    eprintln!("max queued output for the slow reader: {max_queued} bytes");
    let bound = HIGH_WATER + FRAMES_PER_TURN * SLOW_LINE;
    assert!(
        max_queued <= bound && max_queued < 1024 * 1024,
        "queued output reached {max_queued} bytes, over the high-water mark plus one turn ({bound})"
    );
    assert!(
        max_queued >= HIGH_WATER,
        "queued output peaked at {max_queued}: the slow reader never pushed it to the high-water mark, \
         so this test did not exercise flow control"
    );
}

// ---------------------------------------------------------------------------
// 4. A flood does not starve accepts
// ---------------------------------------------------------------------------

/// One test channel with 1,000,000 lines ready from the start; a TCP client
/// connects (from another task, on this same single-threaded runtime) while
/// the flood is being read: its `Accepted` and its line come long before the
/// flood's last line (within 100,000 lines of the connect; ~100 observed),
/// the flood's lines stay in order, and the client's hang-up is reported
/// while the flood goes on. About 0.3 s in a debug build.
#[tokio::test]
async fn flood_does_not_starve_accepts() {
    const FLOOD: usize = 1_000_000;
    /// The client connects after this many flood lines...
    const CONNECT_AT: usize = 1_000;
    /// ...and must be accepted (and its line read) within this many more.
    const WITHIN: usize = 100_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(listener);
    let (flood, mut flood_peer) = Channel::test();
    let flood_id = poller.register(flood.framed(Framing::Lines));
    let mut all = String::with_capacity(FLOOD * 8);
    for n in 0..FLOOD {
        all.push_str(&format!("f{n}\n"));
    }
    flood_peer.put(all);

    let mut flood_seen = 0usize;
    let mut client_task = None;
    let mut accepted = None;
    let mut client_line_at = None;
    let (addr_tx, mut addr_rx) = oneshot::channel::<SocketAddr>();
    let mut addr_tx = Some(addr_tx);
    let mut client_addr = None;
    while client_line_at.is_none() {
        match next_event(&mut poller).await {
            Event::Data { id, data } if id == flood_id => {
                assert_eq!(data, Bytes::from(format!("f{flood_seen}\n")));
                flood_seen += 1;
                assert!(
                    flood_seen < CONNECT_AT + WITHIN,
                    "{WITHIN} flood lines went by and the client was not served \
                     (accepted: {accepted:?}, connected: {client_addr:?})"
                );
            }
            Event::Accepted {
                server: s,
                id,
                peer,
            } => {
                assert_eq!(s, server);
                if client_addr.is_none() {
                    client_addr =
                        Some(bounded(STEP, "client address", &mut addr_rx).await.unwrap());
                }
                assert_eq!(peer, PeerAddr::Tcp(client_addr.unwrap()));
                assert!(accepted.is_none(), "accepted twice");
                accepted = Some((id, flood_seen));
            }
            Event::Data { id, data } => {
                let (client_id, _) = accepted.expect("client data before Accepted");
                assert_eq!(id, client_id);
                assert_eq!(&data[..], b"late client\n");
                client_line_at = Some(flood_seen);
            }
            other => panic!("unexpected {other:?}"),
        }
        if flood_seen == CONNECT_AT && client_task.is_none() {
            let tx = addr_tx.take().unwrap();
            client_task = Some(tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                tx.send(stream.local_addr().unwrap()).unwrap();
                stream.write_all(b"late client\n").await.unwrap();
                // Keep the connection open until the test ends.
                std::future::pending::<()>().await;
            }));
        }
    }
    let (client_id, accepted_at) = accepted.unwrap();
    let line_at = client_line_at.unwrap();
    eprintln!(
        "client accepted after flood line {accepted_at}, its line read after {line_at} \
         (connect began after {CONNECT_AT}; the flood has {FLOOD})"
    );
    assert!(accepted_at < FLOOD && line_at < FLOOD);
    // The flood goes on, in order, after the client was served.
    for _ in 0..1000 {
        match next_event(&mut poller).await {
            Event::Data { id, data } => {
                assert_eq!(id, flood_id);
                assert_eq!(data, Bytes::from(format!("f{flood_seen}\n")));
            }
            other => panic!("expected flood data, got {other:?}"),
        }
        flood_seen += 1;
    }
    // The client, still connected and silent, is still registered.
    assert_eq!(poller.len(), 2);
    // Its hang-up is reported too, with the flood still in order around it.
    client_task.unwrap().abort();
    loop {
        match next_event(&mut poller).await {
            Event::Data { id, data } if id == flood_id => {
                assert_eq!(data, Bytes::from(format!("f{flood_seen}\n")));
                flood_seen += 1;
            }
            Event::Closed { id, error: None } if id == client_id => break,
            other => panic!("expected flood data or the client's Closed, got {other:?}"),
        }
        assert!(
            flood_seen < FLOOD,
            "the client's Closed waited for the whole flood"
        );
    }
    assert_eq!(poller.len(), 1);
}
