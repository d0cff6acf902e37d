//! Callbacks: the Poller-based server (`serve`) and the per-task drivers
//! (`connect`, `connect_unix`, `drive`), over real TCP and Unix sockets:
//! the order of one connection's callbacks, a connect error, a handler per
//! connection, shutdown, and which types are `Send`. How frames are cut is
//! in `handler_frames.rs`, pacing and ending output in `handler_writes.rs`.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iochannels::{
    connect, connect_unix, drive, serve, Channel, Conn, ConnId, ConnInfo, Error, Framing, Handler,
    PeerAddr, Server, ServerHandle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener};

use support::handler::{
    logged_echo_server, read_exactly, read_to_eof, show_error, stop, EchoFactory, Log,
};
use support::workers::start;
use support::{socket_path, within};

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
