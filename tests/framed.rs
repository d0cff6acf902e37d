//! FramedChannel over real channels: read/try_read/write/close, the Stream
//! and the Sink, set_framing mid-stream, limits, memory held by buffers.

mod support;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use iochannels::{Channel, Error, Framing};
use support::within;

fn lines(chunks: &[&str]) -> Vec<Bytes> {
    chunks
        .iter()
        .map(|c| Bytes::copy_from_slice(c.as_bytes()))
        .collect()
}

#[tokio::test]
async fn frame_longer_than_one_read_comes_out_when_its_end_arrives() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let long = "x".repeat(300_000);
    peer.put(&long);
    assert_eq!(framed.try_read()?, None);
    peer.put("\nnext");
    let line = within(framed.read()).await?.expect("a line");
    assert_eq!(line.len(), 300_001);
    assert_eq!(framed.try_read()?, None, "partial line must wait");
    Ok(())
}

#[tokio::test]
async fn read_after_end_is_closed_and_try_read_agrees() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    peer.put("only\n");
    peer.close();
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"only\n"[..])
    );
    assert_eq!(within(framed.read()).await?, None);
    assert!(matches!(framed.read().await, Err(Error::Closed)));
    assert!(matches!(framed.try_read(), Err(Error::Closed)));
    assert!(!framed.is_readable());
    Ok(())
}

#[tokio::test]
async fn stream_yields_frames_then_ends() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let framed = channel.framed(Framing::Lines);
    peer.put("a\nb\nc");
    peer.close();
    let frames: Vec<Bytes> = within(framed.map(|f| f.expect("frame")).collect()).await;
    assert_eq!(frames, lines(&["a\n", "b\n", "c"]));
    Ok(())
}

#[tokio::test]
async fn stream_reports_overlong_frame_and_goes_on() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    framed.set_max_frame_len(10);
    peer.put("short\nthis line is far too long\nafter\n");
    peer.close();
    let mut got = Vec::new();
    while let Some(item) = within(framed.next()).await {
        got.push(item.map_err(|e| e.to_string()));
    }
    assert_eq!(
        got,
        vec![
            Ok(Bytes::from_static(b"short\n")),
            Err("frame longer than the limit of 10 bytes".to_owned()),
            Ok(Bytes::from_static(b"after\n")),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn sink_encodes_per_framing_so_frames_arrive_unchanged() -> iochannels::Result<()> {
    let cases: Vec<(Framing, Vec<&[u8]>)> = vec![
        (Framing::Lines, vec![b"with newline\n", b"without", b""]),
        (
            Framing::Delimited(vec![Bytes::from_static(b"\r\n"), Bytes::from_static(b";")]),
            vec![b"crlf\r\n", b"semi;", b"bare"],
        ),
        (Framing::Exact(4), vec![b"abcd", b"efgh"]),
        (
            Framing::LengthPrefixed,
            vec![b"", b"payload", &[0u8, 1, 2, 255]],
        ),
        (Framing::Bytes, vec![b"raw bytes"]),
    ];
    for (framing, items) in cases {
        // Frames read from one channel and sent into another arrive unchanged.
        let (a, mut peer_a) = Channel::test();
        let (b, mut peer_b) = Channel::test();
        let mut sender = a.framed(framing.clone());
        for item in &items {
            sender.feed(Bytes::copy_from_slice(item)).await?;
        }
        sender.flush().await?;
        let wire = peer_a.get();
        peer_b.put(&wire);
        peer_b.close();
        let mut receiver = b.framed(framing.clone());
        let mut got = Vec::new();
        while let Some(frame) = within(receiver.read()).await? {
            got.push(frame);
        }
        let expected: Vec<Bytes> = items
            .iter()
            .map(|item| match &framing {
                Framing::Lines if !item.ends_with(b"\n") => Bytes::from([*item, b"\n"].concat()),
                Framing::Delimited(_) if !(item.ends_with(b"\r\n") || item.ends_with(b";")) => {
                    Bytes::from([*item, b"\r\n"].concat())
                }
                _ => Bytes::copy_from_slice(item),
            })
            .collect();
        if framing == Framing::Bytes {
            assert_eq!(got.concat(), expected.concat(), "{framing:?}");
        } else {
            assert_eq!(got, expected, "{framing:?}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn sink_rejects_wrong_exact_size() -> iochannels::Result<()> {
    let (channel, _peer) = Channel::test();
    let mut framed = channel.framed(Framing::Exact(3));
    match framed.send(Bytes::from_static(b"four")).await {
        Err(Error::FrameLength {
            expected: 3,
            actual: 4,
        }) => Ok(()),
        other => panic!("expected FrameLength, got {other:?}"),
    }
}

#[tokio::test]
async fn write_goes_out_verbatim_after_queued_sink_frames() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::LengthPrefixed);
    framed.feed(Bytes::from_static(b"hi")).await?;
    framed.write(b"raw").await?;
    assert_eq!(peer.get(), &b"\0\0\0\x02hiraw"[..]);
    Ok(())
}

#[tokio::test]
async fn set_framing_mid_stream_reframes_buffered_bytes() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    // Everything arrives in one read: header, body and the next header.
    peer.put("Content-Length: 11\nhello\nworldHEAD2\n\0\0\0\x03xyz");
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"Content-Length: 11\n"[..])
    );
    framed.set_framing(Framing::Exact(11));
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"hello\nworld"[..])
    );
    framed.set_framing(Framing::Lines);
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"HEAD2\n"[..])
    );
    framed.set_framing(Framing::LengthPrefixed);
    assert_eq!(within(framed.read()).await?.as_deref(), Some(&b"xyz"[..]));
    Ok(())
}

