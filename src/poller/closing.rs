//! Ending channels in a [`Poller`]: graceful `close`, immediate `abort`,
//! and `close_all`, after which the stream ends.

use std::task::Poll;

use super::stream::Turn;
use super::{is_datagram, ChannelId, Event, Poller};
use crate::Result;

/// Turns one poll of `close_all` may take before it gives the thread back.
const CLOSING_TURNS: usize = 64;

impl Poller {
    /// Closes channel `id` gracefully: its queued output is sent first, then
    /// it is shut down and [`Event::Closed`] comes (with an error if the
    /// output could not all be sent within the close timeout, 10 s by
    /// default). Reading from it stops now. Closing twice is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if `id` is not registered.
    pub fn close(&mut self, id: ChannelId) -> Result<()> {
        if is_datagram(id) {
            return self.datagrams.close(id, &self.limits);
        }
        self.channels.close(id, &self.limits)
    }

    /// Closes channel `id` at once: output still queued is dropped, reading
    /// stops, and [`Event::Closed`] (`error: None`) follows. Use it for a peer
    /// that does not read (`write` gave [`Error::QueueFull`](crate::Error::QueueFull)),
    /// where a graceful [`close`](Poller::close) would wait for the close timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if `id` is not registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// poller.write(id, "never sent\n")?;
    /// poller.abort(id)?;
    /// assert!(matches!(poller.next().await, Some(Event::Closed { error: None, .. })));
    /// assert_eq!(peer.get(), "");
    /// # Ok(())
    /// # }
    /// ```
    pub fn abort(&mut self, id: ChannelId) -> Result<()> {
        if is_datagram(id) {
            return self.datagrams.abort(id, &mut self.events);
        }
        self.channels.abort(id, None, &mut self.events)
    }

    /// Closes everything: every channel flushed and closed (each yields its
    /// [`Event::Closed`]), every server dropped. Afterwards `len()` is 0, the
    /// stream yields only the pending `Closed` events and then ends. Frames
    /// read but not yet yielded are dropped.
    ///
    /// Waits at most the close timeout for peers that do not read.
    ///
    /// # Cancel safety
    ///
    /// If cancelled, the channels already closing go on closing as the
    /// poller is polled; call it again to finish.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// poller.write(id, "bye\n")?;
    /// poller.close_all().await;
    /// assert_eq!(poller.len(), 0);
    /// assert_eq!(peer.get(), "bye\n");
    /// assert!(matches!(poller.next().await, Some(Event::Closed { error: None, .. })));
    /// assert!(poller.next().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close_all(&mut self) {
        // What handles asked for before is done; from now on they fail.
        self.apply_commands();
        self.shared.end();
        for index in self.servers.indices() {
            self.servers.remove(index);
        }
        // Frames read but not yet yielded are dropped (as documented), so
        // they cannot hold the turns below back.
        self.events.retain(|e| matches!(e, Event::Closed { .. }));
        self.frames.clear();
        self.idle.clear();
        let ended = self.channels.close_every(&self.limits);
        self.ended_early.extend(ended);
        self.datagrams.close_every(&self.limits);
        self.closing_done().await;
        // Those that drained and shut down now linger (sockets) or go.
        let ended = self.channels.end_reported(&self.limits);
        self.ended_early.extend(ended);
        self.datagrams.free_reported();
        self.closing_done().await;
        self.events.retain(|e| matches!(e, Event::Closed { .. }));
        self.ended = true;
    }

    /// Turns until no channel is closing (draining or lingering).
    async fn closing_done(&mut self) {
        std::future::poll_fn(|cx| {
            self.queue.register(cx.waker());
            for _ in 0..CLOSING_TURNS {
                if self.channels.closing() + self.datagrams.closing() == 0 {
                    return Poll::Ready(());
                }
                // Closing channels no longer read: each adds at most its
                // `Closed`, so the events need no cap here.
                if matches!(self.turn(usize::MAX), Turn::Idle | Turn::OutOfBudget) {
                    return Poll::Pending;
                }
            }
            // Still closing after many turns: let other tasks run, then go on.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
    }
}
