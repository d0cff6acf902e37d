//! The callback server on N workers (`Server::workers`) over real TCP on
//! 127.0.0.1, as it ends: a shutdown that loses nothing queued, a shutdown
//! before `run`, and a panicking worker that leaves the others serving. How
//! it serves is in `handler_workers_spread.rs`.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use iochannels::{serve, Conn, ConnInfo, Error, Framing, Handler, PeerAddr};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::within;
use support::workers::{client, numbered_server, start, Counting, What};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The numbered lines `0\n1\n2\n...` from `from` on, `count` of them.
fn lines(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("{n}\n")).collect()
}

/// What a streaming connection had queued, and seen flushed, by the end.
#[derive(Debug, Default, Clone)]
struct Sent {
    /// Numbered lines queued: `0\n` up to `lines - 1\n`.
    lines: usize,
    queued: usize,
    flushed: usize,
    closed: Option<Option<String>>,
}

/// Streams numbered lines, a chunk per `on_write`, until it is closed.
struct Stream {
    next: usize,
    sent: Sent,
    peer: SocketAddr,
    report: Arc<Mutex<HashMap<SocketAddr, Sent>>>,
}

impl Stream {
    fn more(&mut self, conn: &mut Conn<'_>) {
        let chunk = lines(self.next, 500);
        let len = chunk.len();
        if conn.write(chunk).is_ok() {
            self.next += 500;
            self.sent.lines = self.next;
            self.sent.queued += len;
        }
    }
}

impl Handler for Stream {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        self.more(conn);
    }

    async fn on_write(&mut self, conn: &mut Conn<'_>) {
        self.sent.flushed = self.sent.queued;
        self.more(conn);
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.sent.closed = Some(error.map(|e| e.to_string()));
        let mut report = self.report.lock().expect("report");
        report.insert(self.peer, self.sent.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_write_delivers_everything_queued_on_every_worker() -> Result<()> {
    const CLIENTS: usize = 4;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let report = Arc::new(Mutex::new(HashMap::new()));
    let for_accept = Arc::clone(&report);
    let server = serve(listener, Framing::Lines, move |peer: &PeerAddr| Stream {
        next: 0,
        sent: Sent::default(),
        peer: match peer {
            PeerAddr::Tcp(a) => *a,
            other => panic!("a TCP server, accepted {other:?}"),
        },
        report: Arc::clone(&for_accept),
    })
    .workers(2);
    let (handle, running) = start(server);

    let (started, mut going) = tokio::sync::mpsc::unbounded_channel();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = within(TcpStream::connect(addr)).await?;
        let local = stream.local_addr()?;
        let started = started.clone();
        clients.push(tokio::spawn(async move {
            let mut got = vec![0; 64 * 1024];
            stream.read_exact(&mut got).await?;
            let _ = started.send(());
            // Mid-stream: the rest, until the server's close.
            stream.read_to_end(&mut got).await?;
            Ok::<_, std::io::Error>((local, got))
        }));
    }
    for _ in 0..CLIENTS {
        within(going.recv()).await.ok_or("a client ended early")?;
    }
    handle.shutdown();
    within(running).await?;

    let report = report.lock().expect("report").clone();
    assert_eq!(report.len(), CLIENTS);
    for c in clients {
        let (local, got) = within(c).await??;
        let sent = report
            .get(&local)
            .ok_or("a client the server never reported")?;
        assert_eq!(sent.closed, Some(None), "{local}");
        assert!(
            sent.flushed > 0 && sent.flushed <= got.len(),
            "{local}: {sent:?}"
        );
        assert_eq!(got.len(), sent.queued, "{local}: every byte queued arrived");
        assert!(
            got == lines(0, sent.lines).as_bytes(),
            "{local}: other bytes than queued"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_ends_its_worker_and_the_others_go_on() -> Result<()> {
    let (addr, log, handle, running) = numbered_server(2).await?;
    let (mut doomed, w0) = client(addr).await?;
    let (mut survivor, w1) = client(addr).await?;
    assert_eq!((w0, w1), (0, 1));

    doomed.get_mut().write_all(b"panic\n").await?;
    let mut rest = Vec::new();
    // Its worker's poller is dropped: the connection ends (EOF or reset).
    let _ = within(doomed.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());

    survivor.get_mut().write_all(b"still there\n").await?;
    let mut reply = String::new();
    within(survivor.read_line(&mut reply)).await?;
    assert_eq!(reply, "1 1 still there\n");
    // New clients go to the worker left.
    for _ in 0..2 {
        let (mut late, worker) = client(addr).await?;
        assert_eq!(worker, 1);
        late.get_mut().write_all(b"late\n").await?;
        reply.clear();
        within(late.read_line(&mut reply)).await?;
        assert_eq!(reply, "1 1 late\n");
    }

    handle.shutdown();
    drop(survivor);
    let ended = within(running).await;
    let panic = ended
        .err()
        .ok_or("run should re-raise the worker's panic")?;
    assert!(panic.is_panic());
    assert_eq!(panic.into_panic().downcast_ref::<&str>(), Some(&"boom"));
    // The others closed gracefully first; the panicked worker's handler never did.
    let closes: Vec<(usize, Option<String>)> = log
        .take()
        .into_iter()
        .filter_map(|s| match s.what {
            What::Close(error) => Some((s.worker, error)),
            _ => None,
        })
        .collect();
    assert_eq!(closes, [(1, None), (1, None), (1, None)]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_before_run_ends_every_worker_at_once() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = serve(listener, Framing::Lines, Counting::default()).workers(3);
    server.handle().shutdown();
    let (handle, running) = start(server);
    within(running).await?;
    assert!(handle.is_shutdown());
    // `run` returned once the accept task had closed the listener.
    assert!(TcpStream::connect(addr).await.is_err());
    Ok(())
}
