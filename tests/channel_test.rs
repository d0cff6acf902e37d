//! The in-memory test channel and its peer: put/get/close, backpressure, a
//! backlog larger than the duplex, and a dropped peer.

mod support;

use iochannels::{Channel, Error, Framing};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn put_more_than_the_duplex_holds_without_awaiting() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 249) as u8).collect();
    peer.put(&data);
    peer.close();
    let mut framed = channel.framed(Framing::Bytes);
    let mut got = Vec::new();
    while let Some(chunk) = within(framed.read()).await? {
        got.extend_from_slice(&chunk);
    }
    assert!(got == data);
    assert_eq!(peer.pending(), 0);
    Ok(())
}

#[tokio::test]
async fn get_returns_only_what_was_written_since_last_get() -> iochannels::Result<()> {
    let (mut channel, mut peer) = Channel::test();
    assert_eq!(peer.get(), "");
    channel.write_all(b"first").await?;
    assert_eq!(peer.get(), "first");
    channel.write_all(b"second").await?;
    channel.write_all(b"third").await?;
    assert_eq!(peer.get(), "secondthird");
    assert_eq!(peer.get(), "");
    Ok(())
}

#[tokio::test]
async fn close_gives_eof_after_buffered_bytes() -> iochannels::Result<()> {
    let (mut channel, mut peer) = Channel::test();
    peer.put("abc");
    peer.close();
    peer.put("ignored after close");
    let mut got = Vec::new();
    within(channel.read_to_end(&mut got)).await?;
    assert_eq!(got, b"abc");
    Ok(())
}

#[tokio::test]
async fn writer_waits_when_peer_does_not_get() -> iochannels::Result<()> {
    let (mut channel, mut peer) = Channel::test();
    let big = vec![7u8; 200_000];
    let write = channel.write_all(&big);
    tokio::pin!(write);
    // The duplex holds 64 KiB: the write cannot finish until the peer reads.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), &mut write)
            .await
            .is_err()
    );
    let mut got = peer.get().len();
    while got < big.len() {
        tokio::select! {
            r = &mut write => { r?; }
            _ = tokio::task::yield_now() => {}
        }
        got += peer.get().len();
    }
    assert_eq!(got, big.len());
    Ok(())
}

#[tokio::test]
async fn write_after_peer_dropped_is_closed() -> iochannels::Result<()> {
    let (channel, peer) = Channel::test();
    drop(peer);
    let mut framed = channel.framed(Framing::Lines);
    assert!(matches!(
        within(framed.write(b"anyone?\n")).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn test_channel_has_no_fd() {
    let (channel, _peer) = Channel::test();
    assert_eq!(channel.fd(), None);
}

#[tokio::test]
async fn large_put_is_read_in_order_across_many_reads() -> iochannels::Result<()> {
    // Far more than the duplex holds, read in a thousand reads that never
    // wait: once tokio's cooperative budget is spent the duplex says
    // `Pending` with data in it, and the backlog once jumped ahead of it.
    let (channel, mut peer) = Channel::test();
    let data: Vec<u8> = (0..128 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    peer.put(&data);
    peer.close();
    let mut framed = channel.framed(Framing::Bytes);
    let mut got = Vec::with_capacity(data.len());
    let mut reads = 0;
    // Not wrapped in a timeout: a timer between the reads changes how the
    // budget is spent, and hid the bug.
    while let Some(chunk) = framed.read().await? {
        got.extend_from_slice(&chunk);
        reads += 1;
    }
    assert!(
        reads > 128,
        "only {reads} reads: the budget was never spent"
    );
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes out of order");
    Ok(())
}

/// One line of [`lines_put_from_another_thread_arrive_in_order`], numbered.
fn numbered(n: usize) -> String {
    format!("{n:07} numbered lines in the order they were put\n")
}

#[tokio::test]
async fn lines_put_from_another_thread_arrive_in_order() -> iochannels::Result<()> {
    // The peer puts on a plain thread while the channel reads: a read that
    // looked at the duplex, then at the backlog, let a put in between move
    // backlog bytes into the duplex behind the ones it then read. The
    // window is narrow: ten rounds make missing it unlikely (each round
    // alone caught it about a quarter of the time).
    for _round in 0..10 {
        put_from_a_thread_and_read_in_order().await?;
    }
    Ok(())
}

async fn put_from_a_thread_and_read_in_order() -> iochannels::Result<()> {
    const LINES: usize = 200_000;
    let (channel, mut peer) = Channel::test();
    let putter = std::thread::spawn(move || {
        // Mostly single lines, with runs larger than the duplex now and
        // then so that a backlog builds up behind it.
        let sizes = [1, 1, 2, 1, 3, 1, 1, 5_000, 1, 2, 1, 1, 1, 1, 7, 1];
        let mut next = 0;
        let mut round = 0;
        while next < LINES {
            let count = sizes[round % sizes.len()].min(LINES - next);
            let chunk: String = (next..next + count).map(numbered).collect();
            peer.put(chunk);
            next += count;
            round += 1;
        }
        peer.close();
    });
    let mut framed = channel.framed(Framing::Lines);
    let mut expected = 0;
    while let Some(line) = within(framed.read()).await? {
        let text = std::str::from_utf8(&line).expect("ascii line");
        assert_eq!(text, numbered(expected), "line {expected} out of order");
        expected += 1;
    }
    putter.join().expect("putter thread");
    assert_eq!(expected, LINES);
    Ok(())
}
