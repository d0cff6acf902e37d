//! The group's accept loop: one task accepts from every server added to a
//! [`PollerGroup`](super::PollerGroup) and hands each client, round-robin,
//! to a shard's inbox, which the [`Shard`](super::Shard) takes in and
//! announces with [`Event::Accepted`].
//!
//! Accepting goes through a private [`Poller`]: it brings every
//! [`Listener`](crate::Listener) kind, the accept back-off (pitfall 10) and
//! `AcceptError` reporting. Each `Accepted` is unregistered at once, before
//! the poller's next turn, so that poller never reads a byte of a client:
//! its accept turn only queues the new channel's key, and a turn comes only
//! after the events gathered are all handed out.
//!
//! Back-pressure: a shard whose inbox is full is skipped; when every live
//! inbox is full the loop waits for room in any of them and stops
//! accepting meanwhile, so clients queue in the kernel's backlog rather
//! than in memory.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use futures::future::{join_all, select_ok};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use crate::{Event, FramedChannel, PeerAddr, Poller, ServerId};

/// Clients handed to one shard before it must take them in.
pub(super) const INBOX_CAPACITY: usize = 128;

/// What the group sends a shard.
pub(super) enum Inbox {
    /// A client accepted by a server of the group, framed, not registered yet.
    Client {
        server: ServerId,
        framed: Box<FramedChannel>,
        peer: PeerAddr,
    },
    /// An [`Event::AcceptError`] of a group server, reported by one shard.
    AcceptError(Event),
    /// Wakes the shard to see that the group is shutting down.
    Shutdown,
}

/// Accepts until the group shuts down or every shard is gone.
pub(super) async fn accept_loop(
    mut poller: Poller,
    inboxes: Vec<Sender<Inbox>>,
    shutdown: CancellationToken,
) {
    let mut cancelled = pin!(shutdown.cancelled());
    // Every shard dropped (its task ended or panicked): nobody to hand to.
    let mut all_gone = pin!(join_all(inboxes.iter().map(Sender::closed)));
    let mut turn = 0;
    loop {
        let event = poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() || all_gone.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            poller.poll_next_unpin(cx)
        })
        .await;
        let message = match event {
            None => break,
            Some(Event::Accepted { server, id, peer }) => match poller.unregister(id) {
                Some(framed) => Inbox::Client {
                    server,
                    framed: Box::new(framed),
                    peer,
                },
                None => continue,
            },
            Some(event @ Event::AcceptError { .. }) => {
                // Reported by the next shard in turn; lost only if every
                // inbox is full, when the shards have more pressing work.
                let _ = try_each(&inboxes, &mut turn, Inbox::AcceptError(event));
                continue;
            }
            // Clients leave this poller before it reads them: nothing else comes.
            Some(_) => continue,
        };
        let Err(message) = try_each(&inboxes, &mut turn, message) else {
            continue;
        };
        // Every live inbox is full: wait for room in any, not accepting.
        let live: Vec<_> = inboxes
            .iter()
            .filter(|inbox| !inbox.is_closed())
            .map(|inbox| inbox.reserve().boxed())
            .collect();
        if live.is_empty() {
            break;
        }
        let mut room = select_ok(live);
        let permit = poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            room.poll_unpin(cx)
                .map(|r| r.ok().map(|(permit, _)| permit))
        })
        .await;
        match permit {
            Some(permit) => permit.send(message),
            // Shut down, or every shard went while waiting.
            None => break,
        }
    }
    // Dropping the poller drops the listeners: new clients are refused.
}

/// Hands `message` to the first shard, from `turn` on, with room in its
/// inbox, and moves `turn` past it; gives it back if none has.
fn try_each(inboxes: &[Sender<Inbox>], turn: &mut usize, mut message: Inbox) -> Result<(), Inbox> {
    let n = inboxes.len();
    for k in 0..n {
        let i = (*turn + k) % n;
        match inboxes[i].try_send(message) {
            Ok(()) => {
                *turn = (i + 1) % n;
                return Ok(());
            }
            Err(TrySendError::Full(m) | TrySendError::Closed(m)) => message = m,
        }
    }
    Err(message)
}
