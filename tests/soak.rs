//! Soak: many TCP clients each stream many lines through a `Poller` echo
//! server, and every byte is checked on both sides.
//!
//! Each client sends its own lines (content a function of client and line
//! number, lengths varied so reads split lines everywhere), in ~4 KiB
//! writes, while it reads the echo. Three FNV-1a checksums must agree per
//! client: of the bytes it sent, of the frames the server received from
//! it, and of the bytes echoed back; the client also compares every echoed
//! line with the one it sent, as it arrives. A line sent and not echoed
//! intact, in its place, is lost (after a first difference every later
//! line of that client counts as lost); none may be.
//!
//! - `soak_short`: 100 clients x 1,000 lines, in the normal suite (well
//!   under 5 s in a debug build).
//! - `soak_full`: 1,000 clients x 10,000 lines (10 million lines, ~523 MB
//!   each way), ignored; run it with
//!   `cargo test --release --test soak -- --ignored --nocapture`.
//!
//! Both print lines/s, the peak RSS (VmHWM) and the count lost. The number
//! of clients is scaled down, with a note, if the open-files limit is too
//! low for two fds per client.

mod support;

use support::lines::client_line;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use iochannels::{ChannelId, Event, Framing, Poller};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// FNV-1a, 64 bits: a running checksum over a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The client a channel's first line names (`c{client} ...`).
fn client_of(first_line: &[u8]) -> Option<usize> {
    let rest = first_line.strip_prefix(b"c")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// A field of /proc/self/status, in KiB (`VmHWM` is the peak RSS).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Fds the process needs besides two per client (runtime, listener, stdio,
/// the test harness), with room to spare.
const FD_MARGIN: u64 = 200;

/// `clients`, or fewer (with a note) if the open-files limit cannot hold
/// both ends of every connection in this one process.
fn clients_for_fd_limit(clients: usize) -> usize {
    let needed = 2 * clients as u64 + FD_MARGIN;
    let (soft, _) = support::nofile_limits();
    if soft >= needed {
        return clients;
    }
    let scaled = (soft.saturating_sub(FD_MARGIN) / 2).max(1) as usize;
    eprintln!(
        "NOTE: open-files limit is {soft}, {needed} needed for {clients} clients: \
         scaled down to {scaled} clients (raise `ulimit -n` for the full soak)"
    );
    scaled
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// What the server received on one channel.
#[derive(Debug, Clone, Copy)]
struct Received {
    client: Option<usize>,
    hash: Fnv,
    lines: u64,
}

#[derive(Debug, Default)]
struct ServerTally {
    accepted: usize,
    closed_clean: usize,
    /// Per client, once its channel closed cleanly.
    per_client: HashMap<usize, Received>,
    /// Anything that should not happen.
    problems: Vec<String>,
}

/// Echoes every line back to its channel, checksumming what each channel
/// sent; runs until `stop` fires (queued echoes still go out after a
/// client's `Closed`, as long as the poller is polled).
async fn echo_server(mut poller: Poller, mut stop: oneshot::Receiver<()>) -> ServerTally {
    let mut tally = ServerTally::default();
    let mut open: HashMap<ChannelId, Received> = HashMap::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = poller.next() => match event {
                Some(Event::Accepted { id, .. }) => {
                    tally.accepted += 1;
                    open.insert(id, Received { client: None, hash: Fnv::new(), lines: 0 });
                }
                Some(Event::Data { id, data }) => {
                    let Some(r) = open.get_mut(&id) else {
                        tally.problems.push(format!("Data for unknown {id:?}"));
                        continue;
                    };
                    if r.lines == 0 {
                        r.client = client_of(&data);
                    }
                    r.hash.update(&data);
                    r.lines += 1;
                    if let Err(e) = poller.write(id, data) {
                        tally.problems.push(format!("echo to {id:?} refused: {e}"));
                    }
                }
                Some(Event::Closed { id, error }) => {
                    let r = open.remove(&id);
                    match (error, r) {
                        (None, Some(r)) => {
                            tally.closed_clean += 1;
                            match r.client {
                                Some(c) => {
                                    if tally.per_client.insert(c, r).is_some() {
                                        tally.problems.push(format!("client {c} seen twice"));
                                    }
                                }
                                None => tally.problems.push(format!("{id:?} never named its client")),
                            }
                        }
                        (error, r) => tally
                            .problems
                            .push(format!("{id:?} closed with {error:?} (known: {})", r.is_some())),
                    }
                }
                Some(other) => tally.problems.push(format!("unexpected event {other:?}")),
                None => {
                    tally.problems.push("the poller stream ended".into());
                    break;
                }
            },
        }
    }
    tally
}

// ---------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------

/// What one client sent and got back.
#[derive(Debug)]
struct ClientTally {
    sent: Fnv,
    sent_lines: u64,
    sent_bytes: u64,
    echoed: Fnv,
    /// Echoed lines equal to the line sent at their place.
    echoed_lines: u64,
    /// The first difference, if any.
    error: Option<String>,
}

