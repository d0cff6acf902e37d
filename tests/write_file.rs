//! `FramedChannel::write_file`: a file's exact bytes over every channel
//! kind — sendfile(2) for TCP, Unix sockets and OS pipes, the copy for the
//! test channel and a child process — in order after queued frames, with
//! progress, ranges, and the errors of a peer that goes away.

mod support;

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;

use bytes::Bytes;
use futures::SinkExt;
use iochannels::{Channel, Error, FramedChannel, Framing, TestPeer};
use support::within;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UnixStream};
use tokio::process::Command;

const SIZE: usize = 20 * 1000 * 1000;

/// Bytes that do not repeat in step with any chunk size (xorshift).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An anonymous temp file holding `len` pattern bytes, and those bytes. Its
/// position is left at the end: `write_file` must not care.
fn temp_file(len: usize) -> (File, Vec<u8>) {
    let data = pattern(len);
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(&data).expect("writing the temp file");
    (file, data)
}

#[track_caller]
fn assert_same(got: &[u8], expected: &[u8]) {
    assert_eq!(got.len(), expected.len(), "length differs");
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("bytes differ first at offset {at}");
    }
}

/// A framed TCP client and a task that reads everything the server side gets.
async fn tcp_pair(
    framing: Framing,
) -> (
    FramedChannel,
    tokio::task::JoinHandle<std::io::Result<Vec<u8>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let reader = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await?;
        Ok(got)
    });
    let client = within(Channel::connect_tcp(addr))
        .await
        .expect("connect")
        .framed(framing);
    (client, reader)
}

#[tokio::test]
async fn tcp_loopback_arrives_byte_identical() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let position = (&file).stream_position()?;
    let (mut client, reader) = tcp_pair(Framing::Bytes).await;
    assert_eq!(within(client.write_file(&file)).await?, SIZE as u64);
    within(client.close()).await?;
    assert_same(&within(reader).await.expect("reader task")?, &data);
    // Positional reads: the file's own position did not move.
    assert_eq!((&file).stream_position()?, position);
    Ok(())
}

#[tokio::test]
async fn unix_socket_arrives_byte_identical() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let (ours, mut theirs) = UnixStream::pair()?;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.map(|_| got)
    });
    let mut framed = Channel::from(ours).framed(Framing::Bytes);
    assert_eq!(within(framed.write_file(&file)).await?, SIZE as u64);
    within(framed.close()).await?;
    assert_same(&within(reader).await.expect("reader task")?, &data);
    Ok(())
}

#[tokio::test]
async fn os_pipe_arrives_byte_identical() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let (mut r, w) = std::io::pipe()?;
    let reader = tokio::task::spawn_blocking(move || {
        let mut got = Vec::new();
        r.read_to_end(&mut got).map(|_| got)
    });
    let mut framed = Channel::pipe(None, Some(w.into()))?.framed(Framing::Bytes);
    assert_eq!(within(framed.write_file(&file)).await?, SIZE as u64);
    drop(framed);
    assert_same(&within(reader).await.expect("reader thread")?, &data);
    Ok(())
}

/// Drains `peer` until `writer` (a task writing to its channel) is done;
/// returns the task's output and every byte the peer got.
async fn drain<T: Send + 'static>(
    peer: &mut TestPeer,
    writer: tokio::task::JoinHandle<T>,
) -> (T, Vec<u8>) {
    let mut got = Vec::new();
    within(async {
        while !writer.is_finished() {
            got.extend_from_slice(&peer.get());
            tokio::task::yield_now().await;
        }
    })
    .await;
    let out = writer.await.expect("writer task");
    got.extend_from_slice(&peer.get());
    (out, got)
}

