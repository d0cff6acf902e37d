//! [`Endpoint`]: what a channel is and where it goes, for error messages
//! and traces ([`Channel::describe`] is its text, [`Endpoint::describe`]
//! makes it). Only what cannot be asked for later is taken when a
//! [`FramedChannel`](crate::FramedChannel) is made: a TCP peer's address
//! (`getpeername` gives `ENOTCONN` once the connection is reset). The rest
//! is asked of the socket when an error or a trace needs the text — the
//! kernel keeps it for as long as our fd is open, through the peer's close
//! or reset and our own shutdown: a TCP socket's own address, and both
//! addresses of a Unix socket (the peer's too: the kernel drops it only
//! when our fd is closed). Registering 10,000 sockets so makes 10,000 TCP
//! syscalls (20,000 before) or none for Unix sockets (20,000 and as many
//! boxes before), and formats nothing.

use std::net::{SocketAddr, SocketAddrV4};

use tokio::net::unix;

use super::Channel;

/// A channel's description, its text made only when described. 24 bytes
/// (a poller holds one per connection): IPv4 TCP, the common case, inline;
/// the rest boxed, fixed or asked for later.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// TCP over IPv4: the peer's address (ours is asked for when described).
    Tcp4 {
        peer: SocketAddrV4,
    },
    /// Any other TCP socket: the peer's address (IPv6), if it could be had.
    Tcp(Option<Box<SocketAddr>>),
    /// A Unix socket: its addresses are asked of the socket when described.
    Unix,
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
            Channel::Tcp(s) => match s.peer_addr() {
                Ok(SocketAddr::V4(peer)) => Endpoint::Tcp4 { peer },
                Ok(peer) => Endpoint::Tcp(Some(Box::new(peer))),
                Err(_) => Endpoint::Tcp(None),
            },
            Channel::Unix(_) => Endpoint::Unix,
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

    /// The text of `channel`'s endpoint (`channel` is the one this was made
    /// of): what was not taken at once is asked of the socket now.
    pub(crate) fn describe(&self, channel: &Channel) -> String {
        match (self, channel) {
            (Endpoint::Tcp4 { .. } | Endpoint::Tcp(_), Channel::Tcp(s)) => {
                tcp_text(s.local_addr().ok(), self.tcp_peer())
            }
            (Endpoint::Unix, Channel::Unix(s)) => {
                unix_text(s.peer_addr().ok(), s.local_addr().ok())
            }
            _ => self.known(),
        }
    }

    /// The TCP peer's address taken at registration, if any.
    fn tcp_peer(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Tcp4 { peer } => Some(SocketAddr::V4(*peer)),
            Endpoint::Tcp(peer) => peer.as_deref().copied(),
            _ => None,
        }
    }

    /// The text as far as it is known without the channel (what `describe`
    /// falls back on once the socket is gone). Not `Display`, so nothing
    /// prints an endpoint without asking its channel.
    fn known(&self) -> String {
        match self {
            Endpoint::Tcp4 { .. } | Endpoint::Tcp(_) => tcp_text(None, self.tcp_peer()),
            Endpoint::Unix => unix_text(None, None),
            Endpoint::Fixed(text) => (*text).to_owned(),
            Endpoint::Text(text) => text.to_string(),
        }
    }
}

/// A TCP socket's text: `tcp OURS -> PEER`, with what is known.
fn tcp_text(local: Option<SocketAddr>, peer: Option<SocketAddr>) -> String {
    match (local, peer) {
        (Some(l), Some(p)) => format!("tcp {l} -> {p}"),
        (Some(l), None) => format!("tcp {l}"),
        (None, Some(p)) => format!("tcp socket -> {p}"),
        (None, None) => "tcp socket".to_owned(),
    }
}

/// A Unix socket's text: the peer's path if it has one (a client), else
/// ours (a server's side).
fn unix_text(peer: Option<unix::SocketAddr>, local: Option<unix::SocketAddr>) -> String {
    let path = [peer, local].iter().find_map(|a| {
        a.as_ref()
            .and_then(|a| a.as_pathname())
            .map(|p| p.display().to_string())
    });
    match path {
        Some(p) => format!("unix socket {p}"),
        None => "unix socket".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_endpoint_is_small() {
        assert!(std::mem::size_of::<super::Endpoint>() <= 24);
    }
}
