//! Bad input through the public API: each case gets its documented result,
//! exactly, with the memory it holds bounded.
//!
//! `tests/framing.rs` covers the codec call by call; here the same kinds of
//! input go through `FramedChannel` (over `Channel::test()` and TCP
//! loopback): over-long lines, a length prefix over the limit (4 GiB among
//! them), and the fuzz findings. Odd but valid input (invalid UTF-8,
//! delimiters split at every byte, zero-length frames, a torrent of
//! one-byte packets) is in `bad_input_exact.rs`; the Poller and a 4 GiB
//! length prefix in `bad_input_poller.rs`.

mod support;

use std::io;

use bytes::{Bytes, BytesMut};
use iochannels::{Channel, Error, FrameCodec, FramedChannel, Framing, DEFAULT_MAX_FRAME_LEN};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

use support::bad_input::{assert_no_huge_reservation, lp, tight_loop, vm_peak_kib, within};
use support::frames::assert_too_long;

/// The most a framed channel's read buffer may hold while it refuses or
/// skips an over-long frame: a read's room (4 to 64 KiB) plus the limit
/// where that is small; far below the frame that was refused.
const READ_ROOM: usize = 128 * 1024;

// ---------------------------------------------------------------------------
// Over-long lines
// ---------------------------------------------------------------------------

