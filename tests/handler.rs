//! Callbacks: the Poller-based server (`serve`) and the per-task drivers
//! (`connect`, `connect_unix`, `drive`), over real TCP and Unix sockets.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iochannels::{
    connect, connect_unix, drive, serve, Acceptor, Channel, Conn, ConnId, ConnInfo, Error, Framing,
    Handler, PeerAddr, Server, ServerHandle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use support::{socket_path, within, STEP};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Callbacks as they happen, shared between a test and its handlers.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().expect("log lock").push(entry.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    /// Waits (bounded) until an entry equal to `entry` has been logged `n` times.
    async fn wait_for(&self, entry: &str, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let entries = self.entries();
            if entries.iter().filter(|e| *e == entry).count() >= n {
                return entries;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {STEP:?} for {n} × {entry:?}; log: {entries:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn show_error(error: &Option<Error>) -> String {
    match error {
        None => "None".to_owned(),
        Some(Error::FrameTooLong { limit }) => format!("FrameTooLong {limit}"),
        Some(Error::Closed) => "Closed".to_owned(),
        Some(e) => format!("error {e}"),
    }
}

/// Logs every callback and echoes each frame.
struct Echo {
    log: Log,
}

impl Handler for Echo {
    async fn on_connect(&mut self, _conn: &mut Conn<'_>) {
        self.log.push("connect");
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        self.log.push(format!("read {frame:?}"));
        if let Err(e) = conn.write(frame) {
            self.log
                .push(format!("write failed: {}", show_error(&Some(e))));
        }
    }

    async fn on_write(&mut self, _conn: &mut Conn<'_>) {
        self.log.push("write");
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.log.push(format!("close {}", show_error(&error)));
    }
}

/// Logs `on_listen` and `on_accept`; makes an [`Echo`] per connection.
struct EchoFactory {
    log: Log,
}

impl Acceptor for EchoFactory {
    type Handler = Echo;

    fn on_accept(&mut self, peer: &PeerAddr) -> Echo {
        self.log.push(format!("accept {peer}"));
        Echo {
            log: self.log.clone(),
        }
    }

    async fn on_listen(&mut self, local: &PeerAddr) {
        self.log.push(format!("listen {local}"));
    }
}

fn start<A: Acceptor + 'static>(server: Server<A>) -> (ServerHandle, tokio::task::JoinHandle<()>) {
    let handle = server.handle();
    (handle, tokio::spawn(server.run()))
}

/// An echo server on 127.0.0.1 whose handlers log their callbacks; not started.
async fn logged_echo_server() -> std::io::Result<(std::net::SocketAddr, Log, Server<EchoFactory>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let server = serve(listener, Framing::Lines, EchoFactory { log: log.clone() });
    Ok((addr, log, server))
}

async fn stop(handle: ServerHandle, running: tokio::task::JoinHandle<()>) {
    handle.shutdown();
    within(running).await.expect("server task")
}

async fn read_exactly(stream: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    within(stream.read_exact(&mut buf)).await.expect("read");
    buf
}

async fn read_to_eof(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut buf = Vec::new();
    within(stream.read_to_end(&mut buf))
        .await
        .expect("read to EOF");
    buf
}

#[tokio::test]
async fn server_callbacks_come_in_order_for_one_connection() -> TestResult {
    let (addr, log, server) = logged_echo_server().await?;
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    let client_addr = client.local_addr()?;
    client.write_all(b"one\n").await?;
    assert_eq!(read_exactly(&mut client, 4).await, b"one\n");
    log.wait_for("write", 1).await;
    client.write_all(b"two\n").await?;
    assert_eq!(read_exactly(&mut client, 4).await, b"two\n");
    log.wait_for("write", 2).await;
    client.shutdown().await?;
    assert_eq!(read_to_eof(&mut client).await, b"");
    let entries = log.wait_for("close None", 1).await;

    assert_eq!(
        entries,
        [
            format!("listen {addr}"),
            format!("accept {client_addr}"),
            "connect".to_owned(),
            r#"read b"one\n""#.to_owned(),
            "write".to_owned(),
            r#"read b"two\n""#.to_owned(),
            "write".to_owned(),
            "close None".to_owned(),
        ]
    );
    stop(handle, running).await;
    assert_eq!(
        log.entries().len(),
        8,
        "nothing after close: {:?}",
        log.entries()
    );
    Ok(())
}

/// A client that says `ping`, logs its callbacks and closes on the answer.
struct Pinger {
    log: Log,
}

impl Handler for Pinger {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        self.log.push(format!("connect to {:?}", conn.peer()));
        conn.write("ping\n").expect("write before close");
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        self.log.push(format!("read {frame:?}"));
        conn.close();
        assert!(matches!(conn.write("late\n"), Err(Error::Closed)));
    }

    async fn on_write(&mut self, _conn: &mut Conn<'_>) {
        self.log.push("write");
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.log.push(format!("close {}", show_error(&error)));
    }
}

#[tokio::test]
async fn unix_server_and_client_drivers_talk() -> TestResult {
    let (_dir, path) = socket_path("echo.sock");
    let server_log = Log::default();
    let factory = EchoFactory {
        log: server_log.clone(),
    };
    let (handle, running) = start(serve(UnixListener::bind(&path)?, Framing::Lines, factory));

    let client_log = Log::default();
    let pinger = Pinger {
        log: client_log.clone(),
    };
    within(connect_unix(&path, Framing::Lines, pinger)).await;
    assert_eq!(
        client_log.entries(),
        [
            format!("connect to {:?}", Some(PeerAddr::Unix(Some(path.clone())))),
            "write".to_owned(),
            r#"read b"ping\n""#.to_owned(),
            "close None".to_owned(),
        ]
    );

    let entries = server_log.wait_for("close None", 1).await;
    assert_eq!(
        entries,
        [
            format!("listen {}", path.display()),
            "accept unix client".to_owned(),
            "connect".to_owned(),
            r#"read b"ping\n""#.to_owned(),
            "write".to_owned(),
            "close None".to_owned(),
        ]
    );
    stop(handle, running).await;
    Ok(())
}

/// Reads `LEN n` header lines, each followed by a body of exactly n bytes.
#[derive(Default)]
struct Bodies {
    frames: Vec<Bytes>,
    end: Option<String>,
    log: Option<Log>,
}

impl Handler for Bodies {
    async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
        if let Some(log) = &self.log {
            log.push(format!("read {frame:?}"));
        }
        self.frames.push(frame.clone());
        match frame.strip_prefix(b"LEN ") {
            Some(len) => {
                let len = std::str::from_utf8(len).expect("utf-8").trim();
                conn.set_framing(Framing::Exact(len.parse().expect("a length")));
            }
            None if conn.framing() != &Framing::Lines => conn.set_framing(Framing::Lines),
            None => {}
        }
        let _ = conn.write(format!("{}\n", frame.len()));
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        let end = show_error(&error);
        if let Some(log) = &self.log {
            log.push(format!("close {end}"));
        }
        self.end = Some(end);
    }
}

#[tokio::test]
async fn client_set_framing_cuts_the_very_next_frame() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let peer = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        // One write: the client's first read buffers it all before any frame is cut.
        socket
            .write_all(b"LEN 5\nhe\nloNEXT\nLEN 3\nabcpartial")
            .await?;
        socket.shutdown().await?;
        let mut replies = Vec::new();
        socket.read_to_end(&mut replies).await?;
        Ok::<_, std::io::Error>(replies)
    });

    let bodies = within(connect(addr, Framing::Lines, Bodies::default())).await;
    let frames: Vec<&[u8]> = bodies.frames.iter().map(|f| &f[..]).collect();
    assert_eq!(
        frames,
        [
            &b"LEN 5\n"[..],
            b"he\nlo",
            b"NEXT\n",
            b"LEN 3\n",
            b"abc",
            b"partial"
        ]
    );
    assert_eq!(bodies.end.as_deref(), Some("None"));
    // Replies to every frame, the final partial one included, reached the peer.
    assert_eq!(within(peer).await??, b"6\n5\n5\n6\n3\n7\n");
    Ok(())
}

