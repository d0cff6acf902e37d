//! [`Connecting`]: a framed channel whose connection is still being made,
//! taking writes already (kaa's IOChannel queues writes made before the
//! channel is open, up to its queue size, and sends them once it is).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;

use super::{FramedChannel, DEFAULT_QUEUE_LIMIT};
use crate::{Channel, Error, Framing, Result};

type Connect = Pin<Box<dyn Future<Output = Result<Channel>> + Send>>;

/// A [`FramedChannel`] on its way: writes made now are queued (up to a
/// limit) and sent, in order, as soon as the connection is made.
///
/// Await it to get the connected `FramedChannel`, with the queued writes
/// already flushed.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Connecting, Framing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let mut connecting = Connecting::new(Channel::connect_tcp(addr), Framing::Lines);
/// connecting.queue(b"sent once connected\n")?;
/// let mut client = connecting.await?;
/// let (server, _) = listener.accept().await?;
/// let mut server = Channel::from(server).framed(Framing::Lines);
/// assert_eq!(server.read().await?.as_deref(), Some(&b"sent once connected\n"[..]));
/// client.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct Connecting {
    connect: Option<Connect>,
    framing: Option<Framing>,
    queued: BytesMut,
    limit: usize,
    /// Connected, flushing `queued` before handing the channel over.
    flushing: Option<FramedChannel>,
}

impl Connecting {
    /// Starts with `connect` (for example `Channel::connect_tcp(addr)`); the
    /// channel will read frames of `framing`.
    pub fn new(
        connect: impl Future<Output = Result<Channel>> + Send + 'static,
        framing: Framing,
    ) -> Connecting {
        Connecting {
            connect: Some(Box::pin(connect)),
            framing: Some(framing),
            queued: BytesMut::new(),
            limit: DEFAULT_QUEUE_LIMIT,
            flushing: None,
        }
    }

    /// Queues `data` to be written, verbatim, once connected.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] if the queue would pass its limit (8 MiB unless
    /// [`set_queue_limit`](Connecting::set_queue_limit) says otherwise);
    /// nothing is queued then.
    pub fn queue(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        let data = data.as_ref();
        if let Some(framed) = self.flushing.as_mut() {
            // Connected and flushing: the queue already moved into the channel.
            return framed.queue(data);
        }
        if self.queued.len() + data.len() > self.limit {
            return Err(Error::QueueFull { limit: self.limit });
        }
        self.queued.extend_from_slice(data);
        Ok(())
    }

    /// Sets the queue limit, in bytes.
    pub fn set_queue_limit(&mut self, limit: usize) {
        self.limit = limit;
        if let Some(framed) = self.flushing.as_mut() {
            framed.set_queue_limit(limit);
        }
    }

    /// Bytes queued and not yet written (kaa's `write_queue_used`).
    pub fn queued_len(&self) -> usize {
        match &self.flushing {
            Some(framed) => framed.write_buffer_len(),
            None => self.queued.len(),
        }
    }
}

impl Future for Connecting {
    type Output = Result<FramedChannel>;

    /// Connects, then flushes the queue.
    ///
    /// # Errors
    ///
    /// The connect error (which names the address), or a write error while
    /// flushing the queue.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<FramedChannel>> {
        let this = self.get_mut();
        if let Some(connect) = this.connect.as_mut() {
            let channel = ready!(connect.as_mut().poll(cx))?;
            this.connect = None;
            let framing = this.framing.take().unwrap_or(Framing::Bytes);
            let mut framed = channel.framed(framing);
            framed.set_queue_limit(this.limit);
            framed.queue_unsent(&this.queued);
            this.queued = BytesMut::new();
            this.flushing = Some(framed);
        }
        let Some(framed) = this.flushing.as_mut() else {
            return Poll::Ready(Err(Error::Closed));
        };
        ready!(framed.poll_flush_sink(cx))?;
        Poll::Ready(this.flushing.take().ok_or(Error::Closed))
    }
}

impl fmt::Debug for Connecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connecting")
            .field("connected", &self.connect.is_none())
            .field("queued", &self.queued.len())
            .field("limit", &self.limit)
            .finish()
    }
}
