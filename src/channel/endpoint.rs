//! [`Endpoint`]: what a channel is and where it goes, for error messages
//! and traces ([`Channel::describe`] is its text). Sockets' addresses are
//! taken when a [`FramedChannel`](crate::FramedChannel) is made — a reset
//! peer's address cannot be asked for later — but formatted only when an
//! error or a trace needs the text: registering 10,000 accepted sockets
//! spent most of its instructions in `format!` otherwise.

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4};

use tokio::net::unix;

use super::Channel;

/// A channel's description, its text made only when displayed. 24 bytes
/// (a poller holds one per connection): IPv4 TCP, the common case, inline;
/// the rest boxed or fixed.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// TCP over IPv4 with both addresses known.
    Tcp4 {
        local: SocketAddrV4,
        peer: SocketAddrV4,
    },
    /// Any other TCP socket (IPv6, or an address that could not be had).
    Tcp(Box<(Option<SocketAddr>, Option<SocketAddr>)>),
    /// A Unix socket: the peer's address and ours.
    Unix(Box<(Option<unix::SocketAddr>, Option<unix::SocketAddr>)>),
    Fixed(&'static str),
    /// Kinds made a few at a time (pipes, processes, wrapped streams): their
    /// text at once.
    Text(Box<str>),
}

impl Endpoint {
    pub(crate) fn of(channel: &Channel) -> Endpoint {
        match channel {
            Channel::Pipe(c) => Endpoint::Text(
                match (c.fd(), c.sink_fd()) {
                    (Some(r), Some(w)) => format!("pipe (fds {r} and {w})"),
                    (Some(r), None) => format!("pipe (fd {r})"),
                    (None, Some(w)) => format!("pipe (fd {w})"),
                    (None, None) => "pipe (closed)".to_owned(),
                }
                .into_boxed_str(),
            ),
            Channel::Tcp(s) => match (s.local_addr().ok(), s.peer_addr().ok()) {
                (Some(SocketAddr::V4(local)), Some(SocketAddr::V4(peer))) => {
                    Endpoint::Tcp4 { local, peer }
                }
                (local, peer) => Endpoint::Tcp(Box::new((local, peer))),
            },
            Channel::Unix(s) => Endpoint::Unix(Box::new((s.peer_addr().ok(), s.local_addr().ok()))),
            Channel::Process(p) => Endpoint::Text(
                match p.id() {
                    Some(pid) => format!("process `{}` (pid {pid})", p.program()),
                    None => format!("process `{}`", p.program()),
                }
                .into_boxed_str(),
            ),
            Channel::Test(_) => Endpoint::Fixed("test channel"),
            Channel::Io(c) => Endpoint::Text(c.name().into()),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp4 { local, peer } => write!(f, "tcp {local} -> {peer}"),
            Endpoint::Tcp(addrs) => match **addrs {
                (Some(l), Some(p)) => write!(f, "tcp {l} -> {p}"),
                (Some(l), None) => write!(f, "tcp {l}"),
                _ => f.write_str("tcp socket"),
            },
            Endpoint::Unix(addrs) => {
                // The peer's path if it has one (a client), else ours (a server's side).
                let (peer, local) = &**addrs;
                let path = [peer, local]
                    .into_iter()
                    .find_map(|a| a.as_ref().and_then(|a| a.as_pathname()));
                match path {
                    Some(p) => write!(f, "unix socket {}", p.display()),
                    None => f.write_str("unix socket"),
                }
            }
            Endpoint::Fixed(text) => f.write_str(text),
            Endpoint::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_endpoint_is_small() {
        assert!(std::mem::size_of::<super::Endpoint>() <= 24);
    }
}
