//! What a [`Poller`] did, for an operator: [`PollerTotals`] for the whole
//! poller (also readable from a [`PollerHandle`](crate::PollerHandle)) and
//! [`ChannelStats`] per channel. Counted as it happens, in plain integers on
//! the paths that already run (no atomics, no clock); the totals are
//! copied out for handles once per turn.

use super::{ChannelId, Poller};
use crate::{ChannelStats, Error};

/// How channels ended, counted as their `Event::Closed` is yielded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClosedCounts {
    /// The peer ended its output (`error: None`, not closed locally).
    pub peer_eof: u64,
    /// `close`, `abort` or `close_all` (`error: None`).
    pub local: u64,
    /// A frame over the limit (`Error::FrameTooLong`).
    pub frame_too_long: u64,
    /// Output past the queue limit (`Error::QueueFull`).
    pub queue_full: u64,
    /// The idle timeout (`Error::TimedOut`).
    pub idle_timeout: u64,
    /// Any other error (a reset, a failed write, ...).
    pub error: u64,
}

impl ClosedCounts {
    /// Counts one `Closed` with `error` (`local`: it was a local close).
    pub(super) fn count(&mut self, error: Option<&Error>, local: Option<bool>) {
        match error {
            None if local == Some(true) => self.local += 1,
            None => self.peer_eof += 1,
            Some(Error::FrameTooLong { .. }) => self.frame_too_long += 1,
            Some(Error::QueueFull { .. }) => self.queue_full += 1,
            Some(Error::TimedOut) => self.idle_timeout += 1,
            Some(_) => self.error += 1,
        }
    }
}

/// Counters of a [`Poller`], from [`Poller::totals`] or
/// [`PollerHandle::totals`](crate::PollerHandle::totals): why clients may not
/// be served (reading paused by flow control, accepting failing) and what
/// the poller did.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing, Poller};
///
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, _peer) = Channel::test();
/// poller.register(channel.framed(Framing::Lines));
/// let totals = poller.totals();
/// assert_eq!((totals.channels, totals.registered, totals.paused, totals.accept_errors), (1, 1, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollerTotals {
    /// Registered channels now (as [`Poller::len`]).
    pub channels: usize,
    /// Channels registered so far (accepted ones included).
    pub registered: u64,
    /// Clients accepted so far.
    pub accepted: u64,
    /// Accept errors so far (each is also an
    /// [`Event::AcceptError`](crate::Event::AcceptError)).
    pub accept_errors: u64,
    /// Channels whose reading is paused now: more than the high-water mark
    /// of output waits for a peer that reads slowly.
    pub paused: usize,
    /// Flow-control pauses so far (each starts when a channel's queued
    /// output passes the high-water mark, and ends under the low-water mark).
    pub pauses: u64,
    /// How the channels that ended did.
    pub closed: ClosedCounts,
    /// Events yielded so far.
    pub events: u64,
    /// Turns taken so far (each polls what was woken since the last).
    pub turns: u64,
}

/// Totals of several pollers (the shards of a group, say): every field
/// summed.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing, Poller, PollerTotals};
///
/// let mut pollers = [Poller::new(Framing::Lines), Poller::new(Framing::Lines)];
/// for poller in &mut pollers {
///     let (channel, _peer) = Channel::test();
///     poller.register(channel.framed(Framing::Lines));
/// }
/// let mut sum = PollerTotals::default();
/// for poller in &pollers {
///     sum += poller.totals();
/// }
/// assert_eq!((sum.channels, sum.registered), (2, 2));
/// ```
impl std::ops::AddAssign for PollerTotals {
    fn add_assign(&mut self, other: PollerTotals) {
        self.channels += other.channels;
        self.registered += other.registered;
        self.accepted += other.accepted;
        self.accept_errors += other.accept_errors;
        self.paused += other.paused;
        self.pauses += other.pauses;
        self.closed += other.closed;
        self.events += other.events;
        self.turns += other.turns;
    }
}

/// Close counts of several pollers: every reason summed.
impl std::ops::AddAssign for ClosedCounts {
    fn add_assign(&mut self, other: ClosedCounts) {
        self.peer_eof += other.peer_eof;
        self.local += other.local;
        self.frame_too_long += other.frame_too_long;
        self.queue_full += other.queue_full;
        self.idle_timeout += other.idle_timeout;
        self.error += other.error;
    }
}

impl Poller {
    /// A client accepted elsewhere (a group's accept task) and handed to
    /// this poller: registered, and counted as accepted here, where it is
    /// announced.
    pub(crate) fn register_accepted(&mut self, framed: crate::FramedChannel) -> ChannelId {
        let id = self.register(framed);
        crate::trace::count!(self.counts.accepted += 1);
        id
    }

    /// An accept error of a group's server, reported by this poller.
    pub(crate) fn count_accept_error(&mut self) {
        crate::trace::count!(self.counts.accept_errors += 1);
    }

    /// The poller's counters now.
    pub fn totals(&self) -> PollerTotals {
        PollerTotals {
            channels: self.len(),
            registered: self.channels.registered,
            paused: self.channels.paused_now,
            pauses: self.channels.pauses,
            ..self.counts
        }
    }

    /// What went through channel `id` so far: its own counters (see
    /// [`FramedChannel::stats`](crate::FramedChannel::stats)) with the
    /// output the poller queued and sent for it, the most ever queued, and
    /// its flow-control pauses. `None` if `id` is not a registered stream
    /// channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// peer.put("ping\n");
    /// poller.next().await;
    /// poller.write(id, "pong\n")?;
    /// poller.notify_flushed(id)?;
    /// poller.next().await; // Flushed
    /// let stats = poller.stats(id).expect("registered");
    /// assert_eq!((stats.bytes_in, stats.frames_in, stats.bytes_out, stats.frames_out), (5, 1, 5, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self, id: ChannelId) -> Option<ChannelStats> {
        let entry = self.channels.get(id)?;
        let own = entry.framed.stats();
        Some(ChannelStats {
            bytes_out: own.bytes_out + entry.out.sent,
            frames_out: own.frames_out + entry.writes,
            queued: own.queued + entry.out.len(),
            queued_high: entry.queued_high,
            pauses: entry.pauses,
            ..own
        })
    }

    /// Whether reading from channel `id` is paused by flow control now;
    /// `None` if `id` is not a registered stream channel.
    pub fn is_paused(&self, id: ChannelId) -> Option<bool> {
        self.channels.get(id).map(|entry| entry.paused)
    }
}