#[tokio::test]
async fn server_set_framing_cuts_the_very_next_frame() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let factory_log = log.clone();
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Bodies {
        log: Some(factory_log.clone()),
        ..Bodies::default()
    });
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    // One write: the poller reads it all at once, ahead of the handler.
    client
        .write_all(b"LEN 5\nhe\nloNEXT\nLEN 3\nabcLEN 1\n\n")
        .await?;
    assert_eq!(
        read_exactly(&mut client, 14).await,
        b"6\n5\n5\n6\n3\n6\n1\n"
    );
    client.shutdown().await?;
    let entries = log.wait_for("close None", 1).await;
    assert_eq!(
        entries,
        [
            r#"read b"LEN 5\n""#,
            r#"read b"he\nlo""#,
            r#"read b"NEXT\n""#,
            r#"read b"LEN 3\n""#,
            r#"read b"abc""#,
            r#"read b"LEN 1\n""#,
            r#"read b"\n""#,
            "close None",
        ]
    );
    stop(handle, running).await;
    Ok(())
}

/// Logs `on_connect_error` and any other callback (there must be none).
struct Refused {
    log: Log,
}

impl Handler for Refused {
    async fn on_connect(&mut self, _conn: &mut Conn<'_>) {
        self.log.push("connect");
    }

