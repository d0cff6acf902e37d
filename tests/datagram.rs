//! Datagram channels: UDP and Unix datagram sockets, whole datagrams with
//! their peer addresses, connected mode, over-long datagrams, refused
//! connected sockets, wrong-family addresses and socket files.

mod support;

use std::future::poll_fn;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::task::Poll;

use futures::StreamExt;
use iochannels::{DatagramAddr, DatagramChannel, Error, DEFAULT_MAX_DATAGRAM_LEN};
use support::within;

/// Distinct, position-dependent bytes: a split or merged datagram shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn udp() -> DatagramChannel {
    within(DatagramChannel::bind_udp("127.0.0.1:0"))
        .await
        .expect("binding UDP on 127.0.0.1")
}

fn io_kind(result: iochannels::Result<impl std::fmt::Debug>) -> (ErrorKind, String) {
    match result {
        Err(Error::Io(e)) => (e.kind(), e.to_string()),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[tokio::test]
async fn udp_send_to_recv_from_exact_bytes_and_sender() -> iochannels::Result<()> {
    let mut server = udp().await;
    let mut client = udp().await;
    let server_addr = server.local_addr()?;
    let client_addr = client.local_addr()?;
    assert!(matches!(client_addr, DatagramAddr::Udp(a) if a.ip().is_loopback() && a.port() != 0));

    within(client.send_to(b"hello, server", &server_addr)).await?;
    let (data, from) = within(server.recv_from()).await?;
    assert_eq!(&data[..], b"hello, server");
    assert_eq!(from, client_addr);

    within(server.send_to(b"hello, client", &from)).await?;
    let (data, from) = within(client.recv_from()).await?;
    assert_eq!(&data[..], b"hello, client");
    assert_eq!(from, server_addr);
    Ok(())
}

#[tokio::test]
async fn datagrams_of_varied_sizes_arrive_unmerged_and_unsplit() -> iochannels::Result<()> {
    let mut server = udp().await;
    let mut client = udp().await;
    let to = server.local_addr()?;
    // Each round stays far below the default receive buffer, so loopback drops nothing.
    let sizes = [0usize, 1, 1000, 65_507, 1000, 1, 0];
    for round in 0..5u8 {
        let sent: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| pattern(n, round.wrapping_mul(7).wrapping_add(i as u8)))
            .collect();
        for datagram in &sent {
            within(client.send_to(datagram, &to)).await?;
        }
        for expected in &sent {
            let (data, from) = within(server.recv_from()).await?;
            assert_eq!(data.len(), expected.len(), "round {round}");
            assert_eq!(&data[..], &expected[..], "round {round}");
            assert_eq!(from, client.local_addr()?);
        }
    }
    Ok(())
}

#[tokio::test]
async fn many_small_datagrams_stay_separate() -> iochannels::Result<()> {
    let (mut a, mut b) = DatagramChannel::unix_pair()?;
    for i in 0..200u32 {
        within(a.send(i.to_be_bytes())).await?;
    }
    for i in 0..200u32 {
        assert_eq!(&within(b.recv()).await?[..], &i.to_be_bytes()[..]);
    }
    Ok(())
}

#[tokio::test]
async fn udp_connected_mode_send_recv_and_filtering() -> iochannels::Result<()> {
    let mut a = udp().await;
    let mut b = udp().await;
    let mut stranger = udp().await;
    let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
    within(a.connect(&b_addr)).await?;
    within(b.connect(&a_addr)).await?;
    assert_eq!(a.peer_addr()?, b_addr);
    assert_eq!(b.peer_addr()?, a_addr);

    within(a.send(b"to b")).await?;
    assert_eq!(&within(b.recv()).await?[..], b"to b");

    // A connected socket only hears its peer: the stranger's datagram is dropped.
    within(stranger.send_to(b"from a stranger", &a_addr)).await?;
    within(b.send(b"to a")).await?;
    let (data, from) = within(a.recv_from()).await?;
    assert_eq!(&data[..], b"to a");
    assert_eq!(from, b_addr);
    Ok(())
}

#[tokio::test]
async fn unix_bound_path_and_unbound_sender() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("server.sock");
    let mut server = DatagramChannel::bind_unix(&path)?;
    assert_eq!(server.local_addr()?, DatagramAddr::from(path.as_path()));

    let mut anonymous = DatagramChannel::unbound_unix()?;
    within(anonymous.send_to(b"who am i", path.as_path())).await?;
    let (data, from) = within(server.recv_from()).await?;
    assert_eq!(&data[..], b"who am i");
    assert_eq!(from, DatagramAddr::Unix(None));

    // A named client can be answered at its path.
    let (_dir2, client_path) = support::socket_path("client.sock");
    let mut client = DatagramChannel::bind_unix(&client_path)?;
    within(client.send_to(b"ping", path.as_path())).await?;
    let (data, from) = within(server.recv_from()).await?;
    assert_eq!(&data[..], b"ping");
    assert_eq!(from, DatagramAddr::from(client_path.clone()));
    within(server.send_to(b"pong", &from)).await?;
    let (data, from) = within(client.recv_from()).await?;
    assert_eq!(&data[..], b"pong");
    assert_eq!(from.as_path(), Some(path.as_path()));

    // Connected to the server's path, the unbound socket uses send/recv.
    within(anonymous.connect(path.as_path())).await?;
    assert_eq!(anonymous.peer_addr()?, DatagramAddr::from(path.clone()));
    within(anonymous.send(b"connected")).await?;
    assert_eq!(&within(server.recv()).await?[..], b"connected");
    Ok(())
}

