//! [`ConnId`] and [`ConnInfo`]: who a connection is.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::PeerAddr;

/// A connection's identity, unique in the process (both drivers draw from
/// one counter), for keying maps by connection.
///
/// # Examples
///
/// ```
/// use iochannels::{drive, Channel, Conn, ConnId, Framing, Handler};
///
/// struct Remember(Option<ConnId>);
/// impl Handler for Remember {
///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
///         self.0 = Some(conn.id());
///         conn.close();
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (a, _pa) = Channel::test();
/// let (b, _pb) = Channel::test();
/// let first = drive(a.framed(Framing::Lines), Remember(None)).await.0.unwrap();
/// let second = drive(b.framed(Framing::Lines), Remember(None)).await.0.unwrap();
/// assert_ne!(first, second);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    pub(crate) fn next() -> ConnId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert!(conn.id().get() > 0);
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}", self.0)
    }
}

/// Who a connection is: its [`ConnId`], peer address, and the worker
/// that runs its callbacks. What
/// [`Handler::on_close`](crate::Handler::on_close) gets, once there is no
/// connection left to act on.
///
/// # Examples
///
/// ```
/// use iochannels::{drive, Channel, ConnInfo, Error, Framing, Handler};
///
/// #[derive(Default)]
/// struct Log(Vec<String>);
/// impl Handler for Log {
///     async fn on_close(&mut self, info: &ConnInfo, _error: Option<Error>) {
///         self.0.push(format!("{} from {:?} closed", info.id(), info.peer()));
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (channel, mut peer) = Channel::test();
/// peer.close();
/// let log = drive(channel.framed(Framing::Lines), Log::default()).await;
/// assert!(log.0[0].ends_with("from None closed"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnInfo {
    id: ConnId,
    peer: Option<PeerAddr>,
    /// Index of the server worker (shard) running the callbacks; 0 elsewhere.
    worker: usize,
}

impl ConnInfo {
    pub(crate) fn new(peer: Option<PeerAddr>) -> ConnInfo {
        ConnInfo::on_worker(peer, 0)
    }

    pub(crate) fn on_worker(peer: Option<PeerAddr>, worker: usize) -> ConnInfo {
        ConnInfo {
            id: ConnId::next(),
            peer,
            worker,
        }
    }

    /// The connection's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, ConnInfo, Error, Framing, Handler};
    /// # struct H; impl Handler for H {
    /// async fn on_close(&mut self, info: &ConnInfo, _error: Option<Error>) {
    ///     assert!(info.id().get() > 0);
    /// }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, mut peer) = Channel::test(); peer.close();
    /// # drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Where the other end is: the client's address for a server's
    /// connection, the server's for a client; `None` for a channel given to
    /// [`drive`](crate::drive), which has no address.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, ConnInfo, Error, Framing, Handler};
    /// # struct H; impl Handler for H {
    /// async fn on_close(&mut self, info: &ConnInfo, _error: Option<Error>) {
    ///     assert_eq!(info.peer(), None); // `drive` was given no address
    /// }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, mut peer) = Channel::test(); peer.close();
    /// # drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn peer(&self) -> Option<&PeerAddr> {
        self.peer.as_ref()
    }

    /// The index, `0..n`, of the worker whose task runs this connection's
    /// callbacks, in a [`Server`](crate::Server) given
    /// [`workers(n)`](crate::Server::workers): every callback of a
    /// connection runs on that one worker. 0 with one worker, and in
    /// [`drive`](crate::drive) and [`connect`](crate::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iochannels::{drive, Channel, Conn, Framing, Handler};
    /// # struct H; impl Handler for H { async fn on_connect(&mut self, conn: &mut Conn<'_>) {
    /// assert_eq!(conn.info().worker(), 0); // `drive` runs in the caller's task
    /// # conn.close(); } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let (channel, _peer) = Channel::test(); drive(channel.framed(Framing::Lines), H).await; }
    /// ```
    pub fn worker(&self) -> usize {
        self.worker
    }
}
