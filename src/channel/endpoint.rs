//! [`Endpoint`]: what a channel is and where it goes, for error messages
//! and traces ([`Channel::describe`] is its text, [`Endpoint::describe`]
//! makes it). TCP addresses are taken when a
//! [`FramedChannel`](crate::FramedChannel) is made — a reset TCP peer's
//! address cannot be asked for later (`getpeername` gives `ENOTCONN` once
//! the connection is reset) — but formatted only when an error or a trace
//! needs the text: registering 10,000 accepted sockets spent most of its
//! instructions in `format!` otherwise.
//!
//! A Unix socket's addresses are asked for only when the text is needed:
//! the kernel keeps both (ours, and the peer's while our fd is open) through
//! the peer's close or reset and our own shutdown, so nothing is lost, and
//! registering 10,000 sockets saves 20,000 syscalls and as many boxes.

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
            Channel::Tcp(s) => match (s.local_addr().ok(), s.peer_addr().ok()) {
                (Some(SocketAddr::V4(local)), Some(SocketAddr::V4(peer))) => {
                    Endpoint::Tcp4 { local, peer }
                }
                (local, peer) => Endpoint::Tcp(Box::new((local, peer))),
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
    /// of): a Unix socket's addresses are asked for now.
    pub(crate) fn describe(&self, channel: &Channel) -> String {
        match (self, channel) {
            (Endpoint::Unix, Channel::Unix(s)) => {
                unix_text(s.peer_addr().ok(), s.local_addr().ok())
            }
            _ => self.to_string(),
        }
    }

    /// This endpoint with everything asked of `channel` (for a trace span,
    /// which formats it later, when the socket may be gone).
    #[cfg(feature = "tracing")]
    pub(crate) fn resolved(&self, channel: &Channel) -> std::borrow::Cow<'_, Endpoint> {
        use std::borrow::Cow;
        match self {
            Endpoint::Unix => Cow::Owned(Endpoint::Text(self.describe(channel).into_boxed_str())),
            _ => Cow::Borrowed(self),
        }
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

/// The text as far as it is known without the channel: a Unix socket's
/// path needs [`Endpoint::describe`].
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp4 { local, peer } => write!(f, "tcp {local} -> {peer}"),
            Endpoint::Tcp(addrs) => match **addrs {
                (Some(l), Some(p)) => write!(f, "tcp {l} -> {p}"),
                (Some(l), None) => write!(f, "tcp {l}"),
                _ => f.write_str("tcp socket"),
            },
            Endpoint::Unix => f.write_str("unix socket"),
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
