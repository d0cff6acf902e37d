//! The callback server on N workers, as `tests/handler_workers_*.rs` drive
//! it: a logging handler that names its worker in every reply, a counting
//! acceptor, and starting a server and a client over TCP on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iochannels::{
    serve, Acceptor, Conn, ConnId, ConnInfo, Error, Framing, Handler, PeerAddr, Server,
    ServerHandle,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::within;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One callback, as a handler saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    Connect,
    Read(String),
    Close(Option<String>),
}

/// A callback, where it ran: the worker it was told, and the tokio task.
#[derive(Debug, Clone)]
pub struct Seen {
    pub conn: ConnId,
    pub worker: usize,
    pub task: tokio::task::Id,
    pub what: What,
}

/// Every callback of every connection, in the order each ran.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn push(&self, info: &ConnInfo, what: What) {
        let seen = Seen {
            conn: info.id(),
            worker: info.worker(),
            task: tokio::task::id(),
            what,
        };
        self.0.lock().expect("log").push(seen);
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

/// Greets with `worker W`, answers line k with `W k+1 LINE`, panics on
/// `panic`.
pub struct Numbered {
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
pub struct Counting {
    pub log: Log,
    pub listening: Arc<Mutex<Vec<PeerAddr>>>,
    pub accepted: Arc<AtomicUsize>,
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
pub fn start<A>(server: Server<A>) -> (ServerHandle, JoinHandle<()>)
where
    A: Acceptor + 'static,
    A::Handler: 'static,
{
    let handle = server.handle();
    (handle, tokio::spawn(server.run()))
}

/// A TCP server of `Numbered` handlers on `workers` workers, spawned: its
/// address, log, handle and task.
pub async fn numbered_server(
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
pub async fn client(addr: SocketAddr) -> Result<(BufReader<TcpStream>, usize)> {
    let mut stream = BufReader::new(within(TcpStream::connect(addr)).await?);
    let mut greeting = String::new();
    within(stream.read_line(&mut greeting)).await?;
    let worker = greeting
        .strip_prefix("worker ")
        .and_then(|w| w.trim_end().parse().ok())
        .ok_or_else(|| format!("not a greeting: {greeting:?}"))?;
    Ok((stream, worker))
}
