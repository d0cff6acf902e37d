//! A [`Poller`]'s size and settings: frame limit for accepted clients, flow
//! control and queue limits, the close deadline; and each channel's own
//! framing, frame limit and socket, reached by its id.

use std::time::Duration;

use super::datagrams::is_datagram;
use super::{ChannelId, Poller};
use crate::{Error, FramedChannel, Framing, Result};

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

    /// Asks for one [`Event::Flushed`](crate::Event::Flushed) for channel `id` as soon as
    /// everything written to it so far has gone out (at once, on the next
    /// turn, if nothing is queued). This is how a writer that waits for
    /// its peer to take the data (Pants' `on_write`) knows when to go on.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if `id` is not registered or
    /// is being closed.
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
    /// poller.write(id, "all of it\n")?;
    /// poller.notify_flushed(id)?;
    /// assert!(matches!(poller.next().await, Some(Event::Flushed { id: sent }) if sent == id));
    /// assert_eq!(peer.get(), "all of it\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn notify_flushed(&mut self, id: ChannelId) -> Result<()> {
        self.channels.notify_flushed(id)
    }

    /// Sets how long a graceful close (`close`, `close_all`, a flush after
    /// the peer's EOF) may wait for a peer that does not read before it is
    /// aborted (default 10 s).
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.limits.close_timeout = timeout;
    }

    /// Closes every channel that receives nothing for `timeout`: it is
    /// closed gracefully (output queued for it still goes out) and ends
    /// with `Event::Closed { error: Some(Error::TimedOut) }`. `None` (the
    /// default) turns it off. Applies to the channels registered now and
    /// later; their idle time counts from when they were registered or
    /// last received bytes — any bytes, not only whole frames, so a client
    /// that trickles a byte now and then of a line it never ends is closed
    /// only if the trickle is slower than the timeout (pair it with a
    /// frame limit).
    ///
    /// It costs one timer wheel for the poller: a channel is looked at
    /// once per timeout, not on every read, and idle channels cost nothing
    /// between the times they come due.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Error, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut poller = Poller::new(Framing::Lines);
    /// poller.set_idle_timeout(Some(Duration::from_secs(30)));
    /// let (channel, _silent_peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// match poller.next().await {
    ///     Some(Event::Closed { id: closed, error: Some(Error::TimedOut) }) => assert_eq!(closed, id),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # }
    /// ```
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        let channels = match timeout {
            Some(_) => self.channels.open_ids(),
            None => Vec::new(),
        };
        self.idle.set(timeout, channels, &mut self.channels);
    }

    /// Exempts channel `id` from the idle timeout: it is never closed for
    /// being silent, whatever [`set_idle_timeout`](Poller::set_idle_timeout)
    /// says now or later (an admin console, a feed that speaks only when
    /// spoken to). For the life of the channel.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if `id` is not a registered stream channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Error, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> iochannels::Result<()> {
    /// let mut poller = Poller::new(Framing::Lines);
    /// poller.set_idle_timeout(Some(Duration::from_secs(30)));
    /// let (console, mut operator) = Channel::test();
    /// let console = poller.register(console.framed(Framing::Lines));
    /// poller.exempt_from_idle_timeout(console)?;
    /// let (client, _silent) = Channel::test();
    /// let client = poller.register(client.framed(Framing::Lines));
    /// // Only the client is closed for its silence...
    /// match poller.next().await {
    ///     Some(Event::Closed { id, error: Some(Error::TimedOut) }) => assert_eq!(id, client),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// // ...the console, silent as long, still reads.
    /// tokio::time::sleep(Duration::from_secs(300)).await;
    /// operator.put("/who\n");
    /// match poller.next().await {
    ///     Some(Event::Data { id, data }) => assert_eq!((id, &data[..]), (console, &b"/who\n"[..])),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn exempt_from_idle_timeout(&mut self, id: ChannelId) -> Result<()> {
        let entry = self.channels.get_mut(id).ok_or(Error::Closed)?;
        entry.idle_exempt = true;
        Ok(())
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

    /// Changes the framing of channel `id`, exactly: its next
    /// [`Event::Data`](crate::Event::Data) is cut with `framing`, from the
    /// bytes after the last `Data` already yielded — bytes the poller has
    /// read already included, however they arrived. The poller cuts a
    /// channel's frames only as it yields them, so nothing was cut ahead
    /// with the old framing. This is how a protocol reads a header line,
    /// then a body of the length it gave, then lines again.
    ///
    /// Call it while handling that `Data`, as the poller's `Stream` yields
    /// it: the batch [`poll`](Poller::poll) cuts every frame it returns
    /// before it returns.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if `id` is not a registered
    /// stream channel (datagram channels have no framing).
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
    /// peer.put("LEN 5\nhelloNEXT\n");
    /// let mut frames = Vec::new();
    /// while frames.len() < 3 {
    ///     if let Some(Event::Data { data, .. }) = poller.next().await {
    ///         match &data[..] {
    ///             b"LEN 5\n" => poller.set_framing(id, Framing::Exact(5))?,
    ///             b"hello" => poller.set_framing(id, Framing::Lines)?,
    ///             _ => {}
    ///         }
    ///         frames.push(data);
    ///     }
    /// }
    /// assert_eq!(frames, ["LEN 5\n", "hello", "NEXT\n"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_framing(&mut self, id: ChannelId, framing: Framing) -> Result<()> {
        self.get_mut(id).ok_or(Error::Closed)?.set_framing(framing);
        Ok(())
    }

    /// The next frame of channel `id`, if one is whole among the bytes the
    /// poller has read from it, cut now: what its next
    /// [`Event::Data`](crate::Event::Data) would have carried (the event is
    /// then not yielded). `None` when none is whole yet — its next frame
    /// comes as an event — or the channel is not being read.
    ///
    /// A consumer that gets a `Data` can take the rest of that channel's
    /// burst this way, in a loop, without a trip through the `Stream` per
    /// frame; it stays exact with [`set_framing`](Poller::set_framing)
    /// (frames are still cut one at a time), and errors and the end still
    /// come as events, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use iochannels::{Channel, Event, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, mut peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Lines));
    /// peer.put("one\ntwo\nthree\npart");
    /// let mut lines = Vec::new();
    /// if let Some(Event::Data { data, .. }) = poller.next().await {
    ///     lines.push(data);
    ///     while let Some(more) = poller.take_frame(id) {
    ///         lines.push(more);
    ///     }
    /// }
    /// assert_eq!(lines, ["one\n", "two\n", "three\n"]);
    /// # }
    /// ```
    pub fn take_frame(&mut self, id: ChannelId) -> Option<bytes::Bytes> {
        if is_datagram(id) {
            return None;
        }
        self.channels.take_frame(id)
    }

    /// Sets the frame limit of channel `id` alone, from its next frame on
    /// ([`set_max_frame_len`](Poller::set_max_frame_len) sets it for the
    /// clients accepted from now on).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if `id` is not a registered
    /// stream channel.
    pub fn set_channel_max_frame_len(&mut self, id: ChannelId, n: usize) -> Result<()> {
        self.get_mut(id).ok_or(Error::Closed)?.set_max_frame_len(n);
        Ok(())
    }

    /// The registered channel `id`, to reach its socket (options such as
    /// `set_nodelay`, its addresses) or its settings; `None` if `id` is not
    /// a registered stream channel.
    ///
    /// Read and write through the poller, not through this: bytes read
    /// from it directly never become events, and bytes written directly can
    /// cut into output the poller has queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut poller = Poller::new(Framing::Lines);
    /// let client = Channel::connect_tcp(listener.local_addr()?).await?;
    /// let id = poller.register(client.framed(Framing::Lines));
    /// if let Some(Channel::Tcp(stream)) = poller.get_mut(id).map(|f| f.get_mut()) {
    ///     stream.set_nodelay(false)?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_mut(&mut self, id: ChannelId) -> Option<&mut FramedChannel> {
        if is_datagram(id) {
            return None;
        }
        self.channels.get_mut(id).map(|entry| &mut entry.framed)
    }

    /// The registered channel `id`, to look at (its framing, its frame
    /// limit, its fd); `None` if `id` is not a registered stream channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing, Poller};
    ///
    /// let mut poller = Poller::new(Framing::Lines);
    /// let (channel, _peer) = Channel::test();
    /// let id = poller.register(channel.framed(Framing::Exact(8)));
    /// assert_eq!(poller.get(id).map(|f| f.framing()), Some(&Framing::Exact(8)));
    /// ```
    pub fn get(&self, id: ChannelId) -> Option<&FramedChannel> {
        if is_datagram(id) {
            return None;
        }
        self.channels.get(id).map(|entry| &entry.framed)
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
