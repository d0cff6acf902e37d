//! What the poller does on its own is observable: `Event::Flushed` when a
//! channel's output is all sent (asked for with `notify_flushed`), and
//! flow-control pauses in `stats()` and `is_paused`, and every counter of
//! a channel and a poller against exact traffic (`write_file` included).
//! (Accept errors: tests/poller_process_limits.rs, `accept_survives_fd_exhaustion`.)

mod support;

use futures::StreamExt;
use iochannels::{Channel, Error, Event, Framing, Poller};
use support::within;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn flushed_comes_once_the_output_is_all_sent_and_once_per_ask() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register(Channel::from(server).framed(Framing::Lines));
    // More than the socket buffers hold: it cannot all go out before the client reads.
    const TOTAL: usize = 8 * 1024 * 1024;
    poller.write(id, vec![b'z'; TOTAL])?;
    poller.notify_flushed(id)?;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        let mut buf = vec![0; 64 * 1024];
        while got < TOTAL {
            got += client.read(&mut buf).await.expect("read");
        }
        client
    });
    match within(poller.next()).await {
        Some(Event::Flushed { id: sent }) => assert_eq!(sent, id),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(poller.queued(id), Some(0));
    let _client = within(reader).await.expect("reader");
    // Asked once, told once: nothing more comes.
    let more = tokio::time::timeout(std::time::Duration::from_millis(100), poller.next()).await;
    assert!(more.is_err(), "{more:?}");
    // Nothing queued: the next turn tells at once.
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn flushed_is_refused_for_unknown_ids() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    peer.close();
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Closed { .. })
    ));
    assert!(matches!(poller.notify_flushed(id), Err(Error::Closed)));
}

#[tokio::test]
async fn flow_control_pauses_show_in_stats_and_end_when_the_peer_reads() -> iochannels::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(1024, 4096, 64 * 1024 * 1024);
    let id = poller.register(Channel::from(server).framed(Framing::Lines));
    assert_eq!(poller.is_paused(id), Some(false));
    poller.write(id, vec![b'p'; 16 * 1024 * 1024])?;
    let stats = poller.totals();
    assert_eq!((stats.channels, stats.paused, stats.pauses), (1, 1, 1));
    assert_eq!(poller.is_paused(id), Some(true));
    // The client reads it all: the pause ends.
    let reader = tokio::spawn(async move {
        let mut got = 0;
        let mut buf = vec![0; 64 * 1024];
        while got < 16 * 1024 * 1024 {
            got += client.read(&mut buf).await.expect("read");
        }
        client
    });
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    let _client = within(reader).await.expect("reader");
    assert_eq!(poller.is_paused(id), Some(false));
    let stats = poller.totals();
    assert_eq!((stats.paused, stats.pauses, stats.accept_errors), (0, 1, 0));
    Ok(())
}