    async fn on_connect_error(&mut self, error: Error) {
        match error {
            Error::Io(e) => self.log.push(format!("{:?}: {e}", e.kind())),
            other => self.log.push(format!("unexpected {other:?}")),
        }
    }

    async fn on_close(&mut self, _info: &ConnInfo, _error: Option<Error>) {
        self.log.push("close");
    }
}

#[tokio::test]
async fn connect_error_names_the_address() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    let log = Log::default();
    within(connect(addr, Framing::Lines, Refused { log: log.clone() })).await;
    let entries = log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("ConnectionRefused: "), "{entries:?}");
    assert!(entries[0].contains(&addr.to_string()), "{entries:?}");

    let (_dir, path) = socket_path("nobody.sock");
    let log = Log::default();
    within(connect_unix(
        &path,
        Framing::Lines,
        Refused { log: log.clone() },
    ))
    .await;
    let entries = log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("NotFound: "), "{entries:?}");
    assert!(
        entries[0].contains(&path.display().to_string()),
        "{entries:?}"
    );
    Ok(())
}

/// Numbers the lines of its own connection.
struct Counter {
    lines: usize,
}

impl Handler for Counter {
    async fn on_read(&mut self, conn: &mut Conn<'_>, _line: Bytes) {
        self.lines += 1;
        let _ = conn.write(format!("{}\n", self.lines));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_gets_its_own_handler() -> TestResult {
    const CLIENTS: usize = 40;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&peers);
    let server = serve(listener, Framing::Lines, move |peer: &PeerAddr| {
        seen.lock().expect("peers lock").push(peer.clone());
        Counter { lines: 0 }
    });
    let (handle, running) = start(server);

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(async move {
                let mut client = TcpStream::connect(addr).await?;
                let local = client.local_addr()?;
                let mut replies = Vec::new();
                for _ in 0..3 {
                    client.write_all(b"line\n").await?;
                    let mut reply = [0; 2];
                    client.read_exact(&mut reply).await?;
                    replies.extend_from_slice(&reply);
                }
                Ok::<(SocketAddr, Vec<u8>), std::io::Error>((local, replies))
            })
        })
        .collect();
    let mut locals = HashSet::new();
    for client in clients {
        let (local, replies) = within(client).await??;
        assert_eq!(replies, b"1\n2\n3\n", "each client counted alone");
        locals.insert(local);
    }
    stop(handle, running).await;

    let peers = peers.lock().expect("peers lock").clone();
    assert_eq!(peers.len(), CLIENTS, "the factory ran once per connection");
    let peers: HashSet<SocketAddr> = peers
        .into_iter()
        .map(|peer| match peer {
            PeerAddr::Tcp(addr) => addr,
            other => panic!("a TCP client came from {other:?}"),
        })
        .collect();
    assert_eq!(peers, locals);
    Ok(())
}

/// Echoes, and logs its close with its id.
struct Closing {
    log: Log,
    id: Option<ConnId>,
}