/// Runs `write_file` on a test channel in a task while draining its peer.
async fn through_test_channel(
    framed: FramedChannel,
    mut peer: TestPeer,
    file: File,
) -> (iochannels::Result<u64>, Vec<u8>, Vec<u64>) {
    let writer = tokio::spawn(async move {
        let mut framed = framed;
        let mut totals = Vec::new();
        let sent = framed
            .write_file_with_progress(&file, |n| totals.push(n))
            .await;
        (sent, totals)
    });
    let ((sent, totals), got) = drain(&mut peer, writer).await;
    (sent, got, totals)
}

#[tokio::test]
async fn test_channel_uses_the_copy_and_arrives_byte_identical() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let (channel, peer) = Channel::test();
    let (sent, got, totals) =
        through_test_channel(channel.framed(Framing::Bytes), peer, file).await;
    assert_eq!(sent?, SIZE as u64);
    assert_same(&got, &data);
    // The copy goes in 64 KiB chunks: one progress call each.
    assert_eq!(totals.len(), SIZE.div_ceil(64 * 1024));
    Ok(())
}

#[tokio::test]
async fn process_channel_uses_the_copy_and_arrives_byte_identical() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    // cat's output goes to a file, so nothing has to read its stdout meanwhile.
    let mut cat = Channel::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("exec cat > \"$1\"")
            .arg("sh")
            .arg(&out),
    )?
    .framed(Framing::Bytes);
    assert_eq!(within(cat.write_file(&file)).await?, SIZE as u64);
    within(cat.shutdown_write()).await?;
    assert_eq!(within(cat.read()).await?, None);
    if let Channel::Process(p) = cat.get_mut() {
        assert!(within(p.child_mut().wait()).await?.success());
    }
    assert_same(&std::fs::read(&out)?, &data);
    Ok(())
}

#[tokio::test]
async fn queued_frames_go_before_the_file_over_tcp() -> iochannels::Result<()> {
    let (file, data) = temp_file(SIZE);
    let (mut client, reader) = tcp_pair(Framing::Lines).await;
    within(client.feed(Bytes::from_static(b"header"))).await?;
    client.queue(b"queued\n")?;
    assert!(client.write_buffer_len() > 0);
    assert_eq!(within(client.write_file(&file)).await?, SIZE as u64);
    assert_eq!(client.write_buffer_len(), 0);
    within(client.write(b"trailer")).await?;
    within(client.close()).await?;
    let mut expected = b"header\nqueued\n".to_vec();
    expected.extend_from_slice(&data);
    expected.extend_from_slice(b"trailer");
    assert_same(&within(reader).await.expect("reader task")?, &expected);
    Ok(())
}

#[tokio::test]
async fn queued_frames_go_before_the_file_over_the_copy() -> iochannels::Result<()> {
    let (file, data) = temp_file(300 * 1000);
    let (channel, peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    within(framed.feed(Bytes::from_static(b"header"))).await?;
    let (sent, got, _) = through_test_channel(framed, peer, file).await;
    assert_eq!(sent?, data.len() as u64);
    let mut expected = b"header\n".to_vec();
    expected.extend_from_slice(&data);
    assert_same(&got, &expected);
    Ok(())
}

#[track_caller]
fn assert_progress(totals: &[u64], size: u64) {
    assert!(!totals.is_empty(), "progress was never called");
    assert!(
        totals.windows(2).all(|w| w[0] < w[1]),
        "totals do not increase: {totals:?}"
    );
    assert_eq!(totals.last().copied(), Some(size));
}

#[tokio::test]
async fn progress_totals_increase_and_end_at_the_size() -> iochannels::Result<()> {
    // sendfile path (Unix socket): totals per sendfile(2) call.
    let (file, _) = temp_file(SIZE);
    let (ours, mut theirs) = UnixStream::pair()?;
    let reader = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        tokio::io::copy(&mut theirs, &mut sink).await
    });
    let mut framed = Channel::from(ours).framed(Framing::Bytes);
    let mut totals = Vec::new();
    let sent = within(framed.write_file_with_progress(&file, |n| totals.push(n))).await?;
    assert_eq!(sent, SIZE as u64);
    assert_progress(&totals, SIZE as u64);
    drop(framed);
    assert_eq!(within(reader).await.expect("reader task")?, SIZE as u64);

    // Copy path (test channel): totals per 64 KiB chunk.
    let (file, _) = temp_file(1_000_001);
    let (channel, peer) = Channel::test();
    let (sent, _, totals) = through_test_channel(channel.framed(Framing::Bytes), peer, file).await;
    assert_eq!(sent?, 1_000_001);
    assert_progress(&totals, 1_000_001);
    Ok(())
}

