//! A handler's output, in the Poller-based server (`serve`) and the
//! per-task driver (`drive`): `on_write` paces a large body chunk by chunk,
//! and `drive` ends a write-only channel once its output is flushed.

mod support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iochannels::{drive, serve, Channel, Conn, ConnInfo, Error, Framing, Handler, PeerAddr};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UnixStream};

use support::handler::{read_to_eof, show_error, stop, Log};
use support::within;
use support::workers::start;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