/// Over TCP loopback, with a limit of 64 and writes of 1, 7, 4093 and 65536
/// bytes in turn (so lines straddle reads of every size): a line of exactly
/// 64 bytes, newline included, is a frame; one of 65 bytes, and one of
/// 1 MiB, are each `FrameTooLong { limit: 64 }` once, followed by the next
/// line intact. The read buffer never holds more than a read's room while
/// the 1 MiB line streams through; the end comes as `Ok(None)`, then
/// `Err(Closed)`.
#[tokio::test]
async fn overlong_lines_over_tcp_are_reported_once_each_then_the_next_line() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut input = Vec::new();
    let at_limit = format!("{}\n", "a".repeat(63));
    input.extend_from_slice(at_limit.as_bytes());
    input.extend_from_slice(format!("{}\n", "b".repeat(64)).as_bytes());
    input.extend_from_slice(b"c\n");
    input.extend_from_slice(&vec![b'd'; 1024 * 1024]);
    input.extend_from_slice(b"\ne\n");
    let writer = tokio::spawn(async move {
        let mut client = TcpStream::connect(addr).await?;
        client.set_nodelay(true)?;
        let sizes = [1, 7, 4093, 65536];
        let (mut at, mut i) = (0, 0);
        while at < input.len() {
            let end = (at + sizes[i % sizes.len()]).min(input.len());
            client.write_all(&input[at..end]).await?;
            at = end;
            i += 1;
        }
        client.shutdown().await
    });
    let (stream, _) = within("accept", listener.accept()).await?;
    let mut framed = Channel::from(stream).framed(Framing::Lines);
    framed.set_max_frame_len(64);

    let mut got = Vec::new();
    loop {
        let result = within("reading a line", framed.read()).await;
        assert!(
            framed.read_buffer_capacity() <= READ_ROOM,
            "read buffer holds {} bytes",
            framed.read_buffer_capacity()
        );
        match result {
            Ok(Some(line)) => got.push(Ok(line)),
            Ok(None) => break,
            Err(Error::FrameTooLong { limit }) => got.push(Err(limit)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<Result<Bytes, usize>> = vec![
        Ok(Bytes::from(at_limit)),
        Err(64),
        Ok(Bytes::from_static(b"c\n")),
        Err(64),
        Ok(Bytes::from_static(b"e\n")),
    ];
    assert_eq!(got, expected);
    assert!(matches!(framed.read().await, Err(Error::Closed)));
    writer.await.expect("writer task")?;
    Ok(())
}

/// A last line without `b'\n'`: below the limit it is delivered as it is;
/// at the limit it is `FrameTooLong` — the reader sees those `limit` bytes
/// before the end, and the docs say a line is over-long "when the buffer
/// holds `limit` bytes and no delimiter can end within the first `limit`"
/// — and its bytes are dropped silently at the end.
#[tokio::test]
async fn last_unterminated_line_below_the_limit_is_a_frame_at_the_limit_too_long(
) -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    framed.set_max_frame_len(8);
    peer.put("1234567");
    peer.close();
    assert_eq!(
        within("read", framed.read()).await?.as_deref(),
        Some(&b"1234567"[..])
    );
    assert_eq!(within("read", framed.read()).await?, None);

    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    framed.set_max_frame_len(8);
    peer.put("12345678");
    peer.close();
    assert_too_long(within("read", framed.read()).await, 8);
    assert_eq!(within("read", framed.read()).await?, None);
    assert!(framed.read_buffer().is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------
// A 4 GiB length prefix
// ---------------------------------------------------------------------------

/// A frame, then a length prefix of 4 GiB - 1 (the largest a u32 can say)
/// arriving one byte at a time, then 1 MiB of its payload: the frame comes
/// out; the prefix is `FrameTooLong { limit: 8 MiB }` exactly when its
/// fourth byte arrives, without a reservation for the payload (the read
/// buffer stays within a read's room, and this process's peak virtual size
/// does not jump); the payload is skipped as it arrives (nothing stays
/// buffered); at the end the rest of the skip is dropped and the stream
/// ends cleanly.
#[tokio::test]
async fn length_prefix_of_4_gib_is_refused_without_allocating() -> iochannels::Result<()> {
    let peak_before = vm_peak_kib();
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::LengthPrefixed);
    assert_eq!(framed.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    peer.put(lp(b"before"));
    assert_eq!(
        within("read", framed.read()).await?.as_deref(),
        Some(&b"before"[..])
    );
    for (i, byte) in [0xff_u8; 4].into_iter().enumerate() {
        peer.put([byte]);
        if i < 3 {
            assert_eq!(framed.try_read()?, None, "prefix byte {i}");
        } else {
            assert_too_long(framed.try_read(), DEFAULT_MAX_FRAME_LEN);
        }
        assert!(framed.read_buffer_capacity() <= READ_ROOM);
    }
    for _ in 0..16 {
        peer.put(vec![0xab; 64 * 1024]);
        assert_eq!(framed.try_read()?, None);
        assert!(framed.read_buffer().is_empty(), "skipped bytes kept");
        assert!(
            framed.read_buffer_capacity() <= READ_ROOM,
            "read buffer holds {} bytes",
            framed.read_buffer_capacity()
        );
    }
    peer.close();
    assert_eq!(within("read", framed.read()).await?, None);
    assert_no_huge_reservation(peak_before, "4 GiB length prefix");
    Ok(())
}

/// With a limit of 1 KiB, a prefix announcing 100 KiB is refused from its
/// header, its payload (fed in 1 KiB pieces) is skipped by count with the
/// buffer never holding more than a read's room, and the frame right after
/// it — header and payload in the same piece as the skipped bytes' end —
/// comes out intact.
#[tokio::test]
async fn length_prefix_over_the_limit_is_skipped_by_count_then_the_next_frame(
) -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::LengthPrefixed);
    framed.set_max_frame_len(1024);
    let mut input = lp(&vec![b'x'; 100 * 1024]);
    input.extend(lp(b"after"));
    input.extend(lp(&vec![b'y'; 1024]));
    let mut errors = 0;
    let mut frames = Vec::new();
    // Unconstrained: see `tight_loop`.
    tight_loop(async {
        for piece in input.chunks(1024) {
            peer.put(piece);
            loop {
                match framed.try_read() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(Error::FrameTooLong { limit: 1024 }) => errors += 1,
                    Err(other) => panic!("unexpected {other:?}"),
                }
                assert!(framed.read_buffer_capacity() <= READ_ROOM);
            }
            assert!(framed.read_buffer().len() <= 4 + 1024);
        }
    })
    .await;
    assert_eq!(errors, 1, "reported once");
    assert_eq!(
        frames,
        vec![Bytes::from_static(b"after"), Bytes::from(vec![b'y'; 1024])]
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Fuzz findings (see fuzz/), kept as regression tests
// ---------------------------------------------------------------------------

/// Found by `cargo fuzz run exact` (input: `Exact(0)`, no data): an invalid
/// framing (`Exact(0)`, an empty delimiter list) is refused with
/// `InvalidInput` on every call, an empty buffer included — it once gave
/// `Ok(None)` there, so a channel whose peer sent nothing ended cleanly.
#[tokio::test]
async fn invalid_framing_is_reported_even_on_an_empty_stream() {
    let is_invalid_input = |r: &iochannels::Result<Option<Bytes>>| matches!(r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::InvalidInput);
    for framing in [Framing::Exact(0), Framing::Delimited(Vec::new())] {
        let mut codec = FrameCodec::new(framing.clone());
        let mut buf = BytesMut::new();
        let r = codec.decode(&mut buf);
        assert!(is_invalid_input(&r), "{framing:?}: decode gave {r:?}");
        let r = codec.decode_eof(&mut buf);
        assert!(is_invalid_input(&r), "{framing:?}: decode_eof gave {r:?}");

        let (channel, mut peer) = Channel::test();
        let mut framed = FramedChannel::new(channel, framing.clone());
        peer.close();
        let r = within("read", framed.read()).await;
        assert!(is_invalid_input(&r), "{framing:?}: read gave {r:?}");
    }
}
