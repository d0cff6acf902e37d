//! `Listener::from_stream`: the user's own accept logic in front of a
//! `Poller` or `serve` — a filter that drops some peers, errors of one
//! connection and resource errors, an `iochannels::Error` inside an
//! `io::Error`, and a stream that ends. Every wait is bounded.

mod support;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{future, stream, Stream, StreamExt};
use iochannels::{
    serve, Channel, Conn, Error, Event, Framing, Handler, Listener, PeerAddr, Poller,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::within;

/// Accepts from `tcp` and keeps every other client (the 1st, 3rd, ...):
/// the others are dropped, so their sockets close.
fn every_other(
    tcp: TcpListener,
) -> impl Stream<Item = io::Result<(Channel, PeerAddr)>> + Send + 'static {
    let seen = Arc::new(AtomicUsize::new(0));
    stream::unfold(tcp, |tcp| async move {
        let next = tcp.accept().await;
        Some((next.map(|(s, a)| (Channel::from(s), PeerAddr::Tcp(a))), tcp))
    })
    .filter(move |next| {
        let n = seen.fetch_add(1, Ordering::Relaxed);
        future::ready(next.is_err() || n.is_multiple_of(2))
    })
}

/// True once the server closed `tcp` without sending anything.
async fn dropped(mut tcp: TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match within(tcp.read(&mut buf)).await {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
    }
}

#[tokio::test]
async fn a_filtering_stream_in_the_poller() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(Listener::from_stream(every_other(tcp)));

    let mut kept = within(TcpStream::connect(addr)).await.expect("connect 1");
    let (id, peer) = match within(poller.next()).await {
        Some(Event::Accepted {
            server: from,
            id,
            peer,
        }) => {
            assert_eq!(from, server);
            (id, peer)
        }
        other => panic!("expected Accepted, got {other:?}"),
    };
    assert_eq!(peer, PeerAddr::Tcp(kept.local_addr().expect("client addr")));

    // The second is filtered out: never announced, its socket closed.
    let refused = within(TcpStream::connect(addr)).await.expect("connect 2");
    let refused = tokio::spawn(dropped(refused));
    let mut third = within(TcpStream::connect(addr)).await.expect("connect 3");
    let third_id = match within(poller.next()).await {
        Some(Event::Accepted { id, .. }) => id,
        other => panic!("expected the third client, got {other:?}"),
    };
    assert!(
        within(refused).await.expect("task"),
        "the filtered client was closed"
    );

    // Kept clients are channels like any other.
    kept.write_all(b"one\n").await.expect("write");
    third.write_all(b"three\n").await.expect("write");
    let mut got = Vec::new();
    while got.len() < 2 {
        match within(poller.next()).await {
            Some(Event::Data { id: from, data }) => got.push((from, data)),
            other => panic!("expected data, got {other:?}"),
        }
    }
    got.sort_by_key(|(from, _)| *from != id);
    assert_eq!(
        got,
        vec![
            (id, Bytes::from("one\n")),
            (third_id, Bytes::from("three\n"))
        ]
    );
    poller.write(id, "reply\n").expect("queued");
    let _ = poller.poll(Some(Duration::from_millis(50))).await;
    let mut reply = [0u8; 6];
    within(kept.read_exact(&mut reply)).await.expect("reply");
    assert_eq!(&reply, b"reply\n");
}

#[tokio::test]
async fn stream_errors_are_reported_and_an_ended_stream_is_silent() {
    let (channel, mut peer) = Channel::test();
    let items: Vec<io::Result<(Channel, PeerAddr)>> = vec![
        Err(io::ErrorKind::ConnectionReset.into()),
        // An iochannels::Error inside the io::Error is reported as itself.
        Err(io::Error::new(io::ErrorKind::TimedOut, Error::TimedOut)),
        Ok((channel, PeerAddr::Unix(None))),
        // Anything else is taken for a resource error: a pause.
        Err(io::Error::other("out of something")),
    ];
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(Listener::from_stream(stream::iter(items)));

    match within(poller.next()).await {
        Some(Event::AcceptError {
            server: from,
            error: Error::Io(e),
            retry_in: None,
        }) => {
            assert_eq!(from, server);
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::AcceptError {
            error: Error::TimedOut,
            retry_in: None,
            ..
        })
    ));
    let id = match within(poller.next()).await {
        Some(Event::Accepted {
            id,
            peer: PeerAddr::Unix(None),
            ..
        }) => id,
        other => panic!("expected Accepted, got {other:?}"),
    };
    match within(poller.next()).await {
        Some(Event::AcceptError {
            error: Error::Io(e),
            retry_in: Some(pause),
            ..
        }) => {
            assert_eq!(e.to_string(), "out of something");
            assert_eq!(pause, Duration::from_millis(10));
        }
        other => panic!("expected a paused error, got {other:?}"),
    }
    // The stream has ended: nothing more, and the accepted channel goes on.
    assert!(poller
        .poll(Some(Duration::from_millis(100)))
        .await
        .is_empty());
    peer.put("still here\n");
    match within(poller.next()).await {
        Some(Event::Data { id: from, data }) => {
            assert_eq!((from, &data[..]), (id, &b"still here\n"[..]))
        }
        other => panic!("expected data, got {other:?}"),
    }
    assert!(
        poller.remove_server(server),
        "an ended server is still listed"
    );
}

struct Echo;

impl Handler for Echo {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        let _ = conn.write(line);
    }
}

#[tokio::test]
async fn serve_takes_a_stream_listener() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let server = serve(
        Listener::from_stream(every_other(tcp)),
        Framing::Lines,
        |_: &PeerAddr| Echo,
    );
    let handle = server.handle();
    let running = tokio::spawn(server.run());

    for n in 0..4 {
        let mut client = within(TcpStream::connect(addr)).await.expect("connect");
        if n % 2 == 1 {
            assert!(dropped(client).await, "client {n} is filtered out");
            continue;
        }
        let line = format!("echo {n}\n");
        client.write_all(line.as_bytes()).await.expect("write");
        let mut echo = vec![0u8; line.len()];
        within(client.read_exact(&mut echo)).await.expect("echo");
        assert_eq!(echo, line.as_bytes());
    }
    handle.shutdown();
    within(running).await.expect("server task");
}
