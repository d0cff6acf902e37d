//! Ending a FramedChannel: graceful close with a deadline, abort, half-close,
//! how it ended (closed_expected), readable/writable, and writes queued
//! before a connection exists (Connecting).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use iochannels::{Channel, Connecting, Error, Framing};
use support::within;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn graceful_close_gives_up_on_a_peer_that_never_reads() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut framed = Channel::connect_tcp(listener.local_addr()?)
        .await?
        .framed(Framing::Bytes);
    let (_never_reads, _) = listener.accept().await?;
    framed.set_queue_limit(64 * 1024 * 1024);
    framed.queue(vec![0u8; 32 * 1024 * 1024])?;
    framed.set_close_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let outcome = within(framed.close()).await;
    let took = started.elapsed();
    match outcome {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            let msg = e.to_string();
            assert!(msg.contains("bytes unsent"), "{msg}");
            assert!(msg.contains("tcp 127.0.0.1:"), "{msg}");
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(took < Duration::from_secs(5), "close took {took:?}");
    assert!(framed.is_closed());
    assert!(matches!(framed.write(b"x").await, Err(Error::Closed)));
    assert_eq!(framed.closed_expected(), Some(true));
    Ok(())
}

#[tokio::test]
async fn abort_drops_queued_output_and_sends_eof() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut framed = Channel::connect_tcp(listener.local_addr()?)
        .await?
        .framed(Framing::Lines);
    let (mut server, _) = listener.accept().await?;
    framed.write(b"sent\n").await?;
    framed.feed(Bytes::from_static(b"dropped")).await?;
    framed.abort();
    let mut got = Vec::new();
    within(server.read_to_end(&mut got)).await?;
    assert_eq!(got, b"sent\n");
    assert!(matches!(framed.read().await, Err(Error::Closed)));
    Ok(())
}

#[tokio::test]
async fn closed_expected_tells_local_from_remote_endings() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut local = channel.framed(Framing::Lines);
    assert_eq!(local.closed_expected(), None);
    local.close().await?;
    assert_eq!(local.closed_expected(), Some(true));

    let (channel, mut peer2) = Channel::test();
    let mut remote = channel.framed(Framing::Lines);
    peer2.put("last\n");
    peer2.close();
    assert_eq!(
        within(remote.read()).await?.as_deref(),
        Some(&b"last\n"[..])
    );
    assert_eq!(
        remote.closed_expected(),
        None,
        "not ended while frames remain"
    );
    assert_eq!(within(remote.read()).await?, None);
    assert_eq!(remote.closed_expected(), Some(false));
    // Closing afterwards does not make the peer's ending "expected".
    remote.close().await?;
    assert_eq!(remote.closed_expected(), Some(false));
    let _ = peer.get();
    Ok(())
}

#[tokio::test]
async fn readable_and_writable_follow_the_channel_life() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    assert!(framed.is_readable() && framed.is_writable());
    peer.put("buffered\n");
    peer.close();
    framed.shutdown_write().await?;
    assert!(!framed.is_writable());
    assert!(
        framed.is_readable(),
        "input ended but a frame is still there"
    );
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"buffered\n"[..])
    );
    assert_eq!(within(framed.read()).await?, None);
    assert!(!framed.is_readable());

    let (r, _w) = std::io::pipe()?;
    let faucet_only = Channel::pipe(Some(r.into()), None)?.framed(Framing::Lines);
    assert!(faucet_only.is_readable());
    assert!(!faucet_only.is_writable());
    Ok(())
}

#[tokio::test]
async fn writes_queued_while_connecting_go_out_in_order_once_connected() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut connecting = Connecting::new(Channel::connect_tcp(addr), Framing::Lines);
    connecting.queue(b"one\n")?;
    connecting.queue(b"two\n")?;
    assert_eq!(connecting.queued_len(), 8);
    let mut client = within(connecting).await?;
    client.write(b"three\n").await?;
    client.close().await?;
    let (mut server, _) = listener.accept().await?;
    let mut got = Vec::new();
    within(server.read_to_end(&mut got)).await?;
    assert_eq!(got, b"one\ntwo\nthree\n");
    Ok(())
}

