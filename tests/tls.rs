//! TLS channels (feature `tls`): a tokio-rustls stream through
//! `Channel::from_io` in a `FramedChannel` and in a `Poller` (data both
//! ways, close_notify on a graceful close, a truncated peer, the frame
//! limit), `connect_tls` to `add_tls_server`, and `serve` over a
//! `TlsListener`. Real handshakes over 127.0.0.1; every wait is bounded.
#![cfg(feature = "tls")]

mod support;
mod tls_pki;

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::StreamExt;
use iochannels::tls::TlsListener;
use iochannels::{serve, Channel, Conn, Error, Event, Framing, Handler, PeerAddr, Poller};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream as ClientTls;

use support::within;
use tls_pki::Pki;

/// A server-side TLS channel and the client's raw tokio-rustls stream, over TCP.
async fn tls_pair(pki: &Pki) -> (Channel, ClientTls<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = pki.acceptor();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        Channel::from_io(acceptor.accept(tcp).await.expect("server handshake"))
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let client = within(pki.connector().connect(tls_pki::server_name(), tcp))
        .await
        .expect("client handshake");
    let server = within(server).await.expect("server task");
    (server, client)
}

/// Reads the client's side to its end: `Ok` only for a clean end (the
/// server's close_notify came); rustls says `UnexpectedEof` otherwise.
async fn read_to_clean_end(client: &mut ClientTls<TcpStream>) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    client.read_to_end(&mut all).await?;
    Ok(all)
}

#[tokio::test]
async fn from_io_framed_both_ways_frame_limit_and_close_notify() {
    let pki = Pki::new();
    let (server, mut client) = tls_pair(&pki).await;
    let mut framed = server.framed(Framing::Lines);
    assert!(framed.fd().is_none(), "a from_io channel has no fd");

    client.write_all(b"hello\n").await.expect("client write");
    client.flush().await.expect("client flush");
    assert_eq!(
        within(framed.read()).await.expect("read").as_deref(),
        Some(&b"hello\n"[..])
    );

    within(framed.write("back\n")).await.expect("server write");
    let mut reply = [0u8; 5];
    within(client.read_exact(&mut reply))
        .await
        .expect("client read");
    assert_eq!(&reply, b"back\n");

    // The frame limit holds over TLS: one line too long, then the next.
    framed.set_max_frame_len(16);
    client.write_all(&[b'x'; 40]).await.expect("long line");
    client.write_all(b"\nok\n").await.expect("next line");
    client.flush().await.expect("client flush");
    assert!(matches!(
        within(framed.read()).await,
        Err(Error::FrameTooLong { limit: 16 })
    ));
    assert_eq!(
        within(framed.read())
            .await
            .expect("after the limit")
            .as_deref(),
        Some(&b"ok\n"[..])
    );

    // A graceful close sends close_notify: the client reads a clean end,
    // then closes its side (close_notify back) so the close can finish.
    let reader = tokio::spawn(async move {
        let rest = read_to_clean_end(&mut client).await;
        let _ = client.shutdown().await;
        rest
    });
    within(framed.write("last\n")).await.expect("last write");
    within(framed.close()).await.expect("graceful close");
    let rest = within(reader).await.expect("reader task");
    assert_eq!(rest.expect("a clean end: close_notify came"), b"last\n");
    assert!(matches!(framed.read().await, Err(Error::Closed)));
}

#[tokio::test]
async fn from_io_peer_close_notify_is_a_clean_end_and_truncation_is_an_error() {
    let pki = Pki::new();

    // close_notify from the peer: the last line, then Ok(None).
    let (server, mut client) = tls_pair(&pki).await;
    let mut framed = server.framed(Framing::Lines);
    client.write_all(b"one\ntwo").await.expect("write");
    client.shutdown().await.expect("close_notify");
    assert_eq!(
        within(framed.read()).await.expect("one").as_deref(),
        Some(&b"one\n"[..])
    );
    assert_eq!(
        within(framed.read()).await.expect("two").as_deref(),
        Some(&b"two"[..])
    );
    assert!(within(framed.read()).await.expect("clean end").is_none());

    // The TCP connection ends (FIN) without close_notify: a truncation, an error.
    let (server, mut client) = tls_pair(&pki).await;
    let mut framed = server.framed(Framing::Lines);
    client.write_all(b"cut\n").await.expect("write");
    client.flush().await.expect("flush");
    let (mut tcp, _session) = client.into_inner();
    tcp.shutdown().await.expect("FIN without close_notify");
    assert_eq!(
        within(framed.read()).await.expect("cut").as_deref(),
        Some(&b"cut\n"[..])
    );
    match within(framed.read()).await {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
        other => panic!("a truncated TLS stream must be an error, got {other:?}"),
    }
}

