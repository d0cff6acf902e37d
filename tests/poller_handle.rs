//! `PollerHandle`: writing, closing and registering from other tasks and
//! plain threads — per-sender order, writes before that sender's close,
//! waking a poller that waits, `Err(Closed)` once an id is gone or the
//! poller is dropped or ended.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use iochannels::{Channel, ChannelId, Error, Event, Framing, Poller, PollerHandle};
use support::within;

#[test]
fn handle_is_clone_send_sync_debug_static() {
    fn check<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    check::<PollerHandle>();
}

/// Runs the poller until `id`'s `Closed`; returns its error.
async fn until_closed(poller: &mut Poller, id: ChannelId) -> Option<Error> {
    loop {
        match within(poller.next()).await.expect("poller ended") {
            Event::Closed { id: closed, error } if closed == id => return error,
            Event::Closed { .. } | Event::Data { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn numbered(sender: usize, n: usize) -> String {
    format!("{sender}:{n}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_many_senders_keep_each_senders_order_and_precede_its_close() {
    const SENDERS: usize = 4;
    const LINES: usize = 2_000;
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let handle = poller.handle();
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let handle = handle.clone();
        senders.push(std::thread::spawn(move || {
            for n in 0..LINES {
                handle.write(id, numbered(sender, n)).expect("write");
            }
        }));
    }
    let closer = std::thread::spawn(move || {
        for sender in senders {
            sender.join().expect("sender thread");
        }
        // Every write above was queued before this close.
        handle.close(id).expect("close");
    });
    assert_eq!(
        until_closed(&mut poller, id).await.map(|e| e.to_string()),
        None
    );
    closer.join().expect("closer thread");
    let got = peer.get();
    let text = std::str::from_utf8(&got).expect("utf-8");
    let mut next: HashMap<usize, usize> = HashMap::new();
    for line in text.lines() {
        let (sender, n) = line.split_once(':').expect("sender:n");
        let (sender, n): (usize, usize) = (sender.parse().expect("n"), n.parse().expect("n"));
        let expected = next.entry(sender).or_insert(0);
        assert_eq!(n, *expected, "sender {sender} out of order");
        *expected += 1;
    }
    assert_eq!(next.len(), SENDERS);
    assert!(next.values().all(|&n| n == LINES), "{next:?}");
}

#[tokio::test]
async fn a_write_from_a_plain_thread_wakes_a_waiting_poller() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let handle = poller.handle();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.write(id, "late\n").expect("write");
        handle.close(id).expect("close");
    });
    // The poller waits for an event; only the handle can give it one.
    assert!(until_closed(&mut poller, id).await.is_none());
    thread.join().expect("thread");
    assert_eq!(peer.get(), "late\n");
}

#[tokio::test]
async fn a_gone_id_and_a_dropped_poller_are_closed() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let handle = poller.handle();
    peer.close();
    assert!(until_closed(&mut poller, id).await.is_none());
    assert!(matches!(handle.write(id, "x\n"), Err(Error::Closed)));
    assert!(matches!(handle.close(id), Err(Error::Closed)));
    assert!(!handle.is_closed());
    drop(poller);
    assert!(handle.is_closed());
    let (channel, _peer) = Channel::test();
    assert!(matches!(
        handle.register(channel.framed(Framing::Lines)),
        Err(Error::Closed)
    ));
    assert!(matches!(handle.write(id, "x\n"), Err(Error::Closed)));
}

#[tokio::test]
async fn after_close_all_handles_are_closed() {
    let mut poller = Poller::new(Framing::Lines);
    let (channel, mut peer) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let handle = poller.handle();
    // Queued before close_all: still sent.
    handle.write(id, "before\n").expect("write");
    within(poller.close_all()).await;
    assert_eq!(peer.get(), "before\n");
    assert!(handle.is_closed());
    assert!(matches!(handle.write(id, "after\n"), Err(Error::Closed)));
    let (channel, _peer) = Channel::test();
    assert!(matches!(
        handle.register(channel.framed(Framing::Lines)),
        Err(Error::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_registered_elsewhere_deliver_through_the_poller() {
    let mut poller = Poller::new(Framing::Lines);
    let handle = poller.handle();
    let mut peers = Vec::new();
    let mut ids = Vec::new();
    for i in 0..10 {
        let (channel, mut peer) = Channel::test();
        let handle = handle.clone();
        let id = tokio::spawn(async move { handle.register(channel.framed(Framing::Lines)) })
            .await
            .expect("task")
            .expect("register");
        peer.put(format!("hello {i}\n"));
        peers.push(peer);
        ids.push(id);
    }
    // The owner may write to such an id at once.
    poller.write(ids[0], "to the first\n").expect("owner write");
    let mut seen = HashMap::new();
    while seen.len() < 10 {
        match within(poller.next()).await.expect("event") {
            Event::Data { id, data } => {
                seen.insert(id, data);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(seen[id], format!("hello {i}\n").as_bytes());
    }
    assert_eq!(peers[0].get(), "to the first\n");
    assert_eq!(poller.len(), 10);
}

#[tokio::test]
async fn a_handle_write_past_the_queue_limit_ends_the_channel_with_queue_full() {
    let mut poller = Poller::new(Framing::Lines);
    poller.set_write_limits(16, 32, 64);
    let (channel, _peer_never_reads) = Channel::test();
    let id = poller.register(channel.framed(Framing::Lines));
    let handle = poller.handle();
    // The test channel takes 64 KiB before it pushes back.
    for _ in 0..100 {
        handle.write(id, vec![b'x'; 4096]).expect("queued");
    }
    assert!(matches!(
        until_closed(&mut poller, id).await,
        Some(Error::QueueFull { limit: 64 })
    ));
}

#[tokio::test]
async fn a_handle_write_to_a_channel_without_write_side_is_not_writable() -> iochannels::Result<()>
{
    let (reader, _writer) = std::io::pipe()?;
    let mut poller = Poller::new(Framing::Lines);
    let id = poller.register(Channel::pipe(Some(reader.into()), None)?.framed(Framing::Lines));
    let handle = poller.handle();
    assert!(matches!(handle.write(id, "x\n"), Err(Error::NotWritable)));
    handle.close(id)?;
    assert!(until_closed(&mut poller, id).await.is_none());
    Ok(())
}