#[tokio::test]
async fn connecting_queue_is_limited_and_connect_errors_name_the_address() -> iochannels::Result<()>
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    let mut connecting = Connecting::new(Channel::connect_tcp(addr), Framing::Lines);
    connecting.set_queue_limit(4);
    connecting.queue(b"1234")?;
    assert!(matches!(
        connecting.queue(b"5"),
        Err(Error::QueueFull { limit: 4 })
    ));
    match within(connecting).await {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
        }
        other => panic!("expected a refused connect, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn queue_refuses_past_its_limit_and_after_close() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Bytes);
    framed.set_queue_limit(10);
    framed.queue(b"0123456789")?;
    assert!(matches!(
        framed.queue(b"!"),
        Err(Error::QueueFull { limit: 10 })
    ));
    framed.write(b"+direct").await?;
    assert_eq!(peer.get(), "0123456789+direct");
    framed.close().await?;
    assert!(matches!(framed.queue(b"late"), Err(Error::Closed)));
    Ok(())
}

#[tokio::test]
async fn close_releases_a_pipe_so_the_peer_reads_eof_and_its_writes_fail() -> iochannels::Result<()>
{
    // Our channel reads `their_out` and writes `their_in`.
    let (our_in, their_out) = std::io::pipe()?;
    let (their_in, our_out) = std::io::pipe()?;
    let mut framed =
        Channel::pipe(Some(our_in.into()), Some(our_out.into()))?.framed(Framing::Lines);
    assert!(framed.fd().is_some());
    within(framed.close()).await?;
    assert_eq!(framed.fd(), None, "a closed channel holds no fd");
    let mut their_in = std::fs::File::from(std::os::fd::OwnedFd::from(their_in));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut their_in, &mut rest)?;
    assert!(rest.is_empty());
    let mut their_out = std::fs::File::from(std::os::fd::OwnedFd::from(their_out));
    let write = std::io::Write::write_all(&mut their_out, b"anyone there?\n");
    assert_eq!(
        write.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::BrokenPipe)
    );
    // What into_inner gives after a close: the end at once, failing writes.
    let mut inner = framed.into_inner();
    assert_eq!(inner.fd(), None);
    let mut buf = [0u8; 4];
    assert_eq!(within(inner.read(&mut buf)).await?, 0);
    let wrote = within(tokio::io::AsyncWriteExt::write(&mut inner, b"x")).await;
    assert_eq!(
        wrote.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::BrokenPipe)
    );
    Ok(())
}

#[tokio::test]
async fn close_releases_a_socket_so_the_peers_writes_fail() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut framed = Channel::connect_tcp(listener.local_addr()?)
        .await?
        .framed(Framing::Lines);
    let (mut peer, _) = listener.accept().await?;
    framed.set_linger(Duration::from_millis(50));
    within(framed.close()).await?;
    assert_eq!(framed.fd(), None);
    let mut buf = [0u8; 8];
    assert_eq!(within(peer.read(&mut buf)).await?, 0, "the peer reads EOF");
    let mut failed = None;
    for _ in 0..100 {
        if let Err(e) = tokio::io::AsyncWriteExt::write_all(&mut peer, b"late\n").await {
            failed = Some(e.kind());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        matches!(
            failed,
            Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        ),
        "the peer's writes must fail once we closed: {failed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn close_of_a_process_channel_keeps_the_child_to_wait_on() -> iochannels::Result<()> {
    let mut framed =
        Channel::spawn(&mut tokio::process::Command::new("cat"))?.framed(Framing::Lines);
    within(framed.close()).await?;
    assert_eq!(framed.fd(), None);
    match framed.into_inner() {
        Channel::Process(mut cat) => {
            // cat saw EOF on its stdin and exits by itself.
            let status = within(cat.wait()).await?;
            assert!(status.success(), "{status:?}");
        }
        other => panic!("expected the process back, got {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn writes_queued_while_connecting_flushes_its_queue_are_not_lost() {
    use futures::FutureExt;
    let (channel, mut peer) = Channel::test();
    let mut connecting = Connecting::new(async move { Ok(channel) }, Framing::Bytes);
    // More than the test channel's 64 KiB: the flush cannot finish at once.
    connecting.queue(vec![b'a'; 200_000]).expect("queue");
    assert!(
        (&mut connecting).now_or_never().is_none(),
        "the flush should be pending"
    );
    connecting.queue(b"TAIL").expect("queue while flushing");
    assert!(connecting.queued_len() > 4, "the tail waits with the rest");
    let mut got = Vec::new();
    let framed = within(async {
        loop {
            got.extend_from_slice(&peer.get());
            if let Some(done) = (&mut connecting).now_or_never() {
                break done;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("connected");
    drop(framed);
    got.extend_from_slice(&peer.get());
    assert_eq!(got.len(), 200_004);
    assert!(got.ends_with(b"TAIL"));
}
