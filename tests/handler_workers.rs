//! The callback server on N workers (`Server::workers`) over real TCP on
//! 127.0.0.1: clients spread over every worker, each connection's
//! callbacks on its worker's task and in order, broadcast through the
//! handles of connections on other workers, a shutdown that loses nothing
//! queued, and a panicking worker that leaves the others serving.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iochannels::{
    serve, Acceptor, Conn, ConnHandle, ConnId, ConnInfo, Error, Framing, Handler, PeerAddr, Server,
    ServerHandle,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use support::within;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One callback, as a handler saw it.
#[derive(Debug, Clone, PartialEq)]
enum What {
    Connect,
    Read(String),
    Close(Option<String>),
}

/// A callback, where it ran: the worker it was told, and the tokio task.
#[derive(Debug, Clone)]
struct Seen {
    conn: ConnId,
    worker: usize,
    task: tokio::task::Id,
    what: What,
}

/// Every callback of every connection, in the order each ran.
#[derive(Debug, Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn push(&self, info: &ConnInfo, what: What) {
        let seen = Seen {
            conn: info.id(),
            worker: info.worker(),
            task: tokio::task::id(),
            what,
        };
        self.0.lock().expect("log").push(seen);
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

/// Greets with `worker W`, answers line k with `W k+1 LINE`, panics on
/// `panic`.
struct Numbered {
    log: Log,
    replies: usize,
}

impl Handler for Numbered {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        self.log.push(conn.info(), What::Connect);
        let _ = conn.write(format!("worker {}\n", conn.info().worker()));
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        let line = String::from_utf8_lossy(&line).into_owned();
        self.log.push(conn.info(), What::Read(line.clone()));
        if line == "panic\n" {
            panic!("boom");
        }
        self.replies += 1;
        let reply = format!("{} {} {line}", conn.info().worker(), self.replies);
        let _ = conn.write(reply);
    }

    async fn on_close(&mut self, info: &ConnInfo, error: Option<Error>) {
        self.log
            .push(info, What::Close(error.map(|e| e.to_string())));
    }
}

/// An acceptor that counts: `on_listen` addresses, `on_accept` calls.
#[derive(Default)]
struct Counting {
    log: Log,
    listening: Arc<Mutex<Vec<PeerAddr>>>,
    accepted: Arc<AtomicUsize>,
}

impl Acceptor for Counting {
    type Handler = Numbered;

    fn on_accept(&mut self, _peer: &PeerAddr) -> Numbered {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Numbered {
            log: self.log.clone(),
            replies: 0,
        }
    }

    async fn on_listen(&mut self, local: &PeerAddr) {
        self.listening
            .lock()
            .expect("listening")
            .push(local.clone());
    }
}

/// `server` spawned; its handle and task.
fn start<A>(server: Server<A>) -> (ServerHandle, JoinHandle<()>)
where
    A: Acceptor + 'static,
    A::Handler: 'static,
{
    let handle = server.handle();
    (handle, tokio::spawn(server.run()))
}

/// A TCP server of `Numbered` handlers on `workers` workers, spawned: its
/// address, log, handle and task.
async fn numbered_server(
    workers: usize,
) -> Result<(SocketAddr, Log, ServerHandle, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = Counting::default();
    let log = acceptor.log.clone();
    let (handle, running) = start(serve(listener, Framing::Lines, acceptor).workers(workers));
    Ok((addr, log, handle, running))
}

/// A client connected to `addr`, with the worker its greeting named.
async fn client(addr: SocketAddr) -> Result<(BufReader<TcpStream>, usize)> {
    let mut stream = BufReader::new(within(TcpStream::connect(addr)).await?);
    let mut greeting = String::new();
    within(stream.read_line(&mut greeting)).await?;
    let worker = greeting
        .strip_prefix("worker ")
        .and_then(|w| w.trim_end().parse().ok())
        .ok_or_else(|| format!("not a greeting: {greeting:?}"))?;
    Ok((stream, worker))
}