impl Handler for Closing {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        self.id = Some(conn.id());
    }

    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        let _ = conn.write(line);
    }

    async fn on_close(&mut self, info: &ConnInfo, error: Option<Error>) {
        assert_eq!(Some(info.id()), self.id);
        self.log.push(format!("close {}", show_error(&error)));
    }
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_calls_on_close() -> TestResult {
    const CLIENTS: usize = 5;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let factory_log = log.clone();
    let accepted = Arc::new(Mutex::new(0));
    let count = Arc::clone(&accepted);
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| {
        *count.lock().expect("count lock") += 1;
        Closing {
            log: factory_log.clone(),
            id: None,
        }
    });
    let (handle, running) = start(server);

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = TcpStream::connect(addr).await?;
        client.write_all(b"hi\n").await?;
        assert_eq!(read_exactly(&mut client, 3).await, b"hi\n");
        clients.push(client);
    }
    assert!(log.entries().is_empty());
    stop(handle, running).await;

    assert_eq!(log.entries(), vec!["close None"; CLIENTS]);
    assert_eq!(*accepted.lock().expect("count lock"), CLIENTS);
    for client in &mut clients {
        assert_eq!(read_to_eof(client).await, b"", "closed by the server");
    }
    assert!(
        within(TcpStream::connect(addr)).await.is_err(),
        "the listener is closed too"
    );
    Ok(())
}

