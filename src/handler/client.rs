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
//! The same loop takes what the connection's [`ConnHandle`](super::ConnHandle)s
//! sent (a `TaskQueue`, in `conn_handle.rs`): their writes are flushed
//! without calling `on_write`, which paces only the handler's own writes.

use std::future::poll_fn;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::net::ToSocketAddrs;

use super::conn::{Conn, ConnState};
use super::conn_handle::{Command, TaskQueue};
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

/// What the driver does next.
enum Step {
    /// Everything the handler wrote since the last `on_write` is flushed.
    Flushed,
    /// The next frame.
    Frame(Bytes),
    /// The peer's end of input (every frame delivered), or a handle's close.
    End,
    ReadFailed(Error),
    WriteFailed(Error),
}

/// What the loop keeps between steps, beside the handler's `ConnState`.
struct Driver {
    framed: FramedChannel,
    queue: Arc<TaskQueue>,
    /// Commands taken from the handles; kept to reuse its memory.
    commands: Vec<Command>,
    readable: bool,
    /// Flow control: reading stopped until the output drains.
    paused: bool,
    /// Handles wrote: flush, without an `on_write`.
    handle_wrote: bool,
}

async fn run<H: Handler>(framed: FramedChannel, info: ConnInfo, mut handler: H) -> H {
    let mut state = ConnState::default();
    let queue = Arc::new(TaskQueue::new(framed.is_writable()));
    let mut d = Driver {
        framed,
        queue,
        commands: Vec::new(),
        readable: true,
        paused: false,
        handle_wrote: false,
    };
    handler
        .on_connect(&mut Conn::on_framed(
            &info,
            &mut state,
            &mut d.framed,
            &d.queue,
        ))
        .await;
    let mut write_failed = false;
    while !state.closing {
        let step = poll_fn(|cx| d.poll_step(cx, &mut state)).await;
        if let Step::Flushed = step {
            state.wrote = false;
        }
        let mut conn = Conn::on_framed(&info, &mut state, &mut d.framed, &d.queue);
        match step {
            Step::Flushed if H::WANTS_ON_WRITE => handler.on_write(&mut conn).await,
            Step::Flushed => {}
            Step::Frame(frame) => handler.on_read(&mut conn, frame).await,
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
    // From here a handle's call fails; what handles sent before still goes
    // out with the rest (as a poller still sends replies after the peer's EOF).
    for command in d.queue.end() {
        d.apply(command, &mut state);
    }
    let closed = if state.aborted || write_failed {
        d.framed.abort();
        Ok(())
    } else {
        // Flushes what was queued (within the close timeout), then EOF.
        d.framed.close().await
    };
    let error = state.error.take().or(closed.err());
    handler.on_close(&info, error).await;
    handler
}

impl Driver {
    /// One step: handles' commands, then flushing, then the next frame.
    fn poll_step(&mut self, cx: &mut Context<'_>, state: &mut ConnState) -> Poll<Step> {
        let mut commands = std::mem::take(&mut self.commands);
        self.queue.poll_take(cx, &mut commands);
        for command in commands.drain(..) {
            self.apply(command, state);
        }
        self.commands = commands;
        if state.closing {
            // A handle closed it, or a handle's write passed the limit.
            return Poll::Ready(Step::End);
        }
        let framed = &mut self.framed;
        if state.wrote || self.handle_wrote {
            match framed.poll_flush_sink(cx) {
                Poll::Ready(Ok(())) => {
                    self.handle_wrote = false;
                    if state.wrote {
                        return Poll::Ready(Step::Flushed);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Step::WriteFailed(e)),
                Poll::Pending => {}
            }
        }
        let writing = state.wrote || self.handle_wrote;
        let unsent = framed.write_buffer_len();
        if self.paused && unsent <= LOW_WATER {
            self.paused = false;
        } else if unsent >= HIGH_WATER {
            self.paused = true;
        }
        if !self.readable {
            return if writing {
                Poll::Pending
            } else {
                Poll::Ready(Step::End)
            };
        }
        if self.paused {
            return Poll::Pending;
        }
        match framed.poll_read_frame(cx) {
            Poll::Ready(Ok(Some(frame))) => Poll::Ready(Step::Frame(frame)),
            Poll::Ready(Ok(None)) => Poll::Ready(Step::End),
            Poll::Ready(Err(Error::NotReadable)) => {
                self.readable = false;
                if writing {
                    Poll::Pending
                } else {
                    Poll::Ready(Step::End)
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Step::ReadFailed(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Carries out one handle command, as the server's poller would.
    fn apply(&mut self, command: Command, state: &mut ConnState) {
        match command {
            // Closing already: dropped, as a poller drops it.
            Command::Write(_) if state.closing => {}
            Command::Write(data) => match self.framed.queue(&data) {
                Ok(()) => self.handle_wrote = true,
                Err(e @ Error::QueueFull { .. }) => {
                    // The caller has returned: the connection's end says it.
                    state.error = Some(e);
                    state.closing = true;
                    state.aborted = true;
                }
                // The channel refused it (closed meanwhile): nothing to send.
                Err(_) => {}
            },
            Command::Close => state.closing = true,
        }
    }
}
