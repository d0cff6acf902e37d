//! The logged echo server of the `tests/handler*.rs` callback tests: a log
//! of callbacks a test can wait on, a handler that logs and echoes and its
//! acceptor, stopping a server, and bounded reads from a client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iochannels::{
    serve, Acceptor, Conn, ConnInfo, Error, Framing, Handler, PeerAddr, Server, ServerHandle,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use super::{within, STEP};

/// Callbacks as they happen, shared between a test and its handlers.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().expect("log lock").push(entry.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    /// Waits (bounded) until an entry equal to `entry` has been logged `n` times.
    pub async fn wait_for(&self, entry: &str, n: usize) -> Vec<String> {
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

pub fn show_error(error: &Option<Error>) -> String {
    match error {
        None => "None".to_owned(),
        Some(Error::FrameTooLong { limit }) => format!("FrameTooLong {limit}"),
        Some(Error::Closed) => "Closed".to_owned(),
        Some(e) => format!("error {e}"),
    }
}

/// Logs every callback and echoes each frame.
pub struct Echo {
    pub log: Log,
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
pub struct EchoFactory {
    pub log: Log,
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

/// An echo server on 127.0.0.1 whose handlers log their callbacks; not started.
pub async fn logged_echo_server(
) -> std::io::Result<(std::net::SocketAddr, Log, Server<EchoFactory>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Log::default();
    let server = serve(listener, Framing::Lines, EchoFactory { log: log.clone() });
    Ok((addr, log, server))
}

/// Shuts the server down and waits (bounded) for its task to end.
pub async fn stop(handle: ServerHandle, running: tokio::task::JoinHandle<()>) {
    handle.shutdown();
    within(running).await.expect("server task")
}

/// Reads exactly `n` bytes, bounded by [`STEP`].
pub async fn read_exactly(stream: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    within(stream.read_exact(&mut buf)).await.expect("read");
    buf
}

/// Reads to EOF, bounded by [`STEP`].
pub async fn read_to_eof(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut buf = Vec::new();
    within(stream.read_to_end(&mut buf))
        .await
        .expect("read to EOF");
    buf
}
