//! [`DatagramAddr`]: where a datagram came from or goes to — a UDP socket
//! address or a Unix datagram socket's path.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The address of a datagram's sender or receiver.
///
/// A UDP peer is a [`SocketAddr`]; a Unix datagram peer is the path its
/// socket is bound to, or `None` for a socket that is not bound to a path
/// (an [`unbound_unix`](crate::DatagramChannel::unbound_unix) sender, one end
/// of a [`unix_pair`](crate::DatagramChannel::unix_pair), or a Linux
/// abstract-namespace socket). An unnamed peer can still be answered on a
/// connected socket, but it cannot be the target of
/// [`send_to`](crate::DatagramChannel::send_to).
///
/// Build one with `From`: a [`SocketAddr`] gives [`DatagramAddr::Udp`], a
/// [`PathBuf`] or `&Path` gives `DatagramAddr::Unix(Some(..))`.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use std::path::Path;
/// use iochannels::DatagramAddr;
///
/// let udp = DatagramAddr::from("127.0.0.1:5353".parse::<SocketAddr>().unwrap());
/// assert_eq!(udp.to_string(), "127.0.0.1:5353");
/// assert_eq!(udp.as_socket_addr().map(|a| a.port()), Some(5353));
///
/// let unix = DatagramAddr::from(Path::new("/run/app.sock"));
/// assert_eq!(unix.as_path(), Some(Path::new("/run/app.sock")));
/// assert_eq!(DatagramAddr::Unix(None).to_string(), "(unnamed unix socket)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatagramAddr {
    /// A UDP socket address.
    Udp(SocketAddr),
    /// A Unix datagram socket's path; `None` when the socket has no path.
    Unix(Option<PathBuf>),
}

impl DatagramAddr {
    /// The UDP address, if this is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use iochannels::DatagramAddr;
    ///
    /// let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    /// assert_eq!(DatagramAddr::from(addr).as_socket_addr(), Some(addr));
    /// assert_eq!(DatagramAddr::Unix(None).as_socket_addr(), None);
    /// ```
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        match self {
            DatagramAddr::Udp(addr) => Some(*addr),
            DatagramAddr::Unix(_) => None,
        }
    }

    /// The Unix socket path, if this is a named Unix address.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::Path;
    /// use iochannels::DatagramAddr;
    ///
    /// assert_eq!(DatagramAddr::from(Path::new("/tmp/s")).as_path(), Some(Path::new("/tmp/s")));
    /// assert_eq!(DatagramAddr::Unix(None).as_path(), None);
    /// ```
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            DatagramAddr::Unix(Some(path)) => Some(path),
            _ => None,
        }
    }

    /// A Unix peer address as tokio reports it: its path, or `None`.
    pub(crate) fn from_unix(addr: &tokio::net::unix::SocketAddr) -> DatagramAddr {
        DatagramAddr::Unix(addr.as_pathname().map(Path::to_path_buf))
    }
}

impl From<SocketAddr> for DatagramAddr {
    fn from(addr: SocketAddr) -> DatagramAddr {
        DatagramAddr::Udp(addr)
    }
}

impl From<PathBuf> for DatagramAddr {
    fn from(path: PathBuf) -> DatagramAddr {
        DatagramAddr::Unix(Some(path))
    }
}

impl From<&Path> for DatagramAddr {
    fn from(path: &Path) -> DatagramAddr {
        DatagramAddr::Unix(Some(path.to_path_buf()))
    }
}

/// Clones the address, so a received peer can be passed by reference to
/// [`send_to`](crate::DatagramChannel::send_to).
impl From<&DatagramAddr> for DatagramAddr {
    fn from(addr: &DatagramAddr) -> DatagramAddr {
        addr.clone()
    }
}

impl fmt::Display for DatagramAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatagramAddr::Udp(addr) => write!(f, "{addr}"),
            DatagramAddr::Unix(Some(path)) => write!(f, "{}", path.display()),
            DatagramAddr::Unix(None) => f.write_str("(unnamed unix socket)"),
        }
    }
}