#[tokio::test]
async fn close_flushes_queued_frames_then_refuses_everything() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    framed.feed(Bytes::from_static(b"queued")).await?;
    within(framed.close()).await?;
    assert_eq!(peer.get(), "queued\n");
    assert!(framed.is_closed());
    assert!(matches!(framed.write(b"x").await, Err(Error::Closed)));
    assert!(matches!(framed.read().await, Err(Error::Closed)));
    assert!(matches!(framed.try_read(), Err(Error::Closed)));
    assert!(matches!(
        framed.send(Bytes::from_static(b"x")).await,
        Err(Error::Closed)
    ));
    within(framed.close()).await?;
    Ok(())
}

#[tokio::test]
async fn into_parts_keeps_buffered_input() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    peer.put("one\ntwo\nthr");
    assert_eq!(within(framed.read()).await?.as_deref(), Some(&b"one\n"[..]));
    assert_eq!(framed.read_buffer(), b"two\nthr");
    let (_channel, rest) = framed.into_parts();
    assert_eq!(&rest[..], b"two\nthr");
    Ok(())
}

#[tokio::test]
async fn idle_channel_holds_no_read_buffer() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    peer.put("line\n");
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"line\n"[..])
    );
    assert_eq!(framed.try_read()?, None);
    assert_eq!(framed.read_buffer_capacity(), 0);
    Ok(())
}

#[tokio::test]
async fn buffer_shrinks_back_after_a_large_frame() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let big = format!("{}\nsmall", "y".repeat(8 * 1024 * 1024 - 1));
    peer.put(&big);
    let line = within(framed.read()).await?.expect("the big line");
    assert_eq!(line.len(), 8 * 1024 * 1024);
    drop(line);
    // The rest ("small") is kept, in a buffer sized to it, not to 8 MiB.
    assert_eq!(framed.read_buffer(), b"small");
    assert!(
        framed.read_buffer_capacity() <= 64 * 1024,
        "read buffer still holds {} bytes",
        framed.read_buffer_capacity()
    );
    Ok(())
}

#[tokio::test]
async fn overlong_line_never_buffers_past_the_limit() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    framed.set_max_frame_len(1024);
    let mut errors = 0;
    // 1 MiB with no newline, fed in 16 KiB pieces, then a good line.
    for _ in 0..64 {
        peer.put(vec![b'z'; 16 * 1024]);
        loop {
            match framed.try_read() {
                Ok(None) => break,
                Err(Error::FrameTooLong { limit: 1024 }) => errors += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(framed.read_buffer().len() <= 1024 + 64 * 1024);
    }
    peer.put("\ngood\n");
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"good\n"[..])
    );
    assert_eq!(errors, 1, "reported once per over-long frame");
    Ok(())
}

