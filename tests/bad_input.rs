//! Bad input through the public API: each case gets its documented result,
//! exactly, with the memory it holds bounded.
//!
//! `tests/framing.rs` covers the codec call by call; here the same kinds of
//! input go through `FramedChannel` (over `Channel::test()` and TCP
//! loopback) and the `Poller`: over-long lines, a 4 GiB length prefix,
//! invalid UTF-8, delimiters split at every byte, zero-length frames, a
//! torrent of one-byte packets.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use iochannels::{
    Channel, ChannelId, Error, Event, FrameCodec, FramedChannel, Framing, Poller,
    DEFAULT_MAX_FRAME_LEN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::codec::Decoder;

/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

/// The most a framed channel's read buffer may hold while it refuses or
/// skips an over-long frame: a read's room (4 to 64 KiB) plus the limit
/// where that is small; far below the frame that was refused.
const READ_ROOM: usize = 128 * 1024;

/// Awaits `fut`, failing the test (naming `what`) if it takes longer than [`STEP`].
async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(STEP, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {STEP:?}"),
    }
}

/// `payload` as a `LengthPrefixed` frame.
fn lp(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn bs(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn delimited(list: &[&[u8]]) -> Framing {
    Framing::Delimited(list.iter().map(|d| Bytes::copy_from_slice(d)).collect())
}

fn assert_too_long<T: std::fmt::Debug>(result: iochannels::Result<T>, limit: usize) {
    match result {
        Err(Error::FrameTooLong { limit: l }) => assert_eq!(l, limit, "limit carried"),
        other => panic!("expected FrameTooLong {{ limit: {limit} }}, got {other:?}"),
    }
}

/// Runs a test's loop of `put`s and `try_read`s outside tokio's cooperative
/// budget. Both spend it (the test channel is a `tokio::io::duplex`, whose
/// reads and writes each take a unit), and a loop that never awaits never
/// gets it back: after about 128 units in one poll of the task, `try_read`
/// returns `Ok(None)` although a frame is ready, and `put` keeps its bytes
/// in the peer's backlog. A TCP stream spends the budget the same way.
async fn tight_loop<F: std::future::Future>(body: F) -> F::Output {
    tokio::task::unconstrained(body).await
}

/// This process's peak virtual size (VmPeak), in KiB. A reservation sized
/// by a hostile 4 GiB length prefix would raise it by 4 GiB even if the
/// memory were never touched (and so never counted in RSS).
fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmPeak in /proc/self/status")
}

/// Fails if VmPeak grew by 3 GiB or more since `before`. The other tests
/// of this binary run in parallel and their threads add to it (a stack
/// each, and up to 64 MiB of malloc arena per thread), but that stays
/// around 1 GiB at most; a 4 GiB reservation cannot hide under it.
fn assert_no_huge_reservation(before: u64, what: &str) {
    let after = vm_peak_kib();
    assert!(
        after.saturating_sub(before) < 3 * 1024 * 1024,
        "{what}: VmPeak grew from {before} KiB to {after} KiB"
    );
}

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
// Invalid UTF-8
// ---------------------------------------------------------------------------

/// Lines of bytes that are not UTF-8: lone continuation bytes, 0xff/0xfe,
/// an overlong NUL (c0 80), a UTF-16 surrogate (ed a0 80), a sequence cut
/// by the newline (e2 82), NULs.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff\xfe\n",
    b"\xc0\x80 overlong nul\n",
    b"\xed\xa0\x80 surrogate\n",
    b"cut \xe2\x82\n",
    b"\x00\x80\x00\n",
    b"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\n",
];

/// Puts `input` and closes, then reads every frame to the end.
async fn all_frames(framing: Framing, input: &[u8]) -> Vec<Bytes> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(framing);
    peer.put(input);
    peer.close();
    let mut frames = Vec::new();
    while let Some(frame) = within("read", framed.read()).await.expect("read") {
        frames.push(frame);
    }
    frames
}

