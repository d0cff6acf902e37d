//! The Poller under more pending events than one turn gathers: `close_all`
//! and the batch `poll(timeout)` finish, in bounded time, with every event.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use iochannels::{Channel, Event, Framing, Poller, TestPeer};
use support::within;

/// `n` test channels, each with one line waiting.
fn ready_channels(poller: &mut Poller, n: usize) -> Vec<TestPeer> {
    (0..n)
        .map(|i| {
            let (channel, mut peer) = Channel::test();
            poller.register(channel.framed(Framing::Lines));
            peer.put(format!("line {i}\n"));
            peer
        })
        .collect()
}

#[tokio::test]
async fn close_all_over_3000_channels_with_frames_pending_ends_with_only_closed() {
    let mut poller = Poller::new(Framing::Lines);
    let _peers = ready_channels(&mut poller, 3000);
    // One event gathers more than a turn's worth of frames, unconsumed.
    let first = within(poller.next()).await.expect("an event");
    assert!(matches!(first, Event::Data { .. }), "got {first:?}");
    within(poller.close_all()).await;
    assert_eq!(poller.len(), 0);
    let mut closed = HashSet::new();
    while let Some(event) = within(poller.next()).await {
        match event {
            Event::Closed { id, error: None } => assert!(closed.insert(id), "{id:?} twice"),
            other => panic!("after close_all only Closed may come, got {other:?}"),
        }
    }
    assert_eq!(closed.len(), 3000);
}

#[tokio::test]
async fn close_all_with_1100_idle_channels_finishes() {
    let mut poller = Poller::new(Framing::Lines);
    let _peers: Vec<TestPeer> = (0..1100)
        .map(|_| {
            let (channel, peer) = Channel::test();
            poller.register(channel.framed(Framing::Lines));
            peer
        })
        .collect();
    within(poller.close_all()).await;
    let mut closed = 0;
    while let Some(event) = within(poller.next()).await {
        assert!(
            matches!(event, Event::Closed { error: None, .. }),
            "got {event:?}"
        );
        closed += 1;
    }
    assert_eq!(closed, 1100);
}

#[tokio::test]
async fn poll_over_2000_ready_channels_returns_batches_with_every_line() {
    let mut poller = Poller::new(Framing::Lines);
    let _peers = ready_channels(&mut poller, 2000);
    let mut lines = HashSet::new();
    let mut batches = 0;
    while lines.len() < 2000 {
        let batch = within(poller.poll(Some(Duration::from_secs(5)))).await;
        assert!(!batch.is_empty(), "timed out with {} lines", lines.len());
        batches += 1;
        for event in batch {
            match event {
                Event::Data { data, .. } => {
                    assert!(lines.insert(data.clone()), "{data:?} twice")
                }
                other => panic!("expected Data, got {other:?}"),
            }
        }
    }
    assert!(batches >= 2, "2,000 events came in {batches} batch");
    for i in 0..2000 {
        assert!(lines.contains(format!("line {i}\n").as_bytes()));
    }
}
