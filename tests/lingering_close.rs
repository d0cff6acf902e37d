//! A graceful close loses nothing to a reset we caused: a peer that sent
//! more than we read, to which we wrote a large reply and then closed, gets
//! every byte of the reply and then EOF — through FramedChannel::close, the
//! Poller's close and close_all, over TCP and Unix sockets. And the linger
//! is bounded: the peer's EOF ends it at once, a quiet peer after the
//! linger time, a flooding peer at the close timeout.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{serve, Channel, Conn, Event, Framing, Handler, PeerAddr, Poller};
use support::within;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

const REPLY: usize = 512 * 1024;
const EXTRA: usize = 256 * 1024;

/// The client of the issue: sends a request line and 256 KiB more (which
/// the server never reads), then reads the reply slowly, to its end.
/// Returns how many reply bytes came before EOF, or the error that ended it.
async fn slow_client<S>(stream: S) -> Result<usize, (usize, std::io::Error)>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rx, mut tx) = tokio::io::split(stream);
    let sender = tokio::spawn(async move {
        let mut request = b"GET reply\n".to_vec();
        request.extend(std::iter::repeat_n(b'x', EXTRA));
        // The server may stop reading: this can fail or stall, it does not matter.
        let _ = tx.write_all(&request).await;
        tx
    });
    let mut got = 0;
    let mut buf = vec![0; 16 * 1024];
    loop {
        // Slow enough that the server closes with reply bytes still in flight.
        tokio::time::sleep(Duration::from_millis(2)).await;
        match rx.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                assert!(buf[..n].iter().all(|&b| b == b'r'), "reply bytes corrupted");
                got += n;
            }
            Err(e) => return Err((got, e)),
        }
    }
    sender.abort();
    Ok(got)
}

/// A listener on 127.0.0.1 and a client connected to it (not yet accepted).
async fn listener_and_client() -> (TcpListener, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    (listener, client)
}

/// A connected pair over 127.0.0.1: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let (listener, client) = listener_and_client().await;
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

/// Waits for the slow client and checks it got the whole reply, then EOF.
async fn assert_whole_reply(
    client: tokio::task::JoinHandle<Result<usize, (usize, std::io::Error)>>,
) {
    let got = within(client).await.expect("client task");
    assert_eq!(
        got.map_err(|(n, e)| format!("{e} after {n} bytes")),
        Ok(REPLY)
    );
}

async fn framed_server_replies_then_closes(server: Channel) {
    let mut framed = server.framed(Framing::Lines);
    assert_eq!(
        within(framed.read()).await.expect("request").as_deref(),
        Some(&b"GET reply\n"[..])
    );
    within(framed.write(vec![b'r'; REPLY]))
        .await
        .expect("reply");
    within(framed.close()).await.expect("graceful close");
    assert_eq!(framed.fd(), None, "close releases the fd");
    drop(framed);
}

#[tokio::test]
async fn framed_close_after_a_large_reply_loses_nothing_over_tcp() {
    let (client, server) = tcp_pair().await;
    let client = tokio::spawn(slow_client(client));
    framed_server_replies_then_closes(Channel::from(server)).await;
    assert_whole_reply(client).await;
}