/// Every framing hands invalid UTF-8 through byte for byte, reading and
/// writing (the Sink): nothing is replaced, rejected or re-encoded.
#[tokio::test]
async fn invalid_utf8_passes_through_every_framing_byte_exact() -> iochannels::Result<()> {
    let input: Vec<u8> = NOT_UTF8.concat();
    assert!(std::str::from_utf8(&input).is_err());
    let lines: Vec<Bytes> = NOT_UTF8.iter().map(|l| Bytes::from_static(l)).collect();

    assert_eq!(all_frames(Framing::Lines, &input).await, lines);
    assert_eq!(all_frames(delimited(&[b"\n"]), &input).await, lines);
    let exact: Vec<Bytes> = input.chunks(5).map(Bytes::copy_from_slice).collect();
    assert_eq!(all_frames(Framing::Exact(5), &input).await, exact);
    let prefixed: Vec<u8> = NOT_UTF8.iter().flat_map(|l| lp(l)).collect();
    assert_eq!(all_frames(Framing::LengthPrefixed, &prefixed).await, lines);
    assert_eq!(
        all_frames(Framing::Bytes, &input).await.concat(),
        input,
        "Bytes framing"
    );

    // Written through the Sink: the peer gets exactly the encoded frames.
    for (framing, expected) in [
        (Framing::Lines, input.clone()),
        (delimited(&[b"\n"]), input.clone()),
        (Framing::LengthPrefixed, prefixed.clone()),
        (Framing::Bytes, input.clone()),
    ] {
        let (channel, mut peer) = Channel::test();
        let mut framed = channel.framed(framing.clone());
        for line in &lines {
            within("feed", framed.feed(line.clone())).await?;
        }
        within("flush", SinkExt::flush(&mut framed)).await?;
        assert_eq!(peer.get(), expected, "{framing:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Delimiters split at every byte
// ---------------------------------------------------------------------------

/// Delimiters `\r\n`, `\r\n\r\n` (a longer one starting with it) and `END`,
/// fed one byte at a time with a `try_read` after each byte: every frame
/// comes out at the very byte that makes it certain — a `\r\n` waits for
/// the next byte (it could be the start of `\r\n\r\n`) — never earlier,
/// never later, and a frame still undecided at the end is delivered then.
#[tokio::test]
async fn multibyte_delimiters_split_at_every_byte_come_out_exactly_when_certain(
) -> iochannels::Result<()> {
    // (bytes put one at a time, frames that must come out after the last
    // of them and not before).
    let steps: &[(&str, &[&str])] = &[
        ("head\r\n\r\n", &["head\r\n\r\n"]),
        ("a\r\n", &[]),
        ("b", &["a\r\n"]),
        ("END", &["bEND"]),
        ("x\r\n\r", &[]),
        ("y", &["x\r\n"]),
        ("ENEND", &["\ryENEND"]),
        ("E\r", &[]),
        ("\n", &[]),
        ("\r\n", &["E\r\n\r\n"]),
        ("tail\r\n", &[]),
    ];
    let framing = delimited(&[b"\r\n", b"\r\n\r\n", b"END"]);
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(framing.clone());
    let mut whole = Vec::new();
    for (bytes, expected) in steps {
        whole.extend_from_slice(bytes.as_bytes());
        let last = bytes.len() - 1;
        for (i, byte) in bytes.bytes().enumerate() {
            peer.put([byte]);
            let mut got = Vec::new();
            while let Some(frame) = framed.try_read()? {
                got.push(frame);
            }
            let want: Vec<Bytes> = if i == last {
                expected.iter().map(|f| Bytes::from(f.as_bytes())).collect()
            } else {
                Vec::new()
            };
            assert_eq!(got, want, "after byte {i} of {bytes:?}");
        }
    }
    assert_eq!(framed.read_buffer(), b"tail\r\n");
    peer.close();
    assert_eq!(
        within("read", framed.read()).await?.as_deref(),
        Some(&b"tail\r\n"[..])
    );
    assert_eq!(within("read", framed.read()).await?, None);

    // The same bytes in one piece give the same frames.
    let expected: Vec<Bytes> = steps
        .iter()
        .flat_map(|(_, frames)| frames.iter().map(|f| Bytes::from(f.as_bytes())))
        .chain([Bytes::from_static(b"tail\r\n")])
        .collect();
    assert_eq!(all_frames(framing, &whole).await, expected);
    Ok(())
}

// ---------------------------------------------------------------------------
// Zero-length frames
// ---------------------------------------------------------------------------

/// Zero-length `LengthPrefixed` payloads are empty frames — 1,000 of them in
/// a row, as a Stream, do not end it — empty lines and lone delimiters are
/// one-delimiter frames, and the Sink encodes an empty item as the framing
/// says (`Exact(3)` refuses it).
#[tokio::test]
async fn zero_length_frames_are_frames() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::LengthPrefixed);
    let mut input = [0u8; 4].repeat(1000);
    input.extend(lp(b"x"));
    input.extend([0u8; 4]);
    peer.put(&input);
    peer.close();
    let mut frames = Vec::new();
    while let Some(item) = within("next", framed.next()).await {
        frames.push(item?);
    }
    let mut expected = vec![Bytes::new(); 1000];
    expected.push(Bytes::from_static(b"x"));
    expected.push(Bytes::new());
    assert_eq!(frames, expected);

    assert_eq!(
        all_frames(Framing::Lines, b"\n\n\nz\n\n").await,
        ["\n", "\n", "\n", "z\n", "\n"].map(bs)
    );
    assert_eq!(
        all_frames(delimited(&[b";", b"::"]), b";;::;").await,
        [";", ";", "::", ";"].map(bs)
    );

    // An empty put is no frame.
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Bytes);
    peer.put(b"");
    assert_eq!(framed.try_read()?, None);

    for (framing, wire) in [
        (Framing::LengthPrefixed, &b"\0\0\0\0"[..]),
        (Framing::Lines, b"\n"),
        (delimited(&[b"\r\n", b";"]), b"\r\n"),
        (Framing::Bytes, b""),
    ] {
        let (channel, mut peer) = Channel::test();
        let mut framed = channel.framed(framing.clone());
        within("send", framed.send(Bytes::new())).await?;
        assert_eq!(peer.get(), wire, "{framing:?}");
    }
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Exact(3));
    match within("send", framed.send(Bytes::new())).await {
        Err(Error::FrameLength {
            expected: 3,
            actual: 0,
        }) => {}
        other => panic!("expected FrameLength, got {other:?}"),
    }
    assert_eq!(peer.get(), "");
    Ok(())
}

