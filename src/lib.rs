//! One async interface to every byte pipe a program talks through.
//!
//! Pipes and fds (stdin/stdout, FIFOs, ttys, even regular files), TCP and
//! Unix sockets, child processes and an in-memory test channel are all a
//! [`Channel`] (`AsyncRead + AsyncWrite`). Wrapped in a [`FramedChannel`]
//! they read frames — raw bytes, lines, delimited records, fixed-size or
//! length-prefixed — and a [`Poller`] merges thousands of them, with
//! listening servers, into one `futures::Stream` of [`Event`]s. [`Queue`] is
//! a closable async queue, done once closed and drained.
//!
//! Which type do I want?
//!
//! - Talk to one peer, frame by frame: [`Channel`] → [`Channel::framed`] →
//!   [`FramedChannel::read`] / [`FramedChannel::write`].
//! - Serve many peers from one task: [`Poller`] with
//!   [`add_server`](Poller::add_server) and [`register`](Poller::register).
//! - Serve many peers on several cores: [`PollerGroup`] — one [`Shard`] (a
//!   poller) per task or thread, clients spread over them, any connection
//!   reached by its [`GroupId`].
//! - Test protocol code without sockets: [`Channel::test`] and its [`TestPeer`].
//! - Use the framing with tokio-util's own `Framed`: [`FrameCodec`].
//! - Hand work between tasks and know when it is all done: [`Queue`].
//! - Serve or reach TLS peers (feature `tls`): `Channel::connect_tls`,
//!   `Poller::add_tls_server` and the `tls` module.
//! - Put your own accept logic (a filter, the PROXY protocol) in front of a
//!   poller: [`Listener::from_stream`].
//!
//! # Examples
//!
//! ```
//! use iochannels::{Channel, Framing};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> iochannels::Result<()> {
//! let (channel, mut peer) = Channel::test();
//! let mut framed = channel.framed(Framing::Lines);
//! peer.put("hello\nwor");
//! assert_eq!(framed.read().await?.as_deref(), Some(&b"hello\n"[..]));
//! peer.put("ld\n");
//! assert_eq!(framed.read().await?.as_deref(), Some(&b"world\n"[..]));
//! framed.write(b"bye\n").await?;
//! assert_eq!(peer.get(), "bye\n");
//! # Ok(())
//! # }
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]
// The benchmark-only build without counter updates (src/trace.rs) leaves
// what fed them unused.
#![cfg_attr(iochannels_uncounted, allow(unused))]
#![doc(test(attr(deny(warnings))))]

mod channel;
mod datagram;
mod error;
mod framed;
mod framing;
mod group;
mod handler;
mod monitor;
mod poll_now;
mod poller;
mod queue;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod trace;

pub use crate::channel::{Channel, IoChannel, PipeChannel, ProcessChannel, TestChannel, TestPeer};
pub use crate::datagram::{DatagramAddr, DatagramChannel, DEFAULT_MAX_DATAGRAM_LEN};
pub use crate::error::{Error, Result};
pub use crate::framed::{ChannelStats, Connecting, FramedChannel};
pub use crate::framing::{FrameCodec, Framing, DEFAULT_MAX_FRAME_LEN};
pub use crate::group::{GroupHandle, GroupId, PollerGroup, Shard};
pub use crate::handler::{
    connect, connect_unix, drive, serve, Acceptor, Conn, ConnHandle, ConnId, ConnInfo, Handler,
    Server, ServerHandle,
};
pub use crate::monitor::{Interest, IoMonitor, Readiness};
pub use crate::poller::UnixSocketListener;
pub use crate::poller::{
    ChannelId, ChannelMap, ClosedCounts, Event, Listener, PeerAddr, Poller, PollerHandle,
    PollerTotals, ServerId,
};
pub use crate::queue::{Closed, Queue, QueueClosed, TryGetError, TryPutError};
#[cfg(feature = "tls")]
pub use crate::tls::{TlsAcceptor, TlsListener};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
