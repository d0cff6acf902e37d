//! [`TlsListener`]: TLS accepting that never holds up the poller. The
//! listener is polled from the poller's turn as usual, but each accepted
//! connection's handshake runs in a task of its own under a deadline; only
//! finished handshakes come out, through [`Listener::from_stream`].
//!
//! Why tasks and not futures polled in the turn: a handshake's crypto is
//! CPU work (a signature per client) that would delay every other channel
//! of the poller; in tasks it runs beside them, on other cores where the
//! runtime has them. The tasks live in a `JoinSet` owned by the listener,
//! so removing the server or dropping the poller aborts them all (no task
//! left holding a socket), and at most `max_handshakes` run at once: past
//! that the listener stops accepting (clients wait in the kernel's
//! backlog), so a flood of clients that never finish costs bounded memory.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::error::io_at;
use crate::{Channel, Error, Listener, PeerAddr, Poller, ServerId};

/// How long a client has to finish its handshake unless set otherwise.
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be in flight at once unless set otherwise.
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub const DEFAULT_MAX_HANDSHAKES: usize = 1024;

/// Most connections accepted in one poll before the finished handshakes get
/// their turn: a burst of connects must not starve them.
const ACCEPTS_PER_POLL: usize = 64;

/// A listener whose clients become channels only once their TLS handshake
/// is done: give it to [`Poller::add_server`] or [`serve`](crate::serve)
/// (it is an `Into<Listener>`).
///
/// - Each handshake runs in a task of its own (spawned on the runtime that
///   polls the poller), concurrently with everything else.
/// - A handshake that does not finish within
///   [`handshake_timeout`](TlsListener::handshake_timeout) (default 10 s)
///   is dropped: its connection is closed, and the poller reports
///   `Event::AcceptError` with [`Error::TimedOut`].
/// - A failed handshake closes its connection and is reported as
///   `Event::AcceptError` with an `Error::Io` naming the peer and rustls's
///   reason. Neither kind ever yields `Event::Accepted`, and neither
///   pauses the server.
/// - At most [`max_handshakes`](TlsListener::max_handshakes) (default
///   1,024) handshakes run at once; past that, accepting waits for one to
///   end, so memory stays bounded however many clients stall.
/// - Removing the server or dropping the poller aborts every handshake
///   still running.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use iochannels::tls::{TlsAcceptor, TlsListener};
/// use iochannels::{Framing, Poller};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// # let dir = tempfile::tempdir()?;
/// # let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
/// # std::fs::write(&cert_pem, cert.cert.pem())?;
/// # std::fs::write(&key_pem, cert.signing_key.serialize_pem())?;
/// let acceptor = TlsAcceptor::from(iochannels::tls::server_config(&cert_pem, &key_pem)?);
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let listener = TlsListener::new(tcp, acceptor)
///     .handshake_timeout(Duration::from_secs(3))
///     .max_handshakes(256);
/// let mut poller = Poller::new(Framing::Lines);
/// poller.add_server(listener);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub struct TlsListener {
    listener: Listener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    max_handshakes: usize,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The acceptor has no `Debug`: its config holds keys anyway.
        f.debug_struct("TlsListener")
            .field("listener", &self.listener)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_handshakes", &self.max_handshakes)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// TLS over `listener` (TCP, Unix, or even another stream listener),
    /// with the default deadline and cap.
    ///
    /// # Examples
    ///
    /// See [`TlsListener`].
    pub fn new(listener: impl Into<Listener>, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener {
            listener: listener.into(),
            acceptor,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
        }
    }

    /// Sets how long a client has, from being accepted, to finish its
    /// handshake (default 10 s).
    ///
    /// # Examples
    ///
    /// See [`TlsListener`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> TlsListener {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how many handshakes may run at once (default 1,024; at least 1).
    ///
    /// # Examples
    ///
    /// See [`TlsListener`].
    pub fn max_handshakes(mut self, max: usize) -> TlsListener {
        self.max_handshakes = max.max(1);
        self
    }
}

impl From<TlsListener> for Listener {
    fn from(tls: TlsListener) -> Listener {
        Listener::from_stream(Handshakes {
            listener: tls.listener,
            acceptor: tls.acceptor,
            timeout: tls.handshake_timeout,
            max: tls.max_handshakes,
            running: JoinSet::new(),
            listener_ended: false,
        })
    }
}

impl Poller {
    /// Accepts TLS clients from `listener` with the default handshake
    /// deadline (10 s) and cap (1,024 in flight): each is announced by
    /// `Event::Accepted` once its handshake is done, never before. For
    /// other settings give a [`TlsListener`] to
    /// [`add_server`](Poller::add_server); see it for what happens to
    /// handshakes that fail or stall.
    ///
    /// # Examples
    ///
    /// See [the `tls` module](crate::tls).
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn add_tls_server(
        &mut self,
        listener: impl Into<Listener>,
        acceptor: TlsAcceptor,
    ) -> ServerId {
        self.add_server(TlsListener::new(listener, acceptor))
    }
}

type Handshake = io::Result<(Channel, PeerAddr)>;

/// The stream behind a [`TlsListener`]: accepts, spawns handshakes, yields
/// the finished ones.
struct Handshakes {
    listener: Listener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    max: usize,
    running: JoinSet<Handshake>,
    listener_ended: bool,
}

impl Stream for Handshakes {
    type Item = Handshake;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Handshake>> {
        let this = self.get_mut();
        // Start new handshakes first: the sooner they start, the sooner
        // they end. Below the cap only; at it, the listener is not polled
        // and a finished handshake's wake-up brings us back.
        let mut accepted = 0;
        while !this.listener_ended && this.running.len() < this.max {
            if accepted == ACCEPTS_PER_POLL {
                // More may be waiting: come back after the others had a turn.
                cx.waker().wake_by_ref();
                break;
            }
            match this.listener.poll_next_client(cx) {
                Poll::Ready(Some(Ok((channel, peer)))) => {
                    accepted += 1;
                    let acceptor = this.acceptor.clone();
                    this.running
                        .spawn(handshake(acceptor, channel, peer, this.timeout));
                }
                // The poller pauses us for a resource error (EMFILE).
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => this.listener_ended = true,
                Poll::Pending => break,
            }
        }
        loop {
            return match this.running.poll_join_next(cx) {
                Poll::Ready(Some(Ok(done))) => Poll::Ready(Some(done)),
                Poll::Ready(Some(Err(e))) if e.is_panic() => {
                    Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "a TLS handshake task panicked",
                    ))))
                }
                // Aborted: only when we are dropped, so not seen here.
                Poll::Ready(Some(Err(_))) => continue,
                // Done once the listener ended and every handshake is out.
                Poll::Ready(None) if this.listener_ended => Poll::Ready(None),
                Poll::Ready(None) | Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// One client's handshake under its deadline. Dropping the stream on a
/// timeout or an error closes the connection.
async fn handshake(
    acceptor: TlsAcceptor,
    channel: Channel,
    peer: PeerAddr,
    timeout: Duration,
) -> Handshake {
    match tokio::time::timeout(timeout, acceptor.accept(channel)).await {
        Ok(Ok(tls)) => Ok((Channel::from_io(tls), peer)),
        Ok(Err(e)) => Err(io_at(format!("TLS handshake with {peer}"), e)),
        // The poller reports the inner `Error` as it is.
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, Error::TimedOut)),
    }
}
