//! What a [`FramedChannel`] holds, and getting at it: the framing and
//! frame limit, the channel underneath, the buffers, and unwrapping.

use std::os::fd::RawFd;

use bytes::BytesMut;

use super::FramedChannel;
use crate::{Channel, Framing, IoChannel};

impl FramedChannel {
    /// The current framing.
    pub fn framing(&self) -> &Framing {
        self.codec.framing()
    }

    /// Changes the framing, from the next frame on. Bytes already buffered
    /// are re-framed with the new framing: none is lost or re-ordered.
    ///
    /// This is how a protocol reads a header line, then a body of a length
    /// the header gave (Pants changes its read delimiter this way).
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
    /// peer.put("LEN 5\nhelloNEXT\n");
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"LEN 5\n"[..]));
    /// framed.set_framing(Framing::Exact(5));
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"hello"[..]));
    /// framed.set_framing(Framing::Lines);
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"NEXT\n"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_framing(&mut self, framing: Framing) {
        self.codec.set_framing(framing);
    }

    /// The frame limit: the longest frame, delimiter included, that a read
    /// accepts (default [`DEFAULT_MAX_FRAME_LEN`](crate::DEFAULT_MAX_FRAME_LEN), 8 MiB).
    pub fn max_frame_len(&self) -> usize {
        self.codec.max_frame_len()
    }

    /// Sets the frame limit. The channel never buffers much more than it.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// framed.set_max_frame_len(8);
    /// peer.put("far too long a line\nok\n");
    /// assert!(matches!(framed.read().await, Err(Error::FrameTooLong { limit: 8 })));
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"ok\n"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_max_frame_len(&mut self, n: usize) {
        self.codec.set_max_frame_len(n);
    }

    /// The fd to poll for reading; `None` for the test channel, for a
    /// [`Channel::from_io`] stream, and after [`close`](FramedChannel::close)
    /// or [`abort`](FramedChannel::abort), which release it.
    pub fn fd(&self) -> Option<RawFd> {
        self.channel.fd()
    }

    /// The channel underneath.
    pub fn get_ref(&self) -> &Channel {
        &self.channel
    }

    /// The channel underneath. Reading from it directly bypasses the read
    /// buffer: bytes already buffered would then come out after newer ones.
    pub fn get_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }

    /// Bytes read from the channel but not yet returned as frames.
    pub fn read_buffer(&self) -> &[u8] {
        self.reader.buffered()
    }

    /// When bytes last arrived from the channel: `None` if none has yet,
    /// or if nobody asked for it (a [`Poller`](crate::Poller) with an idle
    /// timeout does, for its channels).
    pub fn last_input(&self) -> Option<tokio::time::Instant> {
        self.reader.last_input
    }

    /// From now on, note when bytes arrive (see [`last_input`](FramedChannel::last_input)).
    pub(crate) fn note_input_times(&mut self) {
        self.reader.note_times = true;
    }

    /// Bytes of memory the read buffer holds now (its capacity): 0 while
    /// the channel is idle, small after a large frame has been taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    ///
    /// let (channel, _peer) = Channel::test();
    /// let framed = channel.framed(Framing::Lines);
    /// assert_eq!(framed.read_buffer_capacity(), 0);
    /// ```
    pub fn read_buffer_capacity(&self) -> usize {
        self.reader.capacity()
    }

    /// Frames queued through the [`Sink`](futures::Sink) and not yet written.
    pub fn write_buffer_len(&self) -> usize {
        self.writer.buf.len()
    }

    /// Whether a read could still give data: the input has not ended, or
    /// ended with bytes still buffered; `false` after `close()`.
    pub fn is_readable(&self) -> bool {
        !self.closed && self.reader.has_more()
    }

    /// Unwraps the channel, with no buffered input lost.
    ///
    /// Bytes already read from the channel but not yet returned as frames
    /// live in this `FramedChannel`'s buffer. When there are none, the
    /// channel comes back as it is (a `Channel::Tcp` stays one). When there
    /// are some, it comes back wrapped as a [`Channel::Io`] that reads
    /// those bytes first and then reads on from the channel: nothing is lost,
    /// but its kind is hidden and [`fd`](Channel::fd) is `None` — use
    /// [`into_parts`](FramedChannel::into_parts) to get the channel and the
    /// bytes apart. Frames queued through the Sink and not flushed are
    /// dropped: flush first.
    ///
    /// After [`close`](FramedChannel::close) the channel's fds are released:
    /// what comes back reads the end at once and fails every write (for a
    /// child process, the [`ProcessChannel`](crate::ProcessChannel) with its
    /// pipes closed, to wait on).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Framing};
    /// use tokio::io::AsyncReadExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let (channel, mut peer) = Channel::test();
    /// let mut framed = channel.framed(Framing::Lines);
    /// peer.put("line\npartial");
    /// assert_eq!(framed.read().await?.as_deref(), Some(&b"line\n"[..]));
    /// let mut channel = framed.into_inner();
    /// peer.put(" and more");
    /// peer.close();
    /// let mut rest = String::new();
    /// channel.read_to_string(&mut rest).await?;
    /// assert_eq!(rest, "partial and more");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(mut self) -> Channel {
        let buffered = self.reader.take_buffered();
        if buffered.is_empty() {
            return self.channel;
        }
        let name = self.endpoint.describe(&self.channel).into_boxed_str();
        Channel::Io(IoChannel::with_prefix(buffered, self.channel, name))
    }

    /// Unwraps the channel together with the bytes read from it and not yet
    /// returned as frames, so nothing is lost.
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
    /// peer.put("line\npartial");
    /// framed.read().await?;
    /// let (_channel, buffered) = framed.into_parts();
    /// assert_eq!(&buffered[..], b"partial");
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_parts(self) -> (Channel, BytesMut) {
        (self.channel, self.reader.into_buffered())
    }
}
