//! The last steps of a graceful close of a [`FramedChannel`]: its clock,
//! lingering on a socket, and releasing the fds. `close.rs` runs them.
//!
//! Lingering (stream sockets only, as Apache and Netty do): closing a
//! socket that still has unread input makes the kernel send a reset, and
//! the peer then loses the replies still in flight to it. So after the
//! write side is shut down, input is read and thrown away until the peer's
//! EOF, a read error, the linger time (default [`LINGER_IDLE`]) without
//! input, or the close deadline; only then are the fds released.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::FramedChannel;

/// How long a lingering close waits for more input before it releases the
/// fds (Apache's `SECONDS_TO_LINGER`): a peer that has read our replies
/// either closes (EOF ends the linger at once) or goes quiet.
pub(crate) const LINGER_IDLE: Duration = Duration::from_secs(2);
/// Reads (of up to 16 KiB) one lingering poll may throw away before it
/// lets the task go on: a peer that floods cannot hold the thread.
const DISCARD_READS_PER_POLL: usize = 16;

/// The one timer of a graceful close: it fires at the close deadline or,
/// while lingering, once the peer has been quiet for the linger time.
#[derive(Debug)]
pub(crate) struct CloseClock {
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    lingering: bool,
}

impl CloseClock {
    fn fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Input came (or lingering starts): wait `linger` more, never past the deadline.
    fn rearm(&mut self, linger: Duration) {
        let at = (Instant::now() + linger).min(self.deadline);
        self.timer.as_mut().reset(at);
    }
}

impl FramedChannel {
    /// Sets how long a closing socket waits for more input from the peer
    /// before its fds are released (default 2 s; see
    /// [`close`](FramedChannel::close)). `Duration::ZERO` releases them as
    /// soon as the write side is shut down, at the risk of a reset that
    /// loses replies in flight when input is still arriving.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iochannels::{Channel, Framing};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = Channel::connect_tcp(listener.local_addr()?).await?.framed(Framing::Lines);
    /// let _server = listener.accept().await?;
    /// client.set_linger(Duration::from_millis(100));
    /// let started = std::time::Instant::now();
    /// client.close().await?; // the server neither writes nor closes
    /// assert!(started.elapsed() < Duration::from_secs(2));
    /// assert_eq!(client.fd(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_linger(&mut self, linger: Duration) {
        if linger != self.linger() {
            self.settings_mut().linger = linger;
        }
    }

    /// Starts the clock of a graceful close that must be done within
    /// `timeout` (unless it is running already).
    pub(crate) fn start_close_clock(&mut self, timeout: Duration) {
        if self.close_clock.is_none() {
            let deadline = Instant::now() + timeout;
            self.close_clock = Some(Box::new(CloseClock {
                deadline,
                timer: Box::pin(tokio::time::sleep_until(deadline)),
                lingering: false,
            }));
        }
    }

    /// Whether the close deadline has passed (registers `cx` to be woken at it).
    pub(crate) fn close_clock_fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.close_clock.as_mut().is_some_and(|c| c.fired(cx))
    }

    /// Once the write side is shut: lingers (see the module docs), then
    /// releases the fds. `Ready` once they are released.
    pub(crate) fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.released {
            return Poll::Ready(());
        }
        let linger = self.linger();
        if !self.channel.lingers_on_close() || linger.is_zero() {
            self.release();
            return Poll::Ready(());
        }
        self.start_close_clock(self.close_timeout());
        let Some(clock) = self.close_clock.as_mut() else {
            return Poll::Ready(());
        };
        if !clock.lingering {
            clock.lingering = true;
            clock.rearm(linger);
        }
        let mut scratch = [0u8; 16 * 1024];
        let mut drained = false;
        for _ in 0..DISCARD_READS_PER_POLL {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.channel).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => clock.rearm(linger),
                // The peer's EOF, or an error: nothing more can come.
                Poll::Ready(_) => {
                    self.release();
                    return Poll::Ready(());
                }
                Poll::Pending => {
                    drained = true;
                    break;
                }
            }
        }
        if clock.fired(cx) {
            self.release();
            return Poll::Ready(());
        }
        if !drained {
            // Input is still pouring in: let others run, then read on.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Gives the channel's fds back (see [`Channel::release`](crate::Channel::release)); the close is over.
    pub(super) fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.close_clock = None;
            self.channel.release();
        }
    }

    /// Whether the fds are released: the close is over.
    pub(crate) fn is_released(&self) -> bool {
        self.released
    }
}
