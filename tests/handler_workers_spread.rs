//! The callback server on N workers (`Server::workers`) over real TCP on
//! 127.0.0.1, while it serves: clients spread over every worker, each
//! connection's callbacks on its worker's task and in order, broadcast
//! through the handles of connections on other workers, and the settings
//! (frame limit, worker count) that every worker follows. How it ends is in
//! `handler_workers_shutdown.rs`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iochannels::{serve, Conn, ConnHandle, ConnId, Framing, Handler, PeerAddr};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use support::within;
use support::workers::{client, numbered_server, start, Counting, Seen, What};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

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
