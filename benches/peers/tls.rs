//! The `tls` scenario (feature `tls`: `cargo bench --features tls -- tls`):
//! TLS over loopback TCP, the Poller against tokio-rustls with a task per
//! connection reading `FramedRead<_, LinesCodec>`, side by side.
//!
//! | table | work per run |
//! |-------|--------------|
//! | lines/s | `CONNS` clients connect, handshake, send their lines (16 B each) and close; the clock covers connects, handshakes and every line counted |
//! | handshakes/s | `HANDSHAKES` clients, `CONNS` at a time, each connects, handshakes, sends one line and closes |
//!
//! Clients are the same for both contenders (tokio-rustls tasks in the same
//! runtime); a 2-worker runtime, so handshakes can run beside the poller.
//! ECDSA P-256 certificates from rcgen; ring provider.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::tls::{rustls, TlsAcceptor, TlsConnector};
use iochannels::{Event, Framing, Poller};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{FramedRead, LinesCodec};

use crate::harness::{runtime, Harness, Table};
use crate::lines::{env_usize, make_lines};

const CONNS: usize = 50;
const LINE: usize = 16;
// Each leaves a client port in TIME_WAIT: (reps + 1) x 2 runs must fit the ephemeral range.
const HANDSHAKES: usize = 1_000;

struct Pki {
    acceptor: TlsAcceptor,
    client: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let dir = tempfile::tempdir().expect("temp dir");
    let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).expect("cert.pem");
    std::fs::write(&k, cert.signing_key.serialize_pem()).expect("key.pem");
    Pki {
        acceptor: TlsAcceptor::from(iochannels::tls::server_config(&c, &k).expect("server config")),
        client: iochannels::tls::client_config(&c).expect("client config"),
        _dir: dir,
    }
}

pub fn run(h: &Harness) {
    if !h.wants("tls") {
        return;
    }
    let lines_per_conn = env_usize("IOCHANNELS_BENCH_TLS_LINES", 1_000_000) / CONNS;
    let total_lines = (lines_per_conn * CONNS) as u64;
    println!(
        "\n# tls: {CONNS} clients x {lines_per_conn} lines of {LINE} B; \
         {HANDSHAKES} handshakes {CONNS} at a time; 2-worker runtime, loopback TCP"
    );
    let rt = &runtime(2);
    let pki = &pki();
    let data = make_lines(lines_per_conn, LINE);

    let mut lines = Table::new(
        "tls lines/s (connect + handshake + lines)",
        "lines/s",
        total_lines,
    );
    lines.time("iochannels Poller add_tls_server", h.reps, || {
        rt.block_on(poller_run(pki, &data, CONNS, total_lines))
    });
    lines.time("tokio-rustls task/conn LinesCodec", h.reps, || {
        rt.block_on(tasks_run(pki, &data, CONNS, total_lines))
    });
    lines.print("tokio-rustls task/conn LinesCodec");

    let one = Bytes::from_static(b"hello there\n");
    let mut hs = Table::new(
        "tls handshakes/s (one line each)",
        "handshakes/s",
        HANDSHAKES as u64,
    );
    hs.time("iochannels Poller add_tls_server", h.reps, || {
        rt.block_on(poller_run(pki, &one, HANDSHAKES, HANDSHAKES as u64))
    });
    hs.time("tokio-rustls task/conn LinesCodec", h.reps, || {
        rt.block_on(tasks_run(pki, &one, HANDSHAKES, HANDSHAKES as u64))
    });
    hs.print("tokio-rustls task/conn LinesCodec");
}

/// `conns` clients, at most `CONNS` at once, each sending `data` over TLS and closing.
fn clients(pki: &Pki, addr: std::net::SocketAddr, data: &Bytes, conns: usize) {
    let connector = TlsConnector::from(pki.client.clone());
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNS));
    for _ in 0..conns {
        let (connector, data, gate) = (connector.clone(), data.clone(), gate.clone());
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let mut tls = connector
                .connect(name, tcp)
                .await
                .expect("client handshake");
            tls.write_all(&data).await.expect("client write");
            tls.shutdown().await.expect("close_notify");
            // Read until the server hangs up: closing with its session
            // tickets unread would reset the connection and lose lines.
            let _ = tls.read_to_end(&mut Vec::new()).await;
        });
    }
}

async fn poller_run(pki: &Pki, data: &Bytes, conns: usize, want: u64) -> Duration {
    let start = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_tls_server(listener, pki.acceptor.clone());
    clients(pki, addr, data, conns);
    let mut seen = 0;
    while seen < want {
        match poller.next().await {
            Some(Event::Data { .. }) => seen += 1,
            Some(Event::AcceptError { error, .. }) => panic!("accept error {error}"),
            // A failed channel lost lines: the count would never be reached.
            Some(Event::Closed { error: Some(e), .. }) => panic!("channel failed: {e}"),
            Some(_) => {}
            None => panic!("poller ended"),
        }
    }
    start.elapsed()
}

async fn tasks_run(pki: &Pki, data: &Bytes, conns: usize, want: u64) -> Duration {
    let start = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let acceptor = pki.acceptor.clone();
    let (seen2, done2) = (seen.clone(), done.clone());
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            let _ = tcp.set_nodelay(true);
            let (acceptor, seen, done) = (acceptor.clone(), seen2.clone(), done2.clone());
            tokio::spawn(async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                else {
                    return;
                };
                let mut lines = FramedRead::new(tls, LinesCodec::new());
                while let Some(Ok(_line)) = lines.next().await {
                    if seen.fetch_add(1, Ordering::Relaxed) + 1 == want {
                        done.notify_one();
                    }
                }
            });
        }
    });
    clients(pki, addr, data, conns);
    done.notified().await;
    server.abort();
    start.elapsed()
}
