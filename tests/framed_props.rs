//! FramedChannel reads give exactly the frames and errors a `FrameCodec`
//! gives on the whole input at once — whatever the chunks the bytes arrive
//! in, with framing and frame limit switched between frames, and whether
//! the frames read are kept alive or dropped at once.
//!
//! The read side cuts frames from a `BytesMut` or, when one read brought
//! many, from a frozen `Bytes` of the rest (moved back when a partial frame
//! is left, copied only if a frame still shares it): every one of those
//! paths has to give what the plain codec gives.

mod support;

use bytes::BytesMut;
use iochannels::{Channel, Error, FrameCodec, Framing};
use proptest::prelude::*;
use support::frames::Out;
use tokio_util::codec::Decoder;

/// A switch made before the event with this index: a new framing and,
/// optionally, a new frame limit.
#[derive(Debug, Clone)]
struct Switch {
    before: usize,
    framing: Framing,
    limit: Option<usize>,
}

/// The codec's events for `input` at once, switches applied in order.
fn expected(input: &[u8], switches: &[Switch]) -> Vec<Out> {
    let mut codec = FrameCodec::new(Framing::Lines);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    let mut next = 0;
    for eof in [false, true] {
        for _ in 0..100_000 {
            while next < switches.len()
                && due(
                    &switches[next],
                    out.len(),
                    matches!(out.last(), Some(Out::TooLong(_))),
                )
            {
                apply(&mut codec, &switches[next]);
                next += 1;
            }
            let got = if eof {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match got {
                Ok(Some(frame)) => out.push(Out::Frame(frame)),
                Ok(None) => break,
                Err(e) => out.push(marker(e)),
            }
        }
    }
    out
}

/// Whether `switch` is made now. Never right after a `FrameTooLong`: the
/// skip of the rest of that frame may still be going on, and a switch
/// cancels it, so what it skipped would depend on what had arrived.
fn due(switch: &Switch, events: usize, after_too_long: bool) -> bool {
    switch.before <= events && !after_too_long
}

fn apply(codec: &mut FrameCodec, switch: &Switch) {
    codec.set_framing(switch.framing.clone());
    if let Some(limit) = switch.limit {
        codec.set_max_frame_len(limit);
    }
}

/// An error as a comparable marker (an I/O error by its kind: the channel
/// adds its endpoint to the message).
fn marker(e: Error) -> Out {
    match e {
        Error::FrameTooLong { limit } => Out::TooLong(limit),
        Error::Io(e) => Out::Io(e.kind(), String::new()),
        other => panic!("unexpected error {other:?}"),
    }
}

/// The same input through a test channel, `chunks` at a time, read with
/// `try_read` after each chunk and `read` after the end.
async fn through_channel(chunks: &[Vec<u8>], switches: &[Switch], keep: bool, want: &[Out]) {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let mut seen = 0;
    let mut kept = Vec::new();
    let mut next = 0;
    let mut after_too_long = false;
    let mut check = |got: Out, seen: &mut usize, after_too_long: &mut bool| {
        assert_eq!(Some(&got), want.get(*seen), "event {seen}");
        *seen += 1;
        *after_too_long = matches!(got, Out::TooLong(_));
        if keep {
            kept.push(got);
        }
    };
    let mut ended = false;
    for chunk in chunks.iter().map(Some).chain([None]) {
        match chunk {
            Some(bytes) => peer.put(bytes.clone()),
            None => peer.close(),
        }
        for _ in 0..100_000 {
            while next < switches.len() && due(&switches[next], seen, after_too_long) {
                framed.set_framing(switches[next].framing.clone());
                if let Some(limit) = switches[next].limit {
                    framed.set_max_frame_len(limit);
                }
                next += 1;
            }
            let got = if chunk.is_some() {
                framed.try_read()
            } else {
                framed.read().await
            };
            match got {
                Ok(Some(frame)) => check(Out::Frame(frame), &mut seen, &mut after_too_long),
                Ok(None) if chunk.is_some() => break,
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(e) => check(marker(e), &mut seen, &mut after_too_long),
            }
        }
    }
    assert!(ended, "the end was never read");
    assert_eq!(seen, want.len(), "events missing");
    assert!(framed.read_buffer().is_empty());
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        4 => Just(Framing::Lines),
        2 => Just(Framing::Delimited(vec![";".into(), "\r\n".into(), "\r".into()])),
        2 => (1usize..24).prop_map(Framing::Exact),
        1 => Just(Framing::LengthPrefixed),
    ]
}