#[tokio::test]
async fn tcp_peer_closing_mid_transfer_is_closed() -> iochannels::Result<()> {
    // Far more than loopback socket buffers hold, so the transfer is mid-way.
    let (file, _) = temp_file(64 * 1024 * 1024);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let peer = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 1024 * 1024];
        stream.read_exact(&mut buf).await?;
        // Dropped with unread data: a reset.
        std::io::Result::Ok(())
    });
    let mut client = within(Channel::connect_tcp(addr))
        .await?
        .framed(Framing::Bytes);
    let mut last = 0;
    let result = within(client.write_file_with_progress(&file, |n| last = n)).await;
    assert!(matches!(result, Err(Error::Closed)), "got {result:?}");
    assert!(
        (1024 * 1024..64 * 1024 * 1024).contains(&last),
        "sent {last}"
    );
    within(peer).await.expect("peer task")?;
    Ok(())
}

#[tokio::test]
async fn pipe_reader_closing_mid_transfer_is_closed_not_sigpipe() -> iochannels::Result<()> {
    let (file, _) = temp_file(SIZE);
    let (mut r, w) = std::io::pipe()?;
    let reader = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 100 * 1024];
        r.read_exact(&mut buf)
        // r dropped here: the writer's next write is EPIPE.
    });
    let mut framed = Channel::pipe(None, Some(w.into()))?.framed(Framing::Bytes);
    let result = within(framed.write_file(&file)).await;
    assert!(matches!(result, Err(Error::Closed)), "got {result:?}");
    within(reader).await.expect("reader thread")?;
    Ok(())
}

#[tokio::test]
async fn test_peer_gone_is_closed() -> iochannels::Result<()> {
    let (file, _) = temp_file(1000);
    let (channel, peer) = Channel::test();
    drop(peer);
    let mut framed = channel.framed(Framing::Bytes);
    assert!(matches!(
        within(framed.write_file(&file)).await,
        Err(Error::Closed)
    ));
    Ok(())
}

#[tokio::test]
async fn empty_file_sends_nothing_and_returns_zero() -> iochannels::Result<()> {
    let (file, _) = temp_file(0);
    // TCP.
    let (mut client, reader) = tcp_pair(Framing::Bytes).await;
    let mut calls = 0;
    assert_eq!(
        within(client.write_file_with_progress(&file, |_| calls += 1)).await?,
        0
    );
    assert_eq!(calls, 0);
    within(client.write(b"only this")).await?;
    within(client.close()).await?;
    assert_eq!(within(reader).await.expect("reader task")?, b"only this");
    // A pipe: sendfile(2) finds the end at once.
    let (mut r, w) = std::io::pipe()?;
    let mut framed = Channel::pipe(None, Some(w.into()))?.framed(Framing::Bytes);
    assert_eq!(within(framed.write_file(&file)).await?, 0);
    drop(framed);
    let mut got = Vec::new();
    r.read_to_end(&mut got)?;
    assert!(got.is_empty());
    // The copy.
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Bytes);
    assert_eq!(within(framed.write_file(&file)).await?, 0);
    assert_eq!(peer.get(), "");
    Ok(())
}

const RANGE_FILE: usize = 4_000_000;

