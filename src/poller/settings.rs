//! A [`Poller`]'s size and settings: frame limit for accepted clients, flow
//! control and queue limits, the close deadline.

use std::time::Duration;

use super::{ChannelId, Poller};

impl Poller {
    /// Registered channels, streams and datagram channels.
    pub fn len(&self) -> usize {
        self.channels.len() + self.datagrams.len()
    }

    /// Whether no channel is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets the frame limit for the clients its servers accept from now on
    /// (default 8 MiB). Registered channels keep their own.
    pub fn set_max_frame_len(&mut self, n: usize) {
        self.max_frame_len = n;
    }

    /// Sets flow control: reading from a channel pauses once `high_water`
    /// bytes wait to be written to it, and resumes under `low_water`; a
    /// write that would queue more than `max_queued` bytes is refused with
    /// [`Error::QueueFull`](crate::Error::QueueFull).
    /// Defaults: 64 KiB, 256 KiB, 8 MiB.
    ///
    /// # Panics
    ///
    /// If `low_water > high_water` or `high_water > max_queued`.
    pub fn set_write_limits(&mut self, low_water: usize, high_water: usize, max_queued: usize) {
        assert!(
            low_water <= high_water && high_water <= max_queued,
            "write limits must be low_water <= high_water <= max_queued"
        );
        self.limits.low_water = low_water;
        self.limits.high_water = high_water;
        self.limits.max_queued = max_queued;
    }

    /// Sets how long a graceful close (`close`, `close_all`, a flush after
    /// the peer's EOF) may wait for a peer that does not read before it is
    /// aborted (default 10 s).
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.limits.close_timeout = timeout;
    }

    /// Sets how long a closed TCP or Unix socket waits for more input
    /// before its fd is released (default 2 s): until then its input is
    /// read and thrown away, so that releasing it does not make the kernel
    /// reset the connection and lose the replies still in flight to the
    /// peer (see [`FramedChannel::close`](crate::FramedChannel::close)). The
    /// peer's EOF ends the wait at once; the close timeout bounds it. The
    /// `Closed` event does not wait for it. Applies to every channel the
    /// poller closes from now on, whatever its own setting.
    pub fn set_linger(&mut self, linger: Duration) {
        self.limits.linger = linger;
    }

    /// Bytes queued by [`write`](Poller::write) for `id` and not yet sent;
    /// `None` if `id` is not registered.
    pub fn queued(&mut self, id: ChannelId) -> Option<usize> {
        self.channels.get_mut(id).map(|e| e.out.len())
    }

    /// Whether the channel of the [`Event::Closed`](crate::Event::Closed)
    /// just yielded was closed locally — kaa's `closed(expected)`: `Some(true)`
    /// after [`close`](Poller::close), [`abort`](Poller::abort) or
    /// [`close_all`](Poller::close_all), `Some(false)` when the peer ended it
    /// or it failed. Ask while handling that event: `None` for any other id.
    ///
    /// `Event::Closed { id, error }` itself cannot carry this: its shape is
    /// fixed, and `error: None` is a clean end either way.
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
    /// let (ours, _peer) = Channel::test();
    /// let (theirs, mut peer) = Channel::test();
    /// let ours = poller.register(ours.framed(Framing::Lines));
    /// let theirs = poller.register(theirs.framed(Framing::Lines));
    /// poller.close(ours)?;
    /// peer.close();
    /// for _ in 0..2 {
    ///     match poller.next().await {
    ///         Some(Event::Closed { id, error: None }) => {
    ///             assert_eq!(poller.closed_expected(id), Some(id == ours));
    ///         }
    ///         other => panic!("unexpected {other:?}"),
    ///     }
    /// }
    /// # let _ = theirs;
    /// # Ok(())
    /// # }
    /// ```
    pub fn closed_expected(&self, id: ChannelId) -> Option<bool> {
        self.last_closed
            .filter(|(closed, _)| *closed == id)
            .map(|(_, local)| local)
    }
}
