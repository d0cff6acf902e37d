//! Odd but valid input through `FramedChannel` over `Channel::test()`: the
//! frames come out byte-exact and exactly when they are certain. Invalid
//! UTF-8, delimiters split at every byte, zero-length frames, a torrent of
//! one-byte packets. Over-long frames are in `bad_input.rs`.

mod support;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use iochannels::{Channel, Error, Framing};

use support::bad_input::{bs, lp, tight_loop, within};
use support::frames::delimited;

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
