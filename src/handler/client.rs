//! The per-task driver: one [`Handler`] on one [`FramedChannel`], in the
//! caller's task — [`connect`], [`connect_unix`] and [`drive`].
//!
//! One loop waits for whichever comes first: the handler's queued output
//! flushed (→ `on_write`) or the next frame (→ `on_read`). Frames are read
//! one at a time, only once the previous callback has returned, so a
//! framing changed in a callback cuts the very next frame (pitfall 6).
//! Reading goes on while output is being flushed, so two peers that both
//! write a lot do not deadlock; past a high-water mark of unsent output it
//! pauses (as a [`Poller`](crate::Poller) does) until the peer reads.

use std::future::poll_fn;
use std::path::Path;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::net::ToSocketAddrs;

use super::conn::{Conn, ConnState};
use super::info::ConnInfo;
use super::Handler;
use crate::{Channel, Error, FramedChannel, Framing, PeerAddr};

/// Unsent output at which reading pauses.
const HIGH_WATER: usize = 256 * 1024;
/// Unsent output under which reading resumes.
const LOW_WATER: usize = 64 * 1024;

/// Connects to a TCP address and runs `handler` on the connection, in this
/// task, until it ends; returns the handler.
///
/// On failure only `on_connect_error` is called, with an [`Error::Io`]
/// naming the address. Otherwise `on_connect`, then `on_read` per frame of
/// `framing` and `on_write` as writes are flushed, then `on_close`: after
/// the peer's end of input (the last partial frame delivered first, and
/// what the handler queued flushed), after `conn.close()`, or after an
/// error. A frame error ([`Error::FrameTooLong`]) ends the connection too.
///
/// # Cancel safety
///
/// Not cancel safe: dropped before it completes, the connection is dropped
/// at once, unsent output with it, and `on_close` is not called.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{connect, Conn, Framing, Handler};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// #[derive(Default)]
/// struct Ask {
///     answer: Option<Bytes>,
/// }
/// impl Handler for Ask {
///     async fn on_connect(&mut self, conn: &mut Conn<'_>) {
///         let _ = conn.write("question\n");
///     }
///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
///         self.answer = Some(line);
///         conn.close();
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = tokio::spawn(async move {
///     let (mut socket, _) = listener.accept().await?;
///     let mut question = [0; 9];
///     socket.read_exact(&mut question).await?;
///     socket.write_all(b"42\n").await
/// });
/// let ask = connect(addr, Framing::Lines, Ask::default()).await;
/// assert_eq!(ask.answer.as_deref(), Some(&b"42\n"[..]));
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn connect<H: Handler>(
    addr: impl ToSocketAddrs + std::fmt::Debug,
    framing: Framing,
    mut handler: H,
) -> H {
    match Channel::connect_tcp(addr).await {
        Ok(channel) => {
            let peer = match &channel {
                Channel::Tcp(stream) => stream.peer_addr().ok().map(PeerAddr::Tcp),
                _ => None,
            };
            run(channel.framed(framing), ConnInfo::new(peer), handler).await
        }
        Err(e) => {
            handler.on_connect_error(e).await;
            handler
        }
    }
}

/// Connects to a Unix stream socket at `path` and runs `handler` on the
/// connection, as [`connect`] does.
///
/// # Cancel safety
///
/// Not cancel safe, as [`connect`].
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{connect_unix, Conn, Framing, Handler};
/// use tokio::io::AsyncWriteExt;
///
/// #[derive(Default)]
/// struct Listen(Vec<Bytes>);
/// impl Handler for Listen {
///     async fn on_read(&mut self, _conn: &mut Conn<'_>, frame: Bytes) {
///         self.0.push(frame);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("news.sock");
/// let listener = tokio::net::UnixListener::bind(&path)?;
/// let server = tokio::spawn(async move {
///     let (mut socket, _) = listener.accept().await?;
///     socket.write_all(b"\0\0\0\x02hi\0\0\0\0").await
/// });
/// let heard = connect_unix(&path, Framing::LengthPrefixed, Listen::default()).await;
/// assert_eq!(heard.0, [&b"hi"[..], &b""[..]]);
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn connect_unix<H: Handler>(
    path: impl AsRef<Path>,
    framing: Framing,
    mut handler: H,
) -> H {
    let path = path.as_ref();
    match Channel::connect_unix(path).await {
        Ok(channel) => {
            let peer = PeerAddr::Unix(Some(path.to_path_buf()));
            run(channel.framed(framing), ConnInfo::new(Some(peer)), handler).await
        }
        Err(e) => {
            handler.on_connect_error(e).await;
            handler
        }
    }
}

/// Runs `handler` on a channel already open — a pipe, a child process,
/// stdio, an accepted socket, the test channel — in this task, until it
/// ends; returns the handler. As [`connect`] after the connection is made:
/// `on_connect`, `on_read`/`on_write`, `on_close`. [`ConnInfo::peer`] is
/// `None`. A channel with no read side ends once the handler's output is
/// flushed and it wrote nothing more in `on_write`.
///
/// This is also how to test a handler without sockets.
///
/// # Cancel safety
///
/// Not cancel safe, as [`connect`].
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use iochannels::{drive, Channel, Conn, Framing, Handler};
///
/// struct Shout;
/// impl Handler for Shout {
///     async fn on_read(&mut self, conn: &mut Conn<'_>, line: Bytes) {
///         let _ = conn.write(line.to_ascii_uppercase());
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (channel, mut peer) = Channel::test();
/// peer.put("hello\nworld\n");
/// peer.close();
/// drive(channel.framed(Framing::Lines), Shout).await;
/// assert_eq!(peer.get(), "HELLO\nWORLD\n");
/// # }
/// ```
pub async fn drive<H: Handler>(framed: FramedChannel, handler: H) -> H {
    run(framed, ConnInfo::new(None), handler).await
}

/// What woke the loop.
enum Step {
    /// Everything written since the last `on_write` is flushed.
    Flushed,
    /// The next frame.
    Frame(Bytes),
    /// The input ended (or there is none and nothing is left to write).
    End,
    /// Reading failed, or a frame was bad.
    ReadFailed(Error),
    /// Writing failed: the output is lost.
    WriteFailed(Error),
}

async fn run<H: Handler>(mut framed: FramedChannel, info: ConnInfo, mut handler: H) -> H {
    let mut state = ConnState::default();
    let mut readable = true;
    let mut paused = false;
    handler
        .on_connect(&mut Conn::on_framed(&info, &mut state, &mut framed))
        .await;
    let mut write_failed = false;
    while !state.closing {
        let step =
            poll_fn(|cx| poll_step(cx, &mut framed, &state, &mut readable, &mut paused)).await;
        match step {
            Step::Flushed => {
                state.wrote = false;
                let mut conn = Conn::on_framed(&info, &mut state, &mut framed);
                handler.on_write(&mut conn).await;
            }
            Step::Frame(frame) => {
                let mut conn = Conn::on_framed(&info, &mut state, &mut framed);
                handler.on_read(&mut conn, frame).await;
            }
            Step::End => break,
            Step::ReadFailed(e) => {
                state.error = Some(e);
                break;
            }
            Step::WriteFailed(e) => {
                state.error = Some(e);
                write_failed = true;
                break;
            }
        }
    }
    let closed = if state.aborted || write_failed {
        framed.abort();
        Ok(())
    } else {
        // Flushes what the handler queued (within the close timeout), then EOF.
        framed.close().await
    };
    let error = state.error.take().or(closed.err());
    handler.on_close(&info, error).await;
    handler
}

fn poll_step(
    cx: &mut Context<'_>,
    framed: &mut FramedChannel,
    state: &ConnState,
    readable: &mut bool,
    paused: &mut bool,
) -> Poll<Step> {
    if state.wrote {
        match framed.poll_flush_sink(cx) {
            Poll::Ready(Ok(())) => return Poll::Ready(Step::Flushed),
            Poll::Ready(Err(e)) => return Poll::Ready(Step::WriteFailed(e)),
            Poll::Pending => {}
        }
    }
    let unsent = framed.write_buffer_len();
    if *paused && unsent <= LOW_WATER {
        *paused = false;
    } else if unsent >= HIGH_WATER {
        *paused = true;
    }
    if !*readable {
        return if state.wrote {
            Poll::Pending
        } else {
            Poll::Ready(Step::End)
        };
    }
    if *paused {
        return Poll::Pending;
    }
    match framed.poll_read_frame(cx) {
        Poll::Ready(Ok(Some(frame))) => Poll::Ready(Step::Frame(frame)),
        Poll::Ready(Ok(None)) => Poll::Ready(Step::End),
        Poll::Ready(Err(Error::NotReadable)) => {
            *readable = false;
            if state.wrote {
                Poll::Pending
            } else {
                Poll::Ready(Step::End)
            }
        }
        Poll::Ready(Err(e)) => Poll::Ready(Step::ReadFailed(e)),
        Poll::Pending => Poll::Pending,
    }
}
