//! TLS over rustls (feature `tls`, ring provider): what a user needs to
//! serve and reach TLS peers, with no direct rustls dependency of their own.
//!
//! - Client: [`Channel::connect_tls`](crate::Channel::connect_tls) connects,
//!   handshakes and gives a [`Channel`](crate::Channel) like any other.
//! - Server: [`Poller::add_tls_server`](crate::Poller::add_tls_server), or
//!   a [`TlsListener`] (to set the handshake deadline and the cap on
//!   handshakes in flight) given to [`Poller::add_server`](crate::Poller::add_server)
//!   or [`serve`](crate::serve). Every handshake runs in a task of its own
//!   under a deadline; only a finished handshake yields `Event::Accepted`.
//! - Configuration: [`server_config`] and [`client_config`] from PEM files,
//!   or [`load_certs`] and [`load_private_key`] to build your own with the
//!   re-exported [`rustls`].
//!
//! A TLS channel closed gracefully ([`FramedChannel::close`](crate::FramedChannel::close),
//! [`Poller::close`](crate::Poller::close)) sends close_notify first, so its
//! peer reads a clean end. A peer that closes the TCP connection without
//! close_notify may have been cut short by an attacker: rustls reports it
//! as an `Error::Io` of kind `UnexpectedEof`, and so does the channel (a
//! poller's `Event::Closed` carries it), never a clean end.
//!
//! Files: `mod.rs` (this, and PEM loading), `connect.rs` (the client),
//! `listener.rs` ([`TlsListener`] and its concurrent handshakes).
//!
//! # Examples
//!
//! A server and a client with a certificate made on the spot (`rcgen`).
//!
//! ```
//! use futures::StreamExt;
//! use iochannels::tls::TlsAcceptor;
//! use iochannels::{Channel, Event, Framing, Poller};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
//! let dir = tempfile::tempdir()?;
//! let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
//! std::fs::write(&cert_pem, cert.cert.pem())?;
//! std::fs::write(&key_pem, cert.signing_key.serialize_pem())?;
//!
//! let acceptor = TlsAcceptor::from(iochannels::tls::server_config(&cert_pem, &key_pem)?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let mut poller = Poller::new(Framing::Lines);
//! poller.add_tls_server(listener, acceptor);
//!
//! let client = iochannels::tls::client_config(&cert_pem)?;
//! let connecting = tokio::spawn(async move {
//!     let mut framed = Channel::connect_tls(addr, "localhost", client).await?.framed(Framing::Lines);
//!     framed.write("hello\n").await?;
//!     framed.read().await
//! });
//! let id = match poller.next().await {
//!     Some(Event::Accepted { id, .. }) => id,
//!     other => panic!("unexpected {other:?}"),
//! };
//! match poller.next().await {
//!     Some(Event::Data { data, .. }) => poller.write(id, data)?,
//!     other => panic!("unexpected {other:?}"),
//! }
//! let mut connecting = connecting;
//! let echoed = loop {
//!     // The poller sends the echo as it is polled.
//!     tokio::select! {
//!         echoed = &mut connecting => break echoed??,
//!         _ = poller.next() => {}
//!     }
//! };
//! assert_eq!(echoed.as_deref(), Some(&b"hello\n"[..]));
//! # Ok(())
//! # }
//! ```

mod connect;
mod listener;

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use self::listener::{TlsListener, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKES};
/// The rustls this crate is built with: its configuration types
/// (`rustls::ServerConfig`, `rustls::ClientConfig`) without a direct dependency.
pub use tokio_rustls::rustls;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::io_at;
use crate::Result;

/// The crypto provider every config here is built with: ring, named
/// explicitly so a second provider compiled in by another crate cannot make
/// rustls's process-wide default ambiguous.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads every certificate of a PEM file (a chain: the leaf first).
///
/// # Errors
///
/// An `Error::Io` naming the file: it cannot be read (its `io::ErrorKind`
/// kept), a PEM section is malformed (`InvalidData`), or it holds no
/// certificate (`InvalidData`).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("cert.pem");
/// std::fs::write(&path, cert.cert.pem())?;
/// assert_eq!(iochannels::tls::load_certs(&path)?.len(), 1);
/// let missing = iochannels::tls::load_certs(dir.path().join("none.pem")).unwrap_err();
/// assert!(missing.to_string().contains("none.pem"));
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let what = || format!("reading certificates from {}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| io_at(what(), pem_to_io(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io_at(what(), pem_to_io(e)))?;
    if certs.is_empty() {
        return Err(io_at(what(), invalid("no CERTIFICATE section found")).into());
    }
    Ok(certs)
}

/// Loads the first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
///
/// An `Error::Io` naming the file: it cannot be read, is malformed, or
/// holds no private key.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("key.pem");
/// std::fs::write(&path, cert.signing_key.serialize_pem())?;
/// let _key = iochannels::tls::load_private_key(&path)?;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let e = match e {
            rustls::pki_types::pem::Error::NoItemsFound => invalid("no PRIVATE KEY section found"),
            other => pem_to_io(other),
        };
        io_at(format!("reading a private key from {}", path.display()), e).into()
    })
}

/// A server configuration (ring provider, safe protocol defaults, no client
/// authentication) from a PEM certificate chain and a PEM private key; turn
/// it into a [`TlsAcceptor`] with `TlsAcceptor::from`.
///
/// # Errors
///
/// As [`load_certs`] and [`load_private_key`]; a key that does not match
/// the certificate is an `Error::Io` of kind `InvalidInput` naming both files.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let dir = tempfile::tempdir()?;
/// let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
/// std::fs::write(&c, cert.cert.pem())?;
/// std::fs::write(&k, cert.signing_key.serialize_pem())?;
/// let acceptor = iochannels::tls::TlsAcceptor::from(iochannels::tls::server_config(&c, &k)?);
/// # drop(acceptor);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn server_config(
    cert_path: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
    let certs = load_certs(cert_path)?;
    let key = load_private_key(key_path)?;
    let what = || {
        format!(
            "TLS server configuration from {} and {}",
            cert_path.display(),
            key_path.display()
        )
    };
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io_at(what(), io::Error::new(io::ErrorKind::InvalidInput, e)))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io_at(what(), io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    Ok(Arc::new(config))
}

/// A client configuration (ring provider, safe protocol defaults, no client
/// certificate) that trusts exactly the certificates of a PEM file: a
/// private CA, or a self-signed server's own certificate.
///
/// # Errors
///
/// As [`load_certs`]; a certificate rustls cannot use as a trust anchor is
/// an `Error::Io` of kind `InvalidData` naming the file.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ca.pem");
/// std::fs::write(&path, cert.cert.pem())?;
/// let config = iochannels::tls::client_config(&path)?;
/// # drop(config);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub fn client_config(ca_path: impl AsRef<Path>) -> Result<Arc<ClientConfig>> {
    let ca_path = ca_path.as_ref();
    let what = || format!("trusting the certificates of {}", ca_path.display());
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_path)? {
        roots
            .add(cert)
            .map_err(|e| io_at(what(), io::Error::new(io::ErrorKind::InvalidData, e)))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io_at(what(), io::Error::new(io::ErrorKind::InvalidInput, e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A PEM error as an `io::Error`: an unreadable file keeps its own error.
fn pem_to_io(e: rustls::pki_types::pem::Error) -> io::Error {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e,
        other => invalid(other.to_string()),
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
