//! [`TestChannel`] and [`TestPeer`]: an in-memory channel over
//! `tokio::io::duplex`, with a synchronous peer for tests.
//!
//! The peer must `put` without awaiting, yet a duplex has a bounded buffer.
//! So the peer keeps a backlog: `put` pushes what fits into the duplex and
//! keeps the rest, and once the channel's reader has drained the duplex it
//! reads the backlog directly. The reader looks at both under the peer's
//! lock, so a `put` from another thread cannot reorder bytes. The duplex is
//! never built with capacity 0 (pitfall 22: `duplex(0)` deadlocks).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use crate::poll_now::poll_now;

/// Bytes the duplex holds in each direction before writers wait.
const DUPLEX_CAPACITY: usize = 64 * 1024;

/// The channel's end of a [`Channel::test`](crate::Channel::test): in-memory,
/// no fds, fed and drained by its [`TestPeer`].
///
/// Writes wait once 64 KiB are unread by the peer, as a real pipe would.
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
/// peer.put("ping\n");
/// assert_eq!(framed.read().await?.as_deref(), Some(&b"ping\n"[..]));
/// framed.write(b"pong\n").await?;
/// assert_eq!(peer.get(), "pong\n");
/// # Ok(())
/// # }
/// ```
pub struct TestChannel {
    stream: DuplexStream,
    peer: Arc<Mutex<PeerSide>>,
}

/// The test's end of a [`Channel::test`](crate::Channel::test): feeds bytes
/// for the channel to read and collects what it wrote, without awaiting.
///
/// # Examples
///
/// ```
/// use iochannels::Channel;
/// use tokio::io::AsyncReadExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let (mut channel, mut peer) = Channel::test();
/// peer.put(b"abc");
/// peer.close();
/// let mut got = Vec::new();
/// channel.read_to_end(&mut got).await?;
/// assert_eq!(got, b"abc");
/// # Ok(())
/// # }
/// ```
pub struct TestPeer {
    side: Arc<Mutex<PeerSide>>,
}

/// The peer's duplex end and what `put` could not yet fit into it.
struct PeerSide {
    /// `None` once the `TestPeer` is dropped and its backlog delivered:
    /// dropping the duplex end gives the channel EOF after what is buffered.
    stream: Option<DuplexStream>,
    backlog: BytesMut,
    /// `close()` was called: shut the duplex down once the backlog is in.
    closing: bool,
    shut: bool,
    /// The `TestPeer` is gone: the channel's writes fail as a closed pipe's.
    dropped: bool,
}

pub(crate) fn pair() -> (TestChannel, TestPeer) {
    let (ours, theirs) = tokio::io::duplex(DUPLEX_CAPACITY);
    let side = Arc::new(Mutex::new(PeerSide {
        stream: Some(theirs),
        backlog: BytesMut::new(),
        closing: false,
        shut: false,
        dropped: false,
    }));
    (
        TestChannel {
            stream: ours,
            peer: Arc::clone(&side),
        },
        TestPeer { side },
    )
}

fn lock(side: &Mutex<PeerSide>) -> MutexGuard<'_, PeerSide> {
    // A panic elsewhere while holding the lock leaves plain buffers behind: still usable.
    side.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PeerSide {
    /// Moves as much of the backlog into the duplex as fits now; shuts the
    /// duplex down once the backlog is empty and `close()` was asked for.
    fn pump(&mut self) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        while !self.backlog.is_empty() {
            let backlog = &self.backlog;
            match poll_now(|cx| Pin::new(&mut *stream).poll_write(cx, backlog)) {
                Some(Ok(n)) if n > 0 => self.backlog.advance(n),
                // Full, or the channel end is gone: keep the rest.
                _ => break,
            }
        }
        if self.backlog.is_empty() {
            if self.dropped {
                self.stream = None;
            } else if self.closing && !self.shut {
                let _ = poll_now(|cx| Pin::new(&mut *stream).poll_shutdown(cx));
                self.shut = true;
            }
        }
    }
}

impl TestPeer {
    /// Feeds `data` for the channel to read. Never waits: what does not fit
    /// in the duplex now is kept and delivered as the channel reads.
    ///
    /// # Panics
    ///
    /// Never; bytes put after [`close`](TestPeer::close) are dropped, as a
    /// write after shutdown would be.
    pub fn put(&mut self, data: impl AsRef<[u8]>) {
        let mut side = lock(&self.side);
        if side.closing {
            return;
        }
        side.backlog.extend_from_slice(data.as_ref());
        side.pump();
    }

    /// Everything the channel has written since the last `get()`.
    pub fn get(&mut self) -> Bytes {
        let mut side = lock(&self.side);
        let mut out = BytesMut::new();
        let mut chunk = [0u8; 8192];
        let Some(stream) = side.stream.as_mut() else {
            return out.freeze();
        };
        loop {
            let mut buf = ReadBuf::new(&mut chunk);
            match poll_now(|cx| Pin::new(&mut *stream).poll_read(cx, &mut buf)) {
                Some(Ok(())) if !buf.filled().is_empty() => out.extend_from_slice(buf.filled()),
                _ => break,
            }
        }
        out.freeze()
    }

    /// Ends the channel's input: once it has read everything put so far, it
    /// reads EOF. Idempotent.
    pub fn close(&mut self) {
        let mut side = lock(&self.side);
        side.closing = true;
        side.pump();
    }

    /// Bytes put but not yet read by the channel.
    pub fn pending(&self) -> usize {
        lock(&self.side).backlog.len()
    }
}

impl Drop for TestPeer {
    /// The channel still reads everything put so far, then EOF; its writes
    /// fail from now on.
    fn drop(&mut self) {
        let mut side = lock(&self.side);
        side.dropped = true;
        side.pump();
    }
}

impl fmt::Debug for TestPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = lock(&self.side);
        f.debug_struct("TestPeer")
            .field("backlog", &side.backlog.len())
            .field("closed", &side.closing)
            .finish()
    }
}

impl fmt::Debug for TestChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestChannel").finish_non_exhaustive()
    }
}

impl AsyncRead for TestChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // One unit of the task's budget per read, as tokio's own I/O spends;
        // the looks below are unconstrained, so "empty" means empty (a
        // budget-starved duplex read would say `Pending` with data in it,
        // and the backlog would jump the queue).
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        // Every look happens under the peer's lock, which `put` holds while
        // it moves backlog into the duplex: without it, a put between
        // "the duplex is empty" and "take the backlog" could move the
        // backlog's head into the duplex, and the read would hand out its
        // tail first. (The lock is uncontended unless the peer is putting.)
        let mut side = lock(&this.peer);
        // What is in the duplex was put first: it goes first.
        if let Some(read) = poll_now(|c| Pin::new(&mut this.stream).poll_read(c, buf)) {
            coop.made_progress();
            return Poll::Ready(read);
        }
        // The duplex is empty: take the backlog straight into `buf` (one
        // copy, not two through the duplex).
        if !side.backlog.is_empty() {
            let n = side.backlog.len().min(buf.remaining());
            buf.put_slice(&side.backlog[..n]);
            side.backlog.advance(n);
            // Shuts the duplex down if that emptied a closed peer's backlog.
            side.pump();
            coop.made_progress();
            return Poll::Ready(Ok(()));
        }
        // Nothing anywhere: wait on the duplex, where `put` writes first.
        // Still under the lock, so no put slips in before the waker is set.
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TestChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if lock(&this.peer).dropped {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut this.stream).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