#[tokio::test]
async fn unix_socketpair_both_ways() -> iochannels::Result<()> {
    let (mut a, mut b) = DatagramChannel::unix_pair()?;
    assert_eq!(a.peer_addr()?, DatagramAddr::Unix(None));
    within(a.send(b"a to b")).await?;
    within(b.send(b"b to a")).await?;
    let (data, from) = within(b.recv_from()).await?;
    assert_eq!(
        (&data[..], from),
        (&b"a to b"[..], DatagramAddr::Unix(None))
    );
    assert_eq!(&within(a.recv()).await?[..], b"b to a");

    // Unix datagrams may exceed 64 KiB: with the limit raised they arrive whole.
    b.set_max_datagram_len(100_000);
    let big = pattern(100_000, 9);
    within(a.send(&big)).await?;
    assert_eq!(&within(b.recv()).await?[..], &big[..]);
    Ok(())
}

#[tokio::test]
async fn over_long_datagram_is_reported_then_the_next_arrives_intact() -> iochannels::Result<()> {
    let mut server = udp().await;
    let mut client = udp().await;
    let to = server.local_addr()?;
    server.set_max_datagram_len(100);
    assert_eq!(server.max_datagram_len(), 100);
    for datagram in [
        pattern(101, 1),
        pattern(100, 2),
        pattern(5000, 3),
        pattern(5, 4),
    ] {
        within(client.send_to(&datagram, &to)).await?;
    }
    assert!(matches!(
        within(server.recv_from()).await,
        Err(Error::FrameTooLong { limit: 100 })
    ));
    assert_eq!(
        &within(server.recv_from()).await?.0[..],
        &pattern(100, 2)[..]
    );
    assert!(matches!(
        within(server.recv_from()).await,
        Err(Error::FrameTooLong { limit: 100 })
    ));
    assert_eq!(&within(server.recv_from()).await?.0[..], &pattern(5, 4)[..]);

    // The default limit catches a Unix datagram over 64 KiB.
    let (mut a, mut b) = DatagramChannel::unix_pair()?;
    assert_eq!(b.max_datagram_len(), DEFAULT_MAX_DATAGRAM_LEN);
    within(a.send(pattern(DEFAULT_MAX_DATAGRAM_LEN + 1, 5))).await?;
    within(a.send(pattern(DEFAULT_MAX_DATAGRAM_LEN, 6))).await?;
    assert!(matches!(
        within(b.recv()).await,
        Err(Error::FrameTooLong {
            limit: DEFAULT_MAX_DATAGRAM_LEN
        })
    ));
    assert_eq!(
        &within(b.recv()).await?[..],
        &pattern(DEFAULT_MAX_DATAGRAM_LEN, 6)[..]
    );
    Ok(())
}