// ---------------------------------------------------------------------------
// A torrent of tiny packets
// ---------------------------------------------------------------------------

/// Line `i` of the torrent: empty every 10th line, else `i` in decimal.
fn torrent_line(i: usize, out: &mut Vec<u8>) {
    if i % 10 != 9 {
        out.extend_from_slice(i.to_string().as_bytes());
    }
    out.push(b'\n');
}

/// 1,000,000 one-byte puts, each read on its own (a `try_read` after each):
/// every line comes out exactly at its newline byte, in order and intact,
/// and nothing else comes out.
#[tokio::test]
async fn million_one_byte_packets_give_exactly_the_right_lines() -> iochannels::Result<()> {
    const BYTES: usize = 1_000_000;
    let mut input = Vec::with_capacity(BYTES + 16);
    let mut lines = 0;
    while input.len() < BYTES {
        torrent_line(lines, &mut input);
        lines += 1;
    }
    // Exactly 1,000,000 bytes: the last line is cut and comes out at the end.
    input.truncate(BYTES);
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let mut next = 0;
    let mut expected = Vec::new();
    torrent_line(next, &mut expected);
    tight_loop(async {
        for &byte in &input {
            peer.put([byte]);
            match framed.try_read().expect("try_read") {
                Some(frame) => {
                    assert_eq!(byte, b'\n', "a frame before its newline: {frame:?}");
                    assert_eq!(frame, expected, "line {next}");
                    next += 1;
                    expected.clear();
                    torrent_line(next, &mut expected);
                }
                None => assert_ne!(byte, b'\n', "line {next} did not come out at its newline"),
            }
        }
    })
    .await;
    assert_eq!(framed.try_read()?, None);
    peer.close();
    let last = within("read", framed.read())
        .await?
        .expect("the cut last line");
    assert!(!last.is_empty() && expected.starts_with(&last) && last.len() < expected.len());
    assert_eq!(within("read", framed.read()).await?, None);
    assert_eq!(next, lines - 1, "every whole line came out once");
    Ok(())
}

// ---------------------------------------------------------------------------
// The Poller and a 4 GiB length prefix
// ---------------------------------------------------------------------------

/// The next event, failing the test if none comes in time.
async fn next_event(poller: &mut Poller) -> Event {
    within("waiting for a poller event", poller.next())
        .await
        .expect("the poller stream ended, but only close_all may end it")
}