#[tokio::test]
async fn channel_counters_match_the_traffic_exactly() -> iochannels::Result<()> {
    const LINES: u64 = 1_000;
    const LEN: u64 = 40;
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let line = format!("{}\n", "x".repeat(LEN as usize - 1));
    for _ in 0..LINES {
        peer.put(&line);
    }
    let mut got = 0;
    while got < LINES {
        match within(poller.next()).await {
            Some(Event::Data { data, .. }) => {
                assert_eq!(data.len() as u64, LEN);
                got += 1;
                if got % 10 == 0 {
                    poller.write(id, "ten more\n")?;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    poller.notify_flushed(id)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    let stats = poller.stats(id).expect("registered");
    assert_eq!(stats.bytes_in, LINES * LEN);
    assert_eq!(stats.frames_in, LINES);
    assert_eq!(stats.frames_out, LINES / 10);
    assert_eq!(stats.bytes_out, LINES / 10 * 9);
    assert_eq!(stats.queued, 0);
    // Writes made between two turns wait together: whole writes of 9 bytes.
    assert!(
        stats.queued_high >= 9 && stats.queued_high.is_multiple_of(9),
        "{}",
        stats.queued_high
    );
    assert_eq!(stats.pauses, 0);
    assert_eq!(peer.get().len() as u64, LINES / 10 * 9);
    let totals = poller.totals();
    assert_eq!(totals.events, LINES + 1);
    assert!(totals.turns >= 1);
    // Three writes before a turn: the high-water seen is all three.
    let (quiet, _quiet_peer) = Channel::test();
    let quiet = poller.register(quiet.framed(Framing::Lines));
    for _ in 0..3 {
        poller.write(quiet, "ten more\n")?;
    }
    poller.notify_flushed(quiet)?;
    assert!(matches!(
        within(poller.next()).await,
        Some(Event::Flushed { .. })
    ));
    let stats = poller.stats(quiet).expect("registered");
    assert_eq!(
        (stats.queued_high, stats.queued, stats.bytes_out),
        (27, 0, 27)
    );
    Ok(())
}

#[tokio::test]
async fn every_close_reason_is_counted_once() -> iochannels::Result<()> {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(1, 2, 4);
    let (peer_eof, mut p1) = Channel::test();
    let (local, _p2) = Channel::test();
    let (too_long, mut p3) = Channel::test();
    let (queue_full, _p4) = Channel::test();
    let peer_eof = poller.register(peer_eof.framed(Framing::Lines));
    let local = poller.register(local.framed(Framing::Lines));
    let mut framed = too_long.framed(Framing::Lines);
    framed.set_max_frame_len(4);
    let too_long = poller.register(framed);
    let queue_full = poller.register(queue_full.framed(Framing::Lines));
    p1.close();
    poller.close(local)?;
    p3.put("longer than four\n");
    // Through a handle: the write past the limit ends the channel.
    poller.handle().write(queue_full, "12345")?;
    let mut ended = std::collections::HashMap::new();
    while ended.len() < 4 {
        match within(poller.next()).await {
            Some(Event::Closed { id, error }) => {
                ended.insert(id, error.map(|e| e.to_string()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ended[&peer_eof], None);
    assert_eq!(ended[&local], None);
    assert!(ended[&too_long].is_some() && ended[&queue_full].is_some());
    let closed = poller.totals().closed;
    assert_eq!(
        (
            closed.peer_eof,
            closed.local,
            closed.frame_too_long,
            closed.queue_full,
            closed.idle_timeout,
            closed.error
        ),
        (1, 1, 1, 1, 0, 0)
    );
    assert_eq!(poller.totals().registered, 4);
    assert_eq!(poller.totals().channels, 0);
    Ok(())
}

#[tokio::test]
async fn framed_channel_counters_match_the_traffic() -> iochannels::Result<()> {
    use futures::SinkExt;
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    peer.put("a\nbb\nccc\n");
    for _ in 0..3 {
        framed.read().await?;
    }
    framed.write(b"one\n").await?;
    framed.queue(b"two\n")?;
    framed.send(bytes::Bytes::from_static(b"three")).await?;
    let stats = framed.stats();
    assert_eq!((stats.bytes_in, stats.frames_in), (9, 3));
    assert_eq!(
        (stats.bytes_out, stats.frames_out, stats.queued),
        (4 + 4 + 6, 3, 0)
    );
    assert_eq!(peer.get(), "one\ntwo\nthree\n");
    Ok(())
}

#[tokio::test]
async fn write_file_is_counted_over_sendfile_and_over_the_copy() -> iochannels::Result<()> {
    use std::io::Write;
    const LEN: usize = 100_000;
    let mut file = tempfile::tempfile()?;
    file.write_all(&vec![b'f'; LEN])?;

    // A Unix socket: sendfile(2).
    let (ours, mut theirs) = tokio::net::UnixStream::pair()?;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.map(|_| got.len())
    });
    let mut framed = Channel::from(ours).framed(Framing::Bytes);
    framed.write(b"head\n").await?;
    assert_eq!(within(framed.write_file(&file)).await?, LEN as u64);
    let stats = framed.stats();
    assert_eq!((stats.bytes_out, stats.frames_out), (LEN as u64 + 5, 2));
    framed.close().await?;
    assert_eq!(within(reader).await.expect("reader")?, LEN + 5);

    // The test channel: the copy. A range past the file's end fails, and
    // what went out before the end is counted.
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Bytes);
    let short = within(framed.write_file_range(&file, LEN as u64 - 10, Some(20), |_| {})).await;
    assert!(short.is_err(), "{short:?}");
    let stats = framed.stats();
    assert_eq!((stats.bytes_out, stats.frames_out), (10, 1));
    assert_eq!(peer.get(), "f".repeat(10));
    Ok(())
}

#[tokio::test]
async fn group_shards_count_the_clients_they_announce() -> iochannels::Result<()> {
    use iochannels::PollerGroup;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut group = PollerGroup::new(2, Framing::Lines);
    group.add_server(listener);
    let handle = group.handle();
    let mut shards = group.into_shards();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(TcpStream::connect(addr).await?);
    }
    for shard in &mut shards {
        for _ in 0..2 {
            let event = within(shard.next()).await;
            assert!(matches!(event, Some(Event::Accepted { .. })), "{event:?}");
        }
        let totals = shard.poller().totals();
        assert_eq!((totals.accepted, totals.registered), (2, 2));
    }
    let mut sum = iochannels::PollerTotals::default();
    for shard in &shards {
        sum += shard.poller().totals();
    }
    assert_eq!((sum.accepted, sum.channels), (4, 4));
    drop(clients);
    for shard in &mut shards {
        for _ in 0..2 {
            let event = within(shard.next()).await;
            assert!(
                matches!(event, Some(Event::Closed { error: None, .. })),
                "{event:?}"
            );
        }
    }
    let mut sum = iochannels::PollerTotals::default();
    for shard in &shards {
        sum += shard.poller().totals();
    }
    assert_eq!((sum.accepted, sum.closed.peer_eof, sum.channels), (4, 4, 0));
    // From anywhere, as of each shard's last turn (the closes came after it).
    assert_eq!(handle.totals().accepted, 4);
    Ok(())
}
