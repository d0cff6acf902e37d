//! [`ChannelStats`]: what went through one channel, counted as it happens
//! (plain integers on the paths that already run: no atomics, no clock).

/// Counters of one channel: from [`FramedChannel::stats`](crate::FramedChannel::stats),
/// or from [`Poller::stats`](crate::Poller::stats) for a registered channel
/// (which adds what the poller queued and sent for it).
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (channel, mut peer) = Channel::test();
/// let mut framed = channel.framed(Framing::Lines);
/// peer.put("one\ntwo\n");
/// framed.read().await?;
/// framed.read().await?;
/// framed.write(b"reply\n").await?;
/// let stats = framed.stats();
/// assert_eq!((stats.bytes_in, stats.frames_in), (8, 2));
/// assert_eq!((stats.bytes_out, stats.frames_out), (6, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Bytes read from the channel.
    pub bytes_in: u64,
    /// Frames returned (or yielded as `Event::Data`).
    pub frames_in: u64,
    /// Bytes written to the channel.
    pub bytes_out: u64,
    /// Writes made: `write` calls, `queue` calls, Sink items, `write_file`
    /// calls (and, in a poller, `Poller::write` calls).
    pub frames_out: u64,
    /// Bytes waiting to be written now.
    pub queued: usize,
    /// The most bytes that ever waited to be written at once (poller only).
    pub queued_high: usize,
    /// Times reading was paused by flow control (poller only).
    pub pauses: u64,
}
