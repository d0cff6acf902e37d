//! `Poller::set_framing(id, ..)` is exact: the next `Data` of that channel
//! is cut with the new framing from the bytes after the last `Data`
//! yielded, however the bytes arrived — all at once, byte by byte, or
//! split at any point. Also the per-channel frame limit and `get_mut`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use iochannels::{Channel, ChannelId, Error, Event, Framing, Poller, TestPeer};
use support::within;

/// Header lines `LEN n` announce an `n`-byte body; other lines are lines.
const INPUT: &[u8] = b"LEN 5\nhelloLEN 3\nabcplain\nLEN 0\nLEN 2\n\n\nend\nlast";
const FRAMES: &[&[u8]] = &[
    b"LEN 5\n", b"hello", b"LEN 3\n", b"abc", b"plain\n", b"LEN 0\n", b"LEN 2\n", b"\n\n",
    b"end\n", b"last",
];

/// Applies the protocol to one event; returns the frame if it was `Data`.
fn handle(poller: &mut Poller, id: ChannelId, event: Event) -> Option<Bytes> {
    match event {
        Event::Data { id: from, data } => {
            assert_eq!(from, id);
            let framing = match data.strip_prefix(b"LEN ") {
                Some(n) => {
                    let n: usize = std::str::from_utf8(n.trim_ascii()).ok()?.parse().ok()?;
                    // A zero-length body is no frame at all: stay on lines.
                    (n > 0).then_some(Framing::Exact(n))
                }
                None if poller.get_mut(id)?.framing() != &Framing::Lines => Some(Framing::Lines),
                None => None,
            };
            if let Some(framing) = framing {
                poller.set_framing(id, framing).expect("set_framing");
            }
            Some(data)
        }
        Event::Closed {
            id: from,
            error: None,
        } => {
            assert_eq!(from, id);
            None
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn setup() -> (Poller, ChannelId, TestPeer) {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    (poller, id, peer)
}

/// Handles every event ready now (the poller sees what was put so far),
/// one at a time: the batch `poll` would cut all it returns before any is
/// handled.
async fn drain_ready(poller: &mut Poller, id: ChannelId, frames: &mut Vec<Bytes>) {
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(1), poller.next()).await
    {
        frames.extend(handle(poller, id, event));
    }
}

async fn finish(mut poller: Poller, id: ChannelId, mut frames: Vec<Bytes>) -> Vec<Bytes> {
    while let Some(event) = within(poller.next()).await {
        let closed = matches!(event, Event::Closed { .. });
        frames.extend(handle(&mut poller, id, event));
        if closed {
            break;
        }
    }
    frames
}

#[tokio::test]
async fn input_all_at_once_is_framed_exactly() {
    let (poller, id, mut peer) = setup();
    peer.put(INPUT);
    peer.close();
    let frames = finish(poller, id, Vec::new()).await;
    assert_eq!(frames, FRAMES);
}

#[tokio::test]
async fn input_byte_by_byte_is_framed_exactly() {
    let (mut poller, id, mut peer) = setup();
    let mut frames = Vec::new();
    for byte in INPUT {
        peer.put([*byte]);
        drain_ready(&mut poller, id, &mut frames).await;
    }
    peer.close();
    assert_eq!(finish(poller, id, frames).await, FRAMES);
}

#[tokio::test]
async fn input_split_at_every_point_is_framed_exactly() {
    for split in 0..=INPUT.len() {
        let (mut poller, id, mut peer) = setup();
        let mut frames = Vec::new();
        peer.put(&INPUT[..split]);
        drain_ready(&mut poller, id, &mut frames).await;
        peer.put(&INPUT[split..]);
        peer.close();
        assert_eq!(finish(poller, id, frames).await, FRAMES, "split at {split}");
    }
}

#[tokio::test]
async fn a_read_of_many_frames_is_still_cut_one_at_a_time() {
    // Many bodies in one read: a framing decided after each header must
    // apply to what follows it, even though all of it was read at once.
    let (poller, id, mut peer) = setup();
    let mut input = Vec::new();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for i in 0..200 {
        let body = format!("body-{i}-").repeat(i % 7 + 1);
        input.extend_from_slice(format!("LEN {}\n{body}", body.len()).as_bytes());
        expected.push(format!("LEN {}\n", body.len()).into_bytes());
        expected.push(body.into_bytes());
    }
    peer.put(&input);
    peer.close();
    let frames = finish(poller, id, Vec::new()).await;
    assert_eq!(frames, expected);
}

#[tokio::test]
async fn per_channel_frame_limit_and_unknown_ids() {
    let mut poller = Poller::new(Framing::Lines);
    let (short, mut short_peer) = Channel::test();
    let (long, mut long_peer) = Channel::test();
    let short = poller.register(short.framed(Framing::Lines));
    let long = poller.register(long.framed(Framing::Lines));
    poller
        .set_channel_max_frame_len(short, 4)
        .expect("registered");
    short_peer.put("too long\n");
    long_peer.put("too long\n");
    let mut seen = 0;
    while seen < 2 {
        match within(poller.next()).await.expect("event") {
            Event::Closed {
                id,
                error: Some(Error::FrameTooLong { limit: 4 }),
            } => {
                assert_eq!(id, short);
                seen += 1;
            }
            Event::Data { id, data } => {
                assert_eq!((id, &data[..]), (long, &b"too long\n"[..]));
                seen += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // `short` is gone now.
    assert!(matches!(
        poller.set_framing(short, Framing::Bytes),
        Err(Error::Closed)
    ));
    assert!(matches!(
        poller.set_channel_max_frame_len(short, 9),
        Err(Error::Closed)
    ));
    assert!(poller.get_mut(short).is_none());
    assert_eq!(
        poller.get_mut(long).map(|f| f.max_frame_len()),
        Some(iochannels::DEFAULT_MAX_FRAME_LEN)
    );
}

#[tokio::test]
async fn take_frame_cuts_the_burst_exactly_and_leaves_errors_to_events() {
    let (mut poller, id, mut peer) = setup();
    poller
        .set_channel_max_frame_len(id, 16)
        .expect("registered");
    peer.put(INPUT);
    peer.put("a line far longer than sixteen bytes\n");
    peer.close();
    let mut frames = Vec::new();
    let error = loop {
        match within(poller.next()).await.expect("poller ended") {
            Event::Data { id: from, data } => {
                assert_eq!(from, id);
                let mut frame = Some(data);
                while let Some(data) = frame {
                    frames.extend(handle(&mut poller, id, Event::Data { id, data }));
                    frame = poller.take_frame(id);
                }
            }
            Event::Closed { id: from, error } => {
                assert_eq!(from, id);
                break error;
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    // "last" has no newline: the over-long line joins it, so the end is
    // that frame's error, reported once, as an event.
    assert_eq!(&frames[..FRAMES.len() - 1], &FRAMES[..FRAMES.len() - 1]);
    assert!(
        matches!(error, Some(Error::FrameTooLong { limit: 16 })),
        "{error:?}"
    );
    assert!(poller.take_frame(id).is_none());
}

#[tokio::test]
async fn take_frame_stops_at_a_frame_too_long_and_its_error_comes_next() {
    let (mut poller, id, mut peer) = setup();
    poller.set_channel_max_frame_len(id, 8).expect("registered");
    peer.put("ok\nfar too long a line\nafter\n");
    match within(poller.next()).await {
        Some(Event::Data { id: from, data }) => assert_eq!((from, &data[..]), (id, &b"ok\n"[..])),
        other => panic!("unexpected {other:?}"),
    }
    // The over-long line is next: nothing to take, however often asked,
    // and nothing after it may overtake its error.
    assert_eq!(poller.take_frame(id), None);
    assert_eq!(poller.take_frame(id), None);
    match within(poller.next()).await {
        Some(Event::Closed { id: from, error }) => {
            assert_eq!(from, id);
            assert!(
                matches!(error, Some(Error::FrameTooLong { limit: 8 })),
                "{error:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
