//! The socket behind a [`DatagramChannel`](crate::DatagramChannel): UDP or
//! Unix datagram, one receive and one send at the poll level, the socket
//! file a `bind_unix` made, and the watch that reports asynchronous socket
//! errors.
//!
//! Why a watch: an ICMP "port unreachable" on a connected UDP socket sets a
//! pending socket error, which epoll reports as `EPOLLERR` *without*
//! `EPOLLIN`. Tokio wakes a receiver only for read readiness, so a plain
//! receive would wait forever with the error pending. While a receive waits,
//! the channel also waits on tokio's `Interest::ERROR` readiness; when it
//! fires, the pending error is taken (`SO_ERROR`) and returned from the
//! receive. The socket is shared with that future through an `Arc`, so the
//! future can be stored without borrowing the channel.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BufMut;
use tokio::io::{Interest, Ready};
use tokio::net::{UdpSocket, UnixDatagram};

use super::DatagramAddr;

/// The two kinds of datagram socket.
#[derive(Debug)]
pub(crate) enum Kind {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// A socket, and the file to remove when it goes away (if `bind_unix` made one).
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) kind: Kind,
    _file: Option<SocketFile>,
}

impl Socket {
    pub(crate) fn new(kind: Kind, file: Option<SocketFile>) -> Arc<Socket> {
        Arc::new(Socket { kind, _file: file })
    }

    pub(crate) fn fd(&self) -> RawFd {
        match &self.kind {
            Kind::Udp(s) => s.as_raw_fd(),
            Kind::Unix(s) => s.as_raw_fd(),
        }
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Udp(_) => "UDP",
            Kind::Unix(_) => "unix datagram",
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<DatagramAddr> {
        match &self.kind {
            Kind::Udp(s) => s.local_addr().map(DatagramAddr::Udp),
            Kind::Unix(s) => s.local_addr().map(|a| DatagramAddr::from_unix(&a)),
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<DatagramAddr> {
        match &self.kind {
            Kind::Udp(s) => s.peer_addr().map(DatagramAddr::Udp),
            Kind::Unix(s) => s.peer_addr().map(|a| DatagramAddr::from_unix(&a)),
        }
    }

    /// "on LOCAL" or "on LOCAL from PEER", for error messages.
    pub(crate) fn endpoint(&self) -> String {
        let local = self
            .local_addr()
            .map_or_else(|_| format!("fd {}", self.fd()), |a| a.to_string());
        match self.peer_addr() {
            Ok(peer) => format!("{} socket {local} connected to {peer}", self.kind_name()),
            Err(_) => format!("{} socket {local}", self.kind_name()),
        }
    }

    /// Waits until a receive may succeed.
    pub(crate) fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.kind {
            Kind::Udp(s) => s.poll_recv_ready(cx),
            Kind::Unix(s) => s.poll_recv_ready(cx),
        }
    }

    /// One receive into `buf`, never waiting: `WouldBlock` when none is queued.
    pub(crate) fn try_recv_from(&self, buf: &mut impl BufMut) -> io::Result<(usize, DatagramAddr)> {
        match &self.kind {
            Kind::Udp(s) => s
                .try_recv_buf_from(buf)
                .map(|(n, a)| (n, DatagramAddr::Udp(a))),
            Kind::Unix(s) => s
                .try_recv_buf_from(buf)
                .map(|(n, a)| (n, DatagramAddr::from_unix(&a))),
        }
    }

    /// Sends `data` as one datagram to `addr` (or, with `None`, to the
    /// connected peer). Returns the byte count the kernel took.
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
        addr: Option<&DatagramAddr>,
    ) -> Poll<io::Result<usize>> {
        match (&self.kind, addr) {
            (Kind::Udp(s), None) => s.poll_send(cx, data),
            (Kind::Unix(s), None) => s.poll_send(cx, data),
            (Kind::Udp(s), Some(DatagramAddr::Udp(a))) => s.poll_send_to(cx, data, *a),
            (Kind::Unix(s), Some(DatagramAddr::Unix(Some(p)))) => s.poll_send_to(cx, data, p),
            (_, Some(addr)) => Poll::Ready(Err(self.unreachable(addr))),
        }
    }

    /// Why this socket cannot reach `addr` (the caller names both).
    pub(crate) fn unreachable(&self, addr: &DatagramAddr) -> io::Error {
        let why = match addr {
            DatagramAddr::Unix(None) => "an unnamed unix socket has no address to reach it by",
            DatagramAddr::Udp(_) => "a UDP address is out of reach of a unix datagram socket",
            DatagramAddr::Unix(Some(_)) => "a unix socket path is out of reach of a UDP socket",
        };
        io::Error::new(io::ErrorKind::InvalidInput, why)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any, and clears
    /// tokio's error readiness so the watch waits for the next one.
    fn take_pending_error(&self) -> Option<io::Error> {
        let mut found = None;
        let mut take = || {
            found = match &self.kind {
                Kind::Udp(s) => s.take_error(),
                Kind::Unix(s) => s.take_error(),
            }
            .unwrap_or_else(Some);
            // `WouldBlock` makes tokio clear the readiness it reported.
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        };
        let _ = match &self.kind {
            Kind::Udp(s) => s.try_io(Interest::ERROR, &mut take),
            Kind::Unix(s) => s.try_io(Interest::ERROR, &mut take),
        };
        found
    }
}

/// The path a `bind_unix` created, with the identity of the file it made,
/// so the file is removed on drop only while it is still this socket's.
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// Records the socket file now at `path` (just bound).
    pub(crate) fn record(path: &Path) -> io::Result<SocketFile> {
        let stat = rustix::fs::stat(path)?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            dev: stat.st_dev,
            ino: stat.st_ino,
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Another socket (or anything else) may have replaced the file since:
        // only a file with the same identity is ours to remove.
        if let Ok(stat) = rustix::fs::stat(&self.path) {
            if stat.st_dev == self.dev && stat.st_ino == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl fmt::Debug for SocketFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketFile").field(&self.path).finish()
    }
}

type ErrorReady = Pin<Box<dyn Future<Output = io::Result<Ready>> + Send + Sync>>;

/// Waits for tokio's error readiness on a socket; see the module docs.
#[derive(Default)]
pub(crate) struct ErrorWatch {
    ready: Option<ErrorReady>,
}

impl ErrorWatch {
    /// A pending socket error, or `Pending` with `cx` registered to be woken
    /// when one arrives.
    pub(crate) fn poll_error(
        &mut self,
        cx: &mut Context<'_>,
        socket: &Arc<Socket>,
    ) -> Poll<io::Error> {
        // A readiness that cannot be cleared (it keeps being set anew) must
        // not spin here: after a few rounds, yield and come back.
        for _ in 0..4 {
            let ready = self.ready.get_or_insert_with(|| {
                let socket = Arc::clone(socket);
                Box::pin(async move {
                    match &socket.kind {
                        Kind::Udp(s) => s.ready(Interest::ERROR).await,
                        Kind::Unix(s) => s.ready(Interest::ERROR).await,
                    }
                })
            });
            match ready.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    self.ready = None;
                    if let Err(e) = result {
                        return Poll::Ready(e);
                    }
                    if let Some(e) = socket.take_pending_error() {
                        return Poll::Ready(e);
                    }
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Stops watching, dropping the future's hold on the socket.
    pub(crate) fn clear(&mut self) {
        self.ready = None;
    }
}

impl fmt::Debug for ErrorWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorWatch")
            .field("armed", &self.ready.is_some())
            .finish()
    }
}