async fn spread_over(workers: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let addr = tcp.local_addr()?;
    let unix_path = dir.path().join("w.sock");
    let unix = tokio::net::UnixListener::bind(&unix_path)?;
    let acceptor = Counting::default();
    let (listening, accepted) = (acceptor.listening.clone(), acceptor.accepted.clone());
    let mut server = serve(tcp, Framing::Lines, acceptor).workers(workers);
    server.add_listener(unix);
    let (handle, running) = start(server);

    // One at a time, each greeted before the next connects: accepted in
    // this order, so handed out round-robin exactly.
    let mut clients = Vec::new();
    for k in 0..2 * workers {
        let (stream, worker) = client(addr).await?;
        assert_eq!(worker, k % workers, "client {k}");
        clients.push(stream);
    }
    let mut unix_client = BufReader::new(tokio::net::UnixStream::connect(&unix_path).await?);
    let mut greeting = String::new();
    within(unix_client.read_line(&mut greeting)).await?;
    assert_eq!(greeting, format!("worker {}\n", (2 * workers) % workers));

    handle.shutdown();
    // Our EOF ends each worker's lingering close at once (else: 2 s of quiet).
    drop((clients, unix_client));
    within(running).await?;
    assert_eq!(
        *listening.lock().expect("listening"),
        [PeerAddr::Tcp(addr), PeerAddr::Unix(Some(unix_path))]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2 * workers + 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_land_on_every_worker_round_robin_with_one_on_listen_per_listener() -> Result<()> {
    spread_over(2).await?;
    spread_over(4).await
}

#[tokio::test(flavor = "current_thread")]
async fn workers_serve_on_a_current_thread_runtime_too() -> Result<()> {
    spread_over(3).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connections_callbacks_run_in_order_on_its_workers_task() -> Result<()> {
    const CLIENTS: usize = 8;
    const LINES: usize = 200;
    let (addr, log, handle, running) = numbered_server(4).await?;

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (mut stream, worker) = client(addr).await?;
        clients.push(tokio::spawn(async move {
            let sent: String = (0..LINES).map(|k| format!("c{i} l{k}\n")).collect();
            // In pieces that cut lines in two: frames must not depend on reads.
            for piece in sent.as_bytes().chunks(777) {
                stream.get_mut().write_all(piece).await?;
            }
            for k in 0..LINES {
                let mut reply = String::new();
                within(stream.read_line(&mut reply)).await?;
                assert_eq!(reply, format!("{worker} {} c{i} l{k}\n", k + 1));
            }
            stream.get_mut().shutdown().await?;
            let mut rest = Vec::new();
            within(stream.read_to_end(&mut rest)).await?;
            assert!(rest.is_empty(), "after the replies: {rest:?}");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(worker)
        }));
    }
    let mut workers = Vec::new();
    for c in clients {
        workers.push(within(c).await??);
    }
    handle.shutdown();
    within(running).await?;

    let mut per_conn: BTreeMap<ConnId, Vec<Seen>> = BTreeMap::new();
    for seen in log.take() {
        per_conn.entry(seen.conn).or_default().push(seen);
    }
    assert_eq!(per_conn.len(), CLIENTS);
    let mut task_of_worker = HashMap::new();
    for (conn, seen) in &per_conn {
        let (worker, task) = (seen[0].worker, seen[0].task);
        assert!(
            seen.iter().all(|s| s.worker == worker && s.task == task),
            "{conn}: callbacks on more than one worker or task: {seen:?}"
        );
        // One task per worker, whichever connection.
        assert_eq!(*task_of_worker.entry(worker).or_insert(task), task);
        let whats: Vec<What> = seen.iter().map(|s| s.what.clone()).collect();
        let i = (0..CLIENTS)
            .find(|i| whats.get(1) == Some(&What::Read(format!("c{i} l0\n"))))
            .ok_or("a connection whose first line is unknown")?;
        let mut expected = vec![What::Connect];
        expected.extend((0..LINES).map(|k| What::Read(format!("c{i} l{k}\n"))));
        expected.push(What::Close(None));
        assert_eq!(whats, expected, "{conn}");
        assert_eq!(worker, workers[i], "{conn}: greeted by another worker");
    }
    assert_eq!(task_of_worker.len(), 4);
    let tasks: std::collections::HashSet<_> = task_of_worker.values().collect();
    assert_eq!(tasks.len(), 4, "two workers on one task");
    Ok(())
}

/// Registers each connection's handle, then sends every line it reads to
/// every connection registered.
struct Broadcast {
    everyone: Arc<Mutex<Vec<ConnHandle>>>,
}

impl Handler for Broadcast {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        // Registered before the greeting: a greeted client is in the list.
        self.everyone.lock().expect("list").push(conn.handle());
        let _ = conn.write(format!("worker {}\n", conn.info().worker()));
    }

    async fn on_read(&mut self, _conn: &mut Conn<'_>, line: Bytes) {
        let everyone = self.everyone.lock().expect("list").clone();
        for handle in everyone {
            handle
                .write(line.clone())
                .expect("every client is connected");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_through_handles_on_other_workers_arrives_once_and_in_order() -> Result<()> {
    const CLIENTS: usize = 6;
    const LINES: usize = 50;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let everyone = Arc::new(Mutex::new(Vec::new()));
    let list = Arc::clone(&everyone);
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Broadcast {
        everyone: Arc::clone(&list),
    })
    .workers(2);
    let (handle, running) = start(server);

    let mut streams = Vec::new();
    for _ in 0..CLIENTS {
        streams.push(client(addr).await?.0);
    }
    let workers: Vec<usize> = everyone
        .lock()
        .expect("list")
        .iter()
        .map(ConnHandle::worker)
        .collect();
    assert_eq!(workers, [0, 1, 0, 1, 0, 1]);

    let mut tasks = Vec::new();
    for (i, mut stream) in streams.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let sent: String = (0..LINES).map(|k| format!("c{i} l{k}\n")).collect();
            stream.get_mut().write_all(sent.as_bytes()).await?;
            let mut got: Vec<Vec<usize>> = vec![Vec::new(); CLIENTS];
            for _ in 0..CLIENTS * LINES {
                let mut line = String::new();
                within(stream.read_line(&mut line)).await?;
                let (from, k) = line
                    .trim_end()
                    .strip_prefix('c')
                    .and_then(|l| l.split_once(" l"))
                    .and_then(|(c, k)| Some((c.parse::<usize>().ok()?, k.parse().ok()?)))
                    .ok_or_else(|| format!("client {i}: unexpected {line:?}"))?;
                got[from].push(k);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(got)
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let got = within(task).await??;
        for (from, ks) in got.iter().enumerate() {
            // Each line once, and a sender's lines in the order sent.
            assert_eq!(
                *ks,
                (0..LINES).collect::<Vec<_>>(),
                "client {i} from {from}"
            );
        }
    }
    handle.shutdown();
    within(running).await?;
    Ok(())
}

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
async fn the_frame_limit_applies_on_every_worker() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = Counting::default();
    let log = acceptor.log.clone();
    let mut server = serve(listener, Framing::Lines, acceptor).workers(2);
    server.set_max_frame_len(16);
    let (handle, running) = start(server);
    for expected in 0..2 {
        let (mut stream, worker) = client(addr).await?;
        assert_eq!(worker, expected);
        stream
            .get_mut()
            .write_all(b"a line far longer than sixteen bytes\n")
            .await?;
        let mut rest = Vec::new();
        within(stream.read_to_end(&mut rest)).await?;
        assert!(rest.is_empty());
    }
    handle.shutdown();
    within(running).await?;
    let closes: Vec<(usize, What)> = log
        .take()
        .into_iter()
        .filter(|s| matches!(s.what, What::Close(_)))
        .map(|s| (s.worker, s.what))
        .collect();
    let too_long = What::Close(Some("frame longer than the limit of 16 bytes".into()));
    assert_eq!(closes, [(0, too_long.clone()), (1, too_long)]);
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

#[test]
fn zero_workers_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
    struct Noop;
    impl Handler for Noop {}
    let server = serve(listener, Framing::Lines, |_: &PeerAddr| Noop);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.workers(0)));
    assert!(refused.is_err());
}