#[tokio::test]
async fn framed_close_after_a_large_reply_loses_nothing_over_unix() {
    let (_dir, path) = support::socket_path("linger.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let client = UnixStream::connect(&path).await.expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    let client = tokio::spawn(slow_client(client));
    framed_server_replies_then_closes(Channel::from(server)).await;
    assert_whole_reply(client).await;
}

/// A poller server that answers the request line with the reply and
/// closes; `close_all` afterwards (if `then_close_all`) or right away.
async fn poller_server(listener: TcpListener, close_all_at_once: bool) {
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    loop {
        match within(poller.next()).await.expect("poller ended") {
            Event::Accepted { .. } => {}
            Event::Data { id, data } => {
                assert_eq!(&data[..], b"GET reply\n");
                poller
                    .write(id, vec![b'r'; REPLY])
                    .expect("queue the reply");
                if close_all_at_once {
                    break;
                }
                poller.close(id).expect("close");
            }
            Event::Closed { error, .. } => {
                assert!(error.is_none(), "{error:?}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Waits for closing channels, lingering ones included; then the fds go.
    within(poller.close_all()).await;
    drop(poller);
}

#[tokio::test]
async fn poller_close_after_a_large_reply_loses_nothing() {
    let (listener, client) = listener_and_client().await;
    let client = tokio::spawn(slow_client(client));
    poller_server(listener, false).await;
    assert_whole_reply(client).await;
}

#[tokio::test]
async fn poller_close_all_after_a_large_reply_loses_nothing() {
    let (listener, client) = listener_and_client().await;
    let client = tokio::spawn(slow_client(client));
    poller_server(listener, true).await;
    assert_whole_reply(client).await;
}

#[tokio::test]
async fn linger_ends_at_once_when_the_peer_closes() {
    let (mut client, server) = tcp_pair().await;
    let mut framed = Channel::from(server).framed(Framing::Lines);
    framed.set_linger(Duration::from_secs(30));
    let peer = tokio::spawn(async move {
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.expect("read to EOF");
        drop(client);
        all
    });
    framed.write(b"bye\n").await.expect("write");
    let started = Instant::now();
    within(framed.close()).await.expect("close");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "close took {:?}",
        started.elapsed()
    );
    assert_eq!(within(peer).await.expect("peer"), b"bye\n");
}

#[tokio::test]
async fn linger_ends_after_the_linger_time_with_a_quiet_peer() {
    let (mut client, server) = tcp_pair().await;
    let mut framed = Channel::from(server).framed(Framing::Lines);
    framed.set_linger(Duration::from_millis(300));
    let started = Instant::now();
    within(framed.close()).await.expect("close");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "close took {took:?}"
    );
    // Released: the quiet peer reads EOF, and its writes then fail.
    let mut buf = [0; 8];
    assert_eq!(within(client.read(&mut buf)).await.expect("read"), 0);
    let mut failed = false;
    for _ in 0..100 {
        if client.write_all(b"late\n").await.is_err() {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(failed, "writes to a released socket must fail");
}

#[tokio::test]
async fn linger_is_bounded_by_the_close_timeout_against_a_flooding_peer() {
    let (client, server) = tcp_pair().await;
    let flood = tokio::spawn(async move {
        let mut client = client;
        let chunk = vec![b'f'; 64 * 1024];
        while client.write_all(&chunk).await.is_ok() {}
    });
    let mut framed = Channel::from(server).framed(Framing::Bytes);
    framed.set_close_timeout(Duration::from_millis(500));
    let started = Instant::now();
    within(framed.close())
        .await
        .expect("the write side was shut: the close itself succeeded");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "close took {took:?}"
    );
    // Released: the flood now fails.
    within(flood)
        .await
        .expect("flooder ends once the socket is gone");
}

/// A callback-server handler that answers the request with the reply and closes.
struct ReplyThenClose;

impl Handler for ReplyThenClose {
    async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
        assert_eq!(&line[..], b"GET reply\n");
        conn.write(vec![b'r'; REPLY]).expect("queue the reply");
        conn.close();
    }
}

#[tokio::test]
async fn handler_server_close_after_a_large_reply_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = serve(listener, Framing::Lines, |_: &PeerAddr| ReplyThenClose);
    let handle = server.handle();
    let running = tokio::spawn(server.run());
    let client = TcpStream::connect(addr).await.expect("connect");
    let got = within(slow_client(client)).await;
    handle.shutdown();
    within(running).await.expect("server task");
    assert_eq!(
        got.map_err(|(n, e)| format!("{e} after {n} bytes")),
        Ok(REPLY)
    );
}