#[tokio::test]
async fn too_long_a_frame_ends_the_connection_with_the_error() -> TestResult {
    let (addr, log, mut server) = logged_echo_server().await?;
    server.set_max_frame_len(8);
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    client
        .write_all(b"ok\nfar too long a line\nnever\n")
        .await?;
    // The reply to "ok" is still queued when the too-long frame is cut:
    // it goes out before the connection ends.
    let got = read_to_eof(&mut client).await;
    assert_eq!(got, b"ok\n");
    let entries = log.wait_for("close FrameTooLong 8", 1).await;
    assert_eq!(
        &entries[2..],
        ["connect", r#"read b"ok\n""#, "close FrameTooLong 8"]
    );
    stop(handle, running).await;

    // The per-task driver ends the same way.
    let (channel, mut peer) = Channel::test();
    peer.put("ok\nfar too long a line\nnever\n");
    let log = Log::default();
    struct Limited(Echo);
    impl Handler for Limited {
        async fn on_connect(&mut self, conn: &mut Conn<'_>) {
            conn.set_max_frame_len(8);
        }
        async fn on_read(&mut self, conn: &mut Conn<'_>, frame: Bytes) {
            self.0.on_read(conn, frame).await;
        }
        async fn on_close(&mut self, info: &ConnInfo, error: Option<Error>) {
            self.0.on_close(info, error).await;
        }
    }
    within(drive(
        channel.framed(Framing::Lines),
        Limited(Echo { log: log.clone() }),
    ))
    .await;
    assert_eq!(log.entries(), [r#"read b"ok\n""#, "close FrameTooLong 8"]);
    assert_eq!(peer.get(), "ok\n");
    Ok(())
}

#[tokio::test]
async fn server_replies_to_the_final_partial_frame_after_the_peer_ends() -> TestResult {
    let (addr, log, server) = logged_echo_server().await?;
    let (handle, running) = start(server);

    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"full\npartial").await?;
    client.shutdown().await?;
    // The poller yields the final partial frame as `Data` while the
    // connection is still open (its `Closed` comes after), so the reply to
    // it goes out too. (The old server cut frames itself and only found the
    // partial one at `Closed`, with the connection gone: "write failed".)
    assert_eq!(read_to_eof(&mut client).await, b"full\npartial");
    let entries = log.wait_for("close None", 1).await;
    let entries: Vec<_> = entries.iter().filter(|e| *e != "write").collect();
    assert_eq!(
        &entries[3..],
        [r#"read b"full\n""#, r#"read b"partial""#, "close None"]
    );
    stop(handle, running).await;
    Ok(())
}

/// Streams `total` bytes in chunks, writing the next one from `on_write`.
struct Pacer {
    chunk: Bytes,
    left: usize,
    writes: Arc<Mutex<usize>>,
}

impl Handler for Pacer {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        self.left -= 1;
        conn.write(self.chunk.clone()).expect("first chunk");
    }

    async fn on_write(&mut self, conn: &mut Conn<'_>) {
        *self.writes.lock().expect("writes lock") += 1;
        assert_eq!(conn.queued(), 0, "on_write comes with the queue empty");
        if self.left == 0 {
            conn.close();
            return;
        }
        self.left -= 1;
        conn.write(self.chunk.clone()).expect("next chunk");
    }
}

#[tokio::test]
async fn on_write_paces_a_large_body_in_both_drivers() -> TestResult {
    const CHUNKS: usize = 16;
    let chunk: Bytes = (0..64 * 1024)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let expected: Vec<u8> = chunk
        .iter()
        .copied()
        .cycle()
        .take(CHUNKS * chunk.len())
        .collect();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let writes = Arc::new(Mutex::new(0));
    let (server_chunk, server_writes) = (chunk.clone(), Arc::clone(&writes));
    let server = serve(listener, Framing::Lines, move |_: &PeerAddr| Pacer {
        chunk: server_chunk.clone(),
        left: CHUNKS,
        writes: Arc::clone(&server_writes),
    });
    let (handle, running) = start(server);
    let mut client = TcpStream::connect(addr).await?;
    let body = read_to_eof(&mut client).await;
    assert!(
        body == expected,
        "{} bytes, not the {} sent",
        body.len(),
        expected.len()
    );
    stop(handle, running).await;
    assert_eq!(
        *writes.lock().expect("writes lock"),
        CHUNKS,
        "one on_write per chunk"
    );

    let (ours, theirs) = UnixStream::pair()?;
    let reader = tokio::spawn(async move {
        let mut theirs = theirs;
        let mut body = Vec::new();
        theirs.read_to_end(&mut body).await.map(|_| body)
    });
    let writes = Arc::new(Mutex::new(0));
    let stream = Pacer {
        chunk,
        left: CHUNKS,
        writes: Arc::clone(&writes),
    };
    within(drive(Channel::from(ours).framed(Framing::Lines), stream)).await;
    assert!(within(reader).await?? == expected);
    assert_eq!(*writes.lock().expect("writes lock"), CHUNKS);
    Ok(())
}

/// Writes once, logs the rest.
struct Announce {
    log: Log,
}

impl Handler for Announce {
    async fn on_connect(&mut self, conn: &mut Conn<'_>) {
        conn.write("announcement\n").expect("queued");
    }

    async fn on_read(&mut self, _conn: &mut Conn<'_>, frame: Bytes) {
        self.log.push(format!("read {frame:?}"));
    }

    async fn on_write(&mut self, _conn: &mut Conn<'_>) {
        self.log.push("write");
    }

    async fn on_close(&mut self, _info: &ConnInfo, error: Option<Error>) {
        self.log.push(format!("close {}", show_error(&error)));
    }
}

#[tokio::test]
async fn drive_ends_a_write_only_channel_once_its_output_is_flushed() -> TestResult {
    let (reader, writer) = std::io::pipe()?;
    let channel = Channel::pipe(None, Some(writer.into()))?;
    let log = Log::default();
    within(drive(
        channel.framed(Framing::Lines),
        Announce { log: log.clone() },
    ))
    .await;
    assert_eq!(log.entries(), ["write", "close None"]);
    let mut got = String::new();
    std::io::Read::read_to_string(&mut &reader, &mut got)?;
    assert_eq!(got, "announcement\n", "written, then EOF");
    Ok(())
}

#[test]
fn public_types_are_send_and_sync_where_they_should_be() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Server<fn(&PeerAddr) -> Counter>>();
    send::<Conn<'static>>();
    send_sync::<ServerHandle>();
    send_sync::<ConnInfo>();
    send_sync::<ConnId>();
}

#[tokio::test]
async fn server_and_client_futures_are_send() -> TestResult {
    fn send<T: Send>(_: &T) {}
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = serve(listener, Framing::Lines, |_: &PeerAddr| Counter {
        lines: 0,
    });
    send(&server.run());
    send(&connect(addr, Framing::Lines, Counter { lines: 0 }));
    let (channel, _peer) = Channel::test();
    send(&drive(channel.framed(Framing::Lines), Counter { lines: 0 }));
    Ok(())
}
