//! A [`DatagramChannel`] as a `Stream` of received datagrams with their
//! senders.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{FusedStream, Stream};

use super::{DatagramAddr, DatagramChannel};
use crate::Result;

/// The received datagrams with their senders. Never ends on its own: an
/// error item (a datagram over the limit, a refused connected socket) is
/// followed by the next datagram. Ends (`None`) only after
/// [`close`](DatagramChannel::close).
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use iochannels::{DatagramChannel, Error};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (mut a, mut b) = DatagramChannel::unix_pair()?;
/// b.set_max_datagram_len(3);
/// a.send(b"abc").await?;
/// a.send(b"abcd").await?;
/// a.send(b"xyz").await?;
/// assert_eq!(&b.next().await.expect("an item")?.0[..], b"abc");
/// assert!(matches!(b.next().await, Some(Err(Error::FrameTooLong { limit: 3 }))));
/// assert_eq!(&b.next().await.expect("an item")?.0[..], b"xyz");
/// b.close();
/// assert!(b.next().await.is_none());
/// # Ok(())
/// # }
/// ```
impl Stream for DatagramChannel {
    type Item = Result<(Bytes, DatagramAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.is_closed() {
            return Poll::Ready(None);
        }
        this.poll_recv_from(cx).map(Some)
    }
}

/// Terminated once [`close`](DatagramChannel::close)d.
impl FusedStream for DatagramChannel {
    fn is_terminated(&self) -> bool {
        self.is_closed()
    }
}
