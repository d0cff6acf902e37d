//! [`PollerStats`]: what a [`Poller`] did on its own, for an operator —
//! flow-control pauses and accept errors — read with [`Poller::stats`].

use super::Poller;

/// Counters of a [`Poller`], from [`Poller::stats`]: why clients may not be
/// served (reading paused by flow control, accepting failing).
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing, Poller};
///
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, _peer) = Channel::test();
/// poller.register(channel.framed(Framing::Lines));
/// let stats = poller.stats();
/// assert_eq!((stats.channels, stats.paused, stats.pauses, stats.accept_errors), (1, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollerStats {
    /// Registered channels (as [`Poller::len`]).
    pub channels: usize,
    /// Channels whose reading is paused now: more than the high-water mark
    /// of output waits for a peer that reads slowly.
    pub paused: usize,
    /// Flow-control pauses so far (each starts when a channel's queued
    /// output passes the high-water mark, and ends under the low-water mark).
    pub pauses: u64,
    /// Accept errors so far (each is also an
    /// [`Event::AcceptError`](crate::Event::AcceptError)).
    pub accept_errors: u64,
}

impl Poller {
    /// The poller's counters now.
    pub fn stats(&self) -> PollerStats {
        PollerStats {
            channels: self.len(),
            paused: self.channels.paused_now,
            pauses: self.channels.pauses,
            accept_errors: self.accept_errors,
        }
    }

    /// Whether reading from channel `id` is paused by flow control now;
    /// `None` if `id` is not a registered stream channel.
    pub fn is_paused(&mut self, id: super::ChannelId) -> Option<bool> {
        self.channels.get_mut(id).map(|entry| entry.paused)
    }
}
