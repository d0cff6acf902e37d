//! [`IoChannel`]: any `AsyncRead + AsyncWrite` stream as a channel
//! ([`Channel::from_io`](crate::Channel::from_io)) — a TLS stream, a
//! `tokio::io::duplex`, a serial port — optionally preceded by bytes read
//! earlier (what [`FramedChannel::into_inner`](crate::FramedChannel::into_inner)
//! hands back), and the placeholder a closed `FramedChannel` keeps once it
//! has released its fds.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What an [`IoChannel`] can hold: any `Send + Unpin` byte stream.
trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for T {}

/// Any `AsyncRead + AsyncWrite` stream as a channel kind: made with
/// [`Channel::from_io`](crate::Channel::from_io). It has no fd to poll
/// ([`Channel::fd`](crate::Channel::fd) is `None`).
///
/// When it was handed back by
/// [`FramedChannel::into_inner`](crate::FramedChannel::into_inner), it first
/// yields the bytes the framed channel had read and not yet returned, then
/// reads on from the channel underneath.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Framing};
/// use tokio::io::AsyncWriteExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (ours, mut theirs) = tokio::io::duplex(1024);
/// let mut framed = Channel::from_io(ours).framed(Framing::Lines);
/// theirs.write_all(b"over a duplex\n").await?;
/// assert_eq!(framed.read().await?.as_deref(), Some(&b"over a duplex\n"[..]));
/// # Ok(())
/// # }
/// ```
pub struct IoChannel {
    io: Box<dyn ByteStream>,
    /// Bytes to read before anything from `io`, and what `io` is, when it
    /// wraps another channel. Boxed: a `Channel` is as large as its largest
    /// kind, and a poller holds thousands.
    wrapped: Option<Box<Wrapped>>,
}

struct Wrapped {
    prefix: Bytes,
    name: Box<str>,
}

impl IoChannel {
    /// Wraps `io`.
    pub(crate) fn new(io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static) -> IoChannel {
        IoChannel {
            io: Box::new(io),
            wrapped: None,
        }
    }

    /// `prefix`, then whatever `io` gives.
    pub(crate) fn with_prefix(
        prefix: Bytes,
        io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
        name: Box<str>,
    ) -> IoChannel {
        IoChannel {
            io: Box::new(io),
            wrapped: Some(Box::new(Wrapped { prefix, name })),
        }
    }

    /// What a closed [`FramedChannel`](crate::FramedChannel) keeps in place
    /// of the channel it released: reads end at once, writes fail.
    pub(crate) fn released() -> IoChannel {
        IoChannel::with_prefix(Bytes::new(), Released, "closed channel".into())
    }

    /// Bytes still to be read before the stream underneath.
    pub fn prefix_len(&self) -> usize {
        self.wrapped.as_ref().map_or(0, |w| w.prefix.len())
    }

    pub(crate) fn name(&self) -> &str {
        self.wrapped.as_ref().map_or("stream", |w| &w.name)
    }
}

impl fmt::Debug for IoChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoChannel")
            .field("kind", &self.name())
            .field("prefix", &self.prefix_len())
            .finish()
    }
}

impl AsyncRead for IoChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(prefix) = this.wrapped.as_mut().map(|w| &mut w.prefix) {
            if !prefix.is_empty() {
                let n = prefix.len().min(buf.remaining());
                buf.put_slice(&prefix[..n]);
                prefix.advance(n);
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for IoChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A channel whose fds were released by a close: the end of input, and a
/// broken pipe for output.
struct Released;

impl AsyncRead for Released {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Released {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the channel was closed and its fds released",
        )))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