#[tokio::test]
async fn truncated_length_prefixed_frame_at_eof_is_unexpected_eof() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::LengthPrefixed);
    peer.put(b"\0\0\0\x02ok\0\0\0\x09short");
    peer.close();
    assert_eq!(within(framed.read()).await?.as_deref(), Some(&b"ok"[..]));
    match within(framed.read()).await {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("expected UnexpectedEof, got {other:?}"),
    }
    assert_eq!(within(framed.read()).await?, None);
    Ok(())
}

#[test]
fn public_types_are_send_and_unpin() {
    fn check<T: Send + Unpin + std::fmt::Debug>() {}
    check::<Channel>();
    check::<iochannels::FramedChannel>();
    check::<iochannels::TestPeer>();
    check::<iochannels::PipeChannel>();
    check::<iochannels::ProcessChannel>();
    check::<iochannels::TestChannel>();
}

#[test]
fn channel_and_framed_channel_stay_small() {
    // A poller holds one FramedChannel per connection: every byte counts
    // (large kinds are boxed inside, so the enum is as small as a socket).
    let channel = std::mem::size_of::<Channel>();
    let framed = std::mem::size_of::<iochannels::FramedChannel>();
    assert!(channel <= 48, "Channel is {channel} bytes");
    assert!(framed <= 320, "FramedChannel is {framed} bytes");
}

#[tokio::test]
async fn queue_and_write_without_write_side_are_refused_up_front() -> iochannels::Result<()> {
    let (reader, _writer) = std::io::pipe()?;
    let mut framed = Channel::pipe(Some(reader.into()), None)?.framed(Framing::Lines);
    assert!(matches!(framed.queue(b"x\n"), Err(Error::NotWritable)));
    assert_eq!(framed.write_buffer_len(), 0);
    assert!(matches!(
        framed.write(b"x\n").await,
        Err(Error::NotWritable)
    ));
    assert!(!framed.is_writable());
    Ok(())
}

#[tokio::test]
async fn stream_ends_after_an_error_that_would_repeat() {
    // An invalid framing errors on every read without consuming input.
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Exact(0));
    peer.put("data that can never be framed");
    match within(framed.next()).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
        other => panic!("expected the invalid framing error, got {other:?}"),
    }
    assert!(
        within(framed.next()).await.is_none(),
        "the stream must end, not repeat the error"
    );
    assert!(within(framed.next()).await.is_none());
}

#[tokio::test]
async fn stream_ends_after_a_read_error() -> iochannels::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut framed = Channel::from(server).framed(Framing::Lines);
    // A reset: SO_LINGER 0 then close.
    client.set_zero_linger()?;
    drop(client);
    match within(framed.next()).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected the reset, got {other:?}"),
    }
    assert!(within(framed.next()).await.is_none());
    Ok(())
}

#[tokio::test]
async fn into_inner_gives_back_the_buffered_input_first() -> iochannels::Result<()> {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut framed = Channel::connect_tcp(listener.local_addr()?)
        .await?
        .framed(Framing::Lines);
    let (mut server, _) = listener.accept().await?;
    tokio::io::AsyncWriteExt::write_all(&mut server, b"header\nbody without an end").await?;
    assert_eq!(
        within(framed.read()).await?.as_deref(),
        Some(&b"header\n"[..])
    );
    assert_eq!(framed.read_buffer(), b"body without an end");
    let mut channel = framed.into_inner();
    assert!(matches!(channel, Channel::Io(_)), "wrapped: {channel:?}");
    tokio::io::AsyncWriteExt::write_all(&mut server, b", and more").await?;
    drop(server);
    let mut rest = String::new();
    within(channel.read_to_string(&mut rest)).await?;
    assert_eq!(rest, "body without an end, and more");
    Ok(())
}

#[tokio::test]
async fn into_inner_with_nothing_buffered_is_the_channel_itself() -> iochannels::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let framed = Channel::connect_tcp(listener.local_addr()?)
        .await?
        .framed(Framing::Lines);
    let fd = framed.fd();
    let channel = framed.into_inner();
    assert!(matches!(channel, Channel::Tcp(_)));
    assert_eq!(channel.fd(), fd);
    Ok(())
}
