//! The `handle` scenario: what a `PollerHandle` costs the poller's owner.
//! The owner's `Poller::write` takes no lock whether handles exist or not;
//! a handle's `write` queues a command (one mutex) that the poller applies
//! on its next turn. Each row sends the same writes — 16-byte lines, round
//! robin over 100 test channels whose peers are drained as the poller
//! turns — and the table compares writes/s.
//!
//! | row | writes through |
//! |-----|----------------|
//! | owner write, no handle (baseline) | `poller.write(id, ..)` |
//! | owner write, 4 handles alive | the same, with four clones of `poller.handle()` held |
//! | PollerHandle::write, same task | `handle.write(id, ..)` from the poller's task |

use std::time::{Duration, Instant};

use bytes::Bytes;
use iochannels::{Channel, ChannelId, Framing, Poller, PollerHandle, TestPeer};

use crate::harness::{runtime, Harness, Table};

const CHANNELS: usize = 100;
const WRITES: usize = 1_000_000;
/// Writes between two turns of the poller (and drains of the peers).
const BATCH: usize = 10_000;

#[derive(Clone, Copy)]
enum Via {
    Owner,
    OwnerWithHandles,
    Handle,
}

pub fn run(h: &Harness) {
    if !h.wants("handle") {
        return;
    }
    println!(
        "\n# handle: {WRITES} writes of 16 B over {CHANNELS} test channels, current_thread runtime"
    );
    let rt = &runtime(0);
    let mut table = Table::new(
        "handle: writes/s to registered channels",
        "writes/s",
        WRITES as u64,
    );
    for (name, via) in [
        ("owner write, no handle", Via::Owner),
        ("owner write, 4 handles alive", Via::OwnerWithHandles),
        ("PollerHandle::write, same task", Via::Handle),
    ] {
        table.time(name, h.reps, || rt.block_on(writes(via)));
    }
    table.print("owner write, no handle");
}

async fn writes(via: Via) -> Duration {
    let mut poller = Poller::new(Framing::Lines);
    let mut peers: Vec<TestPeer> = Vec::with_capacity(CHANNELS);
    let ids: Vec<ChannelId> = (0..CHANNELS)
        .map(|_| {
            let (channel, peer) = Channel::test();
            peers.push(peer);
            poller.register(channel.framed(Framing::Lines))
        })
        .collect();
    let handles: Vec<PollerHandle> = match via {
        Via::Owner => Vec::new(),
        Via::OwnerWithHandles | Via::Handle => (0..4).map(|_| poller.handle()).collect(),
    };
    let line = Bytes::from_static(b"fifteen bytes.\n");
    let mut received = 0;
    let started = Instant::now();
    for batch in 0..WRITES / BATCH {
        for n in 0..BATCH {
            let id = ids[(batch * BATCH + n) % CHANNELS];
            let sent = match via {
                Via::Owner | Via::OwnerWithHandles => poller.write(id, line.clone()),
                Via::Handle => handles[0].write(id, line.clone()),
            };
            sent.expect("write");
        }
        // The poller sends them as it turns; the peers take them.
        let _ = poller.poll(Some(Duration::ZERO)).await;
        for peer in &mut peers {
            received += peer.get().len();
        }
    }
    while received < WRITES * line.len() {
        let _ = poller.poll(Some(Duration::from_millis(1))).await;
        for peer in &mut peers {
            received += peer.get().len();
        }
    }
    let took = started.elapsed();
    assert_eq!(received, WRITES * line.len());
    drop(handles);
    took
}
