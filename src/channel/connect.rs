//! Connecting a [`Channel`] to a TCP or Unix stream socket: every error
//! names the address it was for and keeps its `io::ErrorKind`.

use std::fmt;
use std::io;
use std::path::Path;

use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use super::Channel;
use crate::error::io_at;
use crate::Result;

impl Channel {
    /// Connects to a TCP address, trying each address it resolves to in turn.
    ///
    /// `addr` is anything tokio resolves (`"host:port"`, a `SocketAddr`,
    /// `(host, port)`, ...); every such type is `Debug`, which is how an
    /// error names the address even when resolving it failed.
    ///
    /// # Errors
    ///
    /// An `Error::Io` whose message names the address and the cause, with
    /// the `io::ErrorKind` kept (`ConnectionRefused`, ...): a name that does
    /// not resolve, or resolves to nothing, names it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let channel = Channel::connect_tcp(addr).await?;
    /// assert!(matches!(channel, Channel::Tcp(_)));
    /// drop(listener);
    /// match Channel::connect_tcp(addr).await {
    ///     Err(Error::Io(e)) => assert!(e.to_string().contains(&addr.to_string())),
    ///     other => panic!("expected a refused connect, got {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_tcp(addr: impl ToSocketAddrs + fmt::Debug) -> Result<Channel> {
        let name = format!("{addr:?}");
        let addrs = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| io_at(format!("resolving {name} to connect to it"), e))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Frames are written whole: let them go out at once.
                    stream
                        .set_nodelay(true)
                        .map_err(|e| io_at(format!("socket to {addr}"), e))?;
                    return Ok(Channel::Tcp(stream));
                }
                Err(e) => last = Some(io_at(format!("connecting to {addr}"), e)),
            }
        }
        Err(last
            .unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{name} resolved to no address to connect to"),
                )
            })
            .into())
    }

    /// Connects like [`connect_tcp`](Channel::connect_tcp), giving up after
    /// `timeout` (over all the addresses tried).
    ///
    /// # Errors
    ///
    /// As [`connect_tcp`](Channel::connect_tcp); past the timeout an
    /// `Error::Io` of kind `TimedOut` saying how long it waited.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iochannels::Channel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> iochannels::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let channel = Channel::connect_tcp_timeout(listener.local_addr()?, Duration::from_secs(5)).await?;
    /// assert!(matches!(channel, Channel::Tcp(_)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_tcp_timeout(
        addr: impl ToSocketAddrs + fmt::Debug,
        timeout: std::time::Duration,
    ) -> Result<Channel> {
        let name = format!("{addr:?}");
        match tokio::time::timeout(timeout, Channel::connect_tcp(addr)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting to {name} timed out after {timeout:?}"),
            )
            .into()),
        }
    }

    /// Connects to a Unix stream socket at `path`.
    ///
    /// # Errors
    ///
    /// An `Error::Io` naming the path, with the `io::ErrorKind` kept
    /// (`NotFound`, `ConnectionRefused`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// match Channel::connect_unix("/nonexistent/iochannels.sock").await {
    ///     Err(Error::Io(e)) => {
    ///         assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    ///         assert!(e.to_string().contains("/nonexistent/iochannels.sock"));
    ///     }
    ///     other => panic!("expected NotFound, got {other:?}"),
    /// }
    /// # }
    /// ```
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Channel> {
        let path = path.as_ref();
        UnixStream::connect(path)
            .await
            .map(Channel::Unix)
            .map_err(|e| io_at(format!("connecting to {}", path.display()), e).into())
    }
}
