//! [`Channel::connect_tls`]: a TLS client channel (TCP connect, then the
//! rustls handshake), each failure naming what it was for.

use std::fmt;
use std::io;
use std::sync::Arc;

use tokio::net::ToSocketAddrs;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use crate::error::io_at;
use crate::{Channel, Result};

impl Channel {
    /// Connects to a TCP address and runs a TLS handshake as a client,
    /// verifying the server's certificate for `server_name` (a DNS name or
    /// an IP address) with `config`. The TLS stream is a channel like any
    /// other ([`Channel::from_io`]: [`fd`](Channel::fd) is `None`).
    ///
    /// There is no deadline of its own: wrap the call in
    /// `tokio::time::timeout` to bound connect and handshake together.
    ///
    /// # Errors
    ///
    /// - `server_name` is neither a DNS name nor an IP address: an
    ///   `Error::Io` of kind `InvalidInput` naming it.
    /// - The TCP connect fails: as [`connect_tcp`](Channel::connect_tcp),
    ///   the message names the address.
    /// - The handshake fails (an untrusted or mismatched certificate, a
    ///   server that wants a client certificate, a peer that is not TLS):
    ///   an `Error::Io` whose message names the server name and the address
    ///   and gives rustls's reason, kind kept (`InvalidData` for a rejected
    ///   certificate, `UnexpectedEof` for a peer that hung up).
    ///
    /// # Cancel safety
    ///
    /// Not resumable: dropping the future drops the connection, whatever
    /// step it was at; nothing else is left behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::{Channel, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let dir = tempfile::tempdir()?;
    /// let ca = dir.path().join("ca.pem");
    /// std::fs::write(&ca, cert.cert.pem())?;
    /// let config = iochannels::tls::client_config(&ca)?;
    ///
    /// // A plain TCP server that hangs up: the handshake fails, named.
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// tokio::spawn(async move { drop(listener.accept().await) });
    /// match Channel::connect_tls(addr, "localhost", config).await {
    ///     Err(Error::Io(e)) => assert!(e.to_string().contains("TLS handshake with localhost")),
    ///     other => panic!("expected a failed handshake, got {other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub async fn connect_tls(
        addr: impl ToSocketAddrs + fmt::Debug,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> Result<Channel> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            io_at(
                format!("TLS server name {server_name:?}"),
                io::Error::new(io::ErrorKind::InvalidInput, e),
            )
        })?;
        let shown = format!("{addr:?}");
        let tcp = Channel::connect_tcp(addr).await?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| io_at(format!("TLS handshake with {server_name} at {shown}"), e))?;
        Ok(Channel::from_io(tls))
    }
}
