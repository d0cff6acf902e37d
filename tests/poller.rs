//! The Poller: the seed's behaviours, servers, writes and flow control,
//! endings, fairness and scale.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{Channel, ChannelId, Error, Event, Framing, PeerAddr, Poller};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The next event, failing the test if none comes in time.
async fn next(poller: &mut Poller) -> Event {
    within(poller.next()).await.expect("poller ended")
}

#[track_caller]
fn data(event: Event) -> (ChannelId, Bytes) {
    match event {
        Event::Data { id, data } => (id, data),
        other => panic!("expected Data, got {other:?}"),
    }
}

#[tokio::test]
async fn one_event_per_line_in_order_then_closed() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    peer.put("one\ntwo\nthree");
    peer.close();
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"one\n"))
    );
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"two\n"))
    );
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"three"))
    );
    match next(&mut poller).await {
        Event::Closed {
            id: closed,
            error: None,
        } => assert_eq!(closed, id),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(poller.len(), 0);
    assert!(matches!(poller.write(id, "late\n"), Err(Error::Closed)));
}

#[tokio::test]
async fn empty_poller_is_pending_not_ended() {
    let mut poller = Poller::new(Framing::Lines);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), poller.next())
            .await
            .is_err()
    );
    assert!(poller
        .poll(Some(Duration::from_millis(10)))
        .await
        .is_empty());
}

#[tokio::test]
async fn unregister_unknown_is_silent_and_returns_the_channel() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let framed = poller.unregister(id).expect("was registered");
    assert!(poller.unregister(id).is_none());
    assert_eq!(poller.len(), 0);
    // The channel still works on its own, and the poller no longer reads it.
    peer.put("mine\n");
    let mut framed = framed;
    assert_eq!(
        within(framed.read()).await.unwrap().as_deref(),
        Some(&b"mine\n"[..])
    );
    assert!(poller
        .poll(Some(Duration::from_millis(20)))
        .await
        .is_empty());
}

#[tokio::test]
async fn events_of_many_channels_keep_per_channel_order() {
    let mut poller = Poller::new(Framing::Lines);
    let mut peers = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..10 {
        let (channel, peer) = Channel::test();
        ids.push(poller.register(channel.framed(Framing::Lines)));
        peers.push(peer);
    }
    for (n, peer) in peers.iter_mut().enumerate() {
        for i in 0..100 {
            peer.put(format!("{n}:{i}\n"));
        }
        peer.close();
    }
    let mut seen: HashMap<ChannelId, Vec<String>> = HashMap::new();
    let mut closed = 0;
    while closed < 10 {
        match next(&mut poller).await {
            Event::Data { id, data } => seen
                .entry(id)
                .or_default()
                .push(String::from_utf8(data.to_vec()).unwrap()),
            Event::Closed { error: None, .. } => closed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let expected: Vec<String> = (0..100).map(|i| format!("{n}:{i}\n")).collect();
        assert_eq!(seen[id], expected);
    }
}

#[tokio::test]
async fn batch_poll_returns_everything_ready() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    peer.put("a\nb\nc\n");
    let batch = within(poller.poll(None)).await;
    let frames: Vec<(ChannelId, Bytes)> = batch.into_iter().map(data).collect();
    assert_eq!(
        frames,
        vec![
            (id, Bytes::from_static(b"a\n")),
            (id, Bytes::from_static(b"b\n")),
            (id, Bytes::from_static(b"c\n"))
        ]
    );
    assert!(poller
        .poll(Some(Duration::from_millis(10)))
        .await
        .is_empty());
}

#[tokio::test]
async fn tcp_server_accepts_announces_then_delivers() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(listener);
    let mut client = TcpStream::connect(addr).await?;
    let client_addr = client.local_addr()?;
    client.write_all(b"hello\n").await?;
    let id = match next(&mut poller).await {
        Event::Accepted {
            server: s,
            id,
            peer,
        } => {
            assert_eq!(s, server);
            assert_eq!(peer, PeerAddr::Tcp(client_addr));
            id
        }
        other => panic!("expected Accepted first, got {other:?}"),
    };
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"hello\n"))
    );
    poller.write(id, "welcome\n")?;
    let mut buf = [0u8; 8];
    within(async {
        loop {
            tokio::select! {
                r = client.read_exact(&mut buf) => { r?; break; }
                _ = poller.next() => {}
            }
        }
        std::io::Result::Ok(())
    })
    .await?;
    assert_eq!(&buf, b"welcome\n");
    Ok(())
}