async fn next(channel: &mut DatagramChannel) -> iochannels::Result<(bytes::Bytes, DatagramAddr)> {
    within(channel.next()).await.expect("the stream never ends")
}

#[tokio::test]
async fn the_stream_yields_datagrams_and_survives_errors() -> iochannels::Result<()> {
    let mut server = udp().await;
    let mut client = udp().await;
    let to = server.local_addr()?;
    let client_addr = client.local_addr()?;
    server.set_max_datagram_len(10);
    for datagram in [&b"one"[..], &b"eleven bytes"[..], &b""[..], &b"three"[..]] {
        within(client.send_to(datagram, &to)).await?;
    }
    let (data, from) = next(&mut server).await?;
    assert_eq!((&data[..], &from), (&b"one"[..], &client_addr));
    assert!(matches!(
        next(&mut server).await,
        Err(Error::FrameTooLong { limit: 10 })
    ));
    assert_eq!(&next(&mut server).await?.0[..], b"");
    assert_eq!(&next(&mut server).await?.0[..], b"three");
    server.close();
    assert!(within(server.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn wrong_family_addresses_are_invalid_input_naming_the_address() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("target.sock");
    let mut udp = udp().await;
    let (kind, message) = io_kind(within(udp.send_to(b"x", path.as_path())).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains(&path.display().to_string()), "{message}");
    let (kind, _) = io_kind(within(udp.connect(path.as_path())).await);
    assert_eq!(kind, ErrorKind::InvalidInput);

    let mut unix = DatagramChannel::unbound_unix()?;
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("an address");
    let (kind, message) = io_kind(within(unix.send_to(b"x", addr)).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("127.0.0.1:9"), "{message}");
    let (kind, message) = io_kind(within(unix.send_to(b"x", DatagramAddr::Unix(None))).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("unnamed"), "{message}");

    // Both channels still work.
    let mut peer = self::udp().await;
    within(udp.send_to(b"still fine", peer.local_addr()?)).await?;
    assert_eq!(&within(peer.recv()).await?[..], b"still fine");
    Ok(())
}

/// A loopback UDP port with nobody listening on it (bound, then released).
fn free_udp_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding a probe socket");
    socket.local_addr().expect("probe address")
}

#[tokio::test]
async fn connected_udp_refused_then_works_once_a_listener_appears() -> iochannels::Result<()> {
    let target = free_udp_port();
    let mut client = udp().await;
    within(client.connect(target)).await?;
    within(client.send(b"anyone?")).await?;
    let (kind, message) = io_kind(within(client.recv()).await);
    assert_eq!(kind, ErrorKind::ConnectionRefused);
    assert!(message.contains(&target.to_string()), "{message}");

    let mut server = DatagramChannel::from(
        within(tokio::net::UdpSocket::bind(target))
            .await
            .expect("rebinding the released port"),
    );
    within(client.send(b"now?")).await?;
    let (data, from) = within(server.recv_from()).await?;
    assert_eq!(&data[..], b"now?");
    within(server.send_to(b"yes", &from)).await?;
    assert_eq!(&within(client.recv()).await?[..], b"yes");
    Ok(())
}

#[tokio::test]
async fn a_refusal_arriving_while_a_receive_waits_wakes_it() -> iochannels::Result<()> {
    let target = free_udp_port();
    let mut client = udp().await;
    within(client.connect(target)).await?;
    // The receive waits first; only then is the datagram sent, so the ICMP
    // error arrives while the receive waits.
    let mut sent = false;
    let result = within(poll_fn(|cx| {
        let received = client.poll_recv_from(cx);
        if received.is_ready() {
            return received;
        }
        if !sent {
            match client.poll_send(cx, b"anyone?") {
                Poll::Ready(Ok(())) => sent = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }))
    .await;
    assert!(sent);
    let (kind, _) = io_kind(result);
    assert_eq!(kind, ErrorKind::ConnectionRefused);
    Ok(())
}

#[tokio::test]
async fn socket_file_is_removed_on_drop_and_close_only_while_ours() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("owned.sock");
    let channel = DatagramChannel::bind_unix(&path)?;
    assert!(path.exists());
    drop(channel);
    assert!(!path.exists());

    let mut channel = DatagramChannel::bind_unix(&path)?;
    channel.close();
    assert!(!path.exists());
    channel.close();

    // Replaced by another socket: the first channel's drop leaves it alone.
    let first = DatagramChannel::bind_unix(&path)?;
    std::fs::remove_file(&path)?;
    let second = DatagramChannel::bind_unix(&path)?;
    drop(first);
    assert!(path.exists());
    drop(second);
    assert!(!path.exists());

    // A socket handed in with From is not ours to clean up.
    let socket = tokio::net::UnixDatagram::bind(&path)?;
    drop(DatagramChannel::from(socket));
    assert!(path.exists());

    // Binding over an existing file is refused, naming the path.
    let (kind, message) = io_kind(DatagramChannel::bind_unix(&path));
    assert_eq!(kind, ErrorKind::AddrInUse);
    assert!(message.contains(&path.display().to_string()), "{message}");
    Ok(())
}

#[tokio::test]
async fn closed_channel_refuses_everything() -> iochannels::Result<()> {
    let mut channel = udp().await;
    let to = channel.local_addr()?;
    channel.close();
    assert!(channel.is_closed());
    assert_eq!(channel.fd(), None);
    assert!(matches!(
        within(channel.recv_from()).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        within(channel.send_to(b"x", &to)).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        within(channel.send(b"x")).await,
        Err(Error::Closed)
    ));
    assert!(matches!(channel.local_addr(), Err(Error::Closed)));
    assert!(matches!(
        within(channel.connect(&to)).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn poll_level_round_trip_and_fd() -> iochannels::Result<()> {
    let mut a = udp().await;
    let mut b = udp().await;
    assert!(a.fd().is_some());
    assert_ne!(a.fd(), b.fd());
    let to = b.local_addr()?;
    for i in 0..10u8 {
        within(poll_fn(|cx| a.poll_send_to(cx, &[i; 3], &to))).await?;
    }
    for i in 0..10u8 {
        let (data, from) = within(poll_fn(|cx| b.poll_recv_from(cx))).await?;
        assert_eq!(&data[..], &[i; 3]);
        assert_eq!(from, a.local_addr()?);
    }
    // Nothing queued: the poll is Pending, and the channel is still fine.
    let pending = poll_fn(|cx| Poll::Ready(b.poll_recv_from(cx).is_pending())).await;
    assert!(pending);
    Ok(())
}

#[tokio::test]
async fn udp_too_large_to_send_is_an_error_not_a_split() -> iochannels::Result<()> {
    let mut a = udp().await;
    let mut b = udp().await;
    let to = b.local_addr()?;
    let result = within(a.send_to(vec![0u8; 70_000], &to)).await;
    assert!(matches!(result, Err(Error::Io(_))), "{result:?}");
    within(a.send_to(b"after", &to)).await?;
    assert_eq!(&within(b.recv()).await?[..], b"after");
    Ok(())
}

#[test]
fn public_types_are_send_sync_unpin_debug() {
    fn check<T: Send + Sync + Unpin + std::fmt::Debug>() {}
    check::<DatagramChannel>();
    check::<DatagramAddr>();
}

#[tokio::test]
async fn unix_sender_waits_on_a_full_receiver_and_resumes() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("busy.sock");
    let mut server = DatagramChannel::bind_unix(&path)?;
    let mut sender = DatagramChannel::unbound_unix()?;
    // Far more than a receive queue holds (net.unix.max_dgram_qlen): the
    // sender has to wait for the reader, and is woken as it reads.
    const COUNT: u32 = 5_000;
    let target = path.clone();
    let sending = tokio::spawn(async move {
        for i in 0..COUNT {
            within(sender.send_to(i.to_be_bytes(), target.as_path())).await?;
        }
        iochannels::Result::<()>::Ok(())
    });
    for i in 0..COUNT {
        let (data, from) = within(server.recv_from()).await?;
        assert_eq!(&data[..], &i.to_be_bytes()[..]);
        assert_eq!(from, DatagramAddr::Unix(None));
    }
    within(sending).await.expect("sender task")?;
    Ok(())
}
