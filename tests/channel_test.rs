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
