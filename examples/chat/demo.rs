//! `--demo N [--workers W]`: the server on W shards and N clients in one
//! process; every client checks it got every other client's lines exactly
//! once and in order, whichever shard each is on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iochannels::{Channel, FramedChannel, Framing};

use crate::serve::{bind_tcp, bind_unix, chat_group, spawn_chat};
use crate::{BoxError, CLOSE_TIMEOUT, SOCKET_NAME};

/// Lines each demo client sends.
const DEMO_LINES: usize = 20;
/// The whole demo must finish within this.
const DEMO_TIMEOUT: Duration = Duration::from_secs(60);

/// What one demo client did.
struct ClientReport {
    sent: usize,
    received: usize,
    /// When it started sending (all clients had joined).
    started: Instant,
    /// When it had received every line it expected.
    finished: Instant,
}

pub async fn demo(clients: usize, workers: usize) -> Result<i32, BoxError> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let path = dir.path().join(SOCKET_NAME);
    let unix = bind_unix(&path).await?;
    let tcp = bind_tcp("127.0.0.1:0").await?;
    let tcp_addr = tcp.local_addr()?;
    eprintln!(
        "chat: listening on tcp {tcp_addr} and unix {}",
        path.display()
    );

    let mut group = chat_group(workers);
    group.add_server(tcp);
    group.add_server(unix);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let shards = spawn_chat(group, None, false, None, None, stop);

    let started = Instant::now();
    let joined = Arc::new(tokio::sync::Barrier::new(clients));
    let tasks: Vec<_> = (0..clients)
        .map(|k| {
            let joined = Arc::clone(&joined);
            let path = path.clone();
            tokio::spawn(async move {
                let channel = if k % 2 == 0 {
                    Channel::connect_tcp(tcp_addr).await
                } else {
                    Channel::connect_unix(&path).await
                };
                let channel = channel.map_err(|e| format!("client{k}: {e}"))?;
                demo_client(k, clients, channel.framed(Framing::Lines), &joined)
                    .await
                    .map_err(|e| format!("client{k}: {e}"))
            })
        })
        .collect();

    let outcome = tokio::time::timeout(DEMO_TIMEOUT, futures::future::join_all(tasks)).await;
    let _ = stop_tx.send(());
    let server_done =
        tokio::time::timeout(CLOSE_TIMEOUT * 2, futures::future::join_all(shards)).await;
    let elapsed = started.elapsed();

    let Ok(results) = outcome else {
        println!("demo FAILED: not finished within {DEMO_TIMEOUT:?}");
        return Ok(1);
    };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("client task failed: {e}")),
        }
    }
    let mut per_shard = Vec::new();
    match server_done {
        Ok(done) => {
            for shard in done {
                match shard {
                    Ok(handed) => per_shard.push(handed.to_string()),
                    Err(e) => errors.push(format!("shard task failed: {e}")),
                }
            }
        }
        Err(_) => errors.push("server did not shut down in time".to_string()),
    }

    let sent: usize = reports.iter().map(|r| r.sent).sum();
    let received: usize = reports.iter().map(|r| r.received).sum();
    let expected = clients * (clients - 1) * DEMO_LINES;
    let exchange = match (
        reports.iter().map(|r| r.started).min(),
        reports.iter().map(|r| r.finished).max(),
    ) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    let tcp_clients = clients.div_ceil(2);
    println!(
        "clients: {clients} ({tcp_clients} tcp, {} unix)",
        clients - tcp_clients
    );
    println!(
        "shards: {workers} (clients on each: {})",
        per_shard.join(" ")
    );
    println!("lines sent: {sent} ({DEMO_LINES} each)");
    println!("lines received: {received} (expected {expected})");
    println!("elapsed: {:.3} s", elapsed.as_secs_f64());
    println!(
        "exchange: {:.3} s, {:.0} lines/s delivered",
        exchange.as_secs_f64(),
        received as f64 / exchange.as_secs_f64().max(1e-9)
    );
    if !errors.is_empty() || received != expected || sent != clients * DEMO_LINES {
        println!("demo FAILED: {} client(s) went wrong", errors.len());
        for e in errors.iter().take(10) {
            println!("  {e}");
        }
        return Ok(1);
    }
    println!("demo OK");
    Ok(0)
}

/// One demo client: takes nick `client{k}`, waits for all to join, sends
/// its lines, checks it gets every other client's lines exactly once and in
/// order, then quits.
async fn demo_client(
    k: usize,
    clients: usize,
    mut chat: FramedChannel,
    joined: &tokio::sync::Barrier,
) -> Result<ClientReport, String> {
    let me = format!("client{k}");
    chat.write(format!("/nick {me}\n"))
        .await
        .map_err(|e| e.to_string())?;
    let confirm = format!("* you are now {me}\n");
    loop {
        let line = next_line(&mut chat).await?;
        if line == confirm {
            break;
        }
        if !line.starts_with('*') {
            return Err(format!("got {line:?} before joining"));
        }
    }
    joined.wait().await;

    let started = Instant::now();
    for i in 0..DEMO_LINES {
        chat.write(format!("msg {k}.{i}\n"))
            .await
            .map_err(|e| e.to_string())?;
    }

    // next[j]: the number of the line expected next from client j.
    let mut next = vec![0usize; clients];
    let expected = (clients - 1) * DEMO_LINES;
    let mut received = 0;
    while received < expected {
        let line = next_line(&mut chat).await?;
        if line.starts_with('*') {
            continue;
        }
        let (j, i) = parse_demo_line(&line).ok_or_else(|| format!("unexpected line {line:?}"))?;
        if j == k || j >= clients {
            return Err(format!("got {line:?}: not from another client"));
        }
        if i != next[j] {
            return Err(format!(
                "got {line:?} when line {j}.{} was due: lost, repeated or reordered",
                next[j]
            ));
        }
        next[j] += 1;
        received += 1;
    }
    let finished = Instant::now();

    chat.write("/quit\n").await.map_err(|e| e.to_string())?;
    loop {
        match chat.read().await.map_err(|e| e.to_string())? {
            Some(line) if &line[..] == b"* bye\n" => break,
            Some(line) if line.starts_with(b"*") => {}
            Some(line) => return Err(format!("extra line {:?}", String::from_utf8_lossy(&line))),
            None => return Err("closed before * bye".to_string()),
        }
    }
    match chat.read().await {
        Ok(None) => {}
        Ok(Some(line)) => {
            return Err(format!(
                "got {:?} after * bye",
                String::from_utf8_lossy(&line)
            ))
        }
        Err(e) => return Err(format!("after * bye: {e}")),
    }
    Ok(ClientReport {
        sent: DEMO_LINES,
        received,
        started,
        finished,
    })
}

async fn next_line(chat: &mut FramedChannel) -> Result<String, String> {
    match chat.read().await {
        Ok(Some(line)) => Ok(String::from_utf8_lossy(&line).into_owned()),
        Ok(None) => Err("server closed the connection".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `"clientJ: msg J.I\n"` → `(J, I)`, with the nick checked against J.
fn parse_demo_line(line: &str) -> Option<(usize, usize)> {
    let (nick, text) = line.strip_suffix('\n')?.split_once(": ")?;
    let (j, i) = text.strip_prefix("msg ")?.split_once('.')?;
    let (j, i) = (j.parse().ok()?, i.parse().ok()?);
    (nick.strip_prefix("client")?.parse::<usize>().ok()? == j).then_some((j, i))
}