/// Two `LengthPrefixed` test channels; one sends a frame and then a 4 GiB
/// length prefix (and some of its payload): that channel, and only it, ends
/// with `Closed { error: Some(FrameTooLong { limit: 8 MiB }) }`, after the
/// `Data` of its good frame; the other's frames all come, before and after,
/// and it stays registered. No 4 GiB reservation is made.
#[tokio::test]
async fn poller_closes_only_the_channel_with_a_4_gib_prefix() -> iochannels::Result<()> {
    let peak_before = vm_peak_kib();
    let mut poller = Poller::new(Framing::LengthPrefixed);
    let (bad, mut bad_peer) = Channel::test();
    let (good, mut good_peer) = Channel::test();
    let bad_id = poller.register(bad.framed(Framing::LengthPrefixed));
    let good_id = poller.register(good.framed(Framing::LengthPrefixed));
    let mut bad_input = lp(b"fine first");
    bad_input.extend([0xff; 4]);
    bad_input.extend(vec![0u8; 256 * 1024]);
    bad_peer.put(&bad_input);
    good_peer.put([lp(b"g1"), lp(b""), lp(b"g2")].concat());

    let (mut bad_events, mut good_frames) = (Vec::new(), Vec::new());
    while bad_events.len() < 2 || good_frames.len() < 3 {
        match next_event(&mut poller).await {
            Event::Data { id, data } if id == good_id => good_frames.push(data),
            Event::Data { id, data } if id == bad_id => bad_events.push(format!("Data({data:?})")),
            Event::Closed {
                id,
                error: Some(Error::FrameTooLong { limit }),
            } if id == bad_id => bad_events.push(format!("Closed(FrameTooLong({limit}))")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        bad_events,
        [
            "Data(b\"fine first\")".to_string(),
            format!("Closed(FrameTooLong({DEFAULT_MAX_FRAME_LEN}))")
        ]
    );
    assert_eq!(good_frames, ["g1", "", "g2"].map(bs));
    assert_eq!(poller.len(), 1);
    assert!(matches!(poller.write(bad_id, "x"), Err(Error::Closed)));
    assert!(poller.unregister(bad_id).is_none());

    good_peer.put(lp(b"g3"));
    match next_event(&mut poller).await {
        Event::Data { id, data } => assert_eq!((id, &data[..]), (good_id, &b"g3"[..])),
        other => panic!("unexpected {other:?}"),
    }
    assert_no_huge_reservation(peak_before, "4 GiB length prefix in a poller");
    Ok(())
}

/// What the echo server of the TCP test saw, per channel, in order.
type Seen = Vec<(ChannelId, String)>;

/// Echoes every `LengthPrefixed` frame back (re-encoded) and records every
/// event, until `stop` fires.
async fn echo_lp_server(mut poller: Poller, mut stop: oneshot::Receiver<()>) -> Seen {
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = poller.next() => match event {
                Some(Event::Accepted { id, .. }) => seen.push((id, "Accepted".to_string())),
                Some(Event::Data { id, data }) => {
                    seen.push((id, format!("Data({data:?})")));
                    poller.write(id, lp(&data)).expect("echo");
                }
                Some(Event::Closed { id, error }) => seen.push((id, format!("Closed({error:?})"))),
                other => panic!("unexpected {other:?}"),
            },
        }
    }
    seen
}

/// Reads one `LengthPrefixed` frame from a raw TCP client.
async fn read_lp(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let mut payload = vec![0; u32::from_be_bytes(header) as usize];
    stream.read_exact(&mut payload).await?;
    Ok(payload)
}

/// A TCP echo server on a `LengthPrefixed` poller. Client A sends a frame
/// (echoed), then a 4 GiB length prefix and 64 KiB of payload: A's channel
/// ends with `Closed(FrameTooLong { limit: 8 MiB })` after its one `Data`,
/// and A's socket is closed under it (EOF or reset, depending on whether
/// the poller had read all of A's bytes). Client B, connected before and
/// served after, gets every echo and ends cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_tcp_client_with_a_4_gib_prefix_is_closed_others_echoed() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut poller = Poller::new(Framing::LengthPrefixed);
    poller.add_server(listener);
    let (stop_tx, stop_rx) = oneshot::channel();
    let server = tokio::spawn(echo_lp_server(poller, stop_rx));

    let mut a = TcpStream::connect(addr).await?;
    a.write_all(&lp(b"a1")).await?;
    assert_eq!(within("echo a1", read_lp(&mut a)).await?, b"a1");
    let mut b = TcpStream::connect(addr).await?;
    b.write_all(&lp(b"b1")).await?;
    assert_eq!(within("echo b1", read_lp(&mut b)).await?, b"b1");

    let mut hostile = vec![0xff; 4];
    hostile.extend(vec![b'z'; 64 * 1024]);
    // The poller may close A before all of it is written.
    let _ = a.write_all(&hostile).await;
    let mut rest = Vec::new();
    match within("A's end", a.read_to_end(&mut rest)).await {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("A: expected EOF or a reset, got {other:?} after {rest:?}"),
    }

    b.write_all(&[lp(b"b2"), lp(b"")].concat()).await?;
    assert_eq!(within("echo b2", read_lp(&mut b)).await?, b"b2");
    assert_eq!(within("echo empty", read_lp(&mut b)).await?, b"");
    b.shutdown().await?;
    let mut tail = Vec::new();
    within("B's end", b.read_to_end(&mut tail)).await?;
    assert!(tail.is_empty());

    stop_tx.send(()).expect("server running");
    let seen = within("server", server).await.expect("server task");
    let ids: Vec<ChannelId> = seen
        .iter()
        .filter(|(_, e)| e == "Accepted")
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids.len(), 2, "two clients accepted: {seen:?}");
    let of = |id: ChannelId| -> Vec<&str> {
        seen.iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, e)| e.as_str())
            .collect()
    };
    let too_long = format!("Closed(Some(FrameTooLong {{ limit: {DEFAULT_MAX_FRAME_LEN} }}))");
    assert_eq!(of(ids[0]), ["Accepted", "Data(b\"a1\")", too_long.as_str()]);
    assert_eq!(
        of(ids[1]),
        [
            "Accepted",
            "Data(b\"b1\")",
            "Data(b\"b2\")",
            "Data(b\"\")",
            "Closed(None)"
        ]
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