/// Sends `lines` lines in ~4 KiB writes, half-closes, and meanwhile reads
/// the echo to EOF, comparing each line with the one sent.
async fn client(addr: SocketAddr, c: usize, lines: usize) -> ClientTally {
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            return ClientTally {
                sent: Fnv::new(),
                sent_lines: lines as u64,
                sent_bytes: 0,
                echoed: Fnv::new(),
                echoed_lines: 0,
                error: Some(format!("client {c}: connect: {e}")),
            }
        }
    };
    let (mut rd, mut wr) = stream.into_split();
    let writer = async move {
        let (mut sent, mut bytes) = (Fnv::new(), 0u64);
        let mut buf = Vec::with_capacity(8 * 1024);
        for line in 0..lines {
            client_line(c, line, &mut buf);
            if buf.len() >= 4096 || line + 1 == lines {
                sent.update(&buf);
                bytes += buf.len() as u64;
                wr.write_all(&buf).await?;
                buf.clear();
            }
        }
        wr.shutdown().await?;
        Ok::<_, std::io::Error>((sent, bytes))
    };
    let reader = async move {
        let mut echoed = Fnv::new();
        let (mut good, mut error) = (0u64, None);
        let mut pending: Vec<u8> = Vec::with_capacity(32 * 1024);
        let mut expected = Vec::with_capacity(128);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match rd.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    error = Some(format!("client {c}: read after {good} lines: {e}"));
                    break;
                }
            };
            echoed.update(&chunk[..n]);
            pending.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(i) = pending[start..].iter().position(|&b| b == b'\n') {
                let line = &pending[start..start + i + 1];
                expected.clear();
                client_line(c, good as usize, &mut expected);
                if line == expected.as_slice() && error.is_none() {
                    good += 1;
                } else if error.is_none() {
                    error = Some(format!(
                        "client {c}: echoed line {good} is {:?}, sent {:?}",
                        String::from_utf8_lossy(line),
                        String::from_utf8_lossy(&expected)
                    ));
                }
                start += i + 1;
            }
            pending.drain(..start);
        }
        if !pending.is_empty() && error.is_none() {
            error = Some(format!(
                "client {c}: {} bytes after the last line",
                pending.len()
            ));
        }
        (echoed, good, error)
    };
    let (sent, (echoed, echoed_lines, read_error)) = tokio::join!(writer, reader);
    let ((sent, sent_bytes), error) = match sent {
        Ok(sent) => (sent, read_error),
        Err(e) => ((Fnv::new(), 0), Some(format!("client {c}: write: {e}"))),
    };
    ClientTally {
        sent,
        sent_lines: lines as u64,
        sent_bytes,
        echoed,
        echoed_lines,
        error,
    }
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

/// Runs `clients` x `lines` through a Poller echo server; prints the
/// figures and asserts that nothing was lost, changed or reported wrongly.
async fn soak(clients: usize, lines: usize, limit: Duration) {
    let clients = clients_for_fd_limit(clients);
    // `TcpListener::bind` listens with a backlog of 128: a burst of
    // connects overflows it and the kernel drops (or, with syncookies,
    // resets) the rest. Build the listener with a backlog for the burst.
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(2048).expect("listen");
    let addr = listener.local_addr().expect("local address");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let (stop_tx, stop_rx) = oneshot::channel();
    let server = tokio::spawn(echo_server(poller, stop_rx));

    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(client(addr, c, lines)))
        .collect();
    let mut results = Vec::with_capacity(clients);
    let all = async {
        for task in tasks {
            results.push(task.await.expect("client task panicked"));
        }
    };
    if tokio::time::timeout(limit, all).await.is_err() {
        panic!(
            "soak of {clients} x {lines}: not done within {limit:?} ({} clients finished)",
            results.len()
        );
    }
    let elapsed = started.elapsed();
    stop_tx.send(()).expect("server still running");
    let tally = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server did not stop")
        .expect("server task panicked");

    let sent: u64 = results.iter().map(|r| r.sent_lines).sum();
    let echoed: u64 = results.iter().map(|r| r.echoed_lines).sum();
    let lost = sent - echoed;
    let mut bad = Vec::new();
    for (c, r) in results.iter().enumerate() {
        if let Some(e) = &r.error {
            bad.push(e.clone());
        }
        if r.echoed != r.sent {
            bad.push(format!(
                "client {c}: echo checksum differs from what it sent"
            ));
        }
        match tally.per_client.get(&c) {
            Some(got) if got.hash == r.sent && got.lines == r.sent_lines => {}
            Some(got) => bad.push(format!(
                "client {c}: server received {} lines (checksum {:016x}), client sent {} ({:016x})",
                got.lines, got.hash.0, r.sent_lines, r.sent.0
            )),
            None => bad.push(format!("client {c}: no clean Closed at the server")),
        }
    }
    let bytes_each_way: u64 = results.iter().map(|r| r.sent_bytes).sum();
    let secs = elapsed.as_secs_f64();
    let peak_rss_mib = status_kib("VmHWM") as f64 / 1024.0;
    println!(
        "soak: {clients} clients x {lines} lines = {sent} lines ({:.1} MB each way) echoed in \
         {secs:.2} s: {:.0} lines/s, {:.1} MB/s each way; peak RSS (VmHWM) {peak_rss_mib:.1} MiB; \
         lost {lost}; clients with errors {}",
        bytes_each_way as f64 / 1e6,
        echoed as f64 / secs,
        bytes_each_way as f64 / 1e6 / secs,
        bad.len()
    );
    assert_eq!(
        lost,
        0,
        "lines lost; first problems: {:?}",
        &bad[..bad.len().min(5)]
    );
    assert!(
        bad.is_empty(),
        "{} problems; first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(tally.problems.is_empty(), "server: {:?}", tally.problems);
    assert_eq!(tally.accepted, clients, "Accepted events");
    assert_eq!(tally.closed_clean, clients, "clean Closed events");
}

/// 100 clients x 1,000 lines: the soak in small, in the normal suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(100, 1_000, Duration::from_secs(60)).await;
}

/// 1,000 clients x 10,000 lines (10 million lines, ~523 MB each way).
/// `cargo test --release --test soak -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: ~6 s in release, ~30 s in debug; run with --release -- --ignored --nocapture"]
async fn soak_full() {
    soak(1_000, 10_000, Duration::from_secs(600)).await;
}