#[tokio::test]
async fn unix_server_accepts_and_delivers() -> iochannels::Result<()> {
    let (_dir, path) = support::socket_path("poller.sock");
    let listener = UnixListener::bind(&path)?;
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let mut client = UnixStream::connect(&path).await?;
    client.write_all(b"over unix\n").await?;
    client.shutdown().await?;
    let id = match next(&mut poller).await {
        Event::Accepted {
            id,
            peer: PeerAddr::Unix(None),
            ..
        } => id,
        other => panic!("expected Accepted, got {other:?}"),
    };
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"over unix\n"))
    );
    assert!(matches!(next(&mut poller).await, Event::Closed { id: c, error: None } if c == id));
    Ok(())
}

#[tokio::test]
async fn remove_server_stops_accepting() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut poller = Poller::new(Framing::Lines);
    let server = poller.add_server(listener);
    assert!(poller.remove_server(server));
    assert!(!poller.remove_server(server));
    Ok(())
}

#[tokio::test]
async fn close_sends_queued_writes_first_then_closed() -> iochannels::Result<()> {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    poller.write(id, "first\n")?;
    poller.write(id, Bytes::from_static(b"second\n"))?;
    poller.close(id)?;
    assert!(matches!(poller.write(id, "refused\n"), Err(Error::Closed)));
    match next(&mut poller).await {
        Event::Closed { id: c, error: None } => assert_eq!(c, id),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(peer.get(), "first\nsecond\n");
    assert_eq!(poller.len(), 0);
    Ok(())
}

#[tokio::test]
async fn reply_to_last_line_before_peer_eof_still_goes_out() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"question\n").await?;
    client.shutdown().await?;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.map(|_| got)
    });
    loop {
        match next(&mut poller).await {
            Event::Data { id, data } => {
                poller.write(id, Bytes::from([&b"answer to "[..], &data].concat()))?
            }
            Event::Closed { error: None, .. } => break,
            Event::Accepted { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The reply is flushed after Closed, while the poller is polled.
    let got = within(async {
        while !reader.is_finished() {
            tokio::select! {
                _ = poller.next() => {}
                _ = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
        reader.await
    })
    .await
    .expect("reader task")?;
    assert_eq!(got, b"answer to question\n");
    Ok(())
}

#[tokio::test]
async fn close_all_flushes_closes_and_ends() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let mut peers = Vec::new();
    for i in 0..5 {
        let (channel, peer) = Channel::test();
        let id = poller.register(channel.framed(Framing::Lines));
        poller.write(id, format!("bye {i}\n"))?;
        peers.push(peer);
    }
    peers[0].put("unread\n");
    within(poller.close_all()).await;
    assert_eq!(poller.len(), 0);
    for (i, peer) in peers.iter_mut().enumerate() {
        assert_eq!(peer.get(), format!("bye {i}\n"));
    }
    let mut closed = 0;
    while let Some(event) = within(poller.next()).await {
        match event {
            Event::Closed { error: None, .. } => closed += 1,
            other => panic!("only Closed may follow close_all, got {other:?}"),
        }
    }
    assert_eq!(closed, 5);
    Ok(())
}

#[tokio::test]
async fn overlong_line_closes_only_that_channel_with_the_error() {
    let mut poller = Poller::new(Framing::Lines);
    let (bad, mut bad_peer) = Channel::test();
    let (good, mut good_peer) = Channel::test();
    let mut bad = bad.framed(Framing::Lines);
    bad.set_max_frame_len(16);
    let bad_id = poller.register(bad);
    let good_id = poller.register(good.framed(Framing::Lines));
    bad_peer.put("this line is much longer than sixteen bytes\n");
    good_peer.put("fine\n");
    let mut got_error = false;
    let mut got_good = false;
    while !(got_error && got_good) {
        match next(&mut poller).await {
            Event::Closed {
                id,
                error: Some(Error::FrameTooLong { limit: 16 }),
            } => {
                assert_eq!(id, bad_id);
                got_error = true;
            }
            Event::Data { id, data } => {
                assert_eq!((id, &data[..]), (good_id, &b"fine\n"[..]));
                got_good = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    good_peer.put("still here\n");
    assert_eq!(
        data(next(&mut poller).await),
        (good_id, Bytes::from_static(b"still here\n"))
    );
}

#[tokio::test]
async fn peer_reset_is_closed_with_error_and_others_go_on() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let doomed = TcpStream::connect(addr).await?;
    let mut steady = TcpStream::connect(addr).await?;
    let mut ids = Vec::new();
    while ids.len() < 2 {
        if let Event::Accepted { id, .. } = next(&mut poller).await {
            ids.push(id);
        }
    }
    // Unread data in the poller's direction and linger 0 make the close a reset.
    let doomed_local = doomed.local_addr()?;
    for id in &ids {
        poller.write(*id, "x\n")?;
    }
    let _ = poller.poll(Some(Duration::from_millis(20))).await;
    doomed.set_zero_linger()?;
    drop(doomed);
    let mut reset_seen = false;
    while !reset_seen {
        if let Event::Closed { error, .. } = next(&mut poller).await {
            match error {
                Some(Error::Io(e)) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
                    assert!(e.to_string().contains(&doomed_local.to_string()), "{e}");
                    reset_seen = true;
                }
                other => panic!("expected a reset, got {other:?}"),
            }
        }
    }
    steady.write_all(b"after the reset\n").await?;
    loop {
        if let Event::Data { data, .. } = next(&mut poller).await {
            assert_eq!(&data[..], b"after the reset\n");
            break;
        }
    }
    Ok(())
}

#[tokio::test]
async fn write_to_a_channel_without_write_side_is_refused_and_reading_goes_on(
) -> iochannels::Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register(Channel::pipe(Some(reader.into()), None)?.framed(Framing::Lines));
    assert!(matches!(
        poller.write(id, "nowhere\n"),
        Err(Error::NotWritable)
    ));
    let mut writer = std::fs::File::from(std::os::fd::OwnedFd::from(writer));
    std::io::Write::write_all(&mut writer, b"still read\n")?;
    drop(writer);
    assert_eq!(
        data(next(&mut poller).await),
        (id, Bytes::from_static(b"still read\n"))
    );
    match next(&mut poller).await {
        Event::Closed { id: closed, error } => {
            assert_eq!(closed, id);
            assert!(
                error.is_none(),
                "a refused write must not end the channel: {error:?}"
            );
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn busy_channel_does_not_starve_others() {
    let mut poller = Poller::new(Framing::Lines);
    let (busy, mut busy_peer) = Channel::test();
    let (quiet, mut quiet_peer) = Channel::test();
    let busy_id = poller.register(busy.framed(Framing::Lines));
    let quiet_id = poller.register(quiet.framed(Framing::Lines));
    busy_peer.put("b\n".repeat(100_000));
    quiet_peer.put("q\n");
    let mut before_quiet = 0;
    loop {
        let (id, _) = data(next(&mut poller).await);
        if id == quiet_id {
            break;
        }
        assert_eq!(id, busy_id);
        before_quiet += 1;
    }
    assert!(
        before_quiet <= 128,
        "quiet channel waited behind {before_quiet} busy frames"
    );
}

/// The poller spends tokio's cooperative budget per turn (and its reads
/// per read), not per event: a burst of buffered frames goes out in runs
/// far longer than the 128 events a per-event budget would allow, yet the
/// task still yields to the others long before the burst ends.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_yields_to_other_tasks_per_turn_not_per_event() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const LINES: usize = 100_000;
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    peer.put("b\n".repeat(LINES));
    let ran = Arc::new(AtomicBool::new(false));
    let other = tokio::spawn({
        let ran = Arc::clone(&ran);
        async move { ran.store(true, Ordering::SeqCst) }
    });
    let mut before_other = 0;
    while !ran.load(Ordering::SeqCst) {
        assert_eq!(
            data(next(&mut poller).await),
            (id, Bytes::from_static(b"b\n"))
        );
        before_other += 1;
        assert!(before_other < LINES, "the poller never yielded");
    }
    assert!(
        before_other > 128,
        "the poller yielded after {before_other} events: budget spent per event"
    );
    for _ in before_other..LINES {
        assert_eq!(
            data(next(&mut poller).await),
            (id, Bytes::from_static(b"b\n"))
        );
    }
    other.await.expect("the other task");
}

#[tokio::test]
async fn queue_limit_refuses_writes_to_a_peer_that_does_not_read() -> iochannels::Result<()> {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(1024, 4096, 64 * 1024);
    let (channel, _peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let chunk = Bytes::from(vec![b'w'; 1024]);
    let mut accepted = 0usize;
    let refused = loop {
        match poller.write(id, chunk.clone()) {
            Ok(()) => accepted += 1024,
            Err(e) => break e,
        }
        let _ = poller.poll(Some(Duration::from_millis(1))).await;
        assert!(accepted < 10 * 1024 * 1024, "writes never refused");
    };
    assert!(
        matches!(refused, Error::QueueFull { limit: 65536 }),
        "{refused:?}"
    );
    // What was accepted is either in the duplex (64 KiB) or queued (<= 64 KiB).
    assert!(accepted <= 64 * 1024 + 64 * 1024 + 1024);
    Ok(())
}

#[test]
fn poller_is_send_unpin_debug() {
    fn check<T: Send + Unpin + std::fmt::Debug>() {}
    check::<Poller>();
    check::<Event>();
    check::<PeerAddr>();
    fn id<T: Copy + Eq + std::hash::Hash + std::fmt::Debug>() {}
    id::<ChannelId>();
    id::<iochannels::ServerId>();
}

#[tokio::test]
async fn closed_expected_tells_local_closes_from_the_peers() -> iochannels::Result<()> {
    let mut poller = Poller::new(Framing::Lines);
    let (a, _pa) = Channel::test();
    let (b, mut pb) = Channel::test();
    let (c, mut pc) = Channel::test();
    let (d, _pd) = Channel::test();
    let mut c = c.framed(Framing::Lines);
    c.set_max_frame_len(4);
    let closed_by_us = poller.register(a.framed(Framing::Lines));
    let peer_ended = poller.register(b.framed(Framing::Lines));
    let failed = poller.register(c);
    let aborted = poller.register(d.framed(Framing::Lines));
    poller.close(closed_by_us)?;
    poller.abort(aborted)?;
    pb.close();
    pc.put("too long\n");
    let mut seen = HashMap::new();
    while seen.len() < 4 {
        if let Event::Closed { id, .. } = next(&mut poller).await {
            seen.insert(id, poller.closed_expected(id));
        }
    }
    assert_eq!(seen[&closed_by_us], Some(true));
    assert_eq!(seen[&aborted], Some(true));
    assert_eq!(seen[&peer_ended], Some(false));
    assert_eq!(seen[&failed], Some(false));
    // Only the Closed just yielded is known.
    let last = poller.closed_expected(closed_by_us).is_some() as u8
        + poller.closed_expected(aborted).is_some() as u8
        + poller.closed_expected(peer_ended).is_some() as u8
        + poller.closed_expected(failed).is_some() as u8;
    assert_eq!(last, 1);
    Ok(())
}

#[tokio::test]
async fn closed_expected_after_close_all() -> iochannels::Result<()> {
    let mut poller = Poller::new(Framing::Lines);
    let (talker, mut pt) = Channel::test();
    let (open, _po) = Channel::test();
    let (ended, mut pe) = Channel::test();
    let talker = poller.register(talker.framed(Framing::Lines));
    let open = poller.register(open.framed(Framing::Lines));
    let ended = poller.register(ended.framed(Framing::Lines));
    pt.put("hi\n");
    pe.close();
    // The talker's Data is yielded. `ended`'s peer closed, but frames (and
    // the end) are only read as they are yielded: close_all ends it first,
    // so its end is a local one too.
    assert!(matches!(next(&mut poller).await, Event::Data { id, .. } if id == talker));
    within(poller.close_all()).await;
    let mut seen = HashMap::new();
    while let Some(event) = within(poller.next()).await {
        if let Event::Closed { id, .. } = event {
            seen.insert(id, poller.closed_expected(id));
        }
    }
    assert_eq!(seen[&talker], Some(true));
    assert_eq!(seen[&open], Some(true));
    assert_eq!(seen[&ended], Some(true));
    Ok(())
}

#[tokio::test]
async fn a_failed_reply_does_not_drop_frames_already_received() -> iochannels::Result<()> {
    // The client sends 300 lines and closes at once; replies to it then
    // fail (it answers them with a reset), but all 300 lines had arrived.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::Lines);
    poller.add_server(listener);
    let mut client = TcpStream::connect(addr).await?;
    let mut lines = Vec::new();
    for i in 0..300 {
        lines.extend_from_slice(format!("line {i:03} {}\n", "x".repeat(100)).as_bytes());
    }
    client.write_all(&lines).await?;
    drop(client);
    let mut got = 0;
    let error = loop {
        match next(&mut poller).await {
            Event::Accepted { .. } => {}
            Event::Data { id, data } => {
                assert_eq!(&data[..8], format!("line {got:03}").as_bytes());
                got += 1;
                let _ = poller.write(id, vec![b'r'; 64 * 1024]);
            }
            Event::Closed { error, .. } => break error,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        got, 300,
        "every line received must be yielded (closed with {error:?})"
    );
    Ok(())
}