/// Sends slices of a `RANGE_FILE`-byte file, small ones (copied, on a
/// socket) and over 1 MiB (sendfile), ending with two the file is too short
/// for; returns what the peer must have got.
async fn send_ranges(framed: &mut FramedChannel, file: &File, data: &[u8]) -> Vec<u8> {
    let ok: [(u64, Option<u64>, usize); 5] = [
        (10, Some(1000), 1000),
        (100, Some(2_000_000), 2_000_000),
        (3_999_990, None, 10),
        (1_500_000, None, 2_500_000),
        (5_000_000, None, 0),
    ];
    let mut expected = Vec::new();
    for (offset, len, sent) in ok {
        let got = within(framed.write_file_range(file, offset, len, |_| {})).await;
        assert_eq!(got.expect("range"), sent as u64, "range at {offset}");
        let start = (offset as usize).min(data.len());
        expected.extend_from_slice(&data[start..start + sent]);
    }
    for (offset, len) in [(2_500_000u64, 2_000_000u64), (3_999_000, 5000)] {
        let mut sent = 0;
        match within(framed.write_file_range(file, offset, Some(len), |n| sent = n)).await {
            Err(Error::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
                let short = RANGE_FILE as u64 - offset;
                assert!(
                    e.to_string().contains(&format!("{short} of the {len}")),
                    "{e}"
                );
                assert_eq!(sent, short);
            }
            other => panic!("expected UnexpectedEof, got {other:?}"),
        }
        expected.extend_from_slice(&data[offset as usize..]);
    }
    expected
}

#[tokio::test]
async fn ranges_send_their_slice_and_a_short_file_is_unexpected_eof() -> iochannels::Result<()> {
    let (file, data) = temp_file(RANGE_FILE);
    // TCP: the copy for small ranges, sendfile(2) for large ones.
    let (mut client, reader) = tcp_pair(Framing::Bytes).await;
    let expected = send_ranges(&mut client, &file, &data).await;
    within(client.close()).await?;
    assert_same(&within(reader).await.expect("reader task")?, &expected);

    // An OS pipe: sendfile(2) throughout.
    let (mut r, w) = std::io::pipe()?;
    let reader = tokio::task::spawn_blocking(move || {
        let mut got = Vec::new();
        r.read_to_end(&mut got).map(|_| got)
    });
    let mut framed = Channel::pipe(None, Some(w.into()))?.framed(Framing::Bytes);
    let expected = send_ranges(&mut framed, &file, &data).await;
    drop(framed);
    assert_same(&within(reader).await.expect("reader thread")?, &expected);

    // The test channel: the copy throughout.
    let (channel, mut peer) = Channel::test();
    let writer = tokio::spawn(async move {
        let mut framed = channel.framed(Framing::Bytes);
        send_ranges(&mut framed, &file, &data).await
    });
    let (expected, got) = drain(&mut peer, writer).await;
    assert_same(&got, &expected);
    Ok(())
}

#[tokio::test]
async fn closed_and_write_less_channels_refuse() -> iochannels::Result<()> {
    let (file, _) = temp_file(10);
    let (channel, _peer) = Channel::test();
    let mut framed = channel.framed(Framing::Bytes);
    within(framed.close()).await?;
    assert!(matches!(
        within(framed.write_file(&file)).await,
        Err(Error::Closed)
    ));

    let (r, _w) = std::io::pipe()?;
    let mut read_only = Channel::pipe(Some(r.into()), None)?.framed(Framing::Bytes);
    assert!(matches!(
        within(read_only.write_file(&file)).await,
        Err(Error::NotWritable)
    ));
    Ok(())
}

#[tokio::test]
async fn a_non_seekable_file_is_an_error_not_a_hang() -> iochannels::Result<()> {
    let (r, _w) = std::io::pipe()?;
    let not_seekable = File::from(OwnedFd::from(r));
    let (mut client, _reader) = tcp_pair(Framing::Bytes).await;
    let (channel, _peer) = Channel::test();
    let mut copy = channel.framed(Framing::Bytes);
    for framed in [&mut client, &mut copy] {
        match within(framed.write_file(&not_seekable)).await {
            Err(Error::Io(e)) => assert!(e.to_string().contains("seekable"), "{e}"),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
    Ok(())
}