fn switches() -> impl Strategy<Value = Vec<Switch>> {
    prop::collection::vec(
        (
            0usize..120,
            framing(),
            prop::option::weighted(0.3, 1usize..60),
        ),
        0..8,
    )
    .prop_map(|mut v| {
        v.sort_by_key(|s| s.0);
        v.into_iter()
            .map(|(before, framing, limit)| Switch {
                before,
                framing,
                limit,
            })
            .collect()
    })
}

/// Many short frames with a few long ones; bytes that delimit in one
/// framing or another, and small length prefixes.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![8 => Just(b'x'), 2 => Just(b'\n'), 1 => Just(b';'), 1 => Just(b'\r'), 1 => Just(0u8), 1 => Just(3u8)];
    prop::collection::vec(byte, 0..3000)
}

/// `input` cut into pieces of up to `max` bytes.
fn chunks(input: Vec<u8>, sizes: Vec<usize>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = &input[..];
    let mut sizes = sizes.into_iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn reads_give_the_codec_s_frames_whatever_the_chunks_and_switches(
        input in input(),
        sizes in prop::collection::vec(1usize..1500, 1..6),
        switches in switches(),
        keep in any::<bool>(),
    ) {
        let want = expected(&input, &switches);
        let chunks = chunks(input, sizes);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(through_channel(&chunks, &switches, keep, &want));
    }
}

/// The frozen rest of a read is re-framed exactly: a switch after the
/// first of many lines applies to the very next byte, and `read_buffer`,
/// `into_inner` see every byte not yet returned.
#[tokio::test]
async fn a_switch_after_the_first_of_many_lines_applies_to_the_next_byte() -> iochannels::Result<()>
{
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let mut input = b"LEN 5\nhello".to_vec();
    for i in 0..40 {
        input.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    peer.put(input);
    assert_eq!(framed.read().await?.as_deref(), Some(&b"LEN 5\n"[..]));
    framed.set_framing(Framing::Exact(5));
    assert_eq!(framed.read().await?.as_deref(), Some(&b"hello"[..]));
    framed.set_framing(Framing::Lines);
    assert_eq!(framed.read().await?.as_deref(), Some(&b"line 0\n"[..]));
    let first = framed.read().await?;
    assert_eq!(first.as_deref(), Some(&b"line 1\n"[..]));
    assert!(framed.read_buffer().starts_with(b"line 2\nline 3\n"));
    framed.set_max_frame_len(4);
    assert!(matches!(
        framed.read().await,
        Err(Error::FrameTooLong { limit: 4 })
    ));
    framed.set_max_frame_len(64);
    framed.set_framing(Framing::Delimited(vec![" ".into()]));
    assert_eq!(framed.read().await?.as_deref(), Some(&b"line "[..]));
    let mut rest = String::new();
    peer.close();
    let mut inner = framed.into_inner();
    tokio::io::AsyncReadExt::read_to_string(&mut inner, &mut rest).await?;
    assert!(rest.starts_with("3\nline 4\n"), "{rest:?}");
    assert!(rest.ends_with("line 39\n"), "{rest:?}");
    Ok(())
}

/// Reads grow from 4 KiB to 64 KiB while lines keep arriving; each time the
/// read size grows, the partial line at the end of the buffer moves to a
/// larger one, and every line comes out whole and in order.
#[tokio::test]
async fn lines_split_across_growing_reads_come_out_whole() -> iochannels::Result<()> {
    let (channel, mut peer) = Channel::test();
    let mut framed = channel.framed(Framing::Lines);
    let lines: Vec<Vec<u8>> = (0..4000usize)
        .map(|i| {
            let mut line = format!("{i}:").into_bytes();
            line.resize(3 + (i * 37) % 180, b'a' + (i % 26) as u8);
            line.push(b'\n');
            line
        })
        .collect();
    let input = lines.concat();
    let mut next = 0;
    for chunk in input.chunks(7_777) {
        peer.put(chunk);
        while let Some(line) = framed.try_read()? {
            assert_eq!(line, lines[next], "line {next}");
            next += 1;
        }
    }
    assert_eq!(next, lines.len());
    assert!(framed.read_buffer().is_empty());
    Ok(())
}
