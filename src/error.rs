//! The crate's one error type, [`Error`], and the [`Result`] alias.
//!
//! Everything that turns an `io::Error` into an [`Error`] goes through
//! [`Error::from_io_read`] / [`Error::from_io_write`], so the mapping of
//! EPIPE/ECONNRESET to [`Error::Closed`] and of a missing side to
//! [`Error::NotReadable`]/[`Error::NotWritable`] lives in one place.

use std::fmt;
use std::io;

/// The result type of every fallible operation in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong on a channel.
///
/// `Error` is `Send + Sync + 'static`, implements [`std::error::Error`] and
/// keeps the source of I/O failures.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, Error, Framing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> iochannels::Result<()> {
/// let (channel, _peer) = Channel::test();
/// let mut framed = channel.framed(Framing::Lines);
/// framed.close().await?;
/// assert!(matches!(framed.read().await, Err(Error::Closed)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint is closed: read after the end was already reported,
    /// read or write after a local `close()`, or write when the peer is gone
    /// (EPIPE and ECONNRESET map here).
    #[error("channel is closed")]
    Closed,
    /// A frame would exceed the channel's frame limit. The channel did not
    /// buffer past the limit; the rest of that frame is skipped and the next
    /// read returns the next frame.
    #[error("frame longer than the limit of {limit} bytes")]
    FrameTooLong {
        /// The frame limit in force, in bytes.
        limit: usize,
    },
    /// A frame handed to an [`Exact`](crate::Framing::Exact) framing's sink
    /// was not exactly the framing's length.
    #[error("frame of {actual} bytes where Exact({expected}) framing needs exactly {expected}")]
    FrameLength {
        /// The length the framing requires.
        expected: usize,
        /// The length of the frame that was given.
        actual: usize,
    },
    /// A write was refused because the channel's queue of unsent bytes would
    /// pass its limit (a peer that does not read): memory stays bounded.
    #[error("write queue full: {limit} bytes already waiting for a peer that is not reading")]
    QueueFull {
        /// The write queue limit in force, in bytes.
        limit: usize,
    },
    /// The channel has no read side (for example a pipe built with only a sink).
    #[error("channel has no read side")]
    NotReadable,
    /// The channel has no write side (for example a pipe built with only a faucet).
    #[error("channel has no write side")]
    NotWritable,
    /// Something took too long: a channel that received nothing for the
    /// [`Poller`](crate::Poller)'s idle timeout (it is closed with this), or
    /// a TLS handshake past its deadline (reported as an accept error).
    #[error("timed out")]
    TimedOut,
    /// Any other I/O failure. Where the endpoint is known, the message names it.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Maps an I/O error met while reading: a missing read side becomes
    /// [`Error::NotReadable`], anything else stays [`Error::Io`] (a reset while
    /// reading is an error worth reporting, not a clean end).
    pub(crate) fn from_io_read(e: io::Error) -> Error {
        match side_missing(&e) {
            Some(MissingSide::Read) => Error::NotReadable,
            Some(MissingSide::Write) => Error::NotWritable,
            None => Error::Io(e),
        }
    }

    /// Maps an I/O error met while writing: a peer that is gone (EPIPE,
    /// ECONNRESET, ECONNABORTED, ENOTCONN) becomes [`Error::Closed`].
    pub(crate) fn from_io_write(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected => Error::Closed,
            _ => Error::from_io_read(e),
        }
    }
}

/// Which side of a channel is absent; carried inside an `io::Error` by the
/// channel kinds so [`Error`] can turn it back into its own variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingSide {
    Read,
    Write,
}

impl MissingSide {
    /// The `io::Error` a channel kind returns from `poll_read`/`poll_write`
    /// when it has no such side.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, self)
    }
}

impl fmt::Display for MissingSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingSide::Read => f.write_str("channel has no read side"),
            MissingSide::Write => f.write_str("channel has no write side"),
        }
    }
}

impl std::error::Error for MissingSide {}

fn side_missing(e: &io::Error) -> Option<MissingSide> {
    e.get_ref()?.downcast_ref::<MissingSide>().copied()
}

/// An I/O error with the endpoint it happened on, kept as the `io::Error`'s
/// inner error so the `ErrorKind` and the source chain survive.
#[derive(Debug)]
struct AtEndpoint {
    what: String,
    source: io::Error,
}

impl fmt::Display for AtEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for AtEndpoint {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `source` so its message starts with `what` (for example
/// `"connecting to 127.0.0.1:1"`), keeping its kind.
pub(crate) fn io_at(what: impl Into<String>, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        AtEndpoint {
            what: what.into(),
            source,
        },
    )
}