#[tokio::test]
async fn from_io_in_a_poller_both_ways_close_notify_and_peer_end() {
    let pki = Pki::new();
    let mut poller = Poller::new(Framing::Lines);

    let (server, mut client) = tls_pair(&pki).await;
    let id = poller.register(server.framed(Framing::Lines));
    client.write_all(b"a\nb\n").await.expect("write");
    client.flush().await.expect("flush");
    for want in ["a\n", "b\n"] {
        match within(poller.next()).await {
            Some(Event::Data { id: from, data }) => {
                assert_eq!(from, id);
                assert_eq!(data, want);
            }
            other => panic!("expected {want:?}, got {other:?}"),
        }
    }
    // A reply, then a graceful close: the client reads both and a clean end.
    poller.write(id, "reply\n").expect("queued");
    poller.close(id).expect("closing");
    let reader = tokio::spawn(async move {
        let rest = read_to_clean_end(&mut client).await;
        let _ = client.shutdown().await;
        rest
    });
    match within(poller.next()).await {
        Some(Event::Closed {
            id: from,
            error: None,
        }) => assert_eq!(from, id),
        other => panic!("expected a clean Closed, got {other:?}"),
    }
    let rest = within(reader).await.expect("reader task");
    assert_eq!(rest.expect("close_notify came"), b"reply\n");

    // The peer's close_notify ends the channel cleanly.
    let (server, mut client) = tls_pair(&pki).await;
    let id = poller.register(server.framed(Framing::Lines));
    client.write_all(b"bye\n").await.expect("write");
    client.shutdown().await.expect("close_notify");
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Data { .. })
    ));
    match within(poller.next()).await {
        Some(Event::Closed {
            id: from,
            error: None,
        }) => assert_eq!(from, id),
        other => panic!("expected a clean Closed, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_tls_to_add_tls_server_through_the_poller() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_tls_server(listener, pki.acceptor());

    let config = pki.client_config();
    let client = tokio::spawn(async move {
        let channel = Channel::connect_tls(addr, "localhost", config).await?;
        assert!(channel.fd().is_none());
        let mut framed = channel.framed(Framing::Lines);
        framed.write("ping\n").await?;
        let pong = framed.read().await?;
        framed.close().await?;
        Ok::<_, Error>(pong)
    });

    let id = match within(poller.next()).await {
        Some(Event::Accepted {
            server: from,
            id,
            peer: PeerAddr::Tcp(peer),
        }) => {
            assert_eq!(from, server);
            assert!(peer.ip().is_loopback());
            id
        }
        other => panic!("expected Accepted, got {other:?}"),
    };
    match within(poller.next()).await {
        Some(Event::Data { id: from, data }) => {
            assert_eq!((from, &data[..]), (id, &b"ping\n"[..]));
            poller.write(id, "pong\n").expect("queued");
        }
        other => panic!("expected ping, got {other:?}"),
    }
    match within(poller.next()).await {
        Some(Event::Closed {
            id: from,
            error: None,
        }) => assert_eq!(from, id),
        other => panic!("expected a clean Closed, got {other:?}"),
    }
    let pong = within(client).await.expect("client task").expect("client");
    assert_eq!(pong.as_deref(), Some(&b"pong\n"[..]));
}

#[tokio::test]
async fn connect_tls_errors_name_the_address_and_the_server_name() {
    let pki = Pki::new();
    // Nothing listens: the connect error names the address.
    let gone: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    match within(Channel::connect_tls(gone, "localhost", pki.client_config())).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            assert!(e.to_string().contains(&gone.to_string()), "{e}");
        }
        other => panic!("expected a refused connect, got {other:?}"),
    }
    // Not a name at all.
    match Channel::connect_tls(gone, "not a name!", pki.client_config()).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("not a name!"), "{e}");
        }
        other => panic!("expected an invalid name, got {other:?}"),
    }
}

struct Echo;

impl Handler for Echo {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        let _ = conn.write(line);
    }
}

#[tokio::test]
async fn serve_takes_a_tls_listener() {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = serve(
        TlsListener::new(listener, pki.acceptor()),
        Framing::Lines,
        |_: &PeerAddr| Echo,
    );
    let handle = server.handle();
    let running = tokio::spawn(server.run());

    for n in 0..3 {
        let channel = within(Channel::connect_tls(addr, "localhost", pki.client_config()))
            .await
            .expect("connect_tls");
        let mut framed = channel.framed(Framing::Lines);
        let line = format!("echo {n}\n");
        within(framed.write(&line)).await.expect("write");
        assert_eq!(
            within(framed.read()).await.expect("read").as_deref(),
            Some(line.as_bytes())
        );
        within(framed.close()).await.expect("close");
    }
    handle.shutdown();
    within(running).await.expect("server task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_lines_from_many_tls_clients_through_the_poller() {
    const CLIENTS: usize = 8;
    const LINES: usize = 20_000;
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut poller = Poller::new(Framing::Lines);
    poller.add_tls_server(listener, pki.acceptor());
    let mut all = String::new();
    for n in 0..LINES {
        all.push_str(&format!("line {n:08}\n"));
    }
    let all = Bytes::from(all);
    for _ in 0..CLIENTS {
        let (config, all) = (pki.client_config(), all.clone());
        tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let connector = iochannels::tls::TlsConnector::from(config);
            let mut tls = connector
                .connect(tls_pki::server_name(), tcp)
                .await
                .expect("handshake");
            tls.write_all(&all).await.expect("write");
            tls.shutdown().await.expect("close_notify");
            // Read until the server hangs up: closing with its session
            // tickets unread would reset the connection and lose our lines.
            let _ = tls.read_to_end(&mut Vec::new()).await;
        });
    }
    let (mut lines, mut closed) = (0, 0);
    while closed < CLIENTS {
        match within(poller.next()).await {
            Some(Event::Data { .. }) => lines += 1,
            Some(Event::Closed { error: None, .. }) => closed += 1,
            Some(Event::Accepted { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(lines, CLIENTS * LINES);
}
